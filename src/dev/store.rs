//! A local stand-in for the private documents bucket: path-style `<store>/<bucket>/<key>`,
//! presigned requests only, each checked with `presigner::verify` as S3 checks it: PUT (with
//! `If-None-Match: *` and `x-amz-checksum-sha256` as S3 answers them), GET and HEAD, and the
//! multipart upload requests (see [`super::multipart`]). GET answers a single byte range (206,
//! or 416 InvalidRange) and ignores others, as S3 does. Refusals carry S3's status codes and
//! XML error bodies, so the page shows the same messages it would show against AWS.
//!
//! Objects live under `<data dir>/s3/<bucket>/`, named by the SHA-256 of their key: any key
//! (`../x`, `a//b`, 1024 bytes of UTF-8) maps to one flat, fixed-length file name inside the
//! data dir. The key itself is kept in a JSON sidecar with the content type, ETag and SHA-256.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result};
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use md5::{Digest as _, Md5};
use percent_encoding::percent_decode_str;
use presigner::verify::{parse_query, verify_presigned, PresignedRequest, VerifyError};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::multipart::Upload;

use super::cors::{Refusal, Rule};
use super::http::{empty, file_body, full, header, header_pairs, note, set, Body, Service};

use presigner::{MAX_KEY_BYTES, MAX_SINGLE_PUT_BYTES as MAX_OBJECT_BYTES};

/// S3's namespace for the XML documents it answers.
pub(super) const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// Checksum headers S3 takes that the dev store does not check: refused, never ignored.
const UNCHECKED_CHECKSUMS: &[&str] = &[
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
];
/// The `response-*` query parameters S3 turns into headers on a signed GET.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-language", "content-language"),
    ("response-content-encoding", "content-encoding"),
    ("response-cache-control", "cache-control"),
    ("response-expires", "expires"),
];

pub struct Store {
    pub(super) bucket: String,
    region: String,
    credentials: presigner::Credentials,
    cors: Rule,
    objects: PathBuf,
    pub(super) tmp: PathBuf,
    /// `<data dir>/s3-uploads/<bucket>/`: one folder per multipart upload.
    pub(super) uploads: PathBuf,
    /// Held while an object's data and sidecar are renamed into place, and while a reader
    /// pairs them, so that no one sees one upload's data with another's ETag.
    pub(super) commit: tokio::sync::Mutex<()>,
    /// One lock per multipart upload folder, held while its parts change or are read together.
    pub(super) upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// An object's sidecar.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) key: String,
    pub(super) content_type: String,
    /// Hex MD5 of the body, or `<hex>-<parts>` for an upload in parts; without quotes.
    pub(super) etag: String,
    pub(super) size: u64,
    /// Base64 SHA-256 the object was uploaded with (`<base64>-<parts>` for one in parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) checksum_sha256: Option<String>,
}

/// An S3-style refusal.
#[derive(Debug)]
pub(super) struct S3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For a range that cannot be satisfied: `bytes */<size>`, as S3 sends it.
    content_range: Option<String>,
}

pub(super) fn s3_err(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> S3Error {
    S3Error {
        status,
        code,
        message: message.into(),
        content_range: None,
    }
}

/// What a `Range` header asks of an object of `size` bytes, answered as S3 answers it.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No range, or one S3 ignores (another unit, several ranges, bad syntax): 200.
    Whole,
    /// First and last byte, inclusive: 206.
    Part(u64, u64),
    /// 416 InvalidRange.
    Unsatisfiable,
}

fn range_ask(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let num = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    match (num(first), num(last)) {
        // bytes=-N: the last N bytes.
        (Some(None), Some(Some(n))) => {
            if n == 0 || size == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(size.saturating_sub(n), size - 1)
            }
        }
        // bytes=A- and bytes=A-B.
        (Some(Some(a)), Some(b)) => match b {
            Some(b) if b < a => RangeAsk::Whole,
            _ if a >= size => RangeAsk::Unsatisfiable,
            Some(b) => RangeAsk::Part(a, b.min(size - 1)),
            None => RangeAsk::Part(a, size - 1),
        },
        _ => RangeAsk::Whole,
    }
}

pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> S3Error {
    s3_err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        format!("{what}: {e}"),
    )
}

pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

impl S3Error {
    #[cfg(test)]
    pub(super) fn code(&self) -> &'static str {
        self.code
    }

    fn response(&self, resource: &str, request_id: &str) -> Response<Body> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>\
             <Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code,
            xml_escape(&self.message),
            xml_escape(resource),
            request_id
        );
        let mut r = full(self.status, "application/xml", body);
        if let Some(range) = &self.content_range {
            set(&mut r, "content-range", range);
        }
        note(&mut r, format!("{}: {}", self.code, self.message));
        r
    }
}

impl From<VerifyError> for S3Error {
    fn from(e: VerifyError) -> S3Error {
        let forbidden = StatusCode::FORBIDDEN;
        match e {
            VerifyError::Malformed(m) => s3_err(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                m,
            ),
            VerifyError::UnknownAccessKey => s3_err(
                forbidden,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            VerifyError::Expired => s3_err(forbidden, "AccessDenied", "Request has expired"),
            VerifyError::NotYetValid => {
                s3_err(forbidden, "AccessDenied", "Request is not valid yet")
            }
            VerifyError::MissingSignedHeader(h) => s3_err(
                forbidden,
                "SignatureDoesNotMatch",
                format!("The request does not carry the signed header {h}."),
            ),
            VerifyError::SignatureDoesNotMatch => s3_err(
                forbidden,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you \
                 provided. Check your key and signing method.",
            ),
        }
    }
}

/// Removes a temporary upload unless it was moved into place.
pub(super) struct TempFile(pub(super) Option<PathBuf>);

impl TempFile {
    /// A new, unique name in `tmp` of the form [`clear_partial_uploads`] clears
    /// (`suffix` "" or ".json").
    pub(super) fn new(tmp: &Path, suffix: &str) -> TempFile {
        TempFile(Some(
            tmp.join(format!("{}{suffix}", uuid::Uuid::new_v4().simple())),
        ))
    }

    pub(super) fn path(&self) -> &Path {
        self.0.as_deref().expect("a temporary file not yet moved")
    }

    /// Moves the file to `to`; from then on it is not removed.
    pub(super) async fn rename(&mut self, to: &Path) -> std::io::Result<()> {
        tokio::fs::rename(self.path(), to).await?;
        self.0 = None;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "Couldn't parse the specified URI: it is not UTF-8 once decoded.",
            )
        })
}

/// Remove what a killed process left in `tmp`: only files of the names the store gives its
/// partial uploads (32 hex digits, `.json` for a sidecar), never anything else.
fn clear_partial_uploads(tmp: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(tmp) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", tmp.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", tmp.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        let ours = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit());
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("clearing partial upload {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// What a request asks of the store, from its method and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    GetObject,
    PutObject,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

impl Operation {
    /// Whether `param` (not an `X-Amz-*` one) belongs to this operation.
    fn takes(self, param: &str) -> bool {
        match self {
            Operation::GetObject => RESPONSE_OVERRIDES.iter().any(|(p, _)| *p == param),
            Operation::PutObject => false,
            Operation::CreateMultipartUpload => param == "uploads",
            Operation::UploadPart => param == "partNumber" || param == "uploadId",
            Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => {
                param == "uploadId"
            }
            Operation::ListParts => {
                ["uploadId", "max-parts", "part-number-marker"].contains(&param)
            }
        }
    }
}

/// The operation a method and query name. A method the store does not take on an object is
/// refused here, before the signature is looked at, as before multipart existed.
fn operation(method: &Method, params: &[(String, String)]) -> Result<Operation, S3Error> {
    let has = |name: &str| params.iter().any(|(k, _)| k == name);
    let op = if method == Method::GET || method == Method::HEAD {
        if has("uploadId") && method == Method::GET {
            Some(Operation::ListParts)
        } else {
            Some(Operation::GetObject)
        }
    } else if method == Method::PUT {
        if has("partNumber") || has("uploadId") {
            Some(Operation::UploadPart)
        } else {
            Some(Operation::PutObject)
        }
    } else if method == Method::POST {
        if has("uploads") {
            Some(Operation::CreateMultipartUpload)
        } else if has("uploadId") {
            Some(Operation::CompleteMultipartUpload)
        } else {
            None
        }
    } else if method == Method::DELETE && has("uploadId") {
        Some(Operation::AbortMultipartUpload)
    } else {
        None
    };
    op.ok_or_else(|| {
        s3_err(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource; the dev store takes \
             presigned PUT, GET and HEAD of objects, and POST ?uploads, PUT ?partNumber&uploadId, \
             GET, POST and DELETE ?uploadId for uploads in parts.",
        )
    })
}

/// The request's `Content-Length`, at most `max` bytes (S3 refuses more as EntityTooLarge).
pub(super) fn content_length(
    req: &Request<Incoming>,
    max: u64,
    what: &str,
) -> Result<u64, S3Error> {
    let length: u64 = match header(req, "content-length").map(str::parse) {
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "Content-Length is not a number.",
            ))
        }
        None => {
            return Err(s3_err(
                StatusCode::LENGTH_REQUIRED,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            ))
        }
    };
    if length > max {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed {what} size (5 GiB)."),
        ));
    }
    Ok(length)
}

/// `x-amz-checksum-sha256`, decoded: 32 bytes, or 400 InvalidRequest as S3 answers a value
/// that is not one. A checksum of another algorithm is refused rather than left unchecked.
pub(super) fn checksum_sha256(req: &Request<Incoming>) -> Result<Option<[u8; 32]>, S3Error> {
    if let Some(name) = UNCHECKED_CHECKSUMS
        .iter()
        .find(|h| req.headers().contains_key(**h))
    {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("The dev store checks x-amz-checksum-sha256 only; {name} is not supported."),
        ));
    }
    let Some(value) = req.headers().get("x-amz-checksum-sha256") else {
        return Ok(None);
    };
    let invalid = || {
        s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Value for x-amz-checksum-sha256 header is invalid.",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| invalid())?;
    bytes.try_into().map(Some).map_err(|_| invalid())
}

/// The body's SHA-256 against the one the request carried: 400 BadDigest when they differ.
pub(super) fn check_sha256(
    expected: Option<[u8; 32]>,
    got: Option<[u8; 32]>,
) -> Result<Option<String>, S3Error> {
    match (expected, got) {
        (Some(e), Some(g)) if e == g => Ok(Some(b64(&e))),
        (Some(_), _) => Err(s3_err(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The SHA256 you specified did not match the calculated checksum.",
        )),
        (None, _) => Ok(None),
    }
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `If-None-Match` on a write: `*` (create only) or absent; S3 implements no other value.
pub(super) fn if_none_match(req: &Request<Incoming>) -> Result<bool, S3Error> {
    match req.headers().get("if-none-match") {
        None => Ok(false),
        Some(v) if v.as_bytes().trim_ascii() == b"*" => Ok(true),
        Some(_) => Err(s3_err(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented: \
             If-None-Match takes only * on a write.",
        )),
    }
}

pub(super) fn precondition_failed() -> S3Error {
    s3_err(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold (If-None-Match: * and \
         the object exists).",
    )
}

/// A request body written to a temporary file, with its digests.
pub(super) struct Received {
    pub(super) file: TempFile,
    pub(super) size: u64,
    pub(super) md5: [u8; 16],
    pub(super) sha256: Option<[u8; 32]>,
}

/// Reads and discards a body, so that a refusal reaches a client still sending (a browser
/// that is cut off mid-upload reports a network error, not the refusal). Bounded by the
/// Content-Length the caller checked.
pub(super) async fn drain(body: Incoming) {
    let mut body = body;
    while let Some(Ok(_)) = body.frame().await {}
}

impl Store {
    /// Opens (creating) the store for `bucket` under `data_dir`. Partial uploads left by a
    /// killed process are removed; multipart uploads in progress are kept, as S3 keeps them.
    pub fn open(
        data_dir: &Path,
        bucket: &str,
        region: &str,
        credentials: presigner::Credentials,
        cors: Rule,
    ) -> Result<Store> {
        let objects = data_dir.join("s3").join(bucket);
        let uploads = data_dir.join("s3-uploads").join(bucket);
        let tmp = data_dir.join("tmp");
        clear_partial_uploads(&tmp)?;
        for dir in [&objects, &uploads, &tmp] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the dev store's folder {}", dir.display()))?;
        }
        super::multipart::clear_unfinished_creates(&uploads)?;
        Ok(Store {
            bucket: bucket.to_string(),
            region: region.to_string(),
            credentials,
            cors,
            objects,
            tmp,
            uploads,
            commit: tokio::sync::Mutex::new(()),
            upload_locks: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        (
            self.objects.join(&name),
            self.objects.join(format!("{name}.json")),
        )
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, S3Error> {
        let raw_path = req.uri().path().to_string();
        let (raw_bucket, raw_key) = raw_path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((raw_path.trim_start_matches('/'), ""));
        if decode(raw_bucket)? != self.bucket {
            return Err(s3_err(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                format!(
                    "The specified bucket does not exist; this store serves only {}",
                    self.bucket
                ),
            ));
        }
        if req.method() == Method::OPTIONS {
            return self.preflight(&req);
        }
        let key = decode(raw_key)?;
        if key.is_empty() {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "The dev store serves objects only: <store>/<bucket>/<key>.",
            ));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "KeyTooLongError",
                "Your key is too long.",
            ));
        }
        let params = parse_query(req.uri().query().unwrap_or(""))?;
        let op = operation(req.method(), &params)?;
        self.authorize(&req, &raw_path)?;
        if let Some((name, _)) = params
            .iter()
            .find(|(k, _)| !k.starts_with("X-Amz-") && k != "x-id" && !op.takes(k))
        {
            return Err(s3_err(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                format!(
                    "A parameter you provided implies functionality that is not implemented: \
                     the dev store does not implement ?{}.",
                    name.chars().take(64).collect::<String>()
                ),
            ));
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let upload = || Upload {
            key: &key,
            id: param("uploadId").unwrap_or(""),
        };
        match op {
            Operation::GetObject => self.get(&req, &key, &params).await,
            Operation::PutObject => self.put(req, key.clone()).await,
            Operation::CreateMultipartUpload => self.create_upload(req, &key).await,
            Operation::UploadPart => {
                let number = param("partNumber").unwrap_or("");
                self.upload_part(req, &upload(), number).await
            }
            Operation::CompleteMultipartUpload => self.complete_upload(req, &upload()).await,
            Operation::AbortMultipartUpload => self.abort_upload(req, &upload()).await,
            Operation::ListParts => {
                self.list_parts(&upload(), param("max-parts"), param("part-number-marker"))
                    .await
            }
        }
    }

    fn preflight(&self, req: &Request<Incoming>) -> Result<Response<Body>, S3Error> {
        match self.cors.preflight(req) {
            Ok(headers) => {
                let mut r = empty(StatusCode::OK);
                for (k, v) in headers {
                    set(&mut r, k, &v);
                }
                Ok(r)
            }
            Err(Refusal::NotPreflight(why)) => {
                Err(s3_err(StatusCode::BAD_REQUEST, "BadRequest", why))
            }
            Err(Refusal::NotAllowed(why)) => Err(s3_err(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                format!(
                    "CORSResponse: This CORS request is not allowed: {why} \
                     (documents.cors in the spec)."
                ),
            )),
        }
    }

    /// Checks the presigned signature.
    fn authorize(&self, req: &Request<Incoming>, raw_path: &str) -> Result<(), S3Error> {
        let raw_query = req.uri().query().unwrap_or("");
        let params = parse_query(raw_query)?;
        if !params.iter().any(|(k, _)| k.starts_with("X-Amz-")) {
            let why = if req.headers().contains_key("authorization") {
                "Access Denied: the dev store accepts presigned URLs only."
            } else {
                "Access Denied: the documents bucket is private; use a presigned URL."
            };
            return Err(s3_err(StatusCode::FORBIDDEN, "AccessDenied", why));
        }
        let host = header(req, "host")
            .map(str::to_string)
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .ok_or_else(|| {
                s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "The request has no Host header.",
                )
            })?;
        let headers = header_pairs(req);
        let presigned = PresignedRequest {
            method: req.method().as_str(),
            host: &host,
            raw_path,
            raw_query,
            headers: &headers,
        };
        let credentials = &self.credentials;
        let verified = verify_presigned(
            &presigned,
            |id| (id == credentials.access_key_id).then(|| credentials.secret_access_key.clone()),
            SystemTime::now(),
        )?;
        if verified.region != self.region {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; \
                     expecting '{}'",
                    verified.region, self.region
                ),
            ));
        }
        Ok(())
    }

    /// Streams a request body of `length` bytes into a temporary file, hashing it as it
    /// comes (MD5 always, SHA-256 when `sha256`). A body of another length is IncompleteBody.
    pub(super) async fn receive(
        &self,
        body: Incoming,
        length: u64,
        sha256: bool,
    ) -> Result<Received, S3Error> {
        let tmp = TempFile::new(&self.tmp, "");
        let file = tokio::fs::File::create(tmp.path())
            .await
            .map_err(|e| internal("creating a temporary file", e))?;
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = Md5::new();
        let mut sha = sha256.then(Sha256::new);
        let mut written: u64 = 0;
        let mut body = body;
        let incomplete = |detail: String| {
            s3_err(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!(
                    "You did not provide the number of bytes specified by the Content-Length \
                     HTTP header{detail}."
                ),
            )
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| incomplete(format!(" ({e})")))?;
            if let Ok(data) = frame.into_data() {
                md5.update(&data);
                if let Some(sha) = &mut sha {
                    sha.update(&data);
                }
                written += data.len() as u64;
                file.write_all(&data)
                    .await
                    .map_err(|e| internal("writing the upload", e))?;
            }
        }
        file.flush()
            .await
            .map_err(|e| internal("writing the upload", e))?;
        drop(file);
        if written != length {
            return Err(incomplete(String::new()));
        }
        Ok(Received {
            file: tmp,
            size: written,
            md5: md5.finalize().into(),
            sha256: sha.map(|s| s.finalize().into()),
        })
    }

    /// Moves an object's data and its sidecar into place together. With `create_only`
    /// (`If-None-Match: *`) an existing object is kept and the answer is 412, decided under
    /// the same lock as the move, so of two racing creates exactly one wins.
    pub(super) async fn commit_object(
        &self,
        data: &mut TempFile,
        meta: &Meta,
        create_only: bool,
    ) -> Result<(), S3Error> {
        let (data_path, meta_path) = self.paths(&meta.key);
        let mut meta_tmp = TempFile::new(&self.tmp, ".json");
        let meta_json =
            serde_json::to_vec(meta).map_err(|e| internal("recording the object", e))?;
        tokio::fs::write(meta_tmp.path(), meta_json)
            .await
            .map_err(|e| internal("recording the object", e))?;
        let _commit = self.commit.lock().await;
        if create_only && self.exists(&meta.key).await? {
            return Err(precondition_failed());
        }
        data.rename(&data_path)
            .await
            .map_err(|e| internal("storing the object", e))?;
        meta_tmp
            .rename(&meta_path)
            .await
            .map_err(|e| internal("recording the object", e))?;
        Ok(())
    }

    /// Whether an object is stored under `key` (its sidecar is the last thing moved in).
    pub(super) async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        tokio::fs::try_exists(self.paths(key).1)
            .await
            .map_err(|e| internal("looking for the object", e))
    }

    async fn put(&self, req: Request<Incoming>, key: String) -> Result<Response<Body>, S3Error> {
        let length = content_length(&req, MAX_OBJECT_BYTES, "object")?;
        let create_only = if_none_match(&req)?;
        let expected_sha = checksum_sha256(&req)?;
        let content_type = header(&req, "content-type")
            .unwrap_or("binary/octet-stream")
            .to_string();
        let content_md5 = header(&req, "content-md5").map(str::to_string);

        let mut got = self
            .receive(req.into_body(), length, expected_sha.is_some())
            .await?;
        if let Some(expected) = content_md5 {
            if expected.trim() != b64(&got.md5) {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        let checksum = check_sha256(expected_sha, got.sha256)?;
        let meta = Meta {
            etag: hex::encode(got.md5),
            key,
            content_type,
            size: got.size,
            checksum_sha256: checksum,
        };
        self.commit_object(&mut got.file, &meta, create_only)
            .await?;
        let mut r = empty(StatusCode::OK);
        set(&mut r, "etag", &format!("\"{}\"", meta.etag));
        if let Some(sha) = &meta.checksum_sha256 {
            set(&mut r, "x-amz-checksum-sha256", sha);
            set(&mut r, "x-amz-checksum-type", "FULL_OBJECT");
        }
        note(&mut r, format!("stored {} ({} bytes)", meta.key, meta.size));
        Ok(r)
    }

    async fn get(
        &self,
        req: &Request<Incoming>,
        key: &str,
        params: &[(String, String)],
    ) -> Result<Response<Body>, S3Error> {
        let no_such_key = || {
            s3_err(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        };
        let (data_path, meta_path) = self.paths(key);
        // Held until the data is open: an upload replacing the object meanwhile cannot pair
        // this sidecar with its data. The open handle keeps reading the old data after that.
        let commit = self.commit.lock().await;
        let meta: Meta = match tokio::fs::read(&meta_path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| internal("reading the object's metadata", e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_key()),
            Err(e) => return Err(internal("reading the object's metadata", e)),
        };
        if meta.key != key {
            return Err(no_such_key());
        }
        let mut file = match tokio::fs::File::open(&data_path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_key()),
            Err(e) => return Err(internal("opening the object", e)),
        };
        drop(commit);
        let modified = file
            .metadata()
            .await
            .and_then(|m| m.modified())
            .map_err(|e| internal("reading the object's metadata", e))?;
        let (status, first, len) = match range_ask(header(req, "range"), meta.size) {
            RangeAsk::Whole => (StatusCode::OK, 0, meta.size),
            RangeAsk::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
            RangeAsk::Unsatisfiable => {
                let mut e = s3_err(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                );
                e.content_range = Some(format!("bytes */{}", meta.size));
                return Err(e);
            }
        };
        let mut r = if req.method() == Method::HEAD {
            empty(status)
        } else {
            file.seek(std::io::SeekFrom::Start(first))
                .await
                .map_err(|e| internal("reading the object", e))?;
            let mut r = Response::new(file_body(file.take(len)));
            *r.status_mut() = status;
            r
        };
        if status == StatusCode::PARTIAL_CONTENT {
            set(
                &mut r,
                "content-range",
                &format!("bytes {first}-{}/{}", first + len - 1, meta.size),
            );
        }
        set(&mut r, "accept-ranges", "bytes");
        set(&mut r, "content-type", &meta.content_type);
        set(&mut r, "content-length", &len.to_string());
        set(&mut r, "etag", &format!("\"{}\"", meta.etag));
        // S3 sends the checksum for the whole object only, and only when asked.
        let mode = header(req, "x-amz-checksum-mode").unwrap_or("");
        if let (true, StatusCode::OK, Some(sha)) = (
            mode.eq_ignore_ascii_case("ENABLED"),
            status,
            &meta.checksum_sha256,
        ) {
            set(&mut r, "x-amz-checksum-sha256", sha);
            let kind = if sha.contains('-') {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            };
            set(&mut r, "x-amz-checksum-type", kind);
        }
        set(
            &mut r,
            "last-modified",
            &aws_smithy_types::DateTime::from(modified)
                .fmt(aws_smithy_types::date_time::Format::HttpDate)
                .unwrap_or_default(),
        );
        for (param, name) in RESPONSE_OVERRIDES {
            if let Some((_, v)) = params.iter().find(|(k, _)| k == param) {
                let value = hyper::header::HeaderValue::from_str(v).map_err(|_| {
                    s3_err(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        format!("{param} is not a valid header value."),
                    )
                })?;
                r.headers_mut().insert(*name, value);
            }
        }
        Ok(r)
    }
}

impl Service for Store {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        let request_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
        let cors = self.cors.actual(&req);
        let resource = req.uri().path().chars().take(1100).collect::<String>();
        let mut r = match self.route(req).await {
            Ok(r) => r,
            Err(e) => e.response(&resource, &request_id),
        };
        // S3 puts CORS headers on errors too, which lets the page read why it was refused.
        for (k, v) in cors {
            if !r.headers().contains_key(k) {
                set(&mut r, k, &v);
            }
        }
        set(&mut r, "x-amz-request-id", &request_id);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        let creds = presigner::Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
            expires_at: None,
        };
        let cors = Rule {
            origins: vec![],
            methods: vec![],
            headers: vec![],
            expose: vec![],
            max_age_seconds: 0,
        };
        Store::open(dir, "docs", "us-east-1", creds, cors).unwrap()
    }

    #[test]
    fn every_key_maps_to_one_file_inside_the_bucket_folder() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for key in [
            "../../etc/passwd",
            "a//b",
            "/abs",
            "..",
            "x\0y",
            &"é".repeat(512),
        ] {
            let (data, meta) = s.paths(key);
            assert_eq!(data.parent(), Some(s.objects.as_path()), "{key:?}");
            assert_eq!(meta.parent(), Some(s.objects.as_path()), "{key:?}");
            assert_eq!(data.file_name().unwrap().len(), 64);
        }
        assert_ne!(s.paths("a").0, s.paths("b").0);
    }

    #[test]
    fn ranges_are_answered_as_s3_answers_them() {
        use RangeAsk::*;
        let cases: &[(Option<&str>, u64, RangeAsk)] = &[
            (None, 10, Whole),
            (Some("bytes=0-3"), 10, Part(0, 3)),
            (Some("bytes=4-"), 10, Part(4, 9)),
            (Some("bytes=-3"), 10, Part(7, 9)),
            (Some("bytes=-30"), 10, Part(0, 9)),
            (Some("bytes=5-99"), 10, Part(5, 9)),
            (Some("bytes=9-9"), 10, Part(9, 9)),
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=10-20"), 10, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            (Some("bytes=0-0"), 0, Unsatisfiable),
            (Some("bytes=5-2"), 10, Whole),
            (Some("bytes=0-1,4-5"), 10, Whole),
            (Some("items=0-3"), 10, Whole),
            (Some("bytes=a-b"), 10, Whole),
            (Some("bytes=+1-2"), 10, Whole),
            (Some("bytes=99999999999999999999999-"), 10, Whole),
        ];
        for (header, size, want) in cases {
            assert_eq!(&range_ask(*header, *size), want, "{header:?} of {size}");
        }
    }

    #[test]
    fn error_bodies_escape_what_they_quote() {
        assert_eq!(
            xml_escape("<a&'\"\n>"),
            "&lt;a&amp;&apos;&quot;\u{fffd}&gt;"
        );
    }
}
