//! The demo page (`frontend/`) in headless Chromium against `presign-stack dev`: upload,
//! download, and refusals, through the real page (tests/browser/upload.spec.mjs).
//!
//! Needs node, Chromium and playwright-core, which `scripts/bootstrap.sh` installs; without
//! them this test fails and says so, rather than passing without having run.

mod devserver;

use devserver::Dev;
use std::path::{Path, PathBuf};
use std::process::Command;

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

fn write_spec(dir: &Path) -> PathBuf {
    let zip = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\n").unwrap();
    std::fs::write(dir.join("bundle.zip"), zip).unwrap();
    let frontend = serde_json::to_string(&repo().join("frontend")).unwrap();
    let spec = dir.join("presign-stack.yaml");
    std::fs::write(
        &spec,
        format!(
            "version: 1\nname: browser-test\nregion: eu-central-1\n\
             presigner:\n  zip: bundle.zip\n  max_upload_bytes: 1048576\n  \
             allowed_content_types: [text/plain, image/png, application/pdf]\n\
             website: {{source: {frontend}}}\n"
        ),
    )
    .unwrap();
    spec
}

#[test]
fn the_page_uploads_downloads_and_refuses_in_a_real_browser() {
    check_prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path());
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let screenshot = repo().join("target/screenshots/upload.png");
    let out = Command::new("node")
        .arg(repo().join("tests/browser/upload.spec.mjs"))
        .arg(&dev.url)
        .arg(&screenshot)
        .env("PRESIGN_STACK_CHROMIUM", chromium())
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
    dev.stop();
}
