//! Everything one run's resource operations need: the clients, the resolved spec, where it
//! runs, its budgets, its reporter, its stop token, what discovery found and what is known
//! of the resources so far.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aws::Aws;
use crate::bundle::Code;
use crate::cancel::Cancel;
use crate::discovery::Discovery;
use crate::report::Report;
use crate::retry::Timing;
use crate::spec::{Auth, Origin, Spec};
use crate::state::{Kind, Known, Output, SHOWN_UNKNOWN};

/// Names which part of the stack a resource is, so an orphan (a resource the spec no longer
/// names, e.g. after a rename) can be recognised and shown for what it is.
pub const TAG_RESOURCE: &str = "presign-stack:resource";

/// Every role the tool creates lives under this IAM path, so a stack's roles can be listed in
/// one call (ListRoles has no tag filter).
pub const ROLE_PATH: &str = "/presign-stack/";

#[derive(Clone)]
pub struct Ctx {
    pub aws: Aws,
    /// Resolved: account id and region filled in.
    pub spec: Arc<Spec>,
    pub account: String,
    pub region: String,
    pub timing: Timing,
    pub report: Report,
    pub cancel: Cancel,
    /// The account-wide listings that find resources by name, comment or tag.
    pub discovery: Arc<Discovery>,
    /// What is known of the resources' AWS-chosen values (ARNs, URL, ids) at this point.
    pub known: Known,
    /// The presigner's code identity, and its bundle once built or read.
    pub code: Option<Arc<Code>>,
}

/// Origins as far as they are known: the distribution's own domain is not, before it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// Sorted, unique.
    pub known: Vec<String>,
    /// One more, the distribution's, once it exists.
    pub pending: bool,
}

impl Origins {
    /// The list as a plan shows it: the one not known yet as [`SHOWN_UNKNOWN`].
    pub fn shown(&self) -> Vec<String> {
        let mut out = self.known.clone();
        if self.pending {
            out.push(SHOWN_UNKNOWN.to_string());
            out.sort();
        }
        out
    }
}

impl Ctx {
    /// The tags a resource of `kind` carries: the spec's, the ownership pair, and its kind.
    pub fn tags(&self, kind: Kind) -> BTreeMap<String, String> {
        let mut tags = self.spec.tags();
        tags.insert(TAG_RESOURCE.to_string(), kind.tag_value());
        tags
    }

    /// The role's ARN when it is created by this tool (under [`ROLE_PATH`]).
    pub fn role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role{ROLE_PATH}{}",
            self.account, self.spec.presigner.role_name
        )
    }

    pub fn function_arn(&self) -> String {
        self.function_arn_of(&self.spec.presigner.function_name)
    }

    /// The ARN of a function of this account and region (an orphan's, too).
    pub fn function_arn_of(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account
        )
    }

    /// `auth` as the presigner and the page use it: with `auth.cognito`, the stack's pool as
    /// issuer and its client as audience, or the output they wait for while not made yet.
    pub fn sign_in(&self) -> Result<Option<Auth>, Output> {
        let Some(auth) = &self.spec.auth else {
            return Ok(None);
        };
        if auth.cognito.is_none() {
            return Ok(Some(auth.clone()));
        }
        // The client's step knows both ids.
        match (&self.known.user_pool_id, &self.known.client_id) {
            (Some(pool), Some(client)) => Ok(Some(self.cognito_auth(auth, pool, client))),
            _ => Err(Output::AppClient),
        }
    }

    /// What [`Ctx::sign_in`] will be, with the ids not known yet shown as such.
    pub fn sign_in_shown(&self) -> Option<Auth> {
        let auth = self.spec.auth.as_ref()?;
        let pool = self.known.user_pool_id.as_deref().unwrap_or(SHOWN_UNKNOWN);
        let client = self.known.client_id.as_deref().unwrap_or(SHOWN_UNKNOWN);
        Some(self.cognito_auth(auth, pool, client))
    }

    fn cognito_auth(&self, auth: &Auth, pool: &str, client: &str) -> Auth {
        let mut auth = auth.clone();
        auth.issuer = cognito_issuer(&self.region, pool);
        auth.client_id = client.to_string();
        auth.audiences = vec![client.to_string()];
        auth
    }

    /// The same context, knowing more.
    pub fn with_known(&self, known: &Known) -> Ctx {
        let mut ctx = self.clone();
        ctx.known.merge(known.clone());
        ctx
    }

    /// The origins the site is served from: the S3 website endpoint, or the distribution's
    /// own domain and each alias.
    pub fn website_origins(&self) -> Origins {
        let mut out = Origins {
            known: Vec::new(),
            pending: false,
        };
        match self.spec.website.cloudfront() {
            None => out
                .known
                .push(website_origin(&self.spec.website.bucket, &self.region)),
            Some(cf) => {
                match &self.known.cdn {
                    Some(c) => out.known.push(format!("https://{}", c.domain)),
                    None => out.pending = true,
                }
                out.known
                    .extend(cf.aliases.iter().map(|a| format!("https://{a}")));
            }
        }
        out.known.sort();
        out.known.dedup();
        out
    }

    /// Where visitors open the site: the first alias, else the distribution's domain, else
    /// the S3 website endpoint.
    pub fn website_url(&self) -> String {
        match self.spec.website.cloudfront() {
            Some(cf) if !cf.aliases.is_empty() => format!("https://{}/", cf.aliases[0]),
            Some(_) => match &self.known.cdn {
                Some(c) => format!("https://{}/", c.domain),
                None => format!("https://{SHOWN_UNKNOWN}/"),
            },
            None => format!(
                "{}/",
                website_origin(&self.spec.website.bucket, &self.region)
            ),
        }
    }

    /// Origins with `website` replaced by the website's origins.
    pub fn origins(&self, origins: &[Origin]) -> Origins {
        let mut out = Origins {
            known: Vec::new(),
            pending: false,
        };
        for o in origins {
            match o {
                Origin::Website => {
                    let site = self.website_origins();
                    out.known.extend(site.known);
                    out.pending |= site.pending;
                }
                Origin::Url(u) => out.known.push(u.clone()),
            }
        }
        out.known.sort();
        out.known.dedup();
        out
    }
}

/// The issuer (`iss`) of a Cognito user pool's tokens.
pub fn cognito_issuer(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}")
}

/// Regions whose website endpoint uses the older dash form (`s3-website-<region>`).
const DASH_WEBSITE_REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
    "us-gov-west-1",
];

/// The S3 website endpoint origin of `bucket` (HTTP only: S3 website endpoints have no TLS).
pub fn website_origin(bucket: &str, region: &str) -> String {
    let sep = if DASH_WEBSITE_REGIONS.contains(&region) {
        '-'
    } else {
        '.'
    };
    format!("http://{bucket}.s3-website{sep}{region}.amazonaws.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_origins_follow_the_regions_endpoint_form() {
        assert_eq!(
            website_origin("site", "us-east-1"),
            "http://site.s3-website-us-east-1.amazonaws.com"
        );
        assert_eq!(
            website_origin("site", "eu-central-1"),
            "http://site.s3-website.eu-central-1.amazonaws.com"
        );
    }
}
