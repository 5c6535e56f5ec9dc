//! `auth.cognito` (SPEC section 7): the stack's own sign-in. A user pool, the page's public
//! app client (Authorization Code with PKCE, no secret) and the domain of the managed sign-in
//! pages; the presigner trusts the pool as its issuer and the client as its audience.
//!
//! Only the pool takes tags. Its client and domain are the stack's because they belong to the
//! stack's pool: the pool tells its id to the others (`Known::user_pool_id`) only when its
//! tags say it is ours, so nothing is read, changed or deleted inside a pool of someone else.
//!
//! Pools' names need not be unique, so the pool is the one of its name that carries the
//! stack's tags. An endpoint without Cognito (LocalStack's free tier) fails only a stack that
//! uses it.

pub mod client;
pub mod domain;
pub mod user_pool;

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::spec::{Cognito, Spec};

/// Where a dev server started with the default port sends users back after sign-in, so that
/// `dev --auth spec` can sign in with the stack's pool.
pub const DEV_URL: &str = "http://localhost:8080/";

/// The spec's `auth.cognito`, when it has one.
pub fn cognito(spec: &Spec) -> Option<&Cognito> {
    spec.auth.as_ref().and_then(|a| a.cognito.as_ref())
}

pub fn pool_name(spec: &Spec) -> String {
    format!("{}-{}-users", spec.name, spec.env)
}

pub fn client_name(spec: &Spec) -> String {
    format!("{}-{}-web", spec.name, spec.env)
}

/// The managed sign-in pages.
pub fn sign_in_url(ctx: &Ctx) -> Option<String> {
    cognito(&ctx.spec).map(|c| {
        format!(
            "https://{}.auth.{}.amazoncognito.com",
            c.domain_prefix, ctx.region
        )
    })
}

/// The read of a part of the pool (its client, its domain), made only when the spec wants it:
/// one the spec no longer wants goes with the pool.
fn only_wanted<'a>(
    wanted: bool,
    read: impl std::future::Future<Output = anyhow::Result<Option<crate::state::Live>>> + Send + 'a,
) -> crate::resources::Step<'a, Option<crate::state::Live>> {
    use futures::FutureExt;
    async move {
        if !wanted {
            return Ok(None);
        }
        read.await
    }
    .boxed()
}

/// Delete the sign-in domain `name` of pool `pool`; one already gone is done.
pub async fn delete_domain(ctx: &Ctx, name: &str, pool: &str) -> anyhow::Result<()> {
    match ctx
        .aws
        .cognito
        .delete_user_pool_domain()
        .domain(name)
        .user_pool_id(pool)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if code_in(
                &e,
                &["ResourceNotFoundException", "InvalidParameterException"],
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_err(format!("deleting sign-in domain {name}"), e)),
    }
}
