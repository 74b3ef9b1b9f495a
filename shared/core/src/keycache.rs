//! A bounded, time-limited cache of plaintext data keys in front of any `KeyProvider`, so a warm
//! GetSecretValue makes no KMS call. Entries are keyed by a digest of the wrapped key and its
//! encryption context (together they determine the plaintext), expire after a TTL, are capped in
//! number (oldest evicted first), and are zeroized when evicted or dropped. A TTL or a capacity
//! of 0 disables the cache.
//!
//! Trade-off, as with any KMS data-key cache: a key disabled in KMS keeps decrypting cached
//! versions until their entries expire (at most the TTL).

use crate::clock::{Clock, Timestamp};
use crate::ids::Scope;
use crate::ports::{DataKey, EncryptionContext, KeyError, KeyProvider, MetricsSink};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub ttl_ms: i64,
    pub max_entries: usize,
}

impl Default for CacheLimits {
    /// Five minutes and 1,000 entries.
    fn default() -> Self {
        CacheLimits {
            ttl_ms: 5 * 60 * 1000,
            max_entries: 1_000,
        }
    }
}

struct Entry {
    key: Zeroizing<[u8; 32]>,
    inserted: Timestamp,
}

pub struct CachingKeyProvider {
    inner: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn MetricsSink>,
    limits: CacheLimits,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

fn cache_key(wrapped: &[u8], context: &EncryptionContext) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((wrapped.len() as u64).to_be_bytes());
    h.update(wrapped);
    h.update(serde_json::to_vec(context).unwrap_or_default());
    h.finalize().into()
}

impl CachingKeyProvider {
    pub fn new(
        inner: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn MetricsSink>,
        limits: CacheLimits,
    ) -> Self {
        CachingKeyProvider {
            inner,
            clock,
            metrics,
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        self.limits.ttl_ms > 0 && self.limits.max_entries > 0
    }

    fn lookup(&self, id: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(id) {
            Some(e) if now.millis() - e.inserted.millis() < self.limits.ttl_ms => {
                Some(e.key.clone())
            }
            Some(_) => {
                entries.remove(id);
                None
            }
            None => None,
        }
    }

    fn insert(&self, id: [u8; 32], key: &[u8; 32]) {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = self.limits.ttl_ms;
        entries.retain(|_, e| now.millis() - e.inserted.millis() < ttl);
        while entries.len() >= self.limits.max_entries {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.inserted)
                .map(|(k, _)| *k)
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(
            id,
            Entry {
                key: Zeroizing::new(*key),
                inserted: now,
            },
        );
    }

    /// Number of live entries (for tests and gauges).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl KeyProvider for CachingKeyProvider {
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        self.inner.resolve(scope, key_id).await
    }

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let data_key = self.inner.generate_data_key(scope, key_id, context).await?;
        if self.enabled() {
            self.insert(cache_key(&data_key.wrapped, context), &data_key.plaintext);
        }
        Ok(data_key)
    }

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        if !self.enabled() {
            return self.inner.decrypt_data_key(scope, wrapped, context).await;
        }
        let id = cache_key(wrapped, context);
        if let Some(key) = self.lookup(&id) {
            self.metrics.increment("DataKeyCacheHits", 1);
            return Ok(key);
        }
        self.metrics.increment("DataKeyCacheMisses", 1);
        let key = self.inner.decrypt_data_key(scope, wrapped, context).await?;
        self.insert(id, &key);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::encryption_context;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    struct FixedClock(AtomicI64);
    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            Timestamp(self.0.load(Ordering::SeqCst))
        }
    }

    struct NoMetrics;
    impl MetricsSink for NoMetrics {
        fn record_call(&self, _: &str, _: Option<&str>, _: f64) {}
        fn increment(&self, _: &str, _: u64) {}
    }

    /// "Wraps" by XOR with 0x5a and counts decrypt calls.
    #[derive(Default)]
    struct CountingKeys {
        decrypts: AtomicUsize,
    }

    #[async_trait]
    impl KeyProvider for CountingKeys {
        async fn resolve(&self, _: &Scope, _: Option<&str>) -> Result<String, KeyError> {
            Ok("arn:aws:kms:us-east-1:0:key/k".into())
        }
        async fn generate_data_key(
            &self,
            _: &Scope,
            _: Option<&str>,
            _: &EncryptionContext,
        ) -> Result<DataKey, KeyError> {
            Ok(DataKey {
                plaintext: Zeroizing::new([1u8; 32]),
                wrapped: vec![1 ^ 0x5a; 32],
                key_arn: "k".into(),
            })
        }
        async fn decrypt_data_key(
            &self,
            _: &Scope,
            wrapped: &[u8],
            _: &EncryptionContext,
        ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
            self.decrypts.fetch_add(1, Ordering::SeqCst);
            let mut k = [0u8; 32];
            for (o, w) in k.iter_mut().zip(wrapped) {
                *o = w ^ 0x5a;
            }
            Ok(Zeroizing::new(k))
        }
    }

    fn cache(limits: CacheLimits) -> (CachingKeyProvider, Arc<CountingKeys>, Arc<FixedClock>) {
        let inner = Arc::new(CountingKeys::default());
        let clock = Arc::new(FixedClock(AtomicI64::new(0)));
        let c = CachingKeyProvider::new(inner.clone(), clock.clone(), Arc::new(NoMetrics), limits);
        (c, inner, clock)
    }

    #[tokio::test]
    async fn decrypt_warm_entry_makes_no_inner_call() {
        let (c, inner, _) = cache(CacheLimits::default());
        let scope = Scope::new("us-east-1", "0");
        let ctx = encryption_context("arn", "v1");
        let dk = c.generate_data_key(&scope, None, &ctx).await.unwrap();
        let key = c.decrypt_data_key(&scope, &dk.wrapped, &ctx).await.unwrap();
        assert_eq!(*key, *dk.plaintext);
        assert_eq!(inner.decrypts.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn decrypt_other_context_is_a_miss() {
        let (c, inner, _) = cache(CacheLimits::default());
        let scope = Scope::new("us-east-1", "0");
        let dk = c
            .generate_data_key(&scope, None, &encryption_context("arn", "v1"))
            .await
            .unwrap();
        c.decrypt_data_key(&scope, &dk.wrapped, &encryption_context("arn", "v2"))
            .await
            .unwrap();
        assert_eq!(inner.decrypts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn decrypt_after_ttl_calls_inner_again() {
        let (c, inner, clock) = cache(CacheLimits {
            ttl_ms: 1000,
            max_entries: 10,
        });
        let scope = Scope::new("us-east-1", "0");
        let ctx = encryption_context("arn", "v1");
        let wrapped = vec![7u8; 32];
        c.decrypt_data_key(&scope, &wrapped, &ctx).await.unwrap();
        c.decrypt_data_key(&scope, &wrapped, &ctx).await.unwrap();
        assert_eq!(inner.decrypts.load(Ordering::SeqCst), 1);
        clock.0.store(1000, Ordering::SeqCst);
        c.decrypt_data_key(&scope, &wrapped, &ctx).await.unwrap();
        assert_eq!(inner.decrypts.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn capacity_evicts_oldest_entry() {
        let (c, inner, clock) = cache(CacheLimits {
            ttl_ms: 60_000,
            max_entries: 2,
        });
        let scope = Scope::new("us-east-1", "0");
        let ctx = encryption_context("arn", "v1");
        for (t, b) in [(0, 1u8), (1, 2), (2, 3)] {
            clock.0.store(t, Ordering::SeqCst);
            c.decrypt_data_key(&scope, &[b; 32], &ctx).await.unwrap();
        }
        assert_eq!(c.len(), 2);
        c.decrypt_data_key(&scope, &[1u8; 32], &ctx).await.unwrap();
        assert_eq!(
            inner.decrypts.load(Ordering::SeqCst),
            4,
            "oldest entry was evicted"
        );
    }

    #[tokio::test]
    async fn zero_ttl_disables_cache() {
        let (c, inner, _) = cache(CacheLimits {
            ttl_ms: 0,
            max_entries: 10,
        });
        let scope = Scope::new("us-east-1", "0");
        let ctx = encryption_context("arn", "v1");
        c.decrypt_data_key(&scope, &[1u8; 32], &ctx).await.unwrap();
        c.decrypt_data_key(&scope, &[1u8; 32], &ctx).await.unwrap();
        assert_eq!(inner.decrypts.load(Ordering::SeqCst), 2);
        assert!(c.is_empty());
    }
}
