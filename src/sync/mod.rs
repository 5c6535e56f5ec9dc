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
use std::path::PathBuf;

use anyhow::{Context, Result};
use md5::Digest;
use serde::Serialize;
use sha2::Sha256;

use crate::context::Ctx;
use crate::spec::CacheRule;
use crate::state::Change;
use crate::state::Kind;

mod local;
mod remote;
mod upload;

pub use local::*;
pub use remote::*;
pub use upload::*;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
