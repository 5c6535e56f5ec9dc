//! The two buckets: the private documents bucket and the public website bucket.
//!
//! Fields: tags, object ownership, public access block, default encryption, bucket policy, and
//! per kind versioning + lifecycle + CORS (documents) or the website configuration (website).
//! A missing default encryption reads as SSE-S3, which AWS applies to every bucket anyway. A
//! missing public access block or ownership controls read as absent (nothing blocked, ACLs
//! on), which is what they mean on AWS: `up` writes both explicitly on every bucket it creates,
//! so on any endpoint their absence means someone deleted them, and that is drift.

pub mod empty;
mod lifecycle;
mod read;
mod write;

use super::scope::{Arns, Scope};
use std::collections::BTreeMap;

use futures::FutureExt;
use serde_json::{json, Value};

use self::lifecycle::{lifecycle_rules, lifecycle_value};
pub use self::read::account_blocks_public_policies;
pub use self::write::{put_tags, website_tls_for_sync};
use super::{Actions, Orphans, Resource, Step};
use crate::context::Ctx;
use crate::spec::{Encryption, Spec};
use crate::state::{
    normalize_policy, set_value, tags_value, Change, Desired, Kind, Known, Live, Output,
    SHOWN_UNKNOWN,
};
use crate::sync::TAG_CONTENT_RULES;

pub const DOCUMENTS_KIND: Kind = Kind::new("documents_bucket", "documents bucket");
pub const WEBSITE_KIND: Kind = Kind::new("website_bucket", "website bucket");

/// The documents bucket.
pub static DOCUMENTS: Bucket = Bucket(Which::Documents);
/// The website bucket.
pub static WEBSITE: Bucket = Bucket(Which::Website);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Documents,
    Website,
}

impl Which {
    pub fn name(self, spec: &Spec) -> &str {
        match self {
            Which::Documents => &spec.documents.bucket,
            Which::Website => &spec.website.bucket,
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Which::Documents => DOCUMENTS_KIND,
            Which::Website => WEBSITE_KIND,
        }
    }

    pub fn label(self, spec: &Spec) -> String {
        format!("{} {}", self.kind(), self.name(spec))
    }
}

/// One of the stack's two buckets.
pub struct Bucket(pub Which);

impl Resource for Bucket {
    fn kind(&self) -> Kind {
        self.0.kind()
    }

    fn name(&self, spec: &Spec) -> String {
        self.0.name(spec).to_string()
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "s3:ListBucket",
                "s3:GetBucketTagging",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketOwnershipControls",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPolicy",
                "s3:GetBucketVersioning",
                "s3:GetLifecycleConfiguration",
                "s3:GetBucketCORS",
                "s3:GetBucketWebsite",
                "s3:GetBucketNotification",
                "s3:GetAccountPublicAccessBlock",
                // What deleting it would lose, counted for consent.
                "s3:ListBucketVersions",
            ],
            create: &[
                "s3:CreateBucket",
                "s3:TagResource",
                "s3:PutBucketTagging",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketCORS",
                "s3:PutBucketWebsite",
                "s3:GetBucketNotification",
                "s3:PutBucketNotification",
                "s3:PutBucketPolicy",
            ],
            update: &[
                "s3:PutBucketTagging",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketCORS",
                "s3:PutBucketWebsite",
                "s3:GetBucketNotification",
                "s3:PutBucketNotification",
                "s3:PutBucketPolicy",
            ],
            delete: &[
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:ListBucketVersions",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:DeleteBucket",
            ],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        let name = self.name(spec);
        match action {
            "s3:GetAccountPublicAccessBlock" => Scope::any(),
            "s3:GetObject" | "s3:PutObject" | "s3:DeleteObject" | "s3:DeleteObjectVersion" => {
                Scope::on([at.objects(&name)]).part("Objects")
            }
            _ => Scope::on([at.bucket(&name)]),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        desired(ctx, self.0)
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        read::read(ctx, self.0, name).boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            write::apply(ctx, self.0, live.is_none(), changes).await?;
            Ok(Known::default())
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        let tls_only = live
            .fields
            .get("policy")
            .and_then(|p| p.get("Statement"))
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|s| s["Sid"] == "DenyInsecureTransport"));
        crate::resources::bucket::empty::empty_and_delete(ctx, self.0, name, tls_only).boxed()
    }

    fn orphans(&self) -> Orphans {
        Orphans::Tagged("s3:bucket")
    }

    /// The website bucket's content-rules tag keeps its live value until the sync has
    /// rewritten the objects' headers.
    fn settled(&self, field: &str, wrote: &Value, kept: &Value) -> bool {
        let without_rules = |v: &Value| {
            let mut v = v.clone();
            if let Some(tags) = v.as_object_mut() {
                tags.remove(TAG_CONTENT_RULES);
            }
            v
        };
        match (self.0, field) {
            (Which::Website, "tags") => without_rules(wrote) == without_rules(kept),
            _ => wrote == kept,
        }
    }

    fn down_label(&self, name: &str, _live: &Live) -> String {
        match self.0 {
            Which::Documents => format!("documents bucket {name}"),
            Which::Website => format!("website bucket {name} and the site in it"),
        }
    }
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

pub fn desired(ctx: &Ctx, which: Which) -> Desired {
    let spec = &ctx.spec;
    let bucket = which.name(spec);
    let mut d = Desired::default();
    d.set("tags", tags_value(&tags(ctx, which)));
    d.set("object_ownership", json!("BucketOwnerEnforced"));
    match which {
        Which::Documents => {
            let docs = &spec.documents;
            d.set("public_access_block", pab(true, true, true, true));
            d.set(
                "encryption",
                match &docs.encryption {
                    Encryption::SseS3 => json!({"sse_algorithm": "AES256"}),
                    Encryption::SseKms { key_arn } => json!({
                        "sse_algorithm": "aws:kms", "kms_master_key_id": key_arn,
                        "bucket_key_enabled": true}),
                },
            );
            d.set(
                "policy",
                normalize_policy(&json!({
                    "Version": "2012-10-17",
                    "Statement": documents_statements(ctx, bucket),
                })),
            );
            d.set("versioning", json!(docs.versioning));
            d.set("eventbridge", json!(docs.eventbridge_on()));
            d.set(
                "lifecycle",
                lifecycle_value(&lifecycle_rules(spec, Which::Documents)),
            );
            let c = &docs.cors;
            let origins = ctx.origins(&c.allowed_origins);
            let cors = json!([cors_rule_value(
                origins.shown(),
                c.allowed_methods.clone(),
                c.allowed_headers.clone(),
                c.expose_headers.clone(),
                Some(c.max_age_seconds as i32),
            )]);
            if origins.pending {
                d.unknown("cors", Output::Distribution, cors);
            } else {
                d.set("cors", cors);
            }
        }
        Which::Website if spec.website.cloudfront().is_some() => {
            // Private: only the stack's distribution reads it, signed by its OAC.
            let source = ctx.known.cdn.as_ref().map(|c| c.arn.clone());
            d.set("public_access_block", pab(true, true, true, true));
            d.set("encryption", json!({"sse_algorithm": "AES256"}));
            let policy = normalize_policy(&json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "AllowCloudFrontServicePrincipalReadOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": format!("arn:aws:s3:::{bucket}/*"),
                    "Condition": {"StringEquals": {
                        "AWS:SourceArn": source.as_deref().unwrap_or(SHOWN_UNKNOWN)}},
                }, tls_only_statement(bucket)]
            }));
            match source {
                Some(_) => d.set("policy", policy),
                None => d.unknown("policy", Output::Distribution, policy),
            }
            d.set("website", Value::Null);
            d.set("versioning", json!(true));
            d.set(
                "lifecycle",
                lifecycle_value(&lifecycle_rules(spec, Which::Website)),
            );
        }
        Which::Website => {
            let w = &spec.website;
            // Only the policy-related flags are relaxed: ACLs stay disabled and blocked.
            d.set("public_access_block", pab(true, true, false, false));
            d.set("encryption", json!({"sse_algorithm": "AES256"}));
            d.set(
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
            d.set(
                "website",
                json!({"index_document": w.index_document, "error_document": w.error_document}),
            );
        }
    }
    d
}

/// The documents bucket's policy: TLS only, and with `malware_scan` no read of an upload
/// before GuardDuty calls it clean.
fn documents_statements(ctx: &Ctx, bucket: &str) -> Vec<Value> {
    let mut statements = vec![tls_only_statement(bucket)];
    if ctx.spec.documents.malware_scan {
        statements.extend(hold_back_statements(&ctx.spec, &ctx.account));
    }
    statements
}

/// The documents bucket policy's statements that hold uploads back until GuardDuty calls them
/// clean (AWS's tag-based access pattern for Malware Protection for S3): no one but the
/// scanner role reads an upload whose tag is not `NO_THREATS_FOUND` (untagged: not scanned
/// yet), and no one but the scanner role writes or removes that tag. A URL presigned before
/// the verdict fetches nothing. Deletes are not touched (`down` empties the bucket).
pub fn hold_back_statements(spec: &Spec, account: &str) -> Vec<Value> {
    let at = Arns::new(account, "");
    let uploads = format!(
        "{}/{}*",
        at.bucket(&spec.documents.bucket),
        spec.documents.uploads_prefix
    );
    let scanner = at.role(&crate::resources::role::scanner_name(spec));
    vec![
        json!({
            "Sid": "NoReadUntilScannedClean",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": uploads,
            "Condition": {
                "StringNotEquals": {format!("s3:ExistingObjectTag/{}", presigner::SCAN_TAG): presigner::CLEAN},
                "ArnNotEquals": {"aws:PrincipalArn": scanner},
            },
        }),
        json!({
            "Sid": "OnlyGuardDutyTagsScans",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:PutObjectTagging", "s3:PutObjectVersionTagging",
                       "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"],
            "Resource": uploads,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": scanner}},
        }),
    ]
}

/// The statement every bucket's policy holds: every request without TLS is refused.
pub(crate) fn tls_only_statement(bucket: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

pub(crate) fn pab(acls: bool, ignore: bool, policy: bool, restrict: bool) -> Value {
    json!({"block_public_acls": acls, "ignore_public_acls": ignore,
           "block_public_policy": policy, "restrict_public_buckets": restrict})
}

pub(crate) fn cors_rule_value(
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
