//! presign-stack's side of `scripts/bench-sync.sh`: the website sync or the emptying of a
//! versioned bucket, exactly as `up` and `down` run them, against an S3 endpoint, timed.
//!
//! ```text
//! bench_sync sync  --endpoint-url URL --bucket BUCKET --source DIR [--project DIR]
//! bench_sync empty --endpoint-url URL --bucket BUCKET
//! ```
//!
//! `sync` runs `sync::sync_website` (walk the folder, list the bucket, upload what differs,
//! delete what is gone; no runtime config) with the spec in `--project` (kept from one run to
//! the next, as a project folder is, with the digest cache in its `.presign-stack/`; a
//! temporary folder when not given); `empty` runs `resources::bucket::empty::empty_and_delete` on the
//! bucket as a documents bucket (a policy stopping uploads, every version and delete marker
//! deleted, then the bucket). Credentials and region come from the environment as for the
//! real binary (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`). Prints one line
//! of JSON: what was done, the requests sent, and the seconds it took from the first request
//! (the script also times the whole process).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use presign_stack::aws::{Aws, Connect};
use presign_stack::context::Ctx;
use presign_stack::report::Report;
use presign_stack::resources::bucket::Which;
use presign_stack::retry::Timing;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    op: Op,
}

#[derive(Subcommand)]
enum Op {
    /// Sync a folder into an existing bucket, as `up` does.
    Sync {
        #[arg(long)]
        endpoint_url: String,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Delete every version and delete marker of a bucket, then the bucket, as `down` does.
    Empty {
        #[arg(long)]
        endpoint_url: String,
        #[arg(long)]
        bucket: String,
    },
}

/// A spec naming `bucket` as the website bucket and `source` as its folder, in a temporary
/// directory with the prebuilt presigner bundle validation asks for.
fn load_spec(
    dir: &std::path::Path,
    bucket: &str,
    source: &std::path::Path,
) -> Result<presign_stack::spec::Spec> {
    std::fs::write(
        dir.join("bundle.zip"),
        presign_stack::bundle::zip_bootstrap(b"bench")?,
    )?;
    let file = dir.join("presign-stack.yaml");
    let source = source
        .canonicalize()
        .with_context(|| format!("website folder {}", source.display()))?;
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: bench\npresigner: {{zip: bundle.zip}}\n\
             website: {{bucket: {}, source: {}, config_file: null}}\n",
            serde_json::to_string(bucket)?,
            serde_json::to_string(&source.to_string_lossy())?,
        ),
    )?;
    match presign_stack::spec::load(&file, "dev") {
        Ok(spec) => Ok(spec),
        Err(errors) => bail!(
            "the bench spec is invalid:\n{}",
            errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

async fn ctx(
    endpoint_url: &str,
    bucket: &str,
    source: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Ctx> {
    let aws = Aws::connect(&Connect {
        profile: None,
        region: None,
        endpoint_url: Some(endpoint_url.to_string()),
    })
    .await?;
    // No STS call: the account only names resources this run does not touch.
    let account = "000000000000".to_string();
    let region = aws.region.clone();
    let spec = load_spec(dir, bucket, source)?.resolve(&account, &region);
    Ok(Ctx {
        aws,
        spec: std::sync::Arc::new(spec),
        account,
        region,
        timing: Timing::default(),
        report: Report::silent(),
        cancel: Default::default(),
        discovery: Default::default(),
        known: Default::default(),
        code: None,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let line = match args.op {
        Op::Sync {
            endpoint_url,
            bucket,
            source,
            project,
        } => {
            let project = project.as_deref().unwrap_or(dir.path());
            std::fs::create_dir_all(project)
                .with_context(|| format!("creating {}", project.display()))?;
            let ctx = ctx(&endpoint_url, &bucket, &source, project).await?;
            let start = Instant::now();
            let plan = presign_stack::sync::sync_website(&ctx).await?;
            let seconds = start.elapsed().as_secs_f64();
            json!({
                "op": "sync",
                "seconds": seconds,
                "uploaded": plan.upload.len(),
                "deleted": plan.delete.len(),
                "unchanged": plan.unchanged,
                "requests": ctx.aws.requests.counts().0,
            })
        }
        Op::Empty {
            endpoint_url,
            bucket,
        } => {
            // The spec needs a website folder; an empty one serves.
            let site = dir.path().join("site");
            std::fs::create_dir(&site)?;
            let ctx = ctx(&endpoint_url, "bench-unused-website", &site, dir.path()).await?;
            let start = Instant::now();
            let deleted = presign_stack::resources::bucket::empty::empty_and_delete(
                &ctx,
                Which::Documents,
                &bucket,
                true,
            )
            .await?;
            let seconds = start.elapsed().as_secs_f64();
            json!({
                "op": "empty",
                "seconds": seconds,
                "deleted_versions": deleted,
                "requests": ctx.aws.requests.counts().0,
            })
        }
    };
    println!("{line}");
    Ok(())
}
