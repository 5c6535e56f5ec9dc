//! The presigner's IAM role: trusted by lambda.amazonaws.com only, one inline policy allowing
//! exactly what the presigner signs (PutObject, and GetObject when downloads are on, under the
//! uploads prefix; the KMS key's data-key calls under SSE-KMS) and writing to its own log group
//! (which presign-stack creates; the role cannot).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_iam::types::Tag;
use serde_json::{json, Map, Value};

use super::{Ctx, Owner, ROLE_PATH};
use crate::errors::{aws_err, code_in, failed_with};
use crate::spec::Encryption;
use crate::state::Kind;
use crate::state::{
    extra_tag_keys, normalize_policy, parse_policy, policy_text, tags_value, Change, Fields, Live,
};

pub const INLINE_POLICY_NAME: &str = "presign-stack-presigner";

/// Lambda may assume the role on behalf of this account's functions only (the confused-deputy
/// guard AWS recommends). `aws:SourceArn` is not added: whether Lambda sets it when assuming an
/// execution role is not documented, and a condition it does not meet would break every
/// invocation, whereas `aws:SourceAccount` is.
pub fn trust_policy(ctx: &Ctx) -> Value {
    normalize_policy(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}}
        }]
    }))
}

pub fn inline_policy(ctx: &Ctx) -> Value {
    let spec = &ctx.spec;
    let objects = format!(
        "arn:aws:s3:::{}/{}*",
        spec.documents.bucket, spec.documents.uploads_prefix
    );
    // s3:PutObject also covers creating, uploading parts of and completing a multipart
    // upload; aborting one (`/uploads/abort`) is its own action, granted only when uploads can
    // go in parts at all.
    let multipart = spec.presigner.max_upload_bytes > spec.presigner.multipart_threshold_bytes;
    let mut statements = vec![json!({
        "Sid": "PresignUploads",
        "Effect": "Allow",
        "Action": if multipart {
            json!(["s3:PutObject", "s3:AbortMultipartUpload"])
        } else {
            json!("s3:PutObject")
        },
        "Resource": objects,
    })];
    if spec.presigner.allow_downloads {
        statements.push(json!({
            "Sid": "PresignDownloads",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects,
        }));
    }
    if let Encryption::SseKms { key_arn } = &spec.documents.encryption {
        // Objects written under SSE-KMS need a data key; reading them, and completing an
        // upload in parts, needs Decrypt.
        let mut actions = vec!["kms:GenerateDataKey"];
        if spec.presigner.allow_downloads || multipart {
            actions.push("kms:Decrypt");
        }
        statements.push(json!({
            "Sid": "DocumentsKey",
            "Effect": "Allow",
            "Action": actions,
            "Resource": key_arn,
        }));
    }
    // No logs:CreateLogGroup: presign-stack makes the group, with a retention. A function
    // that could make it again (after a deletion out of band) would make it keep logs forever.
    statements.push(json!({
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [
            format!("arn:aws:logs:{}:{}:log-group:/aws/lambda/{}", ctx.region, ctx.account, spec.presigner.function_name),
            format!("arn:aws:logs:{}:{}:log-group:/aws/lambda/{}:*", ctx.region, ctx.account, spec.presigner.function_name),
        ],
    }));
    normalize_policy(&json!({"Version": "2012-10-17", "Statement": statements}))
}

pub fn desired(ctx: &Ctx) -> Fields {
    let mut f = Fields::new();
    f.insert("tags", tags_value(&ctx.tags(Kind::Role)));
    f.insert("trust_policy", trust_policy(ctx));
    let mut inline = Map::new();
    inline.insert(INLINE_POLICY_NAME.into(), inline_policy(ctx));
    f.insert("inline_policies", Value::Object(inline));
    f.insert("managed_policies", json!([]));
    f
}

/// The live role and its ARN; `None` when it does not exist.
pub async fn read(ctx: &Ctx) -> Result<Option<(Live, String)>> {
    let iam = &ctx.aws.iam;
    let name = &ctx.spec.presigner.role_name;
    let label = format!("role {name}");
    // One round trip in the usual case: the role, both policy lists and our own inline policy
    // are read at once; only unexpected extra inline policies take a second round.
    let (role, inline_names, attached, own) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
        iam.get_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY_NAME)
            .send(),
    );
    // Read together: when a list says NoSuchEntity although GetRole found the role, another
    // run was creating it meanwhile; it did not exist when reading began.
    if failed_with(&inline_names, "NoSuchEntity") || failed_with(&attached, "NoSuchEntity") {
        return Ok(None);
    }
    let role = match role {
        Ok(r) => r,
        Err(e) if code_in(&e, &["NoSuchEntity"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading {label}"), e)),
    };
    let Some(role) = role.role() else {
        return Ok(None);
    };
    let tags: BTreeMap<String, String> = role
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let trust = match role.assume_role_policy_document() {
        Some(doc) => parse_policy(doc).map_err(|e| anyhow::anyhow!("{label} trust policy: {e}"))?,
        None => Value::Null,
    };
    let inline_names =
        inline_names.map_err(|e| aws_err(format!("listing inline policies of {label}"), e))?;
    let attached =
        attached.map_err(|e| aws_err(format!("listing attached policies of {label}"), e))?;
    let mut inline = Map::new();
    let names = inline_names.policy_names();
    if names.iter().any(|n| n == INLINE_POLICY_NAME) {
        let doc =
            own.map_err(|e| aws_err(format!("reading policy {INLINE_POLICY_NAME} of {label}"), e))?;
        let value = parse_policy(doc.policy_document())
            .map_err(|e| anyhow::anyhow!("{label} policy {INLINE_POLICY_NAME}: {e}"))?;
        inline.insert(INLINE_POLICY_NAME.to_string(), value);
    }
    let others: Vec<&String> = names.iter().filter(|n| *n != INLINE_POLICY_NAME).collect();
    let docs = futures::future::join_all(
        others
            .iter()
            .map(|p| iam.get_role_policy().role_name(name).policy_name(*p).send()),
    )
    .await;
    for (policy_name, doc) in others.into_iter().zip(docs) {
        let doc =
            doc.map_err(|e| aws_err(format!("reading policy {policy_name} of {label}"), e))?;
        let value = parse_policy(doc.policy_document())
            .map_err(|e| anyhow::anyhow!("{label} policy {policy_name}: {e}"))?;
        inline.insert(policy_name.clone(), value);
    }
    let mut managed: Vec<String> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    managed.sort();
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags));
    f.insert("trust_policy", trust);
    f.insert("inline_policies", Value::Object(inline));
    f.insert("managed_policies", json!(managed));
    Ok(Some((Live { tags, fields: f }, role.arn().to_string())))
}

/// Create the role (`live` is `None`) or update the changed fields. Returns the role's ARN.
pub async fn apply(ctx: &Ctx, live: Option<&(Live, String)>, changes: &[Change]) -> Result<String> {
    let iam = &ctx.aws.iam;
    let name = &ctx.spec.presigner.role_name;
    let label = format!("role {name}");
    let arn = match live {
        Some((_, arn)) => arn.clone(),
        None => {
            let tags = ctx
                .tags(Kind::Role)
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            let created = iam
                .create_role()
                .role_name(name)
                .path(ROLE_PATH)
                .description(format!(
                    "presign-stack {} ({}): the presigner Lambda's role",
                    ctx.spec.name, ctx.spec.env
                ))
                .assume_role_policy_document(policy_text(&trust_policy(ctx)))
                .set_tags(Some(tags))
                .send()
                .await;
            match created {
                Ok(out) => out
                    .role()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_else(|| ctx.role_arn()),
                // A create whose answer was lost and that was sent again: the role is there,
                // and it is ours when it carries our tags (they came with the create).
                Err(e) if code_in(&e, &["EntityAlreadyExists"]) => match read(ctx).await? {
                    Some((live, arn))
                        if super::owner(&ctx.spec, &live.tags) == Owner::ThisStack =>
                    {
                        arn
                    }
                    _ => return Err(aws_err(format!("creating {label}"), e)),
                },
                Err(e) => return Err(aws_err(format!("creating {label}"), e)),
            }
        }
    };
    let live_fields = live.map(|(l, _)| &l.fields);
    for change in changes {
        match change.field {
            "tags" if live.is_some() => {
                let want = ctx.tags(Kind::Role);
                let tags = want
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()?;
                iam.tag_role()
                    .role_name(name)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("tagging {label}"), e))?;
                let extra = extra_tag_keys(&change.old, &want);
                if !extra.is_empty() {
                    iam.untag_role()
                        .role_name(name)
                        .set_tag_keys(Some(extra))
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("untagging {label}"), e))?;
                }
            }
            "trust_policy" if live.is_some() => {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(policy_text(&trust_policy(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("updating the trust policy of {label}"), e))?;
            }
            "inline_policies" => {
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(INLINE_POLICY_NAME)
                    .policy_document(policy_text(&inline_policy(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("writing the policy of {label}"), e))?;
                let extra: Vec<String> = live_fields
                    .and_then(|f| f.get("inline_policies"))
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.keys()
                            .filter(|k| *k != INLINE_POLICY_NAME)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                for p in extra {
                    iam.delete_role_policy()
                        .role_name(name)
                        .policy_name(&p)
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("removing policy {p} from {label}"), e))?;
                }
            }
            "managed_policies" if live.is_some() => {
                for arn in change
                    .old
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    iam.detach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("detaching {arn} from {label}"), e))?;
                }
            }
            _ => {}
        }
    }
    Ok(arn)
}

/// Remove the role's policies, then the role. Tolerates a role already gone.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let label = format!("role {name}");
    let (inline, attached) = tokio::join!(
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
    );
    let inline = match inline {
        Ok(o) => o.policy_names().to_vec(),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => return Ok(()),
        Err(e) => return Err(aws_err(format!("listing inline policies of {label}"), e)),
    };
    let attached: Vec<String> = match attached {
        Ok(o) => o
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect(),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => return Ok(()),
        Err(e) => return Err(aws_err(format!("listing attached policies of {label}"), e)),
    };
    for p in &inline {
        match iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchEntity"]) => {}
            Err(e) => return Err(aws_err(format!("removing policy {p} from {label}"), e)),
        }
    }
    for arn in &attached {
        match iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_in(&e, &["NoSuchEntity"]) => {}
            Err(e) => return Err(aws_err(format!("detaching {arn} from {label}"), e)),
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(()),
        Err(e) => Err(aws_err(format!("deleting {label}"), e)),
    }
}
