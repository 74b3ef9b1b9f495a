//! Per-request metrics as CloudWatch Embedded Metric Format (EMF) log lines (`--metrics emf`):
//! one JSON line per call on standard output, which the Lambda runtime (or the CloudWatch agent
//! in a container) ships to CloudWatch Logs, where CloudWatch extracts the metrics. No API call
//! is made on the request path.
//!
//! Place in the data path: `SecretsService::handle -> MetricsSink::record_call` formats and
//! writes one line. Shape of a call line (namespace [`NAMESPACE`]):
//!
//! ```json
//! {"_aws":{"Timestamp":1714564800000,"CloudWatchMetrics":[{"Namespace":"Coffer",
//!   "Dimensions":[["Operation"],["Operation","ErrorCode"]],
//!   "Metrics":[{"Name":"Calls","Unit":"Count"},{"Name":"Errors","Unit":"Count"},
//!              {"Name":"LatencyMs","Unit":"Milliseconds"}]}]},
//!  "Operation":"GetSecretValue","ErrorCode":"ResourceNotFoundException",
//!  "Calls":1,"Errors":1,"LatencyMs":1.7}
//! ```
//!
//! A successful call has the `["Operation"]` dimension set only and no `ErrorCode`. Named
//! counters (`KmsCalls`, `DataKeyCacheHits`, `AuditEventsNotRecorded`, ...) are lines with the
//! empty dimension set. Lines carry names, codes and numbers only: no value can reach them.

use coffer_core::clock::Clock;
use coffer_core::ports::MetricsSink;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// The namespace of Coffer's metrics.
pub const NAMESPACE: &str = "Coffer";

/// The EMF line of one call.
pub fn call_line(
    namespace: &str,
    timestamp_ms: i64,
    operation: &str,
    error_code: Option<&str>,
    latency_ms: f64,
) -> serde_json::Value {
    let dimensions = match error_code {
        Some(_) => json!([["Operation"], ["Operation", "ErrorCode"]]),
        None => json!([["Operation"]]),
    };
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": [
                    {"Name": "Calls", "Unit": "Count"},
                    {"Name": "Errors", "Unit": "Count"},
                    {"Name": "LatencyMs", "Unit": "Milliseconds"},
                ],
            }],
        },
        "Operation": operation,
        "Calls": 1,
        "Errors": u8::from(error_code.is_some()),
        "LatencyMs": latency_ms,
    });
    if let Some(code) = error_code {
        line["ErrorCode"] = json!(code);
    }
    line
}

/// The EMF line of a named counter.
pub fn counter_line(
    namespace: &str,
    timestamp_ms: i64,
    metric: &str,
    by: u64,
) -> serde_json::Value {
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
    });
    line[metric] = json!(by);
    line
}

/// A `MetricsSink` writing EMF lines (to standard output in production).
pub struct EmfMetricsSink {
    namespace: String,
    clock: Arc<dyn Clock>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl EmfMetricsSink {
    pub fn new(
        namespace: impl Into<String>,
        clock: Arc<dyn Clock>,
        out: Box<dyn Write + Send>,
    ) -> Self {
        EmfMetricsSink {
            namespace: namespace.into(),
            clock,
            out: Mutex::new(out),
        }
    }

    /// Namespace [`NAMESPACE`], lines on standard output.
    pub fn stdout(clock: Arc<dyn Clock>) -> Self {
        EmfMetricsSink::new(NAMESPACE, clock, Box::new(std::io::stdout()))
    }

    fn emit(&self, line: serde_json::Value) {
        let mut text = line.to_string();
        text.push('\n');
        // One write per line under the lock: lines never interleave. A metrics line that
        // cannot be written is not worth failing a call for.
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }
}

impl MetricsSink for EmfMetricsSink {
    fn record_call(&self, operation: &str, error_code: Option<&str>, latency_ms: f64) {
        let now = self.clock.now().millis();
        self.emit(call_line(
            &self.namespace,
            now,
            operation,
            error_code,
            latency_ms,
        ));
    }

    fn increment(&self, metric: &str, by: u64) {
        let now = self.clock.now().millis();
        self.emit(counter_line(&self.namespace, now, metric, by));
    }
}

/// Reports to two sinks (EMF lines and the in-process counters behind `GET /metrics`).
pub struct TeeMetricsSink(pub Arc<dyn MetricsSink>, pub Arc<dyn MetricsSink>);

impl MetricsSink for TeeMetricsSink {
    fn record_call(&self, operation: &str, error_code: Option<&str>, latency_ms: f64) {
        self.0.record_call(operation, error_code, latency_ms);
        self.1.record_call(operation, error_code, latency_ms);
    }

    fn increment(&self, metric: &str, by: u64) {
        self.0.increment(metric, by);
        self.1.increment(metric, by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::clock::Timestamp;

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> Timestamp {
            Timestamp(1_714_564_800_000)
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<serde_json::Value> {
        String::from_utf8(buffer.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn record_call_error_writes_one_emf_line_with_error_code_dimension() {
        let buffer = Buffer::default();
        let sink = EmfMetricsSink::new(NAMESPACE, Arc::new(Fixed), Box::new(buffer.clone()));
        sink.record_call("GetSecretValue", Some("ResourceNotFoundException"), 1.5);
        sink.record_call("ListSecrets", None, 2.0);
        sink.increment("KmsCalls", 2);
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            json!({
                "_aws": {"Timestamp": 1_714_564_800_000_i64, "CloudWatchMetrics": [{
                    "Namespace": "Coffer",
                    "Dimensions": [["Operation"], ["Operation", "ErrorCode"]],
                    "Metrics": [
                        {"Name": "Calls", "Unit": "Count"},
                        {"Name": "Errors", "Unit": "Count"},
                        {"Name": "LatencyMs", "Unit": "Milliseconds"}]}]},
                "Operation": "GetSecretValue",
                "ErrorCode": "ResourceNotFoundException",
                "Calls": 1, "Errors": 1, "LatencyMs": 1.5,
            })
        );
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Operation"]])
        );
        assert_eq!(lines[1]["Errors"], 0);
        assert!(lines[1].get("ErrorCode").is_none());
        assert_eq!(lines[2]["KmsCalls"], 2);
        assert_eq!(
            lines[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "KmsCalls", "Unit": "Count"}])
        );
    }
}
