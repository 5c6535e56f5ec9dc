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

static PROGRESS_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether long work may show progress: text output, not `-q` (set once by the CLI).
pub fn allow_progress(on: bool) {
    PROGRESS_ALLOWED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Progress of long work (a sync, emptying a bucket) on stderr: on a terminal one line
/// rewritten at most ten times a second; otherwise a plain line every ten seconds. Nothing
/// with `-q` or `--output json`.
pub struct Progress {
    inner: Option<std::sync::Arc<ProgressInner>>,
}

struct ProgressInner {
    verb: String,
    what: String,
    /// Objects and bytes in all, when known.
    total: Option<(u64, u64)>,
    objects: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    start: std::time::Instant,
    last: std::sync::Mutex<Option<std::time::Instant>>,
    tty: bool,
}

impl Progress {
    pub fn start(report: Reporter, verb: &str, what: String, total: Option<(u64, u64)>) -> Self {
        use std::io::IsTerminal;
        let on = report.verbosity != Verbosity::Quiet
            && PROGRESS_ALLOWED.load(std::sync::atomic::Ordering::Relaxed);
        Progress {
            inner: on.then(|| {
                std::sync::Arc::new(ProgressInner {
                    verb: verb.to_string(),
                    what,
                    total,
                    objects: Default::default(),
                    bytes: Default::default(),
                    start: std::time::Instant::now(),
                    last: std::sync::Mutex::new(None),
                    tty: std::io::stderr().is_terminal(),
                })
            }),
        }
    }

    /// Count `objects` and `bytes` more as done.
    pub fn add(&self, objects: u64, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(p) = &self.inner else { return };
        p.objects.fetch_add(objects, Relaxed);
        p.bytes.fetch_add(bytes, Relaxed);
        let every = if p.tty {
            std::time::Duration::from_millis(100)
        } else {
            std::time::Duration::from_secs(10)
        };
        let mut last = p.last.lock().unwrap_or_else(|e| e.into_inner());
        let due = match *last {
            None => p.start.elapsed() >= every,
            Some(t) => t.elapsed() >= every,
        };
        if due {
            *last = Some(std::time::Instant::now());
            p.print(false);
        }
    }

    /// The last line (on a terminal, the line is then ended).
    pub fn finish(&self) {
        let Some(p) = &self.inner else { return };
        let shown = p.last.lock().map(|l| l.is_some()).unwrap_or(true);
        if shown {
            p.print(true);
        }
    }
}

impl ProgressInner {
    fn line(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
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
