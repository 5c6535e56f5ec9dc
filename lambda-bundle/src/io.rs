//! The presigner's only way out to the network, used with `auth` and the malware scan alone:
//! the issuer's discovery document and JWKS, the few S3 calls a signed-in user's folder needs,
//! and reading an object's scan verdict (see `folder`). Without either, nothing here is called
//! and the handler stays a pure function.
//!
//! [`Io`] is a trait so that a test can count or refuse the calls; [`Http`] is the real one
//! (ureq: blocking, rustls with Mozilla's roots built in, so the Lambda needs no CA bundle).

use std::time::Duration;

/// Largest body read back from any call (a JWKS, one page of a listing): a hostile or broken
/// server cannot make the function hold more.
pub const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// How long one call may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Call {
    pub fn get(url: impl Into<String>) -> Call {
        Call {
            method: "GET",
            url: url.into(),
            headers: Vec::new(),
        }
    }
}

/// What came back: any status (a 4xx is an answer, not a failure of the call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends calls. `Err` is a call that got no HTTP answer (refused, timed out, TLS failed), in
/// words fit for an error message.
pub trait Io: Send + Sync {
    fn send(&self, call: &Call) -> Result<Answer, String>;
}

/// The network, through ureq. Redirects are not followed: an issuer's JWKS or S3 that answers
/// with one is reported, not trusted.
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Http {
            agent: config.into(),
        }
    }
}

impl Io for Http {
    fn send(&self, call: &Call) -> Result<Answer, String> {
        let mut builder = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        for (k, v) in &call.headers {
            builder = builder.header(*k, v.as_str());
        }
        let request = builder
            .body(Vec::<u8>::new())
            .map_err(|e| format!("bad request to {}: {e}", shown_url(&call.url)))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("{} {}: {e}", call.method, shown_url(&call.url)))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| {
                format!(
                    "reading the answer of {} {}: {e}",
                    call.method,
                    shown_url(&call.url)
                )
            })?;
        Ok(Answer { status, body })
    }
}

/// Makes no call: for a presigner without `auth`, which never needs one.
pub struct Offline;

impl Io for Offline {
    fn send(&self, call: &Call) -> Result<Answer, String> {
        Err(format!(
            "{} {}: this presigner was set up without network access",
            call.method,
            shown_url(&call.url)
        ))
    }
}

/// A URL without its query, which may hold a signature.
pub fn shown_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
