//! The presigner in dev: the Lambda's own handler (`presigner::handle_with_log`) behind what a
//! Function URL puts in front of it: CORS and a payload limit.

use std::time::SystemTime;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::cors::{Refusal, Rule};
use super::http::{full, header_pairs, note, set, Body, Service};

/// A Function URL refuses request payloads over 6 MB before the function runs.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

pub struct FunctionUrl {
    pub config: presigner::Config,
    pub credentials: presigner::Credentials,
    pub cors: Rule,
}

fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    full(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string(),
    )
}

impl Service for FunctionUrl {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        if req.method() == Method::OPTIONS {
            return match self.cors.preflight(&req) {
                Ok(headers) => {
                    let mut r = super::http::empty(StatusCode::OK);
                    for (k, v) in headers {
                        set(&mut r, k, &v);
                    }
                    r
                }
                Err(Refusal::NotPreflight(why)) => {
                    let mut r = json_error(StatusCode::BAD_REQUEST, why);
                    note(&mut r, why);
                    r
                }
                Err(Refusal::NotAllowed(why)) => {
                    // A Function URL answers such a preflight without CORS headers, which the
                    // browser reports as a CORS failure; the 403 and the reason make the same
                    // refusal readable with curl.
                    let message = format!("CORS preflight refused: {why}");
                    let mut r = json_error(StatusCode::FORBIDDEN, &message);
                    note(&mut r, message);
                    r
                }
            };
        }
        let cors = self.cors.actual(&req);
        let mut response = self.invoke(req).await;
        for (k, v) in cors {
            set(&mut response, k, &v);
        }
        response
    }
}

impl FunctionUrl {
    async fn invoke(&self, req: Request<Incoming>) -> Response<Body> {
        let headers = header_pairs(&req);
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let body = match Limited::new(req.into_body(), MAX_PAYLOAD_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes().to_vec(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                let message = "request payload is larger than 6 MB, a Function URL's limit";
                let mut r = json_error(StatusCode::PAYLOAD_TOO_LARGE, message);
                note(&mut r, message);
                return r;
            }
            Err(e) => {
                let message = format!("could not read the request body: {e}");
                let mut r = json_error(StatusCode::BAD_REQUEST, &message);
                note(&mut r, message);
                return r;
            }
        };
        let request = presigner::Request {
            method,
            path,
            query,
            headers,
            body,
        };
        let (answer, log) = presigner::handle_with_log(
            &self.config,
            &self.credentials,
            SystemTime::now(),
            &request,
        );
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
