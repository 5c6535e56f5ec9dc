//! The command line: parse, run the command, print the result as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::aws::Connect;
use crate::drift::Drift;
use crate::report::{Reporter, Verbosity};
use crate::retry::Timing;
use crate::spec::{self, Spec};
use crate::stack;

#[derive(Debug, Parser)]
#[command(
    name = "presign-stack",
    version,
    about = "Provision and run a secure direct-to-S3 upload/download stack from one spec"
)]
pub struct Cli {
    /// The spec file.
    #[arg(
        long,
        global = true,
        default_value = "presign-stack.yaml",
        value_name = "FILE"
    )]
    pub spec: PathBuf,
    /// Environment: selects the spec's overlay and is part of every name and ownership tag.
    #[arg(long, global = true, default_value = "dev", value_name = "ENV")]
    pub env: String,
    /// AWS profile from the shared config.
    #[arg(long, global = true, value_name = "P")]
    pub profile: Option<String>,
    /// AWS region (else the spec's `region:`, else the AWS config chain).
    #[arg(long, global = true, value_name = "R")]
    pub region: Option<String>,
    /// Send every AWS request to this endpoint (an emulator); AWS_ENDPOINT_URL also works.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format of the result on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr, including the number of AWS requests made.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec offline; no AWS call.
    Validate,
    /// Show what `up` would change.
    Plan {
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update everything, then sync the website.
    Up {
        /// Take over resources of the expected names that this stack did not create.
        #[arg(long)]
        adopt: bool,
        /// Also delete resources tagged for this stack that the spec no longer names.
        #[arg(long)]
        prune: bool,
        /// Confirm steps that destroy data presign-stack did not write (a documents bucket
        /// holding objects, objects in a bucket being adopted); needed when not on a terminal.
        #[arg(long)]
        yes: bool,
        /// Wait until CloudFront has deployed the distribution's changes (minutes); without
        /// it, `up` ends once CloudFront has accepted them.
        #[arg(long)]
        wait: bool,
    },
    /// Compare the live account with the spec: exit 0 in sync, 2 drift, 1 error.
    Drift {
        /// Also write a Markdown summary to FILE (e.g. "$GITHUB_STEP_SUMMARY").
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
    /// Print the stack's outputs.
    Outputs,
    /// Delete everything the stack owns, emptying its buckets.
    Down {
        /// Do not ask; required when not on a terminal.
        #[arg(long)]
        yes: bool,
    },
    /// Start a project in DIR (default: here): a commented spec, a starter page, a
    /// .gitignore line for dev's data. Never overwrites a file.
    Init {
        /// The project folder (created if missing).
        dir: Option<PathBuf>,
        /// Write no starter page (only an empty `web/` for your site).
        #[arg(long)]
        no_page: bool,
    },
    /// Write the presigner's deployment zip and print its code digest (for CI caches and
    /// review); builds it when needed, as `up` would.
    Bundle {
        /// Where to write the zip.
        #[arg(long, value_name = "FILE", default_value = "presigner.zip")]
        out: PathBuf,
    },
    /// Print a shell completion script, e.g. `presign-stack completions bash >
    /// ~/.local/share/bash-completion/completions/presign-stack`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Run the whole app on this machine (website, presigner, documents store); no AWS account.
    Dev {
        /// Port of the page (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Port of the presigner (0 picks a free one).
        #[arg(long, default_value_t = 0, value_name = "PORT")]
        presigner_port: u16,
        /// Port of the local documents store (0 picks a free one).
        #[arg(long, default_value_t = 0, value_name = "PORT")]
        store_port: u16,
        /// Where uploads and the local signing keys are kept
        /// [default: .presign-stack/dev/<name>-<env> next to the spec].
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 like every other error: 2 means changes or drift.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // CI templates often export an empty AWS_ENDPOINT_URL; the SDK would take it for a URL.
    // Nothing else runs yet, so changing the environment here races with no one.
    if std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
        std::env::remove_var("AWS_ENDPOINT_URL");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            err_line(format_args!(
                "error: could not start the async runtime: {e}"
            ));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(code) => code,
        Err(e) => {
            err_line(format_args!("error: {e:#}"));
            if crate::interrupt::requested() {
                ExitCode::from(crate::interrupt::EXIT_CODE)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn load(cli: &Cli) -> Result<Spec> {
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

fn print<T: Serialize + std::fmt::Display>(cli: &Cli, value: &T) -> Result<()> {
    match cli.output {
        Format::Text => out(value),
        Format::Json => out(serde_json::to_string_pretty(value)?),
    }
}

/// One line of results on stdout. A reader that went away (`| head`) ends the output quietly,
/// as for any Unix filter; any other write failure (a full disk) is an error.
fn out(line: impl std::fmt::Display) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the result to stdout")
        }
        _ => Ok(()),
    }
}

/// A line on stderr; nowhere left to report a failure to write it.
fn err_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

async fn run(cli: &Cli) -> Result<ExitCode> {
    let report = Reporter {
        verbosity: if cli.quiet {
            Verbosity::Quiet
        } else if cli.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        },
    };
    crate::report::allow_progress(matches!(cli.output, Format::Text));
    match &cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "presign-stack", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Init { dir, no_page } => {
            let dir = dir.clone().unwrap_or_else(|| PathBuf::from("."));
            let done = crate::init::init(&dir, !no_page)?;
            print(cli, &done)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let spec = load(cli)?;
    if let Command::Bundle { out } = &cli.command {
        let mut code = crate::bundle::identify(&spec)?;
        let bundle = crate::bundle::prepare(&spec, report).await?;
        std::fs::write(out, &bundle.zip)
            .with_context(|| format!("writing the bundle to {}", out.display()))?;
        code.bundle = Some(bundle);
        print(cli, &Bundled::new(&code, out))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Validate = cli.command {
        print(cli, &Validated(&spec))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Dev {
        port,
        presigner_port,
        store_port,
        data_dir,
    } = &cli.command
    {
        let options = crate::dev::Options {
            port: *port,
            presigner_port: *presigner_port,
            store_port: *store_port,
            data_dir: data_dir.clone(),
            region: cli.region.clone(),
        };
        let running = crate::dev::start(spec, &options, report).await?;
        print(cli, &running.addresses)?;
        running.until_stopped().await?;
        return Ok(ExitCode::SUCCESS);
    }
    let connect = Connect {
        profile: cli.profile.clone(),
        region: cli.region.clone(),
        endpoint_url: cli.endpoint_url.clone(),
    };
    if matches!(cli.command, Command::Up { .. } | Command::Down { .. }) {
        crate::interrupt::install(report);
    }
    let ctx = stack::connect(spec, &connect, report, Timing::default()).await?;
    let code = match &cli.command {
        Command::Validate
        | Command::Dev { .. }
        | Command::Init { .. }
        | Command::Bundle { .. }
        | Command::Completions { .. } => unreachable!("handled above"),
        Command::Plan { detailed_exitcode } => {
            let plan = stack::plan(&ctx).await?;
            print(cli, &plan)?;
            if *detailed_exitcode && !plan.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Drift { markdown } => {
            let drift = Drift::from_plan(
                &stack::plan(&ctx).await?,
                ctx.spec.website.config_file.as_deref(),
            );
            print(cli, &drift)?;
            if let Some(path) = markdown {
                let title = format!(
                    "presign-stack drift: {} ({}) in {}",
                    ctx.spec.name, ctx.spec.env, ctx.region
                );
                std::fs::write(path, drift.markdown(&title))
                    .with_context(|| format!("writing the drift summary to {}", path.display()))?;
            }
            if drift.in_sync {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Command::Up {
            adopt,
            prune,
            yes,
            wait,
        } => {
            let result = stack::up(&ctx, *adopt, *prune, *yes, *wait).await?;
            match cli.output {
                Format::Json => out(serde_json::to_string_pretty(&result)?)?,
                Format::Text => {
                    if result.plan.is_empty() {
                        report.block("No changes. The stack matches the spec.");
                    } else {
                        let (add, change, mut destroy) = result.plan.counts();
                        if !*prune {
                            // Kept, not destroyed: orphans and the old halves of renames.
                            destroy -= result.plan.orphans().len().min(destroy);
                        }
                        report.block(format!(
                            "Apply complete: {add} added, {change} changed, {destroy} destroyed."
                        ));
                    }
                    out(&result.outputs)?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Outputs => {
            print(cli, &stack::outputs(&ctx).await?)?;
            ExitCode::SUCCESS
        }
        Command::Down { yes } => {
            let result = stack::down(&ctx, *yes).await?;
            match cli.output {
                Format::Json => out(serde_json::to_string_pretty(&result)?)?,
                Format::Text if result.deleted.is_empty() => {}
                Format::Text => report.status(
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
            ExitCode::SUCCESS
        }
    };
    if report.verbosity == Verbosity::Verbose {
        let (total, writes) = ctx.aws.requests.counts();
        report.detail(format!("{total} AWS requests, {writes} of them writes"));
    }
    Ok(code)
}

/// `validate`'s result: the resolved names and settings.
struct Validated<'a>(&'a Spec);

impl Serialize for Validated<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spec = self.0;
        serde_json::json!({
            "valid": true,
            "name": spec.name,
            "env": spec.env,
            "region": spec.region,
            "documents_bucket": spec.documents.bucket,
            "website_bucket": spec.website.bucket,
            "function_name": spec.presigner.function_name,
            "role_name": spec.presigner.role_name,
        })
        .serialize(s)
    }
}

impl std::fmt::Display for Validated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spec = self.0;
        writeln!(f, "{} is valid (env {})", spec.file.display(), spec.env)?;
        writeln!(f, "  documents bucket  {}", spec.documents.bucket)?;
        writeln!(f, "  website bucket    {}", spec.website.bucket)?;
        writeln!(f, "  function          {}", spec.presigner.function_name)?;
        write!(f, "  role              {}", spec.presigner.role_name)
    }
}

/// What `bundle` wrote.
#[derive(Serialize)]
struct Bundled {
    /// The code digest `up` records on the function (`presign-stack:code`).
    digest: String,
    /// base64 SHA-256 of the zip: Lambda's CodeSha256.
    code_sha256: String,
    path: PathBuf,
    bytes: usize,
}

impl Bundled {
    fn new(code: &crate::bundle::Code, path: &std::path::Path) -> Bundled {
        let b = code.bundle.as_ref().expect("built");
        Bundled {
            digest: code.digest.clone(),
            code_sha256: b.sha256_base64.clone(),
            path: path.to_path_buf(),
            bytes: b.zip.len(),
        }
    }
}

impl std::fmt::Display for Bundled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "digest      = {}", self.digest)?;
        writeln!(f, "code_sha256 = {}", self.code_sha256)?;
        write!(
            f,
            "wrote {} ({} KiB)",
            self.path.display(),
            self.bytes.div_ceil(1024)
        )
    }
}
