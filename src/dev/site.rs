//! The website in dev: the files of `website.source` as the S3 website endpoint serves them
//! (index document for `/` and `…/`, the error document with 404 for anything missing, the
//! sync's content types and publishing rules), plus the generated runtime config.
//!
//! Files are read on every request, so an edit shows on reload; everything is `no-cache`
//! for the same reason, whatever the spec's `cache_control` says for the deployed site.

use std::path::{Component, Path, PathBuf};

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

use super::http::{empty, full, note, set, Body, Service};
use crate::sync::content_type;

pub struct Site {
    pub root: PathBuf,
    pub index_document: String,
    pub error_document: String,
    /// `website.config_file` and the JSON to serve there.
    pub config: Option<RuntimeConfig>,
}

/// The generated runtime config.
pub struct RuntimeConfig {
    /// `website.config_file`.
    pub key: String,
    /// The JSON for each spelling of the page's host (`127.0.0.1:8080`, `localhost:8080`,
    /// the only Hosts the page's server answers), which differ when the presigner is on the
    /// page's own origin.
    pub bodies: Vec<(String, Vec<u8>)>,
}

impl RuntimeConfig {
    fn body_for(&self, host: Option<&str>) -> Option<&[u8]> {
        self.bodies
            .iter()
            .find(|(h, _)| host.is_some_and(|host| host.eq_ignore_ascii_case(h)))
            .map(|(_, b)| b.as_slice())
    }
}

/// The file a key names under `root`, if the sync would publish it: every segment a plain
/// name (no `..`, no drive or root, no empty segment), none hidden but `.well-known`.
fn published_path(root: &Path, key: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for seg in key.split('/') {
        let plain = matches!(
            Path::new(seg).components().collect::<Vec<_>>()[..],
            [Component::Normal(c)] if c == seg
        );
        let hidden = seg.starts_with('.') && seg != ".well-known";
        if !plain || hidden || seg.contains(['\\', '\0']) {
            return None;
        }
        path.push(seg);
    }
    // Links are followed only where the sync follows them: to no hidden path inside the folder.
    let real = path.canonicalize().ok()?;
    let inside = real.strip_prefix(root.canonicalize().ok()?).ok()?;
    (!crate::sync::hidden(inside)).then_some(path)
}

/// A response with `bytes`, or for HEAD only their length.
fn content(status: StatusCode, content_type: &str, bytes: Vec<u8>, head: bool) -> Response<Body> {
    let length = bytes.len();
    let mut r = full(status, content_type, if head { Vec::new() } else { bytes });
    set(&mut r, "content-length", &length.to_string());
    r
}

impl Site {
    fn file(&self, key: &str) -> Option<PathBuf> {
        published_path(&self.root, key).filter(|p| p.is_file())
    }

    async fn serve_file(
        &self,
        status: StatusCode,
        key: &str,
        path: &Path,
        head: bool,
    ) -> Response<Body> {
        match tokio::fs::read(path).await {
            Ok(bytes) => content(status, &content_type(key), bytes, head),
            Err(e) => {
                let mut r = full(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "500 could not read the file\n",
                );
                note(&mut r, format!("reading {}: {e}", path.display()));
                r
            }
        }
    }

    async fn route(&self, req: &Request<Incoming>) -> Response<Body> {
        let head = req.method() == Method::HEAD;
        if !head && req.method() != Method::GET {
            let mut r = full(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "405 Method Not Allowed: the website serves GET and HEAD\n",
            );
            set(&mut r, "allow", "GET, HEAD");
            return r;
        }
        let raw_path = req.uri().path();
        let Ok(decoded) = percent_decode_str(raw_path).decode_utf8() else {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                "400 Bad Request: the path is not UTF-8 once decoded\n",
            );
        };
        let key = decoded.strip_prefix('/').unwrap_or(&decoded);
        let key = if key.is_empty() || key.ends_with('/') {
            format!("{key}{}", self.index_document)
        } else {
            key.to_string()
        };
        if let Some(config) = &self.config {
            let host = super::http::header(req, "host");
            if let Some(body) = config.body_for(host).filter(|_| config.key == key) {
                return content(
                    StatusCode::OK,
                    "application/json; charset=utf-8",
                    body.to_vec(),
                    head,
                );
            }
        }
        if let Some(path) = self.file(&key) {
            return self.serve_file(StatusCode::OK, &key, &path, head).await;
        }
        // As the S3 website endpoint does: `/docs` with a `docs/index.html` redirects to `/docs/`.
        if self
            .file(&format!("{key}/{}", self.index_document))
            .is_some()
        {
            let mut r = empty(StatusCode::FOUND);
            set(&mut r, "location", &format!("{raw_path}/"));
            return r;
        }
        match self.file(&self.error_document) {
            Some(path) => {
                let error_key = self.error_document.clone();
                self.serve_file(StatusCode::NOT_FOUND, &error_key, &path, head)
                    .await
            }
            None => full(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "404 Not Found\n",
            ),
        }
    }
}

/// What every answer of the website carries.
fn finish(mut r: Response<Body>) -> Response<Body> {
    set(&mut r, "cache-control", "no-cache");
    set(&mut r, "x-content-type-options", "nosniff");
    r
}

impl Service for Site {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        finish(self.route(&req).await)
    }

    fn refuse_host(&self, _req: &Request<Incoming>, why: &str) -> Response<Body> {
        finish(full(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            format!("403 Forbidden: {why}\n"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_names_map_to_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in ["img/logo.png", ".well-known/security.txt", "a/b"] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        assert_eq!(
            published_path(root, "img/logo.png"),
            Some(root.join("img").join("logo.png"))
        );
        assert!(published_path(root, ".well-known/security.txt").is_some());
        assert_eq!(published_path(root, "img/missing.png"), None);
        for key in [
            "../etc/passwd",
            "a/../../b",
            "./a",
            "a//b",
            "/etc/passwd",
            ".git/config",
            "a/.env",
            "a\\b",
            "a\0b",
            "",
        ] {
            assert_eq!(published_path(root, key), None, "{key:?}");
        }
    }
}
