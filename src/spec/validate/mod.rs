//! Raw spec -> validated [`Spec`]: every field checked, every default filled in. Problems are
//! collected rather than returned at the first, so one run shows them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::*;
use super::raw::*;
use super::rules;
use super::tree::{child_path, item_path, Index, Mark};

mod auth;
mod documents;
mod function;
mod website;

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
    let concurrency_given = raw_presigner.reserved_concurrency.is_some();
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
    let auth = raw.auth.map(|a| c.auth(a, &presigner, &defaults, &website));
    if auth.is_none() && !concurrency_given {
        // An open presigner: a flood must not take the account's Lambda concurrency.
        presigner.reserved_concurrency = Some(OPEN_PRESIGNER_CONCURRENCY);
        presigner.concurrency_defaulted = true;
    }
    c.private_paths_outside_the_site(&presigner.code, &website.source);
    // GuardDuty's role is `<prefix>-scanner`: the presigner's may not take its name.
    let scanner = format!("{}-scanner", defaults.prefix);
    if documents.malware_scan && presigner.role_name == scanner {
        c.value(
            "presigner.role_name",
            format!(
                "`{scanner}` is the name of the role GuardDuty scans uploads as with \
                 `documents.malware_scan`; choose another name for the presigner's role"
            ),
        );
    }
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
        auth,
    })
}

/// The reserved concurrency of a presigner without `auth` when the spec gives none.
pub const OPEN_PRESIGNER_CONCURRENCY: u32 = 10;

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
