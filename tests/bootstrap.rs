//! `presign-stack bootstrap` (SPEC section 8) on moto: the boundary, GitHub's OIDC provider
//! and the two CI roles made, tagged and printed; a second run writes nothing; an existing
//! stack's role gets the boundary at the next `up`; what bootstrap did not make is never
//! touched; `--delete` removes it all once the stack is down.

mod support;

use serde_json::Value;
use support::*;

const REGION: &str = "eu-west-1";
const NAME: &str = "booted";

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn a_repository_that_is_not_owner_slash_repo_is_refused_before_any_call() {
    let project = Project::new();
    project.write_spec(&support::spec("minimal", NAME, REGION));
    // No emulator at all: the argument is checked first.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_presign-stack"));
    c.arg("--spec")
        .arg(project.spec_path())
        .args(["bootstrap", "--github-repo", "acme"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let r = run(c);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--github-repo `acme` is not OWNER/REPO"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn bootstrap_makes_the_boundary_and_the_ci_roles_once_and_removes_them() {
    let moto = Moto::start();
    let project = Project::new();
    project.write_spec(&support::spec("minimal", NAME, REGION));
    let boundary = format!("arn:aws:iam::{ACCOUNT}:policy/presign-stack-ci/{NAME}-dev-boundary");

    // A stack made before bootstrap: its role has no boundary.
    run(project.cmd(&moto, REGION, &["up"])).ok();

    // A role of the deploy role's name that bootstrap did not make stops it, untouched.
    let tokio = tokio::runtime::Runtime::new().unwrap();
    tokio.block_on(async {
        moto.iam(REGION)
            .await
            .create_role()
            .role_name(format!("{NAME}-dev-deploy"))
            .path("/presign-stack-ci/")
            .assume_role_policy_document("{}")
            .send()
            .await
            .unwrap();
    });
    let refused = run(project.cmd(&moto, REGION, &["bootstrap", "--github-repo", "acme/docs"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("role booted-dev-deploy exists but was not made by bootstrap"),
        "{}",
        refused.stderr
    );
    tokio.block_on(async {
        moto.iam(REGION)
            .await
            .delete_role()
            .role_name(format!("{NAME}-dev-deploy"))
            .send()
            .await
            .unwrap();
    });

    let first = json(
        &run(project.cmd(
            &moto,
            REGION,
            &[
                "--output",
                "json",
                "bootstrap",
                "--github-repo",
                "acme/docs",
            ],
        ))
        .ok(),
    );
    assert_eq!(first["boundary_arn"], boundary.as_str());
    let deploy_arn = format!("arn:aws:iam::{ACCOUNT}:role/presign-stack-ci/{NAME}-dev-deploy");
    let drift_arn = format!("arn:aws:iam::{ACCOUNT}:role/presign-stack-ci/{NAME}-dev-drift");
    assert_eq!(first["deploy_role_arn"], deploy_arn.as_str());
    assert_eq!(first["drift_role_arn"], drift_arn.as_str());
    let provider = first["oidc_provider_arn"].as_str().unwrap().to_string();
    assert!(provider.ends_with(":oidc-provider/token.actions.githubusercontent.com"));
    assert_eq!(first["changed"].as_array().unwrap().len(), 4, "{first}");
    let workflow = first["workflow"].as_str().unwrap();
    assert!(workflow.contains(&format!("role-to-assume: {drift_arn}")));
    assert!(workflow.contains("presign-stack drift --env dev --markdown"));

    tokio.block_on(async {
        let iam = moto.iam(REGION).await;
        // Who may assume each role: GitHub's tokens for STS, from this repository only; the
        // deploy role from main or the GitHub environment named like the stack's env.
        for (role, subjects) in [
            (
                format!("{NAME}-dev-deploy"),
                vec![
                    "repo:acme/docs:environment:dev",
                    "repo:acme/docs:ref:refs/heads/main",
                ],
            ),
            (format!("{NAME}-dev-drift"), vec!["repo:acme/docs:*"]),
        ] {
            let got = iam.get_role().role_name(&role).send().await.unwrap();
            let got = got.role().unwrap();
            let trust: Value =
                serde_json::from_str(&percent_decode(got.assume_role_policy_document().unwrap()))
                    .unwrap();
            let st = &trust["Statement"][0];
            assert_eq!(strings(&st["Principal"]["Federated"]), [provider.as_str()]);
            assert_eq!(strings(&st["Action"]), ["sts:AssumeRoleWithWebIdentity"]);
            assert_eq!(
                strings(
                    &st["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"]
                ),
                ["sts.amazonaws.com"]
            );
            let sub =
                strings(&st["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]);
            assert_eq!(sub, subjects, "{role}");
            assert!(got
                .tags()
                .iter()
                .any(|t| t.key() == "presign-stack:bootstrap" && t.value() == "booted-dev"));
            // The inline policy is the stack's generated one.
            let doc = iam
                .get_role_policy()
                .role_name(&role)
                .policy_name("presign-stack")
                .send()
                .await
                .unwrap();
            let policy: Value =
                serde_json::from_str(&percent_decode(doc.policy_document())).unwrap();
            let text = policy.to_string();
            assert!(
                text.contains(&format!("{NAME}-dev-documents-{ACCOUNT}")),
                "{text}"
            );
        }
    });

    // Again: nothing to do, nothing written.
    let log = project.path().join("again.log");
    let mut again = project.cmd(
        &moto,
        REGION,
        &[
            "--output",
            "json",
            "bootstrap",
            "--github-repo",
            "acme/docs",
        ],
    );
    again.env("PRESIGN_STACK_REQUEST_LOG", &log);
    let again = json(&run(again).ok());
    assert_eq!(again["changed"], serde_json::json!([]), "{again}");
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 4);
    let writes = writes(&logged_requests(&log));
    assert!(writes.is_empty(), "{writes:?}");

    // The stack made before: the next plan gives its role the boundary, and up does.
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("permissions_boundary") && plan.stdout.contains(&boundary),
        "{}",
        plan.stdout
    );
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 0, "{}", drift.stdout);

    // A spec that moved on (another uploads prefix): the boundary no longer fits, and plan
    // says so.
    project.write_spec(&format!(
        "{}documents: {{uploads_prefix: files/}}\n",
        support::spec("minimal", NAME, REGION)
    ));
    let stale = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        stale
            .stderr
            .contains("was made for another version of this spec"),
        "{}",
        stale.stderr
    );
    project.write_spec(&support::spec("minimal", NAME, REGION));

    // The boundary is in use while the stack is up: --delete says so before deleting
    // anything (the deploy role would be needed to run `down`).
    let busy = run(project.cmd(&moto, REGION, &["bootstrap", "--delete"]));
    assert_eq!(busy.code, 1);
    assert!(
        busy.stderr.contains(&format!(
            "is still the boundary of role {NAME}-dev-presigner"
        )) && busy.stderr.contains("nothing was deleted"),
        "{}",
        busy.stderr
    );
    tokio.block_on(async {
        let iam = moto.iam(REGION).await;
        let roles = iam
            .list_roles()
            .path_prefix("/presign-stack-ci/")
            .send()
            .await
            .unwrap();
        assert_eq!(roles.roles().len(), 2);
    });
    run(project.cmd(&moto, REGION, &["down", "--yes"])).ok();
    let gone = json(
        &run(project.cmd(
            &moto,
            REGION,
            &["--output", "json", "bootstrap", "--delete"],
        ))
        .ok(),
    );
    let changed = gone["changed"].to_string();
    assert!(
        changed.contains(&format!("deleted permissions boundary {boundary}")),
        "{changed}"
    );
    assert!(
        changed.contains("deleted OpenID Connect provider"),
        "{changed}"
    );
    assert!(
        changed.contains(&format!("deleted role {NAME}-dev-deploy")),
        "{changed}"
    );
    let again = run(project.cmd(&moto, REGION, &["bootstrap", "--delete"])).ok();
    assert!(
        again.stdout.contains("Nothing to delete"),
        "{}",
        again.stdout
    );
    tokio.block_on(async {
        let iam = moto.iam(REGION).await;
        assert!(iam.get_policy().policy_arn(&boundary).send().await.is_err());
        let roles = iam
            .list_roles()
            .path_prefix("/presign-stack-ci/")
            .send()
            .await
            .unwrap();
        assert!(roles.roles().is_empty());
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        assert!(providers.open_id_connect_provider_list().is_empty());
    });
}

fn percent_decode(s: &str) -> String {
    presign_stack::state::parse_policy(s)
        .map(|v| v.to_string())
        .unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// A policy value that IAM reads alike as one string or a list of them.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        other => other
            .as_array()
            .unwrap_or_else(|| panic!("{other}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect(),
    }
}
