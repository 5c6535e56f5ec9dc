//! The user pool. Users sign in with their e-mail address, which is also how they recover
//! their account; only an administrator creates them unless `self_signup`; passwords of 14
//! characters or more with every character class; TOTP multi-factor sign-in (`auth.cognito.mfa`:
//! required by default); deletion protection on, which `down` turns off (after its yes, which
//! names how many users the pool holds) right before it deletes the pool. Every UpdateUserPool
//! sends every setting, as Cognito resets the ones left out.
//!
//! Fields: tags, self_signup, deletion_protection, password_policy, account_recovery, mfa.

use crate::resources::scope::{Arns, Condition, Scope};
use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, AdminCreateUserConfigType, DeletionProtectionType,
    PasswordPolicyType, RecoveryOptionNameType, RecoveryOptionType, SoftwareTokenMfaConfigType,
    UserAttributeUpdateSettingsType, UserPoolMfaType, UserPoolPolicyType, UsernameAttributeType,
    VerifiedAttributeType,
};
use futures::FutureExt;
use serde_json::{json, Value};

use super::{cognito, pool_name};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::resources::{owner, unless_unused, Actions, Owner, Resource, Step};
use crate::spec::{Mfa, Spec};
use crate::state::{tags_value, Change, Desired, Fields, Kind, Known, Live, Output};

pub const KIND: Kind = Kind::new("user_pool", "user pool");

pub struct UserPool;

/// Cognito's longest temporary password life is 365 days; a week is enough to sign in once.
const TEMPORARY_PASSWORD_DAYS: i32 = 7;
const MINIMUM_PASSWORD_LENGTH: i32 = 14;

fn password_policy() -> Value {
    json!({
        "minimum_length": MINIMUM_PASSWORD_LENGTH,
        "require_lowercase": true,
        "require_uppercase": true,
        "require_numbers": true,
        "require_symbols": true,
        "temporary_password_validity_days": TEMPORARY_PASSWORD_DAYS,
    })
}

/// The pool's settings as Cognito takes them.
fn sdk_password_policy() -> UserPoolPolicyType {
    UserPoolPolicyType::builder()
        .password_policy(
            PasswordPolicyType::builder()
                .minimum_length(MINIMUM_PASSWORD_LENGTH)
                .require_lowercase(true)
                .require_uppercase(true)
                .require_numbers(true)
                .require_symbols(true)
                .temporary_password_validity_days(TEMPORARY_PASSWORD_DAYS)
                .build(),
        )
        .build()
}

impl Resource for UserPool {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        pool_name(spec)
    }

    fn wanted(&self, spec: &Spec) -> bool {
        cognito(spec).is_some()
    }

    fn provides(&self) -> Option<Output> {
        Some(Output::UserPool)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &[
                "cognito-idp:ListUserPools",
                "cognito-idp:DescribeUserPool",
                "cognito-idp:GetUserPoolMfaConfig",
            ],
            create: &[
                "cognito-idp:CreateUserPool",
                "cognito-idp:SetUserPoolMfaConfig",
            ],
            update: &[
                "cognito-idp:UpdateUserPool",
                "cognito-idp:UntagResource",
                "cognito-idp:SetUserPoolMfaConfig",
            ],
            delete: &["cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool"],
        }
    }

    fn scope(&self, _spec: &Spec, at: &Arns, action: &str) -> Scope {
        let pools = Scope::on([at.user_pools()]);
        match action {
            "cognito-idp:ListUserPools" => Scope::any(),
            // A new pool has no ARN yet: the tags it is created with are what can be asked.
            "cognito-idp:CreateUserPool" => Scope::any().when(Condition::TaggedRequest),
            "cognito-idp:DescribeUserPool" | "cognito-idp:GetUserPoolMfaConfig" => {
                pools.part("Read")
            }
            _ => pools.when(Condition::Tagged),
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        let mut d = Desired::default();
        d.set("tags", tags_value(&ctx.tags(KIND)));
        d.set(
            "self_signup",
            json!(cognito(&ctx.spec).is_some_and(|c| c.self_signup)),
        );
        d.set("deletion_protection", json!("ACTIVE"));
        d.set("password_policy", password_policy());
        d.set("account_recovery", json!(["verified_email"]));
        d.set("mfa", json!(mfa(&ctx.spec).as_aws()));
        d
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        let what = "Cognito could not be checked for a user pool left from an earlier \
                    `auth.cognito` of this stack";
        unless_unused(ctx, self.wanted(&ctx.spec), what, read(ctx, name))
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        apply(ctx, live, changes).boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize> {
        delete(ctx, name, live).boxed()
    }

    fn down_label(&self, name: &str, live: &Live) -> String {
        let users = users(live)
            .map(|n| format!("{n} user{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_else(|| "its users".into());
        format!(
            "{KIND} {name} and {users} in it (they cannot sign in again until they are \
             created anew)"
        )
    }

    fn at_stake(&self, live: &Live) -> Option<String> {
        match users(live) {
            Some(0) => None,
            Some(n) => Some(format!("{n} user{}", if n == 1 { "" } else { "s" })),
            None => Some("its users".into()),
        }
    }
}

/// The spec's multi-factor sign-in.
fn mfa(spec: &Spec) -> Mfa {
    cognito(spec).map_or(Mfa::Required, |c| c.mfa)
}

/// Recovery by the verified e-mail address only: no SMS, which can be intercepted.
fn recovery() -> anyhow::Result<AccountRecoverySettingType> {
    Ok(AccountRecoverySettingType::builder()
        .recovery_mechanisms(
            RecoveryOptionType::builder()
                .priority(1)
                .name(RecoveryOptionNameType::VerifiedEmail)
                .build()?,
        )
        .build())
}

/// A new e-mail address takes effect only once verified: recovery goes by it alone.
fn verified_updates() -> UserAttributeUpdateSettingsType {
    UserAttributeUpdateSettingsType::builder()
        .attributes_require_verification_before_update(VerifiedAttributeType::Email)
        .build()
}

/// The live field with the pool's (estimated) number of users; no setting, never diffed.
const USERS: &str = "users";
/// The live field with the prefix of the pool's sign-in domain, if it has one.
const DOMAIN: &str = "domain";
/// The live field with a custom domain someone gave the pool, if any.
const CUSTOM_DOMAIN: &str = "custom_domain";

fn users(live: &Live) -> Option<u64> {
    live.fields.get(USERS).and_then(Value::as_u64)
}

/// The ids of the pools named `name`: from discovery's listing, made with the first call.
async fn named(ctx: &Ctx, name: &str) -> anyhow::Result<Vec<String>> {
    let pools = ctx.discovery.user_pools.get()?.cloned().unwrap_or_default();
    Ok(pools
        .into_iter()
        .filter(|(_, n)| n == name)
        .map(|(id, _)| id)
        .collect())
}

/// The pool of this name that is the stack's (else the first of that name, to be refused).
/// Once its id is known (made or read in this run), it is read by id: discovery's listing was
/// made before.
async fn read(ctx: &Ctx, name: &str) -> anyhow::Result<Option<Live>> {
    if let Some(id) = &ctx.known.user_pool_id {
        if name == pool_name(&ctx.spec) {
            return describe(ctx, id).await;
        }
    }
    let mut first = None;
    for id in named(ctx, name).await? {
        let Some(live) = describe(ctx, &id).await? else {
            continue;
        };
        if owner(&ctx.spec, &live.tags) == Owner::ThisStack {
            return Ok(Some(live));
        }
        first.get_or_insert(live);
    }
    Ok(first)
}

/// The id of the stack's own pool: known once read or made, else found by its name and tags.
pub async fn ours(ctx: &Ctx) -> anyhow::Result<Option<String>> {
    if let Some(id) = &ctx.known.user_pool_id {
        return Ok(Some(id.clone()));
    }
    for id in candidates(ctx).await? {
        if is_ours(ctx, &id).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The pools that may be the stack's: the one known, else those of its name.
pub async fn candidates(ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    match &ctx.known.user_pool_id {
        Some(id) => Ok(vec![id.clone()]),
        None => named(ctx, &pool_name(&ctx.spec)).await,
    }
}

/// Whether pool `id` carries the stack's tags (known ones are).
pub async fn is_ours(ctx: &Ctx, id: &str) -> anyhow::Result<bool> {
    if ctx.known.user_pool_id.as_deref() == Some(id) {
        return Ok(true);
    }
    let pool = match ctx
        .aws
        .cognito
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
    {
        Ok(p) => p,
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(false),
        Err(e) => return Err(aws_err(format!("reading user pool {id}"), e)),
    };
    let tags: BTreeMap<String, String> = pool
        .user_pool()
        .and_then(|p| p.user_pool_tags())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(owner(&ctx.spec, &tags) == Owner::ThisStack)
}

/// One pool by id; `None` once it is gone.
async fn describe(ctx: &Ctx, id: &str) -> anyhow::Result<Option<Live>> {
    let cognito = &ctx.aws.cognito;
    let (pool, mfa) = tokio::join!(
        cognito.describe_user_pool().user_pool_id(id).send(),
        cognito.get_user_pool_mfa_config().user_pool_id(id).send(),
    );
    let pool = match pool {
        Ok(p) => p,
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading user pool {id}"), e)),
    };
    let Some(pool) = pool.user_pool() else {
        return Ok(None);
    };
    let tags: BTreeMap<String, String> = pool
        .user_pool_tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut f = Fields::new();
    f.insert("tags", tags_value(&tags));
    let admin_only = pool
        .admin_create_user_config()
        .is_some_and(|c| c.allow_admin_create_user_only());
    f.insert("self_signup", json!(!admin_only));
    f.insert(
        "deletion_protection",
        json!(pool
            .deletion_protection()
            .map_or("INACTIVE", |d| d.as_str())),
    );
    let p = pool.policies().and_then(|p| p.password_policy());
    f.insert(
        "password_policy",
        json!({
            "minimum_length": p.and_then(|p| p.minimum_length()),
            "require_lowercase": p.is_some_and(|p| p.require_lowercase()),
            "require_uppercase": p.is_some_and(|p| p.require_uppercase()),
            "require_numbers": p.is_some_and(|p| p.require_numbers()),
            "require_symbols": p.is_some_and(|p| p.require_symbols()),
            "temporary_password_validity_days": p.map(|p| p.temporary_password_validity_days()),
        }),
    );
    let mut recovery: Vec<_> = pool
        .account_recovery_setting()
        .map(|r| r.recovery_mechanisms().to_vec())
        .unwrap_or_default();
    recovery.sort_by_key(|m| m.priority());
    f.insert(
        "account_recovery",
        json!(recovery
            .iter()
            .map(|m| m.name().as_str())
            .collect::<Vec<_>>()),
    );
    // ON or OPTIONAL count only with TOTP on: without a factor nobody can enrol.
    let mfa = match mfa {
        Ok(m) => {
            let totp = m
                .software_token_mfa_configuration()
                .is_some_and(|t| t.enabled());
            match m.mfa_configuration().map(|c| c.as_str()) {
                Some(c) if c != "OFF" && !totp => format!("{c} (no TOTP)"),
                Some(c) => c.to_string(),
                None => "OFF".to_string(),
            }
        }
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => return Ok(None),
        Err(e) => return Err(aws_err(format!("reading the MFA of user pool {id}"), e)),
    };
    f.insert("mfa", json!(mfa));
    // Not settings: what deleting the pool would lose, and the domain to delete first.
    f.insert(USERS, json!(pool.estimated_number_of_users()));
    f.insert(DOMAIN, json!(pool.domain()));
    f.insert(CUSTOM_DOMAIN, json!(pool.custom_domain()));
    let ours = owner(&ctx.spec, &tags) == Owner::ThisStack;
    Ok(Some(Live {
        tags,
        fields: f,
        known: Known {
            // Told to the client and domain only when the pool is the stack's.
            user_pool_id: ours.then(|| id.to_string()),
            ..Known::default()
        },
    }))
}

/// Create the pool with every setting, or send them all again (UpdateUserPool resets what it
/// is not given); then TOTP.
async fn apply(ctx: &Ctx, live: Option<&Live>, changes: &[Change]) -> anyhow::Result<Known> {
    let cognito = &ctx.aws.cognito;
    let name = pool_name(&ctx.spec);
    let tags = ctx.tags(KIND);
    let self_signup = super::cognito(&ctx.spec).is_some_and(|c| c.self_signup);
    let admin = AdminCreateUserConfigType::builder()
        .allow_admin_create_user_only(!self_signup)
        .build();
    if live.is_some_and(|l| l.known.user_pool_id.is_none()) {
        // A pool of the name that is not the stack's (`--adopt`): its users are someone
        // else's, and a second pool of the name would only confuse.
        anyhow::bail!(
            "user pool {name} exists but is not this stack's, and presign-stack does not take over \
             user pools (their users and settings are someone else's): rename or delete that \
             pool, or give the stack another name"
        );
    }
    let id = match live.and_then(|l| l.known.user_pool_id.clone()) {
        None => {
            let made = cognito
                .create_user_pool()
                .pool_name(&name)
                .set_user_pool_tags(Some(tags.clone().into_iter().collect()))
                .admin_create_user_config(admin)
                .policies(sdk_password_policy())
                .account_recovery_setting(recovery()?)
                .user_attribute_update_settings(verified_updates())
                .deletion_protection(DeletionProtectionType::Active)
                .username_attributes(UsernameAttributeType::Email)
                .auto_verified_attributes(VerifiedAttributeType::Email)
                .send()
                .await
                .map_err(|e| aws_err(format!("creating user pool {name}"), e))?;
            made.user_pool()
                .and_then(|p| p.id())
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("CreateUserPool for {name} returned no id"))?
        }
        Some(id) => {
            // The factor first: UpdateUserPool refuses ON without it.
            if changes.iter().any(|c| c.field == "mfa") {
                set_mfa(ctx, &id).await?;
            }
            let settings = changes.iter().any(|c| c.field != "mfa");
            if settings {
                update(
                    ctx,
                    &id,
                    admin,
                    DeletionProtectionType::Active,
                    mfa(&ctx.spec).as_aws(),
                )
                .await?;
                // Tags dropped from the spec: UpdateUserPool only adds and replaces.
                let extra: Vec<String> = changes
                    .iter()
                    .filter(|c| c.field == "tags")
                    .flat_map(|c| crate::state::extra_tag_keys(&c.old, &tags))
                    .collect();
                if !extra.is_empty() {
                    cognito
                        .untag_resource()
                        .resource_arn(arn(ctx, &id))
                        .set_tag_keys(Some(extra))
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("untagging user pool {name}"), e))?;
                }
            }
            id
        }
    };
    if live.is_none() {
        set_mfa(ctx, &id).await?;
    }
    Ok(Known {
        user_pool_id: Some(id),
        ..Known::default()
    })
}

/// TOTP on (unless `mfa: off`) and the spec's MFA mode.
async fn set_mfa(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let mode = mfa(&ctx.spec);
    ctx.aws
        .cognito
        .set_user_pool_mfa_config()
        .user_pool_id(id)
        .software_token_mfa_configuration(
            SoftwareTokenMfaConfigType::builder()
                .enabled(mode != Mfa::Off)
                .build(),
        )
        .mfa_configuration(UserPoolMfaType::from(mode.as_aws()))
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_err(format!("setting the MFA of user pool {id}"), e))
}

/// Every setting the stack manages, sent again.
async fn update(
    ctx: &Ctx,
    id: &str,
    admin: AdminCreateUserConfigType,
    protection: DeletionProtectionType,
    mfa: &str,
) -> anyhow::Result<()> {
    ctx.aws
        .cognito
        .update_user_pool()
        .user_pool_id(id)
        .set_user_pool_tags(Some(ctx.tags(KIND).into_iter().collect()))
        .admin_create_user_config(admin)
        .policies(sdk_password_policy())
        .deletion_protection(protection)
        .account_recovery_setting(recovery()?)
        .user_attribute_update_settings(verified_updates())
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .mfa_configuration(UserPoolMfaType::from(mfa))
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_err(format!("updating user pool {id}"), e))
}

fn arn(ctx: &Ctx, id: &str) -> String {
    format!(
        "arn:aws:cognito-idp:{}:{}:userpool/{id}",
        ctx.region, ctx.account
    )
}

/// Deletion protection off, then the pool (with its users, clients and domain).
async fn delete(ctx: &Ctx, name: &str, live: &Live) -> anyhow::Result<usize> {
    let Some(id) = live.known.user_pool_id.clone() else {
        return Ok(0);
    };
    let cognito = &ctx.aws.cognito;
    // Cognito deletes no pool that still has a domain. The spec's own domain was deleted
    // before, as a resource of its own; another (the spec's is gone, or renamed) goes here.
    let spec_domain = super::cognito(&ctx.spec).map(|c| c.domain_prefix.as_str());
    if let Some(domain) = live.fields.get(DOMAIN).and_then(Value::as_str) {
        if Some(domain) != spec_domain {
            super::delete_domain(ctx, domain, &id).await?;
        }
    }
    if let Some(domain) = live.fields.get(CUSTOM_DOMAIN).and_then(Value::as_str) {
        super::delete_domain(ctx, domain, &id).await?;
    }
    if live.fields.get("deletion_protection") == Some(&json!("ACTIVE")) {
        let self_signup = live.fields.get("self_signup") == Some(&json!(true));
        let admin = AdminCreateUserConfigType::builder()
            .allow_admin_create_user_only(!self_signup)
            .build();
        // As it is: UpdateUserPool would reset it, and ON needs the factor already set up.
        let mfa = live
            .fields
            .get("mfa")
            .and_then(Value::as_str)
            .and_then(|m| m.split_whitespace().next())
            .unwrap_or("OFF");
        match update(ctx, &id, admin, DeletionProtectionType::Inactive, mfa).await {
            Ok(()) => {}
            Err(e) if crate::errors::has_code(&e, "ResourceNotFoundException") => return Ok(0),
            Err(e) => return Err(e.context(format!("turning off deletion protection of {name}"))),
        }
    }
    match cognito.delete_user_pool().user_pool_id(&id).send().await {
        Ok(_) => Ok(0),
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(0),
        Err(e) => Err(aws_err(format!("deleting user pool {name}"), e)),
    }
}
