//! TagResource / UntagResource and GetRandomPassword.

use std::collections::{BTreeMap, BTreeSet};

use coffer_e2e::*;

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

async fn tags_of(client: &aws_sdk_secretsmanager::Client, id: &str) -> BTreeMap<String, String> {
    let d = client
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .expect("describe");
    d.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn tag_resource_adds_and_overwrites_tags() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("tags-add");
    client
        .create_secret()
        .name(&name)
        .tags(tag("env", "dev"))
        .secret_string("v")
        .send()
        .await
        .expect("create");
    client
        .tag_resource()
        .secret_id(&name)
        .tags(tag("env", "prod"))
        .tags(tag("team", "core"))
        .tags(tag("Env", "case-distinct"))
        .send()
        .await
        .expect("TagResource");
    let tags = tags_of(&client, &name).await;
    assert_eq!(
        tags,
        BTreeMap::from([
            ("env".to_string(), "prod".to_string()),
            ("Env".to_string(), "case-distinct".to_string()),
            ("team".to_string(), "core".to_string()),
        ])
    );
}

#[tokio::test]
async fn untag_resource_removes_keys_and_ignores_missing_ones() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("tags-remove");
    client
        .create_secret()
        .name(&name)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .tags(tag("c", "3"))
        .secret_string("v")
        .send()
        .await
        .expect("create");
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("a")
        .tag_keys("c")
        .tag_keys("not-there")
        .send()
        .await
        .expect("UntagResource");
    assert_eq!(
        tags_of(&client, &name).await,
        BTreeMap::from([("b".to_string(), "2".to_string())])
    );
    client
        .untag_resource()
        .secret_id(&name)
        .tag_keys("not-there-either")
        .send()
        .await
        .expect("untagging a missing key is not an error");
}

#[tokio::test]
async fn tag_resource_beyond_50_tags_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("tags-limit");
    create_string_secret(&client, &name, "v").await;
    let fifty: Vec<_> = (0..50).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    client
        .tag_resource()
        .secret_id(&name)
        .set_tags(Some(fifty))
        .send()
        .await
        .expect("50 tags are allowed");
    assert_eq!(tags_of(&client, &name).await.len(), 50);
    // The model lists only these two codes for a bad TagResource request.
    expect_error_in(
        client
            .tag_resource()
            .secret_id(&name)
            .tags(tag("one-more", "v"))
            .send()
            .await,
        &["InvalidParameterException", "InvalidRequestException"],
    );
    assert_eq!(tags_of(&client, &name).await.len(), 50);
    // Overwriting an existing key does not add one.
    client
        .tag_resource()
        .secret_id(&name)
        .tags(tag("k00", "changed"))
        .send()
        .await
        .expect("overwrite at the limit");
}

#[tokio::test]
async fn create_secret_with_more_than_50_tags_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let many: Vec<_> = (0..51).map(|i| tag(&format!("k{i:02}"), "v")).collect();
    expect_error_in(
        client
            .create_secret()
            .name(unique_name("tags-create-limit"))
            .set_tags(Some(many))
            .secret_string("v")
            .send()
            .await,
        &[
            "InvalidParameterException",
            "InvalidRequestException",
            "LimitExceededException",
            "ValidationException",
        ],
    );
}

#[tokio::test]
async fn tag_keys_with_aws_prefix_are_reserved() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("tags-reserved");
    create_string_secret(&client, &name, "v").await;
    for key in ["aws:owner", "AWS:owner", "aws:cloudformation:stack-name"] {
        expect_error_in(
            client
                .tag_resource()
                .secret_id(&name)
                .tags(tag(key, "x"))
                .send()
                .await,
            &["InvalidParameterException", "InvalidRequestException"],
        );
    }
    assert!(tags_of(&client, &name).await.is_empty());
    expect_error_in(
        client
            .create_secret()
            .name(unique_name("tags-reserved-create"))
            .tags(tag("aws:x", "y"))
            .secret_string("v")
            .send()
            .await,
        &["InvalidParameterException", "InvalidRequestException"],
    );
}

#[tokio::test]
async fn tag_resource_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .tag_resource()
            .secret_id(unique_name("tags-missing"))
            .tags(tag("k", "v"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    let err = expect_error(
        client
            .untag_resource()
            .secret_id(unique_name("tags-missing"))
            .tag_keys("k")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

fn classes(p: &str) -> (bool, bool, bool, bool, bool) {
    (
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| PUNCTUATION.contains(c)),
        p.contains(' '),
    )
}

#[tokio::test]
async fn get_random_password_defaults_to_32_chars_with_each_type() {
    let server = CofferServer::start();
    let client = server.default_client();
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        let p = client
            .get_random_password()
            .send()
            .await
            .expect("GetRandomPassword")
            .random_password()
            .expect("RandomPassword")
            .to_string();
        assert_eq!(p.chars().count(), 32, "default length: {p}");
        assert_eq!(
            classes(&p),
            (true, true, true, true, false),
            "each type present, no space by default: {p}"
        );
        assert!(
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || PUNCTUATION.contains(c)),
            "only the documented characters: {p}"
        );
        seen.insert(p);
    }
    assert_eq!(seen.len(), 20, "passwords repeat: not random");
}

#[tokio::test]
async fn get_random_password_honours_length_and_exclusions() {
    let server = CofferServer::start();
    let client = server.default_client();
    let p = client
        .get_random_password()
        .password_length(100)
        .exclude_punctuation(true)
        .exclude_uppercase(true)
        .send()
        .await
        .expect("GetRandomPassword")
        .random_password()
        .unwrap()
        .to_string();
    assert_eq!(p.len(), 100);
    let (lower, upper, digit, punct, _) = classes(&p);
    assert!(lower && digit && !upper && !punct, "{p}");

    let p = client
        .get_random_password()
        .password_length(64)
        .exclude_numbers(true)
        .exclude_lowercase(true)
        .send()
        .await
        .expect("GetRandomPassword")
        .random_password()
        .unwrap()
        .to_string();
    let (lower, upper, digit, punct, _) = classes(&p);
    assert!(!lower && upper && !digit && punct, "{p}");

    let excluded = "aeiouAEIOU0123456789!@#$%";
    let p = client
        .get_random_password()
        .password_length(200)
        .exclude_characters(excluded)
        .send()
        .await
        .expect("GetRandomPassword")
        .random_password()
        .unwrap()
        .to_string();
    assert_eq!(p.len(), 200);
    assert!(
        !p.chars().any(|c| excluded.contains(c)),
        "ExcludeCharacters honoured: {p}"
    );
}

#[tokio::test]
async fn get_random_password_include_space_and_optional_types() {
    let server = CofferServer::start();
    let client = server.default_client();
    let mut any_space = false;
    for _ in 0..10 {
        let p = client
            .get_random_password()
            .password_length(200)
            .include_space(true)
            .send()
            .await
            .expect("GetRandomPassword")
            .random_password()
            .unwrap()
            .to_string();
        any_space |= p.contains(' ');
    }
    assert!(
        any_space,
        "IncludeSpace never produced a space in 2000 chars"
    );

    // Without RequireEachIncludedType a short password may miss types, but still only
    // uses the allowed ones.
    let p = client
        .get_random_password()
        .password_length(1)
        .require_each_included_type(false)
        .send()
        .await
        .expect("length 1 without RequireEachIncludedType")
        .random_password()
        .unwrap()
        .to_string();
    assert_eq!(p.chars().count(), 1);
}

#[tokio::test]
async fn get_random_password_bad_length_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    for len in [0i64, -1] {
        let err = expect_error(
            client
                .get_random_password()
                .password_length(len)
                .send()
                .await,
            "InvalidParameterException",
        );
        assert!(err.is_invalid_parameter_exception(), "length {len}");
    }
    // Above the model's maximum of 4096.
    expect_error_in(
        client
            .get_random_password()
            .password_length(4097)
            .send()
            .await,
        &["InvalidParameterException", "ValidationException"],
    );
    // Too short to hold one character of each required type.
    let err = expect_error(
        client.get_random_password().password_length(3).send().await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
    client
        .get_random_password()
        .password_length(4096)
        .send()
        .await
        .expect("4096 is allowed");
}

#[tokio::test]
async fn get_random_password_excluding_every_type_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .get_random_password()
            .exclude_lowercase(true)
            .exclude_uppercase(true)
            .exclude_numbers(true)
            .exclude_punctuation(true)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}
