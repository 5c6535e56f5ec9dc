//! The HTTP API (SPEC.md sections 3 and 6): without `auth`, a pure function of config,
//! credentials, clock and request; with it, the token is verified and the caller's folder read
//! through [`Services`].

use crate::api::{
    bad_request, fail, headers_json, internal, json_object, lifetime, rfc3339, sha256_field,
    size_field, string_field, validate_download_key, ApiError, Request, Response,
};
use crate::auth::{authenticate, Caller, Files, Keys};
use crate::clock::UtcDateTime;
use crate::config::{is_token_char, shown, Config, Credentials};
use crate::ctx::Ctx;
use crate::folder;
use crate::io::{Http, Io, Offline};
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
    /// The signed-in caller's folder name, with `auth`.
    pub user: Option<String>,
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
        if let Some(u) = &self.user {
            m.insert("user".into(), u.clone().into());
        }
        let ms = (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        m.insert("duration_ms".into(), json!(ms));
        if let Some(id) = request_id {
            m.insert("request_id".into(), id.into());
        }
        Value::Object(m).to_string()
    }
}

/// What a presigner keeps between requests, and its way out: the issuer's keys and the
/// network. Without `auth` neither is used.
pub struct Services {
    pub io: Box<dyn Io>,
    pub keys: Keys,
}

impl Services {
    /// The network through [`Http`], for a presigner with `auth`.
    pub fn network() -> Services {
        Services {
            io: Box::new(Http::default()),
            keys: Keys::new(),
        }
    }

    /// No network: every call fails (a presigner without `auth` makes none).
    pub fn offline() -> Services {
        Services::with_io(Box::new(Offline))
    }

    pub fn with_io(io: Box<dyn Io>) -> Services {
        Services {
            io,
            keys: Keys::new(),
        }
    }
}

/// One route: the answer's body (`Null` for 204 No Content) and the key it concerns.
type Route = fn(&Ctx<'_>) -> Result<(Value, String), ApiError>;

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

/// Handles one request of a presigner without `auth` and says what to log about it.
///
/// Pure but for drawing a random UUID for each upload key: no network, file or environment
/// access. `now` is the signing time. A presigner with `auth` needs
/// [`handle_with_services`]; here its every request is 503.
pub fn handle_with_log(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    req: &Request,
) -> (Response, LogRecord) {
    handle_with_services(config, creds, now, req, &Services::offline())
}

/// The methods a route accepts, and what it does.
fn route_for(
    config: &Config,
    path: Option<&str>,
    method: &str,
) -> (&'static str, &'static str, Option<Route>) {
    let auth = config.auth.is_some();
    let pick = |name, allowed: &'static str, route: Route| {
        let ok = allowed.split(", ").any(|m| m == method);
        (name, allowed, ok.then_some(route))
    };
    match path {
        Some("/uploads") => pick("uploads", "POST", uploads),
        Some("/uploads/parts") => pick("parts", "POST", multipart::parts),
        Some("/uploads/complete") => pick("complete", "POST", multipart::complete),
        Some("/uploads/abort") => pick("abort", "POST", multipart::abort),
        Some("/downloads") if config.allow_downloads => pick("downloads", "GET", downloads),
        Some("/downloads") => ("downloads", "", None),
        Some("/me") if auth => pick("me", "GET", me),
        Some("/files") if auth => match method {
            "DELETE" => ("files", "GET, DELETE", Some(delete_file as Route)),
            _ => pick("files", "GET, DELETE", list_files),
        },
        _ => ("unknown", "", None),
    }
}

/// Handles one request and says what to log about it: the route, then with `auth` the token
/// (401 before anything else is looked at), then the route's own checks.
pub fn handle_with_services(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    req: &Request,
    services: &Services,
) -> (Response, LogRecord) {
    let method = req.method.to_ascii_uppercase();
    let (route, allowed, f) = route_for(config, route_path(config, &req.path), &method);
    let mut log = LogRecord {
        route,
        method: method.chars().take(16).collect(),
        status: 0,
        key: None,
        error: None,
        user: None,
    };
    let result = match f {
        None if route == "downloads" && allowed.is_empty() => {
            Err(fail(404, "downloads are disabled"))
        }
        None if route == "unknown" => Err(not_found(config)),
        None => Err(method_not_allowed(allowed)),
        Some(f) => {
            let caller = match &config.auth {
                None => Ok(None),
                Some(auth) => {
                    authenticate(auth, &services.keys, services.io.as_ref(), now, req).map(Some)
                }
            };
            caller.and_then(|caller| {
                log.user = caller.as_ref().map(|c| c.user.clone());
                f(&Ctx {
                    config,
                    creds,
                    now,
                    req,
                    caller: caller.as_ref(),
                    io: services.io.as_ref(),
                })
            })
        }
    };
    let response = match result {
        Ok((Value::Null, key)) => {
            log.key = Some(key);
            Response {
                status: 204,
                headers: vec![("cache-control".into(), "no-store".into())],
                body: String::new(),
            }
        }
        Ok((body, key)) => {
            log.key = Some(key);
            json_response(200, body)
        }
        Err(e) => {
            let body = match &e.scan {
                Some(scan) => json!({ "error": e.message, "scan": scan }),
                None => json!({ "error": e.message }),
            };
            let mut r = json_response(e.status, body);
            if e.status == 405 {
                r.headers.push(("allow".into(), allowed.into()));
            }
            if e.challenge {
                r.headers.push(("www-authenticate".into(), "Bearer".into()));
            }
            log.error = Some(e.message);
            r
        }
    };
    log.status = response.status;
    (response, log)
}

fn not_found(config: &Config) -> ApiError {
    let base = config.base_path.as_deref().unwrap_or("");
    let signed_in = if config.auth.is_some() {
        format!(", GET {base}/me, GET {base}/files and DELETE {base}/files?key=...")
    } else {
        String::new()
    };
    fail(
        404,
        format!(
            "not found: the presigner serves POST {base}/uploads, POST {base}/uploads/parts, \
             POST {base}/uploads/complete, POST {base}/uploads/abort and GET \
             {base}/downloads?key=...{signed_in}"
        ),
    )
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

fn uploads(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let (config, creds, req) = (ctx.config, ctx.creds, ctx.req);
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

    let (t, expires_in, expires_at) = lifetime(config, creds, ctx.now)?;
    let folder = match ctx.caller {
        Some(caller) => {
            check_quota(ctx, caller, size)?;
            caller.folder(&config.uploads_prefix)
        }
        None => config.uploads_prefix.clone(),
    };
    let key = format!(
        "{folder}{}/{}/{}",
        UtcDateTime::from_system_time(t).key_date_path(),
        uuid::Uuid::new_v4().as_hyphenated(),
        sanitize_filename(filename)
    );
    if size > config.multipart_threshold_bytes {
        let body = if ctx.caller.is_some() {
            let upload_id = ctx.s3().create_multipart(&key, &content_type)?;
            multipart::created(config, &key, &upload_id, size, t + expires_in)
        } else {
            multipart::create(config, creds, &key, &content_type, size, t, expires_in)?
        };
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

/// With a quota, refuses an upload that would take the caller past it (403, naming the limit
/// and the usage).
fn check_quota(ctx: &Ctx<'_>, caller: &Caller, size: u64) -> Result<(), ApiError> {
    let Some(quota) = ctx.config.auth.as_ref().and_then(|a| a.quota) else {
        return Ok(());
    };
    let usage = ctx
        .s3()
        .usage(&caller.folder(&ctx.config.uploads_prefix), quota.files)?;
    if usage.files + 1 > quota.files {
        return Err(fail(
            403,
            format!(
                "over quota: you have {} files and may keep {}; delete some first",
                usage.files, quota.files
            ),
        ));
    }
    if let Some(bytes) = quota.bytes {
        if usage.bytes.saturating_add(size) > bytes {
            return Err(fail(
                403,
                format!(
                    "over quota: your files take {} bytes, this one {size} more, and you may \
                     keep {bytes}; delete some first",
                    usage.bytes
                ),
            ));
        }
    }
    Ok(())
}

/// The one `key` parameter of the query string, decoded.
fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let mut values = Vec::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decode(k).as_deref() == Some(name) {
            values.push(v);
        }
    }
    let raw = match values[..] {
        [] => return Ok(None),
        [one] => one,
        _ => {
            return Err(bad_request(format!(
                "query parameter {name} is given more than once"
            )))
        }
    };
    form_decode(raw)
        .map(Some)
        .ok_or_else(|| bad_request(format!("{name} is not valid percent-encoded UTF-8")))
}

/// The `key` of a download or delete: present, valid, and with `auth` one the caller may use
/// (`mine`: in their folder whatever `files` says).
fn query_key(ctx: &Ctx<'_>, mine: bool) -> Result<String, ApiError> {
    let key = query_param(ctx.req, "key")?
        .ok_or_else(|| bad_request("query parameter key is required"))?;
    validate_download_key(ctx.config, &key).map_err(bad_request)?;
    let shared = ctx
        .config
        .auth
        .as_ref()
        .is_some_and(|a| a.files == Files::Shared);
    if mine || !shared {
        ctx.own_key(&key)?;
    }
    Ok(key)
}

fn me(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let caller = ctx.caller.ok_or_else(|| fail(404, "not found"))?;
    let body = folder::me(&ctx.s3(), caller)?;
    Ok((body, caller.folder(&ctx.config.uploads_prefix)))
}

fn list_files(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let caller = ctx.caller.ok_or_else(|| fail(404, "not found"))?;
    let cursor = query_param(ctx.req, "cursor")?;
    let body = folder::files(&ctx.s3(), caller, cursor.as_deref())?;
    Ok((body, caller.folder(&ctx.config.uploads_prefix)))
}

/// `DELETE /files?key=K`: 204, 403 for another's key, 404 for none.
fn delete_file(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let key = query_key(ctx, true)?;
    let s3 = ctx.s3();
    if !s3.exists(&key)? {
        return Err(fail(404, "no such file"));
    }
    s3.delete(&key)?;
    Ok((Value::Null, key))
}

fn downloads(ctx: &Ctx<'_>) -> Result<(Value, String), ApiError> {
    let (config, creds) = (ctx.config, ctx.creds);
    let key = query_key(ctx, false)?;
    if config.malware_scan {
        held_back(ctx.s3().scan_status(&key)?)?;
    }

    let (t, expires_in, expires_at) = lifetime(config, creds, ctx.now)?;
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

/// With the malware scan: a download only of a file GuardDuty called clean; 409 with its
/// status otherwise (SPEC.md section 9).
fn held_back(status: Option<String>) -> Result<(), ApiError> {
    let (scan, message) = match status.as_deref() {
        Some(folder::CLEAN) => return Ok(()),
        None => (
            "pending".to_string(),
            "this file is still being scanned for malware; try again in a few seconds".to_string(),
        ),
        Some("THREATS_FOUND") => (
            "THREATS_FOUND".to_string(),
            "this file holds malware: the scan found a threat in it, so it cannot be downloaded"
                .to_string(),
        ),
        Some(other) => (
            other.to_string(),
            format!(
                "the malware scan could not clear this file ({other}), so it cannot be \
                 downloaded; ask the stack's administrator to look at it"
            ),
        ),
    };
    let mut e = fail(409, message);
    e.scan = Some(scan);
    Err(e)
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
