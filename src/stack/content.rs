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
use crate::resources::{cognito, function_url};
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
    // With `auth.cognito` the page is told the pool's issuer and its client's id.
    let client_step = main.get(&cognito::client::KIND).copied();
    // Behind the distribution the page is told the presigner's path, known in advance.
    let config_reads_url = ctx.spec.website.api_path().is_none();
    let config_may_change = config_key.is_some()
        && (!config.is_empty()
            || (config_reads_url && url_step.is_some())
            || client_step.is_some());
    let rules = sync::rules_fingerprint(&ctx.spec.website.cache_control);
    let rules_stale = snap
        .live(bucket::WEBSITE_KIND)
        .is_some_and(|w| w.tags.get(sync::TAG_CONTENT_RULES) != Some(&rules));
    let changes = !files.is_empty() || !content.delete.is_empty() || config_may_change;
    if !changes && !rules_stale {
        return None;
    }
    let uploaded: Uploaded = Arc::default();
    let mut needs: Vec<usize> = main
        .get(&bucket::WEBSITE_KIND)
        .copied()
        .into_iter()
        .collect();
    let label = Which::Website.label(&ctx.spec);
    let opened = (changes && over_plain_http(ctx)).then(|| {
        walk.add(
            format!("opening {label} to the sync"),
            needs.clone(),
            move |_| tls(ctx, false).boxed(),
        )
    });
    needs.extend(opened);
    // Assets first; then the pages and the runtime config (which may wait for the URL), so
    // that no page is live before what it loads.
    let (pages, assets): (Vec<&Object>, Vec<&Object>) = files
        .into_iter()
        .partition(|o| sync::written_last(ctx, &o.key));
    let done = uploaded.clone();
    let assets_step = walk.add("the website's assets", needs, move |_| {
        upload_files(ctx, Some(content), assets, done).boxed()
    });
    let done = uploaded.clone();
    let pages_step = walk.add("the website's pages", vec![assets_step], move |_| {
        upload_files(ctx, None, pages, done).boxed()
    });
    let mut needs = vec![assets_step];
    if config_reads_url {
        needs.extend(url_step);
    }
    needs.extend(client_step);
    let done = uploaded.clone();
    let config_step = walk.add("the website's runtime config", needs, move |known| {
        runtime_config(ctx, prepared, known, done).boxed()
    });
    let done = uploaded.clone();
    let stale = walk.add(
        "the website's stale objects",
        vec![pages_step, config_step],
        move |_| delete_stale(ctx, content, done).boxed(),
    );
    if opened.is_some() {
        walk.always(format!("closing {label} again"), vec![stale], move |_| {
            tls(ctx, true).boxed()
        });
    }
    if rules_stale {
        walk.add("recording the content rules", vec![stale], move |_| {
            record_rules(ctx).boxed()
        });
    }
    // A distribution made in this run has nothing cached yet; one the layout no longer uses
    // is being deleted.
    if let Some(cdn) = snap
        .known()
        .cdn
        .filter(|_| ctx.spec.website.cloudfront().is_some())
    {
        let mut needs = vec![stale];
        needs.extend(main.get(&distribution::KIND).copied());
        walk.add("invalidating what changed", needs, move |_| {
            invalidate(ctx, cdn, uploaded).boxed()
        });
    }
    Some(ContentSteps { stale })
}

/// The keys the content's steps uploaded or deleted, for the invalidation.
type Uploaded = Arc<Mutex<Vec<String>>>;

/// Open the website bucket to an emulator's sync, or close it again.
async fn tls(ctx: &Ctx, close: bool) -> anyhow::Result<Known> {
    bucket::website_tls_for_sync(ctx, close).await?;
    Ok(Known::default())
}

/// Some of the site's files; with `content`, the first of the sync's steps, which says what
/// the sync does.
async fn upload_files(
    ctx: &Ctx,
    content: Option<&sync::SyncPlan>,
    files: Vec<&Object>,
    done: Uploaded,
) -> anyhow::Result<Known> {
    if let Some(content) = content.filter(|c| !c.is_empty()) {
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

/// The runtime config, now that the presigner's URL is known, if it differs from the live one.
async fn runtime_config(
    ctx: &Ctx,
    prepared: &Prepared,
    known: Known,
    done: Uploaded,
) -> anyhow::Result<Known> {
    let url = page_presigner_url(ctx, known.function_url.as_deref());
    let ctx = &ctx.with_known(&known);
    let sign_in = ctx.sign_in().map_err(|waits| {
        anyhow::anyhow!("internal: the runtime config still waits for the {waits:?} output")
    })?;
    let Some(object) = sync::config_object_for(&ctx.spec, sign_in.as_ref(), &ctx.region, &url)
    else {
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

/// The objects no longer in `website.source`.
async fn delete_stale(
    ctx: &Ctx,
    content: &sync::SyncPlan,
    done: Uploaded,
) -> anyhow::Result<Known> {
    reopening(ctx, || sync::delete_keys(ctx, &content.delete)).await?;
    lock(&done).extend(content.delete.iter().cloned());
    Ok(Known::default())
}

/// The content-rules tag, once every object was written under the spec's rules.
async fn record_rules(ctx: &Ctx) -> anyhow::Result<Known> {
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

/// Invalidate what the content's steps changed.
async fn invalidate(ctx: &Ctx, cdn: crate::state::Cdn, done: Uploaded) -> anyhow::Result<Known> {
    let paths = changed_paths(ctx, &lock(&done));
    match invalidation::invalidate(ctx, &cdn, paths).await? {
        0 => {}
        n => ctx.report.status(
            "Invalidated",
            format!("{n} path{} of distribution {}", super::plural(n), cdn.id),
        ),
    }
    Ok(Known::default())
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
