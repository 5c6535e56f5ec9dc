//! Ctrl-C during `up` and `down`: the first one lets the requests in flight finish (each is
//! bounded by its timeouts) and starts nothing new, so what was applied stays consistent and
//! the next run continues from there; a second one stops the process at once. Either way the
//! exit code is 130, as shells expect of an interrupted command.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::report::Reporter;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_CODE: u8 = 130;

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Fails with a clear message once Ctrl-C was pressed: called where a new step would start.
pub fn check(step: &str) -> anyhow::Result<()> {
    if requested() {
        anyhow::bail!("interrupted (Ctrl-C) before {step}");
    }
    Ok(())
}

/// Listen for Ctrl-C for the rest of the run.
pub fn install(report: Reporter) {
    tokio::spawn(async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if REQUESTED.swap(true, Ordering::SeqCst) {
                report.warn("interrupted again: stopping now; run the command again to finish");
                std::process::exit(i32::from(EXIT_CODE));
            }
            report.warn(
                "interrupted: finishing the requests in flight and starting nothing new \
                 (Ctrl-C again stops at once)",
            );
        }
    });
}
