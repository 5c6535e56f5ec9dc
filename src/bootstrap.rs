//! `presign-stack bootstrap [--github-repo OWNER/REPO] [--delete]`: run once per account and
//! stack environment by an administrator (SPEC section 8). It makes
//! - the stack's permissions boundary (`policy boundary`), a managed policy under
//!   [`CI_PATH`] that the presigner's role is then created with;
//! - with `--github-repo`, GitHub's OpenID Connect provider when the account has none, and two
//!   roles GitHub Actions can assume for that repository only: `<name>-<env>-deploy` (holding
//!   `policy deploy`; from the default branch, or a job in the GitHub environment named like
//!   the stack's env) and `<name>-<env>-drift` (holding `policy read-only`; from any job of the
//!   repository).
//!
//! Everything carries the tag `presign-stack:bootstrap` = `<name>-<env>`; a run changes only
//! what differs from what it would make, and never touches a policy or role of those names that
//! lacks the tag. `--delete` removes what it made (the provider only when no other stack's CI
//! role is left).

use anyhow::{bail, Result};
use aws_sdk_iam::types::Tag;
use serde::Serialize;
use serde_json::{json, Value};

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::policy::{self, Which};
use crate::resources::role;
use crate::resources::scope::{boundary_name, Arns, CI_PATH};
use crate::state::{normalize_policy, parse_policy, policy_text};

/// The tag on everything `bootstrap` makes: `<name>-<env>`.
pub const TAG_BOOTSTRAP: &str = "presign-stack:bootstrap";

/// GitHub Actions' token issuer.
pub const GITHUB_ISSUER: &str = "token.actions.githubusercontent.com";

/// The audience `aws-actions/configure-aws-credentials` asks tokens for.
const AUDIENCE: &str = "sts.amazonaws.com";

/// Certificate thumbprints of GitHub's issuer, which IAM still asks for; AWS trusts the
/// issuer's certificate authority instead for this provider.
const GITHUB_THUMBPRINTS: &[&str] = &[
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
];

/// What to do, checked: make with [`Options::new`].
#[derive(Debug, Clone)]
pub struct Options {
    /// `OWNER/REPO`.
    github_repo: Option<String>,
    /// The branch the deploy role may be assumed from.
    branch: String,
    delete: bool,
}

impl Options {
    /// The repository and branch checked, before any AWS call.
    pub fn new(github_repo: Option<String>, branch: String, delete: bool) -> Result<Options> {
        if let Some(repo) = &github_repo {
            check_repo(repo)?;
            check_branch(&branch)?;
        }
        Ok(Options {
            github_repo,
            branch,
            delete,
        })
    }
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct Bootstrapped {
    pub boundary_arn: Option<String>,
    pub oidc_provider_arn: Option<String>,
    pub deploy_role_arn: Option<String>,
    pub drift_role_arn: Option<String>,
    /// Each thing made, changed or deleted, in words.
    pub changed: Vec<String>,
    /// Each thing found as it should be.
    pub unchanged: Vec<String>,
    /// The workflow steps that assume the drift role (with `--github-repo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// A `--delete` run.
    #[serde(skip)]
    pub deleting: bool,
}

/// `OWNER/REPO` as GitHub allows it.
fn check_repo(repo: &str) -> Result<()> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match repo.split_once('/') {
        Some((owner, name)) if ok_part(owner) && ok_part(name) && !name.contains('/') => Ok(()),
        _ => bail!(
            "--github-repo `{repo}` is not OWNER/REPO (letters, digits, `-`, `_` and `.`), \
             e.g. --github-repo acme/docs-site"
        ),
    }
}

/// The names `bootstrap` gives the CI roles.
pub fn role_names(ctx: &Ctx) -> (String, String) {
    let base = format!("{}-{}", ctx.spec.name, ctx.spec.env);
    (format!("{base}-deploy"), format!("{base}-drift"))
}

/// A branch name as git allows it, without the wildcards a trust condition would read.
fn check_branch(branch: &str) -> Result<()> {
    let ok = !branch.is_empty()
        && branch.len() <= 255
        && !branch.starts_with('/')
        && !branch.ends_with('/')
        && !branch.contains("..")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok {
        Ok(())
    } else {
        bail!(
            "--branch `{branch}` is not a branch name (letters, digits, `-`, `_`, `.` and `/`; \
             no wildcards: the deploy role names one branch)"
        )
    }
}

pub async fn run(ctx: &Ctx, options: &Options) -> Result<Bootstrapped> {
    let (deploy, drift) = role_names(ctx);
    for name in [&deploy, &drift] {
        if name.len() > 64 {
            bail!(
                "the CI role name {name} is {} characters; IAM allows 64: shorten the stack's \
                 name or env",
                name.len()
            );
        }
    }
    if options.delete {
        return delete(ctx, &deploy, &drift).await;
    }
    // Before any write: policies too big for a role, and a role of these names that is not
    // bootstrap's, stop the run.
    if options.github_repo.is_some() {
        let at = Arns::new(&ctx.account, &ctx.region);
        for (which, name) in [(Which::Deploy, "deploy"), (Which::ReadOnly, "read-only")] {
            if let Some(why) = policy::generate(&ctx.spec, &at, which).too_big_for_a_role(name) {
                bail!("{why}; nothing was changed");
            }
        }
    }
    let (deploy_found, drift_found) = match options.github_repo {
        Some(_) => (
            ci_role_found(ctx, &deploy).await?,
            ci_role_found(ctx, &drift).await?,
        ),
        None => (None, None),
    };
    let at = Arns::new(&ctx.account, &ctx.region);
    let mut done = Bootstrapped::default();
    if let Some(arn) = &ctx.spec.presigner.permissions_boundary {
        ctx.report.warn(format!(
            "presigner.permissions_boundary names {arn}: bootstrap makes no boundary of its \
             own, and the deploy role may create the presigner's role only with that one"
        ));
    } else {
        done.boundary_arn = Some(boundary(ctx, &at, &mut done).await?);
    }
    let Some(repo) = &options.github_repo else {
        return Ok(done);
    };
    let provider = provider(ctx, &mut done).await?;
    let sub = |s: &str| format!("repo:{repo}:{s}");
    let deploy_subs = vec![
        sub(&format!("ref:refs/heads/{}", options.branch)),
        sub(&format!("environment:{}", ctx.spec.env)),
    ];
    let deploy_arn = ci_role(
        ctx,
        &deploy,
        deploy_found,
        &trust(&provider, deploy_subs),
        &policy::generate(&ctx.spec, &at, Which::Deploy).to_value(),
        "deploys the stack (up, down) from GitHub Actions",
        &mut done,
    )
    .await?;
    let drift_arn = ci_role(
        ctx,
        &drift,
        drift_found,
        &trust(&provider, vec![sub("*")]),
        &policy::generate(&ctx.spec, &at, Which::ReadOnly).to_value(),
        "checks the stack for drift (plan, drift, outputs) from GitHub Actions",
        &mut done,
    )
    .await?;
    done.workflow = Some(workflow(ctx, &drift_arn));
    done.oidc_provider_arn = Some(provider);
    done.deploy_role_arn = Some(deploy_arn);
    done.drift_role_arn = Some(drift_arn);
    Ok(done)
}

fn tag_value(ctx: &Ctx) -> String {
    format!("{}-{}", ctx.spec.name, ctx.spec.env)
}

fn tags(ctx: &Ctx) -> Result<Vec<Tag>> {
    let mut all = ctx.spec.user_tags.clone();
    all.insert(TAG_BOOTSTRAP.to_string(), tag_value(ctx));
    all.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(anyhow::Error::from)
        })
        .collect()
}

fn ours(ctx: &Ctx, tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == TAG_BOOTSTRAP && t.value() == tag_value(ctx))
}

/// The trust policy of a CI role: GitHub's tokens for these subjects, for STS only.
fn trust(provider: &str, subjects: Vec<String>) -> Value {
    normalize_policy(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{GITHUB_ISSUER}:aud"): AUDIENCE},
                "StringLike": {format!("{GITHUB_ISSUER}:sub"): subjects},
            }
        }]
    }))
}

/// The boundary policy, made or brought up to date; its ARN.
async fn boundary(ctx: &Ctx, at: &Arns, done: &mut Bootstrapped) -> Result<String> {
    let iam = &ctx.aws.iam;
    let arn = at.default_boundary(&ctx.spec);
    let want = normalize_policy(&policy::generate(&ctx.spec, at, Which::Boundary).to_value());
    let label = format!("permissions boundary {arn}");
    let Some(found) = managed_policy(ctx, &arn).await? else {
        iam.create_policy()
            .policy_name(boundary_name(&ctx.spec))
            .path(CI_PATH)
            .description(format!(
                "presign-stack {} ({}): the most the presigner's role may do",
                ctx.spec.name, ctx.spec.env
            ))
            .policy_document(policy_text(&want))
            .set_tags(Some(tags(ctx)?))
            .send()
            .await
            .map_err(|e| aws_err(format!("creating {label}"), e))?;
        done.changed.push(format!("created {label}"));
        return Ok(arn);
    };
    if !ours(ctx, found.tags()) {
        bail!(
            "{label} exists but was not made by bootstrap for {} (no {TAG_BOOTSTRAP} tag); \
             name it in presigner.permissions_boundary to use it, or delete it",
            tag_value(ctx)
        );
    }
    let version = found.default_version_id().unwrap_or("v1");
    if role::policy_version(ctx, &arn, version).await? == Some(want.clone()) {
        done.unchanged.push(label);
        return Ok(arn);
    }
    // IAM keeps five versions: the oldest one not in use makes room.
    let versions = policy_versions(ctx, &arn).await?;
    let mut old: Vec<_> = versions
        .iter()
        .filter(|v| !v.is_default_version())
        .collect();
    old.sort_by_key(|v| v.create_date().map(|d| d.secs()));
    if versions.len() >= 5 {
        if let Some(oldest) = old.first().and_then(|v| v.version_id()) {
            iam.delete_policy_version()
                .policy_arn(&arn)
                .version_id(oldest)
                .send()
                .await
                .map_err(|e| aws_err(format!("deleting version {oldest} of {label}"), e))?;
        }
    }
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(policy_text(&want))
        .set_as_default(true)
        .send()
        .await
        .map_err(|e| aws_err(format!("updating {label}"), e))?;
    done.changed.push(format!("updated {label}"));
    Ok(arn)
}

/// GitHub's OpenID Connect provider of the account, made when missing; its ARN.
async fn provider(ctx: &Ctx, done: &mut Bootstrapped) -> Result<String> {
    let iam = &ctx.aws.iam;
    if let Some(arn) = &github_provider(ctx).await? {
        let got = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| aws_err(format!("reading OpenID Connect provider {arn}"), e))?;
        if !got.client_id_list().iter().any(|c| c == AUDIENCE) {
            iam.add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(AUDIENCE)
                .send()
                .await
                .map_err(|e| aws_err(format!("adding audience {AUDIENCE} to {arn}"), e))?;
            done.changed.push(format!(
                "added audience {AUDIENCE} to OpenID Connect provider {arn}"
            ));
        } else {
            done.unchanged
                .push(format!("OpenID Connect provider {arn}"));
        }
        return Ok(arn.to_string());
    }
    let made = iam
        .create_open_id_connect_provider()
        .url(format!("https://{GITHUB_ISSUER}"))
        .client_id_list(AUDIENCE)
        .set_thumbprint_list(Some(
            GITHUB_THUMBPRINTS.iter().map(|t| t.to_string()).collect(),
        ))
        .set_tags(Some(tags(ctx)?))
        .send()
        .await
        .map_err(|e| {
            aws_err(
                format!("creating the OpenID Connect provider for {GITHUB_ISSUER}"),
                e,
            )
        })?;
    let arn = made
        .open_id_connect_provider_arn()
        .map(str::to_string)
        .unwrap_or_else(|| format!("arn:aws:iam::{}:oidc-provider/{GITHUB_ISSUER}", ctx.account));
    done.changed
        .push(format!("created OpenID Connect provider {arn}"));
    Ok(arn)
}

/// The account's OpenID Connect provider for GitHub Actions, if it has one.
async fn github_provider(ctx: &Ctx) -> Result<Option<String>> {
    let list = ctx
        .aws
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| aws_err("listing the OpenID Connect providers", e))?;
    let suffix = format!(":oidc-provider/{GITHUB_ISSUER}");
    Ok(list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .find(|a| a.ends_with(&suffix))
        .map(str::to_string))
}

/// The inline policy's name on a CI role.
const CI_POLICY: &str = "presign-stack";

/// A CI role with this trust and this one inline policy, made or brought up to date; its ARN.
/// `found` is the role as [`ci_role_found`] read it.
async fn ci_role(
    ctx: &Ctx,
    name: &str,
    found: Option<aws_sdk_iam::types::Role>,
    trust: &Value,
    policy: &Value,
    does: &str,
    done: &mut Bootstrapped,
) -> Result<String> {
    let iam = &ctx.aws.iam;
    let label = format!("role {name}");
    let created = found.is_none();
    let (arn, mut changed) = match found {
        None => {
            let made = iam
                .create_role()
                .role_name(name)
                .path(CI_PATH)
                .description(format!(
                    "presign-stack {} ({}): {does}",
                    ctx.spec.name, ctx.spec.env
                ))
                .assume_role_policy_document(policy_text(trust))
                .set_tags(Some(tags(ctx)?))
                .send()
                .await
                .map_err(|e| aws_err(format!("creating {label}"), e))?;
            let arn = made.role().map(|r| r.arn().to_string()).unwrap_or_default();
            (arn, true)
        }
        Some(role) => {
            let live_trust = role
                .assume_role_policy_document()
                .map(parse_policy)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{label} trust policy: {e}"))?;
            let stale = live_trust.map(|t| normalize_policy(&t)) != Some(trust.clone());
            if stale {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(policy_text(trust))
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("updating the trust policy of {label}"), e))?;
            }
            (role.arn().to_string(), stale)
        }
    };
    let live_policy = match iam
        .get_role_policy()
        .role_name(name)
        .policy_name(CI_POLICY)
        .send()
        .await
    {
        Ok(p) => Some(
            parse_policy(p.policy_document())
                .map_err(|e| anyhow::anyhow!("{label} policy: {e}"))?,
        ),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => None,
        Err(e) => return Err(aws_err(format!("reading the policy of {label}"), e)),
    };
    if live_policy.map(|p| normalize_policy(&p)) != Some(normalize_policy(policy)) {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(CI_POLICY)
            .policy_document(policy_text(policy))
            .send()
            .await
            .map_err(|e| aws_err(format!("writing the policy of {label}"), e))?;
        changed = true;
    }
    if created {
        done.changed.push(format!("created {label}"));
    } else if changed {
        done.changed.push(format!("updated {label}"));
    } else {
        done.unchanged.push(label);
    }
    Ok(arn)
}

/// The role `name`, if it exists.
async fn role_named(ctx: &Ctx, name: &str) -> Result<Option<aws_sdk_iam::types::Role>> {
    match ctx.aws.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok(out.role),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(None),
        Err(e) => Err(aws_err(format!("reading role {name}"), e)),
    }
}

/// The managed policy `arn`, if it exists.
async fn managed_policy(ctx: &Ctx, arn: &str) -> Result<Option<aws_sdk_iam::types::Policy>> {
    match ctx.aws.iam.get_policy().policy_arn(arn).send().await {
        Ok(out) => Ok(out.policy),
        Err(e) if code_in(&e, &["NoSuchEntity"]) => Ok(None),
        Err(e) => Err(aws_err(format!("reading policy {arn}"), e)),
    }
}

/// Every version of the managed policy `arn`.
async fn policy_versions(ctx: &Ctx, arn: &str) -> Result<Vec<aws_sdk_iam::types::PolicyVersion>> {
    let out = ctx
        .aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| aws_err(format!("listing the versions of policy {arn}"), e))?;
    Ok(out.versions().to_vec())
}

/// The CI role `name` if it exists; an error if it is not bootstrap's for this stack.
async fn ci_role_found(ctx: &Ctx, name: &str) -> Result<Option<aws_sdk_iam::types::Role>> {
    let label = format!("role {name}");
    let role = role_named(ctx, name).await?;
    if let Some(role) = &role {
        if !ours(ctx, role.tags()) || role.path() != CI_PATH {
            bail!(
                "{label} exists but was not made by bootstrap for {} (no {TAG_BOOTSTRAP} tag, \
                 or not under {CI_PATH}); nothing was changed: delete or rename it first",
                tag_value(ctx)
            );
        }
    }
    Ok(role)
}

/// The workflow steps that check drift with the drift role.
fn workflow(ctx: &Ctx, drift_role: &str) -> String {
    format!(
        "permissions:\n  id-token: write\n  contents: read\nsteps:\n  - uses: actions/checkout@v4\n  \
         - uses: aws-actions/configure-aws-credentials@v4\n    with:\n      role-to-assume: \
         {drift_role}\n      aws-region: {}\n  - run: presign-stack drift --env {} --markdown \
         \"$GITHUB_STEP_SUMMARY\"\n",
        ctx.region, ctx.spec.env
    )
}

/// Remove the CI roles, the boundary and (when no other stack's CI role is left, and
/// bootstrap made it) the OpenID Connect provider.
async fn delete(ctx: &Ctx, deploy: &str, drift: &str) -> Result<Bootstrapped> {
    let iam = &ctx.aws.iam;
    let mut done = Bootstrapped {
        deleting: true,
        ..Bootstrapped::default()
    };
    // Before anything is deleted: the boundary must be free (the deploy role would be needed
    // to run `down`).
    let boundary = Arns::new(&ctx.account, &ctx.region).default_boundary(&ctx.spec);
    let boundary_policy = managed_policy(ctx, &boundary).await?;
    if let Some(user) = boundary_user(ctx, &boundary, boundary_policy.as_ref()).await? {
        bail!(
            "permissions boundary {boundary} is still the boundary of {user} (the presigner's, \
             while the stack is up): run `presign-stack down` first, then bootstrap --delete \
             again; nothing was deleted"
        );
    }
    for name in [deploy, drift] {
        let label = format!("role {name}");
        let Some(role) = role_named(ctx, name).await? else {
            continue;
        };
        if !ours(ctx, role.tags()) {
            ctx.report.warn(format!(
                "{label} was not made by bootstrap for {} (no {TAG_BOOTSTRAP} tag): left in place",
                tag_value(ctx)
            ));
            continue;
        }
        let (inline, attached) = role::list_policies(ctx, name).await?;
        role::remove_policies(ctx, name, inline, attached).await?;
        match iam.delete_role().role_name(name).send().await {
            Ok(_) => done.changed.push(format!("deleted {label}")),
            Err(e) if code_in(&e, &["NoSuchEntity"]) => {}
            Err(e) => return Err(aws_err(format!("deleting {label}"), e)),
        }
    }
    let arn = boundary;
    let label = format!("permissions boundary {arn}");
    match boundary_policy {
        Some(p) if ours(ctx, p.tags()) => {
            for v in policy_versions(ctx, &arn)
                .await?
                .iter()
                .filter(|v| !v.is_default_version())
            {
                if let Some(id) = v.version_id() {
                    iam.delete_policy_version()
                        .policy_arn(&arn)
                        .version_id(id)
                        .send()
                        .await
                        .map_err(|e| aws_err(format!("deleting version {id} of {label}"), e))?;
                }
            }
            match iam.delete_policy().policy_arn(&arn).send().await {
                Ok(_) => done.changed.push(format!("deleted {label}")),
                Err(e) if code_in(&e, &["DeleteConflict"]) => bail!(
                    "{label} is still in use (IAM refuses to delete it): detach it from what \
                     uses it, then run bootstrap --delete again"
                ),
                Err(e) => return Err(aws_err(format!("deleting {label}"), e)),
            }
        }
        Some(_) => ctx.report.warn(format!(
            "{label} was not made by bootstrap for {} (no {TAG_BOOTSTRAP} tag): left in place",
            tag_value(ctx)
        )),
        None => {}
    }
    // The provider is the account's: kept while any role trusts it.
    if let Some(arn) = &github_provider(ctx).await? {
        if let Some(role) = role_trusting(ctx, arn).await? {
            ctx.report.detail(format!(
                "OpenID Connect provider {arn} is kept: role {role} trusts it"
            ));
        } else {
            let tags = iam
                .list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .map_err(|e| aws_err(format!("reading the tags of {arn}"), e))?;
            if tags.tags().iter().any(|t| t.key() == TAG_BOOTSTRAP) {
                iam.delete_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("deleting {arn}"), e))?;
                done.changed
                    .push(format!("deleted OpenID Connect provider {arn}"));
            }
        }
    }
    Ok(done)
}

/// A role using `boundary` as its permissions boundary, if any: the stack's own role, read
/// directly, and what IAM counts.
async fn boundary_user(
    ctx: &Ctx,
    boundary: &str,
    policy: Option<&aws_sdk_iam::types::Policy>,
) -> Result<Option<String>> {
    let Some(policy) = policy else {
        return Ok(None);
    };
    let role = &ctx.spec.presigner.role_name;
    let bounded = role_named(ctx, role).await?.is_some_and(|r| {
        r.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            == Some(boundary)
    });
    if bounded {
        return Ok(Some(format!("role {role}")));
    }
    Ok(policy
        .permissions_boundary_usage_count()
        .filter(|n| *n > 0)
        .map(|n| format!("{n} IAM role(s) or user(s)")))
}

/// A role whose trust policy names `provider`, if any (every role of the account is listed).
async fn role_trusting(ctx: &Ctx, provider: &str) -> Result<Option<String>> {
    let mut pages = ctx.aws.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_err("listing the account's roles", e))?;
        for role in page.roles() {
            let trust = role
                .assume_role_policy_document()
                .map(|d| {
                    parse_policy(d)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|_| d.to_string())
                })
                .unwrap_or_default();
            if trust.contains(provider) {
                return Ok(Some(role.role_name().to_string()));
            }
        }
    }
    Ok(None)
}

impl std::fmt::Display for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.changed {
            writeln!(f, "{line}")?;
        }
        match (self.changed.is_empty(), self.deleting) {
            (true, true) => writeln!(
                f,
                "Nothing to delete: bootstrap made nothing for this stack env."
            )?,
            (true, false) => writeln!(
                f,
                "No changes: bootstrap's resources are as they should be."
            )?,
            _ => {}
        }
        for (what, arn) in [
            ("boundary", &self.boundary_arn),
            ("oidc_provider", &self.oidc_provider_arn),
            ("deploy_role", &self.deploy_role_arn),
            ("drift_role", &self.drift_role_arn),
        ] {
            if let Some(arn) = arn {
                writeln!(f, "{what} = {arn}")?;
            }
        }
        if let Some(w) = &self.workflow {
            writeln!(f, "\nIn a workflow, the drift check:\n\n{w}")?;
        }
        Ok(())
    }
}
