//! One retry loop for AWS's eventual consistency, used with a named predicate and an explicit
//! deadline (IAM propagation before CreateFunction, NoSuchBucket just after CreateBucket, a
//! function that is still updating), instead of sleeps scattered through the code.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// How long to keep trying, and how fast.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Duration,
}

/// The waits used for each kind of eventual consistency.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A new IAM role becoming assumable by Lambda (Terraform allows minutes).
    pub iam_propagation: Backoff,
    /// Bucket sub-resources answering NoSuchBucket right after CreateBucket.
    pub new_bucket: Backoff,
    /// Polling a function until it is Active / its last update Successful, and retrying an
    /// update refused with 409 because another one is in progress.
    pub function_ready: Backoff,
    /// S3 refusing a public bucket policy right after the bucket's public access block was
    /// relaxed (the block takes seconds to propagate).
    pub public_access: Backoff,
    /// Polling a disabled CloudFront distribution until it is deployed, so that it can be
    /// deleted (minutes on AWS); `PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS` sets the deadline.
    pub cdn_deployed: Backoff,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            iam_propagation: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(8),
                deadline: Duration::from_secs(180),
            },
            new_bucket: Backoff {
                first: Duration::from_millis(200),
                max: Duration::from_secs(3),
                deadline: Duration::from_secs(60),
            },
            function_ready: Backoff {
                first: Duration::from_millis(200),
                max: Duration::from_secs(3),
                deadline: Duration::from_secs(600),
            },
            public_access: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(8),
                deadline: Duration::from_secs(60),
            },
            cdn_deployed: Backoff {
                first: Duration::from_secs(1),
                max: Duration::from_secs(15),
                deadline: Duration::from_secs(
                    std::env::var("PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS")
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(1800),
                ),
            },
        }
    }
}

impl Timing {
    /// Millisecond waits, for tests that script AWS's answers.
    pub fn fast() -> Timing {
        let b = Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(5),
            deadline: Duration::from_secs(5),
        };
        Timing {
            iam_propagation: b,
            new_bucket: b,
            function_ready: b,
            public_access: b,
            cdn_deployed: b,
        }
    }
}

/// Run `op` until it succeeds, fails with an error `retryable` rejects, or the deadline passes
/// (then the last error is returned).
pub async fn retry<T, E, F, Fut>(
    backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let mut delay = backoff.first;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && start.elapsed() + delay < backoff.deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(backoff.max);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Predicate: the error code is `code` and its message contains `needle`.
pub fn when_code_and_message<E: ProvideErrorMetadata, R>(
    code: &'static str,
    needle: &'static str,
) -> impl Fn(&SdkError<E, R>) -> bool {
    move |e| {
        crate::errors::code(e) == Some(code)
            && crate::errors::message(e).is_some_and(|m| m.contains(needle))
    }
}
