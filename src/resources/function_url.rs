//! The presigner's Function URL and the function's resource policy.
//!
//! For `auth: none` the policy holds exactly two statements, each conditioned so that the only
//! public way in is the URL: InvokeFunctionUrl with FunctionUrlAuthType=NONE, and InvokeFunction
//! with InvokedViaFunctionUrl=true. Any other statement is removed. For `aws_iam` it holds none.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::errors::{aws_err, code_in};
use crate::spec::UrlAuth;
use crate::state::{normalize_statement, set_value, Change, Fields};

pub const SID_URL: &str = "FunctionURLAllowPublicAccess";
pub const SID_INVOKE: &str = "FunctionURLInvokeAllowPublicAccess";
/// Behind CloudFront (`api_path`): only the stack's distribution may call the URL.
pub const SID_CDN_URL: &str = "AllowCloudFrontServicePrincipal";
pub const SID_CDN_INVOKE: &str = "AllowCloudFrontServicePrincipalInvoke";
const CLOUDFRONT: &str = "cloudfront.amazonaws.com";

/// The live URL configuration and resource policy; the URL itself when it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveUrl {
    pub url: Option<String>,
    pub fields: Fields,
}

/// The Function URL's CORS rule apart from its origins (which `up` resolves to the deployed
/// website and `dev` to its local page): what the provisioner configures and `dev` applies.
pub struct UrlCors {
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub max_age_seconds: u32,
}

pub fn url_cors(spec: &crate::spec::Spec) -> UrlCors {
    let mut methods = vec!["POST".to_string()];
    if spec.presigner.allow_downloads {
        methods.push("GET".to_string());
    }
    UrlCors {
        methods,
        headers: vec!["content-type".to_string()],
        max_age_seconds: spec.documents.cors.max_age_seconds,
    }
}

fn cors_value(
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    max_age: Option<i32>,
) -> Value {
    json!({
        "allow_origins": set_value(origins),
        "allow_methods": set_value(methods.into_iter().map(|m| m.to_ascii_uppercase())),
        "allow_headers": set_value(headers.into_iter().map(|h| h.to_ascii_lowercase())),
        "max_age": max_age,
    })
}

pub fn desired_statements(ctx: &Ctx) -> Value {
    let behind_cdn = ctx.spec.website.api_path().is_some();
    let statements = match ctx.spec.presigner.url_auth {
        UrlAuth::AwsIam if behind_cdn => {
            let source = ctx
                .cdn
                .as_ref()
                .map_or(super::distribution::KNOWN_AFTER, |c| c.arn.as_str());
            vec![
                json!({"Sid": SID_CDN_URL, "Effect": "Allow",
                       "Principal": {"Service": CLOUDFRONT},
                       "Action": "lambda:InvokeFunctionUrl",
                       "Condition": {"ArnLike": {"AWS:SourceArn": source},
                                     "StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}}),
                json!({"Sid": SID_CDN_INVOKE, "Effect": "Allow",
                       "Principal": {"Service": CLOUDFRONT},
                       "Action": "lambda:InvokeFunction",
                       "Condition": {"ArnLike": {"AWS:SourceArn": source},
                                     "Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}),
            ]
        }
        UrlAuth::AwsIam => vec![],
        UrlAuth::None => vec![
            json!({"Sid": SID_URL, "Effect": "Allow", "Principal": "*",
                   "Action": "lambda:InvokeFunctionUrl",
                   "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}),
            json!({"Sid": SID_INVOKE, "Effect": "Allow", "Principal": "*",
                   "Action": "lambda:InvokeFunction",
                   "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}),
        ],
    };
    sorted_statements(statements.iter().map(normalize_statement).collect())
}

fn sorted_statements(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|s| s.to_string());
    Value::Array(v)
}

pub fn desired(ctx: &Ctx) -> Fields {
    let mut f = Fields::new();
    f.insert("auth_type", json!(ctx.spec.presigner.url_auth.as_aws()));
    let c = url_cors(&ctx.spec);
    // Behind the distribution the page calls its own origin: no CORS on the URL.
    f.insert(
        "cors",
        match ctx.spec.website.api_path() {
            Some(_) => Value::Null,
            None => cors_value(
                ctx.origins(&ctx.spec.presigner.url_cors_origins),
                c.methods,
                c.headers,
                Some(c.max_age_seconds as i32),
            ),
        },
    );
    f.insert("permissions", desired_statements(ctx));
    f
}

/// A resource-policy statement in the canonical form compared against the desired one. The
/// function's ARN in `Resource` is implied and dropped; an emulator that keeps the AddPermission
/// parameters as top-level keys instead of a `Condition` is folded into AWS's form.
pub fn canonical_statement(stmt: &Value) -> Value {
    let Some(obj) = stmt.as_object() else {
        return stmt.clone();
    };
    let mut out = Map::new();
    let mut condition: Map<String, Value> = obj
        .get("Condition")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut add_condition = |op: &str, key: &str, value: Value| {
        let entry = condition.entry(op.to_string()).or_insert_with(|| json!({}));
        if let Some(m) = entry.as_object_mut() {
            m.insert(key.to_string(), value);
        }
    };
    for (k, v) in obj {
        match k.as_str() {
            "Resource" | "Condition" => {}
            "FunctionUrlAuthType" => {
                add_condition("StringEquals", "lambda:FunctionUrlAuthType", v.clone())
            }
            "InvokedViaFunctionUrl" => {
                add_condition("Bool", "lambda:InvokedViaFunctionUrl", v.clone())
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if !condition.is_empty() {
        out.insert("Condition".into(), Value::Object(condition));
    }
    normalize_statement(&Value::Object(out))
}

pub async fn read(ctx: &Ctx) -> Result<Option<LiveUrl>> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let (url, policy) = tokio::join!(
        lambda.get_function_url_config().function_name(name).send(),
        lambda.get_policy().function_name(name).send(),
    );
    let mut f = Fields::new();
    let url = match url {
        Ok(u) => {
            f.insert("auth_type", json!(u.auth_type().as_str()));
            f.insert(
                "cors",
                match u.cors() {
                    // No CORS, and an empty configuration, read the same.
                    Some(c) if c.allow_origins().is_empty() && c.allow_methods().is_empty() => {
                        Value::Null
                    }
                    Some(c) => cors_value(
                        c.allow_origins().to_vec(),
                        c.allow_methods().to_vec(),
                        c.allow_headers().to_vec(),
                        c.max_age(),
                    ),
                    None => Value::Null,
                },
            );
            Some(u.function_url().to_string())
        }
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => None,
        Err(e) => return Err(aws_err(format!("reading the URL of function {name}"), e)),
    };
    let statements = match policy {
        Ok(p) => match p.policy() {
            Some(text) => {
                let doc: Value = serde_json::from_str(text).map_err(|e| {
                    anyhow::anyhow!("the resource policy of function {name} is not JSON: {e}")
                })?;
                let list = match doc.get("Statement") {
                    Some(Value::Array(items)) => items.clone(),
                    Some(single) => vec![single.clone()],
                    None => vec![],
                };
                list.iter().map(canonical_statement).collect()
            }
            None => vec![],
        },
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => vec![],
        Err(e) => return Err(aws_err(format!("reading the policy of function {name}"), e)),
    };
    if url.is_none() && statements.is_empty() {
        return Ok(None);
    }
    f.insert("permissions", sorted_statements(statements));
    Ok(Some(LiveUrl { url, fields: f }))
}

/// Create or update the URL configuration and make the resource policy exactly the desired
/// statements. Returns the function URL.
pub async fn apply(ctx: &Ctx, live: Option<&LiveUrl>, changes: &[Change]) -> Result<String> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let c = url_cors(&ctx.spec);
    // An origin not known yet (the distribution's) is added once it is.
    let origins: Vec<String> = ctx
        .origins(&ctx.spec.presigner.url_cors_origins)
        .into_iter()
        .filter(|o| o != super::distribution::KNOWN_AFTER)
        .collect();
    let cors = match ctx.spec.website.api_path() {
        Some(_) => Cors::builder().build(),
        None => Cors::builder()
            .set_allow_origins(Some(origins))
            .set_allow_methods(Some(c.methods))
            .set_allow_headers(Some(c.headers))
            .max_age(c.max_age_seconds as i32)
            .build(),
    };
    let auth = FunctionUrlAuthType::from(ctx.spec.presigner.url_auth.as_aws());
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    let mut url = live.and_then(|l| l.url.clone());
    let mut update = url.is_some() && (changed("auth_type") || changed("cors"));
    if url.is_none() {
        match lambda
            .create_function_url_config()
            .function_name(name)
            .auth_type(auth.clone())
            .cors(cors.clone())
            .send()
            .await
        {
            Ok(out) => url = Some(out.function_url().to_string()),
            // Sent again after a lost answer: the URL exists; it is set as wanted below.
            Err(e) if code_in(&e, &["ResourceConflictException"]) => update = true,
            Err(e) => return Err(aws_err(format!("creating the URL of function {name}"), e)),
        }
    }
    if update {
        let out = lambda
            .update_function_url_config()
            .function_name(name)
            .auth_type(auth)
            .cors(cors)
            .send()
            .await
            .map_err(|e| aws_err(format!("updating the URL of function {name}"), e))?;
        url = Some(out.function_url().to_string());
    }
    if changed("permissions") {
        sync_permissions(ctx, live).await?;
    }
    url.ok_or_else(|| anyhow::anyhow!("function {name} has no URL after creating it"))
}

async fn sync_permissions(ctx: &Ctx, live: Option<&LiveUrl>) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let want: Vec<Value> = desired_statements(ctx)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let have: Vec<Value> = live
        .and_then(|l| l.fields.get("permissions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut kept: BTreeMap<String, Value> = BTreeMap::new();
    for stmt in &have {
        if want.contains(stmt) {
            if let Some(sid) = stmt["Sid"].as_str() {
                kept.insert(sid.to_string(), stmt.clone());
            }
            continue;
        }
        let Some(sid) = stmt["Sid"].as_str() else {
            anyhow::bail!(
                "function {name} has a resource-policy statement without a Sid that the spec does \
                 not want ({stmt}); remove it by hand"
            );
        };
        match lambda
            .remove_permission()
            .function_name(name)
            .statement_id(sid)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_in(&e, &["ResourceNotFoundException"]) => {}
            Err(e) => {
                return Err(aws_err(
                    format!("removing permission {sid} from function {name}"),
                    e,
                ))
            }
        }
    }
    for stmt in &want {
        let sid = stmt["Sid"].as_str().unwrap_or_default();
        if kept.contains_key(sid) {
            continue;
        }
        let req = lambda
            .add_permission()
            .function_name(name)
            .statement_id(sid);
        let source = ctx.cdn.as_ref().map(|c| c.arn.clone());
        let req = match sid {
            SID_URL => req
                .principal("*")
                .action("lambda:InvokeFunctionUrl")
                .function_url_auth_type(FunctionUrlAuthType::None),
            SID_INVOKE => req
                .principal("*")
                .action("lambda:InvokeFunction")
                .invoked_via_function_url(true),
            SID_CDN_URL => req
                .principal(CLOUDFRONT)
                .set_source_arn(source)
                .action("lambda:InvokeFunctionUrl")
                .function_url_auth_type(FunctionUrlAuthType::AwsIam),
            _ => req
                .principal(CLOUDFRONT)
                .set_source_arn(source)
                .action("lambda:InvokeFunction")
                .invoked_via_function_url(true),
        };
        match req.send().await {
            Ok(_) => {}
            // AWS refuses a Sid it already has (a retry after a lost answer): done when the
            // statement there is exactly the one wanted.
            Err(e) if code_in(&e, &["ResourceConflictException"]) => {
                let there = read(ctx)
                    .await?
                    .and_then(|l| l.fields.get("permissions").cloned())
                    .and_then(|p| p.as_array().cloned())
                    .unwrap_or_default();
                if !there.contains(stmt) {
                    return Err(aws_err(
                        format!("adding permission {sid} to function {name}"),
                        e,
                    ));
                }
            }
            Err(e) => {
                return Err(aws_err(
                    format!("adding permission {sid} to function {name}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Delete the URL configuration. Tolerates one already gone.
pub async fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    match ctx
        .aws
        .lambda
        .delete_function_url_config()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(()),
        Err(e) => Err(aws_err(format!("deleting the URL of function {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_parameters_fold_into_aws_conditions() {
        let moto = json!({"Sid": SID_URL, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"});
        let aws = json!({"Sid": SID_URL, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}});
        assert_eq!(canonical_statement(&moto), canonical_statement(&aws));
        let invoke = json!({"Sid": SID_INVOKE, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": true});
        let bare = json!({"Sid": SID_INVOKE, "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunction"});
        assert_ne!(canonical_statement(&invoke), canonical_statement(&bare));
    }
}
