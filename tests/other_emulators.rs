//! What emulators other than this suite's moto answer, as new users meet them: stock moto
//! (no response headers policies: HTTP 500), LocalStack's free tier (no CloudFront at all:
//! 501; an AddPermission condition not kept). A stack that does not use CloudFront must not
//! need it, and `up` must say what the service did not keep.

mod support;

use std::sync::Arc;

use serde_json::Value;
use support::proxy::{forward_with_body, Proxy, Request, Response};
use support::*;

const REGION: &str = "eu-central-1";

fn project(name: &str) -> Project {
    let p = Project::new();
    p.write_spec(&support::spec("minimal", name, REGION));
    p
}

/// Every command of a stack's life against `endpoint`: each ends well, and says once that
/// CloudFront could not be checked.
fn whole_life(moto: &Moto, p: &Project, endpoint: &str) {
    for args in [
        &["plan"][..],
        &["up"],
        &["drift"],
        &["outputs"],
        &["down", "--yes"],
    ] {
        let mut c = p.cmd(moto, REGION, args);
        c.env("AWS_ENDPOINT_URL", endpoint);
        let out = run(c);
        assert_eq!(out.code, 0, "{args:?}:\n{}{}", out.stdout, out.stderr);
        assert_eq!(
            out.stderr
                .matches("CloudFront could not be checked")
                .count(),
            1,
            "{args:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_stack_without_cloudfront_lives_on_an_endpoint_without_cloudfront() {
    let moto = Moto::start();
    let p = project("nocf-docs");
    // LocalStack's free tier: every CloudFront call is 501.
    let proxy = Proxy::start(
        &moto.url,
        Arc::new(|req: &Request, answer: Option<&Response>| {
            let cloudfront = req.path().starts_with("/2020-05-31/");
            (answer.is_none() && cloudfront).then(|| {
                Response::new(
                    501,
                    "application/xml",
                    "<ErrorResponse><Error><Code>InternalFailure</Code><Message>The API for \
                     service cloudfront is either not included in your current license plan or \
                     has not yet been emulated by LocalStack.</Message></Error></ErrorResponse>",
                )
            })
        }),
    );
    whole_life(&moto, &p, &proxy.url);
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_stack_without_cloudfront_lives_on_stock_moto() {
    let moto = Moto::start_stock();
    let p = project("stock-docs");
    whole_life(&moto, &p, &moto.url);
    // A stack that uses CloudFront needs it: the failure is named.
    p.write_spec(&format!(
        "version: 1\nname: stock-docs\nregion: {REGION}\npresigner: {{zip: bundle.zip}}\n\
         website: {{source: site, hosting: cloudfront}}\n"
    ));
    let plan = run(p.cmd(&moto, REGION, &["plan"]));
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr
            .contains("listing CloudFront response headers policies"),
        "{}",
        plan.stderr
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_condition_the_service_does_not_keep_is_named_by_up() {
    let moto = Moto::start();
    let p = project("kept-docs");
    // As LocalStack does: AddPermission's InvokedViaFunctionUrl is dropped.
    let upstream = moto.url.clone();
    let proxy = Proxy::start(
        &moto.url,
        Arc::new(move |req: &Request, answer: Option<&Response>| {
            let add = req.method == "POST" && req.path().ends_with("/policy");
            if answer.is_some() || !add {
                return None;
            }
            let mut body: Value = serde_json::from_slice(&req.body).ok()?;
            body.as_object_mut()?.remove("InvokedViaFunctionUrl")?;
            forward_with_body(&upstream, req, body.to_string().into_bytes()).ok()
        }),
    );
    let mut up = p.cmd(&moto, REGION, &["up"]);
    up.env("AWS_ENDPOINT_URL", &proxy.url);
    let up = run(up).ok();
    // Named: the resource, the part of the field, what was written and what was kept.
    let warning = up
        .stderr
        .lines()
        .find(|l| l.contains("the service did not keep"))
        .unwrap_or_else(|| panic!("no warning in\n{}", up.stderr));
    assert!(
        warning.contains(
            "function URL kept-docs-dev-presigner: the service did not keep \
             permissions[Sid=FunctionURLInvokeAllowPublicAccess].Condition as it was written"
        ),
        "{warning}"
    );
    assert!(
        warning.contains("lambda:InvokedViaFunctionUrl") && warning.ends_with("it kept (none)"),
        "{warning}"
    );
    let drift = run(p.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(drift.stdout.contains("permissions"), "{}", drift.stdout);
}
