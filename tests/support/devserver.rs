//! Harness for `presign-stack dev`: the real binary on free loopback ports, and a raw HTTP/1.1
//! client (raw so that tests can also send what no well-behaved client would).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `presign-stack dev`, stopped (killed if need be) when dropped.
pub struct Dev {
    child: Child,
    pub url: String,
    pub presigner_url: String,
    pub documents_url: String,
    pub data_dir: PathBuf,
    /// dev's own sign-in, with `auth`.
    pub issuer_url: Option<String>,
    pub stderr: PathBuf,
}

/// The binary with nothing from the environment but PATH and HOME: dev must need no AWS
/// configuration.
pub fn command(spec: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .arg("--spec")
        .arg(spec);
    c
}

impl Dev {
    /// Starts dev for `spec` (all ports free ones) and waits for its addresses.
    /// `data_dir: None` uses the default location next to the spec.
    pub fn start(spec: &Path, data_dir: Option<&Path>) -> Dev {
        Dev::start_with(spec, data_dir, &[])
    }

    /// [`Dev::start`] with more arguments for `dev` (`--auth spec`).
    pub fn start_with(spec: &Path, data_dir: Option<&Path>, args: &[&str]) -> Dev {
        Dev::start_with_env(spec, data_dir, args, &[])
    }

    /// [`Dev::start_with`] with environment variables for dev.
    pub fn start_with_env(
        spec: &Path,
        data_dir: Option<&Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Dev {
        let dir = spec.parent().unwrap();
        let stderr = dir.join(format!(
            "dev-stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut c = command(spec);
        c.envs(env.iter().copied());
        c.args(["--output", "json", "-v", "dev", "--port", "0"]);
        c.args(args);
        if let Some(d) = data_dir {
            c.arg("--data-dir").arg(d);
        }
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("starting presign-stack dev");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The addresses are one JSON document; collect lines until they parse.
            let mut text = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                text.push_str(&line);
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    let _ = tx.send(v);
                    return;
                }
            }
        });
        let Ok(addresses) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dev printed no addresses; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        let field = |k: &str| addresses[k].as_str().unwrap().to_string();
        Dev {
            url: field("url"),
            presigner_url: field("presigner_url"),
            documents_url: field("documents_url"),
            data_dir: PathBuf::from(field("data_dir")),
            issuer_url: addresses["issuer_url"].as_str().map(str::to_string),
            child,
            stderr,
        }
    }

    /// The page's origin, as a browser sends it.
    pub fn origin(&self) -> String {
        self.url.trim_end_matches('/').to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` (INT, TERM) and returns how the process ended and how long it took.
    pub fn signal(mut self, signal: &str) -> (ExitStatus, Duration) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{signal} {pid} failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "dev did not stop within 10 s of SIG{signal}; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C, and the exit must be clean and prompt.
    pub fn stop(self) {
        let log = self.stderr.clone();
        let (status, took) = self.signal("INT");
        assert!(
            status.success(),
            "dev exited with {status} after Ctrl-C; stderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        assert!(took < Duration::from_secs(5), "dev took {took:?} to stop");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Splits `http://host:port/path?query` into the authority and the request target.
/// The presigned GET URL the presigner hands out for `key` (`GET /downloads`).
pub fn download_url(dev: &Dev, key: &str) -> String {
    let r = get(&format!(
        "{}downloads?key={}",
        dev.presigner_url,
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["url"].as_str().unwrap().to_string()
}

/// The S3 error code in an XML error body.
pub fn s3_code(r: &Reply) -> String {
    let text = r.text();
    text.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or_else(|| panic!("no S3 error code in {} {text:?}", r.status))
        .to_string()
}

pub fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let at = rest.find('/').unwrap_or(rest.len());
    let target = if at == rest.len() { "/" } else { &rest[at..] };
    (rest[..at].to_string(), target.to_string())
}

/// `method url` with `headers` and `body`. A `content-length` is added for a body unless
/// `headers` has one (then it is sent as given, even if it does not match).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let (authority, target) = split_url(url);
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let has_length = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_length && (!body.is_empty() || method == "PUT" || method == "POST") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    raw(&authority, &bytes)
}

pub fn get(url: &str) -> Reply {
    http("GET", url, &[], b"")
}

/// Sends `bytes` as they are and reads the reply until the server closes the connection.
pub fn raw(authority: &str, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(authority).expect("connecting to dev");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // The server may answer and close before taking the whole request (a refused upload);
    // its answer is still there to read.
    let _ = s.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) if !buf.is_empty() => break,
            Err(e) => panic!("reading the reply from {authority}: {e}"),
        }
    }
    parse(&buf).unwrap_or_else(|| {
        panic!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(500)])
        )
    })
}

fn parse(buf: &[u8]) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if let Some(n) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// PUTs `body` to an upload answer's `url` with the `headers` it names, as the page does.
pub fn put_as_answered(answer: &serde_json::Value, body: &[u8]) -> Reply {
    let headers: Vec<(String, String)> = answer["headers"]
        .as_object()
        .expect("the answer's headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    http(
        "PUT",
        answer["url"].as_str().expect("the answer's url"),
        &headers,
        body,
    )
}

/// A spec for dev tests, written into `dir` next to a small website in `dir/site`.
pub fn write_project(dir: &Path, presigner_extra: &str) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("img")).unwrap();
    std::fs::create_dir_all(site.join("docs")).unwrap();
    std::fs::create_dir_all(site.join(".git")).unwrap();
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>dev test</title>",
    )
    .unwrap();
    std::fs::write(site.join("app.js"), "console.log('app');\n").unwrap();
    std::fs::write(site.join("img/logo.png"), b"\x89PNG\r\n\x1a\nfake").unwrap();
    std::fs::write(site.join("docs/index.html"), "<p>docs</p>").unwrap();
    std::fs::write(site.join(".git/config"), "[secret]").unwrap();
    let zip = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\n").unwrap();
    std::fs::write(dir.join("bundle.zip"), zip).unwrap();
    let spec = dir.join("presign-stack.yaml");
    std::fs::write(
        &spec,
        format!(
            "version: 1\nname: devtest\nregion: eu-central-1\n\
             presigner:\n  zip: bundle.zip\n  max_upload_bytes: 1048576\n  \
             allowed_content_types: [text/plain, image/png]\n{presigner_extra}\
             website: {{source: site}}\n"
        ),
    )
    .unwrap();
    spec
}
