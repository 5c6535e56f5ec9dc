//! Embeds the presigner's source in the binary, so that presign-stack can build and deploy the
//! presigner of its own version from any folder (`presigner.source` and `presigner.zip`
//! unset). The crate's manifest is made standalone: the workspace's package settings filled
//! in, tests and dev-dependencies left out, its own `[workspace]`. The workspace's
//! `Cargo.lock` goes with it, so the build uses the versions this one was built with.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let crate_dir = root.join("lambda-bundle");
    println!("cargo:rerun-if-changed=lambda-bundle/Cargo.toml");
    println!("cargo:rerun-if-changed=lambda-bundle/src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=Cargo.toml");
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
    code.push_str("pub const FILES: &[(&str, &[u8])] = &[\n");
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
    std::fs::write(out.join("embedded_presigner.rs"), code).unwrap();
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
        .expect("the workspace's Cargo.toml is TOML");
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(Item::as_table_like)
        .expect("the workspace's Cargo.toml has a [workspace.package]");
    let mut doc: DocumentMut = manifest.parse().expect("lambda-bundle/Cargo.toml is TOML");
    doc.remove("test");
    doc.remove("dev-dependencies");
    let package = doc
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .expect("lambda-bundle/Cargo.toml has a [package]");
    for (key, value) in package.iter_mut() {
        let inherits = value
            .get("workspace")
            .and_then(Item::as_bool)
            .unwrap_or(false);
        if inherits {
            let from = shared.get(key.get()).unwrap_or_else(|| {
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
