//! Token verification, one refusal per test, with the issuer's discovery document and JWKS
//! served from memory by an [`Io`] that counts its calls. The keys are the test fixtures in
//! `tests/fixtures/keys` (made with openssl).

use super::*;
use crate::io::{Answer, Call};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

const ISSUER: &str = "https://login.example.com/pool";
const JWKS_URL: &str = "https://login.example.com/pool/keys.json";
const CLIENT: &str = "spa-client";
const RSA_A: &str = include_str!("../../tests/fixtures/keys/rsa-a.pem");
const RSA_A_PUBLIC: &str = include_str!("../../tests/fixtures/keys/rsa-a.pub.pem");
const RSA_B: &str = include_str!("../../tests/fixtures/keys/rsa-b.pem");
const EC: &str = include_str!("../../tests/fixtures/keys/ec-p256.pem");
const ED: &str = include_str!("../../tests/fixtures/keys/ed25519.pem");
const JWKS: &str = include_str!("../../tests/fixtures/keys/public-jwks.json");

/// An issuer in memory: discovery at the usual place, a JWKS holding `kids`.
struct Issuer {
    kids: Mutex<Vec<&'static str>>,
    calls: Mutex<Vec<String>>,
}

impl Issuer {
    fn new(kids: &[&'static str]) -> Issuer {
        Issuer {
            kids: Mutex::new(kids.to_vec()),
            calls: Mutex::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl Io for Issuer {
    fn send(&self, call: &Call) -> Result<Answer, String> {
        self.calls.lock().unwrap().push(call.url.clone());
        let body = if call.url == format!("{ISSUER}/.well-known/openid-configuration") {
            json!({"issuer": ISSUER, "jwks_uri": JWKS_URL})
        } else if call.url == JWKS_URL {
            let all: HashMap<String, Value> = serde_json::from_str(JWKS).unwrap();
            let keys: Vec<&Value> = self.kids.lock().unwrap().iter().map(|k| &all[*k]).collect();
            json!({ "keys": keys })
        } else {
            return Ok(Answer {
                status: 404,
                body: Vec::new(),
            });
        };
        Ok(Answer {
            status: 200,
            body: body.to_string().into_bytes(),
        })
    }
}

fn auth() -> AuthConfig {
    AuthConfig {
        issuer: ISSUER.into(),
        audiences: vec![CLIENT.into()],
        jwks_uri: None,
        files: Files::Own,
        quota: None,
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const NOW: u64 = 1_796_000_000;

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "sub": "user-1", "iat": NOW, "exp": NOW + 3600})
}

fn sign(alg: Algorithm, kid: &str, pem: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let key: Result<EncodingKey, _> = match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            EncodingKey::from_rsa_pem(pem.as_bytes())
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        _ => Ok(EncodingKey::from_secret(pem.as_bytes()).unwrap()),
    };
    let key = key.unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn request(token: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/me".into(),
        headers: vec![("Authorization".into(), format!("Bearer {token}"))],
        ..Default::default()
    }
}

fn check(token: &str) -> Result<Caller, ApiError> {
    let issuer = Issuer::new(&["rsa-a", "ec-p256", "ed25519"]);
    authenticate(&auth(), &Keys::new(), &issuer, at(NOW), &request(token))
}

/// The refusal's message; panics on acceptance.
fn refusal(token: &str) -> String {
    match check(token) {
        Ok(c) => panic!("accepted as {c:?}"),
        Err(e) => {
            assert_eq!(e.status, 401, "{}", e.message);
            assert!(e.challenge, "no WWW-Authenticate challenge: {}", e.message);
            assert!(
                !e.message.contains(token),
                "the token is echoed: {}",
                e.message
            );
            e.message
        }
    }
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn a_good_token_of_each_algorithm_is_accepted() {
    for (alg, kid, pem) in [
        (Algorithm::RS256, "rsa-a", RSA_A),
        (Algorithm::ES256, "ec-p256", EC),
        (Algorithm::EdDSA, "ed25519", ED),
    ] {
        let caller = check(&sign(alg, kid, pem, &claims())).unwrap_or_else(|e| {
            panic!("{alg:?} refused: {}", e.message);
        });
        assert_eq!(caller.subject, "user-1");
        assert_eq!(caller.user, "user-1");
    }
}

#[test]
fn no_token_is_refused_with_a_challenge() {
    let issuer = Issuer::new(&["rsa-a"]);
    let req = Request {
        method: "GET".into(),
        path: "/me".into(),
        ..Default::default()
    };
    let e = authenticate(&auth(), &Keys::new(), &issuer, at(NOW), &req).unwrap_err();
    assert_eq!((e.status, e.challenge), (401, true));
    assert!(e.message.contains("sign in first"), "{}", e.message);
    assert_eq!(issuer.calls(), 0, "no token, no call to the issuer");
    let basic = Request {
        headers: vec![("authorization".into(), "Basic dXNlcjpwYXNz".into())],
        ..req
    };
    let e = authenticate(&auth(), &Keys::new(), &issuer, at(NOW), &basic).unwrap_err();
    assert!(e.message.contains("not a bearer token"), "{}", e.message);
}

#[test]
fn a_bad_signature_is_refused() {
    let good = sign(Algorithm::RS256, "rsa-a", RSA_A, &claims());
    let mut forged = claims();
    forged["sub"] = json!("admin");
    let (head, _, sig) = {
        let mut p = good.split('.');
        (p.next().unwrap(), p.next(), p.next().unwrap())
    };
    let token = format!("{head}.{}.{sig}", b64(&forged));
    assert!(refusal(&token).contains("signature does not verify"));
    // Signed by another key under rsa-a's kid.
    let other = sign(Algorithm::RS256, "rsa-a", RSA_B, &claims());
    assert!(refusal(&other).contains("signature does not verify"));
}

#[test]
fn alg_none_is_refused() {
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-a", "typ": "JWT"})),
        b64(&claims())
    );
    assert!(refusal(&token).contains("`none` is never accepted"));
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // Algorithm confusion: a verifier that fed the RSA public key to HMAC would accept this.
    let token = sign(Algorithm::HS256, "rsa-a", RSA_A_PUBLIC, &claims());
    let m = refusal(&token);
    assert!(m.contains("HS256") && m.contains("not accepted"), "{m}");
}

#[test]
fn a_key_of_another_type_than_the_algorithm_is_refused() {
    // ES256 header naming the RSA key's kid: the key cannot verify that algorithm.
    let token = sign(Algorithm::ES256, "rsa-a", EC, &claims());
    let m = refusal(&token);
    assert!(m.contains("rsa-a"), "{m}");
}

#[test]
fn a_wrong_issuer_is_refused() {
    let mut c = claims();
    c["iss"] = json!("https://login.example.com/pool/");
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("another issuer"));
}

#[test]
fn a_wrong_audience_is_refused_and_client_id_counts_without_aud() {
    let mut c = claims();
    c["aud"] = json!(["other-client"]);
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("another audience"));
    // A Cognito access token: no aud, client_id.
    let mut access = claims();
    access.as_object_mut().unwrap().remove("aud");
    access["client_id"] = json!(CLIENT);
    assert!(check(&sign(Algorithm::RS256, "rsa-a", RSA_A, &access)).is_ok());
    access["client_id"] = json!("other-client");
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &access)).contains("another audience"));
    // With aud present, client_id does not rescue it.
    c["client_id"] = json!(CLIENT);
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("another audience"));
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("expired 61 s ago"));
    c["exp"] = json!(NOW - 59);
    assert!(check(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).is_ok());
    c.as_object_mut().unwrap().remove("exp");
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("no exp"));
}

#[test]
fn nbf_or_iat_in_the_future_is_refused() {
    let mut c = claims();
    c["nbf"] = json!(NOW + 120);
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("nbf"));
    c["nbf"] = json!(NOW + 30);
    assert!(check(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).is_ok());
    let mut c = claims();
    c["iat"] = json!(NOW + 120);
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("iat"));
}

#[test]
fn a_token_without_sub_is_refused() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("sub");
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("no sub"));
    c["sub"] = json!("");
    assert!(refusal(&sign(Algorithm::RS256, "rsa-a", RSA_A, &c)).contains("no sub"));
}

#[test]
fn an_unknown_kid_is_read_again_at_most_every_ten_seconds_then_rotation_works() {
    let issuer = Issuer::new(&["rsa-a"]);
    let keys = Keys::new();
    let old = request(&sign(Algorithm::RS256, "rsa-a", RSA_A, &claims()));
    let new = request(&sign(Algorithm::RS256, "rsa-b", RSA_B, &claims()));
    let go = |req: &Request, t: u64| authenticate(&auth(), &keys, &issuer, at(t), req);

    assert!(go(&old, NOW).is_ok());
    assert_eq!(issuer.calls(), 2, "discovery, then the JWKS");
    for t in [NOW, NOW + 1, NOW + 5] {
        assert!(go(&old, t).is_ok());
    }
    assert_eq!(issuer.calls(), 2, "a known kid makes no call");

    // The issuer rotates to rsa-b. Tokens with it are refused until the keys may be read
    // again, and a flood of them makes no call in between.
    issuer.kids.lock().unwrap().push("rsa-b");
    for _ in 0..50 {
        let e = go(&new, NOW + 9).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(e.message.contains("read 9 s ago"), "{}", e.message);
    }
    assert_eq!(issuer.calls(), 2);
    assert!(go(&new, NOW + 10).is_ok(), "read again after 10 s");
    assert_eq!(
        issuer.calls(),
        3,
        "the JWKS only: the discovered URL is kept"
    );
    assert_eq!(keys.fetches(), 2);
    // A kid no one has: one read, then refusals without calls.
    let ghost = request(&sign(Algorithm::RS256, "ghost", RSA_A, &claims()));
    assert!(go(&ghost, NOW + 25).is_err());
    assert!(go(&ghost, NOW + 26).is_err());
    assert_eq!(issuer.calls(), 4);
}

#[test]
fn an_unreachable_issuer_is_503_and_not_asked_again_at_once() {
    let keys = Keys::new();
    let token = request(&sign(Algorithm::RS256, "rsa-a", RSA_A, &claims()));
    let e = authenticate(&auth(), &keys, &crate::io::Offline, at(NOW), &token).unwrap_err();
    assert_eq!(e.status, 503, "{}", e.message);
    assert!(e.message.contains("discovery document"), "{}", e.message);
    let e = authenticate(&auth(), &keys, &crate::io::Offline, at(NOW + 1), &token).unwrap_err();
    assert_eq!(e.status, 401, "{}", e.message);
    assert_eq!(keys.fetches(), 1);
}

#[test]
fn x_presign_authorization_wins_over_authorization() {
    let issuer = Issuer::new(&["rsa-a"]);
    let good = sign(Algorithm::RS256, "rsa-a", RSA_A, &claims());
    let req = Request {
        headers: vec![
            (
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=cloudfront".into(),
            ),
            ("X-Presign-Authorization".into(), format!("bearer {good}")),
        ],
        ..Default::default()
    };
    let caller = authenticate(&auth(), &Keys::new(), &issuer, at(NOW), &req)
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(caller.subject, "user-1");
}

#[test]
fn user_segments_are_one_safe_segment_and_distinct() {
    assert_eq!(
        user_segment(ISSUER, "3f1c2a4e-0b1d-4e6f-9a8b-7c6d5e4f3a2b"),
        "3f1c2a4e-0b1d-4e6f-9a8b-7c6d5e4f3a2b"
    );
    let email = user_segment(ISSUER, "Alice@Example.com");
    assert!(
        email.starts_with("x-") && !email.contains("alice"),
        "{email}"
    );
    let subs = [
        "a",
        "A",
        "a/b",
        "..",
        "x-abc",
        "x-",
        "alice@example.com",
        "Alice@Example.com",
        "ü",
        "a b",
        "0",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for s in subs {
        let seg = user_segment(ISSUER, s);
        assert!(
            !seg.is_empty()
                && seg.len() <= 64
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{s:?} -> {seg:?}"
        );
        assert!(seen.insert(seg.clone()), "{s:?} collides at {seg}");
        assert_eq!(seg, user_segment(ISSUER, s), "stable");
    }
    assert_ne!(
        user_segment(ISSUER, "Alice"),
        user_segment("https://other.example.com", "Alice"),
        "hashed segments depend on the issuer"
    );
}

#[test]
fn issuer_urls_are_https_or_loopback_http() {
    for ok in [
        "https://login.example.com/",
        "http://127.0.0.1:9000/issuer",
        "http://localhost:8080",
        "http://[::1]:1",
    ] {
        assert!(validate_issuer_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://login.example.com/",
        "http://127.0.0.1.evil.com/",
        "http://localhost.example.com:80/",
        "ftp://x",
        "https://",
        "login.example.com",
    ] {
        assert!(validate_issuer_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn auth_settings_come_from_the_environment() {
    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthConfig::from_lookup(&|k: &str| map.get(k).cloned())
    };
    assert_eq!(env(&[]).unwrap(), None);
    let a = env(&[
        (ENV_AUTH_ISSUER, ISSUER),
        (ENV_AUTH_AUDIENCES, "a, b"),
        (ENV_AUTH_FILES, "shared"),
        (ENV_AUTH_QUOTA_FILES, "10"),
        (ENV_AUTH_QUOTA_BYTES, "1000"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(a.audiences, ["a", "b"]);
    assert_eq!(a.files, Files::Shared);
    assert_eq!(
        a.quota,
        Some(Quota {
            bytes: Some(1000),
            files: 10
        })
    );
    let e = env(&[(ENV_AUTH_ISSUER, "http://login.example.com")]).unwrap_err();
    assert_eq!(e.0, ENV_AUTH_ISSUER);
    let e = env(&[(ENV_AUTH_ISSUER, ISSUER)]).unwrap_err();
    assert_eq!(e.0, ENV_AUTH_AUDIENCES);
    let e = env(&[
        (ENV_AUTH_ISSUER, ISSUER),
        (ENV_AUTH_AUDIENCES, "a"),
        (ENV_AUTH_QUOTA_BYTES, "5"),
    ])
    .unwrap_err();
    assert_eq!(e.0, ENV_AUTH_QUOTA_FILES);
    let e = env(&[
        (ENV_AUTH_ISSUER, ISSUER),
        (ENV_AUTH_AUDIENCES, "a"),
        (ENV_AUTH_QUOTA_FILES, "10001"),
    ])
    .unwrap_err();
    assert!(e.1.contains("10000"), "{e:?}");
}
