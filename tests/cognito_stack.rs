//! `auth.cognito` (SPEC.md section 7) on moto: the stack makes its own user pool, the page's
//! app client and the sign-in domain, tagged, planned and drift-checked like every other
//! resource; the presigner trusts that pool and no other; `down` names the users it would
//! delete and asks first.
//!
//! Users and their tokens come from boto3 against moto (AdminCreateUser,
//! AdminSetUserPassword, then AdminInitiateAuth): RS256 tokens signed by moto, whose JWKS the
//! presigner's own code fetches over HTTP (the Lambda would fetch the pool's real JWKS).

mod support;

use presigner::{handle_with_services, Config, Credentials, Request, Services};
use serde_json::{json, Value};
use std::process::Command;
use std::time::SystemTime;
use support::*;

const REGION: &str = "eu-central-1";
const NAME: &str = "cog-docs";
const FUNCTION: &str = "cog-docs-dev-presigner";
const POOL: &str = "cog-docs-dev-users";
const CLIENT: &str = "cog-docs-dev-web";
const DOMAIN: &str = "cog-docs-test-signin";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// boto3 against moto: `script` gets the endpoint and region as argv[1], argv[2] and a client
/// `c`; what it prints is parsed as JSON.
fn boto(moto: &Moto, script: &str) -> Value {
    let script = format!(
        "import boto3, json, sys\nc = boto3.client('cognito-idp', endpoint_url=sys.argv[1], \
         region_name=sys.argv[2], aws_access_key_id='test', aws_secret_access_key='test')\n{script}"
    );
    let out = Command::new(repo().join(".tools/venv/bin/python"))
        .args(["-c", &script, &moto.url, REGION])
        .output()
        .expect("running the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A user in pool `pool` (client `client`) and their ID token.
fn sign_in(moto: &Moto, pool: &str, client: &str, email: &str) -> String {
    let v = boto(
        moto,
        &format!(
            r#"
pool, client, email = "{pool}", "{client}", "{email}"
c.admin_create_user(UserPoolId=pool, Username=email, TemporaryPassword="Temp-pass-1!-long",
    UserAttributes=[{{"Name": "email", "Value": email}}], MessageAction="SUPPRESS")
c.admin_set_user_password(UserPoolId=pool, Username=email, Password="Pass-word-1!-long",
    Permanent=True)
r = c.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
    AuthParameters={{"USERNAME": email, "PASSWORD": "Pass-word-1!-long"}})
print(json.dumps(r["AuthenticationResult"]["IdToken"]))
"#
        ),
    );
    v.as_str().unwrap().to_string()
}

fn ask(config: &Config, token: &str, path: &str) -> (u16, Value) {
    let req = Request {
        method: "GET".into(),
        path: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        ..Default::default()
    };
    let creds = Credentials::from_lookup(|k| match k {
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
        _ => None,
    })
    .unwrap();
    let services = Services::network();
    let (r, _) = handle_with_services(config, &creds, SystemTime::now(), &req, &services);
    let body = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, body)
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn auth_cognito_makes_the_pool_its_client_and_domain_and_the_presigner_trusts_only_it() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&format!(
        "{}auth:\n  cognito: {{domain_prefix: {DOMAIN}}}\n",
        support::spec("minimal-cloudfront", NAME, REGION)
    ));

    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    for made in [
        format!("user pool {POOL}"),
        format!("app client {CLIENT}"),
        format!("sign-in domain {DOMAIN}"),
    ] {
        assert!(plan.stdout.contains(&made), "{made}:\n{}", plan.stdout);
    }
    assert!(
        plan.stdout
            .contains("cognito-idp.eu-central-1.amazonaws.com/(known after apply)"),
        "the function's issuer waits for the pool:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stderr.contains("the presigner is open"),
        "{}",
        plan.stderr
    );
    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(
        !up.stderr.contains("the presigner is open"),
        "{}",
        up.stderr
    );
    let outputs: Value = serde_json::from_str(
        &run(project.cmd(&moto, REGION, &["--output", "json", "outputs"]))
            .ok()
            .stdout,
    )
    .unwrap();
    let pool = outputs["user_pool_id"]
        .as_str()
        .expect("user_pool_id")
        .to_string();
    let client = outputs["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    assert_eq!(
        outputs["sign_in_url"],
        json!(format!("https://{DOMAIN}.auth.{REGION}.amazoncognito.com"))
    );
    let site = outputs["website_url"].as_str().unwrap().to_string();

    // What up made, read back from moto.
    let rt = rt();
    let (tags, callbacks, domain_pool, env) = rt.block_on(async {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&moto.sdk(REGION).await);
        let p = cognito
            .describe_user_pool()
            .user_pool_id(&pool)
            .send()
            .await
            .unwrap();
        let p = p.user_pool().unwrap();
        assert_eq!(p.name(), Some(POOL));
        let tags = p.user_pool_tags().unwrap().clone();
        assert_eq!(p.mfa_configuration().map(|m| m.as_str()), Some("ON"));
        assert_eq!(p.deletion_protection().map(|d| d.as_str()), Some("ACTIVE"));
        let recovery = p.account_recovery_setting().unwrap().recovery_mechanisms();
        assert_eq!(recovery.len(), 1);
        assert_eq!(recovery[0].name().as_str(), "verified_email");
        let c = cognito
            .describe_user_pool_client()
            .user_pool_id(&pool)
            .client_id(&client)
            .send()
            .await
            .unwrap();
        let c = c.user_pool_client().unwrap().clone();
        assert_eq!(c.client_name(), Some(CLIENT));
        assert!(c.client_secret().is_none(), "a public client has no secret");
        assert_eq!(
            c.allowed_o_auth_flows()
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>(),
            ["code"]
        );
        let d = cognito
            .describe_user_pool_domain()
            .domain(DOMAIN)
            .send()
            .await
            .unwrap();
        let domain_pool = d
            .domain_description()
            .unwrap()
            .user_pool_id()
            .map(str::to_string);
        let lambda = moto.lambda(REGION).await;
        let f = lambda
            .get_function_configuration()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        let env = f.environment().unwrap().variables().unwrap().clone();
        (tags, c.callback_urls().to_vec(), domain_pool, env)
    });
    assert_eq!(
        tags.get("presign-stack:stack").map(String::as_str),
        Some(NAME)
    );
    assert_eq!(
        tags.get("presign-stack:env").map(String::as_str),
        Some("dev")
    );
    assert_eq!(
        callbacks,
        ["http://localhost:8080/".to_string(), site.clone()],
        "the website's URL and dev's"
    );
    assert_eq!(domain_pool.as_deref(), Some(pool.as_str()));
    let issuer = format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}");
    assert_eq!(env["PRESIGNER_AUTH_ISSUER"], issuer);
    assert_eq!(env["PRESIGNER_AUTH_AUDIENCES"], client);

    // The page may reach the pool's discovery document and the sign-in domain's token
    // endpoint: the headers policy's CSP lets it.
    let csp = rt.block_on(async {
        let cf = moto.cloudfront().await;
        let list = cf.list_response_headers_policies().send().await.unwrap();
        let policy = list
            .response_headers_policy_list()
            .unwrap()
            .items()
            .iter()
            .filter_map(|p| p.response_headers_policy())
            .find(|p| {
                p.response_headers_policy_config().map(|c| c.name()) == Some("cog-docs-dev-headers")
            })
            .expect("the stack's headers policy")
            .clone();
        policy
            .response_headers_policy_config()
            .and_then(|c| c.security_headers_config())
            .and_then(|s| s.content_security_policy())
            .map(|c| c.content_security_policy().to_string())
            .unwrap()
    });
    assert!(
        csp.contains(&format!(
            "https://cognito-idp.{REGION}.amazonaws.com https://{DOMAIN}.auth.{REGION}.amazoncognito.com;"
        )),
        "{csp}"
    );

    // Nothing more to do.
    let log = project.path().join("requests.log");
    let mut again = project.cmd(&moto, REGION, &["up"]);
    again.env("PRESIGN_STACK_REQUEST_LOG", &log);
    run(again).ok();
    assert_eq!(writes(&logged_requests(&log)), Vec::<String>::new());

    // Callback URLs changed out of band are drift, and up puts them back.
    boto(
        &moto,
        &format!(
            "c.update_user_pool_client(UserPoolId='{pool}', ClientId='{client}', \
             ClientName='{CLIENT}', AllowedOAuthFlowsUserPoolClient=True, \
             AllowedOAuthFlows=['code'], AllowedOAuthScopes=['openid'], \
             SupportedIdentityProviders=['COGNITO'], CallbackURLs=['https://evil.example/'], \
             LogoutURLs=['{site}', 'http://localhost:8080/'], \
             ExplicitAuthFlows=['ALLOW_REFRESH_TOKEN_AUTH'], \
             PreventUserExistenceErrors='ENABLED', EnableTokenRevocation=True)\nprint('{{}}')"
        ),
    );
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("callback_urls"), "{}", drift.stdout);
    assert!(drift.stdout.contains("evil.example"), "{}", drift.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // A token of the stack's pool is accepted; one of another pool, signed by moto all the
    // same, is not.
    let token = sign_in(&moto, &pool, &client, "alice@example.com");
    let other = boto(
        &moto,
        "p = c.create_user_pool(PoolName='others', UsernameAttributes=['email'])['UserPool']['Id']\n\
         k = c.create_user_pool_client(UserPoolId=p, ClientName='spa')['UserPoolClient']['ClientId']\n\
         print(json.dumps([p, k]))",
    );
    let stranger = sign_in(
        &moto,
        other[0].as_str().unwrap(),
        other[1].as_str().unwrap(),
        "mallory@example.com",
    );
    let mut lookup: Vec<(String, String)> = env.into_iter().collect();
    lookup.push(("AWS_REGION".into(), REGION.into()));
    lookup.push(("PRESIGNER_S3_ENDPOINT".into(), moto.url.clone()));
    // The pool's keys from moto, not from cognito-idp.<region>.amazonaws.com.
    lookup.push((
        "PRESIGNER_AUTH_JWKS_URI".into(),
        format!("{}/{pool}/.well-known/jwks.json", moto.url),
    ));
    let config = Config::from_lookup(|k| {
        lookup
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let (status, me) = ask(&config, &token, "/api/me");
    assert_eq!(status, 200, "{me}");
    let (status, e) = ask(&config, &stranger, "/api/me");
    assert_eq!(status, 401, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("another issuer"),
        "{e}"
    );

    // The page is told the pool and its client. (moto applies the website bucket's TLS-only
    // statement to plain-http reads, as AWS would: the test lifts it to read the object.)
    let page: Value = rt.block_on(async {
        let s3 = moto.s3(REGION).await;
        let site = format!("{NAME}-dev-website-{ACCOUNT}");
        s3.delete_bucket_policy()
            .bucket(&site)
            .send()
            .await
            .unwrap();
        let o = s3
            .get_object()
            .bucket(&site)
            .key("config.json")
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap()
    });
    assert_eq!(
        page["auth"],
        json!({"issuer": issuer, "clientId": client, "scopes": ["openid"]})
    );

    // The pool holds a user now: down names them and does nothing without a yes.
    let down = run(project.cmd(&moto, REGION, &["down"]));
    assert_eq!(down.code, 1, "{}{}", down.stdout, down.stderr);
    assert!(
        down.stderr
            .contains(&format!("user pool {POOL} and 1 user")),
        "{}",
        down.stderr
    );
    rt.block_on(async {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&moto.sdk(REGION).await);
        cognito
            .describe_user_pool()
            .user_pool_id(&pool)
            .send()
            .await
            .expect("still there without a yes");
    });
    run(project.cmd(&moto, REGION, &["down", "--yes"])).ok();
    let left = boto(
        &moto,
        "print(json.dumps([p['Name'] for p in c.list_user_pools(MaxResults=60)['UserPools']]))",
    );
    assert_eq!(
        left,
        json!(["others"]),
        "the stack's pool is gone, the other one kept"
    );
    let domain = boto(
        &moto,
        &format!("print(json.dumps(c.describe_user_pool_domain(Domain='{DOMAIN}')['DomainDescription']))"),
    );
    assert!(domain.get("UserPoolId").is_none(), "{domain}");
}

/// Once the spec no longer has `auth.cognito`, `up` keeps the pool and its users (it names
/// them as kept), and `up --prune` deletes it only after a yes that counts its users.
#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_pool_the_spec_no_longer_wants_is_pruned_only_after_a_yes_that_counts_its_users() {
    let moto = Moto::start();
    let project = Project::new();
    let base = support::spec("minimal-cloudfront", NAME, REGION);
    project.write_spec(&format!(
        "{base}auth:\n  cognito: {{domain_prefix: {DOMAIN}}}\n"
    ));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let outputs: Value = serde_json::from_str(
        &run(project.cmd(&moto, REGION, &["--output", "json", "outputs"]))
            .ok()
            .stdout,
    )
    .unwrap();
    let pool = outputs["user_pool_id"].as_str().unwrap().to_string();
    let client = outputs["client_id"].as_str().unwrap().to_string();
    sign_in(&moto, &pool, &client, "alice@example.com");
    sign_in(&moto, &pool, &client, "bob@example.com");

    // Another prefix: the pool's one domain is replaced (Cognito gives a pool one).
    project.write_spec(&format!(
        "{base}auth:\n  cognito: {{domain_prefix: {DOMAIN}-b}}\n"
    ));
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let domains = boto(
        &moto,
        &format!(
            "print(json.dumps([c.describe_user_pool_domain(Domain=d)['DomainDescription']\
             .get('UserPoolId') for d in ['{DOMAIN}', '{DOMAIN}-b']]))"
        ),
    );
    assert_eq!(
        domains,
        json!([null, pool]),
        "the old prefix went, the new one serves the pool"
    );

    project.write_spec(&base);
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains(&format!("- user pool {POOL}")),
        "{}",
        plan.stdout
    );
    let up = run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(
        up.stderr.contains(&format!("user pool {POOL}")) && up.stderr.contains("--prune"),
        "{}",
        up.stderr
    );
    let refused = run(project.cmd(&moto, REGION, &["up", "--prune"]));
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "user pool {POOL} deleted by `up --prune`: 2 users"
        )),
        "{}",
        refused.stderr
    );
    let still = boto(
        &moto,
        &format!(
            "print(json.dumps(c.describe_user_pool(UserPoolId='{pool}')['UserPool']['Name']))"
        ),
    );
    assert_eq!(still, json!(POOL));
    run(project.cmd(&moto, REGION, &["up", "--prune", "--yes"])).ok();
    let pools = boto(
        &moto,
        "print(json.dumps([p['Name'] for p in c.list_user_pools(MaxResults=60)['UserPools']]))",
    );
    assert_eq!(pools, json!([]), "the pool went, with its domain first");
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
}
