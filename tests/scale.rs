//! The website sync and teardown at scale, on moto: thousands of files with odd names land
//! with exact bytes, pages after their assets; a large file goes up in parts and is
//! recognised as unchanged on the next run; a bucket of ten thousand versions is emptied.
//! (Speed is the benchmark's business, `scripts/bench-sync.sh`; memory has its own test
//! binary, `tests/sync_memory.rs`.)

mod support;

use std::sync::{Arc, Mutex};

use support::proxy::{Proxy, Request, Response};
use support::*;

const REGION: &str = "eu-central-1";

fn spec(name: &str) -> String {
    format!(
        "version: 1\nname: {name}\nregion: {REGION}\ndocuments: {{versioning: true}}\n\
         presigner: {{zip: bundle.zip}}\nwebsite: {{source: site}}\n"
    )
}

/// The object key a path-style S3 request names (`/bucket/a%20b` -> `a b`).
fn key_of(req: &Request) -> Option<String> {
    let path = req.target.split('?').next()?;
    let (_, key) = path.trim_start_matches('/').split_once('/')?;
    Some(
        percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .ok()?
            .into_owned(),
    )
}

/// Bytes of the i-th generated file: its name and number, repeated to a size that varies.
fn content(i: usize, key: &str) -> Vec<u8> {
    let line = format!("{i} {key}\n");
    line.repeat(1 + (i * 37) % 90).into_bytes()
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn thousands_of_odd_names_land_exactly_and_pages_go_last() {
    let moto = Moto::start();
    let p = Project::new();
    let site = p.path().join("site");
    let mut files = Vec::new();
    for i in 0..2500 {
        let key = match i % 10 {
            0 => format!("odd names/with space {i}.txt"),
            1 => format!("plus+hash#{i}.txt"),
            2 => format!("unicodé/日本語-{i}.txt"),
            3 => format!("deep/a/b/c/d/e/f/g/h/i/j/k/{i}.js"),
            4 => format!("pages/page-{i}.html"),
            5 => format!("percent%20{i}.css"),
            6 => format!("q?{i}&x=y.txt"),
            7 => format!("(parens) [brackets] {{braces}} {i}.txt"),
            _ => format!("assets/{}/file-{i}.bin", i % 7),
        };
        let path = site.join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content(i, &key)).unwrap();
        files.push(key);
    }
    p.write_spec(&spec("odd-docs"));
    // Every object write as the proxy sees it: when each starts and when it is done.
    let events: Arc<Mutex<Vec<(bool, String)>>> = Arc::default();
    let log = events.clone();
    let bucket = "odd-docs-dev-website-123456789012";
    let proxy = Proxy::start(
        &moto.url,
        Arc::new(move |req: &Request, answer: Option<&Response>| {
            let is_put = req.method == "PUT"
                && req.path().starts_with(&format!("/{bucket}/"))
                && !req.has_query("partNumber");
            if is_put {
                if let Some(key) = key_of(req) {
                    log.lock().unwrap().push((answer.is_some(), key));
                }
            }
            None
        }),
    );
    let mut up = p.cmd(&moto, REGION, &["up"]);
    up.env("AWS_ENDPOINT_URL", &proxy.url);
    run(up).ok();
    // Pages (and config.json) start only after every asset is done.
    let events = events.lock().unwrap().clone();
    let last = |k: &str| k.ends_with(".html") || k == "config.json";
    let assets_done = events
        .iter()
        .rposition(|(done, k)| *done && !last(k))
        .expect("assets were written");
    let first_page = events
        .iter()
        .position(|(done, k)| !*done && last(k))
        .expect("pages were written");
    assert!(
        assets_done < first_page,
        "a page started before the last asset was written: {:?}",
        &events[first_page.saturating_sub(3)..(first_page + 3).min(events.len())]
    );
    // Every file landed, with exactly its bytes.
    let s3 = moto.s3(REGION).await;
    let chunks: Vec<Vec<(usize, String)>> = files
        .iter()
        .cloned()
        .enumerate()
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| c.to_vec())
        .collect();
    for chunk in chunks {
        let reads = chunk.into_iter().map(|(i, key)| {
            let s3 = s3.clone();
            async move {
                let got = s3
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{key}: {e:?}"));
                let bytes = got.body.collect().await.unwrap().into_bytes();
                assert_eq!(bytes.as_ref(), content(i, &key).as_slice(), "{key}");
            }
        });
        futures::future::join_all(reads).await;
    }
    // Nothing left to do, and drift agrees.
    let again = run(p.cmd(&moto, REGION, &["up"])).ok();
    assert!(again.stderr.contains("No changes"), "{}", again.stderr);
    run(p.cmd(&moto, REGION, &["drift"])).ok();
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_large_file_goes_in_parts_and_is_recognised_unchanged() {
    let moto = Moto::start();
    let p = Project::new();
    let big = p.path().join("site/video.bin");
    let mut bytes = vec![0u8; 70 * 1024 * 1024];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&big, &bytes).unwrap();
    p.write_spec(&spec("big-docs"));
    let proxy = Proxy::start(
        &moto.url,
        Arc::new(|_: &Request, _: Option<&Response>| None),
    );
    let mut up = p.cmd(&moto, REGION, &["up"]);
    up.env("AWS_ENDPOINT_URL", &proxy.url);
    run(up).ok();
    let parts = proxy.count(|m, t| m == "PUT" && t.contains("partNumber="));
    assert_eq!(parts, 5, "70 MiB in 16 MiB parts");
    let s3 = moto.s3(REGION).await;
    let bucket = "big-docs-dev-website-123456789012";
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("video.bin")
        .send()
        .await
        .unwrap();
    assert!(got.e_tag().unwrap().contains('-'), "a multipart ETag");
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.as_ref() == bytes.as_slice(), "the bytes round-trip");
    // Same bytes, a new mtime (a fresh checkout): nothing to upload.
    let copy = std::fs::read(&big).unwrap();
    std::fs::remove_file(&big).unwrap();
    std::fs::write(&big, &copy).unwrap();
    let again = run(p.cmd(&moto, REGION, &["up"])).ok();
    assert!(again.stderr.contains("No changes"), "{}", again.stderr);
    run(p.cmd(&moto, REGION, &["drift"])).ok();
    // One byte changed: uploaded again.
    bytes[12_345_678] ^= 0xff;
    std::fs::write(&big, &bytes).unwrap();
    let plan = run(p.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("~ website object video.bin"),
        "{}",
        plan.stdout
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_bucket_of_ten_thousand_versions_is_emptied() {
    let moto = Moto::start();
    let p = Project::new();
    p.write_spec(&spec("many-docs"));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let bucket = "many-docs-dev-documents-123456789012";
    // moto applies the TLS-only Deny to its own plain-HTTP requests: lift it to write.
    let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    // 5,000 objects of two versions each.
    let started = std::time::Instant::now();
    for round in 0..2 {
        for start in (0..5000).step_by(100) {
            let puts = (start..start + 100).map(|i| {
                let s3 = s3.clone();
                async move {
                    s3.put_object()
                        .bucket(bucket)
                        .key(format!("uploads/{i:05}.txt"))
                        .body(format!("v{round}").into_bytes().into())
                        .send()
                        .await
                        .unwrap();
                }
            });
            futures::future::join_all(puts).await;
        }
    }
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.policy().unwrap())
        .send()
        .await
        .unwrap();
    let seeded = started.elapsed();
    let started = std::time::Instant::now();
    let down = run(p.cmd(&moto, REGION, &["--output", "json", "down", "--yes"])).ok();
    // Not asserted (machines are noisy): shown with --nocapture.
    eprintln!("seeded in {seeded:.1?}, down in {:.1?}", started.elapsed());
    // Progress is for people: none with --output json, however long it takes.
    assert!(!down.stderr.contains("Emptying"), "{}", down.stderr);
    let result: serde_json::Value = serde_json::from_str(&down.stdout).unwrap();
    assert!(
        result["objects_deleted"].as_u64().unwrap() >= 10_000,
        "{}",
        down.stdout
    );
    assert!(s3.head_bucket().bucket(bucket).send().await.is_err());
}
