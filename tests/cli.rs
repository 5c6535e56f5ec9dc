//! The binary's behaviour at its edges: offline validation, error messages with positions,
//! flag conflicts, plan exit codes, and ownership refusals for every resource kind.

mod support;

use std::process::Command;
use support::*;

const REGION: &str = "eu-central-1";

fn offline_cmd() -> Command {
    // No emulator and no credentials: validate must not need either.
    let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

/// A project whose spec needs nothing from AWS to validate (its region is left to the chain).
fn offline_project() -> Project {
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: acme-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    project
}

/// A project whose spec names its region, for runs against an endpoint of the test's own.
fn ep_project() -> Project {
    let project = Project::new();
    project.write_spec(&support::spec("minimal", "ep-docs", "eu-central-1"));
    project
}

/// `plan` of `project` against the endpoint at `url`, with test credentials.
fn plan_against(project: &Project, url: &str) -> Command {
    let mut c = offline_cmd();
    c.env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .arg("--spec")
        .arg(project.spec_path())
        .arg("plan");
    c
}

/// An endpoint that answers HTTP 500 with `body` to everything and hands over each request.
fn failing_endpoint(body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = vec![0u8; 65536];
            let n = stream.read(&mut buf).unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn validate_is_offline_and_prints_the_resolved_names() {
    let project = offline_project();
    let mut c = offline_cmd();
    c.arg("--spec")
        .arg(project.spec_path())
        .args(["--env", "prod", "validate"]);
    let out = run(c).ok();
    assert!(
        out.stdout.contains("acme-docs-prod-documents-{account}"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("acme-docs-prod-presigner"),
        "{}",
        out.stdout
    );
}

#[test]
fn validate_reports_every_problem_with_file_line_column_and_field() {
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: acme-docs\npresigner:\n  zip: bundle.zip\n  memry_mb: 256\nwebsite: {source: site}\n",
    );
    let mut c = offline_cmd();
    c.arg("--spec").arg(project.spec_path()).arg("validate");
    let out = run(c);
    assert_eq!(out.code, 1);
    let spec = project.spec_path().display().to_string();
    assert!(
        out.stderr
            .contains(&format!("{spec}:5:3: presigner.memry_mb:")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `memory_mb`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("has 1 problem"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn a_missing_spec_file_names_it() {
    let mut c = offline_cmd();
    c.args(["--spec", "/nonexistent/stack.yaml", "validate"]);
    let out = run(c);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/nonexistent/stack.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_flags_are_refused_with_usage_and_exit_1_not_the_drift_code() {
    let mut c = offline_cmd();
    c.args(["--output", "yaml", "validate"]);
    let out = run(c);
    assert_eq!(
        out.code, 1,
        "a usage error is an error; 2 means changes or drift"
    );
    assert!(
        out.stderr.contains("possible values: text, json"),
        "{}",
        out.stderr
    );
    let mut c = offline_cmd();
    c.args(["drift", "--markdwn", "x.md"]);
    let out = run(c);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--markdown"), "{}", out.stderr);

    let mut c = offline_cmd();
    c.arg("--help");
    let out = run(c);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("drift"), "{}", out.stdout);
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn an_endpoint_that_is_not_a_url_is_named_and_an_empty_one_is_unset() {
    let project = ep_project();
    for (flag, env, named) in [
        (Some(""), None, "--endpoint-url ``"),
        (
            Some("localhost:4566"),
            None,
            "--endpoint-url `localhost:4566`",
        ),
        (None, Some("ftp://x"), "AWS_ENDPOINT_URL `ftp://x`"),
    ] {
        let mut c = offline_cmd();
        c.env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        if let Some(env) = env {
            c.env("AWS_ENDPOINT_URL", env);
        }
        c.arg("--spec").arg(project.spec_path());
        if let Some(flag) = flag {
            c.args(["--endpoint-url", flag]);
        }
        c.arg("plan");
        let out = run(c);
        assert_eq!(out.code, 1, "{flag:?} {env:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(named) && out.stderr.contains("http://127.0.0.1:4566"),
            "{flag:?} {env:?}: {}",
            out.stderr
        );
    }

    // An empty AWS_ENDPOINT_URL, as CI templates export it, means none: the SDK goes on to
    // the endpoint the profile names, instead of panicking on an empty URL.
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[default]\nendpoint_url = {}\naws_access_key_id = test\naws_secret_access_key = test\n",
            moto.url
        ),
    )
    .unwrap();
    let mut c = offline_cmd();
    c.env("AWS_ENDPOINT_URL", "")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .arg("--spec")
        .arg(project.spec_path())
        .arg("plan");
    let out = run(c);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Plan: "), "{}", out.stdout);
}

#[test]
fn an_endpoint_that_never_answers_is_an_error_not_a_hang() {
    // Accepts connections, reads what comes, counts the account lookups (the first call;
    // the listings sent with it go unanswered too), and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in silent.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut stream = stream;
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if String::from_utf8_lossy(&seen).contains("GetCallerIdentity") {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        seen.clear();
                    }
                }
            });
        }
    });
    let project = ep_project();
    let out = run(plan_against(&project, &url));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no answer from the AWS endpoint within 20 s"),
        "{}",
        out.stderr
    );
    // The bound covers the whole call: a per-attempt bound would retry, on new connections.
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one account lookup, cut off after 20 s"
    );
}

#[test]
fn an_error_without_a_code_shows_the_status_and_body_that_came_back() {
    // Every answer is a bare 500 with a JSON body (a proxy's error page).
    let (url, _requests) = failing_endpoint(r#"{"message":"injected failure"}"#);
    let project = ep_project();
    let mut c = plan_against(&project, &url);
    c.env("AWS_MAX_ATTEMPTS", "1");
    let out = run(c);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("HTTP 500 with no error code")
            && out.stderr.contains("injected failure")
            && !out.stderr.contains("unhandled error"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_explicit_profile_wins_over_credentials_in_the_environment() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[other]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = s\n",
    )
    .unwrap();
    let project = ep_project();
    let (url, requests) = failing_endpoint("");
    let cmd = |profile: &str| {
        let mut c = offline_cmd();
        c.env("AWS_ENDPOINT_URL", &url)
            .env("HOME", home.path())
            .env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY")
            .env("AWS_SECRET_ACCESS_KEY", "e")
            .env("AWS_MAX_ATTEMPTS", "1")
            .arg("--spec")
            .arg(project.spec_path())
            .args(["--profile", profile, "plan"]);
        c
    };
    let out = run(cmd("other"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let first = requests
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(
        first.contains("Credential=AKIAPROFILEKEY/"),
        "signed with the profile's key: {first}"
    );

    let out = run(cmd("nosuch"));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("--profile nosuch: no usable credentials"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let project = offline_project();
    let mut c = offline_cmd();
    c.arg("--spec")
        .arg(project.spec_path())
        .arg("validate")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take()); // the reader is gone before the first line
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_region_flag_that_contradicts_the_spec_is_an_error() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&support::spec("minimal", "reg-docs", REGION));
    let out = run(project.cmd(&moto, REGION, &["--region", "us-west-2", "plan"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("--region us-west-2 conflicts with `region: eu-central-1`"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn plan_detailed_exitcode_is_2_before_up_and_0_after() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: plan-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    let before = run(project.cmd(&moto, REGION, &["plan", "--detailed-exitcode"]));
    assert_eq!(before.code, 2, "{}", before.stderr);
    assert!(
        before
            .stdout
            .contains("+ documents bucket plan-docs-dev-documents-123456789012"),
        "{}",
        before.stdout
    );
    assert!(
        before
            .stdout
            .contains("Plan: 11 to add, 0 to change, 0 to destroy."),
        "{}",
        before.stdout
    );
    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(
        up.stderr.contains("Apply complete: 11 added"),
        "{}",
        up.stderr
    );
    let after = run(project.cmd(&moto, REGION, &["plan", "--detailed-exitcode"])).ok();
    assert!(after.stdout.contains("No changes."), "{}", after.stdout);
    // Changing the spec shows the field with its old and new value.
    project.write_spec("version: 1\nname: plan-docs\npresigner: {zip: bundle.zip, memory_mb: 512}\nwebsite: {source: site}\n");
    let changed = run(project.cmd(
        &moto,
        REGION,
        &["--output", "json", "plan", "--detailed-exitcode"],
    ));
    assert_eq!(changed.code, 2, "{}", changed.stderr);
    let plan: serde_json::Value = serde_json::from_str(&changed.stdout).unwrap();
    let function = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "function")
        .unwrap();
    assert_eq!(function["action"], "update");
    assert_eq!(
        function["changes"],
        serde_json::json!([{"field": "memory_mb", "old": 128, "new": 512}])
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn an_untagged_role_or_function_of_the_expected_name_stops_up() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: role-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    let iam = moto.iam(REGION).await;
    iam.create_role()
        .role_name("role-docs-dev-presigner")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let out = run(project.cmd(&moto, REGION, &["up"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "role role-docs-dev-presigner already exists but was not created by this stack"
        ),
        "{}",
        out.stderr
    );
    let s3 = moto.s3(REGION).await;
    assert!(
        s3.head_bucket()
            .bucket("role-docs-dev-documents-123456789012")
            .send()
            .await
            .is_err(),
        "no bucket made"
    );

    // Another stack's tags are refused too, naming that stack.
    let other = Project::new();
    other.write_spec(
        "version: 1\nname: role-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    run(other.cmd(&moto, REGION, &["--env", "qa", "up"])).ok();
    other.write_spec(
        "version: 1\nname: fn-docs\npresigner: {zip: bundle.zip, function_name: role-docs-qa-presigner, role_name: fn-docs-role}\nwebsite: {source: site}\n",
    );
    let out = run(other.cmd(&moto, REGION, &["up"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("function role-docs-qa-presigner already exists and belongs to presign-stack stack `role-docs` (env `qa`)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_failing_website_build_stops_up_before_any_change() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: build-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site, build: \"echo building; exit 3\"}\n",
    );
    let out = run(project.cmd(&moto, REGION, &["up"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("website.build `echo building; exit 3` failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    let s3 = moto.s3(REGION).await;
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "no bucket was created");
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn an_unpublishable_website_file_is_named_before_any_change() {
    use std::os::unix::ffi::OsStrExt;
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(
        "version: 1\nname: file-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    let bad = project
        .path()
        .join("site")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.html"));
    std::fs::write(&bad, "latin-1 name").unwrap();
    // Hidden paths are never published: a .env next to the page must not reach the bucket.
    std::fs::write(project.path().join("site/.env"), "SECRET=1").unwrap();
    let out = run(project.cmd(&moto, REGION, &["up"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("caf"), "{}", out.stderr);
    assert!(out.stderr.contains("not valid UTF-8"), "{}", out.stderr);
    let s3 = moto.s3(REGION).await;
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());

    std::fs::remove_file(&bad).unwrap();
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let listed = s3
        .list_objects_v2()
        .bucket("file-docs-dev-website-123456789012")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"index.html"), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(".env")), "{keys:?}");
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn odd_files_in_the_website_folder_are_named_not_hidden() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&support::spec("minimal", "odd-docs", "eu-central-1"));
    let site = project.path().join("site");
    std::fs::remove_file(site.join("index.html")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path(), site.join("linked")).unwrap();
    let fifo = site.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());

    // A link out of the folder is refused, naming it; nothing behind it is planned.
    let out = run(project.cmd(&moto, "eu-central-1", &["plan"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("linked is a link to") && out.stderr.contains("outside website.source"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("secret.txt"), "{}", out.stdout);
    std::fs::remove_file(site.join("linked")).unwrap();

    let out = run(project.cmd(&moto, "eu-central-1", &["plan"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for needle in ["has no index.html", "pipe is not a regular file"] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }

    // A name S3 cannot list reliably stops `up` before any write, naming the file.
    std::fs::write(site.join("a\nb.txt"), "x").unwrap();
    let log = project.path().join("requests.log");
    let mut up = project.cmd(&moto, "eu-central-1", &["up"]);
    up.env("PRESIGN_STACK_REQUEST_LOG", &log);
    let out = run(up);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("control character") && out.stderr.contains("rename it"),
        "{}",
        out.stderr
    );
    let requests = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        requests
            .lines()
            .all(|l| ["Get", "List", "Head", "Describe"].iter().any(|p| l
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .starts_with(p))),
        "no write: {requests}"
    );
}
