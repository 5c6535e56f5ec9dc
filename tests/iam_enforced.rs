//! The deploy policy under enforcement (SPEC section 8): a moto server that checks IAM
//! policies (`INITIAL_NO_AUTH_ACTION_COUNT`, evaluated as AWS documents it by
//! `scripts/moto_extras.py`) serves S3 and IAM, whose policies it can enforce; a second moto
//! serves the rest (its Lambda cannot check signatures under enforcement). An administrator
//! runs `bootstrap`; a user holding only `presign-stack policy deploy` then runs `up`,
//! `drift` and `down`, and is refused what the policy must not allow.

mod support;

use aws_sdk_iam::config::Credentials;
use serde_json::{json, Value};
use support::*;

const REGION: &str = "eu-west-1";
const NAME: &str = "enforced";
const ROLE: &str = "enforced-dev-presigner";

/// An IAM client of `moto` with these keys.
async fn iam_as(moto: &Moto, keys: &(String, String)) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::config::Builder::from(&moto.sdk(REGION).await)
        .credentials_provider(Credentials::new(&keys.0, &keys.1, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

async fn s3_as(moto: &Moto, keys: &(String, String)) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&moto.sdk(REGION).await)
        .credentials_provider(Credentials::new(&keys.0, &keys.1, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A user with this inline policy, and its keys.
async fn user(iam: &aws_sdk_iam::Client, name: &str, policy: &Value) -> (String, String) {
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy()
        .user_name(name)
        .policy_name("only-this")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    (
        key.access_key_id().to_string(),
        key.secret_access_key().to_string(),
    )
}

/// From now on every call to `moto` must be allowed by its caller's policies.
fn enforce(moto: &Moto) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-f", "-X", "POST", "-H", "Content-Type: text/plain"])
        .args(["--data", "0"])
        .arg(format!("{}/moto-api/reset-auth", moto.url))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn denied<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) {
    match r {
        Ok(_) => panic!("{what} was allowed"),
        Err(e) => {
            let text = format!("{e:?}");
            // S3 answers a refused GET with a bare 403, with no code.
            assert!(
                text.contains("AccessDenied")
                    || (what == "reading a document" && text.contains("StatusCode(403)")),
                "{what}: {text}"
            );
        }
    }
}

/// The binary as `keys`, S3 and IAM on `enforcing`, the rest on `other`.
fn cmd(
    project: &Project,
    enforcing: &Moto,
    other: &Moto,
    keys: &(String, String),
    args: &[&str],
) -> std::process::Command {
    let mut c = project.cmd(other, REGION, args);
    c.env("AWS_ENDPOINT_URL_S3", &enforcing.url)
        .env("AWS_ENDPOINT_URL_IAM", &enforcing.url)
        .env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1);
    c
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn a_deployer_holding_only_the_deploy_policy_runs_the_stack_and_nothing_more() {
    let enforcing = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "100000")]);
    let other = Moto::start();
    let project = Project::new();
    project.write_spec(&support::spec("minimal", NAME, REGION));
    let policy = |which: &str| -> Value {
        // As published: the account is `${aws:PrincipalAccount}`, resolved by IAM.
        let out = run(project.cmd(&other, REGION, &["policy", which])).ok();
        serde_json::from_str(&out.stdout).unwrap()
    };
    let deploy = policy("deploy");
    let boundary_arn =
        format!("arn:aws:iam::{ACCOUNT}:policy/presign-stack-ci/{NAME}-dev-boundary");

    let tokio = tokio::runtime::Runtime::new().unwrap();
    let (admin, deployer) = tokio.block_on(async {
        let free = enforcing.iam(REGION).await;
        let admin = user(
            &free,
            "admin",
            &json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        .await;
        let deployer = user(&free, "deployer", &deploy).await;
        create_foreign_bucket(&enforcing.s3(REGION).await, "someone-elses", REGION).await;
        // moto's Lambda (on the other server) looks for the function's role in its own IAM.
        other
            .iam(REGION)
            .await
            .create_role()
            .role_name(ROLE)
            .path("/presign-stack/")
            .assume_role_policy_document("{}")
            .send()
            .await
            .unwrap();
        (admin, deployer)
    });
    enforce(&enforcing);

    // The administrator's once-per-account step: the boundary the role is created with.
    let boot = run(cmd(&project, &enforcing, &other, &admin, &["bootstrap"])).ok();
    assert!(boot.stdout.contains(&boundary_arn), "{}", boot.stdout);

    // The deployer: the whole stack, with the boundary on the role.
    run(cmd(&project, &enforcing, &other, &deployer, &["up"])).ok();
    tokio.block_on(async {
        let iam = iam_as(&enforcing, &admin).await;
        let role = iam.get_role().role_name(ROLE).send().await.unwrap();
        let role = role.role().unwrap();
        assert_eq!(
            role.permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn()),
            Some(boundary_arn.as_str())
        );
    });
    let drift = run(cmd(&project, &enforcing, &other, &deployer, &["drift"]));
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);

    tokio.block_on(async {
        let iam = iam_as(&enforcing, &deployer).await;
        let s3 = s3_as(&enforcing, &deployer).await;
        let admin_iam = iam_as(&enforcing, &admin).await;
        let everything = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        .to_string();
        // No role without the boundary, whatever its name.
        denied(
            "creating the stack's role without the boundary",
            iam.create_role()
                .role_name(ROLE)
                .path("/presign-stack/")
                .assume_role_policy_document("{}")
                .send()
                .await,
        );
        denied(
            "creating another role with the boundary",
            iam.create_role()
                .role_name("another")
                .path("/")
                .permissions_boundary(&boundary_arn)
                .assume_role_policy_document("{}")
                .send()
                .await,
        );
        // The boundary stays, and stays as it is.
        denied(
            "removing the role's boundary",
            iam.delete_role_permissions_boundary()
                .role_name(ROLE)
                .send()
                .await,
        );
        denied(
            "giving the role another boundary",
            iam.put_role_permissions_boundary()
                .role_name(ROLE)
                .permissions_boundary("arn:aws:iam::aws:policy/AdministratorAccess")
                .send()
                .await,
        );
        denied(
            "changing the boundary",
            iam.create_policy_version()
                .policy_arn(&boundary_arn)
                .policy_document(&everything)
                .set_as_default(true)
                .send()
                .await,
        );
        // Nor may the role trust anyone else (the deployer could then act as the presigner).
        denied(
            "making the role trust the deployer",
            iam.update_assume_role_policy()
                .role_name(ROLE)
                .policy_document(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/deployer")},
                        "Action": "sts:AssumeRole"}]})
                    .to_string(),
                )
                .send()
                .await,
        );
        // `*:*` inline: refused on a role without the boundary (the stack's own, as an
        // administrator made it before bootstrap), and on any other role.
        admin_iam
            .delete_role_permissions_boundary()
            .role_name(ROLE)
            .send()
            .await
            .unwrap();
        denied(
            "putting *:* on the stack's role without its boundary",
            iam.put_role_policy()
                .role_name(ROLE)
                .policy_name("everything")
                .policy_document(&everything)
                .send()
                .await,
        );
        denied(
            "putting *:* on another user",
            iam.put_user_policy()
                .user_name("deployer")
                .policy_name("everything")
                .policy_document(&everything)
                .send()
                .await,
        );
        admin_iam
            .put_role_permissions_boundary()
            .role_name(ROLE)
            .permissions_boundary(&boundary_arn)
            .send()
            .await
            .unwrap();
        // Other buckets are not the deployer's.
        denied(
            "writing another bucket's policy",
            s3.put_bucket_policy()
                .bucket("someone-elses")
                .policy(
                    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Principal": "*", "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::someone-elses/*"}]})
                    .to_string(),
                )
                .send()
                .await,
        );
        denied(
            "deleting another bucket",
            s3.delete_bucket().bucket("someone-elses").send().await,
        );
        // Nor may it read a document itself. (It writes the documents bucket's policy, which
        // could grant that: README, "Least-privilege deployment".)
        denied(
            "reading a document",
            s3.get_object()
                .bucket(format!("{NAME}-dev-documents-{ACCOUNT}"))
                .key("uploads/x")
                .send()
                .await,
        );
    });

    run(cmd(
        &project,
        &enforcing,
        &other,
        &deployer,
        &["down", "--yes"],
    ))
    .ok();
    tokio.block_on(async {
        let iam = iam_as(&enforcing, &admin).await;
        assert!(iam.get_role().role_name(ROLE).send().await.is_err());
        let s3 = s3_as(&enforcing, &admin).await;
        let buckets = s3.list_buckets().send().await.unwrap();
        let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["someone-elses"]);
    });
}
