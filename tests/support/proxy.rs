//! An HTTP proxy in front of moto that answers as AWS does where moto does not: each test
//! gives it hooks that see every request (and, once moto answered, its answer) and may answer
//! instead, or change the answer. Plain threads and HTTP/1.1, one request per connection, on
//! loopback only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the client sent it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (`/bucket?policy`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The path without query or trailing `/` (`/bucket` for `/bucket/?policy`).
    pub fn path(&self) -> &str {
        let path = self.target.split('?').next().unwrap_or("");
        path.strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path)
    }

    /// Whether the query has `key` (with or without a value).
    pub fn has_query(&self, key: &str) -> bool {
        self.target
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some(key)))
    }

    /// The JSON protocol's operation (`X-Amz-Target`), e.g. `...GetResources`.
    pub fn target_op(&self) -> Option<&str> {
        self.header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
    }
}

/// An answer, from moto or from a hook.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// No answer at all: the connection is closed. Given before forwarding, a reset; given
    /// with moto's answer, an answer lost after the server acted.
    pub fn drop_connection() -> Response {
        Response::new(0, "text/plain", "")
    }

    /// An S3-style XML error.
    pub fn s3_error(status: u16, code: &str, message: &str) -> Response {
        Response::new(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>proxy</RequestId></Error>"
            ),
        )
    }

    /// A REST-JSON error as Lambda sends it.
    pub fn json_error(status: u16, code: &str, message: &str) -> Response {
        let mut r = Response::new(
            status,
            "application/json",
            serde_json::json!({"Type": "User", "message": message}).to_string(),
        );
        r.headers.push(("x-amzn-errortype".into(), code.into()));
        r
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Called before forwarding (`None`): an answer given here is sent instead, and moto never
/// sees the request. Called again with moto's answer: an answer given then replaces it.
pub type Hook = Arc<dyn Fn(&Request, Option<&Response>) -> Option<Response> + Send + Sync>;

pub struct Proxy {
    pub url: String,
    /// Every request seen, in order: (method, target).
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Proxy {
    pub fn start(upstream: &str, hook: Hook) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (upstream, hook, log) = (upstream.clone(), hook.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &upstream, &hook, &log);
                });
            }
        });
        Proxy { url, seen }
    }

    /// How many requests matched `f`.
    pub fn count(&self, f: impl Fn(&str, &str) -> bool) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, t)| f(m, t))
            .count()
    }
}

fn serve(
    conn: TcpStream,
    upstream: &str,
    hook: &Hook,
    log: &Mutex<Vec<(String, String)>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let (line, headers) = read_head(&mut reader)?;
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let body = read_body(&mut reader, &headers, false)?;
    let req = Request {
        method,
        target,
        headers,
        body,
    };
    log.lock()
        .unwrap()
        .push((req.method.clone(), req.target.clone()));
    let answer = match hook(&req, None) {
        Some(r) => r,
        None => {
            let moto = forward(upstream, &req)?;
            hook(&req, Some(&moto)).unwrap_or(moto)
        }
    };
    if answer.status == 0 {
        return Ok(());
    }
    write_response(conn, &req, &answer)
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((first.trim_end().to_string(), headers))
}

/// A body framed by Content-Length or chunked encoding; with neither, a response's body runs
/// to the end of the stream and a request has none.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    to_eof: bool,
) -> std::io::Result<Vec<u8>> {
    if let Some(n) = header(headers, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    if header(headers, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                return Ok(body);
            }
            let mut chunk = vec![0; n];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    }
    let mut body = Vec::new();
    if to_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// Send one request straight to the upstream (for hooks that make moto do what AWS would).
pub fn send_upstream(
    upstream: &str,
    method: &str,
    target: &str,
    body: &[u8],
) -> std::io::Result<Response> {
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/');
    forward(
        upstream,
        &Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: vec![("host".into(), upstream.to_string())],
            body: body.to_vec(),
        },
    )
}

/// Send `req` to the upstream with another body (as a service that keeps less of it would
/// see it), its headers as the client sent them.
pub fn forward_with_body(
    upstream: &str,
    req: &Request,
    body: Vec<u8>,
) -> std::io::Result<Response> {
    send_request(
        upstream,
        &Request {
            body,
            ..req.clone()
        },
    )
}

/// Send a request of the hook's own to the upstream (headers as given, signature unchecked).
pub fn send_request(upstream: &str, req: &Request) -> std::io::Result<Response> {
    forward(
        upstream.trim_start_matches("http://").trim_end_matches('/'),
        req,
    )
}

fn forward(upstream: &str, req: &Request) -> std::io::Result<Response> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        let k_l = k.to_ascii_lowercase();
        if k_l == "connection" || k_l == "transfer-encoding" || k_l == "content-length" {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body.len()
    ));
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut reader = BufReader::new(up);
    let (status_line, headers) = read_head(&mut reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let body = if req.method == "HEAD" {
        Vec::new()
    } else {
        read_body(&mut reader, &headers, true)?
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn write_response(mut conn: TcpStream, req: &Request, r: &Response) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} Proxy\r\n", r.status);
    let head_request = req.method == "HEAD";
    for (k, v) in &r.headers {
        let k_l = k.to_ascii_lowercase();
        let framing = k_l == "transfer-encoding" || k_l == "connection";
        // A HEAD answer keeps the object's own Content-Length; others get the body's.
        if framing || (k_l == "content-length" && !head_request) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !head_request {
        head.push_str(&format!("content-length: {}\r\n", r.body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    if !head_request {
        conn.write_all(&r.body)?;
    }
    conn.flush()
}
