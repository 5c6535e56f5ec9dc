//! The page's app client in the stack's pool: public (no secret), Authorization Code with
//! PKCE only, sending users back to the website's URLs and dev's; refresh tokens revocable;
//! sign-in errors that do not tell which users exist. Every UpdateUserPoolClient sends every
//! setting, as Cognito resets the ones left out.
//!
//! Fields: callback_urls, logout_urls, oauth_flows, scopes, identity_providers, auth_flows,
//! prevent_user_existence_errors, token_revocation, secret.

use crate::resources::scope::{Arns, Condition, Scope};
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes,
};
use futures::FutureExt;
use serde_json::{json, Value};

use super::{client_name, cognito, only_wanted, user_pool, DEV_URL};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{Actions, Need, Owner, Resource, Step};
use crate::spec::Spec;
use crate::state::{set_value, Change, Desired, Fields, Kind, Known, Live, Output, SHOWN_UNKNOWN};

pub const KIND: Kind = Kind::new("user_pool_client", "app client");

pub struct Client;

/// The page signs in through the managed pages (Authorization Code) and renews with refresh
/// tokens; no direct sign-in flow (SRP, passwords) is offered to the public client.
const AUTH_FLOWS: &[&str] = &["ALLOW_REFRESH_TOKEN_AUTH"];

/// Where Cognito may send users back: the website's URLs known so far and dev's, and whether
/// the distribution's own is still to come.
fn return_urls(ctx: &Ctx) -> (Vec<String>, bool) {
    let origins = ctx.website_origins();
    let mut urls: Vec<String> = origins.known.iter().map(|o| format!("{o}/")).collect();
    urls.push(DEV_URL.to_string());
    urls.sort();
    urls.dedup();
    (urls, origins.pending)
}

fn scopes(spec: &Spec) -> Vec<String> {
    spec.auth
        .as_ref()
        .map(|a| a.scopes.clone())
        .unwrap_or_default()
}

impl Resource for Client {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        client_name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        cognito(spec).is_some()
    }

    fn needs(&self, _spec: &Spec) -> Vec<Need> {
        vec![Need::Uses(user_pool::KIND)]
    }

    fn provides(&self) -> Option<Output> {
        Some(Output::AppClient)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "cognito-idp:ListUserPoolClients",
                "cognito-idp:DescribeUserPoolClient",
            ],
            create: &["cognito-idp:CreateUserPoolClient"],
            update: &["cognito-idp:UpdateUserPoolClient"],
            delete: &["cognito-idp:DeleteUserPoolClient"],
        }
    }

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        let pools = Scope::on([at.user_pools()]);
        match action {
            "cognito-idp:ListUserPoolClients" | "cognito-idp:DescribeUserPoolClient" => {
                pools.part("Read")
            }
            _ => pools.when(Condition::Tagged),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        match return_urls(ctx) {
            (urls, false) => {
                d.set("callback_urls", json!(urls));
                d.set("logout_urls", json!(urls));
            }
            (mut known, true) => {
                known.push(SHOWN_UNKNOWN.to_string());
                d.unknown("callback_urls", Output::Distribution, json!(known));
                d.unknown("logout_urls", Output::Distribution, json!(known));
            }
        }
        d.set("oauth_flows", json!(["code"]));
        d.set("scopes", set_value(scopes(&ctx.spec)));
        d.set("identity_providers", json!(["COGNITO"]));
        d.set("auth_flows", set_value(AUTH_FLOWS.iter().copied()));
        d.set("prevent_user_existence_errors", json!("ENABLED"));
        d.set("token_revocation", json!(true));
        d.set("secret", json!(false));
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        // Unwanted, it goes with its pool, which is read on its own.
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
            let (Some(pool), Some(id)) = (&live.known.user_pool_id, &live.known.client_id) else {
                return Ok(0);
            };
            match ctx
                .aws
                .cognito
                .delete_user_pool_client()
                .user_pool_id(pool)
                .client_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(0),
                Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(0),
                Err(e) => Err(aws_err(format!("deleting app client {name}"), e)),
            }
        }
        .boxed()
    }

    /// It is read only inside the stack's own pool (see the module's documentation).
    fn owner(&self, _spec: &Spec, _live: &Live) -> Owner {
        Owner::ThisStack
    }
}

/// The client of this name in the stack's pool; none while the pool is not the stack's.
async fn read(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Live>> {
    // Whether a pool is the stack's and which client of the name it holds, asked at once: a
    // listing changes nothing, and the client is read only inside the stack's own pool.
    let mut found = None;
    for pool in user_pool::candidates(ctx).await? {
        let (ours, client) = tokio::join!(
            user_pool::is_ours(ctx, &pool),
            client_named(ctx, &pool, name)
        );
        if ours? {
            found = Some((pool, client?));
            break;
        }
    }
    let Some((pool, id)) = found else {
        return Ok(None);
    };
    let Some(id) = id else {
        return Ok(None);
    };
    let client = match ctx
        .aws
        .cognito
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&id)
        .send()
        .await
    {
        Ok(c) => c,
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading app client {name}"), e)),
    };
    let Some(c) = client.user_pool_client() else {
        return Ok(None);
    };
    let sorted = |v: &[String]| set_value(v.iter().cloned());
    let mut f = Fields::new();
    let urls = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        json!(v)
    };
    f.insert("callback_urls", urls(c.callback_urls()));
    f.insert("logout_urls", urls(c.logout_urls()));
    f.insert(
        "oauth_flows",
        set_value(c.allowed_o_auth_flows().iter().map(|f| f.as_str())),
    );
    f.insert("scopes", sorted(c.allowed_o_auth_scopes()));
    f.insert(
        "identity_providers",
        sorted(c.supported_identity_providers()),
    );
    f.insert(
        "auth_flows",
        set_value(c.explicit_auth_flows().iter().map(|f| f.as_str())),
    );
    f.insert(
        "prevent_user_existence_errors",
        json!(c
            .prevent_user_existence_errors()
            .map_or("LEGACY", |p| p.as_str())),
    );
    f.insert(
        "token_revocation",
        json!(c.enable_token_revocation().unwrap_or(false)),
    );
    f.insert("secret", json!(c.client_secret().is_some()));
    // Authorization Code only counts when OAuth is on for the client.
    if c.allowed_o_auth_flows_user_pool_client() != Some(true) {
        f.insert("oauth_flows", Value::Array(Vec::new()));
    }
    Ok(Some(Live {
        tags: Default::default(),
        fields: f,
        known: Known {
            user_pool_id: Some(pool),
            client_id: Some(id),
            ..Known::default()
        },
    }))
}

/// The id of the client named `name` in pool `pool`.
async fn client_named(ctx: &Ctx, pool: &str, name: &str) -> anyhow::Result<Option<String>> {
    let mut token: Option<String> = None;
    loop {
        let page = match ctx
            .aws
            .cognito
            .list_user_pool_clients()
            .user_pool_id(pool)
            .max_results(60)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
            Err(e) => return Err(aws_err(format!("listing the app clients of {pool}"), e)),
        };
        if let Some(c) = page
            .user_pool_clients()
            .iter()
            .find(|c| c.client_name() == Some(name))
        {
            return Ok(c.client_id().map(str::to_string));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Create the client, or send every setting again.
async fn apply(ctx: &Ctx, live: Option<&Live>) -> anyhow::Result<Known> {
    let cognito = &ctx.aws.cognito;
    let name = client_name(&ctx.spec);
    let pool = ctx
        .known
        .user_pool_id
        .clone()
        .ok_or_else(|| anyhow::anyhow!("internal: app client {name} before its user pool"))?;
    // Before the distribution exists, the URLs known so far (dev's at least); its own are
    // added by a later step.
    let (urls, _) = return_urls(ctx);
    let flows: Vec<ExplicitAuthFlowsType> = AUTH_FLOWS.iter().map(|f| (*f).into()).collect();
    let scopes = scopes(&ctx.spec);
    let existing = live.and_then(|l| l.known.client_id.clone());
    // Every setting, on the create and on each update alike (an update resets what it lacks).
    macro_rules! settings {
        ($builder:expr) => {
            $builder
                .user_pool_id(&pool)
                .client_name(&name)
                .allowed_o_auth_flows_user_pool_client(true)
                .allowed_o_auth_flows(OAuthFlowType::Code)
                .set_allowed_o_auth_scopes(Some(scopes))
                .supported_identity_providers("COGNITO")
                .set_callback_urls(Some(urls.clone()))
                .set_logout_urls(Some(urls))
                .set_explicit_auth_flows(Some(flows))
                .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
                .enable_token_revocation(true)
        };
    }
    let id = match existing {
        None => {
            let made = settings!(cognito.create_user_pool_client().generate_secret(false))
                .send()
                .await
                .map_err(|e| aws_err(format!("creating app client {name}"), e))?;
            made.user_pool_client()
                .and_then(|c| c.client_id())
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("CreateUserPoolClient for {name} returned no id"))?
        }
        Some(id) => {
            settings!(cognito.update_user_pool_client().client_id(&id))
                .send()
                .await
                .map_err(|e| aws_err(format!("updating app client {name}"), e))?;
            id
        }
    };
    Ok(Known {
        user_pool_id: Some(pool),
        client_id: Some(id),
        ..Known::default()
    })
}
