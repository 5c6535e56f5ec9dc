//! `presign-stack init [DIR]`: start a project — a commented spec, the demo page as a starter
//! (unless `--no-page`), and a `.gitignore` line for dev's data. It never overwrites: if any
//! file it would write exists, it writes nothing and names it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

/// The demo page, as the starter page: every file of `frontend/` (its modules import one
/// another by name).
const PAGE: &[(&str, &str)] = &[
    ("index.html", include_str!("../frontend/index.html")),
    ("app.js", include_str!("../frontend/app.js")),
    ("auth.js", include_str!("../frontend/auth.js")),
    ("checksum.js", include_str!("../frontend/checksum.js")),
    ("failures.js", include_str!("../frontend/failures.js")),
    ("files.js", include_str!("../frontend/files.js")),
    ("format.js", include_str!("../frontend/format.js")),
    ("history.js", include_str!("../frontend/history.js")),
    ("limits.js", include_str!("../frontend/limits.js")),
    ("multipart.js", include_str!("../frontend/multipart.js")),
    ("page.js", include_str!("../frontend/page.js")),
    ("presigner.js", include_str!("../frontend/presigner.js")),
    ("progress.js", include_str!("../frontend/progress.js")),
    ("resume.js", include_str!("../frontend/resume.js")),
    ("rows.js", include_str!("../frontend/rows.js")),
    ("scan.js", include_str!("../frontend/scan.js")),
    ("sha256.js", include_str!("../frontend/sha256.js")),
    ("storage.js", include_str!("../frontend/storage.js")),
    ("upload.js", include_str!("../frontend/upload.js")),
    ("style.css", include_str!("../frontend/style.css")),
    ("favicon.svg", include_str!("../frontend/favicon.svg")),
];

/// The folder the page goes in, relative to the spec.
const SITE: &str = "web";
const GITIGNORE_LINE: &str = ".presign-stack/";

#[derive(Debug, Serialize)]
pub struct Initialized {
    pub dir: PathBuf,
    pub name: String,
    /// Files written, relative to `dir`.
    pub written: Vec<String>,
}

impl std::fmt::Display for Initialized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Started stack `{}` in {}:",
            self.name,
            self.dir.display()
        )?;
        for w in &self.written {
            writeln!(f, "  {w}")?;
        }
        writeln!(f)?;
        writeln!(f, "Next:")?;
        writeln!(
            f,
            "  presign-stack dev        # the whole app on this machine"
        )?;
        writeln!(
            f,
            "  presign-stack plan       # what `up` would create in your AWS account"
        )?;
        write!(f, "  presign-stack up         # create it")
    }
}

/// A stack name from a folder name: lower case, `[a-z0-9-]`, 3 to 24 characters.
pub fn stack_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    let mut name: String = name.trim_matches('-').chars().take(24).collect();
    name = name.trim_end_matches('-').to_string();
    if name.len() < 3 {
        name = format!("{name}-docs").trim_start_matches('-').to_string();
    }
    if name.len() < 3 {
        name = "my-docs".to_string();
    }
    name
}

fn spec_text(name: &str, page: bool) -> String {
    let site_note = if page {
        "the starter page; replace it with yours"
    } else {
        "your site's folder"
    };
    format!(
        r#"# presign-stack: secure direct-to-S3 uploads and downloads through presigned URLs.
# `presign-stack dev` runs it here; `presign-stack up` creates it in AWS. Every field and its
# default are in presign-stack's README ("The spec"); `presign-stack validate` checks this file.
version: 1
name: {name}                 # part of every resource name; 3-24 characters of a-z, 0-9, -
# region: eu-central-1       # else from the AWS config (AWS_REGION, profile)
tags: {{}}                    # added to every resource

documents:                   # the private bucket browsers upload to
  versioning: true           # keep overwritten and deleted uploads recoverable
  uploads_prefix: uploads/   # the only prefix the presigner may write
  # expire_uploads_after_days: 30
  # events: eventbridge       # S3 sends the bucket's object events to EventBridge
  # malware_scan: guardduty   # GuardDuty scans each upload; downloads wait until it is clean

presigner:                   # the Lambda that hands out presigned URLs; without `source` or
                             # `zip`, the presigner that comes with presign-stack is deployed
  max_upload_bytes: 2147483648        # 2 GiB; up to 5 TiB
  multipart_threshold_bytes: 67108864 # larger files go in parts of part_size_bytes,
  part_size_bytes: 16777216           # each checked by S3 and resumable after a reload
  allowed_content_types: [image/png, image/jpeg, application/pdf, text/plain, video/mp4, application/zip]
  url_expiry_seconds: 300
  allow_downloads: true
  # permissions_boundary: arn:aws:iam::{{account}}:policy/my-boundary   # default: the one
  #                           `presign-stack bootstrap` made for this stack, once it exists

website:
  source: {SITE}                # {site_note}
  hosting: cloudfront        # a private bucket behind CloudFront, HTTPS; or s3-website (a
                             # public bucket, HTTP only): then delete the `cloudfront:` block
  cloudfront:                # only with hosting: cloudfront
    api_path: /api           # the presigner on the same origin, callable only through it
    # aliases: [files.example.com]
    # certificate_arn: arn:aws:acm:us-east-1:111122223333:certificate/...
    # rate_limit: 300        # requests per 5 minutes per client IP to /api/ (a WAF web ACL)

# Without `auth` anyone who finds the presigner may upload; `plan` says so. With it, every
# request needs a token, and each user has a folder of their own:
# auth:
#   cognito: {{}}              # a user pool made by the stack, with managed sign-in pages
#   quota: {{bytes: 10737418240, files: 1000}}

# environments:              # overlays chosen with --env NAME (default: dev)
#   prod:
#     presigner: {{reserved_concurrency: 50}}
"#
    )
}

/// Write the project into `dir` (created if missing).
pub fn init(dir: &Path, page: bool) -> Result<Initialized> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("reading {}", dir.display()))?;
    let name = stack_name(&dir);
    let mut files: Vec<(String, String)> =
        vec![("presign-stack.yaml".to_string(), spec_text(&name, page))];
    if page {
        files.extend(
            PAGE.iter()
                .map(|(f, text)| (format!("{SITE}/{f}"), text.to_string())),
        );
    }
    let taken: Vec<String> = files
        .iter()
        .filter(|(rel, _)| dir.join(rel).exists())
        .map(|(rel, _)| dir.join(rel).display().to_string())
        .collect();
    if !taken.is_empty() {
        anyhow::bail!(
            "{} already exist{}; init never overwrites a file, and wrote nothing. Run it in \
             another folder (`presign-stack init DIR`), or move {} away",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" },
            if taken.len() == 1 { "it" } else { "them" }
        );
    }
    let mut written = Vec::new();
    std::fs::create_dir_all(dir.join(SITE))
        .with_context(|| format!("creating {}", dir.join(SITE).display()))?;
    for (rel, text) in files {
        let path = dir.join(&rel);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(rel);
    }
    // dev's data (uploads, local signing keys) stays out of git.
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing.lines().any(|l| l.trim() == GITIGNORE_LINE) {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "# presign-stack dev's local data\n{GITIGNORE_LINE}\n"
        ));
        std::fs::write(&gitignore, text)
            .with_context(|| format!("writing {}", gitignore.display()))?;
        written.push(".gitignore".to_string());
    }
    Ok(Initialized { dir, name, written })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_come_from_folder_names() {
        assert_eq!(stack_name(Path::new("/x/Acme Docs")), "acme-docs");
        assert_eq!(stack_name(Path::new("/x/a")), "a-docs");
        assert_eq!(stack_name(Path::new("/x/__")), "docs");
        assert_eq!(
            stack_name(Path::new("/x/a-very-long-project-name-indeed")),
            "a-very-long-project-name"
        );
        assert_eq!(stack_name(Path::new("/x/Café_2026")), "caf-2026");
    }
}
