//! `up`: plan, then walk exactly that plan. Each resource of the registry with changes is a
//! step that runs once what it needs is there; a change whose value waits for another
//! resource's output (the distribution's ARN in a bucket policy) goes in a later step of the
//! same resource, once that output is known; every written resource is read back, and what
//! the service did not keep is said. The website content, the removal of what the layout no
//! longer uses and, with `--prune`, of orphans are steps of the same walk.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Result;
use futures::FutureExt;
use serde::Serialize;

use super::{content, outputs_from, prepare, survey, Outputs, Prepared, Snapshot};
use crate::context::Ctx;
use crate::loss::{self, When};
use crate::plan::{excerpts, join_path, removed_by_up, Action, Plan, ResourcePlan, Strings};
use crate::resources::cloudfront::distribution;
use crate::resources::{function, provider, resource, Resource, REGISTRY};
use crate::retry::{poll, Poll};
use crate::state::{leaf_diff, Change, Kind, Known, Live};
use crate::walker::Walk;

/// How `up` goes about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpOptions {
    /// Take over resources of the expected names that this stack did not create.
    pub adopt: bool,
    /// Also delete resources tagged for this stack that the spec no longer names.
    pub prune: bool,
    /// Confirm steps that destroy data presign-stack did not write.
    pub yes: bool,
    /// Wait until CloudFront has deployed the distribution's changes.
    pub wait: bool,
}

/// The result of `up`: the plan it applied and the outputs after it.
#[derive(Debug, Clone, Serialize)]
pub struct UpResult {
    pub plan: Plan,
    pub outputs: Outputs,
}

pub async fn up(ctx: &Ctx, opts: &UpOptions) -> Result<UpResult> {
    super::warn_if_open(ctx);
    let (mut ctx, snap) = survey(ctx, opts.adopt).await?;
    let code = ctx.code.clone().expect("identified by the survey");
    // Built only when the sources' digest is not what the function records.
    if function::needs_build(snap.live(function::KIND), &code) {
        let mut built = (*code).clone();
        built.bundle = Some(crate::bundle::prepare(&ctx.spec, &ctx.report).await?);
        ctx.code = Some(Arc::new(built));
    }
    let prepared = prepare(&ctx, &snap, opts.adopt).await?;
    let plan = prepared.plan.clone();
    let deployed = snap.live(function::KIND).is_some();
    if plan.is_empty() {
        return Ok(UpResult {
            outputs: outputs_from(&ctx, deployed),
            plan,
        });
    }
    ctx.report.block(&plan);
    consent(&ctx, &snap, &plan, opts)?;
    let walk = graph(&ctx, &snap, &prepared, opts);
    let walked = walk.run(snap.known(), &ctx.cancel).await;
    if !walked.succeeded() {
        anyhow::bail!(
            "up did not finish; what succeeded is in place and the next `up` continues from \
             there:\n  - {}",
            walked.problems().join("\n  - ")
        );
    }
    let orphans = plan.orphans();
    if !opts.prune && !orphans.is_empty() {
        ctx.report.warn(format!(
            "kept {} resource{} the spec no longer names ({}); `up --prune` deletes them",
            orphans.len(),
            super::plural(orphans.len()),
            orphans
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let ctx = ctx.with_known(&walked.known);
    let mut outputs = outputs_from(&ctx, true);
    outputs.role_arn = outputs.role_arn.or_else(|| Some(ctx.role_arn()));
    Ok(UpResult { plan, outputs })
}

/// The yes for what this run would destroy or take over (prune losses only with --prune).
fn consent(ctx: &Ctx, snap: &Snapshot, plan: &Plan, opts: &UpOptions) -> Result<()> {
    let mut at_stake: Vec<String> = plan
        .losses
        .iter()
        .filter(|l| l.when == When::Adopt || (l.when == When::Prune && opts.prune))
        .map(|l| l.to_string())
        .collect();
    if opts.prune {
        // What pruning a resource of the spec's own names loses (a user pool's users).
        for o in plan.orphans() {
            if let Some(what) = snap
                .orphan_live(&ctx.spec, &o)
                .and_then(|l| resource(o.kind).at_stake(l))
            {
                at_stake.push(format!(
                    "{} {} deleted by `up --prune`: {what}",
                    o.kind, o.name
                ));
            }
        }
    }
    if at_stake.is_empty() {
        return Ok(());
    }
    let how = match (opts.prune, opts.adopt) {
        (true, true) => {
            "Run `up --yes` to confirm, or leave out --prune (old buckets are then kept) or \
             --adopt."
        }
        (true, false) => {
            "Run `up --prune --yes` to confirm, or `up` without --prune to keep the old bucket."
        }
        _ => "Run `up --adopt --yes` to confirm, or choose another bucket name in the spec.",
    };
    loss::consent(
        ctx,
        "up would destroy or take over data that presign-stack did not write",
        &at_stake,
        opts.yes,
        how,
    )
}

/// The registry in an order where every kind comes after the kinds it needs.
fn topological(ctx: &Ctx) -> Vec<&'static dyn Resource> {
    let mut out: Vec<&'static dyn Resource> = Vec::new();
    let mut left: Vec<&'static dyn Resource> = REGISTRY.to_vec();
    while !left.is_empty() {
        let placed: BTreeSet<Kind> = out.iter().map(|r| r.kind()).collect();
        let ready = left.iter().position(|r| {
            r.needs(&ctx.spec).iter().all(|n| {
                placed.contains(&n.kind()) || !REGISTRY.iter().any(|x| x.kind() == n.kind())
            })
        });
        // The registry's needs form no cycle (a test walks them); should one, keep its order.
        let i = ready.unwrap_or(0);
        out.push(left.remove(i));
    }
    out
}

/// The plan's entry for the spec's own resource of kind `r`.
fn entry<'p>(ctx: &Ctx, plan: &'p Plan, r: &dyn Resource) -> Option<&'p ResourcePlan> {
    let name = r.name(&ctx.spec);
    plan.resources
        .iter()
        .find(|p| p.kind == r.kind() && p.name == name)
}

/// The walk of a plan.
fn graph<'a>(
    ctx: &'a Ctx,
    snap: &'a Snapshot,
    prepared: &'a Prepared,
    opts: &UpOptions,
) -> Walk<'a> {
    let mut walk = Walk::new();
    let mut main: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut later: Vec<(&'static dyn Resource, Vec<Change>)> = Vec::new();
    for r in topological(ctx) {
        let Some(p) = entry(ctx, &prepared.plan, r) else {
            continue;
        };
        if !matches!(p.action, Action::Create | Action::Update | Action::Replace) {
            continue;
        }
        let hard: Vec<Kind> = r.needs(&ctx.spec).iter().map(|n| n.kind()).collect();
        let needs = hard.iter().filter_map(|k| main.get(k)).copied().collect();
        let (now, deferred): (Vec<Change>, Vec<Change>) =
            p.changes.iter().cloned().partition(|c| {
                !r.later(c.field) && c.after.is_none_or(|o| hard.contains(&provider(o)))
            });
        let live = snap.live(r.kind());
        let action = p.action;
        let step = walk.add(format!("{} {}", r.kind(), p.name), needs, move |known| {
            apply(ctx, r, live, action, now, known).boxed()
        });
        let written: Vec<&'static str> = p
            .changes
            .iter()
            .filter(|c| c.after.is_none())
            .map(|c| c.field)
            .collect();
        walk.quiet(
            format!("reading back {} {}", r.kind(), p.name),
            vec![step],
            move |known| read_back(ctx, r, written, known).boxed(),
        );
        main.insert(r.kind(), step);
        if !deferred.is_empty() {
            later.push((r, deferred));
        }
    }
    let content = content::steps(&mut walk, ctx, snap, prepared, &main);
    for (r, deferred) in later {
        let mut needs: Vec<usize> = deferred
            .iter()
            .filter_map(|c| c.after)
            .filter_map(|o| main.get(&provider(o)).copied())
            .collect();
        needs.extend(main.get(&r.kind()).copied());
        needs.extend(content.and_then(|c| c.before_policy(ctx, r.kind())));
        let live = snap.live(r.kind());
        let fields: Vec<&str> = deferred.iter().map(|c| c.field).collect();
        let label = format!("{} {} ({})", r.kind(), r.name(&ctx.spec), fields.join(", "));
        let step = walk.add(label.clone(), needs, move |known| {
            resolve_later(ctx, r, live, deferred, known).boxed()
        });
        walk.quiet(format!("reading back {label}"), vec![step], move |known| {
            read_back(ctx, r, fields, known).boxed()
        });
    }
    if let Some(&step) = main.get(&distribution::KIND) {
        let wait = opts.wait;
        walk.add("deploying the distribution", vec![step], move |known| {
            deployed(ctx, known, wait).boxed()
        });
    }
    let everything: Vec<usize> = (0..walk.len()).collect();
    removals(&mut walk, ctx, snap, &prepared.plan, &everything);
    if opts.prune {
        let everything: Vec<usize> = (0..walk.len()).collect();
        prune(&mut walk, ctx, snap, &prepared.plan, &everything);
    }
    walk
}

/// Says what starts now.
fn announce(ctx: &Ctx, r: &dyn Resource, action: Action, changes: &[Change]) {
    let name = r.name(&ctx.spec);
    match action {
        Action::Create | Action::Replace => {
            let verb = if action == Action::Create {
                "Creating"
            } else {
                "Replacing"
            };
            ctx.report.status(verb, format!("{} {name}", r.kind()));
        }
        _ => {
            let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
            ctx.report.status(
                "Updating",
                format!("{} {name} ({})", r.kind(), fields.join(", ")),
            );
        }
    }
}

/// A resource's step: its changes, with the values that waited for what it needs now known.
async fn apply(
    ctx: &Ctx,
    r: &'static dyn Resource,
    live: Option<&Live>,
    action: Action,
    changes: Vec<Change>,
    known: Known,
) -> Result<Known> {
    let ctx = ctx.with_known(&known);
    announce(&ctx, r, action, &changes);
    let changes = if changes.iter().any(|c| c.after.is_some()) {
        let want = r.desired(&ctx, live);
        changes
            .into_iter()
            .map(|c| match c.after {
                None => Ok(c),
                Some(o) => match (want.after.get(c.field), want.get(c.field)) {
                    (None, Some(new)) => Ok(Change {
                        new: new.clone(),
                        after: None,
                        ..c
                    }),
                    _ => Err(anyhow::anyhow!(
                        "internal: {} of {} {} still waits for the {o:?} output",
                        c.field,
                        r.kind(),
                        r.name(&ctx.spec)
                    )),
                },
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        changes
    };
    r.apply(&ctx, live, &changes).await
}

/// A resource's later step: the changes whose values waited for another resource's output,
/// known now; those that turn out already true are dropped.
async fn resolve_later(
    ctx: &Ctx,
    r: &'static dyn Resource,
    live: Option<&Live>,
    deferred: Vec<Change>,
    known: Known,
) -> Result<Known> {
    let ctx = ctx.with_known(&known);
    let want = r.desired(&ctx, live);
    let changes: Vec<Change> = deferred
        .into_iter()
        .filter_map(|c| {
            let new = want.get(c.field).cloned().unwrap_or_default();
            (new != c.old).then_some(Change {
                new,
                after: None,
                ..c
            })
        })
        .collect();
    if changes.is_empty() {
        return Ok(Known::default());
    }
    announce(&ctx, r, Action::Update, &changes);
    // It exists now: made by the resource's first step, if not before.
    let existing = Live {
        known: ctx.known.clone(),
        ..live.cloned().unwrap_or_default()
    };
    r.apply(&ctx, Some(&existing), &changes).await
}

/// Read a resource back after writing `fields`, and say which the service did not keep as
/// written (as Terraform's "inconsistent result after apply" does), after giving an eventually
/// consistent read a few seconds. It never fails `up`: what was written is done.
async fn read_back(
    ctx: &Ctx,
    r: &'static dyn Resource,
    fields: Vec<&'static str>,
    known: Known,
) -> Result<Known> {
    let ctx = ctx.with_known(&known);
    let name = r.name(&ctx.spec);
    let label = format!("{} {name}", r.kind());
    // What differed at the last look: (field, what was written, what the service kept).
    type Left = Vec<(&'static str, serde_json::Value, serde_json::Value)>;
    let last: std::sync::Mutex<Left> = Default::default();
    let checked = poll(
        ctx.timing.read_back,
        &ctx.cancel,
        &label,
        || async {
            let Some(live) = r.read(&ctx, &name).await? else {
                return Ok(Poll::Waiting("not found".to_string()));
            };
            let want = r.desired(&ctx, Some(&live));
            let left: Left = fields
                .iter()
                .filter(|f| !want.after.contains_key(*f))
                .filter_map(|f| {
                    let wrote = want.get(f)?;
                    let kept = live.fields.get(f).cloned().unwrap_or_default();
                    (!r.settled(f, wrote, &kept)).then(|| (*f, wrote.clone(), kept))
                })
                .collect();
            let done = left.is_empty();
            *last.lock().unwrap_or_else(|e| e.into_inner()) = left;
            Ok(if done {
                Poll::Ready(())
            } else {
                Poll::Waiting("different".to_string())
            })
        },
        |_, _| {},
        |state, _| anyhow::anyhow!("{state}"),
    )
    .await;
    let left = last.into_inner().unwrap_or_else(|e| e.into_inner());
    match checked {
        Ok(()) => {}
        Err(_) if !left.is_empty() => {
            for (field, wrote, kept) in left {
                for (sub, kept, wrote) in leaf_diff(&kept, &wrote) {
                    let (kept, wrote) = excerpts(&kept, &wrote, 160, Strings::Quoted);
                    ctx.report.warn(format!(
                        "{label}: the service did not keep {field}{} as it was written \
                         ({wrote}); it kept {kept}",
                        join_path(&sub)
                    ));
                }
            }
        }
        Err(e) => ctx.report.warn(format!(
            "{label} could not be read back after it was written ({e:#}); `drift` checks it \
             again"
        )),
    }
    Ok(Known::default())
}

/// After the distribution's step: wait until CloudFront has deployed it (`--wait`), or say
/// that it takes minutes.
async fn deployed(ctx: &Ctx, known: Known, wait: bool) -> Result<Known> {
    let Some(cdn) = known.cdn.clone() else {
        return Ok(Known::default());
    };
    if wait {
        distribution::wait_deployed(&ctx.with_known(&known), &cdn).await?;
    } else {
        ctx.report.status(
            "Deploying",
            format!(
                "CloudFront takes a few minutes to deploy distribution {} to its edge \
                 locations; `up --wait` waits for it",
                cdn.id
            ),
        );
    }
    Ok(Known::default())
}

/// Deleting what the spec's layout no longer uses (the CloudFront part of a stack switched
/// to `s3-website`): after everything else, each after what uses it.
fn removals<'a>(
    walk: &mut Walk<'a>,
    ctx: &'a Ctx,
    snap: &'a Snapshot,
    plan: &Plan,
    after: &[usize],
) {
    let gone: Vec<(&'static dyn Resource, &'a Live)> = REGISTRY
        .iter()
        .copied()
        .filter(|r| {
            entry(ctx, plan, *r).is_some_and(|p| p.action == Action::Delete)
                && removed_by_up(r.kind())
        })
        .filter_map(|r| snap.live(r.kind()).map(|l| (r, l)))
        .collect();
    let targets: Vec<(Kind, String, &'a Live)> = gone
        .iter()
        .map(|(r, l)| (r.kind(), r.name(&ctx.spec), *l))
        .collect();
    super::down::deletions(walk, ctx, targets, after, "", None);
}

/// Deleting the orphans (`--prune`): after everything else, each after what uses it.
fn prune<'a>(walk: &mut Walk<'a>, ctx: &'a Ctx, snap: &'a Snapshot, plan: &Plan, after: &[usize]) {
    let targets: Vec<(Kind, String, &'a Live)> = plan
        .orphans()
        .iter()
        .filter_map(|o| {
            snap.orphan_live(&ctx.spec, o)
                .map(|live| (o.kind, o.name.clone(), live))
        })
        .collect();
    super::down::deletions(walk, ctx, targets, after, " (no longer in the spec)", None);
}
