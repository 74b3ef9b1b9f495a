//! The stored shape of a secret: metadata plus immutable versions. `SecretRecord` is what a
//! `SecretRepository` keeps per secret (one row / one item); `EncryptedValue` is what it keeps per
//! version that has a value. Staging labels live in the record, so moving a label is one
//! conditional write of the record (optimistic concurrency on `revision`).

use crate::clock::Timestamp;
use crate::ids::{Scope, SecretArn, SecretName, StageLabel, VersionId, AWSCURRENT, AWSPENDING};
use crate::rotation::schedule::RotationRules;
use crate::value::ValueKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePolicy {
    pub name: String,
    pub document: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RotationConfig {
    /// True once rotation was ever configured (DescribeSecret then reports `RotationEnabled`).
    pub configured: bool,
    pub enabled: bool,
    pub lambda_arn: Option<String>,
    pub rules: Option<RotationRules>,
    pub last_rotated: Option<Timestamp>,
    pub next_rotation: Option<Timestamp>,
    pub external_metadata: Vec<(String, String)>,
    pub external_role_arn: Option<String>,
    /// When the window that opens at `next_rotation` closes (the scheduler starts the rotation
    /// at a pseudo-random moment inside it).
    #[serde(default)]
    pub next_rotation_end: Option<Timestamp>,
    /// The rotation job running (or last failed) for this secret.
    #[serde(default)]
    pub in_progress: Option<RotationInProgress>,
}

/// The state of the latest rotation job of a secret, kept in the record so that every replica
/// (and the rotation function, the scheduler, PutSecretValue) sees the same truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationInProgress {
    /// The version the job rotates to (AWSPENDING), or, for a test-only job, AWSCURRENT's.
    pub version: VersionId,
    /// SHA-256 (hex) of the job's `RotationToken`: PutSecretValue checks a token against it.
    /// The token itself is a capability and is never stored.
    pub token_sha256: String,
    pub started: Timestamp,
    /// `RotateImmediately=false`: only `testSecret` runs.
    pub test_only: bool,
    /// The job gave up after its retries; the next RotateSecret or window reattempts it.
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    pub id: VersionId,
    pub stages: Vec<StageLabel>,
    pub created: Timestamp,
    pub last_accessed: Option<Timestamp>,
    /// ARN of the key that encrypted this version's data key; `None` for a value-less version.
    pub kms_key_arn: Option<String>,
    pub has_value: bool,
}

impl VersionMeta {
    pub fn has_stage(&self, label: &str) -> bool {
        self.stages.iter().any(|s| s.as_str() == label)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub arn: SecretArn,
    pub name: SecretName,
    pub scope: Scope,
    pub description: Option<String>,
    /// The key id exactly as the caller gave it; `None` means the default key.
    pub kms_key_id: Option<String>,
    pub secret_type: Option<String>,
    pub tags: Vec<Tag>,
    /// True once the secret has had a tag: DescribeSecret then answers `"Tags": []` after the
    /// last one is removed, as AWS does (absent in records written before this field).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub had_tags: bool,
    pub rotation: RotationConfig,
    pub policies: Vec<ResourcePolicy>,
    pub created: Timestamp,
    pub last_changed: Timestamp,
    pub last_accessed: Option<Timestamp>,
    /// When DeleteSecret was called; the secret is "scheduled for deletion" while set.
    pub deleted: Option<Timestamp>,
    /// When the recovery window ends and the secret may be purged.
    pub purge_after: Option<Timestamp>,
    /// Versions, oldest first.
    pub versions: Vec<VersionMeta>,
    /// Optimistic-concurrency counter: every write checks it and increments it.
    pub revision: u64,
}

impl SecretRecord {
    pub fn version(&self, id: &VersionId) -> Option<&VersionMeta> {
        self.versions.iter().find(|v| &v.id == id)
    }

    pub fn version_mut(&mut self, id: &VersionId) -> Option<&mut VersionMeta> {
        self.versions.iter_mut().find(|v| &v.id == id)
    }

    pub fn version_with_stage(&self, label: &str) -> Option<&VersionMeta> {
        self.versions.iter().find(|v| v.has_stage(label))
    }

    pub fn current_version(&self) -> Option<&VersionMeta> {
        self.version_with_stage(AWSCURRENT)
    }

    /// A rotation is incomplete while AWSPENDING sits on a version other than AWSCURRENT's.
    pub fn pending_rotation(&self) -> Option<&VersionMeta> {
        self.version_with_stage(AWSPENDING)
            .filter(|v| !v.has_stage(AWSCURRENT))
    }

    pub fn is_scheduled_for_deletion(&self) -> bool {
        self.deleted.is_some()
    }
}

/// The ciphertext of one version, as the repository stores it. `envelope` is the versioned
/// envelope produced by [`crate::crypto`] (header, wrapped data key, nonce, AES-GCM ciphertext).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedValue {
    pub version_id: VersionId,
    pub kind: StoredKind,
    pub envelope: Vec<u8>,
}

impl std::fmt::Debug for EncryptedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedValue")
            .field("version_id", &self.version_id)
            .field("kind", &self.kind)
            .field("envelope_len", &self.envelope.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredKind {
    String,
    Binary,
}

impl From<ValueKind> for StoredKind {
    fn from(k: ValueKind) -> Self {
        match k {
            ValueKind::String => StoredKind::String,
            ValueKind::Binary => StoredKind::Binary,
        }
    }
}

impl From<StoredKind> for ValueKind {
    fn from(k: StoredKind) -> Self {
        match k {
            StoredKind::String => ValueKind::String,
            StoredKind::Binary => ValueKind::Binary,
        }
    }
}
