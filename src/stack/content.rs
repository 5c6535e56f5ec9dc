//! The website content as steps of `up`'s walk: the site's files once the website bucket is
//! ready (assets before pages), the runtime config once the presigner's URL is known, then
//! the objects no longer in `website.source`; after them the content-rules tag and, for a
//! distribution that was already serving, the invalidation of what changed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures::FutureExt;

use super::{page_presigner_url, Prepared, Snapshot};
use crate::context::Ctx;
use crate::resources::bucket::{self, Which};
use crate::resources::cloudfront::{distribution, invalidation};
use crate::resources::function_url;
use crate::state::{Kind, Known};
use crate::sync::{self, Object};
use crate::walker::Walk;

/// The content's steps that other steps wait for.
#[derive(Debug, Clone, Copy)]
pub(super) struct ContentSteps {
    /// The last one that writes objects.
    stale: usize,
}

impl ContentSteps {
    /// Over a plain-HTTP endpoint the private website bucket's policy, written once the
    /// distribution is known, waits for the content: its TLS-only statement would refuse the
    /// sync's writes, as AWS refuses any request without TLS.
    pub(super) fn before_policy(&self, ctx: &Ctx, kind: Kind) -> Option<usize> {
        (over_plain_http(ctx) && kind == bucket::WEBSITE_KIND).then_some(self.stale)
    }
}

/// Add the content's steps, after `main` (the resources' steps, by kind).
pub(super) fn steps<'a>(
    walk: &mut Walk<'a>,
    ctx: &'a Ctx,
    snap: &'a Snapshot,
    prepared: &'a Prepared,
    main: &BTreeMap<Kind, usize>,
) -> Option<ContentSteps> {
    let content = &prepared.content;
    let config_key = ctx.spec.website.config_file.as_deref();
    let (config, files): (Vec<&Object>, Vec<&Object>) = content
        .upload
        .iter()
        .map(|(o, _)| o)
        .partition(|o| Some(o.key.as_str()) == config_key);
    let url_step = main.get(&function_url::KIND).copied();
    // Behind the distribution the page is told the presigner's path, known in advance.
    let config_reads_url = ctx.spec.website.api_path().is_none();
    let config_may_change =
        config_key.is_some() && (!config.is_empty() || (config_reads_url && url_step.is_some()));
    let rules = sync::rules_fingerprint(&ctx.spec.website.cache_control);
    let rules_stale = snap
        .live(bucket::WEBSITE_KIND)
        .is_some_and(|w| w.tags.get(sync::TAG_CONTENT_RULES) != Some(&rules));
    let changes = !files.is_empty() || !content.delete.is_empty() || config_may_change;
    if !changes && !rules_stale {
        return None;
    }
    let uploaded: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut needs: Vec<usize> = main
        .get(&bucket::WEBSITE_KIND)
        .copied()
        .into_iter()
        .collect();
    let opened = (changes && over_plain_http(ctx)).then(|| {
        walk.add(
            format!("opening {} to the sync", Which::Website.label(&ctx.spec)),
            needs.clone(),
            move |_| {
                async move {
                    bucket::website_tls_for_sync(ctx, false).await?;
                    Ok(Known::default())
                }
                .boxed()
            },
        )
    });
    needs.extend(opened);
    let done = uploaded.clone();
    let files_step = walk.add("the website's files", needs, move |_| {
        async move {
            if !content.is_empty() {
                ctx.report.status(
                    "Syncing",
                    format!(
                        "website: {} to upload, {} to delete, {} unchanged",
                        content.upload.len(),
                        content.delete.len(),
                        content.unchanged
                    ),
                );
            }
            reopening(ctx, || sync::upload_all(ctx, &files)).await?;
            lock(&done).extend(files.iter().map(|o| o.key.clone()));
            Ok(Known::default())
        }
        .boxed()
    });
    let mut needs = vec![files_step];
    if config_reads_url {
        needs.extend(url_step);
    }
    let done = uploaded.clone();
    let config_step = walk.add("the website's runtime config", needs, move |known| {
        async move {
            let url = page_presigner_url(ctx, known.function_url.as_deref());
            let Some(object) = sync::config_object(&ctx.spec, &ctx.region, &url) else {
                return Ok(Known::default());
            };
            let live: BTreeMap<String, sync::Remote> = prepared
                .remote
                .get(&object.key)
                .map(|r| (object.key.clone(), r.clone()))
                .into_iter()
                .collect();
            let key = object.key.clone();
            let again = sync::plan(vec![object], &live);
            let objects: Vec<&Object> = again.upload.iter().map(|(o, _)| o).collect();
            reopening(ctx, || sync::upload_all(ctx, &objects)).await?;
            if !objects.is_empty() {
                lock(&done).push(key);
            }
            Ok(Known::default())
        }
        .boxed()
    });
    let done = uploaded.clone();
    let stale = walk.add(
        "the website's stale objects",
        vec![config_step],
        move |_| {
            async move {
                reopening(ctx, || sync::delete_keys(ctx, &content.delete)).await?;
                lock(&done).extend(content.delete.iter().cloned());
                Ok(Known::default())
            }
            .boxed()
        },
    );
    if opened.is_some() {
        walk.always(
            format!("closing {} again", Which::Website.label(&ctx.spec)),
            vec![stale],
            move |_| {
                async move {
                    bucket::website_tls_for_sync(ctx, true).await?;
                    Ok(Known::default())
                }
                .boxed()
            },
        );
    }
    if rules_stale {
        walk.add("recording the content rules", vec![stale], move |_| {
            async move {
                bucket::put_tags(
                    ctx,
                    &ctx.spec.website.bucket,
                    bucket::tags(ctx, Which::Website),
                )
                .await
                .with_context(|| {
                    format!(
                        "recording the content rules on {}",
                        Which::Website.label(&ctx.spec)
                    )
                })?;
                Ok(Known::default())
            }
            .boxed()
        });
    }
    // A distribution made in this run has nothing cached yet.
    if let Some(cdn) = snap.known().cdn {
        let mut needs = vec![stale];
        needs.extend(main.get(&distribution::KIND).copied());
        walk.add("invalidating what changed", needs, move |_| {
            async move {
                let paths = changed_paths(ctx, &lock(&uploaded));
                match invalidation::invalidate(ctx, &cdn, paths).await? {
                    0 => {}
                    n => ctx.report.status(
                        "Invalidated",
                        format!("{n} path{} of distribution {}", super::plural(n), cdn.id),
                    ),
                }
                Ok(Known::default())
            }
            .boxed()
        });
    }
    Some(ContentSteps { stale })
}

fn lock(m: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The site paths a sync changed: every key uploaded or deleted, and `/` with the index.
fn changed_paths(ctx: &Ctx, keys: &[String]) -> Vec<String> {
    let mut paths = keys.to_vec();
    if paths.contains(&ctx.spec.website.index_document) {
        paths.push(String::new());
    }
    paths
}

/// Run a write of the sync; over plain HTTP, when it is refused (403) because another run
/// closed the bucket to plain HTTP again meanwhile (its sync ended), open it and write again.
async fn reopening<F, Fut>(ctx: &Ctx, write: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    match write().await {
        Err(e) if over_plain_http(ctx) && crate::errors::has_status(&e, 403) => {
            if bucket::website_tls_for_sync(ctx, false).await? {
                write().await
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

/// A private website bucket reached over plain HTTP (an emulator): its TLS-only statement
/// refuses the sync's writes, as AWS refuses any request without TLS.
fn over_plain_http(ctx: &Ctx) -> bool {
    ctx.aws.plain_http && ctx.spec.website.cloudfront().is_some()
}
