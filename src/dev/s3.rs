//! S3's side of the wire as the documents store speaks it: the XML error body every refusal
//! carries, and the request headers every write reads as S3 does (`Content-Length`,
//! `x-amz-checksum-sha256`, `If-None-Match`).

use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use presigner::verify::VerifyError;
use presigner::MAX_PARTS;

use super::http::{full, header, note, set, Body};

/// S3's namespace for the XML documents it answers.
pub(super) const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// Checksum headers S3 takes that the dev store does not check: refused, never ignored.
const UNCHECKED_CHECKSUMS: &[&str] = &[
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
];

/// An S3-style refusal.
#[derive(Debug)]
pub(super) struct S3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For a range that cannot be satisfied: `bytes */<size>`, as S3 sends it.
    pub(super) content_range: Option<String>,
}

pub(super) fn s3_err(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> S3Error {
    S3Error {
        status,
        code,
        message: message.into(),
        content_range: None,
    }
}

pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> S3Error {
    s3_err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        format!("{what}: {e}"),
    )
}

/// A 200 answer with an XML document.
pub(super) fn xml_response(body: String) -> Response<Body> {
    super::http::full(
        StatusCode::OK,
        "application/xml",
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
}

pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

impl S3Error {
    #[cfg(test)]
    pub(super) fn code(&self) -> &'static str {
        self.code
    }

    #[cfg(test)]
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    pub(super) fn response(&self, resource: &str, request_id: &str) -> Response<Body> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>\
             <Message>{}</Message><Resource>{}</Resource><RequestId>{}</RequestId></Error>",
            self.code,
            xml_escape(&self.message),
            xml_escape(resource),
            request_id
        );
        let mut r = full(self.status, "application/xml", body);
        if let Some(range) = &self.content_range {
            set(&mut r, "content-range", range);
        }
        note(&mut r, format!("{}: {}", self.code, self.message));
        r
    }
}

impl From<VerifyError> for S3Error {
    fn from(e: VerifyError) -> S3Error {
        let forbidden = StatusCode::FORBIDDEN;
        match e {
            VerifyError::Malformed(m) => s3_err(
                StatusCode::BAD_REQUEST,
                "AuthorizationQueryParametersError",
                m,
            ),
            VerifyError::UnknownAccessKey => s3_err(
                forbidden,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            VerifyError::Expired => s3_err(forbidden, "AccessDenied", "Request has expired"),
            VerifyError::NotYetValid => {
                s3_err(forbidden, "AccessDenied", "Request is not valid yet")
            }
            VerifyError::MissingSignedHeader(h) => s3_err(
                forbidden,
                "SignatureDoesNotMatch",
                format!("The request does not carry the signed header {h}."),
            ),
            VerifyError::SignatureDoesNotMatch => s3_err(
                forbidden,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you \
                 provided. Check your key and signing method.",
            ),
        }
    }
}

/// The request's `Content-Length`, at most `max` bytes (S3 refuses more as EntityTooLarge).
pub(super) fn content_length(
    req: &Request<Incoming>,
    max: u64,
    what: &str,
) -> Result<u64, S3Error> {
    let length: u64 = match header(req, "content-length").map(str::parse) {
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "Content-Length is not a number.",
            ))
        }
        None => {
            return Err(s3_err(
                StatusCode::LENGTH_REQUIRED,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            ))
        }
    };
    if length > max {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed {what} size (5 GiB)."),
        ));
    }
    Ok(length)
}

/// `x-amz-checksum-sha256`, decoded: 32 bytes, or 400 InvalidRequest as S3 answers a value
/// that is not one. A checksum of another algorithm is refused rather than left unchecked.
pub(super) fn checksum_sha256(req: &Request<Incoming>) -> Result<Option<[u8; 32]>, S3Error> {
    if let Some(name) = UNCHECKED_CHECKSUMS
        .iter()
        .find(|h| req.headers().contains_key(**h))
    {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("The dev store checks x-amz-checksum-sha256 only; {name} is not supported."),
        ));
    }
    let Some(value) = req.headers().get("x-amz-checksum-sha256") else {
        return Ok(None);
    };
    let invalid = || {
        s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Value for x-amz-checksum-sha256 header is invalid.",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| invalid())?;
    bytes.try_into().map(Some).map_err(|_| invalid())
}

/// The body's SHA-256 against the one the request carried: 400 BadDigest when they differ.
pub(super) fn check_sha256(
    expected: Option<[u8; 32]>,
    got: Option<[u8; 32]>,
) -> Result<Option<String>, S3Error> {
    match (expected, got) {
        (Some(e), Some(g)) if e == g => Ok(Some(b64(&e))),
        (Some(_), _) => Err(s3_err(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The SHA256 you specified did not match the calculated checksum.",
        )),
        (None, _) => Ok(None),
    }
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `If-None-Match` on a write: `*` (create only) or absent; S3 implements no other value.
pub(super) fn if_none_match(req: &Request<Incoming>) -> Result<bool, S3Error> {
    match req.headers().get("if-none-match") {
        None => Ok(false),
        Some(v) if v.as_bytes().trim_ascii() == b"*" => Ok(true),
        Some(_) => Err(s3_err(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented: \
             If-None-Match takes only * on a write.",
        )),
    }
}

pub(super) fn precondition_failed() -> S3Error {
    s3_err(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold (If-None-Match: * and \
         the object exists).",
    )
}

/// Reads and discards a body, so that a refusal reaches a client still sending (a browser
/// that is cut off mid-upload reports a network error, not the refusal). Bounded by the
/// Content-Length the caller checked.
pub(super) async fn drain(body: Incoming) {
    let mut body = body;
    while let Some(Ok(_)) = body.frame().await {}
}

pub fn invalid_part_number() -> S3Error {
    s3_err(
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
        format!("Part number must be an integer between 1 and {MAX_PARTS}, inclusive"),
    )
}

/// A part number as S3 reads one: digits only, 1..=10,000.
pub fn part_number(raw: &str) -> Result<u32, S3Error> {
    match raw.parse::<u32>() {
        Ok(n)
            if raw.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_PARTS).contains(&(n as u64)) =>
        {
            Ok(n)
        }
        _ => Err(invalid_part_number()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_escape_what_they_quote() {
        assert_eq!(
            xml_escape("<a&'\"\n>"),
            "&lt;a&amp;&apos;&quot;\u{fffd}&gt;"
        );
    }
}
