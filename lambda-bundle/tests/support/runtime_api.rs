//! A Lambda Runtime API emulator on loopback: the part of the protocol a function process
//! speaks (`GET /2018-06-01/runtime/invocation/next`, then `POST .../invocation/{id}/response`
//! or `.../error`, or `POST .../init/error`), so the real `bootstrap` binary, or any other
//! runtime client, can be driven the way Lambda drives it.
//!
//! Shared by `tests/bootstrap.rs` and `examples/bench.rs` (included with `#[path]`).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Mutex};

const BASE: &str = "/2018-06-01/runtime";
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-central-1:123456789012:function:presigner";

/// The invocations a function is handed.
pub enum Feed {
    /// These events, in order; after the last one `next` never answers, as when Lambda
    /// freezes an idle environment.
    Once(Vec<Vec<u8>>),
    /// The same event for ever (throughput runs).
    Forever(Vec<u8>),
}

/// What the function posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Response,
    /// `POST /invocation/{id}/error`: the handler returned an error.
    Error,
    /// `POST /init/error`: the function failed before its first invocation.
    InitError,
}

#[derive(Debug)]
pub struct Outcome {
    /// The invocation's request id (empty for an init error).
    pub request_id: String,
    pub kind: Kind,
    pub body: Vec<u8>,
    /// When the emulator had the whole post.
    pub at: Instant,
}

struct State {
    feed: Mutex<(Feed, u64)>,
    outcomes: mpsc::Sender<Outcome>,
}

/// A running emulator; stops (and drops every open connection) when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    outcomes: mpsc::Receiver<Outcome>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Listens on an ephemeral loopback port, serving from its own thread so that callers can
    /// stay synchronous.
    pub fn start(feed: Feed) -> RuntimeApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let (tx, outcomes) = mpsc::channel();
        let (shutdown, mut stop) = oneshot::channel();
        let state = Arc::new(State {
            feed: Mutex::new((feed, 0)),
            outcomes: tx,
        });
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stop => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = state.clone();
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    serve(req, state.clone())
                                });
                                // A function killed mid-request is expected here.
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        RuntimeApi {
            addr,
            outcomes,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The next thing the function posted, waiting at most `timeout`.
    pub fn next_outcome(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn serve(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(BASE) else {
        return Ok(reply(StatusCode::NOT_FOUND, "{}"));
    };
    if req.method() == Method::GET && rest == "/invocation/next" {
        return Ok(next(&state).await);
    }
    let kind = match rest.rsplit_once('/') {
        _ if rest == "/init/error" => Kind::InitError,
        Some((_, "response")) => Kind::Response,
        Some((_, "error")) => Kind::Error,
        _ => return Ok(reply(StatusCode::NOT_FOUND, "{}")),
    };
    if req.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "{}"));
    }
    let request_id = rest
        .strip_prefix("/invocation/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, "{}")),
    };
    let _ = state.outcomes.send(Outcome {
        request_id,
        kind,
        body,
        at: Instant::now(),
    });
    Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
}

/// Hands out the next invocation with the headers Lambda sends.
async fn next(state: &State) -> Response<Full<Bytes>> {
    let mut feed = state.feed.lock().await;
    let event = match &mut feed.0 {
        Feed::Once(events) if events.is_empty() => {
            drop(feed);
            return std::future::pending().await;
        }
        Feed::Once(events) => events.remove(0),
        Feed::Forever(event) => event.clone(),
    };
    feed.1 += 1;
    let request_id = format!("00000000-0000-4000-8000-{:012}", feed.1);
    drop(feed);
    let deadline_ms = (SystemTime::now() + Duration::from_secs(30))
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        )
        .body(Full::new(Bytes::from(event)))
        .expect("valid response")
}

/// A Function URL event (payload format 2.0), as Lambda delivers `method path?query` with
/// a JSON `body`.
pub fn function_url_event(method: &str, path: &str, query: &str, body: &str) -> Vec<u8> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.eu-central-1.on.aws",
            "origin": "http://acme-docs-site.s3-website.eu-central-1.amazonaws.com",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.eu-central-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench",
            },
            "requestId": "e1f2a3b4-0000-4000-8000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:16:00:00 +0000",
            "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
    .into_bytes()
}
