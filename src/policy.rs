//! `presign-stack policy deploy | read-only | boundary`: the IAM policies a stack needs, made
//! from what each kind of the registry declares (its actions, and where each applies), plus
//! the parts of a run that are not kinds (discovery's listings, the website's files, the
//! certificate check, invalidations). SPEC section 8.
//!
//! - `deploy`: what `up` and `down` send for this spec: every kind's reads and deletions
//!   (a kind the spec dropped is still found and removed), the creates and updates of the
//!   kinds it wants; the role only with the stack's permissions boundary, which it can never
//!   remove or change.
//! - `read-only`: what `plan`, `drift` and `outputs` send; of the data, only the website's
//!   objects.
//! - `boundary`: the most the presigner's role may ever do.
//!
//! Statements are grouped by where they apply; a Sid says what the statement is for and,
//! where AWS leaves no narrower choice, why it is as wide as it is.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::resources::scope::{Arns, Condition, Scope};
use crate::resources::{role, REGISTRY};
use crate::spec::{Spec, TAG_ENV, TAG_STACK};
use crate::{discovery, sync};

/// Which policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Deploy,
    ReadOnly,
    Boundary,
}

impl Which {
    /// Its file under `docs/iam/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Which::Deploy => "deploy.json",
            Which::ReadOnly => "read-only.json",
            Which::Boundary => "boundary.json",
        }
    }
}

/// The permissions boundary the deploy policy requires of the role: the spec's, else the one
/// `bootstrap` makes.
pub fn boundary_arn(spec: &Spec, at: &Arns) -> String {
    spec.presigner
        .permissions_boundary
        .clone()
        .unwrap_or_else(|| at.default_boundary(spec))
}

/// A policy as printed: each statement's parts in the order people read them (Sid first),
/// whatever order a JSON map of this build keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Action")]
    pub action: Value,
    #[serde(rename = "Resource")]
    pub resource: Value,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Policy {
    /// As IAM takes it (and as the provisioner compares policies).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a policy is JSON")
    }

    /// From a policy document whose statements each have a Sid.
    fn from_value(doc: &Value) -> Policy {
        let statements = doc["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|st| Statement {
                sid: st["Sid"].as_str().unwrap_or_default().to_string(),
                effect: st["Effect"].as_str().unwrap_or_default().to_string(),
                action: st["Action"].clone(),
                resource: st["Resource"].clone(),
                condition: st.get("Condition").map(sorted),
            })
            .collect();
        Policy {
            version: "2012-10-17",
            statements,
        }
    }
}

/// A JSON value with every map's keys inserted in sorted order, so that it prints the same
/// whether or not maps keep insertion order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The policy for `spec` (resolved for `at.account`).
/// IAM's limit on a role's inline policies, all together, in characters (whitespace aside).
pub const INLINE_LIMIT: usize = 10_240;

impl Policy {
    /// Its size as IAM counts it: the characters of its JSON, whitespace aside.
    pub fn size(&self) -> usize {
        serde_json::to_string(self)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count()
    }

    /// Why it cannot be a role's inline policy, if it cannot.
    pub fn too_big_for_a_role(&self, which: &str) -> Option<String> {
        let size = self.size();
        (size > INLINE_LIMIT).then(|| {
            format!(
                "the {which} policy for this spec is {size} characters, over the 10,240 IAM \
                 allows for a role's inline policies: shorten the stack's name or env, or leave \
                 out a feature the stack does not need, so that bootstrap can give it to a role"
            )
        })
    }
}

/// The policy `which` for `spec`, compacted when it would not fit a role otherwise.
pub fn generate(spec: &Spec, at: &Arns, which: Which) -> Policy {
    build(spec, at, which, true)
}

/// [`generate`], never compacted: what a compacted policy must allow exactly.
pub fn generate_uncompacted(spec: &Spec, at: &Arns, which: Which) -> Policy {
    build(spec, at, which, false)
}

fn build(spec: &Spec, at: &Arns, which: Which, compact_if_needed: bool) -> Policy {
    if which == Which::Boundary {
        return Policy::from_value(&role::boundary_policy(spec, at));
    }
    let deploy = which == Which::Deploy;
    let mut b = Builder::new(spec, at);
    b.add_all("Discovery", discovery::ACTIONS, |a| discovery_scope(at, a));
    for r in REGISTRY {
        let a = r.actions();
        let mut actions: Vec<&str> = a.read.to_vec();
        if deploy {
            actions.extend(a.delete);
            if r.wanted(spec) {
                actions.extend(a.create);
                actions.extend(a.update);
            }
        }
        b.add_all(&camel(r.kind().id()), &actions, |action| {
            r.scope(spec, at, action)
        });
    }
    let website = &spec.website.bucket;
    let files: Vec<&str> = sync::ACTIONS
        .iter()
        .copied()
        .filter(|a| deploy || crate::resources::scope::is_read(a))
        .collect();
    b.add_all("WebsiteFiles", &files, |action| match action {
        "s3:ListBucket" => Scope::on([at.bucket(website)]),
        _ => Scope::on([at.objects(website)]),
    });
    if let Some(cf) = spec.website.cloudfront() {
        if let Some(cert) = &cf.certificate_arn {
            b.add_all(
                "Certificate",
                crate::resources::cloudfront::certificate::ACTIONS,
                |_| Scope::on([cert.clone()]),
            );
        }
        if deploy {
            b.add_all(
                "Invalidations",
                crate::resources::cloudfront::invalidation::ACTIONS,
                |_| Scope::on([at.cloudfront("distribution/*")]).when(Condition::Tagged),
            );
        }
    }
    if deploy {
        let boundary = boundary_arn(spec, at);
        // Both of the stack's roles are made with the boundary.
        let mut roles = vec![at.role(&spec.presigner.role_name)];
        if spec.documents.malware_scan {
            roles.push(at.role(&role::scanner_name(spec)));
        }
        b.deny(
            "TheRoleKeepsItsBoundary",
            &["iam:DeleteRolePermissionsBoundary"],
            roles.clone(),
            None,
        );
        b.deny(
            "TheRoleGetsNoOtherBoundary",
            &["iam:PutRolePermissionsBoundary"],
            roles,
            Some(json!({"ArnNotEquals": {"iam:PermissionsBoundary": boundary}})),
        );
        b.deny(
            "TheBoundaryIsNotTheDeployersToChange",
            &[
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
            ],
            vec![boundary],
            None,
        );
    }
    b.finish(compact_if_needed)
}

/// Discovery's listings: none takes a resource but ListRoleTags (the roles under the tool's
/// path) and ListPolicies' answer is filtered by path, not by resource.
fn discovery_scope(at: &Arns, action: &str) -> Scope {
    match action {
        "iam:ListRoleTags" => Scope::on([at.role("*")]),
        _ => Scope::any(),
    }
}

/// `documents_bucket` -> `DocumentsBucket`.
fn camel(id: &str) -> String {
    id.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[derive(Clone)]
struct Group {
    /// The parts of the stack that need it (`DocumentsBucket`), in order.
    sources: Vec<String>,
    /// What the condition or the width of the statement is, in words.
    suffix: String,
    effect: &'static str,
    actions: BTreeSet<String>,
    resources: Vec<String>,
    condition: Option<Value>,
    /// Holds statements of several services (a policy compacted to fit a role).
    compacted: bool,
}

impl Group {
    fn sid(&self) -> String {
        match (self.compacted, self.suffix.as_str()) {
            (true, "") => "StackResources".to_string(),
            (true, suffix) => suffix.to_string(),
            (false, suffix) => format!("{}{suffix}", self.sources.join("And")),
        }
    }

    /// The services its actions belong to (`s3`, `iam`).
    fn services(&self) -> BTreeSet<&str> {
        self.actions
            .iter()
            .map(|a| a.split(':').next().unwrap_or(a))
            .collect()
    }

    fn take_sources(&mut self, other: Vec<String>) {
        for s in other {
            if !self.sources.contains(&s) {
                self.sources.push(s);
            }
        }
    }
}

struct Builder<'a> {
    spec: &'a Spec,
    at: &'a Arns,
    groups: Vec<Group>,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a Spec, at: &'a Arns) -> Builder<'a> {
        Builder {
            spec,
            at,
            groups: Vec::new(),
        }
    }

    fn add_all(&mut self, source: &str, actions: &[&str], scope: impl Fn(&str) -> Scope) {
        for action in actions {
            let s = scope(action);
            let (source, suffix, effect, condition) = self.statement(source, &s);
            self.add(source, suffix, effect, action, s.resources, condition);
        }
    }

    /// The source, Sid suffix, effect and condition block of a scope.
    fn statement(&self, source: &str, s: &Scope) -> (String, String, &'static str, Option<Value>) {
        let tags = |prefix: &str| {
            let mut m = Map::new();
            m.insert(format!("{prefix}/{TAG_STACK}"), json!(self.spec.name));
            m.insert(format!("{prefix}/{TAG_ENV}"), json!(self.spec.env));
            json!({ "StringEquals": m })
        };
        let source = format!("{source}{}", s.part);
        let allow = |suffix: &str, condition: Option<Value>| {
            (source.clone(), suffix.to_string(), "Allow", condition)
        };
        match &s.condition {
            Condition::None => allow("", None),
            Condition::Tagged => allow("TaggedForTheStack", Some(tags("aws:ResourceTag"))),
            Condition::TaggedRequest => allow("WithTheStacksTags", Some(tags("aws:RequestTag"))),
            Condition::TaggedRequestNotOthers => {
                let mut c = tags("aws:RequestTag");
                let mut resource = Map::new();
                resource.insert(
                    format!("aws:ResourceTag/{TAG_STACK}"),
                    json!(self.spec.name),
                );
                resource.insert(format!("aws:ResourceTag/{TAG_ENV}"), json!(self.spec.env));
                c["StringEqualsIfExists"] = Value::Object(resource);
                allow("TaggingForTheStack", Some(c))
            }
            Condition::Boundary => allow(
                "OnlyWithTheBoundary",
                Some(json!({"ArnEquals": {
                    "iam:PermissionsBoundary": boundary_arn(self.spec, self.at)
                }})),
            ),
            Condition::PassedTo(service) => allow(
                "PassedToItsService",
                Some(json!({"StringEquals": {"iam:PassedToService": service}})),
            ),
            Condition::Equals(key, value) => {
                let mut m = Map::new();
                m.insert((*key).to_string(), json!(value));
                allow("AsTheSpecSays", Some(json!({ "StringEquals": m })))
            }
            Condition::Untaggable(why) => (String::new(), (*why).to_string(), "Allow", None),
            Condition::NoResource => (
                String::new(),
                "ActionsThatTakeNoResource".into(),
                "Allow",
                None,
            ),
            Condition::Denied(why) => (String::new(), (*why).to_string(), "Deny", None),
        }
    }

    fn add(
        &mut self,
        source: String,
        suffix: String,
        effect: &'static str,
        action: &str,
        resources: Vec<String>,
        condition: Option<Value>,
    ) {
        // One statement per resources and condition, whichever part of the stack asks.
        match self.groups.iter_mut().find(|g| {
            g.effect == effect
                && g.suffix == suffix
                && g.resources == resources
                && g.condition == condition
        }) {
            Some(g) => {
                g.actions.insert(action.to_string());
                g.take_sources(vec![source]);
            }
            None => self.groups.push(Group {
                sources: if source.is_empty() {
                    Vec::new()
                } else {
                    vec![source]
                },
                suffix,
                effect,
                actions: BTreeSet::from([action.to_string()]),
                resources,
                condition,
                compacted: false,
            }),
        }
    }

    fn deny(
        &mut self,
        why: &str,
        actions: &[&str],
        resources: Vec<String>,
        condition: Option<Value>,
    ) {
        for a in actions {
            self.add(
                String::new(),
                why.to_string(),
                "Deny",
                a,
                resources.clone(),
                condition.clone(),
            );
        }
    }

    fn finish(self, compact_if_needed: bool) -> Policy {
        // Statements that allow the same actions on different resources become one (the two
        // buckets' settings).
        let mut merged: Vec<Group> = Vec::new();
        for g in self.groups {
            match merged.iter_mut().find(|m| {
                m.effect == g.effect
                    && m.suffix == g.suffix
                    && m.actions == g.actions
                    && m.condition == g.condition
            }) {
                Some(m) => {
                    m.resources.extend(g.resources);
                    m.take_sources(g.sources);
                }
                None => merged.push(g),
            }
        }
        let policy = to_policy(merged.clone());
        if !compact_if_needed || policy.size() <= INLINE_LIMIT {
            return policy;
        }
        to_policy(compact(merged))
    }
}

/// A policy too big for a role, made smaller: allowed statements of different services with
/// the same condition become one. Only statements whose actions all act on their own
/// service's resources take part (`s3:GetObject` never matches a function's ARN), so nothing
/// more is allowed; an action AWS lets act on another service's resources (`sts:AssumeRole`
/// on a role, `wafv2:AssociateWebACL` on a user pool) never does. `tests/iam_linters.rs`
/// checks what a compacted policy adds against AWS's Service Authorization Reference.
fn compact(groups: Vec<Group>) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for g in groups {
        let into = out.iter_mut().find(|m| {
            m.effect == "Allow"
                && g.effect == "Allow"
                && m.suffix == g.suffix
                && m.condition == g.condition
                && self_contained(m)
                && self_contained(&g)
                && m.services().is_disjoint(&g.services())
        });
        match into {
            Some(m) => {
                m.actions.extend(g.actions);
                m.resources.extend(g.resources);
                m.take_sources(g.sources);
                m.compacted = true;
            }
            None => out.push(g),
        }
    }
    out
}

/// Actions whose resources AWS lets be another service's (Service Authorization Reference).
const ACTS_ACROSS_SERVICES: &[&str] = &[
    "sts:AssumeRole",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "wafv2:GetWebACLForResource",
    "logs:PutSubscriptionFilter",
];

/// Whether a statement's actions all act only on resources of their own service, and its
/// resources are ARNs of those services.
fn self_contained(g: &Group) -> bool {
    let services = g.services();
    g.actions
        .iter()
        .all(|a| !ACTS_ACROSS_SERVICES.contains(&a.as_str()))
        && g.resources.iter().all(|r| {
            r.split(':')
                .nth(2)
                .is_some_and(|of| r.starts_with("arn:") && services.contains(of))
        })
}

fn to_policy(groups: Vec<Group>) -> Policy {
    let mut seen: Vec<String> = Vec::new();
    let statements: Vec<Statement> = groups
        .into_iter()
        .map(|g| {
            // One Sid per statement: a second group under one name gets a number.
            let base = g.sid();
            let mut sid = base.clone();
            let mut n = 1;
            while seen.contains(&sid) {
                n += 1;
                sid = format!("{base}{n}");
            }
            seen.push(sid.clone());
            Statement {
                sid,
                effect: g.effect.to_string(),
                action: one_or_list(g.actions.into_iter().collect()),
                resource: one_or_list(g.resources),
                condition: g.condition.as_ref().map(sorted),
            }
        })
        .collect();
    Policy {
        version: "2012-10-17",
        statements,
    }
}

fn one_or_list(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        json!(items.remove(0))
    } else {
        json!(items)
    }
}
