//! Properties of `presigner::handle` over arbitrary requests: any method, path, query, headers
//! and body (raw bytes or JSON-ish) gets a JSON answer, never a panic and never a 5xx. The
//! one documented 5xx, 503 for expired signing credentials, cannot happen here: the
//! credentials never expire or expire far after the signing time.
//!
//! Every URL that is issued also verifies (with `presigner::verify`) for exactly the method,
//! key and headers it was issued for.

use presigner::verify::{parse_query, verify_presigned, PresignedRequest};
use presigner::{
    handle_with_log, sanitize_filename, validate_download_key, Config, Credentials, Request,
    MAX_FILENAME_BYTES,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken";
const MAX_UPLOAD: u64 = 10_485_760;

fn config(variant: u8) -> Config {
    let (types, downloads, endpoint) = match variant % 4 {
        0 => ("image/png,image/jpeg,application/pdf", "true", ""),
        1 => ("*/*", "false", ""),
        2 => ("image/*", "true", "http://127.0.0.1:9000"),
        _ => ("application/pdf", "true", "https://s3.example.test/base"),
    };
    // Every other set of four answers under a base path, as behind CloudFront.
    let base = if variant & 4 != 0 { "/api" } else { "" };
    let max = MAX_UPLOAD.to_string();
    let env = [
        ("PRESIGNER_BASE_PATH", base),
        ("PRESIGNER_BUCKET", "acme-docs-files"),
        ("AWS_REGION", "eu-central-1"),
        ("PRESIGNER_UPLOADS_PREFIX", "uploads/"),
        ("PRESIGNER_URL_EXPIRY_SECONDS", "300"),
        ("PRESIGNER_MAX_UPLOAD_BYTES", max.as_str()),
        ("PRESIGNER_ALLOWED_CONTENT_TYPES", types),
        ("PRESIGNER_ALLOW_DOWNLOADS", downloads),
        ("PRESIGNER_S3_ENDPOINT", endpoint),
    ];
    Config::from_lookup(|k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "get", "post", "PUT", "DELETE", "OPTIONS", "HEAD"])
            .prop_map(String::from),
        1 => any::<String>(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "/uploads", "/uploads/", "/downloads", "/downloads/",
            "/api/uploads", "/api/uploads/", "/api/downloads", "/api/downloads/",
        ])
        .prop_map(String::from),
        1 => "(/api)?/(uploads|downloads|UPLOADS)[/%.a-z0-9]{0,8}",
        1 => any::<String>(),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        // Keys that may be fine, percent-encoded.
        3 => "uploads(/[a-z0-9 ._%+()-]{1,12}){1,4}"
            .prop_map(|k| format!("key={}", presigner::uri_encode(&k))),
        // Keys with traversal pieces, other prefixes and empty segments.
        2 => "(uploads|other|\\.\\.|)(/[a-z0-9. _%+-]{0,12}|/\\.\\.|/\\.|/){1,4}"
            .prop_map(|k| format!("key={}", presigner::uri_encode(&k))),
        // Raw (not encoded) keys with broken escapes and separators.
        1 => "key=[ -~]{0,60}",
        1 => any::<String>().prop_map(|k| format!("key={}", presigner::uri_encode(&k))),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        prop::collection::vec(any::<String>(), 0..3).prop_map(|v| json!(v)),
    ]
}

fn content_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "image/png", "IMAGE/PNG ", "application/pdf", "text/plain", "image/svg+xml",
            "image/jpeg", "application/PDF", "image/webp",
            "image/*", "*/*", "image/png; charset=utf-8", "image", "/", "",
        ])
        .prop_map(Value::from),
        1 => "[a-z*]{0,8}/[a-z0-9.+*-]{0,8}".prop_map(Value::from),
        1 => json_value(),
    ]
}

fn size() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0..100_000u64).prop_map(Value::from),
        1 => (MAX_UPLOAD - 1..=MAX_UPLOAD + 1).prop_map(Value::from),
        1 => json_value(),
    ]
}

/// JSON objects with some of the expected fields (of any type) and some extra ones, sometimes
/// cut short.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::option::weighted(
            0.9,
            prop_oneof![3 => any::<String>().prop_map(Value::from), 1 => json_value()],
        ),
        prop::option::weighted(0.9, content_type()),
        prop::option::weighted(0.9, size()),
        prop::collection::vec(("[a-zA-Z]{1,10}", json_value()), 0..3),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(|(filename, ct, size, extra, cut)| {
            let mut m = serde_json::Map::new();
            for (k, v) in extra {
                m.insert(k, v);
            }
            for (k, v) in [("filename", filename), ("contentType", ct), ("size", size)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            let mut bytes = Value::Object(m).to_string().into_bytes();
            if let Some(at) = cut {
                bytes.truncate(at.index(bytes.len() + 1));
            }
            bytes
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => json_body(),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        // Around the 16 KiB body limit.
        1 => (16_000usize..17_000).prop_map(|n| {
            let name = "a".repeat(n);
            json!({"filename": name, "contentType": "image/png", "size": 1}).to_string().into_bytes()
        }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        method(),
        path(),
        query(),
        prop::collection::vec((any::<String>(), any::<String>()), 0..3),
        body(),
    )
        .prop_map(|(method, path, query, headers, body)| Request {
            method,
            path,
            query,
            headers,
            body,
        })
}

/// Signing times from 1970 to the 23rd century, to any millisecond.
fn signing_time() -> impl Strategy<Value = SystemTime> {
    (0u64..7_000_000_000_000).prop_map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
}

fn creds(expires_at: Option<SystemTime>) -> Credentials {
    Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        session_token: Some(TOKEN.into()),
        expires_at,
    }
}

/// Checks a signed URL as S3 would, with the request carrying `headers`.
fn verifies(method: &str, url: &str, headers: &[(String, String)], now: SystemTime) {
    let rest = url.split_once("://").unwrap().1;
    let (host, path_query) = rest.split_at(rest.find('/').unwrap());
    let (path, query) = path_query.split_once('?').unwrap();
    let host = host.to_string();
    let req = PresignedRequest {
        method,
        host: &host,
        raw_path: path,
        raw_query: query,
        headers,
    };
    let secret = |k: &str| (k == ACCESS_KEY).then(|| SECRET.to_string());
    verify_presigned(&req, secret, now).unwrap_or_else(|e| panic!("{url}: {e}"));
    let params = parse_query(query).unwrap();
    assert!(params
        .iter()
        .any(|(k, v)| k == "X-Amz-Expires" && v == "300"));
}

fn check(variant: u8, req: &Request, now: SystemTime, expires_at: Option<SystemTime>) {
    let config = config(variant);
    let (resp, log) = handle_with_log(&config, &creds(expires_at), now, req);
    assert!(
        matches!(resp.status, 200 | 400 | 404 | 405 | 413 | 415),
        "status {} for {req:?}: {}",
        resp.status,
        resp.body
    );
    assert_eq!(log.status, resp.status);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let line = log.to_json_line(Duration::from_micros(7), Some("id"));
    assert!(!line.contains('\n'));
    for secret in [SECRET, TOKEN, "X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!line.contains(secret), "{line}");
    }
    if let Some(base) = &config.base_path {
        if !req.path.starts_with(&format!("{base}/")) {
            assert_eq!(resp.status, 404, "{} is outside {base}", req.path);
        }
    }
    let v: Value = serde_json::from_str(&resp.body).expect("a JSON body");
    let obj = v.as_object().expect("a JSON object");
    if resp.status != 200 {
        assert_eq!(obj.len(), 1, "{}", resp.body);
        assert!(obj["error"].is_string(), "{}", resp.body);
        assert_eq!(log.key, None);
        return;
    }
    let key = log.key.as_deref().expect("a key is logged on success");
    assert!(key.starts_with(&config.uploads_prefix), "{key}");
    validate_download_key(&config, key).unwrap();
    let url = obj["url"].as_str().unwrap();
    if log.route == "uploads" {
        assert_eq!(obj["key"], key);
        let last = key.rsplit('/').next().unwrap();
        assert!(last.len() <= MAX_FILENAME_BYTES);
        let fields: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            last,
            sanitize_filename(fields["filename"].as_str().unwrap())
        );
        let headers: Vec<(String, String)> = obj["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        verifies("PUT", url, &headers, now);
    } else {
        assert_eq!(log.route, "downloads");
        verifies("GET", url, &[], now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 768,
        // A failure prints its minimal input; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_request_gets_json_and_never_a_5xx(
        variant in any::<u8>(),
        req in request(),
        now in signing_time(),
        // Unknown expiry (Lambda), or credentials that outlive every URL.
        expires_in in prop::option::of(3_600u64..86_400 * 7),
    ) {
        check(variant, &req, now, expires_in.map(|s| now + Duration::from_secs(s)));
    }

    #[test]
    fn any_upload_body_gets_json_and_never_a_5xx(variant in any::<u8>(), body in body(), now in signing_time()) {
        let path = format!("{}/uploads", config(variant).base_path.unwrap_or_default());
        let req = Request { method: "POST".into(), path, body, ..Default::default() };
        check(variant, &req, now, None);
    }

    #[test]
    fn any_download_query_gets_json_and_never_a_5xx(variant in any::<u8>(), query in query(), now in signing_time()) {
        let path = format!("{}/downloads", config(variant).base_path.unwrap_or_default());
        let req = Request { method: "GET".into(), path, query, ..Default::default() };
        check(variant, &req, now, None);
    }
}
