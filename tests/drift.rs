//! Drift: each change made out of band with the SDK directly is found by `drift` (exit 2, the
//! field named), repaired by `up`, after which `drift` exits 0. Changes that are not drift
//! (reordering, re-serialising) are not reported. Orphans after renames are found and pruned.

mod support;

use aws_sdk_lambda::types::{Cors, Environment, FunctionUrlAuthType};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CorsConfiguration, CorsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};
use serde_json::Value;
use support::*;

const REGION: &str = "eu-central-1";
const NAME: &str = "drift-docs";
const FUNCTION: &str = "drift-docs-dev-presigner";

fn docs() -> String {
    format!("{NAME}-dev-documents-{ACCOUNT}")
}

fn site() -> String {
    format!("{NAME}-dev-website-{ACCOUNT}")
}

fn spec() -> String {
    format!(
        "version: 1\nname: {NAME}\nregion: {REGION}\ntags: {{team: platform}}\n\
         documents:\n  cors: {{allowed_origins: [website, \"https://app.example.com\"]}}\n\
         presigner: {{zip: bundle.zip}}\nwebsite: {{source: site}}\n"
    )
}

/// `drift --output json`: the exit code and the parsed report.
fn drift(project: &Project, moto: &Moto) -> (i32, Value) {
    let out = run(project.cmd(moto, REGION, &["--output", "json", "drift"]));
    assert!(
        out.code == 0 || out.code == 2,
        "drift failed ({}):\n{}",
        out.code,
        out.stderr
    );
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("drift printed no JSON ({e}):\n{}", out.stdout));
    (out.code, report)
}

/// After an out-of-band change: drift must name `kind`/`what` (a field, or a resource or
/// object name), `up` must repair it, and drift must then be clean.
fn expect_repaired(
    failures: &mut Vec<String>,
    project: &Project,
    moto: &Moto,
    case: &str,
    kind: &str,
    what: &str,
) {
    let (code, report) = drift(project, moto);
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let named = findings.iter().any(|f| {
        f["kind"] == kind && (f["field"] == what || f["name"] == what) && f["fix"].is_string()
    });
    if code != 2 || !named {
        failures.push(format!(
            "{case}: expected drift on {kind} {what}, got exit {code}: {report}"
        ));
    }
    let up = run(project.cmd(moto, REGION, &["up"]));
    if up.code != 0 {
        failures.push(format!("{case}: up failed: {}", up.stderr));
        return;
    }
    let (code, report) = drift(project, moto);
    if code != 0 {
        failures.push(format!("{case}: still drifting after up: {report}"));
    }
}

fn expect_in_sync(failures: &mut Vec<String>, project: &Project, moto: &Moto, case: &str) {
    let (code, report) = drift(project, moto);
    if code != 0 {
        failures.push(format!("{case}: reported as drift: {report}"));
    }
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn every_out_of_band_change_is_found_named_and_repaired() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec());
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let (code, report) = drift(&project, &moto);
    assert_eq!(code, 0, "in sync right after up: {report}");
    assert_eq!(report, serde_json::json!({"in_sync": true, "findings": []}));

    let s3 = moto.s3(REGION).await;
    let iam = moto.iam(REGION).await;
    let lambda = moto.lambda(REGION).await;
    let role = "drift-docs-dev-presigner";
    let site_origin = website_origin(&site(), REGION);
    let mut failures = Vec::new();
    let f = &mut failures;

    let cors = |origins: Vec<&str>, methods: Vec<&str>| {
        CorsConfiguration::builder()
            .cors_rules(
                CorsRule::builder()
                    .set_allowed_origins(Some(origins.into_iter().map(String::from).collect()))
                    .set_allowed_methods(Some(methods.into_iter().map(String::from).collect()))
                    // The rule's headers, in another order than presign-stack writes them.
                    .allowed_headers("x-amz-checksum-sha256")
                    .allowed_headers("content-type")
                    .allowed_headers("if-none-match")
                    .expose_headers("etag")
                    .max_age_seconds(3000)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };

    // Not drift: the same CORS rule with its origins and methods in another order.
    s3.put_bucket_cors()
        .bucket(docs())
        .cors_configuration(cors(
            vec!["https://app.example.com", &site_origin],
            vec!["GET", "PUT"],
        ))
        .send()
        .await
        .unwrap();
    expect_in_sync(f, &project, &moto, "CORS origins and methods reordered");

    // Not drift: policies with statements reordered, keys reordered, other whitespace.
    let doc = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("presign-stack-presigner")
        .send()
        .await
        .unwrap();
    let text = percent_encoding::percent_decode_str(doc.policy_document())
        .decode_utf8()
        .unwrap();
    let mut policy: Value = serde_json::from_str(&text).unwrap();
    policy["Statement"].as_array_mut().unwrap().reverse();
    let reserialised = serde_json::to_string_pretty(&serde_json::json!({
        "Statement": policy["Statement"], "Version": "2012-10-17"}))
    .unwrap();
    iam.put_role_policy()
        .role_name(role)
        .policy_name("presign-stack-presigner")
        .policy_document(reserialised)
        .send()
        .await
        .unwrap();
    let bucket_policy = s3.get_bucket_policy().bucket(docs()).send().await.unwrap();
    let bucket_policy: Value = serde_json::from_str(bucket_policy.policy().unwrap()).unwrap();
    s3.put_bucket_policy()
        .bucket(docs())
        .policy(format!("{:#}", bucket_policy))
        .send()
        .await
        .unwrap();
    expect_in_sync(f, &project, &moto, "policies reordered and re-serialised");

    s3.put_bucket_cors()
        .bucket(docs())
        .cors_configuration(cors(
            vec![
                &site_origin,
                "https://app.example.com",
                "https://evil.example",
            ],
            vec!["PUT", "GET"],
        ))
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "a CORS origin added",
        "documents_bucket",
        "cors",
    );

    s3.put_public_access_block()
        .bucket(docs())
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "one public-access-block flag off",
        "documents_bucket",
        "public_access_block",
    );

    s3.delete_bucket_policy()
        .bucket(docs())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the TLS-deny statement removed",
        "documents_bucket",
        "policy",
    );

    s3.put_bucket_encryption()
        .bucket(docs())
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "encryption changed",
        "documents_bucket",
        "encryption",
    );

    s3.put_bucket_versioning()
        .bucket(docs())
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "versioning toggled",
        "documents_bucket",
        "versioning",
    );

    iam.put_role_policy()
        .role_name(role)
        .policy_name("presign-stack-presigner")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the role's inline policy widened",
        "role",
        "inline_policies",
    );

    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the trust policy changed",
        "role",
        "trust_policy",
    );

    lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .memory_size(512)
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the function's memory changed",
        "function",
        "memory_mb",
    );

    let current = lambda
        .get_function_configuration()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    let mut vars = current.environment().unwrap().variables().unwrap().clone();
    vars.insert("PRESIGNER_URL_EXPIRY_SECONDS".into(), "3600".into());
    lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .environment(Environment::builder().set_variables(Some(vars)).build())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "an environment variable changed",
        "function",
        "environment",
    );

    let other_code = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\necho tampered\n").unwrap();
    lambda
        .update_function_code()
        .function_name(FUNCTION)
        .zip_file(aws_sdk_lambda::primitives::Blob::new(other_code))
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the function's code changed",
        "function",
        "code_sha256",
    );

    lambda
        .update_function_url_config()
        .function_name(FUNCTION)
        .auth_type(FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the URL's auth type changed",
        "function_url",
        "auth_type",
    );

    lambda
        .update_function_url_config()
        .function_name(FUNCTION)
        .cors(
            Cors::builder()
                .allow_origins("*")
                .allow_methods("*")
                .build(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the URL's CORS changed",
        "function_url",
        "cors",
    );

    lambda
        .add_permission()
        .function_name(FUNCTION)
        .statement_id("AnyoneMayInvoke")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "an unconditioned public InvokeFunction added",
        "function_url",
        "permissions",
    );

    lambda
        .remove_permission()
        .function_name(FUNCTION)
        .statement_id("FunctionURLInvokeAllowPublicAccess")
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "one of the two URL permissions removed",
        "function_url",
        "permissions",
    );

    s3.delete_bucket_website()
        .bucket(site())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the website configuration deleted",
        "website_bucket",
        "website",
    );

    s3.put_object()
        .bucket(site())
        .key("index.html")
        .body(b"<h1>defaced</h1>".to_vec().into())
        .content_type("text/html")
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "a website object modified",
        "website_content",
        "index.html",
    );

    s3.put_object()
        .bucket(site())
        .key("extra.txt")
        .body(b"not from the source".to_vec().into())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "an extra object added",
        "website_content",
        "extra.txt",
    );

    s3.delete_object()
        .bucket(site())
        .key("app.js")
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "an object deleted",
        "website_content",
        "app.js",
    );

    s3.put_object()
        .bucket(site())
        .key("config.json")
        .body(
            b"{\"presignerUrl\": \"https://attacker.example/\"}"
                .to_vec()
                .into(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "a stale config.json",
        "website_content",
        "config.json",
    );

    let listed = s3.list_objects_v2().bucket(site()).send().await.unwrap();
    for o in listed.contents() {
        s3.delete_object()
            .bucket(site())
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(site()).send().await.unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the whole website bucket deleted",
        "website_bucket",
        &site(),
    );

    // Deleting the block or the ownership controls is not "back to the defaults": on AWS it
    // unblocks public access and turns ACLs back on.
    s3.delete_public_access_block()
        .bucket(docs())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the public access block deleted",
        "documents_bucket",
        "public_access_block",
    );
    s3.delete_bucket_ownership_controls()
        .bucket(docs())
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "the ownership controls deleted",
        "documents_bucket",
        "object_ownership",
    );

    s3.put_bucket_tagging()
        .bucket(docs())
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("presign-stack:stack")
                        .value(NAME)
                        .build()
                        .unwrap(),
                )
                .tag_set(
                    Tag::builder()
                        .key("presign-stack:env")
                        .value("dev")
                        .build()
                        .unwrap(),
                )
                .tag_set(
                    Tag::builder()
                        .key("presign-stack:resource")
                        .value("documents-bucket")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_repaired(
        f,
        &project,
        &moto,
        "a tag removed",
        "documents_bucket",
        "tags",
    );

    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn drift_writes_a_markdown_summary_and_text_names_expected_found_and_fix() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec());
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let lambda = moto.lambda(REGION).await;
    lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .memory_size(1024)
        .send()
        .await
        .unwrap();
    let summary = project.path().join("summary.md");
    let mut cmd = project.cmd(&moto, REGION, &["drift", "--markdown"]);
    cmd.arg(&summary);
    let out = run(cmd);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("~ function drift-docs-dev-presigner: memory_mb"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("expected: 128"), "{}", out.stdout);
    assert!(out.stdout.contains("found:    1024"), "{}", out.stdout);
    assert!(
        out.stdout.contains("up would: set memory_mb back"),
        "{}",
        out.stdout
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("## presign-stack drift: drift-docs (dev) in eu-central-1"),
        "{md}"
    );
    assert!(
        md.contains("| function `drift-docs-dev-presigner` | `memory_mb` | 128 | 1024 |"),
        "{md}"
    );
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let mut cmd = project.cmd(&moto, REGION, &["drift", "--markdown"]);
    cmd.arg(&summary);
    run(cmd).ok();
    assert!(std::fs::read_to_string(&summary)
        .unwrap()
        .contains("No drift"));
    // An error is exit 1, not 2: an unreadable spec.
    project.write_spec("version: 1\nname: Bad Name\n");
    assert_eq!(run(project.cmd(&moto, REGION, &["drift"])).code, 1);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn renamed_resources_leave_orphans_that_only_prune_deletes() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec());
    run(project.cmd(&moto, REGION, &["up"])).ok();
    project.write_spec(&format!(
        "version: 1\nname: {NAME}\nregion: {REGION}\ntags: {{team: platform}}\n\
         documents:\n  bucket: drift-docs-renamed-files\n  cors: {{allowed_origins: [website, \"https://app.example.com\"]}}\n\
         presigner: {{zip: bundle.zip, function_name: drift-docs-fn2, role_name: drift-docs-role2}}\nwebsite: {{source: site}}\n"
    ));
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    for line in [
        &format!(
            "-/+ documents bucket drift-docs-renamed-files (replaces {}",
            docs()
        ),
        "-/+ role drift-docs-role2 (replaces drift-docs-dev-presigner",
        "-/+ function drift-docs-fn2 (replaces drift-docs-dev-presigner",
        // The old function's log group goes with it.
        "-/+ log group /aws/lambda/drift-docs-fn2 (replaces /aws/lambda/drift-docs-dev-presigner",
    ] {
        assert!(
            plan.stdout.contains(line),
            "missing `{line}` in\n{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("4 to destroy."), "{}", plan.stdout);
    let (code, report) = drift(&project, &moto);
    assert_eq!(code, 2);
    assert!(
        report["findings"].as_array().unwrap().iter().any(
            |f| f["name"] == "drift-docs-fn2" && f["fix"].as_str().unwrap().contains("--prune")
        ),
        "{report}"
    );

    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(
        up.stderr
            .contains("kept 4 resources the spec no longer names"),
        "{}",
        up.stderr
    );
    let s3 = moto.s3(REGION).await;
    assert!(
        s3.head_bucket().bucket(docs()).send().await.is_ok(),
        "kept without --prune"
    );
    assert!(s3
        .head_bucket()
        .bucket("drift-docs-renamed-files")
        .send()
        .await
        .is_ok());
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout
            .contains(&format!("- documents bucket {}", docs())),
        "{}",
        plan.stdout
    );

    run(project.cmd(&moto, REGION, &["up", "--prune"])).ok();
    assert!(
        s3.head_bucket().bucket(docs()).send().await.is_err(),
        "pruned"
    );
    let iam = moto.iam(REGION).await;
    assert!(iam
        .get_role()
        .role_name("drift-docs-dev-presigner")
        .send()
        .await
        .is_err());
    let lambda = moto.lambda(REGION).await;
    assert!(lambda
        .get_function()
        .function_name(FUNCTION)
        .send()
        .await
        .is_err());
    assert_eq!(drift(&project, &moto).0, 0);

    // Another environment's resources are never orphans of this one.
    let qa = Project::new();
    qa.write_spec(&spec());
    run(qa.cmd(&moto, REGION, &["--env", "qa", "up"])).ok();
    assert_eq!(drift(&project, &moto).0, 0);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn drift_from_a_fresh_checkout_runs_the_website_build_first() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&spec().replace(
        "website: {source: site}",
        "website: {source: out, build: \"rm -rf out && cp -r site out\"}",
    ));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    // A fresh checkout: the build's output is not there.
    std::fs::remove_dir_all(project.path().join("out")).unwrap();
    let (code, report) = drift(&project, &moto);
    assert_eq!(code, 0, "{report}");
    assert!(project.path().join("out/index.html").is_file());
    std::fs::remove_dir_all(project.path().join("out")).unwrap();
    let plan = run(project.cmd(&moto, REGION, &["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}
