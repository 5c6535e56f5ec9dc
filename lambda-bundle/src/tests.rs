//! End-to-end tests of the handler: routing, every error status, and presigned URLs checked
//! by the independent verifier in `verify.rs` (which is itself pinned to AWS's documented
//! example).

use crate::verify::{parse_query, verify_presigned, PresignedRequest, VerifyError};
use crate::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=special&chars";
/// 2026-11-28T16:00:00Z
const T0: u64 = 1_795_881_600;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0 * 1000 + 250)
}

fn env(overrides: &[(&str, &str)]) -> Config {
    let mut m: HashMap<String, String> = [
        ("PRESIGNER_BUCKET", "acme-docs-files"),
        ("AWS_REGION", "eu-central-1"),
        ("PRESIGNER_UPLOADS_PREFIX", "uploads/"),
        ("PRESIGNER_URL_EXPIRY_SECONDS", "300"),
        ("PRESIGNER_MAX_UPLOAD_BYTES", "10485760"),
        (
            "PRESIGNER_ALLOWED_CONTENT_TYPES",
            "image/png,image/jpeg,application/pdf",
        ),
        ("PRESIGNER_ALLOW_DOWNLOADS", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        m.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| m.get(k).cloned()).unwrap()
}

fn config() -> Config {
    env(&[])
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        session_token: Some(TOKEN.into()),
        expires_at: None,
    }
}

fn secret_for(k: &str) -> Option<String> {
    (k == ACCESS_KEY).then(|| SECRET.to_string())
}

fn post(body: &str) -> Request {
    Request {
        method: "POST".into(),
        path: "/uploads".into(),
        body: body.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn get_download(query: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/downloads".into(),
        query: query.into(),
        ..Default::default()
    }
}

fn upload_body(filename: &str, ct: &str, size: u64) -> String {
    serde_json::json!({"filename": filename, "contentType": ct, "size": size}).to_string()
}

fn json(r: &Response) -> Value {
    serde_json::from_str(&r.body).expect("body is JSON")
}

/// Splits `scheme://host/path?query` into (host, path, query).
fn split_url(url: &str) -> (&str, &str, &str) {
    let rest = url.split_once("://").unwrap().1;
    let slash = rest.find('/').unwrap();
    let (host, path_query) = rest.split_at(slash);
    let (path, query) = path_query.split_once('?').unwrap();
    (host, path, query)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, _, q) = split_url(url);
    parse_query(q)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn verify(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    at: SystemTime,
) -> Result<verify::Verified, VerifyError> {
    let (host, path, query) = split_url(url);
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    verify_presigned(
        &PresignedRequest {
            method,
            host,
            raw_path: path,
            raw_query: query,
            headers: &headers,
        },
        secret_for,
        at,
    )
}

fn assert_error(r: &Response, status: u16, needle: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json(r);
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 1, "only an error field: {}", r.body);
    let msg = obj["error"].as_str().unwrap();
    assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
}

#[test]
fn upload_happy_path() {
    let r = handle(
        &config(),
        &creds(),
        now(),
        &post(&upload_body("report.pdf", "application/pdf", 48213)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        !r.headers
            .iter()
            .any(|(k, _)| k.starts_with("access-control-")),
        "the Function URL adds CORS headers, not the handler"
    );
    let v = json(&r);
    let key = v["key"].as_str().unwrap();
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 6, "{key}");
    assert_eq!(&parts[..4], ["uploads", "2026", "11", "28"]);
    let id = uuid::Uuid::parse_str(parts[4]).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(parts[4], id.as_hyphenated().to_string());
    assert_eq!(parts[5], "report.pdf");
    assert_eq!(v["method"], "PUT");
    assert_eq!(
        v["headers"],
        serde_json::json!({"content-type": "application/pdf", "content-length": "48213",
                           "if-none-match": "*"})
    );
    assert_eq!(v["expiresAt"], "2026-11-28T16:05:00Z");

    let url = v["url"].as_str().unwrap();
    let prefix = format!("https://acme-docs-files.s3.eu-central-1.amazonaws.com/{key}?");
    assert!(url.starts_with(&prefix), "{url}");
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match")
    );
    assert_eq!(
        query_param(url, "X-Amz-SignedHeaders").as_deref(),
        Some("content-length;content-type;host;if-none-match")
    );
    assert_eq!(query_param(url, "X-Amz-Expires").as_deref(), Some("300"));
    assert_eq!(
        query_param(url, "X-Amz-Date").as_deref(),
        Some("20261128T160000Z")
    );
    assert_eq!(
        query_param(url, "X-Amz-Credential").as_deref(),
        Some("AKIAIOSFODNN7EXAMPLE/20261128/eu-central-1/s3/aws4_request")
    );
    assert_eq!(
        query_param(url, "X-Amz-Security-Token").as_deref(),
        Some(TOKEN)
    );
    assert_eq!(
        query_param(url, "X-Amz-Algorithm").as_deref(),
        Some("AWS4-HMAC-SHA256")
    );

    // The signature, re-derived independently, matches for exactly the returned headers.
    let good = [
        ("content-type", "application/pdf"),
        ("content-length", "48213"),
        ("if-none-match", "*"),
    ];
    let ok = verify("PUT", url, &good, now() + Duration::from_secs(10)).unwrap();
    assert_eq!(
        ok.signed_headers,
        ["content-length", "content-type", "host", "if-none-match"]
    );
    assert_eq!(ok.expires_at, UNIX_EPOCH + Duration::from_secs(T0 + 300));

    // Any other type or length, or another method, is refused.
    for headers in [
        [
            ("content-type", "application/pdf"),
            ("content-length", "48214"),
            ("if-none-match", "*"),
        ],
        [
            ("content-type", "text/html"),
            ("content-length", "48213"),
            ("if-none-match", "*"),
        ],
        [
            ("content-type", "application/pdf"),
            ("content-length", "48213"),
            ("if-none-match", "\"abc\""),
        ],
    ] {
        assert_eq!(
            verify("PUT", url, &headers, now()),
            Err(VerifyError::SignatureDoesNotMatch)
        );
    }
    assert_eq!(
        verify("PUT", url, &[("content-length", "48213")], now()),
        Err(VerifyError::MissingSignedHeader("content-type".into()))
    );
    // Without if-none-match the URL could overwrite: it is refused.
    assert_eq!(
        verify("PUT", url, &good[..2], now()),
        Err(VerifyError::MissingSignedHeader("if-none-match".into()))
    );
    assert_eq!(
        verify("GET", url, &good, now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    // A different key in the same URL fails.
    let tampered = url.replace("report.pdf", "report2.pdf");
    assert_eq!(
        verify("PUT", &tampered, &good, now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    // The URL dies after url_expiry_seconds.
    assert_eq!(
        verify(
            "PUT",
            url,
            &good,
            UNIX_EPOCH + Duration::from_secs(T0 + 300)
        ),
        Err(VerifyError::Expired)
    );
}

#[test]
fn keys_are_unique() {
    let mut seen = HashSet::new();
    for _ in 0..500 {
        let r = handle(
            &config(),
            &creds(),
            now(),
            &post(&upload_body("same.png", "image/png", 1)),
        );
        assert_eq!(r.status, 200);
        assert!(seen.insert(json(&r)["key"].as_str().unwrap().to_string()));
    }
}

#[test]
fn unicode_and_hostile_filenames_give_valid_signed_keys() {
    let cases = [
        ("تقرير مالي.pdf", "تقرير_مالي.pdf"),
        ("年度报告.pdf", "年度报告.pdf"),
        ("😀 party.pdf", "😀_party.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a/b\\c.pdf", "c.pdf"),
        ("..", "file"),
        ("", "file"),
        ("50% off + more (1).pdf", "50_off_more_(1).pdf"),
    ];
    for (name, want) in cases {
        let r = handle(
            &config(),
            &creds(),
            now(),
            &post(&upload_body(name, "application/pdf", 10)),
        );
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let v = json(&r);
        let key = v["key"].as_str().unwrap();
        assert!(key.ends_with(&format!("/{want}")), "{name:?} -> {key}");
        assert_eq!(key.split('/').count(), 6);
        let url = v["url"].as_str().unwrap();
        let (_, path, _) = split_url(url);
        assert_eq!(path, format!("/{}", encode_key_path(key)));
        assert!(path.is_ascii());
        verify(
            "PUT",
            url,
            &[
                ("content-type", "application/pdf"),
                ("content-length", "10"),
                ("if-none-match", "*"),
            ],
            now(),
        )
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    }
}

#[test]
fn content_type_is_normalised_and_signed_lower_case() {
    let r = handle(
        &config(),
        &creds(),
        now(),
        &post(&upload_body("a.png", " IMAGE/PNG ", 5)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["headers"]["content-type"], "image/png");
}

#[test]
fn upload_errors() {
    let c = config();
    let max = c.max_upload_bytes;
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, "not valid JSON"),
        ("".into(), 400, "not valid JSON"),
        ("[1,2]".into(), 400, "JSON object"),
        ("\"x\"".into(), 400, "JSON object"),
        (
            r#"{"contentType":"image/png","size":1}"#.into(),
            400,
            "filename is required",
        ),
        (
            r#"{"filename":7,"contentType":"image/png","size":1}"#.into(),
            400,
            "filename must be a string",
        ),
        (
            r#"{"filename":"a","size":1}"#.into(),
            400,
            "contentType is required",
        ),
        (
            r#"{"filename":"a","contentType":null,"size":1}"#.into(),
            400,
            "contentType is required",
        ),
        (
            r#"{"filename":"a","contentType":["image/png"],"size":1}"#.into(),
            400,
            "contentType must be a string",
        ),
        (
            r#"{"filename":"a","contentType":"  ","size":1}"#.into(),
            400,
            "must not be empty",
        ),
        (
            r#"{"filename":"a","contentType":"image/png"}"#.into(),
            400,
            "size is required",
        ),
        (
            r#"{"filename":"a","contentType":"image/png","size":"12"}"#.into(),
            400,
            "size must be a number",
        ),
        (
            r#"{"filename":"a","contentType":"image/png","size":0}"#.into(),
            400,
            "at least 1 byte",
        ),
        (
            r#"{"filename":"a","contentType":"image/png","size":-5}"#.into(),
            400,
            "positive whole number",
        ),
        (
            r#"{"filename":"a","contentType":"image/png","size":1.5}"#.into(),
            400,
            "positive whole number",
        ),
        (
            r#"{"filename":"a","contentType":"image/png","size":1e30}"#.into(),
            400,
            "positive whole number",
        ),
        (
            format!(
                r#"{{"filename":"{}","contentType":"image/png","size":1}}"#,
                "a".repeat(MAX_REQUEST_BODY_BYTES)
            ),
            400,
            "larger than 16384 bytes",
        ),
        (upload_body("a.png", "image/png", max + 1), 413, "too large"),
        (
            upload_body("a.txt", "text/plain", 1),
            415,
            "not allowed; allowed: image/png, image/jpeg, application/pdf",
        ),
        (
            upload_body("a.png", "image/png; charset=utf-8", 1),
            415,
            "has parameters",
        ),
        (upload_body("a.png", "image/*", 1), 415, "not a media type"),
        (upload_body("a.png", "png", 1), 415, "not a media type"),
        // 415 is decided before 413.
        (
            upload_body("a.txt", "text/plain", max + 1),
            415,
            "not allowed",
        ),
    ];
    for (body, status, needle) in cases {
        let r = handle(&c, &creds(), now(), &post(&body));
        let shown: String = body.chars().take(80).collect();
        assert_eq!(r.status, status, "{shown}: {}", r.body);
        assert_error(&r, status, needle);
    }
    // Exactly the maximum is fine.
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("a.png", "image/png", max)),
    );
    assert_eq!(r.status, 200);
    // Unknown fields are ignored.
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(r#"{"filename":"a.png","contentType":"image/png","size":3,"extra":true}"#),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn wildcard_content_types() {
    let c = env(&[("PRESIGNER_ALLOWED_CONTENT_TYPES", "*/*")]);
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("x.bin", "application/x-whatever", 9)),
    );
    assert_eq!(r.status, 200);
    let c = env(&[("PRESIGNER_ALLOWED_CONTENT_TYPES", "image/*")]);
    let ok = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("x.webp", "image/webp", 9)),
    );
    assert_eq!(ok.status, 200);
    let no = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("x.pdf", "application/pdf", 9)),
    );
    assert_eq!(no.status, 415);
}

#[test]
fn routing_errors() {
    let c = config();
    let req = |method: &str, path: &str| Request {
        method: method.into(),
        path: path.into(),
        ..Default::default()
    };
    let r = handle(&c, &creds(), now(), &req("GET", "/uploads"));
    assert_error(&r, 405, "accepts POST");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = handle(&c, &creds(), now(), &req("PUT", "/uploads"));
    assert_error(&r, 405, "accepts POST");
    let r = handle(&c, &creds(), now(), &req("POST", "/downloads"));
    assert_error(&r, 405, "accepts GET");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = handle(&c, &creds(), now(), &req("OPTIONS", "/downloads"));
    assert_error(&r, 405, "accepts GET");
    for path in ["/", "", "/nope", "/uploads/x", "/Uploads", "//uploads"] {
        let r = handle(&c, &creds(), now(), &req("GET", path));
        assert_error(&r, 404, "not found");
    }
    // A trailing slash and a lower-case method are tolerated.
    let mut r = post(&upload_body("a.png", "image/png", 1));
    r.path = "/uploads/".into();
    r.method = "post".into();
    assert_eq!(handle(&c, &creds(), now(), &r).status, 200);
}

#[test]
fn base_path_serves_under_it_and_nothing_else() {
    let c = env(&[("PRESIGNER_BASE_PATH", "/api")]);
    assert_eq!(c.base_path.as_deref(), Some("/api"));
    let with_path = |mut r: Request, path: &str| {
        r.path = path.into();
        handle(&c, &creds(), now(), &r)
    };
    let upload = || post(&upload_body("a.png", "image/png", 1));
    // CloudFront forwards the full path; a trailing slash is tolerated as without a base.
    for path in ["/api/uploads", "/api/uploads/"] {
        let r = with_path(upload(), path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(json(&r)["key"].as_str().unwrap().starts_with("uploads/"));
    }
    let key = "uploads/2026/11/28/0b4f2a9e-0a41-4f5e-9d55-3c1e7e9b2f10/a.pdf";
    for path in ["/api/downloads", "/api/downloads/"] {
        let r = with_path(get_download(&format!("key={}", uri_encode(key))), path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    // The handler's own answers come through under the base too.
    let r = with_path(
        Request {
            method: "GET".into(),
            ..Default::default()
        },
        "/api/uploads",
    );
    assert_error(&r, 405, "accepts POST");
    let r = with_path(post(&upload_body("a.gif", "image/gif", 1)), "/api/uploads");
    assert_error(&r, 415, "not allowed");
    // Outside the base, the bare routes included, nothing is served.
    for path in [
        "/uploads",
        "/uploads/",
        "/downloads",
        "/api",
        "/api/",
        "/apiuploads",
        "/api-uploads",
        "/api//uploads",
        "/API/uploads",
        "/v1/api/uploads",
        "/api/api/uploads",
        "/api/uploads/x",
        "",
        "/",
    ] {
        let r = with_path(upload(), path);
        assert_error(&r, 404, "POST /api/uploads, POST /api/uploads/parts");
        let r = with_path(get_download(&format!("key={key}")), path);
        assert_eq!(r.status, 404, "{path}");
    }
    // Downloads off: 404 under the base as well.
    let off = env(&[
        ("PRESIGNER_BASE_PATH", "/api"),
        ("PRESIGNER_ALLOW_DOWNLOADS", "false"),
    ]);
    let mut r = get_download("key=uploads/a.pdf");
    r.path = "/api/downloads".into();
    assert_error(&handle(&off, &creds(), now(), &r), 404, "disabled");
}

#[test]
fn without_a_base_path_the_routes_are_at_the_root() {
    let c = config();
    assert_eq!(c.base_path, None);
    let mut r = post(&upload_body("a.png", "image/png", 1));
    r.path = "/api/uploads".into();
    assert_error(
        &handle(&c, &creds(), now(), &r),
        404,
        "POST /uploads, POST /uploads/parts, POST /uploads/complete, POST /uploads/abort \
         and GET /downloads",
    );
}

#[test]
fn download_happy_path() {
    let key = "uploads/2026/11/28/0b4f2a9e-0a41-4f5e-9d55-3c1e7e9b2f10/年度 report.pdf";
    let q = format!("key={}", uri_encode(key));
    let r = handle(&config(), &creds(), now(), &get_download(&q));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert_eq!(v["expiresAt"], "2026-11-28T16:05:00Z");
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&format!(
        "https://acme-docs-files.s3.eu-central-1.amazonaws.com/{}?",
        encode_key_path(key)
    )));
    assert_eq!(
        query_param(url, "X-Amz-SignedHeaders").as_deref(),
        Some("host")
    );
    assert_eq!(
        query_param(url, "response-content-disposition").as_deref(),
        Some(
            "attachment; filename=\"___report.pdf\"; filename*=UTF-8''%E5%B9%B4%E5%BA%A6%20report.pdf"
        )
    );
    verify("GET", url, &[], now()).unwrap();
    assert_eq!(
        verify("PUT", url, &[], now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    // The disposition is signed: dropping it breaks the signature.
    let (_, _, query) = split_url(url);
    let stripped: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("response-content-disposition"))
        .collect();
    let without = url.replace(query, &stripped.join("&"));
    assert_eq!(
        verify("GET", &without, &[], now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );

    // `+` means space in a query; `%2B` is a plus sign.
    let r = handle(
        &config(),
        &creds(),
        now(),
        &get_download("key=uploads%2Fa%2Bb+c.pdf&x=1"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    let (_, path, _) = split_url(v["url"].as_str().unwrap());
    assert_eq!(path, "/uploads/a%2Bb%20c.pdf");
}

#[test]
fn download_errors() {
    let c = config();
    let long = format!("key=uploads/{}", "a".repeat(1020));
    let cases: Vec<(&str, &str)> = vec![
        ("", "key is required"),
        ("other=1", "key is required"),
        ("key=", "key is required"),
        ("key=secret/a.pdf", "under uploads/"),
        ("key=uploads", "under uploads/"),
        ("key=uploads/", "under uploads/"),
        ("key=uploadsx/a", "under uploads/"),
        ("key=%2Fuploads%2Fa", "under uploads/"),
        ("key=uploads/../secret.pdf", "'..'"),
        ("key=uploads/a/%2E%2E/b", "'..'"),
        ("key=uploads/./a", "'.'"),
        ("key=uploads//a", "empty path segment"),
        ("key=uploads/a/", "empty path segment"),
        ("key=uploads/a%00b", "control characters"),
        ("key=uploads/a%0Ab", "control characters"),
        ("key=uploads/a%5Cb", "backslash"),
        ("key=uploads/%zz", "percent-encoded"),
        ("key=uploads/%ff", "percent-encoded"),
        ("key=uploads/a%2", "percent-encoded"),
        ("key=uploads/a&key=uploads/b", "more than once"),
        (&long, "longer than 1024 bytes"),
    ];
    for (q, needle) in cases {
        let r = handle(&c, &creds(), now(), &get_download(q));
        assert_error(&r, 400, needle);
    }
    // Exactly 1024 bytes is fine.
    let ok = format!("key=uploads/{}", "a".repeat(1016));
    assert_eq!(handle(&c, &creds(), now(), &get_download(&ok)).status, 200);
}

#[test]
fn downloads_disabled_is_404() {
    let c = env(&[("PRESIGNER_ALLOW_DOWNLOADS", "false")]);
    for q in ["key=uploads/a.pdf", "", "key=../x"] {
        let r = handle(&c, &creds(), now(), &get_download(q));
        assert_error(&r, 404, "downloads are disabled");
    }
    // Uploads still work.
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("a.png", "image/png", 1)),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn expiry_never_outlives_credentials() {
    let c = config();
    // Credentials with 60.5 s left at T0 + 0.25 s: the URL gets 60 s from T0.
    let mut cr = creds();
    cr.expires_at = Some(now() + Duration::from_millis(60_500));
    let r = handle(&c, &cr, now(), &post(&upload_body("a.png", "image/png", 1)));
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["expiresAt"], "2026-11-28T16:01:00Z");
    let url = v["url"].as_str().unwrap();
    assert_eq!(query_param(url, "X-Amz-Expires").as_deref(), Some("60"));

    // Far-off expiry: the configured lifetime wins.
    cr.expires_at = Some(now() + Duration::from_secs(86_400));
    let r = handle(&c, &cr, now(), &get_download("key=uploads/a.pdf"));
    assert_eq!(
        query_param(json(&r)["url"].as_str().unwrap(), "X-Amz-Expires").as_deref(),
        Some("300")
    );

    // Expired, or less than a whole second left: 503 with a JSON error.
    for left in [
        Duration::ZERO,
        Duration::from_millis(500),
        Duration::from_millis(700),
    ] {
        cr.expires_at = Some(now() + left);
        let r = handle(&c, &cr, now(), &post(&upload_body("a.png", "image/png", 1)));
        assert_error(&r, 503, "credentials have expired");
    }
    cr.expires_at = Some(now() - Duration::from_secs(5));
    let r = handle(&c, &cr, now(), &get_download("key=uploads/a.pdf"));
    assert_error(&r, 503, "credentials have expired");
}

#[test]
fn custom_endpoint_is_path_style() {
    let c = env(&[("PRESIGNER_S3_ENDPOINT", "http://127.0.0.1:9000/")]);
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("a b.png", "image/png", 3)),
    );
    assert_eq!(r.status, 200);
    let v = json(&r);
    let key = v["key"].as_str().unwrap();
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "http://127.0.0.1:9000/acme-docs-files/{}?",
            encode_key_path(key)
        )),
        "{url}"
    );
    let (host, _, _) = split_url(url);
    assert_eq!(host, "127.0.0.1:9000");
    verify(
        "PUT",
        url,
        &[
            ("content-type", "image/png"),
            ("content-length", "3"),
            ("if-none-match", "*"),
        ],
        now(),
    )
    .unwrap();
}

#[test]
fn dotted_bucket_is_path_style_on_aws() {
    let c = env(&[("PRESIGNER_BUCKET", "docs.example.com")]);
    let r = handle(&c, &creds(), now(), &get_download("key=uploads/a.pdf"));
    let url = json(&r)["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://s3.eu-central-1.amazonaws.com/docs.example.com/uploads/a.pdf?"),
        "{url}"
    );
    verify("GET", &url, &[], now()).unwrap();
}

#[test]
fn no_session_token_means_no_token_param() {
    let mut cr = creds();
    cr.session_token = None;
    let r = handle(&config(), &cr, now(), &get_download("key=uploads/a.pdf"));
    let url = json(&r)["url"].as_str().unwrap().to_string();
    assert_eq!(query_param(&url, "X-Amz-Security-Token"), None);
    verify("GET", &url, &[], now()).unwrap();
}

#[test]
fn log_records_never_hold_secrets_or_urls() {
    let c = config();
    let cases = [
        post(&upload_body("a.png", "image/png", 1)),
        post("{"),
        get_download("key=uploads/a.pdf"),
        get_download("key=../x"),
        Request {
            method: "DELETE".into(),
            path: "/x".into(),
            ..Default::default()
        },
    ];
    for req in cases {
        let (resp, log) = handle_with_log(&c, &creds(), now(), &req);
        assert_eq!(log.status, resp.status);
        let line = log.to_json_line(Duration::from_micros(1234), Some("req-1"));
        assert!(!line.contains('\n'));
        for secret in [
            SECRET,
            TOKEN,
            "X-Amz-Signature",
            "amazonaws.com",
            ACCESS_KEY,
        ] {
            assert!(!line.contains(secret), "{line}");
        }
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"], resp.status);
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["duration_ms"], 1.234);
        if resp.status == 200 {
            assert_eq!(
                v["key"],
                json(&resp).get("key").cloned().unwrap_or(v["key"].clone())
            );
            assert!(v["key"].as_str().unwrap().starts_with("uploads/"));
            assert!(v.get("error").is_none());
        } else {
            assert_eq!(v["error"], json(&resp)["error"]);
        }
    }
    let (_, log) = handle_with_log(&c, &creds(), now(), &get_download("key=uploads/a.pdf"));
    assert_eq!(log.route, "downloads");
    assert_eq!(log.key.as_deref(), Some("uploads/a.pdf"));
}

// ---- Single-use, checksummed PUTs and uploads in parts -------------------------------------

const SHA_ABC: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
const SHA_EMPTY: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const MIB: u64 = 1024 * 1024;

/// Threshold 8 MiB, parts of 5 MiB, at most 100 MiB.
fn multipart_config() -> Config {
    env(&[
        ("PRESIGNER_MAX_UPLOAD_BYTES", "104857600"),
        ("PRESIGNER_MULTIPART_THRESHOLD_BYTES", "8388608"),
        ("PRESIGNER_PART_SIZE_BYTES", "5242880"),
    ])
}

fn post_to(path: &str, body: Value) -> Request {
    Request {
        method: "POST".into(),
        path: path.into(),
        body: body.to_string().into_bytes(),
        ..Default::default()
    }
}

const KEY: &str = "uploads/2026/11/28/0b4f2a9e-0a41-4f5e-9d55-3c1e7e9b2f10/big.pdf";
const UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA--";

fn ask_parts(c: &Config, size: u64, numbers: &[u64]) -> Response {
    let parts: Vec<Value> = numbers
        .iter()
        .map(|n| serde_json::json!({"partNumber": n, "sha256": SHA_ABC}))
        .collect();
    handle(
        c,
        &creds(),
        now(),
        &post_to(
            "/uploads/parts",
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size, "parts": parts}),
        ),
    )
}

#[test]
fn a_single_put_creates_once_and_carries_the_sha256_it_was_asked_with() {
    let body = serde_json::json!({"filename": "a.pdf", "contentType": "application/pdf",
                                  "size": 3, "sha256": SHA_ABC});
    let r = handle(&config(), &creds(), now(), &post_to("/uploads", body));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(
        v["headers"],
        serde_json::json!({"content-type": "application/pdf", "content-length": "3",
                           "if-none-match": "*", "x-amz-checksum-sha256": SHA_ABC})
    );
    let url = v["url"].as_str().unwrap();
    let good = [
        ("content-type", "application/pdf"),
        ("content-length", "3"),
        ("if-none-match", "*"),
        ("x-amz-checksum-sha256", SHA_ABC),
    ];
    let ok = verify("PUT", url, &good, now()).unwrap();
    assert_eq!(
        ok.signed_headers,
        [
            "content-length",
            "content-type",
            "host",
            "if-none-match",
            "x-amz-checksum-sha256"
        ]
    );
    // Another checksum (so other bytes) with the same URL is refused.
    let mut other = good;
    other[3].1 = SHA_EMPTY;
    assert_eq!(
        verify("PUT", url, &other, now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    // Not a SHA-256 in base64: 400, naming the field.
    for bad in [
        "abc",
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ] {
        let body = serde_json::json!({"filename": "a.pdf", "contentType": "application/pdf",
                                      "size": 3, "sha256": bad});
        let r = handle(&config(), &creds(), now(), &post_to("/uploads", body));
        assert_error(&r, 400, "sha256 must be the base64 of a SHA-256");
    }
    let body = serde_json::json!({"filename": "a.pdf", "contentType": "application/pdf",
                                  "size": 3, "sha256": 7});
    assert_error(
        &handle(&config(), &creds(), now(), &post_to("/uploads", body)),
        400,
        "sha256",
    );
}

#[test]
fn above_the_threshold_the_answer_is_a_part_plan_and_a_presigned_create() {
    let c = multipart_config();
    // At the threshold: still one PUT.
    let at = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("a.pdf", "application/pdf", 8 * MIB)),
    );
    assert_eq!(json(&at)["method"], "PUT");
    let size = 8 * MIB + 1;
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("big.pdf", "application/pdf", size)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["method"], "MULTIPART");
    assert_eq!(v["partSize"], 5 * MIB);
    assert_eq!(v["partCount"], 2);
    assert_eq!(v["expiresAt"], "2026-11-28T16:05:00Z");
    assert!(v.get("url").is_none() && v.get("uploadId").is_none());
    let key = v["key"].as_str().unwrap();
    assert!(key.starts_with("uploads/2026/11/28/") && key.ends_with("/big.pdf"));
    let create = &v["create"];
    assert_eq!(create["method"], "POST");
    assert_eq!(
        create["headers"],
        serde_json::json!({"content-type": "application/pdf",
                           "x-amz-checksum-algorithm": "SHA256"})
    );
    let url = create["url"].as_str().unwrap();
    let (_, path, query) = split_url(url);
    assert_eq!(path, format!("/{}", encode_key_path(key)));
    assert!(query.starts_with("uploads=&X-Amz-Algorithm="), "{query}");
    let headers = [
        ("content-type", "application/pdf"),
        ("x-amz-checksum-algorithm", "SHA256"),
    ];
    let ok = verify("POST", url, &headers, now()).unwrap();
    assert_eq!(
        ok.signed_headers,
        ["content-type", "host", "x-amz-checksum-algorithm"]
    );
    // The create URL cannot become a PUT or name another key, type or checksum.
    assert_eq!(
        verify("PUT", url, &headers, now()),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    assert_eq!(
        verify(
            "POST",
            &url.replace("big.pdf", "other.pdf"),
            &headers,
            now()
        ),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    assert_eq!(
        verify(
            "POST",
            url,
            &[
                ("content-type", "text/html"),
                ("x-amz-checksum-algorithm", "SHA256")
            ],
            now()
        ),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    // The size bound still applies: 413 above max_upload_bytes.
    let r = handle(
        &c,
        &creds(),
        now(),
        &post(&upload_body("huge.pdf", "application/pdf", 100 * MIB + 1)),
    );
    assert_error(&r, 413, "too large");
}

#[test]
fn part_urls_sign_each_parts_exact_length_and_sha256() {
    let c = multipart_config();
    let size = 12 * MIB + 3; // parts of 5, 5 and 2 MiB + 3 bytes
    let r = ask_parts(&c, size, &[3, 1]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["expiresAt"], "2026-11-28T16:05:00Z");
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    for (part, (n, len)) in parts.iter().zip([(3, 2 * MIB + 3), (1, 5 * MIB)]) {
        assert_eq!(part["partNumber"], n);
        assert_eq!(part["method"], "PUT");
        let length = len.to_string();
        assert_eq!(
            part["headers"],
            serde_json::json!({"content-length": length, "x-amz-checksum-sha256": SHA_ABC})
        );
        let url = part["url"].as_str().unwrap();
        let (_, path, query) = split_url(url);
        assert_eq!(path, format!("/{}", encode_key_path(KEY)));
        assert!(
            query.starts_with(&format!(
                "partNumber={n}&uploadId={}&X-Amz-",
                uri_encode(UPLOAD_ID)
            )),
            "{query}"
        );
        let good = [
            ("content-length", length.as_str()),
            ("x-amz-checksum-sha256", SHA_ABC),
        ];
        verify("PUT", url, &good, now()).unwrap();
        // One byte more, other bytes, another part number or another upload: refused.
        let longer = (len + 1).to_string();
        for headers in [
            [
                ("content-length", longer.as_str()),
                ("x-amz-checksum-sha256", SHA_ABC),
            ],
            [
                ("content-length", length.as_str()),
                ("x-amz-checksum-sha256", SHA_EMPTY),
            ],
        ] {
            assert_eq!(
                verify("PUT", url, &headers, now()),
                Err(VerifyError::SignatureDoesNotMatch)
            );
        }
        for edited in [
            url.replacen(&format!("partNumber={n}"), "partNumber=4", 1),
            url.replacen("uploadId=VXBs", "uploadId=WXBs", 1),
        ] {
            assert_ne!(&edited, url);
            assert_eq!(
                verify("PUT", &edited, &good, now()),
                Err(VerifyError::SignatureDoesNotMatch)
            );
        }
    }
}

#[test]
fn part_requests_outside_the_plan_are_refused() {
    let c = multipart_config();
    let size = 12 * MIB; // 3 parts
    for (numbers, needle) in [
        (&[4][..], "partNumber 4 is outside 1..3"),
        (&[0][..], "partNumber 0 is outside 1..3"),
        (&[1, 1][..], "partNumber 1 is asked for twice"),
    ] {
        assert_error(&ask_parts(&c, size, numbers), 400, needle);
    }
    assert_error(
        &ask_parts(&c, 100 * MIB + 1, &[1]),
        400,
        "over the 104857600",
    );
    let all: Vec<u64> = (1..=1001).collect();
    let big = env(&[
        ("PRESIGNER_MAX_UPLOAD_BYTES", "10737418240"),
        ("PRESIGNER_PART_SIZE_BYTES", "5242880"),
    ]);
    assert_error(
        &ask_parts(&big, 10 * 1024 * MIB, &all),
        400,
        "asks for 1001 parts; ask for at most 1000 at a time",
    );

    let ask = |body: Value| handle(&c, &creds(), now(), &post_to("/uploads/parts", body));
    let part = serde_json::json!([{"partNumber": 1, "sha256": SHA_ABC}]);
    for (body, needle) in [
        (
            serde_json::json!({"key": "other/x.pdf", "uploadId": UPLOAD_ID, "size": size, "parts": part}),
            "key must name an object under uploads/",
        ),
        (
            serde_json::json!({"key": "uploads/../x.pdf", "uploadId": UPLOAD_ID, "size": size, "parts": part}),
            "'..'",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": "a b", "size": size, "parts": part}),
            "uploadId must be",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": "", "size": size, "parts": part}),
            "uploadId must be",
        ),
        (
            serde_json::json!({"key": KEY, "size": size, "parts": part}),
            "uploadId is required",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "parts": part}),
            "size is required",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size, "parts": []}),
            "parts must not be empty",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size, "parts": [1]}),
            "parts[0] must be an object",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size,
                               "parts": [{"partNumber": 1}]}),
            "parts[0].sha256 is required",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size,
                               "parts": [{"partNumber": 1.5, "sha256": SHA_ABC}]}),
            "parts[0].partNumber must be a whole number",
        ),
        (
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size,
                               "parts": [{"partNumber": 1, "sha256": "abc"}]}),
            "parts[0].sha256 must be the base64",
        ),
    ] {
        assert_error(&ask(body), 400, needle);
    }
    // Other methods are 405 with Allow: POST.
    let mut get = post_to("/uploads/parts", Value::Null);
    get.method = "GET".into();
    let r = handle(&c, &creds(), now(), &get);
    assert_error(&r, 405, "accepts POST");
    assert_eq!(r.header("allow"), Some("POST"));
}

/// However a client lies about the size from one request to the next, the longest part it
/// can get signed for each part number adds up to less than `max_upload_bytes` plus one part
/// (S3 keeps one body per part number).
#[test]
fn no_sequence_of_part_requests_can_store_more_than_the_bound() {
    let c = multipart_config();
    let max = c.max_upload_bytes;
    let p = c.part_size_bytes;
    let mut longest: HashMap<u64, u64> = HashMap::new();
    let mut sizes = vec![1, p - 1, p, p + 1, max - 1, max, max + 1, u64::MAX];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes.push(1 + x % (max + p));
    }
    for size in sizes {
        let numbers: Vec<u64> = (1..=c.part_count(max) + 2).collect();
        for chunk in numbers.chunks(1) {
            let r = ask_parts(&c, size, chunk);
            if r.status != 200 {
                continue;
            }
            for part in json(&r)["parts"].as_array().unwrap() {
                let n = part["partNumber"].as_u64().unwrap();
                let len: u64 = part["headers"]["content-length"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let e = longest.entry(n).or_default();
                *e = (*e).max(len);
            }
        }
    }
    let stored: u64 = longest.values().sum();
    assert!(longest.keys().all(|n| (1..=c.part_count(max)).contains(n)));
    assert!(stored < max + p, "{stored} bytes could be stored");
    assert_eq!(stored, c.part_count(max) * p);
}

#[test]
fn completing_lists_every_part_and_cannot_replace_an_object() {
    let c = multipart_config();
    let size = 12 * MIB;
    let part = |n: u64| serde_json::json!({"partNumber": n, "etag": format!("\"{:032x}\"", n), "sha256": SHA_ABC});
    let complete = |parts: Vec<Value>| {
        handle(
            &c,
            &creds(),
            now(),
            &post_to(
                "/uploads/complete",
                serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID, "size": size, "parts": parts}),
            ),
        )
    };
    let r = complete(vec![part(1), part(2), part(3)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["key"], KEY);
    assert_eq!(v["size"], size);
    assert_eq!(v["method"], "POST");
    assert_eq!(v["headers"], serde_json::json!({"if-none-match": "*"}));
    let body = v["body"].as_str().unwrap();
    assert!(body.starts_with(
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part>\
         <ChecksumSHA256>ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=</ChecksumSHA256>\
         <ETag>&quot;00000000000000000000000000000001&quot;</ETag><PartNumber>1</PartNumber>\
         </Part>"
    ));
    assert_eq!(body.matches("<Part>").count(), 3);
    assert!(body.ends_with("<PartNumber>3</PartNumber></Part></CompleteMultipartUpload>"));
    let url = v["url"].as_str().unwrap();
    let (_, _, query) = split_url(url);
    assert!(
        query.starts_with(&format!("uploadId={}&X-Amz-", uri_encode(UPLOAD_ID))),
        "{query}"
    );
    let ok = verify("POST", url, &[("if-none-match", "*")], now()).unwrap();
    assert_eq!(ok.signed_headers, ["host", "if-none-match"]);
    assert_eq!(
        verify("POST", url, &[], now()),
        Err(VerifyError::MissingSignedHeader("if-none-match".into()))
    );
    // An unquoted ETag is quoted.
    let mut unquoted = part(1);
    unquoted["etag"] = "00000000000000000000000000000001".into();
    assert_eq!(
        json(&complete(vec![unquoted, part(2), part(3)]))["body"],
        v["body"]
    );

    for (parts, needle) in [
        (
            vec![part(1), part(2)],
            "lists 2 parts; an upload of 12582912 bytes has 3",
        ),
        (
            vec![part(1), part(3), part(2)],
            "parts[1] is part 3, expected 2",
        ),
        (vec![part(1), part(2), part(3), part(4)], "outside 1..3"),
        (
            vec![part(2), part(1), part(3)],
            "parts[0] is part 2, expected 1",
        ),
    ] {
        assert_error(&complete(parts), 400, needle);
    }
    let mut bad_tag = part(2);
    bad_tag["etag"] = "\"</ETag><PartNumber>9\"".into();
    assert_error(
        &complete(vec![part(1), bad_tag, part(3)]),
        400,
        "parts[1].etag",
    );
    let mut no_sha = part(3);
    no_sha.as_object_mut().unwrap().remove("sha256");
    assert_error(
        &complete(vec![part(1), part(2), no_sha]),
        400,
        "parts[2].sha256 is required",
    );
}

#[test]
fn abort_is_a_presigned_delete_of_that_upload_only() {
    let c = multipart_config();
    let r = handle(
        &c,
        &creds(),
        now(),
        &post_to(
            "/uploads/abort",
            serde_json::json!({"key": KEY, "uploadId": UPLOAD_ID}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["method"], "DELETE");
    assert_eq!(v["headers"], serde_json::json!({}));
    let url = v["url"].as_str().unwrap();
    verify("DELETE", url, &[], now()).unwrap();
    // Not the object itself, not another upload.
    assert_eq!(
        verify(
            "DELETE",
            &url.replacen("uploadId=VXBs", "uploadId=WXBs", 1),
            &[],
            now()
        ),
        Err(VerifyError::SignatureDoesNotMatch)
    );
    let r = handle(
        &c,
        &creds(),
        now(),
        &post_to(
            "/uploads/abort",
            serde_json::json!({"key": "elsewhere/x", "uploadId": UPLOAD_ID}),
        ),
    );
    assert_error(&r, 400, "under uploads/");
}

#[test]
fn without_auth_the_signed_in_routes_do_not_exist_and_no_token_is_asked_for() {
    for (method, path) in [("GET", "/me"), ("GET", "/files"), ("DELETE", "/files")] {
        let req = Request {
            method: method.into(),
            path: path.into(),
            ..Default::default()
        };
        let r = handle(&config(), &creds(), now(), &req);
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(r.header("www-authenticate"), None);
    }
    let r = handle(
        &config(),
        &creds(),
        now(),
        &post(r#"{"filename":"a.png","contentType":"image/png","size":3}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn with_auth_every_route_needs_a_token_before_anything_else() {
    let mut with_auth = config();
    with_auth.auth = Some(crate::auth::AuthConfig {
        issuer: "https://login.example.com".into(),
        audiences: vec!["spa".into()],
        jwks_uri: None,
        files: crate::auth::Files::Own,
        quota: None,
    });
    for (method, path, body) in [
        ("POST", "/uploads", "{}"),
        ("POST", "/uploads/parts", "not json"),
        ("POST", "/uploads/complete", ""),
        ("POST", "/uploads/abort", ""),
        ("GET", "/downloads", ""),
        ("GET", "/me", ""),
        ("GET", "/files", ""),
        ("DELETE", "/files", ""),
    ] {
        let req = Request {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        };
        let r = handle(&with_auth, &creds(), now(), &req);
        assert_eq!(r.status, 401, "{method} {path}: {}", r.body);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
}
