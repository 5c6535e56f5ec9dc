//! The local side of the sync: `website.build`, the walk of `website.source` (what is
//! published and what is refused), each file's key, content type, cache-control and MD5 (read
//! again only when the digest cache cannot vouch for it), and the runtime config object.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::StreamExt;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use serde::Serialize;

use crate::digest_cache::DigestCache;
use crate::report::Report;
use crate::spec::{CacheRule, Spec};

use super::*;

/// Every file under the website source, with its key, MD5, content type and cache-control.
/// Paths with a component starting with `.` (like `.git` or `.env`) are never published,
/// except `.well-known`. Links are followed only where they stay inside the folder and reach
/// no hidden path: any other link is refused, naming it, before anything is written. A file
/// unchanged since the last run is not read again: its MD5 comes from the [`DigestCache`].
pub async fn local_objects(spec: &Spec, report: &Report) -> Result<Vec<Object>> {
    let spec = spec.clone();
    let walk_report = report.clone();
    let (mut out, digests) = tokio::task::spawn_blocking(move || {
        let out = walk(&spec, &walk_report)?;
        let digests = Arc::new(DigestCache::open(&spec, out.len()));
        anyhow::Ok((out, digests))
    })
    .await
    .context("walking website.source")??;
    // Hashed on blocking threads, as many at once as there are cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hashed: Vec<(usize, String)> = futures::stream::iter(out.iter().enumerate())
        .filter_map(|(i, o)| async move {
            match &o.body {
                Body::File(path) => Some((i, o.key.clone(), path.clone())),
                Body::Bytes(_) => None,
            }
        })
        .map(|(i, key, path)| {
            let digests = Arc::clone(&digests);
            async move {
                let md5 = tokio::task::spawn_blocking(move || digests.md5(&key, &path, file_md5))
                    .await
                    .context("hashing a website file")??;
                anyhow::Ok((i, md5))
            }
        })
        .buffer_unordered(threads)
        .try_collect()
        .await?;
    for (i, md5) in hashed {
        out[i].md5_hex = md5;
    }
    let report = report.clone();
    tokio::task::spawn_blocking(move || digests.finish(&report))
        .await
        .context("saving the website digest cache")?;
    Ok(out)
}

/// The MD5 of a file, read a buffer at a time.
pub(super) fn file_md5(file: &mut std::fs::File, path: &Path) -> Result<String> {
    use std::io::Read;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading website file {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The walk: every file to publish, with its size and headers (its MD5 still to compute).
pub(super) fn walk(spec: &Spec, report: &Report) -> Result<Vec<Object>> {
    let root = &spec.website.source;
    let real_root = root
        .canonicalize()
        .with_context(|| format!("reading website.source {}", root.display()))?;
    let rules = CacheRules::new(&spec.website.cache_control)?;
    let mut out = Vec::new();
    let mut refused = Vec::new();
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(|e| {
            anyhow::anyhow!(
                "reading website.source {}: {e}; fix or remove that path",
                root.display()
            )
        })?;
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if hidden(rel) {
            if entry.file_type().is_dir() {
                walker.skip_current_dir();
            }
            report.detail(format!("not published (hidden): {}", rel.display()));
            continue;
        }
        // What the path really names, links resolved: it must lie inside the folder and be
        // no hidden path there (`settings.txt -> .env`).
        let real = entry
            .path()
            .canonicalize()
            .with_context(|| format!("resolving website file {}", entry.path().display()))?;
        let why = match real.strip_prefix(&real_root) {
            Err(_) => Some("outside website.source"),
            Ok(inside) if hidden(inside) => Some("a hidden path"),
            Ok(_) => None,
        };
        if let Some(why) = why {
            refused.push(format!(
                "{} is a link to {}, {why}",
                entry.path().display(),
                real.display()
            ));
            if entry.file_type().is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            report.warn(format!(
                "not published: {} is not a regular file (a socket, pipe or device)",
                entry.path().display()
            ));
            continue;
        }
        let key =
            object_key(rel).with_context(|| format!("website file {}", entry.path().display()))?;
        if Some(&key) == spec.website.config_file.as_ref() {
            report.warn(format!(
                "{} is replaced by the generated runtime config (website.config_file)",
                entry.path().display()
            ));
            continue;
        }
        let size = entry
            .metadata()
            .with_context(|| format!("reading website file {}", entry.path().display()))?
            .len();
        out.push(Object {
            md5_hex: String::new(),
            size,
            content_type: content_type(&key),
            cache_control: rules.for_key(&key),
            body: Body::File(entry.path().to_path_buf()),
            key,
        });
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "website.source {} has links to what must not be published; nothing was written. \
             Remove the links, or copy the files they point to into the folder:\n  - {}",
            root.display(),
            refused.join("\n  - ")
        );
    }
    let index = &spec.website.index_document;
    if !out.iter().any(|o| &o.key == index) {
        report.warn(format!(
            "website.source {} has no {index} (website.index_document): the site's root will \
             answer with the error document",
            root.display()
        ));
    }
    Ok(out)
}

/// A path with a component starting with `.`, other than `.well-known`.
pub(crate) fn hidden(rel: &Path) -> bool {
    rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s.starts_with('.') && s != ".well-known"
    })
}

pub(super) fn object_key(rel: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        let s = c.as_os_str().to_str().ok_or_else(|| {
            anyhow::anyhow!("its name is not valid UTF-8, which an S3 key must be; rename it")
        })?;
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            anyhow::bail!(
                "its name contains the control character {:?}, which S3 keys and their XML \
                 listings do not carry reliably; rename it",
                c
            );
        }
        parts.push(s);
    }
    let key = parts.join("/");
    if key.len() > 1024 {
        anyhow::bail!(
            "its key is {} bytes, over S3's 1024; shorten the path",
            key.len()
        );
    }
    Ok(key)
}

/// Content type by extension; text gets an explicit UTF-8 charset. JavaScript modules and
/// WOFF fonts get their registered types (RFC 9239, RFC 8081), not the legacy ones.
pub fn content_type(key: &str) -> String {
    let mime = mime_guess::from_path(key).first_or_octet_stream();
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let essence = match ext.as_str() {
        "js" | "mjs" | "cjs" => "text/javascript",
        "woff" => "font/woff",
        _ => mime.essence_str(),
    };
    let texty = essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript" | "application/json" | "image/svg+xml" | "application/xml"
        );
    if texty {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    }
}

pub(super) struct CacheRules(Vec<(globset::GlobMatcher, String)>);

impl CacheRules {
    pub(super) fn new(rules: &[CacheRule]) -> Result<CacheRules> {
        let mut out = Vec::new();
        for r in rules {
            let glob = globset::GlobBuilder::new(&r.pattern)
                .literal_separator(true)
                .build()
                .with_context(|| format!("website.cache_control match `{}`", r.pattern))?;
            out.push((glob.compile_matcher(), r.value.clone()));
        }
        Ok(CacheRules(out))
    }

    pub(super) fn for_key(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(m, _)| m.is_match(key))
            .map(|(_, v)| v.clone())
    }
}

/// Run `website.build`, if any, in the spec's directory, its output on stderr (stdout is kept
/// for results). A failure stops the command before it changes anything.
pub async fn run_build(spec: &Spec, report: &Report) -> Result<()> {
    let Some(cmd) = &spec.website.build else {
        return Ok(());
    };
    report.status("Running", format!("website.build `{cmd}`"));
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(&spec.dir)
        .stdin(std::process::Stdio::null())
        .stdout(report.child_output())
        .status()
        .await
        .with_context(|| format!("running website.build `{cmd}`"))?;
    if !status.success() {
        anyhow::bail!(
            "website.build `{cmd}` failed ({status}); nothing was changed: fix the build and run \
             again"
        );
    }
    if !spec.website.source.is_dir() {
        anyhow::bail!(
            "website.build `{cmd}` did not create website.source {}",
            spec.website.source.display()
        );
    }
    Ok(())
}

/// The runtime config the page reads (SPEC section 4), as an object to upload.
pub fn config_object(spec: &Spec, region: &str, presigner_url: &str) -> Option<Object> {
    config_object_for(spec, spec.auth.as_ref(), region, presigner_url)
}

/// The runtime config with `auth` as resolved (the stack's own pool's issuer and client).
pub fn config_object_for(
    spec: &Spec,
    auth: Option<&crate::spec::Auth>,
    region: &str,
    presigner_url: &str,
) -> Option<Object> {
    let key = spec.website.config_file.clone()?;
    let p = &spec.presigner;
    // A struct, not a JSON map: its field order, and so the bytes and their MD5, never depend
    // on how serde_json happens to order maps in this build.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct RuntimeConfig<'a> {
        presigner_url: &'a str,
        region: &'a str,
        max_upload_bytes: u64,
        /// Files above it go in parts: the page hashes a file whole only when it will not.
        multipart_threshold_bytes: u64,
        allowed_content_types: &'a [String],
        allow_downloads: bool,
        /// `malware_scan`: a download waits for the scan (left out otherwise, as `auth` is).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        malware_scan: bool,
        /// Left out without `auth`, so an open stack's config stays byte for byte the same.
        #[serde(skip_serializing_if = "Option::is_none")]
        auth: Option<PageAuth<'a>>,
    }
    /// What the page needs to sign in (Authorization Code + PKCE).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct PageAuth<'a> {
        issuer: &'a str,
        client_id: &'a str,
        scopes: &'a [String],
    }
    let body = serde_json::to_vec_pretty(&RuntimeConfig {
        presigner_url,
        region,
        max_upload_bytes: p.max_upload_bytes,
        multipart_threshold_bytes: p.multipart_threshold_bytes,
        allowed_content_types: &p.allowed_content_types,
        allow_downloads: p.allow_downloads,
        malware_scan: spec.documents.malware_scan,
        auth: auth.map(|a| PageAuth {
            issuer: &a.issuer,
            client_id: &a.client_id,
            scopes: &a.scopes,
        }),
    })
    .expect("a plain struct serialises");
    Some(Object {
        md5_hex: hex::encode(Md5::digest(&body)),
        size: body.len() as u64,
        content_type: "application/json; charset=utf-8".into(),
        cache_control: Some(config_cache_control(&spec.website.cache_control, &key)),
        body: Body::Bytes(body),
        key,
    })
}

/// The runtime config names the presigner of this deployment, so a cached copy would point a
/// page at an old URL: it is `no-cache` unless a rule names its key exactly (a catch-all such
/// as `**` does not count).
pub(super) fn config_cache_control(rules: &[CacheRule], key: &str) -> String {
    rules
        .iter()
        .find(|r| r.pattern == key)
        .map_or_else(|| "no-cache".to_string(), |r| r.value.clone())
}
