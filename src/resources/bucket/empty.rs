//! Emptying a bucket of every object version and delete marker, then deleting it.

use anyhow::Result;
use aws_sdk_s3::types::ObjectIdentifier;
use serde_json::json;

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::objects::{delete_batch, ident};
use crate::report::Progress;
use crate::resources::bucket::{tls_only_statement, Which};
use crate::state::{normalize_policy, policy_text};

/// Delete every object version and delete marker (DeleteObjects, up to 1000 per request), then
/// the bucket. Returns the number of versions deleted. Tolerates a bucket already gone.
/// `tls_only` says whether the bucket's policy refuses requests without TLS.
pub async fn empty_and_delete(
    ctx: &Ctx,
    which: Which,
    bucket: &str,
    tls_only: bool,
) -> Result<usize> {
    let s3 = &ctx.aws.s3;
    let label = format!("{} {bucket}", which.kind());
    if which == Which::Documents {
        // As CDK's autoDeleteObjects does: stop new uploads before emptying. The TLS-only
        // statement stays, so a `down` that fails or is killed from here on never leaves the
        // bucket open to plain HTTP. Over a plain-HTTP endpoint (an emulator) that statement
        // would refuse our own deletes, as AWS would: there it is left out while emptying and
        // put back if emptying fails.
        let mut statements = vec![json!({
            "Sid": "NoUploadsWhileDeleting",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        })];
        if !ctx.aws.plain_http {
            statements.push(tls_only_statement(bucket));
        }
        let stop_uploads = json!({"Version": "2012-10-17", "Statement": statements});
        // Emptying starts at once: what lands before the statement holds is found by the next
        // round, which the bucket's deletion starts when it is not empty.
        let stop = async {
            match s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(policy_text(&normalize_policy(&stop_uploads)))
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if code_in(&e, &["NoSuchBucket"]) => Ok(()),
                Err(e) => Err(aws_err(format!("stopping uploads to {label}"), e)),
            }
        };
        let (stopped, emptied) = tokio::join!(stop, empty_and_delete_now(ctx, bucket, &label));
        let emptied = stopped.and(emptied);
        if emptied.is_err() && ctx.aws.plain_http {
            let tls_only = json!({"Version": "2012-10-17", "Statement": [
                tls_only_statement(bucket),
                stop_uploads["Statement"][0].clone(),
            ]});
            if let Err(e) = s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(policy_text(&normalize_policy(&tls_only)))
                .send()
                .await
            {
                ctx.report.warn(format!(
                    "{label} is left without its TLS-only policy statement ({}); `up` puts it \
                     back",
                    crate::errors::describe(&e)
                ));
            }
        }
        return emptied;
    }
    if ctx.aws.plain_http && tls_only {
        // Its TLS-only statement would refuse our deletes over plain HTTP (see
        // `website_tls_for_sync`); the bucket only holds the site, which `up` writes again.
        match s3.delete_bucket_policy().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchBucket"]) => return Ok(0),
            Err(e) => return Err(aws_err(format!("deleting the policy of {label}"), e)),
        }
    }
    empty_and_delete_now(ctx, bucket, &label).await
}

/// Delete every version and delete marker, then the bucket. Uploads that land meanwhile (a
/// presigned URL still in use) are deleted in the next round; only rounds that find the bucket
/// still not empty and delete nothing, or too many rounds, give up.
async fn empty_and_delete_now(ctx: &Ctx, bucket: &str, label: &str) -> Result<usize> {
    let s3 = &ctx.aws.s3;
    let mut deleted = 0;
    let progress = ctx.report.progress("Emptying", label, None);
    for _round in 0..EMPTY_ROUNDS {
        let Some(n) = empty_once(ctx, bucket, label, progress.as_ref()).await? else {
            progress.finish();
            return Ok(deleted);
        };
        deleted += n;
        match s3.delete_bucket().bucket(bucket).send().await {
            Ok(_) => {
                progress.finish();
                return Ok(deleted);
            }
            Err(e) if code_in(&e, &["NoSuchBucket"]) => {
                progress.finish();
                return Ok(deleted);
            }
            Err(e) if code_in(&e, &["BucketNotEmpty"]) => continue,
            Err(e) => return Err(aws_err(format!("deleting {label}"), e)),
        }
    }
    progress.finish();
    anyhow::bail!(
        "deleting {label}: objects kept arriving while it was emptied ({deleted} versions \
         deleted in {EMPTY_ROUNDS} rounds); stop what writes to it, then run again"
    )
}

/// Rounds of list-and-delete before `down` concludes that something keeps writing.
const EMPTY_ROUNDS: usize = 5;
/// DeleteObjects requests in flight while emptying a bucket.
const PARALLEL_DELETES: usize = 16;

/// One pass over the bucket's versions: each page of the listing is deleted (one
/// DeleteObjects of up to 1,000), up to [`PARALLEL_DELETES`] at a time. A page is deleted only
/// once the next page has been listed: the next listing starts from the markers of its last
/// version, which must still exist when they are used. `None` when the bucket is gone.
async fn empty_once(
    ctx: &Ctx,
    bucket: &str,
    label: &str,
    progress: &dyn Progress,
) -> Result<Option<usize>> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let s3 = &ctx.aws.s3;
    let delete = |ids: Vec<ObjectIdentifier>, bytes: u64| async move {
        let n = ids.len();
        delete_batch(ctx, bucket, ids, &format!("deleting objects of {label}")).await?;
        progress.add(n as u64, bytes);
        anyhow::Ok(n)
    };
    let mut inflight = FuturesUnordered::new();
    let mut deleted = 0;
    // The listed page not yet deleted, and the bytes its versions hold.
    let mut pending: (Vec<ObjectIdentifier>, u64) = (Vec::new(), 0);
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        ctx.cancel.check(&format!("emptying {label}"))?;
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if code_in(&e, &["NoSuchBucket"]) => {
                while let Some(r) = inflight.next().await {
                    r?;
                }
                return Ok(None);
            }
            Err(e) => return Err(aws_err(format!("listing objects of {label}"), e)),
        };
        let mut ids = Vec::new();
        let mut bytes = 0;
        for v in page.versions() {
            ids.push(ident(v.key(), v.version_id())?);
            bytes += v.size().unwrap_or(0).max(0) as u64;
        }
        for m in page.delete_markers() {
            ids.push(ident(m.key(), m.version_id())?);
        }
        // The page before this one can go now that this one is listed.
        let (ready, ready_bytes) = std::mem::replace(&mut pending, (ids, bytes));
        for (i, chunk) in ready.chunks(1000).enumerate() {
            inflight.push(delete(chunk.to_vec(), if i == 0 { ready_bytes } else { 0 }));
            while inflight.len() >= PARALLEL_DELETES {
                if let Some(r) = inflight.next().await {
                    deleted += r?;
                }
            }
        }
        if page.is_truncated() == Some(true) {
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        } else {
            break;
        }
    }
    for (i, chunk) in pending.0.chunks(1000).enumerate() {
        inflight.push(delete(chunk.to_vec(), if i == 0 { pending.1 } else { 0 }));
    }
    while let Some(r) = inflight.next().await {
        deleted += r?;
    }
    Ok(Some(deleted))
}
