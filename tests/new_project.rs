//! presign-stack used as a new user would, outside this repository: `init` in an empty folder,
//! `validate`, `init` again (refused), shell completions, `bundle`, `up` and `outputs` on moto
//! with the presigner presign-stack comes with (its embedded source built once with
//! cargo-lambda into a cache), and `plan` with no cargo-lambda to be found.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

const REGION: &str = "eu-central-1";

/// The built presigner is kept across runs of the suite (one build per checkout).
fn cache() -> std::path::PathBuf {
    repo().join("target/presign-stack-cache")
}

fn in_project(moto: &Moto, dir: &Path, args: &[&str]) -> Command {
    let mut c = moto.cmd(REGION);
    c.current_dir(dir)
        .env("PRESIGN_STACK_CACHE_DIR", cache())
        .args(args);
    c
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_new_project_from_an_empty_folder() {
    let moto = Moto::start();
    let outside = tempfile::tempdir().unwrap();
    assert!(
        !outside.path().starts_with(repo()),
        "the folder is outside the repository"
    );
    let dir = outside.path().join("Acme Files");

    let init = run(in_project(&moto, outside.path(), &["init", "Acme Files"])).ok();
    assert!(
        init.stdout.contains("Started stack `acme-files`"),
        "{}",
        init.stdout
    );
    for f in ["presign-stack.yaml", ".gitignore"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // The starter page is the repository's page, file for file: its modules import one
    // another, so a file left out would break it.
    for file in std::fs::read_dir(repo().join("frontend")).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().into_string().unwrap();
        let written = std::fs::read(dir.join("web").join(&name))
            .unwrap_or_else(|e| panic!("init did not write web/{name}: {e}"));
        assert!(
            written == std::fs::read(file.path()).unwrap(),
            "web/{name} differs from frontend/{name}"
        );
        assert!(
            init.stdout.contains(&format!("web/{name}")),
            "{}",
            init.stdout
        );
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(
        gitignore.lines().any(|l| l == ".presign-stack/"),
        "{gitignore}"
    );
    let spec = std::fs::read(dir.join("presign-stack.yaml")).unwrap();
    let text = String::from_utf8(spec.clone()).unwrap();
    assert!(text.contains("hosting: cloudfront") && text.contains("api_path: /api"));

    let valid = run(in_project(&moto, &dir, &["validate"])).ok();
    assert!(valid.stdout.contains("is valid"), "{}", valid.stdout);

    // Again: refused, naming the file, and nothing changed.
    let again = run(in_project(&moto, &dir, &["init"]));
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("presign-stack.yaml") && again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(dir.join("presign-stack.yaml")).unwrap(), spec);

    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(in_project(&moto, &dir, &["completions", shell])).ok();
        assert!(
            out.stdout.contains("presign-stack") && out.stdout.contains("completions"),
            "{shell}: {}",
            out.stdout
        );
    }

    // The presigner presign-stack comes with: built once, then from the cache.
    let bundle = run(in_project(
        &moto,
        &dir,
        &["--output", "json", "bundle", "--out", "p.zip"],
    ))
    .ok();
    let bundled: serde_json::Value = serde_json::from_str(&bundle.stdout).unwrap();
    let zip = std::fs::read(dir.join("p.zip")).unwrap();
    assert_eq!(bundled["bytes"], zip.len());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert!(archive.by_name("bootstrap").is_ok());

    // The plan of a new stack shows what it creates, field by field, as Terraform does.
    let plan = run(in_project(&moto, &dir, &["plan"])).ok();
    for line in [
        "  + function acme-files-dev-presigner",
        "      + memory_mb = 128",
        "      + auth_type = \"AWS_IAM\"",
        "      + policy = {",
        "      + price_class = \"PriceClass_100\"",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    let plan = run(in_project(&moto, &dir, &["--output", "json", "plan"])).ok();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let function = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "function")
        .unwrap();
    assert_eq!(function["action"], "create");
    let memory = function["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "memory_mb")
        .unwrap();
    assert_eq!(
        (&memory["old"], &memory["new"]),
        (&serde_json::Value::Null, &serde_json::json!(128))
    );
    // Uploads above 64 MiB go in parts: the presigner is told the sizes, and its role may
    // abort an upload (and only when uploads can go in parts at all).
    let environment = function["changes"].to_string();
    for (var, value) in [
        ("PRESIGNER_MULTIPART_THRESHOLD_BYTES", "67108864"),
        ("PRESIGNER_PART_SIZE_BYTES", "16777216"),
        ("PRESIGNER_MAX_UPLOAD_BYTES", "2147483648"),
    ] {
        assert!(
            environment.contains(var) && environment.contains(value),
            "{var}={value}: {environment}"
        );
    }
    let role = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "role")
        .unwrap();
    assert!(
        role["changes"]
            .to_string()
            .contains("s3:AbortMultipartUpload"),
        "{}",
        role["changes"]
    );

    let up = run(in_project(&moto, &dir, &["up"])).ok();
    assert!(up.stderr.contains("Apply complete"), "{}", up.stderr);
    let outputs = run(in_project(&moto, &dir, &["--output", "json", "outputs"])).ok();
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert!(
        outputs["website_url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{outputs}"
    );

    // plan and drift know the deployed presigner by its digest: nothing to build, so no
    // cargo-lambda (nor cargo) needed.
    let mut plan = in_project(&moto, &dir, &["plan", "--detailed-exitcode"]);
    plan.env("PATH", "/usr/bin:/bin");
    let plan = run(plan);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let mut drift = in_project(&moto, &dir, &["drift"]);
    drift.env("PATH", "/usr/bin:/bin");
    run(drift).ok();
    assert_eq!(
        bundled["digest"].as_str().unwrap().len(),
        64,
        "the digest `up` records"
    );
}

/// The spec `init` writes says how to switch to the other layout, and a spec edited as it says
/// is valid; changing the hosting line alone is refused, naming the block to remove.
#[test]
fn the_started_spec_switches_to_s3_website_as_its_comments_say() {
    let outside = tempfile::tempdir().unwrap();
    let dir = outside.path();
    let presign_stack = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
        c.current_dir(dir)
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .args(args);
        run(c)
    };
    presign_stack(&["init", "--no-page"]).ok();
    let spec = dir.join("presign-stack.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();

    let lines: Vec<&str> = text.lines().collect();
    let hosting = lines
        .iter()
        .position(|l| l.starts_with("  hosting: cloudfront"))
        .expect("a hosting line");
    // Its comment: on the line, and on the comment-only lines that continue it.
    let continued = lines[hosting + 1..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('#'));
    let comment: String = std::iter::once(&lines[hosting])
        .chain(continued)
        .filter_map(|l| l.split_once('#').map(|(_, c)| c.trim()))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        comment.contains("s3-website") && comment.contains("delete the `cloudfront:` block"),
        "the comment on `hosting` says what else the other layout needs: {comment}"
    );

    let hosting_only = text.replacen("hosting: cloudfront", "hosting: s3-website", 1);
    std::fs::write(&spec, &hosting_only).unwrap();
    let refused = presign_stack(&["validate"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("website.cloudfront") && refused.stderr.contains("remove"),
        "{}",
        refused.stderr
    );

    // As the comment says: the `cloudfront:` line and everything indented under it, comments
    // included, deleted.
    let mut in_block = false;
    let edited: Vec<&str> = hosting_only
        .lines()
        .filter(|line| {
            in_block = line.starts_with("  cloudfront:") || (in_block && line.starts_with("    "));
            !in_block
        })
        .collect();
    let edited = edited.join("\n") + "\n";
    assert!(!edited.contains("api_path") && edited.contains("hosting: s3-website"));
    std::fs::write(&spec, &edited).unwrap();
    let valid = presign_stack(&["validate"]).ok();
    assert!(valid.stdout.contains("is valid"), "{}", valid.stdout);
}
