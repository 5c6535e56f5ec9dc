//! The presigner in dev: the Lambda's own handler (`presigner::handle_with_log`) behind what
//! stands in front of it in production. Called directly ([`Front::FunctionUrl`]), that is the
//! Function URL's CORS and payload limit; behind the distribution at `api_path`
//! ([`Front::Distribution`]), the payload limit and the check Lambda makes of CloudFront's
//! signed request: the payload hash the viewer sent in `x-amz-content-sha256`.

use std::time::SystemTime;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use super::cors::{Refusal, Rule};
use super::http::{full, header_pairs, note, set, Body, Service};

/// A Function URL refuses request payloads over 6 MB before the function runs.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The header in which a viewer of a CloudFront distribution with Origin Access Control for
/// Lambda names the SHA-256 of a request's body.
pub const CONTENT_SHA256: &str = "x-amz-content-sha256";

pub struct FunctionUrl {
    pub config: std::sync::Arc<presigner::Config>,
    pub credentials: std::sync::Arc<presigner::Credentials>,
    /// The issuer's keys and the network, for a presigner with `auth`.
    pub services: std::sync::Arc<presigner::Services>,
    pub front: Front,
}

/// What the page's requests pass through before the handler.
pub enum Front {
    /// The page calls the Function URL on its own origin: CORS applies.
    FunctionUrl(Rule),
    /// The page calls its own origin and CloudFront forwards `<api_path>/*` to the Function
    /// URL (AWS_IAM), signing each request with Origin Access Control. No CORS: the call is
    /// same-origin.
    Distribution,
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    full(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string(),
    )
}

/// A refusal before the handler runs: a JSON error, also noted in the request log.
fn refuse(status: StatusCode, message: &str) -> Response<Body> {
    let mut r = json_error(status, message);
    note(&mut r, message);
    r
}

impl Service for FunctionUrl {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        let Front::FunctionUrl(cors) = &self.front else {
            return self.invoke(req).await;
        };
        if req.method() == Method::OPTIONS {
            return match cors.preflight(&req) {
                Ok(headers) => {
                    let mut r = super::http::empty(StatusCode::OK);
                    for (k, v) in headers {
                        set(&mut r, k, &v);
                    }
                    r
                }
                Err(Refusal::NotPreflight(why)) => refuse(StatusCode::BAD_REQUEST, why),
                // A Function URL answers such a preflight without CORS headers, which the
                // browser reports as a CORS failure; the 403 and the reason make the same
                // refusal readable with curl.
                Err(Refusal::NotAllowed(why)) => refuse(
                    StatusCode::FORBIDDEN,
                    &format!("CORS preflight refused: {why}"),
                ),
            };
        }
        let cors = cors.actual(&req);
        let mut response = self.invoke(req).await;
        for (k, v) in cors {
            set(&mut response, k, &v);
        }
        response
    }

    fn refuse_host(&self, _req: &Request<Incoming>, why: &str) -> Response<Body> {
        json_error(StatusCode::FORBIDDEN, why)
    }
}

/// What Lambda makes of a request CloudFront signed for the viewer: with Origin Access Control,
/// the signature covers the payload hash the viewer sent in `x-amz-content-sha256`, and Lambda
/// takes no unsigned payload. So a POST or PUT without the header, or any request whose header
/// is not the lower-case hex SHA-256 of the body, is refused (403, as Lambda refuses a
/// signature that does not match).
pub fn payload_hash_refusal(method: &Method, sent: Option<&str>, body: &[u8]) -> Option<String> {
    match sent {
        None if method == Method::POST || method == Method::PUT => Some(format!(
            "{CONTENT_SHA256} is missing: behind CloudFront, a {method} to the presigner must \
             carry the hex SHA-256 of its body in {CONTENT_SHA256}, or Lambda refuses the \
             request CloudFront signs for it"
        )),
        None => None,
        Some(sent) => {
            let actual = hex::encode(Sha256::digest(body));
            (sent != actual).then(|| {
                format!(
                    "{CONTENT_SHA256} does not match the request body (its SHA-256 is \
                     {actual}): CloudFront signs the request with the header's value and Lambda \
                     refuses a signature whose payload hash is not the body's; send the \
                     lower-case hex SHA-256 of the exact bytes sent"
                )
            })
        }
    }
}

impl FunctionUrl {
    async fn invoke(&self, req: Request<Incoming>) -> Response<Body> {
        let headers = header_pairs(&req);
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        // A header that is not visible ASCII cannot match a hex digest.
        let sent_hash = req
            .headers()
            .get(CONTENT_SHA256)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
        let body = match Limited::new(req.into_body(), MAX_PAYLOAD_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes().to_vec(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request payload is larger than 6 MB, a Function URL's limit",
                );
            }
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("could not read the request body: {e}"),
                );
            }
        };
        if matches!(self.front, Front::Distribution) {
            if let Some(why) = payload_hash_refusal(&method, sent_hash.as_deref(), &body) {
                return refuse(StatusCode::FORBIDDEN, &why);
            }
        }
        let request = presigner::Request {
            method: method.as_str().to_string(),
            path,
            query,
            headers,
            body,
        };
        let (answer, log) = if self.config.auth.is_some() || self.config.malware_scan {
            // With `auth` the handler reads the issuer's keys and lists the store, and with
            // the malware scan it reads an upload's tags: blocking calls, kept off the
            // server's threads.
            let (config, creds, services) = (
                self.config.clone(),
                self.credentials.clone(),
                self.services.clone(),
            );
            let handled = tokio::task::spawn_blocking(move || {
                presigner::handle_with_services(
                    &config,
                    &creds,
                    SystemTime::now(),
                    &request,
                    &services,
                )
            })
            .await;
            match handled {
                Ok(answered) => answered,
                Err(e) => {
                    return refuse(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &format!("the presigner failed: {e}"),
                    )
                }
            }
        } else {
            presigner::handle_with_log(&self.config, &self.credentials, SystemTime::now(), &request)
        };
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut r = full(status, "application/json", answer.body);
        for (k, v) in &answer.headers {
            if let (Ok(k), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                hyper::header::HeaderValue::from_str(v),
            ) {
                r.headers_mut().insert(k, v);
            }
        }
        if let Some(n) = log.error.or(log.key) {
            note(&mut r, n);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn the_payload_hash_is_checked_as_lambda_checks_a_signed_request() {
        let body = br#"{"filename":"a.txt","contentType":"text/plain","size":1}"#;
        let right = hex::encode(Sha256::digest(body));
        assert_eq!(
            payload_hash_refusal(&Method::POST, Some(&right), body),
            None
        );
        assert_eq!(payload_hash_refusal(&Method::GET, None, b""), None);
        assert_eq!(payload_hash_refusal(&Method::GET, Some(EMPTY), b""), None);
        let missing = payload_hash_refusal(&Method::POST, None, body).unwrap();
        assert!(
            missing.contains("x-amz-content-sha256 is missing"),
            "{missing}"
        );
        for wrong in [EMPTY, &right.to_ascii_uppercase(), "UNSIGNED-PAYLOAD", ""] {
            let why = payload_hash_refusal(&Method::POST, Some(wrong), body).unwrap();
            assert!(why.contains("does not match the request body"), "{why}");
            assert!(why.contains(&right), "{why}");
        }
        assert!(payload_hash_refusal(&Method::GET, Some(&right), b"").is_some());
    }
}
