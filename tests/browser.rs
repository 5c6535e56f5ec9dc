//! The demo page (`frontend/`) in headless Chromium against `presign-stack dev`, through the
//! real page (tests/browser/upload.spec.mjs), in both layouts: the presigner on its own origin
//! (s3-website) and on the page's origin under `api_path` (cloudfront), the page served under
//! the Content-Security-Policy CloudFront gives it (its modules from its own origin, nothing
//! inline). Several files chosen or dropped at once, each in its own row with its own bar and
//! result; the exact bytes in dev's store and through the download button; the page's, the
//! presigner's and storage's refusals shown per file; three uploads at a time at most. Big files in parts (tests/browser/
//! multipart.spec.mjs): exact bytes, resumed after a reload with only the missing parts sent,
//! cancelled and aborted, started over when storage no longer has the upload, failed parts
//! retried, checksums from WebCrypto or, without it, from the page's sha256.js; the large
//! file's timings are printed.
//!
//! Needs node, Chromium and playwright-core, which `scripts/bootstrap.sh` installs; without
//! them this test fails and says so, rather than passing without having run.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::devserver::Dev;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    std::env::var_os("PRESIGN_STACK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Everything the browser script needs, or a message saying what is missing and how to get it.
fn check_prerequisites() {
    let mut missing = Vec::new();
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 20 {
                missing.push(format!("node 20 or newer (found {version})"));
            }
        }
        _ => missing.push("node (Node.js 20 or newer) on PATH".to_string()),
    }
    if !chromium().is_file() {
        missing.push(format!(
            "Chromium at {} (or set PRESIGN_STACK_CHROMIUM)",
            chromium().display()
        ));
    }
    let playwright = repo().join(".tools/node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        missing.push(format!("playwright-core ({})", playwright.display()));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run; missing: {}. Run scripts/bootstrap.sh --browser (as \
         root it installs Chromium with apt-get), or scripts/test.sh, which runs it first.",
        missing.join("; ")
    );
}

/// The presigner's settings for the page's single-PUT cases: 1 MiB at most, three types.
const SMALL_FILES: &str = "  max_upload_bytes: 1048576\n  \
                           allowed_content_types: [text/plain, image/png, application/pdf]\n";

/// Files over 6 MiB go in parts of 5 MiB (S3's smallest), up to 100 MiB.
const FILES_IN_PARTS: &str = "  max_upload_bytes: 104857600\n  \
                              multipart_threshold_bytes: 6291456\n  \
                              part_size_bytes: 5242880\n  \
                              allowed_content_types: [text/plain, application/octet-stream]\n";

/// A spec serving the repository's page; `presigner` adds lines under `presigner:`,
/// `website_extra` under `website:`.
fn write_spec(dir: &Path, presigner: &str, website_extra: &str) -> PathBuf {
    let zip = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\n").unwrap();
    std::fs::write(dir.join("bundle.zip"), zip).unwrap();
    let frontend = serde_json::to_string(&repo().join("frontend")).unwrap();
    let spec = dir.join("presign-stack.yaml");
    std::fs::write(
        &spec,
        format!(
            "version: 1\nname: browser-test\nregion: eu-central-1\n\
             presigner:\n  zip: bundle.zip\n{presigner}\
             website:\n  source: {frontend}\n{website_extra}"
        ),
    )
    .unwrap();
    spec
}

/// One browser at a time: two Chromiums on a small machine make each other time out.
static BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs tests/browser/`script` against dev for `spec`; returns what it printed and dev's
/// request log.
fn run_page(script: &str, spec: &Path, data_dir: &Path, screenshot: &str) -> (String, String) {
    check_prerequisites();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dev = Dev::start(spec, Some(data_dir));
    let screenshot = repo().join("target/screenshots").join(screenshot);
    let out = Command::new("node")
        .arg(repo().join("tests/browser").join(script))
        .arg(&dev.url)
        .arg(&screenshot)
        .env("PRESIGN_STACK_CHROMIUM", chromium())
        .env("PRESIGN_STACK_DEV_DATA", &dev.data_dir)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- dev\n{}",
        out.status,
        dev.log()
    );
    assert!(screenshot.is_file());
    let log = dev.log();
    dev.stop();
    (stdout.into_owned(), log)
}

#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_uploads_downloads_and_refuses_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SMALL_FILES, "");
    let (_, log) = run_page(
        "upload.spec.mjs",
        &spec,
        &dir.path().join("data"),
        "upload.png",
    );
    assert!(log.contains("presigner POST /uploads 200"), "{log}");
    assert_refusals_and_stores(&log);
}

/// What dev saw of the page's uploads: the presigner's 413 and 415, storage's 403 for the
/// tampered signature, and the seven files that were stored (two chosen with a refused one,
/// three of six, two dropped).
fn assert_refusals_and_stores(log: &str) {
    for refusal in ["/uploads 413 ", "/uploads 415 ", " 403 "] {
        assert!(log.contains(refusal), "no{refusal} in dev's log:\n{log}");
    }
    let stored = log
        .lines()
        .filter(|l| l.contains("stored uploads/"))
        .count();
    assert_eq!(stored, 7, "files stored, by dev's log:\n{log}");
}

const CLOUDFRONT: &str = "  hosting: cloudfront\n  cloudfront: {api_path: /api}\n";

/// The secure layout: the page and the presigner on one origin, the presigner under
/// `api_path`, where the page must send the SHA-256 of its request bodies (dev refuses a POST
/// without it, as Lambda refuses CloudFront's signed request).
#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_works_behind_cloudfront_on_one_origin_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SMALL_FILES, CLOUDFRONT);
    let (_, log) = run_page(
        "upload.spec.mjs",
        &spec,
        &dir.path().join("data"),
        "upload-cloudfront.png",
    );
    assert!(log.contains("presigner POST /api/uploads 200"), "{log}");
    assert!(log.contains("presigner GET /api/downloads 200"), "{log}");
    assert_refusals_and_stores(&log);
    // The one 403 is storage's, for the tampered signature: the presigner took every call,
    // so each carried the right x-amz-content-sha256.
    assert!(
        !log.lines()
            .any(|l| l.contains("presigner") && l.contains(" 403 ")),
        "the presigner refused a call: {log}"
    );
}

/// A big file goes in parts and survives a reload: only the missing parts are sent again;
/// cancelling aborts the upload; an upload storage forgot starts over; a failed part is
/// retried, and a file that failed resumes; small files' single PUTs carry if-none-match and
/// their SHA-256; sha256.js matches WebCrypto and stands in for it. The large file's timings
/// are printed (for reports; nothing is asserted on them).
#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_uploads_big_files_in_parts_and_resumes_them_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), FILES_IN_PARTS, "");
    let (out, log) = run_page(
        "multipart.spec.mjs",
        &spec,
        &dir.path().join("data"),
        "multipart.png",
    );
    print_timings(&out);
    assert_parts_seen_by_dev(&log);
}

/// The same behind CloudFront, where every call to the presigner's new routes (parts,
/// complete, abort) must carry the SHA-256 of its body as the other calls do.
#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_uploads_big_files_in_parts_behind_cloudfront_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), FILES_IN_PARTS, CLOUDFRONT);
    let (out, log) = run_page(
        "multipart.spec.mjs",
        &spec,
        &dir.path().join("data"),
        "multipart-cloudfront.png",
    );
    print_timings(&out);
    assert_parts_seen_by_dev(&log);
    assert!(
        !log.lines()
            .any(|l| l.contains("presigner") && l.contains(" 403 ")),
        "the presigner refused a call: {log}"
    );
}

fn print_timings(out: &str) {
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("timing:"))
    {
        eprintln!("{}", line.trim());
    }
}

/// Dev's log of the multipart run: the presigner's new routes answered.
fn assert_parts_seen_by_dev(log: &str) {
    for route in [
        "/uploads/parts 200",
        "/uploads/complete 200",
        "/uploads/abort 200",
    ] {
        assert!(log.contains(route), "no {route} in dev's log:\n{log}");
    }
}

/// `auth` in the spec: dev signs users in with its own issuer (the spec's is never asked).
const AUTH: &str = "auth:\n  issuer: https://login.example.com/\n  client_id: spa-client\n";

#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_signs_users_in_and_shows_their_own_files_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), FILES_IN_PARTS, AUTH);
    let (out, log) = run_page("auth.spec.mjs", &spec, &dir.path().join("data"), "auth.png");
    assert!(out.contains("axe-core"), "{out}");
    assert!(log.contains("signed in alice"), "{log}");
    assert!(log.contains("signed in bob"), "{log}");
    assert!(log.contains("DELETE /files"), "{log}");
}

#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_signs_users_in_behind_cloudfront_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), FILES_IN_PARTS, &format!("{CLOUDFRONT}{AUTH}"));
    let (_, log) = run_page(
        "auth.spec.mjs",
        &spec,
        &dir.path().join("data"),
        "auth-cdn.png",
    );
    assert!(log.contains("signed in alice"), "{log}");
}

/// `documents.malware_scan: guardduty`: dev scans each upload for a second; the page shows
/// "scanning…", then "ready" (the clean file downloads) or "blocked: malware found" (EICAR).
#[test]
#[ignore = "needs Chromium: scripts/test.sh runs it"]
fn the_page_holds_downloads_until_the_malware_scan_says_clean_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        SMALL_FILES,
        "documents:\n  malware_scan: guardduty\n",
    );
    let (_, log) = run_page("scan.spec.mjs", &spec, &dir.path().join("data"), "scan.png");
    assert!(log.contains("/downloads 409"), "{log}");
    assert!(log.contains("/downloads 200"), "{log}");
}
