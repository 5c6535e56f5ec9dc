//! The README's main command, `scripts/up-local.sh`, as a new user runs it in CI (not
//! interactive): it provisions the example stack (`config/presign-stack.yaml`) on a moto server
//! it starts itself, then runs `presign-stack dev` and makes one upload through it as the page
//! does (checked by its SHA-256, and refused with 412 when the URL is used again). A change
//! that breaks the main job fails here, not on a new user's machine.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "runs the README's main command (moto, cargo-lambda): scripts/test.sh runs it"]
fn the_readme_main_command_provisions_the_example_and_takes_an_upload() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A free port for the script's emulator, so that nothing else listening on 4566 matters.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new("bash")
        .arg(repo.join("scripts/up-local.sh"))
        .current_dir(&repo)
        .env("CI", "true")
        .env("MOTO_PORT", port.to_string())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("running scripts/up-local.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/up-local.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let all = format!("{stdout}{stderr}");
    // The example's eleven resources (its buckets, role, log group, function and URL, two
    // origin access controls, headers policy, CloudFront function, distribution), each file of
    // the page and config.json.
    let files = std::fs::read_dir(repo.join("frontend")).unwrap().count();
    let applied = format!(
        "Apply complete: {} added, 0 changed, 0 destroyed.",
        11 + files + 1
    );
    for line in [
        applied.as_str(),
        "presigner_url    = https://",
        "took an upload (checked by its SHA-256; the URL refused a second PUT with 412)",
    ] {
        assert!(all.contains(line), "{line}\n{all}");
    }
}
