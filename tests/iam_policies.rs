//! The published IAM policies (`docs/iam/deploy.json` for `up` and `down`,
//! `docs/iam/read-only.json` for `plan` and `drift`) allow every operation the code calls:
//! a whole cycle runs against moto with the request log on, and each logged operation is
//! mapped to the IAM actions AWS authorises it with.

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
        other => panic!("unknown service {other}"),
    }
}

fn allowed(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("docs/iam").join(file)).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeSet::new();
    for st in doc["Statement"].as_array().unwrap() {
        assert_eq!(st["Effect"], "Allow", "{file}: {st}");
        match &st["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(list) => out.extend(list.iter().map(|a| a.as_str().unwrap().to_string())),
            other => panic!("{file}: Action {other}"),
        }
    }
    out
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

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn the_published_policies_allow_every_call_of_a_whole_cycle() {
    let moto = Moto::start();
    let project = Project::new();
    let spec = |extra: &str| {
        format!(
            "version: 1\nname: iam-docs\nregion: {REGION}\ntags: {{team: a}}\n{extra}\
             presigner: {{zip: bundle.zip, reserved_concurrency: 2}}\nwebsite: {{source: site, \
             hosting: cloudfront, cloudfront: {{api_path: /api}}}}\n"
        )
    };
    let deploy = project.path().join("deploy.log");
    let read = project.path().join("read.log");
    project.write_spec(&spec(""));
    logged(&project, &moto, &deploy, &["up"]);
    logged(&project, &moto, &read, &["plan"]);
    logged(&project, &moto, &read, &["drift"]);
    // Updates of every kind, a rename pruned, a changed cache rule (HEADs), then down.
    std::fs::write(project.path().join("site/app.js"), "changed").unwrap();
    project.write_spec(
        &spec(
            "documents: {bucket: iam-docs-renamed, versioning: true, expire_uploads_after_days: 3}\n",
        )
        .replace("team: a", "team: b")
        // Back to the S3 website endpoint: the distribution is disabled and deleted.
        .replace(", hosting: cloudfront, cloudfront: {api_path: /api}", "")
        .replace("reserved_concurrency: 2", "memory_mb: 256"),
    );
    logged(&project, &moto, &deploy, &["up", "--prune", "--yes"]);
    logged(&project, &moto, &read, &["drift"]);
    logged(&project, &moto, &deploy, &["down", "--yes"]);

    let read_only = allowed("read-only.json");
    let full = allowed("deploy.json");
    let read_needed = needed(&read);
    let missing: Vec<&String> = read_needed.difference(&read_only).collect();
    assert!(missing.is_empty(), "read-only.json lacks {missing:?}");
    let mut all = needed(&deploy);
    all.extend(read_needed);
    let missing: Vec<&String> = all.difference(&full).collect();
    assert!(missing.is_empty(), "deploy.json lacks {missing:?}");
    // The read-only policy changes nothing.
    let writes: Vec<&String> = read_only
        .iter()
        .filter(|a| {
            let verb = a.split(':').nth(1).unwrap();
            !["Get", "List", "Describe"]
                .iter()
                .any(|v| verb.starts_with(v))
        })
        .collect();
    assert!(writes.is_empty(), "read-only.json allows {writes:?}");
}

/// Every action a kind of the registry (and the parts around them) declares for its steps is
/// in the published deploy policy, and the policy holds no other; every read is in the
/// read-only one. (The policies are checked against real calls by the test above.)
#[test]
fn the_published_policies_are_what_the_resources_declare() {
    use presign_stack::resources::{cloudfront, REGISTRY};
    let mut declared: BTreeSet<String> = BTreeSet::new();
    let mut reads: BTreeSet<String> = BTreeSet::new();
    for r in REGISTRY {
        let a = r.actions();
        reads.extend(a.read.iter().map(|s| s.to_string()));
        for list in [a.read, a.create, a.update, a.delete] {
            declared.extend(list.iter().map(|s| s.to_string()));
        }
    }
    reads.extend(
        presign_stack::discovery::ACTIONS
            .iter()
            .map(|s| s.to_string()),
    );
    reads.extend(
        cloudfront::certificate::ACTIONS
            .iter()
            .map(|s| s.to_string()),
    );
    for list in [
        presign_stack::discovery::ACTIONS,
        presign_stack::sync::ACTIONS,
        cloudfront::certificate::ACTIONS,
        cloudfront::invalidation::ACTIONS,
    ] {
        declared.extend(list.iter().map(|s| s.to_string()));
    }
    let deploy = allowed("deploy.json");
    let undeclared: Vec<&String> = deploy.difference(&declared).collect();
    let unpublished: Vec<&String> = declared.difference(&deploy).collect();
    assert!(
        undeclared.is_empty() && unpublished.is_empty(),
        "in deploy.json but declared by nothing: {undeclared:?}; declared but not in \
         deploy.json: {unpublished:?}"
    );
    let read_only = allowed("read-only.json");
    let missing: Vec<&String> = reads.difference(&read_only).collect();
    assert!(
        missing.is_empty(),
        "reads missing from read-only.json: {missing:?}"
    );
}
