//! The documents bucket's objects on disk, under `<data dir>/s3/<bucket>/`, named by the
//! SHA-256 of their key: any key (`../x`, `a//b`, 1024 bytes of UTF-8) maps to one flat,
//! fixed-length file name inside the data dir. The key itself is kept in a JSON sidecar with
//! the content type, ETag and SHA-256. A body is received into `<data dir>/tmp/` while it is
//! hashed, and moved into place with its sidecar only once it is whole and checked.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::StatusCode;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;

use super::s3::{internal, precondition_failed, s3_err, S3Error};

/// One bucket's objects.
pub struct Objects {
    pub(super) bucket: String,
    dir: PathBuf,
    /// Where bodies are received before they are moved into place.
    pub(super) tmp: PathBuf,
    /// Held while an object's data and sidecar are renamed into place, and while a reader
    /// pairs them, so that no one sees one upload's data with another's ETag.
    commit: tokio::sync::Mutex<()>,
}

/// An object's sidecar.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Meta {
    pub(super) key: String,
    pub(super) content_type: String,
    /// Hex MD5 of the body, or `<hex>-<parts>` for an upload in parts; without quotes.
    pub(super) etag: String,
    pub(super) size: u64,
    /// Base64 SHA-256 the object was uploaded with (`<base64>-<parts>` for one in parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) checksum_sha256: Option<String>,
}

/// Removes a temporary upload unless it was moved into place.
pub(super) struct TempFile(pub(super) Option<PathBuf>);

impl TempFile {
    /// A new, unique name in `tmp` of the form [`clear_partial_uploads`] clears
    /// (`suffix` "" or ".json").
    pub(super) fn new(tmp: &Path, suffix: &str) -> TempFile {
        TempFile(Some(
            tmp.join(format!("{}{suffix}", uuid::Uuid::new_v4().simple())),
        ))
    }

    pub(super) fn path(&self) -> &Path {
        self.0.as_deref().expect("a temporary file not yet moved")
    }

    /// Moves the file to `to`; from then on it is not removed.
    pub(super) async fn rename(&mut self, to: &Path) -> std::io::Result<()> {
        tokio::fs::rename(self.path(), to).await?;
        self.0 = None;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Remove what a killed process left in `tmp`: only files of the names the store gives its
/// partial uploads (32 hex digits, `.json` for a sidecar), never anything else.
fn clear_partial_uploads(tmp: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(tmp) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", tmp.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", tmp.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        let ours = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit());
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("clearing partial upload {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// A request body written to a temporary file, with its digests.
pub(super) struct Received {
    pub(super) file: TempFile,
    pub(super) size: u64,
    pub(super) md5: [u8; 16],
    pub(super) sha256: Option<[u8; 32]>,
}

impl Objects {
    /// Opens (creating) the folder of `bucket` under `data_dir`. Partial uploads left by a
    /// killed process are removed.
    pub(super) fn open(data_dir: &Path, bucket: &str) -> Result<Objects> {
        let dir = data_dir.join("s3").join(bucket);
        let tmp = data_dir.join("tmp");
        clear_partial_uploads(&tmp)?;
        for d in [&dir, &tmp] {
            std::fs::create_dir_all(d)
                .with_context(|| format!("creating the dev store's folder {}", d.display()))?;
        }
        Ok(Objects {
            bucket: bucket.to_string(),
            dir,
            tmp,
            commit: tokio::sync::Mutex::new(()),
        })
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        (self.dir.join(&name), self.dir.join(format!("{name}.json")))
    }

    /// Streams a request body of `length` bytes into a temporary file, hashing it as it
    /// comes (MD5 always, SHA-256 when `sha256`). A body of another length is IncompleteBody.
    pub(super) async fn receive(
        &self,
        body: Incoming,
        length: u64,
        sha256: bool,
    ) -> Result<Received, S3Error> {
        let tmp = TempFile::new(&self.tmp, "");
        let file = tokio::fs::File::create(tmp.path())
            .await
            .map_err(|e| internal("creating a temporary file", e))?;
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = Md5::new();
        let mut sha = sha256.then(Sha256::new);
        let mut written: u64 = 0;
        let mut body = body;
        let incomplete = |detail: String| {
            s3_err(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                format!(
                    "You did not provide the number of bytes specified by the Content-Length \
                     HTTP header{detail}."
                ),
            )
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| incomplete(format!(" ({e})")))?;
            if let Ok(data) = frame.into_data() {
                md5.update(&data);
                if let Some(sha) = &mut sha {
                    sha.update(&data);
                }
                written += data.len() as u64;
                file.write_all(&data)
                    .await
                    .map_err(|e| internal("writing the upload", e))?;
            }
        }
        file.flush()
            .await
            .map_err(|e| internal("writing the upload", e))?;
        drop(file);
        if written != length {
            return Err(incomplete(String::new()));
        }
        Ok(Received {
            file: tmp,
            size: written,
            md5: md5.finalize().into(),
            sha256: sha.map(|s| s.finalize().into()),
        })
    }

    /// Moves an object's data and its sidecar into place together. With `create_only`
    /// (`If-None-Match: *`) an existing object is kept and the answer is 412, decided under
    /// the same lock as the move, so of two racing creates exactly one wins.
    pub(super) async fn commit_object(
        &self,
        data: &mut TempFile,
        meta: &Meta,
        create_only: bool,
    ) -> Result<(), S3Error> {
        let (data_path, meta_path) = self.paths(&meta.key);
        let mut meta_tmp = TempFile::new(&self.tmp, ".json");
        let meta_json =
            serde_json::to_vec(meta).map_err(|e| internal("recording the object", e))?;
        tokio::fs::write(meta_tmp.path(), meta_json)
            .await
            .map_err(|e| internal("recording the object", e))?;
        let _commit = self.commit.lock().await;
        if create_only && self.exists(&meta.key).await? {
            return Err(precondition_failed());
        }
        data.rename(&data_path)
            .await
            .map_err(|e| internal("storing the object", e))?;
        meta_tmp
            .rename(&meta_path)
            .await
            .map_err(|e| internal("recording the object", e))?;
        Ok(())
    }

    /// Every stored object's sidecar and the time it was stored, in no order. A sidecar that
    /// cannot be read (one being replaced) is skipped.
    pub(super) async fn all(&self) -> Result<Vec<(Meta, std::time::SystemTime)>, S3Error> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| internal("listing the bucket", e))?;
        let mut out = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| internal("listing the bucket", e))?
        {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let (Ok(bytes), Ok(stat)) = (
                tokio::fs::read(&path).await,
                tokio::fs::metadata(&path).await,
            ) else {
                continue;
            };
            if let (Ok(meta), Ok(at)) = (serde_json::from_slice::<Meta>(&bytes), stat.modified()) {
                out.push((meta, at));
            }
        }
        Ok(out)
    }

    /// Deletes the object stored under `key`, if any (S3 answers 204 either way).
    pub(super) async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let (data_path, meta_path) = self.paths(key);
        let _commit = self.commit.lock().await;
        for path in [meta_path, data_path] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(internal("deleting the object", e)),
            }
        }
        Ok(())
    }

    /// Whether an object is stored under `key` (its sidecar is the last thing moved in).
    pub(super) async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        tokio::fs::try_exists(self.paths(key).1)
            .await
            .map_err(|e| internal("looking for the object", e))
    }

    /// The object stored under `key` and its data, opened: NoSuchKey when there is none.
    pub(super) async fn open_object(&self, key: &str) -> Result<(Meta, tokio::fs::File), S3Error> {
        let no_such_key = || {
            s3_err(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        };
        let (data_path, meta_path) = self.paths(key);
        // Held until the data is open: an upload replacing the object meanwhile cannot pair
        // this sidecar with its data. The open handle keeps reading the old data after that.
        let _commit = self.commit.lock().await;
        let meta: Meta = match tokio::fs::read(&meta_path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| internal("reading the object's metadata", e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_key()),
            Err(e) => return Err(internal("reading the object's metadata", e)),
        };
        if meta.key != key {
            return Err(no_such_key());
        }
        match tokio::fs::File::open(&data_path).await {
            Ok(file) => Ok((meta, file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(no_such_key()),
            Err(e) => Err(internal("opening the object", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_maps_to_one_file_inside_the_bucket_folder() {
        let dir = tempfile::tempdir().unwrap();
        let s = Objects::open(dir.path(), "docs").unwrap();
        for key in [
            "../../etc/passwd",
            "a//b",
            "/abs",
            "..",
            "x\0y",
            &"é".repeat(512),
        ] {
            let (data, meta) = s.paths(key);
            assert_eq!(data.parent(), Some(s.dir.as_path()), "{key:?}");
            assert_eq!(meta.parent(), Some(s.dir.as_path()), "{key:?}");
            assert_eq!(data.file_name().unwrap().len(), 64);
        }
        assert_ne!(s.paths("a").0, s.paths("b").0);
    }
}
