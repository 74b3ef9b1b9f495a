//! DeleteSecret (recovery window, forced deletion) and RestoreSecret, and how a secret
//! scheduled for deletion answers every other operation.

use std::time::Duration;

use coffer_e2e::*;

const DAY: f64 = 86_400.0;

#[tokio::test]
async fn delete_secret_default_window_is_30_days() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-default");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let before = now_epoch();
    let out = client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let when = epoch(out.deletion_date().expect("DeletionDate"));
    assert!(
        (before + 30.0 * DAY - 60.0..now_epoch() + 30.0 * DAY + 60.0).contains(&when),
        "DeletionDate {when} is not now + 30 days"
    );
}

#[tokio::test]
async fn delete_secret_recovery_window_bounds_7_and_30_are_accepted() {
    let server = CofferServer::start();
    let client = server.default_client();
    for days in [7i64, 30] {
        let name = unique_name("del-bounds");
        create_string_secret(&client, &name, "v").await;
        let before = now_epoch();
        let out = client
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(days)
            .send()
            .await
            .unwrap_or_else(|e| panic!("RecoveryWindowInDays {days}: {e:?}"));
        let when = epoch(out.deletion_date().expect("DeletionDate"));
        let expected = before + days as f64 * DAY;
        assert!(
            (expected - 60.0..expected + 120.0).contains(&when),
            "DeletionDate for {days} days: {when} vs {expected}"
        );
    }
}

#[tokio::test]
async fn delete_secret_recovery_window_outside_7_to_30_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-outside");
    create_string_secret(&client, &name, "v").await;
    for days in [0i64, 6, 31, 365] {
        let err = expect_error(
            client
                .delete_secret()
                .secret_id(&name)
                .recovery_window_in_days(days)
                .send()
                .await,
            "InvalidParameterException",
        );
        assert!(err.is_invalid_parameter_exception(), "{days} days");
    }
    // Still alive.
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("secret untouched by rejected deletes");
}

#[tokio::test]
async fn delete_secret_with_window_and_force_together_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-both");
    create_string_secret(&client, &name, "v").await;
    let err = expect_error(
        client
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(7)
            .force_delete_without_recovery(true)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("secret untouched");
}

#[tokio::test]
async fn delete_secret_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .delete_secret()
            .secret_id(unique_name("del-missing"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn scheduled_secret_rejects_reads_and_writes_with_invalid_request() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-reads");
    let (_, v1) = create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("delete");

    let e = expect_error(
        client.get_secret_value().secret_id(&name).send().await,
        "InvalidRequestException",
    );
    assert!(e.is_invalid_request_exception());
    assert!(
        e.message()
            .is_some_and(|m| m.to_lowercase().contains("deletion")),
        "AWS's message says the secret is marked for deletion: {:?}",
        e.message()
    );
    expect_error(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("x")
            .send()
            .await,
        "InvalidRequestException",
    );
    expect_error(
        client
            .update_secret()
            .secret_id(&name)
            .description("x")
            .send()
            .await,
        "InvalidRequestException",
    );
    expect_error(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("X")
            .move_to_version_id(&v1)
            .send()
            .await,
        "InvalidRequestException",
    );
    expect_error(
        client
            .rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(format!(
                "arn:aws:lambda:{}:123456789012:function:rotator",
                server.region()
            ))
            .send()
            .await,
        "InvalidRequestException",
    );
    expect_error(
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag("k", "v"))
            .send()
            .await,
        "InvalidRequestException",
    );
    // Deleting again while scheduled is refused too.
    expect_error(
        client.delete_secret().secret_id(&name).send().await,
        "InvalidRequestException",
    );
}

#[tokio::test]
async fn describe_secret_works_on_scheduled_secret_and_shows_deleted_date() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-describe");
    create_string_secret(&client, &name, "v").await;
    let before = now_epoch();
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(10)
        .send()
        .await
        .expect("delete");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret on a scheduled secret");
    let deleted = epoch(d.deleted_date().expect("DeletedDate"));
    // DeletedDate is when the secret was deleted (AWS shows the request time).
    assert!(
        deleted >= before - 60.0,
        "DeletedDate {deleted} is before the delete request"
    );
}

#[tokio::test]
async fn scheduled_secret_name_cannot_be_reused() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-reuse");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("delete");
    let err = expect_error(
        client
            .create_secret()
            .name(&name)
            .secret_string("again")
            .send()
            .await,
        "InvalidRequestException",
    );
    assert!(err.is_invalid_request_exception());
    assert!(
        err.message()
            .is_some_and(|m| m.to_lowercase().contains("scheduled for deletion")),
        "{:?}",
        err.message()
    );
}

#[tokio::test]
async fn restore_secret_cancels_deletion_and_makes_it_readable() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-restore");
    let (arn, _) = create_string_secret(&client, &name, "precious").await;
    client
        .delete_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("delete");
    let out = client
        .restore_secret()
        .secret_id(&arn)
        .send()
        .await
        .expect("RestoreSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("readable after restore");
    assert_eq!(got.secret_string(), Some("precious"));
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert!(d.deleted_date().is_none(), "DeletedDate cleared by restore");
    let listed = list_all_secrets(&client, vec![filter("name", &[&name])], false).await;
    assert_eq!(listed.len(), 1, "listed again after restore");
}

#[tokio::test]
async fn restore_secret_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .restore_secret()
            .secret_id(unique_name("del-restore-missing"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn force_delete_removes_secret_and_frees_the_name() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-force");
    create_string_secret(&client, &name, "v").await;
    let out = client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("forced delete");
    assert_eq!(out.name(), Some(name.as_str()));
    // Asynchronous in AWS: wait briefly for the secret to disappear.
    let mut gone = false;
    for _ in 0..100 {
        match client.describe_secret().secret_id(&name).send().await {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                gone = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(gone, "force-deleted secret still described after 10 s");
    // Restore is impossible.
    expect_error(
        client.restore_secret().secret_id(&name).send().await,
        "ResourceNotFoundException",
    );
    // The name is free again.
    create_string_secret(&client, &name, "new life").await;
}

#[tokio::test]
async fn force_delete_of_missing_or_already_deleted_secret_succeeds() {
    let server = CofferServer::start();
    let client = server.default_client();
    // "If you forcibly delete an already deleted or nonexistent secret, the operation does
    // not return ResourceNotFoundException."
    client
        .delete_secret()
        .secret_id(unique_name("del-force-missing"))
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("forced delete of a nonexistent secret");
    let name = unique_name("del-force-twice");
    create_string_secret(&client, &name, "v").await;
    for _ in 0..2 {
        client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .expect("forced delete is idempotent");
    }
}

#[tokio::test]
async fn force_delete_of_scheduled_secret_removes_it() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("del-sched-force");
    create_string_secret(&client, &name, "v").await;
    client
        .delete_secret()
        .secret_id(&name)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("schedule");
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("force delete of a scheduled secret");
    let mut gone = false;
    for _ in 0..100 {
        if client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .is_err()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "secret still there after forced deletion");
}
