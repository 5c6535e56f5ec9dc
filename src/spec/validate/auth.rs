//! The `auth` section: the issuer whose tokens the presigner accepts, and per-user limits.

use super::*;

/// What one ListObjectsV2 page of 1,000 keys is assumed to take when counting a quota: well
/// above S3's usual answer, so that a slow moment does not time the function out.
pub(super) const LIST_PAGE_MS: u64 = 200;
/// The share of the function's timeout that counting may take; the rest is for reading the
/// issuer's keys (first request) and signing.
pub(super) const COUNT_SHARE: f64 = 0.5;

impl Checker<'_> {
    pub(super) fn auth(
        &mut self,
        mut raw: RawAuth,
        presigner: &Presigner,
        defaults: &Defaults,
        website: &Website,
    ) -> Auth {
        let cognito = raw
            .cognito
            .take()
            .map(|c| self.cognito(c, &raw, defaults, website));
        let (issuer, client_id, audiences, jwks_uri) = if cognito.is_some() {
            // Known once the pool and its client exist.
            (String::new(), String::new(), Vec::new(), None)
        } else {
            self.issuer(&mut raw)
        };
        let with_cognito = cognito.is_some();
        let scopes = self.list("auth.scopes", raw.scopes, &["openid"], "scope", |s| {
            scope(s)?;
            if with_cognito && !COGNITO_SCOPES.contains(&s) {
                return Err(format!(
                    "`{s}` is not a scope the stack's user pool offers; use {}",
                    COGNITO_SCOPES.join(", ")
                ));
            }
            Ok(s.to_string())
        });
        if with_cognito && !scopes.iter().any(|s| s == "openid") {
            self.value(
                "auth.scopes",
                "must hold `openid` with `auth.cognito`: the page signs in with OpenID Connect, \
                 and Cognito gives `email`, `phone` and `profile` only with it",
            );
        }
        let files = match raw.files.as_deref() {
            None | Some("own") => AuthFiles::Own,
            Some("shared") => AuthFiles::Shared,
            Some(other) => {
                self.value(
                    "auth.files",
                    format!(
                        "`{other}` is not a sharing mode; use `own` (the default: each user's \
                         files only) or `shared` (any signed-in user may download any file)"
                    ),
                );
                AuthFiles::Own
            }
        };
        let quota = raw.quota.and_then(|q| self.quota(q, presigner));
        Auth {
            issuer,
            audiences,
            client_id,
            scopes,
            jwks_uri,
            cognito,
            files,
            quota,
        }
    }

    /// `issuer`, `client_id`, `audiences` and `jwks_uri` of an issuer the spec names.
    fn issuer(&mut self, raw: &mut RawAuth) -> (String, String, Vec<String>, Option<String>) {
        let url = |c: &mut Self, path: &str, given: Option<String>, what: &str| match given {
            None => {
                c.value(path, format!("required: {what}"));
                String::new()
            }
            Some(u) => {
                c.check(path, presigner::auth::validate_issuer_url(&u));
                u
            }
        };
        let issuer = url(
            self,
            "auth.issuer",
            raw.issuer.take(),
            "the OpenID Connect issuer whose tokens are accepted, such as \
             `https://cognito-idp.eu-central-1.amazonaws.com/<pool id>`, or `cognito: {}` for a \
             user pool made by the stack",
        );
        let client_id = match raw.client_id.take() {
            Some(id) => {
                self.check("auth.client_id", client(&id));
                id
            }
            None => {
                self.value(
                    "auth.client_id",
                    "required: the page's public client id at the issuer (Authorization Code \
                     with PKCE, no secret)",
                );
                String::new()
            }
        };
        let audiences = match raw.audiences.take() {
            None => vec![client_id.clone()],
            given => self.list("auth.audiences", given, &[], "audience", |a| {
                client(a).map(|()| a.to_string())
            }),
        };
        let jwks_uri = raw.jwks_uri.take().inspect(|u| {
            self.check("auth.jwks_uri", presigner::auth::validate_issuer_url(u));
        });
        (issuer, client_id, audiences, jwks_uri)
    }

    /// `auth.cognito`: the stack's own user pool, which stands in for the issuer settings.
    fn cognito(
        &mut self,
        raw: RawCognito,
        auth: &RawAuth,
        defaults: &Defaults,
        website: &Website,
    ) -> Cognito {
        for (field, given) in [
            ("issuer", auth.issuer.is_some()),
            ("client_id", auth.client_id.is_some()),
            ("audiences", auth.audiences.is_some()),
            ("jwks_uri", auth.jwks_uri.is_some()),
        ] {
            if given {
                self.value(
                    &format!("auth.{field}"),
                    "not used with `auth.cognito`: the stack's own user pool is the issuer, and \
                     its app client the audience; remove it, or remove `cognito` to trust \
                     another issuer",
                );
            }
        }
        if website.cloudfront().is_none() {
            self.value(
                "auth.cognito",
                "needs `website.hosting: cloudfront`: Cognito sends users back only to https \
                 pages (or http://localhost), and the S3 website endpoint serves http only",
            );
        }
        let domain_prefix = match raw.domain_prefix {
            Some(p) => {
                self.check("auth.cognito.domain_prefix", rules::cognito_domain(&p));
                p
            }
            None => {
                let p = format!("{}-{ACCOUNT_PLACEHOLDER}", defaults.prefix);
                let with_account = p.replace(ACCOUNT_PLACEHOLDER, "123456789012");
                if defaults.name_ok {
                    if let Err(reason) = rules::cognito_domain(&with_account) {
                        self.value(
                            "auth.cognito.domain_prefix",
                            format!("the default, `{p}`, is not allowed ({reason}); give one"),
                        );
                    }
                }
                p
            }
        };
        let mfa = match raw.mfa.as_deref() {
            None | Some("required") => Mfa::Required,
            Some("optional") => Mfa::Optional,
            Some("off") => Mfa::Off,
            Some(other) => {
                self.value(
                    "auth.cognito.mfa",
                    format!(
                        "`{other}` is not an MFA mode; use `required` (the default: every user \
                         sets up an authenticator app), `optional` or `off`"
                    ),
                );
                Mfa::Required
            }
        };
        Cognito {
            domain_prefix,
            self_signup: raw.self_signup.unwrap_or(false),
            mfa,
        }
    }
    fn quota(&mut self, raw: RawQuota, presigner: &Presigner) -> Option<Quota> {
        let bytes = self.number(
            "auth.quota.bytes",
            raw.bytes,
            (1, presigner::MAX_OBJECT_BYTES as i128 * 1000),
            " bytes",
        );
        let max_files = presigner::auth::MAX_QUOTA_FILES as i128;
        let Some(files) = raw.files else {
            self.value(
                "auth.quota.files",
                "required with a quota: usage is counted by listing the user's folder when an \
                 upload is asked for, and only a limit on files bounds how long that takes; add \
                 `files: 1000`, for example",
            );
            return None;
        };
        let files: u64 = self.number("auth.quota.files", Some(files), (1, max_files), " files")?;
        let requests = presigner::count_requests(files);
        let takes_ms = requests * LIST_PAGE_MS;
        let budget_ms = (f64::from(presigner.timeout_seconds) * 1000.0 * COUNT_SHARE) as u64;
        if takes_ms > budget_ms {
            let fits = (budget_ms / LIST_PAGE_MS).max(1) * u64::from(presigner::COUNT_PAGE) - 1;
            let timeout = (takes_ms as f64 / 1000.0 / COUNT_SHARE).ceil() as u64;
            self.value(
                "auth.quota.files",
                format!(
                    "{files} files cannot be counted within the function's timeout: counting \
                     takes {requests} listing requests (up to {takes_ms} ms at {LIST_PAGE_MS} ms \
                     each), more than half of `presigner.timeout_seconds: {}`; raise the \
                     timeout to {timeout} s, or lower `files` to {fits}",
                    presigner.timeout_seconds
                ),
            );
            return None;
        }
        Some(Quota { bytes, files })
    }
}

/// The scopes a user pool's app client may ask for without a resource server.
const COGNITO_SCOPES: &[&str] = &["openid", "email", "phone", "profile"];

/// A client id or audience: printable, no spaces or commas (the presigner gets them
/// comma-separated), at most 256 characters.
fn client(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 256 {
        return Err("must be 1 to 256 characters".into());
    }
    if id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == ',')
    {
        return Err(format!(
            "`{id}` holds a space, a comma or a control character; give the id exactly as the \
             issuer shows it"
        ));
    }
    Ok(())
}

/// An OAuth scope token (RFC 6749 section 3.3): printable ASCII but space, `"` and `\`.
fn scope(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a scope: one word of printable ASCII, such as `openid` or `email`"
        ))
    }
}
