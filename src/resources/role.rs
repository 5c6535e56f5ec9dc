//! The presigner's IAM role: trusted by lambda.amazonaws.com only, one inline policy allowing
//! exactly what the presigner signs (PutObject, and GetObject when downloads are on, under the
//! uploads prefix; the KMS key's data-key calls under SSE-KMS) and writing to its own log group
//! (which presign-stack creates; the role cannot).

use super::scope::{Arns, Condition, Scope};
use crate::discovery::Listing;
use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_iam::types::Tag;
use futures::FutureExt;
use serde_json::{json, Map, Value};

use super::{sdk_tags, Actions, Orphans, Owner, Resource, Step};
use crate::context::{Ctx, ROLE_PATH};
use crate::errors::{aws_err, code_in, failed_with};
use crate::spec::{Encryption, Spec};
use crate::state::{
    extra_tag_keys, normalize_policy, parse_policy, policy_text, tags_value, Change, Desired,
    Fields, Kind, Known, Live,
};

pub const KIND: Kind = Kind::new("role", "role");
/// The role GuardDuty Malware Protection for S3 scans and tags the uploads as
/// (`documents.malware_scan: guardduty`).
pub const SCANNER_KIND: Kind = Kind::new("scanner_role", "malware scan role");

/// Which of the stack's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The presigner Lambda's.
    Presigner,
    /// GuardDuty's, for the malware protection plan.
    Scanner,
}

pub struct Role(pub Which);

pub static PRESIGNER: Role = Role(Which::Presigner);
pub static SCANNER: Role = Role(Which::Scanner);

/// The scanner role's name: `<name>-<env>-scanner`.
pub fn scanner_name(spec: &Spec) -> String {
    format!("{}-{}-scanner", spec.name, spec.env)
}

impl Which {
    pub fn kind(self) -> Kind {
        match self {
            Which::Presigner => KIND,
            Which::Scanner => SCANNER_KIND,
        }
    }

    pub fn name(self, spec: &Spec) -> String {
        match self {
            Which::Presigner => spec.presigner.role_name.clone(),
            Which::Scanner => scanner_name(spec),
        }
    }

    /// The name of the one inline policy the stack writes on it.
    pub fn policy_name(self) -> &'static str {
        match self {
            Which::Presigner => INLINE_POLICY_NAME,
            Which::Scanner => SCANNER_POLICY_NAME,
        }
    }

    fn trust_policy(self, ctx: &Ctx) -> Value {
        match self {
            Which::Presigner => trust_policy(ctx),
            Which::Scanner => scanner_trust_policy(ctx),
        }
    }

    fn inline_policy(self, ctx: &Ctx) -> Value {
        match self {
            Which::Presigner => inline_policy(ctx),
            Which::Scanner => scanner_policy(&ctx.spec, &ctx.region, &ctx.account),
        }
    }

    fn description(self, spec: &Spec) -> String {
        let what = match self {
            Which::Presigner => "the presigner Lambda's role",
            Which::Scanner => "GuardDuty Malware Protection's role for the documents bucket",
        };
        format!("presign-stack {} ({}): {what}", spec.name, spec.env)
    }
}

impl Resource for Role {
    fn kind(&self) -> Kind {
        self.0.kind()
    }

    fn name(&self, spec: &Spec) -> String {
        self.0.name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        match self.0 {
            Which::Presigner => true,
            Which::Scanner => spec.documents.malware_scan,
        }
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetRolePolicy",
            ],
            create: &["iam:CreateRole", "iam:TagRole", "iam:PutRolePolicy"],
            update: &[
                "iam:PutRolePermissionsBoundary",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
            ],
            delete: &[
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        let name = self.name(spec);
        let role = Scope::on([at.role(&name)]);
        match action {
            // A role that does not exist has no path IAM could check: reads (the first look,
            // before it is made) name it at the root path too.
            "iam:GetRole"
            | "iam:GetRolePolicy"
            | "iam:ListRolePolicies"
            | "iam:ListAttachedRolePolicies" => Scope::on([
                at.role(&name),
                format!("arn:aws:iam::{}:role/{name}", at.account),
            ])
            .part("Read"),
            // Only with the stack's boundary: nothing made or written here can grant more.
            "iam:CreateRole" | "iam:PutRolePolicy" | "iam:PutRolePermissionsBoundary" => {
                role.when(Condition::Boundary)
            }
            // The trust never changes: a deployer who could change it could make the role
            // trust themselves and then act as the presigner.
            "iam:UpdateAssumeRolePolicy" => {
                role.when(Condition::Denied("TheRolesTrustIsNotTheDeployersToChange"))
            }
            // Whether bootstrap's boundary is still what this spec needs.
            "iam:GetPolicy" | "iam:GetPolicyVersion" => {
                Scope::on([at.default_boundary(spec)]).part("Boundary")
            }
            _ => role,
        }
    }

    fn desired(&self, ctx: &Ctx, live: Option<&Live>) -> Desired {
        desired(ctx, self.0, live)
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        let which = self.0;
        let read = async move {
            if which == Which::Presigner {
                let (live, checked) =
                    tokio::join!(read(ctx, which, name), check_bootstrap_boundary(ctx));
                checked?;
                live
            } else {
                read(ctx, which, name).await
            }
        };
        match which {
            Which::Presigner => read.boxed(),
            Which::Scanner => crate::resources::unless_unused(
                ctx,
                self.wanted(&ctx.spec),
                "the malware scan role left from an earlier `malware_scan` could not be checked",
                read,
            ),
        }
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        apply(ctx, self.0, live, changes).boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        async move {
            delete(ctx, name, live).await?;
            Ok(0)
        }
        .boxed()
    }

    fn orphans(&self) -> Orphans {
        Orphans::RolePath
    }

    fn removed_by_up(&self) -> bool {
        // GuardDuty's role holds no data: it goes with the plan once the spec drops the scan.
        self.0 == Which::Scanner
    }
}

/// The service that assumes the scanner role.
pub const SCANNER_SERVICE: &str = "malware-protection-plan.guardduty.amazonaws.com";

/// The managed EventBridge rules GuardDuty makes for a plan.
const MANAGED_RULES: &str = "DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*";

/// GuardDuty's malware protection may assume the scanner role (the trust AWS's guide gives)
/// for this account's plans only: `aws:SourceAccount`, the cross-service confused-deputy guard
/// AWS recommends, as the presigner's role has.
pub fn scanner_trust_policy(ctx: &Ctx) -> Value {
    normalize_policy(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": SCANNER_SERVICE},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account}}
        }]
    }))
}

/// The scanner role's policy, as AWS's GuardDuty guide gives it for one bucket ("Create or
/// update IAM role policy"): the managed EventBridge rule, the bucket's notifications, the
/// validation object, reading and tagging the uploads, and with SSE-KMS the key through S3.
pub fn scanner_policy(spec: &Spec, region: &str, account: &str) -> Value {
    let at = Arns::new(account, region);
    let bucket = &spec.documents.bucket;
    // The guide's `<bucket>/*`, narrowed to the plan's prefix as it advises for a plan with
    // object prefixes.
    let uploads = format!("{}/{}*", at.bucket(bucket), spec.documents.uploads_prefix);
    let rules = format!("arn:aws:events:{region}:{account}:rule/{MANAGED_RULES}");
    let mut statements = vec![
        json!({
            "Sid": "AllowManagedRuleToSendS3EventsToGuardDuty",
            "Effect": "Allow",
            "Action": ["events:PutRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"],
            "Resource": [rules],
            "Condition": {"StringLike": {"events:ManagedBy": SCANNER_SERVICE}},
        }),
        json!({
            "Sid": "AllowGuardDutyToMonitorEventBridgeManagedRule",
            "Effect": "Allow",
            "Action": ["events:DescribeRule", "events:ListTargetsByRule"],
            "Resource": [rules],
        }),
        json!({
            "Sid": "AllowPostScanTag",
            "Effect": "Allow",
            "Action": ["s3:PutObjectTagging", "s3:GetObjectTagging",
                       "s3:PutObjectVersionTagging", "s3:GetObjectVersionTagging"],
            "Resource": [uploads],
        }),
        json!({
            "Sid": "AllowEnableS3EventBridgeEvents",
            "Effect": "Allow",
            "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"],
            "Resource": [at.bucket(bucket)],
        }),
        json!({
            "Sid": "AllowPutValidationObject",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [format!("{}/malware-protection-resource-validation-object", at.bucket(bucket))],
        }),
        json!({
            "Sid": "AllowCheckBucketOwnership",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [at.bucket(bucket)],
        }),
        json!({
            "Sid": "AllowMalwareScan",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [uploads],
        }),
    ];
    if let Encryption::SseKms { key_arn } = &spec.documents.encryption {
        statements.push(json!({
            "Sid": "AllowDecryptForMalwareScan",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key_arn,
            "Condition": {"StringLike": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}},
        }));
    }
    normalize_policy(&json!({"Version": "2012-10-17", "Statement": statements}))
}

pub const INLINE_POLICY_NAME: &str = "presign-stack-presigner";
pub const SCANNER_POLICY_NAME: &str = "presign-stack-malware-scan";

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
    if spec.documents.malware_scan && (spec.presigner.allow_downloads || spec.auth.is_some()) {
        // The scan's verdict, GuardDuty's tag: a download is offered only once it says clean,
        // and a signed-in user's files show it.
        statements.push(json!({
            "Sid": "ReadScanVerdicts",
            "Effect": "Allow",
            "Action": "s3:GetObjectTagging",
            "Resource": objects,
        }));
    }
    if spec.auth.is_some() {
        // Signed-in users' folders: listing them (their files, their quota) and deleting a
        // file, both under the uploads prefix only.
        statements.push(json!({
            "Sid": "ListUserFolders",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": format!("arn:aws:s3:::{}", spec.documents.bucket),
            "Condition": {"StringLike": {"s3:prefix": format!("{}*", spec.documents.uploads_prefix)}},
        }));
        statements.push(json!({
            "Sid": "DeleteUserFiles",
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
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
        statements.push(documents_key(spec, &ctx.region, key_arn, actions));
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

/// The permissions boundary the role should have: the spec's; else the one `bootstrap` made
/// for this stack, once discovery found it; else the one it has. A boundary is never removed
/// (one an organisation requires stays), and a failed look for bootstrap's changes nothing.
pub fn boundary(ctx: &Ctx, live: Option<&Live>) -> Option<String> {
    ctx.spec
        .presigner
        .permissions_boundary
        .clone()
        .or_else(|| bootstrap_boundary(ctx))
        .or_else(|| {
            live.and_then(|l| l.fields.get("permissions_boundary"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

/// The boundary `bootstrap` made for this stack, when the spec names none and discovery
/// found it.
fn bootstrap_boundary(ctx: &Ctx) -> Option<String> {
    if ctx.spec.presigner.permissions_boundary.is_some() {
        return None;
    }
    let default = Arns::new(&ctx.account, &ctx.region).default_boundary(&ctx.spec);
    match &ctx.discovery.boundaries {
        Listing::Found(arns) if arns.contains(&default) => Some(default),
        _ => None,
    }
}

/// Whether the boundary `bootstrap` made still allows what this spec's presigner needs (it
/// names the bucket, uploads prefix, log group and key of the spec it was made for); a
/// warning when not. Only when the role is to have that boundary.
async fn check_bootstrap_boundary(ctx: &Ctx) -> Result<()> {
    let Some(arn) = bootstrap_boundary(ctx) else {
        return Ok(());
    };
    let at = Arns::new(&ctx.account, &ctx.region);
    let iam = &ctx.aws.iam;
    let label = format!("permissions boundary {arn}");
    let policy = iam
        .get_policy()
        .policy_arn(&arn)
        .send()
        .await
        .map_err(|e| aws_err(format!("reading {label}"), e))?;
    let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
        return Ok(());
    };
    if policy_version(ctx, &arn, version).await? != Some(boundary_policy(&ctx.spec, &at)) {
        ctx.report.warn(format!(
            "{label} was made for another version of this spec (its bucket, uploads prefix, \
             function or key differ), so the presigner may be refused what it needs; run \
             `presign-stack bootstrap` again as an administrator"
        ));
    }
    Ok(())
}

/// A managed policy's version, normalised.
pub(crate) async fn policy_version(ctx: &Ctx, arn: &str, version: &str) -> Result<Option<Value>> {
    let label = format!("policy {arn}");
    let doc = ctx
        .aws
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| aws_err(format!("reading {label}"), e))?;
    doc.policy_version()
        .and_then(|v| v.document())
        .map(|d| parse_policy(d).map(|v| normalize_policy(&v)))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{label}: {e}"))
}

/// The KMS statement of SSE-KMS: the key used by S3 for the documents bucket only. With
/// bucket keys (always enabled here) the encryption context is the bucket's ARN.
pub fn documents_key(spec: &Spec, region: &str, key_arn: &str, actions: Vec<&str>) -> Value {
    json!({
        "Sid": "DocumentsKey",
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {"StringEquals": {
            "kms:ViaService": format!("s3.{region}.amazonaws.com"),
            "kms:EncryptionContext:aws:s3:arn": format!("arn:aws:s3:::{}", spec.documents.bucket),
        }},
    })
}

/// The permissions boundary for this stack's roles: the most its presigner could ever need
/// (every feature of SPEC sections 3 and 6 on the documents bucket's uploads, its own log
/// group, the documents key through S3), so that a change of the spec's features does not
/// need a new boundary; only the names of the bucket and function are in it.
pub fn boundary_policy(spec: &Spec, at: &Arns) -> Value {
    let objects = format!(
        "{}/{}*",
        at.bucket(&spec.documents.bucket),
        spec.documents.uploads_prefix
    );
    let mut statements = vec![
        json!({
            "Sid": "PresignerObjects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload", "s3:GetObjectTagging"],
            "Resource": objects,
        }),
        json!({
            "Sid": "PresignerFolders",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": at.bucket(&spec.documents.bucket),
            "Condition": {"StringLike": {"s3:prefix": format!("{}*", spec.documents.uploads_prefix)}},
        }),
        json!({
            "Sid": "PresignerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": at.log_group(&super::function::log_group::name(&spec.presigner.function_name)),
        }),
    ];
    if let Encryption::SseKms { key_arn } = &spec.documents.encryption {
        statements.push(documents_key(
            spec,
            &at.region,
            key_arn,
            vec!["kms:GenerateDataKey", "kms:Decrypt"],
        ));
    }
    if spec.documents.malware_scan {
        // GuardDuty's role is made with the same boundary: what AWS documents it needs.
        let scanner = scanner_policy(spec, &at.region, &at.account);
        if let Some(list) = scanner["Statement"].as_array() {
            statements.extend(list.iter().cloned());
        }
    }
    normalize_policy(&json!({"Version": "2012-10-17", "Statement": statements}))
}

fn desired(ctx: &Ctx, which: Which, live: Option<&Live>) -> Desired {
    let mut d = Desired::default();
    d.set("permissions_boundary", json!(boundary(ctx, live)));
    d.set("tags", tags_value(&ctx.tags(which.kind())));
    d.set("trust_policy", which.trust_policy(ctx));
    let mut inline = Map::new();
    inline.insert(which.policy_name().into(), which.inline_policy(ctx));
    d.set("inline_policies", Value::Object(inline));
    d.set("managed_policies", json!([]));
    d
}

/// The live role, its ARN known; `None` when it does not exist.
async fn read(ctx: &Ctx, which: Which, name: &str) -> Result<Option<Live>> {
    let iam = &ctx.aws.iam;
    let label = format!("{} {name}", which.kind());
    let own_policy = which.policy_name();
    // One round trip in the usual case: the role, both policy lists and our own inline policy
    // are read at once; only unexpected extra inline policies take a second round.
    let (role, inline_names, attached, own) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
        iam.get_role_policy()
            .role_name(name)
            .policy_name(own_policy)
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
    // Read at once with the list: the policy itself is what counts. Listed but not found, it
    // was being written or removed by another run meanwhile: absent, so `up` writes it.
    match own {
        Ok(doc) => {
            let value = parse_policy(doc.policy_document())
                .map_err(|e| anyhow::anyhow!("{label} policy {own_policy}: {e}"))?;
            inline.insert(own_policy.to_string(), value);
        }
        Err(e) if code_in(&e, &["NoSuchEntity"]) => {}
        Err(e) => {
            return Err(aws_err(
                format!("reading policy {own_policy} of {label}"),
                e,
            ))
        }
    }
    let others: Vec<&String> = names.iter().filter(|n| *n != own_policy).collect();
    let docs = futures::future::join_all(
        others
            .iter()
            .map(|p| iam.get_role_policy().role_name(name).policy_name(*p).send()),
    )
    .await;
    for (policy_name, doc) in others.into_iter().zip(docs) {
        let doc = match doc {
            Ok(d) => d,
            Err(e) if code_in(&e, &["NoSuchEntity"]) => continue,
            Err(e) => {
                return Err(aws_err(
                    format!("reading policy {policy_name} of {label}"),
                    e,
                ))
            }
        };
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
    f.insert(
        "permissions_boundary",
        json!(role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())),
    );
    // Not a setting: what a write needs (the scanner role's ARN is no one else's to know).
    f.insert(ARN, json!(role.arn()));
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known {
            role_arn: (which == Which::Presigner).then(|| role.arn().to_string()),
            ..Known::default()
        },
    }))
}

/// The live field with the role's ARN.
const ARN: &str = "arn";

/// Create the role (`live` is `None`) or update the changed fields; its ARN is then known.
async fn apply(ctx: &Ctx, which: Which, live: Option<&Live>, changes: &[Change]) -> Result<Known> {
    let iam = &ctx.aws.iam;
    let name = &which.name(&ctx.spec);
    let label = format!("{} {name}", which.kind());
    let own_policy = which.policy_name();
    let at = Arns::new(&ctx.account, &ctx.region);
    let arn = match live
        .and_then(|l| l.fields.get(ARN))
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        Some(arn) => arn,
        None => {
            let tags = sdk_tags(&ctx.tags(which.kind()), |k, v| {
                Tag::builder().key(k).value(v).build()
            })?;
            let created = iam
                .create_role()
                .role_name(name)
                .path(ROLE_PATH)
                .description(which.description(&ctx.spec))
                .assume_role_policy_document(policy_text(&which.trust_policy(ctx)))
                .set_permissions_boundary(boundary(ctx, None))
                .set_tags(Some(tags))
                .send()
                .await;
            match created {
                Ok(out) => out
                    .role()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_else(|| at.role(name)),
                // A create whose answer was lost and that was sent again: the role is there,
                // and it is ours when it carries our tags (they came with the create).
                Err(e) if code_in(&e, &["EntityAlreadyExists"]) => match read(ctx, which, name)
                    .await?
                {
                    Some(live) if super::owner(&ctx.spec, &live.tags) == Owner::ThisStack => live
                        .fields
                        .get(ARN)
                        .and_then(Value::as_str)
                        .map_or_else(|| at.role(name), str::to_string),
                    _ => return Err(aws_err(format!("creating {label}"), e)),
                },
                // The deploy policy creates the role only with the stack's boundary.
                Err(e) if code_in(&e, &["AccessDenied"]) && boundary(ctx, None).is_none() => {
                    return Err(anyhow::anyhow!(
                        "{:#}; the role has no permissions boundary to be created with: if this \
                         identity holds `presign-stack policy deploy`, an administrator runs \
                         `presign-stack bootstrap` first (or set presigner.permissions_boundary)",
                        aws_err(format!("creating {label}"), e)
                    ))
                }
                Err(e) => return Err(aws_err(format!("creating {label}"), e)),
            }
        }
    };
    let live_fields = live.map(|l| &l.fields);
    // The boundary first: a deployer may write the inline policy only once the role has it.
    if live.is_some() && changes.iter().any(|c| c.field == "permissions_boundary") {
        if let Some(arn) = boundary(ctx, live) {
            iam.put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(&arn)
                .send()
                .await
                .map_err(|e| aws_err(format!("setting the permissions boundary of {label}"), e))?;
        }
    }
    for change in changes {
        match change.field {
            "tags" if live.is_some() => {
                let want = ctx.tags(which.kind());
                let tags = sdk_tags(&want, |k, v| Tag::builder().key(k).value(v).build())?;
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
                    .policy_document(policy_text(&which.trust_policy(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("updating the trust policy of {label}"), e))?;
            }
            "inline_policies" => {
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(own_policy)
                    .policy_document(policy_text(&which.inline_policy(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("writing the policy of {label}"), e))?;
                let extra: Vec<String> = live_fields
                    .and_then(|f| f.get("inline_policies"))
                    .and_then(Value::as_object)
                    .map(|m| m.keys().filter(|k| *k != own_policy).cloned().collect())
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
    Ok(match which {
        Which::Presigner => Known {
            role_arn: Some(arn),
            ..Known::default()
        },
        Which::Scanner => Known::default(),
    })
}

/// Remove the role's policies (those read with it), then the role; if policies were added
/// since, list them, remove them and delete again. Tolerates a role already gone.
async fn delete(ctx: &Ctx, name: &str, live: &Live) -> Result<()> {
    let names = |field: &str| -> Vec<String> {
        match live.fields.get(field) {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    };
    remove_policies(
        ctx,
        name,
        names("inline_policies"),
        names("managed_policies"),
    )
    .await?;
    match ctx.aws.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(()),
        Err(e) if code_in(&e, &["DeleteConflict"]) => {
            let (inline, attached) = list_policies(ctx, name).await?;
            remove_policies(ctx, name, inline, attached).await?;
            match ctx.aws.iam.delete_role().role_name(name).send().await {
                Ok(_) => Ok(()),
                Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(()),
                Err(e) => Err(aws_err(format!("deleting role {name}"), e)),
            }
        }
        Err(e) => Err(aws_err(format!("deleting role {name}"), e)),
    }
}

/// The role's inline policy names and attached policy ARNs.
pub(crate) async fn list_policies(ctx: &Ctx, name: &str) -> Result<(Vec<String>, Vec<String>)> {
    let iam = &ctx.aws.iam;
    let label = format!("role {name}");
    let (inline, attached) = tokio::join!(
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
    );
    let inline = match inline {
        Ok(o) => o.policy_names().to_vec(),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Vec::new(),
        Err(e) => return Err(aws_err(format!("listing inline policies of {label}"), e)),
    };
    let attached = match attached {
        Ok(o) => o
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect(),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Vec::new(),
        Err(e) => return Err(aws_err(format!("listing attached policies of {label}"), e)),
    };
    Ok((inline, attached))
}

/// Delete inline policies and detach managed ones, all at once; gone already is done.
pub(crate) async fn remove_policies(
    ctx: &Ctx,
    name: &str,
    inline: Vec<String>,
    attached: Vec<String>,
) -> Result<()> {
    let iam = &ctx.aws.iam;
    let label = &format!("role {name}");
    let deletes = inline.iter().map(|p| async move {
        match iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_err(format!("removing policy {p} from {label}"), e)),
        }
    });
    let detaches = attached.iter().map(|arn| async move {
        match iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_err(format!("detaching {arn} from {label}"), e)),
        }
    });
    let (deleted, detached) = tokio::join!(
        futures::future::join_all(deletes),
        futures::future::join_all(detaches)
    );
    deleted.into_iter().chain(detached).collect()
}
