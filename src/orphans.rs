//! Orphans: resources tagged with this stack and environment that the spec no longer names
//! (after a bucket, function or role rename). They show up as deletes in `plan` and `drift`;
//! `up --prune` removes them.
//!
//! Buckets and functions are found with one tag query (Resource Groups Tagging API); roles by
//! listing the path every role of this tool lives under, then reading each candidate's tags.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde::Serialize;

use crate::errors::{aws_err, code_in};
use crate::resources::bucket::{self, Which};
use crate::resources::{
    function, function_url, log_group, owner, role, Ctx, Owner, ROLE_PATH, TAG_RESOURCE,
};
use crate::spec::{TAG_ENV, TAG_STACK};
use crate::state::Kind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub kind: Kind,
    pub name: String,
}

pub async fn find(ctx: &Ctx) -> Result<Vec<Orphan>> {
    let (tagged, roles) = tokio::join!(tagged_buckets_and_functions(ctx), roles(ctx));
    let mut out = tagged?;
    out.extend(roles?);
    let spec = &ctx.spec;
    out.retain(|o| match o.kind {
        Kind::DocumentsBucket | Kind::WebsiteBucket => {
            o.name != spec.documents.bucket && o.name != spec.website.bucket
        }
        Kind::Function => o.name != spec.presigner.function_name,
        Kind::Role => o.name != spec.presigner.role_name,
        _ => true,
    });
    // The tagging index is eventually consistent: a bucket or function deleted a minute ago
    // can still be listed. Only what still exists is an orphan (checked for the candidates
    // only, so a stack without orphans costs no extra request).
    let exists = futures::future::join_all(out.iter().map(|o| still_exists(ctx, o))).await;
    let mut live = Vec::new();
    for (o, e) in out.into_iter().zip(exists) {
        if e? {
            live.push(o);
        }
    }
    live.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok(live)
}

async fn tagged_buckets_and_functions(ctx: &Ctx) -> Result<Vec<Orphan>> {
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let mut pages = ctx
        .aws
        .tagging
        .get_resources()
        .tag_filters(filter(TAG_STACK, &ctx.spec.name))
        .tag_filters(filter(TAG_ENV, &ctx.spec.env))
        .resource_type_filters("s3:bucket")
        .resource_type_filters("lambda:function")
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err("looking up the stack's tagged resources", e))?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tags: BTreeMap<&str, &str> = mapping
                .tags()
                .iter()
                .map(|t| (t.key(), t.value()))
                .collect();
            let tagged_kind = tags.get(TAG_RESOURCE).and_then(|v| Kind::from_tag_value(v));
            if let Some(name) = arn.strip_prefix("arn:aws:s3:::") {
                let kind = tagged_kind
                    .filter(|k| matches!(k, Kind::DocumentsBucket | Kind::WebsiteBucket))
                    .unwrap_or(Kind::DocumentsBucket);
                out.push(Orphan {
                    kind,
                    name: name.to_string(),
                });
            } else if let Some((_, name)) = arn.split_once(":function:") {
                // Versions and aliases are `function:name:qualifier`.
                let name = name.split(':').next().unwrap_or(name);
                out.push(Orphan {
                    kind: Kind::Function,
                    name: name.to_string(),
                });
            }
        }
    }
    out.dedup();
    Ok(out)
}

async fn still_exists(ctx: &Ctx, o: &Orphan) -> Result<bool> {
    match o.kind {
        Kind::DocumentsBucket | Kind::WebsiteBucket => {
            match ctx.aws.s3.head_bucket().bucket(&o.name).send().await {
                Ok(_) => Ok(true),
                Err(e) if crate::errors::status_is(&e, 404) => Ok(false),
                Err(e) => Err(aws_err(format!("checking bucket {}", o.name), e)),
            }
        }
        Kind::Function => {
            match ctx
                .aws
                .lambda
                .get_function_configuration()
                .function_name(&o.name)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(false),
                Err(e) => Err(aws_err(format!("checking function {}", o.name), e)),
            }
        }
        _ => Ok(true),
    }
}

async fn roles(ctx: &Ctx) -> Result<Vec<Orphan>> {
    let iam = &ctx.aws.iam;
    let mut pages = iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err(format!("listing roles under {ROLE_PATH}"), e))?;
        names.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| *n != ctx.spec.presigner.role_name),
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
            Err(e) if code_in(&e, &["NoSuchEntity"]) => continue,
            Err(e) => return Err(aws_err(format!("reading the tags of role {name}"), e)),
        };
        let tags: BTreeMap<String, String> = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        if owner(&ctx.spec, &tags) == Owner::ThisStack {
            out.push(Orphan {
                kind: Kind::Role,
                name,
            });
        }
    }
    Ok(out)
}

/// Delete one orphan; tolerates it being gone already. Returns objects deleted (buckets).
pub async fn delete(ctx: &Ctx, orphan: &Orphan) -> Result<usize> {
    match orphan.kind {
        Kind::DocumentsBucket => {
            bucket::empty_and_delete(ctx, Which::Documents, &orphan.name).await
        }
        Kind::WebsiteBucket => bucket::empty_and_delete(ctx, Which::Website, &orphan.name).await,
        Kind::Function => {
            function_url::delete(ctx, &orphan.name).await?;
            function::delete(ctx, &orphan.name).await?;
            // Its log group goes with it, if it is the stack's.
            if let Some(group) = log_group::read(ctx, &orphan.name).await? {
                if owner(&ctx.spec, &group.tags) == Owner::ThisStack {
                    log_group::delete(ctx, &orphan.name).await?;
                }
            }
            Ok(0)
        }
        Kind::LogGroup => {
            let function = orphan
                .name
                .strip_prefix("/aws/lambda/")
                .unwrap_or(&orphan.name);
            log_group::delete(ctx, function).await?;
            Ok(0)
        }
        Kind::Role => {
            role::delete(ctx, &orphan.name).await?;
            Ok(0)
        }
        Kind::Distribution => {
            let live = crate::resources::distribution::read(ctx).await?;
            crate::resources::distribution::delete(ctx, &live).await?;
            Ok(0)
        }
        Kind::FunctionUrl | Kind::WebsiteContent => Ok(0),
    }
}
