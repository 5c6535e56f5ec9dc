//! Big, exact, single-use uploads through `presign-stack dev`, end to end over real HTTP: the
//! presigner's answers (`/uploads`, `/uploads/parts`, `/uploads/complete`, `/uploads/abort`)
//! carried out against the documents store, which answers as S3 does: uploads in parts (a
//! 120 MB file, resumed, aborted, lied about), `If-None-Match: *` and `x-amz-checksum-sha256`
//! on single PUTs, and the refusals in between.
//!
//! The specs here use S3's smallest parts (5 MiB) above a 6 MiB threshold to keep files small.
//! ListParts is not something the presigner signs, so the tests sign it (and a few requests
//! the presigner never makes) with dev's local keys, as any holder of the keys could.

mod support;

use base64::Engine as _;
use md5::Md5;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::devserver::*;

const MIB: u64 = 1024 * 1024;
const PART: u64 = 5 * MIB;
const THRESHOLD: u64 = 6 * MIB;

/// A project whose presigner sends anything over 6 MiB in 5 MiB parts, up to `max` bytes.
fn project(dir: &Path, max: u64) -> PathBuf {
    let spec = write_project(
        dir,
        &format!("  multipart_threshold_bytes: {THRESHOLD}\n  part_size_bytes: {PART}\n"),
    );
    let yaml = std::fs::read_to_string(&spec).unwrap().replace(
        "max_upload_bytes: 1048576",
        &format!("max_upload_bytes: {max}"),
    );
    std::fs::write(&spec, yaml).unwrap();
    spec
}

fn start(max: u64) -> (tempfile::TempDir, Dev) {
    let dir = tempfile::tempdir().unwrap();
    let spec = project(dir.path(), max);
    let dev = Dev::start(&spec, Some(&dir.path().join("data")));
    (dir, dev)
}

/// The bytes of a test file: `seed`'s stream at `offset`, computed anywhere in the file
/// without the rest (each 8-byte block is SplitMix64 of its index), so no test holds a copy
/// of a big file and a download is compared as it comes.
fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut i = 0;
    while i < buf.len() {
        let at = offset + i as u64;
        let mut z = seed ^ (at / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let word = z.to_le_bytes();
        let from = (at % 8) as usize;
        let n = (8 - from).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&word[from..from + n]);
        i += n;
    }
}

fn bytes(seed: u64, offset: u64, len: u64) -> Vec<u8> {
    let mut v = vec![0u8; len as usize];
    fill(seed, offset, &mut v);
    v
}

fn sha256_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Part `n` (1-based) of a file of `size` bytes.
fn part_range(size: u64, n: u64) -> (u64, u64) {
    let start = (n - 1) * PART;
    (start, (size - start).min(PART))
}

/// The text of every `<tag>` element, in order (entities for quotes decoded).
fn xml_tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split(&close).next())
        .map(|s| s.replace("&quot;", "\"").replace("&amp;", "&"))
        .collect()
}

/// A presigner call; the reply as it came.
fn call(dev: &Dev, route: &str, body: &Value) -> Reply {
    http(
        "POST",
        &format!("{}{route}", dev.presigner_url),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// A presigner call that must succeed.
fn ok(dev: &Dev, route: &str, body: &Value) -> Value {
    let r = call(dev, route, body);
    assert_eq!(r.status, 200, "{route}: {}", r.text());
    r.json()
}

fn header_list(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Sends a presigned request as the presigner described it (`url`, `method`, `headers`).
fn send(request: &Value, body: &[u8]) -> Reply {
    let headers = header_list(&request["headers"]);
    http(
        request["method"].as_str().unwrap(),
        request["url"].as_str().unwrap(),
        &refs(&headers),
        body,
    )
}

/// An upload in parts, created at the store.
struct Multipart {
    key: String,
    id: String,
    size: u64,
    part_count: u64,
    /// The create request, as the presigner handed it out.
    create: Value,
}

/// `POST /uploads` for a file above the threshold, then its create request at the store.
fn start_multipart(dev: &Dev, filename: &str, size: u64) -> Multipart {
    let v = ok(
        dev,
        "uploads",
        &json!({"filename": filename, "contentType": "text/plain", "size": size}),
    );
    assert_eq!(v["method"], "MULTIPART", "{v}");
    assert_eq!(v["partSize"], PART);
    let create = v["create"].clone();
    let id = create_upload(&create);
    Multipart {
        key: v["key"].as_str().unwrap().to_string(),
        id,
        size,
        part_count: v["partCount"].as_u64().unwrap(),
        create,
    }
}

/// Sends a create request; the UploadId the store answered.
fn create_upload(create: &Value) -> String {
    assert_eq!(create["method"], "POST");
    assert!(create["url"].as_str().unwrap().contains("uploads="));
    let r = send(create, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-algorithm"), Some("SHA256"));
    let text = r.text();
    assert!(text.contains("<InitiateMultipartUploadResult"), "{text}");
    xml_tags(&text, "UploadId").pop().unwrap()
}

impl Multipart {
    /// `POST /uploads/parts` for `parts` (number and SHA-256), claiming `size`.
    fn ask_parts(&self, dev: &Dev, size: u64, parts: &[(u64, String)]) -> Reply {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(n, sha)| json!({"partNumber": n, "sha256": sha}))
            .collect();
        call(
            dev,
            "uploads/parts",
            &json!({"key": self.key, "uploadId": self.id, "size": size, "parts": parts}),
        )
    }

    /// The presigned request for part `n` of the file made from `seed`, and its bytes.
    fn part_request(&self, dev: &Dev, seed: u64, n: u64) -> (Value, Vec<u8>) {
        let (start, len) = part_range(self.size, n);
        let data = bytes(seed, start, len);
        let r = self.ask_parts(dev, self.size, &[(n, sha256_b64(&data))]);
        assert_eq!(r.status, 200, "{}", r.text());
        let part = r.json()["parts"][0].clone();
        assert_eq!(part["partNumber"], n);
        assert_eq!(part["method"], "PUT");
        assert_eq!(part["headers"]["content-length"], len.to_string());
        (part, data)
    }

    /// Uploads part `n` of the file made from `seed`; its ETag and SHA-256.
    fn upload_part(&self, dev: &Dev, seed: u64, n: u64) -> (String, String) {
        let (request, data) = self.part_request(dev, seed, n);
        let r = send(&request, &data);
        assert_eq!(r.status, 200, "part {n}: {}", r.text());
        let etag = r.header("etag").unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", md5_hex(&data)));
        let sha = sha256_b64(&data);
        assert_eq!(r.header("x-amz-checksum-sha256"), Some(sha.as_str()));
        (etag, sha)
    }

    /// `POST /uploads/complete` for parts (number, ETag, SHA-256), claiming `size`.
    fn ask_complete(&self, dev: &Dev, size: u64, parts: &[(u64, String, String)]) -> Reply {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(n, etag, sha)| json!({"partNumber": n, "etag": etag, "sha256": sha}))
            .collect();
        call(
            dev,
            "uploads/complete",
            &json!({"key": self.key, "uploadId": self.id, "size": size, "parts": parts}),
        )
    }

    /// The presigned complete request for `parts`, sent as the presigner said; the store's
    /// answer and the request (to send again).
    fn complete(&self, dev: &Dev, parts: &[(u64, String, String)]) -> (Reply, Value) {
        let r = self.ask_complete(dev, self.size, parts);
        assert_eq!(r.status, 200, "{}", r.text());
        let request = r.json();
        assert_eq!(request["headers"]["if-none-match"], "*");
        let reply = send(&request, request["body"].as_str().unwrap().as_bytes());
        (reply, request)
    }

    fn abort_request(&self, dev: &Dev) -> Value {
        let v = ok(
            dev,
            "uploads/abort",
            &json!({"key": self.key, "uploadId": self.id}),
        );
        assert_eq!(v["method"], "DELETE");
        v
    }

    /// ListParts, signed with dev's keys: (number, size, ETag) of each part stored.
    fn list_parts(&self, dev: &Dev) -> Reply {
        let path = raw_path(self.create["url"].as_str().unwrap());
        let url = sign(dev, "GET", &path, &[("uploadId", &self.id)], &[]);
        http("GET", &url, &[], b"")
    }

    fn parts_stored(&self, dev: &Dev) -> Vec<(u64, u64, String)> {
        let r = self.list_parts(dev);
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        assert!(text.contains("<ListPartsResult"), "{text}");
        let numbers = xml_tags(&text, "PartNumber");
        let sizes = xml_tags(&text, "Size");
        let etags = xml_tags(&text, "ETag");
        assert_eq!(numbers.len(), sizes.len());
        numbers
            .iter()
            .zip(&sizes)
            .zip(&etags)
            .map(|((n, s), e)| (n.parse().unwrap(), s.parse().unwrap(), e.clone()))
            .collect()
    }
}

/// The path of a URL, still encoded.
fn raw_path(url: &str) -> String {
    let (_, target) = split_url(url);
    target.split('?').next().unwrap().to_string()
}

/// A presigned URL for the documents store, made here with dev's local keys and the
/// presigner's own signer, signing `headers` besides host.
fn sign(
    dev: &Dev,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> String {
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dev.data_dir.join("credentials.json")).unwrap())
            .unwrap();
    let creds = presigner::Credentials {
        access_key_id: keys["access_key_id"].as_str().unwrap().into(),
        secret_access_key: keys["secret_access_key"].as_str().unwrap().into(),
        session_token: None,
        expires_at: None,
    };
    let (host, _) = split_url(&dev.documents_url);
    presigner::presign(
        method,
        &format!("http://{host}{path}"),
        query,
        headers,
        &creds,
        "eu-central-1",
        std::time::SystemTime::now(),
        std::time::Duration::from_secs(300),
    )
    .unwrap()
}

/// What a streamed download held.
struct Download {
    status: u16,
    headers: Vec<(String, String)>,
    bytes: u64,
    /// The first offset where the body differs from the file made from the seed.
    first_difference: Option<u64>,
}

impl Download {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GETs `url` and compares the body, as it arrives, with the file made from `seed`.
fn download_and_compare(url: &str, headers: &[(&str, &str)], seed: u64) -> Download {
    let (authority, target) = split_url(url);
    let mut s = std::net::TcpStream::connect(&authority).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, s);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut got = vec![0u8; 1 << 20];
    let mut want = vec![0u8; 1 << 20];
    let (mut at, mut first_difference) = (0u64, None);
    loop {
        let n = reader.read(&mut got).unwrap();
        if n == 0 {
            break;
        }
        if first_difference.is_none() {
            fill(seed, at, &mut want[..n]);
            if let Some(i) = (0..n).find(|&i| got[i] != want[i]) {
                first_difference = Some(at + i as u64);
            }
        }
        at += n as u64;
    }
    Download {
        status,
        headers,
        bytes: at,
        first_difference,
    }
}

#[test]
fn a_120_mb_file_goes_up_in_parts_and_comes_back_byte_for_byte() {
    const SIZE: u64 = 120_000_000;
    const SEED: u64 = 0x5eed_0120;
    let started = Instant::now();
    let (_dir, dev) = start(128 * MIB);
    let mp = start_multipart(&dev, "big.bin.txt", SIZE);
    assert_eq!(mp.part_count, SIZE.div_ceil(PART));

    // Three parts in flight at a time, each hashed, signed and sent on its own thread.
    let next = std::sync::atomic::AtomicU64::new(1);
    let mut parts: Vec<(u64, String, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n > mp.part_count {
                            return done;
                        }
                        let (etag, sha) = mp.upload_part(&dev, SEED, n);
                        done.push((n, etag, sha));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    parts.sort();
    let stored = mp.parts_stored(&dev);
    assert_eq!(stored.len() as u64, mp.part_count);
    assert_eq!(stored.iter().map(|p| p.1).sum::<u64>(), SIZE);

    let (r, _) = mp.complete(&dev, &parts);
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<CompleteMultipartUploadResult"), "{text}");
    assert_eq!(xml_tags(&text, "Key"), [mp.key.as_str()]);
    // S3's ETag and checksum of an object in parts: the digest of the parts' digests, -N.
    let mut md5s = Md5::new();
    let mut shas = Sha256::new();
    for (_, etag, sha) in &parts {
        md5s.update(hex::decode(etag.trim_matches('"')).unwrap());
        shas.update(
            base64::engine::general_purpose::STANDARD
                .decode(sha)
                .unwrap(),
        );
    }
    let n = mp.part_count;
    let etag = format!("\"{}-{n}\"", hex::encode(md5s.finalize()));
    let checksum = format!(
        "{}-{n}",
        base64::engine::general_purpose::STANDARD.encode(shas.finalize())
    );
    assert_eq!(xml_tags(&text, "ETag"), [etag.as_str()]);
    assert_eq!(xml_tags(&text, "ChecksumSHA256"), [checksum.as_str()]);
    assert!(xml_tags(&text, "Location")[0].ends_with(&mp.key.replace(' ', "%20")));
    // The upload is gone once completed.
    assert_eq!(s3_code(&mp.list_parts(&dev)), "NoSuchUpload");

    let got = download_and_compare(
        &download_url(&dev, &mp.key),
        &[("x-amz-checksum-mode", "ENABLED")],
        SEED,
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, SIZE);
    assert_eq!(got.first_difference, None, "the download differs");
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("x-amz-checksum-sha256"), Some(checksum.as_str()));
    assert_eq!(got.header("x-amz-checksum-type"), Some("COMPOSITE"));
    eprintln!("120 MB up in parts and back in {:?}", started.elapsed());
    dev.stop();
}

#[test]
fn a_part_whose_bytes_differ_from_its_signed_sha256_is_400_bad_digest() {
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    let (request, mut data) = mp.part_request(&dev, 1, 1);
    data[12345] ^= 1;
    let r = send(&request, &data);
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "BadDigest"));
    assert!(
        mp.parts_stored(&dev).is_empty(),
        "a refused part is not kept"
    );
    // The genuine bytes go through on the same URL.
    data[12345] ^= 1;
    let r = send(&request, &data);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(mp.parts_stored(&dev).len(), 1);
    dev.stop();
}

#[test]
fn a_part_longer_than_signed_is_refused_and_only_the_signed_length_is_stored() {
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    let (request, data) = mp.part_request(&dev, 2, 1);
    let url = request["url"].as_str().unwrap();
    let sha = request["headers"]["x-amz-checksum-sha256"]
        .as_str()
        .unwrap();
    let longer = [data.as_slice(), b"!"].concat();
    let length = longer.len().to_string();

    // A Content-Length over the signed one: 403 SignatureDoesNotMatch.
    let r = http(
        "PUT",
        url,
        &[("content-length", &length), ("x-amz-checksum-sha256", sha)],
        &longer,
    );
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // No Content-Length at all (chunked): the signed header is missing, 403 too.
    let (authority, target) = split_url(url);
    let mut chunked = format!(
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         x-amz-checksum-sha256: {sha}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
        longer.len()
    )
    .into_bytes();
    chunked.extend_from_slice(&longer);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = raw(&authority, &chunked);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(mp.parts_stored(&dev).is_empty());

    // The signed length with bytes after it: the part is those bytes exactly, and what
    // follows is read as the next request on the connection, which is malformed: 400.
    let mut request_bytes = format!(
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\ncontent-length: {}\r\n\
         x-amz-checksum-sha256: {sha}\r\n\r\n",
        data.len()
    )
    .into_bytes();
    request_bytes.extend_from_slice(&data);
    request_bytes.extend_from_slice(b"EXTRA BYTES AFTER THE PART\r\n\r\n");
    let mut s = std::net::TcpStream::connect(&authority).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(&request_bytes).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\r\n\r\nHTTP/1.1 400"), "{answer}");
    let stored = mp.parts_stored(&dev);
    assert_eq!(
        stored,
        [(1, data.len() as u64, format!("\"{}\"", md5_hex(&data)))]
    );
    dev.stop();
}

#[test]
fn part_numbers_past_part_count_are_400_and_an_edited_part_number_is_403() {
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    assert_eq!(mp.part_count, 3);
    let sha = sha256_b64(b"x");
    for n in [0, 4, 10_001] {
        let r = mp.ask_parts(&dev, mp.size, &[(n, sha.clone())]);
        assert_eq!(r.status, 400, "part {n}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains("partNumber"),
            "{}",
            r.text()
        );
    }
    // A part URL with its part number edited no longer matches its signature.
    let (request, data) = mp.part_request(&dev, 3, 1);
    let mut edited = request.clone();
    let url = request["url"].as_str().unwrap();
    assert!(url.contains("partNumber=1&"), "{url}");
    edited["url"] = json!(url.replacen("partNumber=1&", "partNumber=2&", 1));
    let r = send(&edited, &data);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Nor does an upload ID edited in.
    edited["url"] = json!(url.replacen("uploadId=", "uploadId=x", 1));
    let r = send(&edited, &data);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(mp.parts_stored(&dev).is_empty());
    dev.stop();
}

#[test]
fn a_client_lying_about_size_stores_at_most_max_plus_one_part() {
    let max = 16 * MIB;
    let (_dir, dev) = start(max);
    let mp = start_multipart(&dev, "notes.txt", 7 * MIB);
    assert_eq!(mp.part_count, 2);

    // Part URLs asked as if the file were the largest allowed (4 parts: 5, 5, 5, 1 MiB)...
    let count_at_max = max.div_ceil(PART);
    let at_max: Vec<Vec<u8>> = (1..=count_at_max)
        .map(|n| {
            let start = (n - 1) * PART;
            bytes(4, start, (max - start).min(PART))
        })
        .collect();
    let asked: Vec<(u64, String)> = (1..=count_at_max)
        .map(|n| (n, sha256_b64(&at_max[n as usize - 1])))
        .collect();
    let r = mp.ask_parts(&dev, max, &asked);
    assert_eq!(r.status, 200, "{}", r.text());
    let urls_at_max = r.json()["parts"].as_array().unwrap().clone();
    // ...but never over it, nor a part past it.
    let r = mp.ask_parts(&dev, max + 1, &asked[..1]);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = mp.ask_parts(&dev, max, &[(count_at_max + 1, asked[0].1.clone())]);
    assert_eq!(r.status, 400, "{}", r.text());
    for (request, data) in urls_at_max.iter().zip(&at_max) {
        let r = send(request, data);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // ...and again at the real size (2 parts: 5 and 2 MiB), other bytes.
    let real: Vec<(String, String)> = (1..=mp.part_count)
        .map(|n| mp.upload_part(&dev, 5, n))
        .collect();

    // Each part number holds one body, the last sent: never more than max plus one part.
    let stored = mp.parts_stored(&dev);
    assert_eq!(
        stored.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=count_at_max).collect::<Vec<_>>()
    );
    let total: u64 = stored.iter().map(|p| p.1).sum();
    assert!(total <= max + PART, "{total} bytes stored");
    assert_eq!(stored[1].1, 2 * MIB, "part 2 is the last one sent");

    // The presigner completes no more parts than the size has, and no size over max.
    let every: Vec<(u64, String, String)> = stored
        .iter()
        .map(|(n, _, etag)| {
            let sha = match n {
                1 | 2 => real[*n as usize - 1].1.clone(),
                _ => asked[*n as usize - 1].1.clone(),
            };
            (*n, etag.clone(), sha)
        })
        .collect();
    let r = mp.ask_complete(&dev, mp.size, &every);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = mp.ask_complete(&dev, max + 1, &every);
    assert_eq!(r.status, 400, "{}", r.text());
    // The parts list travels unsigned in the complete request's body; one listing every part
    // stored is refused by the store all the same: part 2 is a middle part under 5 MiB.
    let genuine: Vec<(u64, String, String)> = real
        .iter()
        .enumerate()
        .map(|(i, (etag, sha))| (i as u64 + 1, etag.clone(), sha.clone()))
        .collect();
    let r = mp.ask_complete(&dev, mp.size, &genuine);
    assert_eq!(r.status, 200, "{}", r.text());
    let request = r.json();
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag, sha) in &every {
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>\
             <ChecksumSHA256>{sha}</ChecksumSHA256></Part>"
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let r = send(&request, xml.as_bytes());
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "EntityTooSmall"));
    // The genuine list makes the file it claimed to be, byte for byte.
    let r = send(&request, request["body"].as_str().unwrap().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let got = download_and_compare(&download_url(&dev, &mp.key), &[], 5);
    assert_eq!(
        (got.status, got.bytes, got.first_difference),
        (200, 7 * MIB, None)
    );
    dev.stop();
}

#[test]
fn a_parts_list_that_does_not_match_the_parts_stored_is_refused() {
    const SEED: u64 = 6;
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    let (etag1, sha1) = mp.upload_part(&dev, SEED, 1);
    let (etag2, sha2) = mp.upload_part(&dev, SEED, 2);
    let (start3, len3) = part_range(mp.size, 3);
    let sha3 = sha256_b64(&bytes(SEED, start3, len3));
    let list = |etag1: &str, sha1: &str, etag3: &str| {
        vec![
            (1, etag1.to_string(), sha1.to_string()),
            (2, etag2.clone(), sha2.clone()),
            (3, etag3.to_string(), sha3.clone()),
        ]
    };
    let never_sent = format!("\"{}\"", "0".repeat(32));
    let refused = |parts: Vec<(u64, String, String)>| {
        let r = mp.ask_complete(&dev, mp.size, &parts);
        assert_eq!(r.status, 200, "{}", r.text());
        let request = r.json();
        let r = send(&request, request["body"].as_str().unwrap().as_bytes());
        (r.status, s3_code(&r))
    };
    // Part 3 was never sent; part 1 with another ETag; part 1 with another SHA-256.
    let invalid = (400, "InvalidPart".to_string());
    assert_eq!(refused(list(&etag1, &sha1, &never_sent)), invalid);
    assert_eq!(refused(list(&never_sent, &sha1, &etag2)), invalid);
    assert_eq!(refused(list(&etag1, &sha2, &etag2)), invalid);

    let r = mp.ask_complete(&dev, mp.size, &list(&etag1, &sha1, &never_sent));
    let request = r.json();
    let part = |n: u64, etag: &str, sha: &str| {
        format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>\
             <ChecksumSHA256>{sha}</ChecksumSHA256></Part>"
        )
    };
    let out_of_order = format!(
        "<CompleteMultipartUpload>{}{}</CompleteMultipartUpload>",
        part(2, &etag2, &sha2),
        part(1, &etag1, &sha1)
    );
    let without_checksums = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag1}</ETag></Part>\
         </CompleteMultipartUpload>"
    );
    // Hostile bodies: an entity declared to read a file, nesting half a million deep, an entity
    // that XML does not define.
    let external_entity = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><CompleteMultipartUpload>\
         {}</CompleteMultipartUpload>",
        part(1, "&e;", &sha1)
    );
    let deep = format!(
        "<CompleteMultipartUpload>{}",
        part(1, &"<ETag>".repeat(500_000), &sha1)
    );
    let unknown_entity = format!(
        "<CompleteMultipartUpload>{}</CompleteMultipartUpload>",
        part(1, "&e;", &sha1)
    );
    for (body, want) in [
        (out_of_order.as_str(), (400, "InvalidPartOrder")),
        (without_checksums.as_str(), (400, "InvalidRequest")),
        (
            "<CompleteMultipartUpload></CompleteMultipartUpload>",
            (400, "MalformedXML"),
        ),
        ("{\"parts\": []}", (400, "MalformedXML")),
        (external_entity.as_str(), (400, "MalformedXML")),
        (deep.as_str(), (400, "MalformedXML")),
        (unknown_entity.as_str(), (400, "MalformedXML")),
    ] {
        let r = send(&request, body.as_bytes());
        assert_eq!((r.status, s3_code(&r).as_str()), want, "{body:.200}");
    }
    let too_big = vec![b' '; 5 * MIB as usize];
    let r = send(&request, &too_big);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (400, "MaxMessageLengthExceeded")
    );

    // None of that ended the upload: with part 3 sent, it completes.
    let (etag3, _) = mp.upload_part(&dev, SEED, 3);
    let (r, _) = mp.complete(&dev, &list(&etag1, &sha1, &etag3));
    assert_eq!(r.status, 200, "{}", r.text());
    let got = download_and_compare(&download_url(&dev, &mp.key), &[], SEED);
    assert_eq!(
        (got.status, got.bytes, got.first_difference),
        (200, mp.size, None)
    );
    dev.stop();
}

#[test]
fn an_interrupted_upload_resumes_with_new_part_urls() {
    const SEED: u64 = 7;
    let size = 22 * MIB + 5;
    let (_dir, dev) = start(32 * MIB);
    let mp = start_multipart(&dev, "notes.txt", size);
    assert_eq!(mp.part_count, 5);
    // All part URLs asked at once; two parts sent, then the client goes away.
    let asked: Vec<(u64, String)> = (1..=mp.part_count)
        .map(|n| {
            let (start, len) = part_range(size, n);
            (n, sha256_b64(&bytes(SEED, start, len)))
        })
        .collect();
    let r = mp.ask_parts(&dev, size, &asked);
    assert_eq!(r.status, 200, "{}", r.text());
    let first_urls = r.json()["parts"].as_array().unwrap().clone();
    let mut done = Vec::new();
    for n in 1..=2u64 {
        let (start, len) = part_range(size, n);
        let r = send(&first_urls[n as usize - 1], &bytes(SEED, start, len));
        assert_eq!(r.status, 200, "{}", r.text());
        let etag = r.header("etag").unwrap().to_string();
        done.push((n, etag, asked[n as usize - 1].1.clone()));
    }
    assert_eq!(mp.parts_stored(&dev).len(), 2);

    // Back later: new URLs for the missing parts only.
    let r = mp.ask_parts(&dev, size, &asked[2..]);
    assert_eq!(r.status, 200, "{}", r.text());
    let again = r.json()["parts"].as_array().unwrap().clone();
    assert_eq!(again.len(), 3);
    for request in &again {
        let n = request["partNumber"].as_u64().unwrap();
        let (start, len) = part_range(size, n);
        let r = send(request, &bytes(SEED, start, len));
        assert_eq!(r.status, 200, "{}", r.text());
        done.push((
            n,
            r.header("etag").unwrap().to_string(),
            asked[n as usize - 1].1.clone(),
        ));
    }
    let (r, _) = mp.complete(&dev, &done);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = download_and_compare(&download_url(&dev, &mp.key), &[], SEED);
    assert_eq!(
        (got.status, got.bytes, got.first_difference),
        (200, size, None)
    );
    dev.stop();
}

#[test]
fn an_upload_in_parts_resumes_across_a_dev_restart() {
    const SEED: u64 = 8;
    let size = 12 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let spec = project(dir.path(), 32 * MIB);
    let data = dir.path().join("data");
    let dev = Dev::start(&spec, Some(&data));
    let mp = start_multipart(&dev, "notes.txt", size);
    let first = mp.upload_part(&dev, SEED, 1);
    dev.stop();

    let dev = Dev::start(&spec, Some(&data));
    assert_eq!(
        mp.parts_stored(&dev).len(),
        1,
        "the part survived the restart"
    );
    let mut parts = vec![(1, first.0, first.1)];
    for n in 2..=mp.part_count {
        let (etag, sha) = mp.upload_part(&dev, SEED, n);
        parts.push((n, etag, sha));
    }
    let (r, _) = mp.complete(&dev, &parts);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = download_and_compare(&download_url(&dev, &mp.key), &[], SEED);
    assert_eq!(
        (got.status, got.bytes, got.first_difference),
        (200, size, None)
    );
    dev.stop();
}

#[test]
fn after_abort_parts_get_404_no_such_upload_and_list_parts_404() {
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    let (etag, sha) = mp.upload_part(&dev, 9, 1);
    let (request2, data2) = mp.part_request(&dev, 9, 2);
    let uploads_dir = dev.data_dir.join("s3-uploads");
    let folders = || walk_count(&uploads_dir);
    assert!(folders() > 0);

    let abort = mp.abort_request(&dev);
    let r = send(&abort, b"");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(folders(), 0, "the parts are removed");
    let r = send(&abort, b"");
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    let r = send(&request2, &data2);
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    let r = mp.list_parts(&dev);
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    let all: Vec<_> = (1..=3).map(|n| (n, etag.clone(), sha.clone())).collect();
    let (r, _) = mp.complete(&dev, &all);
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    // An unknown upload ID, signed by the presigner, is the same 404.
    let other = Multipart {
        id: "unknown-upload".into(),
        ..mp
    };
    let r = send(&other.abort_request(&dev), b"");
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    assert_eq!(folders(), 0);
    dev.stop();
}

/// Files under `dir`, at any depth.
fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk_count(&e.path())
                } else {
                    1
                }
            })
            .sum()
        })
        .unwrap_or(0)
}

/// `POST /uploads` for a single PUT.
fn ask_put(dev: &Dev, size: usize, sha256: Option<&str>) -> Value {
    let mut body = json!({"filename": "notes.txt", "contentType": "text/plain", "size": size});
    if let Some(sha) = sha256 {
        body["sha256"] = json!(sha);
    }
    let v = ok(dev, "uploads", &body);
    assert_eq!(v["method"], "PUT", "{v}");
    assert_eq!(v["headers"]["if-none-match"], "*");
    v
}

#[test]
fn a_reused_single_put_url_gets_412_and_the_first_bytes_stay() {
    let (_dir, dev) = start(16 * MIB);
    let first = b"the first bytes\n";
    let second = b"another content!";
    let up = ask_put(&dev, first.len(), None);
    let r = send(&up, first);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&up, second);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (412, "PreconditionFailed")
    );
    let key = up["key"].as_str().unwrap();
    let got = get(&download_url(&dev, key));
    assert_eq!((got.status, got.body.as_slice()), (200, &first[..]));

    // Without the signed If-None-Match the URL does not work at all.
    let headers: Vec<(String, String)> = header_list(&up["headers"])
        .into_iter()
        .filter(|(k, _)| k != "if-none-match")
        .collect();
    let r = http("PUT", up["url"].as_str().unwrap(), &refs(&headers), second);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Any other If-None-Match on a write is not something S3 implements: 501.
    let path = raw_path(up["url"].as_str().unwrap());
    let len = second.len().to_string();
    let url = sign(
        &dev,
        "PUT",
        &path,
        &[],
        &[("content-length", &len), ("if-none-match", "\"abc\"")],
    );
    let r = http(
        "PUT",
        &url,
        &[("content-length", &len), ("if-none-match", "\"abc\"")],
        second,
    );
    assert_eq!((r.status, s3_code(&r).as_str()), (501, "NotImplemented"));
    let got = get(&download_url(&dev, key));
    assert_eq!(got.body, first);
    dev.stop();
}

#[test]
fn a_single_put_whose_bytes_do_not_match_its_signed_sha256_is_400_bad_digest() {
    let (_dir, dev) = start(16 * MIB);
    let body = b"checked bytes\n";
    let sha = sha256_b64(body);
    let up = ask_put(&dev, body.len(), Some(&sha));
    assert_eq!(up["headers"]["x-amz-checksum-sha256"], sha.as_str());
    let r = send(&up, b"CHECKED BYTES\n");
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "BadDigest"));
    let key = up["key"].as_str().unwrap();
    let url = download_url(&dev, key);
    let r = get(&url);
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchKey"));

    let r = send(&up, body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-sha256"), Some(sha.as_str()));
    // The checksum comes back on a GET that asks for it, and only then.
    let r = http("GET", &url, &[("x-amz-checksum-mode", "ENABLED")], b"");
    assert_eq!(r.body, body);
    assert_eq!(r.header("x-amz-checksum-sha256"), Some(sha.as_str()));
    assert_eq!(get(&url).header("x-amz-checksum-sha256"), None);

    // A value that is not a SHA-256 in base64: 400 InvalidRequest (signed here with the
    // local keys; the presigner signs only well-formed ones).
    let path = raw_path(up["url"].as_str().unwrap()).replace("notes.txt", "other.txt");
    let len = body.len().to_string();
    for bad in ["bm90IGEgaGFzaA==", "%%%"] {
        let headers = [
            ("content-length", len.as_str()),
            ("x-amz-checksum-sha256", bad),
        ];
        let r = http(
            "PUT",
            &sign(&dev, "PUT", &path, &[], &headers),
            &headers,
            body,
        );
        assert_eq!(
            (r.status, s3_code(&r).as_str()),
            (400, "InvalidRequest"),
            "{bad}"
        );
    }
    dev.stop();
}

#[test]
fn completing_twice_or_onto_an_existing_key_is_412() {
    const SEED: u64 = 10;
    let size = THRESHOLD + 1;
    let (_dir, dev) = start(16 * MIB);
    let mp = start_multipart(&dev, "notes.txt", size);
    assert_eq!(mp.part_count, 2);
    let parts: Vec<_> = (1..=2)
        .map(|n| {
            let (etag, sha) = mp.upload_part(&dev, SEED, n);
            (n, etag, sha)
        })
        .collect();
    let (r, request) = mp.complete(&dev, &parts);
    assert_eq!(r.status, 200, "{}", r.text());
    // The same complete again: the object it made exists.
    let r = send(&request, request["body"].as_str().unwrap().as_bytes());
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (412, "PreconditionFailed")
    );

    // A second upload to the same key (its create URL used again) cannot replace the object,
    // and stays, parts and all, after the refusal.
    let again = Multipart {
        id: create_upload(&mp.create),
        key: mp.key.clone(),
        size,
        part_count: 2,
        create: mp.create.clone(),
    };
    assert_ne!(again.id, mp.id);
    let parts: Vec<_> = (1..=2)
        .map(|n| {
            let (etag, sha) = again.upload_part(&dev, SEED + 1, n);
            (n, etag, sha)
        })
        .collect();
    let (r, _) = again.complete(&dev, &parts);
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (412, "PreconditionFailed")
    );
    assert_eq!(again.parts_stored(&dev).len(), 2);
    let got = download_and_compare(&download_url(&dev, &mp.key), &[], SEED);
    assert_eq!(
        (got.status, got.bytes, got.first_difference),
        (200, size, None)
    );
    dev.stop();
}

#[test]
fn the_page_may_create_send_parts_complete_and_abort_across_origins() {
    let (_dir, dev) = start(16 * MIB);
    let page = dev.origin();
    let mp = start_multipart(&dev, "notes.txt", 12 * MIB);
    let url = mp.create["url"].as_str().unwrap().to_string();
    for (method, headers) in [
        ("POST", "content-type, x-amz-checksum-algorithm"),
        ("PUT", "x-amz-checksum-sha256"),
        ("POST", "if-none-match"),
        ("PUT", "content-type, if-none-match, x-amz-checksum-sha256"),
        ("DELETE", ""),
    ] {
        let r = http(
            "OPTIONS",
            &url,
            &[
                ("origin", &page),
                ("access-control-request-method", method),
                ("access-control-request-headers", headers),
            ],
            b"",
        );
        assert_eq!(r.status, 200, "{method} {headers}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    }
    // The page reads each part's ETag: it is exposed.
    let (request, data) = mp.part_request(&dev, 11, 1);
    let mut headers = header_list(&request["headers"]);
    headers.push(("origin".into(), page.clone()));
    let r = http(
        "PUT",
        request["url"].as_str().unwrap(),
        &refs(&headers),
        &data,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    assert_eq!(r.header("access-control-expose-headers"), Some("etag"));
    // Refusals carry CORS headers too, so the page can read them.
    let r = http(
        "DELETE",
        mp.abort_request(&dev)["url"].as_str().unwrap(),
        &[("origin", &page)],
        b"",
    );
    assert_eq!(r.status, 204);
    let r = http(
        "DELETE",
        mp.abort_request(&dev)["url"].as_str().unwrap(),
        &[("origin", &page)],
        b"",
    );
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchUpload"));
    assert_eq!(r.header("access-control-allow-origin"), Some(page.as_str()));
    dev.stop();
}

#[test]
fn sub_resources_the_store_does_not_implement_are_refused() {
    let (_dir, dev) = start(16 * MIB);
    let up = ask_put(&dev, 3, None);
    let url = up["url"].as_str().unwrap();
    let path = raw_path(url);
    // Added to a presigned URL: the signature no longer matches.
    let tampered = url.replacen('?', "?acl&", 1);
    let r = send(
        &json!({"url": tampered, "method": "PUT", "headers": up["headers"]}),
        b"abc",
    );
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    // Signed with the keys: still nothing the dev store does.
    for sub in ["acl", "retention", "versionId"] {
        let r = http(
            "GET",
            &sign(&dev, "GET", &path, &[(sub, "")], &[]),
            &[],
            b"",
        );
        assert_eq!(
            (r.status, s3_code(&r).as_str()),
            (501, "NotImplemented"),
            "{sub}"
        );
    }
    // GetObjectTagging is the store's (the malware scan's verdict): no object, no tags.
    let r = http(
        "GET",
        &sign(&dev, "GET", &path, &[("tagging", "")], &[]),
        &[],
        b"",
    );
    assert_eq!((r.status, s3_code(&r).as_str()), (404, "NoSuchKey"));
    // POST on an object names no upload: 405, as before uploads in parts. DELETE is
    // DeleteObject, and this URL's signature is a PUT's.
    let r = http("DELETE", url, &[], b"");
    assert_eq!(
        (r.status, s3_code(&r).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let r = http("POST", url, &[], b"");
    assert_eq!((r.status, s3_code(&r).as_str()), (405, "MethodNotAllowed"));
    // A checksum algorithm other than SHA-256 at create: 400 InvalidRequest.
    let headers = [("x-amz-checksum-algorithm", "CRC32")];
    let r = http(
        "POST",
        &sign(&dev, "POST", &path, &[("uploads", "")], &headers),
        &headers,
        b"",
    );
    assert_eq!((r.status, s3_code(&r).as_str()), (400, "InvalidRequest"));
    dev.stop();
}
