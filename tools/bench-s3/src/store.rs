//! The buckets, in memory: for each object version its size, ETag, headers and user metadata,
//! never its bytes. Listings follow S3's rules (sorted keys, prefix, delimiter, markers) so
//! that clients page through them as they do against AWS.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use md5::{Digest, Md5};

/// The version id of objects written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: one version per key, id `null`, deletes remove it.
    Off,
    Enabled,
    Suspended,
}

/// What an object was written with, shared by versions written alike (the seeded ones).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Headers {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub id: String,
    pub delete_marker: bool,
    pub size: u64,
    /// Without quotes: the hex MD5, or `<md5 of the parts' MD5s>-<parts>` for multipart.
    pub etag: String,
    pub last_modified: SystemTime,
    pub headers: Arc<Headers>,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub md5: [u8; 16],
    pub size: u64,
    pub last_modified: SystemTime,
}

#[derive(Debug)]
pub struct Upload {
    pub key: String,
    pub headers: Arc<Headers>,
    pub parts: BTreeMap<i32, Part>,
}

#[derive(Debug)]
pub struct Bucket {
    pub created: SystemTime,
    /// The location constraint it was created with (`None`: us-east-1).
    pub region: Option<String>,
    pub versioning: Versioning,
    /// Each key's versions, newest first.
    pub objects: BTreeMap<String, Vec<Version>>,
    pub uploads: HashMap<String, Upload>,
    pub tags: Option<Vec<(String, String)>>,
    pub policy: Option<String>,
}

/// What a delete did: whether the version it removed or wrote is a delete marker, and its id.
#[derive(Debug, Default, PartialEq)]
pub struct Deleted {
    pub delete_marker: bool,
    pub version_id: Option<String>,
}

/// One page of current objects (ListObjects, ListObjectsV2).
#[derive(Debug, Default)]
pub struct CurrentPage<'a> {
    pub objects: Vec<(&'a str, &'a Version)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

/// One page of versions and delete markers (ListObjectVersions), in listing order.
#[derive(Debug, Default)]
pub struct VersionsPage<'a> {
    /// Key, version, whether it is the key's latest.
    pub versions: Vec<(&'a str, &'a Version, bool)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// What a bucket holds, for the bench's reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Keys whose latest version is an object (what a plain listing shows).
    pub keys: usize,
    /// Versions that are objects, current or not.
    pub versions: usize,
    pub delete_markers: usize,
    pub uploads: usize,
}

/// The common prefix `key` rolls up into under `prefix` and `delimiter`, if any.
fn roll_up<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = &key[prefix.len()..];
    rest.find(d).map(|i| &key[..prefix.len() + i + d.len()])
}

impl Bucket {
    pub fn new(region: Option<String>) -> Bucket {
        Bucket {
            created: SystemTime::now(),
            region,
            versioning: Versioning::Off,
            objects: BTreeMap::new(),
            uploads: HashMap::new(),
            tags: None,
            policy: None,
        }
    }

    /// The key's latest version unless it is a delete marker.
    pub fn current(&self, key: &str) -> Option<&Version> {
        self.objects
            .get(key)
            .and_then(|v| v.first())
            .filter(|v| !v.delete_marker)
    }

    pub fn version(&self, key: &str, id: &str) -> Option<&Version> {
        self.objects.get(key)?.iter().find(|v| v.id == id)
    }

    /// Store `version` as the key's latest. Its id must come from [`Store::version_id`] for
    /// this bucket's versioning: a `null` version replaces the key's previous `null` one.
    pub fn put(&mut self, key: String, version: Version) {
        let versions = self.objects.entry(key).or_default();
        if version.id == NULL_VERSION {
            versions.retain(|v| v.id != NULL_VERSION);
        }
        versions.insert(0, version);
    }

    /// DeleteObject: with a version id, remove that version or delete marker (nothing when it
    /// does not exist, as S3); without, remove the object (versioning off) or add a delete
    /// marker whose id is `marker_id` (enabled) or `null` (suspended).
    pub fn delete(&mut self, key: &str, version_id: Option<&str>, marker_id: String) -> Deleted {
        if let Some(id) = version_id {
            let mut out = Deleted {
                delete_marker: false,
                version_id: Some(id.to_string()),
            };
            if let Some(versions) = self.objects.get_mut(key) {
                if let Some(pos) = versions.iter().position(|v| v.id == id) {
                    out.delete_marker = versions.remove(pos).delete_marker;
                }
                if versions.is_empty() {
                    self.objects.remove(key);
                }
            }
            return out;
        }
        match self.versioning {
            Versioning::Off => {
                self.objects.remove(key);
                Deleted::default()
            }
            Versioning::Enabled | Versioning::Suspended => {
                let id = if self.versioning == Versioning::Enabled {
                    marker_id
                } else {
                    NULL_VERSION.to_string()
                };
                self.put(
                    key.to_string(),
                    Version {
                        id: id.clone(),
                        delete_marker: true,
                        size: 0,
                        etag: String::new(),
                        last_modified: SystemTime::now(),
                        headers: Arc::default(),
                    },
                );
                Deleted {
                    delete_marker: true,
                    version_id: Some(id),
                }
            }
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            uploads: self.uploads.len(),
            ..Counts::default()
        };
        for versions in self.objects.values() {
            if versions.first().is_some_and(|v| !v.delete_marker) {
                c.keys += 1;
            }
            for v in versions {
                if v.delete_marker {
                    c.delete_markers += 1;
                } else {
                    c.versions += 1;
                }
            }
        }
        c
    }

    /// Current objects under `prefix` whose key sorts after `after` (a marker, start-after or
    /// continuation token), at most `max` entries, a common prefix counting as one.
    pub fn list_current(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> CurrentPage<'_> {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let mut page = CurrentPage::default();
        let mut count = 0;
        for (key, versions) in self.objects.range::<str, _>((start, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            let Some(v) = versions.first().filter(|v| !v.delete_marker) else {
                continue;
            };
            let cp = roll_up(key, prefix, delimiter);
            if let Some(cp) = cp {
                // Keys under a prefix returned already, on this page or an earlier one.
                if after.is_some_and(|a| cp <= a)
                    || page.prefixes.last().map(String::as_str) == Some(cp)
                {
                    continue;
                }
            }
            if count == max {
                page.truncated = true;
                break;
            }
            count += 1;
            match cp {
                Some(cp) => {
                    page.prefixes.push(cp.to_string());
                    page.last = Some(cp.to_string());
                }
                None => {
                    page.objects.push((key, v));
                    page.last = Some(key.clone());
                }
            }
        }
        page
    }

    /// Versions and delete markers under `prefix`, keys in order and each key's versions
    /// newest first, at most `max` entries (a common prefix counting as one).
    ///
    /// Markers are exclusive, as S3 treats them: without `version_id_marker` the listing
    /// starts with the first key after `key_marker`; with it, at the version of `key_marker`
    /// that follows that one. A truncated page's `NextKeyMarker` and `NextVersionIdMarker`
    /// are the key and version id of its last entry (a common prefix has no version id), so
    /// passing them back as `key-marker` and `version-id-marker` continues with the first
    /// entry not returned, as AWS documents for them.
    pub fn list_versions(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_id_marker: Option<&str>,
        max: usize,
    ) -> Result<VersionsPage<'_>, &'static str> {
        let key_marker = key_marker.filter(|k| !k.is_empty());
        let version_id_marker = version_id_marker.filter(|v| !v.is_empty());
        if version_id_marker.is_some() && key_marker.is_none() {
            return Err("A version-id marker cannot be specified without a key marker.");
        }
        let start = match (key_marker, version_id_marker) {
            (Some(k), Some(_)) if k >= prefix => Bound::Included(k),
            (Some(k), None) if k >= prefix => Bound::Excluded(k),
            _ => Bound::Included(prefix),
        };
        let mut page = VersionsPage::default();
        let mut count = 0;
        'keys: for (key, versions) in self.objects.range::<str, _>((start, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            if let Some(cp) = roll_up(key, prefix, delimiter) {
                if key_marker.is_some_and(|k| cp <= k)
                    || page.prefixes.last().map(String::as_str) == Some(cp)
                {
                    continue;
                }
                if count == max {
                    page.truncated = true;
                    break;
                }
                count += 1;
                page.prefixes.push(cp.to_string());
                page.next_key_marker = Some(cp.to_string());
                page.next_version_id_marker = None;
                continue;
            }
            let skip = match version_id_marker {
                Some(id) if Some(key.as_str()) == key_marker => versions
                    .iter()
                    .position(|v| v.id == id)
                    .map_or(versions.len(), |p| p + 1),
                _ => 0,
            };
            for (i, v) in versions.iter().enumerate().skip(skip) {
                if count == max {
                    page.truncated = true;
                    break 'keys;
                }
                count += 1;
                page.versions.push((key, v, i == 0));
                page.next_key_marker = Some(key.clone());
                page.next_version_id_marker = Some(v.id.clone());
            }
        }
        if !page.truncated {
            page.next_key_marker = None;
            page.next_version_id_marker = None;
        }
        Ok(page)
    }
}

/// Requests counted by operation (s3s's names: `PutObject`, `DeleteObjects`, ...) and by HTTP
/// method, and the object bytes received (PutObject and UploadPart bodies), since the last
/// reset.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub requests: u64,
    pub bytes_uploaded: u64,
    pub operations: BTreeMap<String, u64>,
    pub methods: BTreeMap<String, u64>,
}

pub struct Store {
    buckets: RwLock<BTreeMap<String, Arc<Mutex<Bucket>>>>,
    next_id: AtomicU64,
    stats: Mutex<Stats>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum BucketError {
    NoSuchBucket,
    BucketNotEmpty,
    BucketAlreadyOwnedByYou,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            buckets: RwLock::default(),
            next_id: AtomicU64::new(1),
            stats: Mutex::default(),
        }
    }
}

impl Store {
    pub fn bucket(&self, name: &str) -> Option<Arc<Mutex<Bucket>>> {
        self.buckets.read().unwrap().get(name).cloned()
    }

    pub fn create_bucket(&self, name: &str, region: Option<String>) -> Result<(), BucketError> {
        let mut buckets = self.buckets.write().unwrap();
        if buckets.contains_key(name) {
            return Err(BucketError::BucketAlreadyOwnedByYou);
        }
        buckets.insert(name.to_string(), Arc::new(Mutex::new(Bucket::new(region))));
        Ok(())
    }

    /// DeleteBucket: refused while any version, delete marker included, remains.
    pub fn delete_bucket(&self, name: &str) -> Result<(), BucketError> {
        let mut buckets = self.buckets.write().unwrap();
        let bucket = buckets.get(name).ok_or(BucketError::NoSuchBucket)?;
        if !bucket.lock().unwrap().objects.is_empty() {
            return Err(BucketError::BucketNotEmpty);
        }
        buckets.remove(name);
        Ok(())
    }

    pub fn bucket_names(&self) -> Vec<(String, SystemTime)> {
        self.buckets
            .read()
            .unwrap()
            .iter()
            .map(|(n, b)| (n.clone(), b.lock().unwrap().created))
            .collect()
    }

    /// A fresh id, unique in this server.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The id a new version gets under `versioning`.
    pub fn version_id(&self, versioning: Versioning) -> String {
        match versioning {
            Versioning::Enabled => format!("v{:015x}", self.next_id()),
            Versioning::Off | Versioning::Suspended => NULL_VERSION.to_string(),
        }
    }

    /// Fill `bucket` (created, versioned, if missing) with `keys` keys of `versions` versions
    /// each, `size` bytes of zeros apiece, straight into memory. Returns the versions added.
    pub fn seed(
        &self,
        bucket: &str,
        keys: usize,
        versions: usize,
        size: u64,
    ) -> Result<usize, BucketError> {
        let _ = self.create_bucket(bucket, None);
        let b = self.bucket(bucket).ok_or(BucketError::NoSuchBucket)?;
        let mut b = b.lock().unwrap();
        b.versioning = Versioning::Enabled;
        let etag = zeros_md5(size);
        let headers = Arc::new(Headers {
            content_type: Some("application/octet-stream".into()),
            ..Headers::default()
        });
        let now = SystemTime::now();
        for i in 0..keys {
            let key = format!("data/{:02}/object-{i:07}.bin", i % 50);
            for _ in 0..versions {
                let v = Version {
                    id: self.version_id(Versioning::Enabled),
                    delete_marker: false,
                    size,
                    etag: etag.clone(),
                    last_modified: now,
                    headers: headers.clone(),
                };
                b.put(key.clone(), v);
            }
        }
        Ok(keys * versions)
    }

    pub fn count_request(&self, method: &str) {
        let mut s = self.stats.lock().unwrap();
        s.requests += 1;
        *s.methods.entry(method.to_string()).or_default() += 1;
    }

    pub fn count_upload(&self, bytes: u64) {
        self.stats.lock().unwrap().bytes_uploaded += bytes;
    }

    pub fn count_operation(&self, op: &str) {
        *self
            .stats
            .lock()
            .unwrap()
            .operations
            .entry(op.to_string())
            .or_default() += 1;
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap().clone()
    }

    pub fn reset_stats(&self) {
        *self.stats.lock().unwrap() = Stats::default();
    }
}

/// The hex MD5 of `size` zero bytes.
pub fn zeros_md5(size: u64) -> String {
    let block = [0u8; 64 * 1024];
    let mut h = Md5::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        h.update(&block[..n]);
        left -= n as u64;
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versioned(store: &Store, keys: &[(&str, usize)]) -> Bucket {
        let mut b = Bucket::new(None);
        b.versioning = Versioning::Enabled;
        for (key, n) in keys {
            for _ in 0..*n {
                let v = Version {
                    id: store.version_id(Versioning::Enabled),
                    delete_marker: false,
                    size: 1,
                    etag: "e".into(),
                    last_modified: SystemTime::now(),
                    headers: Arc::default(),
                };
                b.put(key.to_string(), v);
            }
        }
        b
    }

    /// Pages of every size, markers passed back as given, list each version exactly once and
    /// in order: keys sorted, each key's versions newest first, delete markers among them.
    #[test]
    fn list_object_versions_pages_with_key_and_version_id_markers() {
        let store = Store::default();
        let mut b = versioned(&store, &[("a", 3), ("b/x", 1), ("b/y", 2), ("c", 1)]);
        let marker = store.version_id(Versioning::Enabled);
        assert!(b.delete("c", None, marker).delete_marker);
        let all: Vec<(String, String)> = b
            .list_versions("", None, None, None, 1000)
            .unwrap()
            .versions
            .iter()
            .map(|(k, v, _)| (k.to_string(), v.id.clone()))
            .collect();
        assert_eq!(all.len(), 8);
        assert_eq!(all[0].0, "a");
        assert!(all[0].1 > all[1].1, "newest first");
        for max in 1..=9 {
            let (mut km, mut vm) = (None::<String>, None::<String>);
            let mut seen = Vec::new();
            loop {
                let page = b
                    .list_versions("", None, km.as_deref(), vm.as_deref(), max)
                    .unwrap();
                assert!(page.versions.len() <= max);
                seen.extend(
                    page.versions
                        .iter()
                        .map(|(k, v, _)| (k.to_string(), v.id.clone())),
                );
                if !page.truncated {
                    assert_eq!(page.next_key_marker, None);
                    break;
                }
                let (k, v, _) = page.versions.last().unwrap();
                assert_eq!(page.next_key_marker.as_deref(), Some(*k));
                assert_eq!(page.next_version_id_marker.as_deref(), Some(v.id.as_str()));
                km = page.next_key_marker;
                vm = page.next_version_id_marker;
            }
            assert_eq!(seen, all, "max-keys {max}");
        }
        // A key marker alone starts after that key; latest flags and markers are kept.
        let page = b.list_versions("", None, Some("b/y"), None, 1000).unwrap();
        assert_eq!(page.versions.len(), 2);
        let got: Vec<(&str, bool, bool)> = page
            .versions
            .iter()
            .map(|(k, v, latest)| (*k, v.delete_marker, *latest))
            .collect();
        assert_eq!(got, [("c", true, true), ("c", false, false)]);
        assert!(b.list_versions("", None, None, Some("x"), 10).is_err());
    }

    #[test]
    fn listings_roll_up_common_prefixes_and_resume_after_them() {
        let store = Store::default();
        let b = versioned(
            &store,
            &[("a.txt", 1), ("d/1", 2), ("d/2", 1), ("e/f/g", 1), ("z", 1)],
        );
        let page = b.list_current("", Some("/"), None, 2);
        assert_eq!(
            page.objects.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["a.txt"]
        );
        assert_eq!(page.prefixes, ["d/"]);
        assert!(page.truncated);
        let page = b.list_current("", Some("/"), page.last.as_deref(), 2);
        assert_eq!(page.prefixes, ["e/"]);
        assert_eq!(
            page.objects.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["z"]
        );
        assert!(!page.truncated);
        let page = b.list_current("d/", None, Some("d/1"), 10);
        assert_eq!(
            page.objects.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["d/2"]
        );
        let page = b
            .list_versions("", Some("/"), Some("d/"), None, 10)
            .unwrap();
        assert_eq!(page.prefixes, ["e/"]);
        assert_eq!(page.versions.len(), 1);
    }

    #[test]
    fn buckets_with_versions_or_delete_markers_cannot_be_deleted() {
        let store = Store::default();
        store.create_bucket("b", None).unwrap();
        assert_eq!(
            store.create_bucket("b", None),
            Err(BucketError::BucketAlreadyOwnedByYou)
        );
        store.seed("b", 2, 2, 10).unwrap();
        let b = store.bucket("b").unwrap();
        {
            let mut b = b.lock().unwrap();
            assert_eq!(
                b.counts(),
                Counts {
                    keys: 2,
                    versions: 4,
                    delete_markers: 0,
                    uploads: 0
                }
            );
            let keys: Vec<String> = b.objects.keys().cloned().collect();
            for k in &keys {
                let id = store.version_id(b.versioning);
                b.delete(k, None, id);
            }
            assert_eq!(
                b.counts(),
                Counts {
                    keys: 0,
                    versions: 4,
                    delete_markers: 2,
                    uploads: 0
                }
            );
            assert!(b.list_current("", None, None, 1000).objects.is_empty());
        }
        assert_eq!(store.delete_bucket("b"), Err(BucketError::BucketNotEmpty));
        {
            let mut b = b.lock().unwrap();
            let all: Vec<(String, String)> = b
                .list_versions("", None, None, None, 1000)
                .unwrap()
                .versions
                .iter()
                .map(|(k, v, _)| (k.to_string(), v.id.clone()))
                .collect();
            for (k, id) in all {
                b.delete(&k, Some(&id), String::new());
            }
        }
        assert_eq!(store.delete_bucket("b"), Ok(()));
        assert_eq!(store.delete_bucket("b"), Err(BucketError::NoSuchBucket));
    }
}
