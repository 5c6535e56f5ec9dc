//! The spec loader against real files: defaults, overlays, and the exact position, path and
//! wording of every kind of error.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use presign_stack::spec::{
    load, Architecture, CacheRule, CloudFront, CodeSource, Cors, Documents, Encryption, Hosting,
    Origin, Presigner, Spec, SpecError, UrlAuth, Website,
};
use tempfile::TempDir;

/// A project directory with what the default spec expects (`lambda-bundle/Cargo.toml`,
/// `frontend/`) plus a prebuilt `bundle.zip`.
fn project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("lambda-bundle")).unwrap();
    fs::write(
        dir.path().join("lambda-bundle/Cargo.toml"),
        "[package]\nname = \"p\"\n",
    )
    .unwrap();
    fs::create_dir(dir.path().join("frontend")).unwrap();
    fs::write(dir.path().join("bundle.zip"), b"PK").unwrap();
    dir
}

fn write(dir: &Path, text: impl AsRef<[u8]>) -> PathBuf {
    let file = dir.join("presign-stack.yaml");
    fs::write(&file, text).unwrap();
    file
}

fn errors_in(dir: &Path, text: &str, env: &str) -> Vec<SpecError> {
    match load(&write(dir, text), env) {
        Ok(spec) => panic!("expected errors, got {spec:#?}\nfor:\n{text}"),
        Err(errors) => errors,
    }
}

fn errors(text: &str, env: &str) -> Vec<SpecError> {
    errors_in(project().path(), text, env)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const FULL: &str = r#"version: 1
name: acme-docs
region: eu-central-1
tags: {team: platform, cost-center: 1234}
documents:
  bucket: acme-docs-files
  versioning: true
  encryption: sse-kms
  kms_key_arn: arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab
  uploads_prefix: incoming/docs/
  expire_uploads_after_days: 30
  cors:
    allowed_origins: [website, "https://App.Example.com", "http://localhost:5173"]
    allowed_methods: [put, GET, head]
    allowed_headers: [Content-Type, x-amz-meta-*, x-amz-checksum-*]
    expose_headers: [ETag]
    max_age_seconds: 600
presigner:
  function_name: acme_docs-fn
  role_name: acme-docs-role@eu
  source: crates/presigner
  architecture: arm64
  memory_mb: 512
  timeout_seconds: 10
  reserved_concurrency: 5
  url_expiry_seconds: 600
  max_upload_bytes: 5368709120
  multipart_threshold_bytes: 33554432
  part_size_bytes: 8388608
  allowed_content_types: [Image/PNG, "*/*"]
  allow_downloads: false
  function_url:
    auth: aws_iam
    cors_origins: ["https://app.example.com"]
website:
  bucket: acme-docs-site
  source: web/dist
  build: cd web && npm ci && npm run build
  index_document: start.html
  error_document: errors/404.html
  config_file: runtime/config.json
  cache_control:
    - {match: "assets/**", value: "public, max-age=31536000, immutable"}
    - {match: "**", value: no-cache}
environments:
  prod:
    presigner: {memory_mb: 1024}
"#;

#[test]
fn full_spec_sets_every_field() {
    let dir = project();
    fs::create_dir_all(dir.path().join("crates/presigner")).unwrap();
    fs::write(dir.path().join("crates/presigner/Cargo.toml"), "").unwrap();
    let file = write(dir.path(), FULL);
    // `web/dist` does not exist: with a `build` step it is the build's output.
    let spec = load(&file, "staging").unwrap();
    let expected = Spec {
        file: file.clone(),
        dir: dir.path().to_path_buf(),
        name: "acme-docs".into(),
        env: "staging".into(),
        region: Some("eu-central-1".into()),
        user_tags: BTreeMap::from([
            ("cost-center".to_string(), "1234".to_string()),
            ("team".to_string(), "platform".to_string()),
        ]),
        documents: Documents {
            eventbridge: false,
            malware_scan: false,
            bucket: "acme-docs-files".into(),
            versioning: true,
            encryption: Encryption::SseKms {
                key_arn: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab".into(),
            },
            uploads_prefix: "incoming/docs/".into(),
            expire_uploads_after_days: Some(30),
            abort_incomplete_uploads_after_days: 1,
            cors: Cors {
                allowed_origins: vec![
                    Origin::Website,
                    Origin::Url("https://app.example.com".into()),
                    Origin::Url("http://localhost:5173".into()),
                ],
                // The user's lists, then what the presigner's requests need (uploads go in
                // parts above 32 MiB here); `x-amz-checksum-*` covers both checksum headers.
                allowed_methods: strings(&["PUT", "GET", "HEAD", "POST", "DELETE"]),
                allowed_headers: strings(&[
                    "content-type",
                    "x-amz-meta-*",
                    "x-amz-checksum-*",
                    "if-none-match",
                ]),
                expose_headers: strings(&["etag"]),
                max_age_seconds: 600,
            },
        },
        presigner: Presigner {
            function_name: "acme_docs-fn".into(),
            role_name: "acme-docs-role@eu".into(),
            permissions_boundary: None,
            code: CodeSource::Crate(dir.path().join("crates/presigner")),
            architecture: Architecture::Arm64,
            memory_mb: 512,
            timeout_seconds: 10,
            reserved_concurrency: Some(5),
            concurrency_defaulted: false,
            url_expiry_seconds: 600,
            max_upload_bytes: 5_368_709_120,
            multipart_threshold_bytes: 33_554_432,
            part_size_bytes: 8_388_608,
            allowed_content_types: strings(&["image/png", "*/*"]),
            allow_downloads: false,
            log_retention_days: 30,
            url_auth: UrlAuth::AwsIam,
            url_cors_origins: vec![Origin::Url("https://app.example.com".into())],
        },
        website: Website {
            bucket: "acme-docs-site".into(),
            source: dir.path().join("web/dist"),
            build: Some("cd web && npm ci && npm run build".into()),
            index_document: "start.html".into(),
            error_document: "errors/404.html".into(),
            config_file: Some("runtime/config.json".into()),
            cache_control: vec![
                CacheRule {
                    pattern: "assets/**".into(),
                    value: "public, max-age=31536000, immutable".into(),
                },
                CacheRule {
                    pattern: "**".into(),
                    value: "no-cache".into(),
                },
            ],
            hosting: Hosting::S3Website,
        },
        auth: None,
    };
    assert_eq!(spec, expected);
    assert_eq!(load(&file, "prod").unwrap().presigner.memory_mb, 1024);
}

fn minimal(dir: &Path) -> Spec {
    Spec {
        file: dir.join("presign-stack.yaml"),
        dir: dir.to_path_buf(),
        name: "acme-docs".into(),
        env: "dev".into(),
        region: None,
        user_tags: BTreeMap::new(),
        documents: Documents {
            eventbridge: false,
            malware_scan: false,
            bucket: "acme-docs-dev-documents-{account}".into(),
            versioning: false,
            encryption: Encryption::SseS3,
            uploads_prefix: "uploads/".into(),
            expire_uploads_after_days: None,
            abort_incomplete_uploads_after_days: 1,
            cors: Cors {
                allowed_origins: vec![Origin::Website],
                // The spec's defaults, then what single-use, checksummed PUTs need (10 MiB
                // never goes in parts).
                allowed_methods: strings(&["PUT", "GET"]),
                allowed_headers: strings(&[
                    "content-type",
                    "if-none-match",
                    "x-amz-checksum-sha256",
                ]),
                expose_headers: strings(&["etag"]),
                max_age_seconds: 3000,
            },
        },
        presigner: Presigner {
            function_name: "acme-docs-dev-presigner".into(),
            role_name: "acme-docs-dev-presigner".into(),
            permissions_boundary: None,
            code: CodeSource::Embedded,
            architecture: Architecture::X86_64,
            memory_mb: 128,
            timeout_seconds: 5,
            // An open presigner's default (SPEC section 7).
            reserved_concurrency: Some(10),
            concurrency_defaulted: true,
            url_expiry_seconds: 300,
            max_upload_bytes: 10_485_760,
            multipart_threshold_bytes: 67_108_864,
            part_size_bytes: 16_777_216,
            allowed_content_types: strings(&["image/png", "image/jpeg", "application/pdf"]),
            allow_downloads: true,
            log_retention_days: 30,
            url_auth: UrlAuth::None,
            url_cors_origins: vec![Origin::Website],
        },
        website: Website {
            bucket: "acme-docs-dev-website-{account}".into(),
            source: dir.join("frontend"),
            build: None,
            index_document: "index.html".into(),
            error_document: "index.html".into(),
            config_file: Some("config.json".into()),
            cache_control: vec![
                CacheRule {
                    pattern: "**/*.html".into(),
                    value: "no-cache".into(),
                },
                CacheRule {
                    pattern: "config.json".into(),
                    value: "no-cache".into(),
                },
                CacheRule {
                    pattern: "**".into(),
                    value: "public, max-age=300".into(),
                },
            ],
            hosting: Hosting::S3Website,
        },
        auth: None,
    }
}

#[test]
fn minimal_spec_gets_every_default() {
    let dir = project();
    let file = write(dir.path(), "version: 1\nname: acme-docs\n");
    assert_eq!(load(&file, "dev").unwrap(), minimal(dir.path()));
}

#[test]
fn empty_sections_and_nulls_mean_defaults() {
    let dir = project();
    let file = write(
        dir.path(),
        "version: 1\nname: acme-docs\ntags:\ndocuments:\npresigner: {}\nwebsite:\n  build: ~\n",
    );
    assert_eq!(load(&file, "dev").unwrap(), minimal(dir.path()));
}

#[test]
fn null_config_file_means_none() {
    let dir = project();
    let file = write(
        dir.path(),
        "version: 1\nname: acme-docs\nwebsite:\n  config_file: null\n",
    );
    assert_eq!(load(&file, "dev").unwrap().website.config_file, None);
}

#[test]
fn the_example_from_the_contract_loads() {
    let dir = project();
    let example = fs::read_to_string("tests/support/fixtures/specs/spec-md-example.yaml").unwrap();
    let file = write(dir.path(), example);

    let dev = load(&file, "dev").unwrap();
    assert_eq!(dev.region.as_deref(), Some("eu-central-1"));
    assert_eq!(dev.user_tags["team"], "platform");
    assert_eq!(dev.documents.bucket, "acme-docs-files");
    assert_eq!(dev.website.bucket, "acme-docs-site");
    assert_eq!(dev.presigner.function_name, "acme-docs-presigner");
    assert_eq!(dev.presigner.reserved_concurrency, Some(10));
    assert_eq!(dev.presigner.memory_mb, 128);
    assert_eq!(dev.website.build, None);
    assert_eq!(
        dev.website.cache_control,
        minimal(dir.path()).website.cache_control
    );
    assert!(!dev.documents.versioning);

    let prod = load(&file, "prod").unwrap();
    assert_eq!(prod.presigner.memory_mb, 256);
    assert_eq!(prod.presigner.reserved_concurrency, Some(50));
    assert!(prod.documents.versioning);
}

#[test]
fn a_relative_spec_path_resolves_against_its_directory() {
    // Cargo runs integration tests in the package root.
    let file = Path::new("tests/support/fixtures/specs/relative.yaml");
    let spec = load(file, "dev").unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fixtures/specs");
    assert_eq!(spec.file, file);
    assert_eq!(spec.dir, dir);
    assert_eq!(
        spec.presigner.code,
        CodeSource::Crate(dir.join("../../../../lambda-bundle"))
    );
    assert_eq!(spec.website.source, dir.join("../../../../frontend"));
}

#[test]
fn zip_replaces_the_crate() {
    let dir = project();
    let file = write(
        dir.path(),
        "version: 1\nname: acme-docs\npresigner:\n  zip: bundle.zip\n",
    );
    let spec = load(&file, "dev").unwrap();
    assert_eq!(
        spec.presigner.code,
        CodeSource::Zip(dir.path().join("bundle.zip"))
    );
}

const OVERLAID: &str = "version: 1
name: acme-docs
documents:
  cors: {max_age_seconds: 60, allowed_methods: [GET]}
presigner:
  allowed_content_types: [image/png, image/gif]
environments:
  prod:
    documents:
      versioning: true
      cors: {max_age_seconds: 120}
    presigner: {memory_mb: 256, reserved_concurrency: 50, allowed_content_types: [application/pdf]}
    website: {config_file: ~}
  test: ~
";

#[test]
fn environment_overlay_deep_merges_over_the_base() {
    let dir = project();
    let file = write(dir.path(), OVERLAID);

    let prod = load(&file, "prod").unwrap();
    assert_eq!(prod.env, "prod");
    assert_eq!(prod.presigner.memory_mb, 256);
    assert_eq!(prod.presigner.reserved_concurrency, Some(50));
    assert!(prod.documents.versioning);
    // Maps merge key by key; lists and scalars replace.
    assert_eq!(prod.documents.cors.max_age_seconds, 120);
    // (PUT is added: every upload is one; see full_spec_sets_every_field.)
    assert_eq!(prod.documents.cors.allowed_methods, ["GET", "PUT"]);
    assert_eq!(prod.presigner.allowed_content_types, ["application/pdf"]);
    assert_eq!(prod.website.config_file, None);
    assert_eq!(prod.documents.bucket, "acme-docs-prod-documents-{account}");
    assert_eq!(prod.presigner.function_name, "acme-docs-prod-presigner");

    let dev = load(&file, "dev").unwrap();
    assert_eq!(dev.env, "dev");
    assert_eq!(dev.presigner.memory_mb, 128);
    // An open presigner's default, where the overlay gives none (SPEC section 7).
    assert_eq!(dev.presigner.reserved_concurrency, Some(10));
    assert!(dev.presigner.concurrency_defaulted);
    assert!(!dev.documents.versioning);
    assert_eq!(dev.documents.cors.max_age_seconds, 60);
    assert_eq!(
        dev.presigner.allowed_content_types,
        ["image/png", "image/gif"]
    );
    assert_eq!(dev.website.config_file, Some("config.json".into()));
    assert_eq!(dev.documents.bucket, "acme-docs-dev-documents-{account}");

    let test = load(&file, "test").unwrap();
    assert_eq!(test.presigner.memory_mb, 128);
}

struct Bad {
    env: &'static str,
    yaml: &'static str,
    line: usize,
    column: usize,
    path: &'static str,
    message: &'static str,
}

macro_rules! base {
    () => {
        "version: 1\nname: acme-docs\n"
    };
}

const fn bad(
    yaml: &'static str,
    line: usize,
    column: usize,
    path: &'static str,
    message: &'static str,
) -> Bad {
    Bad {
        env: "dev",
        yaml,
        line,
        column,
        path,
        message,
    }
}

const fn in_env(env: &'static str, row: Bad) -> Bad {
    Bad { env, ..row }
}

const BAD: &[Bad] = &[
    bad(
        concat!(base!(), "regoin: eu-west-1\n"),
        3,
        1,
        "regoin",
        "unknown key `regoin`; did you mean `region`? (allowed here: version, name, region, \
         tags, documents, presigner, website, auth, environments)",
    ),
    bad(
        concat!(base!(), "auth:\n  cognito: {}\n"),
        4,
        12,
        "auth.cognito",
        "needs `website.hosting: cloudfront`: Cognito sends users back only to https pages",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront}\nauth:\n  cognito: {domain_prefix: my-aws-docs}\n"
        ),
        5,
        28,
        "auth.cognito.domain_prefix",
        "`my-aws-docs` contains `aws`, which Cognito reserves for its own domains",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront}\nauth:\n  cognito: {}\n  scopes: [openid, files.write]\n"
        ),
        6,
        20,
        "auth.scopes[1]",
        "`files.write` is not a scope the stack's user pool offers; use openid, email, phone, profile",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront}\nauth:\n  cognito: {mfa: sometimes}\n"
        ),
        5,
        18,
        "auth.cognito.mfa",
        "`sometimes` is not an MFA mode; use `required` (the default: every user sets up an \
         authenticator app), `optional` or `off`",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront}\nauth:\n  issuer: https://login.example.com/\n  \
             cognito: {}\n"
        ),
        5,
        11,
        "auth.issuer",
        "not used with `auth.cognito`: the stack's own user pool is the issuer",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront, cloudfront: {rate_limit: 300}}\n"
        ),
        3,
        57,
        "website.cloudfront.rate_limit",
        "limits the requests to the presigner served at `api_path`",
    ),
    bad(
        concat!(
            base!(),
            "website: {hosting: cloudfront, cloudfront: {api_path: /api, rate_limit: 5}}\n"
        ),
        3,
        73,
        "website.cloudfront.rate_limit",
        "must be 10 to 2000000000 requests per 5 minutes per client IP; got 5",
    ),
    bad(
        concat!(base!(), "auth:\n  issuer: http://login.example.com/\n  client_id: spa\n"),
        4,
        11,
        "auth.issuer",
        "is plain http; an issuer must be https (http only on 127.0.0.1 or localhost)",
    ),
    bad(
        concat!(base!(), "auth:\n  issuer: https://login.example.com/\n"),
        4,
        3,
        "auth.client_id",
        "required: the page's public client id at the issuer",
    ),
    bad(
        concat!(
            base!(),
            "auth:\n  issuer: https://login.example.com/\n  client_id: spa\n  quota: {bytes: 1000}\n"
        ),
        6,
        10,
        "auth.quota.files",
        "required with a quota: usage is counted by listing the user's folder",
    ),
    bad(
        concat!(
            base!(),
            "presigner: {timeout_seconds: 2}\n",
            "auth:\n  issuer: https://login.example.com/\n  client_id: spa\n  quota: {files: 10000}\n"
        ),
        7,
        18,
        "auth.quota.files",
        "10000 files cannot be counted within the function's timeout: counting takes 11 listing \
         requests (up to 2200 ms at 200 ms each), more than half of `presigner.timeout_seconds: \
         2`; raise the timeout to 5 s, or lower `files` to 4999",
    ),
    bad(
        concat!(
            base!(),
            "auth:\n  issuer: https://login.example.com/\n  client_id: spa\n  files: everyone\n"
        ),
        6,
        10,
        "auth.files",
        "`everyone` is not a sharing mode",
    ),
    bad(
        concat!(
            base!(),
            "auth:\n  issuer: https://login.example.com/\n  client_id: spa\n  scopes: [openid, 'a b']\n"
        ),
        6,
        20,
        "auth.scopes[1]",
        "`a b` is not a scope",
    ),
    bad(
        concat!(base!(), "documents:\n  events: sns\n"),
        4,
        11,
        "documents.events",
        "`sns` is not an event destination; use `eventbridge`",
    ),
    bad(
        concat!(base!(), "documents:\n  malware_scan: clamav\n"),
        4,
        17,
        "documents.malware_scan",
        "`clamav` is not a malware scanner; use `guardduty`",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  malware_scan: guardduty\npresigner:\n  role_name: acme-docs-dev-scanner\n"
        ),
        6,
        14,
        "presigner.role_name",
        "`acme-docs-dev-scanner` is the name of the role GuardDuty scans uploads as",
    ),
    bad(
        concat!(
            base!(),
            "presigner:\n  permissions_boundary: arn:aws:iam::aws:policy/AdministratorAccess\n"
        ),
        4,
        25,
        "presigner.permissions_boundary",
        "`arn:aws:iam::aws:policy/AdministratorAccess` is not the ARN of a managed policy",
    ),
    bad(
        concat!(base!(), "presigner:\n  memry_mb: 256\n"),
        4,
        3,
        "presigner.memry_mb",
        "unknown key `memry_mb`; did you mean `memory_mb`? (allowed here: function_name, \
         role_name, source, zip, architecture, memory_mb, timeout_seconds,",
    ),
    bad(
        concat!(
            base!(),
            "website:\n  cache_control:\n    - {match: '**', valeu: x}\n"
        ),
        5,
        21,
        "website.cache_control[0].valeu",
        "unknown key `valeu`; did you mean `value`? (allowed here: match, value)",
    ),
    bad(
        concat!(base!(), "presigner:\n  memory_mb: lots\n"),
        4,
        14,
        "presigner.memory_mb",
        "expected a whole number, found the string \"lots\"",
    ),
    bad(
        concat!(base!(), "presigner:\n  memory_mb: 1e40\n"),
        4,
        14,
        "presigner.memory_mb",
        "expected a whole number, found the number 1e40",
    ),
    bad(
        concat!(base!(), "documents:\n  versioning: yes\n"),
        4,
        15,
        "documents.versioning",
        "expected `true` or `false`, found the string \"yes\"",
    ),
    bad(
        concat!(base!(), "presigner: [memory_mb]\n"),
        3,
        12,
        "presigner",
        "expected a map of `presigner` settings, found a list",
    ),
    bad(
        concat!(base!(), "tags: {team: [a]}\n"),
        3,
        14,
        "tags.team",
        "expected a string, found a list",
    ),
    bad(
        "version: 2\nname: acme-docs\n",
        1,
        10,
        "version",
        "must be 1, the only spec version this presign-stack understands; got 2",
    ),
    bad(
        "name: acme-docs\n",
        1,
        1,
        "version",
        "required: add `version: 1`",
    ),
    bad(
        "version: 1\n",
        1,
        1,
        "name",
        "required: the stack name, 3 to 24 characters of a-z, 0-9 and `-`",
    ),
    bad(
        "version: 1\nname: Acme_Docs\n",
        2,
        7,
        "name",
        "`Acme_Docs` contains `A`; a stack name is 3 to 24 characters of a-z, 0-9 and `-`, \
         starting and ending with a letter or digit",
    ),
    bad(
        "version: 1\nname: abcdefghijklmnopqrstuvwxy\n",
        2,
        7,
        "name",
        "`abcdefghijklmnopqrstuvwxy` is 25 characters long; a stack name is 3 to 24 characters",
    ),
    bad(
        concat!(base!(), "region: europe\n"),
        3,
        9,
        "region",
        "`europe` does not look like an AWS region; use a region code such as `eu-central-1`",
    ),
    bad(
        concat!(base!(), "documents:\n  bucket: Acme-Docs\n"),
        4,
        11,
        "documents.bucket",
        "`Acme-Docs` is not a valid bucket name: it contains the upper-case `A`; bucket names \
         use only lower-case letters, digits and `-`",
    ),
    bad(
        concat!(base!(), "website:\n  bucket: acme.docs.site\n"),
        4,
        11,
        "website.bucket",
        "`acme.docs.site` is not a valid bucket name: it contains `.`, which S3 allows but \
         which breaks HTTPS to the virtual-hosted endpoint",
    ),
    bad(
        concat!(base!(), "documents:\n  bucket: ab\n"),
        4,
        11,
        "documents.bucket",
        "`ab` is not a valid bucket name: it is 2 characters long; bucket names are 3 to 63 \
         characters",
    ),
    bad(
        concat!(base!(), "documents:\n  bucket: 192.168.1.10\n"),
        4,
        11,
        "documents.bucket",
        "`192.168.1.10` is not a valid bucket name: it is formatted as an IP address",
    ),
    bad(
        concat!(base!(), "documents:\n  bucket: acme-docs--ol-s3\n"),
        4,
        11,
        "documents.bucket",
        "names ending with `--ol-s3` are reserved by S3",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  bucket: acme-files\nwebsite:\n  bucket: acme-files\n"
        ),
        6,
        11,
        "website.bucket",
        "`acme-files` is also the documents bucket; the two buckets must differ",
    ),
    bad(
        concat!(base!(), "presigner:\n  memory_mb: 64\n"),
        4,
        14,
        "presigner.memory_mb",
        "must be 128 to 10240 (MiB); got 64",
    ),
    bad(
        concat!(base!(), "presigner:\n  memory_mb: 99999999999999999999\n"),
        4,
        14,
        "presigner.memory_mb",
        "must be 128 to 10240 (MiB); got 99999999999999999999",
    ),
    bad(
        concat!(base!(), "presigner:\n  timeout_seconds: 0\n"),
        4,
        20,
        "presigner.timeout_seconds",
        "must be 1 to 900 seconds; got 0",
    ),
    bad(
        concat!(base!(), "presigner:\n  timeout_seconds: -5\n"),
        4,
        20,
        "presigner.timeout_seconds",
        "must be 1 to 900 seconds; got -5",
    ),
    bad(
        concat!(base!(), "presigner:\n  url_expiry_seconds: 7200\n"),
        4,
        23,
        "presigner.url_expiry_seconds",
        "must be 1 to 3600 seconds; got 7200",
    ),
    bad(
        concat!(base!(), "presigner:\n  max_upload_bytes: 5497558138881\n"),
        4,
        21,
        "presigner.max_upload_bytes",
        "must be 1 to 5497558138880 bytes (5 TiB, the most S3 holds in one object); \
         got 5497558138881",
    ),
    bad(
        concat!(base!(), "presigner:\n  max_upload_bytes: 1099511627776\n"),
        4,
        21,
        "presigner.max_upload_bytes",
        "1099511627776 bytes (max_upload_bytes) do not fit in S3's 10000 parts of 16777216 \
         bytes (part_size_bytes); set part_size_bytes to at least 110100480",
    ),
    bad(
        concat!(
            base!(),
            "presigner:\n  max_upload_bytes: 1099511627776\n  part_size_bytes: 104857600\n"
        ),
        5,
        20,
        "presigner.part_size_bytes",
        "set part_size_bytes to at least 110100480",
    ),
    bad(
        concat!(base!(), "presigner:\n  part_size_bytes: 1048576\n"),
        4,
        20,
        "presigner.part_size_bytes",
        "must be 5242880 to 5368709120 bytes (S3's part sizes: 5 MiB to 5 GiB); got 1048576",
    ),
    bad(
        concat!(base!(), "presigner:\n  multipart_threshold_bytes: 0\n"),
        4,
        30,
        "presigner.multipart_threshold_bytes",
        "must be 1 to 5368709120 bytes (5 GiB, the most a single PUT can upload); got 0",
    ),
    bad(
        concat!(base!(), "presigner:\n  reserved_concurrency: 0\n"),
        4,
        25,
        "presigner.reserved_concurrency",
        "0 would stop the function from ever running; give 1 to 1000, or `null` for no reservation",
    ),
    bad(
        concat!(base!(), "presigner:\n  architecture: arm\n"),
        4,
        17,
        "presigner.architecture",
        "`arm` is not an architecture; use `x86_64` (the default) or `arm64`",
    ),
    bad(
        concat!(base!(), "presigner:\n  function_url: {auth: iam}\n"),
        4,
        24,
        "presigner.function_url.auth",
        "`iam` is not an auth mode; use `none` (the default) or `aws_iam`",
    ),
    bad(
        concat!(
            base!(),
            "presigner:\n  source: lambda-bundle\n  zip: bundle.zip\n"
        ),
        5,
        8,
        "presigner.zip",
        "give either `source` (a crate to build with cargo lambda) or `zip` (a prebuilt \
         bundle), not both",
    ),
    bad(
        concat!(base!(), "presigner:\n  zip: bundle.tar.gz\n"),
        4,
        8,
        "presigner.zip",
        "`bundle.tar.gz` must name a .zip file",
    ),
    bad(
        concat!(base!(), "documents:\n  encryption: sse-kms\n"),
        4,
        15,
        "documents.encryption",
        "`sse-kms` needs `kms_key_arn`: the ARN of the KMS key",
    ),
    bad(
        concat!(base!(), "documents:\n  encryption: aes256\n"),
        4,
        15,
        "documents.encryption",
        "`aes256` is not an encryption mode; use `sse-s3` (the default) or `sse-kms`",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  kms_key_arn: arn:aws:kms:eu-central-1:123456789012:key/x\n"
        ),
        4,
        16,
        "documents.kms_key_arn",
        "only used with `encryption: sse-kms`",
    ),
    bad(
        concat!(
            base!(),
            "region: eu-west-1\ndocuments:\n  encryption: sse-kms\n",
            "  kms_key_arn: arn:aws:kms:eu-central-1:123456789012:key/x\n"
        ),
        6,
        16,
        "documents.kms_key_arn",
        "the key is in `eu-central-1` but the stack is in `eu-west-1`",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  encryption: sse-kms\n  kms_key_arn: alias/docs\n"
        ),
        5,
        16,
        "documents.kms_key_arn",
        "`alias/docs` is not a KMS key ARN; use arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID",
    ),
    bad(
        concat!(
            base!(),
            "presigner:\n  allowed_content_types: [image/png, image]\n"
        ),
        4,
        38,
        "presigner.allowed_content_types[1]",
        "`image` is not a content type; use `type/subtype` such as `image/png`, or `*/*` for \
         any",
    ),
    bad(
        concat!(base!(), "presigner:\n  allowed_content_types: []\n"),
        4,
        26,
        "presigner.allowed_content_types",
        "must list at least one content type (`*/*` allows any)",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  cors:\n    allowed_origins:\n      - website\n",
            "      - https://app.example.com/upload\n"
        ),
        7,
        9,
        "documents.cors.allowed_origins[1]",
        "`https://app.example.com/upload` has a path; an origin is only `scheme://host[:port]`",
    ),
    bad(
        concat!(
            base!(),
            "documents:\n  cors:\n    allowed_methods: [PATCH]\n"
        ),
        5,
        23,
        "documents.cors.allowed_methods[0]",
        "`PATCH` is not allowed; S3 CORS methods are GET, PUT, POST, HEAD and DELETE",
    ),
    bad(
        concat!(base!(), "documents:\n  cors:\n    allowed_headers: []\n"),
        5,
        22,
        "documents.cors.allowed_headers",
        "must list at least one header",
    ),
    bad(
        concat!(
            base!(),
            "presigner:\n  function_url:\n    cors_origins: [website, WEBSITE]\n"
        ),
        5,
        29,
        "presigner.function_url.cors_origins[1]",
        "`WEBSITE` is listed twice",
    ),
    bad(
        concat!(base!(), "documents:\n  uploads_prefix: incoming\n"),
        4,
        19,
        "documents.uploads_prefix",
        "`incoming` must end with `/`, e.g. `incoming/`",
    ),
    // The prefix goes into the role's policy, where IAM reads `*` and `?` as wildcards.
    bad(
        concat!(base!(), "documents:\n  uploads_prefix: u*/\n"),
        4,
        19,
        "documents.uploads_prefix",
        "`u*/` contains `*`, which IAM reads in the role's policy as a wildcard, so the role \
         could write beyond the prefix; use a prefix such as `uploads/`",
    ),
    bad(
        concat!(base!(), "documents:\n  uploads_prefix: 'in/?/'\n"),
        4,
        19,
        "documents.uploads_prefix",
        "`in/?/` contains `?`, which IAM reads in the role's policy as a wildcard",
    ),
    bad(
        concat!(base!(), "documents:\n  expire_uploads_after_days: 0\n"),
        4,
        30,
        "documents.expire_uploads_after_days",
        "must be 1 to 3650 days; got 0",
    ),
    bad(
        concat!(base!(), "tags:\n  aws:foo: x\n"),
        4,
        3,
        "tags.aws:foo",
        "tag key `aws:foo`: keys starting with `aws:` are reserved by AWS",
    ),
    bad(
        concat!(base!(), "tags:\n  team: 'a,b'\n"),
        4,
        9,
        "tags.team",
        "the value `a,b` contains `,`; tags use letters, digits, spaces and `_ . : / = + - @`",
    ),
    bad(
        concat!(base!(), "website:\n  index_document: docs/index.html\n"),
        4,
        19,
        "website.index_document",
        "`docs/index.html` contains `/`; S3 takes the index document as a file name",
    ),
    bad(
        concat!(base!(), "website:\n  config_file: \"/config.json\"\n"),
        4,
        16,
        "website.config_file",
        "`/config.json` starts with `/`; give the key relative to the bucket root",
    ),
    bad(
        concat!(base!(), "website:\n  build: ''\n"),
        4,
        10,
        "website.build",
        "must not be empty; give the command to run, or remove `build`",
    ),
    bad(
        concat!(
            base!(),
            "website:\n  cache_control:\n    - {match: \"{a,b\", value: no-cache}\n"
        ),
        5,
        15,
        "website.cache_control[0].match",
        "`{a,b` is not a valid glob: unclosed alternate group",
    ),
    bad(
        concat!(base!(), "website:\n  cache_control:\n    - match: '**'\n"),
        5,
        7,
        "website.cache_control[0]",
        "each rule needs `match` (a glob over object keys, such as `**/*.html`) and `value`",
    ),
    bad(
        concat!(
            base!(),
            "website:\n  cache_control:\n    - {match: '**', value: \"caf\u{e9}\"}\n"
        ),
        5,
        28,
        "website.cache_control[0].value",
        "contains `\u{e9}`; the value is sent as the Cache-Control header, so it must be \
         printable ASCII",
    ),
    bad(
        concat!(base!(), "name: other\n"),
        3,
        1,
        "",
        "duplicate key `name` (first given on line 2); give each key once",
    ),
    bad(
        concat!(base!(), "regi\0on: eu-west-1\n"),
        3,
        5,
        "",
        "the control character '\\0' is not allowed; the spec must be plain text",
    ),
    bad(
        "- version: 1\n",
        1,
        1,
        "",
        "expected a map of spec settings, found a list",
    ),
    bad(
        "",
        1,
        1,
        "",
        "the spec is empty; it needs at least `version: 1` and `name: <stack name>`",
    ),
    bad(
        "null\n",
        1,
        1,
        "",
        "the spec is empty; it needs at least `version: 1` and `name: <stack name>`",
    ),
    bad("# nothing yet\n", 1, 1, "", "the spec is empty"),
    bad(
        concat!(base!(), "environments: [prod]\n"),
        3,
        15,
        "environments",
        "must map environment names to overrides",
    ),
    bad(
        concat!(base!(), "environments:\n  Prod: {}\n"),
        4,
        3,
        "environments.Prod",
        "`Prod` cannot be chosen with --env: it contains `P`; an environment name is 1 to 10 \
         characters of a-z, 0-9 and `-`",
    ),
    bad(
        concat!(base!(), "environments:\n  prod: 3\n"),
        4,
        9,
        "environments.prod",
        "must be a map of settings that override the base spec",
    ),
    bad(
        concat!(base!(), "environments:\n  prod:\n    environments: {}\n"),
        5,
        5,
        "environments.prod.environments",
        "an overlay cannot contain `environments`",
    ),
    // The overlay's value is reported at its own position, under the merged path.
    in_env(
        "prod",
        bad(
            concat!(
                base!(),
                "presigner:\n  memory_mb: 256\nenvironments:\n  prod:\n",
                "    presigner: {memory_mb: 64}\n"
            ),
            7,
            28,
            "presigner.memory_mb",
            "must be 128 to 10240 (MiB); got 64",
        ),
    ),
    // Other environments' overlays are checked too.
    bad(
        concat!(
            base!(),
            "presigner:\n  memory_mb: 256\nenvironments:\n  prod:\n",
            "    presigner: {memory_mb: 64}\n"
        ),
        7,
        28,
        "presigner.memory_mb",
        "in environment `prod`: must be 128 to 10240 (MiB); got 64",
    ),
    bad(
        concat!(
            base!(),
            "environments:\n  prod:\n    presigner: {memry_mb: 256}\n"
        ),
        5,
        17,
        "presigner.memry_mb",
        "in environment `prod`: unknown key `memry_mb`; did you mean `memory_mb`?",
    ),
    in_env(
        "Prod",
        bad(
            base!(),
            0,
            0,
            "",
            "environment name `Prod` is not allowed: it contains `P`; an environment name is 1 \
             to 10 characters of a-z, 0-9 and `-`",
        ),
    ),
    in_env(
        "production1",
        bad(
            base!(),
            0,
            0,
            "",
            "environment name `production1` is not allowed: it is 11 characters long",
        ),
    ),
];

#[test]
fn each_bad_spec_is_reported_at_the_right_place() {
    let dir = project();
    let mut failures = Vec::new();
    for row in BAD {
        let Err(found) = load(&write(dir.path(), row.yaml), row.env) else {
            failures.push(format!("no error for:\n{}", row.yaml));
            continue;
        };
        let matches = |e: &SpecError| {
            e.line == row.line
                && e.column == row.column
                && e.path == row.path
                && e.message.contains(row.message)
                && e.file == dir.path().join("presign-stack.yaml")
        };
        if found.len() != 1 || !matches(&found[0]) {
            failures.push(format!(
                "for (env {}):\n{}expected {}:{} `{}` ~ {:?}\nfound {:#?}",
                row.env, row.yaml, row.line, row.column, row.path, row.message, found
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn env_names_may_be_ten_characters() {
    let dir = project();
    let file = write(dir.path(), base!());
    let spec = load(&file, "production").unwrap();
    assert_eq!(
        spec.presigner.function_name,
        "acme-docs-production-presigner"
    );
    assert_eq!(
        spec.documents.bucket,
        "acme-docs-production-documents-{account}"
    );
}

#[test]
fn all_problems_are_reported_at_once_in_file_order() {
    let text = "version: 3
name: acme-docs
documents:
  bucket: Bad_Bucket
presigner:
  memory_mb: 64
  timeout_seconds: 901
website:
  index_document: /index.html
";
    let found: Vec<(usize, usize, String)> = errors(text, "dev")
        .into_iter()
        .map(|e| (e.line, e.column, e.path))
        .collect();
    let expected = [
        (1, 10, "version"),
        (4, 11, "documents.bucket"),
        (6, 14, "presigner.memory_mb"),
        (7, 20, "presigner.timeout_seconds"),
        (9, 19, "website.index_document"),
    ]
    .map(|(l, c, p)| (l, c, p.to_string()));
    assert_eq!(found, expected);
}

#[test]
fn missing_sources_are_named_by_their_resolved_path() {
    let dir = tempfile::tempdir().unwrap();
    // No presigner source or zip: the presigner presign-stack comes with, nothing to check.
    let found = errors_in(dir.path(), base!(), "dev");
    let messages: Vec<&str> = found.iter().map(|e| e.message.as_str()).collect();
    let lambda = dir.path().join("crates/presigner");
    let frontend = dir.path().join("frontend");
    assert_eq!(
        messages,
        [format!(
            "`{}` (the default `source: frontend`) is not a directory; `source` is the \
             folder synced to the website bucket, relative to the spec's directory",
            frontend.display()
        )]
    );
    // Not written: the problem is placed at the start of the document.
    assert!(found.iter().all(|e| (e.line, e.column) == (1, 1)));
    assert_eq!(found[0].path, "website.source");

    fs::create_dir(&frontend).unwrap();
    let found = errors_in(
        dir.path(),
        concat!(base!(), "presigner:\n  zip: dist/p.zip\n"),
        "dev",
    );
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].column), (4, 8));
    assert_eq!(
        found[0].message,
        format!(
            "`{}` is not a file; `zip` is a prebuilt bundle, relative to the spec's directory",
            dir.path().join("dist/p.zip").display()
        )
    );
    let custom = concat!(base!(), "presigner:\n  source: crates/presigner\n");
    let found = errors_in(dir.path(), custom, "dev");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        format!(
            "`{}` is not a directory; `source` is a presigner crate of your own, relative to \
             the spec's directory (or give `zip`, a prebuilt bundle, or neither: then \
             presign-stack deploys the presigner it comes with)",
            lambda.display()
        )
    );
    fs::create_dir_all(&lambda).unwrap();
    let found = errors_in(dir.path(), custom, "dev");
    assert_eq!(found.len(), 1);
    assert!(found[0].message.contains("has no Cargo.toml"), "{found:?}");
}

#[test]
fn invalid_default_bucket_names_point_at_the_stack_name() {
    let found = errors("version: 1\nname: xn--docs\n", "dev");
    let found: Vec<(usize, usize, &str, &str)> = found
        .iter()
        .map(|e| (e.line, e.column, e.path.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                2,
                7,
                "name",
                "the default documents bucket name `xn--docs-dev-documents-{account}` would not \
                 be valid: names starting with `xn--` are reserved by S3; change `name`, or set \
                 `documents.bucket`"
            ),
            (
                2,
                7,
                "name",
                "the default website bucket name `xn--docs-dev-website-{account}` would not be \
                 valid: names starting with `xn--` are reserved by S3; change `name`, or set \
                 `website.bucket`"
            ),
        ]
    );
}

#[test]
fn too_many_tags() {
    let mut text = String::from(base!());
    text.push_str("tags:\n");
    for i in 0..41 {
        text.push_str(&format!("  t{i}: v\n"));
    }
    let found = errors(&text, "dev");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].line, found[0].column, found[0].path.as_str()),
        (4, 3, "tags")
    );
    assert_eq!(found[0].message, "at most 40 tags are allowed; got 41");
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = project();
    let missing = dir.path().join("nope.yaml");
    let found = load(&missing, "dev").unwrap_err();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].file, missing);
    assert_eq!((found[0].line, found[0].column), (0, 0));
    assert!(found[0].message.starts_with("cannot read the spec: "));
    assert!(found[0]
        .message
        .ends_with("; create it, or pass `--spec FILE` to use another"));
    assert!(found[0]
        .to_string()
        .starts_with(&format!("{}: cannot read the spec", missing.display())));

    let file = write(dir.path(), b"version: 1\nname: ac\xffme\n");
    let found = load(&file, "dev").unwrap_err();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].column), (2, 9));
    assert_eq!(
        found[0].message,
        "the spec is not UTF-8 text; save it as UTF-8"
    );
}

#[test]
fn yaml_syntax_errors_are_located() {
    let located = |text: &str| {
        let found = errors(text, "dev");
        assert_eq!(found.len(), 1, "{found:?}");
        let e = &found[0];
        assert_eq!(e.path, "");
        assert!(e.message.starts_with("invalid YAML: "), "{e}");
        (e.line, e.column)
    };
    // The unclosed `{` is noticed at the end of the text.
    assert_eq!(
        located(concat!(base!(), "presigner: {memory_mb: 128\n")),
        (4, 1)
    );
    assert_eq!(located(concat!(base!(), "a:\n\t- b\n")), (4, 2));
    assert_eq!(located(concat!(base!(), "tags: {x: *nowhere}\n")), (3, 11));
}

#[test]
fn display_shows_file_position_and_path() {
    let dir = project();
    let file = write(
        dir.path(),
        concat!(base!(), "presigner:\n  memory_mb: 64\n"),
    );
    let found = load(&file, "dev").unwrap_err();
    assert_eq!(
        found[0].to_string(),
        format!(
            "{}:4:14: presigner.memory_mb: must be 128 to 10240 (MiB); got 64",
            file.display()
        )
    );
}

#[test]
fn never_panics_on_odd_input() {
    let dir = project();
    let odd: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"[]".to_vec(),
        b"- a\n- b\n".to_vec(),
        b"null".to_vec(),
        b"~".to_vec(),
        b"42".to_vec(),
        b"\"just a string\"".to_vec(),
        b"\x00\x01\x02\xff\xfe garbage \x80".to_vec(),
        b"\x00\x01\x02 garbage".to_vec(),
        b"{{{{".to_vec(),
        b"]]]".to_vec(),
        b"a: [".to_vec(),
        b"version: 1\nname: acme-docs\npresigner: {memory_mb: 99999999999999999999999999999999999999999999}\n".to_vec(),
        b"version: -1\nname: acme-docs\npresigner: {memory_mb: -99999999999999999999}\n".to_vec(),
        b"version: .nan\nname: .inf\n".to_vec(),
        b"version: 1\nname: &a acme-docs\ntags: {x: *a}\n".to_vec(),
        b"version: 1\nname: acme-docs\ntags: {x: *undefined}\n".to_vec(),
        b"version: 1\nname: acme-docs\nenvironments: {dev: {environments: {dev: {}}}}\n".to_vec(),
        b"? [a, b]\n: c\n".to_vec(),
        b"--- 1\n--- 2\n".to_vec(),
        b"%YAML 1.2\n---\nversion: 1\n".to_vec(),
        b"version: !!str 1\nname: !custom acme-docs\n".to_vec(),
        "[".repeat(10_000).into_bytes(),
        "a:\n".repeat(1000).into_bytes(),
        "- ".repeat(5000).into_bytes(),
    ];
    for text in odd {
        let _ = load(&write(dir.path(), &text), "dev");
    }
}

#[test]
fn never_panics_on_truncated_or_mangled_specs() {
    let dir = project();
    let file = dir.path().join("presign-stack.yaml");
    let cuts = FULL.char_indices().map(|(i, _)| i);
    for cut in cuts.clone() {
        fs::write(&file, &FULL[..cut]).unwrap();
        let _ = load(&file, "prod");
    }
    for (i, replacement) in cuts.step_by(7).zip(
        [":", "-", "[", "{", "&a", "*a", "'", "\t", "#", "\n"]
            .iter()
            .cycle(),
    ) {
        fs::write(&file, format!("{}{replacement}{}", &FULL[..i], &FULL[i..])).unwrap();
        let _ = load(&file, "prod");
    }
}

#[test]
fn cloudfront_hosting_is_read_and_checked() {
    let dir = project();
    let file = write(
        dir.path(),
        "version: 1\nname: acme-docs\nwebsite:\n  hosting: cloudfront\n  cloudfront:\n    \
         api_path: /api\n    aliases: [Files.Example.com]\n    certificate_arn: \
         arn:aws:acm:us-east-1:111122223333:certificate/abc\n",
    );
    let spec = load(&file, "dev").unwrap();
    assert_eq!(
        spec.website.hosting,
        Hosting::CloudFront(CloudFront {
            api_path: Some("/api".into()),
            aliases: vec!["files.example.com".into()],
            certificate_arn: Some("arn:aws:acm:us-east-1:111122223333:certificate/abc".into()),
            price_class: "PriceClass_100".into(),
            rate_limit: None,
        })
    );
    // Behind the distribution the Function URL is AWS_IAM.
    assert_eq!(
        spec.presigner.url_auth,
        presign_stack::spec::UrlAuth::AwsIam
    );
    let cases: &[(&str, &str, &str)] = &[
        (
            "  hosting: cdn\n",
            "website.hosting",
            "`cdn` is not a hosting mode",
        ),
        (
            "  cloudfront: {api_path: /api}\n",
            "website.cloudfront",
            "only applies with `hosting: cloudfront`",
        ),
        (
            "  hosting: cloudfront\n  cloudfront: {api_path: api/}\n",
            "website.cloudfront.api_path",
            "is not a base path",
        ),
        (
            "  hosting: cloudfront\n  cloudfront: {aliases: [files.example.com]}\n",
            "website.cloudfront.aliases",
            "need a certificate",
        ),
        (
            "  hosting: cloudfront\n  cloudfront: {aliases: [x.example.com], certificate_arn: \
             'arn:aws:acm:eu-west-1:111122223333:certificate/abc'}\n",
            "website.cloudfront.certificate_arn",
            "only uses ACM certificates in us-east-1",
        ),
        (
            "  hosting: cloudfront\n  cloudfront: {aliases: ['bad_name.example.com'], \
             certificate_arn: 'arn:aws:acm:us-east-1:111122223333:certificate/abc'}\n",
            "website.cloudfront.aliases[0]",
            "is not a domain name",
        ),
        (
            "  hosting: cloudfront\n  cloudfront: {price_class: cheap}\n",
            "website.cloudfront.price_class",
            "is not a price class",
        ),
    ];
    for (website, path, message) in cases {
        let errs = errors(
            &format!("version: 1\nname: acme-docs\nwebsite:\n{website}"),
            "dev",
        );
        assert!(
            errs.iter()
                .any(|e| e.path == *path && e.message.contains(message)),
            "{website}: {errs:?}"
        );
    }
    // An explicit public URL contradicts api_path.
    let errs = errors(
        "version: 1\nname: acme-docs\npresigner: {function_url: {auth: none}}\nwebsite:\n  \
         hosting: cloudfront\n  cloudfront: {api_path: /api}\n",
        "dev",
    );
    assert!(
        errs.iter()
            .any(|e| e.path == "presigner.function_url.auth" && e.message.contains("aws_iam")),
        "{errs:?}"
    );
}
