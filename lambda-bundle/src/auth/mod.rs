//! Who is asking (SPEC.md section 6): the bearer token of every request, verified against an
//! OpenID Connect issuer's keys, and the caller it names.
//!
//! - The token comes from `x-presign-authorization` (behind CloudFront, whose own signature
//!   takes `authorization`), else from `authorization`; either as `Bearer <JWT>`.
//! - Its header must name an allowed algorithm (RS256/384/512, ES256/384, EdDSA) and a `kid`;
//!   the key is the issuer's JWKS entry of that `kid` (see [`keys`]), never one the token
//!   carries (`jwk`, `jku` and `x5u` are ignored). The key's type must fit the algorithm, so an
//!   HMAC signed with an RSA public key (algorithm confusion) fails.
//! - Claims: `iss` exactly the issuer; `aud` one of the audiences, or with no `aud` a
//!   `client_id` among them (Cognito access tokens); `exp` in the future, `nbf` and `iat` not
//!   in it, all with [`LEEWAY_SECONDS`]; `sub` present and non-empty. The times are checked
//!   here against the request's clock, so that every refusal names its claim.
//! - A refusal is 401 with `WWW-Authenticate: Bearer` and says which check failed; it never
//!   echoes the token.

pub mod keys;
pub mod settings;

use crate::api::{ApiError, Request};
use crate::clock::unix_seconds;
use crate::io::Io;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

pub use keys::Keys;
pub use settings::*;

/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;
/// Longest token read: a few kilobytes is plenty for any issuer's.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The algorithms a token may be signed with; `none` and HMAC are never accepted.
pub const ALLOWED_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`.
    pub subject: String,
    /// Their folder's name: one path segment of `[a-z0-9-]`.
    pub user: String,
}

impl Caller {
    /// `<uploads_prefix><user>/`.
    pub fn folder(&self, uploads_prefix: &str) -> String {
        format!("{uploads_prefix}{}/", self.user)
    }
}

/// The folder name of (`iss`, `sub`): the `sub` itself when it is 1 to 64 characters of
/// `[a-z0-9-]` (Cognito's UUIDs stay readable), else `x-` and 26 base32 characters of
/// SHA-256(`iss`, `sub`) (no e-mail address in a key). A kept `sub` never starts with `x-`,
/// so the two forms cannot meet.
pub fn user_segment(issuer: &str, sub: &str) -> String {
    let plain = (1..=64).contains(&sub.len())
        && !sub.starts_with("x-")
        && sub
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if plain {
        return sub.to_string();
    }
    let mut h = Sha256::new();
    h.update(issuer.as_bytes());
    h.update([0u8]);
    h.update(sub.as_bytes());
    let digest = h.finalize();
    format!("x-{}", base32_lower(&digest[..16]))
}

/// RFC 4648 base32 in lower case, without padding.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A refusal of the token: 401, challenged.
fn unauthorized(message: impl Into<String>) -> ApiError {
    let mut e = crate::api::fail(401, message);
    e.challenge = true;
    e
}

/// The bearer token of a request, from `x-presign-authorization` first.
fn bearer(req: &Request) -> Result<&str, ApiError> {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let (name, value) =
        match header("x-presign-authorization") {
            Some(v) => ("x-presign-authorization", v),
            None => match header("authorization") {
                Some(v) => ("authorization", v),
                None => return Err(unauthorized(
                    "sign in first: this presigner needs a token (Authorization: Bearer <token>)",
                )),
            },
        };
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => {
            return Err(unauthorized(format!(
                "the {name} header is not a bearer token (expected `Bearer <token>`)"
            )))
        }
    };
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(unauthorized(format!(
            "the bearer token is empty or longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    Ok(token)
}

/// Verifies the request's token and names the caller.
pub(crate) fn authenticate(
    auth: &AuthConfig,
    keys: &Keys,
    io: &dyn Io,
    now: SystemTime,
    req: &Request,
) -> Result<Caller, ApiError> {
    let token = bearer(req)?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| {
        unauthorized(format!(
            "the token's header is not a JWS header with a known algorithm ({e}); `none` is never accepted"
        ))
    })?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(unauthorized(format!(
            "the token is signed with {:?}, which is not accepted (RS256, RS384, RS512, ES256, \
             ES384 or EdDSA)",
            header.alg
        )));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| unauthorized("the token's header has no kid naming the issuer's key"))?;
    let jwk = keys.key(auth, io, now, kid)?;
    if let Some(alg) = jwk.common.key_algorithm {
        if format!("{alg:?}") != format!("{:?}", header.alg) {
            return Err(unauthorized(format!(
                "the token is signed with {:?} but the issuer's key {kid} is for {alg:?}",
                header.alg
            )));
        }
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| {
        crate::api::fail(
            503,
            format!("the issuer's key {kid} cannot be used ({e}); the issuer's JWKS needs fixing"),
        )
    })?;
    // The signature and the algorithm's fit to the key here; the claims below, against the
    // request's clock.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        unauthorized(match e.kind() {
            ErrorKind::InvalidSignature => "the token's signature does not verify".to_string(),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => format!(
                "the token's algorithm {:?} does not fit the issuer's key {kid}",
                header.alg
            ),
            _ => format!("the token cannot be read ({e})"),
        })
    })?;
    claims(auth, &data.claims, now)
}

/// The claims' checks, in the order the SPEC lists them.
fn claims(auth: &AuthConfig, c: &Value, now: SystemTime) -> Result<Caller, ApiError> {
    match c.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == auth.issuer => {}
        Some(_) => {
            return Err(unauthorized(format!(
                "the token was issued by another issuer than {}",
                auth.issuer
            )))
        }
        None => return Err(unauthorized("the token has no iss claim")),
    }
    let audiences: Vec<&str> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let accepted = |a: &&str| auth.audiences.iter().any(|x| x == a);
    let audience_ok = if c.get("aud").is_some() {
        audiences.iter().any(accepted)
    } else {
        c.get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|id| accepted(&id))
    };
    if !audience_ok {
        return Err(unauthorized(
            "the token is meant for another audience (its aud, or client_id without aud, is \
             not among the accepted ones)",
        ));
    }
    let now = unix_seconds(now);
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        match c.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f as i64)),
            Some(_) => Err(unauthorized(format!("the token's {name} is not a number"))),
        }
    };
    match time("exp")? {
        None => return Err(unauthorized("the token has no exp claim")),
        Some(exp) if exp + LEEWAY_SECONDS <= now => {
            return Err(unauthorized(format!(
                "the token expired {} s ago; sign in again",
                now - exp
            )))
        }
        Some(_) => {}
    }
    if let Some(nbf) = time("nbf")? {
        if nbf - LEEWAY_SECONDS > now {
            return Err(unauthorized(format!(
                "the token is not valid for another {} s (nbf)",
                nbf - now
            )));
        }
    }
    if let Some(iat) = time("iat")? {
        if iat - LEEWAY_SECONDS > now {
            return Err(unauthorized(format!(
                "the token was issued {} s in the future (iat); check the issuer's clock",
                iat - now
            )));
        }
    }
    let subject = match c.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return Err(unauthorized("the token has no sub claim naming the user")),
    };
    Ok(Caller {
        user: user_segment(&auth.issuer, &subject),
        subject,
    })
}

#[cfg(test)]
mod tests;
