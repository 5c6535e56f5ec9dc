//! The whole stack: read everything live (concurrently), compare with the spec, and apply in
//! dependency order with independent branches in parallel; tear down in reverse.
//!
//! ```text
//! documents bucket ───────────────────────────────────────────┐
//! website bucket ─────────────────────────────────────────────┼─> website content (+ config.json)
//! role ──> log group ──> function ──> function URL + policy ──┘
//! ```

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::aws::{Aws, Connect};
use crate::bundle::{self, Code};
use crate::loss::{self, Loss, When};
use crate::orphans::{self, Orphan};
use crate::plan::{Action, Plan, ResourcePlan};
use crate::report::Reporter;
use crate::resources::bucket::{self, Which};
use crate::resources::distribution::{self, Cdn, LiveCloudFront, KNOWN_AFTER};
use crate::resources::function_url::{self, LiveUrl};
use crate::resources::{check_owned, function, log_group, role, Ctx, Owner};
use crate::retry::Timing;
use crate::spec::Spec;
use crate::state::{diff, Change, Fields, Kind, Live};
use crate::sync::{self, SyncPlan, Why};

/// Connect, identify the account, and resolve the spec's names for it.
pub async fn connect(
    spec: Spec,
    connect: &Connect,
    report: Reporter,
    timing: Timing,
) -> Result<Ctx> {
    let mut connect = connect.clone();
    match (&spec.region, &connect.region) {
        (Some(s), Some(c)) if s != c => anyhow::bail!(
            "--region {c} conflicts with `region: {s}` in {}; drop one of them",
            spec.file.display()
        ),
        (Some(s), _) => connect.region = Some(s.clone()),
        _ => {}
    }
    let aws = Aws::connect(&connect).await?;
    crate::spec::commercial_region(&aws.region)
        .map_err(|m| anyhow::anyhow!("the region in use: {m}"))?;
    let account = aws.account_id(connect.profile.as_deref()).await?;
    let region = aws.region.clone();
    let spec = spec.resolve(&account, &region);
    Ok(Ctx {
        aws,
        spec,
        account,
        region,
        timing,
        report,
        cdn: None,
    })
}

/// Everything the stack has live, read concurrently.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub documents: Option<Live>,
    pub website: Option<Live>,
    pub role: Option<(Live, String)>,
    pub function: Option<Live>,
    /// The function's log group.
    pub log_group: Option<Live>,
    pub url: Option<LiveUrl>,
    /// Website objects by key, as listed; `None` when the website bucket is missing.
    pub objects: Option<BTreeMap<String, sync::Remote>>,
    /// Resources tagged for this stack that the spec no longer names.
    pub orphans: Vec<Orphan>,
    /// Whether the account's Block Public Access forbids public bucket policies (`None`:
    /// unknown).
    pub account_blocks_public_policies: Option<bool>,
    /// The stack's CloudFront distribution, its OACs and headers policy, as far as they exist.
    pub cloudfront: LiveCloudFront,
}

pub async fn read_all(ctx: &Ctx) -> Result<Snapshot> {
    let (documents, website, role, function, log_group, url, objects, orphans, blocked, cloudfront) = tokio::join!(
        bucket::read(ctx, Which::Documents),
        bucket::read(ctx, Which::Website),
        role::read(ctx),
        function::read(ctx),
        log_group::read(ctx, &ctx.spec.presigner.function_name),
        function_url::read(ctx),
        sync::remote_objects(ctx),
        orphans::find(ctx),
        bucket::account_blocks_public_policies(ctx),
        distribution::read(ctx),
    );
    Ok(Snapshot {
        documents: documents?,
        website: website?,
        role: role?,
        function: function?,
        log_group: log_group?,
        url: url?,
        objects: objects?,
        orphans: orphans?,
        account_blocks_public_policies: blocked,
        cloudfront: cloudfront?,
    })
}

impl Snapshot {
    /// The log group as far as ownership goes: Lambda makes an untagged one for a function
    /// on its first run, so an untagged log group of this stack's own function is the stack's.
    fn log_group_as_owned(&self, spec: &Spec) -> Option<Live> {
        let mut live = self.log_group.clone()?;
        let ours = |l: &Live| crate::resources::owner(spec, &l.tags) == Owner::ThisStack;
        let unmanaged = crate::resources::owner(spec, &live.tags) == Owner::Unmanaged;
        if unmanaged && self.function.as_ref().is_some_and(ours) {
            live.tags.extend(spec.tags());
        }
        Some(live)
    }

    /// Refuse (naming every offender) if anything of the expected names is not this stack's.
    pub fn check_ownership(&self, ctx: &Ctx, adopt: bool) -> Result<()> {
        let spec = &ctx.spec;
        let checks = [
            check_owned(
                spec,
                &Which::Documents.label(ctx),
                self.documents.as_ref(),
                adopt,
            ),
            check_owned(
                spec,
                &Which::Website.label(ctx),
                self.website.as_ref(),
                adopt,
            ),
            check_owned(
                spec,
                &format!("role {}", spec.presigner.role_name),
                self.role.as_ref().map(|(l, _)| l),
                adopt,
            ),
            check_owned(
                spec,
                &format!("function {}", spec.presigner.function_name),
                self.function.as_ref(),
                adopt,
            ),
            check_owned(
                spec,
                &format!(
                    "log group {}",
                    log_group::name(&spec.presigner.function_name)
                ),
                self.log_group_as_owned(spec).as_ref(),
                adopt,
            ),
            check_owned(
                spec,
                &format!("distribution {}", distribution::comment(spec)),
                self.cloudfront
                    .distribution
                    .as_ref()
                    .and(self.cloudfront.live.as_ref()),
                adopt,
            ),
        ];
        let mut problems: Vec<String> = checks
            .into_iter()
            .filter_map(|c| c.err().map(|e| e.to_string()))
            .collect();
        if !adopt {
            problems.extend(self.cloudfront.foreign(spec).into_iter().map(|p| {
                format!(
                    "{p}; presign-stack never modifies or deletes what it does not own:                      rename or delete it, or run `up --adopt` to take it over"
                )
            }));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{}", problems.join("\n"))
        }
    }

    /// The website bucket serves the site publicly; an account whose Block Public Access
    /// forbids public bucket policies would refuse it. Said before any write.
    pub fn check_account_block(&self, ctx: &Ctx) -> Result<()> {
        let public = ctx.spec.website.cloudfront().is_none();
        if public && self.account_blocks_public_policies == Some(true) {
            anyhow::bail!(
                "the S3 Block Public Access setting of account {} forbids public bucket policies \
                 (BlockPublicPolicy or RestrictPublicBuckets is on), and the {} serves the site \
                 through one: turn both off for the account (S3 console, \"Block Public Access \
                 settings for this account\"), or keep the block and serve the site through \
                 CloudFront (`website.hosting: cloudfront`). Nothing was changed.",
                ctx.account,
                Which::Website.label(ctx)
            );
        }
        Ok(())
    }
}

/// What `up` computed: the desired fields, the plan, and the website objects to sync.
pub struct Prepared {
    pub plan: Plan,
    pub content: SyncPlan,
    /// The website objects, with their headers when they were read.
    remote: BTreeMap<String, sync::Remote>,
    code: Code,
    role_arn: String,
}

fn resource_plan(kind: Kind, name: &str, want: Fields, live: Option<&Fields>) -> ResourcePlan {
    match live {
        None => ResourcePlan {
            kind,
            name: name.to_string(),
            action: Action::Create,
            changes: want
                .into_iter()
                .map(|(field, new)| Change {
                    field,
                    old: serde_json::Value::Null,
                    new,
                })
                .collect(),
            previous_name: None,
        },
        Some(have) => {
            let changes = diff(&want, have);
            ResourcePlan {
                kind,
                name: name.to_string(),
                action: if changes.is_empty() {
                    Action::NoOp
                } else {
                    Action::Update
                },
                changes,
                previous_name: None,
            }
        }
    }
}

/// Compute the plan from the live state and the presigner's code (built or only identified),
/// with the data a step would lose (`adopt`: the run takes over buckets it did not create).
pub async fn prepare(ctx: &Ctx, snap: Snapshot, code: Code, adopt: bool) -> Result<Prepared> {
    let spec = &ctx.spec;
    let role_arn = snap
        .role
        .as_ref()
        .map(|(_, arn)| arn.clone())
        .unwrap_or_else(|| ctx.role_arn());
    let mut resources = vec![
        resource_plan(
            Kind::DocumentsBucket,
            &spec.documents.bucket,
            bucket::desired(ctx, Which::Documents),
            snap.documents.as_ref().map(|l| &l.fields),
        ),
        resource_plan(
            Kind::WebsiteBucket,
            &spec.website.bucket,
            bucket::desired(ctx, Which::Website),
            snap.website.as_ref().map(|l| &l.fields),
        ),
        resource_plan(
            Kind::Role,
            &spec.presigner.role_name,
            role::desired(ctx),
            snap.role.as_ref().map(|(l, _)| &l.fields),
        ),
        resource_plan(
            Kind::Function,
            &spec.presigner.function_name,
            function::desired(ctx, &role_arn, &code, snap.function.as_ref()),
            snap.function.as_ref().map(|l| &l.fields),
        ),
    ];
    resources.insert(
        3,
        resource_plan(
            Kind::LogGroup,
            &log_group::name(&spec.presigner.function_name),
            log_group::desired(ctx),
            snap.log_group.as_ref().map(|l| &l.fields),
        ),
    );
    let url_live = snap.url.as_ref().filter(|u| u.url.is_some());
    resources.push(resource_plan(
        Kind::FunctionUrl,
        &spec.presigner.function_name,
        function_url::desired(ctx),
        url_live.map(|u| &u.fields),
    ));
    if let (Some(url), Some(r)) = (snap.url.as_ref(), resources.last_mut()) {
        // A policy without a URL config: the URL is created, and the policy fixed by diff.
        if url.url.is_none() {
            r.changes = diff(&function_url::desired(ctx), &url.fields);
            r.action = Action::Create;
        }
    }
    let function_url = snap.url.as_ref().and_then(|u| u.url.clone());
    if spec.website.cloudfront().is_some() {
        resources.push(resource_plan(
            Kind::Distribution,
            &distribution::label(spec),
            distribution::desired(ctx, function_url.as_deref()),
            snap.cloudfront.live.as_ref().map(|l| &l.fields),
        ));
    } else if !snap.cloudfront.is_empty() {
        // Switched to `s3-website`: the distribution goes (it holds no data).
        resources.push(ResourcePlan {
            kind: Kind::Distribution,
            name: distribution::label(spec),
            action: Action::Delete,
            changes: vec![],
            previous_name: None,
        });
    }
    let presigner_url = page_presigner_url(ctx, function_url.as_deref().unwrap_or_default());
    let mut local = sync::local_objects(spec, ctx.report).await?;
    local.extend(sync::config_object(spec, &ctx.region, &presigner_url));
    let mut remote = snap.objects.clone().unwrap_or_default();
    // Only a stale content-rules tag costs a HEAD per kept object (see `sync`).
    let rules = sync::rules_fingerprint(&spec.website.cache_control);
    let stale = snap
        .website
        .as_ref()
        .is_some_and(|w| w.tags.get(sync::TAG_CONTENT_RULES) != Some(&rules));
    if stale {
        sync::read_metadata(ctx, &mut remote, &local).await?;
    }
    sync::read_multipart_md5(ctx, &mut remote, &local).await?;
    let content = sync::plan(local, &remote);
    let mut plan = Plan::new(resources, &snap.orphans, &content);
    plan.losses = losses(ctx, &snap, &plan, &content, &remote, adopt).await?;
    Ok(Prepared {
        plan,
        content,
        remote,
        code,
        role_arn,
    })
}

/// The presigner's URL as the page is told it: behind the distribution, its path on the
/// page's own origin (relative, so it holds for the distribution's domain and every alias,
/// with no CORS); otherwise the Function URL.
fn page_presigner_url(ctx: &Ctx, function_url: &str) -> String {
    match ctx.spec.website.api_path() {
        Some(api) => format!("{api}/"),
        None => function_url.to_string(),
    }
}

/// The presigner's public URL for `outputs`.
fn public_presigner_url(ctx: &Ctx, function_url: Option<String>) -> Option<String> {
    match ctx.spec.website.api_path() {
        Some(api) if ctx.cdn.is_some() => Some(format!(
            "{}{}/",
            ctx.website_url(),
            api.trim_start_matches('/')
        )),
        Some(_) => None,
        None => function_url,
    }
}

/// What the plan's steps would destroy that presign-stack did not write: the contents of
/// documents buckets it deletes (orphans, old halves of renames: with `--prune`), and with
/// `adopt` the objects in buckets it takes over.
async fn losses(
    ctx: &Ctx,
    snap: &Snapshot,
    plan: &Plan,
    content: &SyncPlan,
    remote: &BTreeMap<String, sync::Remote>,
    adopt: bool,
) -> Result<Vec<Loss>> {
    let pruned: Vec<Orphan> = plan
        .orphans()
        .into_iter()
        .filter(|o| o.kind == Kind::DocumentsBucket)
        .collect();
    let counted =
        futures::future::join_all(pruned.iter().map(|o| loss::contents(ctx, &o.name))).await;
    let mut out = Vec::new();
    for (o, c) in pruned.iter().zip(counted) {
        let c = c?;
        if !c.is_empty() {
            out.push(c.loss(
                When::Prune,
                format!("documents bucket {} deleted by `up --prune`", o.name),
                &o.name,
            ));
        }
    }
    if !adopt {
        return Ok(out);
    }
    let foreign = |live: Option<&Live>| {
        live.is_some_and(|l| crate::resources::owner(&ctx.spec, &l.tags) != Owner::ThisStack)
    };
    let spec = &ctx.spec;
    if foreign(snap.documents.as_ref()) {
        let c = loss::contents(ctx, &spec.documents.bucket).await?;
        if !c.is_empty() {
            let mut l = c.loss(
                When::Adopt,
                format!(
                    "documents bucket {} adopted by `up --adopt`",
                    spec.documents.bucket
                ),
                &spec.documents.bucket,
            );
            let mut note = "kept, and from now on the stack's: `down` deletes them with the \
                            bucket"
                .to_string();
            if let Some(days) = spec.documents.expire_uploads_after_days {
                note.push_str(&format!(
                    ", and those under {} expire {days} days after they were written",
                    spec.documents.uploads_prefix
                ));
            }
            l.note = Some(note);
            out.push(l);
        }
    }
    if foreign(snap.website.as_ref()) {
        // The sync deletes what is not in website.source and overwrites what differs.
        let replaced = content
            .upload
            .iter()
            .filter(|(_, why)| *why == Why::Changed)
            .map(|(o, _)| &o.key);
        let lost: Vec<&String> = content.delete.iter().chain(replaced).collect();
        if !lost.is_empty() {
            let bytes = lost
                .iter()
                .filter_map(|k| remote.get(*k))
                .map(|r| r.size)
                .sum();
            let count = lost.len() as u64;
            out.push(Loss {
                when: When::Adopt,
                step: format!(
                    "website bucket {} adopted by `up --adopt`: objects not in website.source \
                     deleted, and objects of the same names overwritten",
                    spec.website.bucket
                ),
                bucket: spec.website.bucket.clone(),
                objects: count,
                versions: count,
                bytes,
                complete: true,
                note: None,
            });
        }
    }
    Ok(out)
}

/// `plan`: what `up` would do, from a read of everything live. Changes nothing.
/// `website.build` runs first, as for `up`: on a fresh checkout the built folder is what the
/// bucket is compared with.
pub async fn plan(ctx: &Ctx) -> Result<Plan> {
    let (built, code, snap) = tokio::join!(
        sync::run_build(&ctx.spec, ctx.report),
        async { bundle::identify(&ctx.spec) },
        read_all(ctx)
    );
    built?;
    let snap = snap?;
    let ctx = &ctx.with_cdn(snap.cloudfront.cdn().cloned());
    snap.check_ownership(ctx, false)?;
    snap.check_account_block(ctx)?;
    distribution::check_certificate(ctx).await?;
    // The presigner is compared by its code digest: nothing is built.
    Ok(prepare(ctx, snap, code?, false).await?.plan)
}

/// The stack's outputs (SPEC section 2).
#[derive(Debug, Clone, Serialize)]
pub struct Outputs {
    pub website_url: String,
    pub presigner_url: Option<String>,
    pub documents_bucket: String,
    pub website_bucket: String,
    pub role_arn: Option<String>,
    pub function_arn: Option<String>,
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not deployed)".into());
        writeln!(f, "website_url      = {}", self.website_url)?;
        writeln!(f, "presigner_url    = {}", na(&self.presigner_url))?;
        writeln!(f, "documents_bucket = {}", self.documents_bucket)?;
        writeln!(f, "website_bucket   = {}", self.website_bucket)?;
        writeln!(f, "role_arn         = {}", na(&self.role_arn))?;
        write!(f, "function_arn     = {}", na(&self.function_arn))
    }
}

/// The result of `up`: the plan it applied and the outputs after it.
#[derive(Debug, Clone, Serialize)]
pub struct UpResult {
    pub plan: Plan,
    pub outputs: Outputs,
}

/// `up`: plan, then apply exactly that plan.
pub async fn up(ctx: &Ctx, adopt: bool, prune: bool, yes: bool, wait: bool) -> Result<UpResult> {
    let (built, code, snap) = tokio::join!(
        sync::run_build(&ctx.spec, ctx.report),
        async { bundle::identify(&ctx.spec) },
        read_all(ctx),
    );
    built?;
    let mut code = code?;
    let snap = snap?;
    let ctx = &ctx.with_cdn(snap.cloudfront.cdn().cloned());
    snap.check_ownership(ctx, adopt)?;
    snap.check_account_block(ctx)?;
    distribution::check_certificate(ctx).await?;
    // Built only when the sources' digest is not what the function records.
    if function::needs_build(snap.function.as_ref(), &code) {
        code.bundle = Some(bundle::prepare(&ctx.spec, ctx.report).await?);
    }
    let prepared = prepare(ctx, snap.clone(), code, adopt).await?;
    let plan = prepared.plan.clone();
    if plan.is_empty() {
        return Ok(UpResult {
            plan,
            outputs: outputs_from(ctx, &snap),
        });
    }
    ctx.report.block(&plan);
    let at_stake: Vec<String> = plan
        .losses
        .iter()
        .filter(|l| l.when == When::Adopt || (l.when == When::Prune && prune))
        .map(|l| l.to_string())
        .collect();
    if !at_stake.is_empty() {
        let how = if prune && adopt {
            "Run `up --yes` to confirm, or leave out --prune (old buckets are then kept) or \
             --adopt."
        } else if prune {
            "Run `up --prune --yes` to confirm, or `up` without --prune to keep the old bucket."
        } else {
            "Run `up --adopt --yes` to confirm, or choose another bucket name in the spec."
        };
        loss::consent(
            ctx,
            "up would destroy or take over data that presign-stack did not write",
            &at_stake,
            yes,
            how,
        )?;
    }
    let orphans = plan.orphans();
    let (function_url, cdn) = apply(ctx, &snap, prepared, wait).await?;
    let ctx = &ctx.with_cdn(cdn);
    if prune {
        delete_orphans(ctx, &orphans, " (no longer in the spec)").await?;
    } else if !orphans.is_empty() {
        ctx.report.warn(format!(
            "kept {} resource{} the spec no longer names ({}); `up --prune` deletes them",
            orphans.len(),
            if orphans.len() == 1 { "" } else { "s" },
            orphans
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut outputs = outputs_from(ctx, &snap);
    outputs.presigner_url = public_presigner_url(ctx, Some(function_url));
    outputs.role_arn = outputs.role_arn.or_else(|| Some(ctx.role_arn()));
    outputs.function_arn = Some(ctx.function_arn());
    Ok(UpResult { plan, outputs })
}

fn creates(r: &ResourcePlan) -> bool {
    matches!(r.action, Action::Create | Action::Replace)
}

/// Delete orphans: functions first (nothing depends on them), then roles and buckets.
async fn delete_orphans(ctx: &Ctx, orphans: &[Orphan], why: &str) -> Result<usize> {
    let mut objects = 0;
    let mut failures = Vec::new();
    let (functions, rest): (Vec<&Orphan>, Vec<&Orphan>) =
        orphans.iter().partition(|o| o.kind == Kind::Function);
    for batch in [functions, rest] {
        crate::interrupt::check("deleting the next resources")?;
        let results = futures::future::join_all(batch.iter().map(|o| async move {
            ctx.report
                .status("Deleting", format!("{} {}{why}", o.kind, o.name));
            orphans::delete(ctx, o).await
        }))
        .await;
        for r in results {
            match r {
                Ok(n) => objects += n,
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "deleting resources the spec no longer names did not finish; run again:\n  - {}",
            failures.join("\n  - ")
        );
    }
    Ok(objects)
}

/// A plan's changes split into what can be applied now and what waits for the distribution
/// (a value [`KNOWN_AFTER`] stands in for: its ARN in a policy, its domain in CORS).
fn split_known(changes: &[Change]) -> (Vec<Change>, Vec<Change>) {
    changes
        .iter()
        .cloned()
        .partition(|c| !c.new.to_string().contains(KNOWN_AFTER))
}

/// The deferred `changes` with their values now that the distribution is known; those that
/// turn out already true are dropped.
fn resolved(later: &[Change], want: &Fields) -> Vec<Change> {
    later
        .iter()
        .filter_map(|c| {
            let new = want
                .get(c.field)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            (new != c.old).then(|| Change {
                field: c.field,
                old: c.old.clone(),
                new,
            })
        })
        .collect()
}

/// Apply the plan; returns the Function URL and the distribution (`hosting: cloudfront`).
/// Independent branches run in parallel; when one fails the others still finish their current
/// work, and every failure is reported.
///
/// With CloudFront, in three stages: the buckets and the presigner (all but what needs the
/// distribution), then the distribution (which needs the Function URL), then the website
/// bucket's policy, the CORS rules and the URL's permissions that name the distribution.
async fn apply(
    ctx: &Ctx,
    snap: &Snapshot,
    prepared: Prepared,
    wait: bool,
) -> Result<(String, Option<Cdn>)> {
    let plan = &prepared.plan;
    let step = |kind: Kind| {
        plan.resources
            .iter()
            .find(|r| r.kind == kind && r.action != Action::Delete && r.action != Action::NoOp)
    };
    let now_later = |kind: Kind| step(kind).map(|r| split_known(&r.changes));
    let docs = async {
        if let Some(r) = step(Kind::DocumentsBucket) {
            announce(ctx, r)?;
            let (now, _) = split_known(&r.changes);
            bucket::apply(ctx, Which::Documents, creates(r), &now).await?;
        }
        anyhow::Ok(())
    };
    let site = async {
        if let Some(r) = step(Kind::WebsiteBucket) {
            announce(ctx, r)?;
            let (now, _) = split_known(&r.changes);
            bucket::apply(ctx, Which::Website, creates(r), &now).await?;
        }
        anyhow::Ok(())
    };
    let presigner = async {
        let role_arn = match step(Kind::Role) {
            Some(r) => {
                announce(ctx, r)?;
                role::apply(ctx, snap.role.as_ref(), &r.changes).await?
            }
            None => prepared.role_arn.clone(),
        };
        // Before the function, so that Lambda never makes it without a retention.
        if let Some(r) = step(Kind::LogGroup) {
            announce(ctx, r)?;
            log_group::apply(ctx, creates(r), &r.changes).await?;
        }
        if let Some(r) = step(Kind::Function) {
            announce(ctx, r)?;
            function::apply(ctx, creates(r), &r.changes, &role_arn, &prepared.code).await?;
        }
        let url = match step(Kind::FunctionUrl) {
            Some(r) => {
                announce(ctx, r)?;
                let (now, _) = split_known(&r.changes);
                function_url::apply(ctx, snap.url.as_ref(), &now).await?
            }
            None => snap
                .url
                .as_ref()
                .and_then(|u| u.url.clone())
                .context("the function URL is missing")?,
        };
        // The distribution needs the URL (its API origin, or the page's CSP).
        let cdn = match (ctx.spec.website.cloudfront(), step(Kind::Distribution)) {
            (None, _) => None,
            (Some(_), None) => ctx.cdn.clone(),
            (Some(_), Some(r)) => {
                announce(ctx, r)?;
                let cdn = distribution::apply(ctx, &snap.cloudfront, &url).await?;
                if wait {
                    distribution::wait_deployed(ctx, &cdn.id, &cdn.domain).await?;
                } else {
                    ctx.report.status(
                        "Deploying",
                        format!(
                            "CloudFront takes a few minutes to deploy distribution {} to its \
                             edge locations; `up --wait` waits for it",
                            cdn.id
                        ),
                    );
                }
                Some(cdn)
            }
        };
        anyhow::Ok((url, cdn))
    };
    let (docs, site, presigner) = tokio::join!(docs, site, presigner);
    let mut failures: Vec<String> = Vec::new();
    for r in [
        docs.as_ref().err(),
        site.as_ref().err(),
        presigner.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        failures.push(format!("{r:#}"));
    }
    let Ok((url, cdn)) = presigner else {
        failures.push(format!(
            "the website content of {} was not synced because a step it depends on failed",
            ctx.spec.website.bucket
        ));
        return finish(failures, None);
    };
    let ctx = &ctx.with_cdn(cdn.clone());
    // What waited for the distribution: it is known now.
    if cdn.is_some() && failures.is_empty() {
        let docs = async {
            if let Some((_, later)) = now_later(Kind::DocumentsBucket) {
                let changes = resolved(&later, &bucket::desired(ctx, Which::Documents));
                bucket::apply(ctx, Which::Documents, false, &changes).await?;
            }
            anyhow::Ok(())
        };
        let site = async {
            if let Some((_, later)) = now_later(Kind::WebsiteBucket) {
                let changes = resolved(&later, &bucket::desired(ctx, Which::Website));
                bucket::apply(ctx, Which::Website, false, &changes).await?;
            }
            anyhow::Ok(())
        };
        let url_policy = async {
            if let Some((_, later)) = now_later(Kind::FunctionUrl) {
                let changes = resolved(&later, &function_url::desired(ctx));
                if !changes.is_empty() {
                    let live = function_url::LiveUrl {
                        url: Some(url.clone()),
                        fields: snap
                            .url
                            .as_ref()
                            .map(|u| u.fields.clone())
                            .unwrap_or_default(),
                    };
                    function_url::apply(ctx, Some(&live), &changes).await?;
                }
            }
            anyhow::Ok(())
        };
        let (d, s, u) = tokio::join!(docs, site, url_policy);
        for r in [d, s, u] {
            if let Err(e) = r {
                failures.push(format!("{e:#}"));
            }
        }
    }
    if site.is_err() || !failures.is_empty() {
        failures.push(format!(
            "the website content of {} was not synced because a step it depends on failed",
            ctx.spec.website.bucket
        ));
        return finish(failures, None);
    }
    let mut content = prepared.content;
    // The runtime config is only known now that the URL is: plan it again.
    let config_key = ctx.spec.website.config_file.as_ref();
    let before = content.upload.len();
    content.upload.retain(|(o, _)| Some(&o.key) != config_key);
    let was_planned = content.upload.len() != before;
    if let Some(config) =
        sync::config_object(&ctx.spec, &ctx.region, &page_presigner_url(ctx, &url))
    {
        let live: BTreeMap<String, sync::Remote> = prepared
            .remote
            .get(&config.key)
            .map(|r| (config.key.clone(), r.clone()))
            .into_iter()
            .collect();
        let again = sync::plan(vec![config], &live);
        match (was_planned, again.upload.is_empty()) {
            (false, false) => content.unchanged = content.unchanged.saturating_sub(1),
            (true, true) => content.unchanged += 1,
            _ => {}
        }
        content.upload.extend(again.upload);
    }
    if let Err(e) = crate::interrupt::check("the website sync") {
        failures.push(format!("{e:#}"));
    } else if !content.is_empty() {
        ctx.report.status(
            "Syncing",
            format!(
                "website: {} to upload, {} to delete, {} unchanged",
                content.upload.len(),
                content.delete.len(),
                content.unchanged
            ),
        );
        let synced = async {
            bucket::website_tls_for_sync(ctx, false).await?;
            let synced = sync::execute(ctx, &content).await;
            let restored = bucket::website_tls_for_sync(ctx, true).await;
            synced.and(restored)
        };
        match synced.await {
            Err(e) => failures.push(format!("{e:#}")),
            // A distribution made in this run has nothing cached yet.
            Ok(()) => {
                if let (Some(cdn), Some(_)) = (&cdn, snap.cloudfront.cdn()) {
                    let paths = changed_paths(ctx, &content);
                    match distribution::invalidate(ctx, cdn, paths).await {
                        Ok(0) => {}
                        Ok(n) => ctx.report.status(
                            "Invalidated",
                            format!("{n} path{} of distribution {}", plural(n), cdn.id),
                        ),
                        Err(e) => failures.push(format!("{e:#}")),
                    }
                }
            }
        }
    }
    if failures.is_empty() {
        if let Err(e) = record_content_rules(ctx, snap).await {
            failures.push(format!("{e:#}"));
        }
    }
    // Switched to `s3-website`: the site is served by the bucket now; the distribution goes.
    let dropped = plan
        .resources
        .iter()
        .any(|r| r.kind == Kind::Distribution && r.action == Action::Delete);
    if failures.is_empty() && dropped {
        ctx.report.status(
            "Deleting",
            format!("distribution {}", distribution::label(&ctx.spec)),
        );
        if let Err(e) = distribution::delete(ctx, &snap.cloudfront).await {
            failures.push(format!("{e:#}"));
        }
    }
    finish(failures, Some((url, cdn)))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The site paths a sync changed: every key uploaded or deleted, and `/` with the index.
fn changed_paths(ctx: &Ctx, content: &SyncPlan) -> Vec<String> {
    let mut paths: Vec<String> = content
        .upload
        .iter()
        .map(|(o, _)| o.key.clone())
        .chain(content.delete.iter().cloned())
        .collect();
    if paths.contains(&ctx.spec.website.index_document) {
        paths.push(String::new());
    }
    paths
}

fn finish<T>(failures: Vec<String>, done: Option<T>) -> Result<T> {
    match (failures.is_empty(), done) {
        (true, Some(done)) => Ok(done),
        _ => anyhow::bail!(
            "up did not finish; what succeeded is in place and the next `up` continues from \
             there:\n  - {}",
            failures.join("\n  - ")
        ),
    }
}

/// After a successful sync, tag the website bucket with the fingerprint of the rules its
/// objects now follow (a new bucket was created with it).
async fn record_content_rules(ctx: &Ctx, snap: &Snapshot) -> Result<()> {
    let Some(site) = &snap.website else {
        return Ok(());
    };
    let want = sync::rules_fingerprint(&ctx.spec.website.cache_control);
    if site.tags.get(sync::TAG_CONTENT_RULES) == Some(&want) {
        return Ok(());
    }
    bucket::put_tags(
        ctx,
        &ctx.spec.website.bucket,
        bucket::tags(ctx, Which::Website),
    )
    .await
    .with_context(|| {
        format!(
            "recording the content rules on {}",
            Which::Website.label(ctx)
        )
    })
}

/// Says what starts now; fails instead when Ctrl-C was pressed, so no new step starts.
fn announce(ctx: &Ctx, r: &ResourcePlan) -> Result<()> {
    crate::interrupt::check(&format!("the step for {} {}", r.kind, r.name))?;
    let verb = match r.action {
        Action::Create => "Creating",
        Action::Replace => "Replacing",
        Action::Delete => "Deleting",
        _ => "Updating",
    };
    let fields: Vec<&str> = r.changes.iter().map(|c| c.field).collect();
    if r.action == Action::Update {
        ctx.report.status(
            verb,
            format!("{} {} ({})", r.kind, r.name, fields.join(", ")),
        );
    } else {
        ctx.report.status(verb, format!("{} {}", r.kind, r.name));
    }
    Ok(())
}

fn outputs_from(ctx: &Ctx, snap: &Snapshot) -> Outputs {
    Outputs {
        website_url: ctx.website_url(),
        presigner_url: public_presigner_url(ctx, snap.url.as_ref().and_then(|u| u.url.clone())),
        documents_bucket: ctx.spec.documents.bucket.clone(),
        website_bucket: ctx.spec.website.bucket.clone(),
        role_arn: snap.role.as_ref().map(|(_, arn)| arn.clone()),
        function_arn: snap.function.as_ref().map(|_| ctx.function_arn()),
    }
}

/// `outputs`: read what is live.
pub async fn outputs(ctx: &Ctx) -> Result<Outputs> {
    let (role, function, url, cloudfront) = tokio::join!(
        role::read(ctx),
        function::read(ctx),
        function_url::read(ctx),
        distribution::read(ctx),
    );
    let cloudfront = cloudfront?;
    let ctx = &ctx.with_cdn(cloudfront.cdn().cloned());
    let snap = Snapshot {
        documents: None,
        website: None,
        role: role?,
        function: function?,
        log_group: None,
        url: url?,
        objects: None,
        orphans: vec![],
        account_blocks_public_policies: None,
        cloudfront,
    };
    if snap.function.is_none() && snap.role.is_none() {
        anyhow::bail!(
            "stack {} (env {}) is not deployed in {} (no function {}); run `presign-stack up`",
            ctx.spec.name,
            ctx.spec.env,
            ctx.region,
            ctx.spec.presigner.function_name
        );
    }
    Ok(outputs_from(ctx, &snap))
}

/// What `down` deleted.
#[derive(Debug, Clone, Serialize)]
pub struct DownResult {
    pub deleted: Vec<String>,
    pub objects_deleted: usize,
    /// Resources of the spec's names that are not this stack's own (or that one of those
    /// uses), left in place, each with the reason.
    pub left_in_place: Vec<String>,
    /// The documents buckets deleted with objects in them, and what they held.
    pub losses: Vec<Loss>,
}

/// `down`: delete what the stack owns, in reverse dependency order: the function (its URL and
/// permissions first), then the role and both buckets, and any orphan the stack still tags.
pub async fn down(ctx: &Ctx, yes: bool) -> Result<DownResult> {
    let snap = read_all(ctx).await?;
    let spec = &ctx.spec;
    let mut targets: Vec<Orphan> = Vec::new();
    let mut left_in_place: Vec<String> = Vec::new();
    // What is not this stack's own is left alone, and said so; the rest is still deleted.
    let add = |targets: &mut Vec<Orphan>,
               left: &mut Vec<String>,
               live: Option<&Live>,
               kind: Kind,
               name: &str| {
        let Some(live) = live else { return };
        match check_owned(spec, &format!("{kind} {name}"), Some(live), false) {
            Ok(()) => targets.push(Orphan {
                kind,
                name: name.to_string(),
            }),
            Err(e) => left.push(e.to_string()),
        }
    };
    add(
        &mut targets,
        &mut left_in_place,
        snap.function.as_ref(),
        Kind::Function,
        &spec.presigner.function_name,
    );
    add(
        &mut targets,
        &mut left_in_place,
        snap.log_group_as_owned(spec).as_ref(),
        Kind::LogGroup,
        &log_group::name(&spec.presigner.function_name),
    );
    // A function left in place may still run as our role: deleting the role would break it.
    let role_arn = snap.role.as_ref().map(|(_, arn)| arn.as_str());
    let function_kept = targets.iter().all(|t| t.kind != Kind::Function);
    let used_by_kept = function_kept
        && snap
            .function
            .as_ref()
            .is_some_and(|f| f.fields.get("role").and_then(|r| r.as_str()) == role_arn);
    if used_by_kept {
        left_in_place.push(format!(
            "role {} is the role of function {}, which is left in place",
            spec.presigner.role_name, spec.presigner.function_name
        ));
    } else {
        add(
            &mut targets,
            &mut left_in_place,
            snap.role.as_ref().map(|(l, _)| l),
            Kind::Role,
            &spec.presigner.role_name,
        );
    }
    add(
        &mut targets,
        &mut left_in_place,
        snap.documents.as_ref(),
        Kind::DocumentsBucket,
        &spec.documents.bucket,
    );
    add(
        &mut targets,
        &mut left_in_place,
        snap.website.as_ref(),
        Kind::WebsiteBucket,
        &spec.website.bucket,
    );
    let cf = &snap.cloudfront;
    if !cf.is_empty() {
        let dist_ours = cf.live.as_ref().is_none_or(|l| {
            cf.distribution.is_none() || crate::resources::owner(spec, &l.tags) == Owner::ThisStack
        });
        let foreign = cf.foreign(spec);
        if dist_ours && foreign.is_empty() {
            targets.push(Orphan {
                kind: Kind::Distribution,
                name: distribution::label(spec),
            });
        } else if !dist_ours {
            left_in_place.push(format!(
                "distribution {} is not this stack's (it lacks the ownership tags)",
                distribution::comment(spec)
            ));
        } else {
            left_in_place.extend(foreign);
        }
    }
    for why in &left_in_place {
        ctx.report.warn(format!("left in place: {why}"));
    }
    targets.extend(snap.orphans.iter().cloned());
    let url_only = snap.function.is_none() && snap.url.as_ref().is_some_and(|u| u.url.is_some());
    if targets.is_empty() && !url_only {
        let why = if left_in_place.is_empty() {
            "the stack is not deployed"
        } else {
            "nothing of the spec's names belongs to this stack"
        };
        ctx.report.status("Nothing", format!("to delete: {why}"));
        return Ok(DownResult {
            deleted: vec![],
            objects_deleted: 0,
            left_in_place,
            losses: vec![],
        });
    }
    // Customer files: what each documents bucket holds is counted and shown before the yes.
    let documents: Vec<&Orphan> = targets
        .iter()
        .filter(|t| t.kind == Kind::DocumentsBucket)
        .collect();
    let counted =
        futures::future::join_all(documents.iter().map(|t| loss::contents(ctx, &t.name))).await;
    let mut losses = Vec::new();
    for (t, c) in documents.iter().zip(counted) {
        let c = c?;
        if !c.is_empty() {
            losses.push(c.loss(When::Down, format!("documents bucket {}", t.name), &t.name));
        }
    }
    let labels: Vec<String> = targets
        .iter()
        .map(|t| match t.kind {
            Kind::Function => format!("function {} with its URL and permissions", t.name),
            Kind::DocumentsBucket => match losses.iter().find(|l| l.bucket == t.name) {
                Some(l) => format!(
                    "{} {} and every object version in it, uploads that presign-stack did not \
                     write: {}",
                    t.kind,
                    t.name,
                    l.amount()
                ),
                None => format!("{} {} (empty)", t.kind, t.name),
            },
            Kind::WebsiteBucket => format!("{} {} and the site in it", t.kind, t.name),
            Kind::Distribution => match cf.cdn() {
                Some(c) => format!(
                    "distribution {} ({}) with its origin access controls and headers policy \
                     (disabled first; CloudFront takes minutes to deploy that)",
                    c.id, c.domain
                ),
                None => format!(
                    "the origin access controls and headers policy of distribution {}",
                    t.name
                ),
            },
            _ => format!("{} {}", t.kind, t.name),
        })
        .collect();
    loss::consent(
        ctx,
        &format!(
            "down deletes {} resource{} of stack {} (env {})",
            labels.len(),
            if labels.len() == 1 { "" } else { "s" },
            spec.name,
            spec.env
        ),
        &labels,
        yes,
        "Pass --yes to confirm when not on a terminal.",
    )?;
    if url_only {
        function_url::delete(ctx, &spec.presigner.function_name).await?;
    }
    let objects = delete_orphans(ctx, &targets, "")
        .await
        .context("down did not finish; run it again to delete the rest")?;
    Ok(DownResult {
        deleted: labels,
        objects_deleted: objects,
        left_in_place,
        losses,
    })
}
