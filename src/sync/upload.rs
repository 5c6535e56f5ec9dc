//! The sync's writes: uploads (assets before pages, streamed from disk, large files in parts)
//! and the DeleteObjects batches of what is no longer in `website.source`.

use std::path::Path;

use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectIdentifier;
use futures::StreamExt;
use futures::TryStreamExt;

use crate::context::Ctx;
use crate::errors::aws_err;
use crate::report::Progress;

use super::*;

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
pub(super) async fn upload(
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
pub(super) fn part_size(size: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    PART_SIZE.max(size.div_ceil(10_000).div_ceil(MIB) * MIB)
}

/// A large file in parts, [`PARALLEL_PARTS`] at a time, each streamed from its offset in the
/// file; its MD5 goes in the object's metadata. A failure aborts the upload (its parts are
/// deleted; the bucket's lifecycle rule would also abort it after a day).
pub(super) async fn upload_parts(
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
pub(super) fn named_objects(keys: &[String]) -> String {
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
