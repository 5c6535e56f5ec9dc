//! The CloudFront distribution: the website bucket as its default origin (through its OAC),
//! with `api_path` the Function URL as a second one, the response headers policy on every
//! answer, HTTPS only. Found by its comment (CloudFront chooses its id); ours by its tags.
//!
//! Fields: tags, enabled, comment, aliases, certificate, price_class, http_version, ipv6,
//! default_root_object, error_responses, origins, default_behavior, behaviors. Its OACs and
//! headers policy are resources of their own, named here by their names.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomErrorResponse,
    CustomErrorResponses, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, HttpVersion, Method, MinimumProtocolVersion, Origin,
    OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass, S3OriginConfig, SslProtocol,
    SslSupportMethod, Tag, TagKeys, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use futures::FutureExt;
use serde_json::{json, Value};

use super::{
    comment, headers_policy, headers_policy_name, label, listings, oac_name, origin_access_control,
    url_host, API_ORIGIN, SITE_ORIGIN,
};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{function_url, owner, sdk_tags, Actions, Need, Owner, Resource, Step};
use crate::retry::{if_match, poll, Current, Poll, Written};
use crate::spec::Spec;
use crate::state::{
    tags_value, Cdn, Change, Desired, Fields, Kind, Known, Live, Output, SHOWN_UNKNOWN,
};

pub const KIND: Kind = Kind::new("distribution", "distribution");

pub struct Distribution;

impl Resource for Distribution {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        label(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        spec.website.cloudfront().is_some()
    }

    fn needs(&self, spec: &Spec) -> Vec<Need> {
        // Every OAC, wanted or not: one the distribution may still use goes after it.
        let mut needs = vec![
            Need::Uses(origin_access_control::SITE_KIND),
            Need::Uses(origin_access_control::API_KIND),
            Need::Uses(headers_policy::KIND),
        ];
        if spec.website.api_path().is_some() {
            needs.push(Need::Reads(function_url::KIND));
        }
        needs
    }

    fn provides(&self) -> Option<Output> {
        Some(Output::Distribution)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "cloudfront:ListDistributions",
                "cloudfront:GetDistribution",
                "cloudfront:ListTagsForResource",
            ],
            create: &["cloudfront:CreateDistribution", "cloudfront:TagResource"],
            update: &[
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
                "cloudfront:TagResource",
                "cloudfront:UntagResource",
            ],
            delete: &[
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
                "cloudfront:GetDistribution",
                "cloudfront:DeleteDistribution",
            ],
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        desired(ctx)
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, _name: &'a str) -> Step<'a, Option<Live>> {
        async move {
            let empty = crate::discovery::CloudFront::default();
            // Its id known (made in this run), it is read itself; else found by its comment.
            if let Some(cdn) = &ctx.known.cdn {
                return read_id(ctx, &cdn.id, listings(ctx)?.unwrap_or(&empty)).await;
            }
            let Some(found) = listings(ctx)? else {
                return Ok(None);
            };
            let want = comment(&ctx.spec);
            let ids: Vec<&str> = found
                .distributions
                .iter()
                .filter(|d| d.comment == want)
                .map(|d| d.id.as_str())
                .collect();
            if ids.len() > 1 {
                ctx.report.warn(format!(
                    "{} distributions have the comment `{want}` ({}); this run uses {}, and each \
                     `down` deletes one of them",
                    ids.len(),
                    ids.join(", "),
                    ids[0]
                ));
            }
            match ids.first() {
                Some(id) => read_id(ctx, id, found).await,
                None => Ok(None),
            }
        }
        .boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            let cdn = match live.and_then(|l| l.known.cdn.clone()) {
                None => create_distribution(ctx, distribution_config(ctx, None)?).await?,
                Some(cdn) => {
                    if changes.iter().any(|c| c.field != "tags") {
                        update_distribution(ctx, &cdn.id).await?;
                    }
                    if let Some(change) = changes.iter().find(|c| c.field == "tags") {
                        retag(ctx, &cdn, change).await?;
                    }
                    cdn
                }
            };
            Ok(Known {
                cdn: Some(cdn),
                ..Known::default()
            })
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, _name: &'a str, live: &'a Live) -> Step<'a, usize> {
        async move {
            if let Some(cdn) = &live.known.cdn {
                delete_distribution(ctx, cdn).await?;
            }
            Ok(0)
        }
        .boxed()
    }

    fn removed_by_up(&self) -> bool {
        true
    }

    fn down_label(&self, name: &str) -> String {
        format!("distribution {name} (disabled first; CloudFront takes minutes to deploy that)")
    }
}

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

/// The distribution `id`: its configuration and tags, read at once.
async fn read_id(
    ctx: &Ctx,
    id: &str,
    found: &crate::discovery::CloudFront,
) -> Result<Option<Live>> {
    let cf = &ctx.aws.cloudfront;
    let arn = format!("arn:aws:cloudfront::{}:distribution/{id}", ctx.account);
    let (got, tags) = tokio::join!(
        cf.get_distribution().id(id).send(),
        cf.list_tags_for_resource().resource(&arn).send()
    );
    let got = match got {
        Ok(g) => g,
        // Deleted since it was listed.
        Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
    };
    let tags: BTreeMap<String, String> = match tags {
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
        Err(e) if code_in(&e, &["NoSuchResource", "NoSuchDistribution"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading the tags of distribution {id}"), e)),
    };
    let d = got
        .distribution()
        .with_context(|| format!("distribution {id}: no distribution in the answer"))?;
    let config = d
        .distribution_config()
        .with_context(|| format!("distribution {id}: no configuration in the answer"))?;
    // Named by what was listed, and by what this run made.
    let oac_names: BTreeMap<String, String> = found
        .oacs
        .iter()
        .map(|o| (o.id.clone(), o.name.clone()))
        .chain(
            ctx.known
                .oac_ids
                .iter()
                .map(|(n, id)| (id.clone(), n.clone())),
        )
        .collect();
    let headers_names: BTreeMap<String, String> = found
        .headers_policies
        .iter()
        .map(|p| (p.id.clone(), p.config.name().to_string()))
        .chain(
            ctx.known
                .headers_policy_id
                .iter()
                .map(|id| (id.clone(), headers_policy_name(&ctx.spec))),
        )
        .collect();
    Ok(Some(Live {
        fields: fields_of(config, &tags, &oac_names, &headers_names),
        tags,
        known: Known {
            cdn: Some(Cdn {
                id: d.id().to_string(),
                arn: d.arn().to_string(),
                domain: d.domain_name().to_string(),
            }),
            ..Known::default()
        },
    }))
}

/// The stack's distribution as CloudFront lists it now (not as discovery found it).
async fn find_fresh(ctx: &Ctx) -> Result<Option<Live>> {
    let want = comment(&ctx.spec);
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_err("listing CloudFront distributions", e))?;
        let Some(list) = page.distribution_list() else {
            return Ok(None);
        };
        if let Some(d) = list.items().iter().find(|d| d.comment() == want) {
            let empty = crate::discovery::CloudFront::default();
            return read_id(ctx, d.id(), &empty).await;
        }
        match list
            .next_marker()
            .filter(|m| list.is_truncated() && !m.is_empty())
        {
            Some(m) => marker = Some(m.to_string()),
            None => return Ok(None),
        }
    }
}

/// The website bucket's regional REST endpoint, the distribution's S3 origin.
pub fn bucket_domain(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

fn desired(ctx: &Ctx) -> Desired {
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
fn fields_of(
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
                    compress: Option<bool>| {
        let mut m: Vec<&str> = methods
            .map(|m| m.items().iter().map(|x| x.as_str()).collect())
            .unwrap_or_default();
        m.sort();
        json!({"origin": origin, "viewer_protocol_policy": viewer.as_str(), "methods": m,
               "cache_policy": policy_name(cache, &BTreeMap::new()),
               "origin_request_policy": policy_name(request, &BTreeMap::new()),
               "headers_policy": policy_name(headers, ours_by_id),
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
    f
}

/// The distribution's configuration as the spec wants it; what the spec does not manage
/// (logging, geo restrictions, a web ACL, the caller reference) is kept from `live`.
fn distribution_config(ctx: &Ctx, live: Option<&DistributionConfig>) -> Result<DistributionConfig> {
    let spec = &ctx.spec;
    let w = &spec.website;
    let cf = w
        .cloudfront()
        .context("internal: a distribution without `hosting: cloudfront`")?;
    let oac = |origin: &str| {
        let name = oac_name(spec, origin);
        ctx.known
            .oac_ids
            .get(&name)
            .cloned()
            .with_context(|| format!("internal: origin access control {name} is not known"))
    };
    let headers_id = ctx
        .known
        .headers_policy_id
        .clone()
        .context("internal: the response headers policy is not known")?;
    let headers_id = headers_id.as_str();
    let mut origins = vec![Origin::builder()
        .id(SITE_ORIGIN)
        .domain_name(bucket_domain(&w.bucket, &ctx.region))
        .origin_path("")
        .origin_access_control_id(oac(SITE_ORIGIN)?)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()?];
    let mut behaviors = Vec::new();
    if let Some(api) = &cf.api_path {
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
    let items = sdk_tags(&ctx.tags(KIND), |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
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
            if let Some(found) = find_fresh(ctx).await? {
                if owner(&ctx.spec, &found.tags) == Owner::ThisStack {
                    if let Some(cdn) = found.known.cdn {
                        return Ok(cdn);
                    }
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

/// UpdateDistribution with the spec's configuration (what it does not manage kept from the
/// live one), under the ETag of the configuration it replaces.
async fn update_distribution(ctx: &Ctx, id: &str) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    if_match(
        ctx.timing.if_match_attempts,
        &format!("updating distribution {id}"),
        || async {
            let got = cf
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .map_err(|e| aws_err(format!("reading distribution {id}"), e))?;
            let live = got
                .distribution_config()
                .with_context(|| format!("distribution {id}: no configuration"))?;
            Ok(Current::Write((
                distribution_config(ctx, Some(live))?,
                got.e_tag().map(str::to_string),
            )))
        },
        |(config, etag)| async move {
            cf.update_distribution()
                .id(id)
                .set_if_match(etag)
                .distribution_config(config)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_err(format!("updating distribution {id}"), e))
        },
    )
    .await?;
    Ok(())
}

/// The ownership tags as the spec wants them, and no other.
async fn retag(ctx: &Ctx, cdn: &Cdn, change: &Change) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let want = ctx.tags(KIND);
    let extra = crate::state::extra_tag_keys(&change.old, &want);
    if !extra.is_empty() {
        cf.untag_resource()
            .resource(&cdn.arn)
            .tag_keys(TagKeys::builder().set_items(Some(extra)).build())
            .send()
            .await
            .map_err(|e| aws_err(format!("untagging distribution {}", cdn.id), e))?;
    }
    cf.tag_resource()
        .resource(&cdn.arn)
        .tags(tags_of(ctx)?)
        .send()
        .await
        .map_err(|e| aws_err(format!("tagging distribution {}", cdn.id), e))?;
    Ok(())
}

/// Disable the distribution, wait until CloudFront has deployed that, delete it.
async fn delete_distribution(ctx: &Ctx, cdn: &Cdn) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let id = &cdn.id;
    let disabled = if_match(
        ctx.timing.if_match_attempts,
        &format!("disabling distribution {id}"),
        || async {
            let got = match cf.get_distribution_config().id(id).send().await {
                Ok(g) => g,
                Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(Current::Gone),
                Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
            };
            let config = got
                .distribution_config()
                .with_context(|| format!("distribution {id}: no configuration"))?;
            if !config.enabled() {
                return Ok(Current::AsWanted);
            }
            let mut off = config.clone();
            off.enabled = false;
            Ok(Current::Write((off, got.e_tag().map(str::to_string))))
        },
        |(off, etag)| async move {
            ctx.report
                .status("Disabling", format!("distribution {id} ({})", cdn.domain));
            cf.update_distribution()
                .id(id)
                .set_if_match(etag)
                .distribution_config(off)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_err(format!("disabling distribution {id}"), e))
        },
    )
    .await?;
    if disabled == Written::Gone {
        return Ok(());
    }
    if_match(
        ctx.timing.if_match_attempts,
        &format!("deleting distribution {id}"),
        || async {
            Ok(match wait_deployed(ctx, cdn).await? {
                Some(etag) => Current::Write(etag),
                None => Current::Gone,
            })
        },
        |etag| async move {
            match cf.delete_distribution().id(id).if_match(etag).send().await {
                Ok(_) => Ok(()),
                Err(e) if code_in(&e, &["NoSuchDistribution"]) => Ok(()),
                Err(e) => Err(aws_err(format!("deleting distribution {id}"), e)),
            }
        },
    )
    .await?;
    Ok(())
}

/// Poll until the distribution is Deployed; its ETag then, or `None` when it is gone.
pub async fn wait_deployed(ctx: &Ctx, cdn: &Cdn) -> Result<Option<String>> {
    let id = &cdn.id;
    let mut said: Option<std::time::Duration> = None;
    poll(
        ctx.timing.cdn_deployed,
        &ctx.cancel,
        &format!("distribution {id}"),
        || async {
            let got = match ctx.aws.cloudfront.get_distribution().id(id).send().await {
                Ok(g) => g,
                Err(e) if code_in(&e, &["NoSuchDistribution"]) => return Ok(Poll::Ready(None)),
                Err(e) => return Err(aws_err(format!("reading distribution {id}"), e)),
            };
            let status = got
                .distribution()
                .map(|d| d.status().to_string())
                .unwrap_or_default();
            Ok(if status == "Deployed" {
                Poll::Ready(got.e_tag().map(str::to_string))
            } else {
                Poll::Waiting(status)
            })
        },
        |_, waited| {
            if said.is_none_or(|t| waited.saturating_sub(t).as_secs() >= 30) {
                ctx.report.status(
                    "Waiting",
                    format!(
                        "for CloudFront to deploy distribution {id} ({}s so far; it usually \
                         takes a few minutes)",
                        waited.as_secs()
                    ),
                );
                said = Some(waited);
            }
        },
        |_, waited| {
            anyhow::anyhow!(
                "CloudFront is still deploying the last change to distribution {id} ({}) \
                 after {}s (it usually takes a few minutes); run the command again to go on \
                 from there",
                cdn.domain,
                waited.as_secs()
            )
        },
    )
    .await
}
