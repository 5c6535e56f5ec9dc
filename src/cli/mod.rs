//! The command line, the edge where the terminal is: parse, run one command (one `match`),
//! print its result as text or JSON, exit with its code. The library below reports through
//! [`terminal::Terminal`] and is stopped through a [`Cancel`] token on Ctrl-C.

mod args;
mod commands;
mod output;
mod signals;
pub mod terminal;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;

pub use self::args::{Cli, Command, Format};
use self::output::err_line;
use self::terminal::{Terminal, Verbosity};
use crate::cancel::Cancel;
use crate::report::Report;

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells expect.
pub const INTERRUPTED: u8 = 130;

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
    let cancel = Cancel::default();
    match runtime.block_on(run(&cli, &cancel)) {
        Ok(code) => code,
        Err(e) => {
            err_line(format_args!("error: {e:#}"));
            if cancel.requested() {
                ExitCode::from(INTERRUPTED)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn run(cli: &Cli, cancel: &Cancel) -> Result<ExitCode> {
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let report = Report::new(Arc::new(Terminal {
        verbosity,
        progress: cli.output == Format::Text,
    }));
    let run = commands::Run {
        cli,
        report,
        cancel: cancel.clone(),
    };
    match &cli.command {
        Command::Validate => run.validate(),
        Command::Plan(a) => run.plan(a).await,
        Command::Up(a) => run.up(a).await,
        Command::Drift(a) => run.drift(a).await,
        Command::Outputs => run.outputs().await,
        Command::Down(a) => run.down(a).await,
        Command::Init(a) => run.init(a),
        Command::Bundle(a) => run.bundle(a).await,
        Command::Completions(a) => run.completions(a),
        Command::Dev(a) => run.dev(a).await,
        Command::Policy(a) => run.policy(a),
        Command::Bootstrap(a) => run.bootstrap(a).await,
    }
}

/// Listen for Ctrl-C for the rest of the run: the first one cancels (nothing new starts),
/// the second one exits at once.
fn stop_on_ctrl_c(cancel: Cancel, report: Report) {
    tokio::spawn(async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if cancel.request() {
                report.warn("interrupted again: stopping now; run the command again to finish");
                std::process::exit(i32::from(INTERRUPTED));
            }
            report.warn(
                "interrupted: finishing the requests in flight and starting nothing new \
                 (Ctrl-C again stops at once)",
            );
        }
    });
}
