//! The CloudFront distribution: the website bucket as its default origin (through its OAC),
//! with `api_path` the Function URL as a second one, the response headers policy on every
//! answer, HTTPS only. Found by its comment (CloudFront chooses its id); ours by its tags.
//!
//! Fields: tags, enabled, comment, aliases, certificate, price_class, http_version, ipv6,
//! default_root_object, error_responses (none: the site's CloudFront Function serves the
//! page, on the default behaviour only), origins, default_behavior, behaviors. Its OACs,
//! headers policy and function are resources of their own, named here by their names.

mod config;

use crate::resources::scope::{Arns, Condition, Scope};
use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types::{
    DistributionConfig, DistributionConfigWithTags, Tag, TagKeys, Tags,
};
use futures::FutureExt;

pub use self::config::bucket_domain;
use self::config::{desired, distribution_config, fields_of};
use super::{
    comment, headers_policy, headers_policy_name, label, listings, origin_access_control,
    site_function, web_acl,
};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{function_url, owner, sdk_tags, Actions, Need, Owner, Resource, Step};
use crate::retry::{if_match, poll, retry, when, Current, Poll, Written};
use crate::spec::Spec;
use crate::state::{Cdn, Change, Desired, Kind, Known, Live, Output};

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
            Need::Uses(site_function::KIND),
            Need::Uses(web_acl::KIND),
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

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        let all = Scope::on([at.cloudfront("distribution/*")]);
        match action {
            "cloudfront:ListDistributions" => Scope::any(),
            // Reads find the stack's among all (by comment, then tags).
            "cloudfront:GetDistribution"
            | "cloudfront:GetDistributionConfig"
            | "cloudfront:ListTagsForResource" => all.part("Read"),
            // A new distribution has no ARN yet: the tags it is created with are what can be
            // asked.
            "cloudfront:CreateDistribution" => Scope::any().when(Condition::TaggedRequest),
            // With the stack's tags, and never on a distribution tagged for another stack.
            "cloudfront:TagResource" => all.when(Condition::TaggedRequestNotOthers),
            _ => all.when(Condition::Tagged),
        }
    }

    fn desired(&self, ctx: &Ctx, live: Option<&Live>) -> Desired {
        desired(ctx, live.and_then(|l| l.fields.get("web_acl")))
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
                // A web ACL made moments ago may not be accepted yet.
                None => {
                    retry(
                        ctx.timing.waf_propagation,
                        when::web_acl_not_ready,
                        || async {
                            create_distribution(ctx, distribution_config(ctx, None)?).await
                        },
                    )
                    .await?
                }
                Some(cdn) => {
                    if changes.iter().any(|c| c.field != "tags") {
                        retry(ctx.timing.waf_propagation, when::web_acl_not_ready, || {
                            update_distribution(ctx, &cdn.id)
                        })
                        .await?;
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

    fn down_label(&self, name: &str, _live: &Live) -> String {
        format!("distribution {name} (disabled first; CloudFront takes minutes to deploy that)")
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
