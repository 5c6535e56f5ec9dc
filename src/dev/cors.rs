//! CORS as the two AWS services in front of the page evaluate it: S3 for the documents store
//! (the spec's `documents.cors`) and Lambda for the Function URL (`presigner.function_url`).
//! The page runs on its own origin in dev, as in production, so a CORS rule that would break
//! the deployed page breaks the dev page too.

use hyper::body::Incoming;
use hyper::Request;

use super::http::header;
use crate::spec::{wildcard_match, Origin};

/// One CORS rule. Origins and headers may hold one `*` wildcard, as S3 allows.
#[derive(Debug, Clone)]
pub struct Rule {
    pub origins: Vec<String>,
    /// Upper-case.
    pub methods: Vec<String>,
    /// Lower-case.
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age_seconds: u32,
}

/// Why a preflight was refused, for the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Origin or Access-Control-Request-Method absent: not a CORS preflight at all.
    NotPreflight(&'static str),
    /// A well-formed preflight that the rule does not allow.
    NotAllowed(String),
}

/// The spec's origins with `website` replaced by the dev page's origins (both spellings of
/// the loopback host, since a person may open either).
pub fn origins(spec_origins: &[Origin], page_origins: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in spec_origins {
        let expanded = match o {
            Origin::Website => page_origins.to_vec(),
            Origin::Url(u) => vec![u.clone()],
        };
        for e in expanded {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

impl Rule {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| wildcard_match(o, origin))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    /// What to send as Access-Control-Allow-Origin: `*` when the rule allows any origin
    /// (as S3 and Lambda do), else the request's origin.
    fn allow_origin_value(&self, origin: &str) -> String {
        if self.origins.iter().any(|o| o == "*") {
            "*".into()
        } else {
            origin.into()
        }
    }

    /// Answers an OPTIONS preflight: the headers to send with 200, or why not.
    pub fn preflight(
        &self,
        req: &Request<Incoming>,
    ) -> Result<Vec<(&'static str, String)>, Refusal> {
        let origin = header(req, "origin").ok_or(Refusal::NotPreflight(
            "Insufficient information. Origin request header needed.",
        ))?;
        let method = header(req, "access-control-request-method").ok_or(Refusal::NotPreflight(
            "Invalid Access-Control-Request-Method header: the preflight names no method.",
        ))?;
        let requested: Vec<String> = header(req, "access-control-request-headers")
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !self.allows_origin(origin) {
            return Err(Refusal::NotAllowed(format!(
                "origin {origin:?} is not allowed (allowed: {})",
                self.origins.join(", ")
            )));
        }
        if !self.allows_method(method) {
            return Err(Refusal::NotAllowed(format!(
                "method {method:?} is not allowed (allowed: {})",
                self.methods.join(", ")
            )));
        }
        if let Some(h) = requested
            .iter()
            .find(|h| !self.headers.iter().any(|a| wildcard_match(a, h)))
        {
            return Err(Refusal::NotAllowed(format!(
                "header {h:?} is not allowed (allowed: {})",
                self.headers.join(", ")
            )));
        }
        let mut out = vec![
            (
                "access-control-allow-origin",
                self.allow_origin_value(origin),
            ),
            ("access-control-allow-methods", self.methods.join(", ")),
            ("access-control-max-age", self.max_age_seconds.to_string()),
            (
                "vary",
                "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
            ),
        ];
        if !requested.is_empty() {
            out.push(("access-control-allow-headers", requested.join(", ")));
        }
        if !self.expose.is_empty() {
            out.push(("access-control-expose-headers", self.expose.join(", ")));
        }
        Ok(out)
    }

    /// Headers for an actual (non-preflight) request: none when the origin or method is not
    /// allowed, which is how S3 and Lambda refuse; the browser then hides the response.
    pub fn actual(&self, req: &Request<Incoming>) -> Vec<(&'static str, String)> {
        let Some(origin) = header(req, "origin") else {
            return Vec::new();
        };
        if !self.allows_origin(origin) || !self.allows_method(req.method().as_str()) {
            return vec![("vary", "Origin".into())];
        }
        let mut out = vec![
            (
                "access-control-allow-origin",
                self.allow_origin_value(origin),
            ),
            ("vary", "Origin".into()),
        ];
        if !self.expose.is_empty() {
            out.push(("access-control-expose-headers", self.expose.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_run() {
        assert!(wildcard_match("*", "http://anything"));
        assert!(wildcard_match(
            "https://*.example.com",
            "https://a.example.com"
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.com"
        ));
        assert!(wildcard_match("x-amz-*", "X-Amz-Meta-A"));
        assert!(!wildcard_match("content-type", "content-length"));
    }

    #[test]
    fn website_means_the_dev_page() {
        let page = vec!["http://127.0.0.1:8080".to_string()];
        assert_eq!(
            origins(
                &[Origin::Website, Origin::Url("https://a.example".into())],
                &page
            ),
            ["http://127.0.0.1:8080", "https://a.example"]
        );
    }
}
