//! Reading a bucket: every sub-resource in one round trip, each as the field `desired` makes.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CorsRule, OwnershipControls, PublicAccessBlockConfiguration,
    ServerSideEncryptionConfiguration,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use serde_json::{json, Value};

use super::lifecycle::{lifecycle_rule_from_aws, lifecycle_value};
use super::{cors_rule_value, pab, Which};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in, failed_with, status_is};
use crate::state::{parse_policy, tags_value, Fields, Known, Live};

/// Whether the account-level Block Public Access setting forbids the website bucket's public
/// policy (BlockPublicPolicy or RestrictPublicBuckets): `None` when it cannot be read (no
/// s3:GetAccountPublicAccessBlock, or an endpoint without S3 Control); writing the policy then
/// finds out.
pub async fn account_blocks_public_policies(ctx: &Ctx) -> Option<bool> {
    match ctx
        .aws
        .s3control
        .get_public_access_block()
        .account_id(&ctx.account)
        .send()
        .await
    {
        Ok(o) => {
            let c = o.public_access_block_configuration();
            let on = |v: Option<bool>| v == Some(true);
            Some(c.is_some_and(|c| on(c.block_public_policy()) || on(c.restrict_public_buckets())))
        }
        Err(e) if code_in(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Some(false),
        Err(_) => None,
    }
}

/// Read the bucket's live state; `None` when it does not exist.
pub async fn read(ctx: &Ctx, which: Which, bucket: &str) -> Result<Option<Live>> {
    let s3 = &ctx.aws.s3;
    let label = format!("{} {bucket}", which.kind());
    // One round trip: every read is sent at once, and HeadBucket's answer decides what the
    // others mean.
    let specific = async {
        if which == Which::Documents {
            let (cors, events) = tokio::join!(
                s3.get_bucket_cors().bucket(bucket).send(),
                s3.get_bucket_notification_configuration()
                    .bucket(bucket)
                    .send()
            );
            (Some(cors), Some(events), None)
        } else {
            (
                None,
                None,
                Some(s3.get_bucket_website().bucket(bucket).send().await),
            )
        }
    };
    let (head, tags, pab_r, own, enc, pol, ver, life, (docs_specific, events, web_specific)) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_bucket_tagging().bucket(bucket).send(),
        s3.get_public_access_block().bucket(bucket).send(),
        s3.get_bucket_ownership_controls().bucket(bucket).send(),
        s3.get_bucket_encryption().bucket(bucket).send(),
        s3.get_bucket_policy().bucket(bucket).send(),
        s3.get_bucket_versioning().bucket(bucket).send(),
        s3.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send(),
        specific,
    );
    if !found(ctx, &label, head)? {
        return Ok(None);
    }
    // The reads went out together: when one says NoSuchBucket although HeadBucket found it
    // (or the other way round), the bucket was being made, by another run, while they were
    // read. It did not exist when reading began; creating it again is harmless
    // (BucketAlreadyOwnedByYou), and the fields are then set as the spec says.
    let nb = "NoSuchBucket";
    let made_meanwhile = failed_with(&tags, nb)
        || failed_with(&pab_r, nb)
        || failed_with(&own, nb)
        || failed_with(&enc, nb)
        || failed_with(&pol, nb)
        || failed_with(&ver, nb)
        || failed_with(&life, nb)
        || docs_specific.as_ref().is_some_and(|c| failed_with(c, nb))
        || events.as_ref().is_some_and(|e| failed_with(e, nb))
        || web_specific.as_ref().is_some_and(|w| failed_with(w, nb));
    if made_meanwhile {
        return Ok(None);
    }
    let what = |what: &str| format!("reading {label} {what}");
    let tags: BTreeMap<String, String> = match tags {
        Ok(t) => t
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(e) if code_in(&e, &["NoSuchTagSet"]) => BTreeMap::new(),
        Err(e) => return Err(aws_err(what("tags"), e)),
    };
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags));
    // No bucket-level block, or no ownership controls: nothing blocked, ACLs back on, as after
    // a deletion on AWS (`up` always writes both), so they read as absent.
    f.insert(
        "public_access_block",
        field(
            pab_r,
            "NoSuchPublicAccessBlockConfiguration",
            Value::Null,
            what("public access block"),
            |p| pab_value(p.public_access_block_configuration()),
        )?,
    );
    f.insert(
        "object_ownership",
        field(
            own,
            "OwnershipControlsNotFoundError",
            Value::Null,
            what("ownership controls"),
            |o| ownership_value(o.ownership_controls()),
        )?,
    );
    // AWS applies SSE-S3 to every bucket without a configuration of its own.
    f.insert(
        "encryption",
        field(
            enc,
            "ServerSideEncryptionConfigurationNotFoundError",
            json!({"sse_algorithm": "AES256"}),
            what("encryption"),
            |o| encryption_value(o.server_side_encryption_configuration()),
        )?,
    );
    f.insert("policy", policy_field(pol, &label)?);
    let enabled = match ver {
        Ok(v) => v.status() == Some(&BucketVersioningStatus::Enabled),
        Err(e) => match versioning_from_raw(&e) {
            Some(enabled) => enabled,
            None => return Err(aws_err(what("versioning"), e)),
        },
    };
    f.insert("versioning", json!(enabled));
    f.insert(
        "lifecycle",
        field(
            life,
            "NoSuchLifecycleConfiguration",
            Value::Null,
            what("lifecycle"),
            |l| {
                lifecycle_value(
                    &l.rules()
                        .iter()
                        .map(lifecycle_rule_from_aws)
                        .collect::<Vec<_>>(),
                )
            },
        )?,
    );
    let (name, value) = match (docs_specific, web_specific) {
        (Some(cors), _) => ("cors", cors_field(cors, &label)?),
        (_, Some(web)) => ("website", website_field(web, &label)?),
        (None, None) => unreachable!("each bucket's own reads were sent for it"),
    };
    f.insert(name, value);
    if let Some(events) = events {
        let on = match events {
            Ok(e) => e.event_bridge_configuration().is_some(),
            // An endpoint that cannot answer (stock moto's reply is unreadable) fails only a
            // spec that uses `events`.
            Err(e) if !ctx.spec.documents.eventbridge_on() => {
                ctx.report.warn(format!(
                    "{:#}; the spec does not use `documents.events`, so they count as off",
                    aws_err(what("event notifications"), e)
                ));
                false
            }
            Err(e) => return Err(aws_err(what("event notifications"), e)),
        };
        f.insert("eventbridge", json!(on));
    }
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known::default(),
    }))
}

type Answer<O, E> = Result<O, SdkError<E, HttpResponse>>;

/// The bucket policy, parsed; `null` when there is none.
fn policy_field(
    answer: Answer<
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput,
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyError,
    >,
    label: &str,
) -> Result<Value> {
    let policy = field(
        answer,
        "NoSuchBucketPolicy",
        Value::Null,
        format!("reading {label} policy"),
        |p| json!(p.policy().map(str::to_string)),
    )?;
    match policy.as_str() {
        Some(text) => {
            parse_policy(text).map_err(|e| anyhow::anyhow!("reading {label} policy: {e}"))
        }
        None => Ok(Value::Null),
    }
}

/// The documents bucket's CORS rules; `null` when there are none.
fn cors_field(
    answer: Answer<
        aws_sdk_s3::operation::get_bucket_cors::GetBucketCorsOutput,
        aws_sdk_s3::operation::get_bucket_cors::GetBucketCorsError,
    >,
    label: &str,
) -> Result<Value> {
    field(
        answer,
        "NoSuchCORSConfiguration",
        Value::Null,
        format!("reading {label} CORS"),
        |c| cors_rules_value(c.cors_rules()),
    )
}

/// The website bucket's index and error documents; `null` when it serves no website.
fn website_field(
    answer: Answer<
        aws_sdk_s3::operation::get_bucket_website::GetBucketWebsiteOutput,
        aws_sdk_s3::operation::get_bucket_website::GetBucketWebsiteError,
    >,
    label: &str,
) -> Result<Value> {
    field(
        answer,
        "NoSuchWebsiteConfiguration",
        Value::Null,
        format!("reading {label} website configuration"),
        |w| {
            json!({
                "index_document": w.index_document().map(|d| d.suffix()),
                "error_document": w.error_document().map(|d| d.key()),
            })
        },
    )
}

/// What HeadBucket's answer says: the bucket is there (and ours to read), not there, or in a
/// state named with what to do.
fn found<O, E>(ctx: &Ctx, label: &str, head: Result<O, SdkError<E, HttpResponse>>) -> Result<bool>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    match head {
        Ok(_) => Ok(true),
        Err(e) if status_is(&e, 404) => Ok(false),
        Err(e) if status_is(&e, 301) => {
            let region = crate::errors::response_header(&e, "x-amz-bucket-region");
            anyhow::bail!(
                "{label} exists in {}, not in {} where this stack lives: bucket names are \
                 global, so either it is another stack's or account's bucket (choose another \
                 name in the spec) or the stack belongs in that region (set `region: {}` in \
                 the spec)",
                region.as_deref().unwrap_or("another region"),
                ctx.region,
                region.as_deref().unwrap_or("REGION")
            )
        }
        Err(e) if status_is(&e, 403) => anyhow::bail!(
            "{label} exists but cannot be read (HeadBucket answered 403 Forbidden): either \
             another AWS account owns the name (bucket names are global; choose another name in \
             the spec), or these credentials lack s3:ListBucket on it, or a service control \
             policy denies it (check the identity's permissions)"
        ),
        Err(e) => Err(aws_err(format!("reading {label}"), e)),
    }
}

/// One field from one read: its value, `absent` when S3 answers `absent_code`, or the error.
fn field<O, E>(
    answer: Result<O, SdkError<E, HttpResponse>>,
    absent_code: &str,
    absent: Value,
    what: String,
    value: impl FnOnce(O) -> Value,
) -> Result<Value>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    match answer {
        Ok(o) => Ok(value(o)),
        Err(e) if code_in(&e, &[absent_code]) => Ok(absent),
        Err(e) => Err(aws_err(what, e)),
    }
}

fn pab_value(c: Option<&PublicAccessBlockConfiguration>) -> Value {
    let g = |v: Option<bool>| v.unwrap_or(false);
    pab(
        g(c.and_then(|c| c.block_public_acls())),
        g(c.and_then(|c| c.ignore_public_acls())),
        g(c.and_then(|c| c.block_public_policy())),
        g(c.and_then(|c| c.restrict_public_buckets())),
    )
}

fn ownership_value(c: Option<&OwnershipControls>) -> Value {
    match c.map(|c| c.rules()).unwrap_or_default() {
        [one] => json!(one.object_ownership().as_str()),
        [] => json!("BucketOwnerEnforced"),
        many => json!(many
            .iter()
            .map(|r| r.object_ownership().as_str())
            .collect::<Vec<_>>()),
    }
}

fn encryption_value(c: Option<&ServerSideEncryptionConfiguration>) -> Value {
    let rules = c.map(|c| c.rules()).unwrap_or_default();
    match rules
        .first()
        .and_then(|r| Some((r, r.apply_server_side_encryption_by_default()?)))
    {
        Some((_, d)) if d.sse_algorithm().as_str() == "AES256" => {
            json!({"sse_algorithm": "AES256"})
        }
        Some((rule, d)) => json!({
            "sse_algorithm": d.sse_algorithm().as_str(),
            "kms_master_key_id": d.kms_master_key_id(),
            "bucket_key_enabled": rule.bucket_key_enabled().unwrap_or(false)}),
        None => json!({"sse_algorithm": "AES256"}),
    }
}

fn cors_rules_value(rules: &[CorsRule]) -> Value {
    let mut rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            cors_rule_value(
                r.allowed_origins().to_vec(),
                r.allowed_methods().to_vec(),
                r.allowed_headers().to_vec(),
                r.expose_headers().to_vec(),
                r.max_age_seconds(),
            )
        })
        .collect();
    rules.sort_by_key(|r| r.to_string());
    Value::Array(rules)
}

/// A 200 GetBucketVersioning answer the SDK could not parse: moto 5.2 names its root element
/// `GetBucketVersioningResponse` instead of `VersioningConfiguration`. The one field is read
/// from the body as it is.
fn versioning_from_raw<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<bool> {
    let aws_smithy_runtime_api::client::result::SdkError::ServiceError(ctx) = err else {
        return None;
    };
    if !ctx.raw().status().is_success() {
        return None;
    }
    let body = std::str::from_utf8(ctx.raw().body().bytes()?).ok()?;
    if !body.contains("Versioning") {
        return None;
    }
    Some(body.contains("<Status>Enabled</Status>"))
}
