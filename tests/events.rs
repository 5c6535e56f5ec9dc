//! `documents.events: eventbridge` (SPEC section 9) on moto: S3 sends the documents bucket's
//! object events to EventBridge; plan, up, drift and a second up cover it, and notifications
//! someone else configured on the bucket are kept.

mod support;

use support::*;

const REGION: &str = "eu-west-1";
const NAME: &str = "events";

#[test]
#[ignore = "needs moto: scripts/test.sh runs it"]
fn eventbridge_notifications_are_planned_made_drift_checked_and_kept_beside_others() {
    let moto = Moto::start();
    let project = Project::new();
    let bucket = format!("{NAME}-dev-documents-{ACCOUNT}");
    project.write_spec(&support::spec("minimal", NAME, REGION));
    run(project.cmd(&moto, REGION, &["up"])).ok();

    // Someone else's topic notification on the bucket.
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let s3 = tokio.block_on(moto.s3(REGION));
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:uploads-topic");
    tokio.block_on(async {
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                aws_sdk_s3::types::NotificationConfiguration::builder()
                    .topic_configurations(
                        aws_sdk_s3::types::TopicConfiguration::builder()
                            .topic_arn(&topic)
                            .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });

    project.write_spec(&format!(
        "{}documents: {{events: eventbridge}}\n",
        support::spec("minimal", NAME, REGION)
    ));
    let plan = run(project.cmd(&moto, REGION, &["plan"])).ok();
    assert!(
        plan.stdout.contains("eventbridge: false -> true"),
        "{}",
        plan.stdout
    );
    run(project.cmd(&moto, REGION, &["up"])).ok();
    let read = || {
        tokio.block_on(async {
            s3.get_bucket_notification_configuration()
                .bucket(&bucket)
                .send()
                .await
                .unwrap()
        })
    };
    let got = read();
    assert!(got.event_bridge_configuration().is_some());
    assert_eq!(
        got.topic_configurations()
            .iter()
            .map(|t| t.topic_arn())
            .collect::<Vec<_>>(),
        [topic.as_str()],
        "the topic someone else configured is kept"
    );

    // In sync: drift exits 0 and a second up writes nothing.
    assert_eq!(run(project.cmd(&moto, REGION, &["drift"])).code, 0);
    let log = project.path().join("again.log");
    let mut again = project.cmd(&moto, REGION, &["up"]);
    again.env("PRESIGN_STACK_REQUEST_LOG", &log);
    run(again).ok();
    let writes = writes(&logged_requests(&log));
    assert!(writes.is_empty(), "{writes:?}");

    // Turned off out of band: drift names it, up turns it on again.
    tokio.block_on(async {
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                aws_sdk_s3::types::NotificationConfiguration::builder().build(),
            )
            .send()
            .await
            .unwrap();
    });
    let drift = run(project.cmd(&moto, REGION, &["drift"]));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(drift.stdout.contains("eventbridge"), "{}", drift.stdout);
    run(project.cmd(&moto, REGION, &["up"])).ok();
    assert!(read().event_bridge_configuration().is_some());
}
