//! The website digest cache through the real binary against moto: a run after an edit reads
//! only the edited file (the figures `-v` prints) and uploads exactly that file, an edit that
//! keeps the size and puts the mtime back is still found, and a folder where the cache cannot
//! be saved costs one warning, not the run.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

const REGION: &str = "eu-central-1";
const FILES: [&str; 4] = ["index.html", "app.js", "img/logo.png", "docs/help.html"];

fn site_bucket() -> String {
    format!("digest-docs-dev-website-{ACCOUNT}")
}

fn site_file(project: &Project, key: &str) -> PathBuf {
    project.path().join("site").join(key)
}

/// Wait until every site file changed longer ago than the racy window, so that the digests the
/// next run records are trusted by the run after it.
fn settle(project: &Project) {
    let newest = FILES
        .iter()
        .map(|key| {
            let meta = std::fs::metadata(site_file(project, key)).unwrap();
            let ctime = UNIX_EPOCH
                + Duration::from_secs(meta.ctime() as u64)
                + Duration::from_nanos(meta.ctime_nsec() as u64);
            ctime.max(meta.modified().unwrap())
        })
        .max()
        .unwrap();
    let settled = newest + presign_stack::digest_cache::RACY_WINDOW_LONGEST;
    while let Ok(left) = settled.duration_since(SystemTime::now()) {
        std::thread::sleep(left + Duration::from_millis(1));
    }
}

/// `up -v` with the request log on: the run, its write requests, and the figures it printed
/// for the website files: (hashed, from the digest cache).
fn up(project: &Project, moto: &Moto, log: &str) -> (Run, Vec<String>, (usize, usize)) {
    let log = project.path().join(log);
    let mut cmd = project.cmd(moto, REGION, &["-v", "up"]);
    cmd.env("PRESIGN_STACK_REQUEST_LOG", &log);
    let out = run(cmd).ok();
    let writes = writes(&logged_requests(&log));
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("website files: "))
        .unwrap_or_else(|| panic!("no website file figures:\n{}", out.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (words[1], &words[3..6]),
        ("hashed,", &["from", "the", "digest"][..])
    );
    let figures = (words[0].parse().unwrap(), words[2].parse().unwrap());
    (out, writes, figures)
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(site_bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn a_second_up_reads_and_uploads_only_the_edited_files() {
    let moto = Moto::start();
    let s3 = moto.s3(REGION).await;
    let project = Project::new();
    project.write_spec(&format!(
        "version: 1\nname: digest-docs\nregion: {REGION}\npresigner: {{zip: bundle.zip}}\n\
         website: {{source: site}}\n"
    ));
    settle(&project);

    // A fresh checkout has no cache: every file is read.
    let (_, _, figures) = up(&project, &moto, "requests-1.log");
    assert_eq!(figures, (4, 0));
    let state: Vec<String> = std::fs::read_dir(project.path().join(".presign-stack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("website-digests-"))
        .collect();
    assert_eq!(state.len(), 1, "one cache for the one source");
    let listed = s3
        .list_objects_v2()
        .bucket(site_bucket())
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "app.js",
            "config.json",
            "docs/help.html",
            "img/logo.png",
            "index.html"
        ],
        "the cache is never published"
    );

    // One file edited: it alone is read, and uploaded.
    std::fs::write(
        site_file(&project, "app.js"),
        "console.log('v2, longer');\n",
    )
    .unwrap();
    settle(&project);
    let (_, writes, figures) = up(&project, &moto, "requests-2.log");
    assert_eq!(figures, (1, 3));
    assert_eq!(writes, ["S3 PutObject"]);
    assert_eq!(object(&s3, "app.js").await, b"console.log('v2, longer');\n");

    // The same size and the mtime put back: the ctime still tells.
    let logo = site_file(&project, "img/logo.png");
    let before = std::fs::metadata(&logo).unwrap();
    std::fs::write(&logo, b"\x89PNG\r\n\x1a\nFAKE").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&logo)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let after = std::fs::metadata(&logo).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap(), after.ino()),
        (before.len(), before.modified().unwrap(), before.ino())
    );
    settle(&project);
    let (_, writes, figures) = up(&project, &moto, "requests-3.log");
    assert_eq!(figures, (1, 3));
    assert_eq!(writes, ["S3 PutObject"]);
    assert_eq!(object(&s3, "img/logo.png").await, b"\x89PNG\r\n\x1a\nFAKE");

    // Nothing changed: nothing is read, nothing written.
    let (_, writes, figures) = up(&project, &moto, "requests-4.log");
    assert_eq!(figures, (0, 4));
    assert_eq!(writes, Vec::<String>::new());

    // Where the cache cannot be saved, every file is read, with one warning, and `up` succeeds.
    let state = project.path().join(".presign-stack");
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::write(&state, "").unwrap();
    let (out, writes, figures) = up(&project, &moto, "requests-5.log");
    assert_eq!(figures, (4, 0));
    assert_eq!(writes, Vec::<String>::new());
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("warning:") && l.contains("digest cache"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("could not save the website digest cache"),
        "{}",
        out.stderr
    );
}
