//! How presign-stack ships (SPEC section 10): the crates package and verify as crates.io
//! would build them, and a binary built with `PRESIGN_STACK_EMBED_PRESIGNER` carries its
//! presigner: from an empty folder, with nothing on PATH but /usr/bin and /bin (no cargo,
//! cargo-lambda or zig), it deploys the embedded zip to moto and `drift` finds it in place.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::Digest as _;
use support::*;

const REGION: &str = "eu-west-1";

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(repo());
    c
}

/// The files `cargo package --list` puts in a crate.
fn packaged(package: &str) -> Vec<String> {
    let mut c = cargo();
    c.args(["package", "--list", "--allow-dirty", "-p", package]);
    run(c).ok().stdout.lines().map(str::to_string).collect()
}

#[test]
#[ignore = "needs crates.io and a build: scripts/test.sh runs it"]
fn both_crates_package_and_verify_and_the_presigner_goes_with_its_sources() {
    // Every source file of the presigner is in its crate, with the build script that tells
    // presign-stack where it is.
    let presigner = packaged("presign-stack-presigner");
    let src = repo().join("lambda-bundle");
    for entry in walkdir::WalkDir::new(src.join("src")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&src).unwrap();
            let rel = rel.to_string_lossy().replace('\\', "/");
            assert!(
                presigner.contains(&rel),
                "{rel} is not packaged: {presigner:?}"
            );
        }
    }
    assert!(presigner.contains(&"build.rs".to_string()), "{presigner:?}");
    // presign-stack: its build script, sources, the page `init` writes and the lock.
    let stack = packaged("presign-stack");
    for f in [
        "build.rs",
        "Cargo.lock",
        "src/main.rs",
        "frontend/index.html",
        "README.md",
    ] {
        assert!(stack.contains(&f.to_string()), "{f}: {stack:?}");
    }
    assert!(
        !stack.iter().any(|f| f.starts_with(".tools")
            || f.starts_with("target/")
            || f.starts_with("lambda-bundle/")),
        "{stack:?}"
    );
    // Packaged and built as crates.io would build them (the presigner from a local registry,
    // as it is not published yet), with no warning.
    let out = cargo()
        .args([
            "package",
            "--allow-dirty",
            "-p",
            "presign-stack-presigner",
            "-p",
            "presign-stack",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Verifying presign-stack v"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// Two stand-in zips (nothing runs Lambda code here), as `bundle --out-dir` names them.
fn zips(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    let x86 = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\n# x86_64\n").unwrap();
    let arm = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\n# arm64\n").unwrap();
    std::fs::write(dir.join("presigner-x86_64.zip"), &x86).unwrap();
    std::fs::write(dir.join("presigner-arm64.zip"), &arm).unwrap();
    (x86, arm)
}

/// presign-stack built with the zips in `dir` embedded, in a target dir of its own.
fn embedded_binary(dir: &Path) -> PathBuf {
    let target = repo().join("target/embedded");
    let mut c = cargo();
    c.args(["build", "--bin", "presign-stack", "--target-dir"])
        .arg(&target)
        .env("PRESIGN_STACK_EMBED_PRESIGNER", dir);
    run(c).ok();
    target.join("debug/presign-stack")
}

#[test]
#[ignore = "needs moto and a build: scripts/test.sh runs it"]
fn a_binary_with_its_presigner_embedded_deploys_it_with_nothing_else_installed() {
    let moto = Moto::start();
    let work = tempfile::tempdir().unwrap();
    let (x86, arm) = zips(&work.path().join("zips"));
    let bin = embedded_binary(&work.path().join("zips"));
    let hex = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));

    // --version says the presigner is embedded, and gives each zip's SHA-256.
    let version = Command::new(&bin).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(version.contains("presigner: embedded"), "{version}");
    assert!(
        version.contains(&hex(&x86)) && version.contains(&hex(&arm)),
        "{version}"
    );

    // From an empty folder, with only /usr/bin and /bin on PATH.
    let project = work.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let cache = work.path().join("cache");
    let run_in = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", work.path())
            .env("PRESIGN_STACK_CACHE_DIR", &cache)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .current_dir(&project)
            .args(args)
            .stdin(std::process::Stdio::null());
        run(c)
    };
    run_in(&["init"]).ok();
    let spec = std::fs::read_to_string(project.join("presign-stack.yaml")).unwrap();
    assert!(
        !spec.contains("\nsource:") && !spec.contains("zip:"),
        "{spec}"
    );
    let plan = run_in(&["plan"]).ok();
    assert!(plan.stdout.contains("function"), "{}", plan.stdout);
    run_in(&["up"]).ok();
    assert!(
        !cache.join("presigner").exists(),
        "nothing was built: the embedded zip was deployed"
    );

    // The function runs the embedded x86_64 zip, and drift finds it so.
    let name = spec_name(&project);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sha = rt.block_on(async {
        let lambda = moto.lambda(REGION).await;
        let f = lambda
            .get_function_configuration()
            .function_name(format!("{name}-dev-presigner"))
            .send()
            .await
            .unwrap();
        f.code_sha256().unwrap().to_string()
    });
    let want = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&x86));
    assert_eq!(sha, want, "CodeSha256 is the embedded x86_64 zip's");
    let drift = run_in(&["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // bundle --out-dir writes the embedded zips under their names.
    let out = work.path().join("out");
    run_in(&["bundle", "--out-dir", out.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read(out.join("presigner-x86_64.zip")).unwrap(),
        x86
    );
    assert_eq!(std::fs::read(out.join("presigner-arm64.zip")).unwrap(), arm);
    run_in(&["down", "--yes"]).ok();
}

/// The stack name `init` gave the project (its folder's name).
fn spec_name(project: &Path) -> String {
    let spec = std::fs::read_to_string(project.join("presign-stack.yaml")).unwrap();
    spec.lines()
        .find_map(|l| l.strip_prefix("name: "))
        .map(|n| n.split('#').next().unwrap().trim().to_string())
        .unwrap()
}

fn check_jsonschema(schema: &str, files: &[PathBuf]) -> std::process::Output {
    let tool = repo().join(".tools/schema-venv/bin/check-jsonschema");
    assert!(
        tool.exists(),
        "{} not found: run scripts/bootstrap.sh --browser (or scripts/test.sh)",
        tool.display()
    );
    Command::new(tool)
        .args(["--builtin-schema", schema])
        .args(files)
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs check-jsonschema: scripts/test.sh installs it"]
fn the_workflows_and_the_action_validate_against_githubs_schemas() {
    let workflows = [
        repo().join(".github/workflows/ci.yml"),
        repo().join(".github/workflows/release.yml"),
    ];
    let out = check_jsonschema("vendor.github-workflows", &workflows);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = check_jsonschema("vendor.github-actions", &[repo().join("action.yml")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The same check refuses a workflow GitHub would refuse.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    stepz:\n      - run: true\n",
    )
    .unwrap();
    let out = check_jsonschema("vendor.github-workflows", &[broken]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn yaml(path: &Path) -> yaml_rust2::Yaml {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap()
        .remove(0)
}

#[test]
fn ci_runs_the_readmes_test_command_and_a_release_builds_zips_then_binaries_then_publishes() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains("```sh\nscripts/test.sh\n```"));
    let ci = yaml(&repo().join(".github/workflows/ci.yml"));
    let steps = ci["jobs"]["test"]["steps"].as_vec().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["run"].as_str() == Some("scripts/test.sh")),
        "{steps:?}"
    );
    let release = yaml(&repo().join(".github/workflows/release.yml"));
    let jobs = &release["jobs"];
    assert_eq!(jobs["binaries"]["needs"].as_str(), Some("zips"));
    assert_eq!(jobs["publish"]["needs"].as_str(), Some("binaries"));
    let targets: Vec<&str> = jobs["binaries"]["strategy"]["matrix"]["include"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "aarch64-apple-darwin",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc"
        ]
    );
    let text = std::fs::read_to_string(repo().join(".github/workflows/release.yml")).unwrap();
    for wanted in [
        "bundle --out-dir dist/zips",
        "PRESIGN_STACK_EMBED_PRESIGNER",
        "sha256sum",
        "gh release upload",
    ] {
        assert!(text.contains(wanted), "{wanted}");
    }
    // cargo-binstall finds the archives the release attaches.
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(manifest.contains(
        "pkg-url = \"{ repo }/releases/download/v{ version }/presign-stack-v{ version }-{ target }{ archive-suffix }\""
    ));
}

#[test]
fn the_action_has_the_inputs_and_steps_the_docs_show() {
    let action = yaml(&repo().join("action.yml"));
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let inputs = action["inputs"].as_hash().unwrap();
    let names: Vec<&str> = inputs.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "role-to-assume",
            "aws-region",
            "spec",
            "env",
            "version",
            "working-directory"
        ]
    );
    let required: Vec<&str> = inputs
        .iter()
        .filter(|(_, v)| v["required"].as_bool() == Some(true))
        .filter_map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(required, ["role-to-assume", "aws-region"]);
    let steps = action["runs"]["steps"].as_vec().unwrap();
    let download = steps[0]["run"].as_str().unwrap();
    for wanted in [
        "SHA256SUMS",
        "sha256sum -c",
        "GITHUB_PATH",
        "releases/download",
    ] {
        assert!(download.contains(wanted), "{wanted}");
    }
    assert_eq!(
        steps[1]["uses"].as_str(),
        Some("aws-actions/configure-aws-credentials@v4")
    );
    assert_eq!(
        steps[1]["with"]["role-to-assume"].as_str(),
        Some("${{ inputs.role-to-assume }}")
    );
    let drift = steps[2]["run"].as_str().unwrap();
    assert!(drift.contains("drift --markdown \"$summary\""), "{drift}");
    assert!(drift.contains(">> \"$GITHUB_STEP_SUMMARY\""), "{drift}");
    let outputs = action["outputs"].as_hash().unwrap();
    let outputs: Vec<&str> = outputs.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(outputs, ["exit-code", "summary"]);
    assert!(drift.contains("exit \"$code\""), "{drift}");

    // docs/ci-drift.md shows it in ten lines, with only the action's inputs and every
    // required one.
    let doc = std::fs::read_to_string(repo().join("docs/ci-drift.md")).unwrap();
    let block = doc
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("uses: presign-stack/presign-stack@"))
        .expect("docs/ci-drift.md shows the action");
    assert!(block.lines().count() <= 10, "{block}");
    let job = yaml_rust2::YamlLoader::load_from_str(block)
        .unwrap()
        .remove(0);
    let step = job["drift"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("presign-stack/presign-stack@"))
        })
        .unwrap()
        .clone();
    let given: Vec<&str> = step["with"]
        .as_hash()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    for g in &given {
        assert!(names.contains(g), "{g} is not an input of action.yml");
    }
    for r in &required {
        assert!(given.contains(r), "the docs leave out {r}");
    }
}
