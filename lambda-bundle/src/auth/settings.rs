//! The `auth` settings as the function's environment gives them (`PRESIGNER_AUTH_*`), read
//! and checked once at start-up.

pub const ENV_AUTH_ISSUER: &str = "PRESIGNER_AUTH_ISSUER";
pub const ENV_AUTH_AUDIENCES: &str = "PRESIGNER_AUTH_AUDIENCES";
pub const ENV_AUTH_JWKS_URI: &str = "PRESIGNER_AUTH_JWKS_URI";
pub const ENV_AUTH_FILES: &str = "PRESIGNER_AUTH_FILES";
pub const ENV_AUTH_QUOTA_BYTES: &str = "PRESIGNER_AUTH_QUOTA_BYTES";
pub const ENV_AUTH_QUOTA_FILES: &str = "PRESIGNER_AUTH_QUOTA_FILES";

/// Whose files a signed-in user may download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// Only their own, under `<uploads_prefix><user>/`.
    Own,
    /// Any key under the uploads prefix (uploads, listing and deletes stay in their folder).
    Shared,
}

/// Per-user limits, counted in the user's folder when an upload is asked for. `files` is
/// always set: it bounds how many keys counting has to list (see `folder::usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub bytes: Option<u64>,
    pub files: u64,
}

/// The `auth` settings of a presigner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Exactly as the tokens' `iss` must read.
    pub issuer: String,
    /// Accepted `aud` values (or `client_id` when a token has no `aud`).
    pub audiences: Vec<String>,
    /// Where the keys are; `None`: the `jwks_uri` of the issuer's discovery document.
    pub jwks_uri: Option<String>,
    pub files: Files,
    pub quota: Option<Quota>,
}

/// Most files a quota may allow: counting lists at most this many keys (11 pages of 1,000),
/// which takes well under a second of S3's time.
pub const MAX_QUOTA_FILES: u64 = 10_000;

impl AuthConfig {
    /// `None` when no issuer is set (an open presigner).
    pub fn from_lookup<F>(lookup: &F) -> Result<Option<AuthConfig>, SettingError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(issuer) = get(ENV_AUTH_ISSUER) else {
            return Ok(None);
        };
        validate_issuer_url(&issuer).map_err(|m| cerr(ENV_AUTH_ISSUER, m))?;
        let audiences: Vec<String> = get(ENV_AUTH_AUDIENCES)
            .unwrap_or_default()
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if audiences.is_empty() {
            return Err(cerr(
                ENV_AUTH_AUDIENCES,
                "is not set; expected the accepted audiences (client ids), comma-separated",
            ));
        }
        let jwks_uri = get(ENV_AUTH_JWKS_URI);
        if let Some(u) = &jwks_uri {
            validate_issuer_url(u).map_err(|m| cerr(ENV_AUTH_JWKS_URI, m))?;
        }
        let files = match get(ENV_AUTH_FILES).as_deref() {
            None | Some("own") => Files::Own,
            Some("shared") => Files::Shared,
            Some(other) => {
                return Err(cerr(
                    ENV_AUTH_FILES,
                    format!("is {other:?}; expected own or shared"),
                ))
            }
        };
        let number = |name: &'static str| -> Result<Option<u64>, SettingError> {
            match get(name) {
                None => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(cerr(
                        name,
                        format!("is {v:?}; expected a whole number from 1"),
                    )),
                },
            }
        };
        let bytes = number(ENV_AUTH_QUOTA_BYTES)?;
        let quota =
            match (bytes, number(ENV_AUTH_QUOTA_FILES)?) {
                (None, None) => None,
                (_, Some(files)) if files > MAX_QUOTA_FILES => {
                    return Err(cerr(
                        ENV_AUTH_QUOTA_FILES,
                        format!(
                            "is {files}; at most {MAX_QUOTA_FILES} files can be counted per upload"
                        ),
                    ))
                }
                (bytes, Some(files)) => Some(Quota { bytes, files }),
                (Some(_), None) => return Err(cerr(
                    ENV_AUTH_QUOTA_FILES,
                    "is not set; a byte quota needs a file quota too, which bounds the listing \
                     that counts the bytes",
                )),
            };
        Ok(Some(AuthConfig {
            issuer,
            audiences,
            jwks_uri,
            files,
            quota,
        }))
    }
}

/// A variable that is missing or invalid, and why (`config` makes it a `ConfigError`).
pub type SettingError = (&'static str, String);

fn cerr(variable: &'static str, message: impl Into<String>) -> SettingError {
    (variable, message.into())
}

/// An issuer or JWKS URL: `https://`, or `http://` on loopback only (tests and `dev`).
pub fn validate_issuer_url(url: &str) -> Result<(), String> {
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("{url:?} has no host"));
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        if ["127.0.0.1", "localhost", "[::1]"].contains(&name) {
            return Ok(());
        }
        return Err(format!(
            "{url:?} is plain http; an issuer must be https (http only on 127.0.0.1 or localhost)"
        ));
    }
    Err(format!("{url:?} is not an https URL"))
}
