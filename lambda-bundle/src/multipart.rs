//! Uploads in parts (SPEC.md section 3): the presigner hands the client presigned requests
//! for every step (create, each part, complete, abort). Without `auth` it never calls S3
//! itself; with it, it creates the upload (see [`created`]) and accepts only keys in the
//! caller's folder.
//!
//! What keeps a hostile client bounded, with no state kept between requests:
//! - the part size is the presigner's, never the client's; a part URL is issued only for a
//!   part number in 1..=partCount of a size within `max_upload_bytes`, and signs that part's
//!   exact `content-length` and its SHA-256;
//! - S3 keeps one body per part number, so whatever sizes a client claims from one request to
//!   the next, one upload holds at most partCount(max) parts of at most `part_size_bytes`:
//!   less than `max_upload_bytes` plus one part;
//! - an upload ID names one key at S3, and only the create request (signed for a key the
//!   presigner generated) makes one, so part, complete and abort requests for any other key
//!   fail at S3;
//! - completing is signed with `if-none-match: *`: an upload cannot replace an object.

use crate::api::{
    bad_request, headers_json, internal, json_object, lifetime, rfc3339, sha256_field, size_field,
    string_field, validate_download_key, ApiError,
};
use crate::config::{Config, Credentials};
use crate::ctx::Ctx;
use crate::sign::{object_url, presign};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Most parts one `POST /uploads/parts` may ask for; the client asks again for more.
pub const MAX_PARTS_PER_REQUEST: usize = 1000;
/// Largest `POST /uploads/parts` or `/uploads/abort` body.
pub const MAX_PARTS_BODY_BYTES: usize = 128 * 1024;
/// Largest `POST /uploads/complete` body: 10,000 parts with ETag and SHA-256.
pub const MAX_COMPLETE_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Longest upload ID accepted (S3's are a few hundred characters).
pub const MAX_UPLOAD_ID_BYTES: usize = 1024;

/// The answer to `POST /uploads` for a file above the threshold: the part plan and a
/// presigned CreateMultipartUpload, which fixes the content type and makes S3 expect a
/// SHA-256 for every part.
#[allow(clippy::too_many_arguments)]
pub(crate) fn create(
    config: &Config,
    creds: &Credentials,
    key: &str,
    content_type: &str,
    size: u64,
    t: SystemTime,
    expires_in: Duration,
) -> Result<Value, ApiError> {
    let headers = [
        ("content-type", content_type),
        ("x-amz-checksum-algorithm", "SHA256"),
    ];
    let url = presign(
        "POST",
        &object_url(config, key),
        &[("uploads", "")],
        &headers,
        creds,
        &config.region,
        t,
        expires_in,
    )
    .map_err(internal)?;
    Ok(json!({
        "key": key,
        "method": "MULTIPART",
        "partSize": config.part_size_bytes,
        "partCount": config.part_count(size),
        "create": {"url": url, "method": "POST", "headers": headers_json(&headers)},
        "expiresAt": rfc3339(t + expires_in),
    }))
}

/// The answer to `POST /uploads` above the threshold with `auth`: the presigner created the
/// upload itself, so the client gets its ID and no create URL it could use again.
pub(crate) fn created(
    config: &Config,
    key: &str,
    upload_id: &str,
    size: u64,
    expires_at: SystemTime,
) -> Value {
    json!({
        "key": key,
        "method": "MULTIPART",
        "partSize": config.part_size_bytes,
        "partCount": config.part_count(size),
        "uploadId": upload_id,
        "expiresAt": rfc3339(expires_at),
    })
}

/// The fields every step after create carries: key, upload ID and (but for abort) size.
struct Upload<'a> {
    key: &'a str,
    upload_id: &'a str,
}

fn upload_fields<'a>(
    fields: &'a Map<String, Value>,
    config: &Config,
) -> Result<Upload<'a>, ApiError> {
    let key = string_field(fields, "key")?;
    validate_download_key(config, key).map_err(bad_request)?;
    let upload_id = string_field(fields, "uploadId")?;
    let id_ok = !upload_id.is_empty()
        && upload_id.len() <= MAX_UPLOAD_ID_BYTES
        && upload_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b));
    if !id_ok {
        return Err(bad_request(format!(
            "uploadId must be the UploadId S3 answered to the create request (1 to \
             {MAX_UPLOAD_ID_BYTES} characters of A-Z a-z 0-9 . _ ~ + / = -)"
        )));
    }
    Ok(Upload { key, upload_id })
}

/// `size` of a multipart request: within `max_upload_bytes` (400, not 413: the upload was
/// already accepted at that size, so another size here is a malformed request).
fn upload_size(fields: &Map<String, Value>, config: &Config) -> Result<u64, ApiError> {
    let size = size_field(fields)?;
    if size > config.max_upload_bytes {
        return Err(bad_request(format!(
            "size {size} is over the {} bytes allowed",
            config.max_upload_bytes
        )));
    }
    Ok(size)
}

/// `parts`: a non-empty array of objects.
fn parts_field(fields: &Map<String, Value>) -> Result<&Vec<Value>, ApiError> {
    match fields.get("parts") {
        None | Some(Value::Null) => Err(bad_request("parts is required")),
        Some(Value::Array(a)) if a.is_empty() => Err(bad_request("parts must not be empty")),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad_request("parts must be an array")),
    }
}

/// One entry's `partNumber`, within 1..=part_count.
fn part_number(
    part: &Value,
    index: usize,
    part_count: u64,
) -> Result<(u64, &Map<String, Value>), ApiError> {
    let Value::Object(p) = part else {
        return Err(bad_request(format!("parts[{index}] must be an object")));
    };
    match p.get("partNumber").and_then(Value::as_u64) {
        Some(n) if (1..=part_count).contains(&n) => Ok((n, p)),
        Some(n) => Err(bad_request(format!(
            "parts[{index}].partNumber {n} is outside 1..{part_count}, the parts of this size"
        ))),
        None => Err(bad_request(format!(
            "parts[{index}].partNumber must be a whole number from 1 to {part_count}"
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn part_url(
    config: &Config,
    creds: &Credentials,
    method: &str,
    up: &Upload<'_>,
    part: Option<u64>,
    headers: &[(&str, &str)],
    t: SystemTime,
    expires_in: Duration,
) -> Result<String, ApiError> {
    let n = part.map(|n| n.to_string());
    let mut query = Vec::new();
    if let Some(n) = &n {
        query.push(("partNumber", n.as_str()));
    }
    query.push(("uploadId", up.upload_id));
    presign(
        method,
        &object_url(config, up.key),
        &query,
        headers,
        creds,
        &config.region,
        t,
        expires_in,
    )
    .map_err(internal)
}

/// `POST /uploads/parts`: a presigned UploadPart for each part asked for, signing its exact
/// length and SHA-256.
pub(crate) fn parts(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let (config, creds, now, req) = (ctx.config, ctx.creds, ctx.now, ctx.req);
    let fields = json_object(
        req,
        MAX_PARTS_BODY_BYTES,
        "{\"key\": string, \"uploadId\": string, \"size\": integer, \"parts\": \
         [{\"partNumber\": integer, \"sha256\": base64}]}",
    )?;
    let up = upload_fields(&fields, config)?;
    ctx.own_key(up.key)?;
    let size = upload_size(&fields, config)?;
    let asked = parts_field(&fields)?;
    if asked.len() > MAX_PARTS_PER_REQUEST {
        return Err(bad_request(format!(
            "parts asks for {} parts; ask for at most {MAX_PARTS_PER_REQUEST} at a time",
            asked.len()
        )));
    }
    let count = config.part_count(size);
    let (t, expires_in, expires_at) = lifetime(config, creds, now)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(asked.len());
    for (i, part) in asked.iter().enumerate() {
        let (n, p) = part_number(part, i, count)?;
        if !seen.insert(n) {
            return Err(bad_request(format!(
                "parts[{i}].partNumber {n} is asked for twice"
            )));
        }
        let sha = part_sha256(p, i, "S3 checks every part against its SHA-256 (base64)")?;
        let length = config
            .part_length(size, n)
            .expect("n is within 1..=part_count")
            .to_string();
        let headers = [
            ("content-length", length.as_str()),
            ("x-amz-checksum-sha256", sha),
        ];
        let url = part_url(config, creds, "PUT", &up, Some(n), &headers, t, expires_in)?;
        out.push(json!({
            "partNumber": n,
            "url": url,
            "method": "PUT",
            "headers": headers_json(&headers),
        }));
    }
    Ok((
        json!({"parts": out, "expiresAt": rfc3339(expires_at)}),
        up.key.to_string(),
    ))
}

/// `parts[index].sha256`, required: `why` says what it is for when it is missing.
fn part_sha256<'a>(
    p: &'a Map<String, Value>,
    index: usize,
    why: &str,
) -> Result<&'a str, ApiError> {
    sha256_field(p, "sha256")
        .map_err(|e| bad_request(format!("parts[{index}].{}", e.message)))?
        .ok_or_else(|| bad_request(format!("parts[{index}].sha256 is required: {why}")))
}

/// An ETag as S3 returned it for a part, quoted or not: hex digits and `-`. Answered quoted.
fn etag(p: &Map<String, Value>, index: usize) -> Result<String, ApiError> {
    let raw = p.get("etag").and_then(Value::as_str).unwrap_or("");
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    let ok = (1..=128).contains(&inner.len())
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(bad_request(format!(
            "parts[{index}].etag must be the ETag S3 answered to that part's upload"
        )));
    }
    Ok(format!("\"{inner}\""))
}

/// `POST /uploads/complete`: a presigned CompleteMultipartUpload, signed with
/// `if-none-match: *`, and the XML body to send with it, listing parts 1..=partCount with
/// their ETags and SHA-256s.
pub(crate) fn complete(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let (config, creds, now, req) = (ctx.config, ctx.creds, ctx.now, ctx.req);
    let fields = json_object(
        req,
        MAX_COMPLETE_BODY_BYTES,
        "{\"key\": string, \"uploadId\": string, \"size\": integer, \"parts\": \
         [{\"partNumber\": integer, \"etag\": string, \"sha256\": base64}]}",
    )?;
    let up = upload_fields(&fields, config)?;
    ctx.own_key(up.key)?;
    let size = upload_size(&fields, config)?;
    let given = parts_field(&fields)?;
    let count = config.part_count(size);
    let mut xml =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (i, part) in given.iter().enumerate() {
        let (n, p) = part_number(part, i, count)?;
        if n != i as u64 + 1 {
            return Err(bad_request(format!(
                "parts must list every part from 1 to {count} in order; parts[{i}] is part {n}, \
                 expected {}",
                i + 1
            )));
        }
        let tag = etag(p, i)?;
        let sha = part_sha256(p, i, "the base64 SHA-256 the part was uploaded with")?;
        let _ = write!(
            xml,
            "<Part><ChecksumSHA256>{sha}</ChecksumSHA256><ETag>{}</ETag>\
             <PartNumber>{n}</PartNumber></Part>",
            tag.replace('"', "&quot;")
        );
    }
    if given.len() as u64 != count {
        return Err(bad_request(format!(
            "parts lists {} parts; an upload of {size} bytes has {count}",
            given.len()
        )));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let (t, expires_in, expires_at) = lifetime(config, creds, now)?;
    // The completed upload creates the object once, never replaces one.
    let headers = [("if-none-match", "*")];
    let url = part_url(config, creds, "POST", &up, None, &headers, t, expires_in)?;
    Ok((
        json!({
            "key": up.key,
            "size": size,
            "url": url,
            "method": "POST",
            "headers": headers_json(&headers),
            "body": xml,
            "expiresAt": rfc3339(expires_at),
        }),
        up.key.to_string(),
    ))
}

/// `POST /uploads/abort`: a presigned AbortMultipartUpload, which deletes the parts stored.
pub(crate) fn abort(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let (config, creds, now, req) = (ctx.config, ctx.creds, ctx.now, ctx.req);
    let fields = json_object(
        req,
        MAX_PARTS_BODY_BYTES,
        "{\"key\": string, \"uploadId\": string}",
    )?;
    let up = upload_fields(&fields, config)?;
    ctx.own_key(up.key)?;
    let (t, expires_in, expires_at) = lifetime(config, creds, now)?;
    let url = part_url(config, creds, "DELETE", &up, None, &[], t, expires_in)?;
    Ok((
        json!({
            "url": url,
            "method": "DELETE",
            "headers": {},
            "expiresAt": rfc3339(expires_at),
        }),
        up.key.to_string(),
    ))
}
