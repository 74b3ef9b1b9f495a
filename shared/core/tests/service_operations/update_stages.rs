//! UpdateSecret (metadata, a new value, a new key) and UpdateSecretVersionStage (moving and
//! removing labels, AWSPREVIOUS following AWSCURRENT, the RemoveFromVersionId rules).

use crate::harness::*;
use coffer_core::ids::Scope;
use coffer_core::operation::Operation::*;
use coffer_core::ports::DEFAULT_KEY_ALIAS;
use serde_json::{json, Value};
use std::collections::BTreeMap;

cases! {
    UpdateSecret Behaviour update_secret_metadata_only_creates_no_version,
    UpdateSecret Behaviour update_secret_with_value_creates_the_current_version,
    UpdateSecret Behaviour update_secret_retry_with_same_token_and_value_is_idempotent,
    UpdateSecret Behaviour update_secret_kms_key_id_reencrypts_the_labelled_versions,
    UpdateSecret Error update_secret_errors_change_nothing,
    UpdateSecretVersionStage Behaviour update_secret_version_stage_moves_awscurrent_and_previous_follows,
    UpdateSecretVersionStage Behaviour update_secret_version_stage_attaches_moves_and_removes_custom_labels,
    UpdateSecretVersionStage Behaviour update_secret_version_stage_awspending_leaves_when_awscurrent_moves_off,
    UpdateSecretVersionStage Error update_secret_version_stage_remove_from_version_id_rules,
    UpdateSecretVersionStage Error update_secret_version_stage_malformed_or_unknown,
    UpdateSecretVersionStage Error update_secret_version_stage_more_than_20_labels_is_limit_exceeded,
}

fn labels(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(id, l)| (id.to_string(), l.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[tokio::test]
pub async fn update_secret_metadata_only_creates_no_version() {
    let h = Harness::new();
    let (arn, v1) = h.create("meta", "one").await;
    h.advance(HOUR);
    let out = h
        .ok(
            UpdateSecret,
            json!({"SecretId": "meta", "Description": "new description", "Type": "db"}),
        )
        .await;
    assert_eq!(out, json!({"ARN": arn, "Name": "meta"}), "no VersionId");
    let d = h.describe("meta").await;
    assert_eq!(d["Description"], json!("new description"));
    assert_eq!(d["Type"], json!("db"));
    assert_eq!(d["LastChangedDate"], json!(secs(T0 + HOUR)));
    assert_eq!(
        d["VersionIdsToStages"],
        json!({ v1.as_str(): ["AWSCURRENT"] })
    );
    assert_eq!(h.current("meta").await, "one");
}

#[tokio::test]
pub async fn update_secret_with_value_creates_the_current_version() {
    let h = Harness::new();
    let (arn, v1) = h.create("val", "one").await;
    let v2 = token(2);
    let out = h
        .ok(
            UpdateSecret,
            json!({"SecretId": "val", "SecretString": "two", "ClientRequestToken": v2}),
        )
        .await;
    assert_eq!(out, json!({"ARN": arn, "Name": "val", "VersionId": v2}));
    assert_eq!(
        h.stages("val").await,
        labels(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])])
    );
    assert_eq!(h.current("val").await, "two");
}

#[tokio::test]
pub async fn update_secret_retry_with_same_token_and_value_is_idempotent() {
    let h = Harness::new();
    let first = token(1);
    h.ok(
        CreateSecret,
        json!({"Name": "idem", "SecretString": "one", "ClientRequestToken": first}),
    )
    .await;
    let retried = h
        .ok(
            UpdateSecret,
            json!({"SecretId": "idem", "SecretString": "one", "ClientRequestToken": first}),
        )
        .await;
    assert_eq!(retried["VersionId"], json!(first));
    assert_eq!(h.version_count("idem").await, 1);
    assert_eq!(h.stages("idem").await, labels(&[(&first, &["AWSCURRENT"])]));
}

#[tokio::test]
pub async fn update_secret_kms_key_id_reencrypts_the_labelled_versions() {
    let h = Harness::new();
    let scope = Scope::new(REGION, A);
    let (_, v1) = h.create("rekey", "one").await;
    let v2 = h.put("rekey", "two").await;
    let app_key = h.keys.create_key(&scope, Some("alias/app"));
    let out = h
        .ok(
            UpdateSecret,
            json!({"SecretId": "rekey", "KmsKeyId": "alias/app"}),
        )
        .await;
    assert!(out.get("VersionId").is_none(), "{out}");
    assert_eq!(h.describe("rekey").await["KmsKeyId"], json!("alias/app"));
    let listed = h
        .ok(ListSecretVersionIds, json!({"SecretId": "rekey"}))
        .await;
    for v in listed["Versions"].as_array().unwrap() {
        assert_eq!(v["KmsKeyIds"], json!([app_key]), "{v}");
    }
    // The values no longer need the default key.
    h.keys
        .set_enabled(&scope, DEFAULT_KEY_ALIAS, false)
        .unwrap();
    assert_eq!(h.current("rekey").await, "two");
    let previous = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "rekey", "VersionId": v1}),
        )
        .await;
    assert_eq!(previous["SecretString"], json!("one"));
    assert_eq!(previous["VersionStages"], json!(["AWSPREVIOUS"]), "{v2}");
}

#[tokio::test]
pub async fn update_secret_errors_change_nothing() {
    let h = Harness::new();
    let (arn, v1) = h.create("strict", "one").await;
    let cases: Vec<(Value, &str, String)> = vec![
        (
            json!({"SecretId": "nope", "Description": "d"}),
            "ResourceNotFoundException",
            SECRET_NOT_FOUND.into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "two"}),
            "InvalidRequestException",
            TOKEN_REQUIRED.into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "a", "SecretBinary": "Yg==",
                   "ClientRequestToken": token(2)}),
            "InvalidParameterException",
            BOTH_VALUES.into(),
        ),
        (
            json!({"SecretId": "strict", "Description": "d".repeat(2049)}),
            "InvalidParameterException",
            "Invalid Description: it must be at most 2048 characters long.".into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "two", "ClientRequestToken": v1}),
            "ResourceExistsException",
            format!("You can't use ClientRequestToken {v1} because that value is already in use for a version of secret {arn}."),
        ),
        (
            json!({"SecretId": "strict", "KmsKeyId": "alias/nope"}),
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified encryption key.".into(),
        ),
    ];
    for (body, code, message) in cases {
        let e = h.err(UpdateSecret, body.clone()).await;
        assert_eq!((e.code(), e.message()), (code, message.as_str()), "{body}");
    }
    let d = h.describe("strict").await;
    assert!(d.get("Description").is_none(), "{d}");
    assert!(d.get("KmsKeyId").is_none(), "{d}");
    assert_eq!(d["LastChangedDate"], json!(secs(T0)));
    assert_eq!(h.stages("strict").await, labels(&[(&v1, &["AWSCURRENT"])]));
    assert_eq!(h.current("strict").await, "one");
}

#[tokio::test]
pub async fn update_secret_version_stage_moves_awscurrent_and_previous_follows() {
    let h = Harness::new();
    let (arn, v1) = h.create("roll", "one").await;
    let v2 = h.put("roll", "two").await;
    // Roll back: AWSCURRENT from v2 to v1.
    let out = h
        .ok(
            UpdateSecretVersionStage,
            json!({"SecretId": "roll", "VersionStage": "AWSCURRENT",
                   "MoveToVersionId": v1, "RemoveFromVersionId": v2}),
        )
        .await;
    assert_eq!(out, json!({"ARN": arn, "Name": "roll"}));
    assert_eq!(
        h.stages("roll").await,
        labels(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPREVIOUS"])])
    );
    assert_eq!(h.current("roll").await, "one");
}

#[tokio::test]
pub async fn update_secret_version_stage_attaches_moves_and_removes_custom_labels() {
    let h = Harness::new();
    let (_, v1) = h.create("custom", "one").await;
    let v2 = h.put("custom", "two").await;
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "custom", "VersionStage": "RELEASE", "MoveToVersionId": v1}),
    )
    .await;
    assert_eq!(
        h.stages("custom").await,
        labels(&[(&v1, &["AWSPREVIOUS", "RELEASE"]), (&v2, &["AWSCURRENT"])])
    );
    let got = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "custom", "VersionStage": "RELEASE"}),
        )
        .await;
    assert_eq!(got["SecretString"], json!("one"));
    // Moving it on names the version that holds it.
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "custom", "VersionStage": "RELEASE",
               "MoveToVersionId": v2, "RemoveFromVersionId": v1}),
    )
    .await;
    assert_eq!(
        h.stages("custom").await,
        labels(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT", "RELEASE"])])
    );
    // Removing: RemoveFromVersionId without MoveToVersionId.
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "custom", "VersionStage": "RELEASE", "RemoveFromVersionId": v2}),
    )
    .await;
    assert_eq!(
        h.stages("custom").await,
        labels(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])])
    );
    // Removing the last label deprecates a version: hidden from the default listing.
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "custom", "VersionStage": "AWSPREVIOUS", "RemoveFromVersionId": v1}),
    )
    .await;
    assert_eq!(h.stages("custom").await, labels(&[(&v2, &["AWSCURRENT"])]));
    let listed = h
        .ok(ListSecretVersionIds, json!({"SecretId": "custom"}))
        .await;
    assert_eq!(listed["Versions"].as_array().unwrap().len(), 1);
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "custom", "VersionStage": "RELEASE"}),
        )
        .await,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: RELEASE",
    );
}

#[tokio::test]
pub async fn update_secret_version_stage_awspending_leaves_when_awscurrent_moves_off() {
    let h = Harness::new();
    let (_, v1) = h.create("pending", "one").await;
    let v2 = h.token();
    h.ok(
        PutSecretValue,
        json!({"SecretId": "pending", "SecretString": "two", "ClientRequestToken": v2,
               "VersionStages": ["AWSPENDING"]}),
    )
    .await;
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "pending", "VersionStage": "AWSCURRENT",
               "MoveToVersionId": v2, "RemoveFromVersionId": v1}),
    )
    .await;
    // The version AWSCURRENT moved onto keeps AWSPENDING ...
    assert_eq!(
        h.stages("pending").await,
        labels(&[
            (&v1, &["AWSPREVIOUS"]),
            (&v2, &["AWSCURRENT", "AWSPENDING"])
        ])
    );
    // ... until AWSCURRENT moves off it: then it is AWSPREVIOUS only.
    let v3 = h.put("pending", "three").await;
    assert_eq!(
        h.stages("pending").await,
        labels(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT"])])
    );
}

#[tokio::test]
pub async fn update_secret_version_stage_remove_from_version_id_rules() {
    let h = Harness::new();
    let (_, v1) = h.create("rules", "one").await;
    let v2 = h.put("rules", "two").await;
    let v3 = h.put("rules", "three").await;
    let before = h.stages("rules").await;
    let stage = |label: &str, extra: Value| {
        let mut body = json!({"SecretId": "rules", "VersionStage": label});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(Value, String)> = vec![
        (
            stage("AWSCURRENT", json!({"MoveToVersionId": v1})),
            format!("The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {v3}, so you must explicitly reference that version in RemoveFromVersionId."),
        ),
        (
            stage("AWSCURRENT", json!({"MoveToVersionId": v1, "RemoveFromVersionId": v2})),
            format!("The staging label AWSCURRENT is currently attached to version {v3}, but you have not specified that version in RemoveFromVersionId."),
        ),
        (
            stage("AWSPREVIOUS", json!({"MoveToVersionId": v1})),
            format!("The staging label AWSPREVIOUS is currently attached to version {v2}, but you have not specified that version in RemoveFromVersionId."),
        ),
        (
            stage("AWSCURRENT", json!({"RemoveFromVersionId": v3})),
            "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.".into(),
        ),
        (
            stage("RELEASE", json!({"RemoveFromVersionId": v1})),
            format!("The staging label RELEASE is not attached to version {v1}."),
        ),
        (
            stage("RELEASE", json!({"MoveToVersionId": v2, "RemoveFromVersionId": v1})),
            format!("The staging label RELEASE is not attached to version {v1}."),
        ),
    ];
    for (body, message) in cases {
        expect_error(
            &h.err(UpdateSecretVersionStage, body.clone()).await,
            "InvalidParameterException",
            &message,
        );
    }
    assert_eq!(h.stages("rules").await, before, "nothing moved");
}

#[tokio::test]
pub async fn update_secret_version_stage_malformed_or_unknown() {
    let h = Harness::new();
    let (_, v1) = h.create("stage", "one").await;
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "stage", "VersionStage": "X"}),
        )
        .await,
        "InvalidParameterException",
        "You must specify RemoveFromVersionId, MoveToVersionId, or both.",
    );
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "stage", "MoveToVersionId": v1}),
        )
        .await,
        "InvalidParameterException",
        "You must specify VersionStage.",
    );
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "stage", "VersionStage": "", "MoveToVersionId": v1}),
        )
        .await,
        "InvalidParameterException",
        "Invalid VersionStage: a staging label must be between 1 and 256 characters long.",
    );
    let unknown = token(77);
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "stage", "VersionStage": "CUSTOM", "MoveToVersionId": unknown}),
        )
        .await,
        "ResourceNotFoundException",
        &format!("Secrets Manager can't find the specified secret version: {unknown}"),
    );
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "nope", "VersionStage": "X", "MoveToVersionId": v1}),
        )
        .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert_eq!(h.stages("stage").await, labels(&[(&v1, &["AWSCURRENT"])]));
}

#[tokio::test]
pub async fn update_secret_version_stage_more_than_20_labels_is_limit_exceeded() {
    let h = Harness::new();
    let (_, v1) = h.create("limit", "one").await;
    // AWSCURRENT is the first label; 19 more make 20.
    for i in 0..19 {
        h.ok(
            UpdateSecretVersionStage,
            json!({"SecretId": "limit", "VersionStage": format!("L{i:02}"), "MoveToVersionId": v1}),
        )
        .await;
    }
    expect_error(
        &h.err(
            UpdateSecretVersionStage,
            json!({"SecretId": "limit", "VersionStage": "ONE-TOO-MANY", "MoveToVersionId": v1}),
        )
        .await,
        "LimitExceededException",
        "A version can have at most 20 staging labels.",
    );
    assert_eq!(h.stages("limit").await[&v1].len(), 20);
}
