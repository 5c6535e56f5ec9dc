//! The spec file: raw YAML -> validated [`Spec`].
//!
//! `load` reads the file, applies the chosen environment's overlay, checks every field and fills
//! every default. The rest of the program only ever sees the validated [`Spec`].

mod de;
mod model;
mod raw;
mod rules;
mod tree;
mod validate;

pub use model::*;
pub use rules::{commercial_region, region, wildcard_match};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use tree::{Index, Mark, Node};
use validate::{Context, Problem};

/// A spec problem, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no position (e.g. the file cannot be read).
    pub line: usize,
    pub column: usize,
    /// Dotted field path, e.g. `presigner.memory_mb`; empty for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

impl Spec {
    /// The two ownership tags plus the spec's own tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.user_tags.clone();
        tags.insert(TAG_STACK.to_string(), self.name.clone());
        tags.insert(TAG_ENV.to_string(), self.env.clone());
        tags
    }

    /// Replace the account placeholder in default names and fix the region.
    pub fn resolve(mut self, account: &str, region: &str) -> Spec {
        self.documents.bucket = self.documents.bucket.replace(ACCOUNT_PLACEHOLDER, account);
        self.website.bucket = self.website.bucket.replace(ACCOUNT_PLACEHOLDER, account);
        if let Some(b) = &mut self.presigner.permissions_boundary {
            *b = b.replace(ACCOUNT_PLACEHOLDER, account);
        }
        if let Some(c) = self.auth.as_mut().and_then(|a| a.cognito.as_mut()) {
            c.domain_prefix = c.domain_prefix.replace(ACCOUNT_PLACEHOLDER, account);
        }
        self.region = Some(region.to_string());
        self
    }
}

pub const TAG_STACK: &str = "presign-stack:stack";
pub const TAG_ENV: &str = "presign-stack:env";

/// Read, overlay, and validate the spec at `file` for environment `env`. No AWS call.
///
/// Overlays of the other environments are checked too (all but the existence of files), so a
/// mistake in `environments.prod` shows up in a `validate` run for `dev`.
pub fn load(file: &Path, env: &str) -> Result<Spec, Vec<SpecError>> {
    let located = |mark: Option<Mark>, path: &str, message: String| SpecError {
        file: file.to_path_buf(),
        line: mark.map_or(0, |m| m.line),
        column: mark.map_or(0, |m| m.column),
        path: path.to_string(),
        message,
    };
    let unlocated = |message: String| vec![located(None, "", message)];

    if let Err(reason) = rules::env_name(env) {
        return Err(unlocated(format!(
            "environment name `{env}` is not allowed: {reason}"
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        unlocated(format!(
            "cannot read the spec: {e}; create it, or pass `--spec FILE` to use another"
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mark = Mark {
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
            column: 1 + String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count(),
        };
        vec![located(
            Some(mark),
            "",
            "the spec is not UTF-8 text; save it as UTF-8".to_string(),
        )]
    })?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::path::absolute(parent).map_err(|e| {
        unlocated(format!(
            "cannot resolve the spec's directory `{}`: {e}",
            parent.display()
        ))
    })?;

    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let root = tree::parse(text).map_err(|e| vec![located(Some(e.mark), "", e.message)])?;
    if root.is_null() {
        return Err(vec![located(
            Some(root.mark),
            "",
            "the spec is empty; it needs at least `version: 1` and `name: <stack name>`"
                .to_string(),
        )]);
    }

    let (overlays, mut problems) = environments(&root);
    let context = |env, check_files| Context {
        file,
        dir: &dir,
        env,
        check_files,
    };
    let chosen = overlays.iter().find(|(name, _)| name == env);
    let result = check(
        with_overlay(&root, chosen.map(|(_, o)| o)),
        &context(env, true),
    );
    for (name, overlay) in overlays.iter().filter(|(name, _)| name != env) {
        let mut inside = Vec::new();
        overlay.marks(&mut inside);
        if let Err(found) = check(with_overlay(&root, Some(overlay)), &context(name, false)) {
            problems.extend(
                found
                    .into_iter()
                    .filter(|p| inside.contains(&p.mark))
                    .map(|p| Problem {
                        message: format!("in environment `{name}`: {}", p.message),
                        ..p
                    }),
            );
        }
    }
    match result {
        Ok(spec) if problems.is_empty() => Ok(spec),
        result => {
            problems.extend(result.err().unwrap_or_default());
            problems.sort_by_key(|p| (p.mark.line, p.mark.column));
            Err(problems
                .into_iter()
                .map(|p| located(Some(p.mark), &p.path, p.message))
                .collect())
        }
    }
}

/// The overlays under `environments`, by name, and what is wrong with that section.
fn environments(root: &Node) -> (Vec<(String, Node)>, Vec<Problem>) {
    let mut overlays = Vec::new();
    let mut problems = Vec::new();
    let Some(section) = root.get("environments") else {
        return (overlays, problems);
    };
    if section.value.is_null() {
        return (overlays, problems);
    }
    let Some(entries) = section.value.entries() else {
        problems.push(Problem {
            path: "environments".to_string(),
            mark: section.value.mark,
            message: "must map environment names to overrides, such as \
                      `prod: {presigner: {memory_mb: 256}}`"
                .to_string(),
        });
        return (overlays, problems);
    };
    for entry in entries {
        let path = tree::child_path("environments", &entry.key);
        if let Err(reason) = rules::env_name(&entry.key) {
            problems.push(Problem {
                path,
                mark: entry.key_mark,
                message: format!("`{}` cannot be chosen with --env: {reason}", entry.key),
            });
            continue;
        }
        if let Some(nested) = entry.value.get("environments") {
            problems.push(Problem {
                path: tree::child_path(&path, "environments"),
                mark: nested.key_mark,
                message: "an overlay cannot contain `environments`".to_string(),
            });
        } else if entry.value.entries().is_some() {
            overlays.push((entry.key.clone(), entry.value.clone()));
        } else if !entry.value.is_null() {
            problems.push(Problem {
                path,
                mark: entry.value.mark,
                message: "must be a map of settings that override the base spec, such as \
                          `{presigner: {memory_mb: 256}}`"
                    .to_string(),
            });
        }
    }
    (overlays, problems)
}

fn with_overlay(root: &Node, overlay: Option<&Node>) -> Node {
    let mut merged = root.clone();
    if let Some(overlay) = overlay {
        tree::merge(&mut merged, overlay.clone());
    }
    merged
}

fn check(doc: Node, context: &Context) -> Result<Spec, Vec<Problem>> {
    let raw = de::from_node(&doc).map_err(|e| {
        let (path, mark) = e.place.unwrap_or_else(|| (String::new(), doc.mark));
        vec![Problem {
            path,
            mark,
            message: e.message,
        }]
    })?;
    validate::validate(raw, &Index::new(&doc), context)
}
