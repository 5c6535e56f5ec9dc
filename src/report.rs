//! Progress and status lines on stderr, cargo-style (right-aligned verb), silenced by `-q`.
//! stdout is kept for results (outputs, JSON).

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    pub verbosity: Verbosity,
}

impl Reporter {
    pub fn status(&self, verb: &str, what: impl std::fmt::Display) {
        if self.verbosity != Verbosity::Quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{verb:>12} {what}");
        }
    }

    pub fn detail(&self, what: impl std::fmt::Display) {
        if self.verbosity == Verbosity::Verbose {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{:>12} {what}", "");
        }
    }

    /// A block of text as it is (a plan), unless quiet.
    pub fn block(&self, text: impl std::fmt::Display) {
        if self.verbosity != Verbosity::Quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        }
    }

    pub fn warn(&self, what: impl std::fmt::Display) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{:>12} {what}", "warning:");
    }
}
