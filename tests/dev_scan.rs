//! `presign-stack dev` with `documents.malware_scan: guardduty` (SPEC section 9): dev stands in
//! for GuardDuty. An upload is pending until its scan (a second, or PRESIGN_STACK_DEV_SCAN_MS),
//! then tagged `NO_THREATS_FOUND`, or `THREATS_FOUND` when it holds the EICAR test string; the
//! presigner answers 409 until it is clean, and the documents store refuses a read of it, as
//! the bucket policy does on AWS.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};
use support::devserver::*;

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn project(dir: &Path) -> std::path::PathBuf {
    let spec = write_project(dir, "");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        format!("{text}documents:\n  malware_scan: guardduty\n"),
    )
    .unwrap();
    spec
}

/// dev for a project in `dir` with the scan, taking `scan_ms` (default: a second).
fn start(dir: &Path, scan_ms: Option<&str>) -> Dev {
    let spec = project(dir);
    let env: Vec<(&str, &str)> = scan_ms
        .map(|ms| ("PRESIGN_STACK_DEV_SCAN_MS", ms))
        .into_iter()
        .collect();
    Dev::start_with_env(&spec, Some(&dir.join("data")), &[], &env)
}

/// Uploads `body` as `name` (text/plain) through dev's presigner and store; the key.
fn upload(dev: &Dev, name: &str, body: &[u8]) -> String {
    let r = http(
        "POST",
        &format!("{}uploads", dev.presigner_url),
        &[("content-type", "application/json")],
        json!({"filename": name, "contentType": "text/plain", "size": body.len()})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    let put = put_as_answered(&answer, body);
    assert_eq!(put.status, 200, "{}", put.text());
    answer["key"].as_str().unwrap().to_string()
}

fn ask_download(dev: &Dev, key: &str) -> (u16, Value) {
    let r = get(&format!(
        "{}downloads?key={}",
        dev.presigner_url,
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
    ));
    (r.status, r.json())
}

/// A GET of `key` presigned with dev's own keys (what a URL leaked before the scan is).
fn presigned_get(dev: &Dev, key: &str) -> String {
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dev.data_dir.join("credentials.json")).unwrap())
            .unwrap();
    let creds = presigner::Credentials {
        access_key_id: keys["access_key_id"].as_str().unwrap().into(),
        secret_access_key: keys["secret_access_key"].as_str().unwrap().into(),
        session_token: None,
        expires_at: None,
    };
    presigner::presign(
        "GET",
        &format!("{}{}", dev.documents_url, presigner::encode_key_path(key)),
        &[],
        &[],
        &creds,
        "eu-central-1",
        SystemTime::now(),
        Duration::from_secs(300),
    )
    .unwrap()
}

#[test]
fn while_the_scan_runs_nothing_is_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    // A scan that does not end while the test looks.
    let dev = start(dir.path(), Some("600000"));
    let key = upload(&dev, "notes.txt", b"hello");
    let (status, body) = ask_download(&dev, &key);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["scan"], json!("pending"));
    assert!(
        body["error"].as_str().unwrap().contains("being scanned"),
        "{body}"
    );
    let leaked = get(&presigned_get(&dev, &key));
    assert_eq!(leaked.status, 403, "{}", leaked.text());
    assert_eq!(s3_code(&leaked), "AccessDenied");
    assert!(leaked.text().contains("malware scan"), "{}", leaked.text());
    let (status, _) = ask_download(&dev, "uploads/2026/12/07/none.txt");
    assert_eq!(status, 404);
    dev.stop();
}

#[test]
fn a_clean_file_is_downloaded_once_scanned_and_the_test_virus_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start(dir.path(), Some("0"));
    let clean = upload(&dev, "notes.txt", b"hello");
    let mut infected = b"a line before it\n".to_vec();
    infected.extend_from_slice(EICAR);
    let eicar = upload(&dev, "eicar.txt", &infected);
    let (status, body) = ask_download(&dev, &clean);
    assert_eq!(status, 200, "{body}");
    let got = get(body["url"].as_str().unwrap());
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"hello");
    let (status, body) = ask_download(&dev, &eicar);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["scan"], json!("THREATS_FOUND"));
    assert!(
        body["error"].as_str().unwrap().contains("malware"),
        "{body}"
    );
    let leaked = get(&presigned_get(&dev, &eicar));
    assert_eq!(leaked.status, 403, "{}", leaked.text());
    dev.stop();
}

#[test]
fn with_the_default_scan_time_a_file_is_ready_after_about_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start(dir.path(), None);
    let key = upload(&dev, "notes.txt", b"hello");
    let started = Instant::now();
    loop {
        let (status, body) = ask_download(&dev, &key);
        if status == 200 {
            break;
        }
        assert_eq!(body["scan"], json!("pending"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(60), "never scanned");
        std::thread::sleep(Duration::from_millis(200));
    }
    dev.stop();
}
