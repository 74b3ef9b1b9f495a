//! DeleteSecret (the recovery window on the clock, the purge at its end, forced deletion) and
//! RestoreSecret, and how a secret scheduled for deletion answers the other operations.

use crate::harness::*;
use coffer_core::operation::Operation::{self, *};
use serde_json::{json, Value};

cases! {
    DeleteSecret Behaviour delete_secret_schedules_deletion_after_30_days_by_default,
    DeleteSecret Behaviour delete_secret_recovery_window_bounds_are_accepted,
    DeleteSecret Behaviour delete_secret_purges_when_the_recovery_window_ends,
    DeleteSecret Behaviour delete_secret_force_removes_at_once_and_frees_the_name,
    DeleteSecret Behaviour delete_secret_force_of_missing_or_scheduled_secret_succeeds,
    DeleteSecret Error delete_secret_invalid_windows_and_unknown_secrets,
    DeleteSecret Error scheduled_secret_refuses_changes_and_value_reads,
    GetSecretValue Error scheduled_secret_refuses_changes_and_value_reads,
    PutSecretValue Error scheduled_secret_refuses_changes_and_value_reads,
    UpdateSecret Error scheduled_secret_refuses_changes_and_value_reads,
    UpdateSecretVersionStage Error scheduled_secret_refuses_changes_and_value_reads,
    TagResource Error scheduled_secret_refuses_changes_and_value_reads,
    UntagResource Error scheduled_secret_refuses_changes_and_value_reads,
    RotateSecret Error scheduled_secret_refuses_changes_and_value_reads,
    CancelRotateSecret Error scheduled_secret_refuses_changes_and_value_reads,
    PutResourcePolicy Error scheduled_secret_refuses_changes_and_value_reads,
    DeleteResourcePolicy Error scheduled_secret_refuses_changes_and_value_reads,
    RestoreSecret Behaviour restore_secret_cancels_the_deletion,
    RestoreSecret Behaviour restore_secret_of_a_live_secret_changes_nothing,
    RestoreSecret Error restore_secret_unknown_or_purged_secret_is_resource_not_found,
}

#[tokio::test]
pub async fn delete_secret_schedules_deletion_after_30_days_by_default() {
    let h = Harness::new();
    let (arn, v1) = h.create("del", "v").await;
    h.advance(HOUR);
    let out = h.ok(DeleteSecret, json!({"SecretId": "del"})).await;
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "del", "DeletionDate": secs(T0 + HOUR + 30 * DAY)})
    );
    let d = h.describe("del").await;
    assert_eq!(
        d["DeletedDate"],
        json!(secs(T0 + HOUR)),
        "when it was deleted"
    );
    assert_eq!(
        d["VersionIdsToStages"],
        json!({ v1.as_str(): ["AWSCURRENT"] })
    );
    assert_eq!(h.service_events(), ["StartSecretVersionDelete"]);
    // Hidden from ListSecrets unless asked for.
    let listed = h.ok(ListSecrets, json!({})).await;
    assert_eq!(listed["SecretList"], json!([]));
    let listed = h
        .ok(ListSecrets, json!({"IncludePlannedDeletion": true}))
        .await;
    assert_eq!(
        listed["SecretList"][0]["DeletedDate"],
        json!(secs(T0 + HOUR))
    );
}

#[tokio::test]
pub async fn delete_secret_recovery_window_bounds_are_accepted() {
    let h = Harness::new();
    for days in [7i64, 19, 30] {
        let name = format!("del-{days}");
        h.create(&name, "v").await;
        let out = h
            .ok(
                DeleteSecret,
                json!({"SecretId": name, "RecoveryWindowInDays": days}),
            )
            .await;
        assert_eq!(
            out["DeletionDate"],
            json!(secs(T0 + days * DAY)),
            "{days} days"
        );
    }
}

#[tokio::test]
pub async fn delete_secret_purges_when_the_recovery_window_ends() {
    let h = Harness::new();
    let (first_arn, _) = h.create("window", "v").await;
    h.ok(
        DeleteSecret,
        json!({"SecretId": "window", "RecoveryWindowInDays": 7}),
    )
    .await;
    // One millisecond before the deletion date nothing is purged.
    h.advance(7 * DAY - 1);
    assert_eq!(h.service.purge_expired().await.unwrap(), 0);
    assert!(h.describe("window").await.get("DeletedDate").is_some());
    h.advance(1);
    assert_eq!(h.service.purge_expired().await.unwrap(), 1);
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": "window"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert_eq!(
        h.service_events(),
        ["StartSecretVersionDelete", "EndSecretVersionDelete"]
    );
    // The name is free again, under a new ARN.
    let (second_arn, _) = h.create("window", "new life").await;
    assert_ne!(first_arn, second_arn);
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": first_arn})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
}

#[tokio::test]
pub async fn delete_secret_force_removes_at_once_and_frees_the_name() {
    let h = Harness::new();
    let (arn, _) = h.create("forced", "v").await;
    let out = h
        .ok(
            DeleteSecret,
            json!({"SecretId": "forced", "ForceDeleteWithoutRecovery": true}),
        )
        .await;
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "forced", "DeletionDate": secs(T0)})
    );
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": "forced"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(RestoreSecret, json!({"SecretId": "forced"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    h.create("forced", "new life").await;
    assert_eq!(h.current("forced").await, "new life");
}

#[tokio::test]
pub async fn delete_secret_force_of_missing_or_scheduled_secret_succeeds() {
    let h = Harness::new();
    // "If you forcibly delete an already deleted or nonexistent secret, the operation does not
    // return ResourceNotFoundException."
    let out = h
        .ok(
            DeleteSecret,
            json!({"SecretId": "never-was", "ForceDeleteWithoutRecovery": true}),
        )
        .await;
    assert_eq!(out["Name"], json!("never-was"));
    assert_eq!(out["DeletionDate"], json!(secs(T0)));
    // A scheduled secret is removed by a forced delete, and a second one still succeeds.
    let (arn, _) = h.create("scheduled", "v").await;
    h.ok(DeleteSecret, json!({"SecretId": "scheduled"})).await;
    h.advance(DAY);
    for _ in 0..2 {
        let out = h
            .ok(
                DeleteSecret,
                json!({"SecretId": arn, "ForceDeleteWithoutRecovery": true}),
            )
            .await;
        assert_eq!(out["ARN"], json!(arn));
        assert_eq!(out["DeletionDate"], json!(secs(T0 + DAY)));
    }
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": "scheduled"}))
            .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
}

#[tokio::test]
pub async fn delete_secret_invalid_windows_and_unknown_secrets() {
    let h = Harness::new();
    h.create("kept", "v").await;
    for days in [0i64, 6, 31, 365, -7] {
        expect_error(
            &h.err(
                DeleteSecret,
                json!({"SecretId": "kept", "RecoveryWindowInDays": days}),
            )
            .await,
            "InvalidParameterException",
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        );
    }
    expect_error(
        &h.err(
            DeleteSecret,
            json!({"SecretId": "kept", "RecoveryWindowInDays": 7,
                   "ForceDeleteWithoutRecovery": true}),
        )
        .await,
        "InvalidParameterException",
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
    expect_error(
        &h.err(DeleteSecret, json!({"SecretId": "nope"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert!(h.describe("kept").await.get("DeletedDate").is_none());
    assert_eq!(h.current("kept").await, "v");
    assert!(h.service_events().is_empty());
}

#[tokio::test]
pub async fn scheduled_secret_refuses_changes_and_value_reads() {
    let h = Harness::new();
    let (_, v1) = h.create("sched", "v").await;
    h.ok(
        DeleteSecret,
        json!({"SecretId": "sched", "RecoveryWindowInDays": 7}),
    )
    .await;
    let before = h.describe("sched").await;
    let calls: Vec<(Operation, Value)> = vec![
        (GetSecretValue, json!({"SecretId": "sched"})),
        (
            PutSecretValue,
            json!({"SecretId": "sched", "SecretString": "x", "ClientRequestToken": token(2)}),
        ),
        (
            UpdateSecret,
            json!({"SecretId": "sched", "Description": "x"}),
        ),
        (
            UpdateSecretVersionStage,
            json!({"SecretId": "sched", "VersionStage": "X", "MoveToVersionId": v1}),
        ),
        (
            TagResource,
            json!({"SecretId": "sched", "Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        (
            UntagResource,
            json!({"SecretId": "sched", "TagKeys": ["k"]}),
        ),
        (
            RotateSecret,
            json!({"SecretId": "sched", "RotationLambdaARN": lambda("rot"),
                   "ClientRequestToken": token(3)}),
        ),
        (CancelRotateSecret, json!({"SecretId": "sched"})),
        (
            PutResourcePolicy,
            json!({"SecretId": "sched", "ResourcePolicy": grant(&format!("arn:aws:iam::{A}:root"), "secretsmanager:GetSecretValue")}),
        ),
        (DeleteResourcePolicy, json!({"SecretId": "sched"})),
        // Deleting again while scheduled is refused too (a forced delete is not).
        (DeleteSecret, json!({"SecretId": "sched"})),
    ];
    for (op, body) in calls {
        let e = h.err(op, body).await;
        assert_eq!(
            (e.code(), e.message()),
            ("InvalidRequestException", MARKED_FOR_DELETION),
            "{op}"
        );
    }
    assert_eq!(h.describe("sched").await, before, "nothing changed");
    assert!(h.jobs().is_empty());
}

#[tokio::test]
pub async fn restore_secret_cancels_the_deletion() {
    let h = Harness::new();
    let (arn, _) = h.create("precious", "value").await;
    h.ok(
        DeleteSecret,
        json!({"SecretId": "precious", "RecoveryWindowInDays": 7}),
    )
    .await;
    h.advance(DAY);
    let out = h.ok(RestoreSecret, json!({"SecretId": arn})).await;
    assert_eq!(out, json!({"ARN": arn, "Name": "precious"}));
    assert_eq!(h.current("precious").await, "value");
    let d = h.describe("precious").await;
    assert!(d.get("DeletedDate").is_none(), "{d}");
    assert_eq!(d["LastChangedDate"], json!(secs(T0 + DAY)));
    let listed = h.ok(ListSecrets, json!({})).await;
    assert_eq!(listed["SecretList"][0]["Name"], json!("precious"));
    assert_eq!(
        h.service_events(),
        ["StartSecretVersionDelete", "CancelSecretVersionDelete"]
    );
    // The old deletion date passes without a purge.
    h.advance(30 * DAY);
    assert_eq!(h.service.purge_expired().await.unwrap(), 0);
    assert_eq!(h.current("precious").await, "value");
}

#[tokio::test]
pub async fn restore_secret_of_a_live_secret_changes_nothing() {
    let h = Harness::new();
    let (arn, _) = h.create("alive", "v").await;
    h.advance(HOUR);
    let out = h.ok(RestoreSecret, json!({"SecretId": "alive"})).await;
    assert_eq!(out, json!({"ARN": arn, "Name": "alive"}));
    assert_eq!(
        h.describe("alive").await["LastChangedDate"],
        json!(secs(T0))
    );
    assert!(h.service_events().is_empty());
}

#[tokio::test]
pub async fn restore_secret_unknown_or_purged_secret_is_resource_not_found() {
    let h = Harness::new();
    expect_error(
        &h.err(RestoreSecret, json!({"SecretId": "never-was"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    h.create("purged", "v").await;
    h.ok(
        DeleteSecret,
        json!({"SecretId": "purged", "RecoveryWindowInDays": 7}),
    )
    .await;
    h.advance(7 * DAY);
    h.service.purge_expired().await.unwrap();
    expect_error(
        &h.err(RestoreSecret, json!({"SecretId": "purged"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(RestoreSecret, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
}
