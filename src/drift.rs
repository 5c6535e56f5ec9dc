//! Drift: the plan read the other way round. Each finding says what the spec expects, what the
//! account has, and what `up` would do about it; rendered as text, JSON, or Markdown for a CI
//! step summary.

use std::fmt;

use serde::Serialize;
use serde_json::{json, Value};

use crate::plan::{excerpts, join_path, removed_by_up, Action, Plan, Strings};
use crate::state::{leaf_diff, Kind};
use crate::sync;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `documents_bucket`, `website_bucket`, `role`, `function`, `function_url`,
    /// `website_content`.
    pub kind: Kind,
    /// The resource's name (an object key for website content).
    pub name: String,
    /// The field that differs; absent when the whole resource is missing or extra.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub expected: Value,
    pub found: Value,
    /// What `up` would do.
    pub fix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub in_sync: bool,
    pub findings: Vec<Finding>,
}

impl Drift {
    /// The findings of `plan`; `config_file` is the key of the generated runtime config.
    pub fn from_plan(plan: &Plan, config_file: Option<&str>) -> Drift {
        let mut findings = Vec::new();
        for r in &plan.resources {
            match r.action {
                Action::NoOp => {}
                Action::Create => findings.push(Finding {
                    kind: r.kind,
                    name: r.name.clone(),
                    field: None,
                    expected: json!("exists"),
                    found: json!("missing"),
                    fix: format!("create the {}", r.kind),
                }),
                Action::Replace => findings.push(Finding {
                    kind: r.kind,
                    name: r.name.clone(),
                    field: None,
                    expected: json!("exists"),
                    found: json!(format!(
                        "missing; the stack's {} is named {}",
                        r.kind,
                        r.previous_name.as_deref().unwrap_or("?")
                    )),
                    fix: format!(
                        "create the {}; `up --prune` also deletes {}",
                        r.kind,
                        r.previous_name.as_deref().unwrap_or("the old one")
                    ),
                }),
                Action::Delete => findings.push(Finding {
                    kind: r.kind,
                    name: r.name.clone(),
                    field: None,
                    expected: json!("absent (no longer in the spec)"),
                    found: json!("exists"),
                    fix: if removed_by_up(r.kind) {
                        "`up` deletes it (the spec's website hosting no longer uses it)".to_string()
                    } else {
                        "delete it with `up --prune`".to_string()
                    },
                }),
                Action::Update => findings.extend(r.changes.iter().map(|c| Finding {
                    kind: r.kind,
                    name: r.name.clone(),
                    field: Some(c.field.to_string()),
                    expected: c.new.clone(),
                    found: c.old.clone(),
                    fix: format!("set {} back to the spec's value", c.field),
                })),
            }
        }
        for o in &plan.website_content {
            if !o.changes.is_empty() {
                findings.extend(o.changes.iter().map(|c| Finding {
                    kind: sync::KIND,
                    name: o.key.clone(),
                    field: Some(c.field.to_string()),
                    expected: c.new.clone(),
                    found: c.old.clone(),
                    fix: "upload it again with the spec's headers".to_string(),
                }));
                continue;
            }
            let generated = Some(o.key.as_str()) == config_file;
            let (expected, found, fix) = match o.action {
                Action::Create | Action::Update if generated => (
                    "the runtime config for this spec and presigner URL",
                    if o.action == Action::Create {
                        "missing"
                    } else {
                        "stale content"
                    },
                    "write it again",
                ),
                Action::Create => ("the file from website.source", "missing", "upload it"),
                Action::Update => (
                    "the file from website.source",
                    "different content",
                    "upload it again",
                ),
                Action::Delete => ("absent", "an object not in website.source", "delete it"),
                Action::NoOp | Action::Replace => continue,
            };
            findings.push(Finding {
                kind: sync::KIND,
                name: o.key.clone(),
                field: None,
                expected: json!(expected),
                found: json!(found),
                fix: fix.to_string(),
            });
        }
        Drift {
            in_sync: findings.is_empty(),
            findings,
        }
    }

    /// A summary for a CI step (GitHub's `$GITHUB_STEP_SUMMARY`).
    pub fn markdown(&self, title: &str) -> String {
        let mut out = format!("## {title}\n\n");
        if self.in_sync {
            out.push_str("No drift: the account matches the spec.\n");
            return out;
        }
        out.push_str(&format!(
            "**{} finding{}.** Run `presign-stack up` to repair.\n\n",
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" }
        ));
        out.push_str("| resource | field | expected | found | `up` would |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        for f in &self.findings {
            out.push_str(&format!(
                "| {} `{}` | {} | {} | {} | {} |\n",
                f.kind,
                md(&f.name),
                f.field
                    .as_deref()
                    .map(|x| format!("`{x}`"))
                    .unwrap_or_default(),
                md(&short(&f.expected)),
                md(&short(&f.found)),
                md(&f.fix)
            ));
        }
        out
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(157).collect::<String>())
    } else {
        s
    }
}

/// Escape what would break a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_sync {
            return write!(f, "No drift: the account matches the spec.");
        }
        writeln!(
            f,
            "Drift: {} finding{}.",
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" }
        )?;
        for d in &self.findings {
            match &d.field {
                Some(field) => {
                    writeln!(f, "  ~ {} {}: {field}", d.kind, d.name)?;
                    for (sub, found, expected) in leaf_diff(&d.found, &d.expected) {
                        if !sub.is_empty() {
                            writeln!(f, "      at {field}{}:", join_path(&sub))?;
                        }
                        let (found, expected) = excerpts(&found, &expected, 160, Strings::Bare);
                        writeln!(f, "      expected: {expected}")?;
                        writeln!(f, "      found:    {found}")?;
                    }
                }
                None => {
                    writeln!(f, "  ! {} {}", d.kind, d.name)?;
                    writeln!(f, "      expected: {}", short(&d.expected))?;
                    writeln!(f, "      found:    {}", short(&d.found))?;
                }
            }
            writeln!(f, "      up would: {}", d.fix)?;
        }
        write!(f, "Run `presign-stack up` to repair.")
    }
}
