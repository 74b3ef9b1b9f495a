//! In-process metrics for the local server, rendered as Prometheus text on `GET /metrics`:
//!
//! - `coffer_calls_total{operation}`: API calls; `coffer_errors_total{operation,code}`: failed
//!   calls by AWS error code; `coffer_latency_ms{operation}`: a latency histogram in
//!   milliseconds (`_bucket{le}`, `_sum`, `_count`; buckets from
//!   `coffer_core::metrics::LATENCY_BUCKETS_MS`).
//! - `coffer_<Counter>`: the named counters of `coffer_core::metrics::COUNTERS`
//!   (`coffer_DataKeyCacheHits`, `coffer_KmsCalls`, `coffer_RotationsStarted`, ...), reported
//!   from the start at 0, plus any other name a component increments.
//! - Gauges, computed by the caller of [`InProcessMetrics::render_prometheus_with`] from the
//!   repository at scrape time: `coffer_ResourceCount{region,account}` (all secrets, including
//!   those scheduled for deletion) and `coffer_SecretsOverdueForRotation{region,account}`.
//!
//! The request path is cheap: a read lock on a map keyed by operation (no allocation once the
//! operation has been seen) and a few relaxed atomic adds; the error-code map is locked only for
//! failed calls. Operation names come from the client's `X-Amz-Target`, so they are bounded:
//! names that are not short ASCII identifiers, and new names beyond [`MAX_OPERATIONS`], are
//! counted under `Other`.

use coffer_core::metrics::{ScopeGauges, COUNTERS, LATENCY_BUCKETS_MS};
use coffer_core::ports::MetricsSink;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Distinct operation labels kept (Secrets Manager has 26 operations).
pub const MAX_OPERATIONS: usize = 64;
const OTHER: &str = "Other";

struct OperationStats {
    calls: AtomicU64,
    /// Sum of latencies in microseconds (rendered in milliseconds).
    latency_us: AtomicU64,
    /// Calls per bucket (not cumulative); the last is `+Inf`.
    buckets: Vec<AtomicU64>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl OperationStats {
    fn new() -> Self {
        OperationStats {
            calls: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            buckets: (0..=LATENCY_BUCKETS_MS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }
}

pub struct InProcessMetrics {
    operations: RwLock<BTreeMap<String, Arc<OperationStats>>>,
    counters: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Default for InProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn valid_operation(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A Prometheus metric name made of what a component passed to `increment`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl InProcessMetrics {
    pub fn new() -> Self {
        let counters = COUNTERS
            .iter()
            .map(|(name, _)| (name.to_string(), Arc::new(AtomicU64::new(0))))
            .collect();
        InProcessMetrics {
            operations: RwLock::new(BTreeMap::new()),
            counters: RwLock::new(counters),
        }
    }

    fn operation(&self, operation: &str) -> Arc<OperationStats> {
        if let Some(stats) = self
            .operations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation)
        {
            return stats.clone();
        }
        let mut operations = self
            .operations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let name = if valid_operation(operation)
            && (operations.len() < MAX_OPERATIONS || operations.contains_key(operation))
        {
            operation
        } else {
            OTHER
        };
        operations
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(OperationStats::new()))
            .clone()
    }

    /// Calls recorded for `operation` so far.
    pub fn calls(&self, operation: &str) -> u64 {
        self.operations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation)
            .map_or(0, |s| s.calls.load(Ordering::Relaxed))
    }

    /// The value of the named counter.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition of the counters and histograms (no gauges).
    pub fn render_prometheus(&self) -> String {
        self.render_prometheus_with(None)
    }

    /// The Prometheus text exposition, with the repository gauges when given.
    pub fn render_prometheus_with(&self, gauges: Option<&[ScopeGauges]>) -> String {
        let mut out = String::new();
        let operations: Vec<(String, Arc<OperationStats>)> = self
            .operations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (label(k), v.clone()))
            .collect();

        out.push_str("# HELP coffer_calls_total API calls by operation.\n");
        out.push_str("# TYPE coffer_calls_total counter\n");
        for (op, stats) in &operations {
            let n = stats.calls.load(Ordering::Relaxed);
            let _ = writeln!(out, "coffer_calls_total{{operation=\"{op}\"}} {n}");
        }

        out.push_str("# HELP coffer_errors_total Failed API calls by operation and error code.\n");
        out.push_str("# TYPE coffer_errors_total counter\n");
        for (op, stats) in &operations {
            let errors = stats
                .errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for (code, n) in errors {
                let code = label(&code);
                let _ = writeln!(
                    out,
                    "coffer_errors_total{{operation=\"{op}\",code=\"{code}\"}} {n}"
                );
            }
        }

        out.push_str("# HELP coffer_latency_ms API call latency in milliseconds.\n");
        out.push_str("# TYPE coffer_latency_ms histogram\n");
        for (op, stats) in &operations {
            let mut cumulative = 0u64;
            for (i, bucket) in stats.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = LATENCY_BUCKETS_MS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "coffer_latency_ms_bucket{{operation=\"{op}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum_ms = stats.latency_us.load(Ordering::Relaxed) as f64 / 1000.0;
            let _ = writeln!(out, "coffer_latency_ms_sum{{operation=\"{op}\"}} {sum_ms}");
            let _ = writeln!(
                out,
                "coffer_latency_ms_count{{operation=\"{op}\"}} {cumulative}"
            );
        }

        let counters: Vec<(String, u64)> = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        for (name, n) in counters {
            let help = COUNTERS
                .iter()
                .find(|(known, _)| *known == name)
                .map_or("A Coffer counter.", |(_, help)| help);
            let name = metric_name(&name);
            let _ = writeln!(
                out,
                "# HELP coffer_{name} {help}\n# TYPE coffer_{name} counter\ncoffer_{name} {n}"
            );
        }

        if let Some(gauges) = gauges {
            out.push_str(
                "# HELP coffer_ResourceCount Secrets per region and account, including those \
                 scheduled for deletion.\n# TYPE coffer_ResourceCount gauge\n",
            );
            for g in gauges {
                let _ = writeln!(
                    out,
                    "coffer_ResourceCount{{region=\"{}\",account=\"{}\"}} {}",
                    label(&g.scope.region),
                    label(&g.scope.account),
                    g.resource_count
                );
            }
            out.push_str(
                "# HELP coffer_SecretsOverdueForRotation Secrets with rotation enabled whose \
                 scheduled rotation is past due.\n# TYPE coffer_SecretsOverdueForRotation gauge\n",
            );
            for g in gauges {
                let _ = writeln!(
                    out,
                    "coffer_SecretsOverdueForRotation{{region=\"{}\",account=\"{}\"}} {}",
                    label(&g.scope.region),
                    label(&g.scope.account),
                    g.overdue_rotations
                );
            }
        }
        out
    }
}

impl MetricsSink for InProcessMetrics {
    fn record_call(&self, operation: &str, error_code: Option<&str>, latency_ms: f64) {
        let stats = self.operation(operation);
        stats.calls.fetch_add(1, Ordering::Relaxed);
        let latency_ms = if latency_ms.is_finite() {
            latency_ms.max(0.0)
        } else {
            0.0
        };
        stats
            .latency_us
            .fetch_add((latency_ms * 1000.0).round() as u64, Ordering::Relaxed);
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|le| latency_ms <= *le)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if let Some(code) = error_code {
            *stats
                .errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(code.to_string())
                .or_default() += 1;
        }
    }

    fn increment(&self, metric: &str, by: u64) {
        if let Some(counter) = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(metric)
        {
            counter.fetch_add(by, Ordering::Relaxed);
            return;
        }
        self.counters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(metric.to_string())
            .or_default()
            .fetch_add(by, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::ids::Scope;

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn render_prometheus_counts_calls_errors_and_latency_buckets() {
        let m = InProcessMetrics::new();
        m.record_call("GetSecretValue", None, 0.4);
        m.record_call("GetSecretValue", None, 3.0);
        m.record_call(
            "GetSecretValue",
            Some("ResourceNotFoundException"),
            20_000.0,
        );
        m.increment(coffer_core::metrics::KMS_CALLS, 2);
        let text = m.render_prometheus();
        assert_eq!(
            value(&text, "coffer_calls_total{operation=\"GetSecretValue\"}"),
            3.0
        );
        assert_eq!(
            value(
                &text,
                "coffer_errors_total{operation=\"GetSecretValue\",code=\"ResourceNotFoundException\"}"
            ),
            1.0
        );
        let bucket = |le: &str| {
            value(
                &text,
                &format!("coffer_latency_ms_bucket{{operation=\"GetSecretValue\",le=\"{le}\"}}"),
            )
        };
        assert_eq!(bucket("1"), 1.0);
        assert_eq!(bucket("2.5"), 1.0);
        assert_eq!(bucket("5"), 2.0);
        assert_eq!(bucket("10000"), 2.0);
        assert_eq!(bucket("+Inf"), 3.0);
        assert_eq!(
            value(&text, "coffer_latency_ms_sum{operation=\"GetSecretValue\"}"),
            20_003.4
        );
        assert_eq!(
            value(
                &text,
                "coffer_latency_ms_count{operation=\"GetSecretValue\"}"
            ),
            3.0
        );
        assert_eq!(value(&text, "coffer_KmsCalls"), 2.0);
        assert_eq!(value(&text, "coffer_RotationsFailed"), 0.0);
        assert!(text.contains("# TYPE coffer_latency_ms histogram"));
    }

    #[test]
    fn record_call_bounds_operation_labels() {
        let m = InProcessMetrics::new();
        for i in 0..(MAX_OPERATIONS + 10) {
            m.record_call(&format!("Op{i}"), None, 1.0);
        }
        m.record_call("Bad\"Name", None, 1.0);
        m.record_call("Op0", None, 1.0);
        assert_eq!(m.calls("Op0"), 2);
        assert_eq!(m.calls(OTHER), 11);
        assert!(!m.render_prometheus().contains("Bad"));
    }

    #[test]
    fn render_prometheus_with_gauges_per_scope() {
        let m = InProcessMetrics::new();
        let gauges = [ScopeGauges {
            scope: Scope::new("eu-west-1", "111122223333"),
            resource_count: 4,
            overdue_rotations: 1,
        }];
        let text = m.render_prometheus_with(Some(&gauges));
        assert_eq!(
            value(
                &text,
                "coffer_ResourceCount{region=\"eu-west-1\",account=\"111122223333\"}"
            ),
            4.0
        );
        assert_eq!(
            value(
                &text,
                "coffer_SecretsOverdueForRotation{region=\"eu-west-1\",account=\"111122223333\"}"
            ),
            1.0
        );
    }
}
