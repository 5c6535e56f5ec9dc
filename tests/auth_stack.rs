//! A stack with `auth` (SPEC.md section 6) on moto, with tokens from an issuer nobody here
//! wrote: moto's Cognito user pools sign real RS256 tokens (`InitiateAuth` with
//! `USER_PASSWORD_AUTH`) and serve their JWKS at `/<pool id>/.well-known/jwks.json`.
//!
//! `up` gives the function the issuer, the role exactly the listing and deleting the folders
//! need, the Function URL's CORS the token's headers and the page its sign-in settings; a
//! second `up` writes nothing and `drift` is clean. The presigner's own code (the library the
//! Lambda runs, with its real HTTP client) then verifies those tokens against moto's JWKS and
//! works in moto's S3 with the live function's settings.

mod support;

use presigner::{handle_with_services, Config, Credentials, Request, Services};
use serde_json::{json, Value};
use std::process::Command;
use std::time::SystemTime;
use support::*;

const REGION: &str = "eu-central-1";
const NAME: &str = "auth-docs";
const FUNCTION: &str = "auth-docs-dev-presigner";
const ROLE: &str = "auth-docs-dev-presigner";

/// Two user pools in moto, each with a public client and a user `alice` signed in: pool id,
/// client id, ID token and access token of each, from boto3 (moto's own client library).
fn cognito(moto: &Moto) -> Value {
    let script = r#"
import boto3, json, sys
c = boto3.client("cognito-idp", endpoint_url=sys.argv[1], region_name=sys.argv[2],
                 aws_access_key_id="test", aws_secret_access_key="test")
out = {}
for name in ["users", "others"]:
    pool = c.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client = c.create_user_pool_client(UserPoolId=pool, ClientName="spa",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    c.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword="Temp-pass-1!",
                        MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Pass-word-1!",
                              Permanent=True)
    tokens = c.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Pass-word-1!"})["AuthenticationResult"]
    out[name] = {"pool": pool, "client": client, "id": tokens["IdToken"],
                 "access": tokens["AccessToken"]}
print(json.dumps(out))
"#;
    let out = Command::new(repo().join(".tools/venv/bin/python"))
        .args(["-c", script, &moto.url, REGION])
        .output()
        .expect("running the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn issuer(pool: &str) -> String {
    format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ask(
    config: &Config,
    services: &Services,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let req = Request {
        method: method.into(),
        path: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
        ..Default::default()
    };
    let creds = Credentials::from_lookup(|k| match k {
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
        _ => None,
    })
    .unwrap();
    let (r, _) = handle_with_services(config, &creds, SystemTime::now(), &req, services);
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&r.body).unwrap()
    };
    (r.status, body)
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_stack_with_auth_trusts_its_issuer_and_gives_each_user_a_folder() {
    let moto = Moto::start();
    let pools = cognito(&moto);
    let users = &pools["users"];
    let pool = users["pool"].as_str().unwrap();
    let client = users["client"].as_str().unwrap();
    let project = Project::new();
    project.write_spec(&format!(
        "{}auth:\n  issuer: {}\n  jwks_uri: {}/{pool}/.well-known/jwks.json\n  client_id: \
         {client}\n  quota: {{files: 10, bytes: 1000000}}\ndocuments: {{malware_scan: guardduty}}\n",
        support::spec("minimal", NAME, REGION),
        issuer(pool),
        moto.url,
    ));

    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("PRESIGNER_AUTH_ISSUER"),
        "{}",
        plan.stdout
    );
    run(project.cmd(&moto, REGION, &["up"])).ok();

    // What up made of `auth`.
    let rt = rt();
    let (env, policy, cors) = rt.block_on(async {
        let lambda = moto.lambda(REGION).await;
        let f = lambda
            .get_function_configuration()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        let env = f.environment().unwrap().variables().unwrap().clone();
        let iam = moto.iam(REGION).await;
        let doc = iam
            .get_role_policy()
            .role_name(ROLE)
            .policy_name("presign-stack-presigner")
            .send()
            .await
            .unwrap()
            .policy_document
            .clone();
        let doc = percent_encoding::percent_decode_str(&doc)
            .decode_utf8()
            .unwrap()
            .into_owned();
        let url = lambda
            .get_function_url_config()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        let cors = url.cors().unwrap().clone();
        (env, serde_json::from_str::<Value>(&doc).unwrap(), cors)
    });
    assert_eq!(env["PRESIGNER_AUTH_ISSUER"], issuer(pool));
    assert_eq!(env["PRESIGNER_AUTH_AUDIENCES"], client);
    assert_eq!(env["PRESIGNER_AUTH_FILES"], "own");
    assert_eq!(env["PRESIGNER_AUTH_QUOTA_FILES"], "10");
    let statements = policy["Statement"].as_array().unwrap();
    let sid = |s: &str| statements.iter().find(|x| x["Sid"] == s).cloned();
    let list = sid("ListUserFolders").expect("a listing statement");
    assert_eq!(list["Action"], json!("s3:ListBucket"));
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        json!("uploads/*"),
        "listing only under the uploads prefix"
    );
    let delete = sid("DeleteUserFiles").expect("a delete statement");
    assert!(delete["Resource"].as_str().unwrap().ends_with("/uploads/*"));
    let headers: Vec<String> = cors.allow_headers().to_vec();
    assert!(
        headers.contains(&"authorization".to_string()),
        "{headers:?}"
    );
    let methods: Vec<String> = cors.allow_methods().to_vec();
    assert!(methods.contains(&"DELETE".to_string()), "{methods:?}");
    let site = format!("{NAME}-dev-website-{ACCOUNT}");
    let page: Value = rt.block_on(async {
        let s3 = moto.s3(REGION).await;
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
        json!({"issuer": issuer(pool), "clientId": client, "scopes": ["openid"]})
    );

    // Nothing more to do, nothing drifted.
    let log = project.path().join("requests.log");
    let mut again = project.cmd(&moto, REGION, &["up"]);
    again.env("PRESIGN_STACK_REQUEST_LOG", &log);
    run(again).ok();
    assert_eq!(writes(&logged_requests(&log)), Vec::<String>::new());
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // The presigner with the live function's settings, its S3 being moto's.
    let config = support::presigner_config(env, REGION, &moto);
    let services = Services::network();
    let id = users["id"].as_str().unwrap();
    let (status, up) = ask(
        &config,
        &services,
        id,
        "POST",
        "/uploads",
        json!({"filename": "scan.png", "contentType": "image/png", "size": 4}),
    );
    assert_eq!(status, 200, "{up}");
    let key = up["key"].as_str().unwrap();
    let (_, me) = ask(&config, &services, id, "GET", "/me", Value::Null);
    let user = me["user"].as_str().unwrap().to_string();
    assert!(
        key.starts_with(&format!("uploads/{user}/")),
        "{key} for {me}"
    );
    // moto applies the documents bucket's TLS-only policy to object writes over plain http
    // (403), as AWS would, so the test lifts it and writes the bytes with the SDK. The URL
    // itself is checked by the presigner's own tests against a local S3 that verifies
    // signatures.
    assert!(up["url"].as_str().unwrap().contains(&format!(
        "/{}",
        presigner::uri_encode(key).replace("%2F", "/")
    )));
    let docs = format!("{NAME}-dev-documents-{ACCOUNT}");
    rt.block_on(async {
        let s3 = moto.s3(REGION).await;
        s3.delete_bucket_policy()
            .bucket(&docs)
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket(&docs)
            .key(key)
            .content_type("image/png")
            .body(b"\x89PNG".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    // The access token (client_id, no aud) is the same user.
    let access = users["access"].as_str().unwrap();
    let (status, files) = ask(&config, &services, access, "GET", "/files", Value::Null);
    assert_eq!(status, 200, "{files}");
    assert_eq!(files["files"][0]["key"], json!(key), "{files}");
    assert_eq!(files["files"][0]["size"], json!(4));
    // With the malware scan each file says how its scan stands: GuardDuty's tag, once set.
    assert_eq!(files["files"][0]["scan"], json!("pending"), "{files}");
    rt.block_on(async {
        let s3 = moto.s3(REGION).await;
        set_scan_verdict(&s3, &docs, key, "NO_THREATS_FOUND").await;
    });
    let (_, files) = ask(&config, &services, access, "GET", "/files", Value::Null);
    assert_eq!(
        files["files"][0]["scan"],
        json!("NO_THREATS_FOUND"),
        "{files}"
    );
    let (_, me) = ask(&config, &services, access, "GET", "/me", Value::Null);
    assert_eq!(me["usage"], json!({"bytes": 4, "files": 1}));
    assert_eq!(me["quota"], json!({"bytes": 1000000, "files": 10}));

    // A token of another pool, signed by moto all the same, is not this stack's.
    let other = pools["others"]["id"].as_str().unwrap();
    let (status, e) = ask(&config, &services, other, "GET", "/files", Value::Null);
    assert_eq!(status, 401, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("another issuer"),
        "{e}"
    );

    let down = run(project.cmd(&moto, REGION, &["down", "--yes"]));
    assert_eq!(down.code, 0, "{}", down.stderr);
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn dev_with_auth_spec_trusts_the_specs_issuer() {
    use support::devserver::{http, write_project, Dev};
    let moto = Moto::start();
    let pools = cognito(&moto);
    let users = &pools["users"];
    let pool = users["pool"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_project(dir.path(), "");
    let mut text = std::fs::read_to_string(&spec).unwrap();
    text.push_str(&format!(
        "auth:\n  issuer: {}\n  jwks_uri: {}/{pool}/.well-known/jwks.json\n  client_id: {}\n",
        issuer(pool),
        moto.url,
        users["client"].as_str().unwrap(),
    ));
    std::fs::write(&spec, text).unwrap();
    let dev = Dev::start_with(&spec, None, &["--auth", "spec"]);
    assert_eq!(dev.issuer_url, None, "the spec's issuer, not dev's");
    let uploads = format!("{}uploads", dev.presigner_url);
    let body = json!({"filename": "notes.txt", "contentType": "text/plain", "size": 5}).to_string();

    let r = http(
        "POST",
        &uploads,
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let other = format!("Bearer {}", pools["others"]["id"].as_str().unwrap());
    let r = http(
        "POST",
        &uploads,
        &[("authorization", other.as_str())],
        body.as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.text());

    let bearer = format!("Bearer {}", users["id"].as_str().unwrap());
    let r = http(
        "POST",
        &uploads,
        &[("authorization", bearer.as_str())],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let up = r.json();
    let key = up["key"].as_str().unwrap();
    assert!(
        key.starts_with("uploads/") && key.split('/').count() == 7,
        "{key}"
    );
    let put = support::devserver::put_as_answered(&up, b"hello");
    assert_eq!(put.status, 200, "{}", put.text());
    let user = key.split('/').nth(1).unwrap();
    let mine = format!(
        "{}downloads?key={}",
        dev.presigner_url,
        presigner::uri_encode(key)
    );
    let r = http("GET", &mine, &[("authorization", bearer.as_str())], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let theirs = mine.replace(user, "someone-else");
    let r = http("GET", &theirs, &[("authorization", bearer.as_str())], b"");
    assert_eq!(r.status, 403, "{}", r.text());

    // The user's folder, listed, counted and emptied through dev's store.
    let auth = [("authorization", bearer.as_str())];
    let me = http("GET", &format!("{}me", dev.presigner_url), &auth, b"");
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["usage"], json!({"bytes": 5, "files": 1}));
    let files = http("GET", &format!("{}files", dev.presigner_url), &auth, b"");
    assert_eq!(files.status, 200, "{}", files.text());
    assert_eq!(files.json()["files"][0]["key"], json!(key));
    assert_eq!(files.json()["files"][0]["name"], json!("notes.txt"));
    let delete = format!(
        "{}files?key={}",
        dev.presigner_url,
        presigner::uri_encode(key)
    );
    assert_eq!(http("DELETE", &delete, &auth, b"").status, 204);
    assert_eq!(http("DELETE", &delete, &auth, b"").status, 404);
    let files = http("GET", &format!("{}files", dev.presigner_url), &auth, b"");
    assert_eq!(files.json()["files"], json!([]));
    let gone = http("GET", &mine, &auth, b"");
    let url = gone.json()["url"].as_str().unwrap().to_string();
    assert_eq!(
        http("GET", &url, &[], b"").status,
        404,
        "the object is gone"
    );
    dev.stop();
}
