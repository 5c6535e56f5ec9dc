//! The validated spec: every default filled in, every name resolved as far as it can be without
//! an AWS call. Names that embed the account id keep the `{account}` placeholder until
//! [`Spec::resolve`] is given the account.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Placeholder in default bucket names, replaced by the account id at run time.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Path of the spec file, as given.
    pub file: PathBuf,
    /// Directory the spec's relative paths are resolved against.
    pub dir: PathBuf,
    pub name: String,
    pub env: String,
    /// `None`: taken from the AWS config chain at run time.
    pub region: Option<String>,
    /// User tags from the spec (the ownership tags are added by [`Spec::tags`]).
    pub user_tags: BTreeMap<String, String>,
    pub documents: Documents,
    pub presigner: Presigner,
    pub website: Website,
    /// Who may ask the presigner (SPEC.md section 6); `None` is an open presigner.
    pub auth: Option<Auth>,
}

/// Signed-in users: tokens from an OpenID Connect issuer, a folder per user.
#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    /// Exactly as the tokens' `iss` reads.
    pub issuer: String,
    /// Accepted `aud` values (`client_id` when a token has none); default: the client id.
    pub audiences: Vec<String>,
    /// The page's public client (Authorization Code + PKCE).
    pub client_id: String,
    pub scopes: Vec<String>,
    pub jwks_uri: Option<String>,
    /// A user pool the stack makes (SPEC section 7); `issuer`, `client_id` and `audiences`
    /// are then empty, and known once the pool and its client exist (`Ctx::sign_in`).
    pub cognito: Option<Cognito>,
    pub files: AuthFiles,
    pub quota: Option<Quota>,
}

/// The stack's own user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Cognito {
    /// The managed sign-in pages' domain, `https://<prefix>.auth.<region>.amazoncognito.com`;
    /// the default holds the `{account}` placeholder until [`Spec::resolve`].
    pub domain_prefix: String,
    /// Whether visitors may sign themselves up (default: only an administrator creates users).
    pub self_signup: bool,
    /// Whether users must sign in with a second factor (an authenticator app, TOTP).
    pub mfa: Mfa,
}

/// Multi-factor sign-in in the stack's user pool (TOTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mfa {
    /// Every user sets up an authenticator app at their first sign-in (the default).
    Required,
    /// Users may set one up.
    Optional,
    Off,
}

impl Mfa {
    /// Cognito's `MfaConfiguration`.
    pub fn as_aws(self) -> &'static str {
        match self {
            Mfa::Required => "ON",
            Mfa::Optional => "OPTIONAL",
            Mfa::Off => "OFF",
        }
    }
}

/// Whose files a signed-in user may download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFiles {
    Own,
    Shared,
}

impl AuthFiles {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFiles::Own => "own",
            AuthFiles::Shared => "shared",
        }
    }
}

/// Per-user limits; `files` bounds the listing that counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub bytes: Option<u64>,
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Documents {
    pub bucket: String,
    pub versioning: bool,
    pub encryption: Encryption,
    /// Always ends with `/`.
    pub uploads_prefix: String,
    pub expire_uploads_after_days: Option<u32>,
    /// Days after which an unfinished multipart upload is aborted (its parts deleted).
    pub abort_incomplete_uploads_after_days: u32,
    pub cors: Cors,
    /// `events: eventbridge`: S3 sends the bucket's object events to EventBridge.
    pub eventbridge: bool,
    /// `malware_scan: guardduty`: GuardDuty Malware Protection for S3 scans each new upload
    /// under the uploads prefix and tags it; downloads wait for `NO_THREATS_FOUND`.
    pub malware_scan: bool,
}

impl Documents {
    /// Whether the bucket sends its events to EventBridge: asked for, or needed by GuardDuty's
    /// malware scan (which turns it on itself).
    pub fn eventbridge_on(&self) -> bool {
        self.eventbridge || self.malware_scan
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    SseS3,
    SseKms { key_arn: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    /// Entries are full origins or [`Origin::Website`].
    pub allowed_origins: Vec<Origin>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The website bucket's own endpoint origin.
    Website,
    /// A full origin such as `https://app.example.com`, or `*`.
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSource {
    /// The presigner presign-stack comes with (its source is embedded in the binary), built
    /// with cargo-lambda into a cache: neither `source` nor `zip` given.
    Embedded,
    /// A crate directory built with cargo-lambda (absolute path).
    Crate(PathBuf),
    /// A prebuilt zip with `bootstrap` at its root (absolute path).
    Zip(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_aws(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuth {
    None,
    AwsIam,
}

impl UrlAuth {
    pub fn as_aws(self) -> &'static str {
        match self {
            UrlAuth::None => "NONE",
            UrlAuth::AwsIam => "AWS_IAM",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Presigner {
    pub function_name: String,
    pub role_name: String,
    /// The permissions boundary the role is created with, when the spec names one (else the
    /// one `bootstrap` made, when it exists); `{account}` until resolved.
    pub permissions_boundary: Option<String>,
    pub code: CodeSource,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: Option<u32>,
    /// The reservation is the open presigner's default (SPEC section 7), not the spec's.
    pub concurrency_defaulted: bool,
    pub url_expiry_seconds: u32,
    pub max_upload_bytes: u64,
    /// Uploads larger than this go in parts.
    pub multipart_threshold_bytes: u64,
    /// The size of every part but the last.
    pub part_size_bytes: u64,
    /// Lower-case `type/subtype`, or `*/*`.
    pub allowed_content_types: Vec<String>,
    pub allow_downloads: bool,
    /// Retention of the function's log group, in days (one of CloudWatch Logs' values).
    pub log_retention_days: u32,
    pub url_auth: UrlAuth,
    pub url_cors_origins: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheRule {
    /// Glob over the object key (`/`-separated, relative to the website root).
    pub pattern: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Website {
    pub bucket: String,
    /// Absolute path of the folder synced to the bucket.
    pub source: PathBuf,
    pub build: Option<String>,
    pub index_document: String,
    pub error_document: String,
    pub config_file: Option<String>,
    pub cache_control: Vec<CacheRule>,
    pub hosting: Hosting,
}

/// How the site is served.
#[derive(Debug, Clone, PartialEq)]
pub enum Hosting {
    /// The seed's layout: a public bucket behind the S3 website endpoint (HTTP only).
    S3Website,
    /// A private bucket behind a CloudFront distribution with Origin Access Control (HTTPS).
    CloudFront(CloudFront),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloudFront {
    /// `/api`-style path at which the distribution serves the presigner (no trailing `/`).
    pub api_path: Option<String>,
    /// Custom domain names, lower case, sorted.
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub price_class: String,
    /// Requests per 5 minutes per client IP to `api_path`, enforced by a WAF web ACL.
    pub rate_limit: Option<u32>,
}

impl Website {
    pub fn cloudfront(&self) -> Option<&CloudFront> {
        match &self.hosting {
            Hosting::CloudFront(c) => Some(c),
            Hosting::S3Website => None,
        }
    }

    /// The path the distribution serves the presigner at, when it does.
    pub fn api_path(&self) -> Option<&str> {
        self.cloudfront().and_then(|c| c.api_path.as_deref())
    }
}
