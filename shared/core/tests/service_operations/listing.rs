//! ListSecrets (entries, filters, sorting, planned deletion, paging with tamper-evident
//! NextTokens) and ListSecretVersionIds (IncludeDeprecated, value-less versions, paging).

use crate::harness::*;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

cases! {
    ListSecrets Behaviour list_secrets_entries_carry_metadata,
    ListSecrets Behaviour list_secrets_filters_match_as_aws_documents,
    ListSecrets Behaviour list_secrets_sorts_by_name_and_dates,
    ListSecrets Behaviour list_secrets_pages_with_max_results_and_next_token,
    ListSecrets Error list_secrets_foreign_or_tampered_next_token_is_invalid_next_token,
    ListSecrets Error list_secrets_malformed_filters_and_max_results_are_invalid_parameter,
    ListSecretVersionIds Behaviour list_secret_version_ids_lists_versions_newest_first,
    ListSecretVersionIds Behaviour list_secret_version_ids_pages_with_next_token,
    ListSecretVersionIds Error list_secret_version_ids_errors,
}

fn names(out: &Value) -> Vec<String> {
    out["SecretList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Three secrets with distinct descriptions and tags, as the e2e suite's fixture.
async fn fixture(h: &Harness) {
    for (name, description, key, value) in [
        ("ls-Alpha", "ls Alpha words", "lsEnv", "Production"),
        ("ls-Beta", "ls beta", "lsEnv", "staging"),
        ("ls-gamma/nested", "unrelated text", "lsOwner", "lsValue"),
    ] {
        h.ok(
            CreateSecret,
            json!({"Name": name, "Description": description,
                   "Tags": [{"Key": key, "Value": value}]}),
        )
        .await;
    }
}

async fn matching(h: &Harness, filters: Value) -> BTreeSet<String> {
    let out = h.ok(ListSecrets, json!({"Filters": filters})).await;
    names(&out).into_iter().collect()
}

#[tokio::test]
pub async fn list_secrets_entries_carry_metadata() {
    let h = Harness::new();
    let version = token(1);
    let created = h
        .ok(
            CreateSecret,
            json!({"Name": "entry", "Description": "d", "Tags": [{"Key": "k", "Value": "v"}],
                   "SecretString": "s", "ClientRequestToken": version}),
        )
        .await;
    let out = h.ok(ListSecrets, json!({})).await;
    assert!(out.get("NextToken").is_none(), "one page: {out}");
    assert_eq!(
        out["SecretList"],
        json!([{
            "ARN": created["ARN"], "Name": "entry", "Description": "d",
            "Tags": [{"Key": "k", "Value": "v"}],
            // ListSecrets names the map SecretVersionsToStages (DescribeSecret: VersionIdsToStages).
            "SecretVersionsToStages": { version.as_str(): ["AWSCURRENT"] },
            "CreatedDate": secs(T0), "LastChangedDate": secs(T0),
        }])
    );
}

#[tokio::test]
pub async fn list_secrets_filters_match_as_aws_documents() {
    let h = Harness::new();
    fixture(&h).await;
    let f = |key: &str, values: &[&str]| json!([{"Key": key, "Values": values}]);
    let all = set(&["ls-Alpha", "ls-Beta", "ls-gamma/nested"]);
    // name: case-sensitive prefix of the whole name.
    assert_eq!(matching(&h, f("name", &["ls-"])).await, all);
    assert_eq!(
        matching(&h, f("name", &["ls-Al"])).await,
        set(&["ls-Alpha"])
    );
    assert_eq!(matching(&h, f("name", &["ls-al"])).await, set(&[]));
    assert_eq!(matching(&h, f("name", &["Alpha"])).await, set(&[]));
    // Values of one filter are alternatives; filters must all match.
    assert_eq!(
        matching(&h, f("name", &["ls-Alpha", "ls-Beta"])).await,
        set(&["ls-Alpha", "ls-Beta"])
    );
    assert_eq!(
        matching(
            &h,
            json!([{"Key": "name", "Values": ["ls-"]},
                   {"Key": "tag-value", "Values": ["Production"]}])
        )
        .await,
        set(&["ls-Alpha"])
    );
    // A leading ! negates.
    assert_eq!(
        matching(
            &h,
            json!([{"Key": "name", "Values": ["ls-"]}, {"Key": "name", "Values": ["!ls-Alpha"]}])
        )
        .await,
        set(&["ls-Beta", "ls-gamma/nested"])
    );
    // description: words, not case-sensitive.
    assert_eq!(
        matching(&h, f("description", &["LS"])).await,
        set(&["ls-Alpha", "ls-Beta"])
    );
    assert_eq!(
        matching(&h, f("description", &["alpha WORDS"])).await,
        set(&["ls-Alpha"])
    );
    // tag-key and tag-value: case-sensitive prefixes.
    assert_eq!(
        matching(&h, f("tag-key", &["lsEn"])).await,
        set(&["ls-Alpha", "ls-Beta"])
    );
    assert_eq!(matching(&h, f("tag-key", &["lsen"])).await, set(&[]));
    assert_eq!(
        matching(&h, f("tag-value", &["lsVal"])).await,
        set(&["ls-gamma/nested"])
    );
    // all: every attribute, not case-sensitive.
    assert_eq!(matching(&h, f("all", &["LS"])).await, all);
    assert_eq!(
        matching(&h, f("all", &["production"])).await,
        set(&["ls-Alpha"])
    );
    // Coffer secrets are never replicated nor managed by another service.
    assert_eq!(matching(&h, f("primary-region", &[REGION])).await, set(&[]));
    assert_eq!(matching(&h, f("owning-service", &["rds"])).await, set(&[]));
}

#[tokio::test]
pub async fn list_secrets_sorts_by_name_and_dates() {
    let h = Harness::new();
    // Created in the order b, c, a an hour apart; then a is changed and b read.
    for name in ["sort-b", "sort-c", "sort-a"] {
        h.create(name, "v").await;
        h.advance(HOUR);
    }
    h.ok(
        UpdateSecret,
        json!({"SecretId": "sort-a", "Description": "x"}),
    )
    .await;
    h.advance(DAY);
    h.current("sort-c").await;
    let sorted = |by: &str, order: &str| {
        let h = &h;
        let body = json!({"SortBy": by, "SortOrder": order});
        async move { names(&h.ok(ListSecrets, body).await) }
    };
    assert_eq!(sorted("name", "asc").await, ["sort-a", "sort-b", "sort-c"]);
    assert_eq!(sorted("name", "desc").await, ["sort-c", "sort-b", "sort-a"]);
    assert_eq!(
        sorted("created-date", "asc").await,
        ["sort-b", "sort-c", "sort-a"]
    );
    assert_eq!(
        sorted("created-date", "desc").await,
        ["sort-a", "sort-c", "sort-b"]
    );
    assert_eq!(
        sorted("last-changed-date", "desc").await,
        ["sort-a", "sort-c", "sort-b"]
    );
    assert_eq!(
        sorted("last-accessed-date", "desc").await[0],
        "sort-c",
        "the only secret read"
    );
}

#[tokio::test]
pub async fn list_secrets_pages_with_max_results_and_next_token() {
    let h = Harness::new();
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        let name = format!("page-{i}");
        h.create(&name, "v").await;
        expected.insert(name);
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut body = json!({"MaxResults": 3});
        if let Some(t) = &next {
            body["NextToken"] = json!(t);
        }
        let out = h.ok(ListSecrets, body).await;
        sizes.push(out["SecretList"].as_array().unwrap().len());
        seen.extend(names(&out));
        next = out
            .get("NextToken")
            .map(|t| t.as_str().unwrap().to_string());
        if next.is_none() {
            break;
        }
        assert!(sizes.len() < 10, "paging does not end");
    }
    assert_eq!(sizes, [3, 3, 1]);
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a secret came twice: {seen:?}");
    assert_eq!(unique, expected);
    // MaxResults 100 is the largest page.
    let out = h.ok(ListSecrets, json!({"MaxResults": 100})).await;
    assert_eq!(names(&out).len(), 7);
}

#[tokio::test]
pub async fn list_secrets_foreign_or_tampered_next_token_is_invalid_next_token() {
    let h = Harness::new();
    for i in 0..3 {
        h.create(&format!("tok-{i}"), "v").await;
    }
    let first = h.ok(ListSecrets, json!({"MaxResults": 1})).await;
    let good = first["NextToken"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = good.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for body in [
        json!({"MaxResults": 1, "NextToken": tampered}),
        json!({"MaxResults": 1, "NextToken": "definitely-not-a-token"}),
        // A genuine token, reused with other filters or another sort.
        json!({"MaxResults": 1, "NextToken": good, "Filters": [{"Key": "name", "Values": ["tok"]}]}),
        json!({"MaxResults": 1, "NextToken": good, "SortOrder": "desc"}),
    ] {
        expect_error(
            &h.err(ListSecrets, body).await,
            "InvalidNextTokenException",
            "The NextToken value is invalid.",
        );
    }
    let second = h
        .ok(ListSecrets, json!({"MaxResults": 1, "NextToken": good}))
        .await;
    assert_eq!(names(&second), ["tok-1"]);
}

#[tokio::test]
pub async fn list_secrets_malformed_filters_and_max_results_are_invalid_parameter() {
    let h = Harness::new();
    h.create("x", "v").await;
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({"Key": "name", "Values": ["x"]}))
        .collect();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"MaxResults": 0}),
            "Invalid MaxResults: 0. It must be between 1 and 100.",
        ),
        (
            json!({"MaxResults": 101}),
            "Invalid MaxResults: 101. It must be between 1 and 100.",
        ),
        (
            json!({"Filters": [{"Key": "no-such-key", "Values": ["x"]}]}),
            "Invalid filter key: no-such-key. Valid keys are description, name, tag-key, tag-value, primary-region, owning-service and all.",
        ),
        (json!({"Filters": eleven}), "You can specify at most 10 filters."),
        (
            json!({"Filters": [{"Key": "name", "Values": []}]}),
            "Each filter must have between 1 and 10 values.",
        ),
        (
            json!({"Filters": [{"Key": "name", "Values": ["a*b"]}]}),
            "Invalid filter value: a*b. Values may contain letters, digits, spaces and :_@/+=.-! and be at most 512 characters long.",
        ),
    ];
    for (body, message) in cases {
        expect_error(
            &h.err(ListSecrets, body).await,
            "InvalidParameterException",
            message,
        );
    }
}

#[tokio::test]
pub async fn list_secret_version_ids_lists_versions_newest_first() {
    let h = Harness::new();
    let (arn, v1) = h.create("lv", "one").await;
    h.advance(HOUR);
    let v2 = h.put("lv", "two").await;
    h.advance(HOUR);
    let v3 = h.put("lv", "three").await;
    // A rotation's AWSPENDING version has no value yet: never listed.
    h.ok(
        RotateSecret,
        json!({"SecretId": "lv", "RotationLambdaARN": lambda("rot"), "ClientRequestToken": token(50)}),
    )
    .await;
    let out = h.ok(ListSecretVersionIds, json!({"SecretId": arn})).await;
    assert_eq!(out["ARN"], json!(arn));
    assert_eq!(out["Name"], json!("lv"));
    assert!(out.get("NextToken").is_none(), "{out}");
    let versions = out["Versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "labelled versions with a value: {out}");
    assert_eq!(versions[0]["VersionId"], json!(v3));
    assert_eq!(versions[0]["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(versions[0]["CreatedDate"], json!(secs(T0 + 2 * HOUR)));
    assert_eq!(versions[1]["VersionId"], json!(v2));
    assert_eq!(versions[1]["VersionStages"], json!(["AWSPREVIOUS"]));
    assert_eq!(versions[1]["CreatedDate"], json!(secs(T0 + HOUR)));
    let key = versions[0]["KmsKeyIds"][0].as_str().unwrap();
    assert!(
        key.starts_with(&format!("arn:aws:kms:{REGION}:{A}:key/")),
        "each version names the key that encrypted it: {key}"
    );
    let all = h
        .ok(
            ListSecretVersionIds,
            json!({"SecretId": "lv", "IncludeDeprecated": true}),
        )
        .await;
    let ids: Vec<&str> = all["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [v3.as_str(), v2.as_str(), v1.as_str()]);
    assert!(all["Versions"][2].get("VersionStages").is_none());
}

#[tokio::test]
pub async fn list_secret_version_ids_pages_with_next_token() {
    let h = Harness::new();
    let (_, v0) = h.create("lvp", "v0").await;
    let mut all = BTreeSet::from([v0]);
    for i in 1..5 {
        all.insert(h.put("lvp", &format!("v{i}")).await);
    }
    let mut seen = BTreeSet::new();
    let mut sizes = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut body = json!({"SecretId": "lvp", "IncludeDeprecated": true, "MaxResults": 2});
        if let Some(t) = &next {
            body["NextToken"] = json!(t);
        }
        let out = h.ok(ListSecretVersionIds, body).await;
        let page = out["Versions"].as_array().unwrap();
        sizes.push(page.len());
        for v in page {
            assert!(seen.insert(v["VersionId"].as_str().unwrap().to_string()));
        }
        next = out
            .get("NextToken")
            .map(|t| t.as_str().unwrap().to_string());
        if next.is_none() {
            break;
        }
        assert!(sizes.len() < 10, "paging does not end");
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, all);
}

#[tokio::test]
pub async fn list_secret_version_ids_errors() {
    let h = Harness::new();
    h.create("lve", "v0").await;
    h.put("lve", "v1").await;
    h.create("other", "v").await;
    h.put("other", "w").await;
    expect_error(
        &h.err(ListSecretVersionIds, json!({"SecretId": "nope"}))
            .await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    for n in [0, 101] {
        expect_error(
            &h.err(
                ListSecretVersionIds,
                json!({"SecretId": "lve", "MaxResults": n}),
            )
            .await,
            "InvalidParameterException",
            &format!("Invalid MaxResults: {n}. It must be between 1 and 100."),
        );
    }
    let first = h
        .ok(
            ListSecretVersionIds,
            json!({"SecretId": "lve", "MaxResults": 1}),
        )
        .await;
    let good = first["NextToken"].as_str().unwrap().to_string();
    let mut bad = good.clone();
    bad.push('x');
    for body in [
        json!({"SecretId": "lve", "MaxResults": 1, "NextToken": bad}),
        // The token of one secret's listing is not valid for another's.
        json!({"SecretId": "other", "MaxResults": 1, "NextToken": good}),
        json!({"SecretId": "lve", "MaxResults": 1, "NextToken": good, "IncludeDeprecated": true}),
    ] {
        expect_error(
            &h.err(ListSecretVersionIds, body).await,
            "InvalidNextTokenException",
            "The NextToken value is invalid.",
        );
    }
}
