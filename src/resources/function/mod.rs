//! The presigner Lambda: provided.al2023, handler `bootstrap`, the configured architecture,
//! memory, timeout and reserved concurrency, and the environment the presigner reads.
//! CreateFunction is retried while a new role is not yet assumable; every change waits until
//! the function is Active and its last update Successful before the next one.

use super::scope::{Arns, Condition, Scope};
use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State,
};
use futures::FutureExt;
use serde_json::{json, Value};

pub mod log_group;

use super::{role, Actions, Need, Orphans, Resource, Step};
use crate::bundle::{parse_tag, Code, TAG_CODE};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in, status_is};
use crate::retry::{poll, retry, when, Poll};
use crate::spec::Spec;
use crate::state::{extra_tag_keys, tags_value, Change, Desired, Fields, Kind, Known, Live};

pub const KIND: Kind = Kind::new("function", "function");

pub struct Function;

/// The `state` field of a function that works (Active, Inactive or still updating).
const READY: &str = "ready";

impl Resource for Function {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        spec.presigner.function_name.clone()
    }

    fn needs(&self, spec: &Spec) -> Vec<Need> {
        // The log group first, so that Lambda never makes it without a retention.
        let mut needs = vec![Need::Uses(role::KIND), Need::Uses(log_group::KIND)];
        // The stack's own pool and client are its issuer and audience: it never runs open.
        if crate::resources::cognito::cognito(spec).is_some() {
            needs.push(Need::Reads(crate::resources::cognito::client::KIND));
        }
        needs
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["lambda:GetFunction", "lambda:ListTags"],
            create: &[
                "lambda:CreateFunction",
                "lambda:TagResource",
                "lambda:GetFunctionConfiguration",
                "lambda:PutFunctionConcurrency",
                "iam:PassRole",
            ],
            update: &[
                "lambda:UpdateFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:GetFunctionConfiguration",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "iam:PassRole",
            ],
            delete: &["lambda:DeleteFunction"],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            "iam:PassRole" => Scope::on([at.role(&spec.presigner.role_name)])
                .when(Condition::PassedTo("lambda.amazonaws.com"))
                .part("Role"),
            _ => Scope::on([at.function(&spec.presigner.function_name)]),
        }
    }

    fn desired(&self, ctx: &Ctx, live: Option<&Live>) -> Desired {
        desired(ctx, live)
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
        async move {
            apply(ctx, live.is_none(), changes).await?;
            Ok(Known::default())
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, _: &'a Live) -> Step<'a, usize> {
        async move {
            match ctx
                .aws
                .lambda
                .delete_function()
                .function_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(0),
                Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(0),
                Err(e) => Err(aws_err(format!("deleting function {name}"), e)),
            }
        }
        .boxed()
    }

    fn holds(&self, ctx: &Ctx, live: &Live) -> Vec<(Kind, String)> {
        let ours = ctx.known.role_arn.clone().unwrap_or_else(|| ctx.role_arn());
        if live.fields.get("role").and_then(Value::as_str) == Some(ours.as_str()) {
            vec![(
                role::KIND,
                format!(
                    "role {} is the role of function {}, which is left in place",
                    ctx.spec.presigner.role_name, ctx.spec.presigner.function_name
                ),
            )]
        } else {
            Vec::new()
        }
    }

    fn orphans(&self) -> Orphans {
        Orphans::Tagged("lambda:function")
    }

    fn later(&self, field: &str) -> bool {
        field == "reserved_concurrency"
    }

    fn down_label(&self, name: &str, _live: &Live) -> String {
        format!("function {name} with its URL and permissions")
    }
}

/// The environment variables the presigner reads, named by the presigner crate itself. The
/// deployed function gets these; `dev` adds its region and local store endpoint to them.
pub fn environment(spec: &Spec) -> BTreeMap<String, String> {
    environment_for(spec, spec.auth.as_ref())
}

/// The environment with `auth` as resolved (the stack's own pool's issuer and client).
pub fn environment_for(spec: &Spec, auth: Option<&crate::spec::Auth>) -> BTreeMap<String, String> {
    let p = &spec.presigner;
    [
        (presigner::ENV_BUCKET, spec.documents.bucket.clone()),
        (
            presigner::ENV_UPLOADS_PREFIX,
            spec.documents.uploads_prefix.clone(),
        ),
        (
            presigner::ENV_URL_EXPIRY_SECONDS,
            p.url_expiry_seconds.to_string(),
        ),
        (
            presigner::ENV_MAX_UPLOAD_BYTES,
            p.max_upload_bytes.to_string(),
        ),
        (
            presigner::ENV_MULTIPART_THRESHOLD_BYTES,
            p.multipart_threshold_bytes.to_string(),
        ),
        (
            presigner::ENV_PART_SIZE_BYTES,
            p.part_size_bytes.to_string(),
        ),
        (
            presigner::ENV_ALLOWED_CONTENT_TYPES,
            p.allowed_content_types.join(","),
        ),
        (
            presigner::ENV_ALLOW_DOWNLOADS,
            p.allow_downloads.to_string(),
        ),
    ]
    .into_iter()
    .chain(
        // Behind the distribution, requests arrive under the API path.
        spec.website
            .api_path()
            .map(|p| (presigner::ENV_BASE_PATH, p.to_string())),
    )
    .chain(
        spec.documents
            .malware_scan
            .then(|| (presigner::ENV_MALWARE_SCAN, "guardduty".to_string())),
    )
    .chain(auth.into_iter().flat_map(auth_environment))
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The `auth` settings as the presigner reads them (`presigner::auth`).
fn auth_environment(auth: &crate::spec::Auth) -> Vec<(&'static str, String)> {
    use presigner::auth::*;
    let mut env = vec![
        (ENV_AUTH_ISSUER, auth.issuer.clone()),
        (ENV_AUTH_AUDIENCES, auth.audiences.join(",")),
        (ENV_AUTH_FILES, auth.files.as_str().to_string()),
    ];
    if let Some(uri) = &auth.jwks_uri {
        env.push((ENV_AUTH_JWKS_URI, uri.clone()));
    }
    if let Some(q) = auth.quota {
        env.push((ENV_AUTH_QUOTA_FILES, q.files.to_string()));
        if let Some(bytes) = q.bytes {
            env.push((ENV_AUTH_QUOTA_BYTES, bytes.to_string()));
        }
    }
    env
}

/// What the live function's [`TAG_CODE`] says its code was made from: (digest, CodeSha256).
fn recorded(live: Option<&Live>) -> Option<(&str, &str)> {
    live?.tags.get(TAG_CODE).and_then(|v| parse_tag(v))
}

/// Whether `up` must build the bundle: a prebuilt zip is already read; a crate is built only
/// when the function is new, its sources' digest differs from the one recorded on it, or its
/// code is no longer what that digest was built into (changed out of band).
pub fn needs_build(live: Option<&Live>, code: &Code) -> bool {
    if code.bundle.is_some() {
        return false;
    }
    if live.is_some_and(|l| l.fields.get("state").is_some_and(|s| s != READY)) {
        return true;
    }
    let live_sha = live
        .and_then(|l| l.fields.get("code_sha256"))
        .and_then(|v| v.as_str());
    !matches!(recorded(live), Some((digest, sha)) if digest == code.digest && Some(sha) == live_sha)
}

/// The wanted fields. `code_digest` names what the code is made from; `code_sha256` is the
/// bundle's when it was built or read, else the one recorded with a matching digest, else
/// left out (known only after a build, which `plan` and `drift` never make).
fn desired(ctx: &Ctx, live: Option<&Live>) -> Desired {
    let p = &ctx.spec.presigner;
    let role_arn = ctx.known.role_arn.clone().unwrap_or_else(|| ctx.role_arn());
    let code = ctx.code.as_deref();
    let mut f = Fields::new();
    f.insert("tags", tags_value(&ctx.tags(KIND)));
    f.insert("state", json!(READY));
    f.insert("runtime", json!("provided.al2023"));
    f.insert("handler", json!("bootstrap"));
    f.insert("architecture", json!(p.architecture.as_aws()));
    f.insert("memory_mb", json!(p.memory_mb));
    f.insert("timeout_seconds", json!(p.timeout_seconds));
    f.insert("reserved_concurrency", json!(p.reserved_concurrency));
    let mut after = BTreeMap::new();
    match ctx.sign_in() {
        Ok(auth) => {
            f.insert(
                "environment",
                json!(environment_for(&ctx.spec, auth.as_ref())),
            );
        }
        Err(waits) => {
            // The pool's issuer and its client's id, shown as not known yet.
            let shown = ctx.sign_in_shown();
            f.insert(
                "environment",
                json!(environment_for(&ctx.spec, shown.as_ref())),
            );
            after.insert("environment", waits);
        }
    }
    f.insert("role", json!(role_arn));
    if let Some(code) = code {
        f.insert("code_digest", json!(code.digest));
        let sha = match (&code.bundle, recorded(live)) {
            (Some(b), _) => Some(b.sha256_base64.as_str()),
            (None, Some((digest, sha))) if digest == code.digest => Some(sha),
            _ => None,
        };
        if let Some(sha) = sha {
            f.insert("code_sha256", json!(sha));
        }
    }
    Desired { fields: f, after }
}

/// The live function; `None` when it does not exist.
async fn read(ctx: &Ctx, name: &str) -> Result<Option<Live>> {
    let out = match ctx
        .aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading function {name}"), e)),
    };
    let tags = match (out.tags(), out.tags_error()) {
        (Some(t), _) => t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        // AWS leaves the tags out of GetFunction, saying why in TagsError, for a caller not
        // allowed lambda:ListTags: ask ListTags itself, which names the missing permission.
        (None, Some(_)) => list_tags(ctx, name).await?,
        (None, None) => BTreeMap::new(),
    };
    let mut f = Fields::new();
    // The code tag is compared as `code_digest`, and written with the code.
    let mut owned_tags = tags.clone();
    let code_tag = owned_tags.remove(TAG_CODE);
    f.insert("tags", tags_value(&owned_tags));
    f.insert(
        "code_digest",
        json!(code_tag.as_deref().and_then(parse_tag).map(|(d, _)| d)),
    );
    if let Some(c) = out.configuration() {
        let env: BTreeMap<String, String> = c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let arch = match c.architectures() {
            [] => json!("x86_64"),
            [one] => json!(one.as_str()),
            many => json!(many.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
        };
        f.insert("runtime", json!(c.runtime().map(|r| r.as_str())));
        f.insert("handler", json!(c.handler()));
        f.insert("architecture", arch);
        f.insert("memory_mb", json!(c.memory_size()));
        f.insert("timeout_seconds", json!(c.timeout()));
        f.insert("environment", json!(env));
        f.insert("role", json!(c.role()));
        f.insert("code_sha256", json!(c.code_sha256()));
        f.insert(
            "state",
            json!(state_of(
                c.state(),
                c.state_reason(),
                c.last_update_status(),
                c.last_update_status_reason()
            )),
        );
    }
    f.insert(
        "reserved_concurrency",
        json!(out
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions())),
    );
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known::default(),
    }))
}

/// A function that works is [`READY`]: Active, Inactive (idle for a while; the next call
/// wakes it) or still updating. Otherwise what failed, with AWS's reason.
fn state_of(
    state: Option<&State>,
    reason: Option<&str>,
    update: Option<&LastUpdateStatus>,
    update_reason: Option<&str>,
) -> String {
    if state == Some(&State::Failed) {
        format!(
            "failed to become active: {}",
            reason.unwrap_or("no reason given")
        )
    } else if update == Some(&LastUpdateStatus::Failed) {
        format!(
            "failed its last update: {}",
            update_reason.unwrap_or("no reason given")
        )
    } else {
        READY.to_string()
    }
}

/// The function's tags from ListTags; refused, an error naming the permission to add (never
/// "no tags", which would make our own function look foreign).
async fn list_tags(ctx: &Ctx, name: &str) -> Result<BTreeMap<String, String>> {
    match ctx
        .aws
        .lambda
        .list_tags()
        .resource(ctx.function_arn_of(name))
        .send()
        .await
    {
        Ok(t) => Ok(t
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()),
        Err(e) if code_in(&e, &["AccessDeniedException"]) || status_is(&e, 403) => {
            anyhow::bail!(
                "reading the tags of function {name}: these credentials may not call \
                 lambda:ListTags ({}), and presign-stack reads a function's tags to know it is \
                 the stack's own: allow lambda:ListTags on {}",
                crate::errors::describe(&e),
                ctx.function_arn_of(name)
            )
        }
        Err(e) => Err(aws_err(format!("reading the tags of function {name}"), e)),
    }
}

const CONFIG_FIELDS: &[&str] = &[
    "runtime",
    "handler",
    "memory_mb",
    "timeout_seconds",
    "environment",
    "role",
];

/// The environment variables as Lambda takes them.
fn lambda_environment(ctx: &Ctx) -> Result<Environment> {
    let auth = ctx.sign_in().map_err(|waits| {
        anyhow::anyhow!("internal: the function's environment still waits for the {waits:?} output")
    })?;
    Ok(Environment::builder()
        .set_variables(Some(
            environment_for(&ctx.spec, auth.as_ref())
                .into_iter()
                .collect(),
        ))
        .build())
}

/// Create the function or apply the changed fields, waiting for it to settle after each step.
async fn apply(ctx: &Ctx, created: bool, changes: &[Change]) -> Result<()> {
    let code = ctx
        .code
        .as_deref()
        .context("internal: the presigner's code was not identified")?;
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    // A function that failed gets its code again: AWS then tries anew, and says why if not.
    let upload = created || changed("code_sha256") || changed("architecture") || changed("state");
    let bundle = match (&code.bundle, upload) {
        (Some(b), _) => Some(b),
        (None, false) => None,
        (None, true) => anyhow::bail!("internal: the presigner's code was not built"),
    };
    let concurrency = changed("reserved_concurrency");
    match (created, bundle) {
        (true, Some(bundle)) => create(ctx, code, bundle, concurrency).await,
        (true, None) => anyhow::bail!("internal: no bundle to create the function with"),
        (false, bundle) => {
            update(ctx, code, bundle, changes).await?;
            if concurrency {
                set_concurrency(ctx, false).await?;
            }
            Ok(())
        }
    }
}

/// CreateFunction, retried while a role created moments ago is not assumable yet; then the
/// wait until it is active (unless the answer says it is already) and, beside it, the
/// reserved concurrency, which needs no settled function.
async fn create(
    ctx: &Ctx,
    code: &Code,
    bundle: &crate::bundle::Bundle,
    concurrency: bool,
) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let p = &ctx.spec.presigner;
    let name = &p.function_name;
    let role_arn = ctx.known.role_arn.clone().unwrap_or_else(|| ctx.role_arn());
    let mut tags: HashMap<String, String> = ctx.tags(KIND).into_iter().collect();
    if let Some(tag) = code.tag() {
        tags.insert(TAG_CODE.to_string(), tag);
    }
    let env = lambda_environment(ctx)?;
    let created = retry(
        ctx.timing.iam_propagation,
        when::role_not_assumable_yet,
        || {
            lambda
                .create_function()
                .function_name(name)
                .description(format!(
                    "presign-stack {} ({}): issues presigned S3 URLs",
                    ctx.spec.name, ctx.spec.env
                ))
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&role_arn)
                .architectures(architecture(ctx))
                .memory_size(p.memory_mb as i32)
                .timeout(p.timeout_seconds as i32)
                .environment(env.clone())
                .set_tags(Some(tags.clone()))
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(bundle.zip.clone()))
                        .build(),
                )
                .send()
        },
    )
    .await;
    let ready = match created {
        Ok(out) => {
            matches!(out.state(), Some(State::Active))
                && matches!(
                    out.last_update_status(),
                    None | Some(LastUpdateStatus::Successful)
                )
        }
        // Sent again after a lost answer, or made by another run at once: the function is
        // there, ours by the tags it was created with.
        Err(e) if code_in(&e, &["ResourceConflictException"]) => match read(ctx, name).await? {
            Some(live) if super::owner(&ctx.spec, &live.tags) == super::Owner::ThisStack => false,
            _ => return Err(aws_err(format!("creating function {name}"), e)),
        },
        Err(e) => return Err(aws_err(format!("creating function {name}"), e)),
    };
    let (waited, reserved) = tokio::join!(
        async {
            match ready {
                true => Ok(()),
                false => wait_ready(ctx).await,
            }
        },
        async {
            match concurrency {
                true => set_concurrency(ctx, true).await,
                false => Ok(()),
            }
        }
    );
    waited.and(reserved)
}

/// The changed configuration, code and tags of an existing function, each step after the
/// function has settled from the one before.
async fn update(
    ctx: &Ctx,
    code: &Code,
    bundle: Option<&crate::bundle::Bundle>,
    changes: &[Change],
) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let p = &ctx.spec.presigner;
    let name = &p.function_name;
    let label = format!("function {name}");
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    // Another update may still be running (an interrupted run, a console edit, another
    // `up`): wait for it before the first change, and retry a 409 until the deadline. The
    // reserved concurrency is set beside any update, and needs no wait.
    if changes.iter().all(|c| c.field == "reserved_concurrency") {
        return Ok(());
    }
    wait_ready(ctx).await?;
    if CONFIG_FIELDS.iter().any(|f| changed(f)) {
        let role_arn = ctx.known.role_arn.clone().unwrap_or_else(|| ctx.role_arn());
        let env = lambda_environment(ctx)?;
        retry(ctx.timing.iam_propagation, when::function_settling, || {
            lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role(&role_arn)
                .memory_size(p.memory_mb as i32)
                .timeout(p.timeout_seconds as i32)
                .environment(env.clone())
                .send()
        })
        .await
        .map_err(|e| aws_err(format!("updating the configuration of {label}"), e))?;
        wait_ready(ctx).await?;
    }
    if let Some(bundle) = bundle {
        retry(ctx.timing.function_ready, when::update_in_progress, || {
            lambda
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(bundle.zip.clone()))
                .architectures(architecture(ctx))
                .send()
        })
        .await
        .map_err(|e| aws_err(format!("updating the code of {label}"), e))?;
        wait_ready(ctx).await?;
    }
    // The code tag follows the code: after an upload, or to record the digest of code that
    // was already deployed (a function made before the tag existed).
    if let (true, Some(tag)) = (bundle.is_some() || changed("code_digest"), code.tag()) {
        let arn = ctx.function_arn();
        retry(ctx.timing.function_ready, when::update_in_progress, || {
            lambda
                .tag_resource()
                .resource(&arn)
                .tags(TAG_CODE, &tag)
                .send()
        })
        .await
        .map_err(|e| aws_err(format!("recording the code digest of {label}"), e))?;
    }
    if let Some(change) = changes.iter().find(|c| c.field == "tags") {
        retag(ctx, change).await?;
    }
    Ok(())
}

/// The ownership tags as the spec wants them, and no other but the code's.
async fn retag(ctx: &Ctx, change: &Change) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let arn = ctx.function_arn();
    let label = format!("function {}", ctx.spec.presigner.function_name);
    let want = ctx.tags(KIND);
    lambda
        .tag_resource()
        .resource(&arn)
        .set_tags(Some(want.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|e| aws_err(format!("tagging {label}"), e))?;
    let extra = extra_tag_keys(&change.old, &want);
    if !extra.is_empty() {
        lambda
            .untag_resource()
            .resource(&arn)
            .set_tag_keys(Some(extra))
            .send()
            .await
            .map_err(|e| aws_err(format!("untagging {label}"), e))?;
    }
    Ok(())
}

/// Reserve the spec's concurrency, or remove a reservation it no longer names (a new function
/// has none to remove).
async fn set_concurrency(ctx: &Ctx, created: bool) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    match ctx.spec.presigner.reserved_concurrency {
        Some(n) => retry(ctx.timing.function_ready, when::update_in_progress, || {
            lambda
                .put_function_concurrency()
                .function_name(name)
                .reserved_concurrent_executions(n as i32)
                .send()
        })
        .await
        .map(drop)
        .map_err(|e| {
            let low_quota = crate::errors::message(&e)
                .is_some_and(|m| m.contains("UnreservedConcurrentExecution"));
            let what = if low_quota {
                format!(
                    "setting reserved concurrency of function {name} to {n}: AWS keeps 100 of \
                     the account's concurrent executions unreserved, and this account's quota \
                     leaves fewer; set `presigner.reserved_concurrency: null` (no reservation), \
                     or raise the quota (Service Quotas, \"Lambda concurrent executions\")"
                )
            } else {
                format!("setting reserved concurrency of function {name}")
            };
            aws_err(what, e)
        }),
        None if !created => retry(ctx.timing.function_ready, when::update_in_progress, || {
            lambda
                .delete_function_concurrency()
                .function_name(name)
                .send()
        })
        .await
        .map(drop)
        .map_err(|e| {
            aws_err(
                format!("removing reserved concurrency of function {name}"),
                e,
            )
        }),
        None => Ok(()),
    }
}

fn architecture(ctx: &Ctx) -> Architecture {
    Architecture::from(ctx.spec.presigner.architecture.as_aws())
}

/// Poll until the function is Active and its last update Successful; fail with AWS's reason
/// when it reports Failed, or when the deadline passes.
pub async fn wait_ready(ctx: &Ctx) -> Result<()> {
    let name = &ctx.spec.presigner.function_name;
    poll(
        ctx.timing.function_ready,
        &ctx.cancel,
        &format!("function {name}"),
        || async {
            let c = ctx
                .aws
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(|e| aws_err(format!("waiting for function {name}"), e))?;
            let state = state_of(
                c.state(),
                c.state_reason(),
                c.last_update_status(),
                c.last_update_status_reason(),
            );
            if state != READY {
                anyhow::bail!("function {name} {state}");
            }
            let active = matches!(c.state(), None | Some(State::Active));
            let settled = matches!(
                c.last_update_status(),
                None | Some(LastUpdateStatus::Successful)
            );
            Ok(if active && settled {
                Poll::Ready(())
            } else {
                Poll::Waiting(format!(
                    "state {}, last update {}",
                    c.state().map(|s| s.as_str()).unwrap_or("unknown"),
                    c.last_update_status()
                        .map(|s| s.as_str())
                        .unwrap_or("unknown")
                ))
            })
        },
        |_, _| {},
        |state, waited| {
            anyhow::anyhow!(
                "function {name} still not ready after {}s ({state})",
                waited.as_secs()
            )
        },
    )
    .await
}
