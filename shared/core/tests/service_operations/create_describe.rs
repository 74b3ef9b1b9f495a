//! CreateSecret and DescribeSecret: the ARN, the first version, idempotent retries, the input
//! rules, and the metadata view with its omitted members and dates.

use crate::harness::*;
use base64::Engine;
use coffer_core::ids::Scope;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

cases! {
    CreateSecret Behaviour create_secret_returns_arn_name_and_version_id,
    CreateSecret Behaviour create_secret_binary_value_reads_back_as_binary,
    CreateSecret Behaviour create_secret_without_value_has_no_version_until_one_is_put,
    PutSecretValue Behaviour create_secret_without_value_has_no_version_until_one_is_put,
    CreateSecret Behaviour create_secret_retry_with_same_token_and_value_is_idempotent,
    CreateSecret Behaviour create_secret_with_customer_key_encrypts_under_it,
    CreateSecret Error create_secret_existing_name_is_resource_exists,
    CreateSecret Error create_secret_malformed_requests_are_refused_before_anything_is_created,
    CreateSecret Error create_secret_tag_rules_are_enforced,
    CreateSecret Error create_secret_name_scheduled_for_deletion_is_invalid_request,
    CreateSecret Error create_secret_with_missing_or_disabled_key_creates_nothing,
    DescribeSecret Behaviour describe_secret_returns_metadata_and_omits_empty_members,
    DescribeSecret Behaviour describe_secret_accepts_name_full_arn_and_partial_arn,
    DescribeSecret Behaviour describe_secret_dates_follow_the_clock,
    DescribeSecret Error describe_secret_unknown_or_malformed_secret_id,
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn secret_count(h: &Harness) -> usize {
    let listed = h
        .ok(ListSecrets, json!({"IncludePlannedDeletion": true}))
        .await;
    listed["SecretList"].as_array().unwrap().len()
}

#[tokio::test]
pub async fn create_secret_returns_arn_name_and_version_id() {
    let h = Harness::new();
    let version = token(1);
    let out = h
        .ok(
            CreateSecret,
            json!({"Name": "app/db", "SecretString": "s3cr3t", "ClientRequestToken": version}),
        )
        .await;
    assert_eq!(keys(&out), BTreeSet::from(["ARN", "Name", "VersionId"]));
    assert_eq!(out["Name"], json!("app/db"));
    assert_eq!(out["VersionId"], json!(version));
    let arn = out["ARN"].as_str().unwrap();
    let prefix = format!("arn:aws:secretsmanager:{REGION}:{A}:secret:app/db-");
    let suffix = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn}"));
    assert_eq!(suffix.len(), 6, "six random characters end the ARN: {arn}");
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()), "{arn}");

    let got = h.ok(GetSecretValue, json!({"SecretId": "app/db"})).await;
    assert_eq!(got["ARN"], json!(arn));
    assert_eq!(got["SecretString"], json!("s3cr3t"));
    assert_eq!(got["VersionId"], json!(version));
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(got["CreatedDate"], json!(secs(T0)));

    // A second secret gets another suffix.
    let (other, _) = h.create("app/db2", "v").await;
    assert_ne!(&other[other.len() - 6..], suffix);
}

#[tokio::test]
pub async fn create_secret_binary_value_reads_back_as_binary() {
    let h = Harness::new();
    let bytes: Vec<u8> = (0u8..=255).chain([0, 0, 255]).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    h.ok(
        CreateSecret,
        json!({"Name": "bin", "SecretBinary": encoded, "ClientRequestToken": token(1)}),
    )
    .await;
    let got = h.ok(GetSecretValue, json!({"SecretId": "bin"})).await;
    assert_eq!(got["SecretBinary"], json!(encoded));
    assert!(got.get("SecretString").is_none(), "{got}");
}

#[tokio::test]
pub async fn create_secret_without_value_has_no_version_until_one_is_put() {
    let h = Harness::new();
    let out = h
        .ok(
            CreateSecret,
            json!({"Name": "empty", "Description": "metadata only"}),
        )
        .await;
    assert_eq!(keys(&out), BTreeSet::from(["ARN", "Name"]), "no VersionId");
    let described = h.describe("empty").await;
    assert!(described.get("VersionIdsToStages").is_none(), "{described}");
    expect_error(
        &h.err(GetSecretValue, json!({"SecretId": "empty"})).await,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    );
    // The first value of a secret is AWSCURRENT even when other labels are asked for.
    let put = h
        .ok(
            PutSecretValue,
            json!({"SecretId": "empty", "SecretString": "first", "ClientRequestToken": token(2),
                   "VersionStages": ["STAGED"]}),
        )
        .await;
    let mut stages: Vec<String> = serde_json::from_value(put["VersionStages"].clone()).unwrap();
    stages.sort();
    assert_eq!(stages, ["AWSCURRENT", "STAGED"]);
    assert_eq!(h.current("empty").await, "first");
}

#[tokio::test]
pub async fn create_secret_retry_with_same_token_and_value_is_idempotent() {
    let h = Harness::new();
    let body = json!({"Name": "retry", "SecretString": "same", "ClientRequestToken": token(7)});
    let first = h.ok(CreateSecret, body.clone()).await;
    h.advance(HOUR);
    let second = h.ok(CreateSecret, body).await;
    assert_eq!(
        first, second,
        "a retry answers what the first call answered"
    );
    assert_eq!(h.version_count("retry").await, 1);
    let described = h.describe("retry").await;
    assert_eq!(
        described["LastChangedDate"],
        json!(secs(T0)),
        "nothing changed"
    );
}

#[tokio::test]
pub async fn create_secret_with_customer_key_encrypts_under_it() {
    let h = Harness::new();
    let key_arn = h.keys.create_key(&Scope::new(REGION, A), Some("alias/app"));
    h.ok(
        CreateSecret,
        json!({"Name": "keyed", "SecretString": "v", "KmsKeyId": "alias/app",
               "ClientRequestToken": token(1)}),
    )
    .await;
    assert_eq!(h.describe("keyed").await["KmsKeyId"], json!("alias/app"));
    let versions = h
        .ok(ListSecretVersionIds, json!({"SecretId": "keyed"}))
        .await;
    assert_eq!(versions["Versions"][0]["KmsKeyIds"], json!([key_arn]));
    // Disabling the default key does not matter to it; disabling its own key does.
    h.keys
        .set_enabled(
            &Scope::new(REGION, A),
            coffer_core::ports::DEFAULT_KEY_ALIAS,
            false,
        )
        .unwrap();
    assert_eq!(h.current("keyed").await, "v");
    h.keys
        .set_enabled(&Scope::new(REGION, A), "alias/app", false)
        .unwrap();
    assert_eq!(
        h.err(GetSecretValue, json!({"SecretId": "keyed"}))
            .await
            .code(),
        "DecryptionFailure"
    );
}

#[tokio::test]
pub async fn create_secret_existing_name_is_resource_exists() {
    let h = Harness::new();
    let first = token(1);
    let created = h
        .ok(
            CreateSecret,
            json!({"Name": "dup", "SecretString": "one", "ClientRequestToken": first}),
        )
        .await;
    let arn = created["ARN"].as_str().unwrap();
    expect_error(
        &h.err(
            CreateSecret,
            json!({"Name": "dup", "SecretString": "two", "ClientRequestToken": token(2)}),
        )
        .await,
        "ResourceExistsException",
        "The operation failed because the secret dup already exists.",
    );
    expect_error(
        &h.err(CreateSecret, json!({"Name": "dup"})).await,
        "ResourceExistsException",
        "The operation failed because the secret dup already exists.",
    );
    // The token of the existing version with another value.
    expect_error(
        &h.err(
            CreateSecret,
            json!({"Name": "dup", "SecretString": "two", "ClientRequestToken": first}),
        )
        .await,
        "ResourceExistsException",
        &format!("You can't use ClientRequestToken {first} because that value is already in use for a version of secret {arn}."),
    );
    assert_eq!(h.current("dup").await, "one");
    assert_eq!(h.version_count("dup").await, 1);
}

#[tokio::test]
pub async fn create_secret_malformed_requests_are_refused_before_anything_is_created() {
    let h = Harness::new();
    let tok = token(1);
    let cases: Vec<(Value, &str, String)> = vec![
        (
            json!({"SecretString": "v", "ClientRequestToken": tok}),
            "InvalidParameterException",
            "You must specify Name.".into(),
        ),
        (
            json!({"Name": "has space", "SecretString": "v", "ClientRequestToken": tok}),
            "ValidationException",
            INVALID_NAME.into(),
        ),
        (
            json!({"Name": "x".repeat(513), "SecretString": "v", "ClientRequestToken": tok}),
            "InvalidParameterException",
            "Invalid name: it must be between 1 and 512 characters long.".into(),
        ),
        (
            json!({"Name": "n", "SecretString": "v", "SecretBinary": "AAEC", "ClientRequestToken": tok}),
            "InvalidParameterException",
            BOTH_VALUES.into(),
        ),
        (
            json!({"Name": "n", "SecretString": "v"}),
            "InvalidRequestException",
            TOKEN_REQUIRED.into(),
        ),
        (
            json!({"Name": "n", "SecretString": "v", "ClientRequestToken": "too-short"}),
            "InvalidParameterException",
            "Invalid ClientRequestToken: it must be between 32 and 64 characters long.".into(),
        ),
        (
            json!({"Name": "n", "SecretString": "x".repeat(65_537), "ClientRequestToken": tok}),
            "InvalidParameterException",
            "The secret value exceeds the maximum size of 65536 bytes.".into(),
        ),
        (
            json!({"Name": "n", "Description": "d".repeat(2049)}),
            "InvalidParameterException",
            "Invalid Description: it must be at most 2048 characters long.".into(),
        ),
    ];
    for (body, code, message) in cases {
        let e = h.err(CreateSecret, body.clone()).await;
        assert_eq!((e.code(), e.message()), (code, message.as_str()), "{body}");
    }
    let e = h
        .err(CreateSecret, json!({"Name": 42, "SecretString": "v"}))
        .await;
    assert_eq!(e.code(), "SerializationException");
    // The largest value is accepted.
    h.ok(
        CreateSecret,
        json!({"Name": "max", "SecretString": "x".repeat(65_536), "ClientRequestToken": tok}),
    )
    .await;
    assert_eq!(secret_count(&h).await, 1, "only the valid create landed");
}

#[tokio::test]
pub async fn create_secret_tag_rules_are_enforced() {
    let h = Harness::new();
    let tags = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"Key": format!("k{i:02}"), "Value": "v"}))
            .collect()
    };
    expect_error(
        &h.err(CreateSecret, json!({"Name": "t", "Tags": tags(51)}))
            .await,
        "LimitExceededException",
        "A secret can have at most 50 tags.",
    );
    expect_error(
        &h.err(
            CreateSecret,
            json!({"Name": "t", "Tags": [{"Key": "aws:owner", "Value": "x"}]}),
        )
        .await,
        "InvalidParameterException",
        "Invalid tag key: the aws: prefix is reserved for use by AWS.",
    );
    assert_eq!(secret_count(&h).await, 0);
    h.ok(CreateSecret, json!({"Name": "t", "Tags": tags(50)}))
        .await;
    let described = h.describe("t").await;
    assert_eq!(described["Tags"].as_array().unwrap().len(), 50);
    assert_eq!(described["Tags"][0], json!({"Key": "k00", "Value": "v"}));
}

#[tokio::test]
pub async fn create_secret_name_scheduled_for_deletion_is_invalid_request() {
    let h = Harness::new();
    h.create("doomed", "v").await;
    h.ok(DeleteSecret, json!({"SecretId": "doomed"})).await;
    expect_error(
        &h.err(
            CreateSecret,
            json!({"Name": "doomed", "SecretString": "again", "ClientRequestToken": token(9)}),
        )
        .await,
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
}

#[tokio::test]
pub async fn create_secret_with_missing_or_disabled_key_creates_nothing() {
    let h = Harness::new();
    expect_error(
        &h.err(
            CreateSecret,
            json!({"Name": "k", "SecretString": "v", "KmsKeyId": "alias/nope",
                   "ClientRequestToken": token(1)}),
        )
        .await,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified encryption key.",
    );
    h.keys.create_key(&Scope::new(REGION, A), Some("alias/off"));
    h.keys
        .set_enabled(&Scope::new(REGION, A), "alias/off", false)
        .unwrap();
    let e = h
        .err(
            CreateSecret,
            json!({"Name": "k", "SecretString": "v", "KmsKeyId": "alias/off",
                   "ClientRequestToken": token(1)}),
        )
        .await;
    assert_eq!(e.code(), "EncryptionFailure", "{}", e.message());
    assert_eq!(secret_count(&h).await, 0);
}

#[tokio::test]
pub async fn describe_secret_returns_metadata_and_omits_empty_members() {
    let h = Harness::new();
    let version = token(1);
    let created = h
        .ok(
            CreateSecret,
            json!({"Name": "described", "Description": "the description", "Type": "db",
                   "Tags": [{"Key": "team", "Value": "platform"}],
                   "SecretString": "v", "ClientRequestToken": version}),
        )
        .await;
    let d = h.describe("described").await;
    assert_eq!(
        keys(&d),
        BTreeSet::from([
            "ARN",
            "Name",
            "Description",
            "Type",
            "Tags",
            "VersionIdsToStages",
            "CreatedDate",
            "LastChangedDate",
        ]),
        "members without a value are omitted: {d}"
    );
    assert_eq!(d["ARN"], created["ARN"]);
    assert_eq!(d["Name"], json!("described"));
    assert_eq!(d["Description"], json!("the description"));
    assert_eq!(d["Type"], json!("db"));
    assert_eq!(d["Tags"], json!([{"Key": "team", "Value": "platform"}]));
    assert_eq!(
        d["VersionIdsToStages"],
        json!({ version.as_str(): ["AWSCURRENT"] })
    );
    assert_eq!(d["CreatedDate"], json!(secs(T0)));
    assert_eq!(d["LastChangedDate"], json!(secs(T0)));

    // An empty description is not shown, and a secret without tags has no Tags member.
    h.ok(CreateSecret, json!({"Name": "bare", "Description": ""}))
        .await;
    let bare = h.describe("bare").await;
    assert_eq!(
        keys(&bare),
        BTreeSet::from(["ARN", "Name", "CreatedDate", "LastChangedDate"]),
        "{bare}"
    );
}

#[tokio::test]
pub async fn describe_secret_accepts_name_full_arn_and_partial_arn() {
    let h = Harness::new();
    let (arn, _) = h.create("ids/by-form", "v").await;
    // A name that ends like an ARN suffix is still a name.
    h.create("tricky-a1b2c3", "t").await;
    for id in [
        "ids/by-form".to_string(),
        arn.clone(),
        partial(&arn),
        format!("arn:aws:secretsmanager:{REGION}:{A}:secret:ids/by-form"),
    ] {
        let d = h.describe(&id).await;
        assert_eq!(d["ARN"], json!(arn), "by {id}");
        assert_eq!(d["Name"], json!("ids/by-form"), "by {id}");
    }
    assert_eq!(
        h.describe("tricky-a1b2c3").await["Name"],
        json!("tricky-a1b2c3")
    );
}

#[tokio::test]
pub async fn describe_secret_dates_follow_the_clock() {
    let h = Harness::new();
    h.create("dated", "v").await;
    let d = h.describe("dated").await;
    assert!(d.get("LastAccessedDate").is_none(), "never read: {d}");

    // Read on day 2 at noon: LastAccessedDate is that day's midnight (UTC).
    h.advance(DAY);
    h.current("dated").await;
    let midnight = T0 + DAY - 12 * HOUR;
    assert_eq!(
        h.describe("dated").await["LastAccessedDate"],
        json!(secs(midnight))
    );

    // A change three hours later moves LastChangedDate, not CreatedDate.
    h.advance(3 * HOUR);
    h.ok(
        UpdateSecret,
        json!({"SecretId": "dated", "Description": "changed"}),
    )
    .await;
    let d = h.describe("dated").await;
    assert_eq!(d["CreatedDate"], json!(secs(T0)));
    assert_eq!(d["LastChangedDate"], json!(secs(T0 + DAY + 3 * HOUR)));
    assert_eq!(d["LastAccessedDate"], json!(secs(midnight)));
}

#[tokio::test]
pub async fn describe_secret_unknown_or_malformed_secret_id() {
    let h = Harness::new();
    let (arn, _) = h.create("known", "v").await;
    let wrong_suffix = format!(
        "{}-{}",
        partial(&arn),
        if arn.ends_with("AAAAAA") {
            "BBBBBB"
        } else {
            "AAAAAA"
        }
    );
    let other_region = arn.replace(REGION, "eu-west-1");
    for id in ["never-created".to_string(), wrong_suffix, other_region] {
        expect_error(
            &h.err(DescribeSecret, json!({"SecretId": id})).await,
            "ResourceNotFoundException",
            SECRET_NOT_FOUND,
        );
    }
    for bad in ["star*name", "what?", "back\\slash"] {
        expect_error(
            &h.err(DescribeSecret, json!({"SecretId": bad})).await,
            "ValidationException",
            INVALID_NAME,
        );
    }
    expect_error(
        &h.err(DescribeSecret, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": ""})).await,
        "InvalidParameterException",
        "Invalid SecretId: it must be between 1 and 2048 characters long.",
    );
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": "arn:aws:s3:::bucket"}))
            .await,
        "InvalidParameterException",
        "Invalid SecretId: arn:aws:s3:::bucket is not a valid Secrets Manager secret ARN.",
    );
    assert_eq!(
        h.err(DescribeSecret, json!({"SecretId": 42})).await.code(),
        "SerializationException"
    );
}
