//! The issuer's signing keys, kept between requests.
//!
//! The first token makes the presigner read the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`, whose `issuer` must equal the configured one)
//! for its `jwks_uri`, unless one is configured, then the JWKS. After that a request makes no
//! call unless its `kid` is not among the keys held: then the JWKS is read again, so a rotated
//! key needs no redeploy, but at most once every [`REFETCH_INTERVAL_SECONDS`], so tokens with
//! made-up `kid`s cannot make the function hammer the issuer. A failed read counts as a read.

use super::{unauthorized, validate_issuer_url, AuthConfig};
use crate::api::{fail, ApiError};
use crate::clock::unix_seconds;
use crate::io::{Call, Io};
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use std::sync::Mutex;
use std::time::SystemTime;

/// Shortest time between two reads of the JWKS.
pub const REFETCH_INTERVAL_SECONDS: i64 = 10;

#[derive(Default)]
struct Held {
    /// The JWKS URL, once known.
    jwks_uri: Option<String>,
    /// Signing keys by `kid`.
    keys: Vec<(String, Jwk)>,
    /// When the JWKS was last read (or its read failed), in Unix seconds.
    fetched_at: Option<i64>,
    /// How many times it was read: for tests and the benchmark.
    fetches: u32,
}

/// The key cache. One per process; the lock is held across a fetch, so concurrent requests
/// with an unknown `kid` cause one read, not one each.
#[derive(Default)]
pub struct Keys {
    held: Mutex<Held>,
}

impl Keys {
    pub fn new() -> Keys {
        Keys::default()
    }

    /// How many times the JWKS has been read.
    pub fn fetches(&self) -> u32 {
        self.held.lock().map(|h| h.fetches).unwrap_or(0)
    }

    /// The key `kid`, reading the JWKS when it is not held and the last read is old enough.
    pub(crate) fn key(
        &self,
        auth: &AuthConfig,
        io: &dyn Io,
        now: SystemTime,
        kid: &str,
    ) -> Result<Jwk, ApiError> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = find(&held.keys, kid) {
            return Ok(k);
        }
        let now = unix_seconds(now);
        if let Some(at) = held.fetched_at {
            let age = now - at;
            if (0..REFETCH_INTERVAL_SECONDS).contains(&age) {
                return Err(unauthorized(format!(
                    "the token's key {} is not among the issuer's keys (read {age} s ago; they \
                     are read again at most every {REFETCH_INTERVAL_SECONDS} s)",
                    shown_kid(kid)
                )));
            }
        }
        held.fetched_at = Some(now);
        held.fetches += 1;
        let uri = match held.jwks_uri.clone().or_else(|| auth.jwks_uri.clone()) {
            Some(u) => u,
            None => {
                let u = discover(auth, io)?;
                held.jwks_uri = Some(u.clone());
                u
            }
        };
        held.keys = fetch_keys(io, &uri)?;
        find(&held.keys, kid).ok_or_else(|| {
            unauthorized(format!(
                "the token's key {} is not among the issuer's keys",
                shown_kid(kid)
            ))
        })
    }
}

fn find(keys: &[(String, Jwk)], kid: &str) -> Option<Jwk> {
    keys.iter().find(|(k, _)| k == kid).map(|(_, j)| j.clone())
}

/// A `kid` as shown in a message: at most 64 characters, printable.
fn shown_kid(kid: &str) -> String {
    let s: String = kid
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("{s:?}")
}

/// The issuer could not be read: the function's own temporary failure.
fn unavailable(what: &str, detail: impl std::fmt::Display) -> ApiError {
    fail(
        503,
        format!("could not read the issuer's {what} ({detail}); try again shortly"),
    )
}

fn get_json(io: &dyn Io, url: &str, what: &str) -> Result<Value, ApiError> {
    let answer = io.send(&Call::get(url)).map_err(|e| unavailable(what, e))?;
    if answer.status != 200 {
        return Err(unavailable(
            what,
            format!("HTTP {} from {}", answer.status, crate::io::shown_url(url)),
        ));
    }
    serde_json::from_slice(&answer.body).map_err(|_| unavailable(what, "its answer is not JSON"))
}

/// The JWKS URL from the issuer's discovery document.
fn discover(auth: &AuthConfig, io: &dyn Io) -> Result<String, ApiError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        auth.issuer.trim_end_matches('/')
    );
    let doc = get_json(io, &url, "discovery document")?;
    if doc.get("issuer").and_then(Value::as_str) != Some(auth.issuer.as_str()) {
        return Err(unavailable(
            "discovery document",
            format!("it names another issuer than {}", auth.issuer),
        ));
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| unavailable("discovery document", "it has no jwks_uri"))?;
    validate_issuer_url(uri).map_err(|e| unavailable("discovery document", e))?;
    Ok(uri.to_string())
}

/// The signing keys of a JWKS: entries with a `kid`, meant for signatures (no `use`, or
/// `use: sig`) and of a type this crate reads; any other entry is skipped.
fn fetch_keys(io: &dyn Io, uri: &str) -> Result<Vec<(String, Jwk)>, ApiError> {
    let doc = get_json(io, uri, "JWKS")?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| unavailable("JWKS", "it has no keys array"))?;
    Ok(entries
        .iter()
        .filter(|e| e.get("use").is_none_or(|u| u == "sig"))
        .filter_map(|e| serde_json::from_value::<Jwk>(e.clone()).ok())
        .filter(|j| {
            !matches!(
                j.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            )
        })
        .filter_map(|j| j.common.key_id.clone().map(|kid| (kid, j)))
        .collect())
}
