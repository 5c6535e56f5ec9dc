//! The buckets' lifecycle rules, as compared and as written.

use anyhow::Result;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use serde_json::{json, Value};

use super::Which;

/// How long the website bucket keeps an object's older versions behind CloudFront, so that a
/// bad deploy can be rolled back.
const SITE_NONCURRENT_DAYS: i32 = 30;

/// One lifecycle rule of the documents bucket, as compared and as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
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
pub(super) fn lifecycle_rules(spec: &crate::spec::Spec, which: Which) -> Vec<Rule> {
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
                noncurrent_days: Some(SITE_NONCURRENT_DAYS),
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

pub(super) fn lifecycle_value(rules: &[Rule]) -> Value {
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

pub(super) fn lifecycle_rule_from_aws(r: &LifecycleRule) -> Rule {
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

pub(super) fn lifecycle_rule_to_aws(r: &Rule) -> Result<LifecycleRule> {
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
