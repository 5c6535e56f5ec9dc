//! The presigner Lambda: provided.al2023, handler `bootstrap`, the configured architecture,
//! memory, timeout and reserved concurrency, and the environment the presigner reads.
//! CreateFunction is retried while a new role is not yet assumable; every change waits until
//! the function is Active and its last update Successful before the next one.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State,
};
use serde_json::json;

use super::Ctx;
use crate::bundle::{parse_tag, Code, TAG_CODE};
use crate::errors::{aws_err, code_in, status_is};
use crate::retry::{retry, when_code_and_message};
use crate::spec::Spec;
use crate::state::Kind;
use crate::state::{extra_tag_keys, tags_value, Change, Fields, Live};

/// The environment variables the presigner reads, named by the presigner crate itself. The
/// deployed function gets these; `dev` adds its region and local store endpoint to them.
pub fn environment(spec: &Spec) -> BTreeMap<String, String> {
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
    .map(|(k, v)| (k.to_string(), v))
    .collect()
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
    let live_sha = live
        .and_then(|l| l.fields.get("code_sha256"))
        .and_then(|v| v.as_str());
    !matches!(recorded(live), Some((digest, sha)) if digest == code.digest && Some(sha) == live_sha)
}

/// The wanted fields. `code_digest` names what the code is made from; `code_sha256` is the
/// bundle's when it was built or read, else the one recorded with a matching digest, else
/// left out (known only after a build, which `plan` and `drift` never make).
pub fn desired(ctx: &Ctx, role_arn: &str, code: &Code, live: Option<&Live>) -> Fields {
    let p = &ctx.spec.presigner;
    let mut f = Fields::new();
    f.insert("tags", tags_value(&ctx.tags(Kind::Function)));
    f.insert("runtime", json!("provided.al2023"));
    f.insert("handler", json!("bootstrap"));
    f.insert("architecture", json!(p.architecture.as_aws()));
    f.insert("memory_mb", json!(p.memory_mb));
    f.insert("timeout_seconds", json!(p.timeout_seconds));
    f.insert("reserved_concurrency", json!(p.reserved_concurrency));
    f.insert("environment", json!(environment(&ctx.spec)));
    f.insert("role", json!(role_arn));
    f.insert("code_digest", json!(code.digest));
    let sha = match (&code.bundle, recorded(live)) {
        (Some(b), _) => Some(b.sha256_base64.as_str()),
        (None, Some((digest, sha))) if digest == code.digest => Some(sha),
        _ => None,
    };
    if let Some(sha) = sha {
        f.insert("code_sha256", json!(sha));
    }
    f
}

/// The live function; `None` when it does not exist.
pub async fn read(ctx: &Ctx) -> Result<Option<Live>> {
    let name = &ctx.spec.presigner.function_name;
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
    }
    f.insert(
        "reserved_concurrency",
        json!(out
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions())),
    );
    Ok(Some(Live { tags, fields: f }))
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

/// An update refused because another is still in progress (409), or a role that Lambda cannot
/// assume yet: both pass with time.
fn in_progress<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    code_in(e, &["ResourceConflictException"])
}

const CONFIG_FIELDS: &[&str] = &[
    "runtime",
    "handler",
    "memory_mb",
    "timeout_seconds",
    "environment",
    "role",
];

/// Create the function or apply the changed fields, waiting for it to settle after each step.
pub async fn apply(
    ctx: &Ctx,
    created: bool,
    changes: &[Change],
    role_arn: &str,
    code: &Code,
) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let p = &ctx.spec.presigner;
    let name = &p.function_name;
    let label = format!("function {name}");
    let env = Environment::builder()
        .set_variables(Some(
            environment(&ctx.spec)
                .into_iter()
                .collect::<HashMap<_, _>>(),
        ))
        .build();
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    let upload = created || changed("code_sha256") || changed("architecture");
    let bundle = match (&code.bundle, upload) {
        (Some(b), _) => Some(b),
        (None, false) => None,
        (None, true) => anyhow::bail!("internal: the presigner's code was not built"),
    };
    if created {
        let mut tags: HashMap<String, String> = ctx.tags(Kind::Function).into_iter().collect();
        if let Some(tag) = code.tag() {
            tags.insert(TAG_CODE.to_string(), tag);
        }
        let bundle = bundle.context("internal: no bundle to create the function with")?;
        // A role created moments ago is not yet assumable by Lambda: retry on exactly that.
        let created_now = retry(
            ctx.timing.iam_propagation,
            when_code_and_message("InvalidParameterValueException", "cannot be assumed"),
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
                    .role(role_arn)
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
        match created_now {
            Ok(_) => {}
            // Sent again after a lost answer: the function is there, ours by the tags it was
            // created with, with this very code and configuration.
            Err(e) if code_in(&e, &["ResourceConflictException"]) => match read(ctx).await? {
                Some(live) if super::owner(&ctx.spec, &live.tags) == super::Owner::ThisStack => {}
                _ => return Err(aws_err(format!("creating {label}"), e)),
            },
            Err(e) => return Err(aws_err(format!("creating {label}"), e)),
        }
        wait_ready(ctx).await?;
    } else {
        // Another update may still be running (an interrupted run, a console edit, another
        // `up`): wait for it before the first change, and retry a 409 until the deadline.
        if !changes.is_empty() {
            wait_ready(ctx).await?;
        }
        if CONFIG_FIELDS.iter().any(|f| changed(f)) {
            let not_assumable =
                when_code_and_message("InvalidParameterValueException", "cannot be assumed");
            retry(
                ctx.timing.iam_propagation,
                |e| not_assumable(e) || in_progress(e),
                || {
                    lambda
                        .update_function_configuration()
                        .function_name(name)
                        .runtime(Runtime::Providedal2023)
                        .handler("bootstrap")
                        .role(role_arn)
                        .memory_size(p.memory_mb as i32)
                        .timeout(p.timeout_seconds as i32)
                        .environment(env.clone())
                        .send()
                },
            )
            .await
            .map_err(|e| aws_err(format!("updating the configuration of {label}"), e))?;
            wait_ready(ctx).await?;
        }
        if let (true, Some(bundle)) = (upload, bundle) {
            retry(ctx.timing.function_ready, in_progress, || {
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
        // The code tag follows the code: after an upload, or to record the digest of code
        // that was already deployed (a function made before the tag existed).
        if let (true, Some(tag)) = (upload || changed("code_digest"), code.tag()) {
            let arn = ctx.function_arn();
            retry(ctx.timing.function_ready, in_progress, || {
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
            let arn = ctx.function_arn();
            let want = ctx.tags(Kind::Function);
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
        }
    }
    if changed("reserved_concurrency") {
        match p.reserved_concurrency {
            Some(n) => {
                retry(ctx.timing.function_ready, in_progress, || {
                    lambda
                        .put_function_concurrency()
                        .function_name(name)
                        .reserved_concurrent_executions(n as i32)
                        .send()
                })
                .await
                .map_err(|e| aws_err(format!("setting reserved concurrency of {label}"), e))?;
            }
            None if !created => {
                retry(ctx.timing.function_ready, in_progress, || {
                    lambda
                        .delete_function_concurrency()
                        .function_name(name)
                        .send()
                })
                .await
                .map_err(|e| aws_err(format!("removing reserved concurrency of {label}"), e))?;
            }
            None => {}
        }
    }
    Ok(())
}

fn architecture(ctx: &Ctx) -> Architecture {
    Architecture::from(ctx.spec.presigner.architecture.as_aws())
}

/// Poll until the function is Active and its last update Successful; fail with AWS's reason
/// when it reports Failed, or when the deadline passes.
pub async fn wait_ready(ctx: &Ctx) -> Result<()> {
    let name = &ctx.spec.presigner.function_name;
    let backoff = ctx.timing.function_ready;
    let start = Instant::now();
    let mut delay = backoff.first;
    loop {
        let c = ctx
            .aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| aws_err(format!("waiting for function {name}"), e))?;
        let state = c.state().cloned();
        let update = c.last_update_status().cloned();
        if state == Some(State::Failed) {
            anyhow::bail!(
                "function {name} failed to become active: {}",
                c.state_reason().unwrap_or("no reason given")
            );
        }
        if update == Some(LastUpdateStatus::Failed) {
            anyhow::bail!(
                "the last update of function {name} failed: {}",
                c.last_update_status_reason().unwrap_or("no reason given")
            );
        }
        let active = matches!(state, None | Some(State::Active));
        let settled = matches!(update, None | Some(LastUpdateStatus::Successful));
        if active && settled {
            return Ok(());
        }
        if start.elapsed() + delay > backoff.deadline {
            anyhow::bail!(
                "function {name} still not ready after {}s (state {}, last update {})",
                backoff.deadline.as_secs(),
                state.as_ref().map(|s| s.as_str()).unwrap_or("unknown"),
                update.as_ref().map(|s| s.as_str()).unwrap_or("unknown")
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Delete the function (its URL and permissions go with it). Tolerates one already gone.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    match ctx
        .aws
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(()),
        Err(e) => Err(aws_err(format!("deleting function {name}"), e)),
    }
}
