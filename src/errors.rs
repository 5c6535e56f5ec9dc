//! Turning AWS SDK errors into one readable line, and recognising them by code.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// `Code: message` for a service error; the transport problem otherwise.
pub fn describe<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => {
                    format!("{code} (HTTP {})", service.raw().status().as_u16())
                }
                (None, Some(msg)) => msg.to_string(),
                // No code the SDK could read (a proxy's or an emulator's own error page, a
                // bodiless status): what came back is the only clue, so show it.
                (None, None) => unreadable(service.raw()),
            }
        }
        SdkError::DispatchFailure(d) => {
            let mut s = "could not reach the AWS endpoint".to_string();
            if let Some(cause) = std::error::Error::source(err) {
                s.push_str(&format!(" ({})", chain(cause)));
            } else if d.is_io() {
                s.push_str(" (I/O error)");
            }
            s.push_str("; check the network, AWS_ENDPOINT_URL / --endpoint-url and the region");
            s
        }
        SdkError::TimeoutError(_) => "the request to AWS timed out".to_string(),
        other => chain(other),
    }
}

fn unreadable(raw: &aws_smithy_runtime_api::http::Response) -> String {
    let status = raw.status().as_u16();
    let body: String = raw
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let hint = match status {
        500..=599 => "the service failed; run again, and if it persists check the endpoint",
        404 => "not found; check the region and AWS_ENDPOINT_URL / --endpoint-url",
        _ => "check the endpoint and the request",
    };
    if body.is_empty() {
        format!("HTTP {status} with no error code or body ({hint})")
    } else {
        let cut: String = body.chars().take(300).collect();
        let more = if cut.len() < body.len() { "..." } else { "" };
        format!("HTTP {status} with no error code, body: {cut}{more} ({hint})")
    }
}

/// The causes of `err`, outermost first, joined with `: ` (repeats left out).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let next = e.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = e.source();
    }
    s
}

/// The service error code, when the error came from the service.
pub fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// The service error message, when the error came from the service.
pub fn message<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().message(),
        _ => None,
    }
}

/// True when the service answered with HTTP `status` (e.g. HeadBucket's bodiless 404).
pub fn status_is<E>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
    status: u16,
) -> bool {
    match err {
        SdkError::ServiceError(service) => service.raw().status().as_u16() == status,
        _ => false,
    }
}

/// A header of the HTTP answer behind a service error (`x-amz-bucket-region` of a 301).
pub fn response_header<E>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
    name: &str,
) -> Option<String> {
    match err {
        SdkError::ServiceError(service) => service.raw().headers().get(name).map(str::to_string),
        _ => None,
    }
}

/// True when `answer` is an error with `code`.
pub fn failed_with<O, E, R>(answer: &Result<O, SdkError<E, R>>, code: &str) -> bool
where
    E: ProvideErrorMetadata,
{
    answer.as_ref().err().is_some_and(|e| code_in(e, &[code]))
}

/// True when the error is one of `codes`.
pub fn code_in<E, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool
where
    E: ProvideErrorMetadata,
{
    code(err).is_some_and(|c| codes.contains(&c))
}

/// An AWS failure as one line (what was being done, then AWS's answer), keeping the service
/// error code so callers can still match on it after it became an `anyhow::Error`.
#[derive(Debug)]
pub struct AwsError {
    line: String,
    code: Option<String>,
    /// The HTTP status of the service's answer, when there was one.
    status: Option<u16>,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for AwsError {}

/// Wrap an SDK error as `anyhow` with what was being done.
pub fn aws_err<E>(
    what: impl std::fmt::Display,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = match &err {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    };
    anyhow::Error::new(AwsError {
        line: format!("{what}: {}", describe(&err)),
        code: code(&err).map(str::to_string),
        status,
    })
}

/// True when `err` (or what it wraps) is an AWS error the service answered with `status`.
pub fn has_status(err: &anyhow::Error, status: u16) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<AwsError>())
        .any(|e| e.status == Some(status))
}

/// True when `err` (or what it wraps) is an AWS error with service code `code`.
pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<AwsError>())
        .any(|e| e.code.as_deref() == Some(code))
}

/// Every result `Ok`, or one error naming each failure (a line each).
pub fn all(results: Vec<anyhow::Result<()>>) -> anyhow::Result<()> {
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    match failures.len() {
        0 => Ok(()),
        _ => anyhow::bail!("{}", failures.join("\n  - ")),
    }
}
