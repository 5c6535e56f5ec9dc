//! A signed-in user's folder, `<uploads_prefix><user>/` (SPEC.md section 6): the S3 calls the
//! presigner makes itself with `auth`, and the routes built on them.
//!
//! Each call is a presigned request (the same SigV4 query signing as the URLs handed out, for
//! [`CALL_SECONDS`]) sent through [`Io`], so the function needs no S3 SDK:
//! - ListObjectsV2 under the folder: `GET /files`, the usage of `GET /me`, the quota of
//!   `POST /uploads`, and whether a key exists for `DELETE /files`;
//! - DeleteObject for `DELETE /files`;
//! - CreateMultipartUpload, so that a client gets an upload ID and never a create URL it could
//!   use again;
//! - with the malware scan, GetObjectTagging: GuardDuty's verdict on a file to download, and on
//!   each file of a `GET /files` page (16 at once).
//!
//! Counting is bounded: a listing page holds 1,000 keys, and usage stops one file past the
//! limit, so a quota of `files` costs at most `files / 1000 + 1` requests
//! ([`count_requests`]).

use crate::api::{fail, rfc3339, ApiError};
use crate::auth::{Caller, MAX_QUOTA_FILES};
use crate::clock::truncate_to_second;
use crate::config::{Config, Credentials};
use crate::io::{Call, Io};
use crate::sign::{object_url, presign};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// The tag GuardDuty Malware Protection writes on a scanned object, and its clean value.
pub const SCAN_TAG: &str = "GuardDutyMalwareScanStatus";
pub const CLEAN: &str = "NO_THREATS_FOUND";
/// Tag reads in flight at once for one page of `GET /files`.
const TAG_READS_AT_ONCE: usize = 16;

/// Lifetime of the presigned requests the presigner sends itself.
pub const CALL_SECONDS: u64 = 60;
/// Keys in one page of `GET /files`.
pub const FILES_PAGE: u32 = 100;
/// Keys in one ListObjectsV2 page when counting (S3's largest).
pub const COUNT_PAGE: u32 = 1000;

/// What the calls need: where, as whom, when, and the way out.
pub(crate) struct S3<'a> {
    pub config: &'a Config,
    pub creds: &'a Credentials,
    pub now: SystemTime,
    pub io: &'a dyn Io,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub key: String,
    pub size: u64,
    /// As S3 wrote it (ISO 8601).
    pub last_modified: String,
}

/// One ListObjectsV2 page.
pub(crate) struct Page {
    pub objects: Vec<Object>,
    pub truncated: bool,
}

/// Usage of a folder, counted up to a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub bytes: u64,
    pub files: u64,
    /// False when counting stopped at the bound: there are more.
    pub complete: bool,
}

/// Requests it takes to count a folder against a limit of `files`.
pub fn count_requests(files: u64) -> u64 {
    files / u64::from(COUNT_PAGE) + 1
}

impl S3<'_> {
    fn signed(
        &self,
        method: &'static str,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&'static str, &str)],
    ) -> Result<Call, ApiError> {
        let t = truncate_to_second(self.now);
        let url = presign(
            method,
            &object_url(self.config, key),
            query,
            headers,
            self.creds,
            &self.config.region,
            t,
            Duration::from_secs(CALL_SECONDS),
        )
        .map_err(|e| {
            fail(
                500,
                format!("internal error: could not sign a call to S3 ({e})"),
            )
        })?;
        Ok(Call {
            method,
            url,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        })
    }

    /// Sends `call`; `what` names it for the error ("list your files").
    fn send(&self, call: &Call, what: &str) -> Result<Vec<u8>, ApiError> {
        let answer = self.io.send(call).map_err(|e| {
            fail(
                503,
                format!("could not {what}: S3 did not answer ({e}); try again shortly"),
            )
        })?;
        answered(answer, what)
    }

    /// One ListObjectsV2 page of keys under `prefix`, after `start_after`.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        max_keys: u32,
    ) -> Result<Page, ApiError> {
        let max = max_keys.to_string();
        let mut query = vec![
            ("list-type", "2"),
            ("max-keys", max.as_str()),
            ("prefix", prefix),
        ];
        if let Some(after) = start_after {
            query.push(("start-after", after));
        }
        let call = self.signed("GET", "", &query, &[])?;
        let body = self.send(&call, "list your files")?;
        parse_listing(&body).map_err(|e| {
            fail(
                500,
                format!("could not list your files: S3's answer cannot be read ({e})"),
            )
        })
    }

    /// Bytes and files under `folder`, counting at most `limit + 1` files.
    pub fn usage(&self, folder: &str, limit: u64) -> Result<Usage, ApiError> {
        let mut usage = Usage {
            bytes: 0,
            files: 0,
            complete: true,
        };
        let mut after: Option<String> = None;
        loop {
            let page = self.list(folder, after.as_deref(), COUNT_PAGE)?;
            for o in &page.objects {
                usage.bytes = usage.bytes.saturating_add(o.size);
                usage.files += 1;
            }
            if !page.truncated || page.objects.is_empty() {
                return Ok(usage);
            }
            if usage.files > limit {
                usage.complete = false;
                return Ok(usage);
            }
            after = page.objects.last().map(|o| o.key.clone());
        }
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, ApiError> {
        let page = self.list(key, None, 1)?;
        Ok(page.objects.first().is_some_and(|o| o.key == key))
    }

    /// The malware scan's verdict on `key` (its `GuardDutyMalwareScanStatus` tag); `None`
    /// while it has none. 404 when there is no such object.
    pub fn scan_status(&self, key: &str) -> Result<Option<String>, ApiError> {
        let call = self.signed("GET", key, &[("tagging", "")], &[])?;
        let answer = self.io.send(&call).map_err(|e| {
            fail(
                503,
                format!("could not read the file's scan status: S3 did not answer ({e}); try again shortly"),
            )
        })?;
        // S3 answers 403 for a key that does not exist to a caller who may not list it (the
        // presigner may list only with `auth`, and a tag read carries no prefix).
        let denied = answer.status == 403 && s3_error(&answer.body).0 == "AccessDenied";
        if answer.status == 404 || denied {
            return Err(fail(404, "no such file"));
        }
        let body = answered(answer, "read the file's scan status")?;
        let fields = flat_fields(&body).map_err(|e| {
            fail(
                500,
                format!("could not read the file's scan status: S3's answer cannot be read ({e})"),
            )
        })?;
        let mut key_seen = false;
        for (path, value) in fields {
            match path.as_str() {
                "Tagging/TagSet/Tag/Key" => key_seen = value == SCAN_TAG,
                "Tagging/TagSet/Tag/Value" if key_seen => return Ok(Some(value)),
                "Tagging/TagSet/Tag" => key_seen = false,
                _ => {}
            }
        }
        Ok(None)
    }

    /// The scan status of each key, read a few at a time: `pending` before the verdict, and
    /// `unknown` for a key whose tags could not be read (the page's Download asks again).
    pub fn scan_statuses(&self, keys: &[&str]) -> Vec<String> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(TAG_READS_AT_ONCE) {
            let got: Vec<String> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|k| scope.spawn(move || self.scan_status(k)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| match h.join() {
                        Ok(Ok(Some(status))) => status,
                        Ok(Ok(None)) => "pending".to_string(),
                        _ => "unknown".to_string(),
                    })
                    .collect()
            });
            out.extend(got);
        }
        out
    }

    pub fn delete(&self, key: &str) -> Result<(), ApiError> {
        let call = self.signed("DELETE", key, &[], &[])?;
        self.send(&call, "delete the file").map(|_| ())
    }

    /// CreateMultipartUpload with the content type fixed and SHA-256 checksums for every part;
    /// the upload ID S3 gave.
    pub fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, ApiError> {
        let headers = [
            ("content-type", content_type),
            ("x-amz-checksum-algorithm", "SHA256"),
        ];
        let call = self.signed("POST", key, &[("uploads", "")], &headers)?;
        let body = self.send(&call, "start the upload in parts")?;
        let fields = flat_fields(&body).map_err(|e| {
            fail(
                500,
                format!("could not start the upload in parts: S3's answer cannot be read ({e})"),
            )
        })?;
        fields
            .into_iter()
            .find(|(path, _)| path.ends_with("/UploadId"))
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                fail(
                    500,
                    "could not start the upload in parts: S3's answer has no UploadId",
                )
            })
    }
}

/// The body of a 2xx answer; otherwise the error in words: 503 for S3's own trouble (try
/// again), 500 for anything else.
fn answered(answer: crate::io::Answer, what: &str) -> Result<Vec<u8>, ApiError> {
    if (200..300).contains(&answer.status) {
        return Ok(answer.body);
    }
    let (code, message) = s3_error(&answer.body);

    let status = if answer.status >= 500 || code == "SlowDown" {
        503
    } else {
        500
    };
    let hint = if status == 503 {
        "; try again shortly"
    } else {
        ""
    };
    Err(fail(
        status,
        format!(
            "could not {what}: S3 answered HTTP {} {code}: {message}{hint}",
            answer.status
        ),
    ))
}

/// `(path, text)` of every element holding text, in document order; the path is the element
/// names from the root, joined with `/`.
fn flat_fields(xml: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("at byte {}: {e}", reader.error_position())),
            Ok(Event::Start(e)) => {
                path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Text(t)) => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let v = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?;
                    text.push_str(v);
                }
            }
            Ok(Event::End(_)) => {
                out.push((path.join("/"), std::mem::take(&mut text)));
                path.pop();
            }
            Ok(Event::Eof) => return Ok(out),
            Ok(Event::DocType(_)) => return Err("a DOCTYPE".into()),
            Ok(_) => {}
        }
    }
}

/// A ListObjectsV2 answer.
fn parse_listing(xml: &[u8]) -> Result<Page, String> {
    let mut page = Page {
        objects: Vec::new(),
        truncated: false,
    };
    let mut current: Option<Object> = None;
    for (path, value) in flat_fields(xml)? {
        match path.as_str() {
            "ListBucketResult/IsTruncated" => page.truncated = value == "true",
            "ListBucketResult/Contents/Key" => {
                current.get_or_insert_with(empty_object).key = value;
            }
            "ListBucketResult/Contents/Size" => {
                current.get_or_insert_with(empty_object).size = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("a Size of {value:?}"))?;
            }
            "ListBucketResult/Contents/LastModified" => {
                current.get_or_insert_with(empty_object).last_modified = value;
            }
            "ListBucketResult/Contents" => page.objects.extend(current.take()),
            _ => {}
        }
    }
    Ok(page)
}

fn empty_object() -> Object {
    Object {
        key: String::new(),
        size: 0,
        last_modified: String::new(),
    }
}

/// `Code` and `Message` of an S3 error body, or what can be said without them.
fn s3_error(body: &[u8]) -> (String, String) {
    let fields = flat_fields(body).unwrap_or_default();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(p, _)| p == &format!("Error/{name}"))
            .map(|(_, v)| v.chars().take(300).collect::<String>())
    };
    (
        get("Code").unwrap_or_else(|| "(no error code)".into()),
        get("Message").unwrap_or_default(),
    )
}

/// `GET /me`: who the caller is, their usage and their quota.
pub(crate) fn me(s3: &S3<'_>, caller: &Caller) -> Result<Value, ApiError> {
    let config = s3.config;
    let quota = config.auth.as_ref().and_then(|a| a.quota);
    let limit = quota.map_or(MAX_QUOTA_FILES, |q| q.files);
    let usage = s3.usage(&caller.folder(&config.uploads_prefix), limit)?;
    let mut usage_json = json!({"bytes": usage.bytes, "files": usage.files});
    if !usage.complete {
        // Counting stopped at the bound: these are lower limits.
        usage_json["complete"] = json!(false);
    }
    Ok(json!({
        "user": caller.user,
        "subject": caller.subject,
        "usage": usage_json,
        "quota": quota.map(|q| json!({"bytes": q.bytes, "files": q.files})),
    }))
}

/// `GET /files?cursor=C`: one page of the caller's files in key order. The cursor is the last
/// key of the page before, relative to the folder.
pub(crate) fn files(s3: &S3<'_>, caller: &Caller, cursor: Option<&str>) -> Result<Value, ApiError> {
    let folder = caller.folder(&s3.config.uploads_prefix);
    if let Some(c) = cursor {
        if c.is_empty() || c.len() > crate::api::MAX_KEY_BYTES || c.chars().any(char::is_control) {
            return Err(crate::api::bad_request(
                "cursor must be the cursor of the page before, as GET /files gave it",
            ));
        }
    }
    let after = cursor.map(|c| format!("{folder}{c}"));
    let page = s3.list(&folder, after.as_deref(), FILES_PAGE)?;
    let next = if page.truncated {
        page.objects
            .last()
            .and_then(|o| o.key.strip_prefix(folder.as_str()))
            .map(str::to_string)
    } else {
        None
    };
    let scans = if s3.config.malware_scan {
        let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        Some(s3.scan_statuses(&keys))
    } else {
        None
    };
    let files: Vec<Value> = page
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut file = json!({
                "key": o.key,
                "name": o.key.rsplit('/').next().unwrap_or(&o.key),
                "size": o.size,
                "lastModified": normalise_time(&o.last_modified),
            });
            if let Some(scans) = &scans {
                file["scan"] = json!(scans[i]);
            }
            file
        })
        .collect();
    Ok(json!({"files": files, "cursor": next}))
}

/// S3's `2026-12-07T06:00:00.000Z` as RFC 3339 without fractions, like `expiresAt`.
fn normalise_time(t: &str) -> String {
    crate::clock::UtcDateTime::parse_iso8601(t)
        .map(|secs| rfc3339(crate::clock::from_unix_seconds(secs)))
        .unwrap_or_else(|| t.to_string())
}
