//! BatchGetSecretValue: a list of ids (values and per-secret errors) or a filtered, paged
//! listing, and one `GetSecretValue` audit event per secret read.

use crate::harness::*;
use base64::Engine;
use coffer_core::audit::AuditEventType;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

cases! {
    BatchGetSecretValue Behaviour batch_get_by_id_list_returns_values_and_per_secret_errors,
    BatchGetSecretValue Behaviour batch_get_by_filters_pages_through_live_matching_secrets,
    BatchGetSecretValue Behaviour batch_get_reports_a_denied_secret_in_errors,
    BatchGetSecretValue Error batch_get_malformed_requests_are_invalid_parameter,
    BatchGetSecretValue Error batch_get_foreign_or_tampered_next_token_is_invalid_next_token,
}

fn by_name(out: &Value) -> BTreeMap<String, Value> {
    out["SecretValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["Name"].as_str().unwrap().to_string(), v.clone()))
        .collect()
}

fn name_filter(prefix: &str) -> Value {
    json!([{"Key": "name", "Values": [prefix]}])
}

#[tokio::test]
pub async fn batch_get_by_id_list_returns_values_and_per_secret_errors() {
    let h = Harness::new();
    let (a_arn, a_version) = h.create("batch-a", "value-a").await;
    h.create("batch-b", "value-b").await;
    let encoded = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]);
    h.ok(
        CreateSecret,
        json!({"Name": "batch-bin", "SecretBinary": encoded, "ClientRequestToken": token(1)}),
    )
    .await;
    h.create("batch-gone", "dying").await;
    h.ok(DeleteSecret, json!({"SecretId": "batch-gone"})).await;
    h.audit.events.lock().unwrap().clear();

    let out = h
        .ok(
            BatchGetSecretValue,
            json!({"SecretIdList": [a_arn, "batch-b", "batch-bin", "batch-missing", "batch-gone"]}),
        )
        .await;
    assert!(out.get("NextToken").is_none(), "{out}");
    let values = by_name(&out);
    assert_eq!(
        values.keys().map(String::as_str).collect::<Vec<_>>(),
        ["batch-a", "batch-b", "batch-bin"]
    );
    assert_eq!(
        values["batch-a"],
        json!({"ARN": a_arn, "Name": "batch-a", "VersionId": a_version,
               "SecretString": "value-a", "VersionStages": ["AWSCURRENT"],
               "CreatedDate": secs(T0)})
    );
    assert_eq!(values["batch-b"]["SecretString"], json!("value-b"));
    assert_eq!(values["batch-bin"]["SecretBinary"], json!(encoded));
    assert!(values["batch-bin"].get("SecretString").is_none());
    assert_eq!(
        out["Errors"],
        json!([
            {"SecretId": "batch-missing", "ErrorCode": "ResourceNotFoundException",
             "Message": SECRET_NOT_FOUND},
            {"SecretId": "batch-gone", "ErrorCode": "InvalidRequestException",
             "Message": MARKED_FOR_DELETION},
        ])
    );
    // As in AWS, each secret of the batch is its own GetSecretValue event besides the call's.
    let names: Vec<(String, Option<String>)> = h
        .audit
        .events()
        .into_iter()
        .filter(|e| e.event_type == AuditEventType::AwsApiCall)
        .map(|e| (e.event_name, e.error_code))
        .collect();
    let reads = names.iter().filter(|(n, _)| n == "GetSecretValue").count();
    assert_eq!(reads, 5, "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|(n, _)| n == "BatchGetSecretValue")
            .count(),
        1
    );
    // The reads count as accesses.
    assert_eq!(
        h.describe("batch-b").await["LastAccessedDate"],
        json!(secs(T0 - 12 * HOUR))
    );
}

#[tokio::test]
pub async fn batch_get_by_filters_pages_through_live_matching_secrets() {
    let h = Harness::new();
    let mut expected = BTreeMap::new();
    for i in 0..5 {
        let name = format!("bf-{i}");
        h.create(&name, &format!("value-{i}")).await;
        expected.insert(name, format!("value-{i}"));
    }
    h.create("other", "not matched").await;
    h.create("bf-deleted", "scheduled").await;
    h.ok(DeleteSecret, json!({"SecretId": "bf-deleted"})).await;

    let mut got = BTreeMap::new();
    let mut next: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut body = json!({"Filters": name_filter("bf-"), "MaxResults": 2});
        if let Some(t) = &next {
            body["NextToken"] = json!(t);
        }
        let out = h.ok(BatchGetSecretValue, body).await;
        assert_eq!(out["Errors"], json!([]), "{out}");
        let page = by_name(&out);
        pages.push(page.len());
        for (name, v) in page {
            let value = v["SecretString"].as_str().unwrap().to_string();
            assert!(got.insert(name, value).is_none(), "a secret came twice");
        }
        next = out
            .get("NextToken")
            .map(|t| t.as_str().unwrap().to_string());
        if next.is_none() {
            break;
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [2, 2, 1]);
    assert_eq!(got, expected, "secrets scheduled for deletion are left out");
}

#[tokio::test]
pub async fn batch_get_reports_a_denied_secret_in_errors() {
    let h = Harness::new();
    let (a_arn, _) = h.create("mine", "readable").await;
    let (b_arn, _) = h.create("theirs", "hidden").await;
    let alice = h
        .user(
            "alice",
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Resource": "*",
                 "Action": ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"]},
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": a_arn}]}),
        )
        .await;
    let out = h
        .call_as(
            &alice,
            BatchGetSecretValue,
            &json!({"SecretIdList": [a_arn, b_arn]}),
        )
        .await
        .unwrap();
    assert_eq!(by_name(&out).keys().collect::<Vec<_>>(), ["mine"]);
    let errors = out["Errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(errors[0]["SecretId"], json!(b_arn));
    assert_eq!(errors[0]["ErrorCode"], json!("AccessDeniedException"));
    assert!(!out.to_string().contains("hidden"), "{out}");
    // With Filters, the same denial shows per secret.
    let out = h
        .call_as(
            &alice,
            BatchGetSecretValue,
            &json!({"Filters": [{"Key": "all", "Values": ["mine", "theirs"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(by_name(&out).keys().collect::<Vec<_>>(), ["mine"]);
    assert_eq!(out["Errors"][0]["SecretId"], json!(b_arn));
    assert_eq!(
        out["Errors"][0]["ErrorCode"],
        json!("AccessDeniedException")
    );
}

#[tokio::test]
pub async fn batch_get_malformed_requests_are_invalid_parameter() {
    let h = Harness::new();
    h.create("b", "v").await;
    let both = "You must include Filters or SecretIdList, but not both.";
    let count = "SecretIdList must name between 1 and 20 secrets.";
    let ids = |n: usize| (0..n).map(|i| format!("s{i}")).collect::<Vec<_>>();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"SecretIdList": ["b"], "Filters": name_filter("b")}), both),
        (json!({}), both),
        (
            json!({"SecretIdList": ["b"], "MaxResults": 5}),
            "MaxResults and NextToken can only be used with Filters.",
        ),
        (
            json!({"SecretIdList": ["b"], "NextToken": "abc"}),
            "MaxResults and NextToken can only be used with Filters.",
        ),
        (json!({"SecretIdList": ids(21)}), count),
        (json!({"SecretIdList": []}), count),
        (
            json!({"Filters": name_filter("b"), "MaxResults": 21}),
            "Invalid MaxResults: 21. It must be between 1 and 20.",
        ),
        (
            json!({"Filters": [{"Key": "nope", "Values": ["x"]}]}),
            "Invalid filter key: nope. Valid keys are description, name, tag-key, tag-value, primary-region, owning-service and all.",
        ),
    ];
    for (body, message) in cases {
        expect_error(
            &h.err(BatchGetSecretValue, body).await,
            "InvalidParameterException",
            message,
        );
    }
    // Twenty is the limit, not an error.
    let twenty = h
        .ok(BatchGetSecretValue, json!({"SecretIdList": ids(20)}))
        .await;
    assert_eq!(twenty["Errors"].as_array().unwrap().len(), 20);
    let codes: BTreeSet<&str> = twenty["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ErrorCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, BTreeSet::from(["ResourceNotFoundException"]));
}

#[tokio::test]
pub async fn batch_get_foreign_or_tampered_next_token_is_invalid_next_token() {
    let h = Harness::new();
    for i in 0..3 {
        h.create(&format!("bt-{i}"), "v").await;
    }
    let first = h
        .ok(
            BatchGetSecretValue,
            json!({"Filters": name_filter("bt-"), "MaxResults": 1}),
        )
        .await;
    let good = first["NextToken"].as_str().unwrap().to_string();
    let mut tampered = good.clone();
    tampered.insert(tampered.len() / 2, 'Z');
    for (filters, token) in [
        (name_filter("bt-"), tampered.as_str()),
        (name_filter("bt-"), "definitely-not-a-token"),
        // A genuine token of another query.
        (name_filter("bt-1"), good.as_str()),
    ] {
        expect_error(
            &h.err(
                BatchGetSecretValue,
                json!({"Filters": filters, "MaxResults": 1, "NextToken": token}),
            )
            .await,
            "InvalidNextTokenException",
            "The NextToken value is invalid.",
        );
    }
    let second = h
        .ok(
            BatchGetSecretValue,
            json!({"Filters": name_filter("bt-"), "MaxResults": 1, "NextToken": good}),
        )
        .await;
    assert_eq!(by_name(&second).keys().collect::<Vec<_>>(), ["bt-1"]);
}
