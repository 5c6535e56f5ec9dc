//! Lose nothing, leak nothing: consent before data presign-stack did not write is destroyed,
//! a website folder that publishes nothing outside it, lifecycle rules that keep the promise,
//! a `down` that never drops the TLS-only statement, and policies in their conventional form.
//! The real binary against a real moto server, read back with the SDK.

mod support;

use serde_json::Value;
use support::*;

const REGION: &str = "eu-central-1";

fn spec(name: &str, extra_documents: &str) -> String {
    format!(
        "version: 1\nname: {name}\nregion: {REGION}\ndocuments:\n  versioning: false\n{extra_documents}presigner: {{zip: bundle.zip}}\nwebsite: {{source: site}}\n"
    )
}

/// moto applies the TLS-only Deny to its own plain-HTTP object requests: lift it to write
/// objects as uploads would, then put it back as `up` left it.
async fn put_uploads(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[&str]) {
    let policy = s3.get_bucket_policy().bucket(bucket).send().await.ok();
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for key in keys {
        s3.put_object()
            .bucket(bucket)
            .key(*key)
            .body(format!("customer file {key}").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    if let Some(p) = policy.and_then(|p| p.policy().map(str::to_string)) {
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(p)
            .send()
            .await
            .unwrap();
    }
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    s3.list_object_versions()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .map(|v| v.key().unwrap().to_string())
        .collect()
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_renamed_documents_bucket_holding_uploads_is_pruned_only_with_yes() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("keep-docs", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let old = format!("keep-docs-dev-documents-{ACCOUNT}");
    let uploads = [
        "uploads/a.pdf",
        "uploads/b.pdf",
        "uploads/c.png",
        "uploads/d",
        "x/e",
    ];
    put_uploads(&s3, &old, &uploads).await;

    project.write_spec(&spec("keep-docs", "  bucket: keep-docs-renamed-files\n"));
    // The plan shows what the rename would lose with --prune.
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains(&format!(
            "documents bucket {old} deleted by `up --prune`: 5 objects"
        )),
        "{}",
        plan.stdout
    );
    let plan_json = run(project.cmd(&moto, REGION, &["--output", "json", "plan"])).ok();
    let v: Value = serde_json::from_str(&plan_json.stdout).unwrap();
    assert_eq!(v["losses"][0]["bucket"], old.as_str(), "{v}");
    assert_eq!(v["losses"][0]["objects"], 5, "{v}");
    assert_eq!(v["losses"][0]["when"], "prune", "{v}");

    // From a script: no terminal, no --yes. Refused before any write.
    let refused = run(project.cmd(&moto, REGION, &["up", "--prune"]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&old)
            && refused.stderr.contains("5 objects")
            && refused.stderr.contains("--yes")
            && refused.stderr.contains("Nothing was changed"),
        "{}",
        refused.stderr
    );
    assert!(!bucket_exists(&s3, "keep-docs-renamed-files").await);
    assert_eq!(keys(&s3, &old).await.len(), 5);

    // Without --prune the old bucket is kept: nothing to consent to.
    let kept = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(kept.stderr.contains("--prune"), "{}", kept.stderr);
    assert!(bucket_exists(&s3, "keep-docs-renamed-files").await);
    assert_eq!(keys(&s3, &old).await.len(), 5);

    run(project.cmd(&moto, REGION, &["up", "--prune", "--yes"])).ok();
    assert!(!bucket_exists(&s3, &old).await);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn adopting_buckets_that_hold_foreign_objects_needs_yes() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("adopt-docs", ""));
    let s3 = moto.s3(REGION).await;
    let site = format!("adopt-docs-dev-website-{ACCOUNT}");
    let docs = format!("adopt-docs-dev-documents-{ACCOUNT}");
    create_foreign_bucket(&s3, &site, REGION).await;
    create_foreign_bucket(&s3, &docs, REGION).await;
    for (key, body) in [("old-page.html", "theirs"), ("index.html", "their index")] {
        s3.put_object()
            .bucket(&site)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    s3.put_object()
        .bucket(&docs)
        .key("uploads/contract.pdf")
        .body(b"signed".to_vec().into())
        .send()
        .await
        .unwrap();

    let refused = run(project.cmd(&moto, REGION, &["up", "--adopt"]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("website bucket {site} adopted"))
            && refused.stderr.contains("2 objects"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("documents bucket {docs} adopted"))
            && refused.stderr.contains("kept"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("up --adopt --yes"),
        "{}",
        refused.stderr
    );
    // Nothing was written: not even the tags.
    assert!(s3.get_bucket_tagging().bucket(&site).send().await.is_err());
    assert_eq!(keys(&s3, &site).await.len(), 2);

    let done = run(project.cmd(&moto, REGION, &["up", "--adopt", "--yes"])).ok();
    assert!(done.stderr.contains("Apply complete"), "{}", done.stderr);
    // The site is now exactly website.source; the customer file in the documents bucket stays.
    let site_keys = keys(&s3, &site).await;
    assert!(
        !site_keys.contains(&"old-page.html".to_string()),
        "{site_keys:?}"
    );
    assert_eq!(
        keys(&s3, &docs).await,
        vec!["uploads/contract.pdf".to_string()]
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn down_names_what_the_documents_bucket_holds_before_deleting_it() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("down-docs", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let docs = format!("down-docs-dev-documents-{ACCOUNT}");
    put_uploads(&s3, &docs, &["uploads/1", "uploads/2", "uploads/3"]).await;
    let refused = run(project.cmd(&moto, REGION, &["down"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(&docs) && refused.stderr.contains("3 objects"),
        "{}",
        refused.stderr
    );
    assert!(bucket_exists(&s3, &docs).await);
    let done = run(project.cmd(&moto, REGION, &["--output", "json", "down", "--yes"])).ok();
    let v: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(v["losses"][0]["bucket"], docs.as_str(), "{v}");
    assert_eq!(v["losses"][0]["objects"], 3, "{v}");
    assert!(!bucket_exists(&s3, &docs).await);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn links_out_of_the_website_folder_or_to_hidden_files_are_refused_before_any_write() {
    let moto = Moto::start();
    let s3 = moto.s3(REGION).await;
    type MakeLink = fn(&std::path::Path);
    let cases: [(&str, MakeLink); 3] = [
        ("cfg.txt", |p| {
            std::fs::write(p.join("secret.env"), "API_KEY=1").unwrap();
            std::os::unix::fs::symlink("../secret.env", p.join("site/cfg.txt")).unwrap();
        }),
        ("more", |p| {
            std::fs::create_dir_all(p.join("private")).unwrap();
            std::fs::write(p.join("private/keys.txt"), "k").unwrap();
            std::os::unix::fs::symlink("../private", p.join("site/more")).unwrap();
        }),
        ("settings.txt", |p| {
            std::fs::write(p.join("site/.env"), "DB_PASSWORD=x").unwrap();
            std::os::unix::fs::symlink(".env", p.join("site/settings.txt")).unwrap();
        }),
    ];
    for (link, make) in cases {
        let project = Project::new();
        project.write_spec(&spec("link-docs", ""));
        make(project.path());
        let out = run(project.cmd(&moto, REGION, &["up"]));
        assert_eq!(out.code, 1, "{link}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("site/{link} is a link to"))
                && out.stderr.contains("nothing was written"),
            "{link}: {}",
            out.stderr
        );
        assert!(
            !bucket_exists(&s3, &format!("link-docs-dev-website-{ACCOUNT}")).await,
            "{link}: nothing was created"
        );
    }
    // A link that stays inside the folder is published as the file it names.
    let project = Project::new();
    project.write_spec(&spec("link-docs", ""));
    std::os::unix::fs::symlink("app.js", project.path().join("site/alias.js")).unwrap();
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let site = format!("link-docs-dev-website-{ACCOUNT}");
    let body = s3
        .get_object()
        .bucket(&site)
        .key("alias.js")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"console.log('app');\n");
}

#[test]
fn validate_refuses_a_website_folder_that_holds_the_project() {
    let project = Project::new();
    let validate = |source: &str| {
        project.write_spec(&format!(
            "version: 1\nname: leak-docs\npresigner: {{zip: bundle.zip}}\nwebsite: {{source: {source}}}\n"
        ));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
        c.arg("--spec").arg(project.spec_path()).arg("validate");
        run(c)
    };
    let out = validate(".");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("website.source")
            && out.stderr.contains("the spec")
            && out.stderr.contains("the presigner's bundle"),
        "{}",
        out.stderr
    );
    std::fs::create_dir_all(project.path().join("site/target/debug")).unwrap();
    let out = validate("site");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("target directory"), "{}", out.stderr);
    std::fs::remove_dir_all(project.path().join("site/target")).unwrap();
    validate("site").ok();
}

/// The lifecycle rules as stored: (id, prefix, expiration days, expired delete markers,
/// noncurrent days, abort days).
type RuleRow = (String, String, Option<i32>, bool, Option<i32>, Option<i32>);

async fn lifecycle(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<RuleRow> {
    let l = s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut rows: Vec<RuleRow> = l
        .rules()
        .iter()
        .map(|r| {
            (
                r.id().unwrap_or_default().to_string(),
                r.filter()
                    .and_then(|f| f.prefix())
                    .unwrap_or_default()
                    .to_string(),
                r.expiration().and_then(|e| e.days()),
                r.expiration()
                    .and_then(|e| e.expired_object_delete_marker())
                    .unwrap_or(false),
                r.noncurrent_version_expiration()
                    .and_then(|n| n.noncurrent_days()),
                r.abort_incomplete_multipart_upload()
                    .and_then(|a| a.days_after_initiation()),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn lifecycle_rules_expire_old_versions_and_abort_unfinished_uploads() {
    let moto = Moto::start();
    let s3 = moto.s3(REGION).await;
    // Unversioned, no expiry: still a rule aborting unfinished multipart uploads.
    let project = Project::new();
    project.write_spec(&spec("life-docs", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let docs = format!("life-docs-dev-documents-{ACCOUNT}");
    let abort = |days| {
        (
            "presign-stack-abort-incomplete-uploads".to_string(),
            String::new(),
            None,
            false,
            None,
            Some(days),
        )
    };
    assert_eq!(lifecycle(&s3, &docs).await, vec![abort(1)]);

    // Versioned with expiry: noncurrent versions and expired delete markers go too.
    project.write_spec(
        &spec(
            "life-docs",
            "  expire_uploads_after_days: 30\n  abort_incomplete_uploads_after_days: 3\n",
        )
        .replace("versioning: false", "versioning: true"),
    );
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(plan.stdout.contains("lifecycle"), "{}", plan.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    assert_eq!(
        lifecycle(&s3, &docs).await,
        vec![
            abort(3),
            (
                "presign-stack-expire-uploads".to_string(),
                "uploads/".to_string(),
                Some(30),
                false,
                Some(30),
                None
            ),
            (
                "presign-stack-expired-delete-markers".to_string(),
                "uploads/".to_string(),
                None,
                true,
                None,
                None
            ),
        ]
    );
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    // Someone removes the abort rule: drift names it, up puts it back.
    s3.delete_bucket_lifecycle()
        .bucket(&docs)
        .send()
        .await
        .unwrap();
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("lifecycle"), "{}", drift.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    assert_eq!(lifecycle(&s3, &docs).await.len(), 3);
}

fn has_tls_statement(policy: &str) -> bool {
    let v: Value = serde_json::from_str(policy).unwrap();
    v["Statement"].as_array().unwrap().iter().any(|s| {
        s["Effect"] == "Deny"
            && s["Action"] == "s3:*"
            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    })
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_down_that_fails_while_emptying_keeps_the_tls_only_statement() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("hold-docs", "").replace("versioning: false", "versioning: true"));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let docs = format!("hold-docs-dev-documents-{ACCOUNT}");
    // An object under legal hold: S3 refuses to delete it, as it would on AWS.
    s3.put_object_lock_configuration()
        .bucket(&docs)
        .object_lock_configuration(
            aws_sdk_s3::types::ObjectLockConfiguration::builder()
                .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policy = s3.get_bucket_policy().bucket(&docs).send().await.unwrap();
    let policy = policy.policy().unwrap().to_string();
    s3.delete_bucket_policy()
        .bucket(&docs)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&docs)
        .key("uploads/evidence.pdf")
        .body(b"held".to_vec().into())
        .object_lock_legal_hold_status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket(&docs)
        .policy(policy)
        .send()
        .await
        .unwrap();

    let out = run(project.cmd(&moto, REGION, &["down", "--yes"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("could not be deleted") && out.stderr.contains("run it again"),
        "{}",
        out.stderr
    );
    let after = s3.get_bucket_policy().bucket(&docs).send().await.unwrap();
    let after = after.policy().unwrap();
    assert!(has_tls_statement(after), "{after}");
    assert!(after.contains("NoUploadsWhileDeleting"), "{after}");
    assert_eq!(
        keys(&s3, &docs).await,
        vec!["uploads/evidence.pdf".to_string()]
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn policies_are_stored_in_the_conventional_form_and_the_trust_is_conditioned() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("form-docs", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let docs = format!("form-docs-dev-documents-{ACCOUNT}");
    let text = s3.get_bucket_policy().bucket(&docs).send().await.unwrap();
    let text = text.policy().unwrap();
    assert!(text.contains(r#""aws:SecureTransport":"false""#), "{text}");
    assert!(text.contains(r#""Action":"s3:*""#), "{text}");
    assert!(has_tls_statement(text), "{text}");

    let iam = moto.iam(REGION).await;
    let role = iam
        .get_role()
        .role_name("form-docs-dev-presigner")
        .send()
        .await
        .unwrap();
    let trust = role.role().unwrap().assume_role_policy_document().unwrap();
    let trust = percent_encoding::percent_decode_str(trust)
        .decode_utf8()
        .unwrap();
    let trust: Value = serde_json::from_str(&trust).unwrap();
    let st = &trust["Statement"][0];
    assert_eq!(
        st["Principal"]["Service"], "lambda.amazonaws.com",
        "{trust}"
    );
    assert_eq!(st["Action"], "sts:AssumeRole", "{trust}");
    assert_eq!(
        st["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT,
        "{trust}"
    );
    // Read back, the conventional form compares equal to what is wanted: nothing to do.
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn the_log_group_is_made_with_a_retention_and_its_tags_and_goes_with_down() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("logs-docs", "").replace(
        "presigner: {zip: bundle.zip}",
        "presigner: {zip: bundle.zip, log_retention_days: 14}",
    ));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let sdk = moto.sdk(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let group = "/aws/lambda/logs-docs-dev-presigner";
    let read = || async {
        logs.describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .unwrap()
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group))
            .cloned()
    };
    assert_eq!(read().await.unwrap().retention_in_days(), Some(14));
    let arn = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}");
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags()
            .unwrap()
            .get("presign-stack:stack")
            .map(String::as_str),
        Some("logs-docs")
    );
    // Retention removed out of band (logs kept forever): drift names it, up puts it back.
    logs.delete_retention_policy()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let drift = run(project.cmd(&moto, REGION, &["--output", "json", "drift"]));
    assert_eq!(drift.code, 2, "{}", drift.stderr);
    let v: Value = serde_json::from_str(&drift.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "log_group", "{v}");
    assert_eq!(v["findings"][0]["field"], "retention_days", "{v}");
    run(project.cmd(&moto, REGION, &["up"])).ok();
    assert_eq!(read().await.unwrap().retention_in_days(), Some(14));
    // The role cannot make the group again with no retention.
    let iam = moto.iam(REGION).await;
    let policy = iam
        .get_role_policy()
        .role_name("logs-docs-dev-presigner")
        .policy_name("presign-stack-presigner")
        .send()
        .await
        .unwrap();
    assert!(!policy.policy_document().contains("CreateLogGroup"));

    run(project.cmd(&moto, REGION, &["down", "--yes"])).ok();
    assert!(read().await.is_none(), "down deletes the log group");
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn the_untagged_log_group_lambda_made_for_our_function_is_taken_over() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec("auto-docs", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    // As before presign-stack made it: Lambda's own, untagged, kept forever.
    let sdk = moto.sdk(REGION).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let group = "/aws/lambda/auto-docs-dev-presigner";
    logs.delete_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains(&format!("~ log group {group}")),
        "{}",
        plan.stdout
    );
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}
