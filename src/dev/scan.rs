//! dev's stand-in for GuardDuty Malware Protection for S3 (`documents.malware_scan`, SPEC
//! section 9): an upload under the uploads prefix is "scanned" a second after it was written
//! (so the page's waiting state is seen): a file holding the EICAR test string is
//! `THREATS_FOUND`, any other `NO_THREATS_FOUND`. The verdict is GuardDuty's tag, which the
//! store answers `GET ?tagging` with, and the store refuses a GET or HEAD of an upload whose
//! tag is not `NO_THREATS_FOUND` (403 AccessDenied), as the bucket policy does on AWS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hyper::StatusCode;
use tokio::io::AsyncReadExt;

use super::objects::Meta;
use super::s3::{internal, s3_err, xml_escape, S3Error, S3_XMLNS};

/// The EICAR anti-virus test file's 68 characters: every scanner reports it as malware.
pub const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// How long a scan takes here, unless `PRESIGN_STACK_DEV_SCAN_MS` says otherwise.
pub const SCAN_TIME: Duration = Duration::from_secs(1);
/// The variable that sets how long dev's scan takes, in milliseconds.
pub const SCAN_TIME_VAR: &str = "PRESIGN_STACK_DEV_SCAN_MS";
pub const SCAN_TAG: &str = "GuardDutyMalwareScanStatus";
pub const CLEAN: &str = "NO_THREATS_FOUND";
pub const THREATS: &str = "THREATS_FOUND";

/// Bytes read at a time while looking for the test string.
const CHUNK: usize = 1 << 20;

pub struct Scanner {
    prefix: String,
    time: Duration,
    /// Verdicts already reached, by key, with the ETag of the object they were reached on.
    verdicts: Mutex<HashMap<String, (String, &'static str)>>,
}

impl Scanner {
    /// A scanner of the uploads under `uploads_prefix`, each scan taking `time`.
    pub fn new(uploads_prefix: &str, time: Duration) -> Scanner {
        Scanner {
            prefix: uploads_prefix.to_string(),
            time,
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether GuardDuty would scan `key` (the plan covers the uploads prefix only).
    pub fn covers(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    /// The verdict on the object `file` holds, written at `written`; `None` while it is being
    /// scanned. Reads `file` from wherever it stands: the caller seeks afterwards.
    pub async fn verdict(
        &self,
        meta: &Meta,
        file: &mut tokio::fs::File,
        written: SystemTime,
    ) -> Result<Option<&'static str>, S3Error> {
        let cached = self.verdicts.lock().ok().and_then(|v| {
            v.get(&meta.key)
                .filter(|(etag, _)| *etag == meta.etag)
                .map(|(_, verdict)| *verdict)
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let age = SystemTime::now()
            .duration_since(written)
            .unwrap_or(Duration::ZERO);
        if age < self.time {
            return Ok(None);
        }
        let verdict = if holds_eicar(file).await? {
            THREATS
        } else {
            CLEAN
        };
        if let Ok(mut v) = self.verdicts.lock() {
            v.insert(meta.key.clone(), (meta.etag.clone(), verdict));
        }
        Ok(Some(verdict))
    }
}

/// How long a scan takes: `PRESIGN_STACK_DEV_SCAN_MS`, else a second.
pub fn scan_time() -> anyhow::Result<Duration> {
    match std::env::var(SCAN_TIME_VAR) {
        Err(_) => Ok(SCAN_TIME),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| {
                anyhow::anyhow!(
                    "{SCAN_TIME_VAR}={v:?} is not a number of milliseconds; set it to how long \
                 dev's malware scan should take (such as 1000), or unset it"
                )
            }),
    }
}

/// Whether the file holds the EICAR test string anywhere.
async fn holds_eicar(file: &mut tokio::fs::File) -> Result<bool, S3Error> {
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + EICAR.len());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| internal("scanning the object", e))?;
        if n == 0 {
            return Ok(false);
        }
        window.extend_from_slice(&buf[..n]);
        if window.windows(EICAR.len()).any(|w| w == EICAR) {
            return Ok(true);
        }
        // Keep the tail: the string may straddle two reads.
        let keep = window.len().min(EICAR.len() - 1);
        window.drain(..window.len() - keep);
    }
}

/// The refusal of a read before the scan said clean, as the bucket policy refuses it.
pub fn held_back(verdict: Option<&str>) -> S3Error {
    s3_err(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!(
            "Access Denied: the documents bucket's policy holds an upload back until its \
             malware scan tags it {CLEAN} (this one: {})",
            verdict.unwrap_or("not scanned yet")
        ),
    )
}

/// GetObjectTagging's answer: GuardDuty's tag once there is a verdict, else no tag.
pub fn tagging_xml(verdict: Option<&str>) -> String {
    let tags = verdict
        .map(|v| {
            format!(
                "<Tag><Key>{SCAN_TAG}</Key><Value>{}</Value></Tag>",
                xml_escape(v)
            )
        })
        .unwrap_or_default();
    format!("<Tagging xmlns=\"{S3_XMLNS}\"><TagSet>{tags}</TagSet></Tagging>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_test_string_is_found_wherever_it_lies() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("plain", EICAR.to_vec()),
            ("straddling", {
                let mut b = vec![b'a'; CHUNK - 10];
                b.extend_from_slice(EICAR);
                b
            }),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let mut f = tokio::fs::File::open(&path).await.unwrap();
            assert!(holds_eicar(&mut f).await.unwrap(), "{name}");
        }
        let path = dir.path().join("clean");
        std::fs::write(&path, &EICAR[..60]).unwrap();
        let mut f = tokio::fs::File::open(&path).await.unwrap();
        assert!(!holds_eicar(&mut f).await.unwrap());
    }
}
