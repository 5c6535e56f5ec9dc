//! S3 object requests shared by the website sync and the emptying of a bucket.

use anyhow::Result;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::context::Ctx;
use crate::errors::aws_err;

/// One DeleteObjects (up to 1,000 keys or versions, quiet); any object it could not delete
/// fails it, naming one. `what` says what the deleting is for.
pub async fn delete_batch(
    ctx: &Ctx,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
    what: &str,
) -> Result<()> {
    let out = ctx
        .aws
        .s3
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_err(what, e))?;
    if let Some(err) = out.errors().first() {
        anyhow::bail!(
            "{what}: {} objects could not be deleted, e.g. {} ({}: {})",
            out.errors().len(),
            err.key().unwrap_or("?"),
            err.code().unwrap_or("?"),
            err.message().unwrap_or("")
        );
    }
    Ok(())
}

/// An object version (or, without `version`, the object) to delete.
pub fn ident(key: Option<&str>, version: Option<&str>) -> Result<ObjectIdentifier> {
    Ok(ObjectIdentifier::builder()
        .key(key.unwrap_or_default())
        .set_version_id(version.map(str::to_string))
        .build()?)
}
