//! Resource policies: GetResourcePolicy, PutResourcePolicy, DeleteResourcePolicy,
//! ValidateResourcePolicy, and Coffer's ListResourcePolicies (authorized as
//! `secretsmanager:GetResourcePolicy`; one policy per secret, named `default`).

use crate::harness::*;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};

cases! {
    GetResourcePolicy Behaviour get_resource_policy_without_and_with_a_policy,
    GetResourcePolicy Error get_resource_policy_errors,
    PutResourcePolicy Behaviour put_resource_policy_stores_and_replaces_the_policy,
    PutResourcePolicy Behaviour put_resource_policy_is_enforced_for_other_callers,
    PutResourcePolicy Error put_resource_policy_malformed_documents_store_nothing,
    PutResourcePolicy Error put_resource_policy_public_lockout_and_name_rules,
    DeleteResourcePolicy Behaviour delete_resource_policy_removes_it_and_is_idempotent,
    DeleteResourcePolicy Error delete_resource_policy_errors,
    ListResourcePolicies Behaviour list_resource_policies_lists_default_once_attached,
    ListResourcePolicies Behaviour list_resource_policies_is_authorized_as_get_resource_policy,
    ListResourcePolicies Error list_resource_policies_errors,
    ValidateResourcePolicy Behaviour validate_resource_policy_passes_a_good_policy,
    ValidateResourcePolicy Behaviour validate_resource_policy_reports_each_failed_check,
    ValidateResourcePolicy Error validate_resource_policy_errors,
}

fn root() -> String {
    format!("arn:aws:iam::{A}:root")
}

fn public_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Open", "Effect": "Allow",
        "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    .to_string()
}

async fn stored_policy(h: &Harness, id: &str) -> Option<String> {
    let got = h.ok(GetResourcePolicy, json!({"SecretId": id})).await;
    got.get("ResourcePolicy")
        .map(|p| p.as_str().unwrap().to_string())
}

#[tokio::test]
pub async fn get_resource_policy_without_and_with_a_policy() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    let none = h.ok(GetResourcePolicy, json!({"SecretId": "pol"})).await;
    assert_eq!(none, json!({"ARN": arn, "Name": "pol"}), "no policy yet");
    let doc = grant(&root(), "secretsmanager:GetSecretValue");
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "pol", "ResourcePolicy": doc}),
    )
    .await;
    let got = h.ok(GetResourcePolicy, json!({"SecretId": arn})).await;
    assert_eq!(
        got,
        json!({"ARN": arn, "Name": "pol", "ResourcePolicy": doc, "PolicyName": "default"})
    );
    let named = h
        .ok(
            GetResourcePolicy,
            json!({"SecretId": "pol", "PolicyName": "default"}),
        )
        .await;
    assert_eq!(named, got);
}

#[tokio::test]
pub async fn get_resource_policy_errors() {
    let h = Harness::new();
    h.create("pol", "v").await;
    expect_error(
        &h.err(GetResourcePolicy, json!({"SecretId": "nope"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(
            GetResourcePolicy,
            json!({"SecretId": "pol", "PolicyName": "other"}),
        )
        .await,
        "ResourceNotFoundException",
        "Secrets Manager can't find a resource policy named other for the secret.",
    );
    expect_error(
        &h.err(
            GetResourcePolicy,
            json!({"SecretId": "pol", "PolicyName": "bad name!"}),
        )
        .await,
        "InvalidParameterException",
        "Invalid PolicyName: it must be 1 to 64 letters, digits, hyphens or underscores.",
    );
}

#[tokio::test]
pub async fn put_resource_policy_stores_and_replaces_the_policy() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    let first = grant(&root(), "secretsmanager:GetSecretValue");
    let out = h
        .ok(
            PutResourcePolicy,
            json!({"SecretId": "pol", "ResourcePolicy": first}),
        )
        .await;
    assert_eq!(out["ARN"], json!(arn));
    assert_eq!(out["Name"], json!("pol"));
    assert_eq!(
        stored_policy(&h, "pol").await.as_deref(),
        Some(first.as_str())
    );
    // A second put replaces it (one policy per secret), stored as given.
    let second = format!(" {} ", grant(&root(), "secretsmanager:DescribeSecret"));
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "pol", "ResourcePolicy": second, "PolicyName": "default",
               "BlockPublicPolicy": true}),
    )
    .await;
    assert_eq!(
        stored_policy(&h, "pol").await.as_deref(),
        Some(second.as_str())
    );
    let listed = h.ok(ListResourcePolicies, json!({"SecretId": "pol"})).await;
    assert_eq!(listed["ResourcePolicies"].as_array().unwrap().len(), 1);
    // Without BlockPublicPolicy a public policy is accepted, as AWS's default allows.
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "pol", "ResourcePolicy": public_policy()}),
    )
    .await;
    assert_eq!(stored_policy(&h, "pol").await, Some(public_policy()));
}

#[tokio::test]
pub async fn put_resource_policy_is_enforced_for_other_callers() {
    let h = Harness::new();
    let (arn, _) = h.create("shared", "the value").await;
    // bob's own policy does not cover the secret: the resource policy is what lets him read.
    let bob = h
        .user("bob", allow(&["secretsmanager:ListSecrets"], "*"))
        .await;
    let read = json!({"SecretId": arn});
    let denied = h.call_as(&bob, GetSecretValue, &read).await.unwrap_err();
    assert_eq!(denied.code(), "AccessDeniedException");
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "shared",
               "ResourcePolicy": grant(&bob.principal.arn, "secretsmanager:GetSecretValue")}),
    )
    .await;
    let got = h.call_as(&bob, GetSecretValue, &read).await.unwrap();
    assert_eq!(got["SecretString"], json!("the value"));
    h.ok(DeleteResourcePolicy, json!({"SecretId": "shared"}))
        .await;
    let denied = h.call_as(&bob, GetSecretValue, &read).await.unwrap_err();
    assert_eq!(denied.code(), "AccessDeniedException");
}

#[tokio::test]
pub async fn put_resource_policy_malformed_documents_store_nothing() {
    let h = Harness::new();
    h.create("pol", "v").await;
    for bad in [
        "{not json",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"secretsmanager:*","Resource":"*","Principal":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*","Principal":{"AWS":"*"}}]}"#,
        "[1,2,3]",
    ] {
        let e = h
            .err(
                PutResourcePolicy,
                json!({"SecretId": "pol", "ResourcePolicy": bad}),
            )
            .await;
        assert_eq!(e.code(), "MalformedPolicyDocumentException", "{bad}");
        assert!(!e.message().is_empty());
    }
    expect_error(
        &h.err(PutResourcePolicy, json!({"SecretId": "pol"})).await,
        "InvalidParameterException",
        "You must specify ResourcePolicy.",
    );
    expect_error(
        &h.err(
            PutResourcePolicy,
            json!({"SecretId": "nope", "ResourcePolicy": grant(&root(), "secretsmanager:*")}),
        )
        .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert_eq!(stored_policy(&h, "pol").await, None, "nothing stored");
}

#[tokio::test]
pub async fn put_resource_policy_public_lockout_and_name_rules() {
    let h = Harness::new();
    h.create("pol", "v").await;
    expect_error(
        &h.err(
            PutResourcePolicy,
            json!({"SecretId": "pol", "ResourcePolicy": public_policy(), "BlockPublicPolicy": true}),
        )
        .await,
        "PublicPolicyException",
        "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.",
    );
    // A policy under which the caller could never change it again is refused.
    let lockout = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": {"AWS": root()}, "Action": "secretsmanager:PutResourcePolicy",
        "Resource": "*"}]})
    .to_string();
    expect_error(
        &h.err(
            PutResourcePolicy,
            json!({"SecretId": "pol", "ResourcePolicy": lockout}),
        )
        .await,
        "MalformedPolicyDocumentException",
        &format!("The new resource policy will not allow you to update the resource policy in the future: it does not let {} perform secretsmanager:PutResourcePolicy on this secret.", root()),
    );
    expect_error(
        &h.err(
            PutResourcePolicy,
            json!({"SecretId": "pol", "ResourcePolicy": grant(&root(), "secretsmanager:*"),
                   "PolicyName": "other"}),
        )
        .await,
        "InvalidParameterException",
        "You can only attach the default resource policy; PolicyName must be default.",
    );
    assert_eq!(stored_policy(&h, "pol").await, None, "nothing stored");
}

#[tokio::test]
pub async fn delete_resource_policy_removes_it_and_is_idempotent() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "pol", "ResourcePolicy": grant(&root(), "secretsmanager:*")}),
    )
    .await;
    let out = h.ok(DeleteResourcePolicy, json!({"SecretId": "pol"})).await;
    assert_eq!(out["ARN"], json!(arn));
    assert_eq!(out["Name"], json!("pol"));
    assert_eq!(stored_policy(&h, "pol").await, None);
    // Deleting when there is none succeeds and changes nothing.
    h.advance(HOUR);
    let again = h.ok(DeleteResourcePolicy, json!({"SecretId": arn})).await;
    assert_eq!(again["ARN"], json!(arn));
    assert_eq!(h.describe("pol").await["LastChangedDate"], json!(secs(T0)));
}

#[tokio::test]
pub async fn delete_resource_policy_errors() {
    let h = Harness::new();
    h.create("pol", "v").await;
    expect_error(
        &h.err(DeleteResourcePolicy, json!({"SecretId": "nope"}))
            .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(
            DeleteResourcePolicy,
            json!({"SecretId": "pol", "PolicyName": "other"}),
        )
        .await,
        "ResourceNotFoundException",
        "Secrets Manager can't find a resource policy named other for the secret.",
    );
    expect_error(
        &h.err(DeleteResourcePolicy, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
}

#[tokio::test]
pub async fn list_resource_policies_lists_default_once_attached() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    let empty = h.ok(ListResourcePolicies, json!({"SecretId": "pol"})).await;
    assert_eq!(empty, json!({"ResourcePolicies": []}));
    h.ok(
        PutResourcePolicy,
        json!({"SecretId": "pol", "ResourcePolicy": grant(&root(), "secretsmanager:*")}),
    )
    .await;
    let listed = h
        .ok(
            ListResourcePolicies,
            json!({"SecretId": arn, "MaxResults": 1}),
        )
        .await;
    assert_eq!(
        listed,
        json!({"ResourcePolicies": [{"PolicyName": "default"}]}),
        "one page, no NextToken"
    );
}

#[tokio::test]
pub async fn list_resource_policies_is_authorized_as_get_resource_policy() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    let reader = h
        .user("reader", allow(&["secretsmanager:GetResourcePolicy"], &arn))
        .await;
    let listed = h
        .call_as(&reader, ListResourcePolicies, &json!({"SecretId": arn}))
        .await
        .unwrap();
    assert_eq!(listed, json!({"ResourcePolicies": []}));
    // There is no IAM action of its own: granting "ListResourcePolicies" grants nothing.
    let lister = h
        .user(
            "lister",
            allow(&["secretsmanager:ListResourcePolicies"], "*"),
        )
        .await;
    let e = h
        .call_as(&lister, ListResourcePolicies, &json!({"SecretId": arn}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "AccessDeniedException");
    assert!(
        e.message().contains("secretsmanager:GetResourcePolicy"),
        "{}",
        e.message()
    );
}

#[tokio::test]
pub async fn list_resource_policies_errors() {
    let h = Harness::new();
    h.create("pol", "v").await;
    expect_error(
        &h.err(ListResourcePolicies, json!({"SecretId": "nope"}))
            .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(ListResourcePolicies, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
    expect_error(
        &h.err(
            ListResourcePolicies,
            json!({"SecretId": "pol", "MaxResults": 0}),
        )
        .await,
        "InvalidParameterException",
        "Invalid MaxResults: 0. It must be between 1 and 100.",
    );
    expect_error(
        &h.err(
            ListResourcePolicies,
            json!({"SecretId": "pol", "NextToken": "forged"}),
        )
        .await,
        "InvalidNextTokenException",
        "The NextToken value is invalid.",
    );
}

#[tokio::test]
pub async fn validate_resource_policy_passes_a_good_policy() {
    let h = Harness::new();
    let (arn, _) = h.create("pol", "v").await;
    let passed = json!({"PolicyValidationPassed": true, "ValidationErrors": []});
    let doc = grant(&root(), "secretsmanager:GetSecretValue");
    assert_eq!(
        h.ok(
            ValidateResourcePolicy,
            json!({"SecretId": "pol", "ResourcePolicy": doc}),
        )
        .await,
        passed
    );
    // Without a SecretId too.
    assert_eq!(
        h.ok(ValidateResourcePolicy, json!({"ResourcePolicy": doc}))
            .await,
        passed
    );
    // Nothing is stored.
    assert_eq!(stored_policy(&h, &arn).await, None);
}

#[tokio::test]
pub async fn validate_resource_policy_reports_each_failed_check() {
    let h = Harness::new();
    let validate = |doc: String| {
        let h = &h;
        async move {
            h.ok(ValidateResourcePolicy, json!({"ResourcePolicy": doc}))
                .await
        }
    };
    let checks = |out: &Value| -> Vec<String> {
        out["ValidationErrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["CheckName"].as_str().unwrap().to_string())
            .collect()
    };
    let public = validate(public_policy()).await;
    assert_eq!(public["PolicyValidationPassed"], json!(false));
    assert_eq!(
        public["ValidationErrors"],
        json!([{"CheckName": "BROAD_ACCESS_CHECK",
                "ErrorMessage": "Statement[0] (Sid \"Open\") allows access to any principal without a condition that limits it to specific accounts, organizations, networks or source resources."}])
    );
    let lockout = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": "*", "Action": ["secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy"], "Resource": "*"}]})
    .to_string();
    let out = validate(lockout).await;
    assert_eq!(out["PolicyValidationPassed"], json!(false));
    assert_eq!(checks(&out), ["LOCKOUT_CHECK"]);
    // JSON that is not a valid policy is reported, not refused.
    let out = validate(r#"{"Version":"2012-10-17"}"#.to_string()).await;
    assert_eq!(out["PolicyValidationPassed"], json!(false));
    assert!(!checks(&out).is_empty());
    assert!(checks(&out).iter().all(|c| c == "SYNTAX_CHECK"), "{out}");
}

#[tokio::test]
pub async fn validate_resource_policy_errors() {
    let h = Harness::new();
    h.create("pol", "v").await;
    expect_error(
        &h.err(
            ValidateResourcePolicy,
            json!({"ResourcePolicy": "{\"Statement\": oops"}),
        )
        .await,
        "MalformedPolicyDocumentException",
        "The policy document is not valid JSON.",
    );
    expect_error(
        &h.err(ValidateResourcePolicy, json!({"SecretId": "pol"}))
            .await,
        "InvalidParameterException",
        "You must specify ResourcePolicy.",
    );
    expect_error(
        &h.err(
            ValidateResourcePolicy,
            json!({"SecretId": "nope", "ResourcePolicy": grant(&root(), "secretsmanager:*")}),
        )
        .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
}
