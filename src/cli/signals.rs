//! The signals that stop `presign-stack dev`: Ctrl-C, and SIGTERM where there is one.

use anyhow::{Context, Result};

#[cfg(unix)]
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
pub struct Signals(tokio::signal::windows::CtrlC);

#[cfg(not(unix))]
impl Signals {
    pub fn install() -> Result<Signals> {
        Ok(Signals(
            tokio::signal::windows::ctrl_c().context("listening for Ctrl-C")?,
        ))
    }

    pub async fn wait(&mut self) {
        self.0.recv().await;
    }
}
