//! URLs issued by `presigner::handle` (the Lambda's code path), used against a local S3 that
//! checks SigV4 presigned requests the way S3 does: s3s with `SimpleAuth` holding the test
//! credentials, storing objects in a temporary directory through s3s-fs.
//!
//! s3s verifies the signature over the method, path, query and every signed header
//! (`content-length`, `content-type`, `host` for an upload), and the expiry, so a refused
//! request here is refused for the reasons S3 would refuse it.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use presigner::{
    encode_key_path, handle, sanitize_filename, uri_encode, Config, Credentials, Request,
};
use s3s::auth::SimpleAuth;
use s3s::dto::{GetObjectInput, GetObjectOutput, PutObjectInput, PutObjectOutput};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Request, S3Response, S3Result, S3};
use serde_json::Value;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};

const BUCKET: &str = "acme-docs-files";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EXPIRY_SECONDS: u64 = 300;

/// s3s-fs names each object's metadata file after the base64 of its bucket and key, which
/// passes the filesystem's 255-byte name limit for keys over about 160 bytes (S3 allows 1024).
/// Longer keys are stored under a shorter name; s3s has verified the signature over the real
/// key before this is reached.
struct ShortNames(s3s_fs::FileSystem);

const MAX_STORED_KEY_BYTES: usize = 120;

fn stored_key(key: &str) -> String {
    if key.len() <= MAX_STORED_KEY_BYTES {
        return key.to_string();
    }
    let (dir, last) = key.rsplit_once('/').unwrap_or(("", key));
    let mut h = DefaultHasher::new();
    last.hash(&mut h);
    format!("{dir}/long-{:016x}", h.finish())
}

#[async_trait::async_trait]
impl S3 for ShortNames {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.0.put_object(req).await
    }

    async fn get_object(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.0.get_object(req).await
    }
}

/// s3s serving a fresh temporary directory on an ephemeral loopback port.
struct LocalS3 {
    endpoint: String,
    root: tempfile::TempDir,
}

impl LocalS3 {
    async fn start() -> LocalS3 {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(ShortNames(fs));
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
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
        LocalS3 { endpoint, root }
    }

    /// The presigner's configuration, pointed at this server.
    fn config(&self, uploads_prefix: &str) -> Config {
        let expiry = EXPIRY_SECONDS.to_string();
        let env = [
            ("PRESIGNER_BUCKET", BUCKET),
            ("AWS_REGION", "eu-central-1"),
            ("PRESIGNER_UPLOADS_PREFIX", uploads_prefix),
            ("PRESIGNER_URL_EXPIRY_SECONDS", expiry.as_str()),
            ("PRESIGNER_MAX_UPLOAD_BYTES", "10485760"),
            (
                "PRESIGNER_ALLOWED_CONTENT_TYPES",
                "image/png,application/pdf",
            ),
            ("PRESIGNER_ALLOW_DOWNLOADS", "true"),
            ("PRESIGNER_S3_ENDPOINT", self.endpoint.as_str()),
        ];
        Config::from_lookup(|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(stored_key(key))
    }

    /// Puts an object straight into the store, behind the presigner's back.
    fn plant(&self, key: &str, bytes: &[u8]) {
        let path = self.object_path(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        session_token: Some("IQoJb3JpZ2luX2VjEXAMPLE/token+with=special&chars".into()),
        expires_at: None,
    }
}

fn body(r: &presigner::Response) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

/// `POST /uploads` through the handler; returns (key, url).
fn issue_upload(
    config: &Config,
    creds: &Credentials,
    now: SystemTime,
    filename: &str,
    ct: &str,
    size: usize,
) -> (String, String) {
    let req = Request {
        method: "POST".into(),
        path: "/uploads".into(),
        body: serde_json::json!({"filename": filename, "contentType": ct, "size": size})
            .to_string()
            .into_bytes(),
        ..Default::default()
    };
    let r = handle(config, creds, now, &req);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = body(&r);
    assert_eq!(v["headers"]["content-type"], ct);
    assert_eq!(v["headers"]["content-length"], size.to_string());
    (
        v["key"].as_str().unwrap().into(),
        v["url"].as_str().unwrap().into(),
    )
}

/// `GET /downloads?<query>` through the handler.
fn download(config: &Config, query: &str) -> presigner::Response {
    let req = Request {
        method: "GET".into(),
        path: "/downloads".into(),
        query: query.into(),
        ..Default::default()
    };
    handle(config, &creds(), SystemTime::now(), &req)
}

fn download_url(config: &Config, key: &str) -> String {
    let r = download(config, &format!("key={}", uri_encode(key)));
    assert_eq!(r.status, 200, "{key}: {}", r.body);
    body(&r)["url"].as_str().unwrap().into()
}

struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    /// S3's error code, from the XML error body.
    fn code(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_string())
            .unwrap_or_default()
    }
}

/// Sends one HTTP/1.1 request to `url` exactly as given (no path normalisation), the way a
/// browser sends a presigned request: `content-length` comes from the body.
async fn send(method: &str, url: &str, headers: &[(&str, &str)], payload: &[u8]) -> Reply {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path_and_query) = rest.split_at(rest.find('/').unwrap());
    let stream = TcpStream::connect(host).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(payload)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

async fn put(url: &str, content_type: &str, payload: &[u8]) -> Reply {
    send("PUT", url, &[("content-type", content_type)], payload).await
}

async fn get(url: &str) -> Reply {
    send("GET", url, &[], b"").await
}

#[tokio::test]
async fn upload_url_works_only_as_issued() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let payload = b"%PDF-1.7 a test document";
    let (key, url) = issue_upload(
        &config,
        &creds(),
        SystemTime::now(),
        "report.pdf",
        "application/pdf",
        payload.len(),
    );

    let refused = [
        (
            "another content type",
            put(&url, "image/png", payload).await,
        ),
        (
            "with parameters",
            put(&url, "application/pdf; charset=utf-8", payload).await,
        ),
        (
            "a shorter body",
            put(&url, "application/pdf", &payload[1..]).await,
        ),
        (
            "a longer body",
            put(&url, "application/pdf", &[&payload[..], b"!"].concat()).await,
        ),
        (
            "as GET",
            send("GET", &url, &[("content-type", "application/pdf")], b"").await,
        ),
        (
            "another key",
            put(
                &url.replace("report.pdf", "report2.pdf"),
                "application/pdf",
                payload,
            )
            .await,
        ),
        (
            "a changed signature",
            put(&flip_signature(&url), "application/pdf", payload).await,
        ),
        (
            "a longer lifetime",
            put(
                &url.replace(
                    &format!("X-Amz-Expires={EXPIRY_SECONDS}"),
                    "X-Amz-Expires=3600",
                ),
                "application/pdf",
                payload,
            )
            .await,
        ),
    ];
    for (what, reply) in &refused {
        assert_eq!(
            reply.status,
            403,
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.code(), "SignatureDoesNotMatch", "{what}");
    }
    assert!(
        !s3.object_path(&key).exists(),
        "a refused PUT stored nothing"
    );
    assert!(!s3
        .object_path(&key.replace("report.pdf", "report2.pdf"))
        .exists());

    // Exactly as issued: stored with those bytes and that type.
    let ok = put(&url, "application/pdf", payload).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(std::fs::read(s3.object_path(&key)).unwrap(), payload);

    // The download URL fetches the same bytes; it cannot write.
    let durl = download_url(&config, &key);
    let got = get(&durl).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, payload);
    assert_eq!(got.content_type.as_deref(), Some("application/pdf"));
    let overwrite = put(&durl, "application/pdf", b"evil").await;
    assert_eq!(overwrite.status, 403);
    assert_eq!(std::fs::read(s3.object_path(&key)).unwrap(), payload);
    let tampered = get(&flip_signature(&durl)).await;
    assert_eq!(
        (tampered.status, tampered.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
}

fn flip_signature(url: &str) -> String {
    let (head, sig) = url.split_once("X-Amz-Signature=").unwrap();
    let (first, rest) = sig.split_at(1);
    let flipped = if first == "0" { "1" } else { "0" };
    format!("{head}X-Amz-Signature={flipped}{rest}")
}

#[tokio::test]
async fn expired_urls_are_refused() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let long_ago = SystemTime::now() - Duration::from_secs(EXPIRY_SECONDS + 60);
    let (_, url) = issue_upload(&config, &creds(), long_ago, "a.png", "image/png", 3);
    let reply = put(&url, "image/png", b"png").await;
    assert_eq!((reply.status, reply.code().as_str()), (403, "AccessDenied"));

    s3.plant("uploads/old.pdf", b"old");
    let r = handle(
        &config,
        &creds(),
        long_ago,
        &Request {
            method: "GET".into(),
            path: "/downloads".into(),
            query: "key=uploads/old.pdf".into(),
            ..Default::default()
        },
    );
    let reply = get(body(&r)["url"].as_str().unwrap()).await;
    assert_eq!((reply.status, reply.code().as_str()), (403, "AccessDenied"));
}

/// The local S3's checks are real: URLs signed with other credentials are refused, and the
/// same request signed with the right ones goes through.
#[tokio::test]
async fn local_s3_checks_the_signer() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let mut wrong_secret = creds();
    wrong_secret.secret_access_key = "not-the-secret".into();
    let mut unknown_key = creds();
    unknown_key.access_key_id = "AKIAUNKNOWNEXAMPLE00".into();
    for (what, c, code) in [
        ("wrong secret", wrong_secret, "SignatureDoesNotMatch"),
        ("unknown access key", unknown_key, "NotSignedUp"),
    ] {
        let (key, url) = issue_upload(&config, &c, SystemTime::now(), "a.png", "image/png", 3);
        let reply = put(&url, "image/png", b"png").await;
        assert_eq!((reply.status, reply.code().as_str()), (403, code), "{what}");
        assert!(!s3.object_path(&key).exists(), "{what}");
    }
    let (key, url) = issue_upload(
        &config,
        &creds(),
        SystemTime::now(),
        "a.png",
        "image/png",
        3,
    );
    assert_eq!(put(&url, "image/png", b"png").await.status, 200);
    assert!(s3.object_path(&key).exists());
}

#[tokio::test]
async fn hostile_filenames_become_one_safe_segment_end_to_end() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let long = "x".repeat(1000) + ".pdf";
    let names = [
        "../../etc/passwd",
        "../",
        "/",
        "a/b\\c.pdf",
        "nul\0in\0side.pdf",
        "bell\u{7}esc\u{1b}[31mdel\u{7f}c1\u{85}.pdf",
        "line\r\nbreak.pdf",
        long.as_str(),
        "تقرير مالي.pdf",
        "年度报告.pdf",
        "Ελληνικά έγγραφα.pdf",
        "हिन्दी.pdf",
        "👩‍💻 notes.pdf",
        "invoice\u{202E}fdp.exe",
        "50% off + more (1).pdf",
    ];
    for (i, name) in names.iter().enumerate() {
        let payload = format!("document #{i}: {name}").into_bytes();
        let (key, url) = issue_upload(
            &config,
            &creds(),
            SystemTime::now(),
            name,
            "application/pdf",
            payload.len(),
        );
        let segments: Vec<&str> = key.split('/').collect();
        assert_eq!(segments.len(), 6, "{name:?} -> {key}");
        assert_eq!(segments[5], sanitize_filename(name), "{name:?}");
        assert!(
            url.contains(&format!("/{BUCKET}/{}?", encode_key_path(&key))),
            "{url}"
        );

        let reply = put(&url, "application/pdf", &payload).await;
        assert_eq!(
            reply.status,
            200,
            "{name:?}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let stored = s3.object_path(&key);
        assert!(stored.starts_with(s3.root.path().join(BUCKET).join("uploads")));
        assert_eq!(std::fs::read(&stored).unwrap(), payload, "{name:?}");

        let got = get(&download_url(&config, &key)).await;
        assert_eq!(got.status, 200, "{name:?}");
        assert_eq!(got.body, payload, "{name:?}");
    }
}

#[tokio::test]
async fn no_download_url_outside_the_uploads_prefix() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    s3.plant("secret", b"top secret");
    s3.plant("other/x", b"not yours");
    s3.plant("uploads/x", b"yours");

    let long = format!("key=uploads/{}", "a".repeat(2000));
    let queries = [
        "key=../x",
        "key=..%2Fsecret",
        "key=%2E%2E/secret",
        "key=uploads/../secret",
        "key=uploads/%2E%2E/secret",
        "key=uploads/%2e%2e%2fsecret",
        "key=uploads%2F..%2Fsecret",
        "key=uploads%2F..%2F..%2Fsecret",
        "key=uploads/..%5Csecret",
        "key=uploads/./x",
        "key=other/x",
        "key=%6Fther/x",
        "key=secret",
        "key=uploads",
        "key=uploads/",
        "key=uploads//x",
        "key=uploads/x/",
        "key=/uploads/x",
        "key=%2Fuploads%2Fx",
        "key=+uploads/x",
        "key=uploads/x%00",
        "key=uploads/%00/../secret",
        "key=uploads/a%0D%0ASet-Cookie:%20x",
        "key=uploads/%1B[31m",
        "key=uploads/%7F",
        "key=uploads/%C2%85",
        "key=uploads/%ff",
        "key=uploads/%",
        "key=uploads/x&key=other/x",
        "key=",
        "",
        &long,
    ];
    for q in queries {
        let r = download(&config, q);
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        let v = body(&r);
        assert!(
            v.get("url").is_none() && !r.body.contains(&s3.endpoint),
            "{q}: {}",
            r.body
        );
    }

    // The table has teeth: a URL issued for a planted key would have fetched it.
    let yours = get(&download_url(&config, "uploads/x")).await;
    assert_eq!((yours.status, yours.body.as_slice()), (200, &b"yours"[..]));
    let leak = get(&download_url(&s3.config("other/"), "other/x")).await;
    assert_eq!(
        (leak.status, leak.body.as_slice()),
        (200, &b"not yours"[..])
    );

    // A double-encoded dot-dot is a literal segment, not a way out: S3 finds no such object.
    let r = download(&config, "key=uploads/%252E%252E/secret");
    assert_eq!(r.status, 200, "{}", r.body);
    let literal = get(body(&r)["url"].as_str().unwrap()).await;
    assert_eq!(
        (literal.status, literal.code().as_str()),
        (404, "NoSuchKey")
    );
}
