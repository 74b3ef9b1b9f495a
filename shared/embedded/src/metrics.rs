//! In-process metrics for the local server: counters and latency sums per operation and error
//! code, rendered as Prometheus text on `GET /metrics`. Cheap enough for the request path (one
//! short mutex hold per call).

use coffer_core::ports::MetricsSink;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

#[derive(Default)]
struct Counters {
    calls: BTreeMap<String, u64>,
    errors: BTreeMap<(String, String), u64>,
    latency_ms_sum: BTreeMap<String, f64>,
    other: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct InProcessMetrics {
    counters: Mutex<Counters>,
}

impl InProcessMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls recorded for `operation` so far.
    pub fn calls(&self, operation: &str) -> u64 {
        self.counters
            .lock()
            .map(|c| c.calls.get(operation).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of every counter.
    pub fn render_prometheus(&self) -> String {
        let Ok(c) = self.counters.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# TYPE coffer_calls_total counter\n");
        for (op, n) in &c.calls {
            let _ = writeln!(out, "coffer_calls_total{{operation=\"{op}\"}} {n}");
        }
        out.push_str("# TYPE coffer_errors_total counter\n");
        for ((op, code), n) in &c.errors {
            let _ = writeln!(
                out,
                "coffer_errors_total{{operation=\"{op}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# TYPE coffer_latency_ms_sum counter\n");
        for (op, ms) in &c.latency_ms_sum {
            let _ = writeln!(out, "coffer_latency_ms_sum{{operation=\"{op}\"}} {ms}");
        }
        for (name, n) in &c.other {
            let _ = writeln!(out, "# TYPE coffer_{name} counter\ncoffer_{name} {n}");
        }
        out
    }
}

impl MetricsSink for InProcessMetrics {
    fn record_call(&self, operation: &str, error_code: Option<&str>, latency_ms: f64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.calls.entry(operation.to_string()).or_default() += 1;
            *c.latency_ms_sum.entry(operation.to_string()).or_default() += latency_ms;
            if let Some(code) = error_code {
                *c.errors
                    .entry((operation.to_string(), code.to_string()))
                    .or_default() += 1;
            }
        }
    }

    fn increment(&self, metric: &str, by: u64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.other.entry(metric.to_string()).or_default() += by;
        }
    }
}
