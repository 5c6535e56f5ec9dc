//! The built `bootstrap` binary, driven as Lambda drives it: init failures on a bad
//! configuration, and one JSON log line per invocation through the Runtime API.

// Throughput feeds and arrival times are the benchmark's part of the emulator.
#[allow(dead_code)]
#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{function_url_event, Feed, Kind, RuntimeApi};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken";

/// What Lambda and the provisioner set for the function.
fn lambda_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME", "presigner"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("PRESIGNER_BUCKET", "acme-docs-files"),
        ("PRESIGNER_UPLOADS_PREFIX", "uploads/"),
        ("PRESIGNER_URL_EXPIRY_SECONDS", "300"),
        ("PRESIGNER_MAX_UPLOAD_BYTES", "10485760"),
        (
            "PRESIGNER_ALLOWED_CONTENT_TYPES",
            "image/png,application/pdf",
        ),
        ("PRESIGNER_ALLOW_DOWNLOADS", "true"),
    ]
}

fn bootstrap(env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    c.env_clear().envs(env.iter().copied());
    c
}

fn assert_no_secret(text: &str) {
    for secret in [
        SECRET,
        TOKEN,
        "X-Amz-Signature",
        "X-Amz-Credential",
        "amazonaws.com",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into: {text}");
    }
}

#[test]
fn bad_configuration_fails_init_with_one_json_line() {
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        (
            "PRESIGNER_BUCKET",
            None,
            "invalid presigner configuration",
            "PRESIGNER_BUCKET: is not set",
        ),
        (
            "PRESIGNER_URL_EXPIRY_SECONDS",
            Some("7200"),
            "invalid presigner configuration",
            "PRESIGNER_URL_EXPIRY_SECONDS: \"7200\" is not allowed; expected an integer from 1 to 3600",
        ),
        (
            "PRESIGNER_UPLOADS_PREFIX",
            Some("../"),
            "invalid presigner configuration",
            "PRESIGNER_UPLOADS_PREFIX:",
        ),
        (
            "PRESIGNER_ALLOW_DOWNLOADS",
            Some("yes"),
            "invalid presigner configuration",
            "expected true or false",
        ),
        (
            "PRESIGNER_BASE_PATH",
            Some("/api/"),
            "invalid presigner configuration",
            "PRESIGNER_BASE_PATH: \"/api/\" is not a base path",
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            None,
            "no AWS credentials in the environment",
            "AWS_SECRET_ACCESS_KEY: is not set",
        ),
    ];
    for (var, value, msg, needle) in cases {
        let mut env: Vec<(&str, &str)> =
            lambda_env().into_iter().filter(|(k, _)| k != var).collect();
        if let Some(v) = value {
            env.push((var, v));
        }
        // No AWS_LAMBDA_RUNTIME_API: init must fail before the runtime is ever contacted.
        let out = bootstrap(&env).output().expect("run bootstrap");
        assert_eq!(out.status.code(), Some(1), "{var}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stdout: {stdout:?}");
        let v: Value = serde_json::from_str(lines[0]).expect("the line is JSON");
        assert_eq!(v["level"], "error", "{v}");
        assert_eq!(v["msg"], *msg, "{v}");
        let error = v["error"].as_str().unwrap();
        assert!(error.contains(needle), "{var}: {error:?} lacks {needle:?}");
        assert_no_secret(&stdout);
    }
}

#[test]
fn one_json_log_line_per_invocation() {
    let upload = r#"{"filename":"report.pdf","contentType":"application/pdf","size":48213}"#;
    // (event, status the function answers, route, whether a key is logged)
    let cases = [
        (
            function_url_event("POST", "/uploads", "", upload),
            200,
            "uploads",
            true,
        ),
        (
            function_url_event(
                "POST",
                "/uploads",
                "",
                r#"{"filename":"a.txt","contentType":"text/plain","size":1}"#,
            ),
            415,
            "uploads",
            false,
        ),
        (
            function_url_event("POST", "/uploads", "", "{"),
            400,
            "uploads",
            false,
        ),
        (
            function_url_event("GET", "/downloads", "key=uploads%2F2026%2Fa.pdf", ""),
            200,
            "downloads",
            true,
        ),
        (
            function_url_event("GET", "/downloads", "key=uploads%2F..%2Fsecret", ""),
            400,
            "downloads",
            false,
        ),
        (
            function_url_event("DELETE", "/admin", "", ""),
            404,
            "unknown",
            false,
        ),
    ];
    let api = RuntimeApi::start(Feed::Once(cases.iter().map(|c| c.0.clone()).collect()));
    let mut env = lambda_env();
    let address = api.address();
    env.push(("AWS_LAMBDA_RUNTIME_API", &address));
    let mut child = bootstrap(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bootstrap");

    let mut responses = Vec::new();
    for _ in &cases {
        let o = api
            .next_outcome(Duration::from_secs(20))
            .expect("the function answers every invocation");
        assert_eq!(
            o.kind,
            Kind::Response,
            "{}",
            String::from_utf8_lossy(&o.body)
        );
        responses.push(o);
    }
    // Idle now (waiting for the next invocation): stop it as Lambda would.
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_no_secret(&stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        cases.len(),
        "one line per invocation: {stdout}"
    );

    for ((line, response), (_, status, route, has_key)) in lines.iter().zip(&responses).zip(&cases)
    {
        let log: Value = serde_json::from_str(line).expect("each line is JSON");
        let answer: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(answer["statusCode"], *status, "{answer}");
        assert_eq!(log["status"], *status, "{line}");
        assert_eq!(log["route"], *route, "{line}");
        assert_eq!(log["request_id"], response.request_id.as_str(), "{line}");
        assert!(
            log["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{line}"
        );
        assert!(log["method"].is_string(), "{line}");
        assert_eq!(log["level"], if *status >= 500 { "error" } else { "info" });
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        if *has_key {
            let key = log["key"].as_str().expect("a key on success");
            assert!(key.starts_with("uploads/"), "{line}");
            if *route == "uploads" {
                assert_eq!(body["key"], key);
            }
            assert!(log.get("error").is_none(), "{line}");
        } else {
            assert!(log.get("key").is_none(), "{line}");
            assert_eq!(log["error"], body["error"], "{line}");
        }
    }
}
