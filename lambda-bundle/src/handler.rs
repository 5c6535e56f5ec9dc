//! The HTTP API (SPEC.md section 3) as a pure function of config, credentials, clock and
//! request.

use crate::api::{
    bad_request, fail, headers_json, internal, json_object, lifetime, rfc3339, sha256_field,
    size_field, string_field, validate_download_key, ApiError, Request, Response,
};
use crate::clock::UtcDateTime;
use crate::config::{is_token_char, shown, Config, Credentials};
use crate::multipart;
use crate::sanitize::sanitize_filename;
use crate::sign::{attachment_disposition, object_url, presign};
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime};

/// Largest accepted `POST /uploads` body.
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024;

/// What to log about one request. Never holds a URL, a signature or a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// `uploads`, `parts`, `complete`, `abort`, `downloads` or `unknown`.
    pub route: &'static str,
    /// The request method (bounded to 16 characters).
    pub method: String,
    pub status: u16,
    /// The object key issued (uploads) or requested and accepted (downloads).
    pub key: Option<String>,
    /// The error message sent to the client, for status >= 400.
    pub error: Option<String>,
}

impl LogRecord {
    /// One JSON line for stdout (CloudWatch Logs). `duration` is measured by the caller
    /// around [`handle_with_log`].
    pub fn to_json_line(&self, duration: Duration, request_id: Option<&str>) -> String {
        let mut m = Map::new();
        m.insert(
            "level".into(),
            if self.status >= 500 { "error" } else { "info" }.into(),
        );
        m.insert("route".into(), self.route.into());
        m.insert("method".into(), self.method.clone().into());
        m.insert("status".into(), self.status.into());
        if let Some(k) = &self.key {
            m.insert("key".into(), k.clone().into());
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), e.clone().into());
        }
        let ms = (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        m.insert("duration_ms".into(), json!(ms));
        if let Some(id) = request_id {
            m.insert("request_id".into(), id.into());
        }
        Value::Object(m).to_string()
    }
}

/// One POST route: the answer's body and the key it concerns.
type Route = fn(&Config, &Credentials, SystemTime, &Request) -> Result<(Value, String), ApiError>;

fn json_response(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            // A presigned URL must not be cached anywhere.
            ("cache-control".into(), "no-store".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: body.to_string(),
    }
}

/// Handles one request. See [`handle_with_log`].
pub fn handle(config: &Config, creds: &Credentials, now: SystemTime, req: &Request) -> Response {
    handle_with_log(config, creds, now, req).0
}

/// Handles one request and says what to log about it.
///
/// Pure but for drawing a random UUID for each upload key: no network, file or environment
/// access. `now` is the signing time.
pub fn handle_with_log(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    req: &Request,
) -> (Response, LogRecord) {
    let method = req.method.to_ascii_uppercase();
    let post = |route: &'static str, f: Route| {
        (
            route,
            if method == "POST" {
                f(config, creds, now, req)
            } else {
                Err(method_not_allowed("POST"))
            },
        )
    };
    let (route, result) = match route_path(config, &req.path) {
        Some("/uploads") => post("uploads", uploads),
        Some("/uploads/parts") => post("parts", multipart::parts),
        Some("/uploads/complete") => post("complete", multipart::complete),
        Some("/uploads/abort") => post("abort", multipart::abort),
        Some("/downloads") => (
            "downloads",
            if !config.allow_downloads {
                Err(fail(404, "downloads are disabled"))
            } else if method == "GET" {
                downloads(config, creds, now, req)
            } else {
                Err(method_not_allowed("GET"))
            },
        ),
        _ => {
            let base = config.base_path.as_deref().unwrap_or("");
            (
                "unknown",
                Err(fail(
                    404,
                    format!(
                        "not found: the presigner serves POST {base}/uploads, POST \
                         {base}/uploads/parts, POST {base}/uploads/complete, POST \
                         {base}/uploads/abort and GET {base}/downloads?key=..."
                    ),
                )),
            )
        }
    };
    let mut log = LogRecord {
        route,
        method: method.chars().take(16).collect(),
        status: 0,
        key: None,
        error: None,
    };
    let response = match result {
        Ok((body, key)) => {
            log.key = Some(key);
            json_response(200, body)
        }
        Err(e) => {
            let mut r = json_response(e.status, json!({ "error": e.message }));
            if e.status == 405 {
                let allow = if route == "downloads" { "GET" } else { "POST" };
                r.headers.push(("allow".into(), allow.into()));
            }
            log.error = Some(e.message);
            r
        }
    };
    log.status = response.status;
    (response, log)
}

/// The route a request path names, relative to the base path: `/uploads` for `/uploads/`
/// (one trailing slash tolerated) or, with a base `/api`, for `/api/uploads`. A path outside
/// the base is `None`.
fn route_path<'a>(config: &Config, path: &'a str) -> Option<&'a str> {
    let path = match config.base_path.as_deref() {
        None => path,
        Some(base) => path
            .strip_prefix(base)
            .filter(|rest| rest.starts_with('/'))?,
    };
    Some(match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    })
}

fn method_not_allowed(allowed: &str) -> ApiError {
    fail(
        405,
        format!("method not allowed: this endpoint accepts {allowed}"),
    )
}

fn uploads(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    req: &Request,
) -> Result<(Value, String), ApiError> {
    let fields = json_object(
        req,
        MAX_REQUEST_BODY_BYTES,
        "{\"filename\": string, \"contentType\": string, \"size\": integer, \"sha256\"?: base64}",
    )?;
    let filename = string_field(&fields, "filename")?;
    let content_type = string_field(&fields, "contentType")?
        .trim()
        .to_ascii_lowercase();
    if content_type.is_empty() {
        return Err(bad_request("contentType must not be empty"));
    }
    let size = size_field(&fields)?;
    let sha256 = sha256_field(&fields, "sha256")?;

    check_content_type(config, &content_type)?;
    if size > config.max_upload_bytes {
        return Err(fail(
            413,
            format!(
                "file is too large: {size} bytes, at most {} are allowed",
                config.max_upload_bytes
            ),
        ));
    }

    let (t, expires_in, expires_at) = lifetime(config, creds, now)?;
    let key = format!(
        "{}{}/{}/{}",
        config.uploads_prefix,
        UtcDateTime::from_system_time(t).key_date_path(),
        uuid::Uuid::new_v4().as_hyphenated(),
        sanitize_filename(filename)
    );
    if size > config.multipart_threshold_bytes {
        let body = multipart::create(config, creds, &key, &content_type, size, t, expires_in)?;
        return Ok((body, key));
    }

    let length = size.to_string();
    let mut headers = vec![
        ("content-length", length.as_str()),
        ("content-type", content_type.as_str()),
        // The URL creates the object once: S3 answers 412 to a second PUT.
        ("if-none-match", "*"),
    ];
    if let Some(sha) = sha256 {
        headers.push(("x-amz-checksum-sha256", sha));
    }
    let url = presign(
        "PUT",
        &object_url(config, &key),
        &[],
        &headers,
        creds,
        &config.region,
        t,
        expires_in,
    )
    .map_err(internal)?;

    let body = json!({
        "key": key,
        "method": "PUT",
        "url": url,
        "headers": headers_json(&headers),
        "expiresAt": rfc3339(expires_at),
    });
    Ok((body, key))
}

/// Media types are compared lower-cased. Parameters (`text/plain; charset=utf-8`) are refused:
/// the allowed list holds bare types, and the signed `content-type` must be exactly what the
/// browser sends, so only a bare type is signed.
fn check_content_type(config: &Config, ct: &str) -> Result<(), ApiError> {
    if ct.contains(';') {
        return Err(fail(
            415,
            format!(
                "content type {} has parameters; send a bare media type such as text/plain",
                shown(ct)
            ),
        ));
    }
    let valid = ct.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.chars().all(is_token_char)
            && b.chars().all(is_token_char)
            && !ct.contains('*')
    });
    if !valid {
        return Err(fail(
            415,
            format!("content type {} is not a media type", shown(ct)),
        ));
    }
    if !config.allows_content_type(ct) {
        return Err(fail(
            415,
            format!(
                "content type {} is not allowed; allowed: {}",
                shown(ct),
                config.allowed_content_types.join(", ")
            ),
        ));
    }
    Ok(())
}

fn downloads(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    req: &Request,
) -> Result<(Value, String), ApiError> {
    let mut keys = Vec::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(k).as_deref() == Some("key") {
            keys.push(v);
        }
    }
    let raw = match keys[..] {
        [] => return Err(bad_request("query parameter key is required")),
        [one] => one,
        _ => return Err(bad_request("query parameter key is given more than once")),
    };
    let key =
        form_decode(raw).ok_or_else(|| bad_request("key is not valid percent-encoded UTF-8"))?;
    validate_download_key(config, &key).map_err(bad_request)?;

    let (t, expires_in, expires_at) = lifetime(config, creds, now)?;
    let filename = key.rsplit('/').next().unwrap_or(&key);
    let disposition = attachment_disposition(filename);
    let url = presign(
        "GET",
        &object_url(config, &key),
        &[("response-content-disposition", disposition.as_str())],
        &[],
        creds,
        &config.region,
        t,
        expires_in,
    )
    .map_err(internal)?;
    Ok((json!({"url": url, "expiresAt": rfc3339(expires_at)}), key))
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; None when the
/// bytes are not UTF-8 or an escape is broken.
fn form_decode(s: &str) -> Option<String> {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}
