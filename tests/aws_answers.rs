//! AWS's real answers where moto is lenient, replayed by a proxy in front of moto
//! (`tests/support/proxy.rs`): the real binary talks to the proxy, which forwards to a real
//! moto server and answers as AWS documents where moto would not.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::proxy::{Hook, Proxy, Request, Response};
use support::*;

const REGION: &str = "eu-central-1";

fn project(name: &str) -> Project {
    let p = Project::new();
    p.write_spec(&support::spec("minimal", name, REGION));
    p
}

/// `presign-stack <args>` through the proxy.
fn via(proxy: &Proxy, moto: &Moto, project: &Project, args: &[&str]) -> Run {
    let mut c = project.cmd(moto, REGION, args);
    c.env("AWS_ENDPOINT_URL", &proxy.url);
    run(c)
}

fn hook(
    f: impl Fn(&Request, Option<&Response>) -> Option<Response> + Send + Sync + 'static,
) -> Hook {
    Arc::new(f)
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_public_policy_refused_while_the_block_propagates_is_retried_until_it_passes() {
    let moto = Moto::start();
    let p = project("bpa-docs");
    let site = format!("/bpa-docs-dev-website-{ACCOUNT}");
    let relaxed: Arc<Mutex<Option<Instant>>> = Arc::default();
    let r = relaxed.clone();
    let site_path = site.clone();
    // For 4 s after the website bucket's block is relaxed, S3 refuses its public policy.
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            if answer.is_some() || req.path() != site_path || req.method != "PUT" {
                return None;
            }
            if req.has_query("publicAccessBlock") {
                *r.lock().unwrap() = Some(Instant::now());
            } else if req.has_query("policy") {
                let since = r.lock().unwrap().map(|t| t.elapsed());
                if since.is_some_and(|s| s < Duration::from_secs(4)) {
                    return Some(Response::s3_error(403, "AccessDenied", "Access Denied"));
                }
            }
            None
        }),
    );
    via(&proxy, &moto, &p, &["up"]).ok();
    let puts = proxy.count(|m, t| m == "PUT" && t == format!("{site}/?policy"));
    assert!(puts >= 2, "the refused policy was sent again: {puts}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3(REGION));
    assert!(rt
        .block_on(s3.get_bucket_policy().bucket(&site[1..]).send())
        .is_ok());
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_function_update_in_progress_is_waited_for_and_a_409_retried() {
    let moto = Moto::start();
    let p = project("busy-docs");
    run(p.cmd(&moto, REGION, &["up"])).ok();
    p.write_spec(&std::fs::read_to_string(p.spec_path()).unwrap().replace(
        "presigner: {zip: bundle.zip}",
        "presigner: {zip: bundle.zip, memory_mb: 256}",
    ));
    let refused = Arc::new(Mutex::new(0));
    let n = refused.clone();
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            let config = req.method == "PUT" && req.path().ends_with("/configuration");
            let mut n = n.lock().unwrap();
            if answer.is_none() && config && *n < 2 {
                *n += 1;
                return Some(Response::json_error(
                    409,
                    "ResourceConflictException",
                    "The operation cannot be performed at this time. An update is in progress \
                     for resource: busy-docs-dev-presigner",
                ));
            }
            None
        }),
    );
    via(&proxy, &moto, &p, &["up"]).ok();
    assert_eq!(*refused.lock().unwrap(), 2);
    assert_eq!(
        proxy.count(|m, t| m == "PUT" && t.ends_with("/configuration")),
        3,
        "two 409s, then the update"
    );
    // The wait for the update in progress came first.
    let seen = proxy.seen.lock().unwrap().clone();
    let first_put = seen
        .iter()
        .position(|(m, t)| m == "PUT" && t.ends_with("/configuration"))
        .unwrap();
    assert!(
        seen[..first_put]
            .iter()
            .any(|(m, t)| m == "GET" && t.ends_with("/configuration")),
        "{seen:?}"
    );
}

/// GetFunction as AWS answers a caller not allowed lambda:ListTags: no Tags, a TagsError.
fn get_function_without_tags(req: &Request, answer: Option<&Response>) -> Option<Response> {
    let answer = answer?;
    let is_get_function = req.method == "GET"
        && req.path().starts_with("/2015-03-31/functions/")
        && req.path().matches('/').count() == 3;
    if !is_get_function || answer.status != 200 {
        return None;
    }
    let mut v: Value = serde_json::from_slice(&answer.body).ok()?;
    v.as_object_mut()?.remove("Tags");
    v["TagsError"] = serde_json::json!({"ErrorCode": "AccessDeniedException",
        "Message": "User is not authorized to perform: lambda:ListTags"});
    let mut r = answer.clone();
    r.body = v.to_string().into_bytes();
    Some(r)
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_function_whose_tags_get_function_leaves_out_is_still_ours() {
    let moto = Moto::start();
    let p = project("tags-docs");
    run(p.cmd(&moto, REGION, &["up"])).ok();
    // Allowed ListTags: the tags are read from there, and nothing is foreign.
    let proxy = Proxy::start(&moto.url, hook(get_function_without_tags));
    let plan = via(&proxy, &moto, &p, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(proxy.count(|m, t| m == "GET" && t.starts_with("/2017-03-31/tags/")) >= 1);
    let down = via(&proxy, &moto, &p, &["--output", "json", "down", "--yes"]).ok();
    let v: Value = serde_json::from_str(&down.stdout).unwrap();
    assert_eq!(v["left_in_place"], serde_json::json!([]), "{v}");

    // Not allowed ListTags either: an error naming the permission, not "not ours".
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let proxy = Proxy::start(
        &moto.url,
        hook(|req, answer| {
            if req.path().starts_with("/2017-03-31/tags/") && req.method == "GET" {
                return Some(Response::json_error(
                    403,
                    "AccessDeniedException",
                    "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: \
                     lambda:ListTags",
                ));
            }
            get_function_without_tags(req, answer)
        }),
    );
    let plan = via(&proxy, &moto, &p, &["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("allow lambda:ListTags") && !plan.stderr.contains("--adopt"),
        "{}",
        plan.stderr
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn resources_the_tagging_index_still_lists_after_deletion_are_not_orphans() {
    let moto = Moto::start();
    let p = project("ghost-docs");
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let proxy = Proxy::start(
        &moto.url,
        hook(|req, answer| {
            let answer = answer?;
            if req.target_op() != Some("GetResources") {
                return None;
            }
            let mut v: Value = serde_json::from_slice(&answer.body).ok()?;
            let tags = serde_json::json!([
                {"Key": "presign-stack:stack", "Value": "ghost-docs"},
                {"Key": "presign-stack:env", "Value": "dev"}]);
            let list = v["ResourceTagMappingList"].as_array_mut()?;
            list.push(
                serde_json::json!({"ResourceARN": "arn:aws:s3:::ghost-docs-deleted-bucket",
                "Tags": tags}),
            );
            list.push(serde_json::json!({"ResourceARN":
                "arn:aws:lambda:eu-central-1:123456789012:function:ghost-docs-deleted-fn",
                "Tags": tags}));
            let mut r = answer.clone();
            r.body = v.to_string().into_bytes();
            Some(r)
        }),
    );
    let drift = via(&proxy, &moto, &p, &["drift"]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    assert!(
        proxy.count(|m, t| m == "HEAD" && t == "/ghost-docs-deleted-bucket/") >= 1,
        "the listed bucket was checked"
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_bucket_in_another_region_or_forbidden_is_named_with_what_to_do() {
    let moto = Moto::start();
    let p = project("far-docs");
    let docs = format!("/far-docs-dev-documents-{ACCOUNT}");
    let d = docs.clone();
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            if answer.is_none() && req.method == "HEAD" && req.path() == d {
                let mut r = Response::new(301, "application/xml", "");
                r.headers
                    .push(("x-amz-bucket-region".into(), "us-west-2".into()));
                return Some(r);
            }
            None
        }),
    );
    let plan = via(&proxy, &moto, &p, &["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains("exists in us-west-2") && plan.stderr.contains("region: us-west-2"),
        "{}",
        plan.stderr
    );
    let d = docs.clone();
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            (answer.is_none() && req.method == "HEAD" && req.path() == d)
                .then(|| Response::new(403, "application/xml", ""))
        }),
    );
    let plan = via(&proxy, &moto, &p, &["plan"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains("another AWS account")
            && plan.stderr.contains("s3:ListBucket")
            && plan.stderr.contains("service control policy"),
        "{}",
        plan.stderr
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn buckets_roles_and_functions_carry_their_ownership_tags_from_the_create_call() {
    let moto = Moto::start();
    let p = project("born-docs");
    let bodies: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let b = bodies.clone();
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            if answer.is_none() {
                let body = String::from_utf8_lossy(&req.body).into_owned();
                let body = percent_encoding::percent_decode_str(&body)
                    .decode_utf8_lossy()
                    .into_owned();
                b.lock()
                    .unwrap()
                    .push((format!("{} {}", req.method, req.target), body));
            }
            None
        }),
    );
    via(&proxy, &moto, &p, &["up"]).ok();
    let bodies = bodies.lock().unwrap();
    let creates: Vec<&(String, String)> = bodies
        .iter()
        .filter(|(line, body)| {
            let bucket_create = line.starts_with("PUT /born-docs-dev-") && !line.contains('?');
            let role_create = body.contains("Action=CreateRole");
            let function_create = line == "POST /2015-03-31/functions";
            bucket_create || role_create || function_create
        })
        .collect();
    assert_eq!(creates.len(), 4, "{creates:?}");
    for (line, body) in creates {
        assert!(
            body.contains("presign-stack:stack") && body.contains("born-docs"),
            "{line}: {body}"
        );
    }
}

#[test]
fn a_region_outside_the_aws_partition_is_refused_before_any_call() {
    let p = Project::new();
    p.write_spec(
        "version: 1\nname: gov-docs\npresigner: {zip: bundle.zip}\nwebsite: {source: site}\n",
    );
    // The region comes from the environment, not the spec: checked when the clients are made.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.env_clear()
        .env("AWS_REGION", "us-gov-west-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .arg("--spec")
        .arg(p.spec_path())
        .arg("plan");
    let out = run(c);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("us-gov-west-1") && out.stderr.contains("commercial `aws` partition"),
        "{}",
        out.stderr
    );
    // In the spec, `validate` names it offline.
    p.write_spec(&support::spec("minimal", "gov-docs", "cn-north-1"));
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.arg("--spec").arg(p.spec_path()).arg("validate");
    let out = run(c);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("aws-cn"), "{}", out.stderr);
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn an_account_level_block_is_named_by_plan_and_up_before_any_write() {
    let moto = Moto::start();
    let p = project("acct-docs");
    // As AWS answers S3 Control's GetPublicAccessBlock for an account that blocks public
    // policies (moto has no S3 Control).
    let proxy = Proxy::start(
        &moto.url,
        hook(|req, answer| {
            (answer.is_none() && req.path() == "/v20180820/configuration/publicAccessBlock").then(
                || {
                    Response::new(
                        200,
                        "application/xml",
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                         <PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>\
                         <IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true\
                         </BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>\
                         </PublicAccessBlockConfiguration>",
                    )
                },
            )
        }),
    );
    for command in ["plan", "up"] {
        let out = via(&proxy, &moto, &p, &[command]);
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("Block Public Access setting of account 123456789012")
                && out.stderr.contains("Nothing was changed"),
            "{command}: {}",
            out.stderr
        );
    }
    assert_eq!(
        proxy.count(|m, _| m != "GET" && m != "HEAD" && m != "POST"),
        0,
        "no write"
    );
    // The account id went in the header, to the endpoint as given (no `<account>.` host).
    assert!(
        proxy.count(|m, t| m == "GET" && t == "/v20180820/configuration/publicAccessBlock") >= 2
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_function_that_failed_is_drift_and_up_deploys_its_code_again() {
    let moto = Moto::start();
    let p = project("failed-docs");
    run(p.cmd(&moto, REGION, &["up"])).ok();
    // As AWS reports a function whose update failed, for the next two reads (drift's, up's).
    let left = Arc::new(Mutex::new(2));
    let l = left.clone();
    let proxy = Proxy::start(
        &moto.url,
        hook(move |req, answer| {
            let answer = answer?;
            let get_function = req.method == "GET"
                && req.path() == "/2015-03-31/functions/failed-docs-dev-presigner";
            let mut left = l.lock().unwrap();
            if !get_function || *left == 0 {
                return None;
            }
            *left -= 1;
            let mut v: Value = serde_json::from_slice(&answer.body).ok()?;
            v["Configuration"]["LastUpdateStatus"] = "Failed".into();
            v["Configuration"]["LastUpdateStatusReason"] =
                "The function could not be updated: EniLimitExceeded".into();
            let mut r = answer.clone();
            r.body = v.to_string().into_bytes();
            Some(r)
        }),
    );
    let drift = via(&proxy, &moto, &p, &["drift"]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("found:    failed its last update: The function could not be updated"),
        "{}",
        drift.stdout
    );
    via(&proxy, &moto, &p, &["up"]).ok();
    assert_eq!(
        proxy.count(|m, t| m == "PUT" && t.ends_with("/failed-docs-dev-presigner/code")),
        1,
        "the code was sent again"
    );
    assert_eq!(*left.lock().unwrap(), 0);
    let drift = run(p.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}
