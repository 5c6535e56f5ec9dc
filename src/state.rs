//! Desired and live state as comparable values.
//!
//! Every resource kind describes itself as [`Fields`]: a map from field name to a normalised JSON
//! value, built once from the validated spec (desired) and once from what AWS reports (live).
//! One [`diff`] turns the two into per-field changes; `up` applies exactly those.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{json, Map, Value};

pub type Fields = BTreeMap<&'static str, Value>;

/// How a value that is not known yet (it needs a resource this run creates) is shown.
pub const SHOWN_UNKNOWN: &str = "(known after apply)";

/// A value AWS chooses when it creates a resource, which others need: until then, a value
/// that contains it is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// The Function URL.
    FunctionUrl,
    /// The distribution's ARN and domain.
    Distribution,
    /// The user pool's id (`auth.cognito`).
    UserPool,
    /// The app client's id, with its pool's: the issuer and audience the presigner trusts.
    AppClient,
    /// The web ACL's ARN (`website.cloudfront.rate_limit`).
    WebAcl,
}

/// A resource's wanted fields. A value that needs an [`Output`] of a resource that does not
/// exist yet (the distribution's ARN in a bucket policy) is unknown until that resource is
/// applied: `after` says which, and the value in `fields` only shows the unknown part as
/// [`SHOWN_UNKNOWN`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    pub fields: Fields,
    pub after: BTreeMap<&'static str, Output>,
}

impl Desired {
    pub fn set(&mut self, field: &'static str, value: Value) {
        self.fields.insert(field, value);
    }

    /// `field` is known only once `after` is; `shown` is how a plan shows it.
    pub fn unknown(&mut self, field: &'static str, after: Output, shown: Value) {
        self.fields.insert(field, shown);
        self.after.insert(field, after);
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }
}

/// One field that differs: what is there (`old`, `null` when absent) and what the spec wants;
/// `after` names the output that makes `new` known, when it is not yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
    #[serde(rename = "known_after", skip_serializing_if = "Option::is_none")]
    pub after: Option<Output>,
}

/// Fields of `desired` whose live value differs, in field order. An unknown value always
/// differs.
pub fn diff(desired: &Desired, live: &Fields) -> Vec<Change> {
    desired
        .fields
        .iter()
        .filter_map(|(field, want)| {
            let have = live.get(field).cloned().unwrap_or(Value::Null);
            let after = desired.after.get(field).copied();
            (after.is_some() || &have != want).then(|| Change {
                field,
                old: have,
                new: want.clone(),
                after,
            })
        })
        .collect()
}

/// Every field of `desired`, as the changes that create the resource.
pub fn creation(desired: &Desired) -> Vec<Change> {
    desired
        .fields
        .iter()
        .map(|(field, new)| Change {
            field,
            old: Value::Null,
            new: new.clone(),
            after: desired.after.get(field).copied(),
        })
        .collect()
}

/// Where two values of one field differ, as (sub-path, old, new) with the sub-path relative to
/// the field (`""` for the whole value): objects and equal-length lists of objects are
/// followed down, so a person sees `[0].allowed_origins` rather than two whole CORS rules.
pub fn leaf_diff(old: &Value, new: &Value) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<(String, Value, Value)>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(&sub, x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(Value::is_object) => {
            match (by_sid(a), by_sid(b)) {
                // Policy statements: matched by their Sid, whatever their order or number.
                (Some(a), Some(b)) => {
                    let sids: std::collections::BTreeSet<&str> =
                        a.keys().chain(b.keys()).copied().collect();
                    for sid in sids {
                        let (x, y) = (
                            a.get(sid).copied().unwrap_or(&Value::Null),
                            b.get(sid).copied().unwrap_or(&Value::Null),
                        );
                        walk(&format!("{path}[Sid={sid}]"), x, y, out);
                    }
                }
                _ if a.len() == b.len() => {
                    for (i, (x, y)) in a.iter().zip(b).enumerate() {
                        walk(&format!("{path}[{i}]"), x, y, out);
                    }
                }
                // Sets of another size: each element only one side has.
                _ => {
                    for x in a.iter().filter(|x| !b.contains(x)) {
                        out.push((path.to_string(), x.clone(), Value::Null));
                    }
                    for y in b.iter().filter(|y| !a.contains(y)) {
                        out.push((path.to_string(), Value::Null, y.clone()));
                    }
                }
            }
        }
        _ => out.push((path.to_string(), old.clone(), new.clone())),
    }
}

/// Objects by their `Sid`, when every one has a distinct one.
fn by_sid(items: &[Value]) -> Option<BTreeMap<&str, &Value>> {
    let map: BTreeMap<&str, &Value> = items
        .iter()
        .map(|i| Some((i.get("Sid")?.as_str()?, i)))
        .collect::<Option<_>>()?;
    (map.len() == items.len() && !map.is_empty()).then_some(map)
}

/// A kind of resource: its id (in JSON, `snake_case`) and how people read it. Each resource
/// module declares its own; `resources::REGISTRY` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    id: &'static str,
    label: &'static str,
}

impl Kind {
    pub const fn new(id: &'static str, label: &'static str) -> Kind {
        Kind { id, label }
    }

    pub fn id(self) -> &'static str {
        self.id
    }

    /// The value of the `presign-stack:resource` tag.
    pub fn tag_value(self) -> String {
        self.id.replace('_', "-")
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label)
    }
}

/// What AWS reports for one resource that exists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    pub tags: BTreeMap<String, String>,
    pub fields: Fields,
    /// What other resources need of it (its ARN, URL, id).
    pub known: Known,
}

/// The stack's CloudFront distribution, as far as other resources need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdn {
    pub id: String,
    pub arn: String,
    /// `dxxxx.cloudfront.net`
    pub domain: String,
}

/// Values that resources need of each other and that AWS chooses: known from what is live,
/// or once the resource that has them is created. Each resource fills in its own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Known {
    pub role_arn: Option<String>,
    pub function_url: Option<String>,
    pub cdn: Option<Cdn>,
    /// Origin access controls by name -> id.
    pub oac_ids: BTreeMap<String, String>,
    pub headers_policy_id: Option<String>,
    /// The CloudFront Function on the default behaviour.
    pub site_function_arn: Option<String>,
    /// The stack's own user pool (only when it is the stack's).
    pub user_pool_id: Option<String>,
    /// Its app client for the page.
    pub client_id: Option<String>,
    /// The distribution's web ACL.
    pub web_acl_arn: Option<String>,
}

impl Known {
    /// Add what `other` knows (it wins where both know).
    pub fn merge(&mut self, other: Known) {
        let Known {
            role_arn,
            function_url,
            cdn,
            oac_ids,
            headers_policy_id,
            site_function_arn,
            user_pool_id,
            client_id,
            web_acl_arn,
        } = other;
        if role_arn.is_some() {
            self.role_arn = role_arn;
        }
        if function_url.is_some() {
            self.function_url = function_url;
        }
        if cdn.is_some() {
            self.cdn = cdn;
        }
        self.oac_ids.extend(oac_ids);
        if headers_policy_id.is_some() {
            self.headers_policy_id = headers_policy_id;
        }
        if site_function_arn.is_some() {
            self.site_function_arn = site_function_arn;
        }
        if user_pool_id.is_some() {
            self.user_pool_id = user_pool_id;
        }
        if client_id.is_some() {
            self.client_id = client_id;
        }
        if web_acl_arn.is_some() {
            self.web_acl_arn = web_acl_arn;
        }
    }
}

/// A JSON value for a tag map.
pub fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Keys of a live tag map (`old`, as in a [`Change`]) that `want` no longer has: to untag.
pub fn extra_tag_keys(old: &Value, want: &BTreeMap<String, String>) -> Vec<String> {
    old.as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !want.contains_key(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// A sorted, de-duplicated JSON list: the form of every set-valued field.
pub fn set_value<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    json!(v)
}

/// Normalise an IAM/S3/Lambda policy document so that equal policies compare equal: statements
/// as a sorted list, every string-or-list element (Action, Resource, principals, condition
/// values) as a sorted list, `Id` and per-statement `Resource` suffixes left as they are.
pub fn normalize_policy(doc: &Value) -> Value {
    let mut out = Map::new();
    if let Some(obj) = doc.as_object() {
        for (k, v) in sorted(obj) {
            if k == "Statement" {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        let mut statements: Vec<Value> = match obj.get("Statement") {
            Some(Value::Array(items)) => items.iter().map(normalize_statement).collect(),
            Some(single) => vec![normalize_statement(single)],
            None => Vec::new(),
        };
        statements.sort_by_key(|s| s.to_string());
        out.insert("Statement".into(), Value::Array(statements));
    }
    Value::Object(out)
}

/// The text written to AWS for a (normalised) policy: its conventional form, with every
/// one-element list as a scalar (`"Action": "s3:*"`, `"aws:SecureTransport": "false"`).
/// IAM reads both forms alike, but scanners and people look for this one.
pub fn policy_text(policy: &Value) -> String {
    fn scalar_if_single(v: &Value) -> Value {
        match v {
            Value::Array(items) if items.len() == 1 => items[0].clone(),
            other => other.clone(),
        }
    }
    fn each_value(v: &Value, f: fn(&Value) -> Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
            other => other.clone(),
        }
    }
    fn statement(stmt: &Value) -> Value {
        let Some(obj) = stmt.as_object() else {
            return stmt.clone();
        };
        let out = obj.iter().map(|(k, v)| {
            let v = match k.as_str() {
                "Action" | "NotAction" | "Resource" | "NotResource" => scalar_if_single(v),
                "Principal" | "NotPrincipal" => each_value(v, scalar_if_single),
                "Condition" => match v {
                    Value::Object(ops) => Value::Object(
                        ops.iter()
                            .map(|(op, kv)| (op.clone(), each_value(kv, scalar_if_single)))
                            .collect(),
                    ),
                    other => other.clone(),
                },
                _ => v.clone(),
            };
            (k.clone(), v)
        });
        Value::Object(out.collect())
    }
    let mut doc = policy.clone();
    if let Some(statements) = doc.get_mut("Statement") {
        let written = match &*statements {
            Value::Array(items) => Value::Array(items.iter().map(statement).collect()),
            single => Value::Array(vec![statement(single)]),
        };
        *statements = written;
    }
    doc.to_string()
}

/// One statement in canonical form (see [`normalize_policy`]).
pub fn normalize_statement(stmt: &Value) -> Value {
    let Some(obj) = stmt.as_object() else {
        return stmt.clone();
    };
    let mut out = Map::new();
    for (k, v) in sorted(obj) {
        let v = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => as_sorted_list(v),
            "Principal" | "NotPrincipal" => match v {
                Value::Object(m) => Value::Object(
                    sorted(m)
                        .map(|(pk, pv)| (pk.clone(), as_sorted_list(pv)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "Condition" => match v {
                Value::Object(ops) => Value::Object(
                    sorted(ops)
                        .map(|(op, kv)| {
                            let kv = match kv {
                                Value::Object(m) => Value::Object(
                                    sorted(m)
                                        .map(|(ck, cv)| (ck.clone(), as_sorted_list(cv)))
                                        .collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), kv)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// Entries in key order, whatever order the map keeps, so normalised values serialise alike.
fn sorted(m: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.into_iter()
}

fn as_sorted_list(v: &Value) -> Value {
    let mut items: Vec<Value> = match v {
        Value::Array(items) => items.iter().map(scalar_as_string).collect(),
        other => vec![scalar_as_string(other)],
    };
    items.sort_by_key(|i| i.to_string());
    items.dedup();
    Value::Array(items)
}

/// Policies may say `true` or `"true"` for condition values; AWS treats them alike.
fn scalar_as_string(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// Parse a policy document as returned by AWS (IAM percent-encodes it) and normalise it.
pub fn parse_policy(text: &str) -> Result<Value, String> {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|e| format!("policy is not UTF-8 after percent-decoding: {e}"))?
            .into_owned()
    };
    let doc: Value =
        serde_json::from_str(&decoded).map_err(|e| format!("policy is not valid JSON: {e}"))?;
    Ok(normalize_policy(&doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_equal_after_reordering_and_reserialising() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/u/*"},
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
             "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
        let b = json!({"Statement": [
            {"Condition": {"Bool": {"aws:SecureTransport": ["false"]}}, "Action": "s3:*",
             "Principal": "*", "Effect": "Deny"},
            {"Resource": ["arn:aws:s3:::b/u/*"], "Action": ["s3:PutObject"], "Effect": "Allow"}],
            "Version": "2012-10-17"});
        assert_eq!(normalize_policy(&a), normalize_policy(&b));
    }

    #[test]
    fn policies_are_written_in_the_conventional_form_and_read_back_equal() {
        let tls = json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        let text = policy_text(&normalize_policy(&tls));
        let written: Value = serde_json::from_str(&text).unwrap();
        let st = &written["Statement"][0];
        assert_eq!(st["Action"], json!("s3:*"), "{text}");
        assert_eq!(
            st["Condition"]["Bool"]["aws:SecureTransport"],
            json!("false"),
            "{text}"
        );
        assert_eq!(st["Resource"].as_array().map(Vec::len), Some(2), "{text}");
        assert!(text.contains(r#""aws:SecureTransport":"false""#), "{text}");
        let trust = json!({"Statement": {"Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}});
        let written: Value = serde_json::from_str(&policy_text(&normalize_policy(&trust))).unwrap();
        assert_eq!(
            written["Statement"][0]["Principal"]["Service"],
            json!("lambda.amazonaws.com")
        );
        assert_eq!(normalize_policy(&written), normalize_policy(&trust));
        assert_eq!(normalize_policy(&tls), parse_policy(&text).unwrap());
    }

    #[test]
    fn a_widened_policy_differs() {
        let a =
            json!({"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}});
        let b = json!({"Statement": {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}});
        assert_ne!(normalize_policy(&a), normalize_policy(&b));
    }

    #[test]
    fn iam_percent_encoded_policies_are_decoded() {
        let enc = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%7D";
        let p = parse_policy(enc).unwrap();
        assert_eq!(p["Statement"][0]["Action"], json!(["sts:AssumeRole"]));
    }

    #[test]
    fn leaf_diff_points_into_nested_values() {
        let old = json!([{"allowed_origins": ["*"], "max_age_seconds": 3000}]);
        let new = json!([{"allowed_origins": ["http://site"], "max_age_seconds": 3000}]);
        assert_eq!(
            leaf_diff(&old, &new),
            vec![(
                "[0].allowed_origins".to_string(),
                json!(["*"]),
                json!(["http://site"])
            )]
        );
        assert_eq!(
            leaf_diff(&json!(128), &json!(256)),
            vec![(String::new(), json!(128), json!(256))]
        );
        assert!(leaf_diff(&json!({"a": 1}), &json!({"a": 1})).is_empty());
    }

    #[test]
    fn leaf_diff_matches_policy_statements_by_sid() {
        let log = json!({"Sid": "OwnLogGroup", "Action": ["logs:PutLogEvents"],
                         "Resource": ["arn:aws:logs:eu-central-1:1:log-group:/aws/lambda/f"]});
        let uploads = json!({"Sid": "PresignUploads", "Action": ["s3:PutObject"]});
        let widened = json!({"Sid": "OwnLogGroup", "Action": ["logs:PutLogEvents"],
                             "Resource": ["*"]});
        let extra = json!({"Sid": "Extra", "Action": ["s3:*"]});
        let found = json!({"Statement": [extra.clone(), widened, uploads.clone()]});
        let expected = json!({"Statement": [log, uploads]});
        let d = leaf_diff(&found, &expected);
        assert_eq!(
            d,
            vec![
                ("Statement[Sid=Extra]".to_string(), extra, Value::Null),
                (
                    "Statement[Sid=OwnLogGroup].Resource".to_string(),
                    json!(["*"]),
                    json!(["arn:aws:logs:eu-central-1:1:log-group:/aws/lambda/f"])
                ),
            ]
        );
        // Without Sids, lists of another length give each element one side lacks.
        let d = leaf_diff(&json!([{"a": 1}, {"b": 2}]), &json!([{"a": 1}]));
        assert_eq!(d, vec![(String::new(), json!({"b": 2}), Value::Null)]);
    }

    #[test]
    fn diff_reports_only_changed_fields_with_old_and_new() {
        let mut d = Desired::default();
        d.set("memory_mb", json!(256));
        d.set("timeout_seconds", json!(5));
        let mut l = Fields::new();
        l.insert("memory_mb", json!(128));
        l.insert("timeout_seconds", json!(5));
        let changes = diff(&d, &l);
        assert_eq!(
            changes,
            vec![Change {
                field: "memory_mb",
                old: json!(128),
                new: json!(256),
                after: None,
            }]
        );
        // An unknown value differs, whatever is there.
        d.unknown("timeout_seconds", Output::Distribution, json!(5));
        assert_eq!(diff(&d, &l)[1].after, Some(Output::Distribution));
    }
}
