//! An independent SigV4 presigned-URL verifier, written from AWS's specification rather than
//! with `aws-sigv4`: it checks the presigner's own output in tests, and lets a local S3
//! stand-in (the dev server's documents store) refuse a tampered, expired or mismatched
//! request as S3 does.
//!
//! What it checks: algorithm, credential scope (date matches `X-Amz-Date`, service `s3`,
//! `aws4_request`), `X-Amz-Expires` in 1..=604800, not expired, not more than 15 minutes in
//! the future, `host` signed, every signed header present, and the signature (compared in
//! constant time). It does not check that a body matches a signed `content-length`; the
//! caller must (an HTTP server normally refuses a body of another length).

use crate::clock::{from_unix_seconds, unix_seconds, UtcDateTime};
use crate::sign::uri_encode;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::SystemTime;

/// S3 refuses a presigned URL valid for longer than seven days.
pub const MAX_PRESIGN_EXPIRES: u64 = 604_800;
/// Clock skew S3 tolerates for a request dated in the future.
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 900;

/// A request that claims to be presigned, as an HTTP server sees it.
#[derive(Debug, Clone)]
pub struct PresignedRequest<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The `Host` header as received (`bucket.s3.eu-central-1.amazonaws.com`, `127.0.0.1:9000`).
    pub host: &'a str,
    /// The path exactly as received, still percent-encoded (`/bucket/uploads/a%20b.pdf`).
    pub raw_path: &'a str,
    /// The query string exactly as received, without `?`.
    pub raw_query: &'a str,
    /// Request headers (any case); `host` here is ignored in favour of [`Self::host`].
    pub headers: &'a [(String, String)],
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    /// Lower-case, sorted, as signed.
    pub signed_headers: Vec<String>,
    pub expires_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A required `X-Amz-*` parameter is missing or malformed (S3: 400 AuthorizationQueryParametersError).
    Malformed(String),
    /// The access key is unknown (S3: 403 InvalidAccessKeyId).
    UnknownAccessKey,
    /// S3: 403 AccessDenied "Request has expired".
    Expired,
    /// Dated too far in the future (S3: 403 RequestTimeTooSkewed).
    NotYetValid,
    /// A header named in `X-Amz-SignedHeaders` is absent from the request (S3: 403).
    MissingSignedHeader(String),
    /// S3: 403 SignatureDoesNotMatch.
    SignatureDoesNotMatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed(m) => write!(f, "malformed presigned request: {m}"),
            VerifyError::UnknownAccessKey => f.write_str("unknown access key"),
            VerifyError::Expired => f.write_str("request has expired"),
            VerifyError::NotYetValid => f.write_str("request is dated in the future"),
            VerifyError::MissingSignedHeader(h) => write!(f, "signed header {h} is missing"),
            VerifyError::SignatureDoesNotMatch => f.write_str("signature does not match"),
        }
    }
}

impl std::error::Error for VerifyError {}

fn malformed(m: impl Into<String>) -> VerifyError {
    VerifyError::Malformed(m.into())
}

fn decode(s: &str, form: bool) -> Result<String, VerifyError> {
    let replaced;
    let s = if form && s.contains('+') {
        replaced = s.replace('+', " ");
        replaced.as_str()
    } else {
        s
    };
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| malformed("percent-encoding is not valid UTF-8"))
}

/// Decodes a raw query string into (key, value) pairs, `+` meaning space.
pub fn parse_query(raw: &str) -> Result<Vec<(String, String)>, VerifyError> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k, true)?, decode(v, true)?))
        })
        .collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies a presigned S3 request. `secret_for` maps an access key id to its secret.
pub fn verify_presigned<F>(
    req: &PresignedRequest<'_>,
    secret_for: F,
    now: SystemTime,
) -> Result<Verified, VerifyError>
where
    F: Fn(&str) -> Option<String>,
{
    let params = parse_query(req.raw_query)?;
    let one = |name: &str| -> Result<&str, VerifyError> {
        let mut it = params.iter().filter(|(k, _)| k == name);
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            (None, _) => Err(malformed(format!("{name} is missing"))),
            (Some(_), Some(_)) => Err(malformed(format!("{name} is repeated"))),
        }
    };

    if one("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(malformed("X-Amz-Algorithm must be AWS4-HMAC-SHA256"));
    }
    let amz_date = one("X-Amz-Date")?;
    let date_secs =
        UtcDateTime::parse_amz_date(amz_date).ok_or_else(|| malformed("X-Amz-Date is invalid"))?;
    let expires: u64 = one("X-Amz-Expires")?
        .parse()
        .ok()
        .filter(|e| (1..=MAX_PRESIGN_EXPIRES).contains(e))
        .ok_or_else(|| malformed("X-Amz-Expires must be an integer from 1 to 604800"))?;

    let credential = one("X-Amz-Credential")?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, scope_date, region, service, terminator] = parts[..] else {
        return Err(malformed(
            "X-Amz-Credential is not <key>/<date>/<region>/s3/aws4_request",
        ));
    };
    if scope_date != &amz_date[..8] || service != "s3" || terminator != "aws4_request" {
        return Err(malformed(
            "X-Amz-Credential scope does not match the request",
        ));
    }

    let signed_headers: Vec<String> = one("X-Amz-SignedHeaders")?
        .split(';')
        .map(str::to_string)
        .collect();
    let mut sorted = signed_headers.clone();
    sorted.sort();
    sorted.dedup();
    if sorted != signed_headers
        || signed_headers
            .iter()
            .any(|h| h.is_empty() || h.chars().any(|c| c.is_ascii_uppercase()))
    {
        return Err(malformed(
            "X-Amz-SignedHeaders must be lower-case, sorted and unique",
        ));
    }
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(malformed("X-Amz-SignedHeaders must include host"));
    }
    let signature = one("X-Amz-Signature")?;
    if signature.len() != 64 || !signature.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(malformed("X-Amz-Signature must be 64 hex digits"));
    }

    // Time window.
    let now_secs = unix_seconds(now);
    let expires_at = date_secs + expires as i64;
    if now_secs >= expires_at {
        return Err(VerifyError::Expired);
    }
    if date_secs > now_secs + MAX_FUTURE_SKEW_SECONDS {
        return Err(VerifyError::NotYetValid);
    }

    // Canonical URI: decode the path, re-encode each segment once.
    let canonical_uri = req
        .raw_path
        .split('/')
        .map(|seg| decode(seg, false).map(|d| uri_encode(&d)))
        .collect::<Result<Vec<_>, _>>()?
        .join("/");
    let canonical_uri = if canonical_uri.is_empty() {
        "/".to_string()
    } else {
        canonical_uri
    };

    // Canonical query: every parameter but the signature, encoded, sorted.
    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    // Canonical headers.
    let mut canonical_headers = String::new();
    for name in &signed_headers {
        let values: Vec<String> = if name == "host" {
            vec![req.host.to_string()]
        } else {
            req.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        if values.is_empty() {
            return Err(VerifyError::MissingSignedHeader(name.clone()));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }

    let canonical_request = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD",
        req.method,
        signed_headers.join(";")
    );
    let scope = format!("{scope_date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );

    let secret = secret_for(access_key).ok_or(VerifyError::UnknownAccessKey)?;
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), scope_date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, b"s3");
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex(&hmac(&k_signing, string_to_sign.as_bytes()));

    if !constant_time_eq(
        expected.as_bytes(),
        signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(VerifyError::SignatureDoesNotMatch);
    }
    Ok(Verified {
        access_key_id: access_key.to_string(),
        region: region.to_string(),
        signed_headers,
        expires_at: from_unix_seconds(expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const DOC_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn secret(k: &str) -> Option<String> {
        (k == "AKIAIOSFODNN7EXAMPLE").then(|| "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into())
    }

    fn doc_request(query: &str) -> PresignedRequest<'_> {
        PresignedRequest {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            raw_path: "/test.txt",
            raw_query: query,
            headers: &[],
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// AWS's documented example URL verifies: this pins the verifier itself to the spec.
    #[test]
    fn aws_documentation_example_verifies() {
        let v = verify_presigned(&doc_request(DOC_QUERY), secret, at(1_369_353_600 + 60)).unwrap();
        assert_eq!(v.region, "us-east-1");
        assert_eq!(v.signed_headers, ["host"]);
        assert_eq!(v.expires_at, at(1_369_353_600 + 86_400));
    }

    #[test]
    fn tampering_and_time_are_refused() {
        let now = at(1_369_353_600 + 60);
        let mut req = doc_request(DOC_QUERY);
        req.raw_path = "/test2.txt";
        assert_eq!(
            verify_presigned(&req, secret, now),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        let mut req = doc_request(DOC_QUERY);
        req.method = "PUT";
        assert_eq!(
            verify_presigned(&req, secret, now),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        let longer = DOC_QUERY.replace("Expires=86400", "Expires=86401");
        assert_eq!(
            verify_presigned(&doc_request(&longer), secret, now),
            Err(VerifyError::SignatureDoesNotMatch)
        );
        assert_eq!(
            verify_presigned(&doc_request(DOC_QUERY), secret, at(1_369_353_600 + 86_400)),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify_presigned(&doc_request(DOC_QUERY), secret, at(1_369_353_600 - 901)),
            Err(VerifyError::NotYetValid)
        );
        assert_eq!(
            verify_presigned(&doc_request(DOC_QUERY), |_| None, now),
            Err(VerifyError::UnknownAccessKey)
        );
        let unsigned = DOC_QUERY.replace("&X-Amz-SignedHeaders=host", "");
        assert!(matches!(
            verify_presigned(&doc_request(&unsigned), secret, now),
            Err(VerifyError::Malformed(_))
        ));
    }
}
