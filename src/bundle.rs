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

use crate::report::Report;
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

/// The function tag recording what the deployed code was made from: `<digest>:<CodeSha256>`.
pub const TAG_CODE: &str = "presign-stack:code";

/// Bumped whenever the way a bundle is built changes (flags, zipping), so that the digest of
/// unchanged sources still changes with it.
const RECIPE: &str = "presign-stack bundle 2: cargo lambda build --release --locked, \
                      opt-level s, paths remapped, zip_bootstrap";

/// The cargo setting a bundle is built with unless the environment sets it.
pub const BUNDLE_OPT_LEVEL_VAR: &str = "CARGO_PROFILE_RELEASE_OPT_LEVEL";
pub const BUNDLE_OPT_LEVEL: &str = "s";

/// The presigner's code identity and, once built or read, its bundle.
#[derive(Debug, Clone)]
pub struct Code {
    /// Hex SHA-256 of everything the bundle is made from (see [`source_digest`]).
    pub digest: String,
    pub bundle: Option<Bundle>,
}

impl Code {
    /// The value of [`TAG_CODE`] once the bundle is known.
    pub fn tag(&self) -> Option<String> {
        self.bundle
            .as_ref()
            .map(|b| format!("{}:{}", self.digest, b.sha256_base64))
    }
}

/// A [`TAG_CODE`] value: (digest, CodeSha256).
pub fn parse_tag(value: &str) -> Option<(&str, &str)> {
    value.split_once(':')
}

/// The presigner presign-stack comes with: its crate (standalone manifest, sources) and the
/// `Cargo.lock` this binary was built with, embedded by `build.rs`.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_presigner.rs"));
}

/// How the embedded presigner is built: as [`RECIPE`], but without `--locked` (cargo drops
/// from the workspace's lock what the crate alone does not use, and keeps every version).
const EMBEDDED_RECIPE: &str = "presign-stack embedded presigner 2: cargo lambda build \
                               --release, opt-level s, workspace lock pruned, paths remapped, \
                               zip_bootstrap";

/// Add a labelled item to a digest: lengths first, so no two sequences of items hash alike.
fn labelled(h: &mut Sha256, label: &str, bytes: &[u8]) {
    h.update((label.len() as u64).to_le_bytes());
    h.update(label.as_bytes());
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The embedded presigner's code identity: its files, the recipe and the target.
pub fn embedded_digest(arch: Architecture) -> String {
    let mut h = Sha256::new();
    let mut add = |label: &str, bytes: &[u8]| labelled(&mut h, label, bytes);
    add("recipe", EMBEDDED_RECIPE.as_bytes());
    add("target", arch.as_aws().as_bytes());
    for (name, bytes) in embedded::FILES {
        add(&format!("embedded/{name}"), bytes);
    }
    hex::encode(h.finalize())
}

/// Where built presigners are kept: `PRESIGN_STACK_CACHE_DIR`, else the user's cache folder
/// (`$XDG_CACHE_HOME` or `~/.cache`) under `presign-stack`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PRESIGN_STACK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context(
            "no cache folder for the presigner's build: set PRESIGN_STACK_CACHE_DIR (or HOME)",
        )?;
    Ok(base.join("presign-stack"))
}

/// The embedded presigner's bundle: from the cache when this digest was built before,
/// otherwise built now (its crate written out under the cache) and kept there.
async fn embedded_bundle(arch: Architecture, report: &Report) -> Result<Bundle> {
    let digest = embedded_digest(arch);
    let dir = cache_dir()?.join("presigner").join(&digest[..32]);
    let cached = dir.join("bootstrap.zip");
    if let Ok(zip) = std::fs::read(&cached) {
        report.detail(format!(
            "presigner bundle from the cache {}",
            cached.display()
        ));
        return Ok(Bundle::from_zip(zip));
    }
    let crate_dir = dir.join("crate");
    for (name, bytes) in embedded::FILES {
        let path = crate_dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    report.status(
        "Building",
        format!(
            "the presigner of presign-stack {} (once; kept in {})",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        ),
    );
    let binary = build(&crate_dir, arch, report, false).await?;
    let bytes = std::fs::read(&binary)
        .with_context(|| format!("reading the built binary {}", binary.display()))?;
    let zip = zip_bootstrap(&bytes)?;
    check_size(&zip, &binary)?;
    // Written whole or not at all: a run cut short leaves no half zip to read next time.
    let partial = dir.join(format!("bootstrap.zip.{}", std::process::id()));
    std::fs::write(&partial, &zip).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &cached).with_context(|| format!("writing {}", cached.display()))?;
    Ok(Bundle::from_zip(zip))
}

/// The presigner zip a release embedded for `arch` (`PRESIGN_STACK_EMBED_PRESIGNER` at build
/// time): its hex SHA-256 and bytes; `None` for a build without one.
pub fn embedded_zip(arch: Architecture) -> Option<(&'static str, &'static [u8])> {
    embedded::ZIPS
        .iter()
        .find(|(a, _, _)| *a == arch.as_aws())
        .map(|(_, hex, bytes)| (*hex, *bytes))
}

/// What `presign-stack --version` says: the version, and how the presigner it deploys by
/// default comes (prebuilt and embedded, with each zip's SHA-256, or built once from the
/// embedded source).
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let version = env!("CARGO_PKG_VERSION");
        if embedded::ZIPS.is_empty() {
            return format!(
                "{version}\npresigner: not embedded prebuilt; built from its embedded source \
                 on first use (needs cargo-lambda), or set presigner.source or presigner.zip"
            );
        }
        let mut text = format!("{version}\npresigner: embedded, prebuilt");
        for (arch, hex, _) in embedded::ZIPS {
            text.push_str(&format!("\n  {arch}: sha256 {hex}"));
        }
        text
    })
}

/// The code identity of an embedded zip, as of any prebuilt zip: its own hash.
fn zip_identity(bundle: Bundle) -> Code {
    let digest = hex::encode(Sha256::digest(&bundle.zip));
    Code {
        digest: format!("zip-{}", &digest[..48]),
        bundle: Some(bundle),
    }
}

/// The code identity, without building: a prebuilt zip is read (its digest is its own
/// hash), an embedded one too; a crate is hashed from its sources; the embedded presigner's
/// source from what is embedded.
pub fn identify(spec: &Spec) -> Result<Code> {
    match &spec.presigner.code {
        CodeSource::Embedded => match embedded_zip(spec.presigner.architecture) {
            Some((_, zip)) => Ok(zip_identity(Bundle::from_zip(zip.to_vec()))),
            None => Ok(Code {
                digest: embedded_digest(spec.presigner.architecture),
                bundle: None,
            }),
        },
        CodeSource::Zip(path) => Ok(zip_identity(read_zip(path)?)),
        CodeSource::Crate(dir) => Ok(Code {
            digest: source_digest(dir, spec.presigner.architecture)?,
            bundle: None,
        }),
    }
}

/// What a crate's bundle is made from, hashed: the build recipe and target, every file of the
/// crate (relative path and bytes, `target/` and hidden paths left out), and from the nearest
/// folder up that has a `Cargo.lock`: that lock, the workspace's `Cargo.toml` (profiles,
/// shared package settings) and a `rust-toolchain(.toml)` (the pinned compiler). Paths are
/// relative, so two clones of one commit in different folders have one digest.
pub fn source_digest(dir: &Path, arch: Architecture) -> Result<String> {
    let mut h = Sha256::new();
    let mut add = |label: &str, bytes: &[u8]| labelled(&mut h, label, bytes);
    add("recipe", RECIPE.as_bytes());
    add("target", arch.as_aws().as_bytes());
    let mut files = Vec::new();
    let mut walker = walkdir::WalkDir::new(dir).sort_by_file_name().into_iter();
    while let Some(entry) = walker.next() {
        let entry =
            entry.with_context(|| format!("reading the presigner's source {}", dir.display()))?;
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let skip = rel.components().next().is_some_and(|c| {
            let c = c.as_os_str().to_string_lossy();
            c == "target" || c.starts_with('.')
        });
        if skip {
            if entry.file_type().is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_file() {
            let name: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((name.join("/"), entry.path().to_path_buf()));
        }
    }
    for (name, path) in files {
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading the presigner's source {}", path.display()))?;
        add(&format!("crate/{name}"), &bytes);
    }
    let root = dir
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .with_context(|| {
            format!(
                "the presigner crate {} has no Cargo.lock (in it or a folder above): run \
                 `cargo generate-lockfile` there and commit it, so every build uses the same \
                 dependencies",
                dir.display()
            )
        })?;
    for name in [
        "Cargo.lock",
        "Cargo.toml",
        "rust-toolchain.toml",
        "rust-toolchain",
    ] {
        if let Ok(bytes) = std::fs::read(root.join(name)) {
            add(&format!("root/{name}"), &bytes);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Build or read the bundle the spec names.
pub async fn prepare(spec: &Spec, report: &Report) -> Result<Bundle> {
    prepare_for(spec, spec.presigner.architecture, report).await
}

/// [`prepare`] for `arch` (`bundle --out-dir` makes both).
pub async fn prepare_for(spec: &Spec, arch: Architecture, report: &Report) -> Result<Bundle> {
    match &spec.presigner.code {
        CodeSource::Embedded => match embedded_zip(arch) {
            Some((_, zip)) => Ok(Bundle::from_zip(zip.to_vec())),
            None => embedded_bundle(arch, report).await,
        },
        CodeSource::Zip(path) => read_zip(path),
        CodeSource::Crate(dir) => {
            report.status("Building", format!("presigner from {}", dir.display()));
            let binary = build(dir, arch, report, true).await?;
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

/// Run `cargo lambda build --release` in `dir` (`--locked` when `locked`); returns the built
/// `bootstrap` binary's path.
async fn build(dir: &Path, arch: Architecture, report: &Report, locked: bool) -> Result<PathBuf> {
    let out_dir = cargo_target_dir(dir)
        .await
        .unwrap_or_else(|| dir.join("target"))
        .join("presign-stack")
        .join(arch.as_aws());
    let mut cmd = tokio::process::Command::new("cargo");
    // The same sources give the same binary on any machine: the paths of the workspace, the
    // cargo home (dependencies' sources) and the target dir are remapped out of it.
    let mut rustflags: Vec<String> = std::env::var("CARGO_ENCODED_RUSTFLAGS")
        .ok()
        .filter(|f| !f.is_empty())
        .map(|f| f.split('\x1f').map(str::to_string).collect())
        .unwrap_or_default();
    let root = dir
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(dir);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut remap = vec![(root.to_path_buf(), "/build/src")];
    if let Some(home) = cargo_home {
        remap.push((home, "/build/cargo"));
    }
    if let Some(target) = out_dir.parent().and_then(Path::parent) {
        remap.push((target.to_path_buf(), "/build/target"));
    }
    for (from, to) in remap {
        rustflags.push(format!("--remap-path-prefix={}={to}", from.display()));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    // Optimised for size: the TLS client, JOSE and three signature families `auth` needs
    // would take the zip past 2 MB at opt-level 3, for no measurable gain in a function that
    // answers in microseconds (scripts/bench-presigner.sh). Set the variable to choose.
    if std::env::var_os(BUNDLE_OPT_LEVEL_VAR).is_none() {
        cmd.env(BUNDLE_OPT_LEVEL_VAR, BUNDLE_OPT_LEVEL);
    }
    cmd.current_dir(dir)
        .args(["lambda", "build", "--release"])
        .args(locked.then_some("--locked"))
        .arg("--lambda-dir")
        .arg(&out_dir)
        .arg(match arch {
            Architecture::X86_64 => "--x86-64",
            Architecture::Arm64 => "--arm64",
        })
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let verbose = report.verbose();
    if verbose {
        // stdout stays for results (`--output json`): cargo's output goes to stderr.
        cmd.stdout(report.child_output())
            .stderr(report.child_output());
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
