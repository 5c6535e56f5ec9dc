//! The presigner's deployment bundle: built from a crate with cargo-lambda, or a prebuilt zip.
//!
//! A built binary is zipped here, deterministically (fixed timestamp and mode), so the same
//! binary always gives the same zip and the same sha256: an unchanged function is never
//! re-uploaded, because its CodeSha256 already matches.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::report::{Reporter, Verbosity};
use crate::spec::{Architecture, CodeSource, Spec};

/// Lambda's limit for a zip sent directly with CreateFunction / UpdateFunctionCode.
const DIRECT_UPLOAD_LIMIT: usize = 50 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Bundle {
    pub zip: Vec<u8>,
    /// base64 of the zip's sha256: the form Lambda reports as CodeSha256.
    pub sha256_base64: String,
}

impl Bundle {
    fn from_zip(zip: Vec<u8>) -> Bundle {
        let digest = Sha256::digest(&zip);
        Bundle {
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            zip,
        }
    }
}

/// Build or read the bundle the spec names.
pub async fn prepare(spec: &Spec, report: Reporter) -> Result<Bundle> {
    match &spec.presigner.code {
        CodeSource::Zip(path) => read_zip(path),
        CodeSource::Crate(dir) => {
            report.status("Building", format!("presigner from {}", dir.display()));
            let binary = build(dir, spec.presigner.architecture, report).await?;
            let bytes = std::fs::read(&binary)
                .with_context(|| format!("reading the built binary {}", binary.display()))?;
            let zip = zip_bootstrap(&bytes)?;
            check_size(&zip, &binary)?;
            Ok(Bundle::from_zip(zip))
        }
    }
}

fn read_zip(path: &Path) -> Result<Bundle> {
    let zip =
        std::fs::read(path).with_context(|| format!("reading presigner.zip {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).map_err(|e| {
        anyhow::anyhow!(
            "presigner.zip {} is not a zip archive ({e}); build it with \
             `cargo lambda build --release --output-format zip`",
            path.display()
        )
    })?;
    if archive.by_name("bootstrap").is_err() {
        anyhow::bail!(
            "presigner.zip {} has no `bootstrap` at its root: provided.al2023 runs the file \
             named bootstrap; build it with `cargo lambda build --release --output-format zip`",
            path.display()
        );
    }
    check_size(&zip, path)?;
    Ok(Bundle::from_zip(zip))
}

fn check_size(zip: &[u8], what: &Path) -> Result<()> {
    if zip.len() > DIRECT_UPLOAD_LIMIT {
        anyhow::bail!(
            "the presigner bundle from {} is {} MB zipped, over Lambda's 50 MB limit for a \
             direct upload; build in release mode and trim dependencies",
            what.display(),
            zip.len() / (1024 * 1024)
        );
    }
    Ok(())
}

/// Zip `bootstrap` with a fixed timestamp and mode, so equal binaries give equal zips.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    out.start_file("bootstrap", options)?;
    out.write_all(binary)?;
    Ok(out.finish()?.into_inner())
}

/// Run `cargo lambda build --release` in `dir`; returns the built `bootstrap` binary's path.
async fn build(dir: &Path, arch: Architecture, report: Reporter) -> Result<PathBuf> {
    let out_dir = cargo_target_dir(dir)
        .await
        .unwrap_or_else(|| dir.join("target"))
        .join("presign-stack")
        .join(arch.as_aws());
    let mut cmd = tokio::process::Command::new("cargo");
    cmd.current_dir(dir)
        .args(["lambda", "build", "--release", "--lambda-dir"])
        .arg(&out_dir)
        .arg(match arch {
            Architecture::X86_64 => "--x86-64",
            Architecture::Arm64 => "--arm64",
        })
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let verbose = report.verbosity == Verbosity::Verbose;
    if verbose {
        // stdout stays for results (`--output json`): cargo's output goes to stderr.
        cmd.stdout(std::io::stderr()).stderr(Stdio::inherit());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let output = cmd.output().await.map_err(|e| {
        anyhow::anyhow!(
            "could not run `cargo` to build the presigner in {}: {e}",
            dir.display()
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("no such command") || stderr.contains("no such subcommand") {
            anyhow::bail!(
                "building the presigner needs cargo-lambda, which is not installed: \
                 `pip install cargo-lambda` (or `cargo install cargo-lambda`), or set \
                 presigner.zip to a prebuilt bundle"
            );
        }
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        anyhow::bail!(
            "`cargo lambda build --release` failed in {} ({}):\n{}",
            dir.display(),
            output.status,
            tail.join("\n")
        );
    }
    find_bootstrap(&out_dir)
}

/// cargo-lambda writes `<lambda-dir>/<binary-name>/bootstrap`; the crate has one binary.
fn find_bootstrap(out_dir: &Path) -> Result<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(out_dir)
        .with_context(|| format!("reading the build output {}", out_dir.display()))?
    {
        let candidate = entry?.path().join("bootstrap");
        if candidate.is_file() {
            found.push(candidate);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!(
            "cargo lambda build produced no bootstrap under {}",
            out_dir.display()
        ),
        _ => {
            found.sort();
            let bin = found.iter().find(|p| {
                p.parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|n| n == "bootstrap")
            });
            bin.cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "the presigner crate builds several binaries ({}); name its Lambda binary \
                     `bootstrap`",
                    found.len()
                )
            })
        }
    }
}

/// The crate's cargo target directory (a workspace's shared one), so builds are reused.
async fn cargo_target_dir(dir: &Path) -> Option<PathBuf> {
    let out = tokio::process::Command::new("cargo")
        .current_dir(dir)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    meta["target_directory"].as_str().map(PathBuf::from)
}

/// The `bootstrap` binary inside a zip.
#[cfg(test)]
fn unzip_bootstrap(zip: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))?;
    let mut file = archive.by_name("bootstrap")?;
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipping_is_deterministic_and_round_trips() {
        let a = zip_bootstrap(b"\x7fELF binary").unwrap();
        let b = zip_bootstrap(b"\x7fELF binary").unwrap();
        assert_eq!(a, b);
        assert_eq!(unzip_bootstrap(&a).unwrap(), b"\x7fELF binary");
        assert_ne!(
            Bundle::from_zip(a).sha256_base64,
            Bundle::from_zip(zip_bootstrap(b"other").unwrap()).sha256_base64
        );
    }
}
