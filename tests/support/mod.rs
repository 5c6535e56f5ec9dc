//! Test harness: a real moto server per test (started here, on a free loopback port), the real
//! `presign-stack` binary run against it, and SDK clients to read back what it made.

#![allow(dead_code)]

pub mod devserver;
pub mod proxy;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "123456789012";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server that lives as long as this value.
pub struct Moto {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// A moto server with settings of its own, e.g. `MOTO_LAMBDA_CONCURRENCY_QUOTA`, which
    /// makes it enforce the account's concurrency quota as AWS does.
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let exe = std::env::var_os("PRESIGN_STACK_MOTO")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("scripts/moto-server"));
        Moto::start_exe(exe, env)
    }

    /// moto as published, without what `scripts/moto_extras.py` adds (response headers
    /// policies among them): an emulator with less of CloudFront.
    pub fn start_stock() -> Moto {
        Moto::start_exe(repo().join(".tools/venv/bin/moto_server"), &[])
    }

    fn start_exe(exe: PathBuf, env: &[(&str, &str)]) -> Moto {
        assert!(
            exe.exists(),
            "moto_server not found at {}: run scripts/bootstrap.sh (or scripts/test.sh)",
            exe.display()
        );
        let port = free_port();
        let log = std::env::temp_dir().join(format!("presign-stack-moto-{port}.log"));
        let child = Command::new(&exe)
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting moto_server");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto { child, url, log }
    }

    /// The real binary, pointed at this emulator with dummy credentials.
    pub fn cmd(&self, region: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_presign-stack"));
        c.env_clear()
            .env("PATH", path_with_tools())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .stdin(Stdio::null());
        for var in [
            "CARGO_HOME",
            "RUSTUP_HOME",
            "CARGO_TARGET_DIR",
            "RUSTUP_TOOLCHAIN",
        ] {
            if let Some(v) = std::env::var_os(var) {
                c.env(var, v);
            }
        }
        c
    }

    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk(region).await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn iam(&self, region: &str) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk(region).await)
    }

    pub async fn lambda(&self, region: &str) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk(region).await)
    }

    pub async fn guardduty(&self, region: &str) -> aws_sdk_guardduty::Client {
        aws_sdk_guardduty::Client::new(&self.sdk(region).await)
    }

    pub async fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.sdk("us-east-1").await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn path_with_tools() -> std::ffi::OsString {
    let tools = repo().join(".tools/venv/bin");
    let mut paths = vec![tools];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// Output of one run of the binary, with its streams as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub fn run(mut cmd: Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("running presign-stack");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A project folder: a spec, a small website, and (when asked) a tiny prebuilt bundle.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("img")).unwrap();
        std::fs::create_dir_all(site.join("docs")).unwrap();
        std::fs::write(site.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(site.join("app.js"), "console.log('app');\n").unwrap();
        std::fs::write(site.join("img/logo.png"), b"\x89PNG\r\n\x1a\nfake").unwrap();
        std::fs::write(site.join("docs/help.html"), "<p>help</p>").unwrap();
        // A tiny but real zip with a `bootstrap` at its root: the emulator never runs it.
        let zip = presign_stack::bundle::zip_bootstrap(b"#!/bin/sh\necho test bundle\n").unwrap();
        std::fs::write(dir.path().join("bundle.zip"), zip).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.path().join("presign-stack.yaml")
    }

    pub fn write_spec(&self, yaml: &str) {
        std::fs::write(self.spec_path(), yaml).unwrap();
    }

    /// `presign-stack --spec <this spec> <args>` against `moto`.
    pub fn cmd(&self, moto: &Moto, region: &str, args: &[&str]) -> Command {
        let mut c = moto.cmd(region);
        c.arg("--spec").arg(self.spec_path()).args(args);
        c
    }
}

/// The spec `tests/support/fixtures/specs/<fixture>.yaml`, for stack `name` in `region`.
pub fn spec(fixture: &str, name: &str, region: &str) -> String {
    let path = repo().join(format!("tests/support/fixtures/specs/{fixture}.yaml"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("name: NAME", &format!("name: {name}"))
        .replace("region: REGION", &format!("region: {region}"))
}

/// The website endpoint origin the stack should use.
pub fn website_origin(bucket: &str, region: &str) -> String {
    presign_stack::context::website_origin(bucket, region)
}

/// Create a bucket as someone else would, outside presign-stack (no tags), in `region`.
pub async fn create_foreign_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    let mut req = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.unwrap();
}

/// The request log the binary writes through its SDK interceptor: (service, operation) lines.
pub fn logged_requests(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (s, o) = l.rsplit_once(' ').unwrap();
            (s.to_string(), o.to_string())
        })
        .collect()
}

/// The write requests among `reqs`, as `service operation`: all but Get, List, Head, Describe.
pub fn writes(reqs: &[(String, String)]) -> Vec<String> {
    reqs.iter()
        .filter(|(_, op)| {
            !["Get", "List", "Head", "Describe"]
                .iter()
                .any(|read| op.starts_with(read))
        })
        .map(|(s, op)| format!("{s} {op}"))
        .collect()
}

/// The biggest stack a spec can describe: the longest name, every kind, a custom domain,
/// SSE-KMS, events and the malware scan (its deploy policy is the largest; `--env production`).
pub const LARGEST_SPEC: &str = r#"version: 1
name: abcdefghijklmnopqrstuvwx
region: ap-southeast-2
documents:
  encryption: sse-kms
  kms_key_arn: arn:aws:kms:ap-southeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
  events: eventbridge
  malware_scan: guardduty
presigner: {zip: bundle.zip}
website:
  source: site
  hosting: cloudfront
  cloudfront:
    api_path: /api
    rate_limit: 300
    aliases: [files.example.com]
    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab
auth:
  cognito: {}
"#;

/// Every (effect, action, resource, condition) a policy holds.
pub fn grants(policy: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = std::collections::BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        for action in list(&st["Action"]) {
            for r in list(&st["Resource"]) {
                out.insert(format!(
                    "{}\t{action}\t{r}\t{}",
                    st["Effect"].as_str().unwrap_or_default(),
                    st["Condition"]
                ));
            }
        }
    }
    out
}

/// The presigner's configuration from a live function's environment, its S3 being `moto`'s.
pub fn presigner_config(
    env: std::collections::HashMap<String, String>,
    region: &str,
    moto: &Moto,
) -> presigner::Config {
    let mut lookup: Vec<(String, String)> = env.into_iter().collect();
    lookup.push(("AWS_REGION".into(), region.into()));
    lookup.push(("PRESIGNER_S3_ENDPOINT".into(), moto.url.clone()));
    presigner::Config::from_lookup(|k| {
        lookup
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// Tags an object as GuardDuty's malware scan does, with its verdict.
pub async fn set_scan_verdict(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, verdict: &str) {
    let tag = aws_sdk_s3::types::Tag::builder()
        .key("GuardDutyMalwareScanStatus")
        .value(verdict)
        .build()
        .unwrap();
    s3.put_object_tagging()
        .bucket(bucket)
        .key(key)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(tag)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}
