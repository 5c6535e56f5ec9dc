//! Uploads in parts in the dev store, as S3 answers them: CreateMultipartUpload (`POST
//! ?uploads`), UploadPart (`PUT ?partNumber=N&uploadId=U`), CompleteMultipartUpload (`POST
//! ?uploadId=U` with the XML parts list), AbortMultipartUpload (`DELETE ?uploadId=U`) and
//! ListParts (`GET ?uploadId=U`). Every request is presigned and checked like a PUT.
//!
//! An upload lives on disk in `<data dir>/s3-uploads/<bucket>/<SHA-256 of its id>/`, so it
//! survives a restart of dev: `upload.json` (key, content type, checksum algorithm) and, per
//! part, `part-NNNNN` with its `part-NNNNN.json` (ETag, size, SHA-256). File names come from
//! hashes and validated part numbers, never from the client's text. A part is received into
//! the store's `tmp/` and moved into its upload under the upload's lock, which completing and
//! aborting hold too: a part replaced meanwhile is either in the object whole or not at all.
//! Completing copies the parts into one temporary file (the kernel copies, nothing is held in
//! memory), then moves it into place as a PUT does, `If-None-Match: *` decided under the same
//! lock as the move.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result};
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::http::{empty, header, note, set, Body};
use super::objects::{Meta, Objects, TempFile};
use super::parts_list::{malformed_xml, parse_complete, AskedPart};
use super::s3::part_number;
use super::s3::{
    b64, check_sha256, checksum_sha256, content_length, drain, if_none_match, internal,
    precondition_failed, s3_err, xml_escape, xml_response, S3Error, S3_XMLNS,
};
use presigner::{MAX_OBJECT_BYTES, MAX_PART_BYTES, MIN_PART_BYTES};

/// Largest CompleteMultipartUpload body read: 10,000 parts with ETag and SHA-256 take about
/// 1.6 MB.
pub const MAX_COMPLETE_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most parts one ListParts answer lists, as S3.
const MAX_LIST_PARTS: usize = 1000;
const UPLOAD_FILE: &str = "upload.json";

/// The upload a request names: the object key from its path and `uploadId` from its query.
pub struct Upload<'a> {
    pub key: &'a str,
    pub id: &'a str,
}

/// `upload.json`.
#[derive(Debug, Serialize, Deserialize)]
struct UploadMeta {
    key: String,
    upload_id: String,
    content_type: String,
    /// Created with `x-amz-checksum-algorithm: SHA256`: every part must carry its SHA-256.
    checksum_sha256: bool,
}

/// `part-NNNNN.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartMeta {
    /// Hex MD5, without quotes.
    etag: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum_sha256: Option<String>,
}

fn part_name(n: u32) -> String {
    format!("part-{n:05}")
}

fn no_such_upload() -> S3Error {
    s3_err(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.",
    )
}

/// A fresh upload ID: 32 random bytes, URL-safe base64 (no characters a query must encode).
fn new_upload_id() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn last_modified(t: SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Removes upload folders whose create was cut short (no `upload.json`): only folders of the
/// names the store gives them (64 hex digits).
fn clear_unfinished_creates(uploads: &Path) -> Result<()> {
    for entry in std::fs::read_dir(uploads)
        .with_context(|| format!("reading the dev store's folder {}", uploads.display()))?
    {
        let entry = entry.with_context(|| format!("reading {}", uploads.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        let path = entry.path();
        if ours && entry.file_type().is_ok_and(|t| t.is_dir()) && !path.join(UPLOAD_FILE).exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("clearing an unfinished upload {}", path.display()))?;
        }
    }
    Ok(())
}

/// Reads a small request body whole: more than `limit` bytes is S3's MaxMessageLengthExceeded.
async fn read_small_body(req: Request<Incoming>, limit: usize) -> Result<Vec<u8>, S3Error> {
    let too_big = || {
        s3_err(
            StatusCode::BAD_REQUEST,
            "MaxMessageLengthExceeded",
            format!("Your request was too big (more than {limit} bytes)."),
        )
    };
    if header(&req, "content-length")
        .and_then(|l| l.parse::<u64>().ok())
        .is_some_and(|l| l > limit as u64)
    {
        return Err(too_big());
    }
    let mut body = req.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            s3_err(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!("The request body ended early ({e})."),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(too_big());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The uploads in parts to one bucket.
pub struct Uploads {
    /// `<data dir>/s3-uploads/<bucket>/`: one folder per upload.
    dir: PathBuf,
    /// One lock per upload folder, held while its parts change or are read together.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Uploads {
    /// Opens (creating) the uploads folder of `bucket` under `data_dir`. Uploads in progress
    /// are kept, as S3 keeps them; a create cut short is removed.
    pub(super) fn open(data_dir: &Path, bucket: &str) -> Result<Uploads> {
        let dir = data_dir.join("s3-uploads").join(bucket);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the dev store's folder {}", dir.display()))?;
        clear_unfinished_creates(&dir)?;
        Ok(Uploads {
            dir,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The folder of upload `id`, and its name (the lock's key).
    fn upload_dir(&self, id: &str) -> (String, PathBuf) {
        let name = hex::encode(Sha256::digest(id.as_bytes()));
        let dir = self.dir.join(&name);
        (name, dir)
    }

    fn upload_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    fn forget_lock(&self, name: &str) {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.remove(name);
    }

    /// The upload `up` names, or NoSuchUpload: unknown, finished, or made for another key.
    async fn load_upload(&self, up: &Upload<'_>) -> Result<(PathBuf, UploadMeta), S3Error> {
        if up.id.is_empty() {
            return Err(no_such_upload());
        }
        let (_, dir) = self.upload_dir(up.id);
        let meta: UploadMeta = match tokio::fs::read(dir.join(UPLOAD_FILE)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| internal("reading the upload's record", e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(internal("reading the upload's record", e)),
        };
        if meta.upload_id != up.id || meta.key != up.key {
            return Err(no_such_upload());
        }
        Ok((dir, meta))
    }

    /// The parts stored for an upload, by number, with when each was stored.
    async fn read_parts(
        &self,
        dir: &Path,
    ) -> Result<BTreeMap<u32, (PartMeta, SystemTime)>, S3Error> {
        let mut parts = BTreeMap::new();
        let mut entries = tokio::fs::read_dir(dir)
            .await
            .map_err(|e| internal("listing the upload's parts", e))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| internal("listing the upload's parts", e))?
        {
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|n| n.len() == 5)
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let bytes = tokio::fs::read(entry.path())
                .await
                .map_err(|e| internal("reading a part's record", e))?;
            let meta: PartMeta = serde_json::from_slice(&bytes)
                .map_err(|e| internal("reading a part's record", e))?;
            let modified = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            parts.insert(n, (meta, modified));
        }
        Ok(parts)
    }

    /// CreateMultipartUpload: records key, content type and checksum algorithm under a fresh
    /// upload ID.
    pub(super) async fn create_upload(
        &self,
        objects: &Objects,
        req: Request<Incoming>,
        key: &str,
    ) -> Result<Response<Body>, S3Error> {
        let checksum = match header(&req, "x-amz-checksum-algorithm") {
            None => false,
            Some(a) if a.trim().eq_ignore_ascii_case("SHA256") => true,
            Some(a) => {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    format!(
                        "The dev store supports x-amz-checksum-algorithm SHA256 only, not {:?}.",
                        a.chars().take(32).collect::<String>()
                    ),
                ))
            }
        };
        match header(&req, "x-amz-checksum-type") {
            None => {}
            Some(t) if t.trim().eq_ignore_ascii_case("COMPOSITE") && checksum => {}
            Some(_) => {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "The dev store supports x-amz-checksum-type COMPOSITE only, with \
                     x-amz-checksum-algorithm SHA256.",
                ))
            }
        }
        let content_type = header(&req, "content-type")
            .unwrap_or("binary/octet-stream")
            .to_string();
        drain(req.into_body()).await;

        let id = new_upload_id();
        let (_, dir) = self.upload_dir(&id);
        tokio::fs::create_dir(&dir)
            .await
            .map_err(|e| internal("creating the upload", e))?;
        let meta = UploadMeta {
            key: key.to_string(),
            upload_id: id.clone(),
            content_type,
            checksum_sha256: checksum,
        };
        let mut record = TempFile::new(&objects.tmp, ".json");
        let json = serde_json::to_vec(&meta).map_err(|e| internal("creating the upload", e))?;
        tokio::fs::write(record.path(), json)
            .await
            .map_err(|e| internal("creating the upload", e))?;
        record
            .rename(&dir.join(UPLOAD_FILE))
            .await
            .map_err(|e| internal("creating the upload", e))?;

        let mut r = xml_response(format!(
            "<InitiateMultipartUploadResult xmlns=\"{S3_XMLNS}\"><Bucket>{}</Bucket>\
             <Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
            xml_escape(&objects.bucket),
            xml_escape(key),
        ));
        if checksum {
            set(&mut r, "x-amz-checksum-algorithm", "SHA256");
            set(&mut r, "x-amz-checksum-type", "COMPOSITE");
        }
        note(&mut r, format!("created an upload in parts for {key}"));
        Ok(r)
    }

    /// UploadPart: the body, of exactly its Content-Length, checked against its SHA-256 and
    /// stored as part `number`, replacing an earlier body of that number.
    pub(super) async fn upload_part(
        &self,
        objects: &Objects,
        req: Request<Incoming>,
        up: &Upload<'_>,
        number: &str,
    ) -> Result<Response<Body>, S3Error> {
        if up.id.is_empty() || number.is_empty() {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "UploadPart takes both partNumber and uploadId.",
            ));
        }
        let n = part_number(number)?;
        let length = content_length(&req, MAX_PART_BYTES, "part")?;
        let expected_sha = checksum_sha256(&req)?;
        // Refusals before the body is read still read it, so that a client sending it hears
        // the refusal rather than a broken connection. Its length is the signed one.
        let upload = match self.load_upload(up).await {
            Ok((_, meta)) => meta,
            Err(e) => {
                drain(req.into_body()).await;
                return Err(e);
            }
        };
        if upload.checksum_sha256 && expected_sha.is_none() {
            drain(req.into_body()).await;
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "x-amz-checksum-sha256 is required: this upload was created with \
                 x-amz-checksum-algorithm SHA256, so every part must carry its SHA-256.",
            ));
        }
        let mut got = objects
            .receive(req.into_body(), length, expected_sha.is_some())
            .await?;
        let checksum = check_sha256(expected_sha, got.sha256)?;
        let part = PartMeta {
            etag: hex::encode(got.md5),
            size: got.size,
            checksum_sha256: checksum,
        };
        let mut record = TempFile::new(&objects.tmp, ".json");
        let json = serde_json::to_vec(&part).map_err(|e| internal("recording the part", e))?;
        tokio::fs::write(record.path(), json)
            .await
            .map_err(|e| internal("recording the part", e))?;

        let (name, _) = self.upload_dir(up.id);
        let lock = self.upload_lock(&name);
        let _held = lock.lock().await;
        // Aborted or completed while the body was coming in: the part goes nowhere.
        let (dir, _) = self.load_upload(up).await?;
        got.file
            .rename(&dir.join(part_name(n)))
            .await
            .map_err(|e| internal("storing the part", e))?;
        record
            .rename(&dir.join(format!("{}.json", part_name(n))))
            .await
            .map_err(|e| internal("recording the part", e))?;

        let mut r = empty(StatusCode::OK);
        set(&mut r, "etag", &format!("\"{}\"", part.etag));
        if let Some(sha) = &part.checksum_sha256 {
            set(&mut r, "x-amz-checksum-sha256", sha);
        }
        note(
            &mut r,
            format!(
                "stored part {n} of an upload to {} ({} bytes)",
                up.key, part.size
            ),
        );
        Ok(r)
    }

    /// CompleteMultipartUpload: checks the parts list against the parts stored, joins them
    /// into the object and ends the upload.
    pub(super) async fn complete_upload(
        &self,
        objects: &Objects,
        req: Request<Incoming>,
        up: &Upload<'_>,
    ) -> Result<Response<Body>, S3Error> {
        let create_only = if_none_match(&req)?;
        let host = header(&req, "host").unwrap_or("localhost").to_string();
        let body = read_small_body(req, MAX_COMPLETE_BODY_BYTES).await?;
        // Checked first, and again as the object is moved in: a complete sent again after it
        // succeeded finds the object it made.
        if create_only && objects.exists(up.key).await? {
            return Err(precondition_failed());
        }
        let text = std::str::from_utf8(&body).map_err(|_| malformed_xml("not UTF-8"))?;
        let asked = parse_complete(text)?;

        let (name, _) = self.upload_dir(up.id);
        let lock = self.upload_lock(&name);
        let held = lock.lock().await;
        let (dir, upload) = self.load_upload(up).await?;
        let stored = self.read_parts(&dir).await?;
        let chosen = check_parts(&asked, &stored, upload.checksum_sha256)?;

        // Join the parts in the kernel (copy_file_range), off the async threads.
        let mut data = TempFile::new(&objects.tmp, "");
        let (out, from) = (data.path().to_path_buf(), dir.clone());
        let sources: Vec<(u32, u64)> = chosen.iter().map(|p| (p.0, p.1.size)).collect();
        let joined = tokio::task::spawn_blocking(move || join_parts(&out, &from, &sources))
            .await
            .map_err(|e| internal("joining the parts", e))?
            .map_err(|e| internal("joining the parts", e))?;

        let count = chosen.len();
        let mut md5s = Md5::new();
        let mut shas = Sha256::new();
        for (_, part) in &chosen {
            let md5 = hex::decode(&part.etag).map_err(|e| internal("reading a part's ETag", e))?;
            md5s.update(md5);
            if let Some(sha) = &part.checksum_sha256 {
                let sha = base64::engine::general_purpose::STANDARD
                    .decode(sha)
                    .map_err(|e| internal("reading a part's SHA-256", e))?;
                shas.update(sha);
            }
        }
        let meta = Meta {
            key: up.key.to_string(),
            content_type: upload.content_type.clone(),
            etag: format!("{}-{count}", hex::encode(md5s.finalize())),
            size: joined,
            checksum_sha256: upload
                .checksum_sha256
                .then(|| format!("{}-{count}", b64(&shas.finalize()))),
        };
        objects.commit_object(&mut data, &meta, create_only).await?;
        let removed = tokio::fs::remove_dir_all(&dir).await;
        drop(held);
        self.forget_lock(&name);

        let checksum = meta
            .checksum_sha256
            .as_deref()
            .map(|c| {
                format!(
                    "<ChecksumSHA256>{c}</ChecksumSHA256><ChecksumType>COMPOSITE</ChecksumType>"
                )
            })
            .unwrap_or_default();
        let location = format!(
            "http://{host}/{}/{}",
            objects.bucket,
            presigner::encode_key_path(up.key)
        );
        let mut r = xml_response(format!(
            "<CompleteMultipartUploadResult xmlns=\"{S3_XMLNS}\"><Location>{}</Location>\
             <Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag>{checksum}\
             </CompleteMultipartUploadResult>",
            xml_escape(&location),
            xml_escape(&objects.bucket),
            xml_escape(up.key),
            xml_escape(&format!("\"{}\"", meta.etag)),
        ));
        let mut said = format!("stored {} ({} bytes in {count} parts)", up.key, meta.size);
        if let Err(e) = removed {
            said.push_str(&format!("; its parts could not be removed: {e}"));
        }
        note(&mut r, said);
        Ok(r)
    }

    /// AbortMultipartUpload: removes the upload and its parts.
    pub(super) async fn abort_upload(
        &self,
        req: Request<Incoming>,
        up: &Upload<'_>,
    ) -> Result<Response<Body>, S3Error> {
        drain(req.into_body()).await;
        let (name, _) = self.upload_dir(up.id);
        let lock = self.upload_lock(&name);
        let held = lock.lock().await;
        let (dir, _) = self.load_upload(up).await?;
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(|e| internal("removing the upload", e))?;
        drop(held);
        self.forget_lock(&name);
        let mut r = empty(StatusCode::NO_CONTENT);
        note(&mut r, format!("aborted an upload in parts to {}", up.key));
        Ok(r)
    }

    /// ListParts: the parts stored, in order, from `part-number-marker`, at most `max-parts`.
    pub(super) async fn list_parts(
        &self,
        objects: &Objects,
        up: &Upload<'_>,
        max_parts: Option<&str>,
        marker: Option<&str>,
    ) -> Result<Response<Body>, S3Error> {
        let number = |raw: Option<&str>, name: &str, default: usize| match raw {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    s3_err(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        format!("Provided {name} not an integer or within integer range"),
                    )
                }),
        };
        let max = number(max_parts, "max-parts", MAX_LIST_PARTS)?.min(MAX_LIST_PARTS);
        let marker = number(marker, "part-number-marker", 0)?;
        let (name, _) = self.upload_dir(up.id);
        let lock = self.upload_lock(&name);
        let _held = lock.lock().await;
        let (dir, upload) = self.load_upload(up).await?;
        let stored = self.read_parts(&dir).await?;
        let after: Vec<_> = stored
            .iter()
            .filter(|(n, _)| **n as usize > marker)
            .collect();
        let truncated = after.len() > max;
        let shown = &after[..after.len().min(max)];
        let mut xml = format!(
            "<ListPartsResult xmlns=\"{S3_XMLNS}\"><Bucket>{}</Bucket><Key>{}</Key>\
             <UploadId>{}</UploadId><PartNumberMarker>{marker}</PartNumberMarker>\
             <NextPartNumberMarker>{}</NextPartNumberMarker><MaxParts>{max}</MaxParts>\
             <IsTruncated>{truncated}</IsTruncated>",
            xml_escape(&objects.bucket),
            xml_escape(up.key),
            xml_escape(up.id),
            shown.last().map_or(0, |(n, _)| **n),
        );
        for (n, (part, modified)) in shown {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><LastModified>{}</LastModified>\
                 <ETag>&quot;{}&quot;</ETag><Size>{}</Size>",
                last_modified(*modified),
                part.etag,
                part.size
            ));
            if let Some(sha) = &part.checksum_sha256 {
                xml.push_str(&format!("<ChecksumSHA256>{sha}</ChecksumSHA256>"));
            }
            xml.push_str("</Part>");
        }
        xml.push_str("<StorageClass>STANDARD</StorageClass>");
        if upload.checksum_sha256 {
            xml.push_str(
                "<ChecksumAlgorithm>SHA256</ChecksumAlgorithm><ChecksumType>COMPOSITE\
                 </ChecksumType>",
            );
        }
        xml.push_str("</ListPartsResult>");
        let mut r = xml_response(xml);
        note(&mut r, format!("listed {} parts", shown.len()));
        Ok(r)
    }
}

/// The stored parts a CompleteMultipartUpload list names, checked as S3 checks them: in
/// ascending order, each stored with that ETag (and SHA-256), all but the last at least 5 MiB.
fn check_parts(
    asked: &[AskedPart],
    stored: &BTreeMap<u32, (PartMeta, SystemTime)>,
    checksum: bool,
) -> Result<Vec<(u32, PartMeta)>, S3Error> {
    if asked.is_empty() {
        return Err(malformed_xml("the list names no Part"));
    }
    if asked.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part \
             number.",
        ));
    }
    let invalid_part = |why: String| {
        s3_err(
            StatusCode::BAD_REQUEST,
            "InvalidPart",
            format!(
                "One or more of the specified parts could not be found. The part may not have \
                 been uploaded, or the specified entity tag may not match the part's entity \
                 tag ({why})."
            ),
        )
    };
    let mut chosen = Vec::with_capacity(asked.len());
    let mut total: u64 = 0;
    for (i, a) in asked.iter().enumerate() {
        let n = a.number;
        let Some((part, _)) = stored.get(&n) else {
            return Err(invalid_part(format!("part {n} was not uploaded")));
        };
        let etag = a.etag.trim();
        let etag = etag
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or(etag);
        if !etag.eq_ignore_ascii_case(&part.etag) {
            return Err(invalid_part(format!("part {n}'s ETag is not {etag:?}")));
        }
        match (&a.checksum_sha256, &part.checksum_sha256) {
            (None, _) if checksum => {
                return Err(s3_err(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    format!(
                        "The upload was created using a sha256 checksum. The complete request \
                         must include the checksum for each part. It was missing for part {n} \
                         in the request."
                    ),
                ))
            }
            (Some(given), stored) if Some(given) != stored.as_ref() => {
                return Err(invalid_part(format!("part {n}'s SHA-256 is not {given:?}")))
            }
            _ => {}
        }
        if i + 1 < asked.len() && part.size < MIN_PART_BYTES {
            return Err(s3_err(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                format!(
                    "Your proposed upload is smaller than the minimum allowed size: part {n} \
                     has {} bytes, and every part but the last needs {MIN_PART_BYTES}.",
                    part.size
                ),
            ));
        }
        total += part.size;
        chosen.push((n, part.clone()));
    }
    if total > MAX_OBJECT_BYTES {
        return Err(s3_err(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size (5 TiB).",
        ));
    }
    Ok(chosen)
}

/// Copies the parts, in order, into a new file at `out`; the bytes written.
fn join_parts(out: &Path, dir: &Path, parts: &[(u32, u64)]) -> std::io::Result<u64> {
    let mut file = std::fs::File::create(out)?;
    let mut total = 0;
    for (n, size) in parts {
        let mut part = std::fs::File::open(dir.join(part_name(*n)))?;
        let copied = std::io::copy(&mut part, &mut file)?;
        if copied != *size {
            return Err(std::io::Error::other(format!(
                "part {n} holds {copied} bytes, its record says {size}"
            )));
        }
        total += copied;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, etag: &str, sha: Option<&str>) -> AskedPart {
        AskedPart {
            number,
            etag: etag.into(),
            checksum_sha256: sha.map(str::to_string),
        }
    }

    #[test]
    fn a_parts_list_is_read_as_s3_reads_it() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  \
            <Part><ChecksumSHA256>abc=</ChecksumSHA256><ETag>&quot;aa&quot;</ETag>\
            <PartNumber>1</PartNumber></Part>\n  <!-- a comment -->\
            <Part><PartNumber> 2 </PartNumber><ETag>\"bb\"</ETag><ChecksumCRC32>x</ChecksumCRC32>\
            <Other/></Part></CompleteMultipartUpload>\n";
        assert_eq!(
            parse_complete(xml).unwrap(),
            [part(1, "\"aa\"", Some("abc=")), part(2, "\"bb\"", None)]
        );
        assert_eq!(
            parse_complete("<CompleteMultipartUpload/>").unwrap(),
            Vec::new()
        );
    }

    #[test]
    fn references_and_cdata_are_read_as_text() {
        let xml = "<CompleteMultipartUpload><Part><PartNumber>&#49;</PartNumber>\
            <ETag>a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42; <![CDATA[<c>&amp;]]></ETag><ChecksumSHA256/>\
            </Part></CompleteMultipartUpload>";
        assert_eq!(
            parse_complete(xml).unwrap(),
            [part(1, "a&b<>\"'AB <c>&amp;", Some(""))]
        );
    }

    /// The code and the reason a parts list is refused with.
    fn refusal(xml: &str) -> (String, String) {
        let e = parse_complete(xml).unwrap_err();
        (err_code(&e), e.message().to_string())
    }

    #[test]
    fn a_malformed_parts_list_is_refused() {
        let field = |inner: &str| {
            format!("<CompleteMultipartUpload><Part>{inner}</Part></CompleteMultipartUpload>")
        };
        let cases = [
            ("", "the root element is not CompleteMultipartUpload"),
            ("not xml", "the root element is not CompleteMultipartUpload"),
            (
                "<Other></Other>",
                "the root element is not CompleteMultipartUpload",
            ),
            (
                &field("<PartNumber>1</PartNumber>"),
                "without PartNumber or ETag",
            ),
            (&field("<ETag>a</ETag>"), "without PartNumber or ETag"),
            (
                "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>",
                "ends before its root element is closed",
            ),
            (
                "<CompleteMultipartUpload><Part><ETag>a",
                "ends before its root element",
            ),
            (
                "<CompleteMultipartUpload></CompleteMultipartUpload><More/>",
                "content after the root element",
            ),
            (
                "<CompleteMultipartUpload>x</CompleteMultipartUpload>",
                "holds only Part elements",
            ),
            (
                "<CompleteMultipartUpload><Part>x</Part></CompleteMultipartUpload>",
                "a Part holds only elements",
            ),
            (
                &field("<PartNumber><b>1</b></PartNumber>"),
                "an element inside a Part's field",
            ),
            (&field("<ETag>&bogus;</ETag>"), "an unknown entity"),
            (&field("<ETag>&#0;</ETag>"), "a character reference to no"),
            (
                &field("<ETag>&#xD800;</ETag>"),
                "a character reference to no",
            ),
            (&field("<ETag>&amp</ETag>"), "at byte"),
            (&field("<ETag>a</PartNumber>"), "at byte"),
            ("<CompleteMultipartUpload", "at byte"),
            ("<!-- never closed", "at byte"),
            ("<CompleteMultipartUpload a=\"1\" a=\"2\"/>", "an attribute"),
            ("<CompleteMultipartUpload a=1/>", "an attribute"),
        ];
        for (xml, why) in cases {
            let (code, message) = refusal(xml);
            assert_eq!(code, "MalformedXML", "{xml:?}: {message}");
            assert!(message.contains(why), "{xml:?}: {message}");
        }
        for n in ["0", "10001", "-1", "1.5", "x", "99999999999"] {
            let xml = field(&format!("<PartNumber>{n}</PartNumber><ETag>a</ETag>"));
            let err = parse_complete(&xml).unwrap_err();
            assert_eq!(err_code(&err), "InvalidArgument", "{n}");
        }
    }

    #[test]
    fn hostile_parts_lists_are_refused_without_expanding_or_recursing() {
        // Entities are declared only in a DOCTYPE: refused, so none is ever expanded.
        let laughs = format!(
            "<!DOCTYPE l [<!ENTITY a \"lol\">{}]><CompleteMultipartUpload><Part>\
             <PartNumber>1</PartNumber><ETag>&a9;</ETag></Part></CompleteMultipartUpload>",
            (1..10)
                .map(|i| format!("<!ENTITY a{i} \"{}\">", format!("&a{};", i - 1).repeat(10)))
                .collect::<String>()
                .replace("&a0;", "&a;")
        );
        let external = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\
            <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&e;</ETag></Part>\
            </CompleteMultipartUpload>";
        for xml in [laughs.as_str(), external] {
            assert_eq!(
                refusal(xml).1,
                malformed_xml("a DOCTYPE").message(),
                "{xml}"
            );
        }
        // Nesting is refused at the first element out of place, however deep it goes.
        let deep = "<a>".repeat(1_000_000);
        assert!(refusal(&deep).1.contains("root element is not"));
        let deep_field = format!(
            "<CompleteMultipartUpload><Part><ETag>{deep}</ETag></Part></CompleteMultipartUpload>"
        );
        assert!(refusal(&deep_field)
            .1
            .contains("an element inside a Part's field"));
        let many = format!(
            "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
            "<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>".repeat(10_001)
        );
        assert!(refusal(&many).1.contains("more than 10000 parts"));
    }

    fn err_code(e: &S3Error) -> String {
        e.code().to_string()
    }

    #[test]
    fn parts_are_checked_as_s3_checks_them() {
        let mib = 1024 * 1024;
        let stored: BTreeMap<u32, (PartMeta, SystemTime)> = [
            (1, 5 * mib, "s1"),
            (2, 5 * mib, "s2"),
            (3, mib, "s3"),
            (4, 10, "s4"),
        ]
        .into_iter()
        .map(|(n, size, sha)| {
            let meta = PartMeta {
                etag: format!("e{n}"),
                size,
                checksum_sha256: Some(sha.into()),
            };
            (n, (meta, SystemTime::UNIX_EPOCH))
        })
        .collect();
        let code = |asked: &[AskedPart], checksum: bool| match check_parts(asked, &stored, checksum)
        {
            Ok(chosen) => format!("ok {}", chosen.len()),
            Err(e) => err_code(&e),
        };
        let p = |n, sha| part(n, &format!("\"e{n}\""), sha);
        assert_eq!(
            code(
                &[p(1, Some("s1")), p(2, Some("s2")), p(3, Some("s3"))],
                true
            ),
            "ok 3"
        );
        assert_eq!(code(&[p(1, None), p(3, None)], false), "ok 2");
        assert_eq!(code(&[], true), "MalformedXML");
        assert_eq!(
            code(&[p(2, Some("s2")), p(1, Some("s1"))], true),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(&[p(1, Some("s1")), p(1, Some("s1"))], true),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(&[p(1, Some("s1")), p(5, Some("s5"))], true),
            "InvalidPart"
        );
        assert_eq!(code(&[part(1, "e9", Some("s1"))], true), "InvalidPart");
        assert_eq!(code(&[part(1, "e1", Some("s1"))], true), "ok 1");
        assert_eq!(code(&[p(1, Some("s2"))], true), "InvalidPart");
        assert_eq!(code(&[p(1, None)], true), "InvalidRequest");
        assert_eq!(
            code(&[p(3, Some("s3")), p(4, Some("s4"))], true),
            "EntityTooSmall"
        );
    }

    #[test]
    fn upload_ids_need_no_encoding_and_do_not_repeat() {
        let a = new_upload_id();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, new_upload_id());
    }
}
