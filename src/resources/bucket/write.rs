//! Writing a bucket: the create, and one setter per field.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyError;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CorsConfiguration, CorsRule, CreateBucketConfiguration, ErrorDocument, IndexDocument,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration, WebsiteConfiguration,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use serde_json::{json, Value};

use super::lifecycle::{lifecycle_rule_to_aws, lifecycle_rules};
use super::{tags, Which};
use crate::context::Ctx;
use crate::errors::{all, aws_err, code_in};
use crate::resources::sdk_tags;
use crate::retry::{retry, when};
use crate::spec::Encryption;
use crate::state::{policy_text, tags_value, Change};
use crate::sync::TAG_CONTENT_RULES;

/// Create the bucket when `created`, then set every field in `changes`, all at once but a
/// public policy, which waits for the public access block it must be allowed by.
pub async fn apply(ctx: &Ctx, which: Which, created: bool, changes: &[Change]) -> Result<()> {
    let bucket = which.name(&ctx.spec).to_string();
    let label = which.label(&ctx.spec);
    if created {
        create(ctx, &bucket, &label, tags(ctx, which)).await?;
    }
    let set = |change| set_changed(ctx, which, &bucket, &label, created, change);
    // A public policy is refused until the public access block allows it: it goes after.
    let public = which == Which::Website && ctx.spec.website.cloudfront().is_none();
    let (policy, others): (Vec<&Change>, Vec<&Change>) =
        changes.iter().partition(|c| public && c.field == "policy");
    all(futures::future::join_all(others.into_iter().map(set)).await)?;
    all(futures::future::join_all(policy.into_iter().map(set)).await)
}

/// Set one changed field, retrying while a bucket just created is not visible yet.
async fn set_changed(
    ctx: &Ctx,
    which: Which,
    bucket: &str,
    label: &str,
    created: bool,
    change: &Change,
) -> Result<()> {
    if created && change.new.is_null() {
        return Ok(());
    }
    retry(
        ctx.timing.new_bucket,
        |e: &anyhow::Error| created && when::new_bucket_not_visible(e),
        || set_field(ctx, which, bucket, created, change),
    )
    .await
    .with_context(|| format!("setting {} of {label}", change.field))
}

/// Create the bucket with its ownership tags in the same call, so no crash can leave a bucket
/// of ours that looks foreign. (An endpoint that ignores create-time tags still gets them from
/// the tags step that follows.)
async fn create(
    ctx: &Ctx,
    bucket: &str,
    label: &str,
    tags: BTreeMap<String, String>,
) -> Result<()> {
    let tags = sdk_tags(&tags, |k, v| Tag::builder().key(k).value(v).build())?;
    let mut config = CreateBucketConfiguration::builder().set_tags(Some(tags));
    // us-east-1 is the one region that must not be named as a location constraint.
    if ctx.region != "us-east-1" {
        config = config.location_constraint(BucketLocationConstraint::from(ctx.region.as_str()));
    }
    let req = ctx
        .aws
        .s3
        .create_bucket()
        .bucket(bucket)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .create_bucket_configuration(config.build());
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["BucketAlreadyOwnedByYou"]) => Ok(()),
        Err(e) if code_in(&e, &["BucketAlreadyExists"]) => anyhow::bail!(
            "creating {label}: the name is taken by another AWS account (bucket names are \
             global); set another name in the spec"
        ),
        Err(e) => Err(aws_err(format!("creating {label}"), e)),
    }
}

/// Replace the bucket's tag set.
pub async fn put_tags(ctx: &Ctx, bucket: &str, tags: BTreeMap<String, String>) -> Result<()> {
    let tags = sdk_tags(&tags, |k, v| Tag::builder().key(k).value(v).build())?;
    ctx.aws
        .s3
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
        .send()
        .await
        .map_err(|e| aws_err("PutBucketTagging", e))?;
    Ok(())
}

async fn set_field(
    ctx: &Ctx,
    which: Which,
    bucket: &str,
    created: bool,
    change: &Change,
) -> Result<()> {
    let s3 = &ctx.aws.s3;
    let want = &change.new;
    match change.field {
        "tags" => return set_tags(ctx, which, bucket, created, change).await,
        "policy" => return put_policy(ctx, which, bucket, want).await,
        "object_ownership" => s3
            .put_bucket_ownership_controls()
            .bucket(bucket)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                            .build()?,
                    )
                    .build()?,
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketOwnershipControls", e)),
        "public_access_block" => {
            let b = |k: &str| want[k].as_bool().unwrap_or(true);
            s3.put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(b("block_public_acls"))
                        .ignore_public_acls(b("ignore_public_acls"))
                        .block_public_policy(b("block_public_policy"))
                        .restrict_public_buckets(b("restrict_public_buckets"))
                        .build(),
                )
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_err("PutPublicAccessBlock", e))
        }
        "encryption" => s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(encryption_config(ctx, which)?)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketEncryption", e)),
        "versioning" => s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(if want.as_bool() == Some(true) {
                        BucketVersioningStatus::Enabled
                    } else {
                        BucketVersioningStatus::Suspended
                    })
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketVersioning", e)),
        "lifecycle" => s3
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(
                        lifecycle_rules(&ctx.spec, which)
                            .iter()
                            .map(lifecycle_rule_to_aws)
                            .collect::<Result<Vec<_>>>()?,
                    ))
                    .build()?,
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketLifecycleConfiguration", e)),
        "cors" => s3
            .put_bucket_cors()
            .bucket(bucket)
            .cors_configuration(cors_config(ctx)?)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketCors", e)),
        "website" if want.is_null() => s3
            .delete_bucket_website()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("DeleteBucketWebsite", e)),
        // A new bucket sends no events.
        "eventbridge" if created && want.as_bool() != Some(true) => Ok(()),
        "eventbridge" => set_eventbridge(ctx, bucket, want.as_bool() == Some(true)).await,
        "website" => s3
            .put_bucket_website()
            .bucket(bucket)
            .website_configuration(website_config(ctx)?)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_err("PutBucketWebsite", e)),
        other => anyhow::bail!("internal: no setter for bucket field {other}"),
    }
}

async fn set_tags(
    ctx: &Ctx,
    which: Which,
    bucket: &str,
    created: bool,
    change: &Change,
) -> Result<()> {
    let mut tags = tags(ctx, which);
    if which == Which::Website && !created {
        // The content-rules tag vouches for the objects' headers: it keeps its live value
        // until the sync has rewritten them (stack::apply writes it then).
        match change.old.get(TAG_CONTENT_RULES).and_then(Value::as_str) {
            Some(live) => tags.insert(TAG_CONTENT_RULES.to_string(), live.to_string()),
            None => tags.remove(TAG_CONTENT_RULES),
        };
        if tags_value(&tags) == change.old {
            return Ok(());
        }
    }
    put_tags(ctx, bucket, tags).await
}

fn encryption_config(ctx: &Ctx, which: Which) -> Result<ServerSideEncryptionConfiguration> {
    let mut by_default = ServerSideEncryptionByDefault::builder();
    let mut rule = ServerSideEncryptionRule::builder();
    match (which, &ctx.spec.documents.encryption) {
        (Which::Documents, Encryption::SseKms { key_arn }) => {
            by_default = by_default
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key_arn);
            rule = rule.bucket_key_enabled(true);
        }
        _ => by_default = by_default.sse_algorithm(ServerSideEncryption::Aes256),
    }
    Ok(ServerSideEncryptionConfiguration::builder()
        .rules(
            rule.apply_server_side_encryption_by_default(by_default.build()?)
                .build(),
        )
        .build()?)
}

fn cors_config(ctx: &Ctx) -> Result<CorsConfiguration> {
    let c = &ctx.spec.documents.cors;
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(ctx.origins(&c.allowed_origins).known))
        .set_allowed_methods(Some(c.allowed_methods.clone()))
        .set_allowed_headers(Some(c.allowed_headers.clone()))
        .set_expose_headers(Some(c.expose_headers.clone()))
        .max_age_seconds(c.max_age_seconds as i32)
        .build()?;
    Ok(CorsConfiguration::builder().cors_rules(rule).build()?)
}

fn website_config(ctx: &Ctx) -> Result<WebsiteConfiguration> {
    let w = &ctx.spec.website;
    Ok(WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix(&w.index_document).build()?)
        .error_document(ErrorDocument::builder().key(&w.error_document).build()?)
        .build())
}

/// Just after the bucket's own block was relaxed, S3 can go on refusing a public policy for
/// seconds: AccessDenied on the website's policy is retried for a while before concluding.
async fn put_policy(ctx: &Ctx, which: Which, bucket: &str, want: &Value) -> Result<()> {
    let website = which == Which::Website;
    let result = retry(
        ctx.timing.public_access,
        |e: &SdkError<PutBucketPolicyError, HttpResponse>| {
            website && when::public_policy_refused(e)
        },
        || {
            ctx.aws
                .s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(policy_text(want))
                .send()
        },
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if website && code_in(&e, &["AccessDenied"]) => anyhow::bail!(
            "S3 refused the public-read policy for {} s after the bucket's own block was relaxed \
             ({}). What still forbids it is outside the bucket: the account-level S3 Block \
             Public Access setting (turn off BlockPublicPolicy and RestrictPublicBuckets for \
             the account: S3 console, \"Block Public Access settings for this account\"), or \
             a service control policy",
            ctx.timing.public_access.deadline.as_secs(),
            crate::errors::describe(&e)
        ),
        Err(e) => Err(aws_err("PutBucketPolicy", e)),
    }
}

/// Over a plain-HTTP endpoint (an emulator) the private website bucket's TLS-only statement
/// refuses the sync's own writes, as AWS refuses any request without TLS: there the statement
/// is taken out of the bucket's current policy while objects are written (`tls: false`) and
/// put back after (`tls: true`). Whether it changed the policy. On AWS (HTTPS), or with no
/// policy yet, this does nothing.
pub async fn website_tls_for_sync(ctx: &Ctx, tls: bool) -> Result<bool> {
    if !ctx.aws.plain_http || ctx.spec.website.cloudfront().is_none() {
        return Ok(false);
    }
    let bucket = &ctx.spec.website.bucket;
    let label = Which::Website.label(&ctx.spec);
    let policy = match ctx.aws.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(p) => p.policy().map(str::to_string),
        Err(e) if code_in(&e, &["NoSuchBucketPolicy"]) => None,
        Err(e) => return Err(aws_err(format!("reading the policy of {label}"), e)),
    };
    let Some(policy) = policy else {
        return Ok(false);
    };
    let mut want: Value = serde_json::from_str(&policy)
        .with_context(|| format!("the policy of {label} is not JSON"))?;
    let Some(list) = want.get_mut("Statement").and_then(Value::as_array_mut) else {
        return Ok(false);
    };
    let is_tls = |s: &Value| s.get("Sid") == Some(&json!("DenyInsecureTransport"));
    let has = list.iter().any(is_tls);
    match (tls, has) {
        (false, true) => list.retain(|s| !is_tls(s)),
        (true, false) => list.push(super::tls_only_statement(bucket)),
        _ => return Ok(false),
    }
    put_policy(
        ctx,
        Which::Website,
        bucket,
        &crate::state::normalize_policy(&want),
    )
    .await
    .with_context(|| format!("setting the policy of {label}"))?;
    Ok(true)
}

/// Turn the bucket's EventBridge notifications on or off. PutBucketNotificationConfiguration
/// replaces the whole configuration, so the topics, queues and functions someone else
/// configured are read and written back as they are.
async fn set_eventbridge(ctx: &Ctx, bucket: &str, on: bool) -> Result<()> {
    let s3 = &ctx.aws.s3;
    let now = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| aws_err("GetBucketNotificationConfiguration", e))?;
    let config = aws_sdk_s3::types::NotificationConfiguration::builder()
        .set_topic_configurations(Some(now.topic_configurations().to_vec()))
        .set_queue_configurations(Some(now.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(now.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(
            on.then(|| aws_sdk_s3::types::EventBridgeConfiguration::builder().build()),
        )
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_err("PutBucketNotificationConfiguration", e))
}
