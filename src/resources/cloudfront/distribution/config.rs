//! The distribution's configuration: as the spec wants it ([`desired`] fields and the
//! `DistributionConfig` written), and as AWS reports it, in the same fields.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomErrorResponses,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, EventType, FunctionAssociation,
    FunctionAssociations, HttpVersion, Method, MinimumProtocolVersion, Origin,
    OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass, S3OriginConfig, SslProtocol,
    SslSupportMethod, ViewerCertificate, ViewerProtocolPolicy,
};
use serde_json::{json, Value};

use super::KIND;
use crate::context::Ctx;
use crate::resources::cloudfront::site_function::function_name;
use crate::resources::cloudfront::web_acl;
use crate::resources::cloudfront::{
    comment, headers_policy_name, oac_name, url_host, API_ORIGIN, SITE_ORIGIN,
};
use crate::spec::Spec;
use crate::state::{tags_value, Desired, Fields, Output, SHOWN_UNKNOWN};

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

/// A behaviour's CloudFront Functions, event type -> function name (the ARN's last part).
fn functions_of(f: Option<&FunctionAssociations>) -> Value {
    let mut m = serde_json::Map::new();
    for a in f.map(|f| f.items()).unwrap_or_default() {
        let arn = a.function_arn();
        let name = arn.rsplit_once("function/").map_or(arn, |(_, n)| n);
        m.insert(a.event_type().as_str().to_string(), json!(name));
    }
    Value::Object(m)
}

/// The website bucket's regional REST endpoint, the distribution's S3 origin.
pub fn bucket_domain(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

pub(super) fn desired(ctx: &Ctx, live_acl: Option<&Value>) -> Desired {
    let spec = &ctx.spec;
    let cf = spec
        .website
        .cloudfront()
        .expect("desired only with hosting: cloudfront");
    let w = &spec.website;
    let url = ctx.known.function_url.as_deref();
    let mut f = Fields::new();
    f.insert("tags", tags_value(&ctx.tags(KIND)));
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
    // None: they would turn the presigner's 403 and 404 under `api_path` into the page. The
    // site's function serves the page instead, on the default behaviour only.
    f.insert("error_responses", json!([]));
    let mut origins = serde_json::Map::new();
    origins.insert(
        SITE_ORIGIN.into(),
        json!({"domain": bucket_domain(&w.bucket, &ctx.region),
               "origin_access_control": oac_name(spec, SITE_ORIGIN), "s3": true}),
    );
    if cf.api_path.is_some() {
        origins.insert(
            API_ORIGIN.into(),
            json!({"domain": url.map(url_host).unwrap_or_else(|| SHOWN_UNKNOWN.to_string()),
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
               "origin_request_policy": null, "headers_policy": headers, "compress": true,
               "functions": {"viewer-request": function_name(spec)}}),
    );
    let mut behaviors = serde_json::Map::new();
    if let Some(api) = &cf.api_path {
        behaviors.insert(
            format!("{api}/*"),
            json!({"origin": API_ORIGIN, "viewer_protocol_policy": "https-only",
                   "methods": api_methods(), "cache_policy": "CachingDisabled",
                   "origin_request_policy": "AllViewerExceptHostHeader",
                   "headers_policy": headers, "compress": false, "functions": {}}),
        );
    }
    f.insert("behaviors", Value::Object(behaviors));
    f.insert("web_acl", web_acl_wanted(spec, live_acl));
    let mut d = Desired {
        fields: f,
        ..Desired::default()
    };
    if cf.api_path.is_some() && url.is_none() {
        d.after.insert("origins", Output::FunctionUrl);
    }
    d
}

fn api_methods() -> Vec<&'static str> {
    vec!["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
}

/// A distribution's configuration and tags in the form [`Resource::desired`] makes; `oacs`
/// and `headers` name the OACs and response headers policies by id.
/// The stack's web ACL with `rate_limit`; without it, none of the stack's, and a web ACL
/// someone else attached is theirs to keep.
fn web_acl_wanted(spec: &Spec, live: Option<&Value>) -> Value {
    let ours = web_acl::name(spec);
    if spec
        .website
        .cloudfront()
        .is_some_and(|c| c.rate_limit.is_some())
    {
        return json!(ours);
    }
    match live {
        Some(Value::String(other)) if *other != ours => json!(other),
        _ => Value::Null,
    }
}

pub(super) fn fields_of(
    c: &DistributionConfig,
    tags: &BTreeMap<String, String>,
    oac_names: &BTreeMap<String, String>,
    ours_by_id: &BTreeMap<String, String>,
) -> Fields {
    let mut f = Fields::new();
    f.insert("tags", tags_value(tags));
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
                    compress: Option<bool>,
                    functions: Option<&FunctionAssociations>| {
        let mut m: Vec<&str> = methods
            .map(|m| m.items().iter().map(|x| x.as_str()).collect())
            .unwrap_or_default();
        m.sort();
        json!({"origin": origin, "viewer_protocol_policy": viewer.as_str(), "methods": m,
               "cache_policy": policy_name(cache, &BTreeMap::new()),
               "origin_request_policy": policy_name(request, &BTreeMap::new()),
               "headers_policy": policy_name(headers, ours_by_id),
               "compress": compress.unwrap_or(false),
               "functions": functions_of(functions)})
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
                b.function_associations(),
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
                b.function_associations(),
            ),
        );
    }
    f.insert("behaviors", Value::Object(behaviors));
    f.insert(
        "web_acl",
        json!(c
            .web_acl_id()
            .filter(|a| !a.is_empty())
            .map(|a| web_acl::name_in_arn(a).unwrap_or(a))),
    );
    f
}

/// The distribution's configuration as the spec wants it; what the spec does not manage
/// (logging, geo restrictions, a web ACL, the caller reference) is kept from `live`.
pub(super) fn distribution_config(
    ctx: &Ctx,
    live: Option<&DistributionConfig>,
) -> Result<DistributionConfig> {
    let spec = &ctx.spec;
    let w = &spec.website;
    let cf = w
        .cloudfront()
        .context("internal: a distribution without `hosting: cloudfront`")?;
    let headers_id = ctx
        .known
        .headers_policy_id
        .clone()
        .context("internal: the response headers policy is not known")?;
    let (origins, behaviors) = origins_and_behaviors(ctx, &headers_id)?;
    let site_function = ctx
        .known
        .site_function_arn
        .clone()
        .context("internal: the site's CloudFront function is not known")?;
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
        .response_headers_policy_id(&headers_id)
        .compress(true)
        .function_associations(
            FunctionAssociations::builder()
                .quantity(1)
                .items(
                    FunctionAssociation::builder()
                        .function_arn(site_function)
                        .event_type(EventType::ViewerRequest)
                        .build()?,
                )
                .build()?,
        )
        .build()?;
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
        .custom_error_responses(CustomErrorResponses::builder().quantity(0).build()?)
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
            .set_origin_groups(l.origin_groups().cloned());
    }
    // The stack's web ACL with `rate_limit`; else one attached by someone else stays.
    let ours = web_acl::name(spec);
    let acl = if cf.rate_limit.is_some() {
        Some(
            ctx.known
                .web_acl_arn
                .clone()
                .context("internal: the web ACL is not known")?,
        )
    } else {
        live.and_then(|l| l.web_acl_id())
            .filter(|a| !a.is_empty() && web_acl::name_in_arn(a) != Some(ours.as_str()))
            .map(str::to_string)
    };
    b = b.web_acl_id(acl.unwrap_or_default());
    Ok(b.build()?)
}

/// The origins (the website bucket through its OAC; with `api_path` the Function URL through
/// its own) and the API's cache behaviour.
fn origins_and_behaviors(ctx: &Ctx, headers_id: &str) -> Result<(Vec<Origin>, Vec<CacheBehavior>)> {
    let spec = &ctx.spec;
    let oac = |origin: &str| {
        let name = oac_name(spec, origin);
        ctx.known
            .oac_ids
            .get(&name)
            .cloned()
            .with_context(|| format!("internal: origin access control {name} is not known"))
    };
    let mut origins = vec![Origin::builder()
        .id(SITE_ORIGIN)
        .domain_name(bucket_domain(&spec.website.bucket, &ctx.region))
        .origin_path("")
        .origin_access_control_id(oac(SITE_ORIGIN)?)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()?];
    let Some(api) = spec.website.api_path() else {
        return Ok((origins, Vec::new()));
    };
    let url = ctx
        .known
        .function_url
        .as_deref()
        .context("internal: the Function URL is not known")?;
    origins.push(
        Origin::builder()
            .id(API_ORIGIN)
            .domain_name(url_host(url))
            .origin_path("")
            .origin_access_control_id(oac(API_ORIGIN)?)
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
    let behavior = CacheBehavior::builder()
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
        .function_associations(FunctionAssociations::builder().quantity(0).build()?)
        .build()?;
    Ok((origins, vec![behavior]))
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
