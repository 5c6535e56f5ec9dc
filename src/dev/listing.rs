//! ListObjectsV2 and DeleteObject, as a signed-in user's folder needs them (SPEC section 6):
//! the presigner lists a user's files and counts their quota, and deletes one.
//!
//! ListObjectsV2 takes `prefix`, `start-after` and `max-keys` (at most 1,000, S3's limit) and
//! answers S3's document, keys in UTF-8 byte order; `IsTruncated` says whether more follow.
//! Other listing parameters (delimiter, continuation tokens) are not implemented.

use hyper::StatusCode;

use super::http::{empty, note, Body};
use super::objects::Objects;
use super::s3::{s3_err, xml_escape, xml_response, S3Error, S3_XMLNS};
use hyper::Response;

/// S3's largest page.
const MAX_KEYS: usize = 1000;

/// One page of the keys under `prefix` after `start_after`.
pub async fn list(
    objects: &Objects,
    prefix: &str,
    start_after: Option<&str>,
    max_keys: Option<&str>,
) -> Result<Response<Body>, S3Error> {
    let max = match max_keys {
        None => MAX_KEYS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) => n.min(MAX_KEYS),
            Err(_) => {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "Provided max-keys not an integer or within integer range",
                ))
            }
        },
    };
    let mut found: Vec<_> = objects
        .all()
        .await?
        .into_iter()
        .filter(|(m, _)| m.key.starts_with(prefix))
        .filter(|(m, _)| start_after.is_none_or(|after| m.key.as_str() > after))
        .collect();
    found.sort_by(|a, b| a.0.key.as_bytes().cmp(b.0.key.as_bytes()));
    let truncated = found.len() > max;
    found.truncate(max);
    let mut contents = String::new();
    for (meta, at) in &found {
        let modified = presigner::UtcDateTime::from_system_time(*at).rfc3339();
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag>\
             <Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(&meta.key),
            modified.replace('Z', ".000Z"),
            xml_escape(&meta.etag),
            meta.size,
        ));
    }
    let after = start_after
        .map(|a| format!("<StartAfter>{}</StartAfter>", xml_escape(a)))
        .unwrap_or_default();
    let mut r = xml_response(format!(
        "<ListBucketResult xmlns=\"{S3_XMLNS}\"><Name>{}</Name><Prefix>{}</Prefix>{after}\
         <KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>\
         {contents}</ListBucketResult>",
        xml_escape(&objects.bucket),
        xml_escape(prefix),
        found.len(),
    ));
    note(
        &mut r,
        format!("listed {} keys under {prefix}", found.len()),
    );
    Ok(r)
}

/// DeleteObject: 204 whether or not there was an object.
pub async fn delete(objects: &Objects, key: &str) -> Result<Response<Body>, S3Error> {
    objects.delete(key).await?;
    let mut r = empty(StatusCode::NO_CONTENT);
    note(&mut r, format!("deleted {key}"));
    Ok(r)
}
