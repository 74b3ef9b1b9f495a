//! RotateSecret and CancelRotateSecret: configuration validation, the value-less AWSPENDING
//! version, and the refusal of a second rotation while one is incomplete. (Running the
//! rotation function is a later issue.)

use aws_sdk_secretsmanager::types::RotationRulesType;
use coffer_e2e::*;

fn lambda_arn(server: &CofferServer) -> String {
    format!(
        "arn:aws:lambda:{}:123456789012:function:coffer-e2e-rotator",
        server.region()
    )
}

fn days(n: i64) -> RotationRulesType {
    RotationRulesType::builder()
        .automatically_after_days(n)
        .build()
}

fn schedule(expr: &str, duration: Option<&str>) -> RotationRulesType {
    RotationRulesType::builder()
        .schedule_expression(expr)
        .set_duration(duration.map(str::to_string))
        .build()
}

#[tokio::test]
async fn rotate_secret_creates_valueless_awspending_version() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-pending");
    let (arn, v1) = create_string_secret(&client, &name, "current").await;
    let out = client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("RotateSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let pending = out
        .version_id()
        .expect("VersionId of the new version")
        .to_string();
    assert_ne!(pending, v1);

    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.get(&pending), Some(&vec!["AWSPENDING".to_string()]));
    assert_eq!(stages.get(&v1), Some(&vec!["AWSCURRENT".to_string()]));

    // A version without a value is not readable, by label or by id.
    let err = expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_stage("AWSPENDING")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_id(&pending)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    // The current value is unaffected.
    let cur = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get current");
    assert_eq!(cur.secret_string(), Some("current"));
    // ListSecretVersionIds only returns versions that contain a value.
    let listed = list_all_versions(&client, &name, false).await;
    assert!(
        listed
            .iter()
            .all(|v| v.version_id() != Some(pending.as_str())),
        "value-less version listed: {listed:?}"
    );
}

#[tokio::test]
async fn rotate_secret_stores_rotation_configuration() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-config");
    create_string_secret(&client, &name, "v").await;
    client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(7))
        .send()
        .await
        .expect("RotateSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(d.rotation_lambda_arn(), Some(lambda_arn(&server).as_str()));
    let rules = d.rotation_rules().expect("RotationRules");
    assert_eq!(rules.automatically_after_days(), Some(7));
    let next = epoch(d.next_rotation_date().expect("NextRotationDate"));
    let now = now_epoch();
    assert!(
        next > now && next <= now + 8.0 * 86_400.0,
        "NextRotationDate {next} within the 7-day schedule"
    );
}

#[tokio::test]
async fn rotate_secret_with_client_request_token_uses_it_for_pending_version() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-token");
    create_string_secret(&client, &name, "v").await;
    let tok = token();
    let out = client
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&tok)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("RotateSecret");
    assert_eq!(out.version_id(), Some(tok.as_str()));
}

#[tokio::test]
async fn second_rotation_while_pending_is_refused_with_invalid_request() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-twice");
    create_string_secret(&client, &name, "v").await;
    let first = client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("first RotateSecret");
    let pending = first.version_id().expect("VersionId").to_string();
    let err = expect_error(
        client.rotate_secret().secret_id(&name).send().await,
        "InvalidRequestException",
    );
    assert!(err.is_invalid_request_exception());
    // AWS: "A previous rotation isn't complete. That rotation will be reattempted."
    assert!(
        err.message()
            .is_some_and(|m| m.to_lowercase().contains("previous rotation")),
        "AWS's message: {:?}",
        err.message()
    );
    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.len(), 2, "no third version: {stages:?}");
    assert_eq!(stages.get(&pending), Some(&vec!["AWSPENDING".to_string()]));
}

#[tokio::test]
async fn rotation_can_start_again_once_awspending_is_removed() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-cleanup");
    create_string_secret(&client, &name, "v").await;
    let pending = client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("RotateSecret")
        .version_id()
        .expect("VersionId")
        .to_string();
    client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&pending)
        .send()
        .await
        .expect("remove AWSPENDING");
    let again = client
        .rotate_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("RotateSecret with the stored configuration");
    let second = again.version_id().expect("VersionId").to_string();
    assert_ne!(second, pending);
    assert_eq!(
        holder_of(&client, &name, "AWSPENDING").await.as_deref(),
        Some(second.as_str())
    );
}

#[tokio::test]
async fn rotation_is_allowed_when_awspending_sits_with_awscurrent() {
    // "If the AWSPENDING staging label is present but not attached to the same version as
    // AWSCURRENT, then any later invocation of RotateSecret assumes that a previous rotation
    // request is still in progress" — so AWSPENDING on the AWSCURRENT version is fine.
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-samever");
    let (_, v1) = create_string_secret(&client, &name, "v").await;
    client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSPENDING")
        .move_to_version_id(&v1)
        .send()
        .await
        .expect("AWSPENDING on the current version");
    client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("RotateSecret while AWSPENDING sits with AWSCURRENT");
}

#[tokio::test]
async fn rotate_secret_without_lambda_ever_configured_fails_with_invalid_request() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-nolambda");
    create_string_secret(&client, &name, "v").await;
    let err = expect_error(
        client
            .rotate_secret()
            .secret_id(&name)
            .rotation_rules(days(30))
            .send()
            .await,
        "InvalidRequestException",
    );
    assert!(err.is_invalid_request_exception());
    assert!(version_stages(&client, &name).await.len() == 1);
}

#[tokio::test]
async fn rotation_rules_automatically_after_days_outside_1_to_1000_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-days");
    create_string_secret(&client, &name, "v").await;
    for n in [0i64, 1001] {
        expect_error_in(
            client
                .rotate_secret()
                .secret_id(&name)
                .rotation_lambda_arn(lambda_arn(&server))
                .rotation_rules(days(n))
                .send()
                .await,
            &["InvalidParameterException", "ValidationException"],
        );
    }
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert!(d.rotation_enabled() != Some(true), "nothing configured");
    assert_eq!(version_stages(&client, &name).await.len(), 1);
}

#[tokio::test]
async fn rotation_rules_days_and_schedule_together_fail_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-both");
    create_string_secret(&client, &name, "v").await;
    let rules = RotationRulesType::builder()
        .automatically_after_days(10)
        .schedule_expression("rate(10 days)")
        .build();
    let err = expect_error(
        client
            .rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(lambda_arn(&server))
            .rotation_rules(rules)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn rotation_schedule_expressions_valid_forms_are_accepted() {
    let server = CofferServer::start();
    let client = server.default_client();
    for (expr, duration) in [
        ("rate(4 hours)", None),
        ("rate(12 hours)", Some("2h")),
        ("rate(10 days)", None),
        ("cron(0 16 1,15 * ? *)", Some("2h")),
        ("cron(0 8 ? * MON-FRI *)", None),
    ] {
        let name = unique_name("rot-sched-ok");
        create_string_secret(&client, &name, "v").await;
        client
            .rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(lambda_arn(&server))
            .rotation_rules(schedule(expr, duration))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{expr} / {duration:?} rejected: {e:?}"));
        let d = client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .expect("describe");
        let rules = d.rotation_rules().expect("RotationRules");
        assert_eq!(rules.schedule_expression(), Some(expr));
        assert_eq!(rules.duration(), duration);
        assert!(d.next_rotation_date().is_some(), "{expr}: NextRotationDate");
    }
}

#[tokio::test]
async fn rotation_schedule_expressions_invalid_forms_are_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-sched-bad");
    create_string_secret(&client, &name, "v").await;
    for (expr, duration) in [
        // More often than every four hours.
        ("rate(3 hours)", None),
        ("rate(30 minutes)", None),
        ("rate(banana)", None),
        ("rate(0 days)", None),
        ("cron(not a cron)", None),
        // A window must not run into the next rotation window.
        ("rate(4 hours)", Some("5h")),
        // Nor past the end of the UTC day.
        ("cron(0 22 * * ? *)", Some("4h")),
        ("rate(10 days)", Some("25h")),
    ] {
        expect_error_in(
            client
                .rotate_secret()
                .secret_id(&name)
                .rotation_lambda_arn(lambda_arn(&server))
                .rotation_rules(schedule(expr, duration))
                .send()
                .await,
            &["InvalidParameterException", "ValidationException"],
        );
    }
    assert_eq!(
        version_stages(&client, &name).await.len(),
        1,
        "rejected rotations create no version"
    );
}

#[tokio::test]
async fn cancel_rotate_secret_disables_rotation_and_keeps_pending_label() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("rot-cancel");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let pending = client
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(lambda_arn(&server))
        .rotation_rules(days(30))
        .send()
        .await
        .expect("RotateSecret")
        .version_id()
        .expect("VersionId")
        .to_string();
    let out = client
        .cancel_rotate_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("CancelRotateSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert_eq!(d.rotation_enabled(), Some(false));
    // The configuration stays visible, as AWS shows the previous schedule.
    assert_eq!(d.rotation_lambda_arn(), Some(lambda_arn(&server).as_str()));
    // Cancelling does not clean up the partially created version.
    assert_eq!(
        holder_of(&client, &name, "AWSPENDING").await.as_deref(),
        Some(pending.as_str())
    );
}

#[tokio::test]
async fn rotate_and_cancel_unknown_secret_are_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let missing = unique_name("rot-missing");
    let err = expect_error(
        client
            .rotate_secret()
            .secret_id(&missing)
            .rotation_lambda_arn(lambda_arn(&server))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    let err = expect_error(
        client
            .cancel_rotate_secret()
            .secret_id(&missing)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}
