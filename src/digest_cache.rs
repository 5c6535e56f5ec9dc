//! The website's digest cache: the MD5 the sync compares with each listed ETag, remembered with
//! what the file system says of the file (device, inode, size, mtime and ctime to the
//! nanosecond), so that a sync reads again only the files that changed since the last run.
//!
//! It lives next to the spec, in `.presign-stack/website-digests-<source>` (one file per spec
//! folder and website source), never in `website.source`: nothing of it may be published, and
//! a fresh checkout (CI) starts without it and hashes everything.
//!
//! Any doubt means hashing: other metadata; a missing, damaged, oversized or foreign cache
//! (another format version, another source); a platform without inode numbers; and an entry
//! recorded within the racy window of the file's last change. A write within one tick of the
//! file system's clock leaves the timestamps as they were, so such an entry could hide a change
//! made just after it was read (git's "racy" entries). The ctime counts because no program can
//! set it (`utimensat` sets only the atime and mtime): a rewrite that puts the mtime back still
//! shows.
//!
//! Saving is atomic (a temporary file renamed over the old one) and best effort: a read-only
//! folder or a failed write costs only the speed-up, with one warning. Only entries for the
//! files of this run are saved, so those of deleted files are dropped.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::report::Report;
use crate::spec::Spec;

/// The spec folder's own state (dev's data lives there too); `init` puts it in `.gitignore`.
const STATE_DIR: &str = ".presign-stack";
const MAGIC: &[u8; 8] = b"PSDIGEST";
const VERSION: u32 = 1;
/// The longest key an entry can have: S3's key limit, which the walk enforces.
const MAX_KEY: usize = 1024;
/// An entry without its key: key length, device, inode, size, three times, MD5.
const ENTRY_FIXED: usize = 2 + 3 * 8 + 3 * 12 + 16;
const CHECKSUM: usize = 8;
const NANOS: i128 = 1_000_000_000;

/// How long after a file's last change its entry starts to be trusted. Timestamps with
/// fractions of a second come from a clock that ticks every few milliseconds: one second is
/// ample.
pub const RACY_WINDOW: Duration = Duration::from_secs(1);
/// The window for whole-second timestamps, which some file systems (FAT) keep in steps of two.
pub const RACY_WINDOW_LONGEST: Duration = Duration::from_secs(2);

/// What the file system says of a file, all of which must be as recorded for its digest to be
/// trusted. Times are nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i128,
    ctime: i128,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        Stamp::new(
            meta.dev(),
            meta.ino(),
            meta.size(),
            time(meta.mtime(), meta.mtime_nsec())?,
            time(meta.ctime(), meta.ctime_nsec())?,
        )
    }

    /// Elsewhere a file has no inode number std can read, and no ctime: nothing is cached.
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<Stamp> {
        None
    }

    /// `None` without an inode number (some file systems report 0): a file replaced by
    /// another of the same size and times would go unnoticed.
    fn new(dev: u64, ino: u64, size: u64, mtime: i128, ctime: i128) -> Option<Stamp> {
        (ino != 0).then_some(Stamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        })
    }

    fn racy_window(&self) -> i128 {
        let whole = self.mtime.rem_euclid(NANOS) == 0 && self.ctime.rem_euclid(NANOS) == 0;
        let window = if whole {
            RACY_WINDOW_LONGEST
        } else {
            RACY_WINDOW
        };
        window.as_nanos() as i128
    }
}

fn time(secs: i64, nanos: i64) -> Option<i128> {
    (0..NANOS as i64)
        .contains(&nanos)
        .then(|| secs as i128 * NANOS + nanos as i128)
}

fn now() -> Option<i128> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(since.as_nanos() as i128)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    stamp: Stamp,
    /// When the stamp was read, just before the file was hashed.
    recorded: i128,
    md5: [u8; 16],
}

impl Entry {
    fn trusted_for(&self, stamp: &Stamp) -> bool {
        let changed = self.stamp.mtime.max(self.stamp.ctime);
        self.stamp == *stamp && changed + self.stamp.racy_window() <= self.recorded
    }
}

/// The digests of one run: those loaded, and those of this run's files, to be saved.
pub struct DigestCache {
    /// Where it is saved; `None` where nothing can be cached.
    file: Option<PathBuf>,
    source: Vec<u8>,
    loaded: HashMap<String, Entry>,
    /// Why a saved cache was set aside, for `-v`.
    set_aside: Option<String>,
    kept: Mutex<BTreeMap<String, Entry>>,
    hashed: AtomicUsize,
    cached: AtomicUsize,
}

impl DigestCache {
    /// The cache of `spec`'s website source, for a walk that found `files` files.
    pub fn open(spec: &Spec, files: usize) -> DigestCache {
        match spec.website.source.canonicalize() {
            Ok(source) => {
                let id = hex::encode(&Sha256::digest(source.as_os_str().as_encoded_bytes())[..8]);
                let file = spec
                    .dir
                    .join(STATE_DIR)
                    .join(format!("website-digests-{id}"));
                DigestCache::at(file, &source, files)
            }
            Err(_) => DigestCache::none(),
        }
    }

    fn none() -> DigestCache {
        DigestCache {
            file: None,
            source: Vec::new(),
            loaded: HashMap::new(),
            set_aside: None,
            kept: Mutex::new(BTreeMap::new()),
            hashed: AtomicUsize::new(0),
            cached: AtomicUsize::new(0),
        }
    }

    fn at(file: PathBuf, source: &Path, files: usize) -> DigestCache {
        let source = source.as_os_str().as_encoded_bytes().to_vec();
        let (loaded, set_aside) = match load(&file, &source, files) {
            Ok(loaded) => (loaded, None),
            Err(why) => (HashMap::new(), Some(why)),
        };
        DigestCache {
            file: Some(file),
            source,
            loaded,
            set_aside,
            ..DigestCache::none()
        }
    }

    /// The MD5 (hex) of the file at `path`, published as `key`: the recorded one when the file
    /// is as it was, otherwise `hash` reads it from the file opened here, whose metadata is then
    /// recorded.
    pub fn md5(
        &self,
        key: &str,
        path: &Path,
        hash: impl FnOnce(&mut File, &Path) -> Result<String>,
    ) -> Result<String> {
        self.md5_at(now(), key, path, hash)
    }

    fn md5_at(
        &self,
        now: Option<i128>,
        key: &str,
        path: &Path,
        hash: impl FnOnce(&mut File, &Path) -> Result<String>,
    ) -> Result<String> {
        let mut file =
            File::open(path).with_context(|| format!("reading website file {}", path.display()))?;
        // The metadata of the file that is read, not of whatever the path names a moment later.
        let stamp = file.metadata().ok().and_then(|m| Stamp::of(&m));
        if let Some(stamp) = stamp {
            if let Some(entry) = self.loaded.get(key).filter(|e| e.trusted_for(&stamp)) {
                self.cached.fetch_add(1, Ordering::Relaxed);
                self.keep(key, *entry);
                return Ok(hex::encode(entry.md5));
            }
        }
        let md5 = hash(&mut file, path)?;
        self.hashed.fetch_add(1, Ordering::Relaxed);
        let digest = hex::decode(&md5)
            .ok()
            .and_then(|d| <[u8; 16]>::try_from(d).ok());
        if let (Some(stamp), Some(recorded), Some(md5)) = (stamp, now, digest) {
            self.keep(
                key,
                Entry {
                    stamp,
                    recorded,
                    md5,
                },
            );
        }
        Ok(md5)
    }

    fn keep(&self, key: &str, entry: Entry) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.insert(key.to_string(), entry);
        }
    }

    /// Say (with `-v`) how many files were read, and save the entries of this run's files when
    /// they differ from those loaded. A failed save is one warning, never an error.
    pub fn finish(&self, report: &Report) {
        let Some(file) = &self.file else {
            report.detail(format!(
                "website files: {} hashed (no digest cache on this platform)",
                self.hashed.load(Ordering::Relaxed)
            ));
            return;
        };
        report.detail(format!(
            "website files: {} hashed, {} from the digest cache {}",
            self.hashed.load(Ordering::Relaxed),
            self.cached.load(Ordering::Relaxed),
            file.display()
        ));
        if let Some(why) = &self.set_aside {
            report.detail(format!("digest cache set aside: {why}"));
        }
        if let Err(e) = self.save() {
            report.warn(format!(
                "could not save the website digest cache {}: {e}; the next run reads every \
                 website file again",
                file.display()
            ));
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let (Some(file), Ok(kept)) = (&self.file, self.kept.lock()) else {
            return Ok(());
        };
        let same = kept.len() == self.loaded.len()
            && kept.iter().all(|(k, e)| self.loaded.get(k) == Some(e));
        if same {
            return Ok(());
        }
        let bytes = encode(VERSION, &self.source, &kept);
        drop(kept);
        let dir = file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n")?;
        }
        let tmp = dir.join(format!(".digests-{}.tmp", uuid::Uuid::new_v4().simple()));
        let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, file));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// The file's layout: magic, version, source, entry count, entries, then the first bytes of
/// the SHA-256 of all before them. Integers are little-endian.
fn encode(version: u32, source: &[u8], entries: &BTreeMap<String, Entry>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + source.len() + entries.len() * (ENTRY_FIXED + 32));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(source.len() as u32).to_le_bytes());
    out.extend_from_slice(source);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (key, e) in entries {
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        for n in [e.stamp.dev, e.stamp.ino, e.stamp.size] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for t in [e.stamp.mtime, e.stamp.ctime, e.recorded] {
            out.extend_from_slice(&(t.div_euclid(NANOS) as i64).to_le_bytes());
            out.extend_from_slice(&(t.rem_euclid(NANOS) as u32).to_le_bytes());
        }
        out.extend_from_slice(&e.md5);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..CHECKSUM]);
    out
}

/// The entries saved for `source`, for a walk of `files` files; why not, when they cannot be
/// trusted. A missing file is an empty cache.
fn load(file: &Path, source: &[u8], files: usize) -> Result<HashMap<String, Entry>, String> {
    let mut f = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("unreadable ({e})")),
    };
    // No more than this run's files can use: a larger file is not read into memory.
    let limit = MAGIC.len() + 12 + source.len() + files * (ENTRY_FIXED + MAX_KEY) + CHECKSUM;
    let len = f.metadata().map_err(|e| format!("unreadable ({e})"))?.len();
    if len > limit as u64 {
        return Err(format!("{len} bytes, more than {files} files need"));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut f, &mut bytes).map_err(|e| format!("unreadable ({e})"))?;
    decode(&bytes, source)
}

fn decode(bytes: &[u8], source: &[u8]) -> Result<HashMap<String, Entry>, String> {
    let damaged = || "damaged".to_string();
    if bytes.len() < MAGIC.len() + CHECKSUM || !bytes.starts_with(MAGIC) {
        return Err("not a digest cache".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    if Sha256::digest(body)[..CHECKSUM] != *sum {
        return Err(damaged());
    }
    let mut r = Reader(&body[MAGIC.len()..]);
    let version = r.u32().ok_or_else(damaged)?;
    if version != VERSION {
        return Err(format!("format version {version}, not {VERSION}"));
    }
    let len = r.u32().ok_or_else(damaged)? as usize;
    if r.take(len).ok_or_else(damaged)? != source {
        return Err("recorded for another website source".into());
    }
    let count = r.u32().ok_or_else(damaged)? as usize;
    let mut out = HashMap::with_capacity(count.min(body.len() / ENTRY_FIXED));
    for _ in 0..count {
        let (key, entry) = r.entry().ok_or_else(damaged)?;
        out.insert(key, entry);
    }
    if !r.0.is_empty() {
        return Err(damaged());
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn time(&mut self) -> Option<i128> {
        let secs = self.array().map(i64::from_le_bytes)?;
        let nanos = self.u32()?;
        time(secs, nanos.into())
    }

    fn entry(&mut self) -> Option<(String, Entry)> {
        let len = self.array().map(u16::from_le_bytes)? as usize;
        let key = std::str::from_utf8(self.take(len)?).ok()?.to_string();
        let stamp = Stamp::new(
            self.u64()?,
            self.u64()?,
            self.u64()?,
            self.time()?,
            self.time()?,
        )?;
        let recorded = self.time()?;
        let md5 = self.array()?;
        Some((
            key,
            Entry {
                stamp,
                recorded,
                md5,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Md5;
    use std::io::Read;

    const HOUR: i128 = 3600 * NANOS;

    fn md5_hex(bytes: &[u8]) -> String {
        hex::encode(Md5::digest(bytes))
    }

    /// A website folder, with its cache file next to it.
    struct Site {
        dir: tempfile::TempDir,
    }

    impl Site {
        fn new(files: &[(&str, &str)]) -> Site {
            let site = Site {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::create_dir(site.source()).unwrap();
            for (key, text) in files {
                site.write(key, text);
            }
            site
        }

        fn source(&self) -> PathBuf {
            self.dir.path().join("site")
        }

        fn cache_file(&self) -> PathBuf {
            self.dir.path().join(STATE_DIR).join("website-digests-test")
        }

        fn path(&self, key: &str) -> PathBuf {
            self.source().join(key)
        }

        fn write(&self, key: &str, text: &str) {
            std::fs::write(self.path(key), text).unwrap();
        }

        fn mtime(&self, key: &str) -> SystemTime {
            std::fs::metadata(self.path(key))
                .unwrap()
                .modified()
                .unwrap()
        }

        fn set_mtime(path: &Path, mtime: SystemTime) {
            let file = File::options().write(true).open(path).unwrap();
            file.set_modified(mtime).unwrap();
        }

        fn stamp(&self, key: &str) -> Stamp {
            Stamp::of(&std::fs::metadata(self.path(key)).unwrap()).unwrap()
        }

        fn open(&self, files: usize) -> DigestCache {
            DigestCache::at(self.cache_file(), &self.source(), files)
        }

        /// One run over `keys` whose stamps are read at `now`, its cache saved after: how many
        /// files were read and how many digests came from the cache. Every digest, read or
        /// cached, must be the MD5 of what the file holds now.
        fn run_at(&self, now: Option<i128>, keys: &[&str]) -> (usize, usize) {
            let cache = self.open(keys.len());
            let reads = AtomicUsize::new(0);
            for key in keys {
                let md5 = cache
                    .md5_at(now, key, &self.path(key), |file, _| {
                        reads.fetch_add(1, Ordering::Relaxed);
                        let mut bytes = Vec::new();
                        file.read_to_end(&mut bytes)?;
                        Ok(md5_hex(&bytes))
                    })
                    .unwrap();
                assert_eq!(
                    md5,
                    md5_hex(&std::fs::read(self.path(key)).unwrap()),
                    "{key}"
                );
            }
            cache.save().unwrap();
            let hashed = cache.hashed.load(Ordering::Relaxed);
            assert_eq!(hashed, reads.load(Ordering::Relaxed));
            (hashed, cache.cached.load(Ordering::Relaxed))
        }

        /// A run whose stamps are read long after every change, so that no entry is racy.
        fn run(&self, keys: &[&str]) -> (usize, usize) {
            self.run_at(now().map(|n| n + HOUR), keys)
        }

        fn saved_keys(&self) -> Vec<String> {
            let bytes = std::fs::read(self.cache_file()).unwrap();
            let mut keys: Vec<String> =
                decode(&bytes, self.source().as_os_str().as_encoded_bytes())
                    .unwrap()
                    .into_keys()
                    .collect();
            keys.sort();
            keys
        }

        /// The saved cache re-encoded by `f`.
        fn rewrite_cache(&self, f: impl FnOnce(&BTreeMap<String, Entry>) -> Vec<u8>) {
            let source = self.source();
            let source = source.as_os_str().as_encoded_bytes();
            let bytes = std::fs::read(self.cache_file()).unwrap();
            let entries = decode(&bytes, source).unwrap().into_iter().collect();
            std::fs::write(self.cache_file(), f(&entries)).unwrap();
        }
    }

    const KEYS: [&str; 2] = ["index.html", "app.css"];

    fn site() -> Site {
        Site::new(&[
            ("index.html", "<p>hello</p>"),
            ("app.css", "p { color: red }"),
        ])
    }

    #[test]
    fn a_fresh_folder_is_hashed_whole_and_then_not_read_again() {
        let site = site();
        assert_eq!(site.run(&KEYS), (2, 0));
        assert_eq!(site.run(&KEYS), (0, 2));
        assert_eq!(
            std::fs::read_to_string(site.cache_file().with_file_name(".gitignore")).unwrap(),
            "*\n"
        );
    }

    #[test]
    fn a_changed_size_is_read_again() {
        let site = site();
        site.run(&KEYS);
        site.write("index.html", "<p>hello, world</p>");
        assert_eq!(site.run(&KEYS), (1, 1));
    }

    #[test]
    fn a_changed_mtime_is_read_again() {
        let site = site();
        site.run(&KEYS);
        Site::set_mtime(
            &site.path("app.css"),
            site.mtime("app.css") - Duration::from_secs(60),
        );
        assert_eq!(site.run(&KEYS), (1, 1));
    }

    #[test]
    fn a_rewrite_of_the_same_size_that_puts_the_mtime_back_is_caught_by_the_ctime() {
        let site = site();
        site.run(&KEYS);
        let before = site.stamp("index.html");
        let mtime = site.mtime("index.html");
        // Written again until the file system's clock has ticked since the first write: within
        // one tick the ctime stays as it was, which is what the racy window is for.
        loop {
            site.write("index.html", "<p>HELLO</p>");
            Site::set_mtime(&site.path("index.html"), mtime);
            if site.stamp("index.html").ctime != before.ctime {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let after = site.stamp("index.html");
        assert_eq!(
            (after.dev, after.ino, after.size, after.mtime),
            (before.dev, before.ino, before.size, before.mtime)
        );
        assert_eq!(site.run(&KEYS), (1, 1));
    }

    #[test]
    fn a_file_replaced_by_rename_is_read_again() {
        let site = site();
        site.run(&KEYS);
        let before = site.stamp("app.css");
        let new = site.path("app.css.new");
        std::fs::write(&new, "p { color: RED }").unwrap();
        Site::set_mtime(&new, site.mtime("app.css"));
        std::fs::rename(&new, site.path("app.css")).unwrap();
        let after = site.stamp("app.css");
        assert_eq!((after.size, after.mtime), (before.size, before.mtime));
        assert_ne!(after.ino, before.ino);
        assert_eq!(site.run(&KEYS), (1, 1));
    }

    #[test]
    fn every_part_of_the_stamp_counts() {
        let stamp = Stamp::new(1, 2, 3, 10 * NANOS + 5, 10 * NANOS + 7).unwrap();
        let entry = Entry {
            stamp,
            recorded: 20 * NANOS,
            md5: [0; 16],
        };
        assert!(entry.trusted_for(&stamp));
        let others = [
            Stamp { dev: 9, ..stamp },
            Stamp { ino: 9, ..stamp },
            Stamp { size: 9, ..stamp },
            Stamp {
                mtime: stamp.mtime + 1,
                ..stamp
            },
            Stamp {
                ctime: stamp.ctime + 1,
                ..stamp
            },
        ];
        for other in others {
            assert!(!entry.trusted_for(&other), "{other:?}");
        }
        assert_eq!(Stamp::new(1, 0, 3, 0, 0), None, "no inode, no cache");
    }

    #[test]
    fn an_entry_recorded_within_the_racy_window_of_a_change_is_not_trusted() {
        let entry = |mtime: i128, ctime: i128, recorded: i128| Entry {
            stamp: Stamp::new(1, 2, 3, mtime, ctime).unwrap(),
            recorded,
            md5: [0; 16],
        };
        let window = RACY_WINDOW.as_nanos() as i128;
        let changed = 100 * NANOS + 123;
        // The newer of the two times counts: a ctime after the mtime is the last change.
        for (mtime, ctime) in [
            (changed, changed),
            (50 * NANOS, changed),
            (changed, 50 * NANOS),
        ] {
            let racy = entry(mtime, ctime, changed + window - 1);
            assert!(!racy.trusted_for(&racy.stamp), "{mtime} {ctime}");
            let settled = entry(mtime, ctime, changed + window);
            assert!(settled.trusted_for(&settled.stamp), "{mtime} {ctime}");
        }
        // Whole seconds: the file system may keep only two-second steps.
        let longest = RACY_WINDOW_LONGEST.as_nanos() as i128;
        let whole = entry(100 * NANOS, 100 * NANOS, 100 * NANOS + longest - 1);
        assert!(!whole.trusted_for(&whole.stamp));
        let whole = entry(100 * NANOS, 100 * NANOS, 100 * NANOS + longest);
        assert!(whole.trusted_for(&whole.stamp));

        // On disk: a file read in the same instant it was written is read again next time.
        let site = site();
        let written = site.stamp("index.html");
        site.run_at(Some(written.mtime.max(written.ctime)), &["index.html"]);
        assert_eq!(site.run(&["index.html"]), (1, 0));
        assert_eq!(site.run(&["index.html"]), (0, 1));
    }

    #[test]
    fn a_damaged_cache_is_set_aside_and_replaced() {
        let site = site();
        site.run(&KEYS);
        let good = std::fs::read(site.cache_file()).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        let damaged = [
            flipped,
            good[..good.len() - 1].to_vec(),
            Vec::new(),
            b"not a cache at all".to_vec(),
        ];
        for bytes in damaged {
            std::fs::write(site.cache_file(), &bytes).unwrap();
            assert!(site.open(2).set_aside.is_some());
            assert_eq!(site.run(&KEYS), (2, 0));
            assert_eq!(site.run(&KEYS), (0, 2));
        }
    }

    #[test]
    fn a_cache_of_another_version_or_source_is_set_aside() {
        let site = site();
        site.run(&KEYS);
        let source = site.source();
        let source = source.as_os_str().as_encoded_bytes().to_vec();
        site.rewrite_cache(|entries| encode(VERSION + 1, &source, entries));
        assert_eq!(
            site.open(2).set_aside.as_deref(),
            Some("format version 2, not 1")
        );
        assert_eq!(site.run(&KEYS), (2, 0));
        site.rewrite_cache(|entries| encode(VERSION, b"/elsewhere/site", entries));
        assert_eq!(
            site.open(2).set_aside.as_deref(),
            Some("recorded for another website source")
        );
        assert_eq!(site.run(&KEYS), (2, 0));
        assert_eq!(site.run(&KEYS), (0, 2));
    }

    #[test]
    fn a_cache_larger_than_the_files_can_need_is_not_read() {
        let site = site();
        site.run(&KEYS);
        assert!(site.open(0).set_aside.is_some());
        assert!(site.open(1).set_aside.is_none());
    }

    #[test]
    fn entries_of_files_no_longer_there_are_dropped() {
        let site = site();
        site.run(&KEYS);
        assert_eq!(site.saved_keys(), ["app.css", "index.html"]);
        std::fs::remove_file(site.path("app.css")).unwrap();
        assert_eq!(site.run(&["index.html"]), (0, 1));
        assert_eq!(site.saved_keys(), ["index.html"]);
    }

    #[test]
    fn a_failed_save_is_an_error_to_warn_about_and_leaves_no_temporary_file() {
        let site = site();
        // The state folder's place is taken by a file: nothing can be written under it.
        std::fs::write(site.dir.path().join(STATE_DIR), "").unwrap();
        let cache = site.open(2);
        let md5 = cache
            .md5(KEYS[0], &site.path(KEYS[0]), |_, _| Ok(md5_hex(b"x")))
            .unwrap();
        assert_eq!(md5, md5_hex(b"x"));
        assert!(cache.save().is_err());

        // A folder where the cache file should be: the rename fails, the temporary goes.
        std::fs::remove_file(site.dir.path().join(STATE_DIR)).unwrap();
        std::fs::create_dir_all(site.cache_file()).unwrap();
        let cache = site.open(2);
        cache
            .md5(KEYS[0], &site.path(KEYS[0]), |_, _| Ok(md5_hex(b"x")))
            .unwrap();
        assert!(cache.save().is_err());
        let mut left: Vec<String> = std::fs::read_dir(site.dir.path().join(STATE_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".gitignore", "website-digests-test"]);
    }
}
