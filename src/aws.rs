//! AWS clients for one run: credentials and region from the standard chain, an optional endpoint
//! override (every client; path-style S3), and a recorder that counts every request sent.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where to connect, from the command line (anything unset comes from the AWS chain).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Clone)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    /// Resource Groups Tagging: finds the stack's resources by tag (orphans).
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// CloudWatch Logs: the presigner's log group.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// S3 Control: the account-level Block Public Access setting.
    pub s3control: aws_sdk_s3control::Client,
    /// CloudFront (global; `hosting: cloudfront`).
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// ACM in us-east-1, where CloudFront's certificates live.
    pub acm: aws_sdk_acm::Client,
    /// Cognito user pools (`auth.cognito`).
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// WAF in us-east-1, where web ACLs of scope CLOUDFRONT live (`rate_limit`).
    pub wafv2: aws_sdk_wafv2::Client,
    /// GuardDuty: the documents bucket's malware protection plan (`malware_scan`).
    pub guardduty: aws_sdk_guardduty::Client,
    /// The region the clients talk to.
    pub region: String,
    /// The endpoint is a plain-HTTP override (an emulator): requests carry no TLS, so
    /// `aws:SecureTransport` is false for them.
    pub plain_http: bool,
    pub requests: RequestLog,
}

impl Aws {
    pub async fn connect(connect: &Connect) -> Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &connect.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &connect.region {
            loader = loader.region(Region::new(region.clone()));
        }
        // The flag is passed on; AWS_ENDPOINT_URL is only checked, and the SDK keeps reading it
        // (with AWS_ENDPOINT_URL_<SERVICE> and a profile's endpoint_url) as it always does.
        match &connect.endpoint_url {
            Some(url) => loader = loader.endpoint_url(checked_endpoint("--endpoint-url", url)?),
            None => {
                if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
                    checked_endpoint("AWS_ENDPOINT_URL", &url)?;
                }
            }
        }
        // A connection that never opens fails fast; `account_id`, the first call of every
        // command, also bounds the whole call, so a silent endpoint is an error, not a hang.
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .build(),
        );
        let mut sdk = loader.load().await;
        if let Some(profile) = &connect.profile {
            // An explicit --profile wins over credentials in the environment, as with the AWS
            // CLI: the default chain would read AWS_ACCESS_KEY_ID first and silently act as
            // another identity, maybe in another account. The provider gets the resolved
            // region, which a profile that assumes a role needs for STS.
            let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .configure(
                    &aws_config::provider_config::ProviderConfig::default()
                        .with_region(sdk.region().cloned()),
                )
                .build();
            sdk = sdk
                .into_builder()
                .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                    provider,
                ))
                .build();
        }
        let region = sdk.region().map(|r| r.to_string()).context(
            "no AWS region: set `region:` in the spec, pass --region, or set AWS_REGION",
        )?;
        let plain_http = sdk
            .endpoint_url()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("http://"));
        let requests = RequestLog::from_env()?;
        // Retry budgets (ARCHITECTURE.md, "Retries"): throttling, 5xx, timeouts and broken
        // connections are retried with exponential backoff and jitter; a connection that
        // stops sending for 30 s counts as broken.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(30))
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .retry_config(budget(8, 10))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let iam = aws_sdk_iam::config::Builder::from(&sdk)
            .retry_config(budget(12, 20))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let lambda = aws_sdk_lambda::config::Builder::from(&sdk)
            .retry_config(budget(12, 20))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let sts = aws_sdk_sts::config::Builder::from(&sdk)
            .retry_config(budget(8, 10))
            .interceptor(requests.clone())
            .build();
        let tagging = aws_sdk_resourcegroupstagging::config::Builder::from(&sdk)
            .retry_config(budget(8, 10))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
            .retry_config(budget(8, 10))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let mut s3control = aws_sdk_s3control::config::Builder::from(&sdk)
            .retry_config(budget(8, 10))
            .interceptor(requests.clone());
        if let Some(url) = sdk.endpoint_url() {
            s3control = s3control.endpoint_resolver(FixedS3ControlEndpoint {
                url: url.to_string(),
            });
        }
        let s3control = s3control.build();
        let cloudfront = aws_sdk_cloudfront::config::Builder::from(&sdk)
            .region(aws_types::region::Region::from_static("us-east-1"))
            .retry_config(budget(12, 20))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let acm = aws_sdk_acm::config::Builder::from(&sdk)
            .region(aws_types::region::Region::from_static("us-east-1"))
            .retry_config(budget(8, 10))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let cognito = aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .retry_config(budget(12, 20))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let wafv2 = aws_sdk_wafv2::config::Builder::from(&sdk)
            .region(aws_types::region::Region::from_static("us-east-1"))
            .retry_config(budget(12, 20))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        let guardduty = aws_sdk_guardduty::config::Builder::from(&sdk)
            .retry_config(budget(8, 10))
            .timeout_config(timeouts.clone())
            .interceptor(requests.clone())
            .build();
        Ok(Aws {
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::from_conf(iam),
            lambda: aws_sdk_lambda::Client::from_conf(lambda),
            sts: aws_sdk_sts::Client::from_conf(sts),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            s3control: aws_sdk_s3control::Client::from_conf(s3control),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(cloudfront),
            acm: aws_sdk_acm::Client::from_conf(acm),
            cognito: aws_sdk_cognitoidentityprovider::Client::from_conf(cognito),
            wafv2: aws_sdk_wafv2::Client::from_conf(wafv2),
            guardduty: aws_sdk_guardduty::Client::from_conf(guardduty),
            region,
            plain_http,
            requests,
        })
    }

    /// The account the credentials belong to.
    pub async fn account_id(&self, profile: Option<&str>) -> Result<String> {
        let call = self
            .sts
            .get_caller_identity()
            .customize()
            .config_override(
                aws_sdk_sts::config::Config::builder().timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_timeout(IDENTIFY_TIMEOUT)
                        .build(),
                ),
            )
            .send();
        let who = call.await.map_err(|e| {
            let reason = crate::errors::describe(&e);
            match &e {
                aws_sdk_sts::error::SdkError::TimeoutError(_) => anyhow::anyhow!(
                    "no answer from the AWS endpoint within {} s ({reason}): check the network, \
                     or --endpoint-url / AWS_ENDPOINT_URL if you use an emulator",
                    IDENTIFY_TIMEOUT.as_secs()
                ),
                _ if is_credentials_error(&e) => {
                    let reason = std::error::Error::source(&e)
                        .map(crate::errors::chain)
                        .unwrap_or(reason);
                    match profile {
                        Some(p) => anyhow::anyhow!(
                            "--profile {p}: no usable credentials ({reason}): check that the \
                         profile is in ~/.aws/config or ~/.aws/credentials (or \
                         AWS_CONFIG_FILE), or run `aws sso login --profile {p}`"
                        ),
                        None => anyhow::anyhow!(
                            "no usable AWS credentials ({reason}): set AWS_PROFILE or \
                         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, pass --profile, or run \
                         `aws sso login`"
                        ),
                    }
                }
                aws_sdk_sts::error::SdkError::DispatchFailure(_) => anyhow::anyhow!("{reason}"),
                aws_sdk_sts::error::SdkError::ServiceError(_)
                    if crate::errors::code(&e).is_none() =>
                {
                    anyhow::anyhow!(
                        "the AWS endpoint gave an answer that is not AWS's ({reason}): check \
                         --endpoint-url / AWS_ENDPOINT_URL, or a proxy on the way"
                    )
                }
                _ => anyhow::anyhow!(
                    "could not identify the AWS account ({reason}): check your credentials \
                     (AWS_PROFILE, AWS_ACCESS_KEY_ID, or `aws sso login`)"
                ),
            }
        })?;
        who.account()
            .map(str::to_string)
            .context("STS GetCallerIdentity returned no account id")
    }
}

/// True when resolving credentials failed, wherever in the chain of causes that shows.
fn is_credentials_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// How long the first call of a command (STS GetCallerIdentity) may take, retries included.
const IDENTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// An endpoint override must be an http(s) URL with a host; the SDK would otherwise panic on
/// an empty one or fail later with an unreadable message.
fn checked_endpoint(source: &str, url: &str) -> Result<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    let host_ok = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        !host.is_empty() && !host.starts_with(':')
    };
    match rest {
        Some(rest) if host_ok(rest) && !url.contains(char::is_whitespace) => Ok(url.to_string()),
        _ => anyhow::bail!(
            "{source} `{url}` is not an http(s) URL; give one like http://127.0.0.1:4566, or \
             leave it unset for AWS itself"
        ),
    }
}

/// Counts every request attempt (retries included) by service and operation; with
/// `PRESIGN_STACK_REQUEST_LOG=FILE` also appends one line per request to FILE: the service
/// name, a space, the operation name (service names may contain spaces).
#[derive(Clone, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<Vec<(String, String)>>>,
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLog").finish_non_exhaustive()
    }
}

impl RequestLog {
    fn from_env() -> Result<RequestLog> {
        let file = match std::env::var_os("PRESIGN_STACK_REQUEST_LOG") {
            Some(path) => Some(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| {
                        format!(
                            "opening PRESIGN_STACK_REQUEST_LOG file {}",
                            std::path::Path::new(&path).display()
                        )
                    })?,
            ))),
            None => None,
        };
        Ok(RequestLog {
            inner: Arc::default(),
            file,
        })
    }

    /// (total, writes) so far.
    pub fn counts(&self) -> (usize, usize) {
        let all = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let writes = all.iter().filter(|(_, op)| is_write(op)).count();
        (all.len(), writes)
    }
}

/// Operations that only read: everything else changes something.
pub fn is_write(operation: &str) -> bool {
    !["Get", "List", "Head", "Describe"]
        .iter()
        .any(|p| operation.starts_with(p))
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = match cfg.load::<Metadata>() {
            Some(m) => (m.service().to_string(), m.name().to_string()),
            None => ("unknown".to_string(), "unknown".to_string()),
        };
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(file, "{service} {operation}")?;
        }
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((service, operation));
        Ok(())
    }
}

/// S3 Control puts the account id in front of the host (`<account>.<endpoint>`), which an
/// endpoint override such as `http://127.0.0.1:4566` cannot take: against an override, its
/// requests go to the URL as given, signed for `s3` as S3 Control's are.
#[derive(Debug)]
struct FixedS3ControlEndpoint {
    url: String,
}

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedS3ControlEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_smithy_runtime_api::client::endpoint::EndpointFuture<'a> {
        let region = params.region().unwrap_or("us-east-1").to_string();
        let endpoint = aws_smithy_types::endpoint::Endpoint::builder()
            .url(self.url.clone())
            .property(
                "authSchemes",
                vec![aws_smithy_types::Document::Object(
                    [
                        ("name".to_string(), "sigv4".into()),
                        ("signingName".to_string(), "s3".into()),
                        ("signingRegion".to_string(), region.into()),
                        ("disableDoubleEncoding".to_string(), true.into()),
                    ]
                    .into_iter()
                    .collect(),
                )],
            )
            .build();
        aws_smithy_runtime_api::client::endpoint::EndpointFuture::ready(Ok(endpoint))
    }
}

/// The SDK's standard retries (throttling, 5xx, timeouts, broken connections; exponential
/// backoff with full jitter) within `attempts` in all, waiting at most `max_backoff_s` between
/// two.
fn budget(attempts: u32, max_backoff_s: u64) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(std::time::Duration::from_millis(200))
        .with_max_backoff(std::time::Duration::from_secs(max_backoff_s))
}
