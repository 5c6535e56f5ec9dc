//! How the library says what it is doing, shows progress and asks before a loss: the
//! [`Reporter`] trait, which the command line implements for a terminal (`cli::terminal`).
//! No library module writes to a terminal or reads from one; they all go through a [`Report`].

use std::fmt::Display;
use std::process::Stdio;
use std::sync::Arc;

/// One line the library reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A step starts or ends: a verb (`Creating`) and what it acts on.
    Status { verb: &'a str, what: &'a str },
    /// Detail wanted only when verbose.
    Detail(&'a str),
    /// Something the user should know although the command goes on.
    Warning(&'a str),
    /// A block of text shown as it is (a plan).
    Block(&'a str),
}

/// The answer to a question that needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// They typed `yes`.
    Yes,
    /// They answered anything else.
    No,
    /// There is no one to ask (not on a terminal).
    NoOneToAsk,
}

/// What the command line implements.
pub trait Reporter: Send + Sync {
    fn line(&self, line: Line<'_>);
    /// Whether [`Line::Detail`] is shown (so callers can skip building it).
    fn verbose(&self) -> bool;
    /// Progress of long work (a sync, emptying a bucket), counted through the handle.
    fn progress(&self, verb: &str, what: &str, total: Option<(u64, u64)>) -> Box<dyn Progress>;
    /// Ask `question` (what is at stake is already in it); only `yes` confirms.
    fn confirm(&self, question: &str) -> Confirmation;
    /// Where the output of a child process goes (`website.build`, the presigner's build);
    /// stdout is kept for results.
    fn child_output(&self) -> Stdio;
}

/// Counts long work as it is done.
pub trait Progress: Send + Sync {
    /// `objects` and `bytes` more are done.
    fn add(&self, objects: u64, bytes: u64);
    /// The work is over.
    fn finish(&self);
}

/// The reporter a run uses, with convenience methods that take anything printable.
#[derive(Clone)]
pub struct Report(Arc<dyn Reporter>);

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Report")
    }
}

impl Report {
    pub fn new(reporter: Arc<dyn Reporter>) -> Report {
        Report(reporter)
    }

    /// A reporter that shows nothing and can ask no one (tests, benchmarks).
    pub fn silent() -> Report {
        Report(Arc::new(Silent))
    }

    pub fn status(&self, verb: &str, what: impl Display) {
        self.0.line(Line::Status {
            verb,
            what: &what.to_string(),
        });
    }

    pub fn detail(&self, what: impl Display) {
        if self.0.verbose() {
            self.0.line(Line::Detail(&what.to_string()));
        }
    }

    pub fn warn(&self, what: impl Display) {
        self.0.line(Line::Warning(&what.to_string()));
    }

    pub fn block(&self, text: impl Display) {
        self.0.line(Line::Block(&text.to_string()));
    }

    pub fn verbose(&self) -> bool {
        self.0.verbose()
    }

    pub fn progress(&self, verb: &str, what: &str, total: Option<(u64, u64)>) -> Box<dyn Progress> {
        self.0.progress(verb, what, total)
    }

    pub fn confirm(&self, question: &str) -> Confirmation {
        self.0.confirm(question)
    }

    pub fn child_output(&self) -> Stdio {
        self.0.child_output()
    }
}

struct Silent;

impl Reporter for Silent {
    fn line(&self, _: Line<'_>) {}

    fn verbose(&self) -> bool {
        false
    }

    fn progress(&self, _: &str, _: &str, _: Option<(u64, u64)>) -> Box<dyn Progress> {
        Box::new(NoProgress)
    }

    fn confirm(&self, _: &str) -> Confirmation {
        Confirmation::NoOneToAsk
    }

    fn child_output(&self) -> Stdio {
        Stdio::null()
    }
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn add(&self, _: u64, _: u64) {}

    fn finish(&self) {}
}
