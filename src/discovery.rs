//! The account-wide listings that find resources without a name of the spec's: CloudFront's
//! distributions, origin access controls and response headers policies (whose ids AWS
//! chooses; the stack's are found by comment or name), the resources tagged for the stack
//! (orphans after a rename), the roles under the tool's IAM path, the region's user pools,
//! and the policies under `bootstrap`'s path (its permissions boundary).
//!
//! None of them needs the account id, so a run sends them at the same time as its first call
//! (STS), and every later read finds them done. A service the endpoint does not offer
//! (CloudFront on an emulator's free tier) is recorded as such, not as an error: only a stack
//! that uses it fails on it.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{ResponseHeadersPolicyConfig, ResponseHeadersPolicyType};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde_json::{json, Value};

use crate::aws::Aws;
use crate::errors::{aws_err, code_in};
use crate::spec::{TAG_ENV, TAG_STACK};

/// The IAM actions of the first call and the listings sent with it.
pub const ACTIONS: &[&str] = &[
    "sts:GetCallerIdentity",
    "tag:GetResources",
    "iam:ListRoles",
    "iam:ListRoleTags",
    "cloudfront:ListDistributions",
    "cloudfront:ListOriginAccessControls",
    "cloudfront:ListResponseHeadersPolicies",
    "cognito-idp:ListUserPools",
    "iam:ListPolicies",
];

/// What the listings found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// CloudFront's listings, or why they could not be had.
    pub cloudfront: Listing<CloudFront>,
    /// Resources carrying the stack's ownership tags, by ARN.
    pub tagged: Listing<Vec<Tagged>>,
    /// Roles under [`crate::context::ROLE_PATH`] and their tags.
    pub roles: Listing<Vec<(String, BTreeMap<String, String>)>>,
    /// The region's user pools: (id, name).
    pub user_pools: Listing<Vec<(String, String)>>,
    /// The ARNs of the account's policies under [`Ask::boundary_path`], asked when the spec
    /// names no permissions boundary (the default is the one `bootstrap` made, if any).
    pub boundaries: Listing<Vec<String>>,
}

/// A listing's result: what it found, or the failure, kept until a resource needs it.
#[derive(Debug, Default)]
pub enum Listing<T> {
    Found(T),
    /// The request failed; the message says what was being done and AWS's answer.
    Failed(String),
    /// Not asked for in this run.
    #[default]
    NotListed,
}

impl<T> Listing<T> {
    /// What was found; the failure as an error.
    pub fn get(&self) -> anyhow::Result<Option<&T>> {
        match self {
            Listing::Found(t) => Ok(Some(t)),
            Listing::Failed(why) => anyhow::bail!("{why}"),
            Listing::NotListed => Ok(None),
        }
    }

    fn from(result: anyhow::Result<T>) -> Listing<T> {
        match result {
            Ok(t) => Listing::Found(t),
            Err(e) => Listing::Failed(format!("{e:#}")),
        }
    }
}

/// One resource the tag query found.
#[derive(Debug, Clone)]
pub struct Tagged {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// CloudFront's listings (all of the account's: they are short, and filtered by the
/// resources that read them).
#[derive(Debug, Default)]
pub struct CloudFront {
    pub distributions: Vec<DistributionSummary>,
    pub oacs: Vec<OacSummary>,
    pub headers_policies: Vec<HeadersPolicySummary>,
}

#[derive(Debug, Clone)]
pub struct DistributionSummary {
    pub id: String,
    pub comment: String,
}

#[derive(Debug, Clone)]
pub struct OacSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    /// As `origin_access_control::settings` shows them.
    pub settings: Value,
}

#[derive(Debug, Clone)]
pub struct HeadersPolicySummary {
    pub id: String,
    pub config: ResponseHeadersPolicyConfig,
}

/// What to list.
pub struct Ask<'a> {
    pub stack: &'a str,
    pub env: &'a str,
    /// Resource types for the tag query (`s3:bucket`, `lambda:function`).
    pub tagged_types: Vec<&'static str>,
    pub role_path: &'a str,
    /// The spec's own role, read as a resource of its own: no need to list its tags here.
    pub own_role: &'a str,
    /// Whether the stack uses CloudFront. If not, its listings only look for leftovers, and a
    /// failing answer is asked again once, not through the whole retry budget.
    pub uses_cloudfront: bool,
    /// The same for Cognito (`auth.cognito`).
    pub uses_cognito: bool,
    /// Where `bootstrap` keeps the boundary policy, when the spec names none.
    pub boundary_path: Option<&'a str>,
}

impl Discovery {
    /// Every listing, at once.
    pub async fn list(aws: &Aws, ask: &Ask<'_>) -> Discovery {
        let (cloudfront, tagged, roles, user_pools, boundaries) = tokio::join!(
            cloudfront(aws, ask.uses_cloudfront),
            tagged(aws, ask),
            roles(aws, ask),
            user_pools(aws, ask.uses_cognito),
            async {
                match ask.boundary_path {
                    Some(path) => Listing::from(policies(aws, path).await),
                    None => Listing::NotListed,
                }
            }
        );
        Discovery {
            cloudfront: Listing::from(cloudfront),
            tagged: Listing::from(tagged),
            roles: Listing::from(roles),
            user_pools: Listing::from(user_pools),
            boundaries,
        }
    }
}

async fn cloudfront(aws: &Aws, used: bool) -> anyhow::Result<CloudFront> {
    let attempts = if used { None } else { Some(2) };
    let (distributions, oacs, headers_policies) = tokio::join!(
        distributions(aws, attempts),
        oacs(aws, attempts),
        headers_policies(aws, attempts)
    );
    Ok(CloudFront {
        distributions: distributions?,
        oacs: oacs?,
        headers_policies: headers_policies?,
    })
}

/// Every user pool of the region, (id, name); asked twice at most when the stack does not use
/// Cognito (it only looks for a pool the spec no longer wants).
async fn user_pools(aws: &Aws, used: bool) -> anyhow::Result<Vec<(String, String)>> {
    let mut config = aws.cognito.config().to_builder();
    if !used {
        config =
            config.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2));
    }
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .cognito
            .list_user_pools()
            .max_results(60)
            .set_next_token(token.take())
            .customize()
            .config_override(config.clone())
            .send()
            .await
            .map_err(|e| aws_err("listing the user pools", e))?;
        out.extend(
            page.user_pools()
                .iter()
                .filter_map(|p| Some((p.id()?.to_string(), p.name()?.to_string()))),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// A request's configuration with at most `attempts` attempts, when given.
fn budget(attempts: Option<u32>) -> aws_sdk_cloudfront::config::Builder {
    let mut b = aws_sdk_cloudfront::config::Builder::default();
    if let Some(n) = attempts {
        b = b.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(n));
    }
    b
}

/// CloudFront pages with a marker and `IsTruncated`; the next marker, if there is a page more.
fn next_marker(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker
        .filter(|m| truncated && !m.is_empty())
        .map(str::to_string)
}

async fn distributions(
    aws: &Aws,
    attempts: Option<u32>,
) -> anyhow::Result<Vec<DistributionSummary>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .customize()
            .config_override(budget(attempts))
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront distributions", e))?;
        let Some(list) = page.distribution_list() else {
            return Ok(out);
        };
        out.extend(list.items().iter().map(|d| DistributionSummary {
            id: d.id().to_string(),
            comment: d.comment().to_string(),
        }));
        match next_marker(list.is_truncated(), list.next_marker()) {
            Some(m) => marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn oacs(aws: &Aws, attempts: Option<u32>) -> anyhow::Result<Vec<OacSummary>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .cloudfront
            .list_origin_access_controls()
            .set_marker(marker.clone())
            .customize()
            .config_override(budget(attempts))
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront origin access controls", e))?;
        let Some(list) = page.origin_access_control_list() else {
            return Ok(out);
        };
        out.extend(list.items().iter().map(|o| OacSummary {
            id: o.id().to_string(),
            name: o.name().to_string(),
            description: o.description().to_string(),
            settings: json!({
                "origin_type": o.origin_access_control_origin_type().as_str(),
                "signing_behavior": o.signing_behavior().as_str(),
                "signing_protocol": o.signing_protocol().as_str(),
            }),
        }));
        match next_marker(list.is_truncated(), list.next_marker()) {
            Some(m) => marker = Some(m),
            None => return Ok(out),
        }
    }
}

async fn headers_policies(
    aws: &Aws,
    attempts: Option<u32>,
) -> anyhow::Result<Vec<HeadersPolicySummary>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .cloudfront
            .list_response_headers_policies()
            .r#type(ResponseHeadersPolicyType::Custom)
            .set_marker(marker.clone())
            .customize()
            .config_override(budget(attempts))
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront response headers policies", e))?;
        let Some(list) = page.response_headers_policy_list() else {
            return Ok(out);
        };
        for item in list.items() {
            if let Some(p) = item.response_headers_policy() {
                if let Some(config) = p.response_headers_policy_config() {
                    out.push(HeadersPolicySummary {
                        id: p.id().to_string(),
                        config: config.clone(),
                    });
                }
            }
        }
        match list.next_marker().filter(|m| !m.is_empty()) {
            Some(m) => marker = Some(m.to_string()),
            None => return Ok(out),
        }
    }
}

async fn tagged(aws: &Aws, ask: &Ask<'_>) -> anyhow::Result<Vec<Tagged>> {
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let mut pages = aws
        .tagging
        .get_resources()
        .tag_filters(filter(TAG_STACK, ask.stack))
        .tag_filters(filter(TAG_ENV, ask.env))
        .set_resource_type_filters(Some(
            ask.tagged_types.iter().map(|t| t.to_string()).collect(),
        ))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err("looking up the stack's tagged resources", e))?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            out.push(Tagged {
                arn: arn.to_string(),
                tags: mapping
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// The roles under the tool's path but the spec's own, each with its tags (ListRoles leaves
/// them out).
/// The ARNs of the account's own managed policies under `path`.
async fn policies(aws: &Aws, path: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = aws
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .path_prefix(path)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| aws_err(format!("listing the IAM policies under {path}"), e))?;
        out.extend(
            page.policies()
                .iter()
                .filter_map(|p| p.arn().map(str::to_string)),
        );
    }
    Ok(out)
}

async fn roles(
    aws: &Aws,
    ask: &Ask<'_>,
) -> anyhow::Result<Vec<(String, BTreeMap<String, String>)>> {
    let iam = &aws.iam;
    let path = ask.role_path;
    let mut pages = iam.list_roles().path_prefix(path).into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err(format!("listing roles under {path}"), e))?;
        names.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| n != ask.own_role),
        );
    }
    let tags = futures::future::join_all(
        names
            .iter()
            .map(|n| iam.list_role_tags().role_name(n).send()),
    )
    .await;
    let mut out = Vec::new();
    for (name, tags) in names.into_iter().zip(tags) {
        let tags = match tags {
            Ok(t) => t,
            // Deleted since it was listed.
            Err(e) if code_in(&e, &["NoSuchEntity"]) => continue,
            Err(e) => return Err(aws_err(format!("reading the tags of role {name}"), e)),
        };
        let tags = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        out.push((name, tags));
    }
    Ok(out)
}
