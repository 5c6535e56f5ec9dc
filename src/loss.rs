//! Consent before loss: what a run would destroy that presign-stack did not write itself, and
//! the yes it needs first.
//!
//! Customer files live in the documents bucket; a foreign bucket taken over with `--adopt` may
//! hold objects of its owner's. Deleting either, or adopting a bucket that holds them, is shown
//! with what would be lost and goes ahead only after a yes: `--yes`, or `yes` typed on a
//! terminal. Objects the website sync wrote itself are replaced and removed without asking.

use std::fmt;

use anyhow::Result;
use serde::Serialize;

use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::report::Confirmation;

/// Listing stops after this many versions; the count then says "at least".
const MAX_COUNTED_VERSIONS: u64 = 100_000;

/// When a step that loses data runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// `up --prune`: an orphan (or the old half of a rename) is deleted.
    Prune,
    /// `up --adopt`: a bucket presign-stack did not create is taken over.
    Adopt,
    /// `down`.
    Down,
}

/// Data presign-stack did not write that one step would destroy, or put at risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    pub when: When,
    /// The step, as shown: "delete documents bucket x".
    pub step: String,
    pub bucket: String,
    /// Current objects.
    pub objects: u64,
    /// Every stored version and delete marker (equal to `objects` without versioning).
    pub versions: u64,
    pub bytes: u64,
    /// False when counting stopped early: the bucket holds at least this much.
    pub complete: bool,
    /// What happens to the data, when it is not simply deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Loss {
    /// "5 objects (7 versions, 2.0 KiB)".
    pub fn amount(&self) -> String {
        let at_least = if self.complete { "" } else { "at least " };
        format!(
            "{at_least}{} object{} ({} version{}, {})",
            self.objects,
            if self.objects == 1 { "" } else { "s" },
            self.versions,
            if self.versions == 1 { "" } else { "s" },
            human_bytes(self.bytes)
        )
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.amount())?;
        if let Some(note) = &self.note {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}

/// What a bucket holds, counted from ListObjectVersions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contents {
    pub objects: u64,
    pub versions: u64,
    pub bytes: u64,
    pub complete: bool,
}

impl Contents {
    pub fn is_empty(&self) -> bool {
        self.versions == 0
    }

    pub fn loss(self, when: When, step: String, bucket: &str) -> Loss {
        Loss {
            when,
            step,
            bucket: bucket.to_string(),
            objects: self.objects,
            versions: self.versions,
            bytes: self.bytes,
            complete: self.complete,
            note: None,
        }
    }
}

/// Count a bucket's objects, versions and delete markers, and their bytes. A bucket that is
/// gone holds nothing.
pub async fn contents(ctx: &Ctx, bucket: &str) -> Result<Contents> {
    let mut c = Contents {
        complete: true,
        ..Contents::default()
    };
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = match ctx
            .aws
            .s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if code_in(&e, &["NoSuchBucket"]) => return Ok(Contents::default()),
            Err(e) => return Err(aws_err(format!("counting the objects in {bucket}"), e)),
        };
        for v in page.versions() {
            c.versions += 1;
            c.bytes += v.size().unwrap_or(0).max(0) as u64;
            if v.is_latest() != Some(false) {
                c.objects += 1;
            }
        }
        c.versions += page.delete_markers().len() as u64;
        if page.is_truncated() != Some(true) {
            return Ok(c);
        }
        if c.versions >= MAX_COUNTED_VERSIONS {
            c.complete = false;
            return Ok(c);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Ask before `what` is done: `yes` given, or `yes` typed at the terminal. Otherwise an error
/// that says how to go on, before anything was written.
pub fn consent(ctx: &Ctx, what: &str, items: &[String], yes: bool, how: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    let list = items
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let at = format!(
        "{what}, in {} (account {}):\n{list}",
        ctx.region, ctx.account
    );
    match ctx.report.confirm(&format!("{at}\nThere is no undo.")) {
        Confirmation::Yes => Ok(()),
        Confirmation::No => anyhow::bail!("cancelled; nothing was changed"),
        Confirmation::NoOneToAsk => anyhow::bail!("{at}\nNothing was changed. {how}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn a_loss_says_what_is_lost_and_when_the_count_is_partial() {
        let c = Contents {
            objects: 5,
            versions: 7,
            bytes: 2048,
            complete: true,
        };
        let l = c.loss(When::Prune, "delete documents bucket old".into(), "old");
        assert_eq!(
            l.to_string(),
            "delete documents bucket old: 5 objects (7 versions, 2.0 KiB)"
        );
        let l = Contents {
            complete: false,
            objects: 1,
            versions: 1,
            ..c
        }
        .loss(When::Down, "delete x".into(), "x");
        assert_eq!(
            l.to_string(),
            "delete x: at least 1 object (1 version, 2.0 KiB)"
        );
    }
}
