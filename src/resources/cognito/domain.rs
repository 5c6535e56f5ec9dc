//! The domain of the pool's managed sign-in pages, `<prefix>.auth.<region>.amazoncognito.com`.
//! Prefixes are shared by every account of a region: one taken elsewhere fails the create with
//! Cognito's own words and the advice to choose `auth.cognito.domain_prefix`.
//!
//! Fields: user_pool (the id of the pool it serves).

use crate::resources::scope::{Arns, Condition, Scope};
use futures::FutureExt;
use serde_json::json;

use super::{cognito, only_wanted, user_pool};
use crate::context::Ctx;
use crate::errors::aws_err;
use crate::resources::{Actions, Need, Owner, Resource, Step};
use crate::spec::Spec;
use crate::state::{Change, Desired, Fields, Kind, Known, Live, Output, SHOWN_UNKNOWN};

pub const KIND: Kind = Kind::new("user_pool_domain", "sign-in domain");

pub struct Domain;

impl Resource for Domain {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        cognito(spec).map_or_else(
            || format!("{}-{}", spec.name, spec.env),
            |c| c.domain_prefix.clone(),
        )
    }

    fn wanted(&self, spec: &Spec) -> bool {
        cognito(spec).is_some()
    }

    fn needs(&self, _spec: &Spec) -> Vec<Need> {
        vec![Need::Uses(user_pool::KIND)]
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["cognito-idp:DescribeUserPoolDomain"],
            create: &[
                "cognito-idp:DescribeUserPool",
                "cognito-idp:DeleteUserPoolDomain",
                "cognito-idp:CreateUserPoolDomain",
            ],
            update: &[
                "cognito-idp:DescribeUserPool",
                "cognito-idp:DeleteUserPoolDomain",
                "cognito-idp:CreateUserPoolDomain",
            ],
            delete: &["cognito-idp:DeleteUserPoolDomain"],
        }
    }

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        match action {
            // Asked by domain name, which belongs to no pool until it is created.
            "cognito-idp:DescribeUserPoolDomain" => Scope::any(),
            "cognito-idp:DescribeUserPool" => Scope::on([at.user_pools()]).part("Read"),
            _ => Scope::on([at.user_pools()]).when(Condition::Tagged),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        match &ctx.known.user_pool_id {
            Some(id) => d.set("user_pool", json!(id)),
            None => d.unknown("user_pool", Output::UserPool, json!(SHOWN_UNKNOWN)),
        }
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        // Unwanted, its pool deletes it first (the pool's description names it).
        only_wanted(self.wanted(&ctx.spec), read(ctx, name))
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        _changes: &'a [Change],
    ) -> Step<'a, Known> {
        apply(ctx, live).boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        async move {
            let Some(pool) = live.fields.get("user_pool").and_then(|v| v.as_str()) else {
                return Ok(0);
            };
            super::delete_domain(ctx, name, pool).await.map(|()| 0)
        }
        .boxed()
    }

    /// The stack's when it serves the stack's own pool.
    fn owner(&self, _spec: &Spec, live: &Live) -> Owner {
        match (&live.known.user_pool_id, live.fields.get("user_pool")) {
            (Some(ours), Some(serves)) if serves == &json!(ours) => Owner::ThisStack,
            _ => Owner::Unmanaged,
        }
    }

    fn unmarked(&self, spec: &Spec) -> String {
        format!(
            "it serves another user pool than {}; choose another `auth.cognito.domain_prefix`",
            super::pool_name(spec)
        )
    }
}

/// The domain, and which pool it serves; `None` when no pool has it in this account.
async fn read(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Live>> {
    let (found, ours) = tokio::join!(
        ctx.aws
            .cognito
            .describe_user_pool_domain()
            .domain(name)
            .send(),
        user_pool::ours(ctx)
    );
    let found = found.map_err(|e| aws_err(format!("reading sign-in domain {name}"), e))?;
    let Some(pool) = found
        .domain_description()
        .and_then(|d| d.user_pool_id())
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    let mut f = Fields::new();
    f.insert("user_pool", json!(pool));
    Ok(Some(Live {
        tags: Default::default(),
        fields: f,
        // Which pool is the stack's, to tell ownership.
        known: Known {
            user_pool_id: ours?,
            ..Known::default()
        },
    }))
}

async fn apply(ctx: &Ctx, live: Option<&Live>) -> anyhow::Result<Known> {
    let name = Domain.name(&ctx.spec);
    let pool =
        ctx.known.user_pool_id.clone().ok_or_else(|| {
            anyhow::anyhow!("internal: sign-in domain {name} before its user pool")
        })?;
    // A domain of another pool is never taken over (it is someone else's sign-in page).
    if let Some(other) = live
        .and_then(|l| l.fields.get("user_pool"))
        .and_then(|v| v.as_str())
        .filter(|p| *p != pool)
    {
        anyhow::bail!(
            "sign-in domain {name} serves user pool {other}, not the stack's ({pool}); choose \
             another `auth.cognito.domain_prefix`"
        );
    }
    // A pool has one prefix domain: the one of an earlier `domain_prefix` goes first.
    let described = ctx
        .aws
        .cognito
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .map_err(|e| aws_err(format!("reading user pool {pool}"), e))?;
    if let Some(old) = described
        .user_pool()
        .and_then(|p| p.domain())
        .filter(|d| *d != name)
    {
        super::delete_domain(ctx, old, &pool).await?;
    }
    match ctx
        .aws
        .cognito
        .create_user_pool_domain()
        .domain(&name)
        .user_pool_id(&pool)
        .send()
        .await
    {
        Ok(_) => Ok(Known::default()),
        Err(e) => Err(aws_err(
            format!(
                "creating sign-in domain {name} (the prefix is shared by every AWS account in \
                 the region: if another has it, choose `auth.cognito.domain_prefix`)"
            ),
            e,
        )),
    }
}
