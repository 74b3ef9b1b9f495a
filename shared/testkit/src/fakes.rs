//! Small fakes of the core's other ports, for service tests: an audit sink that keeps what it
//! is given (and can be made to fail), a clock the test moves by hand, distinct "random" bytes,
//! metrics that count or go nowhere.

use async_trait::async_trait;
use coffer_core::audit::AuditEvent;
use coffer_core::clock::{Clock, RandomSource, Timestamp};
use coffer_core::ports::{AuditError, AuditSink, MetricsSink};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Keeps every event; fails every `record` while `failing` is set ("disk full").
#[derive(Default)]
pub struct RecordingAudit {
    pub events: Mutex<Vec<AuditEvent>>,
    pub failing: AtomicBool,
}

impl RecordingAudit {
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl AuditSink for RecordingAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuditError("disk full".into()));
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// A clock that stands still until the test sets or advances it (epoch milliseconds).
pub struct ManualClock(pub AtomicI64);

impl ManualClock {
    pub fn at(millis: i64) -> ManualClock {
        ManualClock(AtomicI64::new(millis))
    }

    pub fn set(&self, millis: i64) {
        self.0.store(millis, Ordering::SeqCst);
    }

    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    pub fn millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis())
    }
}

/// Deterministic, distinct bytes (ids only need to be distinct in tests).
pub struct CountingRandom(pub AtomicU64);

impl Default for CountingRandom {
    fn default() -> Self {
        CountingRandom(AtomicU64::new(1))
    }
}

impl RandomSource for CountingRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.0.fetch_add(1, Ordering::SeqCst).to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

/// Metrics that go nowhere.
pub struct NoMetrics;

impl MetricsSink for NoMetrics {
    fn record_call(&self, _: &str, _: Option<&str>, _: f64) {}
    fn increment(&self, _: &str, _: u64) {}
}

/// Counts calls (`call:<Op>`), errors (`error:<Op>:<Code>`) and other counters by name.
#[derive(Default)]
pub struct CountingMetrics(Mutex<BTreeMap<String, u64>>);

impl CountingMetrics {
    pub fn get(&self, name: &str) -> u64 {
        self.0.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl MetricsSink for CountingMetrics {
    fn record_call(&self, operation: &str, code: Option<&str>, _: f64) {
        let mut counters = self.0.lock().unwrap();
        *counters.entry(format!("call:{operation}")).or_default() += 1;
        if let Some(code) = code {
            *counters
                .entry(format!("error:{operation}:{code}"))
                .or_default() += 1;
        }
    }

    fn increment(&self, metric: &str, by: u64) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(metric.to_string())
            .or_default() += by;
    }
}
