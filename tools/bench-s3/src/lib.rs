//! bench-s3: an in-memory S3 for benchmarking S3 clients on one machine.
//!
//! Built on s3s (routing, XML, SigV4 checks: any request signed with the access key `test`
//! and secret `test` is allowed). Object bytes are read, hashed and dropped: a version keeps
//! its size, ETag (the MD5, or for a multipart upload the MD5 of its parts' MD5s and the part
//! count), content headers and user metadata. Every S3 request waits a fixed latency before it
//! is handled, standing in for the round trip to a remote S3, so that a client's concurrency
//! counts as it does against AWS.
//!
//! Besides S3, a few bench-only endpoints under `/_bench/` (no latency, no signature):
//!
//! | request | does |
//! | --- | --- |
//! | `GET /_bench/stats` | requests since the last reset, by operation and by HTTP method, and the object bytes received (JSON) |
//! | `POST /_bench/reset` | zeroes those counts |
//! | `POST /_bench/create?bucket=B[&versioning=Enabled]` | creates a bucket |
//! | `POST /_bench/seed?bucket=B&keys=K&versions=V[&size=N]` | fills a versioned bucket (made if missing) with K keys × V versions, in memory |
//! | `GET /_bench/bucket?bucket=B` | whether it exists and what it holds: keys, versions, delete markers, uploads (JSON) |

pub mod s3;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3Result};
use serde_json::json;
use tokio::net::TcpListener;

pub use store::Store;

pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";

/// Counts each S3 operation once s3s has routed it, and allows it.
struct CountingAccess(Arc<Store>);

#[async_trait::async_trait]
impl S3Access for CountingAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        self.0.count_operation(cx.s3_op().name());
        Ok(())
    }
}

/// The S3 service over `store`, checking signatures made with `test`/`test`.
pub fn s3_service(store: Arc<Store>) -> S3Service {
    let mut b = S3ServiceBuilder::new(s3::BenchS3 {
        store: store.clone(),
    });
    b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    b.set_access(CountingAccess(store));
    b.build()
}

/// Accept connections on `listener` forever: each S3 request waits `latency`, then is
/// served; `/_bench/` requests are answered at once.
pub async fn serve(listener: TcpListener, store: Arc<Store>, latency: Duration) {
    let service = s3_service(store.clone());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let store = store.clone();
                async move {
                    if req.uri().path().starts_with("/_bench/") {
                        return Ok::<_, s3s::HttpError>(admin(&store, &req));
                    }
                    store.count_request(req.method().as_str());
                    if !latency.is_zero() {
                        tokio::time::sleep(latency).await;
                    }
                    hyper::service::Service::call(&service, req).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}

fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut res = Response::new(Body::from(value.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    res
}

/// An admin request's failure: its status and message.
type AdminError = (StatusCode, String);

fn admin(store: &Store, req: &Request<Incoming>) -> Response<Body> {
    match admin_json(store, req) {
        Ok(v) => json_response(StatusCode::OK, v),
        Err((status, error)) => json_response(status, json!({ "error": error })),
    }
}

fn admin_json(store: &Store, req: &Request<Incoming>) -> Result<serde_json::Value, AdminError> {
    let q = query(req);
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let required = |name: &str| {
        param(name).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("missing query parameter {name}"),
            )
        })
    };
    let number = |name: &str, default: u64| match param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| (StatusCode::BAD_REQUEST, format!("{name}: not a number"))),
    };
    let conflict = |e: store::BucketError| (StatusCode::CONFLICT, format!("{e:?}"));
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/_bench/stats") => {
            let s = store.stats();
            Ok(json!({
                "requests": s.requests,
                "bytes_uploaded": s.bytes_uploaded,
                "operations": s.operations,
                "methods": s.methods,
            }))
        }
        (&Method::POST, "/_bench/reset") => {
            store.reset_stats();
            Ok(json!({}))
        }
        (&Method::POST, "/_bench/create") => {
            let bucket = required("bucket")?;
            store.create_bucket(bucket, None).map_err(conflict)?;
            if param("versioning") == Some("Enabled") {
                store
                    .bucket(bucket)
                    .expect("just made")
                    .lock()
                    .unwrap()
                    .versioning = store::Versioning::Enabled;
            }
            Ok(json!({ "bucket": bucket }))
        }
        (&Method::POST, "/_bench/seed") => {
            let bucket = required("bucket")?;
            let keys = number("keys", 1000)? as usize;
            let versions = number("versions", 1)? as usize;
            let size = number("size", 1024)?;
            let added = store.seed(bucket, keys, versions, size).map_err(conflict)?;
            Ok(json!({"bucket": bucket, "versions_added": added}))
        }
        (&Method::GET, "/_bench/bucket") => {
            let bucket = required("bucket")?;
            Ok(match store.bucket(bucket) {
                None => json!({"bucket": bucket, "exists": false}),
                Some(b) => {
                    let b = b.lock().unwrap();
                    let c = b.counts();
                    json!({
                        "bucket": bucket,
                        "exists": true,
                        "versioning": format!("{:?}", b.versioning),
                        "keys": c.keys,
                        "versions": c.versions,
                        "delete_markers": c.delete_markers,
                        "uploads": c.uploads,
                    })
                }
            })
        }
        _ => Err((StatusCode::NOT_FOUND, "no such bench endpoint".into())),
    }
}
