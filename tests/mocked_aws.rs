//! AWS behaviour the emulator cannot produce, scripted with aws-smithy-mocks: IAM propagation
//! delay, Lambda state transitions, an account-level public-access block, and NoSuchBucket
//! right after CreateBucket. Each test's name starts with `mocked_`.

use aws_sdk_lambda::operation::create_function::{CreateFunctionError, CreateFunctionOutput};
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
use aws_sdk_lambda::types::{LastUpdateStatus, State};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use std::sync::Arc;

use presign_stack::aws::{Aws, RequestLog};
use presign_stack::bundle::{zip_bootstrap, Bundle, Code};
use presign_stack::cancel::Cancel;
use presign_stack::context::Ctx;
use presign_stack::report::Report;
use presign_stack::resources::bucket::{self, Which};
use presign_stack::resources::{function::Function, function_url::FunctionUrl, Resource};
use presign_stack::retry::Timing;
use presign_stack::state::{Change, Known, Live};
use serde_json::json;

const ROLE_NOT_ASSUMABLE: &str = "The role defined for the function cannot be assumed by Lambda.";

fn ctx(s3: &[&Rule], iam: &[&Rule], lambda: &[&Rule]) -> (Ctx, tempfile::TempDir) {
    ctx_of("{source: site}", s3, iam, lambda)
}

/// A context for a spec whose `website` is `website`.
fn ctx_of(
    website: &str,
    s3: &[&Rule],
    iam: &[&Rule],
    lambda: &[&Rule],
) -> (Ctx, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(
        dir.path().join("bundle.zip"),
        zip_bootstrap(b"bin").unwrap(),
    )
    .unwrap();
    let file = dir.path().join("presign-stack.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: mock-docs\nregion: eu-west-1\npresigner: {{zip: bundle.zip}}\n\
             website: {website}\n"
        ),
    )
    .unwrap();
    let spec = presign_stack::spec::load(&file, "dev")
        .unwrap()
        .resolve("123456789012", "eu-west-1");
    let aws = Aws {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3),
        iam: mock_client!(aws_sdk_iam, RuleMode::Sequential, iam),
        lambda: mock_client!(aws_sdk_lambda, RuleMode::Sequential, lambda),
        sts: aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new("eu-west-1"))
                .build(),
        ),
        tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::Config::builder()
                .behavior_version(aws_sdk_resourcegroupstagging::config::BehaviorVersion::latest())
                .region(aws_sdk_resourcegroupstagging::config::Region::new(
                    "eu-west-1",
                ))
                .build(),
        ),
        logs: aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudwatchlogs::config::Region::new("eu-west-1"))
                .build(),
        ),
        s3control: aws_sdk_s3control::Client::from_conf(
            aws_sdk_s3control::Config::builder()
                .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
                .region(aws_sdk_s3control::config::Region::new("eu-west-1"))
                .build(),
        ),
        cloudfront: aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::Config::builder()
                .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
                .build(),
        ),
        acm: aws_sdk_acm::Client::from_conf(
            aws_sdk_acm::Config::builder()
                .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
                .region(aws_sdk_acm::config::Region::new("us-east-1"))
                .build(),
        ),
        cognito: aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::Config::builder()
                .behavior_version(
                    aws_sdk_cognitoidentityprovider::config::BehaviorVersion::latest(),
                )
                .region(aws_sdk_cognitoidentityprovider::config::Region::new(
                    "eu-west-1",
                ))
                .build(),
        ),
        wafv2: aws_sdk_wafv2::Client::from_conf(
            aws_sdk_wafv2::Config::builder()
                .behavior_version(aws_sdk_wafv2::config::BehaviorVersion::latest())
                .region(aws_sdk_wafv2::config::Region::new("us-east-1"))
                .build(),
        ),
        guardduty: aws_sdk_guardduty::Client::from_conf(
            aws_sdk_guardduty::Config::builder()
                .behavior_version(aws_sdk_guardduty::config::BehaviorVersion::latest())
                .region(aws_sdk_guardduty::config::Region::new("eu-west-1"))
                .build(),
        ),
        region: "eu-west-1".into(),
        plain_http: false,
        requests: RequestLog::default(),
    };
    let ctx = Ctx {
        aws,
        spec: Arc::new(spec),
        account: "123456789012".into(),
        region: "eu-west-1".into(),
        timing: Timing::fast(),
        report: Report::silent(),
        cancel: Cancel::default(),
        discovery: Arc::default(),
        known: Known {
            role_arn: Some(ROLE_ARN.to_string()),
            ..Known::default()
        },
        code: Some(Arc::new(bundle())),
    };
    (ctx, dir)
}

fn bundle() -> Code {
    Code {
        digest: "d".into(),
        bundle: Some(Bundle {
            zip: zip_bootstrap(b"bin").unwrap(),
            sha256_base64: "x".into(),
        }),
    }
}

fn config(state: State, update: LastUpdateStatus) -> GetFunctionConfigurationOutput {
    GetFunctionConfigurationOutput::builder()
        .state(state)
        .last_update_status(update)
        .build()
}

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/mock-docs-dev-presigner";

#[tokio::test]
async fn mocked_iam_propagation_create_function_retries_until_the_role_is_assumable() {
    let create = mock!(aws_sdk_lambda::Client::create_function)
        .sequence()
        .error(|| {
            CreateFunctionError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterValueException")
                    .message(ROLE_NOT_ASSUMABLE)
                    .build(),
            )
        })
        .times(2)
        .output(|| CreateFunctionOutput::builder().build())
        .build();
    let wait = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .sequence()
        .output(|| config(State::Pending, LastUpdateStatus::InProgress))
        .times(2)
        .output(|| config(State::Active, LastUpdateStatus::Successful))
        .build();
    let (ctx, _dir) = ctx(&[], &[], &[&create, &wait]);
    Function
        .apply(&ctx, None, &[])
        .await
        .expect("created once the role propagated");
    assert_eq!(create.num_calls(), 3, "two refusals, then the create");
    assert_eq!(wait.num_calls(), 3, "polled until Active");
}

#[tokio::test]
async fn mocked_iam_propagation_other_errors_are_not_retried() {
    let create = mock!(aws_sdk_lambda::Client::create_function).then_error(|| {
        CreateFunctionError::generic(
            ErrorMetadata::builder()
                .code("InvalidParameterValueException")
                .message("Unzipped size must be smaller than 262144000 bytes")
                .build(),
        )
    });
    let (ctx, _dir) = ctx(&[], &[], &[&create]);
    let err = Function.apply(&ctx, None, &[]).await.unwrap_err();
    assert_eq!(create.num_calls(), 1);
    let msg = format!("{err:#}");
    assert!(
        msg.contains("creating function mock-docs-dev-presigner"),
        "{msg}"
    );
    assert!(msg.contains("Unzipped size"), "{msg}");
}

#[tokio::test]
async fn mocked_iam_propagation_gives_up_at_the_deadline_with_aws_message() {
    let create = mock!(aws_sdk_lambda::Client::create_function)
        .sequence()
        .error(|| {
            CreateFunctionError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterValueException")
                    .message(ROLE_NOT_ASSUMABLE)
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let (ctx, _dir) = ctx(&[], &[], &[&create]);
    let err = Function.apply(&ctx, None, &[]).await.unwrap_err();
    assert!(create.num_calls() > 2, "retried: {}", create.num_calls());
    assert!(
        format!("{err:#}").contains("cannot be assumed by Lambda"),
        "{err:#}"
    );
}

#[tokio::test]
async fn mocked_lambda_state_failed_stops_with_the_reason() {
    let create = mock!(aws_sdk_lambda::Client::create_function)
        .then_output(|| CreateFunctionOutput::builder().build());
    let wait = mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(|| {
        GetFunctionConfigurationOutput::builder()
            .state(State::Failed)
            .state_reason("Lambda was unable to decrypt the environment variables")
            .build()
    });
    let (ctx, _dir) = ctx(&[], &[], &[&create, &wait]);
    let err = Function.apply(&ctx, None, &[]).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("failed to become active"), "{msg}");
    assert!(msg.contains("unable to decrypt"), "{msg}");
}

#[tokio::test]
async fn mocked_lambda_update_waits_for_successful_before_the_code_update() {
    // Sequential rules: any call out of this order fails the test.
    let update_config = mock!(aws_sdk_lambda::Client::update_function_configuration)
        .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
    let wait1 = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .sequence()
        .output(|| config(State::Active, LastUpdateStatus::InProgress))
        .times(2)
        .output(|| config(State::Active, LastUpdateStatus::Successful))
        .build();
    let update_code = mock!(aws_sdk_lambda::Client::update_function_code)
        .then_output(|| UpdateFunctionCodeOutput::builder().build());
    let wait2 = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .then_output(|| config(State::Active, LastUpdateStatus::Successful));
    let ready = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .then_output(|| config(State::Active, LastUpdateStatus::Successful));
    // The code tag follows the code.
    let tag = mock!(aws_sdk_lambda::Client::tag_resource)
        .match_requests(|r| {
            r.tags()
                .and_then(|t| t.get("presign-stack:code"))
                .is_some_and(|v| v == "d:x")
        })
        .then_output(|| {
            aws_sdk_lambda::operation::tag_resource::TagResourceOutput::builder().build()
        });
    let (ctx, _dir) = ctx(
        &[],
        &[],
        &[&ready, &update_config, &wait1, &update_code, &wait2, &tag],
    );
    let changes = [
        Change {
            field: "memory_mb",
            old: json!(128),
            new: json!(256),
            after: None,
        },
        Change {
            field: "code_sha256",
            old: json!("a"),
            new: json!("b"),
            after: None,
        },
    ];
    Function
        .apply(&ctx, Some(&Live::default()), &changes)
        .await
        .unwrap();
    assert_eq!(update_config.num_calls(), 1);
    assert_eq!(wait1.num_calls(), 3);
    assert_eq!(update_code.num_calls(), 1);
    assert_eq!(wait2.num_calls(), 1);
    assert_eq!(tag.num_calls(), 1);
}

#[tokio::test]
async fn mocked_lambda_update_failure_reports_the_last_update_reason() {
    let update_config = mock!(aws_sdk_lambda::Client::update_function_configuration)
        .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
    let wait = mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(|| {
        GetFunctionConfigurationOutput::builder()
            .state(State::Active)
            .last_update_status(LastUpdateStatus::Failed)
            .last_update_status_reason("The function could not be updated: EniLimitExceeded")
            .build()
    });
    let ready = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .then_output(|| config(State::Active, LastUpdateStatus::Successful));
    let (ctx, _dir) = ctx(&[], &[], &[&ready, &update_config, &wait]);
    let changes = [Change {
        field: "timeout_seconds",
        old: json!(5),
        new: json!(9),
        after: None,
    }];
    let err = Function
        .apply(&ctx, Some(&Live::default()), &changes)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("EniLimitExceeded"), "{err:#}");
}

#[tokio::test]
async fn mocked_account_level_block_public_access_is_explained() {
    // Refused however long it is retried: what forbids it is not the bucket's own block.
    let put_policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
        .sequence()
        .error(|| {
            aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let (ctx, _dir) = ctx(&[&put_policy], &[], &[]);
    let want = bucket::desired(&ctx, Which::Website);
    let changes = [Change {
        field: "policy",
        old: json!(null),
        new: want.fields["policy"].clone(),
        after: None,
    }];
    let err = bucket::WEBSITE
        .apply(&ctx, Some(&Live::default()), &changes)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("account-level S3 Block Public Access") && msg.contains("refused"),
        "{msg}"
    );
    assert!(put_policy.num_calls() > 1, "retried before concluding");
    assert!(
        msg.contains("website bucket mock-docs-dev-website-123456789012"),
        "{msg}"
    );
}

#[tokio::test]
async fn mocked_new_bucket_no_such_bucket_is_retried_after_create() {
    let create = mock!(aws_sdk_s3::Client::create_bucket).then_output(|| {
        aws_sdk_s3::operation::create_bucket::CreateBucketOutput::builder().build()
    });
    let tagging = mock!(aws_sdk_s3::Client::put_bucket_tagging)
        .sequence()
        .error(|| {
            aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingError::generic(
                ErrorMetadata::builder()
                    .code("NoSuchBucket")
                    .message("The specified bucket does not exist")
                    .build(),
            )
        })
        .times(2)
        .output(|| {
            aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
        })
        .build();
    let (ctx, _dir) = ctx(&[&create, &tagging], &[], &[]);
    let want = bucket::desired(&ctx, Which::Documents);
    let changes = [Change {
        field: "tags",
        old: json!(null),
        new: want.fields["tags"].clone(),
        after: None,
    }];
    bucket::DOCUMENTS.apply(&ctx, None, &changes).await.unwrap();
    assert_eq!(tagging.num_calls(), 3);
}

/// Over TLS (as against AWS), the policy that stops uploads while `down` empties the
/// documents bucket keeps the TLS-only statement, so a failure mid-empty (here DeleteObjects
/// failing with a 500, which moto never does) leaves it in place; no second policy write
/// is needed or made.
#[tokio::test]
async fn mocked_delete_objects_failure_mid_empty_leaves_the_tls_only_statement() {
    fn tls_and_stop(policy: &str) -> bool {
        let v: serde_json::Value = serde_json::from_str(policy).unwrap();
        let st = v["Statement"].as_array().unwrap();
        let tls = st.iter().any(|s| {
            s["Sid"] == "DenyInsecureTransport"
                && s["Action"] == "s3:*"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        });
        let stop = st
            .iter()
            .any(|s| s["Sid"] == "NoUploadsWhileDeleting" && s["Action"] == "s3:PutObject");
        tls && stop && st.len() == 2
    }
    let put_policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
        .match_requests(|r| r.policy().is_some_and(tls_and_stop))
        .then_output(|| {
            aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
        });
    let list = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
        aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput::builder()
            .versions(
                aws_sdk_s3::types::ObjectVersion::builder()
                    .key("uploads/a.pdf")
                    .version_id("v1")
                    .build(),
            )
            .is_truncated(false)
            .build()
    });
    let delete = mock!(aws_sdk_s3::Client::delete_objects).then_error(|| {
        aws_sdk_s3::operation::delete_objects::DeleteObjectsError::generic(
            ErrorMetadata::builder()
                .code("InternalError")
                .message("We encountered an internal error. Please try again.")
                .build(),
        )
    });
    let (ctx, _dir) = ctx(&[&put_policy, &list, &delete], &[], &[]);
    let bucket = ctx.spec.documents.bucket.clone();
    let err = presign_stack::resources::bucket::empty::empty_and_delete(
        &ctx,
        Which::Documents,
        &bucket,
        true,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("InternalError"), "{err:#}");
    assert_eq!(
        put_policy.num_calls(),
        1,
        "one policy write, with both statements"
    );
    // The SDK's own retries of the 500 came first.
    assert!(delete.num_calls() >= 1);
}

#[tokio::test]
async fn mocked_no_cloudfront_permission_is_granted_before_the_distribution_is_known() {
    // Any Lambda call would be answered; none may be made.
    let add = mock!(aws_sdk_lambda::Client::add_permission).then_output(|| {
        aws_sdk_lambda::operation::add_permission::AddPermissionOutput::builder().build()
    });
    let (ctx, _dir) = ctx_of(
        "{source: site, hosting: cloudfront, cloudfront: {api_path: /api}}",
        &[],
        &[],
        &[&add],
    );
    assert!(ctx.known.cdn.is_none());
    let want = FunctionUrl.desired(&ctx, None);
    let changes = [Change {
        field: "permissions",
        old: json!([]),
        new: want.fields["permissions"].clone(),
        after: None,
    }];
    let live = Live {
        known: Known {
            function_url: Some("https://abc.lambda-url.eu-west-1.on.aws/".into()),
            ..Known::default()
        },
        ..Live::default()
    };
    let err = FunctionUrl
        .apply(&ctx, Some(&live), &changes)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("name the distribution, which does not exist yet"),
        "{err:#}"
    );
    assert_eq!(add.num_calls(), 0, "nothing granted without a SourceArn");
}
