//! What the routes of the HTTP API share: the request and response, the error a route
//! answers with, the fields of a JSON body (the object key a client names among them), and the
//! lifetime of the URLs a route signs.

use crate::clock::{truncate_to_second, unix_seconds, UtcDateTime};
use crate::config::{Config, Credentials};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// S3's limit on a key's length in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// An HTTP request, independent of Lambda.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ... (compared case-insensitively).
    pub method: String,
    /// The raw path, e.g. `/uploads`.
    pub path: String,
    /// The raw (still percent-encoded) query string, without `?`.
    pub query: String,
    /// Header names in any case.
    pub headers: Vec<(String, String)>,
    /// The body, already base64-decoded where the transport encoded it.
    pub body: Vec<u8>,
}

/// An HTTP response, independent of Lambda. The body is always JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
    /// A 401 that asks for a bearer token (`WWW-Authenticate: Bearer`).
    pub(crate) challenge: bool,
    /// A download held back by the malware scan: its status (`pending`, `THREATS_FOUND`, ...)
    /// goes into the body as `scan`.
    pub(crate) scan: Option<String>,
}

pub(crate) fn fail(status: u16, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
        challenge: false,
        scan: None,
    }
}

pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
    fail(400, message)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    fail(500, format!("internal error: could not sign the URL ({e})"))
}

/// The signing time (whole seconds), the URL lifetime and the instant it ends. Never past the
/// credentials' expiry; 503 when they have already expired (the function's own failure,
/// temporary: Lambda hands out fresh credentials).
pub(crate) fn lifetime(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
) -> Result<(SystemTime, Duration, SystemTime), ApiError> {
    let t = truncate_to_second(now);
    let mut secs = config.url_expiry_seconds;
    if let Some(expires_at) = creds.expires_at {
        let remaining = unix_seconds(expires_at) - unix_seconds(t);
        if remaining < 1 {
            return Err(fail(
                503,
                "the presigner's signing credentials have expired; try again shortly",
            ));
        }
        secs = secs.min(remaining as u64);
    }
    let d = Duration::from_secs(secs);
    Ok((t, d, t + d))
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    UtcDateTime::from_system_time(t).rfc3339()
}

/// Signed headers as the JSON object the client sends back.
pub(crate) fn headers_json(headers: &[(&str, &str)]) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// The request body as a JSON object, at most `limit` bytes. `shape` describes it for the
/// error message.
pub(crate) fn json_object(
    req: &Request,
    limit: usize,
    shape: &str,
) -> Result<Map<String, Value>, ApiError> {
    if req.body.len() > limit {
        return Err(bad_request(format!(
            "request body is larger than {limit} bytes"
        )));
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| bad_request(format!("request body is not valid JSON; expected {shape}")))?;
    match body {
        Value::Object(fields) => Ok(fields),
        _ => Err(bad_request(format!(
            "request body must be a JSON object: {shape}"
        ))),
    }
}

pub(crate) fn string_field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(bad_request(format!("{name} is required"))),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(bad_request(format!("{name} must be a string"))),
    }
}

/// `size`: a whole number of bytes, at least 1.
pub(crate) fn size_field(fields: &Map<String, Value>) -> Result<u64, ApiError> {
    match fields.get("size") {
        None | Some(Value::Null) => Err(bad_request("size is required")),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Err(bad_request("size must be at least 1 byte")),
            Some(n) => Ok(n),
            None => Err(bad_request("size must be a positive whole number of bytes")),
        },
        Some(_) => Err(bad_request("size must be a number (bytes)")),
    }
}

/// An optional SHA-256 in base64 (44 characters, as S3's `x-amz-checksum-sha256`).
pub(crate) fn sha256_field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_sha256_base64(s) => Ok(Some(s.as_str())),
        Some(_) => Err(bad_request(format!(
            "{name} must be the base64 of a SHA-256 digest (44 characters ending in '=')"
        ))),
    }
}

/// 32 bytes in standard base64: 43 characters of the alphabet, the last of them one whose low
/// two bits are zero, then `=`.
pub fn is_sha256_base64(s: &str) -> bool {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    b.len() == 44
        && b[43] == b'='
        && b[..43].iter().all(|c| ALPHABET.contains(c))
        && ALPHABET
            .iter()
            .position(|c| *c == b[42])
            .is_some_and(|v| v & 0b11 == 0)
}

/// A key a client may download: under the uploads prefix, at most 1024 bytes, no control
/// characters or backslashes, no empty, `.` or `..` segments.
pub fn validate_download_key(config: &Config, key: &str) -> Result<(), String> {
    let prefix = &config.uploads_prefix;
    if key.is_empty() {
        return Err("query parameter key is required".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("key is longer than {MAX_KEY_BYTES} bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err("key contains control characters".into());
    }
    if !key.starts_with(prefix.as_str()) || key.len() == prefix.len() {
        return Err(format!("key must name an object under {prefix}"));
    }
    if key.contains('\\') {
        return Err("key contains a backslash".into());
    }
    for seg in key.split('/') {
        if seg.is_empty() {
            return Err("key has an empty path segment".into());
        }
        if seg == "." || seg == ".." {
            return Err("key must not contain '.' or '..' segments".into());
        }
    }
    Ok(())
}
