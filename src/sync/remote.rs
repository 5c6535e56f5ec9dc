//! The bucket's side of the sync: the listing, and the object headers read only when the
//! content-rules tag is stale or an object went up in parts.

use std::collections::BTreeMap;

use anyhow::Result;
use futures::StreamExt;
use futures::TryStreamExt;
use serde_json::{json, Value};

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::state::Change;

use super::*;

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
pub(super) async fn head_objects(
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

pub(super) fn meta_of(out: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Meta {
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
pub(super) fn metadata_changes(obj: &Object, meta: &Meta) -> Vec<Change> {
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
