//! Builders for test data: scopes, ARNs, version ids, records and encrypted values that are
//! valid by the core's rules (names and version ids parse) and deterministic (no clock, no RNG),
//! so a failing test prints the same data every run.
//!
//! The envelopes built here are opaque placeholder bytes, not real ciphertext: repositories store
//! envelopes without looking inside them.

use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, SecretArn, SecretName, StageLabel, VersionId};
use coffer_core::model::{EncryptedValue, RotationConfig, SecretRecord, StoredKind, VersionMeta};

/// 2023-11-14T22:13:20Z: the "now" of test data.
pub const T0: Timestamp = Timestamp(1_700_000_000_000);

/// The account every builder uses unless told otherwise.
pub const ACCOUNT: &str = "123456789012";

/// The region every builder uses unless told otherwise.
pub const REGION: &str = "us-east-1";

/// `aws` / `us-east-1` / `123456789012`.
pub fn scope() -> Scope {
    Scope::new(REGION, ACCOUNT)
}

/// The default account in another region.
pub fn scope_in(region: &str) -> Scope {
    Scope::new(region, ACCOUNT)
}

/// A parsed secret name; panics on a name the core would reject (a test bug).
pub fn secret_name(name: &str) -> SecretName {
    SecretName::parse(name).unwrap_or_else(|e| panic!("invalid test secret name {name:?}: {e}"))
}

/// The ARN of `name` in `scope`, with a fixed six-character suffix.
pub fn arn_for(scope: &Scope, name: &str) -> SecretArn {
    arn_with_suffix(scope, name, "a1B2c3")
}

/// The ARN of `name` in `scope` with the given suffix (two secrets that had the same name at
/// different times differ only in their suffix).
pub fn arn_with_suffix(scope: &Scope, name: &str, suffix: &str) -> SecretArn {
    SecretArn::new(scope, &secret_name(name), suffix)
}

/// A UUID-shaped version id (36 characters), distinct for each `n`.
pub fn version_id(n: u32) -> VersionId {
    VersionId::from_stored(format!("{n:08x}-0000-4000-8000-00000000c0ff"))
}

/// Version metadata with a value encrypted under the test key.
pub fn version_meta(id: VersionId, stages: &[&str], created: Timestamp) -> VersionMeta {
    VersionMeta {
        id,
        stages: stages.iter().map(|s| stage(s)).collect(),
        created,
        last_accessed: None,
        kms_key_arn: Some(test_key_arn()),
        has_value: true,
    }
}

/// Version metadata of a value-less version (RotateSecret's AWSPENDING before `setSecret`).
pub fn value_less_version(id: VersionId, stages: &[&str], created: Timestamp) -> VersionMeta {
    VersionMeta {
        kms_key_arn: None,
        has_value: false,
        ..version_meta(id, stages, created)
    }
}

/// A parsed staging label.
pub fn stage(label: &str) -> StageLabel {
    StageLabel::parse(label).unwrap_or_else(|e| panic!("invalid test stage {label:?}: {e}"))
}

/// The ARN of the key the builders pretend encrypted every value.
pub fn test_key_arn() -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000001")
}

/// A record as CreateSecret stores it: revision 1, created at [`T0`], one AWSCURRENT version
/// ([`version_id`]`(1)`) that has a value (store it with [`sample_value`]).
pub fn sample_record(scope: &Scope, name: &str) -> SecretRecord {
    SecretRecord {
        arn: arn_for(scope, name),
        name: secret_name(name),
        scope: scope.clone(),
        description: None,
        kms_key_id: None,
        secret_type: None,
        tags: vec![],
        had_tags: false,
        rotation: RotationConfig::default(),
        policies: vec![],
        created: T0,
        last_changed: T0,
        last_accessed: None,
        deleted: None,
        purge_after: None,
        versions: vec![version_meta(version_id(1), &["AWSCURRENT"], T0)],
        revision: 1,
    }
}

/// An opaque envelope for `version` whose bytes depend on `version` and `seed`, so tests can tell
/// two values of one version apart (re-encryption) and include bytes that are not UTF-8.
pub fn sample_value_seeded(version: &VersionId, kind: StoredKind, seed: u8) -> EncryptedValue {
    let mut envelope = vec![0x01, 0x00, 0xff, 0xfe, seed];
    envelope.extend_from_slice(version.as_str().as_bytes());
    envelope.extend((0u8..=40).map(|i| i.wrapping_mul(seed).wrapping_add(7)));
    EncryptedValue {
        version_id: version.clone(),
        kind,
        envelope,
    }
}

/// An opaque string-kind envelope for `version`.
pub fn sample_value(version: &VersionId) -> EncryptedValue {
    sample_value_seeded(version, StoredKind::String, 1)
}

/// One [`sample_value`] per version of `record` that has a value: what `insert` takes.
pub fn sample_values(record: &SecretRecord) -> Vec<EncryptedValue> {
    record
        .versions
        .iter()
        .filter(|v| v.has_value)
        .map(|v| sample_value(&v.id))
        .collect()
}

/// `record` as DeleteSecret leaves it: scheduled for deletion at `deleted`, purgeable at
/// `purge_after`.
pub fn scheduled_for_deletion(
    mut record: SecretRecord,
    deleted: Timestamp,
    purge_after: Timestamp,
) -> SecretRecord {
    record.deleted = Some(deleted);
    record.purge_after = Some(purge_after);
    record
}

/// `body` with a fresh `ClientRequestToken` when `operation` creates versions and the body has
/// none — what the AWS SDKs and the CLI do for the model's idempotency tokens, so that tests which
/// call the service with raw JSON behave like real clients (a raw call without one is refused).
pub fn with_idempotency_token(operation: &str, mut body: serde_json::Value) -> serde_json::Value {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let creates_versions = matches!(
        operation,
        "CreateSecret" | "PutSecretValue" | "UpdateSecret" | "RotateSecret"
    );
    if let (true, Some(object)) = (creates_versions, body.as_object_mut()) {
        object.entry("ClientRequestToken").or_insert_with(|| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            serde_json::Value::String(format!("00000000-0000-4000-8000-{n:012}"))
        });
    }
    body
}
