//! The ports of the core: traits named by role. Adapters live in `coffer-embedded` (one machine)
//! and `coffer-aws` (DynamoDB, KMS, CloudWatch); the in-memory fakes and the contract suites that
//! every adapter must pass live in `coffer-testkit`.

use crate::audit::AuditEvent;
use crate::clock::Timestamp;
use crate::identity::principals::{
    AccessKeyRecord, PrincipalRecord, PrincipalType, PRINCIPAL_KEY_REGION,
};
use crate::ids::{Scope, SecretArn, VersionId};
use crate::model::{EncryptedValue, SecretRecord};
use async_trait::async_trait;
use std::collections::BTreeMap;
use thiserror::Error;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// Storage

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RepositoryError {
    /// `insert` found a secret with the same name in the scope.
    #[error("a secret with this name already exists")]
    NameTaken,
    /// `update` found a different revision than expected: re-read and retry.
    #[error("the secret changed since it was read")]
    Conflict,
    /// The store is overloaded (throttling); the caller may retry later.
    #[error("the store is throttling requests: {0}")]
    Throttled(String),
    /// The store could not be reached or failed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Writes that `update` applies atomically with the revision check.
#[derive(Debug, Clone, Default)]
pub struct VersionWrites {
    /// Values of new versions (or of a value-less version receiving its value).
    pub put_values: Vec<EncryptedValue>,
    /// Versions whose values are removed (deprecated versions pruned by the retention rule).
    pub delete_values: Vec<VersionId>,
}

#[async_trait]
pub trait SecretRepository: Send + Sync {
    async fn get_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<SecretRecord>, RepositoryError>;

    async fn get_by_arn(&self, arn: &str) -> Result<Option<SecretRecord>, RepositoryError>;

    /// The record named `name` and the value of its AWSCURRENT version (if it has one with a
    /// value): the hot path of GetSecretValue. Adapters that keep the current value beside the
    /// record (DynamoDB) answer with one read; the default makes two.
    async fn get_by_name_with_current(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<(SecretRecord, Option<EncryptedValue>)>, RepositoryError> {
        let Some(record) = self.get_by_name(scope, name).await? else {
            return Ok(None);
        };
        let current = match record.current_version().filter(|v| v.has_value) {
            Some(v) => self.get_value(&record.arn, &v.id).await?,
            None => None,
        };
        Ok(Some((record, current)))
    }

    async fn get_value(
        &self,
        arn: &SecretArn,
        version: &VersionId,
    ) -> Result<Option<EncryptedValue>, RepositoryError>;

    /// Creates a secret; `NameTaken` if its name is used in its scope.
    async fn insert(
        &self,
        record: &SecretRecord,
        values: &[EncryptedValue],
    ) -> Result<(), RepositoryError>;

    /// Replaces the record if its stored revision is still `expected_revision` (the new record
    /// carries `expected_revision + 1`), and applies `writes` in the same transaction.
    async fn update(
        &self,
        record: &SecretRecord,
        expected_revision: u64,
        writes: &VersionWrites,
    ) -> Result<(), RepositoryError>;

    /// Records a read at day granularity without bumping the revision (a read must never make a
    /// concurrent writer retry).
    async fn touch_accessed(
        &self,
        arn: &SecretArn,
        version: &VersionId,
        day: Timestamp,
    ) -> Result<(), RepositoryError>;

    /// All secrets of a scope (ListSecrets filters and sorts in the core).
    async fn list(&self, scope: &Scope) -> Result<Vec<SecretRecord>, RepositoryError>;

    /// Secrets of any scope whose recovery window ended at or before `now`.
    async fn list_purgeable(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError>;

    /// Removes a secret and all its versions for good.
    async fn purge(&self, arn: &SecretArn) -> Result<(), RepositoryError>;

    /// Secrets of any scope whose rotation is enabled and whose `NextRotationDate` is at or
    /// before `now`, not scheduled for deletion (the scheduler's query). The default scans every
    /// scope; adapters with an index (DynamoDB's sparse `by_rotation`) answer from it.
    async fn list_due_rotations(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError> {
        let mut due = Vec::new();
        for scope in self.list_scopes().await? {
            due.extend(
                self.list(&scope)
                    .await?
                    .into_iter()
                    .filter(|s| s.deleted.is_none() && s.rotation.enabled)
                    .filter(|s| s.rotation.next_rotation.is_some_and(|next| next <= now))
                    .map(|s| s.arn),
            );
        }
        Ok(due)
    }

    /// Every scope that holds at least one secret (scheduled-for-deletion ones included), each
    /// once, for the `ResourceCount` and overdue-rotation gauges. Optional: the default answers
    /// `Unavailable`, and the gauges are then not reported.
    async fn list_scopes(&self) -> Result<Vec<Scope>, RepositoryError> {
        Err(RepositoryError::Unavailable(
            "this repository does not list scopes".to_string(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// The KMS encryption context: `{"SecretARN": arn, "SecretVersionId": id}`.
pub type EncryptionContext = BTreeMap<String, String>;

pub fn encryption_context(arn: &str, version: &str) -> EncryptionContext {
    let mut ctx = BTreeMap::new();
    ctx.insert("SecretARN".to_string(), arn.to_string());
    ctx.insert("SecretVersionId".to_string(), version.to_string());
    ctx
}

/// A fresh 256-bit data key: the plaintext (zeroized on drop) and the same key wrapped under a
/// master key.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; 32]>,
    pub wrapped: Vec<u8>,
    pub key_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("key not found: {0}")]
    NotFound(String),
    #[error("key is disabled: {0}")]
    Disabled(String),
    #[error("access to the key was denied: {0}")]
    AccessDenied(String),
    #[error("the ciphertext or its encryption context is invalid")]
    InvalidCiphertext,
    #[error("the key service is throttling requests")]
    Throttled,
    #[error("the key service is unavailable: {0}")]
    Unavailable(String),
}

/// The alias of the key a secret is encrypted under when it names none: AWS's managed key
/// for Secrets Manager. Every `KeyProvider` gives each scope's default key this alias.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";

#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// Resolves a key id, key ARN, alias name or alias ARN (`None`: the default key of the
    /// scope) to the key's ARN, checking that the key exists and is usable.
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError>;

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError>;
}

// ---------------------------------------------------------------------------------------------
// Audit and metrics

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("audit event could not be recorded: {0}")]
pub struct AuditError(pub String);

#[async_trait]
pub trait AuditSink: Send + Sync {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError>;

    /// Makes what was recorded so far durable and, for sinks that sign their stream, appends a
    /// signed digest of the stream's head (see `audit::digest`). Called at intervals and on
    /// clean shutdown, off the request path. The default does nothing.
    async fn checkpoint(&self) -> Result<(), AuditError> {
        Ok(())
    }
}

/// Counters and timings. Implementations must be cheap and non-blocking: they run on the
/// request path.
pub trait MetricsSink: Send + Sync {
    /// One API call: its operation, its error code if it failed, and its latency.
    fn record_call(&self, operation: &str, error_code: Option<&str>, latency_ms: f64);
    /// Any other counter (`DataKeyCacheHit`, `KmsCalls`, `RotationsStarted`, ...).
    fn increment(&self, metric: &str, by: u64);
}

// ---------------------------------------------------------------------------------------------
// Rotation

/// One rotation to run: the four steps of the rotation function for `pending_version`. It
/// travels as the payload of the asynchronous Lambda invocation of the `rotation` function, so
/// it is (de)serializable; `rotation_token` is a capability and is never logged.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RotationJob {
    pub scope: Scope,
    pub secret_arn: SecretArn,
    pub lambda_arn: String,
    /// The AWSPENDING version to create; `None` when `RotateImmediately` is false (the job then
    /// only runs `testSecret` against AWSCURRENT).
    pub pending_version: Option<VersionId>,
    pub rotation_token: String,
}

impl std::fmt::Debug for RotationJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotationJob")
            .field("scope", &self.scope)
            .field("secret_arn", &self.secret_arn)
            .field("lambda_arn", &self.lambda_arn)
            .field("pending_version", &self.pending_version)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the rotation could not be started: {0}")]
pub struct RotationStartError(pub String);

/// Starts a rotation job asynchronously (AWS mode: Lambda `Invoke` with `InvocationType=Event`).
#[async_trait]
pub trait RotationInvoker: Send + Sync {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError>;
}

/// The four steps of a rotation function, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RotationStep {
    #[serde(rename = "createSecret")]
    CreateSecret,
    #[serde(rename = "setSecret")]
    SetSecret,
    #[serde(rename = "testSecret")]
    TestSecret,
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl RotationStep {
    pub const ALL: [RotationStep; 4] = [
        RotationStep::CreateSecret,
        RotationStep::SetSecret,
        RotationStep::TestSecret,
        RotationStep::FinishSecret,
    ];

    /// The step's name on the wire (`createSecret`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStep::CreateSecret => "createSecret",
            RotationStep::SetSecret => "setSecret",
            RotationStep::TestSecret => "testSecret",
            RotationStep::FinishSecret => "finishSecret",
        }
    }
}

impl std::fmt::Display for RotationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The event a rotation function receives, exactly as AWS Secrets Manager sends it:
/// `{"Step": ..., "SecretId": <arn>, "ClientRequestToken": <pending version id>,
/// "RotationToken": <opaque token>}`. AWS's own rotation functions work unchanged.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationStepEvent {
    pub step: RotationStep,
    pub secret_id: String,
    pub client_request_token: String,
    /// Optional on input so events from older senders decode; Coffer always sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_token: Option<String>,
}

impl std::fmt::Debug for RotationStepEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotationStepEvent")
            .field("step", &self.step)
            .field("secret_id", &self.secret_id)
            .field("client_request_token", &self.client_request_token)
            .finish_non_exhaustive()
    }
}

/// Why a rotation function's step failed, in words that may be recorded in the audit trail:
/// Coffer's own description (and a built-in rotator's message, which never quotes a secret),
/// never text a third-party function wrote, since that could quote the secret it handled (the
/// Lambda adapter keeps only the `errorType`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct StepFailure(pub String);

/// Invokes a rotation function for one step and waits for it (AWS mode: Lambda `Invoke` with
/// `InvocationType=RequestResponse`; local mode: a built-in rotator in-process, or Lambda's
/// Invoke API at `--lambda-endpoint`).
#[async_trait]
pub trait RotationFunction: Send + Sync {
    async fn invoke(
        &self,
        function_arn: &str,
        event: &RotationStepEvent,
    ) -> Result<(), StepFailure>;
}

/// Where principals and access keys live. Adapters: `coffer-embedded`'s SQLite store (same
/// database as the secrets), `coffer-aws`'s DynamoDB store (same table as the secrets),
/// `coffer-testkit`'s in-memory fake. `coffer-testkit::principal_store_contract` is the contract.
#[async_trait]
pub trait PrincipalStore: Send + Sync {
    /// The region whose default key (of the principal's account) wraps the access-key secrets
    /// kept here. It must stay the same for the life of the stored keys.
    fn key_region(&self) -> &str {
        PRINCIPAL_KEY_REGION
    }

    /// Creates a principal; `NameTaken` if one of the same kind and name exists in the account.
    async fn insert_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError>;
    /// Replaces an existing principal (policies, tags); `Conflict` if it does not exist.
    async fn put_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError>;
    async fn get_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<Option<PrincipalRecord>, RepositoryError>;
    /// Removes a principal; false if there was none.
    async fn delete_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<bool, RepositoryError>;
    /// The principals of one kind in an account, by name.
    async fn list_principals(
        &self,
        account: &str,
        kind: PrincipalType,
    ) -> Result<Vec<PrincipalRecord>, RepositoryError>;

    /// Stores a key; `NameTaken` if the id exists.
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), RepositoryError>;
    async fn get_access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyRecord>, RepositoryError>;
    /// Removes a key; false if there was none.
    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, RepositoryError>;
    /// The keys of one user, by id.
    async fn list_access_keys(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Vec<AccessKeyRecord>, RepositoryError>;
}
