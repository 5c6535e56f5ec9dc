//! The presigner's Function URL and the function's resource policy.
//!
//! For `auth: none` the policy holds exactly two statements, each conditioned so that the only
//! public way in is the URL: InvokeFunctionUrl with FunctionUrlAuthType=NONE, and InvokeFunction
//! with InvokedViaFunctionUrl=true. Any other statement is removed. For `aws_iam` it holds none.

use super::scope::{Arns, Condition, Scope};
use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType};
use futures::FutureExt;
use serde_json::{json, Map, Value};

use super::{function, Actions, Need, Resource, Step};
use crate::context::Ctx;
use crate::errors::{aws_err, code_in};
use crate::spec::{Spec, UrlAuth};
use crate::state::{
    normalize_statement, set_value, Change, Desired, Fields, Kind, Known, Live, Output,
    SHOWN_UNKNOWN,
};

pub const KIND: Kind = Kind::new("function_url", "function URL");

pub struct FunctionUrl;

impl Resource for FunctionUrl {
    fn kind(&self) -> Kind {
        KIND
    }

    fn name(&self, spec: &Spec) -> String {
        spec.presigner.function_name.clone()
    }

    fn needs(&self, _spec: &Spec) -> Vec<Need> {
        // Made after the function; deleted with it, in any order.
        vec![Need::Reads(function::KIND)]
    }

    fn comes_with(&self) -> Option<Kind> {
        Some(function::KIND)
    }

    fn provides(&self) -> Option<Output> {
        Some(Output::FunctionUrl)
    }

    fn actions(&self) -> Actions {
        Actions {
            read: &["lambda:GetFunctionUrlConfig", "lambda:GetPolicy"],
            create: &[
                "lambda:CreateFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
                "lambda:AddPermission",
                "lambda:GetFunctionUrlConfig",
                "lambda:GetPolicy",
            ],
            update: &[
                "lambda:UpdateFunctionUrlConfig",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
            ],
            delete: &["lambda:DeleteFunctionUrlConfig"],
        }
    }

    fn scope(&self, spec: &Spec, at: &Arns, action: &str) -> Scope {
        let function = Scope::on([at.function(&spec.presigner.function_name)]);
        match action {
            // The URL's auth type is the spec's: a public URL cannot be made of one behind
            // CloudFront.
            "lambda:CreateFunctionUrlConfig" | "lambda:UpdateFunctionUrlConfig" => {
                function.when(Condition::Equals(
                    "lambda:FunctionUrlAuthType",
                    spec.presigner.url_auth.as_aws().to_string(),
                ))
            }
            // Invoking granted only to whom the spec's layout grants it: anyone through a
            // public URL, or CloudFront.
            "lambda:AddPermission" => {
                let principal = match spec.presigner.url_auth {
                    UrlAuth::None => "*",
                    UrlAuth::AwsIam => CLOUDFRONT,
                };
                function
                    .when(Condition::Equals("lambda:Principal", principal.to_string()))
                    .part("Grant")
            }
            _ => function,
        }
    }

    fn desired(&self, ctx: &Ctx, _live: Option<&Live>) -> Desired {
        desired(ctx)
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, name: &'a str) -> Step<'a, Option<Live>> {
        read(ctx, name).boxed()
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        live: Option<&'a Live>,
        changes: &'a [Change],
    ) -> Step<'a, Known> {
        async move {
            let url = apply(ctx, live, changes).await?;
            Ok(Known {
                function_url: Some(url),
                ..Known::default()
            })
        }
        .boxed()
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, name: &'a str, _: &'a Live) -> Step<'a, usize> {
        async move {
            match ctx
                .aws
                .lambda
                .delete_function_url_config()
                .function_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(0),
                Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(0),
                Err(e) => Err(aws_err(format!("deleting the URL of function {name}"), e)),
            }
        }
        .boxed()
    }
}

pub const SID_URL: &str = "FunctionURLAllowPublicAccess";
pub const SID_INVOKE: &str = "FunctionURLInvokeAllowPublicAccess";
/// Behind CloudFront (`api_path`): only the stack's distribution may call the URL.
pub const SID_CDN_URL: &str = "AllowCloudFrontServicePrincipal";
pub const SID_CDN_INVOKE: &str = "AllowCloudFrontServicePrincipalInvoke";
const CLOUDFRONT: &str = "cloudfront.amazonaws.com";

/// The Function URL's CORS rule apart from its origins (which `up` resolves to the deployed
/// website and `dev` to its local page): what the provisioner configures and `dev` applies.
pub struct UrlCors {
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub max_age_seconds: u32,
}

pub fn url_cors(spec: &crate::spec::Spec) -> UrlCors {
    let mut methods = vec!["POST".to_string()];
    if spec.presigner.allow_downloads || spec.auth.is_some() {
        methods.push("GET".to_string());
    }
    let mut headers = vec!["content-type".to_string()];
    if spec.auth.is_some() {
        // `GET /me` and `GET /files` are GETs; `DELETE /files` deletes. The token travels in
        // `authorization`, or `x-presign-authorization` where CloudFront signs the call.
        methods.push("DELETE".to_string());
        headers.push("authorization".to_string());
        headers.push("x-presign-authorization".to_string());
    }
    UrlCors {
        methods,
        headers,
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

/// The statements the function's resource policy must hold, and whether they wait for the
/// distribution's ARN (`None` in place of it until it exists).
fn desired_statements(ctx: &Ctx) -> (Value, bool) {
    let behind_cdn = ctx.spec.website.api_path().is_some();
    let source = ctx.known.cdn.as_ref().map(|c| c.arn.as_str());
    let statements = match ctx.spec.presigner.url_auth {
        UrlAuth::AwsIam if behind_cdn => {
            let source = source.unwrap_or(SHOWN_UNKNOWN);
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
    let waits = behind_cdn && ctx.spec.presigner.url_auth == UrlAuth::AwsIam && source.is_none();
    (
        sorted_statements(statements.iter().map(normalize_statement).collect()),
        waits,
    )
}

fn sorted_statements(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|s| s.to_string());
    Value::Array(v)
}

fn desired(ctx: &Ctx) -> Desired {
    let mut d = Desired::default();
    d.set("auth_type", json!(ctx.spec.presigner.url_auth.as_aws()));
    let c = url_cors(&ctx.spec);
    // Behind the distribution the page calls its own origin: no CORS on the URL.
    match ctx.spec.website.api_path() {
        Some(_) => d.set("cors", Value::Null),
        None => {
            let origins = ctx.origins(&ctx.spec.presigner.url_cors_origins);
            let value = cors_value(
                origins.shown(),
                c.methods,
                c.headers,
                Some(c.max_age_seconds as i32),
            );
            if origins.pending {
                d.unknown("cors", Output::Distribution, value);
            } else {
                d.set("cors", value);
            }
        }
    }
    match desired_statements(ctx) {
        (statements, true) => d.unknown("permissions", Output::Distribution, statements),
        (statements, false) => d.set("permissions", statements),
    }
    d
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

async fn read(ctx: &Ctx, name: &str) -> Result<Option<Live>> {
    let lambda = &ctx.aws.lambda;
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
    Ok(Some(Live {
        tags: BTreeMap::new(),
        fields: f,
        known: Known {
            function_url: url,
            ..Known::default()
        },
    }))
}

/// Create or update the URL configuration and, at the same time (it needs only the
/// function), make the resource policy exactly the desired statements. Returns the URL.
async fn apply(ctx: &Ctx, live: Option<&Live>, changes: &[Change]) -> Result<String> {
    let changed = |field: &str| changes.iter().any(|c| c.field == field);
    let (url, permissions) = tokio::join!(configure(ctx, live, changes), async {
        match changed("permissions") {
            true => sync_permissions(ctx, live).await,
            false => Ok(()),
        }
    });
    permissions?;
    url
}

/// Create or update the URL configuration as `changes` say; the URL.
async fn configure(ctx: &Ctx, live: Option<&Live>, changes: &[Change]) -> Result<String> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let c = url_cors(&ctx.spec);
    // An origin not known yet (the distribution's) is added once it is.
    let origins = ctx.origins(&ctx.spec.presigner.url_cors_origins).known;
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
    let mut url = live.and_then(|l| l.known.function_url.clone());
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
    url.ok_or_else(|| anyhow::anyhow!("function {name} has no URL after creating it"))
}

async fn sync_permissions(ctx: &Ctx, live: Option<&Live>) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let (want, waits) = desired_statements(ctx);
    if waits {
        anyhow::bail!(
            "internal: the permissions of function {name} name the distribution, which does \
             not exist yet; nothing was granted"
        );
    }
    let want: Vec<Value> = want.as_array().cloned().unwrap_or_default();
    let have: Vec<Value> = live
        .and_then(|l| l.fields.get("permissions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // What the spec no longer wants goes first, all at once; then what it wants, all at once.
    let mut unwanted = Vec::new();
    for stmt in have.iter().filter(|s| !want.contains(s)) {
        let Some(sid) = stmt["Sid"].as_str() else {
            anyhow::bail!(
                "function {name} has a resource-policy statement without a Sid that the spec does \
                 not want ({stmt}); remove it by hand"
            );
        };
        unwanted.push(sid);
    }
    let removed = futures::future::join_all(unwanted.into_iter().map(|sid| async move {
        match lambda
            .remove_permission()
            .function_name(name)
            .statement_id(sid)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_in(&e, &["ResourceNotFoundException"]) => Ok(()),
            Err(e) => Err(aws_err(
                format!("removing permission {sid} from function {name}"),
                e,
            )),
        }
    }))
    .await;
    crate::errors::all(removed)?;
    let added = futures::future::join_all(
        want.iter()
            .filter(|s| !have.contains(s))
            .map(|stmt| add_permission(ctx, stmt)),
    )
    .await;
    crate::errors::all(added)
}

/// AddPermission for one wanted statement.
async fn add_permission(ctx: &Ctx, stmt: &Value) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let name = &ctx.spec.presigner.function_name;
    let sid = stmt["Sid"].as_str().unwrap_or_default();
    let req = lambda
        .add_permission()
        .function_name(name)
        .statement_id(sid);
    let source = ctx.known.cdn.as_ref().map(|c| c.arn.clone());
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
        Ok(_) => Ok(()),
        // AWS refuses a Sid it already has (a retry after a lost answer): done when the
        // statement there is exactly the one wanted.
        Err(e) if code_in(&e, &["ResourceConflictException"]) => {
            let there = read(ctx, name)
                .await?
                .and_then(|l| l.fields.get("permissions").cloned())
                .and_then(|p| p.as_array().cloned())
                .unwrap_or_default();
            if there.contains(stmt) {
                Ok(())
            } else {
                Err(aws_err(
                    format!("adding permission {sid} to function {name}"),
                    e,
                ))
            }
        }
        Err(e) => Err(aws_err(
            format!("adding permission {sid} to function {name}"),
            e,
        )),
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
