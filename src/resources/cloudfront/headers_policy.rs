//! The response headers policy the distribution adds to every answer: HSTS, a
//! Content-Security-Policy (the page may load only itself, and talk only to itself, the
//! presigner and the documents bucket), nosniff, DENY framing and a referrer policy. It takes
//! no tags: its comment carries the stack's mark.
//!
//! Fields: comment, strict_transport_security, content_security_policy, content_type_options,
//! frame_options, referrer_policy.

use crate::resources::scope::{Arns, Condition, Scope};
use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    FrameOptionsList, ReferrerPolicyList, ResponseHeadersPolicyConfig,
    ResponseHeadersPolicyContentSecurityPolicy, ResponseHeadersPolicyContentTypeOptions,
    ResponseHeadersPolicyFrameOptions, ResponseHeadersPolicyReferrerPolicy,
    ResponseHeadersPolicySecurityHeadersConfig, ResponseHeadersPolicyStrictTransportSecurity,
    ResponseHeadersPolicyType,
};
use futures::FutureExt;
use serde_json::{json, Value};

use super::{headers_policy_name, listings, ownership_mark, url_host};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{function_url, Actions, Need, Owner, Resource, Step};
use crate::retry::{if_match, Current};
use crate::spec::Spec;
use crate::state::{Change, Desired, Fields, Kind, Known, Live, Output, SHOWN_UNKNOWN};

pub const KIND: Kind = Kind::new("response_headers_policy", "response headers policy");

pub struct HeadersPolicy;

const HSTS_SECONDS: i32 = 63_072_000;

impl Resource for HeadersPolicy {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        headers_policy_name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        spec.website.cloudfront().is_some()
    }

    fn needs(&self, spec: &Spec) -> Vec<Need> {
        // Without `api_path` the page calls the Function URL, which its CSP must name.
        match spec.website.api_path() {
            Some(_) => Vec::new(),
            None => vec![Need::Reads(function_url::KIND)],
        }
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["cloudfront:ListResponseHeadersPolicies"],
            create: &["cloudfront:CreateResponseHeadersPolicy"],
            update: &[
                "cloudfront:GetResponseHeadersPolicy",
                "cloudfront:UpdateResponseHeadersPolicy",
            ],
            delete: &[
                "cloudfront:GetResponseHeadersPolicy",
                "cloudfront:DeleteResponseHeadersPolicy",
            ],
        }
    }

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            "cloudfront:ListResponseHeadersPolicies" | "cloudfront:CreateResponseHeadersPolicy" => {
                Scope::any()
            }
            _ => Scope::on([at.cloudfront("response-headers-policy/*")])
                .when(Condition::Untaggable("HeadersPoliciesTakeNoTags")),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        d.set("comment", json!(ownership_mark(&ctx.spec)));
        d.set(
            "strict_transport_security",
            json!(format!("max-age={HSTS_SECONDS}; includeSubDomains")),
        );
        let csp = json!(content_security_policy(ctx));
        if ctx.spec.website.api_path().is_none() && ctx.known.function_url.is_none() {
            d.unknown("content_security_policy", Output::FunctionUrl, csp);
        } else {
            d.set("content_security_policy", csp);
        }
        d.set("content_type_options", json!("nosniff"));
        d.set("frame_options", json!("DENY"));
        d.set("referrer_policy", json!("strict-origin-when-cross-origin"));
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        async move {
            // Its id known (made in this run), it is read itself; else found in the listing.
            if let Some(id) = &ctx.known.headers_policy_id {
                let got = match ctx
                    .aws
                    .cloudfront
                    .get_response_headers_policy()
                    .id(id)
                    .send()
                    .await
                {
                    Ok(g) => g,
                    Err(e) if code_in(&e, &["NoSuchResponseHeadersPolicy"]) => return Ok(None),
                    Err(e) => {
                        return Err(aws_err(
                            format!("reading response headers policy {name}"),
                            e,
                        ))
                    }
                };
                return Ok(got
                    .response_headers_policy()
                    .and_then(|p| p.response_headers_policy_config())
                    .map(|c| live(id, c)));
            }
            let Some(found) = listings(ctx)? else {
                return Ok(None);
            };
            Ok(found
                .headers_policies
                .iter()
                .find(|p| p.config.name() == name)
                .map(|p| live(&p.id, &p.config)))
        }
        .boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        _changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            let id = match live.and_then(|l| l.known.headers_policy_id.as_deref()) {
                Some(id) => {
                    update(ctx, id).await?;
                    id.to_string()
                }
                None => create(ctx).await?,
            };
            Ok(Known {
                headers_policy_id: Some(id),
                ..Known::default()
            })
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        async move {
            let Some(id) = live.known.headers_policy_id.as_deref() else {
                return Ok(0);
            };
            let cf = &ctx.aws.cloudfront;
            if_match(
                ctx.timing.if_match_attempts,
                &format!("deleting response headers policy {name}"),
                || async {
                    match cf.get_response_headers_policy().id(id).send().await {
                        Ok(g) => Ok(Current::Write(g.e_tag().map(str::to_string))),
                        Err(e) if code_in(&e, &["NoSuchResponseHeadersPolicy"]) => {
                            Ok(Current::Gone)
                        }
                        Err(e) => Err(aws_err(
                            format!("reading response headers policy {name}"),
                            e,
                        )),
                    }
                },
                |etag| async move {
                    match cf
                        .delete_response_headers_policy()
                        .id(id)
                        .set_if_match(etag)
                        .send()
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if code_in(&e, &["NoSuchResponseHeadersPolicy"]) => Ok(()),
                        Err(e) => Err(aws_err(
                            format!("deleting response headers policy {name}"),
                            e,
                        )),
                    }
                },
            )
            .await?;
            Ok(0)
        }
        .boxed()
    }

    fn owner(&self, spec: &Spec, live: &Live) -> Owner {
        super::owner_by_mark(spec, live, "comment")
    }

    fn unmarked(&self, spec: &Spec) -> String {
        super::unmarked_by(spec, "comment")
    }

    fn removed_by_up(&self) -> bool {
        true
    }
}

fn live(id: &str, config: &ResponseHeadersPolicyConfig) -> Live {
    Live {
        fields: fields_of(config),
        known: Known {
            headers_policy_id: Some(id.to_string()),
            ..Known::default()
        },
        ..Live::default()
    }
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

/// Where the page signs in with `auth`: the issuer (its discovery document), and with
/// `auth.cognito` the managed sign-in domain too (its token endpoint).
fn sign_in_origins(ctx: &Ctx) -> Vec<String> {
    let Some(auth) = &ctx.spec.auth else {
        return Vec::new();
    };
    match &auth.cognito {
        Some(_) => {
            let issuer = crate::context::cognito_issuer(&ctx.region, "");
            let mut out = vec![origin_of(&issuer)];
            out.extend(crate::resources::cognito::sign_in_url(ctx));
            out
        }
        None => vec![origin_of(&auth.issuer)],
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
}

/// The Content-Security-Policy: the page may load only itself, and talk only to itself, the
/// presigner, the documents bucket and, with `auth`, where it signs in.
fn content_security_policy(ctx: &Ctx) -> String {
    let mut connect = vec!["'self'".to_string(), documents_endpoint(ctx)];
    if ctx.spec.website.api_path().is_none() {
        connect.push(match &ctx.known.function_url {
            Some(u) => format!("https://{}", url_host(u)),
            None => SHOWN_UNKNOWN.to_string(),
        });
    }
    connect.extend(sign_in_origins(ctx));
    format!(
        "default-src 'self'; connect-src {}; img-src 'self' data:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    )
}

/// A policy's configuration in the form [`Resource::desired`] makes.
fn fields_of(c: &ResponseHeadersPolicyConfig) -> Fields {
    let s = c.security_headers_config();
    let mut f = Fields::new();
    f.insert("comment", json!(c.comment()));
    f.insert(
        "strict_transport_security",
        json!(s.and_then(|s| s.strict_transport_security()).map(|h| {
            let mut v = format!("max-age={}", h.access_control_max_age_sec());
            if h.include_subdomains() == Some(true) {
                v.push_str("; includeSubDomains");
            }
            if h.preload() == Some(true) {
                v.push_str("; preload");
            }
            v
        })),
    );
    f.insert(
        "content_security_policy",
        json!(s
            .and_then(|s| s.content_security_policy())
            .map(|c| c.content_security_policy())),
    );
    f.insert(
        "content_type_options",
        json!(s.and_then(|s| s.content_type_options()).map(|_| "nosniff")),
    );
    f.insert(
        "frame_options",
        json!(s
            .and_then(|s| s.frame_options())
            .map(|f| f.frame_option().as_str())),
    );
    f.insert(
        "referrer_policy",
        json!(s
            .and_then(|s| s.referrer_policy())
            .map(|r| r.referrer_policy().as_str())),
    );
    f
}

fn config(ctx: &Ctx) -> Result<ResponseHeadersPolicyConfig> {
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
                .content_security_policy(content_security_policy(ctx))
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

/// Make the policy `id` what the spec says; an update sent again after its answer was lost
/// finds it done.
async fn update(ctx: &Ctx, id: &str) -> Result<()> {
    let cf = &ctx.aws.cloudfront;
    let name = headers_policy_name(&ctx.spec);
    let want = config(ctx)?;
    let wanted: Value = json!(fields_of(&want));
    if_match(
        ctx.timing.if_match_attempts,
        &format!("updating response headers policy {name}"),
        || async {
            let got = cf
                .get_response_headers_policy()
                .id(id)
                .send()
                .await
                .map_err(|e| aws_err(format!("reading response headers policy {name}"), e))?;
            let there = got
                .response_headers_policy()
                .and_then(|r| r.response_headers_policy_config());
            Ok(match there {
                Some(c) if json!(fields_of(c)) == wanted => Current::AsWanted,
                _ => Current::Write(got.e_tag().map(str::to_string)),
            })
        },
        |etag| {
            let want = want.clone();
            let name = &name;
            async move {
                cf.update_response_headers_policy()
                    .id(id)
                    .set_if_match(etag)
                    .response_headers_policy_config(want)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_err(format!("updating response headers policy {name}"), e))
            }
        },
    )
    .await?;
    Ok(())
}

async fn create(ctx: &Ctx) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    let name = headers_policy_name(&ctx.spec);
    match cf
        .create_response_headers_policy()
        .response_headers_policy_config(config(ctx)?)
        .send()
        .await
    {
        Ok(out) => out
            .response_headers_policy()
            .map(|p| p.id().to_string())
            .with_context(|| format!("response headers policy {name}: no id in the answer")),
        // Sent again after a lost answer, or made by another run at once.
        Err(e) if code_in(&e, &["ResponseHeadersPolicyAlreadyExists"]) => {
            let list = cf
                .list_response_headers_policies()
                .r#type(ResponseHeadersPolicyType::Custom)
                .send()
                .await
                .map_err(|e| aws_err("listing CloudFront response headers policies", e))?;
            let mark = ownership_mark(&ctx.spec);
            list.response_headers_policy_list()
                .map(|l| l.items())
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i.response_headers_policy())
                .find(|p| {
                    p.response_headers_policy_config()
                        .is_some_and(|c| c.name() == name && c.comment() == Some(mark.as_str()))
                })
                .map(|p| p.id().to_string())
                .ok_or_else(|| aws_err(format!("creating response headers policy {name}"), e))
        }
        Err(e) => Err(aws_err(
            format!("creating response headers policy {name}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_of_issuers() {
        assert_eq!(
            origin_of("https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Ab"),
            "https://cognito-idp.eu-central-1.amazonaws.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(
            origin_of("https://login.example.com/"),
            "https://login.example.com"
        );
    }
}
