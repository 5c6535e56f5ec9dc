//! Invalidations: after a sync, exactly the paths it changed, so visitors get the new site
//! before the cache would expire.

use anyhow::Result;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use crate::context::Ctx;
use crate::errors::aws_err;
use crate::state::Cdn;

/// The IAM action of an invalidation.
pub const ACTIONS: &[&str] = &["cloudfront:CreateInvalidation"];

/// Invalidations of more paths than this go out as one `/*` (each path of a batch counts
/// towards CloudFront's monthly free 1,000; `/*` counts as one).
pub const INVALIDATE_ALL_ABOVE: usize = 50;

/// Invalidate exactly `paths` (site-relative keys; `""` is the root), in one batch, or `/*`
/// when there are more than [`INVALIDATE_ALL_ABOVE`]. Nothing when `paths` is empty.
pub async fn invalidate(ctx: &Ctx, cdn: &Cdn, mut paths: Vec<String>) -> Result<usize> {
    if paths.is_empty() {
        return Ok(0);
    }
    paths.sort();
    paths.dedup();
    let items: Vec<String> = if paths.len() > INVALIDATE_ALL_ABOVE {
        vec!["/*".to_string()]
    } else {
        paths.iter().map(|p| invalidation_path(p)).collect()
    };
    let n = items.len();
    ctx.aws
        .cloudfront
        .create_invalidation()
        .distribution_id(&cdn.id)
        .invalidation_batch(
            InvalidationBatch::builder()
                .caller_reference(format!("presign-stack-{}", uuid::Uuid::new_v4()))
                .paths(
                    Paths::builder()
                        .quantity(n as i32)
                        .set_items(Some(items))
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| {
            aws_err(
                format!("invalidating {n} paths of distribution {}", cdn.id),
                e,
            )
        })?;
    Ok(n)
}

/// A key as an invalidation path: `/` and the key, URL-encoded where it is not plain
/// (CloudFront matches the encoded form viewers request).
pub fn invalidation_path(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!("/{}", percent_encoding::utf8_percent_encode(key, KEEP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_paths_are_encoded_keys() {
        assert_eq!(invalidation_path(""), "/");
        assert_eq!(invalidation_path("assets/app.js"), "/assets/app.js");
        assert_eq!(invalidation_path("a b+c#.txt"), "/a%20b%2Bc%23.txt");
        assert_eq!(invalidation_path("café.html"), "/caf%C3%A9.html");
    }
}
