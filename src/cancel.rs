//! Stopping a run part-way (Ctrl-C during `up` and `down`): the command line requests it, and
//! every step checks the token before it starts, so the requests in flight finish (each is
//! bounded by its timeouts), nothing new starts, and the next run continues from there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared by everything one run does.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Ask the run to stop; true when it had been asked already.
    pub fn request(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Fails with a clear message once stopping was asked for: called where a step would start.
    pub fn check(&self, step: &str) -> anyhow::Result<()> {
        if self.requested() {
            anyhow::bail!("interrupted (Ctrl-C) before {step}");
        }
        Ok(())
    }
}
