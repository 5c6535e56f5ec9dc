//! Raw spec -> validated [`Spec`]: every field checked, every default filled in. Problems are
//! collected rather than returned at the first, so one run shows them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::*;
use super::raw::*;
use super::rules;
use super::tree::{child_path, item_path, Index, Mark};

pub(super) struct Problem {
    pub path: String,
    pub mark: Mark,
    pub message: String,
}

pub(super) struct Context<'a> {
    pub file: &'a Path,
    /// Absolute directory of the spec.
    pub dir: &'a Path,
    pub env: &'a str,
    /// Whether to require the presigner and website sources to exist.
    pub check_files: bool,
}

const DEFAULT_CONTENT_TYPES: [&str; 3] = ["image/png", "image/jpeg", "application/pdf"];
const MAX_TAGS: usize = 40;
const MAX_URL_ORIGINS: usize = 100;
/// The largest object S3 holds (uploaded in parts).
const MAX_UPLOAD_BYTES: i128 = presigner::MAX_OBJECT_BYTES as i128;

pub(super) fn validate(raw: RawSpec, index: &Index, cx: &Context) -> Result<Spec, Vec<Problem>> {
    let mut c = Checker {
        index,
        cx,
        problems: Vec::new(),
    };
    match raw.version {
        None => c.value("version", "required: add `version: 1`"),
        Some(1) => {}
        Some(v) => c.value(
            "version",
            format!("must be 1, the only spec version this presign-stack understands; got {v}"),
        ),
    }
    let (name, name_ok) = match raw.name {
        None => {
            c.value(
                "name",
                "required: the stack name, 3 to 24 characters of a-z, 0-9 and `-`, \
                 such as `acme-docs`",
            );
            (String::new(), false)
        }
        Some(name) => {
            let ok = c.check("name", rules::stack_name(&name)).is_some();
            (name, ok)
        }
    };
    let region = raw
        .region
        .filter(|r| c.check("region", rules::region(r)).is_some());
    let user_tags = c.tags(raw.tags.unwrap_or_default());
    let defaults = Defaults {
        prefix: format!("{name}-{}", cx.env),
        name_ok,
    };
    let documents = c.documents(
        raw.documents.unwrap_or_default(),
        &defaults,
        region.as_deref(),
    );
    let raw_presigner = raw.presigner.unwrap_or_default();
    let url_auth_given = raw_presigner
        .function_url
        .as_ref()
        .and_then(|u| u.auth.clone());
    let mut presigner = c.presigner(raw_presigner, &defaults);
    let website = c.website(raw.website.unwrap_or_default(), &defaults);
    if let Some(api_path) = website.api_path() {
        // Behind the distribution, only the distribution may call the Function URL.
        if url_auth_given.as_deref() == Some("none") {
            c.value(
                "presigner.function_url.auth",
                format!(
                    "`none` would make the Function URL public, but with \
                     `website.cloudfront.api_path: {api_path}` the presigner is served through \
                     the distribution, whose calls are signed: its URL is `aws_iam`. Remove \
                     `auth`, or remove `api_path` to call the URL directly"
                ),
            );
        }
        presigner.url_auth = UrlAuth::AwsIam;
    }
    c.private_paths_outside_the_site(&presigner.code, &website.source);
    let mut documents = documents;
    c.cors_lets_the_page_upload(&mut documents.cors, &presigner);
    if documents.bucket == website.bucket {
        c.value(
            "website.bucket",
            format!(
                "`{}` is also the documents bucket; the two buckets must differ",
                website.bucket
            ),
        );
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Spec {
        file: cx.file.to_path_buf(),
        dir: cx.dir.to_path_buf(),
        name,
        env: cx.env.to_string(),
        region,
        user_tags,
        documents,
        presigner,
        website,
    })
}

/// What default resource names are made of.
struct Defaults {
    /// `<name>-<env>`
    prefix: String,
    /// With an invalid stack name, default names would only repeat its error.
    name_ok: bool,
}

struct Checker<'a> {
    index: &'a Index,
    cx: &'a Context<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// A problem with the value at `path` (or, if it was not written, its nearest ancestor).
    fn value(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            mark: self.index.value(path),
            message: message.into(),
        });
    }

    /// A problem with the key of `path` itself.
    fn key(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            mark: self.index.key(path),
            message: message.into(),
        });
    }

    fn check<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.value(path, m)).ok()
    }

    fn number<T: TryFrom<i128>>(
        &mut self,
        path: &str,
        value: Option<i128>,
        (low, high): (i128, i128),
        unit: &str,
    ) -> Option<T> {
        let v = value?;
        if !(low..=high).contains(&v) {
            self.value(path, format!("must be {low} to {high}{unit}; got {v}"));
            return None;
        }
        T::try_from(v).ok()
    }

    /// A list of values checked one by one. An explicitly empty list and duplicates are errors;
    /// a missing one takes `default`.
    fn list<T: PartialEq>(
        &mut self,
        path: &str,
        given: Option<Vec<String>>,
        default: &[&str],
        what: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let Some(items) = given else {
            return default.iter().filter_map(|d| parse(d).ok()).collect();
        };
        if items.is_empty() {
            self.value(path, format!("must list at least one {what}"));
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = item_path(path, i);
            let Some(v) = self.check(&item_path, parse(item)) else {
                continue;
            };
            if out.contains(&v) {
                self.value(&item_path, format!("`{item}` is listed twice"));
            } else {
                out.push(v);
            }
        }
        out
    }

    fn tags(&mut self, tags: BTreeMap<String, String>) -> BTreeMap<String, String> {
        if tags.len() > MAX_TAGS {
            self.value(
                "tags",
                format!("at most {MAX_TAGS} tags are allowed; got {}", tags.len()),
            );
        }
        for (k, v) in &tags {
            let path = child_path("tags", k);
            if let Err(m) = rules::tag_key(k) {
                self.key(&path, m);
            }
            self.check(&path, rules::tag_value(v));
        }
        tags
    }

    fn bucket(&mut self, section: &str, given: Option<String>, defaults: &Defaults) -> String {
        let path = format!("{section}.bucket");
        if let Some(bucket) = given {
            if let Err(reason) = rules::bucket(&bucket) {
                self.value(
                    &path,
                    format!("`{bucket}` is not a valid bucket name: {reason}"),
                );
            }
            return bucket;
        }
        let bucket = format!("{}-{section}-{ACCOUNT_PLACEHOLDER}", defaults.prefix);
        let with_account = bucket.replace(ACCOUNT_PLACEHOLDER, "123456789012");
        if defaults.name_ok {
            if let Err(reason) = rules::bucket(&with_account) {
                self.value(
                    "name",
                    format!(
                        "the default {section} bucket name `{bucket}` would not be valid: \
                         {reason}; change `name`, or set `{path}`"
                    ),
                );
            }
        }
        bucket
    }

    /// `given` (or `default`) made absolute against the spec's directory.
    /// The website folder is published as a whole: it must not hold the spec, the presigner's
    /// sources or bundle, a build's `target/` directory or dev's data (kept next to the spec).
    fn private_paths_outside_the_site(&mut self, code: &CodeSource, source: &Path) {
        let mut found = Vec::new();
        if within(self.cx.file, source) {
            found.push(format!("the spec {}", self.cx.file.display()));
        }
        match code {
            CodeSource::Crate(p) if within(p, source) => {
                found.push(format!("the presigner's source {}", p.display()))
            }
            CodeSource::Zip(p) if within(p, source) => {
                found.push(format!("the presigner's bundle {}", p.display()))
            }
            _ => {}
        }
        if source.join("target").is_dir() {
            found.push(format!(
                "a build's target directory {}",
                source.join("target").display()
            ));
        }
        if !found.is_empty() {
            self.value(
                "website.source",
                format!(
                    "`{}` holds {}, and everything in it is published to the website bucket; \
                     point `source` at the site's own folder (such as `frontend`)",
                    source.display(),
                    found.join(", ")
                ),
            );
        }
    }

    /// CloudWatch Logs accepts only these retentions.
    fn log_retention(&mut self, days: Option<i128>) -> u32 {
        const ALLOWED: [u32; 22] = [
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
            2922, 3288, 3653,
        ];
        match days {
            None => 30,
            Some(d) if ALLOWED.iter().any(|a| i128::from(*a) == d) => d as u32,
            Some(d) => {
                self.value(
                    "presigner.log_retention_days",
                    format!(
                        "{d} is not a retention CloudWatch Logs offers; use one of {}",
                        ALLOWED.map(|a| a.to_string()).join(", ")
                    ),
                );
                30
            }
        }
    }

    fn resolve(&self, given: Option<&str>, default: &str) -> PathBuf {
        self.cx.dir.join(given.unwrap_or(default))
    }

    fn documents(
        &mut self,
        raw: RawDocuments,
        defaults: &Defaults,
        region: Option<&str>,
    ) -> Documents {
        let bucket = self.bucket("documents", raw.bucket, defaults);
        let encryption = match (
            raw.encryption.as_deref().unwrap_or("sse-s3"),
            raw.kms_key_arn,
        ) {
            ("sse-s3", None) => Encryption::SseS3,
            ("sse-s3", Some(_)) => {
                self.value(
                    "documents.kms_key_arn",
                    "only used with `encryption: sse-kms`; remove it, or set `encryption: sse-kms`",
                );
                Encryption::SseS3
            }
            ("sse-kms", None) => {
                self.value(
                    "documents.encryption",
                    "`sse-kms` needs `kms_key_arn`: the ARN of the KMS key, \
                     arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID",
                );
                Encryption::SseS3
            }
            ("sse-kms", Some(key_arn)) => {
                match rules::kms_key_arn(&key_arn) {
                    Ok(key_region) => {
                        if region.is_some_and(|r| r != key_region) {
                            self.value(
                                "documents.kms_key_arn",
                                format!(
                                    "the key is in `{key_region}` but the stack is in `{}`; \
                                     S3 needs a KMS key in the bucket's own region",
                                    region.unwrap_or_default()
                                ),
                            );
                        }
                    }
                    Err(m) => self.value("documents.kms_key_arn", m),
                }
                Encryption::SseKms { key_arn }
            }
            (other, _) => {
                self.value(
                    "documents.encryption",
                    format!(
                        "`{other}` is not an encryption mode; use `sse-s3` (the default) \
                         or `sse-kms`"
                    ),
                );
                Encryption::SseS3
            }
        };
        let uploads_prefix = raw.uploads_prefix.unwrap_or_else(|| "uploads/".to_string());
        self.check(
            "documents.uploads_prefix",
            rules::uploads_prefix(&uploads_prefix),
        );
        Documents {
            bucket,
            versioning: raw.versioning.unwrap_or(false),
            encryption,
            uploads_prefix,
            expire_uploads_after_days: self.number(
                "documents.expire_uploads_after_days",
                raw.expire_uploads_after_days,
                (1, 3650),
                " days",
            ),
            abort_incomplete_uploads_after_days: self
                .number(
                    "documents.abort_incomplete_uploads_after_days",
                    raw.abort_incomplete_uploads_after_days,
                    (1, 365),
                    " days",
                )
                .unwrap_or(1),
            cors: self.cors(raw.cors.unwrap_or_default()),
        }
    }

    fn cors(&mut self, raw: RawCors) -> Cors {
        Cors {
            allowed_origins: self.list(
                "documents.cors.allowed_origins",
                raw.allowed_origins,
                &["website"],
                "origin",
                rules::origin,
            ),
            allowed_methods: self.list(
                "documents.cors.allowed_methods",
                raw.allowed_methods,
                &["PUT", "GET"],
                "method",
                rules::method,
            ),
            allowed_headers: self.list(
                "documents.cors.allowed_headers",
                raw.allowed_headers,
                &["content-type"],
                "header",
                rules::header,
            ),
            expose_headers: self.list(
                "documents.cors.expose_headers",
                raw.expose_headers,
                &["etag"],
                "header",
                rules::header,
            ),
            max_age_seconds: self
                .number(
                    "documents.cors.max_age_seconds",
                    raw.max_age_seconds,
                    (0, 86_400),
                    " seconds",
                )
                .unwrap_or(3000),
        }
    }

    fn presigner(&mut self, raw: RawPresigner, defaults: &Defaults) -> Presigner {
        // The default name fits both rules whenever the stack name is valid.
        let default_name = format!("{}-presigner", defaults.prefix);
        let (max_upload_bytes, multipart_threshold_bytes, part_size_bytes) =
            self.upload_sizes(&raw);
        if let Some(name) = &raw.function_name {
            self.check("presigner.function_name", rules::function_name(name));
        }
        if let Some(name) = &raw.role_name {
            self.check("presigner.role_name", rules::role_name(name));
        }
        let function_name = raw.function_name.unwrap_or_else(|| default_name.clone());
        let role_name = raw.role_name.unwrap_or(default_name);
        let code = self.code(raw.source.as_deref(), raw.zip.as_deref());
        let architecture = match raw.architecture.as_deref() {
            None | Some("x86_64") => Architecture::X86_64,
            Some("arm64") => Architecture::Arm64,
            Some(other) => {
                self.value(
                    "presigner.architecture",
                    format!(
                        "`{other}` is not an architecture; use `x86_64` (the default) or `arm64`"
                    ),
                );
                Architecture::X86_64
            }
        };
        let reserved_concurrency = if raw.reserved_concurrency == Some(0) {
            self.value(
                "presigner.reserved_concurrency",
                "0 would stop the function from ever running; give 1 to 1000, or leave it out \
                 for no reservation",
            );
            None
        } else {
            self.number(
                "presigner.reserved_concurrency",
                raw.reserved_concurrency,
                (1, 1000),
                "",
            )
        };
        let function_url = raw.function_url.unwrap_or_default();
        let url_auth = match function_url.auth.as_deref() {
            None | Some("none") => UrlAuth::None,
            Some("aws_iam") => UrlAuth::AwsIam,
            Some(other) => {
                self.value(
                    "presigner.function_url.auth",
                    format!("`{other}` is not an auth mode; use `none` (the default) or `aws_iam`"),
                );
                UrlAuth::None
            }
        };
        let url_cors_origins = self.list(
            "presigner.function_url.cors_origins",
            function_url.cors_origins,
            &["website"],
            "origin",
            rules::origin,
        );
        if url_cors_origins.len() > MAX_URL_ORIGINS {
            self.value(
                "presigner.function_url.cors_origins",
                format!(
                    "at most {MAX_URL_ORIGINS} origins are allowed; got {}",
                    url_cors_origins.len()
                ),
            );
        }
        Presigner {
            function_name,
            role_name,
            code,
            architecture,
            memory_mb: self
                .number(
                    "presigner.memory_mb",
                    raw.memory_mb,
                    (128, 10_240),
                    " (MiB)",
                )
                .unwrap_or(128),
            timeout_seconds: self
                .number(
                    "presigner.timeout_seconds",
                    raw.timeout_seconds,
                    (1, 900),
                    " seconds",
                )
                .unwrap_or(5),
            reserved_concurrency,
            url_expiry_seconds: self
                .number(
                    "presigner.url_expiry_seconds",
                    raw.url_expiry_seconds,
                    (1, 3600),
                    " seconds",
                )
                .unwrap_or(300),
            max_upload_bytes,
            multipart_threshold_bytes,
            part_size_bytes,
            allowed_content_types: self.list(
                "presigner.allowed_content_types",
                raw.allowed_content_types,
                &DEFAULT_CONTENT_TYPES,
                "content type (`*/*` allows any)",
                rules::content_type,
            ),
            allow_downloads: raw.allow_downloads.unwrap_or(true),
            log_retention_days: self.log_retention(raw.log_retention_days),
            url_auth,
            url_cors_origins,
        }
    }

    /// The documents bucket's CORS rule always allows what the presigner's own requests need,
    /// whatever `documents.cors` lists (its lists add to these): every upload is a PUT that
    /// signs `content-type` and `if-none-match`, and the page sends each file's SHA-256
    /// (`x-amz-checksum-sha256`); uploads in parts also POST (create, complete) and DELETE
    /// (abort), send `x-amz-checksum-algorithm` and read each part's `ETag`. Without them the
    /// page would fail in the browser, so they are added here, where `plan` shows them.
    fn cors_lets_the_page_upload(&mut self, cors: &mut Cors, presigner: &Presigner) {
        let multipart = presigner.max_upload_bytes > presigner.multipart_threshold_bytes;
        let mut methods = vec!["PUT"];
        let mut headers = vec!["content-type", "if-none-match", "x-amz-checksum-sha256"];
        let mut expose = vec![];
        if multipart {
            methods.extend(["POST", "DELETE"]);
            headers.push("x-amz-checksum-algorithm");
            expose.push("etag");
        }
        for m in methods {
            if !cors
                .allowed_methods
                .iter()
                .any(|a| a.eq_ignore_ascii_case(m))
            {
                cors.allowed_methods.push(m.to_string());
            }
        }
        for h in headers {
            if !cors
                .allowed_headers
                .iter()
                .any(|a| rules::wildcard_match(a, h))
            {
                cors.allowed_headers.push(h.to_string());
            }
        }
        for h in expose {
            if !cors
                .expose_headers
                .iter()
                .any(|a| a.eq_ignore_ascii_case(h))
            {
                cors.expose_headers.push(h.to_string());
            }
        }
    }

    /// `max_upload_bytes`, `multipart_threshold_bytes` and `part_size_bytes`, checked against
    /// S3's limits and each other: an upload above the threshold must fit in 10,000 parts.
    fn upload_sizes(&mut self, raw: &RawPresigner) -> (u64, u64, u64) {
        let max = self
            .number(
                "presigner.max_upload_bytes",
                raw.max_upload_bytes,
                (1, MAX_UPLOAD_BYTES),
                " bytes (5 TiB, the most S3 holds in one object)",
            )
            .unwrap_or(10_485_760);
        let threshold = self
            .number(
                "presigner.multipart_threshold_bytes",
                raw.multipart_threshold_bytes,
                (1, presigner::MAX_SINGLE_PUT_BYTES as i128),
                " bytes (5 GiB, the most a single PUT can upload)",
            )
            .unwrap_or(presigner::DEFAULT_MULTIPART_THRESHOLD_BYTES);
        let part = self
            .number(
                "presigner.part_size_bytes",
                raw.part_size_bytes,
                (
                    presigner::MIN_PART_BYTES as i128,
                    presigner::MAX_PART_BYTES as i128,
                ),
                " bytes (S3's part sizes: 5 MiB to 5 GiB)",
            )
            .unwrap_or(presigner::DEFAULT_PART_SIZE_BYTES);
        if max > threshold && max.div_ceil(part) > presigner::MAX_PARTS {
            let path = if raw.part_size_bytes.is_some() {
                "presigner.part_size_bytes"
            } else {
                "presigner.max_upload_bytes"
            };
            self.value(
                path,
                format!(
                    "{max} bytes (max_upload_bytes) do not fit in S3's {} parts of {part} bytes \
                     (part_size_bytes); set part_size_bytes to at least {}",
                    presigner::MAX_PARTS,
                    presigner::min_part_size(max)
                ),
            );
        }
        (max, threshold, part)
    }

    fn code(&mut self, source: Option<&str>, zip: Option<&str>) -> CodeSource {
        if source.is_some() && zip.is_some() {
            self.value(
                "presigner.zip",
                "give either `source` (a crate to build with cargo lambda) or `zip` \
                 (a prebuilt bundle), not both",
            );
        }
        if let Some(zip) = zip {
            let path = self.resolve(Some(zip), "");
            if !zip.ends_with(".zip") {
                self.value(
                    "presigner.zip",
                    format!("`{zip}` must name a .zip file, with `bootstrap` at its root"),
                );
            } else if self.cx.check_files && !path.is_file() {
                self.value(
                    "presigner.zip",
                    format!(
                        "`{}` is not a file; `zip` is a prebuilt bundle, relative to the \
                         spec's directory",
                        path.display()
                    ),
                );
            }
            return CodeSource::Zip(path);
        }
        let Some(source) = source else {
            // The presigner of this presign-stack's own version (embedded in the binary).
            return CodeSource::Embedded;
        };
        let path = self.resolve(Some(source), "");
        if self.cx.check_files && !path.join("Cargo.toml").is_file() {
            let what = if path.is_dir() {
                "has no Cargo.toml"
            } else {
                "is not a directory"
            };
            self.value(
                "presigner.source",
                format!(
                    "`{}` {what}; `source` is a presigner crate of your own, relative to the \
                     spec's directory (or give `zip`, a prebuilt bundle, or neither: then \
                     presign-stack deploys the presigner it comes with)",
                    path.display()
                ),
            );
        }
        CodeSource::Crate(path)
    }

    fn website(&mut self, raw: RawWebsite, defaults: &Defaults) -> Website {
        let bucket = self.bucket("website", raw.bucket, defaults);
        let build = raw.build.filter(|b| {
            let given = !b.trim().is_empty();
            if !given {
                self.value(
                    "website.build",
                    "must not be empty; give the command to run, or remove `build`",
                );
            }
            given
        });
        let source = self.resolve(raw.source.as_deref(), "frontend");
        // With a build step the folder may well be the build's output, not there yet.
        if self.cx.check_files && build.is_none() && !source.is_dir() {
            let given = if raw.source.is_some() {
                ""
            } else {
                " (the default `source: frontend`)"
            };
            self.value(
                "website.source",
                format!(
                    "`{}`{given} is not a directory; `source` is the folder synced to the \
                     website bucket, relative to the spec's directory",
                    source.display()
                ),
            );
        }
        let index_document = raw
            .index_document
            .unwrap_or_else(|| "index.html".to_string());
        self.check(
            "website.index_document",
            rules::index_document(&index_document),
        );
        let error_document = raw
            .error_document
            .unwrap_or_else(|| "index.html".to_string());
        self.check("website.error_document", rules::object_key(&error_document));
        let config_file = raw
            .config_file
            .unwrap_or_else(|| Some("config.json".to_string()));
        if let Some(key) = &config_file {
            self.check("website.config_file", rules::object_key(key));
        }
        let cache_control = match raw.cache_control {
            None => [
                ("**/*.html", "no-cache"),
                ("config.json", "no-cache"),
                ("**", "public, max-age=300"),
            ]
            .map(|(pattern, value)| CacheRule {
                pattern: pattern.to_string(),
                value: value.to_string(),
            })
            .to_vec(),
            Some(rules) => rules
                .into_iter()
                .enumerate()
                .filter_map(|(i, rule)| self.cache_rule(i, rule))
                .collect(),
        };
        let hosting = self.hosting(raw.hosting.as_deref(), raw.cloudfront);
        Website {
            bucket,
            source,
            build,
            index_document,
            error_document,
            config_file,
            cache_control,
            hosting,
        }
    }

    fn hosting(&mut self, hosting: Option<&str>, raw: Option<RawCloudFront>) -> Hosting {
        match hosting {
            None | Some("s3-website") => {
                if raw.is_some() {
                    self.key(
                        "website.cloudfront",
                        "only applies with `hosting: cloudfront`; add that, or remove \
                         `cloudfront`",
                    );
                }
                Hosting::S3Website
            }
            Some("cloudfront") => Hosting::CloudFront(self.cloudfront(raw.unwrap_or_default())),
            Some(other) => {
                self.value(
                    "website.hosting",
                    format!(
                        "`{other}` is not a hosting mode; use `cloudfront` (a private bucket \
                         behind CloudFront, HTTPS) or `s3-website` (the default: a public \
                         bucket behind the S3 website endpoint, HTTP only)"
                    ),
                );
                Hosting::S3Website
            }
        }
    }

    fn cloudfront(&mut self, raw: RawCloudFront) -> CloudFront {
        let api_path = raw.api_path.filter(|p| {
            self.check("website.cloudfront.api_path", rules::api_path(p))
                .is_some()
        });
        let mut aliases = match raw.aliases {
            Some(a) if a.is_empty() => vec![],
            a => self.list("website.cloudfront.aliases", a, &[], "alias", rules::alias),
        };
        aliases.sort();
        if aliases.len() > 100 {
            self.value(
                "website.cloudfront.aliases",
                format!("at most 100 aliases are allowed; got {}", aliases.len()),
            );
        }
        let certificate_given = raw.certificate_arn.is_some();
        let certificate_arn = raw.certificate_arn.filter(|a| {
            self.check(
                "website.cloudfront.certificate_arn",
                rules::certificate_arn(a),
            )
            .is_some()
        });
        if !aliases.is_empty() && !certificate_given {
            self.value(
                "website.cloudfront.aliases",
                "custom domains need a certificate that covers them: add \
                 `certificate_arn` (an ACM certificate in us-east-1)",
            );
        }
        if aliases.is_empty() && certificate_arn.is_some() {
            self.value(
                "website.cloudfront.certificate_arn",
                "a certificate is only used for custom domains: add `aliases`, or remove \
                 `certificate_arn`",
            );
        }
        let price_class = match raw.price_class.as_deref() {
            None => "PriceClass_100".to_string(),
            Some(p @ ("PriceClass_100" | "PriceClass_200" | "PriceClass_All")) => p.to_string(),
            Some(other) => {
                self.value(
                    "website.cloudfront.price_class",
                    format!(
                        "`{other}` is not a price class; use `PriceClass_100` (the default: \
                         North America and Europe), `PriceClass_200` or `PriceClass_All`"
                    ),
                );
                "PriceClass_100".to_string()
            }
        };
        CloudFront {
            api_path,
            aliases,
            certificate_arn,
            price_class,
        }
    }

    fn cache_rule(&mut self, i: usize, rule: RawCacheRule) -> Option<CacheRule> {
        let path = item_path("website.cache_control", i);
        let (Some(pattern), Some(value)) = (rule.pattern, rule.value) else {
            self.value(
                &path,
                "each rule needs `match` (a glob over object keys, such as `**/*.html`) and \
                 `value` (the Cache-Control header, such as `no-cache`)",
            );
            return None;
        };
        let pattern_ok = self
            .check(&child_path(&path, "match"), rules::glob(&pattern))
            .is_some();
        let value_ok = self
            .check(&child_path(&path, "value"), rules::header_value(&value))
            .is_some();
        (pattern_ok && value_ok).then_some(CacheRule { pattern, value })
    }
}

/// `path` as the file system resolves it (links followed) where it exists, else with `.` and
/// `..` resolved lexically.
fn real(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `path` is `dir` or lies inside it.
fn within(path: &Path, dir: &Path) -> bool {
    real(path).starts_with(real(dir))
}
