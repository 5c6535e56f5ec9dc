//! The resources of a stack. Each module owns one kind: its desired [`Fields`] from the spec,
//! reading its live [`Live`] state, and applying [`Change`]s (create, per-field update, delete).
//! Finders turn "not found" into `None`; deleters tolerate "already gone".

pub mod bucket;
pub mod distribution;
pub mod function;
pub mod function_url;
pub mod log_group;
pub mod role;

use std::collections::BTreeMap;

use crate::aws::Aws;
use crate::report::Reporter;
use crate::retry::Timing;
use crate::spec::{Origin, Spec, TAG_ENV, TAG_STACK};
use crate::state::{Kind, Live};

/// Names which part of the stack a resource is, so an orphan (a resource the spec no longer
/// names, e.g. after a rename) can be recognised and shown for what it is.
pub const TAG_RESOURCE: &str = "presign-stack:resource";

/// Every role the tool creates lives under this IAM path, so a stack's roles can be listed in
/// one call (ListRoles has no tag filter).
pub const ROLE_PATH: &str = "/presign-stack/";

/// Everything a resource operation needs: clients, the resolved spec, where it runs.
#[derive(Clone)]
pub struct Ctx {
    pub aws: Aws,
    /// Resolved: account id and region filled in.
    pub spec: Spec,
    pub account: String,
    pub region: String,
    pub timing: Timing,
    pub report: Reporter,
    /// The stack's CloudFront distribution, once it exists (`hosting: cloudfront`).
    pub cdn: Option<distribution::Cdn>,
}

impl Ctx {
    /// The tags a resource of `kind` carries: the spec's, the ownership pair, and its kind;
    /// the website bucket also the fingerprint of its content rules.
    pub fn tags(&self, kind: Kind) -> BTreeMap<String, String> {
        let mut tags = self.spec.tags();
        tags.insert(TAG_RESOURCE.to_string(), kind.tag_value().to_string());
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

    /// The same context, knowing the distribution.
    pub fn with_cdn(&self, cdn: Option<distribution::Cdn>) -> Ctx {
        Ctx {
            cdn,
            ..self.clone()
        }
    }

    /// The origins the site is served from: the S3 website endpoint, or the distribution's
    /// own domain and each alias ([`distribution::KNOWN_AFTER`] until it exists).
    pub fn website_origins(&self) -> Vec<String> {
        match self.spec.website.cloudfront() {
            None => vec![website_origin(&self.spec.website.bucket, &self.region)],
            Some(cf) => {
                let mut out = vec![match &self.cdn {
                    Some(c) => format!("https://{}", c.domain),
                    None => distribution::KNOWN_AFTER.to_string(),
                }];
                out.extend(cf.aliases.iter().map(|a| format!("https://{a}")));
                out
            }
        }
    }

    /// Where visitors open the site: the first alias, else the distribution's domain, else
    /// the S3 website endpoint.
    pub fn website_url(&self) -> String {
        match self.spec.website.cloudfront() {
            Some(cf) if !cf.aliases.is_empty() => format!("https://{}/", cf.aliases[0]),
            _ => format!("{}/", self.website_origins()[0]),
        }
    }

    /// Origins with `website` replaced by the website's origins; sorted, unique.
    pub fn origins(&self, origins: &[Origin]) -> Vec<String> {
        let mut out: Vec<String> = origins
            .iter()
            .flat_map(|o| match o {
                Origin::Website => self.website_origins(),
                Origin::Url(u) => vec![u.clone()],
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
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

/// Who a live resource belongs to, from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ThisStack,
    /// Tagged by presign-stack for another stack or environment.
    Other {
        stack: String,
        env: String,
    },
    /// Not created by presign-stack.
    Unmanaged,
}

pub fn owner(spec: &Spec, tags: &BTreeMap<String, String>) -> Owner {
    match (tags.get(TAG_STACK), tags.get(TAG_ENV)) {
        (Some(s), Some(e)) if *s == spec.name && *e == spec.env => Owner::ThisStack,
        (Some(s), e) => Owner::Other {
            stack: s.clone(),
            env: e.cloned().unwrap_or_default(),
        },
        _ => Owner::Unmanaged,
    }
}

/// Refuse to touch `live` unless this stack owns it (or `adopt` says to take it over).
pub fn check_owned(
    spec: &Spec,
    what: &str,
    live: Option<&Live>,
    adopt: bool,
) -> anyhow::Result<()> {
    let Some(live) = live else { return Ok(()) };
    match owner(spec, &live.tags) {
        Owner::ThisStack => Ok(()),
        _ if adopt => Ok(()),
        Owner::Other { stack, env } => anyhow::bail!(
            "{what} already exists and belongs to presign-stack stack `{stack}` (env `{env}`), \
             not `{}` (env `{}`); choose another name in the spec, or run `up --adopt` to take it \
             over",
            spec.name,
            spec.env
        ),
        Owner::Unmanaged => anyhow::bail!(
            "{what} already exists but was not created by this stack (it lacks the tags \
             {TAG_STACK}={} and {TAG_ENV}={}); presign-stack never modifies or deletes what it \
             does not own: choose another name in the spec, or run `up --adopt` to take it over",
            spec.name,
            spec.env
        ),
    }
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
