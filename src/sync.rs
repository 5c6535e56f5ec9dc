//! The website sync: a merge of the local folder and the bucket listing into upload, delete and
//! unchanged sets (no per-object HEAD), then a bounded pool of uploads and DeleteObjects batches.
//! A file is unchanged when its MD5 equals the listed ETag (single-part SSE-S3 objects). A file
//! of [`MULTIPART_THRESHOLD`] or more goes up in parts, several at once, with its MD5 in the
//! object's metadata (a multipart ETag is not an MD5): such an object, and only such, costs a
//! HEAD to be recognised.
//!
//! Files are hashed on blocking threads, a buffer at a time, and uploaded streaming from disk:
//! memory does not grow with file sizes. Assets go first, then HTML documents and the runtime
//! config, then deletes: a visitor never gets a page whose assets are not there yet, and a
//! failed asset upload leaves the old page live.
//!
//! A listing has no content type or cache-control, so the website bucket carries a tag with a
//! fingerprint of the rules that give objects theirs ([`TAG_CONTENT_RULES`]). When the live
//! tag differs from the spec's (a `cache_control` rule changed, or the bucket predates the
//! tag), every object is HEADed once and those whose metadata differs are uploaded again; the
//! tag is written only after that sync succeeds, so an interrupted run is picked up next time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectIdentifier;
use futures::StreamExt;
use futures::TryStreamExt;
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::context::Ctx;
use crate::digest_cache::DigestCache;
use crate::errors::{aws_err, code_in};
use crate::report::{Progress, Report};
use crate::spec::{CacheRule, Spec};
use crate::state::Change;
use crate::state::Kind;

/// How many requests (uploads, parts, metadata reads) run at once: small objects are bound by
/// round trips, not bandwidth.
const PARALLEL_UPLOADS: usize = 64;
/// Parts of one multipart upload in flight at once.
const PARALLEL_PARTS: usize = 8;
/// DeleteObjects requests in flight at once.
const PARALLEL_DELETES: usize = 8;
/// Files this large or larger go up in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// The part size, unless the file needs larger parts to fit S3's 10,000 parts.
const PART_SIZE: u64 = 16 * 1024 * 1024;
/// User metadata holding a multipart object's MD5 (hex), as `x-amz-meta-presign-stack-md5`.
pub const META_MD5: &str = "presign-stack-md5";
/// Files are hashed this many bytes at a time.
const HASH_BUFFER: usize = 256 * 1024;

/// The website's objects, as a plan and drift name them.
pub const KIND: Kind = Kind::new("website_content", "website content");

/// The IAM actions of the sync: listing, reading headers, uploading, deleting.
pub const ACTIONS: &[&str] = &[
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
];

/// The website bucket's tag recording which content rules its objects were written with.
pub const TAG_CONTENT_RULES: &str = "presign-stack:content-rules";

/// Raised whenever the code gives some key other headers ([`content_type`], the runtime
/// config's cache-control), so that `up` rewrites objects written under the old mapping.
const HEADER_RULES_REVISION: u32 = 1;

/// The fingerprint of the spec's content rules: the cache-control rules in order and the
/// content-type mapping's revision. 16 hex digits of their SHA-256.
pub fn rules_fingerprint(cache_control: &[CacheRule]) -> String {
    // A struct, not a JSON map, so the bytes hashed never depend on serde_json's map order
    // (which a feature enabled elsewhere in a build can change).
    #[derive(Serialize)]
    struct Rules<'a> {
        revision: u32,
        cache_control: Vec<[&'a str; 2]>,
    }
    let rules = Rules {
        revision: HEADER_RULES_REVISION,
        cache_control: cache_control
            .iter()
            .map(|r| [r.pattern.as_str(), r.value.as_str()])
            .collect(),
    };
    let doc = serde_json::to_vec(&rules).expect("a plain struct serialises");
    hex::encode(&Sha256::digest(&doc)[..8])
}

/// A listed object: its ETag (quotes removed) and, when it was read, its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub etag: String,
    pub size: u64,
    pub meta: Option<Meta>,
}

/// What HeadObject says of an object's headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    /// The MD5 a multipart upload recorded in the object's metadata ([`META_MD5`]).
    pub md5: Option<String>,
}

impl Remote {
    /// The MD5 of the object's content, when the listing or a HEAD tells it.
    pub fn content_md5(&self) -> Option<&str> {
        if self.etag.contains('-') {
            self.meta.as_ref().and_then(|m| m.md5.as_deref())
        } else {
            Some(&self.etag)
        }
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    File(PathBuf),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub body: Body,
    pub md5_hex: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    New,
    Changed,
    /// Same bytes, other headers: `content_type` or `cache_control`, live (`old`) and wanted.
    Metadata(Vec<Change>),
}

#[derive(Debug, Clone, Default)]
pub struct SyncPlan {
    pub upload: Vec<(Object, Why)>,
    pub delete: Vec<String>,
    pub unchanged: usize,
}

impl SyncPlan {
    pub fn is_empty(&self) -> bool {
        self.upload.is_empty() && self.delete.is_empty()
    }
}

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
fn file_md5(file: &mut std::fs::File, path: &Path) -> Result<String> {
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
fn walk(spec: &Spec, report: &Report) -> Result<Vec<Object>> {
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

fn object_key(rel: &Path) -> Result<String> {
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

struct CacheRules(Vec<(globset::GlobMatcher, String)>);

impl CacheRules {
    fn new(rules: &[CacheRule]) -> Result<CacheRules> {
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

    fn for_key(&self, key: &str) -> Option<String> {
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
    }
    let body = serde_json::to_vec_pretty(&RuntimeConfig {
        presigner_url,
        region,
        max_upload_bytes: p.max_upload_bytes,
        multipart_threshold_bytes: p.multipart_threshold_bytes,
        allowed_content_types: &p.allowed_content_types,
        allow_downloads: p.allow_downloads,
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
fn config_cache_control(rules: &[CacheRule], key: &str) -> String {
    rules
        .iter()
        .find(|r| r.pattern == key)
        .map_or_else(|| "no-cache".to_string(), |r| r.value.clone())
}

/// The bucket's objects by key; `None` when the bucket is missing.
pub async fn remote_objects(ctx: &Ctx) -> Result<Option<BTreeMap<String, Remote>>> {
    let bucket = &ctx.spec.website.bucket;
    let mut pages = ctx
        .aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if code_in(&e, &["NoSuchBucket"]) => return Ok(None),
            Err(e) => return Err(aws_err(format!("listing website bucket {bucket}"), e)),
        };
        for o in page.contents() {
            if let Some(key) = o.key() {
                let etag = o.e_tag().unwrap_or_default().trim_matches('"').to_string();
                let size = o.size().unwrap_or(0).max(0) as u64;
                out.insert(
                    key.to_string(),
                    Remote {
                        etag,
                        size,
                        meta: None,
                    },
                );
            }
        }
    }
    Ok(Some(out))
}

/// HEAD each listed object that `local` also has (the rest are deleted, so their headers do
/// not matter) for its content type and cache-control, 16 at a time. An object deleted since
/// the listing is dropped from `objects` (and so uploaded as new).
pub async fn read_metadata(
    ctx: &Ctx,
    objects: &mut BTreeMap<String, Remote>,
    local: &[Object],
) -> Result<()> {
    let keys: Vec<String> = local
        .iter()
        .filter(|o| objects.contains_key(&o.key))
        .map(|o| o.key.clone())
        .collect();
    head_objects(ctx, objects, keys, "headers").await
}

/// HEAD `keys`, [`PARALLEL_UPLOADS`] at a time, into their `meta`; an object deleted since the
/// listing is dropped from `objects` (and so uploaded as new).
async fn head_objects(
    ctx: &Ctx,
    objects: &mut BTreeMap<String, Remote>,
    keys: Vec<String>,
    what: &str,
) -> Result<()> {
    let s3 = &ctx.aws.s3;
    let bucket = &ctx.spec.website.bucket;
    let reads: Vec<(String, Option<Meta>)> = futures::stream::iter(keys)
        .map(|key| async move {
            match s3.head_object().bucket(bucket).key(&key).send().await {
                Ok(out) => Ok((key, Some(meta_of(&out)))),
                Err(e) if code_in(&e, &["NotFound", "NoSuchKey"]) => Ok((key, None)),
                Err(e) => Err(aws_err(
                    format!("reading the {what} of {key} in website bucket {bucket}"),
                    e,
                )),
            }
        })
        .buffer_unordered(PARALLEL_UPLOADS)
        .try_collect()
        .await?;
    for (key, meta) in reads {
        match meta {
            Some(meta) => {
                if let Some(r) = objects.get_mut(&key) {
                    r.meta = Some(meta);
                }
            }
            None => {
                objects.remove(&key);
            }
        }
    }
    Ok(())
}

fn meta_of(out: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Meta {
    Meta {
        content_type: out.content_type().map(str::to_string),
        cache_control: out.cache_control().map(str::to_string),
        md5: out
            .metadata()
            .and_then(|m| m.get(META_MD5))
            .map(|v| v.to_ascii_lowercase()),
    }
}

/// A multipart object's ETag is not an MD5: HEAD each one that `local` has with the same
/// size (and whose headers were not read already) for the MD5 its upload recorded.
pub async fn read_multipart_md5(
    ctx: &Ctx,
    objects: &mut BTreeMap<String, Remote>,
    local: &[Object],
) -> Result<()> {
    let keys: Vec<String> = local
        .iter()
        .filter(|o| {
            objects
                .get(&o.key)
                .is_some_and(|r| r.etag.contains('-') && r.meta.is_none() && r.size == o.size)
        })
        .map(|o| o.key.clone())
        .collect();
    head_objects(ctx, objects, keys, "metadata").await
}

/// The headers of `obj` that differ from what `meta` read live.
fn metadata_changes(obj: &Object, meta: &Meta) -> Vec<Change> {
    let opt = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| json!(s));
    let mut out = Vec::new();
    if meta.content_type.as_deref() != Some(obj.content_type.as_str()) {
        out.push(Change {
            field: "content_type",
            old: opt(&meta.content_type),
            new: json!(obj.content_type),
            after: None,
        });
    }
    if meta.cache_control != obj.cache_control {
        out.push(Change {
            field: "cache_control",
            old: opt(&meta.cache_control),
            new: opt(&obj.cache_control),
            after: None,
        });
    }
    out
}

/// Merge local and remote into what to upload, delete, and leave alone.
pub fn plan(local: Vec<Object>, remote: &BTreeMap<String, Remote>) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let mut seen = std::collections::BTreeSet::new();
    for obj in local {
        seen.insert(obj.key.clone());
        match remote.get(&obj.key) {
            Some(r) if r.content_md5() == Some(obj.md5_hex.as_str()) => {
                let changes = r
                    .meta
                    .as_ref()
                    .map(|m| metadata_changes(&obj, m))
                    .unwrap_or_default();
                if changes.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.upload.push((obj, Why::Metadata(changes)));
                }
            }
            Some(_) => plan.upload.push((obj, Why::Changed)),
            None => plan.upload.push((obj, Why::New)),
        }
    }
    plan.delete = remote
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    plan
}

/// The website sync alone, as `up` runs it once the bucket exists: walk `website.source`,
/// list the bucket, upload what differs and delete what is gone. The runtime config is not
/// part of it. Used by `up` through its parts, and on its own by the sync benchmark.
pub async fn sync_website(ctx: &Ctx) -> Result<SyncPlan> {
    let local = local_objects(&ctx.spec, &ctx.report).await?;
    let mut remote = remote_objects(ctx).await?.with_context(|| {
        format!(
            "website bucket {} does not exist; `up` creates it",
            ctx.spec.website.bucket
        )
    })?;
    read_multipart_md5(ctx, &mut remote, &local).await?;
    let plan = plan(local, &remote);
    execute(ctx, &plan).await?;
    Ok(plan)
}

/// Whether a key is a page or the runtime config: written after every asset.
pub fn written_last(ctx: &Ctx, key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.ends_with(".html")
        || lower.ends_with(".htm")
        || ctx.spec.website.config_file.as_deref() == Some(key)
}

/// Upload and delete as planned: assets, then pages and the runtime config, then deletes.
pub async fn execute(ctx: &Ctx, plan: &SyncPlan) -> Result<()> {
    upload_all(ctx, &plan.upload.iter().map(|(o, _)| o).collect::<Vec<_>>()).await?;
    delete_keys(ctx, &plan.delete).await
}

/// Upload `objects`, every asset before the first page or runtime config, so that a visitor
/// never gets a page whose assets are not there yet, and a failed asset leaves the old page.
pub async fn upload_all(ctx: &Ctx, objects: &[&Object]) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let total_bytes = objects.iter().map(|o| o.size).sum();
    let progress = ctx.report.progress(
        "Uploading",
        "website",
        Some((objects.len() as u64, total_bytes)),
    );
    let slots = tokio::sync::Semaphore::new(PARALLEL_UPLOADS);
    let (last, first): (Vec<&Object>, Vec<&Object>) =
        objects.iter().partition(|o| written_last(ctx, &o.key));
    for batch in [first, last] {
        futures::stream::iter(batch.into_iter().map(Ok))
            .try_for_each_concurrent(PARALLEL_UPLOADS, |obj| {
                let (slots, progress) = (&slots, progress.as_ref());
                async move {
                    ctx.cancel.check(&format!("uploading {}", obj.key))?;
                    upload(ctx, obj, slots, progress).await?;
                    progress.add(1, 0);
                    ctx.report.detail(format!("uploaded {}", obj.key));
                    anyhow::Ok(())
                }
            })
            .await?;
    }
    progress.finish();
    Ok(())
}

/// One object: a single PUT streamed from disk, or a multipart upload for a large file.
async fn upload(
    ctx: &Ctx,
    obj: &Object,
    slots: &tokio::sync::Semaphore,
    progress: &dyn Progress,
) -> Result<()> {
    let s3 = &ctx.aws.s3;
    let bucket = &ctx.spec.website.bucket;
    let failed = |e| {
        aws_err(
            format!("uploading {} to website bucket {bucket}", obj.key),
            e,
        )
    };
    match &obj.body {
        Body::File(path) if obj.size >= MULTIPART_THRESHOLD => {
            return upload_parts(ctx, obj, path, slots, progress).await;
        }
        _ => {}
    }
    let body = match &obj.body {
        Body::File(path) => ByteStream::read_from()
            .path(path)
            .buffer_size(HASH_BUFFER)
            .build()
            .await
            .with_context(|| format!("reading {}", path.display()))?,
        Body::Bytes(b) => ByteStream::from(b.clone()),
    };
    let _slot = slots.acquire().await?;
    s3.put_object()
        .bucket(bucket)
        .key(&obj.key)
        .body(body)
        .content_type(&obj.content_type)
        .set_cache_control(obj.cache_control.clone())
        .send()
        .await
        .map_err(failed)?;
    progress.add(0, obj.size);
    Ok(())
}

/// The part size for a file: [`PART_SIZE`], or larger (whole MiB) so that it fits in 10,000
/// parts (files up to S3's 5 TiB object limit).
fn part_size(size: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    PART_SIZE.max(size.div_ceil(10_000).div_ceil(MIB) * MIB)
}

/// A large file in parts, [`PARALLEL_PARTS`] at a time, each streamed from its offset in the
/// file; its MD5 goes in the object's metadata. A failure aborts the upload (its parts are
/// deleted; the bucket's lifecycle rule would also abort it after a day).
async fn upload_parts(
    ctx: &Ctx,
    obj: &Object,
    path: &Path,
    slots: &tokio::sync::Semaphore,
    progress: &dyn Progress,
) -> Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let s3 = &ctx.aws.s3;
    let bucket = &ctx.spec.website.bucket;
    let key = &obj.key;
    let what = |step: &str| format!("uploading {key} to website bucket {bucket} ({step})");
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(&obj.content_type)
        .set_cache_control(obj.cache_control.clone())
        .metadata(META_MD5, &obj.md5_hex)
        .send()
        .await
        .map_err(|e| aws_err(what("starting a multipart upload"), e))?;
    let upload_id = created
        .upload_id()
        .with_context(|| what("no upload id in the answer"))?
        .to_string();
    let size = part_size(obj.size);
    let count = obj.size.div_ceil(size);
    let parts: Result<Vec<CompletedPart>> = futures::stream::iter(0..count)
        .map(|i| {
            let upload_id = &upload_id;
            async move {
                ctx.cancel.check(&format!("uploading {key}"))?;
                let offset = i * size;
                let length = size.min(obj.size - offset);
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(aws_sdk_s3::primitives::Length::Exact(length))
                    .buffer_size(HASH_BUFFER)
                    .build()
                    .await
                    .with_context(|| format!("reading {}", path.display()))?;
                let _slot = slots.acquire().await?;
                let number = i as i32 + 1;
                let out = s3
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(length as i64)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| aws_err(what(&format!("part {number} of {count}")), e))?;
                progress.add(0, length);
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                    .set_checksum_crc32_c(out.checksum_crc32_c().map(str::to_string))
                    .set_checksum_crc64_nvme(out.checksum_crc64_nvme().map(str::to_string))
                    .set_checksum_sha1(out.checksum_sha1().map(str::to_string))
                    .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                    .build())
            }
        })
        .buffered(PARALLEL_PARTS)
        .try_collect()
        .await;
    let completed = match parts {
        Ok(parts) => s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err(what("completing the multipart upload"), e)),
        Err(e) => Err(e),
    };
    if completed.is_err() {
        // Best effort: the lifecycle rule aborts it after a day otherwise.
        let _ = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    completed
}

/// Delete `keys` (DeleteObjects of up to 1,000), [`PARALLEL_DELETES`] batches at a time,
/// saying which.
pub async fn delete_keys(ctx: &Ctx, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = &ctx.spec.website.bucket;
    ctx.report.status(
        "Deleting",
        format!(
            "{} from website bucket {bucket} (no longer in website.source)",
            named_objects(keys)
        ),
    );
    futures::stream::iter(keys.chunks(1000).map(Ok))
        .try_for_each_concurrent(PARALLEL_DELETES, |chunk| async move {
            ctx.cancel.check("deleting stale website objects")?;
            let ids = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()?;
            crate::objects::delete_batch(
                ctx,
                bucket,
                ids,
                &format!("deleting stale objects from website bucket {bucket}"),
            )
            .await?;
            for key in chunk {
                ctx.report.detail(format!("deleted {key}"));
            }
            anyhow::Ok(())
        })
        .await
}

/// "2 objects: a.txt, b/c.txt", at most five named.
fn named_objects(keys: &[String]) -> String {
    const NAMED: usize = 5;
    let mut names = keys
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > NAMED {
        names.push_str(&format!(" and {} more", keys.len() - NAMED));
    }
    format!(
        "{} object{}: {names}",
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_fit_in_ten_thousand_up_to_five_tebibytes() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(part_size(70 * MIB), 16 * MIB);
        assert_eq!(part_size(156_250 * MIB), 16 * MIB);
        // 6 GiB: still 16 MiB parts (384 of them).
        assert_eq!(part_size(6 * 1024 * MIB), 16 * MIB);
        let five_tib = 5 * 1024 * 1024 * MIB;
        let size = part_size(five_tib);
        assert!(five_tib.div_ceil(size) <= 10_000);
        assert_eq!(size % MIB, 0);
        assert!(size <= 5 * 1024 * MIB, "S3's largest part is 5 GiB");
    }

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    /// Objects in buckets carry these types; a dependency update that changes one must come
    /// with a raised HEADER_RULES_REVISION, or live objects keep the old type.
    #[test]
    fn content_types_of_common_web_files_are_pinned() {
        let table = [
            ("a.css", "text/css; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("a.json", "application/json; charset=utf-8"),
            ("a.svg", "image/svg+xml; charset=utf-8"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("a.xml", "text/xml; charset=utf-8"),
            ("a.ico", "image/x-icon"),
            ("a.jpg", "image/jpeg"),
            ("a.webp", "image/webp"),
            ("a.gif", "image/gif"),
            ("a.woff2", "font/woff2"),
            ("a.woff", "font/woff"),
            ("a.wasm", "application/wasm"),
            ("a.pdf", "application/pdf"),
            ("a.webmanifest", "application/manifest+json"),
        ];
        let got: Vec<(&str, String)> = table.iter().map(|(k, _)| (*k, content_type(k))).collect();
        let want: Vec<(&str, String)> = table.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(got, want);
    }

    fn object(key: &str, md5_hex: &str, cache_control: Option<&str>) -> Object {
        Object {
            key: key.into(),
            body: Body::Bytes(Vec::new()),
            md5_hex: md5_hex.into(),
            size: 0,
            content_type: content_type(key),
            cache_control: cache_control.map(str::to_string),
        }
    }

    #[test]
    fn headers_are_compared_only_when_they_were_read() {
        let local = || {
            vec![
                object("a.js", "aa", Some("max-age=60")),
                object("b.js", "bb", Some("max-age=60")),
                object("c.png", "cc", None),
                object("new.html", "dd", None),
            ]
        };
        let remote = |meta: bool| -> BTreeMap<String, Remote> {
            let read = |ct: &str, cc: Option<&str>| {
                meta.then(|| Meta {
                    content_type: Some(ct.into()),
                    cache_control: cc.map(str::to_string),
                    md5: None,
                })
            };
            [
                (
                    "a.js",
                    "aa",
                    read("text/javascript; charset=utf-8", Some("no-cache")),
                ),
                (
                    "b.js",
                    "xx",
                    read("text/javascript; charset=utf-8", Some("max-age=60")),
                ),
                ("c.png", "cc", read("application/octet-stream", None)),
                ("gone.txt", "ee", read("text/plain", None)),
            ]
            .into_iter()
            .map(|(k, etag, meta)| {
                (
                    k.to_string(),
                    Remote {
                        etag: etag.into(),
                        size: 0,
                        meta,
                    },
                )
            })
            .collect()
        };

        // Listing only: same bytes are unchanged, whatever their headers.
        let p = plan(local(), &remote(false));
        let why: Vec<(&str, &Why)> = p.upload.iter().map(|(o, w)| (o.key.as_str(), w)).collect();
        assert_eq!(why, [("b.js", &Why::Changed), ("new.html", &Why::New)]);
        assert_eq!(p.unchanged, 2);
        assert_eq!(p.delete, ["gone.txt"]);

        // Headers read: the same bytes under other headers are uploaded again.
        let p = plan(local(), &remote(true));
        let why: Vec<(&str, &Why)> = p.upload.iter().map(|(o, w)| (o.key.as_str(), w)).collect();
        assert_eq!(
            why,
            [
                (
                    "a.js",
                    &Why::Metadata(vec![Change {
                        field: "cache_control",
                        old: json!("no-cache"),
                        new: json!("max-age=60"),
                        after: None,
                    }])
                ),
                ("b.js", &Why::Changed),
                (
                    "c.png",
                    &Why::Metadata(vec![Change {
                        field: "content_type",
                        old: json!("application/octet-stream"),
                        new: json!("image/png"),
                        after: None,
                    }])
                ),
                ("new.html", &Why::New),
            ]
        );
        assert_eq!(p.unchanged, 0);
    }

    #[test]
    fn the_runtime_config_is_no_cache_unless_a_rule_names_it() {
        let rule = |m: &str, v: &str| CacheRule {
            pattern: m.into(),
            value: v.into(),
        };
        let catch_all = [rule("**/*.json", "max-age=600"), rule("**", "max-age=300")];
        assert_eq!(config_cache_control(&catch_all, "config.json"), "no-cache");
        let named = [rule("**", "max-age=300"), rule("runtime.json", "max-age=5")];
        assert_eq!(config_cache_control(&named, "runtime.json"), "max-age=5");
        assert_eq!(config_cache_control(&named, "config.json"), "no-cache");
    }

    #[test]
    fn the_fingerprint_follows_the_cache_rules_and_their_order() {
        let rule = |m: &str, v: &str| CacheRule {
            pattern: m.into(),
            value: v.into(),
        };
        let a = rules_fingerprint(&[rule("**/*.html", "no-cache"), rule("**", "max-age=1")]);
        assert_eq!(a.len(), 16);
        assert_eq!(
            a,
            rules_fingerprint(&[rule("**/*.html", "no-cache"), rule("**", "max-age=1")])
        );
        let reordered = [rule("**", "max-age=1"), rule("**/*.html", "no-cache")];
        assert_ne!(a, rules_fingerprint(&reordered));
        let revalued = [rule("**/*.html", "no-cache"), rule("**", "max-age=2")];
        assert_ne!(a, rules_fingerprint(&revalued));
    }

    #[test]
    fn first_matching_cache_rule_wins_and_globstar_matches_the_root() {
        let rules = CacheRules::new(&[
            CacheRule {
                pattern: "**/*.html".into(),
                value: "no-cache".into(),
            },
            CacheRule {
                pattern: "**".into(),
                value: "public, max-age=300".into(),
            },
        ])
        .unwrap();
        assert_eq!(rules.for_key("index.html").as_deref(), Some("no-cache"));
        assert_eq!(rules.for_key("docs/a.html").as_deref(), Some("no-cache"));
        assert_eq!(
            rules.for_key("app.js").as_deref(),
            Some("public, max-age=300")
        );
    }
}
