//! The HTTP plumbing the dev servers share: one accept loop with graceful shutdown, the
//! check of every request's Host, response helpers, and the per-request log line.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::report::Report;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// How long in-flight requests may take to finish once a stop is asked for. Idle keep-alive
/// connections (browsers hold several) close at once; only a request still being served waits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A slow or stalled client must not hold a connection (and its task) forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One of the dev servers (the page's origin, the presigner, the documents store).
pub trait Service: Send + Sync + 'static {
    fn call(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;

    /// The 403 for a request whose Host is not the server's, in the server's own kind of
    /// body; `why` says what was wrong and what the server answers.
    fn refuse_host(&self, req: &Request<Incoming>, why: &str) -> Response<Body>;
}

/// Why a request's Host is refused, if it is: every dev server answers only
/// `127.0.0.1:<port>` and `localhost:<port>`, on the port it listens on. Listening on loopback
/// keeps other machines out, but not other sites: a page the developer visits can point a
/// name of its own at 127.0.0.1 (DNS rebinding), and the browser then sends that name as Host
/// and treats the answers as the page's own origin. A request in absolute form
/// (`GET http://host/ HTTP/1.1`) must name an allowed host there too.
fn host_refusal<B>(req: &Request<B>, port: u16) -> Option<String> {
    let allowed = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    let is_allowed = |host: &[u8]| {
        allowed
            .iter()
            .any(|a| host.eq_ignore_ascii_case(a.as_bytes()))
    };
    let hosts: Vec<&[u8]> = req
        .headers()
        .get_all(hyper::header::HOST)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let authority = req.uri().authority().map(|a| a.as_str().as_bytes());
    let wrong = match (&hosts[..], authority) {
        ([], _) => "no Host header".to_string(),
        ([host], None) if is_allowed(host) => return None,
        ([host], Some(uri)) if is_allowed(host) && is_allowed(uri) => return None,
        ([host], Some(uri)) if is_allowed(host) => format!("the target's host {}", quoted(uri)),
        ([host], _) => format!("Host {}", quoted(host)),
        (many, _) => format!("{} Host headers", many.len()),
    };
    Some(format!(
        "this dev server answers only Host {} or {} (so that no other site can reach it \
         through DNS rebinding); the request has {wrong}",
        allowed[0], allowed[1]
    ))
}

/// A client's host, bounded and quoted, for a refusal.
fn quoted(host: &[u8]) -> String {
    format!("\"{}\"", bounded(&String::from_utf8_lossy(host), 100))
}

/// What the request log says about a response beyond its status: an issued key, or why a
/// request was refused. Attached as a response extension by the service.
#[derive(Clone)]
pub struct LogNote(pub String);

/// Which server the request log names for a response, when not the listener's own: the
/// presigner served on the page's origin at `api_path`.
#[derive(Clone, Copy)]
pub struct LogName(pub &'static str);

pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    set(&mut r, "content-type", content_type);
    r
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::new())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

/// A file's contents as a streamed body, so a large object never sits in memory whole.
pub fn file_body<R: tokio::io::AsyncRead + Unpin + Send + Sync + 'static>(file: R) -> Body {
    let chunks = futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    StreamBody::new(chunks).boxed()
}

/// Sets a header, dropping a value that is not a valid header value rather than failing the
/// response (values here come from files and specs, never from unchecked client input).
pub fn set<B>(r: &mut Response<B>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

pub fn note<B>(r: &mut Response<B>, what: impl Into<String>) {
    r.extensions_mut().insert(LogNote(what.into()));
}

/// A request header as text; `None` when absent or not visible ASCII.
pub fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Every request header as (name, value) text pairs, for code that takes plain strings (the
/// presigner's handler, the SigV4 verifier).
pub fn header_pairs(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Accepts connections on `listener` until `stop` changes, then lets in-flight requests
/// finish (bounded by [`SHUTDOWN_GRACE`]).
pub async fn serve<S: Service>(
    listener: TcpListener,
    port: u16,
    name: &'static str,
    service: Arc<S>,
    report: Report,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        report.detail(format!("{name}: accepting a connection failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let service = service.clone();
                let report = report.clone();
                let handler = hyper::service::service_fn(move |req| {
                    let (service, report) = (service.clone(), report.clone());
                    async move {
                        Ok::<_, Infallible>(logged(name, port, &*service, req, &report).await)
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), handler);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client that hangs up or sends garbage ends only its own connection;
                    // hyper has already answered malformed requests with a 4xx.
                    let _ = conn.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

async fn logged<S: Service>(
    name: &str,
    port: u16,
    service: &S,
    req: Request<Incoming>,
    report: &Report,
) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    // Never the query: presigned URLs carry their signature there.
    let path = shown_path(req.uri().path());
    let response = match host_refusal(&req, port) {
        None => service.call(req).await,
        Some(why) => {
            let mut r = service.refuse_host(&req, &why);
            note(&mut r, why);
            r
        }
    };
    let name = response.extensions().get::<LogName>().map_or(name, |n| n.0);
    let extra = response
        .extensions()
        .get::<LogNote>()
        .map(|n| format!("  {}", n.0))
        .unwrap_or_default();
    report.detail(format!(
        "{name:<9} {method} {path} {} {:.1}ms{extra}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    response
}

/// A request path fit for a log line: bounded, control characters escaped.
fn shown_path(path: &str) -> String {
    bounded(path, 160)
}

/// A client's text fit for a message: at most `max` characters, control characters and quotes
/// escaped.
fn bounded(text: &str, max: usize) -> String {
    let mut s: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_own_host_is_answered() {
        let ask = |target: &str, hosts: &[&str]| {
            let mut req = Request::builder().uri(target);
            for h in hosts {
                req = req.header("host", *h);
            }
            host_refusal(&req.body(()).unwrap(), 8080)
        };
        for host in ["127.0.0.1:8080", "localhost:8080", "LocalHost:8080"] {
            assert_eq!(ask("/", &[host]), None, "{host}");
            assert_eq!(ask(&format!("http://{host}/"), &[host]), None, "{host}");
        }
        for (target, hosts, named) in [
            (
                "/",
                &["evil.example:8080"][..],
                "Host \"evil.example:8080\"",
            ),
            ("/", &["127.0.0.1"], "Host \"127.0.0.1\""),
            ("/", &["127.0.0.1:8081"], "Host \"127.0.0.1:8081\""),
            ("/", &["[::1]:8080"], "Host \"[::1]:8080\""),
            ("/", &[], "no Host header"),
            ("/", &["127.0.0.1:8080", "evil:8080"], "2 Host headers"),
            (
                "http://evil:8080/",
                &["127.0.0.1:8080"],
                "the target's host \"evil:8080\"",
            ),
        ] {
            let why = ask(target, hosts).expect("refused");
            assert!(why.ends_with(named), "{target} {hosts:?}: {why}");
            assert!(why.contains("127.0.0.1:8080 or localhost:8080"), "{why}");
        }
        let long = format!("{}:8080", "a".repeat(500));
        let why = ask("/", &[&long]).unwrap();
        assert!(why.len() < 400, "{why}");
    }

    #[test]
    fn logged_paths_are_bounded_and_escaped() {
        assert_eq!(shown_path("/a\nb"), "/a\\nb");
        assert_eq!(shown_path(&"x".repeat(500)).chars().count(), 161);
    }
}
