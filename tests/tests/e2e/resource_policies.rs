//! Get/Put/Delete/ListResourcePolicies and ValidateResourcePolicy: stored and syntax-checked
//! (enforcement is a later issue). ListResourcePolicies is newer than the Rust SDK in use, so
//! it goes through a hand-signed request.

use coffer_e2e::*;
use serde_json::json;

fn policy(account: &str, arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowRead",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": arn
        }]
    })
    .to_string()
}

fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).expect("account in ARN").to_string()
}

#[tokio::test]
async fn put_get_delete_resource_policy_roundtrip() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-roundtrip");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let doc = policy(&account_of(&arn), "*");

    let none = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy without a policy");
    assert_eq!(none.arn(), Some(arn.as_str()));
    assert!(none.resource_policy().is_none(), "no policy yet");

    let put = client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(&doc)
        .send()
        .await
        .expect("PutResourcePolicy");
    assert_eq!(put.arn(), Some(arn.as_str()));
    assert_eq!(put.name(), Some(name.as_str()));

    let got = client
        .get_resource_policy()
        .secret_id(&arn)
        .send()
        .await
        .expect("GetResourcePolicy");
    let stored: serde_json::Value =
        serde_json::from_str(got.resource_policy().expect("ResourcePolicy")).expect("JSON");
    let original: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(stored, original, "policy stored as given");

    let del = client
        .delete_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("DeleteResourcePolicy");
    assert_eq!(del.arn(), Some(arn.as_str()));
    let after = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("GetResourcePolicy after delete");
    assert!(after.resource_policy().is_none());
}

#[tokio::test]
async fn put_resource_policy_malformed_json_fails_with_malformed_policy_document() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-malformed");
    create_string_secret(&client, &name, "v").await;
    for bad in [
        "{not json",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"secretsmanager:*","Resource":"*","Principal":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*","Principal":{"AWS":"*"}}]}"#,
        r#"[1,2,3]"#,
    ] {
        let err = expect_error(
            client
                .put_resource_policy()
                .secret_id(&name)
                .resource_policy(bad)
                .send()
                .await,
            "MalformedPolicyDocumentException",
        );
        assert!(err.is_malformed_policy_document_exception(), "{bad}");
    }
    let got = client
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert!(got.resource_policy().is_none(), "nothing stored");
}

#[tokio::test]
async fn put_resource_policy_over_20480_chars_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-large");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let account = account_of(&arn);
    let mut statements = Vec::new();
    for i in 0..400 {
        statements.push(json!({
            "Sid": format!("S{i}"),
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        }));
    }
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    assert!(doc.len() > 20_480);
    expect_error_in(
        client
            .put_resource_policy()
            .secret_id(&name)
            .resource_policy(doc)
            .send()
            .await,
        &[
            "InvalidParameterException",
            "ValidationException",
            "MalformedPolicyDocumentException",
            "LimitExceededException",
        ],
    );
}

#[tokio::test]
async fn put_resource_policy_named_other_than_default_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-named");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    // The SDK in use predates PolicyName; send it by hand.
    let resp = server.raw_call(
        "PutResourcePolicy",
        &json!({
            "SecretId": name,
            "ResourcePolicy": policy(&account_of(&arn), "*"),
            "PolicyName": "other"
        }),
    );
    assert_eq!(
        resp.status,
        400,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(
        resp.error_code().as_deref(),
        Some("InvalidParameterException")
    );
    // Getting a policy name that does not exist is ResourceNotFound.
    let resp = server.raw_call(
        "GetResourcePolicy",
        &json!({"SecretId": name, "PolicyName": "other"}),
    );
    assert_eq!(
        resp.error_code().as_deref(),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn list_resource_policies_lists_default_once_attached() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-list");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let empty = server.raw_call("ListResourcePolicies", &json!({"SecretId": name}));
    assert_eq!(
        empty.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&empty.body)
    );
    assert_eq!(
        empty.json()["ResourcePolicies"],
        json!([]),
        "ResourcePolicies is required and empty without a policy"
    );
    client
        .put_resource_policy()
        .secret_id(&name)
        .resource_policy(policy(&account_of(&arn), "*"))
        .send()
        .await
        .expect("put");
    let listed = server.raw_call("ListResourcePolicies", &json!({"SecretId": arn}));
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.json()["ResourcePolicies"],
        json!([{"PolicyName": "default"}])
    );
    let missing = server.raw_call(
        "ListResourcePolicies",
        &json!({"SecretId": unique_name("policy-list-missing")}),
    );
    assert_eq!(
        missing.error_code().as_deref(),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn validate_resource_policy_accepts_valid_and_rejects_malformed() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("policy-validate");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let ok = client
        .validate_resource_policy()
        .secret_id(&name)
        .resource_policy(policy(&account_of(&arn), &arn))
        .send()
        .await
        .expect("ValidateResourcePolicy");
    assert!(ok.policy_validation_passed());
    assert!(ok.validation_errors().is_empty());

    // Without a SecretId too.
    let ok = client
        .validate_resource_policy()
        .resource_policy(policy(&account_of(&arn), "*"))
        .send()
        .await
        .expect("ValidateResourcePolicy without SecretId");
    assert!(ok.policy_validation_passed());

    let err = expect_error(
        client
            .validate_resource_policy()
            .resource_policy("{\"Statement\": oops")
            .send()
            .await,
        "MalformedPolicyDocumentException",
    );
    assert!(err.is_malformed_policy_document_exception());
}

#[tokio::test]
async fn resource_policy_ops_on_unknown_secret_are_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let missing = unique_name("policy-missing");
    expect_error(
        client
            .get_resource_policy()
            .secret_id(&missing)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    expect_error(
        client
            .put_resource_policy()
            .secret_id(&missing)
            .resource_policy(policy("123456789012", "*"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    expect_error(
        client
            .delete_resource_policy()
            .secret_id(&missing)
            .send()
            .await,
        "ResourceNotFoundException",
    );
}
