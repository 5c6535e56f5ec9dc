//! dev's own OpenID Connect issuer (SPEC section 6), so a stack with `auth` runs offline:
//! discovery, a JWKS, an authorize page whose form takes a user name, and a token endpoint for
//! Authorization Code with PKCE (S256 only) and refresh tokens.
//!
//! Tokens are EdDSA JWTs signed with a key made at start-up (a restart signs everyone out).
//! The ID token has `aud` = the spec's client id; the access token has `client_id` and no
//! `aud`, as Cognito's do, so the presigner's checks meet both shapes here. `sub` is the name
//! typed in. Only the spec's client id is known, and a redirect goes only to the page's own
//! origins: a bad request is an error page, never a redirect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::http::{full, note, set, Body, Service};

/// How long a token lives.
pub const TOKEN_SECONDS: u64 = 3600;
/// How long an authorization code may wait to be exchanged.
const CODE_SECONDS: u64 = 60;
/// Largest form accepted.
const MAX_FORM_BYTES: usize = 16 * 1024;
const KID: &str = "presign-stack-dev";

pub struct Issuer {
    /// `http://127.0.0.1:<port>`, exactly as the tokens' `iss`.
    pub url: String,
    client_id: String,
    /// The page's origins: where a sign-in may return to.
    page_origins: Vec<String>,
    key: EncodingKey,
    jwk: Value,
    token_seconds: u64,
    codes: Mutex<HashMap<String, Grant>>,
    refresh: Mutex<HashMap<String, String>>,
}

/// What an authorization code stands for until it is exchanged, once.
struct Grant {
    user: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    scope: String,
    expires: SystemTime,
}

fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Issuer {
    pub fn new(
        url: String,
        client_id: String,
        page_origins: Vec<String>,
        token_seconds: u64,
    ) -> Result<Issuer> {
        // An Ed25519 private key in PKCS#8: the fixed prefix, then 32 random bytes.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        der.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        let key = EncodingKey::from_ed_der(&der);
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .context("making dev's signing key")?;
        jwk.common.key_id = Some(KID.into());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(Issuer {
            url,
            client_id,
            page_origins,
            key,
            jwk: serde_json::to_value(jwk)?,
            token_seconds,
            codes: Mutex::default(),
            refresh: Mutex::default(),
        })
    }

    fn discovery(&self) -> Value {
        let u = &self.url;
        json!({
            "issuer": u,
            "authorization_endpoint": format!("{u}/authorize"),
            "token_endpoint": format!("{u}/token"),
            "jwks_uri": format!("{u}/jwks.json"),
            "end_session_endpoint": format!("{u}/logout"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "email", "profile"],
        })
    }

    /// Whether a sign-in may return to `uri`: one of the page's origins.
    fn redirect_ok(&self, uri: &str) -> bool {
        self.page_origins.iter().any(|o| {
            uri.strip_prefix(o.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// The authorize request's parameters, checked; an error page says what is wrong.
    fn authorize_params(&self, q: &HashMap<String, String>) -> Result<(), String> {
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
        if get("client_id") != self.client_id {
            return Err(format!(
                "client_id {:?} is not this stack's ({}): set auth.client_id, or sign in from \
                 the page dev serves",
                get("client_id"),
                self.client_id
            ));
        }
        if !self.redirect_ok(get("redirect_uri")) {
            return Err(format!(
                "redirect_uri {:?} is not the page's origin ({})",
                get("redirect_uri"),
                self.page_origins.join(" or ")
            ));
        }
        if get("response_type") != "code" {
            return Err("response_type must be code (Authorization Code with PKCE)".into());
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
            return Err(
                "PKCE is required: code_challenge (43+ characters) with code_challenge_method \
                 S256"
                    .into(),
            );
        }
        Ok(())
    }

    fn sign_in_page(&self, q: &HashMap<String, String>) -> String {
        let hidden: String = [
            "client_id",
            "redirect_uri",
            "response_type",
            "code_challenge",
            "code_challenge_method",
            "state",
            "nonce",
            "scope",
        ]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (k, v)))
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                html_escape(v)
            )
        })
        .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Sign in · presign-stack dev</title></head><body><main>\
             <h1>Sign in</h1><p>dev's own sign-in: any user name, no password. Each name is \
             a user of its own.</p><form method=\"post\" action=\"/authorize\">{hidden}\
             <label for=\"user\">User name</label> <input id=\"user\" name=\"user\" \
             autocomplete=\"username\" required maxlength=\"64\" autofocus> \
             <button type=\"submit\">Sign in</button></form></main></body></html>"
        )
    }

    fn tokens(&self, user: &str, scope: &str, nonce: Option<&str>) -> Result<Value, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let exp = now + self.token_seconds;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        let mut id = json!({"iss": self.url, "aud": self.client_id, "sub": user,
            "preferred_username": user, "iat": now, "exp": exp, "token_use": "id"});
        if let Some(n) = nonce {
            id["nonce"] = json!(n);
        }
        let access = json!({"iss": self.url, "client_id": self.client_id, "sub": user,
            "username": user, "scope": scope, "iat": now, "exp": exp, "token_use": "access"});
        let sign = |c: &Value| {
            jsonwebtoken::encode(&header, c, &self.key).map_err(|e| format!("signing: {e}"))
        };
        let refresh = random_token();
        self.refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(refresh.clone(), user.to_string());
        Ok(json!({
            "id_token": sign(&id)?,
            "access_token": sign(&access)?,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_seconds,
        }))
    }

    fn token(&self, form: &HashMap<String, String>) -> Result<Value, (&'static str, String)> {
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if get("client_id") != self.client_id {
            return Err((
                "invalid_client",
                format!("unknown client_id {:?}", get("client_id")),
            ));
        }
        match get("grant_type") {
            "authorization_code" => {
                let grant = self
                    .codes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(get("code"))
                    .ok_or(("invalid_grant", "unknown, used or expired code".to_string()))?;
                if grant.expires < SystemTime::now() {
                    return Err(("invalid_grant", "the code has expired".into()));
                }
                if grant.redirect_uri != get("redirect_uri") {
                    return Err((
                        "invalid_grant",
                        "redirect_uri differs from the sign-in's".into(),
                    ));
                }
                let verifier = get("code_verifier");
                let derived = base64_url(&Sha256::digest(verifier.as_bytes()));
                if verifier.len() < 43 || derived != grant.challenge {
                    return Err((
                        "invalid_grant",
                        "code_verifier does not match the code_challenge (PKCE S256)".into(),
                    ));
                }
                self.tokens(&grant.user, &grant.scope, grant.nonce.as_deref())
                    .map_err(|e| ("server_error", e))
            }
            "refresh_token" => {
                let user = self
                    .refresh
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(get("refresh_token"))
                    .ok_or(("invalid_grant", "unknown or used refresh token".to_string()))?;
                self.tokens(&user, "openid", None)
                    .map_err(|e| ("server_error", e))
            }
            other => Err((
                "unsupported_grant_type",
                format!("grant_type {other:?}; dev takes authorization_code and refresh_token"),
            )),
        }
    }

    /// Answers the page's own origins with CORS: discovery, keys and tokens are read by the
    /// page's script.
    fn cors(&self, origin: Option<&str>, mut r: Response<Body>) -> Response<Body> {
        if let Some(origin) = origin {
            if self.page_origins.iter().any(|o| o == origin) {
                set(&mut r, "access-control-allow-origin", origin);
                set(&mut r, "vary", "origin");
            }
        }
        r
    }
}

fn json_answer(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = full(status, "application/json", v.to_string());
    set(&mut r, "cache-control", "no-store");
    r
}

/// An HTML page with no script; its form posts here and is redirected to the page's origins
/// (which a browser checks against `form-action` too).
fn html_answer(status: StatusCode, body: String, page_origins: &[String]) -> Response<Body> {
    let mut r = full(status, "text/html; charset=utf-8", body);
    set(&mut r, "cache-control", "no-store");
    set(
        &mut r,
        "content-security-policy",
        &format!(
            "default-src 'none'; form-action 'self' {}; frame-ancestors 'none'",
            page_origins.join(" ")
        ),
    );
    r
}

fn error_page(message: &str) -> Response<Body> {
    html_answer_no_form(
        StatusCode::BAD_REQUEST,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in \
             refused</title></head><body><h1>Sign-in refused</h1><p>{}</p></body></html>",
            html_escape(message)
        ),
    )
}

fn html_answer_no_form(status: StatusCode, body: String) -> Response<Body> {
    html_answer(status, body, &[])
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An `application/x-www-form-urlencoded` string (a query or a form body); a pair that does not
/// decode is left out.
pub fn form(s: &str) -> HashMap<String, String> {
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(&v.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The sign-in's return: `redirect_uri` with `code` and `state` added to its query.
fn with_code(redirect_uri: &str, code: &str, state: Option<&str>) -> String {
    // Everything but RFC 3986's unreserved characters.
    const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let enc = |v: &str| percent_encoding::utf8_percent_encode(v, QUERY).to_string();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut u = format!("{redirect_uri}{sep}code={}", enc(code));
    if let Some(s) = state {
        u.push_str(&format!("&state={}", enc(s)));
    }
    u
}

impl Service for Issuer {
    async fn call(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let query = form(req.uri().query().unwrap_or(""));
        let method = req.method().clone();
        let origin = req
            .headers()
            .get("origin")
            .and_then(|o| o.to_str().ok())
            .map(str::to_string);
        let r = match (method, path.as_str()) {
            (Method::GET, "/.well-known/openid-configuration") => {
                json_answer(StatusCode::OK, &self.discovery())
            }
            (Method::GET, "/jwks.json") => {
                json_answer(StatusCode::OK, &json!({"keys": [self.jwk]}))
            }
            (Method::GET, "/authorize") => match self.authorize_params(&query) {
                Ok(()) => html_answer(
                    StatusCode::OK,
                    self.sign_in_page(&query),
                    &self.page_origins,
                ),
                Err(e) => error_page(&e),
            },
            (Method::GET, "/logout") => {
                let to = query
                    .get("post_logout_redirect_uri")
                    .filter(|u| self.redirect_ok(u));
                match to {
                    Some(to) => {
                        let mut r = full(StatusCode::SEE_OTHER, "text/plain", "");
                        set(&mut r, "location", to);
                        r
                    }
                    None => html_answer_no_form(
                        StatusCode::OK,
                        "<!doctype html><title>Signed out</title><p>Signed out.</p>".into(),
                    ),
                }
            }
            (Method::POST, "/authorize") | (Method::POST, "/token") => {
                let body = match Limited::new(req.into_body(), MAX_FORM_BYTES)
                    .collect()
                    .await
                {
                    Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                    Err(_) => {
                        return error_page(&format!(
                            "the form is larger than {MAX_FORM_BYTES} bytes"
                        ))
                    }
                };
                let fields = form(&body);
                if path == "/token" {
                    let mut r = match self.token(&fields) {
                        Ok(t) => json_answer(StatusCode::OK, &t),
                        Err((error, description)) => json_answer(
                            StatusCode::BAD_REQUEST,
                            &json!({"error": error, "error_description": description}),
                        ),
                    };
                    note(&mut r, "token");
                    r
                } else {
                    self.sign_in(&fields)
                }
            }
            _ => json_answer(
                StatusCode::NOT_FOUND,
                &json!({"error": "not found: dev's issuer serves /.well-known/openid-configuration, /jwks.json, /authorize, /token and /logout"}),
            ),
        };
        self.cors(origin.as_deref(), r)
    }

    fn refuse_host(&self, _req: &Request<Incoming>, why: &str) -> Response<Body> {
        json_answer(StatusCode::FORBIDDEN, &json!({ "error": why }))
    }
}

impl Issuer {
    /// The form's POST: a code for the user, and back to the page.
    fn sign_in(&self, fields: &HashMap<String, String>) -> Response<Body> {
        if let Err(e) = self.authorize_params(fields) {
            return error_page(&e);
        }
        let user = fields.get("user").map(|u| u.trim()).unwrap_or("");
        if user.is_empty() || user.chars().count() > 64 || user.chars().any(char::is_control) {
            return error_page("the user name must be 1 to 64 characters");
        }
        let code = random_token();
        let redirect_uri = fields["redirect_uri"].clone();
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                code.clone(),
                Grant {
                    user: user.to_string(),
                    redirect_uri: redirect_uri.clone(),
                    challenge: fields["code_challenge"].clone(),
                    nonce: fields.get("nonce").cloned(),
                    scope: fields
                        .get("scope")
                        .cloned()
                        .unwrap_or_else(|| "openid".into()),
                    expires: SystemTime::now() + Duration::from_secs(CODE_SECONDS),
                },
            );
        let mut r = full(StatusCode::SEE_OTHER, "text/plain", "");
        set(
            &mut r,
            "location",
            &with_code(
                &redirect_uri,
                &code,
                fields.get("state").map(String::as_str),
            ),
        );
        note(&mut r, format!("signed in {user}"));
        r
    }
}
