//! The command line's [`Reporter`]: status lines on stderr, cargo-style (right-aligned verb),
//! silenced by `-q`; progress of long work rewritten on one line on a terminal (at most ten
//! times a second) and a plain line every ten seconds otherwise, none with `-q` or `--output
//! json`; questions asked on the terminal, only `yes` confirming. stdout is kept for results.

use std::io::{BufRead, IsTerminal, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::report::{Confirmation, Line, NoProgress, Progress, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

pub struct Terminal {
    pub verbosity: Verbosity,
    /// Whether long work may show progress (text output).
    pub progress: bool,
}

impl Reporter for Terminal {
    fn line(&self, line: Line<'_>) {
        let mut err = std::io::stderr().lock();
        let _ = match line {
            Line::Warning(what) => writeln!(err, "{:>12} {what}", "warning:"),
            _ if self.verbosity == Verbosity::Quiet => Ok(()),
            Line::Status { verb, what } => writeln!(err, "{verb:>12} {what}"),
            Line::Detail(what) => writeln!(err, "{:>12} {what}", ""),
            Line::Block(text) => writeln!(err, "{text}"),
        };
    }

    fn verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    fn progress(&self, verb: &str, what: &str, total: Option<(u64, u64)>) -> Box<dyn Progress> {
        if self.verbosity == Verbosity::Quiet || !self.progress {
            return Box::new(NoProgress);
        }
        Box::new(Bar {
            verb: verb.to_string(),
            what: what.to_string(),
            total,
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            start: Instant::now(),
            last: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        })
    }

    fn confirm(&self, question: &str) -> Confirmation {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Confirmation::NoOneToAsk;
        }
        let mut err = std::io::stderr().lock();
        let asked = writeln!(err, "{question}")
            .and_then(|()| write!(err, "Only 'yes' will be accepted to confirm: "))
            .and_then(|()| err.flush());
        drop(err);
        let mut line = String::new();
        match asked.and_then(|()| stdin.lock().read_line(&mut line)) {
            Ok(_) if line.trim() == "yes" => Confirmation::Yes,
            _ => Confirmation::No,
        }
    }

    fn child_output(&self) -> Stdio {
        Stdio::from(std::io::stderr())
    }
}

/// One piece of long work shown as it goes.
struct Bar {
    verb: String,
    what: String,
    /// Objects and bytes in all, when known.
    total: Option<(u64, u64)>,
    objects: AtomicU64,
    bytes: AtomicU64,
    start: Instant,
    last: Mutex<Option<Instant>>,
    tty: bool,
}

impl Progress for Bar {
    fn add(&self, objects: u64, bytes: u64) {
        self.objects.fetch_add(objects, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(10)
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let due = match *last {
            None => self.start.elapsed() >= every,
            Some(t) => t.elapsed() >= every,
        };
        if due {
            *last = Some(Instant::now());
            self.print(false);
        }
    }

    fn finish(&self) {
        let shown = self.last.lock().map(|l| l.is_some()).unwrap_or(true);
        if shown {
            self.print(true);
        }
    }
}

impl Bar {
    fn line(&self) -> String {
        let objects = self.objects.load(Relaxed);
        let bytes = self.bytes.load(Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let mb = |b: u64| b as f64 / 1e6;
        match self.total {
            Some((total_objects, total_bytes)) => {
                let rate = bytes as f64 / secs;
                let left = total_bytes.saturating_sub(bytes) as f64;
                let eta = if rate > 0.0 && bytes > 0 {
                    format!(", ETA {:.0}s", left / rate)
                } else {
                    String::new()
                };
                format!(
                    "{}: {objects}/{total_objects} objects, {:.1}/{:.1} MB, {:.1} MB/s{eta}",
                    self.what,
                    mb(bytes),
                    mb(total_bytes),
                    mb(bytes) / secs
                )
            }
            None => format!(
                "{}: {objects} done ({:.1} MB), {:.0}/s, {:.1} MB/s",
                self.what,
                mb(bytes),
                objects as f64 / secs,
                mb(bytes) / secs
            ),
        }
    }

    fn print(&self, last: bool) {
        let mut err = std::io::stderr().lock();
        let line = format!("{:>12} {}", self.verb, self.line());
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}
