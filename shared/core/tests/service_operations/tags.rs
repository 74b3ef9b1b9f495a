//! TagResource and UntagResource: adding, overwriting and removing tags, the 50-tag limit and
//! the key and value rules.

use crate::harness::*;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

cases! {
    TagResource Behaviour tag_resource_adds_and_overwrites_tags,
    TagResource Behaviour tag_resource_up_to_50_tags,
    TagResource Error tag_resource_beyond_50_tags_is_refused,
    TagResource Error tag_resource_key_and_value_rules,
    UntagResource Behaviour untag_resource_removes_keys_and_ignores_missing_ones,
    UntagResource Error untag_resource_errors,
}

async fn tags_of(h: &Harness, id: &str) -> BTreeMap<String, String> {
    let d = h.describe(id).await;
    d.get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["Key"].as_str().unwrap().to_string(),
                t["Value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tags(n: usize, prefix: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"Key": format!("{prefix}{i:02}"), "Value": "v"}))
        .collect()
}

#[tokio::test]
pub async fn tag_resource_adds_and_overwrites_tags() {
    let h = Harness::new();
    h.ok(
        CreateSecret,
        json!({"Name": "tagged", "Tags": [{"Key": "env", "Value": "dev"}]}),
    )
    .await;
    h.advance(HOUR);
    let out = h
        .ok(
            TagResource,
            json!({"SecretId": "tagged", "Tags": [
                {"Key": "env", "Value": "prod"},
                {"Key": "team", "Value": "core"},
                {"Key": "Env", "Value": "case-distinct"},
                {"Key": "empty", "Value": ""}]}),
        )
        .await;
    assert_eq!(out, json!({}), "TagResource answers an empty body");
    assert_eq!(
        tags_of(&h, "tagged").await,
        map(&[
            ("env", "prod"),
            ("Env", "case-distinct"),
            ("team", "core"),
            ("empty", "")
        ])
    );
    assert_eq!(
        h.describe("tagged").await["LastChangedDate"],
        json!(secs(T0 + HOUR))
    );
    // Tags are found by ListSecrets filters at once.
    let listed = h
        .ok(
            ListSecrets,
            json!({"Filters": [{"Key": "tag-value", "Values": ["case-distinct"]}]}),
        )
        .await;
    assert_eq!(listed["SecretList"][0]["Name"], json!("tagged"));
}

#[tokio::test]
pub async fn tag_resource_up_to_50_tags() {
    let h = Harness::new();
    h.create("fifty", "v").await;
    h.ok(
        TagResource,
        json!({"SecretId": "fifty", "Tags": tags(50, "k")}),
    )
    .await;
    assert_eq!(tags_of(&h, "fifty").await.len(), 50);
    // Overwriting an existing key at the limit adds none.
    h.ok(
        TagResource,
        json!({"SecretId": "fifty", "Tags": [{"Key": "k00", "Value": "changed"}]}),
    )
    .await;
    let now = tags_of(&h, "fifty").await;
    assert_eq!(now.len(), 50);
    assert_eq!(now["k00"], "changed");
}

#[tokio::test]
pub async fn tag_resource_beyond_50_tags_is_refused() {
    let h = Harness::new();
    h.create("full", "v").await;
    h.ok(
        TagResource,
        json!({"SecretId": "full", "Tags": tags(45, "k")}),
    )
    .await;
    expect_error(
        &h.err(
            TagResource,
            json!({"SecretId": "full", "Tags": tags(6, "new")}),
        )
        .await,
        "InvalidParameterException",
        "A secret can have at most 50 tags; this request would give it 51.",
    );
    assert_eq!(tags_of(&h, "full").await.len(), 45, "nothing was added");
}

#[tokio::test]
pub async fn tag_resource_key_and_value_rules() {
    let h = Harness::new();
    h.create("rules", "v").await;
    let reserved = "Invalid tag key: the aws: prefix is reserved for use by AWS.";
    let key_length = "Invalid tag key: it must be between 1 and 128 characters long.";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"Key": "aws:owner", "Value": "x"}), reserved),
        (json!({"Key": "AWS:owner", "Value": "x"}), reserved),
        (
            json!({"Key": "aws:cloudformation:stack-name", "Value": "x"}),
            reserved,
        ),
        (json!({"Key": "", "Value": "x"}), key_length),
        (json!({"Key": "k".repeat(129), "Value": "x"}), key_length),
        (
            json!({"Key": "k", "Value": "v".repeat(257)}),
            "Invalid tag value: it must be at most 256 characters long.",
        ),
    ];
    for (tag, message) in cases {
        expect_error(
            &h.err(
                TagResource,
                json!({"SecretId": "rules", "Tags": [{"Key": "ok", "Value": "1"}, tag]}),
            )
            .await,
            "InvalidParameterException",
            message,
        );
    }
    expect_error(
        &h.err(TagResource, json!({"SecretId": "rules"})).await,
        "InvalidParameterException",
        "You must specify Tags.",
    );
    expect_error(
        &h.err(
            TagResource,
            json!({"SecretId": "nope", "Tags": [{"Key": "k", "Value": "v"}]}),
        )
        .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert!(tags_of(&h, "rules").await.is_empty(), "no tag was added");
    // The limits themselves are accepted.
    h.ok(
        TagResource,
        json!({"SecretId": "rules", "Tags": [{"Key": "k".repeat(128), "Value": "v".repeat(256)}]}),
    )
    .await;
    assert_eq!(tags_of(&h, "rules").await.len(), 1);
}

#[tokio::test]
pub async fn untag_resource_removes_keys_and_ignores_missing_ones() {
    let h = Harness::new();
    h.ok(
        CreateSecret,
        json!({"Name": "untag", "Tags": [
            {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]}),
    )
    .await;
    let out = h
        .ok(
            UntagResource,
            json!({"SecretId": "untag", "TagKeys": ["a", "c", "not-there"]}),
        )
        .await;
    assert_eq!(out, json!({}));
    assert_eq!(tags_of(&h, "untag").await, map(&[("b", "2")]));
    h.ok(
        UntagResource,
        json!({"SecretId": "untag", "TagKeys": ["not-there-either"]}),
    )
    .await;
    assert_eq!(tags_of(&h, "untag").await, map(&[("b", "2")]));
    // Once it has had tags, removing the last one leaves "Tags": [], as AWS shows.
    h.ok(
        UntagResource,
        json!({"SecretId": "untag", "TagKeys": ["b"]}),
    )
    .await;
    assert_eq!(h.describe("untag").await["Tags"], json!([]));
}

#[tokio::test]
pub async fn untag_resource_errors() {
    let h = Harness::new();
    h.ok(
        CreateSecret,
        json!({"Name": "kept", "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await;
    expect_error(
        &h.err(UntagResource, json!({"SecretId": "kept"})).await,
        "InvalidParameterException",
        "You must specify TagKeys.",
    );
    expect_error(
        &h.err(
            UntagResource,
            json!({"SecretId": "kept", "TagKeys": ["k", ""]}),
        )
        .await,
        "InvalidParameterException",
        "Invalid tag key: it must be between 1 and 128 characters long.",
    );
    expect_error(
        &h.err(UntagResource, json!({"SecretId": "nope", "TagKeys": ["k"]}))
            .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    assert_eq!(tags_of(&h, "kept").await, map(&[("k", "v")]));
}
