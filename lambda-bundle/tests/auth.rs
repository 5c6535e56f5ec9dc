//! Signed-in users and their folders (SPEC.md section 6), end to end over real HTTP: the
//! presigner's own HTTP client (`Services::network`) reads an issuer's discovery document and
//! JWKS from a small server on loopback, and makes its S3 calls (ListObjectsV2, DeleteObject,
//! CreateMultipartUpload) to s3s-fs, which checks every presigned signature as S3 does. The
//! test then uses the URLs it hands out as a browser would.

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use presigner::{handle_with_services, Config, Credentials, Request, Response, Services};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde_json::{json, Value};
use sha2::Digest as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const BUCKET: &str = "acme-docs-files";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const CLIENT: &str = "spa-client";
const RSA_A: &str = include_str!("fixtures/keys/rsa-a.pem");
const JWKS: &str = include_str!("fixtures/keys/public-jwks.json");
const MIB: u64 = 1024 * 1024;

/// s3s-fs over a temporary directory, on its own thread and runtime (the presigner's client
/// blocks, as it does in the Lambda).
struct LocalS3 {
    endpoint: String,
    root: tempfile::TempDir,
}

impl LocalS3 {
    fn start() -> LocalS3 {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let service = service.clone();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        LocalS3 { endpoint, root }
    }
}

/// An OpenID Connect issuer on loopback: discovery and a JWKS with the fixtures' keys, one
/// request per connection, counted.
struct Issuer {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl Issuer {
    fn start() -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pool", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let (count, issuer) = (requests.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("");
                let body = if path.ends_with("/.well-known/openid-configuration") {
                    json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json")})
                } else if path.ends_with("/jwks.json") {
                    let all: Value = serde_json::from_str(JWKS).unwrap();
                    json!({"keys": [all["rsa-a"], all["ec-p256"]]})
                } else {
                    Value::Null
                };
                let (status, body) = match body {
                    Value::Null => ("404 Not Found", String::new()),
                    b => ("200 OK", b.to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: \
                     {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Issuer { url, requests }
    }
}

struct Stack {
    s3: LocalS3,
    issuer: Issuer,
    config: Config,
    services: Services,
}

fn stack(extra: &[(&str, &str)]) -> Stack {
    let s3 = LocalS3::start();
    let issuer = Issuer::start();
    let mut env: Vec<(String, String)> = [
        ("PRESIGNER_BUCKET", BUCKET),
        ("AWS_REGION", "eu-central-1"),
        ("PRESIGNER_UPLOADS_PREFIX", "uploads/"),
        ("PRESIGNER_URL_EXPIRY_SECONDS", "300"),
        ("PRESIGNER_MAX_UPLOAD_BYTES", "20971520"),
        ("PRESIGNER_MULTIPART_THRESHOLD_BYTES", "5242880"),
        ("PRESIGNER_PART_SIZE_BYTES", "5242880"),
        ("PRESIGNER_ALLOWED_CONTENT_TYPES", "*/*"),
        ("PRESIGNER_ALLOW_DOWNLOADS", "true"),
        ("PRESIGNER_AUTH_AUDIENCES", CLIENT),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push(("PRESIGNER_S3_ENDPOINT".into(), s3.endpoint.clone()));
    env.push(("PRESIGNER_AUTH_ISSUER".into(), issuer.url.clone()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    let config = Config::from_lookup(|k| {
        env.iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    Stack {
        s3,
        issuer,
        config,
        services: Services::network(),
    }
}

fn creds() -> Credentials {
    Credentials::from_lookup(|k| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.into()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET.into()),
        _ => None,
    })
    .unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(issuer: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-a".into());
    let now = now_secs();
    let claims = json!({"iss": issuer, "aud": CLIENT, "sub": sub, "iat": now, "exp": now + 3600});
    let key = EncodingKey::from_rsa_pem(RSA_A.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

struct User<'a> {
    stack: &'a Stack,
    token: String,
}

impl Stack {
    fn user(&self, sub: &str) -> User<'_> {
        User {
            stack: self,
            token: token(&self.issuer.url, sub),
        }
    }
}

/// One answer of the presigner: status and JSON body (`Null` for none).
fn answer(r: Response) -> (u16, Value) {
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&r.body).unwrap()
    };
    (r.status, body)
}

impl User<'_> {
    fn ask(&self, method: &str, path: &str, query: &str, body: Value) -> (u16, Value) {
        let req = Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![("authorization".into(), format!("Bearer {}", self.token))],
            body: if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
        };
        let s = self.stack;
        answer(handle_with_services(&s.config, &creds(), SystemTime::now(), &req, &s.services).0)
    }

    /// Uploads `bytes` as `name` through the URLs the presigner hands out; the key.
    fn upload(&self, name: &str, bytes: &[u8]) -> String {
        let (status, a) = self.ask(
            "POST",
            "/uploads",
            "",
            json!({"filename": name, "contentType": "application/octet-stream", "size": bytes.len()}),
        );
        assert_eq!(status, 200, "{a}");
        let key = a["key"].as_str().unwrap().to_string();
        if a["method"] == "PUT" {
            let mut req = agent().put(a["url"].as_str().unwrap());
            for (k, v) in a["headers"].as_object().unwrap() {
                req = req.header(k.as_str(), v.as_str().unwrap());
            }
            let r = req.send(bytes).unwrap();
            assert_eq!(r.status(), 200);
            return key;
        }
        assert!(a.get("create").is_none(), "a reusable create URL: {a}");
        let upload_id = a["uploadId"].as_str().expect("uploadId").to_string();
        let part_size = a["partSize"].as_u64().unwrap() as usize;
        let chunks: Vec<&[u8]> = bytes.chunks(part_size).collect();
        let parts: Vec<Value> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"partNumber": i + 1, "sha256": sha256(c)}))
            .collect();
        let fields =
            json!({"key": key, "uploadId": upload_id, "size": bytes.len(), "parts": parts});
        let (status, p) = self.ask("POST", "/uploads/parts", "", fields);
        assert_eq!(status, 200, "{p}");
        let mut done = Vec::new();
        for (i, part) in p["parts"].as_array().unwrap().iter().enumerate() {
            let mut req = agent().put(part["url"].as_str().unwrap());
            for (k, v) in part["headers"].as_object().unwrap() {
                req = req.header(k.as_str(), v.as_str().unwrap());
            }
            let r = req.send(chunks[i]).unwrap();
            assert_eq!(r.status(), 200);
            let etag = r.headers()["etag"].to_str().unwrap().to_string();
            done.push(json!({"partNumber": i + 1, "etag": etag, "sha256": sha256(chunks[i])}));
        }
        let (status, c) = self.ask(
            "POST",
            "/uploads/complete",
            "",
            json!({"key": key, "uploadId": upload_id, "size": bytes.len(), "parts": done}),
        );
        assert_eq!(status, 200, "{c}");
        let mut req = agent().post(c["url"].as_str().unwrap());
        for (k, v) in c["headers"].as_object().unwrap() {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
        let r = req.send(c["body"].as_str().unwrap()).unwrap();
        assert_eq!(r.status(), 200);
        key
    }

    fn download(&self, key: &str) -> (u16, Value) {
        self.ask(
            "GET",
            "/downloads",
            &format!("key={}", enc(key)),
            Value::Null,
        )
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

fn enc(s: &str) -> String {
    presigner::uri_encode(s)
}

fn fetch(url: &str) -> Vec<u8> {
    let mut r = agent().get(url).call().unwrap();
    assert_eq!(r.status(), 200);
    let mut out = Vec::new();
    r.body_mut().as_reader().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn each_user_works_in_a_folder_of_their_own() {
    let s = stack(&[]);
    let (alice, bob) = (s.user("alice"), s.user("bob"));

    let small = alice.upload("notes.txt", b"hello");
    assert!(small.starts_with("uploads/alice/"), "{small}");
    let big_bytes: Vec<u8> = (0..6 * MIB).map(|i| (i % 251) as u8).collect();
    let big = alice.upload("scan.bin", &big_bytes);
    assert!(big.starts_with("uploads/alice/"), "{big}");

    // Alice sees both, Bob nothing.
    let (status, me) = alice.ask("GET", "/me", "", Value::Null);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"], "alice");
    assert_eq!(me["usage"], json!({"bytes": 5 + 6 * MIB, "files": 2}));
    assert_eq!(me["quota"], Value::Null);
    let (_, files) = alice.ask("GET", "/files", "", Value::Null);
    let names: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{files}");
    assert!(names.contains(&"notes.txt") && names.contains(&"scan.bin"));
    assert_eq!(files["cursor"], Value::Null);
    let (_, theirs) = bob.ask("GET", "/files", "", Value::Null);
    assert_eq!(theirs["files"], json!([]));

    // Her own download works byte for byte.
    let (status, d) = alice.download(&big);
    assert_eq!(status, 200, "{d}");
    assert_eq!(fetch(d["url"].as_str().unwrap()), big_bytes);

    // Bob can neither download, delete, nor touch her uploads in parts.
    let (status, e) = bob.download(&small);
    assert_eq!(status, 403, "{e}");
    let (status, _) = bob.ask(
        "DELETE",
        "/files",
        &format!("key={}", enc(&small)),
        Value::Null,
    );
    assert_eq!(status, 403);
    let fields = json!({"key": big, "uploadId": "abc", "size": 6 * MIB,
        "parts": [{"partNumber": 1, "sha256": sha256(b"x"), "etag": "\"e\""}]});
    for route in ["/uploads/parts", "/uploads/complete", "/uploads/abort"] {
        let (status, e) = bob.ask("POST", route, "", fields.clone());
        assert_eq!(status, 403, "{route}: {e}");
    }

    // Alice deletes one; deleting it again is 404.
    let q = format!("key={}", enc(&small));
    let (status, body) = alice.ask("DELETE", "/files", &q, Value::Null);
    assert_eq!((status, body), (204, Value::Null));
    let (status, _) = alice.ask("DELETE", "/files", &q, Value::Null);
    assert_eq!(status, 404);
    let (_, me) = alice.ask("GET", "/me", "", Value::Null);
    assert_eq!(me["usage"]["files"], 1);
    assert!(
        s.issuer.requests.load(Ordering::SeqCst) <= 2,
        "keys are read once"
    );
    let _ = &s.s3;
}

#[test]
fn with_files_shared_anyone_signed_in_downloads_but_deletes_only_their_own() {
    let s = stack(&[("PRESIGNER_AUTH_FILES", "shared")]);
    let (alice, bob) = (s.user("alice"), s.user("bob"));
    let key = alice.upload("report.pdf", b"%PDF-1.7");
    let (status, d) = bob.download(&key);
    assert_eq!(status, 200, "{d}");
    assert_eq!(fetch(d["url"].as_str().unwrap()), b"%PDF-1.7");
    let (status, _) = bob.ask(
        "DELETE",
        "/files",
        &format!("key={}", enc(&key)),
        Value::Null,
    );
    assert_eq!(status, 403);
}

#[test]
fn quotas_hold_at_their_edges() {
    let s = stack(&[
        ("PRESIGNER_AUTH_QUOTA_FILES", "2"),
        ("PRESIGNER_AUTH_QUOTA_BYTES", "100"),
    ]);
    let alice = s.user("alice");
    let ask = |size: usize| {
        alice.ask(
            "POST",
            "/uploads",
            "",
            json!({"filename": "a.bin", "contentType": "application/octet-stream", "size": size}),
        )
    };
    // 101 bytes in one file: one byte over.
    let (status, e) = ask(101);
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("100"), "{e}");
    alice.upload("a.bin", &[1u8; 60]);
    // 60 + 40 is exactly the limit: accepted; 60 + 41 is not.
    let (status, e) = ask(41);
    assert_eq!(status, 403, "{e}");
    alice.upload("b.bin", &[2u8; 40]);
    let (_, me) = alice.ask("GET", "/me", "", Value::Null);
    assert_eq!(me["usage"], json!({"bytes": 100, "files": 2}));
    assert_eq!(me["quota"], json!({"bytes": 100, "files": 2}));
    // A third file is one file over, whatever its size.
    let q = s.config.auth.as_ref().unwrap().quota.unwrap();
    assert_eq!(q.files, 2);
    let (status, e) = alice.ask(
        "POST",
        "/uploads",
        "",
        json!({"filename": "c.bin", "contentType": "application/octet-stream", "size": 1}),
    );
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("2 files"), "{e}");
    // Another user's usage is their own.
    let bob = s.user("bob");
    bob.upload("c.bin", &[3u8; 100]);
}

#[test]
fn files_are_listed_a_page_at_a_time() {
    let s = stack(&[]);
    let alice = s.user("alice");
    let total = presigner::FILES_PAGE as usize + 5;
    for i in 0..total {
        alice.upload(&format!("f{i:03}.txt"), b"x");
    }
    let (_, first) = alice.ask("GET", "/files", "", Value::Null);
    assert_eq!(first["files"].as_array().unwrap().len(), total - 5);
    let cursor = first["cursor"].as_str().expect("a cursor").to_string();
    assert!(
        !cursor.contains("alice"),
        "the cursor is relative: {cursor}"
    );
    let (_, second) = alice.ask(
        "GET",
        "/files",
        &format!("cursor={}", enc(&cursor)),
        Value::Null,
    );
    assert_eq!(second["files"].as_array().unwrap().len(), 5, "{second}");
    assert_eq!(second["cursor"], Value::Null);
}

#[test]
fn requests_without_a_good_token_reach_neither_s3_nor_the_folder() {
    let s = stack(&[]);
    let req = Request {
        method: "GET".into(),
        path: "/files".into(),
        ..Default::default()
    };
    let (r, _) = handle_with_services(&s.config, &creds(), SystemTime::now(), &req, &s.services);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // A token from another issuer signed with the same key.
    let other = User {
        stack: &s,
        token: token("https://elsewhere.example.com", "alice"),
    };
    let (status, e) = other.ask(
        "POST",
        "/uploads",
        "",
        json!({"filename": "a", "contentType": "text/plain", "size": 1}),
    );
    assert_eq!(status, 401, "{e}");
}

/// The real client, counting the calls that go through it.
struct Counting {
    inner: presigner::io::Http,
    calls: Arc<AtomicUsize>,
}

impl presigner::io::Io for Counting {
    fn send(&self, call: &presigner::io::Call) -> Result<presigner::io::Answer, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.send(call)
    }
}

#[test]
fn a_quota_is_counted_in_one_listing_request_per_thousand_files() {
    let mut s = stack(&[("PRESIGNER_AUTH_QUOTA_FILES", "10000")]);
    let calls = Arc::new(AtomicUsize::new(0));
    s.services = Services::with_io(Box::new(Counting {
        inner: presigner::io::Http::default(),
        calls: calls.clone(),
    }));
    let alice = s.user("alice");
    let folder = s.s3.root.path().join(BUCKET).join("uploads/alice");
    std::fs::create_dir_all(&folder).unwrap();
    let ask = || {
        let before = calls.load(Ordering::SeqCst);
        let (status, a) = alice.ask(
            "POST",
            "/uploads",
            "",
            json!({"filename": "a.txt", "contentType": "text/plain", "size": 1}),
        );
        (status, a, calls.load(Ordering::SeqCst) - before)
    };
    // The first request also reads the issuer's discovery document and keys.
    let (status, _, first) = ask();
    assert_eq!(status, 200);
    assert_eq!(first, 3, "discovery, JWKS, one listing");
    let mut counted = Vec::new();
    let mut made = 0;
    for files in [999, 1_000, 1_001, 9_999, 10_000] {
        while made < files {
            std::fs::write(folder.join(format!("f{made:05}")), b"x").unwrap();
            made += 1;
        }
        let (status, a, requests) = ask();
        counted.push((files, requests));
        if files < 10_000 {
            assert_eq!(status, 200, "{files} files: {a}");
        } else {
            assert_eq!(status, 403, "{files} files: {a}");
        }
    }
    // Printed for the record: S3 requests per POST /uploads against the number of files.
    println!("files -> listing requests per POST /uploads: {counted:?}");
    assert_eq!(
        counted,
        [(999, 1), (1_000, 1), (1_001, 2), (9_999, 10), (10_000, 10)]
    );
    for (files, requests) in counted {
        assert!(
            requests as u64 <= presigner::count_requests(files),
            "{files}"
        );
    }
}
