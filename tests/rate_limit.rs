//! `website.cloudfront.rate_limit` (SPEC.md section 7) on moto (the requests as sent kept by
//! a proxy in front of it), with `scripts/moto_extras.py`
//! checking what AWS checks (a distribution names only an existing CLOUDFRONT web ACL; a web
//! ACL a distribution uses cannot be deleted): the web ACL is made in us-east-1 with its one
//! rate-based rule on the API's paths and attached to the distribution; detaching it or
//! changing its limit out of band is drift that `up` repairs; taking `rate_limit` out of the
//! spec detaches and deletes it; `down` deletes it after the distribution.

mod support;

use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use support::proxy::{self, Proxy};
use support::*;

const REGION: &str = "eu-central-1";
const NAME: &str = "rate-docs";
const ACL: &str = "rate-docs-dev-api";

/// boto3 against moto (wafv2 and cloudfront in us-east-1); prints JSON.
fn boto(moto: &Moto, script: &str) -> Value {
    let script = format!(
        "import boto3, json, sys\nkw = dict(endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test')\nwaf = boto3.client('wafv2', \
         **kw)\ncf = boto3.client('cloudfront', **kw)\n\
         acls = waf.list_web_acls(Scope='CLOUDFRONT')['WebACLs']\n\
         dist = cf.list_distributions()['DistributionList'].get('Items', [None])[0]\n{script}"
    );
    let out = Command::new(repo().join(".tools/venv/bin/python"))
        .args(["-c", &script, &moto.url])
        .output()
        .expect("running the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The stack's web ACL as moto keeps it, and the web ACL its distribution names.
fn live(moto: &Moto) -> Value {
    boto(
        moto,
        &format!(
            "acl = next((a for a in acls if a['Name'] == '{ACL}'), None)\n\
             got = waf.get_web_acl(Name=acl['Name'], Scope='CLOUDFRONT', Id=acl['Id'])['WebACL'] \
             if acl else None\n\
             if got:\n    m = got['Rules'][0]['Statement']['RateBasedStatement']['ScopeDownStatement']\
             ['ByteMatchStatement']\n    m['SearchString'] = m['SearchString'].decode()\n\
             print(json.dumps({{'arn': acl['ARN'] if acl else None, 'acl': got, \
             'attached': dist['WebACLId'] if dist else None}}, default=str))"
        ),
    )
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn the_rate_limit_is_a_web_acl_on_the_api_path_attached_planned_drift_checked_and_deleted() {
    let moto = Moto::start();
    let project = Project::new();
    let spec = support::spec("minimal-cloudfront", NAME, REGION)
        .replace("api_path: /api}", "api_path: /api, rate_limit: 300}");
    project.write_spec(&spec);

    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains(&format!("+ web ACL {ACL}")),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("\"limit\": 300"), "{}", plan.stdout);
    // The cold up goes through a proxy that keeps the WAF requests as they were sent.
    let sent: Arc<Mutex<Vec<proxy::Request>>> = Arc::default();
    let keep = sent.clone();
    let waf = Proxy::start(
        &moto.url,
        Arc::new(
            move |req: &proxy::Request, answer: Option<&proxy::Response>| {
                let to_waf = req
                    .header("x-amz-target")
                    .is_some_and(|t| t.starts_with("AWSWAF"));
                if answer.is_none() && to_waf {
                    keep.lock().unwrap().push(req.clone());
                }
                None
            },
        ),
    );
    let log = project.path().join("requests.log");
    let mut up = project.cmd(&moto, REGION, &["up"]);
    up.env("PRESIGN_STACK_REQUEST_LOG", &log);
    up.env("AWS_ENDPOINT_URL", &waf.url);
    run(up).ok();
    let sent = sent.lock().unwrap().clone();
    let create = sent
        .iter()
        .find(|r| r.target_op() == Some("CreateWebACL"))
        .expect("a CreateWebACL request through the proxy");
    // Signed for us-east-1, where CLOUDFRONT-scope web ACLs live, whatever the stack's region.
    assert!(
        create
            .header("authorization")
            .unwrap()
            .contains("/us-east-1/wafv2/aws4_request"),
        "{:?}",
        create.header("authorization")
    );
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["Scope"], "CLOUDFRONT");
    assert_eq!(body["Name"], ACL);
    assert_eq!(body["DefaultAction"], serde_json::json!({"Allow": {}}));
    let rule = &body["Rules"][0];
    assert_eq!(rule["Statement"]["RateBasedStatement"]["Limit"], 300);
    let search = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
        ["ByteMatchStatement"]["SearchString"]
        .as_str()
        .unwrap();
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(search)
            .unwrap(),
        b"/api/"
    );

    // The requests: made in WAF (the CLOUDFRONT scope is us-east-1's), before the distribution
    // that names it.
    let requests = logged_requests(&log);
    let at = |op: &str| requests.iter().position(|(_, o)| o == op);
    let created = at("CreateWebACL").expect("a CreateWebACL request");
    assert_eq!(requests[created].0, "WAFV2");
    assert!(created < at("CreateDistributionWithTags").unwrap());

    let got = live(&moto);
    let acl = &got["acl"];
    assert_eq!(got["attached"], got["arn"], "attached: {got}");
    assert!(
        got["arn"].as_str().unwrap().contains(":global/webacl/"),
        "{got}"
    );
    assert_eq!(acl["DefaultAction"], serde_json::json!({"Allow": {}}));
    let rules = acl["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{acl}");
    assert_eq!(rules[0]["Action"], serde_json::json!({"Block": {}}));
    let rate = &rules[0]["Statement"]["RateBasedStatement"];
    assert_eq!(rate["Limit"], 300);
    assert_eq!(rate["EvaluationWindowSec"], 300);
    assert_eq!(rate["AggregateKeyType"], "IP");
    let scope = &rate["ScopeDownStatement"]["ByteMatchStatement"];
    assert_eq!(scope["SearchString"], "/api/");
    assert_eq!(scope["PositionalConstraint"], "STARTS_WITH");
    assert_eq!(scope["FieldToMatch"], serde_json::json!({"UriPath": {}}));
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // Detached out of band: drift on the distribution, repaired.
    boto(
        &moto,
        "c = cf.get_distribution_config(Id=dist['Id'])\nd = c['DistributionConfig']\n\
         d['WebACLId'] = ''\ncf.update_distribution(Id=dist['Id'], IfMatch=c['ETag'], \
         DistributionConfig=d)\nprint('{}')",
    );
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("web_acl"), "{}", drift.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let got = live(&moto);
    assert_eq!(got["attached"], got["arn"], "attached again: {got}");

    // The limit changed out of band: drift on the web ACL, repaired.
    boto(
        &moto,
        &format!(
            "acl = next(a for a in acls if a['Name'] == '{ACL}')\n\
             g = waf.get_web_acl(Name=acl['Name'], Scope='CLOUDFRONT', Id=acl['Id'])\n\
             w = g['WebACL']\nw['Rules'][0]['Statement']['RateBasedStatement']['Limit'] = 5000\n\
             waf.update_web_acl(Name=w['Name'], Scope='CLOUDFRONT', Id=w['Id'], \
             LockToken=g['LockToken'], DefaultAction=w['DefaultAction'], Rules=w['Rules'], \
             VisibilityConfig=w['VisibilityConfig'])\nprint('{{}}')"
        ),
    );
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("5000"), "{}", drift.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    assert_eq!(
        live(&moto)["acl"]["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"],
        300
    );
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // Without `rate_limit` up detaches the web ACL, then deletes it (moto_extras refuses the
    // delete while a distribution names it).
    project.write_spec(&spec.replace(", rate_limit: 300", ""));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let got = live(&moto);
    assert_eq!(got["arn"], Value::Null, "deleted: {got}");
    assert_eq!(got["attached"], "", "detached: {got}");

    // Back, then down: the web ACL goes after the distribution.
    project.write_spec(&spec);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let log = project.path().join("down.log");
    let mut down = project.cmd(&moto, REGION, &["down", "--yes"]);
    down.env("PRESIGN_STACK_REQUEST_LOG", &log);
    run(down).ok();
    let requests = logged_requests(&log);
    let at = |op: &str| requests.iter().position(|(_, o)| o == op);
    assert!(
        at("DeleteDistribution").unwrap() < at("DeleteWebACL").expect("a DeleteWebACL request"),
        "{requests:?}"
    );
    assert_eq!(live(&moto)["arn"], Value::Null);
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn an_open_presigner_is_named_and_gets_a_concurrency_of_ten_unless_the_spec_says() {
    let moto = Moto::start();
    let project = Project::new();
    let spec = support::spec("minimal", "open-docs", REGION);
    project.write_spec(&spec);
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    for said in [
        "the presigner is open (no `auth`): anyone who finds its URL can upload files",
        "presigner.reserved_concurrency is 10, the default for an open presigner",
    ] {
        assert!(plan.stderr.contains(said), "{said}:\n{}", plan.stderr);
    }
    assert!(
        plan.stdout.contains("reserved_concurrency = 10"),
        "{}",
        plan.stdout
    );
    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(up.stderr.contains("the presigner is open"), "{}", up.stderr);
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert!(
        !drift.stderr.contains("the presigner is open"),
        "{}",
        drift.stderr
    );
    let concurrency = |moto: &Moto| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                moto.lambda(REGION)
                    .await
                    .get_function_concurrency()
                    .function_name("open-docs-dev-presigner")
                    .send()
                    .await
                    .unwrap()
                    .reserved_concurrent_executions()
            })
    };
    assert_eq!(concurrency(&moto), Some(10));

    // An explicit value wins, and the plan no longer speaks of a default.
    project.write_spec(&spec.replace(
        "presigner: {zip: bundle.zip}",
        "presigner: {zip: bundle.zip, reserved_concurrency: 3}",
    ));
    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(
        !up.stderr.contains("the default for an open presigner"),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("the presigner is open"), "{}", up.stderr);
    assert_eq!(concurrency(&moto), Some(3));
}
