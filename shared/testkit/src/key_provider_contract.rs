//! The `KeyProvider` contract: what the core relies on from any key provider (the in-memory
//! fake, `coffer-embedded`'s keyring file, `coffer-aws`'s KMS adapter). Each case is a pub async
//! fn taking the provider and a scope; [`run_all`] runs them all. The cases only use the port
//! and the scope's default key (alias `alias/aws/secretsmanager`, created on first use), so they
//! run unchanged against real KMS. A failed case panics with the case's name.
//!
//! Cases are independent of one another and of leftover state: they may run in any order, and
//! repeatedly against the same provider.

use coffer_core::ids::Scope;
use coffer_core::ports::{encryption_context, EncryptionContext, KeyError, KeyProvider};

/// The alias every provider must give the scope's default key.
pub use coffer_core::ports::DEFAULT_KEY_ALIAS;

/// A key id that no provider has issued (valid UUID form).
const UNKNOWN_KEY_ID: &str = "11111111-2222-4333-8444-555555555555";

fn context(case: &str) -> EncryptionContext {
    encryption_context(
        &format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:contract/{case}-AbCdEf"),
        &format!("{case:0<32}"),
    )
}

/// A real region other than the scope's, in the same partition and account.
fn other_region(scope: &Scope) -> Scope {
    let region = if scope.region == "us-west-2" {
        "eu-west-1"
    } else {
        "us-west-2"
    };
    Scope {
        partition: scope.partition.clone(),
        region: region.to_string(),
        account: scope.account.clone(),
    }
}

fn kms_arn(scope: &Scope, resource: &str) -> String {
    format!(
        "arn:{}:kms:{}:{}:{}",
        scope.partition, scope.region, scope.account, resource
    )
}

/// Runs every case of the contract.
pub async fn run_all(provider: &dyn KeyProvider, scope: &Scope) {
    generate_then_decrypt_roundtrips(provider, scope).await;
    decrypt_with_other_context_is_invalid_ciphertext(provider, scope).await;
    every_id_form_resolves_to_the_same_arn(provider, scope).await;
    unknown_key_is_not_found(provider, scope).await;
    key_of_other_region_is_not_found(provider, scope).await;
    each_call_yields_a_fresh_data_key(provider, scope).await;
    tampered_wrapped_key_is_rejected(provider, scope).await;
    wrapped_key_of_other_region_is_rejected(provider, scope).await;
}

/// `generate_data_key` returns a data key that `decrypt_data_key` recovers from the wrapped
/// form alone, and names the key that wrapped it.
pub async fn generate_then_decrypt_roundtrips(provider: &dyn KeyProvider, scope: &Scope) {
    let ctx = context("roundtrip");
    let data_key = provider
        .generate_data_key(scope, None, &ctx)
        .await
        .expect("generate_then_decrypt_roundtrips: generate_data_key");
    assert_ne!(
        *data_key.plaintext, [0u8; 32],
        "generate_then_decrypt_roundtrips: zero key"
    );
    assert!(
        !data_key
            .wrapped
            .windows(32)
            .any(|w| w == &data_key.plaintext[..]),
        "generate_then_decrypt_roundtrips: the wrapped key contains the plaintext"
    );
    let default_arn = provider
        .resolve(scope, None)
        .await
        .expect("generate_then_decrypt_roundtrips: resolve");
    assert_eq!(
        data_key.key_arn, default_arn,
        "generate_then_decrypt_roundtrips: key_arn"
    );
    let plaintext = provider
        .decrypt_data_key(scope, &data_key.wrapped, &ctx)
        .await
        .expect("generate_then_decrypt_roundtrips: decrypt_data_key");
    assert_eq!(
        *plaintext, *data_key.plaintext,
        "generate_then_decrypt_roundtrips"
    );

    // The same through an explicit key id.
    let named = provider
        .generate_data_key(scope, Some(DEFAULT_KEY_ALIAS), &ctx)
        .await
        .expect("generate_then_decrypt_roundtrips: generate_data_key by alias");
    let plaintext = provider
        .decrypt_data_key(scope, &named.wrapped, &ctx)
        .await
        .expect("generate_then_decrypt_roundtrips: decrypt_data_key by alias");
    assert_eq!(
        *plaintext, *named.plaintext,
        "generate_then_decrypt_roundtrips: by alias"
    );
}

/// The encryption context is bound to the wrapped key: any other context, including a subset
/// or a superset, is `InvalidCiphertext`.
pub async fn decrypt_with_other_context_is_invalid_ciphertext(
    provider: &dyn KeyProvider,
    scope: &Scope,
) {
    let ctx = context("context");
    let data_key = provider
        .generate_data_key(scope, None, &ctx)
        .await
        .expect("decrypt_with_other_context_is_invalid_ciphertext: generate_data_key");
    let mut other_version = ctx.clone();
    other_version.insert("SecretVersionId".into(), "another-version".into());
    let mut superset = ctx.clone();
    superset.insert("Extra".into(), "x".into());
    let mut subset = ctx.clone();
    subset.remove("SecretVersionId");
    for (name, other) in [
        ("other version", other_version),
        ("other secret", context("context-other")),
        ("superset", superset),
        ("subset", subset),
        ("empty", EncryptionContext::new()),
    ] {
        assert_eq!(
            provider
                .decrypt_data_key(scope, &data_key.wrapped, &other)
                .await
                .err(),
            Some(KeyError::InvalidCiphertext),
            "decrypt_with_other_context_is_invalid_ciphertext: {name}"
        );
    }
}

/// `None`, the key id, the key ARN, the alias name and the alias ARN all name the default key.
pub async fn every_id_form_resolves_to_the_same_arn(provider: &dyn KeyProvider, scope: &Scope) {
    let arn = provider
        .resolve(scope, None)
        .await
        .expect("every_id_form_resolves_to_the_same_arn: resolve(None)");
    let prefix = kms_arn(scope, "key/");
    let key_id = arn.strip_prefix(&prefix).unwrap_or_else(|| {
        panic!("every_id_form_resolves_to_the_same_arn: {arn} is not a key ARN of the scope")
    });
    assert_eq!(
        key_id.len(),
        36,
        "every_id_form_resolves_to_the_same_arn: key id {key_id}"
    );
    let alias_arn = kms_arn(scope, DEFAULT_KEY_ALIAS);
    for form in [key_id, arn.as_str(), DEFAULT_KEY_ALIAS, alias_arn.as_str()] {
        let resolved = provider.resolve(scope, Some(form)).await;
        assert_eq!(
            resolved.as_deref(),
            Ok(arn.as_str()),
            "every_id_form_resolves_to_the_same_arn: {form}"
        );
    }
    let data_key = provider
        .generate_data_key(scope, Some(key_id), &context("forms"))
        .await
        .expect("every_id_form_resolves_to_the_same_arn: generate_data_key by key id");
    assert_eq!(
        data_key.key_arn, arn,
        "every_id_form_resolves_to_the_same_arn: key_arn"
    );
}

/// A key id, key ARN, alias or alias ARN that names nothing is `NotFound`, for `resolve` and
/// for `generate_data_key`.
pub async fn unknown_key_is_not_found(provider: &dyn KeyProvider, scope: &Scope) {
    let unknown = [
        UNKNOWN_KEY_ID.to_string(),
        kms_arn(scope, &format!("key/{UNKNOWN_KEY_ID}")),
        "alias/coffer-contract-no-such-alias".to_string(),
        kms_arn(scope, "alias/coffer-contract-no-such-alias"),
        "not-a-key-id".to_string(),
    ];
    for id in &unknown {
        let resolved = provider.resolve(scope, Some(id)).await;
        assert!(
            matches!(resolved, Err(KeyError::NotFound(_))),
            "unknown_key_is_not_found: resolve({id}) gave {resolved:?}"
        );
        let generated = provider
            .generate_data_key(scope, Some(id), &context("unknown"))
            .await
            .map(|k| k.key_arn);
        assert!(
            matches!(generated, Err(KeyError::NotFound(_))),
            "unknown_key_is_not_found: generate_data_key({id}) gave {generated:?}"
        );
    }
}

/// Each region is its own namespace: the ARNs of a key of another region do not resolve here.
pub async fn key_of_other_region_is_not_found(provider: &dyn KeyProvider, scope: &Scope) {
    let other = other_region(scope);
    let other_arn = provider
        .resolve(&other, None)
        .await
        .expect("key_of_other_region_is_not_found: resolve in the other region");
    let own_arn = provider
        .resolve(scope, None)
        .await
        .expect("key_of_other_region_is_not_found: resolve");
    assert_ne!(
        other_arn, own_arn,
        "key_of_other_region_is_not_found: same key"
    );
    for id in [other_arn, kms_arn(&other, DEFAULT_KEY_ALIAS)] {
        let resolved = provider.resolve(scope, Some(&id)).await;
        assert!(
            matches!(resolved, Err(KeyError::NotFound(_))),
            "key_of_other_region_is_not_found: resolve({id}) gave {resolved:?}"
        );
    }
}

/// Every call yields a new data key and a new wrapped key, even with the same context.
pub async fn each_call_yields_a_fresh_data_key(provider: &dyn KeyProvider, scope: &Scope) {
    let ctx = context("fresh");
    let mut plaintexts = Vec::new();
    let mut wrapped = Vec::new();
    for _ in 0..4 {
        let data_key = provider
            .generate_data_key(scope, None, &ctx)
            .await
            .expect("each_call_yields_a_fresh_data_key: generate_data_key");
        plaintexts.push(*data_key.plaintext);
        wrapped.push(data_key.wrapped.clone());
    }
    for i in 0..plaintexts.len() {
        for j in i + 1..plaintexts.len() {
            assert_ne!(
                plaintexts[i], plaintexts[j],
                "each_call_yields_a_fresh_data_key"
            );
            assert_ne!(
                wrapped[i], wrapped[j],
                "each_call_yields_a_fresh_data_key: wrapped"
            );
        }
    }
}

/// A wrapped key with any byte flipped, truncated, extended or empty is rejected; a flip in its
/// last byte (the authentication tag) is `InvalidCiphertext`.
pub async fn tampered_wrapped_key_is_rejected(provider: &dyn KeyProvider, scope: &Scope) {
    let ctx = context("tamper");
    let data_key = provider
        .generate_data_key(scope, None, &ctx)
        .await
        .expect("tampered_wrapped_key_is_rejected: generate_data_key");
    let good = &data_key.wrapped;
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let opened = provider.decrypt_data_key(scope, &bad, &ctx).await;
        assert!(
            opened.is_err(),
            "tampered_wrapped_key_is_rejected: byte {i} flipped was accepted"
        );
    }
    let mut bad = good.clone();
    if let Some(last) = bad.last_mut() {
        *last ^= 0x80;
    }
    assert_eq!(
        provider.decrypt_data_key(scope, &bad, &ctx).await.err(),
        Some(KeyError::InvalidCiphertext),
        "tampered_wrapped_key_is_rejected: flipped tag"
    );
    let mut longer = good.clone();
    longer.push(0);
    for (name, bad) in [
        ("empty", Vec::new()),
        ("one byte", good[..1].to_vec()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("extended", longer),
    ] {
        let opened = provider.decrypt_data_key(scope, &bad, &ctx).await;
        assert_eq!(
            opened.err(),
            Some(KeyError::InvalidCiphertext),
            "tampered_wrapped_key_is_rejected: {name}"
        );
    }
}

/// A wrapped key made in one region does not decrypt in another.
pub async fn wrapped_key_of_other_region_is_rejected(provider: &dyn KeyProvider, scope: &Scope) {
    let ctx = context("region");
    let data_key = provider
        .generate_data_key(&other_region(scope), None, &ctx)
        .await
        .expect("wrapped_key_of_other_region_is_rejected: generate_data_key");
    let opened = provider
        .decrypt_data_key(scope, &data_key.wrapped, &ctx)
        .await;
    assert!(
        opened.is_err(),
        "wrapped_key_of_other_region_is_rejected: decrypted in another region"
    );
}
