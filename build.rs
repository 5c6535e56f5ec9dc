//! Embeds the presigner's source in the binary, so that presign-stack can build and deploy the
//! presigner of its own version from any folder (`presigner.source` and `presigner.zip`
//! unset). The source is the `presign-stack-presigner` crate's, wherever cargo has it (its
//! build script says where). Its manifest is made standalone: the workspace's package settings
//! filled in, tests and dev-dependencies left out, its own `[workspace]`. This crate's
//! `Cargo.lock` goes with it, so the build uses the versions this one was built with.
//!
//! A release also embeds the presigner prebuilt (`PRESIGN_STACK_EMBED_PRESIGNER=<dir>` with
//! `presigner-x86_64.zip` and `presigner-arm64.zip`), so that deploying it needs no Rust
//! toolchain, cargo-lambda or zig.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use toml_edit::{DocumentMut, Item};

/// Where a release's presigner zips are taken from: `presigner-x86_64.zip` and
/// `presigner-arm64.zip` in that folder are embedded, and deployed as they are.
const EMBED_VAR: &str = "PRESIGN_STACK_EMBED_PRESIGNER";
const ZIPS: [(&str, &str); 2] = [
    ("x86_64", "presigner-x86_64.zip"),
    ("arm64", "presigner-arm64.zip"),
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    // The presigner crate's own folder, as its build script says: lambda-bundle/ in the
    // workspace, or its unpacked source when presign-stack is built from crates.io.
    let crate_dir = std::env::var_os("DEP_PRESIGN_STACK_PRESIGNER_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("lambda-bundle"));
    println!(
        "cargo:rerun-if-changed={}",
        crate_dir.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", crate_dir.join("src").display());
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-env-changed={EMBED_VAR}");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let manifest = standalone_manifest(
        &std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap(),
        &std::fs::read_to_string(root.join("Cargo.toml")).unwrap(),
    );
    std::fs::write(out.join("presigner-Cargo.toml"), manifest).unwrap();
    let mut files = Vec::new();
    collect(&crate_dir.join("src"), &crate_dir, &mut files);
    files.sort();
    let mut code = String::from("/// The presigner crate, as embedded: (relative path, bytes).\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    let _ = writeln!(
        code,
        "    (\"Cargo.toml\", include_bytes!({:?})),",
        out.join("presigner-Cargo.toml")
    );
    let _ = writeln!(
        code,
        "    (\"Cargo.lock\", include_bytes!({:?})),",
        root.join("Cargo.lock")
    );
    for (rel, path) in &files {
        let _ = writeln!(code, "    ({rel:?}, include_bytes!({path:?})),");
    }
    code.push_str("];\n");
    code.push_str(&zips());
    std::fs::write(out.join("embedded_presigner.rs"), code).unwrap();
}

/// With PRESIGN_STACK_EMBED_PRESIGNER=<dir>: the two zips, each with its architecture and
/// hex SHA-256 (`ZIPS`); otherwise `ZIPS` is empty and the presigner is built from the
/// embedded source on first use.
fn zips() -> String {
    let mut code = String::from(
        "/// Prebuilt presigner zips: (architecture, hex SHA-256, bytes).\n\
         pub static ZIPS: &[(&str, &str, &[u8])] = &[\n",
    );
    if let Some(dir) = std::env::var_os(EMBED_VAR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        for (arch, name) in ZIPS {
            let path = std::path::absolute(dir.join(name)).unwrap();
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{EMBED_VAR}={} has no {name} ({e}): it must hold presigner-x86_64.zip and \
                     presigner-arm64.zip (`presign-stack bundle --out-dir DIR` writes both)",
                    dir.display()
                )
            });
            assert!(
                bytes.starts_with(b"PK") && bytes.windows(9).any(|w| w == b"bootstrap"),
                "{} is not a presigner zip (a zip archive with `bootstrap` at its root, as \
                 `presign-stack bundle --out-dir` writes it)",
                path.display()
            );
            let digest = sha2::Sha256::digest(&bytes);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(code, "    ({arch:?}, {hex:?}, include_bytes!({path:?})),");
        }
    }
    code.push_str("];\n");
    code
}

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(base).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path));
        }
    }
}

/// The crate's manifest with `x.workspace = true` in `[package]` replaced by the workspace's
/// `[workspace.package]` value, the `[[test]]` targets and `[dev-dependencies]` dropped, and a
/// `[workspace]` of its own. Edited as TOML, so comments and layout stay as written.
fn standalone_manifest(manifest: &str, workspace: &str) -> String {
    let workspace: DocumentMut = workspace
        .parse()
        .expect("presign-stack's Cargo.toml is TOML");
    // In the workspace: its shared package settings. From crates.io both manifests come with
    // every value written out, and there are none.
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(Item::as_table_like);
    let mut doc: DocumentMut = manifest
        .parse()
        .expect("the presigner's Cargo.toml is TOML");
    for table in ["test", "bench", "example", "dev-dependencies"] {
        doc.remove(table);
    }
    let package = doc
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .expect("the presigner's Cargo.toml has a [package]");
    // Its build script only tells presign-stack where it is: not embedded, not needed.
    for key in ["links", "build", "include", "exclude", "readme"] {
        package.remove(key);
    }
    for (key, value) in package.iter_mut() {
        let inherits = value
            .get("workspace")
            .and_then(Item::as_bool)
            .unwrap_or(false);
        if inherits {
            let from = shared.and_then(|s| s.get(key.get())).unwrap_or_else(|| {
                panic!(
                    "the workspace's Cargo.toml has no [workspace.package] {}",
                    key.get()
                )
            });
            *value = from.clone();
        }
    }
    let mut out = doc.to_string();
    out.push_str("\n# Built on its own, outside presign-stack's workspace.\n[workspace]\n");
    out
}
