//! Presigning S3 object URLs with `aws-sigv4` (no HTTP client, no S3 SDK).

use crate::config::{Config, Credentials};
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// SigV4's `UriEncode()`: everything but `A-Z a-z 0-9 - _ . ~` is percent-encoded.
pub const SIGV4_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a string as one URI component (a query key or value, or a path segment).
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, SIGV4_ENCODE_SET).to_string()
}

/// Percent-encodes an S3 key for a URL path: each segment once, `/` kept (S3's canonical URI).
pub fn encode_key_path(key: &str) -> String {
    key.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

/// The object's URL without a query: virtual-hosted style on AWS, path-style for a custom
/// endpoint. A bucket name with dots is addressed path-style on AWS too, because
/// `a.b.s3.<region>.amazonaws.com` does not match S3's wildcard TLS certificate.
pub fn object_url(config: &Config, key: &str) -> String {
    let path = encode_key_path(key);
    match &config.s3_endpoint {
        Some(endpoint) => format!("{endpoint}/{}/{path}", config.bucket),
        None if config.bucket.contains('.') => format!(
            "https://s3.{}.amazonaws.com/{}/{path}",
            config.region, config.bucket
        ),
        None => format!(
            "https://{}.s3.{}.amazonaws.com/{path}",
            config.bucket, config.region
        ),
    }
}

/// Why a URL could not be signed. Never contains credentials.
#[derive(Debug)]
pub struct SignError(pub String);

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignError {}

/// Presigns `method url?extra_query` for S3 with the signature in the query string.
///
/// `url` is the object URL from [`object_url`] (already percent-encoded, no query).
/// `extra_query` pairs (unencoded) become part of the signed query, e.g.
/// `response-content-disposition`. `signed_headers` (lower-case names) are signed alongside
/// `host`, so the request must carry exactly those values. The payload is `UNSIGNED-PAYLOAD`,
/// as for every S3 presigned URL.
#[allow(clippy::too_many_arguments)]
pub fn presign(
    method: &str,
    url: &str,
    extra_query: &[(&str, &str)],
    signed_headers: &[(&str, &str)],
    creds: &Credentials,
    region: &str,
    now: SystemTime,
    expires_in: Duration,
) -> Result<String, SignError> {
    let mut full = url.to_string();
    for (i, (k, v)) in extra_query.iter().enumerate() {
        let sep = if i == 0 { '?' } else { '&' };
        let _ = write!(full, "{sep}{}={}", uri_encode(k), uri_encode(v));
    }

    let identity: Identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "presigner",
    )
    .into();

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    // S3 wants the path encoded exactly once and never normalised.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.session_token_mode = SessionTokenMode::Include;

    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| SignError(format!("signing parameters: {e}")))?
        .into();

    let request = SignableRequest::new(
        method,
        full.as_str(),
        signed_headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| SignError(format!("signable request: {e}")))?;

    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| SignError(format!("signing: {e}")))?
        .into_parts();

    let mut sep = if extra_query.is_empty() { '?' } else { '&' };
    for (k, v) in instructions.params() {
        let _ = write!(full, "{sep}{}={}", uri_encode(k), uri_encode(v));
        sep = '&';
    }
    Ok(full)
}

/// `attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266),
/// for the download URL's `response-content-disposition`.
pub fn attachment_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        uri_encode(filename)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn key_paths_are_encoded_once_per_segment() {
        assert_eq!(
            encode_key_path("uploads/2026/11/28/x/my report (1)+é.pdf"),
            "uploads/2026/11/28/x/my%20report%20%281%29%2B%C3%A9.pdf"
        );
        assert_eq!(encode_key_path("a~b_c-d.e"), "a~b_c-d.e");
        assert_eq!(encode_key_path("100%"), "100%25");
    }

    /// The worked example in AWS's S3 documentation, "Authenticating Requests: Using Query
    /// Parameters (AWS Signature Version 4)": GET examplebucket/test.txt, 2013-05-24, 86400 s.
    #[test]
    fn matches_the_aws_documentation_example() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            expires_at: None,
        };
        let url = presign(
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[],
            &[],
            &creds,
            "us-east-1",
            UNIX_EPOCH + Duration::from_secs(1_369_353_600),
            Duration::from_secs(86_400),
        )
        .unwrap();
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"));
        assert!(url.contains(
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        ));
        assert!(url.contains("X-Amz-Date=20130524T000000Z"));
        assert!(url.contains("X-Amz-Expires=86400"));
        assert!(url.contains("X-Amz-SignedHeaders=host"));
        assert!(url.contains(
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        ));
    }

    #[test]
    fn disposition_has_ascii_fallback_and_utf8_name() {
        assert_eq!(
            attachment_disposition("年度 report.pdf"),
            "attachment; filename=\"___report.pdf\"; \
             filename*=UTF-8''%E5%B9%B4%E5%BA%A6%20report.pdf"
        );
    }
}
