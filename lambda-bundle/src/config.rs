//! The presigner's configuration and credentials, read once from the environment.
//!
//! The environment variable names are the contract with the provisioner (`presign-stack up`
//! sets them on the function) and with the local dev server.

use std::fmt;
use std::time::SystemTime;

pub const ENV_BUCKET: &str = "PRESIGNER_BUCKET";
pub const ENV_UPLOADS_PREFIX: &str = "PRESIGNER_UPLOADS_PREFIX";
pub const ENV_URL_EXPIRY_SECONDS: &str = "PRESIGNER_URL_EXPIRY_SECONDS";
pub const ENV_MAX_UPLOAD_BYTES: &str = "PRESIGNER_MAX_UPLOAD_BYTES";
pub const ENV_ALLOWED_CONTENT_TYPES: &str = "PRESIGNER_ALLOWED_CONTENT_TYPES";
pub const ENV_ALLOW_DOWNLOADS: &str = "PRESIGNER_ALLOW_DOWNLOADS";
pub const ENV_S3_ENDPOINT: &str = "PRESIGNER_S3_ENDPOINT";
/// Optional: the path the presigner answers under (`/api`), when a CloudFront distribution
/// forwards `<base>/*` to the Function URL with the full path.
pub const ENV_BASE_PATH: &str = "PRESIGNER_BASE_PATH";
/// Optional: uploads larger than this go in parts (default [`DEFAULT_MULTIPART_THRESHOLD_BYTES`]).
pub const ENV_MULTIPART_THRESHOLD_BYTES: &str = "PRESIGNER_MULTIPART_THRESHOLD_BYTES";
/// Optional: the size of every part but the last (default [`DEFAULT_PART_SIZE_BYTES`]).
pub const ENV_PART_SIZE_BYTES: &str = "PRESIGNER_PART_SIZE_BYTES";
/// Optional: `guardduty` when GuardDuty scans the uploads; a download then waits for the
/// object's `GuardDutyMalwareScanStatus` tag to be `NO_THREATS_FOUND`.
pub const ENV_MALWARE_SCAN: &str = "PRESIGNER_MALWARE_SCAN";
pub const ENV_REGION: &str = "AWS_REGION";
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// Longest accepted URL lifetime (the spec's `url_expiry_seconds` range is 1..=3600).
pub const MAX_URL_EXPIRY_SECONDS: u64 = 3600;
/// S3's limit for a single PUT: 5 GiB.
pub const MAX_SINGLE_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's limit for one object, uploaded in parts: 5 TiB.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// S3's smallest part (all but the last): 5 MiB.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part: 5 GiB.
pub const MAX_PART_BYTES: u64 = MAX_SINGLE_PUT_BYTES;
/// S3's part numbers are 1..=10,000.
pub const MAX_PARTS: u64 = 10_000;
pub const DEFAULT_MULTIPART_THRESHOLD_BYTES: u64 = 64 * 1024 * 1024;
pub const DEFAULT_PART_SIZE_BYTES: u64 = 16 * 1024 * 1024;
/// Longest accepted uploads prefix, leaving room for the date, uuid and filename in a
/// 1024-byte S3 key.
pub const MAX_PREFIX_BYTES: usize = 512;
/// Longest accepted base path (the spec's `website.cloudfront.api_path`).
pub const MAX_BASE_PATH_BYTES: usize = 64;

/// Validated presigner configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The private documents bucket.
    pub bucket: String,
    /// The bucket's region (`AWS_REGION`, which Lambda sets to the function's region).
    pub region: String,
    /// The only prefix uploads are written under and downloads are served from; ends with `/`.
    pub uploads_prefix: String,
    /// Lifetime of each presigned URL, 1..=3600 seconds.
    pub url_expiry_seconds: u64,
    /// Largest upload a client may ask for, 1..=5 TiB, in at most [`MAX_PARTS`] parts.
    pub max_upload_bytes: u64,
    /// Uploads of at most this many bytes are one PUT; larger ones go in parts. 1..=5 GiB.
    pub multipart_threshold_bytes: u64,
    /// Every part but the last has exactly this size. 5 MiB..=5 GiB.
    pub part_size_bytes: u64,
    /// Lower-case media types (`image/png`), `type/*`, or `*/*` for anything.
    pub allowed_content_types: Vec<String>,
    /// Whether `GET /downloads` is offered.
    pub allow_downloads: bool,
    /// `http://127.0.0.1:9000` (no trailing slash) for an emulator or the dev server: URLs are
    /// then path-style, `<endpoint>/<bucket>/<key>`. `None`: `https://<bucket>.s3.<region>.amazonaws.com`.
    pub s3_endpoint: Option<String>,
    /// `/api`-style (no trailing slash): the routes are then `<base>/uploads` and
    /// `<base>/downloads`, and nothing outside the base is served. `None`: `/uploads` and
    /// `/downloads`.
    pub base_path: Option<String>,
    /// Who may ask (SPEC.md section 6): `None` is an open presigner.
    pub auth: Option<crate::auth::settings::AuthConfig>,
    /// GuardDuty scans the uploads (SPEC.md section 9): a download is offered only for an
    /// object tagged clean, which the presigner reads (so it needs the network).
    pub malware_scan: bool,
}

/// A configuration variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// Reads one variable through `lookup`; unset and empty are both "missing".
fn required<F>(lookup: &F, name: &'static str, what: &str) -> Result<String, ConfigError>
where
    F: Fn(&str) -> Option<String>,
{
    match lookup(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(err(name, format!("is not set; expected {what}"))),
    }
}

fn optional<F>(lookup: &F, name: &'static str) -> Option<String>
where
    F: Fn(&str) -> Option<String>,
{
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Shows a (possibly hostile or huge) value in an error message, bounded and quoted.
pub(crate) fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(64).collect();
    if s.len() < v.len() {
        s.push('…');
    }
    format!("{s:?}")
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

impl Config {
    /// Reads and validates the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    /// Reads and validates the configuration through `lookup` (a map in tests, the process
    /// environment in [`Config::from_env`]).
    pub fn from_lookup<F>(lookup: F) -> Result<Config, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let bucket = required(&lookup, ENV_BUCKET, "the documents bucket name")?;
        validate_bucket(&bucket).map_err(|m| err(ENV_BUCKET, m))?;

        let region = required(&lookup, ENV_REGION, "an AWS region such as eu-central-1")?;
        validate_region(&region).map_err(|m| err(ENV_REGION, m))?;

        let uploads_prefix = required(
            &lookup,
            ENV_UPLOADS_PREFIX,
            "a key prefix ending with '/', such as uploads/",
        )?;
        validate_uploads_prefix(&uploads_prefix).map_err(|m| err(ENV_UPLOADS_PREFIX, m))?;

        let expiry = required(&lookup, ENV_URL_EXPIRY_SECONDS, "an integer from 1 to 3600")?;
        let url_expiry_seconds = match expiry.parse::<u64>() {
            Ok(n) if (1..=MAX_URL_EXPIRY_SECONDS).contains(&n) => n,
            _ => {
                return Err(err(
                    ENV_URL_EXPIRY_SECONDS,
                    format!(
                        "{} is not allowed; expected an integer from 1 to {MAX_URL_EXPIRY_SECONDS}",
                        shown(&expiry)
                    ),
                ))
            }
        };

        let max = required(
            &lookup,
            ENV_MAX_UPLOAD_BYTES,
            "an integer from 1 to 5497558138880 (5 TiB)",
        )?;
        let max_upload_bytes = match max.parse::<u64>() {
            Ok(n) if (1..=MAX_OBJECT_BYTES).contains(&n) => n,
            _ => {
                return Err(err(
                    ENV_MAX_UPLOAD_BYTES,
                    format!(
                        "{} is not allowed; expected an integer from 1 to {MAX_OBJECT_BYTES} \
                         (5 TiB, S3's limit for one object)",
                        shown(&max)
                    ),
                ))
            }
        };
        let bytes =
            |name: &'static str, default: u64, min: u64, max: u64, what: &str| match optional(
                &lookup, name,
            ) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(err(
                        name,
                        format!(
                            "{} is not allowed; expected an integer from {min} to {max} ({what})",
                            shown(&v)
                        ),
                    )),
                },
            };
        let multipart_threshold_bytes = bytes(
            ENV_MULTIPART_THRESHOLD_BYTES,
            DEFAULT_MULTIPART_THRESHOLD_BYTES,
            1,
            MAX_SINGLE_PUT_BYTES,
            "at most 5 GiB, S3's limit for a single PUT",
        )?;
        let part_size_bytes = bytes(
            ENV_PART_SIZE_BYTES,
            DEFAULT_PART_SIZE_BYTES,
            MIN_PART_BYTES,
            MAX_PART_BYTES,
            "S3's part sizes: 5 MiB to 5 GiB",
        )?;
        if max_upload_bytes > multipart_threshold_bytes
            && max_upload_bytes.div_ceil(part_size_bytes) > MAX_PARTS
        {
            return Err(err(
                ENV_PART_SIZE_BYTES,
                format!(
                    "{part_size_bytes} bytes per part cannot carry {max_upload_bytes} bytes \
                     ({ENV_MAX_UPLOAD_BYTES}) in S3's {MAX_PARTS} parts; use at least {} \
                     bytes per part",
                    min_part_size(max_upload_bytes)
                ),
            ));
        }

        let types = required(
            &lookup,
            ENV_ALLOWED_CONTENT_TYPES,
            "comma-separated media types such as image/png,application/pdf, or */*",
        )?;
        let allowed_content_types =
            parse_content_types(&types).map_err(|m| err(ENV_ALLOWED_CONTENT_TYPES, m))?;

        let downloads = required(&lookup, ENV_ALLOW_DOWNLOADS, "true or false")?;
        let allow_downloads = match downloads.as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(err(
                    ENV_ALLOW_DOWNLOADS,
                    format!("{} is not allowed; expected true or false", shown(other)),
                ))
            }
        };

        let s3_endpoint = match optional(&lookup, ENV_S3_ENDPOINT) {
            None => None,
            Some(e) => Some(normalize_endpoint(&e).map_err(|m| err(ENV_S3_ENDPOINT, m))?),
        };

        let base_path = match optional(&lookup, ENV_BASE_PATH) {
            None => None,
            Some(p) => {
                validate_base_path(&p).map_err(|m| err(ENV_BASE_PATH, m))?;
                Some(p)
            }
        };

        let auth = crate::auth::settings::AuthConfig::from_lookup(&lookup)
            .map_err(|(variable, message)| err(variable, message))?;

        let malware_scan = match optional(&lookup, ENV_MALWARE_SCAN).as_deref() {
            None => false,
            Some("guardduty") => true,
            Some(other) => {
                return Err(err(
                    ENV_MALWARE_SCAN,
                    format!(
                        "{} is not allowed; expected guardduty, or leave it unset",
                        shown(other)
                    ),
                ))
            }
        };

        Ok(Config {
            bucket,
            region,
            uploads_prefix,
            url_expiry_seconds,
            max_upload_bytes,
            multipart_threshold_bytes,
            part_size_bytes,
            allowed_content_types,
            allow_downloads,
            s3_endpoint,
            base_path,
            auth,
            malware_scan,
        })
    }

    /// How many parts an upload of `size` bytes takes.
    pub fn part_count(&self, size: u64) -> u64 {
        size.div_ceil(self.part_size_bytes).max(1)
    }

    /// The length of part `n` (1-based) of an upload of `size` bytes: the part size, the rest
    /// for the last part. `None` outside 1..=part_count.
    pub fn part_length(&self, size: u64, n: u64) -> Option<u64> {
        if n == 0 || n > self.part_count(size) {
            return None;
        }
        let start = (n - 1) * self.part_size_bytes;
        Some((size - start).min(self.part_size_bytes))
    }

    /// Whether `content_type` (already trimmed and lower-cased, without parameters) may be
    /// uploaded.
    pub fn allows_content_type(&self, content_type: &str) -> bool {
        let Some((ty, _)) = content_type.split_once('/') else {
            return false;
        };
        self.allowed_content_types.iter().any(|allowed| {
            allowed == "*/*"
                || allowed == content_type
                || allowed
                    .strip_suffix("/*")
                    .is_some_and(|allowed_ty| allowed_ty == ty)
        })
    }
}

/// The smallest part size, rounded up to a whole MiB and never under S3's 5 MiB, that carries
/// `max` bytes in [`MAX_PARTS`] parts.
pub fn min_part_size(max: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    max.div_ceil(MAX_PARTS).div_ceil(MIB).max(5) * MIB
}

fn validate_bucket(b: &str) -> Result<(), String> {
    let ok_chars = b
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let edges = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&b.len())
        || !ok_chars
        || !edges(b.bytes().next())
        || !edges(b.bytes().last())
        || b.contains("..")
    {
        return Err(format!(
            "{} is not a valid S3 bucket name; expected 3 to 63 characters of a-z, 0-9, '.' and \
             '-', starting and ending with a letter or digit",
            shown(b)
        ));
    }
    Ok(())
}

fn validate_region(r: &str) -> Result<(), String> {
    let ok = (2..=32).contains(&r.len())
        && r.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
        && r.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a valid region; expected something like eu-central-1",
            shown(r)
        ))
    }
}

/// The one rule for an uploads prefix, used by the spec's validation and by the presigner's
/// init: S3's "safe characters" but `*` (letters, digits, `!-_.'()`) in segments separated by
/// `/`, ending with `/`, no empty, `.` or `..` segment, at most [`MAX_PREFIX_BYTES`] bytes.
/// The prefix goes into the role's policy as `arn:aws:s3:::<bucket>/<prefix>*`, where IAM
/// reads `*` and `?` as wildcards and `${` as a policy variable: `u*/` would grant every
/// prefix starting with `u`. So those are refused by name.
pub fn validate_uploads_prefix(p: &str) -> Result<(), String> {
    const RULE: &str = "a prefix such as `uploads/`: segments of A-Z a-z 0-9 and `! - _ . ' ( )` \
                        separated by `/`, ending with `/`";
    let q = |p: &str| {
        let cut: String = p.chars().take(64).collect();
        format!("`{cut}`{}", if cut.len() < p.len() { "…" } else { "" })
    };
    if p.is_empty() {
        return Err(format!("must not be empty; use {RULE}"));
    }
    if p.len() > MAX_PREFIX_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_PREFIX_BYTES} are allowed, to leave room in a \
             1024-byte key for the date, an id and the file name",
            p.len()
        ));
    }
    if p.starts_with('/') {
        return Err(format!(
            "{} starts with `/`, but S3 keys have no leading slash; use {RULE}",
            q(p)
        ));
    }
    if let Some(c) = p.chars().find(|c| "*?$".contains(*c)) {
        let meaning = if c == '$' {
            "the start of a policy variable (`${...}`)"
        } else {
            "a wildcard, so the role could write beyond the prefix"
        };
        return Err(format!(
            "{} contains `{c}`, which IAM reads in the role's policy as {meaning}; use {RULE}",
            q(p)
        ));
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "!-_.'()/".contains(c);
    if let Some(c) = p.chars().find(|c| !safe(*c)) {
        let c = if c.is_control() || c.is_whitespace() {
            format!("{c:?}")
        } else {
            format!("`{c}`")
        };
        return Err(format!("{} contains {c}; use {RULE}", q(p)));
    }
    let Some(body) = p.strip_suffix('/') else {
        return Err(format!("{} must end with `/`, e.g. `{p}/`", q(p)));
    };
    for seg in body.split('/') {
        match seg {
            "" => return Err(format!("{} has an empty segment (`//`); use {RULE}", q(p))),
            "." | ".." => return Err(format!("{} has a `{seg}` segment; use {RULE}", q(p))),
            _ => {}
        }
    }
    Ok(())
}

/// The one rule for the path the presigner answers under, the spec's rule for
/// `website.cloudfront.api_path`: `/` and one or more segments of a-z, 0-9, `-` and `_`
/// separated by `/`, no trailing `/`, at most [`MAX_BASE_PATH_BYTES`] bytes.
pub fn validate_base_path(p: &str) -> Result<(), String> {
    let segments_ok = p.strip_prefix('/').is_some_and(|rest| {
        !rest.is_empty()
            && rest.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            })
    });
    if !segments_ok || p.len() > MAX_BASE_PATH_BYTES {
        return Err(format!(
            "{} is not a base path; expected `/` and segments of a-z, 0-9, `-` and `_`, \
             without a trailing `/`, such as /api (at most {MAX_BASE_PATH_BYTES} characters)",
            shown(p)
        ));
    }
    Ok(())
}

/// RFC 7230 `token` characters, which is what a media type's type and subtype are made of.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn parse_content_types(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in s.split(',') {
        let item = item.trim().to_ascii_lowercase();
        if item.is_empty() {
            continue;
        }
        let valid = match item.split_once('/') {
            Some(("*", "*")) => true,
            Some((ty, sub)) => {
                !ty.is_empty()
                    && !sub.is_empty()
                    && ty != "*"
                    && ty.chars().all(is_token_char)
                    && (sub == "*" || (sub.chars().all(is_token_char) && !sub.contains('*')))
                    && !ty.contains('*')
            }
            None => false,
        };
        if !valid {
            return Err(format!(
                "{} is not a media type; expected comma-separated entries such as image/png, \
                 image/* or */* (no parameters)",
                shown(&item)
            ));
        }
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(
            "lists no media type; expected e.g. image/png,application/pdf, or */* to \
                    allow any"
                .into(),
        );
    }
    Ok(out)
}

/// Accepts `http(s)://host[:port][/path]`, returns it without a trailing `/`.
fn normalize_endpoint(e: &str) -> Result<String, String> {
    let what = "expected an http:// or https:// URL such as http://127.0.0.1:9000, without query, \
                fragment or credentials";
    let rest = e
        .strip_prefix("http://")
        .or_else(|| e.strip_prefix("https://"))
        .ok_or_else(|| format!("{} is not allowed; {what}", shown(e)))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let bad = authority.is_empty()
        || authority.contains('@')
        || e.contains(['?', '#'])
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
        || !e.is_ascii();
    if bad {
        return Err(format!("{} is not allowed; {what}", shown(e)));
    }
    Ok(e.trim_end_matches('/').to_string())
}

/// AWS credentials used to sign URLs.
///
/// On Lambda they come from the environment the runtime sets for the function's role session
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`). Lambda does not expose
/// their expiry, so `expires_at` is `None` there; a caller that knows it (the dev server) sets
/// it, and no URL is then issued that outlives the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Credentials {
    pub fn from_env() -> Result<Credentials, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup<F>(lookup: F) -> Result<Credentials, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        Ok(Credentials {
            access_key_id: required(&lookup, ENV_ACCESS_KEY_ID, "an AWS access key id")?,
            secret_access_key: required(
                &lookup,
                ENV_SECRET_ACCESS_KEY,
                "an AWS secret access key",
            )?,
            session_token: optional(&lookup, ENV_SESSION_TOKEN),
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        [
            (ENV_BUCKET, "acme-docs-files"),
            (ENV_REGION, "eu-central-1"),
            (ENV_UPLOADS_PREFIX, "uploads/"),
            (ENV_URL_EXPIRY_SECONDS, "300"),
            (ENV_MAX_UPLOAD_BYTES, "10485760"),
            (
                ENV_ALLOWED_CONTENT_TYPES,
                "image/png, IMAGE/JPEG,application/pdf",
            ),
            (ENV_ALLOW_DOWNLOADS, "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    }

    fn load(env: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| env.get(k).cloned())
    }

    fn with(k: &'static str, v: &str) -> Result<Config, ConfigError> {
        let mut env = base();
        env.insert(k, v.to_string());
        load(&env)
    }

    #[test]
    fn valid_config() {
        let c = load(&base()).unwrap();
        assert_eq!(c.bucket, "acme-docs-files");
        assert_eq!(c.region, "eu-central-1");
        assert_eq!(c.url_expiry_seconds, 300);
        assert_eq!(c.max_upload_bytes, 10_485_760);
        assert_eq!(
            c.allowed_content_types,
            ["image/png", "image/jpeg", "application/pdf"]
        );
        assert!(c.allow_downloads);
        assert_eq!(c.s3_endpoint, None);
        let c = with(ENV_S3_ENDPOINT, "http://127.0.0.1:9000/").unwrap();
        assert_eq!(c.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let c = with(ENV_S3_ENDPOINT, "").unwrap();
        assert_eq!(c.s3_endpoint, None);
        assert_eq!(c.base_path, None);
    }

    #[test]
    fn base_path_is_optional_and_follows_the_api_path_rule() {
        for ok in [
            "/api",
            "/v1/presign",
            "/a",
            "/my-api_2",
            &format!("/{}", "a".repeat(63)),
        ] {
            let c = with(ENV_BASE_PATH, ok).unwrap();
            assert_eq!(c.base_path.as_deref(), Some(ok));
        }
        assert_eq!(with(ENV_BASE_PATH, "").unwrap().base_path, None);
        for bad in [
            "api",
            "/",
            "/api/",
            "//api",
            "/api//v1",
            "/API",
            "/api.v1",
            "/api v1",
            "/../api",
            "/api?x=1",
            "/caf\u{e9}",
            &format!("/{}", "a".repeat(64)),
        ] {
            let e = with(ENV_BASE_PATH, bad).unwrap_err();
            assert_eq!(e.variable, ENV_BASE_PATH, "{bad:?}");
            let text = e.to_string();
            assert!(
                text.starts_with("PRESIGNER_BASE_PATH: ")
                    && text.contains("not a base path")
                    && text.contains("such as /api"),
                "{bad:?}: {text}"
            );
        }
    }

    #[test]
    fn each_missing_variable_is_named() {
        for k in [
            ENV_BUCKET,
            ENV_REGION,
            ENV_UPLOADS_PREFIX,
            ENV_URL_EXPIRY_SECONDS,
            ENV_MAX_UPLOAD_BYTES,
            ENV_ALLOWED_CONTENT_TYPES,
            ENV_ALLOW_DOWNLOADS,
        ] {
            let mut env = base();
            env.remove(k);
            let e = load(&env).unwrap_err();
            assert_eq!(e.variable, k);
            assert!(
                e.to_string().starts_with(&format!("{k}: is not set")),
                "{e}"
            );
        }
    }

    #[test]
    fn invalid_values_are_rejected_with_what_is_allowed() {
        let cases: &[(&str, &str, &str)] = &[
            (ENV_BUCKET, "Acme_Docs", "3 to 63 characters"),
            (ENV_BUCKET, "ab", "3 to 63"),
            (ENV_BUCKET, "-abc", "starting and ending"),
            (ENV_REGION, "EU central", "eu-central-1"),
            (ENV_UPLOADS_PREFIX, "uploads", "must end with `/`"),
            (ENV_UPLOADS_PREFIX, "/uploads/", "no leading slash"),
            (ENV_UPLOADS_PREFIX, "a//b/", "empty segment"),
            (ENV_UPLOADS_PREFIX, "../x/", "`..` segment"),
            (ENV_UPLOADS_PREFIX, "a/./", "`.` segment"),
            (ENV_UPLOADS_PREFIX, "up loads/", "contains ' '"),
            (ENV_UPLOADS_PREFIX, "u*/", "contains `*`, which IAM reads"),
            (
                ENV_UPLOADS_PREFIX,
                "uploads/a?/",
                "contains `?`, which IAM reads",
            ),
            (ENV_UPLOADS_PREFIX, "${aws:userid}/", "policy variable"),
            (ENV_URL_EXPIRY_SECONDS, "0", "1 to 3600"),
            (ENV_URL_EXPIRY_SECONDS, "3601", "1 to 3600"),
            (ENV_URL_EXPIRY_SECONDS, "5m", "1 to 3600"),
            (ENV_MAX_UPLOAD_BYTES, "0", "5 TiB"),
            (ENV_MAX_UPLOAD_BYTES, "5497558138881", "5 TiB"),
            (ENV_MAX_UPLOAD_BYTES, "-1", "5 TiB"),
            (ENV_MULTIPART_THRESHOLD_BYTES, "0", "single PUT"),
            (ENV_MULTIPART_THRESHOLD_BYTES, "5368709121", "single PUT"),
            (ENV_PART_SIZE_BYTES, "5242879", "5 MiB to 5 GiB"),
            (ENV_PART_SIZE_BYTES, "5368709121", "5 MiB to 5 GiB"),
            (ENV_PART_SIZE_BYTES, "16M", "5 MiB to 5 GiB"),
            (ENV_ALLOWED_CONTENT_TYPES, "png", "not a media type"),
            (
                ENV_ALLOWED_CONTENT_TYPES,
                "text/plain; charset=utf-8",
                "no parameters",
            ),
            (ENV_ALLOWED_CONTENT_TYPES, "*/png", "not a media type"),
            (ENV_ALLOWED_CONTENT_TYPES, " , ", "lists no media type"),
            (ENV_ALLOW_DOWNLOADS, "yes", "true or false"),
            (ENV_ALLOW_DOWNLOADS, "TRUE", "true or false"),
            (ENV_S3_ENDPOINT, "127.0.0.1:9000", "http://"),
            (ENV_S3_ENDPOINT, "http://", "http://"),
            (ENV_S3_ENDPOINT, "http://u:p@host", "credentials"),
            (ENV_S3_ENDPOINT, "http://host/?x=1", "query"),
        ];
        for (k, v, needle) in cases {
            let e = with(k, v).unwrap_err();
            assert_eq!(&e.variable, k, "{v}");
            assert!(e.to_string().contains(needle), "{k}={v}: {e}");
        }
    }

    #[test]
    fn multipart_sizes_default_and_must_fit_in_ten_thousand_parts() {
        let c = load(&base()).unwrap();
        assert_eq!(c.multipart_threshold_bytes, 64 * 1024 * 1024);
        assert_eq!(c.part_size_bytes, 16 * 1024 * 1024);
        // 5 TiB needs parts of at least 525 MiB (rounded up to a whole MiB).
        let mut env = base();
        env.insert(ENV_MAX_UPLOAD_BYTES, MAX_OBJECT_BYTES.to_string());
        let e = load(&env).unwrap_err();
        assert_eq!(e.variable, ENV_PART_SIZE_BYTES);
        assert!(e.to_string().contains("at least 550502400 bytes"), "{e}");
        env.insert(ENV_PART_SIZE_BYTES, "550502400".into());
        let c = load(&env).unwrap();
        assert_eq!(c.part_count(MAX_OBJECT_BYTES), 9987);
        // A maximum no upload goes in parts for needs no part count at all.
        let mut env = base();
        env.insert(ENV_MAX_UPLOAD_BYTES, MAX_SINGLE_PUT_BYTES.to_string());
        env.insert(
            ENV_MULTIPART_THRESHOLD_BYTES,
            MAX_SINGLE_PUT_BYTES.to_string(),
        );
        env.insert(ENV_PART_SIZE_BYTES, MIN_PART_BYTES.to_string());
        assert!(load(&env).is_ok());
    }

    #[test]
    fn parts_cover_the_upload_exactly() {
        let c = load(&base()).unwrap();
        let p = c.part_size_bytes;
        for size in [1, p - 1, p, p + 1, 3 * p, 3 * p + 7] {
            let n = c.part_count(size);
            let total: u64 = (1..=n).map(|i| c.part_length(size, i).unwrap()).sum();
            assert_eq!(total, size, "size {size}");
            assert_eq!(c.part_length(size, 0), None);
            assert_eq!(c.part_length(size, n + 1), None);
            assert!((1..n).all(|i| c.part_length(size, i) == Some(p)));
        }
        assert_eq!(c.part_count(3 * p + 7), 4);
        assert_eq!(c.part_length(3 * p + 7, 4), Some(7));
    }

    #[test]
    fn content_type_matching() {
        let c = with(ENV_ALLOWED_CONTENT_TYPES, "image/*,application/pdf").unwrap();
        assert!(c.allows_content_type("image/png"));
        assert!(c.allows_content_type("image/svg+xml"));
        assert!(c.allows_content_type("application/pdf"));
        assert!(!c.allows_content_type("application/pdfx"));
        assert!(!c.allows_content_type("text/plain"));
        assert!(!c.allows_content_type("image"));
        let c = with(ENV_ALLOWED_CONTENT_TYPES, "*/*").unwrap();
        assert!(c.allows_content_type("application/x-anything"));
    }

    #[test]
    fn credentials_from_lookup_and_redacted_debug() {
        let env: HashMap<&str, &str> = [
            (ENV_ACCESS_KEY_ID, "AKIDEXAMPLE"),
            (ENV_SECRET_ACCESS_KEY, "s3cr3t"),
            (ENV_SESSION_TOKEN, "t0ken"),
        ]
        .into();
        let c = Credentials::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.session_token.as_deref(), Some("t0ken"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t") && !dbg.contains("t0ken"), "{dbg}");
        let e = Credentials::from_lookup(|_| None).unwrap_err();
        assert_eq!(e.variable, ENV_ACCESS_KEY_ID);
    }
}
