//! Orphans: resources of this stack and environment that the spec no longer names (after a
//! bucket, function or role rename). They show up as deletes in `plan` and `drift`; `up
//! --prune` removes them. Each kind says how its orphans are found ([`Orphans`]): by the
//! stack's tags (one tag query for them all, from discovery), among the roles under the tool's
//! path, or following another kind's orphans (a function's log group).

use anyhow::Result;
use serde::Serialize;

use crate::context::{Ctx, TAG_RESOURCE};
use crate::discovery::Tagged;
use crate::resources::{owner, Orphans, Owner, Resource, REGISTRY};
use crate::state::{Kind, Live};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub kind: Kind,
    pub name: String,
}

/// An orphan as it was read when found.
#[derive(Debug, Clone)]
pub struct Found {
    pub orphan: Orphan,
    pub live: Live,
}

/// Every orphan, read (so that only what still exists counts: the tagging index lags behind
/// deletions), in registry order.
pub async fn find(ctx: &Ctx) -> Result<Vec<Found>> {
    let mut candidates = tagged(ctx)?;
    candidates.extend(roles(ctx)?);
    let mut found = read_all(ctx, candidates).await?;
    let followers: Vec<(Kind, String)> = REGISTRY
        .iter()
        .filter_map(|r| match r.orphans() {
            Orphans::Follow { kind, name } => Some((r.kind(), kind, name)),
            _ => None,
        })
        .flat_map(|(follower, leader, name)| {
            found
                .iter()
                .filter(move |o| o.orphan.kind == leader)
                .map(move |o| (follower, name(&o.orphan.name)))
        })
        .collect();
    let followed = read_all(ctx, followers).await?;
    found.extend(followed.into_iter().filter(|o| {
        let r = crate::resources::resource(o.orphan.kind);
        match r.owner(&ctx.spec, &o.live) {
            Owner::ThisStack => true,
            // Made by Lambda for a function of ours, untagged.
            Owner::Unmanaged => r.comes_with().is_some(),
            Owner::Other { .. } => false,
        }
    }));
    let order = |k: Kind| REGISTRY.iter().position(|r| r.kind() == k);
    found.sort_by(|a, b| {
        let key = |f: &Found| (order(f.orphan.kind), f.orphan.name.clone());
        key(a).cmp(&key(b))
    });
    Ok(found)
}

/// The name in a tagged resource's ARN, for the tag query's resource types.
fn name_in(arn: &str) -> Option<(&'static str, &str)> {
    if let Some(bucket) = arn.strip_prefix("arn:aws:s3:::") {
        return Some(("s3:bucket", bucket));
    }
    // Versions and aliases are `function:name:qualifier`.
    let (_, rest) = arn.split_once(":function:")?;
    Some(("lambda:function", rest.split(':').next().unwrap_or(rest)))
}

/// The kind of a tagged resource: the one its `presign-stack:resource` tag names, else the
/// first of its type (a documents bucket: counted before deletion, to be safe).
fn kind_of(t: &Tagged, kinds: &[&'static dyn Resource]) -> Option<Kind> {
    let by_tag = t
        .tags
        .get(TAG_RESOURCE)
        .and_then(|v| kinds.iter().find(|r| r.kind().tag_value() == *v));
    by_tag.or(kinds.first()).map(|r| r.kind())
}

fn tagged(ctx: &Ctx) -> Result<Vec<(Kind, String)>> {
    let Some(tagged) = ctx.discovery.tagged.get()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in tagged {
        let Some((ty, name)) = name_in(&t.arn) else {
            continue;
        };
        let kinds: Vec<&'static dyn Resource> = REGISTRY
            .iter()
            .copied()
            .filter(|r| matches!(r.orphans(), Orphans::Tagged(t) if t == ty))
            .collect();
        if kinds.iter().any(|r| r.name(&ctx.spec) == name) {
            continue;
        }
        if let Some(kind) = kind_of(t, &kinds) {
            out.push((kind, name.to_string()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn roles(ctx: &Ctx) -> Result<Vec<(Kind, String)>> {
    let Some(roles) = ctx.discovery.roles.get()? else {
        return Ok(Vec::new());
    };
    let kinds: Vec<&'static dyn Resource> = REGISTRY
        .iter()
        .copied()
        .filter(|r| matches!(r.orphans(), Orphans::RolePath))
        .collect();
    // A role is of the kind its `presign-stack:resource` tag names (one without the tag is a
    // presigner's, as roles were before there were others), and not the spec's own of it.
    let kind_of = |tags: &std::collections::BTreeMap<String, String>| {
        let tag = tags.get(TAG_RESOURCE);
        kinds
            .iter()
            .find(|r| tag.is_none_or(|t| *t == r.kind().tag_value()))
            .copied()
    };
    Ok(roles
        .iter()
        .filter(|(_, tags)| owner(&ctx.spec, tags) == Owner::ThisStack)
        .filter_map(|(name, tags)| kind_of(tags).map(|r| (r, name)))
        .filter(|(r, name)| r.name(&ctx.spec) != **name)
        .map(|(r, name)| (r.kind(), name.clone()))
        .collect())
}

/// Read each candidate; those gone are left out.
async fn read_all(ctx: &Ctx, candidates: Vec<(Kind, String)>) -> Result<Vec<Found>> {
    let reads = futures::future::join_all(
        candidates
            .iter()
            .map(|(kind, name)| crate::resources::resource(*kind).read(ctx, name)),
    )
    .await;
    let mut out = Vec::new();
    for ((kind, name), live) in candidates.into_iter().zip(reads) {
        if let Some(live) = live? {
            out.push(Found {
                orphan: Orphan { kind, name },
                live,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_from_the_arns_the_tag_query_gives() {
        assert_eq!(
            name_in("arn:aws:s3:::acme-docs-files"),
            Some(("s3:bucket", "acme-docs-files"))
        );
        assert_eq!(
            name_in("arn:aws:lambda:eu-central-1:123456789012:function:acme-fn:7"),
            Some(("lambda:function", "acme-fn"))
        );
        assert_eq!(name_in("arn:aws:iam::123456789012:role/x"), None);
    }
}
