//! A plan is a value: per resource an action and the fields that differ, plus the website
//! content to upload and delete. Rendered for people in Terraform's notation; serialised for
//! machines.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::loss::Loss;
use crate::orphans::Orphan;
use crate::resources::resource;
use crate::state::{leaf_diff, Change, Kind};
use crate::sync::{SyncPlan, Why};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete the old resource and create a new one: a rename, which AWS cannot do in place.
    Replace,
    Delete,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourcePlan {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    pub changes: Vec<Change>,
    /// For `replace`: the name of the resource this one replaces (deleted with `--prune`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectChange {
    pub key: String,
    pub action: Action,
    /// For an object whose bytes match but whose headers do not: `content_type` and/or
    /// `cache_control`, live and wanted. Empty (and omitted) otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub resources: Vec<ResourcePlan>,
    pub website_content: Vec<ObjectChange>,
    /// Data presign-stack did not write that a step of this plan destroys (or, for an
    /// adoption, takes over), each with the flag that runs it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<Loss>,
}

impl Plan {
    /// The plan for `resources`, with `orphans` (tagged for this stack, no longer named by the
    /// spec) as deletes, or as the old half of a replacement when the spec creates a resource
    /// of the same kind.
    pub fn new(mut resources: Vec<ResourcePlan>, orphans: &[Orphan], content: &SyncPlan) -> Plan {
        for orphan in orphans {
            let replaced = resources.iter_mut().find(|r| {
                r.kind == orphan.kind && r.action == Action::Create && r.previous_name.is_none()
            });
            match replaced {
                Some(r) => {
                    r.action = Action::Replace;
                    r.previous_name = Some(orphan.name.clone());
                }
                None => resources.push(ResourcePlan {
                    kind: orphan.kind,
                    name: orphan.name.clone(),
                    action: Action::Delete,
                    changes: vec![],
                    previous_name: None,
                }),
            }
        }
        let mut website_content: Vec<ObjectChange> = content
            .upload
            .iter()
            .map(|(o, why)| ObjectChange {
                key: o.key.clone(),
                action: match why {
                    Why::New => Action::Create,
                    Why::Changed | Why::Metadata(_) => Action::Update,
                },
                changes: match why {
                    Why::Metadata(changes) => changes.clone(),
                    Why::New | Why::Changed => Vec::new(),
                },
            })
            .collect();
        website_content.extend(content.delete.iter().map(|k| ObjectChange {
            key: k.clone(),
            action: Action::Delete,
            changes: Vec::new(),
        }));
        website_content.sort_by(|a, b| a.key.cmp(&b.key));
        Plan {
            resources,
            website_content,
            losses: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|r| r.action == Action::NoOp) && self.website_content.is_empty()
    }

    /// The resources this plan deletes with `--prune`: orphans and the old halves of
    /// replacements. (Not what the spec's layout no longer uses: `up` deletes that itself.)
    pub fn orphans(&self) -> Vec<Orphan> {
        self.resources
            .iter()
            .filter(|r| !removed_by_up(r.kind))
            .filter_map(|r| match (r.action, &r.previous_name) {
                (Action::Delete, _) => Some(Orphan {
                    kind: r.kind,
                    name: r.name.clone(),
                }),
                (Action::Replace, Some(old)) => Some(Orphan {
                    kind: r.kind,
                    name: old.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// (add, change, destroy), counting resources and website objects alike; a replacement
    /// counts as one add and one destroy.
    pub fn counts(&self) -> (usize, usize, usize) {
        let actions = self
            .resources
            .iter()
            .map(|r| r.action)
            .chain(self.website_content.iter().map(|o| o.action));
        let mut c = (0, 0, 0);
        for a in actions {
            match a {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::Replace => {
                    c.0 += 1;
                    c.2 += 1;
                }
                Action::NoOp => {}
            }
        }
        c
    }
}

/// Whether `up` deletes a resource of `kind` that the spec no longer wants, without `--prune`.
pub fn removed_by_up(kind: Kind) -> bool {
    kind != crate::sync::KIND && resource(kind).removed_by_up()
}

/// A sub-path as it follows a field name: `.a.b`, `[0].a`, or nothing.
pub fn join_path(sub: &str) -> String {
    if sub.is_empty() || sub.starts_with('[') {
        sub.to_string()
    } else {
        format!(".{sub}")
    }
}

/// How [`excerpts`] writes a string: as JSON (`"a"`, as plans show values) or as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    Quoted,
    Bare,
}

/// Two values that differ, as people compare them: whole when short, else each cut to the
/// same window around where they start to differ (`...` marks a cut).
pub fn excerpts(old: &Value, new: &Value, width: usize, strings: Strings) -> (String, String) {
    let text = |v: &Value| match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) if strings == Strings::Bare => s.clone(),
        other => other.to_string(),
    };
    let (a, b) = (text(old), text(new));
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if ca.len() <= width && cb.len() <= width {
        return (a, b);
    }
    let first = ca.iter().zip(&cb).take_while(|(x, y)| x == y).count();
    let start = first.saturating_sub(width / 4);
    let cut = |c: &[char]| {
        let end = (start + width).min(c.len());
        let mut s: String = c[start.min(end)..end].iter().collect();
        if start > 0 {
            s.insert_str(0, "...");
        }
        if end < c.len() {
            s.push_str("...");
        }
        s
    };
    (cut(&ca), cut(&cb))
}

/// A value as plans show it: `(none)` for nothing, cut at 200 characters.
pub fn shown(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(197).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// A field of a resource to create, as Terraform shows it: `+ name = value`, a scalar on
/// its line, an object or list pretty-printed and indented under it.
fn write_created(f: &mut fmt::Formatter<'_>, field: &str, value: &Value) -> fmt::Result {
    match value {
        Value::Null => Ok(()),
        Value::Object(m) if m.is_empty() => Ok(()),
        Value::Array(a) if a.is_empty() => Ok(()),
        Value::Object(_) | Value::Array(_) => {
            let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
            let mut lines = pretty.lines();
            writeln!(f, "      + {field} = {}", lines.next().unwrap_or_default())?;
            for line in lines {
                writeln!(f, "          {line}")?;
            }
            Ok(())
        }
        other => writeln!(f, "      + {field} = {other}"),
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.resources {
            match r.action {
                Action::NoOp => {}
                Action::Create => {
                    writeln!(f, "  + {} {}", r.kind, r.name)?;
                    for c in &r.changes {
                        write_created(f, c.field, &c.new)?;
                    }
                }
                Action::Delete if removed_by_up(r.kind) => writeln!(
                    f,
                    "  - {} {} (the spec's website hosting no longer uses it; `up` deletes it)",
                    r.kind, r.name
                )?,
                Action::Delete => writeln!(
                    f,
                    "  - {} {} (no longer in the spec; `up --prune` deletes it)",
                    r.kind, r.name
                )?,
                Action::Replace => writeln!(
                    f,
                    "-/+ {} {} (replaces {}: a rename forces replacement; `up --prune` deletes the old one)",
                    r.kind,
                    r.name,
                    r.previous_name.as_deref().unwrap_or("?")
                )?,
                Action::Update => {
                    writeln!(f, "  ~ {} {}", r.kind, r.name)?;
                    for c in &r.changes {
                        for (sub, old, new) in leaf_diff(&c.old, &c.new) {
                            let (old, new) = excerpts(&old, &new, 200, Strings::Quoted);
                            writeln!(
                                f,
                                "      {}{}: {old} -> {new}",
                                c.field,
                                join_path(&sub),
                            )?;
                        }
                    }
                }
            }
        }
        for o in &self.website_content {
            let sign = match o.action {
                Action::Create => "+",
                Action::Update => "~",
                Action::Delete => "-",
                Action::Replace | Action::NoOp => continue,
            };
            writeln!(f, "  {sign} website object {}", o.key)?;
            for c in &o.changes {
                writeln!(
                    f,
                    "      {}: {} -> {}",
                    c.field,
                    shown(&c.old),
                    shown(&c.new)
                )?;
            }
        }
        if !self.losses.is_empty() {
            writeln!(
                f,
                "  ! data presign-stack did not write, lost unless you keep it:"
            )?;
            for l in &self.losses {
                writeln!(f, "      {l}")?;
            }
        }
        let (add, change, destroy) = self.counts();
        if self.is_empty() {
            write!(f, "No changes.")
        } else {
            write!(
                f,
                "Plan: {add} to add, {change} to change, {destroy} to destroy."
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_are_cut_around_where_they_differ() {
        let a = json!(format!("{}X{}", "a".repeat(300), "b".repeat(300)));
        let b = json!(format!("{}Y{}", "a".repeat(300), "b".repeat(300)));
        let (x, y) = excerpts(&a, &b, 100, Strings::Bare);
        assert!(x.starts_with("...") && x.ends_with("..."), "{x}");
        assert!(x.contains("aX") && y.contains("aY"), "{x} / {y}");
        assert_eq!(x.chars().count(), 106);
        // Short values stay whole; nothing shows as (none).
        assert_eq!(
            excerpts(&json!("ab"), &Value::Null, 100, Strings::Quoted),
            ("\"ab\"".to_string(), "(none)".to_string())
        );
    }
}
