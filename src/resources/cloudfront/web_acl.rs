//! `website.cloudfront.rate_limit`: a WAF web ACL (scope CLOUDFRONT, so in us-east-1) on the
//! distribution, allowing everything but one rate-based rule: a client IP that sends more
//! than `rate_limit` requests to `<api_path>/` in 5 minutes is blocked until it slows down.
//! The page and its assets are not counted. Found by its name in the CLOUDFRONT listing,
//! ours by its tags; every write sends the lock token read just before it.
//!
//! Fields: tags, default_action, rule, metrics.

use crate::resources::scope::{self, Arns};
use std::collections::BTreeMap;

use aws_sdk_wafv2::primitives::Blob;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, ByteMatchStatement, DefaultAction, FieldToMatch,
    PositionalConstraint, RateBasedStatement, RateBasedStatementAggregateKeyType, Rule, RuleAction,
    Scope, Statement, Tag, TextTransformation, TextTransformationType, UriPath, VisibilityConfig,
};
use futures::FutureExt;
use serde_json::{json, Value};

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{sdk_tags, unless_unused, Actions, Resource, Step};
use crate::retry::{retry, when};
use crate::spec::Spec;
use crate::state::{
    extra_tag_keys, tags_value, Change, Desired, Fields, Kind, Known, Live, Output,
};

pub const KIND: Kind = Kind::new("web_acl", "web ACL");

pub struct WebAcl;

/// The window WAF counts a client's requests in: `rate_limit` is per 5 minutes.
const WINDOW_SECONDS: i64 = 300;
const RULE: &str = "api-rate-limit";
/// The live field with the id, lock token and description a write sends (not a setting).
const LOCK: &str = "lock";

/// The web ACL's id, lock token and description: as read with `live`, else read now.
async fn lock(
    ctx: &Ctx,
    acl: &str,
    live: Option<&Live>,
) -> anyhow::Result<Option<(String, String, Option<String>)>> {
    if let Some(l) = live.and_then(|l| l.fields.get(LOCK)) {
        if let (Some(id), Some(token)) = (l["id"].as_str(), l["token"].as_str()) {
            let description = l["description"].as_str().map(str::to_string);
            return Ok(Some((id.to_string(), token.to_string(), description)));
        }
    }
    let Some((id, _)) = find(ctx, acl).await? else {
        return Ok(None);
    };
    Ok(get(ctx, acl, &id)
        .await?
        .map(|(current, token)| (id, token, current.description().map(str::to_string))))
}

pub fn name(spec: &Spec) -> String {
    format!("{}-{}-api", spec.name, spec.env)
}

/// The web ACL's name in its ARN (`arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>`).
pub fn name_in_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.rsplit('/');
    parts.next()?;
    parts.next()
}

/// What the rule matches: every path under the API's.
fn api_prefix(spec: &Spec) -> Option<String> {
    spec.website.api_path().map(|p| format!("{p}/"))
}

fn rule_value(limit: Option<u32>, prefix: Option<&str>) -> Value {
    json!({"name": RULE, "action": "block", "limit": limit, "window_seconds": WINDOW_SECONDS,
           "aggregate": "IP", "path_starts_with": prefix})
}

impl Resource for WebAcl {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        spec.website
            .cloudfront()
            .is_some_and(|c| c.rate_limit.is_some())
    }

    fn provides(&self) -> Option<Output> {
        Some(Output::WebAcl)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "wafv2:ListWebACLs",
                "wafv2:GetWebACL",
                "wafv2:ListTagsForResource",
            ],
            create: &["wafv2:CreateWebACL", "wafv2:TagResource"],
            update: &[
                "wafv2:GetWebACL",
                "wafv2:UpdateWebACL",
                "wafv2:TagResource",
                "wafv2:UntagResource",
            ],
            delete: &["wafv2:GetWebACL", "wafv2:DeleteWebACL"],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> scope::Scope {
        match action {
            "wafv2:ListWebACLs" => scope::Scope::any(),
            _ => scope::Scope::on([at.web_acl(&name(spec))]),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let spec = &ctx.spec;
        let limit = spec.website.cloudfront().and_then(|c| c.rate_limit);
        let mut d = Desired::default();
        d.set("tags", tags_value(&ctx.tags(KIND)));
        d.set("default_action", json!("allow"));
        d.set("rule", rule_value(limit, api_prefix(spec).as_deref()));
        d.set("metrics", json!(name(spec)));
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        let what = "WAF could not be checked for a web ACL left from an earlier `rate_limit` of \
                    this stack";
        unless_unused(ctx, self.wanted(&ctx.spec), what, read(ctx, name))
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        apply(ctx, live, changes).boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        // Detached from a distribution that is still deploying, WAF may hold on to it a while.
        async move {
            retry(ctx.timing.waf_propagation, when::web_acl_in_use, || {
                delete(ctx, name, live)
            })
            .await
            .map(|()| 0)
        }
        .boxed()
    }

    fn removed_by_up(&self) -> bool {
        true
    }
}

/// The id of the CLOUDFRONT web ACL named `name`.
async fn find(ctx: &Ctx, name: &str) -> anyhow::Result<Option<(String, String)>> {
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .aws
            .wafv2
            .list_web_acls()
            .scope(Scope::Cloudfront)
            .limit(100)
            .set_next_marker(marker.take())
            .send()
            .await
            .map_err(|e| aws_err("listing the CloudFront web ACLs", e))?;
        if let Some(acl) = page.web_acls().iter().find(|a| a.name() == Some(name)) {
            return Ok(acl
                .id()
                .zip(acl.arn())
                .map(|(i, a)| (i.to_string(), a.to_string())));
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() && !page.web_acls().is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

/// The web ACL and its lock token.
async fn get(
    ctx: &Ctx,
    name: &str,
    id: &str,
) -> anyhow::Result<Option<(aws_sdk_wafv2::types::WebAcl, String)>> {
    match ctx
        .aws
        .wafv2
        .get_web_acl()
        .name(name)
        .scope(Scope::Cloudfront)
        .id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .web_acl()
            .cloned()
            .map(|acl| (acl, out.lock_token().unwrap_or_default().to_string()))),
        Err(e) if code_in(&e, &["WAFNonexistentItemException"]) => Ok(None),
        Err(e) => Err(aws_err(format!("reading web ACL {name}"), e)),
    }
}

async fn read(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Live>> {
    let Some((id, arn)) = find(ctx, name).await? else {
        return Ok(None);
    };
    // The listing gives the ARN: the web ACL and its tags are read at once.
    let (got, tags) = tokio::join!(
        get(ctx, name, &id),
        ctx.aws
            .wafv2
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
    );
    let Some((acl, lock)) = got? else {
        return Ok(None);
    };
    let tags: BTreeMap<String, String> = match tags {
        Ok(t) => t
            .tag_info_for_resource()
            .map(|i| {
                i.tag_list()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) if code_in(&e, &["WAFNonexistentItemException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading the tags of web ACL {name}"), e)),
    };
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags));
    let default = acl.default_action();
    f.insert(
        "default_action",
        json!(match (
            default.and_then(|d| d.allow()),
            default.and_then(|d| d.block())
        ) {
            (Some(_), _) => "allow",
            (_, Some(_)) => "block",
            _ => "none",
        }),
    );
    f.insert("rule", rules_value(acl.rules()));
    f.insert(
        "metrics",
        json!(acl.visibility_config().map(|v| v.metric_name())),
    );
    // Not settings: what a write needs, so that it need not read the web ACL again.
    f.insert(
        LOCK,
        json!({"id": id, "token": lock, "description": acl.description()}),
    );
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known {
            web_acl_arn: Some(acl.arn().to_string()),
            ..Known::default()
        },
    }))
}

/// The one rule as the stack writes it; anything else (more rules, another shape) as found.
fn rules_value(rules: &[Rule]) -> Value {
    let [rule] = rules else {
        return json!(rules.iter().map(|r| r.name()).collect::<Vec<_>>());
    };
    let rate = rule.statement().and_then(|s| s.rate_based_statement());
    let Some(rate) = rate else {
        return json!({"name": rule.name(), "rate_based": false});
    };
    let prefix = rate
        .scope_down_statement()
        .and_then(|s| s.byte_match_statement())
        .filter(|b| {
            b.positional_constraint() == &PositionalConstraint::StartsWith
                && b.field_to_match().is_some_and(|f| f.uri_path().is_some())
        })
        .map(|b| String::from_utf8_lossy(b.search_string().as_ref()).into_owned());
    let action = match rule.action() {
        Some(a) if a.block().is_some() => "block",
        Some(a) if a.count().is_some() => "count",
        Some(a) if a.allow().is_some() => "allow",
        _ => "none",
    };
    let mut v = rule_value(u32::try_from(rate.limit()).ok(), prefix.as_deref());
    v["name"] = json!(rule.name());
    v["action"] = json!(action);
    v["window_seconds"] = json!(if rate.evaluation_window_sec() == 0 {
        WINDOW_SECONDS
    } else {
        rate.evaluation_window_sec()
    });
    v["aggregate"] = json!(rate.aggregate_key_type().as_str());
    v
}

fn visibility(metric: &str) -> anyhow::Result<VisibilityConfig> {
    Ok(VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()?)
}

/// The rate-based rule on the API's paths.
fn rule(spec: &Spec) -> anyhow::Result<Rule> {
    let limit = spec
        .website
        .cloudfront()
        .and_then(|c| c.rate_limit)
        .ok_or_else(|| anyhow::anyhow!("internal: a web ACL without `rate_limit`"))?;
    let prefix = api_prefix(spec)
        .ok_or_else(|| anyhow::anyhow!("internal: a web ACL without `api_path`"))?;
    let scope_down = Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(Blob::new(prefix.into_bytes()))
                .field_to_match(
                    FieldToMatch::builder()
                        .uri_path(UriPath::builder().build())
                        .build(),
                )
                .text_transformations(
                    TextTransformation::builder()
                        .priority(0)
                        .r#type(TextTransformationType::None)
                        .build()?,
                )
                .positional_constraint(PositionalConstraint::StartsWith)
                .build()?,
        )
        .build();
    Ok(Rule::builder()
        .name(RULE)
        .priority(0)
        .action(
            RuleAction::builder()
                .block(BlockAction::builder().build())
                .build(),
        )
        .statement(
            Statement::builder()
                .rate_based_statement(
                    RateBasedStatement::builder()
                        .limit(i64::from(limit))
                        .evaluation_window_sec(WINDOW_SECONDS)
                        .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                        .scope_down_statement(scope_down)
                        .build()?,
                )
                .build(),
        )
        .visibility_config(visibility(&format!("{}-rate", name(spec)))?)
        .build()?)
}

async fn apply(ctx: &Ctx, live: Option<&Live>, changes: &[Change]) -> anyhow::Result<Known> {
    let waf = &ctx.aws.wafv2;
    let spec = &ctx.spec;
    let acl = name(spec);
    let want = ctx.tags(KIND);
    let default = DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build();
    if live.is_none() {
        let tags = sdk_tags(&want, |k, v| Tag::builder().key(k).value(v).build())?;
        let made = waf
            .create_web_acl()
            .name(&acl)
            .scope(Scope::Cloudfront)
            .default_action(default)
            .rules(rule(spec)?)
            .visibility_config(visibility(&acl)?)
            .description(format!(
                "presign-stack {} ({}): rate limit on the presigner",
                spec.name, spec.env
            ))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_err(format!("creating web ACL {acl}"), e))?;
        let arn = made
            .summary()
            .and_then(|s| s.arn())
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("CreateWebACL for {acl} returned no ARN"))?;
        return Ok(Known {
            web_acl_arn: Some(arn),
            ..Known::default()
        });
    }
    let gone = || anyhow::anyhow!("web ACL {acl} is gone; run `up` again to create it");
    let (id, token, description) = lock(ctx, &acl, live).await?.ok_or_else(gone)?;
    let arn = live
        .and_then(|l| l.known.web_acl_arn.clone())
        .ok_or_else(gone)?;
    if changes.iter().any(|c| c.field != "tags") {
        let (rule, visibility) = (rule(spec)?, visibility(&acl)?);
        let update = |token: String, description: Option<String>| {
            let (default, rule, visibility) = (default.clone(), rule.clone(), visibility.clone());
            let (acl, id) = (acl.clone(), id.clone());
            async move {
                waf.update_web_acl()
                    .name(&acl)
                    .scope(Scope::Cloudfront)
                    .id(&id)
                    .lock_token(token)
                    .default_action(default)
                    .rules(rule)
                    .visibility_config(visibility)
                    .set_description(description)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| {
                        (
                            code_in(&e, &["WAFOptimisticLockException"]),
                            aws_err(format!("updating web ACL {acl}"), e),
                        )
                    })
            }
        };
        match update(token, description).await {
            Ok(()) => {}
            // Changed since it was read: once more with its token now.
            Err((true, _)) => {
                let (_, token, description) = lock(ctx, &acl, None).await?.ok_or_else(gone)?;
                update(token, description).await.map_err(|(_, e)| e)?;
            }
            Err((false, e)) => return Err(e),
        }
    }
    if let Some(c) = changes.iter().find(|c| c.field == "tags") {
        let tags = sdk_tags(&want, |k, v| Tag::builder().key(k).value(v).build())?;
        waf.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_err(format!("tagging web ACL {acl}"), e))?;
        let extra = extra_tag_keys(&c.old, &want);
        if !extra.is_empty() {
            waf.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(extra))
                .send()
                .await
                .map_err(|e| aws_err(format!("untagging web ACL {acl}"), e))?;
        }
    }
    Ok(Known {
        web_acl_arn: Some(arn),
        ..Known::default()
    })
}

async fn delete(ctx: &Ctx, acl: &str, live: &Live) -> anyhow::Result<()> {
    let mut from = Some(live);
    loop {
        let Some((id, token, _)) = lock(ctx, acl, from).await? else {
            return Ok(());
        };
        match ctx
            .aws
            .wafv2
            .delete_web_acl()
            .name(acl)
            .scope(Scope::Cloudfront)
            .id(&id)
            .lock_token(token)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if code_in(&e, &["WAFNonexistentItemException"]) => return Ok(()),
            // Changed since it was read: once more with its token now.
            Err(e) if from.is_some() && code_in(&e, &["WAFOptimisticLockException"]) => {
                drop(e);
                from = None;
            }
            Err(e) => return Err(aws_err(format!("deleting web ACL {acl}"), e)),
        }
    }
}
