//! Waiting for AWS's eventual consistency, in three helpers used with a named predicate and a
//! budget from [`Timing`], instead of loops and sleeps scattered through the code:
//! [`retry`] sends a request again while its error says "not yet", [`poll`] reads a state until
//! it is the one wanted, and [`if_match`] writes under CloudFront's ETag locking.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;

/// How long to keep trying, and how fast.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Duration,
}

/// The budgets of every wait.
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
    /// deleted (minutes on AWS).
    pub cdn_deployed: Backoff,
    /// Reading a resource back after writing it, while what was read still differs (a read
    /// that lags a write on an eventually consistent service).
    pub read_back: Backoff,
    /// A web ACL WAF does not yet let a distribution name (just made), or does not yet let go
    /// of (just detached from a distribution that is still deploying).
    pub waf_propagation: Backoff,
    /// Writes under an ETag (If-Match) sent again after the ETag went stale.
    pub if_match_attempts: usize,
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
                deadline: Duration::from_secs(1800),
            },
            read_back: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(2),
                deadline: Duration::from_secs(10),
            },
            waf_propagation: Backoff {
                first: Duration::from_secs(1),
                max: Duration::from_secs(15),
                deadline: Duration::from_secs(600),
            },
            if_match_attempts: 4,
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
            read_back: b,
            waf_propagation: b,
            if_match_attempts: 4,
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

/// What one look at a state found.
pub enum Poll<T> {
    /// The state wanted, with what the caller needs of it.
    Ready(T),
    /// Not yet; the state as it should be shown.
    Waiting(String),
}

/// Look at a state with `probe` until it is ready, waiting as `backoff` says in between.
/// `waiting` is told the state and the time waited before each wait (to show progress); a
/// cancelled run stops before the next wait; past the deadline the error is `too_long`'s,
/// given the last state and the time waited.
pub async fn poll<T, F, Fut>(
    backoff: Backoff,
    cancel: &Cancel,
    what: &str,
    mut probe: F,
    mut waiting: impl FnMut(&str, Duration),
    too_long: impl FnOnce(&str, Duration) -> anyhow::Error,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Poll<T>>>,
{
    let start = Instant::now();
    let mut delay = backoff.first;
    loop {
        let state = match probe().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Waiting(state) => state,
        };
        let waited = start.elapsed();
        if waited + delay > backoff.deadline {
            return Err(too_long(&state, waited));
        }
        cancel.check(&format!("waiting for {what}"))?;
        waiting(&state, waited);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// What [`if_match`]'s read found.
pub enum Current<S> {
    /// The resource is gone.
    Gone,
    /// It already is as the write would make it (a write whose answer was lost, sent again).
    AsWanted,
    /// What the write needs, its ETag included.
    Write(S),
}

/// How an [`if_match`] write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    AlreadyAsWanted,
    Gone,
}

/// CloudFront's optimistic locking: read the current ETag (and what else the write needs),
/// write with `If-Match`, and when the ETag went stale meanwhile (another run, or this very
/// write whose answer was lost) read and write again, `attempts` times in all.
pub async fn if_match<S, R, RF, W, WF>(
    attempts: usize,
    what: &str,
    mut read: RF,
    mut write: W,
) -> anyhow::Result<Written>
where
    RF: FnMut() -> R,
    R: Future<Output = anyhow::Result<Current<S>>>,
    W: FnMut(S) -> WF,
    WF: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..attempts {
        let state = match read().await? {
            Current::Gone => return Ok(Written::Gone),
            Current::AsWanted => return Ok(Written::AlreadyAsWanted),
            Current::Write(s) => s,
        };
        match write(state).await {
            Ok(()) => return Ok(Written::Done),
            Err(e) if when::stale_etag(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    anyhow::bail!("{what}: it kept changing while it was written ({attempts} attempts); run the command again")
}

/// The named predicates of the waits: what "not yet" looks like for each.
pub mod when {
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    use crate::errors::{code, code_in, has_code, message};

    /// A role created moments ago that Lambda cannot assume yet.
    pub fn role_not_assumable_yet<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
        code(e) == Some("InvalidParameterValueException")
            && message(e).is_some_and(|m| m.contains("cannot be assumed"))
    }

    /// A malware protection plan refused because GuardDuty cannot assume the role made
    /// moments ago yet.
    pub fn scanner_role_not_ready<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
        code(e) == Some("BadRequestException")
            && message(e).is_some_and(|m| m.to_ascii_lowercase().contains("role"))
    }

    /// A function update refused because another one is still in progress (409).
    pub fn update_in_progress<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
        code_in(e, &["ResourceConflictException"])
    }

    /// Either of the two above.
    pub fn function_settling<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
        role_not_assumable_yet(e) || update_in_progress(e)
    }

    /// A bucket created moments ago whose sub-resources do not see it yet.
    pub fn new_bucket_not_visible(e: &anyhow::Error) -> bool {
        has_code(e, "NoSuchBucket")
    }

    /// A public bucket policy refused while the bucket's relaxed block propagates.
    pub fn public_policy_refused<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
        code_in(e, &["AccessDenied"])
    }

    /// A CloudFront write whose ETag is no longer the current one.
    pub fn stale_etag(e: &anyhow::Error) -> bool {
        has_code(e, "PreconditionFailed")
    }

    /// A web ACL a distribution that was just changed still holds.
    pub fn web_acl_in_use(e: &anyhow::Error) -> bool {
        has_code(e, "WAFAssociatedItemException")
    }

    /// A web ACL made moments ago that CloudFront does not accept yet.
    pub fn web_acl_not_ready(e: &anyhow::Error) -> bool {
        has_code(e, "InvalidWebACLId")
    }
}
