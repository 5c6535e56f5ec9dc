//! The command line's arguments (clap), one struct per command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "presign-stack",
    version,
    long_version = crate::bundle::long_version(),
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
    Plan(PlanArgs),
    /// Create or update everything, then sync the website.
    Up(UpArgs),
    /// Compare the live account with the spec: exit 0 in sync, 2 drift, 1 error.
    Drift(DriftArgs),
    /// Print the stack's outputs.
    Outputs,
    /// Delete everything the stack owns, emptying its buckets.
    Down(DownArgs),
    /// Start a project in DIR (default: here): a commented spec, a starter page, a
    /// .gitignore line for dev's data. Never overwrites a file.
    Init(InitArgs),
    /// Write the presigner's deployment zip and print its code digest (for CI caches and
    /// review); builds it when needed, as `up` would.
    Bundle(BundleArgs),
    /// Print a shell completion script, e.g. `presign-stack completions bash >
    /// ~/.local/share/bash-completion/completions/presign-stack`.
    Completions(CompletionsArgs),
    /// Run the whole app on this machine (website, presigner, documents store); no AWS account.
    Dev(DevArgs),
    /// Print an IAM policy (JSON) for this spec and env, naming the stack's own resources;
    /// no AWS call.
    Policy(PolicyArgs),
    /// Once per account and stack env, by an administrator: the presigner's permissions
    /// boundary and, with --github-repo, roles for deploy and drift that GitHub Actions can
    /// assume through OIDC for that repository; prints their ARNs and the workflow steps.
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyKind {
    /// What `up` and `down` need.
    Deploy,
    /// What `plan`, `drift` and `outputs` need.
    ReadOnly,
    /// The most the presigner's role may do (its permissions boundary).
    Boundary,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[arg(value_enum)]
    pub which: PolicyKind,
    /// The 12-digit account the policy is for [default: ${aws:PrincipalAccount}, the account
    /// of whoever holds the policy].
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The GitHub repository (OWNER/REPO) whose workflows may assume the deploy and drift
    /// roles.
    #[arg(long, value_name = "OWNER/REPO")]
    pub github_repo: Option<String>,
    /// The branch the deploy role may be assumed from (as may a job in the GitHub
    /// environment named like --env).
    #[arg(
        long,
        default_value = "main",
        value_name = "BRANCH",
        requires = "github_repo"
    )]
    pub branch: String,
    /// Remove what bootstrap made for this stack env.
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 with no changes, 2 with changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Take over resources of the expected names that this stack did not create.
    #[arg(long)]
    pub adopt: bool,
    /// Also delete resources tagged for this stack that the spec no longer names.
    #[arg(long)]
    pub prune: bool,
    /// Confirm steps that destroy data presign-stack did not write (a documents bucket
    /// holding objects, objects in a bucket being adopted); needed when not on a terminal.
    #[arg(long)]
    pub yes: bool,
    /// Wait until CloudFront has deployed the distribution's changes (minutes); without
    /// it, `up` ends once CloudFront has accepted them.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Also write a Markdown summary to FILE (e.g. "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Do not ask; required when not on a terminal.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder (created if missing).
    pub dir: Option<PathBuf>,
    /// Write no starter page (only an empty `web/` for your site).
    #[arg(long)]
    pub no_page: bool,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Where to write the zip (for the spec's architecture).
    #[arg(long, value_name = "FILE", default_value = "presigner.zip")]
    pub out: PathBuf,
    /// Write a zip for each architecture into DIR instead: presigner-x86_64.zip and
    /// presigner-arm64.zip (what a release embeds with PRESIGN_STACK_EMBED_PRESIGNER=DIR).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DevAuth {
    Dev,
    Spec,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port of the page (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Port of the presigner (0 picks a free one).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub presigner_port: u16,
    /// Port of the local documents store (0 picks a free one).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub store_port: u16,
    /// Port of dev's own sign-in (OpenID Connect issuer) for a spec with `auth` (0 picks a
    /// free one).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub issuer_port: u16,
    /// Who signs users in with `auth`: `dev` (its own issuer on 127.0.0.1, no network) or
    /// `spec` (the spec's issuer).
    #[arg(long, value_enum, default_value_t = DevAuth::Dev, value_name = "WHO")]
    pub auth: DevAuth,
    /// Where uploads and the local signing keys are kept
    /// [default: .presign-stack/dev/<name>-<env> next to the spec].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}
