//! The whole stack: connect (the first call and discovery's listings at once), read every
//! resource of the registry concurrently, compare with the spec into a [`Plan`], and apply it
//! with the walker (`up`), or tear it down (`down`).

mod content;
pub mod down;
pub mod up;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::aws::{Aws, Connect};
use crate::cancel::Cancel;
use crate::context::{Ctx, ROLE_PATH};
use crate::discovery::{Ask, Discovery, Listing};
use crate::loss::{self, Loss, When};
use crate::orphans::{self, Orphan};
use crate::plan::{Action, Plan, ResourcePlan};
use crate::report::Report;
use crate::resources::bucket::{self, Which};
use crate::resources::scope::CI_PATH;
use crate::resources::{
    function, function_url, not_ours, owner, resource, role, Orphans, Owner, Resource, REGISTRY,
};
use crate::retry::Timing;
use crate::spec::Spec;
use crate::state::{creation, diff, Kind, Known, Live};
use crate::sync::{self, SyncPlan, Why};

pub use self::down::{down, DownOptions, DownResult};
pub use self::up::{up, UpOptions, UpResult};

/// Connect, identify the account, and resolve the spec's names for it. Discovery's listings
/// need no account id: they are sent with the first call.
pub async fn connect(
    spec: Spec,
    connect: &Connect,
    report: Report,
    cancel: Cancel,
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
    let ask = Ask {
        stack: &spec.name,
        env: &spec.env,
        tagged_types: REGISTRY
            .iter()
            .filter_map(|r| match r.orphans() {
                Orphans::Tagged(t) => Some(t),
                _ => None,
            })
            .collect(),
        role_path: ROLE_PATH,
        own_role: &spec.presigner.role_name,
        uses_cloudfront: spec.website.cloudfront().is_some(),
        uses_cognito: spec.auth.as_ref().is_some_and(|a| a.cognito.is_some()),
        boundary_path: spec
            .presigner
            .permissions_boundary
            .is_none()
            .then_some(CI_PATH),
    };
    // The first call decides: when it fails, nothing waits for the listings.
    let (account, discovery) =
        futures::future::try_join(aws.account_id(connect.profile.as_deref()), async {
            Ok(Discovery::list(&aws, &ask).await)
        })
        .await?;
    if let (None, Listing::Failed(why)) = (spec.website.cloudfront(), &discovery.cloudfront) {
        report.warn(format!(
            "CloudFront could not be checked for a distribution left from an earlier \
             `hosting: cloudfront` of this stack ({why}); the rest of the stack does not need \
             it"
        ));
    }
    if let Listing::Failed(why) = &discovery.boundaries {
        report.warn(format!(
            "the permissions boundary `presign-stack bootstrap` makes could not be looked for \
             ({why}); the role's boundary is left as it is"
        ));
    }
    let region = aws.region.clone();
    let spec = spec.resolve(&account, &region);
    Ok(Ctx {
        aws,
        spec: Arc::new(spec),
        account,
        region,
        timing,
        report,
        cancel,
        discovery: Arc::new(discovery),
        known: Known::default(),
        code: None,
    })
}

/// Everything the stack has live, read concurrently.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Each kind of the registry, under the spec's name; `None` when it does not exist.
    pub live: BTreeMap<Kind, Option<Live>>,
    /// Website objects by key, as listed; `None` when the website bucket is missing.
    pub objects: Option<BTreeMap<String, sync::Remote>>,
    /// Resources tagged for this stack that the spec no longer names.
    pub orphans: Vec<orphans::Found>,
    /// Whether the account's Block Public Access forbids public bucket policies (`None`:
    /// unknown).
    pub account_blocks_public_policies: Option<bool>,
}

pub async fn read_all(ctx: &Ctx) -> Result<Snapshot> {
    let reads = futures::future::join_all(REGISTRY.iter().map(|r| async move {
        let name = r.name(&ctx.spec);
        (r.kind(), r.read(ctx, &name).await)
    }));
    let (reads, objects, orphans, blocked) = tokio::join!(
        reads,
        sync::remote_objects(ctx),
        orphans::find(ctx),
        bucket::account_blocks_public_policies(ctx),
    );
    let mut live = BTreeMap::new();
    for (kind, read) in reads {
        live.insert(kind, read?);
    }
    let mut snap = Snapshot {
        live,
        objects: objects?,
        orphans: orphans?,
        account_blocks_public_policies: blocked,
    };
    snap.own_what_comes_with(&ctx.spec);
    Ok(snap)
}

impl Snapshot {
    pub fn live(&self, kind: Kind) -> Option<&Live> {
        self.live.get(&kind).and_then(Option::as_ref)
    }

    /// What is live of an orphan of the plan: one found under another name, or one of the
    /// spec's own names the spec no longer wants (a user pool once `auth.cognito` is gone).
    pub fn orphan_live(&self, spec: &Spec, orphan: &Orphan) -> Option<&Live> {
        self.orphans
            .iter()
            .find(|s| s.orphan == *orphan)
            .map(|s| &s.live)
            .or_else(|| {
                self.live(orphan.kind)
                    .filter(|_| resource(orphan.kind).name(spec) == orphan.name)
            })
    }

    /// What the live resources tell of themselves (ARNs, URL, ids).
    pub fn known(&self) -> Known {
        let mut known = Known::default();
        for live in self.live.values().flatten() {
            known.merge(live.known.clone());
        }
        known
    }

    /// An unmarked resource that comes with one of the stack's (Lambda makes a function's log
    /// group; a function's URL takes no tags) is the stack's: it gets the stack's tags here,
    /// as far as ownership goes.
    fn own_what_comes_with(&mut self, spec: &Spec) {
        for r in REGISTRY {
            let Some(leader) = r.comes_with() else {
                continue;
            };
            let leader_ours = self
                .live(leader)
                .is_some_and(|l| resource(leader).owner(spec, l) == Owner::ThisStack);
            if let Some(Some(live)) = self.live.get_mut(&r.kind()) {
                if leader_ours && owner(spec, &live.tags) == Owner::Unmanaged {
                    live.tags.extend(spec.tags());
                }
            }
        }
    }

    /// Whether `r` is left alone because it comes with a resource that is not the stack's
    /// (and that is named instead).
    fn goes_with_foreign(&self, spec: &Spec, r: &dyn Resource) -> bool {
        r.comes_with().is_some_and(|leader| {
            self.live(leader)
                .is_some_and(|l| resource(leader).owner(spec, l) != Owner::ThisStack)
        })
    }

    /// Refuse (naming every offender) if anything of the spec's names that it wants is not
    /// this stack's.
    pub fn check_ownership(&self, ctx: &Ctx, adopt: bool) -> Result<()> {
        if adopt {
            return Ok(());
        }
        let spec = &ctx.spec;
        let problems: Vec<String> = REGISTRY
            .iter()
            .filter(|r| r.wanted(spec) && !self.goes_with_foreign(spec, **r))
            .filter_map(|r| {
                let live = self.live(r.kind())?;
                not_ours(*r, spec, &r.name(spec), live)
            })
            .collect();
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
                Which::Website.label(&ctx.spec)
            );
        }
        Ok(())
    }
}

/// What `up` computed: the plan, and the website objects to sync.
pub struct Prepared {
    pub plan: Plan,
    pub content: SyncPlan,
    /// The website objects, with their headers when they were read.
    remote: BTreeMap<String, sync::Remote>,
}

/// The plan of one resource of the registry.
fn resource_plan(ctx: &Ctx, r: &dyn Resource, live: Option<&Live>) -> Option<ResourcePlan> {
    let spec = &ctx.spec;
    let name = r.name(spec);
    let plan = |action, changes| ResourcePlan {
        kind: r.kind(),
        name: name.clone(),
        action,
        changes,
        previous_name: None,
    };
    if !r.wanted(spec) {
        // What the spec's layout no longer uses goes, if it is ours.
        let ours = live.is_some_and(|l| r.owner(spec, l) == Owner::ThisStack);
        return ours.then(|| plan(Action::Delete, Vec::new()));
    }
    let want = r.desired(ctx, live);
    Some(match live {
        None => plan(Action::Create, creation(&want)),
        Some(have) => {
            let changes = diff(&want, &have.fields);
            let action = if changes.is_empty() {
                Action::NoOp
            } else {
                Action::Update
            };
            plan(action, changes)
        }
    })
}

/// Compute the plan from the live state and the presigner's code (built or only identified,
/// in `ctx`), with the data a step would lose (`adopt`: the run takes over buckets it did not
/// create).
pub async fn prepare(ctx: &Ctx, snap: &Snapshot, adopt: bool) -> Result<Prepared> {
    let spec = &ctx.spec;
    let resources: Vec<ResourcePlan> = REGISTRY
        .iter()
        .filter_map(|r| resource_plan(ctx, *r, snap.live(r.kind())))
        .collect();
    let presigner_url = page_presigner_url(ctx, ctx.known.function_url.as_deref());
    let mut local = sync::local_objects(spec, &ctx.report).await?;
    let sign_in = ctx.sign_in().unwrap_or_else(|_| ctx.sign_in_shown());
    local.extend(sync::config_object_for(
        spec,
        sign_in.as_ref(),
        &ctx.region,
        &presigner_url,
    ));
    let mut remote = snap.objects.clone().unwrap_or_default();
    // Only a stale content-rules tag costs a HEAD per kept object (see `sync`).
    let rules = sync::rules_fingerprint(&spec.website.cache_control);
    let stale = snap
        .live(bucket::WEBSITE_KIND)
        .is_some_and(|w| w.tags.get(sync::TAG_CONTENT_RULES) != Some(&rules));
    if stale {
        sync::read_metadata(ctx, &mut remote, &local).await?;
    }
    sync::read_multipart_md5(ctx, &mut remote, &local).await?;
    let content = sync::plan(local, &remote);
    let found: Vec<Orphan> = snap.orphans.iter().map(|f| f.orphan.clone()).collect();
    let mut plan = Plan::new(resources, &found, &content);
    plan.losses = losses(ctx, snap, &plan, &content, &remote, adopt).await?;
    Ok(Prepared {
        plan,
        content,
        remote,
    })
}

/// The presigner's URL as the page is told it: behind the distribution, its path on the
/// page's own origin (relative, so it holds for the distribution's domain and every alias,
/// with no CORS); otherwise the Function URL (empty until it exists).
fn page_presigner_url(ctx: &Ctx, function_url: Option<&str>) -> String {
    match ctx.spec.website.api_path() {
        Some(api) => format!("{api}/"),
        None => function_url.unwrap_or_default().to_string(),
    }
}

/// The presigner's public URL for `outputs`.
fn public_presigner_url(ctx: &Ctx) -> Option<String> {
    match ctx.spec.website.api_path() {
        Some(api) if ctx.known.cdn.is_some() => Some(format!(
            "{}{}/",
            ctx.website_url(),
            api.trim_start_matches('/')
        )),
        Some(_) => None,
        None => ctx.known.function_url.clone(),
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
        .filter(|o| o.kind == bucket::DOCUMENTS_KIND)
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
    let foreign = |kind: Kind| {
        snap.live(kind)
            .is_some_and(|l| resource(kind).owner(&ctx.spec, l) != Owner::ThisStack)
    };
    let spec = &ctx.spec;
    if foreign(bucket::DOCUMENTS_KIND) {
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
    if foreign(bucket::WEBSITE_KIND) {
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

/// Read everything, check what must hold before any write, and identify the presigner's code
/// (built only when `build` says so); `website.build` runs first, as on a fresh checkout the
/// built folder is what the bucket is compared with.
async fn survey(ctx: &Ctx, adopt: bool) -> Result<(Ctx, Snapshot)> {
    let (built, code, snap, certificate) = tokio::join!(
        sync::run_build(&ctx.spec, &ctx.report),
        async { crate::bundle::identify(&ctx.spec) },
        read_all(ctx),
        crate::resources::cloudfront::certificate::check_certificate(ctx),
    );
    built?;
    let snap = snap?;
    let mut ctx = ctx.with_known(&snap.known());
    snap.check_ownership(&ctx, adopt)?;
    snap.check_account_block(&ctx)?;
    certificate?;
    ctx.code = Some(Arc::new(code?));
    Ok((ctx, snap))
}

/// `plan`: what `up` would do, from a read of everything live. Changes nothing; the
/// presigner is compared by its code digest, nothing is built.
pub async fn plan(ctx: &Ctx) -> Result<Plan> {
    let (ctx, snap) = survey(ctx, false).await?;
    Ok(prepare(&ctx, &snap, false).await?.plan)
}

/// An open presigner (no `auth`), named by `plan` and `up` in one line each: what anyone can
/// do with it and how to close it, and the concurrency it gets when the spec gives none.
pub fn warn_if_open(ctx: &Ctx) {
    let spec = &ctx.spec;
    if spec.auth.is_some() {
        return;
    }
    let p = &spec.presigner;
    let downloads = if p.allow_downloads {
        " and download any file whose key they learn"
    } else {
        ""
    };
    ctx.report.warn(format!(
        "the presigner is open (no `auth`): anyone who finds its URL can upload files of up to \
         {} under {}{downloads}; add `auth: {{cognito: {{}}}}` (a user pool made by the stack, \
         with `hosting: cloudfront`) or `auth.issuer` to require sign-in",
        loss::human_bytes(p.max_upload_bytes),
        spec.documents.uploads_prefix
    ));
    if let (true, Some(n)) = (p.concurrency_defaulted, p.reserved_concurrency) {
        ctx.report.warn(format!(
            "presigner.reserved_concurrency is {n}, the default for an open presigner, so a \
             flood cannot take the account's Lambda concurrency; set it in the spec to change \
             it (`null` for no reservation)"
        ));
    }
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
    /// With `auth.cognito`: the stack's pool, the page's client and the managed sign-in pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_url: Option<String>,
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not deployed)".into());
        writeln!(f, "website_url      = {}", self.website_url)?;
        writeln!(f, "presigner_url    = {}", na(&self.presigner_url))?;
        writeln!(f, "documents_bucket = {}", self.documents_bucket)?;
        writeln!(f, "website_bucket   = {}", self.website_bucket)?;
        writeln!(f, "role_arn         = {}", na(&self.role_arn))?;
        write!(f, "function_arn     = {}", na(&self.function_arn))?;
        if let Some(url) = &self.sign_in_url {
            writeln!(f)?;
            writeln!(f, "user_pool_id     = {}", na(&self.user_pool_id))?;
            writeln!(f, "client_id        = {}", na(&self.client_id))?;
            write!(f, "sign_in_url      = {url}")?;
        }
        Ok(())
    }
}

/// The outputs as far as `ctx` knows them; `function` says whether the function exists.
fn outputs_from(ctx: &Ctx, function: bool) -> Outputs {
    Outputs {
        website_url: ctx.website_url(),
        presigner_url: public_presigner_url(ctx),
        documents_bucket: ctx.spec.documents.bucket.clone(),
        website_bucket: ctx.spec.website.bucket.clone(),
        role_arn: ctx.known.role_arn.clone(),
        function_arn: function.then(|| ctx.function_arn()),
        user_pool_id: ctx.known.user_pool_id.clone(),
        client_id: ctx.known.client_id.clone(),
        sign_in_url: crate::resources::cognito::sign_in_url(ctx),
    }
}

/// `outputs`: read what is live.
pub async fn outputs(ctx: &Ctx) -> Result<Outputs> {
    let kinds = [
        role::KIND,
        function::KIND,
        function_url::KIND,
        crate::resources::cloudfront::distribution::KIND,
        crate::resources::cognito::client::KIND,
    ];
    let reads = futures::future::join_all(kinds.iter().map(|k| async move {
        let r = resource(*k);
        r.read(ctx, &r.name(&ctx.spec)).await
    }))
    .await;
    let mut known = Known::default();
    let mut function = false;
    for (kind, read) in kinds.iter().zip(reads) {
        if let Some(live) = read? {
            function |= *kind == function::KIND;
            known.merge(live.known);
        }
    }
    if !function && known.role_arn.is_none() {
        anyhow::bail!(
            "stack {} (env {}) is not deployed in {} (no function {}); run `presign-stack up`",
            ctx.spec.name,
            ctx.spec.env,
            ctx.region,
            ctx.spec.presigner.function_name
        );
    }
    Ok(outputs_from(&ctx.with_known(&known), function))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
