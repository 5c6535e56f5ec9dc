//! The presigner's log group, `/aws/lambda/<function>`. Lambda would make it on the first
//! invocation with no retention: its logs (keys, file names) would be kept forever and outlive
//! `down`. presign-stack creates it before the function, with `presigner.log_retention_days`
//! and the ownership tags, and deletes it after the function.
//!
//! Fields: tags, retention_days.

use crate::resources::scope::{Arns, Scope};
use std::collections::{BTreeMap, HashMap};

use futures::FutureExt;
use serde_json::json;

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{Actions, Orphans, Resource, Step};
use crate::spec::Spec;
use crate::state::{extra_tag_keys, tags_value, Change, Desired, Kind, Known, Live};

pub const KIND: Kind = Kind::new("log_group", "log group");

pub struct LogGroup;

/// The log group Lambda writes a function's logs to.
pub fn name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

fn arn(ctx: &Ctx, group: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{group}",
        ctx.region, ctx.account
    )
}

impl Resource for LogGroup {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        name(&spec.presigner.function_name)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["logs:DescribeLogGroups", "logs:ListTagsForResource"],
            create: &[
                "logs:CreateLogGroup",
                "logs:TagResource",
                "logs:PutRetentionPolicy",
            ],
            update: &[
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            delete: &["logs:DeleteLogGroup"],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            "logs:DescribeLogGroups" => Scope::any(),
            _ => Scope::on(at.log_group(&self.name(spec))),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        d.set("tags", tags_value(&ctx.tags(KIND)));
        d.set(
            "retention_days",
            json!(ctx.spec.presigner.log_retention_days),
        );
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        read(ctx, name).boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        apply(ctx, live.is_none(), changes).boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, _: &'a Live) -> Step<'a, usize> {
        async move {
            match ctx
                .aws
                .logs
                .delete_log_group()
                .log_group_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(0),
                Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(0),
                Err(e) => Err(aws_err(format!("deleting log group {name}"), e)),
            }
        }
        .boxed()
    }

    fn comes_with(&self) -> Option<Kind> {
        Some(super::KIND)
    }

    fn orphans(&self) -> Orphans {
        Orphans::Follow {
            kind: super::KIND,
            name,
        }
    }
}

/// The live log group named `group`; `None` when it does not exist.
async fn read(ctx: &Ctx, group: &str) -> anyhow::Result<Option<Live>> {
    let logs = &ctx.aws.logs;
    let (found, tags) = tokio::join!(
        logs.describe_log_groups()
            .log_group_name_prefix(group)
            .send(),
        logs.list_tags_for_resource()
            .resource_arn(arn(ctx, group))
            .send(),
    );
    let found = found.map_err(|e| aws_err(format!("reading log group {group}"), e))?;
    let Some(live) = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
    else {
        return Ok(None);
    };
    let tags: BTreeMap<String, String> = match tags {
        Ok(t) => t
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        // Deleted between the two reads.
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading the tags of log group {group}"), e)),
    };
    let mut f = crate::state::Fields::new();
    f.insert("tags", tags_value(&tags));
    // No retention means "never expire".
    f.insert("retention_days", json!(live.retention_in_days()));
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known::default(),
    }))
}

/// Create the log group (with its tags and retention, at once) or update the changed fields.
async fn apply(ctx: &Ctx, created: bool, changes: &[Change]) -> anyhow::Result<Known> {
    let logs = &ctx.aws.logs;
    let group = name(&ctx.spec.presigner.function_name);
    let want = ctx.tags(KIND);
    if created {
        let tags: HashMap<String, String> = want.clone().into_iter().collect();
        match logs
            .create_log_group()
            .log_group_name(&group)
            .set_tags(Some(tags))
            .send()
            .await
        {
            Ok(_) => {}
            // A retried create whose first answer was lost.
            Err(e) if code_in(&e, &["ResourceAlreadyExistsException"]) => {}
            Err(e) => return Err(aws_err(format!("creating log group {group}"), e)),
        }
    }
    for change in changes {
        match change.field {
            "retention_days" => {
                logs.put_retention_policy()
                    .log_group_name(&group)
                    .retention_in_days(ctx.spec.presigner.log_retention_days as i32)
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("setting the retention of {group}"), e))?;
            }
            "tags" if !created => {
                logs.tag_resource()
                    .resource_arn(arn(ctx, &group))
                    .set_tags(Some(want.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("tagging log group {group}"), e))?;
                let extra = extra_tag_keys(&change.old, &want);
                if !extra.is_empty() {
                    logs.untag_resource()
                        .resource_arn(arn(ctx, &group))
                        .set_tag_keys(Some(extra))
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("untagging log group {group}"), e))?;
                }
            }
            _ => {}
        }
    }
    Ok(Known::default())
}
