//! The presigner's log group, `/aws/lambda/<function>`. Lambda would make it on the first
//! invocation with no retention: its logs (keys, file names) would be kept forever and outlive
//! `down`. presign-stack creates it before the function, with `presigner.log_retention_days`
//! and the ownership tags, and deletes it with the function.
//!
//! Fields: tags, retention_days.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::errors::{aws_err, code_in};
use crate::state::{extra_tag_keys, tags_value, Change, Fields, Kind, Live};

/// The log group Lambda writes a function's logs to.
pub fn name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

fn arn(ctx: &Ctx, function: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{}",
        ctx.region,
        ctx.account,
        name(function)
    )
}

pub fn desired(ctx: &Ctx) -> Fields {
    let mut f = Fields::new();
    f.insert("tags", tags_value(&ctx.tags(Kind::LogGroup)));
    f.insert(
        "retention_days",
        json!(ctx.spec.presigner.log_retention_days),
    );
    f
}

/// The live log group of `function`; `None` when it does not exist.
pub async fn read(ctx: &Ctx, function: &str) -> Result<Option<Live>> {
    let logs = &ctx.aws.logs;
    let group = name(function);
    let (found, tags) = tokio::join!(
        logs.describe_log_groups()
            .log_group_name_prefix(&group)
            .send(),
        logs.list_tags_for_resource()
            .resource_arn(arn(ctx, function))
            .send(),
    );
    let found = found.map_err(|e| aws_err(format!("reading log group {group}"), e))?;
    let Some(live) = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()))
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
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags));
    // No retention means "never expire".
    f.insert("retention_days", json!(live.retention_in_days()));
    Ok(Some(Live { tags, fields: f }))
}

/// Create the log group (with its tags, in one call) or update the changed fields.
pub async fn apply(ctx: &Ctx, created: bool, changes: &[Change]) -> Result<()> {
    let logs = &ctx.aws.logs;
    let function = &ctx.spec.presigner.function_name;
    let group = name(function);
    let want = ctx.tags(Kind::LogGroup);
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
                    .resource_arn(arn(ctx, function))
                    .set_tags(Some(want.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("tagging log group {group}"), e))?;
                let extra = extra_tag_keys(&change.old, &want);
                if !extra.is_empty() {
                    logs.untag_resource()
                        .resource_arn(arn(ctx, function))
                        .set_tag_keys(Some(extra))
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("untagging log group {group}"), e))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Delete the log group of `function`; tolerates one already gone.
pub async fn delete(ctx: &Ctx, function: &str) -> Result<()> {
    let group = name(function);
    match ctx
        .aws
        .logs
        .delete_log_group()
        .log_group_name(&group)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(()),
        Err(e) => Err(aws_err(format!("deleting log group {group}"), e)),
    }
}
