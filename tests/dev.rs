//! `presign-stack dev` end to end over real HTTP: the page and its config, the presigner's API,
//! the documents store's checks (as S3 makes them), CORS, persistence, refusals of malformed
//! input and of any Host but the server's own, and a clean stop on Ctrl-C and SIGTERM.

mod support;

use md5::{Digest, Md5};
use std::time::Duration;
use support::devserver::*;

const BODY: &[u8] = b"hello from the dev test\n";

/// What `POST /uploads` hands out.
struct Upload {
    key: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Upload {
    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

fn ask_upload(dev: &Dev, filename: &str, content_type: &str, size: usize) -> Upload {
    let body = serde_json::json!({"filename": filename, "contentType": content_type, "size": size});
    let r = http(
        "POST",
        &format!("{}uploads", dev.presigner_url),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["method"], "PUT");
    Upload {
        key: v["key"].as_str().unwrap().to_string(),
        url: v["url"].as_str().unwrap().to_string(),
        headers: v["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
    }
}

fn upload(dev: &Dev) -> Upload {
    let up = ask_upload(dev, "notes.txt", "text/plain", BODY.len());
    let r = http("PUT", &up.url, &up.headers(), BODY);
    assert_eq!(r.status, 200, "{}", r.text());
    up
}

#[test]
fn page_config_upload_and_download_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, None);

    // The default data dir sits next to the spec, ignored by git.
    let ignore = dir.path().join(".presign-stack/.gitignore");
    assert_eq!(std::fs::read_to_string(ignore).unwrap(), "*\n");
    assert!(dev.data_dir.ends_with(".presign-stack/dev/devtest-dev"));

    let page = get(&dev.url);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("dev test"));

    let config = get(&format!("{}config.json", dev.url));
    assert_eq!(config.status, 200);
    assert_eq!(config.header("cache-control"), Some("no-cache"));
    let c = config.json();
    assert_eq!(c["presignerUrl"], dev.presigner_url.as_str());
    assert_eq!(c["region"], "eu-central-1");
    assert_eq!(c["maxUploadBytes"], 1048576);
    assert_eq!(c["multipartThresholdBytes"], 67108864);
    assert_eq!(
        c["allowedContentTypes"],
        serde_json::json!(["text/plain", "image/png"])
    );
    assert_eq!(c["allowDownloads"], true);

    // The handler's own refusals come through unchanged.
    let r = http(
        "POST",
        &format!("{}uploads", dev.presigner_url),
        &[("content-type", "application/json")],
        br#"{"filename":"a.gif","contentType":"image/gif","size":3}"#,
    );
    assert_eq!(r.status, 415, "{}", r.text());
    let r = http(
        "POST",
        &format!("{}uploads", dev.presigner_url),
        &[("content-type", "application/json")],
        br#"{"filename":"a.txt","contentType":"text/plain","size":1048577}"#,
    );
    assert_eq!(r.status, 413, "{}", r.text());

    let up = ask_upload(&dev, "notes.txt", "text/plain", BODY.len());
    assert!(
        up.url.starts_with(&dev.documents_url),
        "{} is not in {}",
        up.url,
        dev.documents_url
    );
    assert!(up.key.starts_with("uploads/") && up.key.ends_with("/notes.txt"));
    let put = http("PUT", &up.url, &up.headers(), BODY);
    assert_eq!(put.status, 200, "{}", put.text());
    let etag = format!("\"{}\"", hex::encode(Md5::digest(BODY)));
    assert_eq!(put.header("etag"), Some(etag.as_str()));

    let url = download_url(&dev, &up.key);
    let got = get(&url);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, BODY);
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert!(got
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment;") && d.contains("notes.txt")));
    let head = http("HEAD", &url, &[], b"");
    assert_eq!(head.status, 403, "a GET URL does not sign HEAD");

    let log = dev.log();
    assert!(log.contains("presigner POST /uploads 200"), "{log}");
    assert!(!log.contains("X-Amz-Signature"), "URLs must not be logged");
    dev.stop();
}

#[test]
fn downloads_answer_range_requests_as_s3_does() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, None);
    let up = upload(&dev);
    let url = download_url(&dev, &up.key);
    let len = BODY.len();

    let whole = get(&url);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let modified = whole.header("last-modified").unwrap_or_default();
    assert!(modified.ends_with(" GMT"), "last-modified {modified:?}");

    let part = http("GET", &url, &[("range", "bytes=6-9")], b"");
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, &BODY[6..10]);
    let range = format!("bytes 6-9/{len}");
    assert_eq!(part.header("content-range"), Some(range.as_str()));
    assert_eq!(part.header("content-length"), Some("4"));

    let tail = http("GET", &url, &[("range", "bytes=-5")], b"");
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &BODY[len - 5..]);

    let beyond = http("GET", &url, &[("range", &format!("bytes={len}-"))], b"");
    assert_eq!(beyond.status, 416, "{}", beyond.text());
    assert_eq!(s3_code(&beyond), "InvalidRange");
    let star = format!("bytes */{len}");
    assert_eq!(beyond.header("content-range"), Some(star.as_str()));

    // Several ranges, as S3 does, get the whole object.
    let several = http("GET", &url, &[("range", "bytes=0-1,4-5")], b"");
    assert_eq!(several.status, 200);
    assert_eq!(several.body, BODY);
    dev.stop();
}

#[test]
fn the_store_refuses_what_was_not_signed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let up = ask_upload(&dev, "notes.txt", "text/plain", BODY.len());
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        up.headers
            .iter()
            .map(|(k, v)| {
                if k == name {
                    (k.clone(), value.to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect()
    };
    let send = |url: &str, headers: &[(String, String)], body: &[u8]| {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        http("PUT", url, &h, body)
    };

    // Another content type.
    let r = send(&up.url, &with("content-type", "image/png"), BODY);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Another length (and a body of that length).
    let longer = [BODY, b"!"].concat();
    let r = send(
        &up.url,
        &with("content-length", &longer.len().to_string()),
        &longer,
    );
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Another key.
    let other_key = up.url.replacen("notes.txt", "notes2.txt", 1);
    let r = send(&other_key, &up.headers, BODY);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // A changed signature (still 64 hex digits).
    let (base, sig) = up.url.rsplit_once("X-Amz-Signature=").unwrap();
    let flipped = if sig.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{base}X-Amz-Signature={}{flipped}", &sig[..sig.len() - 1]);
    let r = send(&tampered, &up.headers, BODY);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // A longer lifetime than signed.
    let r = send(
        &up.url
            .replacen("X-Amz-Expires=300", "X-Amz-Expires=3000", 1),
        &up.headers,
        BODY,
    );
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // The upload URL used for another method.
    let r = get(&up.url);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // No signature at all: the bucket is private.
    let bare = up.url.split('?').next().unwrap();
    let r = send(bare, &up.headers, BODY);
    assert_eq!((r.status, s3_code(&r).as_str()), (403, "AccessDenied"));
    // A signed header left out.
    let r = http("PUT", &up.url, &[], BODY);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // None of that stored anything.
    let r = get(&download_url(&dev, &up.key));
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchKey"));
    // The genuine request still works afterwards.
    let r = send(&up.url, &up.headers, BODY);
    assert_eq!(r.status, 200, "{}", r.text());
    dev.stop();
}

#[test]
fn an_expired_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "  url_expiry_seconds: 1\n");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let up = ask_upload(&dev, "notes.txt", "text/plain", BODY.len());
    std::thread::sleep(Duration::from_millis(2100));
    let r = http("PUT", &up.url, &up.headers(), BODY);
    assert_eq!((r.status, s3_code(&r).as_str()), (403, "AccessDenied"));
    assert!(r.text().contains("expired"), "{}", r.text());
    dev.stop();
}

#[test]
fn cors_allows_the_page_and_refuses_other_origins() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let page = dev.origin();
    let up = ask_upload(&dev, "notes.txt", "text/plain", BODY.len());
    let preflight = |url: &str, origin: &str, method: &str| {
        http(
            "OPTIONS",
            url,
            &[
                ("origin", origin),
                ("access-control-request-method", method),
                ("access-control-request-headers", "content-type"),
            ],
            b"",
        )
    };

    // The documents store, per the spec's documents.cors (defaults: website; PUT, GET).
    let r = preflight(&up.url, &page, "PUT");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("3000"));
    let localhost = page.replace("127.0.0.1", "localhost");
    assert_eq!(preflight(&up.url, &localhost, "PUT").status, 200);
    let r = preflight(&up.url, "http://evil.example", "PUT");
    assert_eq!((r.status, s3_code(&r).as_str()), (403, "AccessForbidden"));
    assert_eq!(r.header("access-control-allow-origin"), None);
    // DELETE (aborting an upload in parts) is allowed only where uploads go in parts, which
    // this spec's 1 MiB limit never does.
    let r = preflight(&up.url, &page, "DELETE");
    assert_eq!(r.status, 403);

    // Actual requests: CORS headers (with the ETag exposed) only for the page.
    let mut headers = up.headers();
    headers.push(("origin", &page));
    let r = http("PUT", &up.url, &headers, BODY);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    assert_eq!(r.header("access-control-expose-headers"), Some("etag"));
    let url = download_url(&dev, &up.key);
    let r = http("GET", &url, &[("origin", "http://evil.example")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    // The presigner, like its Function URL: the page's origin, POST and GET, content-type.
    let uploads = format!("{}uploads", dev.presigner_url);
    let r = preflight(&uploads, &page, "POST");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST, GET"));
    assert_eq!(
        preflight(&uploads, "http://evil.example", "POST").status,
        403
    );
    assert_eq!(preflight(&uploads, &page, "PUT").status, 403);
    let r = http(
        "POST",
        &uploads,
        &[("content-type", "application/json"), ("origin", &page)],
        br#"{"filename":"a.txt","contentType":"text/plain","size":1}"#,
    );
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    dev.stop();
}

#[test]
fn uploads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let data = dir.path().join("data");
    let dev = Dev::start(&spec, Some(&data));
    let up = upload(&dev);
    dev.stop();

    let dev = Dev::start(&spec, Some(&data));
    let r = get(&download_url(&dev, &up.key));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, BODY);
    dev.stop();
}

#[test]
fn sigterm_stops_it_cleanly_too() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    // An idle keep-alive connection, as a browser leaves open, must not hold the stop up.
    let (authority, _) = split_url(&dev.url);
    let idle = std::net::TcpStream::connect(&authority).unwrap();
    let (status, took) = dev.signal("TERM");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(idle);
}

#[test]
fn the_website_serves_like_the_s3_website_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    // Links, followed only where `up` would publish them: inside the folder, to no hidden path.
    let site = dir.path().join("site");
    std::fs::write(dir.path().join("secret.env"), "API_KEY=secret").unwrap();
    std::fs::write(site.join(".env"), "DB_PASSWORD=secret").unwrap();
    std::os::unix::fs::symlink("../secret.env", site.join("cfg.txt")).unwrap();
    std::os::unix::fs::symlink(".env", site.join("settings.txt")).unwrap();
    std::os::unix::fs::symlink("app.js", site.join("alias.js")).unwrap();
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    for link in ["cfg.txt", "settings.txt"] {
        let r = get(&format!("{}{link}", dev.url));
        assert_eq!(r.status, 404, "{link}");
        assert!(!r.text().contains("secret"), "{link}");
    }
    assert_eq!(
        get(&format!("{}alias.js", dev.url)).text(),
        "console.log('app');\n"
    );
    let r = get(&format!("{}app.js", dev.url));
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let r = get(&format!("{}img/logo.png", dev.url));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/png"))
    );
    // A folder redirects to its index; a missing file gets the error document with 404.
    let r = get(&format!("{}docs", dev.url));
    assert_eq!((r.status, r.header("location")), (302, Some("/docs/")));
    assert_eq!(get(&format!("{}docs/", dev.url)).text(), "<p>docs</p>");
    let r = get(&format!("{}no/such/page", dev.url));
    assert_eq!(r.status, 404);
    assert!(r.text().contains("dev test"), "{}", r.text());
    // Nothing outside the folder, nothing hidden.
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2f..%2fetc/passwd",
        "/.git/config",
        "/%2egit/config",
    ] {
        let (authority, _) = split_url(&dev.url);
        let r = raw(
            &authority,
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("secret") && !r.text().contains("root:"));
    }
    assert_eq!(get(&format!("{}%ff", dev.url)).status, 400);
    assert_eq!(
        http("POST", &format!("{}index.html", dev.url), &[], b"x").status,
        405
    );
    dev.stop();
}

#[test]
fn malformed_and_oversized_requests_get_a_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let up = ask_upload(&dev, "notes.txt", "text/plain", BODY.len());
    let bucket_url = dev.documents_url.trim_end_matches('/').to_string();

    for url in [&dev.url, &dev.presigner_url, &dev.documents_url] {
        let (authority, _) = split_url(url);
        assert_eq!(raw(&authority, b"GARBAGE\r\n\r\n").status, 400, "{url}");
        let huge_header = format!(
            "GET / HTTP/1.1\r\nHost: {authority}\r\nX-Big: {}\r\n\r\n",
            "a".repeat(1024 * 1024)
        );
        let r = raw(&authority, huge_header.as_bytes());
        assert!((400..500).contains(&r.status), "{url}: {}", r.status);
    }

    // The presigner: a payload over a Function URL's 6 MB, and bodies that are not the API's.
    let uploads = format!("{}uploads", dev.presigner_url);
    let r = http("POST", &uploads, &[], &vec![b'x'; 7 * 1024 * 1024]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].is_string());
    for body in [&b"not json"[..], b"{}", b"[1,2]", &[0xff, 0xfe]] {
        let r = http("POST", &uploads, &[], body);
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert_eq!(
        get(&format!(
            "{}downloads?key=..%2F..%2Fetc%2Fpasswd",
            dev.presigner_url
        ))
        .status,
        400
    );
    assert_eq!(get(&format!("{}nope", dev.presigner_url)).status, 404);

    // The store.
    let other_bucket = up.url.replacen(&bucket_url, &format!("{bucket_url}x"), 1);
    let r = http("PUT", &other_bucket, &up.headers(), BODY);
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchBucket"));
    // A DELETE with an upload's URL: the signature is for a PUT, as S3 says.
    let r = http("DELETE", &up.url, &[], b"");
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let r = get(&format!("{bucket_url}/%ff"));
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "InvalidURI"));
    let r = get(&format!("{bucket_url}/{}", "k".repeat(1025)));
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "KeyTooLongError"));
    let r = get(&format!("{bucket_url}/"));
    assert_eq!(r.status, 400);
    let r = get(&format!("{bucket_url}/uploads/x?X-Amz-Date=%ff"));
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (400, "AuthorizationQueryParametersError")
    );
    // A huge declared body is refused before a byte of it is read.
    let r = http(
        "PUT",
        &up.url,
        &[
            ("content-length", "6000000000"),
            ("content-type", "text/plain"),
        ],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // A body shorter than its declared length is not stored.
    let (authority, target) = split_url(&up.url);
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&authority).unwrap();
        write!(
            s,
            "PUT {target} HTTP/1.1\r\nHost: {authority}\r\ncontent-type: text/plain\r\n\
             content-length: {}\r\n\r\nhello",
            BODY.len()
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let r = get(&download_url(&dev, &up.key));
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchKey"));
    let tmp = dev.data_dir.join("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "partial upload left in {tmp:?}"
    );
    dev.stop();
}

#[test]
fn the_website_build_runs_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let yaml = std::fs::read_to_string(&spec).unwrap().replace(
        "website: {source: site}",
        "website:\n  source: out\n  build: mkdir -p out && echo '<p>built</p>' > out/index.html",
    );
    std::fs::write(&spec, yaml).unwrap();
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    assert_eq!(get(&dev.url).text().trim(), "<p>built</p>");
    dev.stop();

    let yaml = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("build: mkdir", "build: exit 3; mkdir");
    std::fs::write(&spec, yaml).unwrap();
    let out = command(&spec)
        .args(["dev", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("website.build") && stderr.contains("failed"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = command(&spec)
        .args(["dev", "--port", &port, "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is in use"))
            && stderr.contains("--port"),
        "{stderr}"
    );
}

#[test]
fn dev_uses_only_a_store_it_marked_and_deletes_nothing_of_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    // A folder of the user's, with a file where the store keeps its partial uploads.
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(mine.join("tmp")).unwrap();
    std::fs::write(mine.join("tmp/notes.txt"), "keep me").unwrap();
    let out = command(&spec)
        .args(["dev", "--port", "0", "--data-dir"])
        .arg(&mine)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&mine.display().to_string())
            && stderr.contains("not a presign-stack dev store")
            && stderr.contains("--data-dir"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("tmp/notes.txt")).unwrap(),
        "keep me"
    );
    assert!(!mine.join(".presign-stack-dev-store").exists());

    // A new folder becomes a marked store; a partial upload a killed run left is cleared on
    // the next start, and a file of another name in tmp/ is not.
    let data = dir.path().join("data");
    let dev = Dev::start(&spec, Some(&data));
    dev.stop();
    assert!(data.join(".presign-stack-dev-store").is_file());
    let partial = data.join("tmp").join("0123456789abcdef0123456789abcdef");
    std::fs::write(&partial, "half an upload").unwrap();
    std::fs::write(data.join("tmp/README"), "mine").unwrap();
    let dev = Dev::start(&spec, Some(&data));
    upload(&dev);
    dev.stop();
    assert!(!partial.exists());
    assert_eq!(
        std::fs::read_to_string(data.join("tmp/README")).unwrap(),
        "mine"
    );

    // A data dir inside the website folder would publish uploads and keys with the site.
    let inside = dir.path().join("site").join("data");
    let out = command(&spec)
        .args(["dev", "--port", "0", "--data-dir"])
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("inside website.source"), "{stderr}");
    assert!(!inside.exists());
}

/// The spec of [`write_project`] with the page behind CloudFront and the presigner at `/api`.
fn write_cloudfront_project(dir: &std::path::Path) -> std::path::PathBuf {
    let spec = write_project(dir, "");
    let yaml = std::fs::read_to_string(&spec).unwrap().replace(
        "website: {source: site}",
        "website:\n  source: site\n  hosting: cloudfront\n  cloudfront: {api_path: /api}",
    );
    std::fs::write(&spec, yaml).unwrap();
    spec
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn behind_cloudfront_the_presigner_is_on_the_page_origin_under_api_path() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_cloudfront_project(dir.path());
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let page = dev.origin();

    // The page is told to call its own origin, as `up` tells it `https://<domain>/api/`.
    assert_eq!(dev.presigner_url, format!("{page}/api/"));
    let config = get(&format!("{}config.json", dev.url)).json();
    assert_eq!(config["presignerUrl"], dev.presigner_url.as_str());
    // Opened as localhost, the page's own origin is that one.
    let (authority, _) = split_url(&dev.url);
    let localhost = authority.replace("127.0.0.1", "localhost");
    let r = raw(
        &authority,
        format!("GET /config.json HTTP/1.1\r\nHost: {localhost}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.json()["presignerUrl"], format!("http://{localhost}/api/"));

    // POST /api/uploads with the body's SHA-256, as the page sends it behind CloudFront.
    let uploads = format!("{}uploads", dev.presigner_url);
    let body = serde_json::json!({"filename": "notes.txt", "contentType": "text/plain", "size": BODY.len()})
        .to_string();
    let hash = sha256_hex(body.as_bytes());
    let r = http(
        "POST",
        &uploads,
        &[
            ("content-type", "application/json"),
            ("x-amz-content-sha256", &hash),
            ("origin", &page),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Same-origin: no CORS in front of the presigner.
    assert_eq!(r.header("access-control-allow-origin"), None);
    let v = r.json();
    let key = v["key"].as_str().unwrap().to_string();
    assert!(
        key.starts_with("uploads/") && key.ends_with("/notes.txt"),
        "{key}"
    );
    let url = v["url"].as_str().unwrap();
    assert!(url.starts_with(&dev.documents_url), "{url}");
    let headers: Vec<(String, String)> = v["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let mut put_headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    put_headers.push(("origin", &page));
    let put = http("PUT", url, &put_headers, BODY);
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        put.header("access-control-allow-origin"),
        Some(page.as_str())
    );

    // GET /api/downloads, with the empty body's hash as the page sends it, and without.
    let downloads = format!(
        "{}downloads?key={}",
        dev.presigner_url,
        percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
    );
    let r = http(
        "GET",
        &downloads,
        &[("x-amz-content-sha256", &sha256_hex(b""))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = get(r.json()["url"].as_str().unwrap());
    assert_eq!((got.status, got.body.as_slice()), (200, BODY));
    assert_eq!(get(&downloads).status, 200);

    // What Lambda refuses of a request CloudFront signed with the viewer's payload hash.
    let refused = |headers: &[(&str, &str)], needle: &str| {
        let r = http("POST", &uploads, headers, body.as_bytes());
        assert_eq!(r.status, 403, "{}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.contains("x-amz-content-sha256") && error.contains(needle),
            "{error}"
        );
    };
    let wrong = sha256_hex(b"another body");
    refused(
        &[
            ("content-type", "application/json"),
            ("x-amz-content-sha256", &wrong),
        ],
        "does not match the request body",
    );
    refused(
        &[
            ("content-type", "application/json"),
            ("x-amz-content-sha256", &hash.to_ascii_uppercase()),
        ],
        "does not match",
    );
    refused(&[("content-type", "application/json")], "is missing");
    let r = http("GET", &downloads, &[("x-amz-content-sha256", &hash)], b"");
    assert_eq!(r.status, 403, "{}", r.text());

    // The handler's own answers come through under the path.
    let r = get(&format!("{}nope", dev.presigner_url));
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("POST /api/uploads"));
    let r = http(
        "POST",
        &uploads,
        &[("x-amz-content-sha256", &sha256_hex(b"x"))],
        &vec![b'x'; 7 * 1024 * 1024],
    );
    assert_eq!(
        r.status,
        413,
        "a Function URL's payload limit: {}",
        r.text()
    );

    // Outside /api/ is the website: /uploads is not the presigner, nor is /api itself.
    let r = http(
        "POST",
        &format!("{}uploads", dev.url),
        &[
            ("content-type", "application/json"),
            ("x-amz-content-sha256", &hash),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 405, "{}", r.text());
    assert!(!r.text().contains("X-Amz-Signature"));
    for path in ["uploads", "api", "apiuploads"] {
        let r = get(&format!("{}{path}", dev.url));
        assert_eq!(r.status, 404, "{path}");
        assert!(r.text().contains("dev test"), "{path}: the error document");
    }
    // No CORS preflight is answered for the same-origin presigner.
    let r = http(
        "OPTIONS",
        &uploads,
        &[
            ("origin", "http://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_ne!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    let log = dev.log();
    assert!(log.contains("presigner POST /api/uploads 200"), "{log}");
    assert!(log.contains("website   POST /uploads 405"), "{log}");
    assert!(!log.contains("X-Amz-Signature"), "URLs must not be logged");
    dev.stop();
}

/// A GET of `url` (or of `target`, for a request in absolute form) on the server `url` names,
/// carrying `hosts` as its Host lines: none, one or several.
fn get_as(url: &str, target: Option<&str>, hosts: &[&str]) -> Reply {
    let (authority, path) = split_url(url);
    let mut head = format!("GET {} HTTP/1.1\r\n", target.unwrap_or(&path));
    for host in hosts {
        head.push_str(&format!("Host: {host}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    raw(&authority, head.as_bytes())
}

/// Whether `r` is the refusal of a Host that is not the server's.
fn refused_host(r: &Reply) -> bool {
    r.status == 403 && r.text().contains("DNS rebinding")
}

#[test]
fn every_server_refuses_a_host_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let up = upload(&dev);
    let download = download_url(&dev, &up.key);
    let uploads = format!("{}uploads", dev.presigner_url);

    for url in [&dev.url, &uploads, &download] {
        let (authority, path) = split_url(url);
        let port: u16 = authority.rsplit(':').next().unwrap().parse().unwrap();
        let wrong_port = format!("127.0.0.1:{}", port.wrapping_add(1));
        let evil = format!("evil.example:{port}");
        let rebound = format!("127.0.0.1.nip.io:{port}");
        let dotted = format!("localhost.:{port}");
        for hosts in [
            &[evil.as_str()][..],
            &[&rebound],
            &["127.0.0.1"],
            &["localhost"],
            &[&wrong_port],
            &[&dotted],
            &[],
            &[&authority, &evil],
        ] {
            let r = get_as(url, None, hosts);
            assert!(
                refused_host(&r),
                "{url} as {hosts:?}: {} {}",
                r.status,
                r.text()
            );
        }
        let absolute = format!("http://{evil}{path}");
        let r = get_as(url, Some(&absolute), &[&authority]);
        assert!(refused_host(&r), "{url} as {absolute}: {}", r.status);
    }

    // Each server refuses in its own kind of body, naming what it answers.
    let page_port = split_url(&dev.url)
        .0
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let r = get_as(&dev.url, None, &["evil.example"]);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(
        r.text().starts_with(&format!(
            "403 Forbidden: this dev server answers only Host 127.0.0.1:{page_port} or \
             localhost:{page_port}"
        )),
        "{}",
        r.text()
    );
    assert!(r.text().contains("\"evil.example\""), "{}", r.text());
    let r = get_as(&uploads, None, &["evil.example"]);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("\"evil.example\""), "{error}");
    let r = get_as(&download, None, &["evil.example"]);
    assert_eq!(s3_code(&r), "AccessDenied");
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.header("x-amz-request-id").is_some());

    // The server's own host, spelled either way, goes through to the server.
    for url in [&dev.url, &uploads, &download] {
        let (authority, _) = split_url(url);
        let localhost = authority.replace("127.0.0.1", "localhost");
        for host in [&authority, &localhost, &localhost.to_ascii_uppercase()] {
            let r = get_as(url, None, &[host]);
            assert!(!refused_host(&r), "{url} as {host}: {}", r.text());
        }
    }
    assert_eq!(
        get_as(&dev.url, None, &[&format!("localhost:{page_port}")]).status,
        200
    );
    // GET is not the presigner's method for /uploads: the handler itself answered.
    assert_eq!(get(&uploads).status, 405);
    let r = get_as(&download, None, &[&split_url(&download).0]);
    assert_eq!((r.status, r.body.as_slice()), (200, BODY));
    // Dev's URLs are signed for 127.0.0.1; under another name the signature is what fails.
    let store_host = split_url(&download).0.replace("127.0.0.1", "localhost");
    let r = get_as(&download, None, &[&store_host]);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    dev.stop();

    // Behind CloudFront the page's origin serves the presigner too: a refusal there is the
    // presigner's JSON under the API path, the website's text elsewhere.
    let dir = tempfile::tempdir().unwrap();
    let spec = write_cloudfront_project(dir.path());
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    let r = get_as(
        &format!("{}uploads", dev.presigner_url),
        None,
        &["evil.example"],
    );
    assert!(refused_host(&r));
    assert!(r.json()["error"].is_string());
    let r = get_as(&dev.url, None, &["evil.example"]);
    assert!(refused_host(&r));
    assert!(r.text().starts_with("403 Forbidden: "), "{}", r.text());
    dev.stop();
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", presigner::uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs `user` in through dev's issuer as a page does (Authorization Code with PKCE); the
/// token endpoint's answer. On the way, a wrong verifier is refused and spends its code.
fn sign_in(dev: &Dev, issuer: &str, user: &str) -> serde_json::Value {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = format!("verifier-{user}-0123456789abcdefghijklmnopqrstuvwxyz");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = dev.url.clone();
    let params = [
        ("client_id", "spa-client"),
        ("redirect_uri", redirect.as_str()),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "s-1"),
        ("scope", "openid"),
    ];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    // The sign-in page, its form sent back, and the code in the redirect to the page.
    let code = || {
        let page = get(&format!("{issuer}/authorize?{}", form_body(&params)));
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.text().contains("name=\"user\""), "{}", page.text());
        let mut fields = params.to_vec();
        fields.push(("user", user));
        let url = format!("{issuer}/authorize");
        let back = http("POST", &url, &form, form_body(&fields).as_bytes());
        assert_eq!(back.status, 303, "{}", back.text());
        let location = back.header("location").unwrap().to_string();
        assert!(
            location.starts_with(&redirect) && location.ends_with("&state=s-1"),
            "{location}"
        );
        let code = location.split("code=").nth(1).unwrap().split('&').next();
        code.unwrap().to_string()
    };
    let exchange = |code: &str, verifier: &str| {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("client_id", "spa-client"),
            ("code_verifier", verifier),
        ];
        let url = format!("{issuer}/token");
        http("POST", &url, &form, form_body(&fields).as_bytes())
    };
    let spent = code();
    let refused = exchange(&spent, &format!("{verifier}-not-it"));
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.json()["error"], "invalid_grant");
    let r = exchange(&spent, &verifier);
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text());
    let r = exchange(&code(), &verifier);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn dev_signs_users_in_with_its_own_issuer_and_each_has_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let mut text = std::fs::read_to_string(&spec).unwrap();
    // The spec's issuer is never contacted: dev stands in for it.
    text.push_str("auth:\n  issuer: https://login.example.com/\n  client_id: spa-client\n");
    std::fs::write(&spec, text).unwrap();
    let dev = Dev::start(&spec, None);
    let issuer = dev.issuer_url.clone().expect("dev's issuer");

    let discovery = get(&format!("{issuer}/.well-known/openid-configuration")).json();
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let config = get(&format!("{}config.json", dev.url)).json();
    assert_eq!(config["auth"]["issuer"], issuer.as_str());
    assert_eq!(config["auth"]["clientId"], "spa-client");

    // A return address that is not the page's is an error page, never a redirect.
    let evil = get(&format!(
        "{issuer}/authorize?client_id=spa-client&redirect_uri=https%3A%2F%2Fevil.example%2F\
         &response_type=code&code_challenge={}&code_challenge_method=S256",
        "a".repeat(43)
    ));
    assert_eq!(evil.status, 400);
    assert!(evil.header("location").is_none());

    let alice = sign_in(&dev, &issuer, "alice");
    let me = |token: &str| {
        let bearer = format!("Bearer {token}");
        http(
            "GET",
            &format!("{}me", dev.presigner_url),
            &[("authorization", &bearer)],
            b"",
        )
    };
    for token in ["id_token", "access_token"] {
        let r = me(alice[token].as_str().unwrap());
        assert_eq!(r.status, 200, "{token}: {}", r.text());
        assert_eq!(r.json()["user"], "alice");
    }
    // A refresh token gives new tokens, once.
    let refresh = |token: &str| {
        http(
            "POST",
            &format!("{issuer}/token"),
            &[("content-type", "application/x-www-form-urlencoded")],
            form_body(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", "spa-client"),
            ])
            .as_bytes(),
        )
    };
    let renewed = refresh(alice["refresh_token"].as_str().unwrap());
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    assert_eq!(me(renewed.json()["id_token"].as_str().unwrap()).status, 200);
    assert_eq!(
        refresh(alice["refresh_token"].as_str().unwrap()).status,
        400
    );

    // Alice's upload is in her folder; Bob sees none of it.
    let bearer = format!("Bearer {}", alice["id_token"].as_str().unwrap());
    let body = serde_json::json!({"filename": "notes.txt", "contentType": "text/plain", "size": BODY.len()});
    let r = http(
        "POST",
        &format!("{}uploads", dev.presigner_url),
        &[("authorization", &bearer)],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let up = r.json();
    assert!(
        up["key"].as_str().unwrap().starts_with("uploads/alice/"),
        "{up}"
    );
    assert_eq!(put_as_answered(&up, BODY).status, 200);
    let bob = sign_in(&dev, &issuer, "bob");
    let bob_bearer = format!("Bearer {}", bob["id_token"].as_str().unwrap());
    let files = http(
        "GET",
        &format!("{}files", dev.presigner_url),
        &[("authorization", &bob_bearer)],
        b"",
    );
    assert_eq!(files.json()["files"], serde_json::json!([]));
    let files = http(
        "GET",
        &format!("{}files", dev.presigner_url),
        &[("authorization", &bearer)],
        b"",
    );
    assert_eq!(files.json()["files"][0]["name"], "notes.txt");
    dev.stop();
}

/// With `auth.cognito` dev stands in for the stack's own user pool with its own issuer, as for
/// `auth.issuer`, and knows the page by its own client id; `--auth spec` cannot look the
/// deployed pool up and says what to do instead.
#[test]
fn dev_with_auth_cognito_signs_in_with_its_own_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "website: {source: site}",
        "website: {source: site, hosting: cloudfront, cloudfront: {api_path: /api}}\n\
         auth:\n  cognito: {domain_prefix: devtest-signin}",
    );
    std::fs::write(&spec, text).unwrap();
    let dev = Dev::start(&spec, None);
    let issuer = dev.issuer_url.clone().expect("dev's issuer");
    let config = get(&format!("{}config.json", dev.url)).json();
    assert_eq!(config["auth"]["issuer"], issuer.as_str());
    assert_eq!(config["auth"]["clientId"], "presign-stack-dev");
    let discovery = get(&format!("{issuer}/.well-known/openid-configuration")).json();
    assert_eq!(discovery["issuer"], issuer.as_str());
    // Without a token the presigner refuses: the pool's stand-in is in force.
    let me = get(&format!("{}api/me", dev.url));
    assert_eq!(me.status, 401, "{}", me.text());
    dev.stop();

    let out = command(&spec)
        .args(["dev", "--port", "0", "--auth", "spec"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("`auth.cognito` makes the stack's own user pool, which dev does not look up"),
        "{stderr}"
    );
}
