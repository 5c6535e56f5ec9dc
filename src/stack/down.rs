//! `down`: delete what the stack owns, each resource once nothing that uses it is left, with
//! the walker. What is not the stack's own (and what such a resource still holds, like the
//! role a function not ours runs as) is left in place and listed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use futures::FutureExt;
use serde::Serialize;

use super::{read_all, Snapshot};
use crate::context::Ctx;
use crate::loss::{self, Loss, When};
use crate::resources::bucket;
use crate::resources::{not_ours, resource, Need, Owner, REGISTRY};
use crate::state::{Kind, Known, Live};
use crate::walker::Walk;

/// How `down` goes about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    /// Confirm without asking (required when not on a terminal).
    pub yes: bool,
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

/// One resource to delete: its kind, name and live state.
type Target<'a> = (Kind, String, &'a Live);

pub async fn down(ctx: &Ctx, opts: &DownOptions) -> Result<DownResult> {
    // What the documents bucket holds is counted with the reads: it is shown before the yes.
    let (snap, counted) = tokio::join!(
        read_all(ctx),
        loss::contents(ctx, &ctx.spec.documents.bucket)
    );
    let snap = snap?;
    let ctx = &ctx.with_known(&snap.known());
    let spec = &ctx.spec;
    let (mut targets, left_in_place) = owned(ctx, &snap);
    for why in &left_in_place {
        ctx.report.warn(format!("left in place: {why}"));
    }
    targets.extend(
        snap.orphans
            .iter()
            .map(|o| (o.orphan.kind, o.orphan.name.clone(), &o.live)),
    );
    if targets.is_empty() {
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
    let losses = documents_losses(ctx, &targets, counted?).await?;
    let labels: Vec<String> = targets
        .iter()
        .map(
            |(kind, name, live)| match losses.iter().find(|l| &l.bucket == name) {
                Some(l) => format!(
                    "{kind} {name} and every object version in it, uploads that presign-stack did \
                 not write: {}",
                    l.amount()
                ),
                None if *kind == bucket::DOCUMENTS_KIND => format!("{kind} {name} (empty)"),
                None => resource(*kind).down_label(name, live),
            },
        )
        .collect();
    loss::consent(
        ctx,
        &format!(
            "down deletes {} resource{} of stack {} (env {})",
            labels.len(),
            super::plural(labels.len()),
            spec.name,
            spec.env
        ),
        &labels,
        opts.yes,
        "Pass --yes to confirm when not on a terminal.",
    )?;
    let objects = AtomicUsize::new(0);
    let mut walk = Walk::new();
    deletions(&mut walk, ctx, targets, &[], "", Some(&objects));
    let walked = walk.run(ctx.known.clone(), &ctx.cancel).await;
    if !walked.succeeded() {
        anyhow::bail!(
            "down did not finish; run it again to delete the rest (what it deleted is gone):\n  \
             - {}",
            walked.problems().join("\n  - ")
        );
    }
    Ok(DownResult {
        deleted: labels,
        objects_deleted: objects.load(Ordering::Relaxed),
        left_in_place,
        losses,
    })
}

/// The resources of the spec's names that are the stack's own, and why each other one is
/// left in place.
fn owned<'a>(ctx: &Ctx, snap: &'a Snapshot) -> (Vec<Target<'a>>, Vec<String>) {
    let spec = &ctx.spec;
    let mut targets = Vec::new();
    let mut left = Vec::new();
    let mut held: BTreeSet<Kind> = BTreeSet::new();
    for r in REGISTRY {
        let Some(live) = snap.live(r.kind()) else {
            continue;
        };
        let name = r.name(spec);
        if r.owner(spec, live) != Owner::ThisStack && snap.goes_with_foreign(spec, *r) {
            // It goes with what is left in place, and is named with it.
            continue;
        }
        match not_ours(*r, spec, &name, live) {
            None => targets.push((r.kind(), name, live)),
            Some(why) => {
                left.push(why);
                for (kind, why) in r.holds(ctx, live) {
                    held.insert(kind);
                    left.push(why);
                }
            }
        }
    }
    targets.retain(|(kind, _, _)| !held.contains(kind));
    (targets, left)
}

/// What each documents bucket among `targets` holds: the spec's was counted already.
async fn documents_losses(
    ctx: &Ctx,
    targets: &[Target<'_>],
    spec_bucket: loss::Contents,
) -> Result<Vec<Loss>> {
    let documents: Vec<&String> = targets
        .iter()
        .filter(|(kind, _, _)| *kind == bucket::DOCUMENTS_KIND)
        .map(|(_, name, _)| name)
        .collect();
    let counted = futures::future::join_all(documents.iter().map(|name| async move {
        if **name == ctx.spec.documents.bucket {
            Ok(spec_bucket)
        } else {
            loss::contents(ctx, name).await
        }
    }))
    .await;
    let mut losses = Vec::new();
    for (name, c) in documents.into_iter().zip(counted) {
        let c = c?;
        if !c.is_empty() {
            losses.push(c.loss(When::Down, format!("documents bucket {name}"), name));
        }
    }
    Ok(losses)
}

/// Add a step deleting each of `targets`, after the `after` steps and after every target
/// that uses it; `why` ends the status line; `objects` counts the objects deleted with them.
pub(super) fn deletions<'a>(
    walk: &mut Walk<'a>,
    ctx: &'a Ctx,
    targets: Vec<Target<'a>>,
    after: &[usize],
    why: &'a str,
    objects: Option<&'a AtomicUsize>,
) {
    let uses = |user: Kind, used: Kind| resource(user).needs(&ctx.spec).contains(&Need::Uses(used));
    let mut left = targets;
    let mut added: Vec<(Kind, usize)> = Vec::new();
    while !left.is_empty() {
        // A target whose users among those left have their steps already.
        let i = left
            .iter()
            .position(|(k, _, _)| !left.iter().any(|(u, _, _)| uses(*u, *k)))
            .unwrap_or(0);
        let (kind, name, live) = left.remove(i);
        let mut needs = after.to_vec();
        needs.extend(
            added
                .iter()
                .filter(|(user, _)| uses(*user, kind))
                .map(|(_, step)| *step),
        );
        let step = walk.add(format!("deleting {kind} {name}"), needs, move |_| {
            async move {
                ctx.report.status("Deleting", format!("{kind} {name}{why}"));
                let n = resource(kind).delete(ctx, &name, live).await?;
                if let Some(objects) = objects {
                    objects.fetch_add(n, Ordering::Relaxed);
                }
                Ok(Known::default())
            }
            .boxed()
        });
        added.push((kind, step));
    }
}
