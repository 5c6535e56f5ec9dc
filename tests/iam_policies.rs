//! The IAM policies `presign-stack policy` prints (SPEC section 8): `deploy` for `up` and
//! `down`, `read-only` for `plan` and `drift`. A whole cycle of both hosting layouts, with
//! `auth`, runs against moto with the request log on, and each logged operation is mapped to
//! the IAM actions AWS authorises it with, which the policy generated for the spec in force
//! must allow. `docs/iam/*.json` are the example spec's, and must be what the code prints.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::*;

const REGION: &str = "eu-central-1";

/// The IAM actions AWS checks for one API operation.
fn actions(service: &str, op: &str) -> Vec<String> {
    let s3 = |a: &[&str]| a.iter().map(|a| format!("s3:{a}")).collect();
    match service {
        "S3" => match op {
            "HeadBucket" | "ListObjectsV2" => s3(&["ListBucket"]),
            "HeadObject" | "GetObject" => s3(&["GetObject"]),
            "ListObjectVersions" => s3(&["ListBucketVersions"]),
            "GetBucketCors" => s3(&["GetBucketCORS"]),
            "PutBucketCors" => s3(&["PutBucketCORS"]),
            "GetBucketEncryption" => s3(&["GetEncryptionConfiguration"]),
            "PutBucketEncryption" => s3(&["PutEncryptionConfiguration"]),
            "GetBucketLifecycleConfiguration" => s3(&["GetLifecycleConfiguration"]),
            "PutBucketLifecycleConfiguration" => s3(&["PutLifecycleConfiguration"]),
            "GetPublicAccessBlock" => s3(&["GetBucketPublicAccessBlock"]),
            "PutPublicAccessBlock" => s3(&["PutBucketPublicAccessBlock"]),
            // Tags in CreateBucketConfiguration need s3:TagResource too.
            "CreateBucket" => s3(&["CreateBucket", "TagResource"]),
            "DeleteObjects" => s3(&["DeleteObject", "DeleteObjectVersion"]),
            "GetBucketNotificationConfiguration" => s3(&["GetBucketNotification"]),
            "PutBucketNotificationConfiguration" => s3(&["PutBucketNotification"]),
            "DeleteBucketWebsite" => s3(&["PutBucketWebsite"]),
            "DeleteBucketPolicy"
            | "DeleteBucket"
            | "PutObject"
            | "DeleteObject"
            | "GetBucketTagging"
            | "PutBucketTagging"
            | "GetBucketPolicy"
            | "PutBucketPolicy"
            | "GetBucketVersioning"
            | "PutBucketVersioning"
            | "GetBucketWebsite"
            | "PutBucketWebsite"
            | "GetBucketOwnershipControls"
            | "PutBucketOwnershipControls" => s3(&[op]),
            other => panic!(
                "no IAM action known for S3 {other}: add it to this table and to docs/iam/*.json"
            ),
        },
        "S3 Control" => match op {
            "GetPublicAccessBlock" => vec!["s3:GetAccountPublicAccessBlock".into()],
            other => panic!("no IAM action known for S3 Control {other}"),
        },
        "IAM" => vec![format!("iam:{op}")],
        "Lambda" => {
            let mut a = vec![format!("lambda:{op}")];
            if op == "CreateFunction" || op == "UpdateFunctionConfiguration" {
                a.push("iam:PassRole".into());
            }
            a
        }
        "Resource Groups Tagging API" => vec![format!("tag:{op}")],
        // Tags in CreateLogGroup need logs:TagResource too.
        "CloudWatch Logs" if op == "CreateLogGroup" => {
            vec!["logs:CreateLogGroup".into(), "logs:TagResource".into()]
        }
        "CloudWatch Logs" => vec![format!("logs:{op}")],
        "STS" => vec![format!("sts:{op}")],
        // Tags in CreateDistributionWithTags need cloudfront:TagResource too.
        "CloudFront" if op == "CreateDistributionWithTags" => {
            vec![
                "cloudfront:CreateDistribution".into(),
                "cloudfront:TagResource".into(),
            ]
        }
        "CloudFront" => vec![format!("cloudfront:{op}")],
        "ACM" => vec![format!("acm:{op}")],
        "Cognito Identity Provider" => vec![format!("cognito-idp:{op}")],
        "WAFV2" => vec![format!("wafv2:{op}")],
        // A plan acts as its role: GuardDuty asks for iam:PassRole on it.
        "GuardDuty" if op.ends_with("MalwareProtectionPlan") && !op.starts_with("Get") => {
            let mut a = vec![format!("guardduty:{op}")];
            if op != "DeleteMalwareProtectionPlan" {
                a.push("iam:PassRole".into());
            }
            a
        }
        "GuardDuty" => vec![format!("guardduty:{op}")],
        other => panic!("unknown service {other}"),
    }
}

/// The policy `presign-stack policy WHICH` prints for the spec at `spec` (no AWS call).
fn policy(spec: &Path, which: &str, account: Option<&str>) -> Value {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.arg("--spec").arg(spec).args(["policy", which]);
    if let Some(a) = account {
        c.args(["--account", a]);
    }
    let out = run(c).ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(a) => vec![a.clone()],
        Value::Array(items) => items
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect(),
        other => panic!("not a string or list: {other}"),
    }
}

/// The actions a policy allows somewhere, less those it denies on the same resources
/// without a condition (at the level of actions: where they apply is the enforcement
/// test's part).
fn allowed(doc: &Value) -> BTreeSet<String> {
    let mut allow = BTreeSet::new();
    let mut deny = BTreeSet::new();
    for st in doc["Statement"].as_array().unwrap() {
        let actions = list(&st["Action"]);
        match st["Effect"].as_str().unwrap() {
            "Allow" => allow.extend(actions),
            "Deny" if st.get("Condition").is_none() => deny.extend(actions),
            _ => {}
        }
    }
    allow.difference(&deny).cloned().collect()
}

fn needed(log: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let (service, op) = line.rsplit_once(' ').unwrap();
        out.extend(actions(service, op));
    }
    assert!(!out.is_empty());
    out
}

fn logged(project: &Project, moto: &Moto, log: &Path, args: &[&str]) -> Run {
    let mut c = project.cmd(moto, REGION, args);
    c.env("PRESIGN_STACK_REQUEST_LOG", log);
    run(c).ok()
}

/// Checks that every call logged in `log` is allowed by `policy`.
fn check_calls(log: &Path, policy: &Value, what: &str) {
    let need = needed(log);
    let have = allowed(policy);
    let missing: Vec<&String> = need.difference(&have).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}");
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn the_generated_policies_allow_every_call_of_a_whole_cycle_of_both_layouts_with_auth() {
    let moto = Moto::start();
    let project = Project::new();
    // CloudFront with the API on the site's origin, sign-in by the stack's own user pool,
    // and a rate limit: every kind of the registry.
    let first = format!(
        "version: 1\nname: iam-docs\nregion: {REGION}\ntags: {{team: a}}\n\
         documents: {{events: eventbridge, malware_scan: guardduty}}\n\
         presigner: {{zip: bundle.zip, reserved_concurrency: 2}}\nwebsite: {{source: site, \
         hosting: cloudfront, cloudfront: {{api_path: /api, rate_limit: 300}}}}\n\
         auth:\n  cognito: {{domain_prefix: iam-docs-signin}}\n"
    );
    // Updates of every kind, a rename pruned, the S3 website endpoint (the distribution,
    // the pool and the web ACL deleted), a changed file, then down.
    let second = format!(
        "version: 1\nname: iam-docs\nregion: {REGION}\ntags: {{team: b}}\n\
         documents: {{bucket: iam-docs-renamed, versioning: true, expire_uploads_after_days: 3}}\n\
         presigner: {{zip: bundle.zip, memory_mb: 256, reserved_concurrency: 2}}\n\
         website: {{source: site}}\n"
    );
    let logs = |phase: &str| {
        (
            project.path().join(format!("{phase}-deploy.log")),
            project.path().join(format!("{phase}-read.log")),
        )
    };
    let (deploy1, read1) = logs("first");
    project.write_spec(&first);
    let policies1 = (
        policy(&project.spec_path(), "deploy", None),
        policy(&project.spec_path(), "read-only", None),
    );
    logged(&project, &moto, &deploy1, &["up"]);
    logged(&project, &moto, &read1, &["plan"]);
    logged(&project, &moto, &read1, &["drift"]);
    logged(&project, &moto, &read1, &["outputs"]);

    let (deploy2, read2) = logs("second");
    std::fs::write(project.path().join("site/app.js"), "changed").unwrap();
    project.write_spec(&second);
    let policies2 = (
        policy(&project.spec_path(), "deploy", None),
        policy(&project.spec_path(), "read-only", None),
    );
    logged(&project, &moto, &read2, &["plan"]);
    logged(&project, &moto, &deploy2, &["up", "--prune", "--yes"]);
    logged(&project, &moto, &read2, &["drift"]);
    logged(&project, &moto, &deploy2, &["down", "--yes"]);

    for (deploy, read, (deploy_policy, read_policy), phase) in [
        (
            &deploy1,
            &read1,
            &policies1,
            "with CloudFront and auth.cognito",
        ),
        (&deploy2, &read2, &policies2, "with the S3 website endpoint"),
    ] {
        check_calls(read, read_policy, &format!("policy read-only {phase}"));
        check_calls(read, deploy_policy, &format!("policy deploy {phase}"));
        check_calls(deploy, deploy_policy, &format!("policy deploy {phase}"));
        // The read-only policy changes nothing.
        let writes: Vec<String> = allowed(read_policy)
            .into_iter()
            .filter(|a| !presign_stack::resources::scope::is_read(a))
            .collect();
        assert!(writes.is_empty(), "read-only {phase} allows {writes:?}");
    }
}

/// Every action a kind of the registry (and the parts around them) declares for its steps is
/// in the deploy policy of a spec that wants every kind (allowed, or denied on purpose), and
/// the policy holds no other; every read is in the read-only one, which holds nothing else.
#[test]
fn the_generated_policies_are_what_the_resources_declare() {
    use presign_stack::resources::{cloudfront, scope::is_read, REGISTRY};
    let spec = repo().join("config/presign-stack-signin.yaml");
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut reads: BTreeSet<String> = BTreeSet::new();
    for r in REGISTRY {
        let a = r.actions();
        reads.extend(a.read.iter().map(|s| s.to_string()));
        for list in [a.read, a.create, a.update, a.delete] {
            declared.extend(list.iter().map(|s| s.to_string()));
        }
    }
    for list in [
        presign_stack::discovery::ACTIONS,
        presign_stack::sync::ACTIONS,
        cloudfront::invalidation::ACTIONS,
    ] {
        declared.extend(list.iter().map(|s| s.to_string()));
        reads.extend(list.iter().filter(|a| is_read(a)).map(|s| s.to_string()));
    }
    let deploy = policy(&spec, "deploy", None);
    let mut named = BTreeSet::new();
    let mut denied_on_purpose = BTreeSet::new();
    for st in deploy["Statement"].as_array().unwrap() {
        let actions = list(&st["Action"]);
        if st["Effect"] == "Deny" {
            denied_on_purpose.extend(actions.iter().cloned());
        }
        named.extend(actions);
    }
    // The boundary's own policy, and the role's boundary, are the deployer's to leave alone:
    // denied, never declared.
    for a in [
        "iam:DeleteRolePermissionsBoundary",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:DeletePolicyVersion",
        "iam:SetDefaultPolicyVersion",
    ] {
        assert!(denied_on_purpose.contains(a), "{a} is not denied");
        named.remove(a);
    }
    let undeclared: Vec<&String> = named.difference(&declared).collect();
    let unnamed: Vec<&String> = declared.difference(&named).collect();
    assert!(
        undeclared.is_empty() && unnamed.is_empty(),
        "in the deploy policy but declared by nothing: {undeclared:?}; declared but not in \
         it: {unnamed:?}"
    );
    let read_only = allowed(&policy(&spec, "read-only", None));
    let missing: Vec<&String> = reads.difference(&read_only).collect();
    assert!(
        missing.is_empty(),
        "reads missing from read-only: {missing:?}"
    );
    let extra: Vec<&String> = read_only.iter().filter(|a| !is_read(a)).collect();
    assert!(extra.is_empty(), "read-only allows writes: {extra:?}");
}

/// `docs/iam/*.json` are what `presign-stack policy` prints for the example spec.
#[test]
fn the_published_policies_are_generated_from_the_example_spec() {
    let spec = repo().join("config/presign-stack.yaml");
    for (which, file) in [
        ("deploy", "deploy.json"),
        ("read-only", "read-only.json"),
        ("boundary", "boundary.json"),
    ] {
        let path = repo().join("docs/iam").join(file);
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        let generated = serde_json::to_string_pretty(&policy(&spec, which, None)).unwrap() + "\n";
        assert!(
            published == generated,
            "{} differs from `presign-stack --spec config/presign-stack.yaml policy {which}`; \
             write it again with that command",
            path.display()
        );
    }
}

/// The deploy role `bootstrap` makes holds the deploy policy inline, and IAM allows 10,240
/// characters (whitespace aside) of inline policy per role: the largest stack there can be
/// (the longest name, every resource, a custom domain, SSE-KMS) fits.
#[test]
fn the_largest_deploy_policy_fits_a_roles_inline_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("bundle.zip"), b"zip").unwrap();
    let spec = dir.path().join("presign-stack.yaml");
    std::fs::write(&spec, support::LARGEST_SPEC).unwrap();
    let deploy = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
        c.arg("--spec").arg(&spec).args([
            "--env",
            "production",
            "policy",
            "deploy",
            "--account",
            "123456789012",
        ]);
        run(c).ok()
    };
    let out = deploy();
    let size = out.stdout.chars().filter(|c| !c.is_whitespace()).count();
    assert!(size <= 10_240, "the deploy policy is {size} characters");
    assert!(!out.stderr.contains("10,240"), "{}", out.stderr);
    // It fits by being compacted, which keeps every grant of the readable form
    // (tests/iam_linters.rs checks what it adds against AWS's Service Authorization Reference).
    let loaded = presign_stack::spec::load(&spec, "production").unwrap();
    let spec = loaded.resolve("123456789012", "ap-southeast-2");
    let at = presign_stack::resources::scope::Arns::new("123456789012", "ap-southeast-2");
    use presign_stack::policy::{generate, generate_uncompacted, Which};
    let compact = generate(&spec, &at, Which::Deploy).to_value();
    let readable = generate_uncompacted(&spec, &at, Which::Deploy).to_value();
    assert!(
        compact["Statement"].as_array().unwrap().len()
            < readable["Statement"].as_array().unwrap().len(),
        "compacted"
    );
    let (kept, wanted) = (support::grants(&compact), support::grants(&readable));
    let lost: Vec<&String> = wanted.difference(&kept).collect();
    assert!(lost.is_empty(), "compaction lost {lost:?}");
}
