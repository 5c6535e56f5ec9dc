//! URLs issued by `presigner::handle` (the Lambda's code path), used against a local S3 that
//! checks SigV4 presigned requests the way S3 does: s3s with `SimpleAuth` holding the test
//! credentials, storing objects in a temporary directory through s3s-fs.
//!
//! s3s verifies the signature over the method, path, query and every signed header
//! (`content-length`, `content-type`, `if-none-match`, `x-amz-checksum-sha256`, `host` for an
//! upload), and the expiry, so a refused request here is refused for the reasons S3 would
//! refuse it. s3s-fs answers `If-None-Match: *` with 412 and completes uploads in parts; where
//! it is more lenient than S3 (a part's SHA-256, an upload ID used with another key, an object
//! kept after BadDigest), the wrapper in front of it answers as S3 documents.

use futures_util::StreamExt as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use presigner::{
    encode_key_path, handle, sanitize_filename, uri_encode, Config, Credentials, Request,
};
use s3s::auth::SimpleAuth;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    GetObjectInput, GetObjectOutput, PutObjectInput, PutObjectOutput, UploadPartInput,
    UploadPartOutput,
};
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

/// What s3s-fs 0.14 does not check but S3 does, kept here (see [`ShortNames`]'s multipart
/// methods): an upload ID belongs to one key, and a part sent with `x-amz-checksum-sha256`
/// must match it (400 BadDigest).
#[derive(Default)]
struct Uploads(std::sync::Mutex<std::collections::HashMap<String, String>>);

/// s3s-fs names each object's metadata file after the base64 of its bucket and key, which
/// passes the filesystem's 255-byte name limit for keys over about 160 bytes (S3 allows 1024).
/// Longer keys are stored under a shorter name; s3s has verified the signature over the real
/// key before this is reached.
struct ShortNames(s3s_fs::FileSystem, Uploads);

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
        // s3s-fs checks a sent checksum only after writing the object; S3 stores nothing.
        if let Some(sent) = req.input.checksum_sha256.clone() {
            let bytes = collect(req.input.body.take()).await?;
            if sent != base64_sha256(&bytes) {
                return Err(bad_digest());
            }
            req.input.body = Some(s3s::Body::from(Bytes::from(bytes)).into());
        }
        self.0.put_object(req).await
    }

    async fn get_object(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.0.get_object(req).await
    }

    async fn create_multipart_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        req.input.key = stored_key(&req.input.key);
        let key = req.input.key.clone();
        let out = self.0.create_multipart_upload(req).await?;
        if let Some(id) = &out.output.upload_id {
            self.1 .0.lock().unwrap().insert(id.clone(), key);
        }
        Ok(out)
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.check_upload(&req.input.upload_id, &req.input.key)?;
        let bytes = collect(req.input.body.take()).await?;
        let digest = base64_sha256(&bytes);
        if let Some(sent) = &req.input.checksum_sha256 {
            if *sent != digest {
                return Err(bad_digest());
            }
        }
        req.input.body = Some(s3s::Body::from(Bytes::from(bytes)).into());
        let mut out = self.0.upload_part(req).await?;
        out.output.checksum_sha256 = Some(digest);
        Ok(out)
    }

    async fn complete_multipart_upload(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.check_upload(&req.input.upload_id, &req.input.key)?;
        // s3s-fs does not know checksummed parts; the ETags still name the parts.
        if let Some(parts) = req
            .input
            .multipart_upload
            .as_mut()
            .and_then(|m| m.parts.as_mut())
        {
            for p in parts {
                if p.checksum_sha256.take().is_none() {
                    return Err(s3s::s3_error!(InvalidPart, "a part has no ChecksumSHA256"));
                }
            }
        }
        let out = self.0.complete_multipart_upload(req).await?;
        Ok(out)
    }

    async fn abort_multipart_upload(
        &self,
        mut req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        req.input.key = stored_key(&req.input.key);
        self.check_upload(&req.input.upload_id, &req.input.key)?;
        let id = req.input.upload_id.clone();
        let out = self.0.abort_multipart_upload(req).await?;
        self.1 .0.lock().unwrap().remove(&id);
        Ok(out)
    }
}

impl ShortNames {
    /// S3 answers NoSuchUpload to an upload ID used with another key.
    fn check_upload(&self, upload_id: &str, key: &str) -> S3Result<()> {
        match self.1 .0.lock().unwrap().get(upload_id) {
            Some(k) if k == key => Ok(()),
            _ => Err(s3s::s3_error!(
                NoSuchUpload,
                "The specified upload does not exist."
            )),
        }
    }
}

async fn collect(body: Option<s3s::dto::StreamingBlob>) -> S3Result<Vec<u8>> {
    let Some(mut blob) = body else {
        return Err(s3s::s3_error!(IncompleteBody));
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = blob.next().await {
        bytes.extend_from_slice(&chunk.map_err(|_| s3s::s3_error!(IncompleteBody))?);
    }
    Ok(bytes)
}

fn bad_digest() -> s3s::S3Error {
    s3s::s3_error!(
        BadDigest,
        "The SHA256 you specified did not match the calculated checksum."
    )
}

fn base64_sha256(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
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
        let mut builder = S3ServiceBuilder::new(ShortNames(fs, Uploads::default()));
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
    etag: Option<String>,
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
    let etag = resp
        .headers()
        .get("etag")
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
        etag,
        body,
    }
}

/// A PUT as the page sends it: the content type and `if-none-match: *`, both signed.
async fn put(url: &str, content_type: &str, payload: &[u8]) -> Reply {
    send(
        "PUT",
        url,
        &[("content-type", content_type), ("if-none-match", "*")],
        payload,
    )
    .await
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

/// The presigner's configuration for uploads in parts: above 6 MiB, parts of 5 MiB, at most
/// 64 MiB.
fn multipart_config(s3: &LocalS3) -> Config {
    let mut c = s3.config("uploads/");
    c.max_upload_bytes = 64 * 1024 * 1024;
    c.multipart_threshold_bytes = 6 * 1024 * 1024;
    c.part_size_bytes = 5 * 1024 * 1024;
    c
}

fn post_json(config: &Config, path: &str, body: Value) -> Value {
    let req = Request {
        method: "POST".into(),
        path: path.into(),
        body: body.to_string().into_bytes(),
        ..Default::default()
    };
    let r = handle(config, &creds(), SystemTime::now(), &req);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// Sends the request an answer describes (`url`, `method`, `headers`, and `body` when given).
async fn send_described(v: &Value, payload: &[u8]) -> Reply {
    let headers: Vec<(String, String)> = v["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "content-length")
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = v["body"].as_str().map(str::as_bytes).unwrap_or(payload);
    send(
        v["method"].as_str().unwrap(),
        v["url"].as_str().unwrap(),
        &headers,
        body,
    )
    .await
}

fn xml_field(reply: &Reply, name: &str) -> String {
    let text = String::from_utf8_lossy(&reply.body);
    text.split_once(&format!("<{name}>"))
        .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
        .map(|(v, _)| v.to_string())
        .unwrap_or_else(|| panic!("no <{name}> in {text}"))
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn a_reused_upload_url_gets_412_and_the_first_bytes_stay() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let first = b"%PDF-1.7 first";
    let (key, url) = issue_upload(
        &config,
        &creds(),
        SystemTime::now(),
        "a.pdf",
        "application/pdf",
        first.len(),
    );
    assert_eq!(put(&url, "application/pdf", first).await.status, 200);
    let again = put(&url, "application/pdf", b"%PDF-1.7 other").await;
    assert_eq!(
        again.status,
        412,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(again.code(), "PreconditionFailed");
    // Without the header the signature does not hold.
    let bare = send(
        "PUT",
        &url,
        &[("content-type", "application/pdf")],
        b"%PDF-1.7 other",
    )
    .await;
    assert_eq!(bare.status, 403);
    assert_eq!(get(&download_url(&config, &key)).await.body, first);
}

#[tokio::test]
async fn a_single_put_with_other_bytes_than_its_sha256_is_refused() {
    let s3 = LocalS3::start().await;
    let config = s3.config("uploads/");
    let payload = b"%PDF-1.7 exact bytes";
    let req = Request {
        method: "POST".into(),
        path: "/uploads".into(),
        body: serde_json::json!({"filename": "a.pdf", "contentType": "application/pdf",
                                 "size": payload.len(), "sha256": base64_sha256(payload)})
        .to_string()
        .into_bytes(),
        ..Default::default()
    };
    let v: Value =
        serde_json::from_str(&handle(&config, &creds(), SystemTime::now(), &req).body).unwrap();
    let key = v["key"].as_str().unwrap();
    let mut other = payload.to_vec();
    other[9] ^= 1;
    let refused = send_described(&v, &other).await;
    assert_eq!(
        refused.status,
        400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(refused.code(), "BadDigest");
    assert!(!s3.object_path(key).exists(), "nothing stored");
    let ok = send_described(&v, payload).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(get(&download_url(&config, key)).await.body, payload);
}

/// Create, parts (out of order, one of them first sent with other bytes), complete: every
/// step a presigned request the presigner handed out, checked by s3s as S3 checks it.
#[tokio::test]
async fn an_upload_in_parts_is_exact_and_completes_once() {
    let s3 = LocalS3::start().await;
    let config = multipart_config(&s3);
    let data = pseudo_random(13 * 1024 * 1024 + 5, 7);
    let plan = post_json(
        &config,
        "/uploads",
        serde_json::json!({"filename": "big.pdf", "contentType": "application/pdf",
                           "size": data.len()}),
    );
    assert_eq!(plan["method"], "MULTIPART");
    assert_eq!(plan["partCount"], 3);
    let key = plan["key"].as_str().unwrap().to_string();
    let created = send_described(&plan["create"], b"").await;
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let upload_id = xml_field(&created, "UploadId");

    let p = config.part_size_bytes as usize;
    let chunk = |n: usize| &data[(n - 1) * p..(n * p).min(data.len())];
    let wanted: Vec<Value> = [3, 1, 2]
        .iter()
        .map(|n| serde_json::json!({"partNumber": n, "sha256": base64_sha256(chunk(*n))}))
        .collect();
    let asked = post_json(
        &config,
        "/uploads/parts",
        serde_json::json!({"key": key, "uploadId": upload_id, "size": data.len(),
                           "parts": wanted}),
    );
    let mut etags = std::collections::BTreeMap::new();
    for part in asked["parts"].as_array().unwrap() {
        let n = part["partNumber"].as_u64().unwrap() as usize;
        // Other bytes of the same length: BadDigest.
        let mut other = chunk(n).to_vec();
        other[0] ^= 0xff;
        let refused = send_described(part, &other).await;
        assert_eq!(refused.status, 400, "part {n}");
        assert_eq!(refused.code(), "BadDigest", "part {n}");
        // One byte more than signed: the signature does not hold.
        let longer = [chunk(n), b"!"].concat();
        assert_eq!(send_described(part, &longer).await.status, 403, "part {n}");
        let ok = send_described(part, chunk(n)).await;
        assert_eq!(
            ok.status,
            200,
            "part {n}: {}",
            String::from_utf8_lossy(&ok.body)
        );
        etags.insert(n, ok.etag.expect("S3 answers a part's ETag"));
    }
    // A part URL for another key (same upload ID) fails at S3.
    let first = asked["parts"][0]["url"].as_str().unwrap();
    let moved = first.replacen("big.pdf", "big2.pdf", 1);
    assert_eq!(
        send("PUT", &moved, &[], chunk(3)).await.status,
        403,
        "the key is signed"
    );

    let parts: Vec<Value> = etags
        .iter()
        .map(|(n, e)| {
            serde_json::json!({"partNumber": n, "etag": e,
                                         "sha256": base64_sha256(chunk(*n))})
        })
        .collect();
    let complete = post_json(
        &config,
        "/uploads/complete",
        serde_json::json!({"key": key, "uploadId": upload_id, "size": data.len(),
                           "parts": parts}),
    );
    let done = send_described(&complete, b"").await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert!(
        xml_field(&done, "ETag").contains("-3"),
        "an ETag of 3 parts"
    );
    let back = get(&download_url(&config, &key)).await;
    assert_eq!(back.body.len(), data.len());
    assert!(back.body == data, "the bytes stored are the bytes sent");

    // A second upload for the same key cannot replace it: 412 at complete.
    let again = send_described(&plan["create"], b"").await;
    let id2 = xml_field(&again, "UploadId");
    let one = post_json(
        &config,
        "/uploads/parts",
        serde_json::json!({"key": key, "uploadId": id2, "size": 1,
            "parts": [{"partNumber": 1, "sha256": base64_sha256(b"x")}]}),
    );
    let part = send_described(&one["parts"][0], b"x").await;
    assert_eq!(part.status, 200);
    let complete2 = post_json(
        &config,
        "/uploads/complete",
        serde_json::json!({"key": key, "uploadId": id2, "size": 1,
            "parts": [{"partNumber": 1, "etag": part.etag.unwrap(),
                       "sha256": base64_sha256(b"x")}]}),
    );
    let refused = send_described(&complete2, b"").await;
    assert_eq!(
        refused.status,
        412,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(
        get(&download_url(&config, &key)).await.body.len(),
        data.len()
    );

    // Abort: the presigned DELETE ends the second upload; its parts can no longer be sent.
    let abort = post_json(
        &config,
        "/uploads/abort",
        serde_json::json!({"key": key, "uploadId": id2}),
    );
    let aborted = send_described(&abort, b"").await;
    assert_eq!(
        aborted.status,
        204,
        "{}",
        String::from_utf8_lossy(&aborted.body)
    );
    let late = send_described(&one["parts"][0], b"x").await;
    assert_eq!(late.status, 404);
    assert_eq!(late.code(), "NoSuchUpload");
}
