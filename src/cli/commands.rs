//! Each command: what it runs and what it prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::args::{
    BootstrapArgs, BundleArgs, CompletionsArgs, DevArgs, DownArgs, DriftArgs, InitArgs, PlanArgs,
    PolicyArgs, PolicyKind, UpArgs,
};
use super::output::{err_line, out, print, Bundled, Validated};
use super::{stop_on_ctrl_c, Cli, Format};
use crate::aws::Connect;
use crate::cancel::Cancel;
use crate::context::Ctx;
use crate::drift::Drift;
use crate::report::Report;
use crate::retry::Timing;
use crate::spec::{self, Spec};
use crate::stack::{self, DownOptions, UpOptions};

/// One run of a command.
pub struct Run<'a> {
    pub cli: &'a Cli,
    pub report: Report,
    pub cancel: Cancel,
}

impl Run<'_> {
    fn load(&self) -> Result<Spec> {
        let cli = self.cli;
        spec::load(&cli.spec, &cli.env).map_err(|errors| {
            for e in &errors {
                err_line(format_args!("{e}"));
            }
            anyhow::anyhow!(
                "{} has {} problem{}",
                cli.spec.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            )
        })
    }

    /// The spec loaded and the account connected; with `interruptible`, Ctrl-C stops the
    /// run between steps.
    async fn connect(&self, interruptible: bool) -> Result<Ctx> {
        let spec = self.load()?;
        let cli = self.cli;
        let connect = Connect {
            profile: cli.profile.clone(),
            region: cli.region.clone(),
            endpoint_url: cli.endpoint_url.clone(),
        };
        if interruptible {
            stop_on_ctrl_c(self.cancel.clone(), self.report.clone());
        }
        stack::connect(
            spec,
            &connect,
            self.report.clone(),
            self.cancel.clone(),
            timing(),
        )
        .await
    }

    /// How many requests a command sent, with -v.
    fn tally(&self, ctx: &Ctx) {
        let (total, writes) = ctx.aws.requests.counts();
        self.report
            .detail(format!("{total} AWS requests, {writes} of them writes"));
    }

    pub fn validate(&self) -> Result<ExitCode> {
        print(self.cli.output, &Validated(&self.load()?))?;
        Ok(ExitCode::SUCCESS)
    }

    pub async fn plan(&self, args: &PlanArgs) -> Result<ExitCode> {
        let ctx = self.connect(false).await?;
        stack::warn_if_open(&ctx);
        let plan = stack::plan(&ctx).await?;
        print(self.cli.output, &plan)?;
        self.tally(&ctx);
        Ok(if args.detailed_exitcode && !plan.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        })
    }

    pub async fn drift(&self, args: &DriftArgs) -> Result<ExitCode> {
        let ctx = self.connect(false).await?;
        let drift = Drift::from_plan(
            &stack::plan(&ctx).await?,
            ctx.spec.website.config_file.as_deref(),
        );
        print(self.cli.output, &drift)?;
        if let Some(path) = &args.markdown {
            let title = format!(
                "presign-stack drift: {} ({}) in {}",
                ctx.spec.name, ctx.spec.env, ctx.region
            );
            std::fs::write(path, drift.markdown(&title))
                .with_context(|| format!("writing the drift summary to {}", path.display()))?;
        }
        self.tally(&ctx);
        Ok(if drift.in_sync {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        })
    }

    pub async fn up(&self, args: &UpArgs) -> Result<ExitCode> {
        let ctx = self.connect(true).await?;
        let options = UpOptions {
            adopt: args.adopt,
            prune: args.prune,
            yes: args.yes,
            wait: args.wait,
        };
        let result = stack::up(&ctx, &options).await?;
        match self.cli.output {
            Format::Json => out(serde_json::to_string_pretty(&result)?)?,
            Format::Text => {
                if result.plan.is_empty() {
                    self.report.block("No changes. The stack matches the spec.");
                } else {
                    let (add, change, mut destroy) = result.plan.counts();
                    if !args.prune {
                        // Kept, not destroyed: orphans and the old halves of renames.
                        destroy -= result.plan.orphans().len().min(destroy);
                    }
                    self.report.block(format!(
                        "Apply complete: {add} added, {change} changed, {destroy} destroyed."
                    ));
                }
                out(&result.outputs)?;
            }
        }
        self.tally(&ctx);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn outputs(&self) -> Result<ExitCode> {
        let ctx = self.connect(false).await?;
        print(self.cli.output, &stack::outputs(&ctx).await?)?;
        self.tally(&ctx);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn down(&self, args: &DownArgs) -> Result<ExitCode> {
        let ctx = self.connect(true).await?;
        let result = stack::down(&ctx, &DownOptions { yes: args.yes }).await?;
        match self.cli.output {
            Format::Json => out(serde_json::to_string_pretty(&result)?)?,
            Format::Text if result.deleted.is_empty() => {}
            Format::Text => self.report.status(
                "Destroyed",
                format!(
                    "{} resources and {} objects of stack {} (env {})",
                    result.deleted.len(),
                    result.objects_deleted,
                    ctx.spec.name,
                    ctx.spec.env
                ),
            ),
        }
        self.tally(&ctx);
        Ok(ExitCode::SUCCESS)
    }

    pub fn init(&self, args: &InitArgs) -> Result<ExitCode> {
        let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        let done = crate::init::init(&dir, !args.no_page)?;
        print(self.cli.output, &done)?;
        Ok(ExitCode::SUCCESS)
    }

    pub async fn bundle(&self, args: &BundleArgs) -> Result<ExitCode> {
        let spec = self.load()?;
        if let Some(dir) = &args.out_dir {
            if let crate::spec::CodeSource::Zip(zip) = &spec.presigner.code {
                anyhow::bail!(
                    "presigner.zip ({}) is one zip for one architecture: --out-dir builds both \
                     from the presigner's source; remove presigner.zip, or use --out",
                    zip.display()
                );
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut all = Vec::new();
            for arch in [
                crate::spec::Architecture::X86_64,
                crate::spec::Architecture::Arm64,
            ] {
                let mut one = spec.clone();
                one.presigner.architecture = arch;
                let mut code = crate::bundle::identify(&one)?;
                let bundle = crate::bundle::prepare(&one, &self.report).await?;
                let path = dir.join(format!("presigner-{}.zip", arch.as_aws()));
                std::fs::write(&path, &bundle.zip)
                    .with_context(|| format!("writing the bundle to {}", path.display()))?;
                code.bundle = Some(bundle);
                all.push(Bundled::new(&code, &path));
            }
            print(
                self.cli.output,
                &crate::cli::output::BundledAll { zips: all },
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        let mut code = crate::bundle::identify(&spec)?;
        let bundle = crate::bundle::prepare(&spec, &self.report).await?;
        std::fs::write(&args.out, &bundle.zip)
            .with_context(|| format!("writing the bundle to {}", args.out.display()))?;
        code.bundle = Some(bundle);
        print(self.cli.output, &Bundled::new(&code, &args.out))?;
        Ok(ExitCode::SUCCESS)
    }

    pub fn completions(&self, args: &CompletionsArgs) -> Result<ExitCode> {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        clap_complete::generate(
            args.shell,
            &mut cmd,
            "presign-stack",
            &mut std::io::stdout(),
        );
        Ok(ExitCode::SUCCESS)
    }

    pub fn policy(&self, args: &PolicyArgs) -> Result<ExitCode> {
        use crate::policy::{generate, Which};
        use crate::resources::scope::{Arns, PRINCIPAL_ACCOUNT};
        let spec = self.load()?;
        let region = match (&spec.region, &self.cli.region) {
            (Some(s), Some(c)) if s != c => anyhow::bail!(
                "--region {c} conflicts with `region: {s}` in {}; drop one of them",
                spec.file.display()
            ),
            (Some(r), _) | (None, Some(r)) => r.clone(),
            (None, None) => match ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
            {
                Some(r) => r,
                None => anyhow::bail!(
                    "the policy names the stack's resources in its region: set `region:` in {} \
                     or pass --region",
                    spec.file.display()
                ),
            },
        };
        crate::spec::region(&region).map_err(|m| anyhow::anyhow!("{m}"))?;
        let account = match &args.account {
            Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => a.clone(),
            Some(a) => anyhow::bail!("--account `{a}` is not a 12-digit AWS account id"),
            None => PRINCIPAL_ACCOUNT.to_string(),
        };
        let spec = spec.resolve(&account, &region);
        let which = match args.which {
            PolicyKind::Deploy => Which::Deploy,
            PolicyKind::ReadOnly => Which::ReadOnly,
            PolicyKind::Boundary => Which::Boundary,
        };
        let policy = generate(&spec, &Arns::new(&account, &region), which);
        out(serde_json::to_string_pretty(&policy)?)?;
        if which != Which::Boundary {
            let name = if which == Which::Deploy {
                "deploy"
            } else {
                "read-only"
            };
            if let Some(why) = policy.too_big_for_a_role(name) {
                eprintln!("warning: {why}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    pub async fn bootstrap(&self, args: &BootstrapArgs) -> Result<ExitCode> {
        let options = crate::bootstrap::Options::new(
            args.github_repo.clone(),
            args.branch.clone(),
            args.delete,
        )?;
        let ctx = self.connect(false).await?;
        let done = crate::bootstrap::run(&ctx, &options).await?;
        print(self.cli.output, &done)?;
        self.tally(&ctx);
        Ok(ExitCode::SUCCESS)
    }

    pub async fn dev(&self, args: &DevArgs) -> Result<ExitCode> {
        let spec = self.load()?;
        let options = crate::dev::Options {
            port: args.port,
            presigner_port: args.presigner_port,
            store_port: args.store_port,
            issuer_port: args.issuer_port,
            spec_issuer: args.auth == super::args::DevAuth::Spec,
            data_dir: args.data_dir.clone(),
            region: self.cli.region.clone(),
        };
        // Installed before anything is printed, so a stop asked for right after the URL
        // appears is a clean one rather than the default signal death.
        let mut signals = super::signals::Signals::install()?;
        let running = crate::dev::start(spec, &options, self.report.clone()).await?;
        print(self.cli.output, &running.addresses)?;
        running.until(signals.wait()).await?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The waits' budgets; `PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS` bounds the wait for CloudFront
/// to deploy a disabled distribution before it can be deleted.
fn timing() -> Timing {
    let mut timing = Timing::default();
    if let Some(secs) = std::env::var("PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        timing.cdn_deployed.deadline = Duration::from_secs(secs);
    }
    timing
}
