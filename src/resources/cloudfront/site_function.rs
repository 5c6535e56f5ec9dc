//! The CloudFront Function on the distribution's default behaviour (the website bucket's, not
//! the API's): a viewer-request handler that serves the index document for a path ending in
//! `/` and the error document for a path that names no file (no extension: a route of the
//! page). It replaces the distribution-wide custom error responses, which turned every 403
//! and 404 into the error page, the presigner's JSON under `api_path` included; answers under
//! `api_path` now reach the page as the presigner wrote them. A missing file (a path with an
//! extension) gets the bucket's own refusal.
//!
//! CloudFront Functions take no tags: the name is fixed (`<name>-<env>-site`) and the comment
//! carries the stack's mark. A function has two stages: DEVELOPMENT, which writes go to, and
//! LIVE, which distributions run; the live code is the one planned and drift-checked.
//!
//! Fields: comment, runtime, code (`sha256:` of the live stage's code; null before it is
//! published).

use crate::resources::scope::{Arns, Scope};
use anyhow::{Context, Result};
use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::{FunctionConfig, FunctionRuntime, FunctionStage};
use futures::FutureExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{listings, ownership_mark};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{Actions, Owner, Resource, Step};
use crate::retry::{if_match, Current};
use crate::spec::Spec;
use crate::state::{Change, Desired, Fields, Kind, Known, Live};

pub const KIND: Kind = Kind::new("cloudfront_function", "CloudFront function");

/// The runtime the code is written for.
pub const RUNTIME: &str = "cloudfront-js-2.0";

/// CloudFront's limit on a function's code, in bytes.
pub const MAX_CODE_BYTES: usize = 10_240;

pub struct SiteFunction;

/// `<name>-<env>-site`.
pub fn function_name(spec: &Spec) -> String {
    format!("{}-{}-site", spec.name, spec.env)
}

/// The handler for this spec's index and error documents.
pub fn code(spec: &Spec) -> String {
    let w = &spec.website;
    // Document names are plain file names (validated), so they are safe inside a JS string;
    // JSON quoting makes that hold whatever they are.
    let index = serde_json::Value::String(w.index_document.clone());
    let fallback = serde_json::Value::String(format!("/{}", w.error_document));
    include_str!("site_function.js")
        .replacen("MARK", &ownership_mark(spec), 1)
        .replacen("INDEX_DOCUMENT", &index.to_string(), 1)
        .replacen("ERROR_PATH", &fallback.to_string(), 1)
}

fn digest(code: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(code)))
}

fn function_config(spec: &Spec) -> Result<FunctionConfig> {
    Ok(FunctionConfig::builder()
        .comment(ownership_mark(spec))
        .runtime(FunctionRuntime::from(RUNTIME))
        .build()?)
}

impl Resource for SiteFunction {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        function_name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        spec.website.cloudfront().is_some()
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["cloudfront:DescribeFunction", "cloudfront:GetFunction"],
            create: &["cloudfront:CreateFunction", "cloudfront:PublishFunction"],
            update: &[
                "cloudfront:DescribeFunction",
                "cloudfront:UpdateFunction",
                "cloudfront:PublishFunction",
            ],
            delete: &["cloudfront:DescribeFunction", "cloudfront:DeleteFunction"],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            // CloudFront authorises a create against no resource.
            "cloudfront:CreateFunction" => Scope::any(),
            _ => Scope::on([at.cloudfront(&format!("function/{}", function_name(spec)))]),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        d.set("comment", json!(ownership_mark(&ctx.spec)));
        d.set("runtime", json!(RUNTIME));
        d.set("code", json!(digest(code(&ctx.spec).as_bytes())));
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        async move {
            // As for its siblings: where CloudFront could not be listed and this stack does
            // not use it, nothing is there (the stack has said once that leftovers could not
            // be checked).
            if listings(ctx)?.is_none() {
                return Ok(None);
            }
            let cf = &ctx.aws.cloudfront;
            let (described, live_code) = tokio::join!(
                cf.describe_function()
                    .name(name)
                    .stage(FunctionStage::Development)
                    .send(),
                cf.get_function()
                    .name(name)
                    .stage(FunctionStage::Live)
                    .send()
            );
            let described = match described {
                Ok(d) => d,
                Err(e) if code_in(&e, &["NoSuchFunctionExists"]) => return Ok(None),
                Err(e) => return Err(aws_err(format!("reading CloudFront function {name}"), e)),
            };
            let code = match live_code {
                Ok(g) => g.function_code().map(|c| digest(c.as_ref())),
                // Made but never published (a run stopped between the two).
                Err(e) if code_in(&e, &["NoSuchFunctionExists"]) => None,
                Err(e) => {
                    return Err(aws_err(
                        format!("reading the live code of CloudFront function {name}"),
                        e,
                    ))
                }
            };
            let summary = described
                .function_summary()
                .with_context(|| format!("CloudFront function {name}: no summary in the answer"))?;
            let config = summary.function_config();
            let mut fields = Fields::new();
            fields.insert("comment", json!(config.map(|c| c.comment())));
            fields.insert("runtime", json!(config.map(|c| c.runtime().as_str())));
            fields.insert("code", json!(code));
            Ok(Some(Live {
                fields,
                known: Known {
                    site_function_arn: summary
                        .function_metadata()
                        .map(|m| m.function_arn().to_string()),
                    ..Known::default()
                },
                ..Live::default()
            }))
        }
        .boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        _changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            let name = function_name(&ctx.spec);
            let etag = match live {
                None => create(ctx, &name).await?,
                Some(_) => None,
            };
            let etag = match etag {
                Some(etag) => etag,
                None => update(ctx, &name).await?,
            };
            let arn = publish(ctx, &name, etag).await?;
            Ok(Known {
                site_function_arn: Some(arn),
                ..Known::default()
            })
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, _live: &'a Live) -> Step<'a, usize> {
        async move {
            let cf = &ctx.aws.cloudfront;
            if_match(
                ctx.timing.if_match_attempts,
                &format!("deleting CloudFront function {name}"),
                || development_etag(ctx, name),
                |etag| async move {
                    match cf.delete_function().name(name).if_match(etag).send().await {
                        Ok(_) => Ok(()),
                        Err(e) if code_in(&e, &["NoSuchFunctionExists"]) => Ok(()),
                        Err(e) => Err(aws_err(format!("deleting CloudFront function {name}"), e)),
                    }
                },
            )
            .await?;
            Ok(0)
        }
        .boxed()
    }

    fn owner(&self, spec: &Spec, live: &Live) -> Owner {
        super::owner_by_mark(spec, live, "comment")
    }

    fn unmarked(&self, spec: &Spec) -> String {
        super::unmarked_by(spec, "comment")
    }

    fn removed_by_up(&self) -> bool {
        true
    }
}

/// The DEVELOPMENT stage's ETag, which every write names, and its comment; `None` when the
/// function is gone.
async fn development(ctx: &Ctx, name: &str) -> Result<Option<(String, Option<String>)>> {
    match ctx
        .aws
        .cloudfront
        .describe_function()
        .name(name)
        .stage(FunctionStage::Development)
        .send()
        .await
    {
        Ok(d) => Ok(Some((
            d.e_tag().unwrap_or_default().to_string(),
            d.function_summary()
                .and_then(|s| s.function_config())
                .map(|c| c.comment().to_string()),
        ))),
        Err(e) if code_in(&e, &["NoSuchFunctionExists"]) => Ok(None),
        Err(e) => Err(aws_err(format!("reading CloudFront function {name}"), e)),
    }
}

/// The DEVELOPMENT stage's ETag, as an [`if_match`] read.
async fn development_etag(ctx: &Ctx, name: &str) -> Result<Current<String>> {
    Ok(match development(ctx, name).await? {
        Some((etag, _)) => Current::Write(etag),
        None => Current::Gone,
    })
}

/// Create it; `None` when it already exists (a create whose answer was lost, or another run
/// made it at once), so that it is updated instead.
async fn create(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    match ctx
        .aws
        .cloudfront
        .create_function()
        .name(name)
        .function_config(function_config(&ctx.spec)?)
        .function_code(Blob::new(code(&ctx.spec)))
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
        Err(e) if code_in(&e, &["FunctionAlreadyExists"]) => Ok(None),
        Err(e) => Err(aws_err(format!("creating CloudFront function {name}"), e)),
    }
}

/// Write the code and configuration to the DEVELOPMENT stage; returns its new ETag.
async fn update(ctx: &Ctx, name: &str) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    let config = function_config(&ctx.spec)?;
    let source = code(&ctx.spec);
    let written = std::sync::Mutex::new(None::<String>);
    let mark = ownership_mark(&ctx.spec);
    if_match(
        ctx.timing.if_match_attempts,
        &format!("updating CloudFront function {name}"),
        || async {
            let Some((etag, comment)) = development(ctx, name).await? else {
                return Ok(Current::Gone);
            };
            // Made at once by something else under this name: not ours to change.
            anyhow::ensure!(
                comment.as_deref() == Some(mark.as_str()),
                "CloudFront function {name} exists but its comment is not `{mark}`: it was \
                 not made by this stack; delete or rename it, then run up again"
            );
            Ok(Current::Write(etag))
        },
        |etag| {
            let (config, source, written) = (config.clone(), source.clone(), &written);
            async move {
                let out = cf
                    .update_function()
                    .name(name)
                    .if_match(etag)
                    .function_config(config)
                    .function_code(Blob::new(source))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("updating CloudFront function {name}"), e))?;
                *written.lock().expect("not poisoned") = out.e_tag().map(str::to_string);
                Ok(())
            }
        },
    )
    .await?;
    let etag = written.lock().expect("not poisoned").take();
    etag.with_context(|| {
        format!("CloudFront function {name} was deleted while being updated; run up again")
    })
}

/// Copy DEVELOPMENT to LIVE, which is what distributions run; returns the function's ARN.
async fn publish(ctx: &Ctx, name: &str, etag: String) -> Result<String> {
    let cf = &ctx.aws.cloudfront;
    let first = std::sync::Mutex::new(Some(etag));
    let arn = std::sync::Mutex::new(None::<String>);
    if_match(
        ctx.timing.if_match_attempts,
        &format!("publishing CloudFront function {name}"),
        || async {
            // The ETag just written first; on a stale one, the stage's current one.
            if let Some(etag) = first.lock().expect("not poisoned").take() {
                return Ok(Current::Write(etag));
            }
            development_etag(ctx, name).await
        },
        |etag| {
            let arn = &arn;
            async move {
                let out = cf
                    .publish_function()
                    .name(name)
                    .if_match(etag)
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("publishing CloudFront function {name}"), e))?;
                *arn.lock().expect("not poisoned") = out
                    .function_summary()
                    .and_then(|s| s.function_metadata())
                    .map(|m| m.function_arn().to_string());
                Ok(())
            }
        },
    )
    .await?;
    let arn = arn.lock().expect("not poisoned").take();
    arn.with_context(|| format!("CloudFront function {name}: it was deleted while being published"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/presign-stack.yaml");
        crate::spec::load(&file, "dev").expect("the example spec is valid")
    }

    /// Each path as the handler leaves it, run in Node (CloudFront's runtime is JavaScript).
    fn handled(code: &str, uris: &[&str]) -> Vec<String> {
        let script = format!(
            "{code}\nvar uris = {};\nuris.forEach(function (u) {{ \
             console.log(handler({{request: {{uri: u, method: 'GET'}}}}).uri); }});\n",
            serde_json::to_string(uris).unwrap()
        );
        let out = std::process::Command::new("node")
            .arg("-e")
            .arg(&script)
            .output()
            .expect("node runs (the browser tests need it too)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn folders_get_the_index_and_paths_naming_no_file_the_error_document() {
        let c = code(&spec());
        let got = handled(
            &c,
            &[
                "/",
                "/docs/",
                "/app.js",
                "/files",
                "/files/2026/report",
                "/.well-known/security.txt",
                "/a.b/c",
                "/config.json",
            ],
        );
        assert_eq!(
            got,
            [
                "/index.html",
                "/docs/index.html",
                "/app.js",
                "/index.html",
                "/index.html",
                "/.well-known/security.txt",
                "/index.html",
                "/config.json",
            ]
        );
    }

    #[test]
    fn the_code_fits_cloudfronts_limit_and_names_the_documents() {
        let s = spec();
        let c = code(&s);
        assert!(c.len() < MAX_CODE_BYTES, "{} bytes", c.len());
        assert!(c.contains(&format!("var INDEX = \"{}\";", s.website.index_document)));
        assert!(c.contains(&format!(
            "var FALLBACK = \"/{}\";",
            s.website.error_document
        )));
        assert!(c.contains(&ownership_mark(&s)));
    }
}
