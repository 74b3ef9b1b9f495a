//! GetSecretValue and PutSecretValue: selecting a version by label and id, the access date,
//! AWSPREVIOUS following AWSCURRENT, custom labels, `ClientRequestToken` idempotency, and the
//! deprecated versions AWS keeps and prunes.

use crate::harness::*;
use base64::Engine;
use coffer_core::ids::Scope;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

cases! {
    GetSecretValue Behaviour get_secret_value_returns_the_current_version,
    GetSecretValue Behaviour get_secret_value_by_stage_and_by_version_id,
    GetSecretValue Behaviour get_secret_value_records_the_access_day,
    GetSecretValue Error get_secret_value_unknown_or_mismatched_version,
    GetSecretValue Error get_secret_value_with_disabled_key_is_decryption_failure,
    PutSecretValue Behaviour put_secret_value_moves_awscurrent_and_awsprevious_follows,
    PutSecretValue Behaviour put_secret_value_with_version_stages_leaves_awscurrent,
    PutSecretValue Behaviour put_secret_value_with_awscurrent_among_stages_moves_awsprevious,
    PutSecretValue Behaviour put_secret_value_retry_with_same_token_and_value_is_idempotent,
    PutSecretValue Behaviour put_secret_value_binary_reads_back_as_binary,
    PutSecretValue Behaviour put_secret_value_leaves_older_versions_deprecated_but_readable,
    ListSecretVersionIds Behaviour put_secret_value_leaves_older_versions_deprecated_but_readable,
    PutSecretValue Behaviour put_secret_value_prunes_the_oldest_deprecated_versions_after_a_day,
    PutSecretValue Error put_secret_value_reused_token_with_another_value_is_resource_exists,
    PutSecretValue Error put_secret_value_malformed_requests_change_nothing,
    PutSecretValue Error put_secret_value_with_disabled_key_is_encryption_failure,
}

fn sorted(v: &Value) -> Vec<String> {
    let mut labels: Vec<String> = serde_json::from_value(v.clone()).unwrap();
    labels.sort();
    labels
}

#[tokio::test]
pub async fn get_secret_value_returns_the_current_version() {
    let h = Harness::new();
    let (arn, _) = h.create("read", "one").await;
    h.advance(HOUR);
    let v2 = h.put("read", "two").await;
    let got = h.ok(GetSecretValue, json!({"SecretId": "read"})).await;
    let members: BTreeSet<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        BTreeSet::from([
            "ARN",
            "Name",
            "VersionId",
            "SecretString",
            "VersionStages",
            "CreatedDate"
        ])
    );
    assert_eq!(got["ARN"], json!(arn));
    assert_eq!(got["Name"], json!("read"));
    assert_eq!(got["VersionId"], json!(v2));
    assert_eq!(got["SecretString"], json!("two"));
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(
        got["CreatedDate"],
        json!(secs(T0 + HOUR)),
        "the version's date"
    );
    // By ARN and partial ARN alike.
    for id in [arn.clone(), partial(&arn)] {
        let by = h.ok(GetSecretValue, json!({"SecretId": id})).await;
        assert_eq!(by["SecretString"], json!("two"), "{id}");
    }
}

#[tokio::test]
pub async fn get_secret_value_by_stage_and_by_version_id() {
    let h = Harness::new();
    let (_, v1) = h.create("by", "one").await;
    let v2 = h.put("by", "two").await;
    let read = |body: Value| {
        let h = &h;
        async move { h.ok(GetSecretValue, body).await }
    };
    let current = read(json!({"SecretId": "by", "VersionStage": "AWSCURRENT"})).await;
    assert_eq!(
        (&current["VersionId"], &current["SecretString"]),
        (&json!(v2), &json!("two"))
    );
    let previous = read(json!({"SecretId": "by", "VersionStage": "AWSPREVIOUS"})).await;
    assert_eq!(previous["VersionId"], json!(v1));
    assert_eq!(previous["SecretString"], json!("one"));
    assert_eq!(previous["VersionStages"], json!(["AWSPREVIOUS"]));
    let by_id = read(json!({"SecretId": "by", "VersionId": v1})).await;
    assert_eq!(by_id["SecretString"], json!("one"));
    let both = read(json!({"SecretId": "by", "VersionId": v2, "VersionStage": "AWSCURRENT"})).await;
    assert_eq!(both["SecretString"], json!("two"));
}

#[tokio::test]
pub async fn get_secret_value_records_the_access_day() {
    let h = Harness::new();
    let (_, v1) = h.create("accessed", "v").await;
    let version_accessed = |listed: &Value| listed["Versions"][0]["LastAccessedDate"].clone();
    let listed = h
        .ok(ListSecretVersionIds, json!({"SecretId": "accessed"}))
        .await;
    assert_eq!(version_accessed(&listed), Value::Null, "not read yet");

    h.current("accessed").await;
    let midnight = T0 - 12 * HOUR;
    assert_eq!(
        h.describe("accessed").await["LastAccessedDate"],
        json!(secs(midnight))
    );
    let listed = h
        .ok(ListSecretVersionIds, json!({"SecretId": "accessed"}))
        .await;
    assert_eq!(listed["Versions"][0]["VersionId"], json!(v1));
    assert_eq!(version_accessed(&listed), json!(secs(midnight)));

    // Three days later the date moves to that day.
    h.advance(3 * DAY);
    h.current("accessed").await;
    assert_eq!(
        h.describe("accessed").await["LastAccessedDate"],
        json!(secs(midnight + 3 * DAY))
    );
}

#[tokio::test]
pub async fn get_secret_value_unknown_or_mismatched_version() {
    let h = Harness::new();
    let (_, v1) = h.create("sel", "one").await;
    let missing =
        |what: &str| format!("Secrets Manager can't find the specified secret value for {what}");
    // Only one version: nothing holds AWSPREVIOUS yet.
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "sel", "VersionStage": "AWSPREVIOUS"}),
        )
        .await,
        "ResourceNotFoundException",
        &missing("staging label: AWSPREVIOUS"),
    );
    let v2 = h.put("sel", "two").await;
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "sel", "VersionId": v1, "VersionStage": "AWSCURRENT"}),
        )
        .await,
        "InvalidRequestException",
        "You provided a VersionStage that is not associated to the provided VersionId.",
    );
    let unknown = token(99);
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "sel", "VersionId": unknown}),
        )
        .await,
        "ResourceNotFoundException",
        &missing(&format!("VersionId: {unknown}")),
    );
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "sel", "VersionStage": "NOSUCHLABEL"}),
        )
        .await,
        "ResourceNotFoundException",
        &missing("staging label: NOSUCHLABEL"),
    );
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "sel", "VersionId": "short"}),
        )
        .await,
        "InvalidParameterException",
        "Invalid VersionId: it must be between 32 and 64 characters long.",
    );
    expect_error(
        &h.err(GetSecretValue, json!({"SecretId": "nope"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(GetSecretValue, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
    assert_eq!(h.current("sel").await, "two", "{v2} is still current");
}

#[tokio::test]
pub async fn get_secret_value_with_disabled_key_is_decryption_failure() {
    let h = Harness::new();
    h.keys.create_key(&Scope::new(REGION, A), Some("alias/app"));
    h.ok(
        CreateSecret,
        json!({"Name": "k", "SecretString": "v", "KmsKeyId": "alias/app",
               "ClientRequestToken": token(1)}),
    )
    .await;
    h.keys
        .set_enabled(&Scope::new(REGION, A), "alias/app", false)
        .unwrap();
    let e = h.err(GetSecretValue, json!({"SecretId": "k"})).await;
    assert_eq!(e.code(), "DecryptionFailure");
    assert!(
        e.message().starts_with(
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key"
        ),
        "{}",
        e.message()
    );
    h.keys
        .set_enabled(&Scope::new(REGION, A), "alias/app", true)
        .unwrap();
    assert_eq!(h.current("k").await, "v");
}

#[tokio::test]
pub async fn put_secret_value_moves_awscurrent_and_awsprevious_follows() {
    let h = Harness::new();
    let (arn, v1) = h.create("rolling", "one").await;
    let mut ids = vec![v1];
    for value in ["two", "three", "four"] {
        let version = h.token();
        let out = h
            .ok(
                PutSecretValue,
                json!({"SecretId": "rolling", "SecretString": value, "ClientRequestToken": version}),
            )
            .await;
        assert_eq!(
            out,
            json!({"ARN": arn, "Name": "rolling", "VersionId": version,
                   "VersionStages": ["AWSCURRENT"]})
        );
        ids.push(version);
        let n = ids.len();
        assert_eq!(
            h.stages("rolling").await,
            BTreeMap::from([
                (ids[n - 1].clone(), vec!["AWSCURRENT".to_string()]),
                (ids[n - 2].clone(), vec!["AWSPREVIOUS".to_string()]),
            ]),
            "older versions lose their labels"
        );
        assert_eq!(h.current("rolling").await, value);
    }
}

#[tokio::test]
pub async fn put_secret_value_with_version_stages_leaves_awscurrent() {
    let h = Harness::new();
    let (_, v1) = h.create("custom", "one").await;
    let v2 = h.token();
    let out = h
        .ok(
            PutSecretValue,
            json!({"SecretId": "custom", "SecretString": "staged", "ClientRequestToken": v2,
                   "VersionStages": ["STAGED", "AWSPENDING"]}),
        )
        .await;
    assert_eq!(sorted(&out["VersionStages"]), ["AWSPENDING", "STAGED"]);
    assert_eq!(h.current("custom").await, "one", "AWSCURRENT did not move");
    let staged = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "custom", "VersionStage": "STAGED"}),
        )
        .await;
    assert_eq!(staged["SecretString"], json!("staged"));
    // A label given again moves from the version that had it; nobody holds AWSPREVIOUS.
    let v3 = h.token();
    h.ok(
        PutSecretValue,
        json!({"SecretId": "custom", "SecretString": "restaged", "ClientRequestToken": v3,
               "VersionStages": ["STAGED"]}),
    )
    .await;
    assert_eq!(
        h.stages("custom").await,
        BTreeMap::from([
            (v1, vec!["AWSCURRENT".to_string()]),
            (v2, vec!["AWSPENDING".to_string()]),
            (v3, vec!["STAGED".to_string()]),
        ])
    );
}

#[tokio::test]
pub async fn put_secret_value_with_awscurrent_among_stages_moves_awsprevious() {
    let h = Harness::new();
    let (_, v1) = h.create("cur", "one").await;
    let v2 = h.token();
    let out = h
        .ok(
            PutSecretValue,
            json!({"SecretId": "cur", "SecretString": "two", "ClientRequestToken": v2,
                   "VersionStages": ["AWSCURRENT", "PUT0"]}),
        )
        .await;
    assert_eq!(sorted(&out["VersionStages"]), ["AWSCURRENT", "PUT0"]);
    assert_eq!(
        h.stages("cur").await,
        BTreeMap::from([
            (v1, vec!["AWSPREVIOUS".to_string()]),
            (v2, vec!["AWSCURRENT".to_string(), "PUT0".to_string()]),
        ])
    );
}

#[tokio::test]
pub async fn put_secret_value_retry_with_same_token_and_value_is_idempotent() {
    let h = Harness::new();
    let (_, v1) = h.create("idem", "one").await;
    let version = token(5);
    let body = json!({"SecretId": "idem", "SecretString": "two", "ClientRequestToken": version});
    let first = h.ok(PutSecretValue, body.clone()).await;
    // Another value lands in between: the retry reports the version's labels of now.
    let v3 = h.put("idem", "three").await;
    let retry = h.ok(PutSecretValue, body).await;
    assert_eq!(retry["VersionId"], first["VersionId"]);
    assert_eq!(retry["VersionStages"], json!(["AWSPREVIOUS"]));
    assert_eq!(h.version_count("idem").await, 3, "no new version");
    assert_eq!(
        h.stages("idem").await,
        BTreeMap::from([
            (version, vec!["AWSPREVIOUS".to_string()]),
            (v3, vec!["AWSCURRENT".to_string()]),
        ]),
        "the retry moved no label ({v1} stays deprecated)"
    );
}

#[tokio::test]
pub async fn put_secret_value_binary_reads_back_as_binary() {
    let h = Harness::new();
    h.create("bin", "text first").await;
    let encoded = base64::engine::general_purpose::STANDARD.encode([0u8, 1, 2, 250, 255]);
    h.ok(
        PutSecretValue,
        json!({"SecretId": "bin", "SecretBinary": encoded, "ClientRequestToken": token(3)}),
    )
    .await;
    let got = h.ok(GetSecretValue, json!({"SecretId": "bin"})).await;
    assert_eq!(got["SecretBinary"], json!(encoded));
    assert!(got.get("SecretString").is_none(), "{got}");
    let previous = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "bin", "VersionStage": "AWSPREVIOUS"}),
        )
        .await;
    assert_eq!(previous["SecretString"], json!("text first"));
    assert!(previous.get("SecretBinary").is_none(), "{previous}");
}

#[tokio::test]
pub async fn put_secret_value_leaves_older_versions_deprecated_but_readable() {
    let h = Harness::new();
    let (_, v1) = h.create("dep", "one").await;
    let v2 = h.put("dep", "two").await;
    let v3 = h.put("dep", "three").await;
    let ids = |listed: &Value| -> Vec<String> {
        listed["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["VersionId"].as_str().unwrap().to_string())
            .collect()
    };
    let labelled = h.ok(ListSecretVersionIds, json!({"SecretId": "dep"})).await;
    assert_eq!(ids(&labelled).len(), 2, "label-less versions are hidden");
    assert!(!ids(&labelled).contains(&v1));
    let all = h
        .ok(
            ListSecretVersionIds,
            json!({"SecretId": "dep", "IncludeDeprecated": true}),
        )
        .await;
    let mut listed = ids(&all);
    listed.sort();
    assert_eq!(listed, [v1.clone(), v2, v3]);
    let old = all["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["VersionId"] == json!(v1))
        .unwrap();
    assert!(old.get("VersionStages").is_none(), "{old}");
    let got = h
        .ok(GetSecretValue, json!({"SecretId": "dep", "VersionId": v1}))
        .await;
    assert_eq!(got["SecretString"], json!("one"));
    assert_eq!(got["VersionStages"], json!([]));
}

#[tokio::test]
pub async fn put_secret_value_prunes_the_oldest_deprecated_versions_after_a_day() {
    let h = Harness::new();
    let (_, oldest) = h.create("many", "v0").await;
    // 101 more values at once: 100 deprecated versions, AWSPREVIOUS and AWSCURRENT.
    for i in 1..=101 {
        h.put("many", &format!("v{i}")).await;
    }
    assert_eq!(h.version_count("many").await, 102, "all younger than a day");
    // A day later, one more value makes 101 deprecated versions: the oldest goes.
    h.advance(DAY + 1);
    h.put("many", "v102").await;
    assert_eq!(h.version_count("many").await, 102);
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "many", "VersionId": oldest}),
        )
        .await,
        "ResourceNotFoundException",
        &format!("Secrets Manager can't find the specified secret value for VersionId: {oldest}"),
    );
}

#[tokio::test]
pub async fn put_secret_value_reused_token_with_another_value_is_resource_exists() {
    let h = Harness::new();
    let (arn, _) = h.create("conflict", "one").await;
    let version = token(5);
    h.ok(
        PutSecretValue,
        json!({"SecretId": "conflict", "SecretString": "two", "ClientRequestToken": version}),
    )
    .await;
    expect_error(
        &h.err(
            PutSecretValue,
            json!({"SecretId": "conflict", "SecretString": "other", "ClientRequestToken": version}),
        )
        .await,
        "ResourceExistsException",
        &format!("You can't use ClientRequestToken {version} because that value is already in use for a version of secret {arn}."),
    );
    let got = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "conflict", "VersionId": version}),
        )
        .await;
    assert_eq!(got["SecretString"], json!("two"), "versions are immutable");
}

#[tokio::test]
pub async fn put_secret_value_malformed_requests_change_nothing() {
    let h = Harness::new();
    h.create("strict", "one").await;
    let tok = token(8);
    let cases: Vec<(Value, &str, String)> = vec![
        (
            json!({"SecretId": "strict", "ClientRequestToken": tok}),
            "InvalidRequestException",
            "You must provide either SecretString or SecretBinary.".into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "a", "SecretBinary": "Yg==",
                   "ClientRequestToken": tok}),
            "InvalidParameterException",
            BOTH_VALUES.into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "v"}),
            "InvalidRequestException",
            TOKEN_REQUIRED.into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "v", "ClientRequestToken": "too-short"}),
            "InvalidParameterException",
            "Invalid ClientRequestToken: it must be between 32 and 64 characters long.".into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "x".repeat(65_537),
                   "ClientRequestToken": tok}),
            "InvalidParameterException",
            "The secret value exceeds the maximum size of 65536 bytes.".into(),
        ),
        (
            json!({"SecretId": "strict", "SecretString": "v", "ClientRequestToken": tok,
                   "VersionStages": []}),
            "InvalidParameterException",
            "VersionStages must list between 1 and 20 staging labels.".into(),
        ),
        (
            json!({"SecretId": "missing", "SecretString": "v", "ClientRequestToken": tok}),
            "ResourceNotFoundException",
            SECRET_NOT_FOUND.into(),
        ),
    ];
    for (body, code, message) in cases {
        let e = h.err(PutSecretValue, body.clone()).await;
        assert_eq!((e.code(), e.message()), (code, message.as_str()), "{body}");
    }
    let e = h
        .err(
            PutSecretValue,
            json!({"SecretId": "strict", "SecretBinary": "not base64!", "ClientRequestToken": tok}),
        )
        .await;
    assert_eq!(e.code(), "SerializationException");
    // Validation comes before the lookup: a missing secret with no value is the shape error.
    expect_error(
        &h.err(
            PutSecretValue,
            json!({"SecretId": "missing", "ClientRequestToken": tok}),
        )
        .await,
        "InvalidRequestException",
        "You must provide either SecretString or SecretBinary.",
    );
    assert_eq!(h.version_count("strict").await, 1);
    assert_eq!(h.current("strict").await, "one");
}

#[tokio::test]
pub async fn put_secret_value_with_disabled_key_is_encryption_failure() {
    let h = Harness::new();
    h.keys.create_key(&Scope::new(REGION, A), Some("alias/app"));
    h.ok(
        CreateSecret,
        json!({"Name": "k", "SecretString": "v", "KmsKeyId": "alias/app",
               "ClientRequestToken": token(1)}),
    )
    .await;
    h.keys
        .set_enabled(&Scope::new(REGION, A), "alias/app", false)
        .unwrap();
    let e = h
        .err(
            PutSecretValue,
            json!({"SecretId": "k", "SecretString": "w", "ClientRequestToken": token(2)}),
        )
        .await;
    assert_eq!(e.code(), "EncryptionFailure", "{}", e.message());
    assert_eq!(h.version_count("k").await, 1);
}
