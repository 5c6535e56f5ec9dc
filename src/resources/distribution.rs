//! `hosting: cloudfront`: the CloudFront distribution in front of the private website bucket
//! (and, with `api_path`, the presigner's Function URL), with what it is made of: an Origin
//! Access Control per origin and the response headers policy (HSTS, CSP).
//!
//! A distribution's id is chosen by CloudFront, and there is no state file: the stack's
//! distribution is the one whose comment names the stack, and it is ours only if it carries the
//! ownership tags. OACs and response headers policies cannot be tagged: they have fixed names
//! (`<name>-<env>-site`, `-api`, `-headers`), and their description or comment says which stack
//! made them; one of those names without that mark is not ours.
//!
//! All of it is one resource in a plan, compared field by field: a value CloudFront has not
//! chosen yet (the distribution's domain, before it exists) reads [`KNOWN_AFTER`].

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomErrorResponse,
    CustomErrorResponses, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, FrameOptionsList, HttpVersion, InvalidationBatch, Method,
    MinimumProtocolVersion, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, OriginProtocolPolicy,
    OriginSslProtocols, Origins, Paths, PriceClass, ReferrerPolicyList,
    ResponseHeadersPolicyConfig, ResponseHeadersPolicyContentSecurityPolicy,
    ResponseHeadersPolicyContentTypeOptions, ResponseHeadersPolicyFrameOptions,
    ResponseHeadersPolicyReferrerPolicy, ResponseHeadersPolicySecurityHeadersConfig,
    ResponseHeadersPolicyStrictTransportSecurity, ResponseHeadersPolicyType, S3OriginConfig,
    SslProtocol, SslSupportMethod, Tag, TagKeys, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use serde_json::{json, Value};

use super::Ctx;
use crate::errors::{aws_err, code_in};
use crate::spec::{Spec, TAG_ENV, TAG_STACK};
use crate::state::{tags_value, Fields, Live};

/// What a value depends on that does not exist yet reads as this, in plans and until `up`
/// has created it.
pub const KNOWN_AFTER: &str = "(known after apply)";

/// AWS's managed cache and origin request policies, by id, with their names.
const MANAGED_POLICIES: &[(&str, &str)] = &[
    ("658327ea-f89d-4fab-a63d-7e88639e58f6", "CachingOptimized"),
    ("4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "CachingDisabled"),
    (
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        "AllViewerExceptHostHeader",
    ),
];

fn managed_id(name: &str) -> &'static str {
    MANAGED_POLICIES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(id, _)| *id)
        .expect("a managed policy this module names")
}

/// A policy id as shown: the managed policy's name, ours by name, or the id itself.
fn policy_name(id: Option<&str>, ours: &BTreeMap<String, String>) -> Value {
    match id.filter(|i| !i.is_empty()) {
        None => Value::Null,
        Some(id) => MANAGED_POLICIES
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| json!(n))
            .or_else(|| ours.get(id).map(|n| json!(n)))
            .unwrap_or_else(|| json!(id)),
    }
}

const SITE_ORIGIN: &str = "site";
const API_ORIGIN: &str = "api";
/// Invalidations of more paths than this go out as one `/*` (each path of a batch counts
/// towards CloudFront's monthly free 1,000; `/*` counts as one).
pub const INVALIDATE_ALL_ABOVE: usize = 50;
/// How long the website bucket keeps an object's older versions, so a bad deploy can be
/// rolled back.
pub const SITE_NONCURRENT_DAYS: i32 = 30;

/// The distribution as far as others need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdn {
    pub id: String,
    pub arn: String,
    /// `dxxxx.cloudfront.net`
    pub domain: String,
}

#[derive(Debug, Clone)]
pub struct LiveDistribution {
    pub cdn: Cdn,
    pub enabled: bool,
    /// `Deployed` or `InProgress`.
    pub status: String,
    pub config: DistributionConfig,
}

#[derive(Debug, Clone)]
pub struct LiveNamed {
    pub id: String,
    pub name: String,
    /// The ownership mark (description or comment) matches this stack.
    pub ours: bool,
    /// An OAC's settings as [`oac_value`] shows them (`Null` for the headers policy).
    pub settings: Value,
}

/// Everything of the stack's CloudFront part that exists.
#[derive(Debug, Clone, Default)]
pub struct LiveCloudFront {
    pub distribution: Option<LiveDistribution>,
    pub oacs: Vec<LiveNamed>,
    pub headers_policy: Option<(LiveNamed, ResponseHeadersPolicyConfig)>,
    /// Tags, and fields in the form [`desired`] makes.
    pub live: Option<Live>,
}

impl LiveCloudFront {
    pub fn is_empty(&self) -> bool {
        self.distribution.is_none() && self.oacs.is_empty() && self.headers_policy.is_none()
    }

    pub fn cdn(&self) -> Option<&Cdn> {
        self.distribution.as_ref().map(|d| &d.cdn)
    }

    /// What of it is not this stack's: each as a sentence naming it.
    pub fn foreign(&self, spec: &Spec) -> Vec<String> {
        let mut out = Vec::new();
        let mark = ownership_mark(spec);
        for o in self.oacs.iter().filter(|o| !o.ours) {
            out.push(format!(
                "origin access control {} already exists but was not created by this stack (its \
                 description is not `{mark}`)",
                o.name
            ));
        }
        if let Some((p, _)) = self.headers_policy.as_ref().filter(|(p, _)| !p.ours) {
            out.push(format!(
                "response headers policy {} already exists but was not created by this stack \
                 (its comment is not `{mark}`)",
                p.name
            ));
        }
        out
    }
}

/// The comment that identifies the stack's distribution.
pub fn comment(spec: &Spec) -> String {
    format!("presign-stack {} ({})", spec.name, spec.env)
}

/// The mark in the description of OACs and the comment of the headers policy.
fn ownership_mark(spec: &Spec) -> String {
    format!("{TAG_STACK}={} {TAG_ENV}={}", spec.name, spec.env)
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

/// The website bucket's regional REST endpoint, the distribution's S3 origin.
pub fn bucket_domain(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

/// The origin the page's presigned requests go to (as the presigner signs them).
fn documents_endpoint(ctx: &Ctx) -> String {
    let bucket = &ctx.spec.documents.bucket;
    if bucket.contains('.') {
        format!("https://s3.{}.amazonaws.com", ctx.region)
    } else {
        format!("https://{bucket}.s3.{}.amazonaws.com", ctx.region)
    }
}

/// `https://host/...` -> `host`.
pub fn url_host(url: &str) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// The Content-Security-Policy: the page may load only itself, and talk only to itself, the
/// presigner and the documents bucket.
fn content_security_policy(ctx: &Ctx, url: Option<&str>) -> String {
    let mut connect = vec!["'self'".to_string(), documents_endpoint(ctx)];
    if ctx.spec.website.api_path().is_none() {
        connect.push(match url {
            Some(u) => format!("https://{}", url_host(u)),
            None => KNOWN_AFTER.to_string(),
        });
    }
    format!(
        "default-src 'self'; connect-src {}; img-src 'self' data:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    )
}

const HSTS_SECONDS: i32 = 63_072_000;

fn headers_value(ctx: &Ctx, url: Option<&str>) -> Value {
    json!({
        "name": headers_policy_name(&ctx.spec),
        "strict_transport_security": format!("max-age={HSTS_SECONDS}; includeSubDomains"),
        "content_security_policy": content_security_policy(ctx, url),
        "content_type_options": "nosniff",
        "frame_options": "DENY",
        "referrer_policy": "strict-origin-when-cross-origin",
    })
}

fn headers_value_from(c: &ResponseHeadersPolicyConfig) -> Value {
    let s = c.security_headers_config();
    json!({
        "name": c.name(),
        "strict_transport_security": s.and_then(|s| s.strict_transport_security()).map(|h| {
            let mut v = format!("max-age={}", h.access_control_max_age_sec());
            if h.include_subdomains() == Some(true) {
                v.push_str("; includeSubDomains");
            }
            if h.preload() == Some(true) {
                v.push_str("; preload");
            }
            v
        }),
        "content_security_policy": s.and_then(|s| s.content_security_policy())
            .map(|c| c.content_security_policy()),
        "content_type_options": s.and_then(|s| s.content_type_options()).map(|_| "nosniff"),
        "frame_options": s.and_then(|s| s.frame_options()).map(|f| f.frame_option().as_str()),
        "referrer_policy": s.and_then(|s| s.referrer_policy())
            .map(|r| r.referrer_policy().as_str()),
    })
}

fn oac_value(origin_type: &str) -> Value {
    json!({"origin_type": origin_type, "signing_behavior": "always", "signing_protocol": "sigv4"})
}

/// The desired fields; `url` is the presigner's Function URL when it exists.
pub fn desired(ctx: &Ctx, url: Option<&str>) -> Fields {
    let spec = &ctx.spec;
    let cf = spec
        .website
        .cloudfront()
        .expect("desired only with hosting: cloudfront");
    let w = &spec.website;
    let mut f = Fields::new();
    f.insert(
        "tags",
        tags_value(&ctx.tags(crate::state::Kind::Distribution)),
    );
    let mut oacs = serde_json::Map::new();
    oacs.insert(oac_name(spec, SITE_ORIGIN), oac_value("s3"));
    if cf.api_path.is_some() {
        oacs.insert(oac_name(spec, API_ORIGIN), oac_value("lambda"));
    }
    f.insert("origin_access_controls", Value::Object(oacs));
    f.insert("headers_policy", headers_value(ctx, url));
    f.insert("enabled", json!(true));
    f.insert("comment", json!(comment(spec)));
    f.insert("aliases", json!(cf.aliases));
    f.insert(
        "certificate",
        match &cf.certificate_arn {
            Some(arn) => json!({"acm_certificate_arn": arn, "ssl_support_method": "sni-only",
                                "minimum_protocol_version": "TLSv1.2_2021"}),
            None => json!({"cloudfront_default_certificate": true}),
        },
    );
    f.insert("price_class", json!(cf.price_class));
    f.insert("http_version", json!("http2and3"));
    f.insert("ipv6", json!(true));
    f.insert("default_root_object", json!(w.index_document));
    let error_page = format!("/{}", w.error_document);
    f.insert(
        "error_responses",
        json!([
            {"error_code": 403, "page": error_page, "response_code": "404", "min_ttl": 10},
            {"error_code": 404, "page": error_page, "response_code": "404", "min_ttl": 10},
        ]),
    );
    let mut origins = serde_json::Map::new();
    origins.insert(
        SITE_ORIGIN.into(),
        json!({"domain": bucket_domain(&w.bucket, &ctx.region),
               "origin_access_control": oac_name(spec, SITE_ORIGIN), "s3": true}),
    );
    if cf.api_path.is_some() {
        origins.insert(
            API_ORIGIN.into(),
            json!({"domain": url.map(url_host).unwrap_or_else(|| KNOWN_AFTER.to_string()),
                   "origin_access_control": oac_name(spec, API_ORIGIN),
                   "protocol": "https-only"}),
        );
    }
    f.insert("origins", Value::Object(origins));
    let headers = headers_policy_name(spec);
    f.insert(
        "default_behavior",
        json!({"origin": SITE_ORIGIN, "viewer_protocol_policy": "redirect-to-https",
               "methods": ["GET", "HEAD"], "cache_policy": "CachingOptimized",
               "origin_request_policy": null, "headers_policy": headers, "compress": true}),
    );
    let mut behaviors = serde_json::Map::new();
    if let Some(api) = &cf.api_path {
        behaviors.insert(
            format!("{api}/*"),
            json!({"origin": API_ORIGIN, "viewer_protocol_policy": "https-only",
                   "methods": api_methods(), "cache_policy": "CachingDisabled",
                   "origin_request_policy": "AllViewerExceptHostHeader",
                   "headers_policy": headers, "compress": false}),
        );
    }
    f.insert("behaviors", Value::Object(behaviors));
    f
}

fn api_methods() -> Vec<&'static str> {
    vec!["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
}

/// The custom domains' certificate (ACM, us-east-1) must be issued and cover every alias:
/// CloudFront refuses the distribution otherwise. Checked before any write.
pub async fn check_certificate(ctx: &Ctx) -> Result<()> {
    let Some(cf) = ctx.spec.website.cloudfront() else {
        return Ok(());
    };
    let Some(arn) = &cf.certificate_arn else {
        return Ok(());
    };
    let got = ctx
        .aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| {
            aws_err(
                format!("reading certificate {arn} (website.cloudfront.certificate_arn)"),
                e,
            )
        })?;
    let cert = got
        .certificate()
        .with_context(|| format!("certificate {arn}: no certificate in the answer"))?;
    let status = cert.status().map(|s| s.as_str()).unwrap_or("unknown");
    if status != "ISSUED" {
        anyhow::bail!(
            "certificate {arn} (website.cloudfront.certificate_arn) is {status}, not ISSUED: \
             CloudFront only serves an issued certificate; finish its validation in ACM \
             (us-east-1), or give another. Nothing was changed."
        );
    }
    let mut names: Vec<String> = cert.subject_alternative_names().to_vec();
    names.extend(cert.domain_name().map(str::to_string));
    let uncovered: Vec<&String> = cf
        .aliases
        .iter()
        .filter(|a| !names.iter().any(|n| covers(n, a)))
        .collect();
    if !uncovered.is_empty() {
        anyhow::bail!(
            "certificate {arn} (website.cloudfront.certificate_arn) does not cover {} (it \
             covers {}); CloudFront refuses an alias its certificate does not cover: add the \
             name to the certificate, or remove it from website.cloudfront.aliases. Nothing \
             was changed.",
            uncovered
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        );
    }
    Ok(())
}

/// Whether a certificate name (`example.com`, `*.example.com`) covers `alias`; a wildcard
/// covers exactly one label.
fn covers(name: &str, alias: &str) -> bool {
    let name = name.to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(rest) => alias
            .split_once('.')
            .is_some_and(|(first, tail)| tail == rest && first != "*" && !first.is_empty()),
        None => name == alias,
    }
}

/// Read the stack's distribution, OACs and headers policy (any of them may be missing).
pub async fn read(ctx: &Ctx) -> Result<LiveCloudFront> {
    let (dist, oacs, headers) = tokio::join!(
        find_distribution(ctx),
        find_oacs(ctx),
        find_headers_policy(ctx)
    );
    let (dist, tags) = match dist? {
        Some((d, tags)) => (Some(d), tags),
        None => (None, BTreeMap::new()),
    };
    let mut out = LiveCloudFront {
        distribution: dist,
        oacs: oacs?,
        headers_policy: headers?,
        live: None,
    };
    if !out.is_empty() {
        out.live = Some(Live {
            fields: fields_of(ctx, &out, &tags),
            tags,
        });
    }
    Ok(out)
}

async fn find_distribution(
    ctx: &Ctx,
) -> Result<Option<(LiveDistribution, BTreeMap<String, String>)>> {
    let cf = &ctx.aws.cloudfront;
    let want = comment(&ctx.spec);
    let mut marker: Option<String> = None;
    let mut found: Vec<String> = Vec::new();
    loop {
        let out = cf
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront distributions", e))?;
        let Some(list) = out.distribution_list() else {
            break;
        };
        found.extend(
            list.items()
                .iter()
                .filter(|d| d.comment() == want)
                .map(|d| d.id().to_string()),
        );
        match list
            .next_marker()
            .filter(|m| list.is_truncated() && !m.is_empty())
        {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    if found.len() > 1 {
        ctx.report.warn(format!(
            "{} distributions have the comment `{want}` ({}); this run uses {}, and each `down` \
             deletes one of them",
            found.len(),
            found.join(", "),
            found[0]
        ));
    }
    let Some(id) = found.into_iter().next() else {
        return Ok(None);
    };
    let got = match cf.get_distribution().id(&id).send().await {
        Ok(g) => g,
        // Deleted since it was listed.
        Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
    };
    let d = got
        .distribution()
        .with_context(|| format!("distribution {id}: no distribution in the answer"))?;
    let config = d
        .distribution_config()
        .with_context(|| format!("distribution {id}: no configuration in the answer"))?
        .clone();
    let tags = match cf.list_tags_for_resource().resource(d.arn()).send().await {
        Ok(t) => t
            .tags()
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => return Err(aws_err(format!("reading the tags of distribution {id}"), e)),
    };
    Ok(Some((
        LiveDistribution {
            cdn: Cdn {
                id: d.id().to_string(),
                arn: d.arn().to_string(),
                domain: d.domain_name().to_string(),
            },
            enabled: config.enabled(),
            status: d.status().to_string(),
            config,
        },
        tags,
    )))
}

async fn find_oacs(ctx: &Ctx) -> Result<Vec<LiveNamed>> {
    let names = [
        oac_name(&ctx.spec, SITE_ORIGIN),
        oac_name(&ctx.spec, API_ORIGIN),
    ];
    let mark = ownership_mark(&ctx.spec);
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .cloudfront
            .list_origin_access_controls()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront origin access controls", e))?;
        let Some(list) = page.origin_access_control_list() else {
            break;
        };
        for o in list.items() {
            if names.iter().any(|n| n == o.name()) {
                out.push(LiveNamed {
                    id: o.id().to_string(),
                    name: o.name().to_string(),
                    ours: o.description() == mark,
                    settings: json!({
                        "origin_type": o.origin_access_control_origin_type().as_str(),
                        "signing_behavior": o.signing_behavior().as_str(),
                        "signing_protocol": o.signing_protocol().as_str(),
                    }),
                });
            }
        }
        match list
            .next_marker()
            .filter(|m| list.is_truncated() && !m.is_empty())
        {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    Ok(out)
}

async fn find_headers_policy(
    ctx: &Ctx,
) -> Result<Option<(LiveNamed, ResponseHeadersPolicyConfig)>> {
    let name = headers_policy_name(&ctx.spec);
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .cloudfront
            .list_response_headers_policies()
            .r#type(ResponseHeadersPolicyType::Custom)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront response headers policies", e))?;
        let Some(list) = page.response_headers_policy_list() else {
            return Ok(None);
        };
        for item in list.items() {
            let Some(p) = item.response_headers_policy() else {
                continue;
            };
            let Some(config) = p.response_headers_policy_config() else {
                continue;
            };
            if config.name() == name {
                return Ok(Some((
                    LiveNamed {
                        id: p.id().to_string(),
                        name: name.clone(),
                        ours: config.comment() == Some(ownership_mark(&ctx.spec).as_str()),
                        settings: Value::Null,
                    },
                    config.clone(),
                )));
            }
        }
        match list.next_marker().filter(|m| !m.is_empty()) {
            Some(m) => marker = Some(m.to_string()),
            None => return Ok(None),
        }
    }
}

/// The live state in the form [`desired`] makes.
fn fields_of(ctx: &Ctx, live: &LiveCloudFront, tags: &BTreeMap<String, String>) -> Fields {
    let mut f = Fields::new();
    f.insert("tags", tags_value(tags));
    let mut oacs = serde_json::Map::new();
    let oac_names: BTreeMap<String, String> = live
        .oacs
        .iter()
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    for o in &live.oacs {
        oacs.insert(o.name.clone(), o.settings.clone());
    }
    f.insert("origin_access_controls", Value::Object(oacs));
    let mut ours_by_id = BTreeMap::new();
    f.insert(
        "headers_policy",
        match &live.headers_policy {
            Some((p, c)) => {
                ours_by_id.insert(p.id.clone(), p.name.clone());
                headers_value_from(c)
            }
            None => Value::Null,
        },
    );
    let Some(d) = &live.distribution else {
        return f;
    };
    let c = &d.config;
    f.insert("enabled", json!(c.enabled()));
    f.insert("comment", json!(c.comment()));
    let mut aliases: Vec<String> = c.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
    aliases.sort();
    f.insert("aliases", json!(aliases));
    f.insert(
        "certificate",
        match c.viewer_certificate() {
            Some(v) if v.acm_certificate_arn().is_some_and(|a| !a.is_empty()) => json!({
                "acm_certificate_arn": v.acm_certificate_arn(),
                "ssl_support_method": v.ssl_support_method().map(|s| s.as_str()),
                "minimum_protocol_version": v.minimum_protocol_version().map(|s| s.as_str()),
            }),
            Some(v) if v.cloud_front_default_certificate() == Some(true) => {
                json!({"cloudfront_default_certificate": true})
            }
            _ => Value::Null,
        },
    );
    f.insert("price_class", json!(c.price_class().map(|p| p.as_str())));
    f.insert("http_version", json!(c.http_version().map(|h| h.as_str())));
    f.insert("ipv6", json!(c.is_ipv6_enabled()));
    f.insert("default_root_object", json!(c.default_root_object()));
    let mut errors: Vec<Value> = c
        .custom_error_responses()
        .map(|e| e.items())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            json!({"error_code": e.error_code(), "page": e.response_page_path(),
                   "response_code": e.response_code(), "min_ttl": e.error_caching_min_ttl()})
        })
        .collect();
    errors.sort_by_key(|e| e["error_code"].as_i64());
    f.insert("error_responses", Value::Array(errors));
    let mut origins = serde_json::Map::new();
    for o in c.origins().map(|o| o.items()).unwrap_or_default() {
        let oac = o
            .origin_access_control_id()
            .filter(|id| !id.is_empty())
            .map(|id| oac_names.get(id).cloned().unwrap_or_else(|| id.to_string()));
        let v = match o.custom_origin_config() {
            Some(custom) => json!({"domain": o.domain_name(), "origin_access_control": oac,
                                   "protocol": custom.origin_protocol_policy().as_str()}),
            None => json!({"domain": o.domain_name(), "origin_access_control": oac,
                           "s3": o.s3_origin_config().is_some()}),
        };
        origins.insert(o.id().to_string(), v);
    }
    f.insert("origins", Value::Object(origins));
    let behavior = |origin: &str,
                    viewer: &ViewerProtocolPolicy,
                    methods: Option<&AllowedMethods>,
                    cache: Option<&str>,
                    request: Option<&str>,
                    headers: Option<&str>,
                    compress: Option<bool>| {
        let mut m: Vec<&str> = methods
            .map(|m| m.items().iter().map(|x| x.as_str()).collect())
            .unwrap_or_default();
        m.sort();
        json!({"origin": origin, "viewer_protocol_policy": viewer.as_str(), "methods": m,
               "cache_policy": policy_name(cache, &BTreeMap::new()),
               "origin_request_policy": policy_name(request, &BTreeMap::new()),
               "headers_policy": policy_name(headers, &ours_by_id),
               "compress": compress.unwrap_or(false)})
    };
    f.insert(
        "default_behavior",
        match c.default_cache_behavior() {
            Some(b) => behavior(
                b.target_origin_id(),
                b.viewer_protocol_policy(),
                b.allowed_methods(),
                b.cache_policy_id(),
                b.origin_request_policy_id(),
                b.response_headers_policy_id(),
                b.compress(),
            ),
            None => Value::Null,
        },
    );
    let mut behaviors = serde_json::Map::new();
    for b in c.cache_behaviors().map(|b| b.items()).unwrap_or_default() {
        behaviors.insert(
            b.path_pattern().to_string(),
            behavior(
                b.target_origin_id(),
                b.viewer_protocol_policy(),
                b.allowed_methods(),
                b.cache_policy_id(),
                b.origin_request_policy_id(),
                b.response_headers_policy_id(),
                b.compress(),
            ),
        );
    }
    f.insert("behaviors", Value::Object(behaviors));
    let _ = ctx;
    f
}

/// The fields of the distribution's own configuration (the rest are its tags, OACs and
/// headers policy, each set on its own).
const DISTRIBUTION_FIELDS: &[&str] = &[
    "enabled",
    "comment",
    "aliases",
    "certificate",
    "price_class",
    "http_version",
    "ipv6",
    "default_root_object",
    "error_responses",
    "origins",
    "default_behavior",
    "behaviors",
];

/// Make the OACs, the headers policy and the distribution what the spec says; `url` is the
/// presigner's Function URL. Returns the distribution.
pub async fn apply(ctx: &Ctx, live: &LiveCloudFront, url: &str) -> Result<Cdn> {
    let spec = &ctx.spec;
    let cf = spec
        .website
        .cloudfront()
        .expect("apply only with hosting: cloudfront");
    let mut oac_ids = BTreeMap::new();
    let mut wanted = vec![(SITE_ORIGIN, OriginAccessControlOriginTypes::S3)];
    if cf.api_path.is_some() {
        wanted.push((API_ORIGIN, OriginAccessControlOriginTypes::Lambda));
    }
    for (origin, kind) in wanted {
        let name = oac_name(spec, origin);
        let want = oac_config(ctx, &name, kind.clone())?;
        let id = match live.oacs.iter().find(|o| o.name == name) {
            Some(o) if o.settings == oac_value(kind.as_str()) => o.id.clone(),
            Some(o) => {
                update_oac(ctx, &o.id, want).await?;
                o.id.clone()
            }
            None => create_oac(ctx, &name, want).await?,
        };
        oac_ids.insert(origin, id);
    }
    let headers_id = put_headers_policy(ctx, live, url).await?;
    let want = distribution_config(ctx, url, &oac_ids, &headers_id, None)?;
    let cdn = match &live.distribution {
        None => create_distribution(ctx, want).await?,
        Some(d) => {
            // Compared as plans compare it: AWS fills in defaults the spec does not name, so
            // the configurations themselves never compare equal.
            let want = desired(ctx, Some(url));
            let have = live.live.as_ref().map(|l| &l.fields);
            let differs = DISTRIBUTION_FIELDS
                .iter()
                .any(|f| want.get(f) != have.and_then(|h| h.get(f)));
            if differs {
                let config = distribution_config(ctx, url, &oac_ids, &headers_id, Some(&d.config))?;
                update_distribution(ctx, &d.cdn.id, config).await?;
            }
            put_tags(ctx, d, live.live.as_ref()).await?;
            d.cdn.clone()
        }
    };
    Ok(cdn)
}

fn oac_config(
    ctx: &Ctx,
    name: &str,
    kind: OriginAccessControlOriginTypes,
) -> Result<OriginAccessControlConfig> {
    Ok(OriginAccessControlConfig::builder()
        .name(name)
        .description(ownership_mark(&ctx.spec))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(kind)
        .build()?)
}

async fn update_oac(ctx: &Ctx, id: &str, config: OriginAccessControlConfig) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let name = config.name().to_string();
    for _ in 0..IF_MATCH_ATTEMPTS {
        let got = cf
            .get_origin_access_control()
            .id(id)
            .send()
            .await
            .map_err(|e| aws_err(format!("reading origin access control {name}"), e))?;
        match cf
            .update_origin_access_control()
            .id(id)
            .set_if_match(got.e_tag().map(str::to_string))
            .origin_access_control_config(config.clone())
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            // Changed meanwhile, or this update's answer was lost: read and send again.
            Err(e) if code_in(&e, &["PreconditionFailed"]) => continue,
            Err(e) => return Err(aws_err(format!("updating origin access control {name}"), e)),
        }
    }
    anyhow::bail!("origin access control {name} kept changing while it was updated; run again")
}

async fn create_oac(ctx: &Ctx, name: &str, config: OriginAccessControlConfig) -> Result<String> {
    match ctx
        .aws
        .cloudfront
        .create_origin_access_control()
        .origin_access_control_config(config)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .origin_access_control()
            .map(|o| o.id().to_string())
            .with_context(|| format!("origin access control {name}: no id in the answer"))?),
        // Sent again after a lost answer: it exists now.
        Err(e) if code_in(&e, &["OriginAccessControlAlreadyExists"]) => find_oacs(ctx)
            .await?
            .into_iter()
            .find(|o| o.name == name && o.ours)
            .map(|o| o.id)
            .with_context(|| {
                format!("origin access control {name} exists but is not this stack's")
            }),
        Err(e) => Err(aws_err(format!("creating origin access control {name}"), e)),
    }
}

fn headers_config(ctx: &Ctx, url: &str) -> Result<ResponseHeadersPolicyConfig> {
    let security = ResponseHeadersPolicySecurityHeadersConfig::builder()
        .strict_transport_security(
            ResponseHeadersPolicyStrictTransportSecurity::builder()
                .r#override(true)
                .include_subdomains(true)
                .access_control_max_age_sec(HSTS_SECONDS)
                .build()?,
        )
        .content_security_policy(
            ResponseHeadersPolicyContentSecurityPolicy::builder()
                .r#override(true)
                .content_security_policy(content_security_policy(ctx, Some(url)))
                .build()?,
        )
        .content_type_options(
            ResponseHeadersPolicyContentTypeOptions::builder()
                .r#override(true)
                .build()?,
        )
        .frame_options(
            ResponseHeadersPolicyFrameOptions::builder()
                .r#override(true)
                .frame_option(FrameOptionsList::Deny)
                .build()?,
        )
        .referrer_policy(
            ResponseHeadersPolicyReferrerPolicy::builder()
                .r#override(true)
                .referrer_policy(ReferrerPolicyList::StrictOriginWhenCrossOrigin)
                .build()?,
        )
        .build();
    Ok(ResponseHeadersPolicyConfig::builder()
        .name(headers_policy_name(&ctx.spec))
        .comment(ownership_mark(&ctx.spec))
        .security_headers_config(security)
        .build()?)
}

/// Create or update the headers policy; returns its id.
async fn put_headers_policy(ctx: &Ctx, live: &LiveCloudFront, url: &str) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    let want = headers_config(ctx, url)?;
    let name = headers_policy_name(&ctx.spec);
    match &live.headers_policy {
        Some((p, have)) if headers_value_from(have) == headers_value_from(&want) => {
            Ok(p.id.clone())
        }
        Some((p, _)) => {
            for _ in 0..IF_MATCH_ATTEMPTS {
                let got = cf
                    .get_response_headers_policy()
                    .id(&p.id)
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("reading response headers policy {name}"), e))?;
                let there = got
                    .response_headers_policy()
                    .and_then(|r| r.response_headers_policy_config());
                // An update sent again after its answer was lost finds it done.
                if there.is_some_and(|c| headers_value_from(c) == headers_value_from(&want)) {
                    return Ok(p.id.clone());
                }
                match cf
                    .update_response_headers_policy()
                    .id(&p.id)
                    .set_if_match(got.e_tag().map(str::to_string))
                    .response_headers_policy_config(want.clone())
                    .send()
                    .await
                {
                    Ok(_) => return Ok(p.id.clone()),
                    Err(e) if code_in(&e, &["PreconditionFailed"]) => continue,
                    Err(e) => {
                        return Err(aws_err(
                            format!("updating response headers policy {name}"),
                            e,
                        ))
                    }
                }
            }
            anyhow::bail!(
                "response headers policy {name} kept changing while it was updated; run again"
            )
        }
        None => match cf
            .create_response_headers_policy()
            .response_headers_policy_config(want)
            .send()
            .await
        {
            Ok(out) => out
                .response_headers_policy()
                .map(|p| p.id().to_string())
                .with_context(|| format!("response headers policy {name}: no id in the answer")),
            Err(e) if code_in(&e, &["ResponseHeadersPolicyAlreadyExists"]) => {
                match find_headers_policy(ctx).await? {
                    Some((p, _)) if p.ours => Ok(p.id),
                    _ => Err(aws_err(
                        format!("creating response headers policy {name}"),
                        e,
                    )),
                }
            }
            Err(e) => Err(aws_err(
                format!("creating response headers policy {name}"),
                e,
            )),
        },
    }
}

/// The distribution's configuration as the spec wants it; what the spec does not manage
/// (logging, geo restrictions, a web ACL, the caller reference) is kept from `live`.
fn distribution_config(
    ctx: &Ctx,
    url: &str,
    oac_ids: &BTreeMap<&str, String>,
    headers_id: &str,
    live: Option<&DistributionConfig>,
) -> Result<DistributionConfig> {
    let spec = &ctx.spec;
    let w = &spec.website;
    let cf = w.cloudfront().expect("hosting: cloudfront");
    let mut origins = vec![Origin::builder()
        .id(SITE_ORIGIN)
        .domain_name(bucket_domain(&w.bucket, &ctx.region))
        .origin_path("")
        .origin_access_control_id(&oac_ids[SITE_ORIGIN])
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()?];
    let mut behaviors = Vec::new();
    if let Some(api) = &cf.api_path {
        origins.push(
            Origin::builder()
                .id(API_ORIGIN)
                .domain_name(url_host(url))
                .origin_path("")
                .origin_access_control_id(&oac_ids[API_ORIGIN])
                .custom_origin_config(
                    CustomOriginConfig::builder()
                        .http_port(80)
                        .https_port(443)
                        .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                        .origin_ssl_protocols(
                            OriginSslProtocols::builder()
                                .quantity(1)
                                .items(SslProtocol::TlSv12)
                                .build()?,
                        )
                        .build()?,
                )
                .build()?,
        );
        let all: Vec<Method> = api_methods().into_iter().map(Method::from).collect();
        behaviors.push(
            CacheBehavior::builder()
                .path_pattern(format!("{api}/*"))
                .target_origin_id(API_ORIGIN)
                .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                .allowed_methods(
                    AllowedMethods::builder()
                        .quantity(all.len() as i32)
                        .set_items(Some(all))
                        .cached_methods(get_head()?)
                        .build()?,
                )
                .cache_policy_id(managed_id("CachingDisabled"))
                .origin_request_policy_id(managed_id("AllViewerExceptHostHeader"))
                .response_headers_policy_id(headers_id)
                .compress(false)
                .build()?,
        );
    }
    let default = DefaultCacheBehavior::builder()
        .target_origin_id(SITE_ORIGIN)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .cached_methods(get_head()?)
                .build()?,
        )
        .cache_policy_id(managed_id("CachingOptimized"))
        .response_headers_policy_id(headers_id)
        .compress(true)
        .build()?;
    let error_page = format!("/{}", w.error_document);
    let errors: Vec<CustomErrorResponse> = [403, 404]
        .into_iter()
        .map(|code| {
            CustomErrorResponse::builder()
                .error_code(code)
                .response_page_path(&error_page)
                .response_code("404")
                .error_caching_min_ttl(10)
                .build()
        })
        .collect::<Result<_, _>>()?;
    let certificate = match &cf.certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    let caller_reference = live
        .map(|l| l.caller_reference().to_string())
        .unwrap_or_else(|| caller_reference(spec));
    let mut b = DistributionConfig::builder()
        .caller_reference(caller_reference)
        .aliases(
            aws_sdk_cloudfront::types::Aliases::builder()
                .quantity(cf.aliases.len() as i32)
                .set_items(some(cf.aliases.clone()))
                .build()?,
        )
        .default_root_object(&w.index_document)
        .origins(
            Origins::builder()
                .quantity(origins.len() as i32)
                .set_items(Some(origins))
                .build()?,
        )
        .default_cache_behavior(default)
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(behaviors.len() as i32)
                .set_items(some(behaviors))
                .build()?,
        )
        .custom_error_responses(
            CustomErrorResponses::builder()
                .quantity(errors.len() as i32)
                .set_items(Some(errors))
                .build()?,
        )
        .comment(comment(spec))
        .price_class(PriceClass::from(cf.price_class.as_str()))
        .enabled(true)
        .viewer_certificate(certificate)
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true);
    if let Some(l) = live {
        b = b
            .set_logging(l.logging().cloned())
            .set_restrictions(l.restrictions().cloned())
            .set_web_acl_id(l.web_acl_id().map(str::to_string))
            .set_origin_groups(l.origin_groups().cloned());
    }
    Ok(b.build()?)
}

/// The same for every run of the stack within ten minutes: two `up`s creating the distribution
/// at once send the same reference, so CloudFront makes one distribution, not two (the second
/// create is refused with DistributionAlreadyExists and finds the first by its comment).
fn caller_reference(spec: &Spec) -> String {
    let window = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 600);
    format!("presign-stack-{}-{}-{window}", spec.name, spec.env)
}

/// A list for a `Quantity`/`Items` pair: no `Items` when there are none, as AWS writes it.
fn some<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn get_head() -> Result<CachedMethods> {
    Ok(CachedMethods::builder()
        .quantity(2)
        .items(Method::Get)
        .items(Method::Head)
        .build()?)
}

fn tags_of(ctx: &Ctx) -> Result<Tags> {
    let items = ctx
        .tags(crate::state::Kind::Distribution)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

async fn create_distribution(ctx: &Ctx, mut config: DistributionConfig) -> Result<Cdn> {
    let send = |config: DistributionConfig| async {
        ctx.aws
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config)
                    .tags(tags_of(ctx)?)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_err("creating the CloudFront distribution", e))
    };
    let out = match send(config.clone()).await {
        Ok(out) => out,
        // Made by another run at the same time (or by this create, whose answer was lost),
        // or the reference is one CloudFront remembers from a deleted distribution.
        Err(e) if crate::errors::has_code(&e, "DistributionAlreadyExists") => {
            if let Some((d, tags)) = find_distribution(ctx).await? {
                if super::owner(&ctx.spec, &tags) == super::Owner::ThisStack {
                    return Ok(d.cdn);
                }
            }
            config.caller_reference =
                format!("{}-{}", config.caller_reference, uuid::Uuid::new_v4());
            send(config).await?
        }
        Err(e) => return Err(e),
    };
    let d = out
        .distribution()
        .context("creating the CloudFront distribution: no distribution in the answer")?;
    Ok(Cdn {
        id: d.id().to_string(),
        arn: d.arn().to_string(),
        domain: d.domain_name().to_string(),
    })
}

/// UpdateDistribution needs the ETag of the configuration it replaces: read it just before,
/// and again if another run changed it in between (PreconditionFailed).
async fn update_distribution(ctx: &Ctx, id: &str, config: DistributionConfig) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let etag = cf
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| aws_err(format!("reading distribution {id}"), e))?
            .e_tag()
            .map(str::to_string);
        match cf
            .update_distribution()
            .id(id)
            .set_if_match(etag)
            .distribution_config(config.clone())
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if attempts < 3 && code_in(&e, &["PreconditionFailed"]) => continue,
            Err(e) => return Err(aws_err(format!("updating distribution {id}"), e)),
        }
    }
}

async fn put_tags(ctx: &Ctx, d: &LiveDistribution, live: Option<&Live>) -> Result<()> {
    let want = ctx.tags(crate::state::Kind::Distribution);
    let have = live.map(|l| l.tags.clone()).unwrap_or_default();
    if want == have {
        return Ok(());
    }
    let cf = &ctx.aws.cloudfront;
    let extra: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    if !extra.is_empty() {
        cf.untag_resource()
            .resource(&d.cdn.arn)
            .tag_keys(TagKeys::builder().set_items(Some(extra)).build())
            .send()
            .await
            .map_err(|e| aws_err(format!("untagging distribution {}", d.cdn.id), e))?;
    }
    cf.tag_resource()
        .resource(&d.cdn.arn)
        .tags(tags_of(ctx)?)
        .send()
        .await
        .map_err(|e| aws_err(format!("tagging distribution {}", d.cdn.id), e))?;
    Ok(())
}

/// Invalidate exactly `paths` (site-relative keys; `""` is the root), in one batch, or `/*`
/// when there are more than [`INVALIDATE_ALL_ABOVE`]. Nothing when `paths` is empty.
pub async fn invalidate(ctx: &Ctx, cdn: &Cdn, mut paths: Vec<String>) -> Result<usize> {
    if paths.is_empty() {
        return Ok(0);
    }
    paths.sort();
    paths.dedup();
    let items: Vec<String> = if paths.len() > INVALIDATE_ALL_ABOVE {
        vec!["/*".to_string()]
    } else {
        paths.iter().map(|p| invalidation_path(p)).collect()
    };
    let n = items.len();
    ctx.aws
        .cloudfront
        .create_invalidation()
        .distribution_id(&cdn.id)
        .invalidation_batch(
            InvalidationBatch::builder()
                .caller_reference(format!("presign-stack-{}", uuid::Uuid::new_v4()))
                .paths(
                    Paths::builder()
                        .quantity(n as i32)
                        .set_items(Some(items))
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| {
            aws_err(
                format!("invalidating {n} paths of distribution {}", cdn.id),
                e,
            )
        })?;
    Ok(n)
}

/// A key as an invalidation path: `/` and the key, URL-encoded where it is not plain
/// (CloudFront matches the encoded form viewers request).
pub fn invalidation_path(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!("/{}", percent_encoding::utf8_percent_encode(key, KEEP))
}

/// Delete the distribution (disabled first, then once CloudFront has deployed that), its
/// OACs and its headers policy. Waits with progress, up to the deadline in `ctx.timing`; a
/// later run continues where this one stopped.
pub async fn delete(ctx: &Ctx, live: &LiveCloudFront) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    if let Some(d) = &live.distribution {
        delete_distribution(ctx, &d.cdn).await?;
    }
    for o in &live.oacs {
        let etag = match cf.get_origin_access_control().id(&o.id).send().await {
            Ok(g) => g.e_tag().map(str::to_string),
            Err(e) if code_in(&e, &["NoSuchOriginAccessControl"]) => continue,
            Err(e) => {
                return Err(aws_err(
                    format!("reading origin access control {}", o.name),
                    e,
                ))
            }
        };
        match cf
            .delete_origin_access_control()
            .id(&o.id)
            .set_if_match(etag)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchOriginAccessControl"]) => {}
            Err(e) => {
                return Err(aws_err(
                    format!("deleting origin access control {}", o.name),
                    e,
                ))
            }
        }
    }
    if let Some((p, _)) = &live.headers_policy {
        let etag = match cf.get_response_headers_policy().id(&p.id).send().await {
            Ok(g) => Some(g.e_tag().map(str::to_string)),
            Err(e) if code_in(&e, &["NoSuchResponseHeadersPolicy"]) => None,
            Err(e) => {
                return Err(aws_err(
                    format!("reading response headers policy {}", p.name),
                    e,
                ))
            }
        };
        if let Some(etag) = etag {
            match cf
                .delete_response_headers_policy()
                .id(&p.id)
                .set_if_match(etag)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if code_in(&e, &["NoSuchResponseHeadersPolicy"]) => {}
                Err(e) => {
                    return Err(aws_err(
                        format!("deleting response headers policy {}", p.name),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}

/// An ETag sent again after its answer was lost is stale by then: such a request is read
/// again and retried, this many times in all.
const IF_MATCH_ATTEMPTS: usize = 4;

/// Disable the distribution, wait until CloudFront has deployed that, delete it.
async fn delete_distribution(ctx: &Ctx, cdn: &Cdn) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let id = &cdn.id;
    let mut said = false;
    for _ in 0..IF_MATCH_ATTEMPTS {
        let got = match cf.get_distribution_config().id(id).send().await {
            Ok(g) => g,
            Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(()),
            Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
        };
        let config = got
            .distribution_config()
            .with_context(|| format!("distribution {id}: no configuration"))?;
        if !config.enabled() {
            break;
        }
        if !said {
            ctx.report
                .status("Disabling", format!("distribution {id} ({})", cdn.domain));
            said = true;
        }
        let mut off = config.clone();
        off.enabled = false;
        match cf
            .update_distribution()
            .id(id)
            .set_if_match(got.e_tag().map(str::to_string))
            .distribution_config(off)
            .send()
            .await
        {
            Ok(_) => break,
            // Changed meanwhile, or this very update went through and its answer was lost.
            Err(e) if code_in(&e, &["PreconditionFailed"]) => continue,
            Err(e) => return Err(aws_err(format!("disabling distribution {id}"), e)),
        }
    }
    for _ in 0..IF_MATCH_ATTEMPTS {
        let Some(etag) = wait_deployed(ctx, id, &cdn.domain).await? else {
            return Ok(());
        };
        match cf.delete_distribution().id(id).if_match(etag).send().await {
            Ok(_) => return Ok(()),
            Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(()),
            Err(e) if code_in(&e, &["PreconditionFailed"]) => continue,
            Err(e) => return Err(aws_err(format!("deleting distribution {id}"), e)),
        }
    }
    anyhow::bail!(
        "distribution {id} kept changing while it was being deleted; run the command again"
    )
}

/// Poll until the distribution is Deployed; its ETag then, or `None` when it is gone.
pub async fn wait_deployed(ctx: &Ctx, id: &str, domain: &str) -> Result<Option<String>> {
    let start = Instant::now();
    let backoff = ctx.timing.cdn_deployed;
    let mut delay = backoff.first;
    let mut said: Option<Instant> = None;
    loop {
        let got = match ctx.aws.cloudfront.get_distribution().id(id).send().await {
            Ok(g) => g,
            Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(None),
            Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
        };
        let status = got
            .distribution()
            .map(|d| d.status().to_string())
            .unwrap_or_default();
        if status == "Deployed" {
            return Ok(got.e_tag().map(str::to_string));
        }
        let waited = start.elapsed();
        if waited + delay > backoff.deadline {
            anyhow::bail!(
                "CloudFront is still deploying the last change to distribution {id} ({domain}) \
                 after {}s (it usually takes a few minutes); run the command again to go on \
                 from there",
                waited.as_secs()
            );
        }
        crate::interrupt::check(&format!("waiting for distribution {id}"))?;
        if said.is_none_or(|t| t.elapsed().as_secs() >= 30) {
            ctx.report.status(
                "Waiting",
                format!(
                    "for CloudFront to deploy distribution {id} ({}s so far; it usually takes a \
                     few minutes)",
                    waited.as_secs()
                ),
            );
            said = Some(Instant::now());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_paths_are_encoded_keys() {
        assert_eq!(invalidation_path(""), "/");
        assert_eq!(invalidation_path("assets/app.js"), "/assets/app.js");
        assert_eq!(invalidation_path("a b+c#.txt"), "/a%20b%2Bc%23.txt");
        assert_eq!(invalidation_path("café.html"), "/caf%C3%A9.html");
    }

    #[test]
    fn certificate_names_cover_aliases_as_cloudfront_matches_them() {
        assert!(covers("files.example.com", "files.example.com"));
        assert!(covers("*.example.com", "files.example.com"));
        assert!(!covers("*.example.com", "a.files.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("example.com", "files.example.com"));
    }

    #[test]
    fn hosts_of_function_urls() {
        assert_eq!(
            url_host("https://abc.lambda-url.eu-central-1.on.aws/"),
            "abc.lambda-url.eu-central-1.on.aws"
        );
        assert_eq!(url_host("http://127.0.0.1:5000/x"), "127.0.0.1:5000");
    }
}
