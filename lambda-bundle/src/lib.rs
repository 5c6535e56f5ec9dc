//! The presigner: hands out short-lived presigned S3 URLs for uploading to and downloading
//! from the private documents bucket (SPEC.md section 3).
//!
//! The handler is plain Rust with no Lambda types, so the same code runs in the Lambda
//! (`src/main.rs`, binary `bootstrap`, feature `lambda`) and in any other program that links
//! this crate with `default-features = false` (the local dev server):
//!
//! ```no_run
//! use presigner::{handle_with_log, Config, Credentials, Request};
//! let config = Config::from_env().expect("valid configuration");
//! let creds = Credentials::from_env().expect("credentials");
//! let req = Request { method: "POST".into(), path: "/uploads".into(),
//!     body: br#"{"filename":"a.png","contentType":"image/png","size":3}"#.to_vec(),
//!     ..Default::default() };
//! let started = std::time::Instant::now();
//! let (response, log) = handle_with_log(&config, &creds, std::time::SystemTime::now(), &req);
//! println!("{}", log.to_json_line(started.elapsed(), None));
//! assert_eq!(response.status, 200);
//! ```
//!
//! Decisions the spec leaves open:
//! - `contentType` is compared lower-cased and must be a bare `type/subtype`; a value with
//!   parameters (`text/plain; charset=utf-8`) is refused with 415, because the signed
//!   `content-type` header must match what the browser sends byte for byte. The allowed list
//!   may hold `type/*` and `*/*`.
//! - Order of checks for `POST /uploads`: body size and JSON shape (400), content type (415),
//!   size (413), then credentials (503).
//! - A single PUT is signed with `if-none-match: *` (the URL creates the object once) and,
//!   when the client sent `sha256`, with `x-amz-checksum-sha256` (S3 refuses other bytes).
//! - Above `multipart_threshold_bytes` the answer is `"method": "MULTIPART"` with a presigned
//!   create request (`create`), and `/uploads/parts`, `/uploads/complete` and
//!   `/uploads/abort` hand out presigned requests too: without `auth` the presigner never
//!   calls S3 (see `multipart`). With `auth` it creates the upload itself and answers with
//!   its `uploadId`.
//! - With `auth` (SPEC.md section 6, [`auth`]) every route needs a bearer token, keys go
//!   under `<uploads_prefix><user>/`, and `GET /me`, `GET /files` and `DELETE /files` serve
//!   the caller's folder (`folder`). That needs the network: [`handle_with_services`] with
//!   [`Services::network`]. Every part must carry its SHA-256: the upload is created with
//!   `x-amz-checksum-algorithm: SHA256`, and completing lists each part's checksum.
//! - A URL's lifetime is `url_expiry_seconds`, shortened to the credentials' remaining
//!   lifetime when that is known; if the credentials have already expired the answer is
//!   503 `{"error": ...}` (a temporary failure of the function itself, as SPEC.md allows).
//! - Download URLs carry `response-content-disposition: attachment` with the key's last
//!   segment as filename, so a browser saves the object instead of rendering it.
//! - With `PRESIGNER_BASE_PATH` (`/api`: a CloudFront distribution forwards `/api/*` with the
//!   full path), the routes are `/api/uploads` and `/api/downloads`; every other path,
//!   `/uploads` included, is 404.
//! - With `PRESIGNER_MALWARE_SCAN=guardduty` (SPEC.md section 9), `GET /downloads` reads the
//!   object's tags first (`GET ?tagging`): 404 when there is no such object, 409 with `scan`
//!   (`pending`, `THREATS_FOUND`, or GuardDuty's other statuses) until the tag is
//!   `NO_THREATS_FOUND`.
//! - A bucket name containing dots is addressed path-style on AWS (S3's TLS certificate does
//!   not cover dotted virtual hosts).

mod api;
pub mod auth;
mod clock;
mod config;
mod ctx;
mod folder;
mod handler;
pub mod io;
mod multipart;
mod sanitize;
mod sign;
pub mod verify;

pub use api::{is_sha256_base64, validate_download_key, Request, Response, MAX_KEY_BYTES};
pub use clock::UtcDateTime;
pub use config::{
    min_part_size, Config, ConfigError, Credentials, DEFAULT_MULTIPART_THRESHOLD_BYTES,
    DEFAULT_PART_SIZE_BYTES, ENV_ACCESS_KEY_ID, ENV_ALLOWED_CONTENT_TYPES, ENV_ALLOW_DOWNLOADS,
    ENV_BASE_PATH, ENV_BUCKET, ENV_MALWARE_SCAN, ENV_MAX_UPLOAD_BYTES,
    ENV_MULTIPART_THRESHOLD_BYTES, ENV_PART_SIZE_BYTES, ENV_REGION, ENV_S3_ENDPOINT,
    ENV_SECRET_ACCESS_KEY, ENV_SESSION_TOKEN, ENV_UPLOADS_PREFIX, ENV_URL_EXPIRY_SECONDS,
    MAX_OBJECT_BYTES, MAX_PARTS, MAX_PART_BYTES, MAX_SINGLE_PUT_BYTES, MIN_PART_BYTES,
};
pub use config::{
    validate_base_path, validate_uploads_prefix, MAX_BASE_PATH_BYTES, MAX_PREFIX_BYTES,
};
pub use folder::{count_requests, CALL_SECONDS, CLEAN, COUNT_PAGE, FILES_PAGE, SCAN_TAG};
pub use handler::{
    handle, handle_with_log, handle_with_services, LogRecord, Services, MAX_REQUEST_BODY_BYTES,
};
pub use multipart::{
    MAX_COMPLETE_BODY_BYTES, MAX_PARTS_BODY_BYTES, MAX_PARTS_PER_REQUEST, MAX_UPLOAD_ID_BYTES,
};
pub use sanitize::{sanitize_filename, MAX_FILENAME_BYTES};
pub use sign::{encode_key_path, object_url, presign, uri_encode, SignError};

#[cfg(test)]
mod tests;
