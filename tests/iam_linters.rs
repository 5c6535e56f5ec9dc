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
               arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\n\
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
