//! Metric names and shapes shared by every `MetricsSink` (Prometheus text locally, CloudWatch on
//! AWS), the gauges the service computes from the repository, and a key-provider decorator that
//! counts key-service calls for providers that do not count their own.
//!
//! Per call, `SecretsService::handle` reports the operation, its error code and its latency
//! (`MetricsSink::record_call`); everything else is a named counter (`MetricsSink::increment`)
//! from the list below. Gauges are not on the request path: [`crate::service::SecretsService::gauges`]
//! computes them from the repository when a sink asks (a Prometheus scrape, the scheduler).

use crate::ids::Scope;
use crate::ports::{DataKey, EncryptionContext, KeyError, KeyProvider, MetricsSink};
use async_trait::async_trait;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Plaintext data keys served from the in-memory cache.
pub const DATA_KEY_CACHE_HITS: &str = "DataKeyCacheHits";
/// Data keys the cache had to ask the key service for.
pub const DATA_KEY_CACHE_MISSES: &str = "DataKeyCacheMisses";
/// Calls to the key service (KMS, or the local keyring).
pub const KMS_CALLS: &str = "KmsCalls";
/// Key-service calls that failed.
pub const KMS_ERRORS: &str = "KmsErrors";
/// Rotations handed to the rotation runner.
pub const ROTATIONS_STARTED: &str = "RotationsStarted";
pub const ROTATIONS_SUCCEEDED: &str = "RotationsSucceeded";
pub const ROTATIONS_FAILED: &str = "RotationsFailed";
/// Audit events the sink failed to record (each one is also logged with its request id).
pub const AUDIT_EVENTS_NOT_RECORDED: &str = "AuditEventsNotRecorded";

/// Every named counter, with its help text (sinks report them from the start, at 0).
pub const COUNTERS: &[(&str, &str)] = &[
    (
        DATA_KEY_CACHE_HITS,
        "Plaintext data keys served from the in-memory data-key cache.",
    ),
    (
        DATA_KEY_CACHE_MISSES,
        "Data-key cache misses (each one is a key-service call).",
    ),
    (
        KMS_CALLS,
        "Calls to the key service (KMS, or the local keyring).",
    ),
    (KMS_ERRORS, "Key-service calls that failed."),
    (
        ROTATIONS_STARTED,
        "Rotations handed to the rotation runner (RotationStarted events).",
    ),
    (
        ROTATIONS_SUCCEEDED,
        "Rotations that completed (RotationSucceeded events).",
    ),
    (
        ROTATIONS_FAILED,
        "Rotations that failed or could not start (RotationFailed events).",
    ),
    (
        AUDIT_EVENTS_NOT_RECORDED,
        "Audit events the audit sink failed to record.",
    ),
];

/// Upper bounds (inclusive, milliseconds) of the call-latency histogram buckets; a last
/// `+Inf` bucket is implied.
pub const LATENCY_BUCKETS_MS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// The gauges of one scope, as AWS defines them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeGauges {
    pub scope: Scope,
    /// `ResourceCount`: every secret of the scope, those scheduled for deletion included.
    pub resource_count: u64,
    /// Secrets with rotation enabled whose next scheduled rotation is in the past (not counting
    /// secrets scheduled for deletion, which never rotate).
    pub overdue_rotations: u64,
}

/// Counts `KmsCalls` / `KmsErrors` around a key provider that does not count its own calls (the
/// local keyring; the KMS adapter counts itself).
pub struct MeteredKeyProvider {
    inner: Arc<dyn KeyProvider>,
    metrics: Arc<dyn MetricsSink>,
}

impl MeteredKeyProvider {
    pub fn new(inner: Arc<dyn KeyProvider>, metrics: Arc<dyn MetricsSink>) -> Self {
        MeteredKeyProvider { inner, metrics }
    }

    fn count<T>(&self, outcome: Result<T, KeyError>) -> Result<T, KeyError> {
        self.metrics.increment(KMS_CALLS, 1);
        if outcome.is_err() {
            self.metrics.increment(KMS_ERRORS, 1);
        }
        outcome
    }
}

#[async_trait]
impl KeyProvider for MeteredKeyProvider {
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        self.count(self.inner.resolve(scope, key_id).await)
    }

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.count(self.inner.generate_data_key(scope, key_id, context).await)
    }

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        self.count(self.inner.decrypt_data_key(scope, wrapped, context).await)
    }
}
