//! `hosting: cloudfront`: the CloudFront distribution in front of the private website bucket
//! (and, with `api_path`, the presigner's Function URL), and what it is made of: an Origin
//! Access Control per origin and the response headers policy (HSTS, CSP). One module per AWS
//! resource, plus the certificate check and invalidations.
//!
//! CloudFront chooses their ids and there is no state file: the stack's distribution is the
//! one whose comment names the stack, and it is ours only if it carries the ownership tags.
//! OACs and response headers policies cannot be tagged: they have fixed names
//! (`<name>-<env>-site`, `-api`, `-headers`), and their description or comment says which
//! stack made them; one of those names without that mark is not ours. All of them are found
//! through discovery's listings.

pub mod certificate;
pub mod distribution;
pub mod headers_policy;
pub mod invalidation;
pub mod origin_access_control;
pub mod site_function;
pub mod web_acl;

use crate::context::Ctx;
use crate::discovery;
use crate::spec::{Spec, TAG_ENV, TAG_STACK};

/// The origin serving the site from the website bucket.
pub const SITE_ORIGIN: &str = "site";
/// The origin serving the presigner from its Function URL (`api_path`).
pub const API_ORIGIN: &str = "api";

/// The comment that identifies the stack's distribution.
pub fn comment(spec: &Spec) -> String {
    format!("presign-stack {} ({})", spec.name, spec.env)
}

/// The mark in the description of OACs and the comment of the headers policy.
pub fn ownership_mark(spec: &Spec) -> String {
    format!("{TAG_STACK}={} {TAG_ENV}={}", spec.name, spec.env)
}

/// Who a resource that takes no tags belongs to: the stack whose mark its `field` carries.
pub fn owner_by_mark(
    spec: &Spec,
    live: &crate::state::Live,
    field: &str,
) -> crate::resources::Owner {
    if live.fields.get(field) == Some(&serde_json::json!(ownership_mark(spec))) {
        crate::resources::Owner::ThisStack
    } else {
        crate::resources::Owner::Unmanaged
    }
}

/// Why such a resource is not the stack's.
pub fn unmarked_by(spec: &Spec, field: &str) -> String {
    format!("its {field} is not `{}`", ownership_mark(spec))
}

pub fn oac_name(spec: &Spec, origin: &str) -> String {
    format!("{}-{}-{origin}", spec.name, spec.env)
}

pub fn headers_policy_name(spec: &Spec) -> String {
    format!("{}-{}-headers", spec.name, spec.env)
}

/// The plan's name for the distribution.
pub fn label(spec: &Spec) -> String {
    format!("{}-{}", spec.name, spec.env)
}

/// `https://host/...` -> `host`.
pub fn url_host(url: &str) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// CloudFront's listings, as discovery found them. An endpoint without CloudFront fails only
/// a stack that uses it; for any other the answer is "nothing there" (the stack says once
/// that leftovers could not be checked).
pub fn listings(ctx: &Ctx) -> anyhow::Result<Option<&discovery::CloudFront>> {
    match ctx.discovery.cloudfront.get() {
        Ok(found) => Ok(found),
        Err(e) if ctx.spec.website.cloudfront().is_none() => {
            drop(e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_function_urls() {
        assert_eq!(
            url_host("https://abc.lambda-url.eu-central-1.on.aws/"),
            "abc.lambda-url.eu-central-1.on.aws"
        );
        assert_eq!(url_host("http://127.0.0.1:5000/x"), "127.0.0.1:5000");
    }
}
