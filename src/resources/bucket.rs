//! The two buckets: the private documents bucket and the public website bucket.
//!
//! Fields: tags, object ownership, public access block, default encryption, bucket policy, and
//! per kind versioning + lifecycle + CORS (documents) or the website configuration (website).
//! A missing default encryption reads as SSE-S3, which AWS applies to every bucket anyway. A
//! missing public access block or ownership controls read as absent (nothing blocked, ACLs
//! on), which is what they mean on AWS: `up` writes both explicitly on every bucket it creates,
//! so on any endpoint their absence means someone deleted them, and that is drift.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete,
    ErrorDocument, ExpirationStatus, IndexDocument, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration, WebsiteConfiguration,
};
use serde_json::{json, Value};

use super::Ctx;
use crate::errors::{aws_err, code_in, failed_with, status_is};
use crate::retry::retry;
use crate::spec::Encryption;
use crate::state::{
    normalize_policy, parse_policy, policy_text, set_value, tags_value, Change, Fields, Kind, Live,
};
use crate::sync::TAG_CONTENT_RULES;
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Documents,
    Website,
}

impl Which {
    pub fn name(self, ctx: &Ctx) -> &str {
        match self {
            Which::Documents => &ctx.spec.documents.bucket,
            Which::Website => &ctx.spec.website.bucket,
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Which::Documents => Kind::DocumentsBucket,
            Which::Website => Kind::WebsiteBucket,
        }
    }

    pub fn label(self, ctx: &Ctx) -> String {
        match self {
            Which::Documents => format!("documents bucket {}", self.name(ctx)),
            Which::Website => format!("website bucket {}", self.name(ctx)),
        }
    }
}

/// The order fields are applied in: tags first (so a half-made bucket is still recognisably
/// ours), the public access block before the policy it must allow.
const FIELD_ORDER: &[&str] = &[
    "tags",
    "object_ownership",
    "public_access_block",
    "encryption",
    "versioning",
    "lifecycle",
    "cors",
    "website",
    "policy",
];

/// One lifecycle rule of the documents bucket, as compared and as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    id: String,
    /// `""`: the whole bucket.
    prefix: String,
    enabled: bool,
    expiration_days: Option<i32>,
    expired_object_delete_marker: bool,
    noncurrent_days: Option<i32>,
    abort_incomplete_days: Option<i32>,
}

/// The documents bucket's lifecycle. Every bucket has the rule aborting incomplete multipart
/// uploads, so it always has a lifecycle. Expiry of uploads, with versioning on, also expires
/// the versions it makes noncurrent (after as many days) and removes the delete markers left
/// with no version behind them; S3 refuses `ExpiredObjectDeleteMarker` in a rule with `Days`,
/// hence its own rule.
fn lifecycle_rules(spec: &crate::spec::Spec, which: Which) -> Vec<Rule> {
    let d = &spec.documents;
    let rule = |id: &str, prefix: &str| Rule {
        id: id.to_string(),
        prefix: prefix.to_string(),
        enabled: true,
        expiration_days: None,
        expired_object_delete_marker: false,
        noncurrent_days: None,
        abort_incomplete_days: None,
    };
    if which == Which::Website {
        // Behind CloudFront the site is versioned, so that a bad deploy can be rolled back:
        // older versions are kept for a while, then expire, and their markers with them.
        return vec![
            Rule {
                abort_incomplete_days: Some(1),
                ..rule("presign-stack-abort-incomplete-uploads", "")
            },
            Rule {
                noncurrent_days: Some(super::distribution::SITE_NONCURRENT_DAYS),
                ..rule("presign-stack-expire-old-versions", "")
            },
            Rule {
                expired_object_delete_marker: true,
                ..rule("presign-stack-expired-delete-markers", "")
            },
        ];
    }
    let mut rules = vec![Rule {
        abort_incomplete_days: Some(d.abort_incomplete_uploads_after_days as i32),
        ..rule("presign-stack-abort-incomplete-uploads", "")
    }];
    if let Some(days) = d.expire_uploads_after_days {
        rules.push(Rule {
            expiration_days: Some(days as i32),
            noncurrent_days: d.versioning.then_some(days as i32),
            ..rule("presign-stack-expire-uploads", &d.uploads_prefix)
        });
        if d.versioning {
            rules.push(Rule {
                expired_object_delete_marker: true,
                ..rule("presign-stack-expired-delete-markers", &d.uploads_prefix)
            });
        }
    }
    rules
}

fn lifecycle_value(rules: &[Rule]) -> Value {
    let mut items: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "prefix": r.prefix, "enabled": r.enabled,
                "expiration_days": r.expiration_days,
                "expired_object_delete_marker": r.expired_object_delete_marker,
                "noncurrent_days": r.noncurrent_days,
                "abort_incomplete_days": r.abort_incomplete_days,
            })
        })
        .collect();
    items.sort_by_key(|r| r.to_string());
    Value::Array(items)
}

fn lifecycle_rule_from_aws(r: &LifecycleRule) -> Rule {
    #[allow(deprecated)]
    let legacy_prefix = r.prefix();
    Rule {
        id: r.id().unwrap_or_default().to_string(),
        prefix: r
            .filter()
            .and_then(|f| f.prefix())
            .or(legacy_prefix)
            .unwrap_or_default()
            .to_string(),
        enabled: r.status() == &ExpirationStatus::Enabled,
        expiration_days: r.expiration().and_then(|e| e.days()),
        expired_object_delete_marker: r
            .expiration()
            .and_then(|e| e.expired_object_delete_marker())
            .unwrap_or(false),
        noncurrent_days: r
            .noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        abort_incomplete_days: r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
    }
}

fn lifecycle_rule_to_aws(r: &Rule) -> Result<LifecycleRule> {
    let mut b = LifecycleRule::builder()
        .id(&r.id)
        .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
        .status(if r.enabled {
            ExpirationStatus::Enabled
        } else {
            ExpirationStatus::Disabled
        });
    if r.expiration_days.is_some() || r.expired_object_delete_marker {
        let mut e = LifecycleExpiration::builder().set_days(r.expiration_days);
        if r.expired_object_delete_marker {
            e = e.expired_object_delete_marker(true);
        }
        b = b.expiration(e.build());
    }
    if let Some(days) = r.noncurrent_days {
        b = b.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(days)
                .build(),
        );
    }
    if let Some(days) = r.abort_incomplete_days {
        b = b.abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(days)
                .build(),
        );
    }
    Ok(b.build()?)
}

/// The bucket's tags: the ownership tags and, on the website bucket, the fingerprint of the
/// content rules its objects were written with (see `sync`).
pub fn tags(ctx: &Ctx, which: Which) -> BTreeMap<String, String> {
    let mut tags = ctx.tags(which.kind());
    if which == Which::Website {
        tags.insert(
            TAG_CONTENT_RULES.to_string(),
            crate::sync::rules_fingerprint(&ctx.spec.website.cache_control),
        );
    }
    tags
}

pub fn desired(ctx: &Ctx, which: Which) -> Fields {
    let spec = &ctx.spec;
    let bucket = which.name(ctx);
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags(ctx, which)));
    f.insert("object_ownership", json!("BucketOwnerEnforced"));
    match which {
        Which::Documents => {
            let d = &spec.documents;
            f.insert("public_access_block", pab(true, true, true, true));
            f.insert(
                "encryption",
                match &d.encryption {
                    Encryption::SseS3 => json!({"sse_algorithm": "AES256"}),
                    Encryption::SseKms { key_arn } => json!({
                        "sse_algorithm": "aws:kms", "kms_master_key_id": key_arn,
                        "bucket_key_enabled": true}),
                },
            );
            f.insert(
                "policy",
                normalize_policy(&json!({
                    "Version": "2012-10-17",
                    "Statement": [tls_only_statement(bucket)]
                })),
            );
            f.insert("versioning", json!(d.versioning));
            f.insert(
                "lifecycle",
                lifecycle_value(&lifecycle_rules(spec, Which::Documents)),
            );
            f.insert(
                "cors",
                json!([cors_rule_value(
                    ctx.origins(&d.cors.allowed_origins),
                    d.cors.allowed_methods.clone(),
                    d.cors.allowed_headers.clone(),
                    d.cors.expose_headers.clone(),
                    Some(d.cors.max_age_seconds as i32),
                )]),
            );
        }
        Which::Website if spec.website.cloudfront().is_some() => {
            // Private: only the stack's distribution reads it, signed by its OAC.
            let source = match &ctx.cdn {
                Some(c) => c.arn.clone(),
                None => super::distribution::KNOWN_AFTER.to_string(),
            };
            f.insert("public_access_block", pab(true, true, true, true));
            f.insert("encryption", json!({"sse_algorithm": "AES256"}));
            f.insert(
                "policy",
                normalize_policy(&json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "AllowCloudFrontServicePrincipalReadOnly",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": format!("arn:aws:s3:::{bucket}/*"),
                        "Condition": {"StringEquals": {"AWS:SourceArn": source}},
                    }, tls_only_statement(bucket)]
                })),
            );
            f.insert("website", Value::Null);
            f.insert("versioning", json!(true));
            f.insert(
                "lifecycle",
                lifecycle_value(&lifecycle_rules(spec, Which::Website)),
            );
        }
        Which::Website => {
            let w = &spec.website;
            // Only the policy-related flags are relaxed: ACLs stay disabled and blocked.
            f.insert("public_access_block", pab(true, true, false, false));
            f.insert("encryption", json!({"sse_algorithm": "AES256"}));
            f.insert(
                "policy",
                normalize_policy(&json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "PublicReadObjects",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": format!("arn:aws:s3:::{bucket}/*"),
                    }]
                })),
            );
            f.insert(
                "website",
                json!({"index_document": w.index_document, "error_document": w.error_document}),
            );
        }
    }
    f
}

/// The documents bucket's one policy statement: every request without TLS is refused.
fn tls_only_statement(bucket: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

fn pab(acls: bool, ignore: bool, policy: bool, restrict: bool) -> Value {
    json!({"block_public_acls": acls, "ignore_public_acls": ignore,
           "block_public_policy": policy, "restrict_public_buckets": restrict})
}

fn cors_rule_value(
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<i32>,
) -> Value {
    json!({
        "allowed_origins": set_value(origins),
        "allowed_methods": set_value(methods.into_iter().map(|m| m.to_ascii_uppercase())),
        "allowed_headers": set_value(headers.into_iter().map(|h| h.to_ascii_lowercase())),
        "expose_headers": set_value(expose.into_iter().map(|h| h.to_ascii_lowercase())),
        "max_age_seconds": max_age,
    })
}

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
pub async fn read(ctx: &Ctx, which: Which) -> Result<Option<Live>> {
    let s3 = &ctx.aws.s3;
    let bucket = which.name(ctx);
    let label = which.label(ctx);
    // One round trip: every read is sent at once, and HeadBucket's answer decides what the
    // others mean.
    let specific = async {
        if which == Which::Documents {
            (Some(s3.get_bucket_cors().bucket(bucket).send().await), None)
        } else {
            (
                None,
                Some(s3.get_bucket_website().bucket(bucket).send().await),
            )
        }
    };
    let (head, tags, pab_r, own, enc, pol, ver, life, (docs_specific, web_specific)) = tokio::join!(
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
    match head {
        Ok(_) => {}
        Err(e) if status_is(&e, 404) => return Ok(None),
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
        Err(e) => return Err(aws_err(format!("reading {label}"), e)),
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
    let policy = field(
        pol,
        "NoSuchBucketPolicy",
        Value::Null,
        what("policy"),
        |p| json!(p.policy().map(str::to_string)),
    )?;
    f.insert(
        "policy",
        match policy.as_str() {
            Some(text) => {
                parse_policy(text).map_err(|e| anyhow::anyhow!("reading {label} policy: {e}"))?
            }
            None => Value::Null,
        },
    );
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
    match (which, docs_specific, web_specific) {
        (Which::Documents, Some(cors), _) => {
            f.insert(
                "cors",
                field(
                    cors,
                    "NoSuchCORSConfiguration",
                    Value::Null,
                    what("CORS"),
                    |c| cors_rules_value(c.cors_rules()),
                )?,
            );
        }
        (Which::Website, _, Some(web)) => {
            f.insert(
                "website",
                field(
                    web,
                    "NoSuchWebsiteConfiguration",
                    Value::Null,
                    what("website configuration"),
                    |w| {
                        json!({
                            "index_document": w.index_document().map(|d| d.suffix()),
                            "error_document": w.error_document().map(|d| d.key()),
                        })
                    },
                )?,
            );
        }
        _ => unreachable!("each bucket's own reads were sent for it"),
    }
    Ok(Some(Live { tags, fields: f }))
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

/// Create the bucket when `live` is `None`, then set every field in `changes`.
pub async fn apply(ctx: &Ctx, which: Which, created: bool, changes: &[Change]) -> Result<()> {
    let bucket = which.name(ctx).to_string();
    let label = which.label(ctx);
    if created {
        create(ctx, &bucket, &label, tags(ctx, which)).await?;
    }
    for field in FIELD_ORDER {
        let Some(change) = changes.iter().find(|c| c.field == *field) else {
            continue;
        };
        if created && change.new.is_null() {
            continue;
        }
        // Just after CreateBucket, sub-resource calls may still answer NoSuchBucket.
        retry(
            ctx.timing.new_bucket,
            |e: &anyhow::Error| created && crate::errors::has_code(e, "NoSuchBucket"),
            || set_field(ctx, which, &bucket, created, change),
        )
        .await
        .with_context(|| format!("setting {} of {label}", change.field))?;
    }
    Ok(())
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
    let tags = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
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
    let tags = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
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
        .set_allowed_origins(Some(ctx.origins(&c.allowed_origins)))
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
        |e: &SdkError<PutBucketPolicyError, HttpResponse>| website && code_in(e, &["AccessDenied"]),
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
/// is left out while objects are written (`tls: false`) and put back after (`tls: true`). On
/// AWS (HTTPS) this does nothing.
pub async fn website_tls_for_sync(ctx: &Ctx, tls: bool) -> Result<()> {
    if !ctx.aws.plain_http || ctx.spec.website.cloudfront().is_none() {
        return Ok(());
    }
    let bucket = &ctx.spec.website.bucket;
    let mut want = desired(ctx, Which::Website)
        .get("policy")
        .cloned()
        .unwrap_or(Value::Null);
    if !tls {
        if let Some(list) = want.get_mut("Statement").and_then(Value::as_array_mut) {
            list.retain(|s| s.get("Sid") != Some(&json!("DenyInsecureTransport")));
        }
    }
    put_policy(ctx, Which::Website, bucket, &want)
        .await
        .with_context(|| format!("setting the policy of {}", Which::Website.label(ctx)))
}

/// Delete every object version and delete marker (DeleteObjects, up to 1000 per request), then
/// the bucket. Returns the number of versions deleted. Tolerates a bucket already gone.
pub async fn empty_and_delete(ctx: &Ctx, which: Which, bucket: &str) -> Result<usize> {
    let s3 = &ctx.aws.s3;
    let label = match which {
        Which::Documents => format!("documents bucket {bucket}"),
        Which::Website => format!("website bucket {bucket}"),
    };
    if which == Which::Documents {
        // As CDK's autoDeleteObjects does: stop new uploads before emptying. The TLS-only
        // statement stays, so a `down` that fails or is killed from here on never leaves the
        // bucket open to plain HTTP. Over a plain-HTTP endpoint (an emulator) that statement
        // would refuse our own deletes, as AWS would: there it is left out while emptying and
        // put back if emptying fails.
        let mut statements = vec![json!({
            "Sid": "NoUploadsWhileDeleting",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        })];
        if !ctx.aws.plain_http {
            statements.push(tls_only_statement(bucket));
        }
        let stop_uploads = json!({"Version": "2012-10-17", "Statement": statements});
        match s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy_text(&normalize_policy(&stop_uploads)))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchBucket"]) => return Ok(0),
            Err(e) => return Err(aws_err(format!("stopping uploads to {label}"), e)),
        }
        let emptied = empty_and_delete_now(ctx, bucket, &label).await;
        if emptied.is_err() && ctx.aws.plain_http {
            let tls_only = json!({"Version": "2012-10-17", "Statement": [
                tls_only_statement(bucket),
                stop_uploads["Statement"][0].clone(),
            ]});
            if let Err(e) = s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(policy_text(&normalize_policy(&tls_only)))
                .send()
                .await
            {
                ctx.report.warn(format!(
                    "{label} is left without its TLS-only policy statement ({}); `up` puts it \
                     back",
                    crate::errors::describe(&e)
                ));
            }
        }
        return emptied;
    }
    if ctx.aws.plain_http {
        // Its TLS-only statement would refuse our deletes over plain HTTP (see
        // `website_tls_for_sync`); the bucket only holds the site, which `up` writes again.
        match s3.delete_bucket_policy().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchBucket"]) => return Ok(0),
            Err(e) => return Err(aws_err(format!("deleting the policy of {label}"), e)),
        }
    }
    empty_and_delete_now(ctx, bucket, &label).await
}

/// Delete every version and delete marker, then the bucket. Uploads that land meanwhile (a
/// presigned URL still in use) are deleted in the next round; only rounds that find the bucket
/// still not empty and delete nothing, or too many rounds, give up.
async fn empty_and_delete_now(ctx: &Ctx, bucket: &str, label: &str) -> Result<usize> {
    let s3 = &ctx.aws.s3;
    let mut deleted = 0;
    let progress = crate::report::Progress::start(ctx.report, "Emptying", label.to_string(), None);
    for _round in 0..EMPTY_ROUNDS {
        let Some(n) = empty_once(ctx, bucket, label, &progress).await? else {
            progress.finish();
            return Ok(deleted);
        };
        deleted += n;
        match s3.delete_bucket().bucket(bucket).send().await {
            Ok(_) => {
                progress.finish();
                return Ok(deleted);
            }
            Err(e) if code_in(&e, &["NoSuchBucket"]) => {
                progress.finish();
                return Ok(deleted);
            }
            Err(e) if code_in(&e, &["BucketNotEmpty"]) => continue,
            Err(e) => return Err(aws_err(format!("deleting {label}"), e)),
        }
    }
    progress.finish();
    anyhow::bail!(
        "deleting {label}: objects kept arriving while it was emptied ({deleted} versions \
         deleted in {EMPTY_ROUNDS} rounds); stop what writes to it, then run again"
    )
}

/// Rounds of list-and-delete before `down` concludes that something keeps writing.
const EMPTY_ROUNDS: usize = 5;
/// DeleteObjects requests in flight while emptying a bucket.
const PARALLEL_DELETES: usize = 16;

/// One DeleteObjects (up to 1,000 keys or versions, quiet); any object it could not delete
/// fails it, naming one. `what` says what the deleting is for.
pub async fn delete_batch(
    ctx: &Ctx,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
    what: &str,
) -> Result<()> {
    let out = ctx
        .aws
        .s3
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws_err(what, e))?;
    if let Some(err) = out.errors().first() {
        anyhow::bail!(
            "{what}: {} objects could not be deleted, e.g. {} ({}: {})",
            out.errors().len(),
            err.key().unwrap_or("?"),
            err.code().unwrap_or("?"),
            err.message().unwrap_or("")
        );
    }
    Ok(())
}

/// One pass over the bucket's versions: each page of the listing is deleted (one
/// DeleteObjects of up to 1,000), up to [`PARALLEL_DELETES`] at a time. A page is deleted only
/// once the next page has been listed: the next listing starts from the markers of its last
/// version, which must still exist when they are used. `None` when the bucket is gone.
async fn empty_once(
    ctx: &Ctx,
    bucket: &str,
    label: &str,
    progress: &crate::report::Progress,
) -> Result<Option<usize>> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let s3 = &ctx.aws.s3;
    let delete = |ids: Vec<ObjectIdentifier>, bytes: u64| async move {
        let n = ids.len();
        delete_batch(ctx, bucket, ids, &format!("deleting objects of {label}")).await?;
        progress.add(n as u64, bytes);
        anyhow::Ok(n)
    };
    let mut inflight = FuturesUnordered::new();
    let mut deleted = 0;
    // The listed page not yet deleted, and the bytes its versions hold.
    let mut pending: (Vec<ObjectIdentifier>, u64) = (Vec::new(), 0);
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        crate::interrupt::check(&format!("emptying {label}"))?;
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if code_in(&e, &["NoSuchBucket"]) => {
                while let Some(r) = inflight.next().await {
                    r?;
                }
                return Ok(None);
            }
            Err(e) => return Err(aws_err(format!("listing objects of {label}"), e)),
        };
        let mut ids = Vec::new();
        let mut bytes = 0;
        for v in page.versions() {
            ids.push(ident(v.key(), v.version_id())?);
            bytes += v.size().unwrap_or(0).max(0) as u64;
        }
        for m in page.delete_markers() {
            ids.push(ident(m.key(), m.version_id())?);
        }
        // The page before this one can go now that this one is listed.
        let (ready, ready_bytes) = std::mem::replace(&mut pending, (ids, bytes));
        for (i, chunk) in ready.chunks(1000).enumerate() {
            inflight.push(delete(chunk.to_vec(), if i == 0 { ready_bytes } else { 0 }));
            while inflight.len() >= PARALLEL_DELETES {
                if let Some(r) = inflight.next().await {
                    deleted += r?;
                }
            }
        }
        if page.is_truncated() == Some(true) {
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        } else {
            break;
        }
    }
    for (i, chunk) in pending.0.chunks(1000).enumerate() {
        inflight.push(delete(chunk.to_vec(), if i == 0 { pending.1 } else { 0 }));
    }
    while let Some(r) = inflight.next().await {
        deleted += r?;
    }
    Ok(Some(deleted))
}

fn ident(key: Option<&str>, version: Option<&str>) -> Result<ObjectIdentifier> {
    Ok(ObjectIdentifier::builder()
        .key(key.unwrap_or_default())
        .set_version_id(version.map(str::to_string))
        .build()?)
}
