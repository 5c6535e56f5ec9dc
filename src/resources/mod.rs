//! The resources of a stack: one module per kind of AWS resource, each implementing
//! [`Resource`], and [`REGISTRY`], the one list of them that `plan`, `drift`, `up`, `down` and
//! orphan detection all go through.
//!
//! A kind says what the spec wants of it ([`Resource::desired`]), reads what is live
//! (not found is `None`), creates or updates it from a plan's changes, deletes it (already
//! gone is success), what it needs first, how its leftovers are found, and the IAM actions of
//! each of those steps.

pub mod bucket;
pub mod cloudfront;
pub mod cognito;
pub mod function;
pub mod function_url;
pub mod malware;
pub mod role;
pub mod scope;

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::context::Ctx;
use crate::spec::{Spec, TAG_ENV, TAG_STACK};
use crate::state::{Change, Desired, Kind, Known, Live, Output};

/// An asynchronous step of a resource.
pub type Step<'a, T> = BoxFuture<'a, anyhow::Result<T>>;

/// Every kind, in the order plans show them.
pub static REGISTRY: &[&dyn Resource] = &[
    &bucket::DOCUMENTS,
    &bucket::WEBSITE,
    &role::PRESIGNER,
    &role::SCANNER,
    &malware::Plan,
    &cognito::user_pool::UserPool,
    &cognito::client::Client,
    &cognito::domain::Domain,
    &function::log_group::LogGroup,
    &function::Function,
    &function_url::FunctionUrl,
    &cloudfront::origin_access_control::SITE,
    &cloudfront::origin_access_control::API,
    &cloudfront::headers_policy::HeadersPolicy,
    &cloudfront::site_function::SiteFunction,
    &cloudfront::web_acl::WebAcl,
    &cloudfront::distribution::Distribution,
];

/// The registered kind `kind`.
pub fn resource(kind: Kind) -> &'static dyn Resource {
    *REGISTRY
        .iter()
        .find(|r| r.kind() == kind)
        .expect("every kind is registered")
}

/// The kind that makes `output` known.
pub fn provider(output: Output) -> Kind {
    REGISTRY
        .iter()
        .find(|r| r.provides() == Some(output))
        .map(|r| r.kind())
        .expect("every output has a provider")
}

/// What a resource needs before it can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// It uses the other resource: made after it, deleted before it.
    Uses(Kind),
    /// It needs a value of the other's (a URL, an id): made after it, deleted in any order.
    Reads(Kind),
}

impl Need {
    pub fn kind(self) -> Kind {
        match self {
            Need::Uses(k) | Need::Reads(k) => k,
        }
    }
}

/// The IAM actions each step of a kind sends (the deploy and read-only policies are made of
/// them).
#[derive(Debug, Clone, Copy)]
pub struct Actions {
    pub read: &'static [&'static str],
    pub create: &'static [&'static str],
    pub update: &'static [&'static str],
    pub delete: &'static [&'static str],
}

/// How resources of a kind that the spec no longer names (after a rename) are found.
#[derive(Debug, Clone, Copy)]
pub enum Orphans {
    /// They are not: the kind's names follow the stack's.
    NotSought,
    /// By the stack's tags, with this Resource Groups Tagging API type (`s3:bucket`).
    Tagged(&'static str),
    /// Among the roles under the tool's IAM path.
    RolePath,
    /// One for each orphan of another kind, named after it (a function's log group).
    Follow {
        kind: Kind,
        name: fn(&str) -> String,
    },
}

/// One kind of resource of the stack.
pub trait Resource: Send + Sync {
    fn kind(&self) -> Kind;

    /// Its name for this spec.
    fn name(&self, spec: &Spec) -> String;

    /// Whether the spec has it (a distribution only with `hosting: cloudfront`).
    fn wanted(&self, _spec: &Spec) -> bool {
        true
    }

    /// What must be there before it.
    fn needs(&self, _spec: &Spec) -> Vec<Need> {
        Vec::new()
    }

    /// The value others wait for that it makes known, if any.
    fn provides(&self) -> Option<Output> {
        None
    }

    fn actions(&self) -> Actions;

    /// Where `action` (one of [`Resource::actions`]) applies for `spec`: the stack's
    /// resources by ARN, or by its tags where AWS chooses the ARN.
    fn scope(&self, spec: &Spec, at: &scope::Arns, action: &str) -> scope::Scope;

    /// The fields the spec wants; `live` is what is there now (some kinds keep a live value,
    /// such as the code a digest was recorded with).
    fn desired(&self, ctx: &Ctx, live: Option<&Live>) -> Desired;

    /// What is live under `name` (the spec's, or an orphan's); `None` when it does not exist.
    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>>;

    /// Create it (`live` is `None`) or apply `changes`; returns what it now knows of itself.
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known>;

    /// Delete the resource of this kind named `name` (the spec's, or an orphan's), as `live`
    /// was read; one already gone is success. Returns the objects deleted with it.
    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, live: &'a Live) -> Step<'a, usize>;

    /// Who a live resource belongs to: by its tags, unless the kind takes none.
    fn owner(&self, spec: &Spec, live: &Live) -> Owner {
        owner(spec, &live.tags)
    }

    /// Why a live resource without the stack's mark is not the stack's, as a refusal says it.
    fn unmarked(&self, spec: &Spec) -> String {
        format!(
            "it lacks the tags {TAG_STACK}={} and {TAG_ENV}={}",
            spec.name, spec.env
        )
    }

    /// An unmarked one is the stack's all the same when the stack owns this other kind's
    /// resource (Lambda makes a function's log group, untagged, on its first run).
    fn comes_with(&self) -> Option<Kind> {
        None
    }

    /// Resources of other kinds that must stay while this one is left in place (the role a
    /// function not ours still runs as), each with the reason.
    fn holds(&self, _ctx: &Ctx, _live: &Live) -> Vec<(Kind, String)> {
        Vec::new()
    }

    fn orphans(&self) -> Orphans {
        Orphans::NotSought
    }

    /// Whether `up` deletes it once the spec no longer wants it (it holds no data), rather
    /// than leaving it to `up --prune`.
    fn removed_by_up(&self) -> bool {
        false
    }

    /// Whether `field` is set in a step of its own once the resource exists, which nothing
    /// else waits for (a function's reserved concurrency: the function URL need not wait).
    fn later(&self, _field: &str) -> bool {
        false
    }

    /// Whether what the service kept of `field` is what was written (read back after a
    /// write). Equal, unless a kind writes a part of a field later on purpose.
    fn settled(&self, _field: &str, wrote: &serde_json::Value, kept: &serde_json::Value) -> bool {
        wrote == kept
    }

    /// How `down` names what it deletes.
    fn down_label(&self, name: &str, _live: &Live) -> String {
        format!("{} {name}", self.kind())
    }

    /// What deleting it loses that presign-stack did not write (a user pool's users), for
    /// the yes that `up --prune` asks; `None` when nothing.
    fn at_stake(&self, _live: &Live) -> Option<String> {
        None
    }
}

/// Who a live resource belongs to, from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ThisStack,
    /// Tagged by presign-stack for another stack or environment.
    Other {
        stack: String,
        env: String,
    },
    /// Not created by presign-stack.
    Unmanaged,
}

pub fn owner(spec: &Spec, tags: &BTreeMap<String, String>) -> Owner {
    match (tags.get(TAG_STACK), tags.get(TAG_ENV)) {
        (Some(s), Some(e)) if *s == spec.name && *e == spec.env => Owner::ThisStack,
        (Some(s), e) => Owner::Other {
            stack: s.clone(),
            env: e.cloned().unwrap_or_default(),
        },
        _ => Owner::Unmanaged,
    }
}

/// The refusal to touch `live` (of kind `r`, named `name`) unless this stack owns it.
pub fn not_ours(r: &dyn Resource, spec: &Spec, name: &str, live: &Live) -> Option<String> {
    let what = format!("{} {name}", r.kind());
    match r.owner(spec, live) {
        Owner::ThisStack => None,
        Owner::Other { stack, env } => Some(format!(
            "{what} already exists and belongs to presign-stack stack `{stack}` (env `{env}`), \
             not `{}` (env `{}`); choose another name in the spec, or run `up --adopt` to take it \
             over",
            spec.name, spec.env
        )),
        Owner::Unmanaged => Some(format!(
            "{what} already exists but was not created by this stack ({}); presign-stack never \
             modifies or deletes what it does not own: choose another name in the spec, or run \
             `up --adopt` to take it over",
            r.unmarked(spec)
        )),
    }
}

/// A read of a kind the spec does not use, which looks only for one left from an earlier spec:
/// when it fails (an endpoint without the service, as LocalStack's free tier for Cognito and
/// WAF; a read-only identity without the permission), it says so as `what` and finds nothing;
/// only a stack that uses the kind fails for it.
pub fn unless_unused<'a>(
    ctx: &'a Ctx,
    wanted: bool,
    what: &'static str,
    read: impl std::future::Future<Output = anyhow::Result<Option<Live>>> + Send + 'a,
) -> Step<'a, Option<Live>> {
    use futures::FutureExt;
    async move {
        match read.await {
            Err(e) if !wanted => {
                ctx.report.warn(format!(
                    "{what} ({e:#}); the rest of the stack does not need it"
                ));
                Ok(None)
            }
            other => other,
        }
    }
    .boxed()
}

/// A set of tags as the `Tag` values of an SDK (`Tag::builder().key(k).value(v).build()`).
pub fn sdk_tags<T, E>(
    tags: &BTreeMap<String, String>,
    make: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<Vec<T>, E> {
    tags.iter().map(|(k, v)| make(k, v)).collect()
}
