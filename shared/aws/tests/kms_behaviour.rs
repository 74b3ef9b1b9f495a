//! `KmsKeyProvider` on moto's KMS beyond the port contract: customer keys and aliases, every id
//! form, encryption-context binding, key states, the key-access check of `resolve`, regions,
//! and the counting of KMS requests (also through the core's data-key cache: a warm read makes no
//! KMS call). What moto does not enforce is listed in `docs/moto-limits.md`; tests of behaviour
//! moto cannot show say so.

mod kms_support;

use coffer_aws::kms::KmsKeyProvider;
use coffer_core::clock::{Clock, Timestamp};
use coffer_core::ids::Scope;
use coffer_core::keycache::{CacheLimits, CachingKeyProvider};
use coffer_core::ports::{encryption_context, KeyError, KeyProvider, MetricsSink};
use kms_support::*;
use std::sync::Arc;

fn ctx(secret: &str, version: &str) -> coffer_core::ports::EncryptionContext {
    encryption_context(
        &format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-AbCdEf"),
        version,
    )
}

#[tokio::test]
async fn generate_data_key_two_keys_each_decrypts_with_its_context() {
    let Some(ep) = endpoint("generate_data_key_two_keys_each_decrypts_with_its_context") else {
        return;
    };
    let admin = client(&ep, REGION);
    let first = create_key(&admin, "first").await;
    let second = create_key(&admin, "second").await;
    let second_alias = create_alias(&admin, &second).await;
    let (kms, _) = provider(&ep, &first.arn);

    let ctx_a = ctx("two-keys", "version-a");
    let ctx_b = ctx("two-keys", "version-b");
    let under_first = kms.generate_data_key(&scope(), None, &ctx_a).await.unwrap();
    let under_second = kms
        .generate_data_key(&scope(), Some(&second_alias), &ctx_b)
        .await
        .unwrap();
    assert_eq!(under_first.key_arn, first.arn);
    assert_eq!(under_second.key_arn, second.arn);
    assert_ne!(*under_first.plaintext, *under_second.plaintext);

    let a = kms
        .decrypt_data_key(&scope(), &under_first.wrapped, &ctx_a)
        .await
        .unwrap();
    let b = kms
        .decrypt_data_key(&scope(), &under_second.wrapped, &ctx_b)
        .await
        .unwrap();
    assert_eq!(*a, *under_first.plaintext);
    assert_eq!(*b, *under_second.plaintext);
}

#[tokio::test]
async fn decrypt_data_key_context_of_other_secret_is_invalid_ciphertext() {
    let Some(ep) = endpoint("decrypt_data_key_context_of_other_secret_is_invalid_ciphertext")
    else {
        return;
    };
    let admin = client(&ep, REGION);
    let key = create_key(&admin, "context").await;
    let (kms, _) = provider(&ep, &key.id);
    let own = ctx("context-owner", "v1");
    let data_key = kms.generate_data_key(&scope(), None, &own).await.unwrap();
    // The wrapped key copied into another secret's item, or moved to another version.
    for other in [ctx("context-thief", "v1"), ctx("context-owner", "v2")] {
        assert_eq!(
            kms.decrypt_data_key(&scope(), &data_key.wrapped, &other)
                .await
                .err(),
            Some(KeyError::InvalidCiphertext)
        );
    }
}

#[tokio::test]
async fn resolve_every_id_form_of_a_customer_key_gives_its_arn() {
    let Some(ep) = endpoint("resolve_every_id_form_of_a_customer_key_gives_its_arn") else {
        return;
    };
    let admin = client(&ep, REGION);
    let key = create_key(&admin, "forms").await;
    let alias = create_alias(&admin, &key).await;
    let alias_arn = alias_arn(&alias);
    for default in [&key.id, &key.arn, &alias, &alias_arn] {
        let (kms, _) = provider(&ep, default);
        assert_eq!(
            kms.resolve(&scope(), None).await,
            Ok(key.arn.clone()),
            "default {default}"
        );
        for form in [&key.id, &key.arn, &alias, &alias_arn] {
            assert_eq!(
                kms.resolve(&scope(), Some(form)).await,
                Ok(key.arn.clone()),
                "{form}"
            );
            let data_key = kms
                .generate_data_key(&scope(), Some(form), &ctx("forms", "v1"))
                .await
                .unwrap();
            assert_eq!(data_key.key_arn, key.arn, "{form}");
        }
    }
}

#[tokio::test]
async fn resolve_unknown_alias_is_not_found() {
    let Some(ep) = endpoint("resolve_unknown_alias_is_not_found") else {
        return;
    };
    let missing = format!("alias/coffer-test-missing-{}", uuid::Uuid::new_v4());
    let (kms, _) = provider(&ep, &missing);
    for id in [None, Some(missing.as_str()), Some(&alias_arn(&missing))] {
        let resolved = kms.resolve(&scope(), id.map(|s| s as &str)).await;
        assert!(
            matches!(resolved, Err(KeyError::NotFound(_))),
            "{id:?}: {resolved:?}"
        );
        let generated = kms
            .generate_data_key(&scope(), id.map(|s| s as &str), &ctx("missing", "v1"))
            .await
            .map(|k| k.key_arn);
        assert!(
            matches!(generated, Err(KeyError::NotFound(_))),
            "{id:?}: {generated:?}"
        );
    }
}

#[tokio::test]
async fn resolve_key_of_other_region_is_not_found_without_a_request() {
    let Some(ep) = endpoint("resolve_key_of_other_region_is_not_found_without_a_request") else {
        return;
    };
    let west = create_key(&client(&ep, "us-west-2"), "west").await;
    let (kms, metrics) = provider(&ep, &west.arn);
    // Its own region serves it (through a derived client)...
    let west_scope = Scope::new("us-west-2", ACCOUNT);
    assert_eq!(kms.resolve(&west_scope, None).await, Ok(west.arn.clone()));
    let calls = kms.calls();
    // ...the home region does not, and no request is made to find that out (moto itself would
    // resolve it by its key id alone: docs/moto-limits.md).
    for result in [
        kms.resolve(&scope(), None).await,
        kms.resolve(&scope(), Some(&west.arn)).await,
        kms.generate_data_key(&scope(), Some(&west.arn), &ctx("w", "v"))
            .await
            .map(|k| k.key_arn),
    ] {
        assert!(matches!(result, Err(KeyError::NotFound(_))), "{result:?}");
    }
    assert_eq!(kms.calls(), calls);
    assert_eq!(metrics.get("KmsErrors"), 0);
}

#[tokio::test]
async fn resolve_disabled_or_pending_deletion_key_is_disabled() {
    let Some(ep) = endpoint("resolve_disabled_or_pending_deletion_key_is_disabled") else {
        return;
    };
    // moto reports the key state in DescribeKey, which `resolve` checks itself, so this part
    // runs on moto. GenerateDataKey/Decrypt refusals are not enforced by moto (see below).
    let admin = client(&ep, REGION);
    let disabled = create_key(&admin, "disabled").await;
    admin
        .disable_key()
        .key_id(&disabled.id)
        .send()
        .await
        .unwrap();
    let deleted = create_key(&admin, "deleted").await;
    admin
        .schedule_key_deletion()
        .key_id(&deleted.id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (kms, _) = provider(&ep, &disabled.id);
    for key in [&disabled.id, &deleted.arn] {
        let resolved = kms.resolve(&scope(), Some(key)).await;
        assert!(
            matches!(resolved, Err(KeyError::Disabled(_))),
            "{key}: {resolved:?}"
        );
    }
}

/// Real KMS answers `DisabledException` to GenerateDataKey and Decrypt under a disabled key
/// (`KMSInvalidStateException` when pending deletion); moto answers both with success. The
/// mapping of those codes is tested through the SDK against canned responses in
/// `kms_errors.rs`; this test states the end-to-end expectation and runs only against real KMS
/// (`cargo test -- --ignored` with credentials and `COFFER_TEST_AWS_ENDPOINT` set to a real
/// KMS endpoint).
#[tokio::test]
#[ignore = "moto does not refuse GenerateDataKey/Decrypt under a disabled key (docs/moto-limits.md)"]
async fn generate_and_decrypt_under_disabled_key_are_disabled() {
    let Some(ep) = endpoint("generate_and_decrypt_under_disabled_key_are_disabled") else {
        return;
    };
    let admin = client(&ep, REGION);
    let key = create_key(&admin, "disabled-later").await;
    let (kms, _) = provider(&ep, &key.id);
    let c = ctx("disabled", "v1");
    let data_key = kms.generate_data_key(&scope(), None, &c).await.unwrap();
    admin.disable_key().key_id(&key.id).send().await.unwrap();
    let generated = kms
        .generate_data_key(&scope(), None, &c)
        .await
        .map(|k| k.key_arn);
    assert!(
        matches!(generated, Err(KeyError::Disabled(_))),
        "{generated:?}"
    );
    let opened = kms.decrypt_data_key(&scope(), &data_key.wrapped, &c).await;
    assert!(
        matches!(opened, Err(KeyError::Disabled(_))),
        "{:?}",
        opened.err()
    );
}

#[tokio::test]
async fn resolve_asymmetric_key_is_refused() {
    let Some(ep) = endpoint("resolve_asymmetric_key_is_refused") else {
        return;
    };
    // Checked from DescribeKey's KeyUsage/KeySpec (moto would let GenerateDataKey through).
    let rsa = create_asymmetric_key(&client(&ep, REGION)).await;
    let (kms, _) = provider(&ep, &rsa.id);
    assert_eq!(
        kms.resolve(&scope(), None).await,
        Err(KeyError::InvalidCiphertext)
    );
}

#[tokio::test]
async fn resolve_key_whose_policy_denies_describe_is_access_denied() {
    let Some(ep) = endpoint("resolve_key_whose_policy_denies_describe_is_access_denied") else {
        return;
    };
    // moto evaluates key policies for DescribeKey only (a Deny to Principal "*" on Resource "*"),
    // which is enough to see AccessDeniedException mapped; policies on GenerateDataKey/Decrypt
    // are not enforced by moto (docs/moto-limits.md).
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
    let out = client(&ep, REGION)
        .create_key()
        .policy(policy)
        .send()
        .await
        .unwrap();
    let key_id = out.key_metadata.unwrap().key_id;
    let (kms, metrics) = provider(&ep, &key_id);
    let resolved = kms.resolve(&scope(), None).await;
    assert!(
        matches!(resolved, Err(KeyError::AccessDenied(_))),
        "{resolved:?}"
    );
    assert_eq!(metrics.get("KmsErrors"), 1);
}

#[tokio::test]
async fn kms_calls_are_counted_per_request() {
    let Some(ep) = endpoint("kms_calls_are_counted_per_request") else {
        return;
    };
    let key = create_key(&client(&ep, REGION), "counting").await;
    let (kms, metrics) = provider(&ep, &key.id);
    let c = ctx("counting", "v1");
    assert_eq!(kms.calls(), 0);

    // resolve = DescribeKey + the key-access GenerateDataKey.
    kms.resolve(&scope(), None).await.unwrap();
    assert_eq!(kms.calls(), 2);
    let data_key = kms.generate_data_key(&scope(), None, &c).await.unwrap();
    assert_eq!(kms.calls(), 3);
    kms.decrypt_data_key(&scope(), &data_key.wrapped, &c)
        .await
        .unwrap();
    assert_eq!(kms.calls(), 4);
    assert_eq!(metrics.get("KmsErrors"), 0);

    // A refused request counts as a call and an error.
    let other = ctx("counting", "v2");
    assert_eq!(
        kms.decrypt_data_key(&scope(), &data_key.wrapped, &other)
            .await
            .err(),
        Some(KeyError::InvalidCiphertext)
    );
    assert_eq!(kms.calls(), 5);
    assert_eq!(metrics.get("KmsErrors"), 1);

    // Refusals decided without KMS make no call.
    assert_eq!(
        kms.decrypt_data_key(&scope(), &[], &c).await.err(),
        Some(KeyError::InvalidCiphertext)
    );
    assert!(kms.resolve(&scope(), Some("")).await.is_err());
    assert_eq!(kms.calls(), 5);
    assert_eq!(metrics.get("KmsCalls"), 5);
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_700_000_000_000)
    }
}

#[tokio::test]
async fn decrypt_data_key_warm_read_through_cache_makes_no_kms_call() {
    let Some(ep) = endpoint("decrypt_data_key_warm_read_through_cache_makes_no_kms_call") else {
        return;
    };
    let key = create_key(&client(&ep, REGION), "cache").await;
    let (kms, _) = provider(&ep, &key.id);
    let kms = Arc::new(kms);
    let cache_metrics = Arc::new(CountingMetrics::default());
    let cached = CachingKeyProvider::new(
        kms.clone() as Arc<dyn KeyProvider>,
        Arc::new(FixedClock),
        cache_metrics.clone() as Arc<dyn MetricsSink>,
        CacheLimits::default(),
    );
    let c = ctx("cache", "v1");
    let data_key = kms.generate_data_key(&scope(), None, &c).await.unwrap();
    let before = kms.calls();

    let cold = cached
        .decrypt_data_key(&scope(), &data_key.wrapped, &c)
        .await
        .unwrap();
    assert_eq!(kms.calls() - before, 1, "a cold read decrypts through KMS");
    let warm_before = kms.calls();
    for _ in 0..3 {
        let warm = cached
            .decrypt_data_key(&scope(), &data_key.wrapped, &c)
            .await
            .unwrap();
        assert_eq!(*warm, *cold);
    }
    assert_eq!(
        kms.calls() - warm_before,
        0,
        "a warm read makes no KMS call"
    );
}

#[tokio::test]
async fn provider_debug_shows_no_key_material() {
    let Some(ep) = endpoint("provider_debug_shows_no_key_material") else {
        return;
    };
    let (kms, _): (KmsKeyProvider, _) = provider(&ep, "alias/aws/secretsmanager");
    let text = format!("{kms:?}");
    assert!(text.contains("alias/aws/secretsmanager"), "{text}");
    assert!(text.contains("us-east-1"), "{text}");
}
