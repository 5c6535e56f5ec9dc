//! A local stand-in for the private documents bucket: path-style `<store>/<bucket>/<key>`,
//! presigned requests only, each checked with `presigner::verify` as S3 checks it: PUT (with
//! `If-None-Match: *` and `x-amz-checksum-sha256` as S3 answers them), GET and HEAD, and the
//! multipart upload requests (see [`super::multipart`]), and with `malware_scan` GET ?tagging
//! (see [`super::scan`]). GET answers a single byte range (206,
//! or 416 InvalidRange) and ignores others, as S3 does. Refusals carry S3's status codes and
//! XML error bodies, so the page shows the same messages it would show against AWS. Objects
//! are kept as [`super::objects`] keeps them.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Result;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use presigner::verify::{parse_query, verify_presigned, PresignedRequest};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::cors::{Refusal, Rule};
use super::http::{empty, file_body, header, header_pairs, note, set, Body, Service};
use super::multipart::{Upload, Uploads};
use super::objects::{Meta, Objects};
use super::s3::{
    b64, check_sha256, checksum_sha256, content_length, if_none_match, internal, s3_err,
    xml_response, S3Error,
};

use presigner::{MAX_KEY_BYTES, MAX_SINGLE_PUT_BYTES as MAX_OBJECT_BYTES};

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
    region: String,
    credentials: presigner::Credentials,
    cors: Rule,
    objects: Objects,
    uploads: Uploads,
    /// `malware_scan`: uploads are held back until scanned clean.
    scan: Option<super::scan::Scanner>,
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

/// NotImplemented for a parameter (not a signature's) that `op` does not take.
fn unimplemented_param(op: Operation, params: &[(String, String)]) -> Result<(), S3Error> {
    match params
        .iter()
        .find(|(k, _)| !k.starts_with("X-Amz-") && k != "x-id" && !op.takes(k))
    {
        None => Ok(()),
        Some((name, _)) => Err(s3_err(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!(
                "A parameter you provided implies functionality that is not implemented: the \
                 dev store does not implement ?{}.",
                name.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// What a request asks of the store, from its method and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    GetObject,
    /// `GET ?tagging`: with `malware_scan`, the scan's verdict (the presigner asks it).
    GetObjectTagging,
    PutObject,
    CreateMultipartUpload,
    UploadPart,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    /// On the bucket: a signed-in user's folder (`GET /files`, `GET /me`, a quota).
    ListObjectsV2,
    DeleteObject,
}

impl Operation {
    /// Whether `param` (not an `X-Amz-*` one) belongs to this operation.
    fn takes(self, param: &str) -> bool {
        match self {
            Operation::GetObject => RESPONSE_OVERRIDES.iter().any(|(p, _)| *p == param),
            Operation::GetObjectTagging => param == "tagging",
            Operation::PutObject => false,
            Operation::CreateMultipartUpload => param == "uploads",
            Operation::UploadPart => param == "partNumber" || param == "uploadId",
            Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => {
                param == "uploadId"
            }
            Operation::ListParts => {
                ["uploadId", "max-parts", "part-number-marker"].contains(&param)
            }
            Operation::ListObjectsV2 => {
                ["list-type", "prefix", "start-after", "max-keys"].contains(&param)
            }
            Operation::DeleteObject => false,
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
        } else if has("tagging") && method == Method::GET {
            Some(Operation::GetObjectTagging)
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
    } else if method == Method::DELETE {
        Some(Operation::DeleteObject)
    } else {
        None
    };
    op.ok_or_else(|| {
        s3_err(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource; the dev store takes \
             presigned PUT, GET (and GET ?tagging), HEAD and DELETE of objects, GET \
             ?list-type=2 of the bucket, and POST ?uploads, PUT ?partNumber&uploadId, GET, POST \
             and DELETE ?uploadId for uploads in parts.",
        )
    })
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
        scan: Option<super::scan::Scanner>,
    ) -> Result<Store> {
        Ok(Store {
            region: region.to_string(),
            credentials,
            cors,
            scan,
            objects: Objects::open(data_dir, bucket)?,
            uploads: Uploads::open(data_dir, bucket)?,
        })
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, S3Error> {
        let raw_path = req.uri().path().to_string();
        let (raw_bucket, raw_key) = raw_path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((raw_path.trim_start_matches('/'), ""));
        if decode(raw_bucket)? != self.objects.bucket {
            return Err(s3_err(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                format!(
                    "The specified bucket does not exist; this store serves only {}",
                    self.objects.bucket
                ),
            ));
        }
        if req.method() == Method::OPTIONS {
            return self.preflight(&req);
        }
        let key = decode(raw_key)?;
        if key.is_empty() {
            let params = parse_query(req.uri().query().unwrap_or(""))?;
            let listing = req.method() == Method::GET
                && params.iter().any(|(k, v)| k == "list-type" && v == "2");
            if !listing {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "The dev store serves objects (<store>/<bucket>/<key>) and ListObjectsV2 \
                     (GET <store>/<bucket>/?list-type=2).",
                ));
            }
            return self.list(&req, &raw_path, &params).await;
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
        unimplemented_param(op, &params)?;
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
        let (objects, uploads) = (&self.objects, &self.uploads);
        match op {
            Operation::GetObject => self.get(&req, &key, &params).await,
            Operation::GetObjectTagging => self.tagging(&key).await,
            Operation::PutObject => self.put(req, key.clone()).await,
            Operation::CreateMultipartUpload => uploads.create_upload(objects, req, &key).await,
            Operation::UploadPart => {
                let number = param("partNumber").unwrap_or("");
                uploads.upload_part(objects, req, &upload(), number).await
            }
            Operation::CompleteMultipartUpload => {
                uploads.complete_upload(objects, req, &upload()).await
            }
            Operation::AbortMultipartUpload => uploads.abort_upload(req, &upload()).await,
            Operation::ListParts => {
                let (max, marker) = (param("max-parts"), param("part-number-marker"));
                uploads.list_parts(objects, &upload(), max, marker).await
            }
            Operation::DeleteObject => super::listing::delete(objects, &key).await,
            Operation::ListObjectsV2 => Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "ListObjectsV2 is a request on the bucket, not on a key.",
            )),
        }
    }

    /// ListObjectsV2 on the bucket, presigned like every other request.
    async fn list(
        &self,
        req: &Request<Incoming>,
        raw_path: &str,
        params: &[(String, String)],
    ) -> Result<Response<Body>, S3Error> {
        self.authorize(req, raw_path)?;
        let op = Operation::ListObjectsV2;
        unimplemented_param(op, params)?;
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        super::listing::list(
            &self.objects,
            param("prefix").unwrap_or(""),
            param("start-after"),
            param("max-keys"),
        )
        .await
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

    async fn put(&self, req: Request<Incoming>, key: String) -> Result<Response<Body>, S3Error> {
        let length = content_length(&req, MAX_OBJECT_BYTES, "object")?;
        let create_only = if_none_match(&req)?;
        let expected_sha = checksum_sha256(&req)?;
        let content_type = header(&req, "content-type")
            .unwrap_or("binary/octet-stream")
            .to_string();
        let content_md5 = header(&req, "content-md5").map(str::to_string);

        let mut got = self
            .objects
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
        self.objects
            .commit_object(&mut got.file, &meta, create_only)
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

    /// GetObjectTagging: the malware scan's tag on an upload, once it has a verdict.
    async fn tagging(&self, key: &str) -> Result<Response<Body>, S3Error> {
        let (meta, mut file) = self.objects.open_object(key).await?;
        let verdict = match self.scan.as_ref().filter(|s| s.covers(key)) {
            Some(scan) => {
                let written = file
                    .metadata()
                    .await
                    .and_then(|m| m.modified())
                    .map_err(|e| internal("reading the object's metadata", e))?;
                scan.verdict(&meta, &mut file, written).await?
            }
            None => None,
        };
        Ok(xml_response(super::scan::tagging_xml(verdict)))
    }

    async fn get(
        &self,
        req: &Request<Incoming>,
        key: &str,
        params: &[(String, String)],
    ) -> Result<Response<Body>, S3Error> {
        let (meta, mut file) = self.objects.open_object(key).await?;
        let modified = file
            .metadata()
            .await
            .and_then(|m| m.modified())
            .map_err(|e| internal("reading the object's metadata", e))?;
        if let Some(scan) = self.scan.as_ref().filter(|s| s.covers(key)) {
            let verdict = scan.verdict(&meta, &mut file, modified).await?;
            if verdict != Some(super::scan::CLEAN) {
                return Err(super::scan::held_back(verdict));
            }
            file.seek(std::io::SeekFrom::Start(0))
                .await
                .map_err(|e| internal("reading the object", e))?;
        }
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

/// A fresh `x-amz-request-id`, in S3's form.
fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase()
}

/// The path as an error body's `<Resource>` names it.
fn resource(req: &Request<Incoming>) -> String {
    req.uri().path().chars().take(1100).collect()
}

impl Service for Store {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        let request_id = request_id();
        let cors = self.cors.actual(&req);
        let resource = resource(&req);
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

    fn refuse_host(&self, req: &Request<Incoming>, why: &str) -> Response<Body> {
        let request_id = request_id();
        let mut r = s3_err(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!("Access Denied: {why}"),
        )
        .response(&resource(req), &request_id);
        set(&mut r, "x-amz-request-id", &request_id);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
