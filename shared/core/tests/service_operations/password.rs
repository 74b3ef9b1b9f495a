//! GetRandomPassword: AWS's defaults, each option, and the refused combinations. The random
//! source is a counting fake, so these tests prove the rules, not the randomness (the unit
//! tests of `coffer_core::password` and the e2e suite do that).

use crate::harness::*;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};

cases! {
    GetRandomPassword Behaviour get_random_password_defaults_to_32_characters_of_each_type,
    GetRandomPassword Behaviour get_random_password_honours_length_and_exclusions,
    GetRandomPassword Behaviour get_random_password_include_space_and_optional_types,
    GetRandomPassword Error get_random_password_impossible_requests_are_invalid_parameter,
}

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

async fn password(h: &Harness, body: Value) -> String {
    let out = h.ok(GetRandomPassword, body).await;
    assert_eq!(
        out.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["RandomPassword"]
    );
    out["RandomPassword"].as_str().unwrap().to_string()
}

/// (lowercase, uppercase, digit, punctuation, space) present.
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
pub async fn get_random_password_defaults_to_32_characters_of_each_type() {
    let h = Harness::new();
    for _ in 0..5 {
        let p = password(&h, json!({})).await;
        assert_eq!(p.chars().count(), 32, "{p}");
        assert_eq!(classes(&p), (true, true, true, true, false), "{p}");
        assert!(
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || PUNCTUATION.contains(c)),
            "{p}"
        );
    }
    // The password is a credential: its audit event does not carry it.
    let p = password(&h, json!({"PasswordLength": 40})).await;
    let events = h.audit.events();
    let event = events.last().unwrap();
    assert_eq!(event.event_name, "GetRandomPassword");
    assert!(!event.response_elements.to_string().contains(&p));
}

#[tokio::test]
pub async fn get_random_password_honours_length_and_exclusions() {
    let h = Harness::new();
    let p = password(
        &h,
        json!({"PasswordLength": 100, "ExcludePunctuation": true, "ExcludeUppercase": true}),
    )
    .await;
    assert_eq!(p.len(), 100);
    assert_eq!(classes(&p), (true, false, true, false, false), "{p}");

    let p = password(
        &h,
        json!({"PasswordLength": 64, "ExcludeNumbers": true, "ExcludeLowercase": true}),
    )
    .await;
    assert_eq!(classes(&p), (false, true, false, true, false), "{p}");

    let excluded = "aeiouAEIOU0123456789!@#$%";
    let p = password(
        &h,
        json!({"PasswordLength": 200, "ExcludeCharacters": excluded}),
    )
    .await;
    assert_eq!(p.len(), 200);
    assert!(!p.chars().any(|c| excluded.contains(c)), "{p}");
    // Digits all excluded: the type counts as excluded, the rest are still each required.
    assert_eq!(classes(&p), (true, true, false, true, false), "{p}");

    for length in [1i64, 4096] {
        let p = password(
            &h,
            json!({"PasswordLength": length, "RequireEachIncludedType": false}),
        )
        .await;
        assert_eq!(p.len() as i64, length);
    }
}

#[tokio::test]
pub async fn get_random_password_include_space_and_optional_types() {
    let h = Harness::new();
    let p = password(&h, json!({"PasswordLength": 4096, "IncludeSpace": true})).await;
    assert!(
        p.contains(' '),
        "IncludeSpace puts the space in the character set"
    );
    let p = password(
        &h,
        json!({"PasswordLength": 4096, "IncludeSpace": true, "ExcludeCharacters": " "}),
    )
    .await;
    assert!(!p.contains(' '), "ExcludeCharacters wins over IncludeSpace");
    // Four characters hold one of each type exactly.
    let p = password(&h, json!({"PasswordLength": 4})).await;
    assert_eq!(classes(&p), (true, true, true, true, false), "{p}");
}

#[tokio::test]
pub async fn get_random_password_impossible_requests_are_invalid_parameter() {
    let h = Harness::new();
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"PasswordLength": 0}),
            "1 validation error detected: Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
        ),
        (
            json!({"PasswordLength": -1}),
            "1 validation error detected: Value '-1' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
        ),
        (
            json!({"PasswordLength": 4097}),
            "1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096".into(),
        ),
        (
            json!({"PasswordLength": 3}),
            "Password length is too short based on the required types.".into(),
        ),
        (
            json!({"ExcludeLowercase": true, "ExcludeUppercase": true, "ExcludeNumbers": true,
                   "ExcludePunctuation": true}),
            "The password cannot be generated because every character type is excluded.".into(),
        ),
        (
            json!({"ExcludeCharacters": "x".repeat(4097)}),
            "1 validation error detected: Value at 'excludeCharacters' failed to satisfy constraint: Member must have length less than or equal to 4096".into(),
        ),
    ];
    for (body, message) in cases {
        expect_error(
            &h.err(GetRandomPassword, body.clone()).await,
            "InvalidParameterException",
            &message,
        );
    }
    assert_eq!(
        h.err(GetRandomPassword, json!({"PasswordLength": "long"}))
            .await
            .code(),
        "SerializationException"
    );
}
