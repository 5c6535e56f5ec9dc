//! `website.hosting: cloudfront`: a private website bucket behind a distribution with Origin
//! Access Control, the presigner on the same origin, nothing public; plan and drift field by
//! field, invalidations of exactly what changed, switching layouts in one `up`, and `down`
//! that disables, waits and deletes. The real binary against moto with the CloudFront
//! additions of `scripts/moto-server` (response headers policies, If-Match, deploy delays,
//! DistributionNotDisabled), read back with the SDK.

mod support;

use serde_json::Value;
use support::*;

const REGION: &str = "eu-central-1";

fn spec(name: &str, hosting: &str) -> String {
    format!(
        "version: 1\nname: {name}\nregion: {REGION}\npresigner: {{zip: bundle.zip}}\nwebsite:\n  source: site\n{hosting}"
    )
}

const CLOUDFRONT_API: &str = "  hosting: cloudfront\n  cloudfront: {api_path: /api}\n";

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The stack's distribution, found by its comment.
async fn distribution(
    cf: &aws_sdk_cloudfront::Client,
    name: &str,
) -> Option<aws_sdk_cloudfront::types::Distribution> {
    let list = cf.list_distributions().send().await.unwrap();
    let id = list
        .distribution_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.comment() == format!("presign-stack {name} (dev)"))?
        .id()
        .to_string();
    cf.get_distribution()
        .id(id)
        .send()
        .await
        .unwrap()
        .distribution()
        .cloned()
}

/// The live code of the stack's CloudFront Function, if it is published.
async fn live_function_code(cf: &aws_sdk_cloudfront::Client, name: &str) -> Option<String> {
    let got = cf
        .get_function()
        .name(format!("{name}-dev-site"))
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .ok()?;
    Some(String::from_utf8(got.function_code()?.as_ref().to_vec()).unwrap())
}

/// A behaviour's CloudFront Functions as (event type, ARN).
fn associations(
    f: Option<&aws_sdk_cloudfront::types::FunctionAssociations>,
) -> Vec<(String, String)> {
    f.map(|f| f.items().to_vec())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            (
                a.event_type().as_str().to_string(),
                a.function_arn().to_string(),
            )
        })
        .collect()
}

async fn policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Value {
    let text = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn the_secure_layout_is_private_https_and_one_origin() {
    let moto = Moto::start();
    let p = Project::new();
    p.write_spec(&spec("cdn-docs", CLOUDFRONT_API));
    let up = run(p.cmd(&moto, REGION, &["--output", "json", "up"])).ok();
    let outputs = &json_of(&up)["outputs"];
    let cf = moto.cloudfront().await;
    let d = distribution(&cf, "cdn-docs").await.expect("a distribution");
    let domain = d.domain_name().to_string();
    assert_eq!(outputs["website_url"], format!("https://{domain}/"));
    assert_eq!(outputs["presigner_url"], format!("https://{domain}/api/"));

    // The distribution: tagged, HTTPS, S3 origin with an OAC, the API behind its own OAC.
    let tags = cf
        .list_tags_for_resource()
        .resource(d.arn())
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = tags
        .tags()
        .unwrap()
        .items()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect();
    assert!(tags.contains(&("presign-stack:stack".into(), "cdn-docs".into())));
    let c = d.distribution_config().unwrap();
    assert!(c.enabled());
    assert_eq!(c.default_root_object(), Some("index.html"));
    assert_eq!(c.http_version().unwrap().as_str(), "http2and3");
    let origins = c.origins().unwrap().items();
    let site = origins.iter().find(|o| o.id() == "site").unwrap();
    let site_bucket = "cdn-docs-dev-website-123456789012".to_string();
    assert_eq!(
        site.domain_name(),
        format!("{site_bucket}.s3.{REGION}.amazonaws.com")
    );
    let oacs = cf.list_origin_access_controls().send().await.unwrap();
    let oacs = oacs.origin_access_control_list().unwrap().items();
    let oac = |name: &str| oacs.iter().find(|o| o.name() == name).unwrap().clone();
    let site_oac = oac("cdn-docs-dev-site");
    assert_eq!(site.origin_access_control_id(), Some(site_oac.id()));
    assert_eq!(site_oac.origin_access_control_origin_type().as_str(), "s3");
    assert_eq!(site_oac.signing_behavior().as_str(), "always");
    let api = origins.iter().find(|o| o.id() == "api").unwrap();
    let api_oac = oac("cdn-docs-dev-api");
    assert_eq!(
        api_oac.origin_access_control_origin_type().as_str(),
        "lambda"
    );
    assert_eq!(api.origin_access_control_id(), Some(api_oac.id()));
    let default = c.default_cache_behavior().unwrap();
    assert_eq!(
        default.viewer_protocol_policy().as_str(),
        "redirect-to-https"
    );
    // No custom error responses: the presigner's 403 and 404 under /api reach the page as it
    // wrote them. The page's own fallback is a CloudFront Function on the default behaviour
    // only, published to LIVE.
    assert!(
        c.custom_error_responses()
            .is_none_or(|e| e.items().is_empty()),
        "{:?}",
        c.custom_error_responses()
    );
    let site_fn = cf
        .describe_function()
        .name("cdn-docs-dev-site")
        .stage(aws_sdk_cloudfront::types::FunctionStage::Live)
        .send()
        .await
        .unwrap();
    let site_fn = site_fn.function_summary().unwrap();
    let site_fn_arn = site_fn
        .function_metadata()
        .unwrap()
        .function_arn()
        .to_string();
    assert_eq!(
        site_fn.function_config().unwrap().comment(),
        "presign-stack:stack=cdn-docs presign-stack:env=dev"
    );
    assert_eq!(
        site_fn.function_config().unwrap().runtime().as_str(),
        "cloudfront-js-2.0"
    );
    let code = live_function_code(&cf, "cdn-docs").await.unwrap();
    assert!(code.contains("var FALLBACK = \"/index.html\";"), "{code}");
    assert_eq!(
        associations(c.default_cache_behavior().unwrap().function_associations()),
        [("viewer-request".to_string(), site_fn_arn)]
    );
    let behaviors = c.cache_behaviors().unwrap().items();
    assert_eq!(behaviors.len(), 1);
    let b = &behaviors[0];
    assert_eq!(b.path_pattern(), "/api/*");
    assert!(associations(b.function_associations()).is_empty());
    assert_eq!(b.target_origin_id(), "api");
    // CachingDisabled and AllViewerExceptHostHeader; POST allowed.
    assert_eq!(
        b.cache_policy_id(),
        Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
    );
    assert_eq!(
        b.origin_request_policy_id(),
        Some("b689b0a8-53d0-40ab-baf2-68738e2966ac")
    );
    assert!(b
        .allowed_methods()
        .unwrap()
        .items()
        .iter()
        .any(|m| m.as_str() == "POST"));
    // The headers policy: HSTS, and a CSP naming the documents bucket's endpoint.
    let headers_id = default.response_headers_policy_id().unwrap();
    let headers = cf
        .get_response_headers_policy()
        .id(headers_id)
        .send()
        .await
        .unwrap();
    let security = headers
        .response_headers_policy()
        .unwrap()
        .response_headers_policy_config()
        .unwrap()
        .security_headers_config()
        .unwrap()
        .clone();
    assert!(security.strict_transport_security().is_some());
    let csp = security
        .content_security_policy()
        .unwrap()
        .content_security_policy();
    assert!(
        csp.contains("connect-src 'self' https://cdn-docs-dev-documents-123456789012.s3.eu-central-1.amazonaws.com;"),
        "{csp}"
    );

    // The website bucket: private, no website endpoint, readable only by this distribution.
    let s3 = moto.s3(REGION).await;
    let pab = s3
        .get_public_access_block()
        .bucket(&site_bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    assert!(s3
        .get_bucket_website()
        .bucket(&site_bucket)
        .send()
        .await
        .is_err());
    let site_policy = policy(&s3, &site_bucket).await.to_string();
    assert!(
        site_policy.contains("cloudfront.amazonaws.com"),
        "{site_policy}"
    );
    assert!(site_policy.contains(d.arn()), "{site_policy}");
    assert!(site_policy.contains("aws:SecureTransport"), "{site_policy}");
    assert!(!site_policy.contains("\"Principal\":\"*\",\"Action\":\"s3:GetObject\""));
    // (moto names the answer's root element differently from AWS: read its body.)
    let versioning = match s3.get_bucket_versioning().bucket(&site_bucket).send().await {
        Ok(v) => v
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        Err(e) => {
            let raw = e.raw_response().unwrap().body().bytes().unwrap().to_vec();
            String::from_utf8(raw).unwrap()
        }
    };
    assert!(versioning.contains("Enabled"), "{versioning}");
    // The page is told the presigner's path on its own origin.
    // (moto applies the TLS-only Deny to its own plain-HTTP reads: lift it to read.)
    let kept = policy(&s3, &site_bucket).await;
    s3.delete_bucket_policy()
        .bucket(&site_bucket)
        .send()
        .await
        .unwrap();
    let config = s3
        .get_object()
        .bucket(&site_bucket)
        .key("config.json")
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket(&site_bucket)
        .policy(kept.to_string())
        .send()
        .await
        .unwrap();
    let config: Value =
        serde_json::from_slice(&config.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(config["presignerUrl"], "/api/");

    // The Function URL: AWS_IAM, callable only by this distribution.
    let lambda = moto.lambda(REGION).await;
    let url = lambda
        .get_function_url_config()
        .function_name("cdn-docs-dev-presigner")
        .send()
        .await
        .unwrap();
    assert_eq!(url.auth_type().as_str(), "AWS_IAM");
    let fpolicy = lambda
        .get_policy()
        .function_name("cdn-docs-dev-presigner")
        .send()
        .await
        .unwrap();
    let fpolicy: Value = serde_json::from_str(fpolicy.policy().unwrap()).unwrap();
    let statements = fpolicy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{fpolicy}");
    for s in statements {
        assert_eq!(s["Principal"]["Service"], "cloudfront.amazonaws.com", "{s}");
        assert!(s.to_string().contains(d.arn()), "{s}");
    }
    let env = lambda
        .get_function_configuration()
        .function_name("cdn-docs-dev-presigner")
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.environment().unwrap().variables().unwrap()["PRESIGNER_BASE_PATH"],
        "/api"
    );
    // The documents bucket's CORS allows the distribution's origin.
    let cors = s3
        .get_bucket_cors()
        .bucket("cdn-docs-dev-documents-123456789012")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cors.cors_rules()[0].allowed_origins(),
        [format!("https://{domain}")]
    );

    // Converged: no drift, and a second `up` changes nothing.
    run(p.cmd(&moto, REGION, &["drift"])).ok();
    let again = run(p.cmd(&moto, REGION, &["up"])).ok();
    assert!(again.stderr.contains("No changes"), "{}", again.stderr);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn drift_names_each_distribution_field_and_up_repairs_it() {
    let moto = Moto::start();
    let p = Project::new();
    p.write_spec(&spec("cdn-drift", CLOUDFRONT_API));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let cf = moto.cloudfront().await;
    let d = distribution(&cf, "cdn-drift").await.unwrap();
    // Someone allows plain HTTP and takes the OAC off the S3 origin, by hand.
    let got = cf
        .get_distribution_config()
        .id(d.id())
        .send()
        .await
        .unwrap();
    let mut config = got.distribution_config().unwrap().clone();
    let mut default = config.default_cache_behavior.clone().unwrap();
    default.viewer_protocol_policy = aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll;
    // ... takes the function off the default behaviour ...
    default.function_associations = Some(
        aws_sdk_cloudfront::types::FunctionAssociations::builder()
            .quantity(0)
            .build()
            .unwrap(),
    );
    config.default_cache_behavior = Some(default);
    let mut origins = config.origins.clone().unwrap();
    for o in origins.items.iter_mut() {
        if o.id == "site" {
            o.origin_access_control_id = Some(String::new());
        }
    }
    config.origins = Some(origins);
    cf.update_distribution()
        .id(d.id())
        .if_match(got.e_tag().unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    // ... and publishes other code under the function's name.
    let name = "cdn-drift-dev-site";
    let dev = cf.describe_function().name(name).send().await.unwrap();
    let config_now = dev
        .function_summary()
        .unwrap()
        .function_config()
        .unwrap()
        .clone();
    let updated = cf
        .update_function()
        .name(name)
        .if_match(dev.e_tag().unwrap())
        .function_config(config_now)
        .function_code(aws_sdk_cloudfront::primitives::Blob::new(
            "function handler(event) { return event.request; }",
        ))
        .send()
        .await
        .unwrap();
    cf.publish_function()
        .name(name)
        .if_match(updated.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    let drift = run(p.cmd(&moto, REGION, &["--output", "json", "drift"]));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    let text = drift.stdout.clone();
    assert!(text.contains("default_behavior"), "{text}");
    assert!(text.contains("allow-all"), "{text}");
    assert!(text.contains("origins"), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert!(
        report.to_string().contains("cloudfront_function") && text.contains("\"code\""),
        "{text}"
    );
    // `up` repairs both, in place (the same distribution).
    run(p.cmd(&moto, REGION, &["up"])).ok();
    run(p.cmd(&moto, REGION, &["drift"])).ok();
    let after = distribution(&cf, "cdn-drift").await.unwrap();
    assert_eq!(after.id(), d.id());
    let c = after.distribution_config().unwrap();
    assert_eq!(
        c.default_cache_behavior()
            .unwrap()
            .viewer_protocol_policy()
            .as_str(),
        "redirect-to-https"
    );
    assert_eq!(
        associations(c.default_cache_behavior().unwrap().function_associations()).len(),
        1
    );
    let code = live_function_code(&cf, "cdn-drift").await.unwrap();
    assert!(code.contains("FALLBACK"), "{code}");
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_sync_invalidates_exactly_what_changed() {
    let moto = Moto::start();
    let p = Project::new();
    p.write_spec(&spec("cdn-inval", CLOUDFRONT_API));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let cf = moto.cloudfront().await;
    let d = distribution(&cf, "cdn-inval").await.unwrap();
    let invalidations = |cf: aws_sdk_cloudfront::Client, id: String| async move {
        let list = cf
            .list_invalidations()
            .distribution_id(&id)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for item in list
            .invalidation_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default()
        {
            let got = cf
                .get_invalidation()
                .distribution_id(&id)
                .id(item.id())
                .send()
                .await
                .unwrap();
            let mut paths = got
                .invalidation()
                .unwrap()
                .invalidation_batch()
                .unwrap()
                .paths()
                .unwrap()
                .items()
                .to_vec();
            paths.sort();
            out.push(paths);
        }
        out
    };
    // A new distribution has nothing cached: no invalidation.
    assert!(invalidations(cf.clone(), d.id().to_string())
        .await
        .is_empty());
    // Nothing changed: none either.
    run(p.cmd(&moto, REGION, &["up"])).ok();
    assert!(invalidations(cf.clone(), d.id().to_string())
        .await
        .is_empty());
    // One asset changed, one deleted, the index changed: exactly those, and `/`.
    std::fs::write(p.path().join("site/app.js"), "console.log('v2');\n").unwrap();
    std::fs::remove_file(p.path().join("site/docs/help.html")).unwrap();
    std::fs::write(
        p.path().join("site/index.html"),
        "<!doctype html><title>v2</title>",
    )
    .unwrap();
    std::fs::write(p.path().join("site/a b+c.txt"), "odd name").unwrap();
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let got = invalidations(cf.clone(), d.id().to_string()).await;
    assert_eq!(
        got,
        vec![vec![
            "/".to_string(),
            "/a%20b%2Bc.txt".into(),
            "/app.js".into(),
            "/docs/help.html".into(),
            "/index.html".into(),
        ]]
    );
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn switching_layouts_takes_one_up_each_way_and_down_deletes_the_distribution() {
    let moto = Moto::start_with_env(&[("MOTO_CLOUDFRONT_DEPLOY_SECONDS", "3")]);
    let p = Project::new();
    p.write_spec(&spec("cdn-switch", ""));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let s3 = moto.s3(REGION).await;
    let site_bucket = "cdn-switch-dev-website-123456789012";
    // s3-website -> cloudfront: the plan says so, one `up` does it.
    p.write_spec(&spec("cdn-switch", CLOUDFRONT_API));
    let plan = run(p.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("+ distribution cdn-switch-dev"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("auth_type: \"NONE\" -> \"AWS_IAM\""),
        "{}",
        plan.stdout
    );
    run(p.cmd(&moto, REGION, &["up"])).ok();
    run(p.cmd(&moto, REGION, &["drift"])).ok();
    assert!(s3
        .get_bucket_website()
        .bucket(site_bucket)
        .send()
        .await
        .is_err());
    let cf = moto.cloudfront().await;
    assert!(distribution(&cf, "cdn-switch").await.is_some());
    // cloudfront -> s3-website: the distribution is disabled, waited for and deleted.
    p.write_spec(&spec("cdn-switch", ""));
    let plan = run(p.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("- distribution cdn-switch-dev"),
        "{}",
        plan.stdout
    );
    let up = run(p.cmd(&moto, REGION, &["up"])).ok();
    assert!(up.stderr.contains("Waiting"), "{}", up.stderr);
    run(p.cmd(&moto, REGION, &["drift"])).ok();
    assert!(distribution(&cf, "cdn-switch").await.is_none());
    assert!(live_function_code(&cf, "cdn-switch").await.is_none());
    let oacs = cf.list_origin_access_controls().send().await.unwrap();
    assert!(oacs
        .origin_access_control_list()
        .map(|l| l.items().is_empty())
        .unwrap_or(true));
    assert!(s3
        .get_bucket_website()
        .bucket(site_bucket)
        .send()
        .await
        .is_ok());
    // And back, then down: everything goes, the distribution included.
    p.write_spec(&spec("cdn-switch", CLOUDFRONT_API));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let down = run(p.cmd(&moto, REGION, &["down", "--yes"])).ok();
    assert!(
        down.stderr.contains("Disabling distribution"),
        "{}",
        down.stderr
    );
    assert!(distribution(&cf, "cdn-switch").await.is_none());
    assert!(cf
        .describe_function()
        .name("cdn-switch-dev-site")
        .send()
        .await
        .is_err());
    let plan = run(p.cmd(&moto, REGION, &["plan"])).ok();
    assert!(plan.stdout.contains("+ distribution"), "{}", plan.stdout);
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_down_cut_short_while_cloudfront_deploys_is_finished_by_the_next() {
    let moto = Moto::start_with_env(&[("MOTO_CLOUDFRONT_DEPLOY_SECONDS", "6")]);
    let p = Project::new();
    p.write_spec(&spec("cdn-wait", CLOUDFRONT_API));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    // A deadline shorter than the deploy: the first `down` stops, saying why.
    let mut first = p.cmd(&moto, REGION, &["down", "--yes"]);
    first.env("PRESIGN_STACK_CLOUDFRONT_WAIT_SECONDS", "2");
    let first = run(first);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert!(
        first.stderr.contains("still deploying") && first.stderr.contains("run"),
        "{}",
        first.stderr
    );
    let cf = moto.cloudfront().await;
    let d = distribution(&cf, "cdn-wait").await.expect("still there");
    assert!(!d.distribution_config().unwrap().enabled());
    // The next one continues: nothing to disable, it waits and deletes.
    let second = run(p.cmd(&moto, REGION, &["down", "--yes"])).ok();
    assert!(!second.stderr.contains("Disabling"), "{}", second.stderr);
    assert!(distribution(&cf, "cdn-wait").await.is_none());
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn what_the_stack_did_not_make_is_not_touched() {
    let moto = Moto::start();
    let p = Project::new();
    let cf = moto.cloudfront().await;
    // An OAC of the stack's name made by someone else.
    cf.create_origin_access_control()
        .origin_access_control_config(
            aws_sdk_cloudfront::types::OriginAccessControlConfig::builder()
                .name("cdn-foreign-dev-site")
                .description("made by hand")
                .signing_protocol(
                    aws_sdk_cloudfront::types::OriginAccessControlSigningProtocols::Sigv4,
                )
                .signing_behavior(
                    aws_sdk_cloudfront::types::OriginAccessControlSigningBehaviors::Always,
                )
                .origin_access_control_origin_type(
                    aws_sdk_cloudfront::types::OriginAccessControlOriginTypes::S3,
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    p.write_spec(&spec("cdn-foreign", CLOUDFRONT_API));
    let up = run(p.cmd(&moto, REGION, &["up"]));
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr
            .contains("origin access control cdn-foreign-dev-site")
            && up.stderr.contains("--adopt"),
        "{}",
        up.stderr
    );
    // Refused before any write.
    let s3 = moto.s3(REGION).await;
    assert!(s3
        .head_bucket()
        .bucket("cdn-foreign-dev-documents-123456789012")
        .send()
        .await
        .is_err());
}

async fn request_certificate(moto: &Moto, names: &[&str]) -> String {
    let acm = aws_sdk_acm::Client::new(&moto.sdk("us-east-1").await);
    acm.request_certificate()
        .domain_name(names[0])
        .set_subject_alternative_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string()
}

fn custom_domain(arn: &str, aliases: &str) -> String {
    format!(
        "  hosting: cloudfront\n  cloudfront:\n    api_path: /api\n    aliases: [{aliases}]\n    \
         certificate_arn: {arn}\n"
    )
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_custom_domain_needs_an_issued_certificate_that_covers_it() {
    // Not validated yet: plan and up refuse before any write.
    let pending = Moto::start();
    let p = Project::new();
    let arn = request_certificate(&pending, &["files.example.com"]).await;
    p.write_spec(&spec("cdn-cert", &custom_domain(&arn, "files.example.com")));
    let plan = run(p.cmd(&pending, REGION, &["plan"]));
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("PENDING_VALIDATION, not ISSUED"),
        "{}",
        plan.stderr
    );

    // Issued, but not for every alias.
    let moto = Moto::start_with_env(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    let arn = request_certificate(&moto, &["*.example.com"]).await;
    p.write_spec(&spec(
        "cdn-cert",
        &custom_domain(&arn, "files.example.com, example.org"),
    ));
    let up = run(p.cmd(&moto, REGION, &["up"]));
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr.contains("does not cover example.org"),
        "{}",
        up.stderr
    );
    let s3 = moto.s3(REGION).await;
    assert!(s3
        .head_bucket()
        .bucket("cdn-cert-dev-documents-123456789012")
        .send()
        .await
        .is_err());

    // Covered: the distribution serves the alias with SNI and TLS 1.2, the documents bucket
    // allows the alias's origin, and the site's URL is the alias.
    p.write_spec(&spec("cdn-cert", &custom_domain(&arn, "files.example.com")));
    let up = run(p.cmd(&moto, REGION, &["--output", "json", "up"])).ok();
    assert_eq!(
        json_of(&up)["outputs"]["website_url"],
        "https://files.example.com/"
    );
    let cf = moto.cloudfront().await;
    let d = distribution(&cf, "cdn-cert").await.unwrap();
    let c = d.distribution_config().unwrap();
    assert_eq!(c.aliases().unwrap().items(), ["files.example.com"]);
    let v = c.viewer_certificate().unwrap();
    assert_eq!(v.acm_certificate_arn(), Some(arn.as_str()));
    assert_eq!(v.ssl_support_method().unwrap().as_str(), "sni-only");
    assert_eq!(
        v.minimum_protocol_version().unwrap().as_str(),
        "TLSv1.2_2021"
    );
    let cors = s3
        .get_bucket_cors()
        .bucket("cdn-cert-dev-documents-123456789012")
        .send()
        .await
        .unwrap();
    let mut origins = cors.cors_rules()[0].allowed_origins().to_vec();
    origins.sort();
    let mut want = vec![
        format!("https://{}", d.domain_name()),
        "https://files.example.com".to_string(),
    ];
    want.sort();
    assert_eq!(origins, want);
    run(p.cmd(&moto, REGION, &["drift"])).ok();
}

#[tokio::test]
#[ignore = "needs moto: scripts/test.sh runs it"]
async fn a_changed_setting_is_one_update_and_an_unchanged_stack_only_reads() {
    let moto = Moto::start();
    let p = Project::new();
    p.write_spec(&spec("cdn-quiet", CLOUDFRONT_API));
    run(p.cmd(&moto, REGION, &["up"])).ok();
    let log = p.path().join("requests.log");
    let logged = |args: &[&str]| {
        let _ = std::fs::remove_file(&log);
        let mut c = p.cmd(&moto, REGION, args);
        c.env("PRESIGN_STACK_REQUEST_LOG", &log);
        let out = run(c).ok();
        let ops: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (out, ops)
    };
    let (_, ops) = logged(&["up"]);
    let writes: Vec<&String> = ops
        .iter()
        .filter(|l| {
            let op = l.rsplit(' ').next().unwrap();
            !["Get", "List", "Head", "Describe"]
                .iter()
                .any(|v| op.starts_with(v))
        })
        .collect();
    assert!(writes.is_empty(), "a no-op up wrote: {writes:?}");
    // One setting of the distribution: one UpdateDistribution, nothing else of CloudFront.
    p.write_spec(&spec("cdn-quiet", CLOUDFRONT_API).replace(
        "{api_path: /api}",
        "{api_path: /api, price_class: PriceClass_All}",
    ));
    let plan = run(p.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout
            .contains("price_class: \"PriceClass_100\" -> \"PriceClass_All\""),
        "{}",
        plan.stdout
    );
    let (_, ops) = logged(&["up"]);
    let cloudfront_writes: Vec<&String> = ops
        .iter()
        .filter(|l| {
            l.starts_with("CloudFront ")
                && ![" Get", " List", " Describe"].iter().any(|r| l.contains(r))
        })
        .collect();
    assert_eq!(
        cloudfront_writes,
        [&"CloudFront UpdateDistribution".to_string()]
    );
    run(p.cmd(&moto, REGION, &["drift"])).ok();
}

/// The emulator the suite runs answers CloudFront's calls as AWS documents them (its own
/// check, `scripts/moto_extras_check.py`, run against this suite's moto).
#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn the_emulators_cloudfront_answers_as_aws_documents() {
    let moto = Moto::start();
    let out = std::process::Command::new(repo().join(".tools/venv/bin/python"))
        .arg(repo().join("scripts/moto_extras_check.py"))
        .arg(&moto.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" 0 failed"), "{text}");
}
