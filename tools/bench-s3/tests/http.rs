//! The server over HTTP, as clients see it: S3's XML through s3s, ETags as S3 computes them,
//! versioned deletes and listings, and the bench endpoints. Requests are unsigned (s3s checks
//! a signature only when one is sent).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};

struct Server {
    addr: std::net::SocketAddr,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let store = Arc::new(bench_s3::Store::default());
        tokio::spawn(bench_s3::serve(listener, store, Duration::ZERO));
        Server { addr }
    }

    /// Send one request on a fresh connection; the status and body.
    async fn send(&self, method: Method, path_and_query: &str, body: Vec<u8>) -> (u16, String) {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("host", self.addr.to_string())
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        let status = res.status().as_u16();
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        // A PUT answers with headers only; hand its ETag back as the body.
        (status, etag.filter(|_| text.is_empty()).unwrap_or(text))
    }
}

/// The text of every `<tag>...</tag>` in `xml`, in order.
fn all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .map(|s| s.split(&close).next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn versioned_bucket_pages_deletes_and_refuses_deletion_until_empty() {
    let s = Server::start().await;
    assert_eq!(s.send(Method::PUT, "/bench-http", vec![]).await.0, 200);
    let versioning = b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
    assert_eq!(
        s.send(Method::PUT, "/bench-http?versioning", versioning.to_vec())
            .await
            .0,
        200
    );
    for key in ["a", "b", "a"] {
        let (status, etag) = s
            .send(
                Method::PUT,
                &format!("/bench-http/{key}"),
                b"hello".to_vec(),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(etag, format!("\"{}\"", hex::encode(Md5::digest(b"hello"))));
    }
    assert_eq!(s.send(Method::DELETE, "/bench-http/b", vec![]).await.0, 204);

    // Four entries (a twice, b's version and its delete marker), two per page.
    let (status, page1) = s
        .send(Method::GET, "/bench-http?versions&max-keys=2", vec![])
        .await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(all(&page1, "IsTruncated"), ["true"]);
    assert_eq!(all(&page1, "Key"), ["a", "a"]);
    let ids = all(&page1, "VersionId");
    assert_eq!(all(&page1, "NextKeyMarker"), ["a"]);
    assert_eq!(all(&page1, "NextVersionIdMarker"), [ids[1].clone()]);
    let (_, page2) = s
        .send(
            Method::GET,
            &format!(
                "/bench-http?versions&max-keys=2&key-marker=a&version-id-marker={}",
                ids[1]
            ),
            vec![],
        )
        .await;
    assert_eq!(all(&page2, "IsTruncated"), ["false"]);
    assert_eq!(all(&page2, "DeleteMarker").len(), 1, "{page2}");
    assert_eq!(all(&page2, "Key"), ["b", "b"]);

    // A plain listing shows only `a`; the bucket cannot go while versions remain.
    let (_, list) = s.send(Method::GET, "/bench-http?list-type=2", vec![]).await;
    assert_eq!(all(&list, "Key"), ["a"]);
    let (status, err) = s.send(Method::DELETE, "/bench-http", vec![]).await;
    assert_eq!(status, 409);
    assert!(err.contains("BucketNotEmpty"), "{err}");
    let (_, state) = s
        .send(Method::GET, "/_bench/bucket?bucket=bench-http", vec![])
        .await;
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        (
            state["keys"].as_u64(),
            state["versions"].as_u64(),
            state["delete_markers"].as_u64()
        ),
        (Some(1), Some(3), Some(1))
    );

    // Every version and marker by id, in one DeleteObjects, then the bucket.
    let mut objects = String::new();
    for page in [&page1, &page2] {
        for (key, id) in all(page, "Key").iter().zip(all(page, "VersionId")) {
            objects.push_str(&format!(
                "<Object><Key>{key}</Key><VersionId>{id}</VersionId></Object>"
            ));
        }
    }
    let delete = format!("<Delete><Quiet>true</Quiet>{objects}</Delete>");
    let (status, out) = s
        .send(Method::POST, "/bench-http?delete", delete.into_bytes())
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(s.send(Method::DELETE, "/bench-http", vec![]).await.0, 204);

    let (_, stats) = s.send(Method::GET, "/_bench/stats", vec![]).await;
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["operations"]["PutObject"], 3);
    assert_eq!(stats["operations"]["DeleteBucket"], 2);
    assert_eq!(stats["methods"]["PUT"], 5);
    assert_eq!(stats["bytes_uploaded"], 15);
}

#[tokio::test]
async fn multipart_etag_is_the_md5_of_the_part_md5s_and_their_count() {
    let s = Server::start().await;
    assert_eq!(s.send(Method::PUT, "/bench-mpu", vec![]).await.0, 200);
    let (_, created) = s
        .send(Method::POST, "/bench-mpu/big.bin?uploads", vec![])
        .await;
    let upload = all(&created, "UploadId").remove(0);
    let parts = [vec![1u8; 5 * 1024 * 1024], vec![2u8; 1000]];
    let mut complete = String::from("<CompleteMultipartUpload>");
    let mut part_md5s = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i + 1;
        let (status, etag) = s
            .send(
                Method::PUT,
                &format!("/bench-mpu/big.bin?partNumber={n}&uploadId={upload}"),
                part.clone(),
            )
            .await;
        assert_eq!(status, 200);
        part_md5s.extend_from_slice(&Md5::digest(part));
        complete.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    complete.push_str("</CompleteMultipartUpload>");
    let (status, done) = s
        .send(
            Method::POST,
            &format!("/bench-mpu/big.bin?uploadId={upload}"),
            complete.into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let want = format!("{}-2", hex::encode(Md5::digest(&part_md5s)));
    assert_eq!(all(&done, "ETag"), [format!("\"{want}\"")]);
    let (_, list) = s.send(Method::GET, "/bench-mpu?list-type=2", vec![]).await;
    assert_eq!(all(&list, "Size"), [(5 * 1024 * 1024 + 1000).to_string()]);
    let (status, _) = s.send(Method::GET, "/bench-mpu?tagging", vec![]).await;
    assert_eq!(status, 404, "no tag set yet");
}
