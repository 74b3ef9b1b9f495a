//! The EventBridge audit sink (`--audit-event-bus`): every CloudTrail-shaped record is put on an
//! event bus as the `detail` of an event with source `coffer.secretsmanager`, so that rules can
//! alert on it (rotation failures, access denied, ...) the way rules on
//! `aws.secretsmanager` events alert on AWS Secrets Manager.
//!
//! Place in the data path: `AuditSink::record` enqueues (see [`crate::audit_batch`]); a
//! background task sends `PutEvents` requests of up to 10 entries.
//!
//! Entry shape: `Source` [`SOURCE`]; `DetailType` [`DETAIL_TYPE_API_CALL`] or
//! [`DETAIL_TYPE_SERVICE_EVENT`] (after the record's `eventType`, as CloudTrail-via-EventBridge
//! names them "AWS API Call via CloudTrail" / "AWS Service Event via CloudTrail"); `Resources`
//! the secrets' ARNs; `Detail` the record. Records are not chained here: a bus has no order and
//! no reader of whole streams (CloudWatch Logs carries the chain).

use crate::audit_batch::{BatchConfig, BatchWriter, BatchingAuditSink};
use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use coffer_core::ports::MetricsSink;
use serde_json::Value;
use std::sync::Arc;

pub use aws_sdk_eventbridge::Client;

/// The `source` of Coffer's events.
pub const SOURCE: &str = "coffer.secretsmanager";
/// The `detail-type` of API call records.
pub const DETAIL_TYPE_API_CALL: &str = "AWS API Call via Coffer";
/// The `detail-type` of service events (rotation, version deletion).
pub const DETAIL_TYPE_SERVICE_EVENT: &str = "AWS Service Event via Coffer";
/// The bus used when none is configured.
pub const DEFAULT_BUS: &str = "default";

/// `PutEvents` takes at most 10 entries and 256 KiB per request.
const MAX_ENTRIES_PER_REQUEST: usize = 10;
const MAX_BYTES_PER_REQUEST: usize = 256 * 1024;

/// The `PutEvents` entry of one CloudTrail record.
pub fn entry(bus: &str, record: &Value) -> PutEventsRequestEntry {
    let detail_type = match record["eventType"].as_str() {
        Some("AwsServiceEvent") => DETAIL_TYPE_SERVICE_EVENT,
        _ => DETAIL_TYPE_API_CALL,
    };
    let resources = record["resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["ARN"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(detail_type)
        .set_resources(Some(resources))
        .detail(record.to_string())
        .build()
}

/// Size of an entry as EventBridge counts it (source, detail type, detail, resources).
fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    entry.source().map_or(0, str::len)
        + entry.detail_type().map_or(0, str::len)
        + entry.detail().map_or(0, str::len)
        + entry.resources().iter().map(String::len).sum::<usize>()
}

pub struct EventBridgeWriter {
    client: Client,
    bus: String,
}

#[async_trait]
impl BatchWriter for EventBridgeWriter {
    async fn write(&mut self, records: &[Value]) -> Result<usize, String> {
        let (mut entries, mut bytes) = (Vec::new(), 0usize);
        for record in records.iter().take(MAX_ENTRIES_PER_REQUEST) {
            let entry = entry(&self.bus, record);
            let size = entry_size(&entry);
            if !entries.is_empty() && bytes + size > MAX_BYTES_PER_REQUEST {
                break;
            }
            bytes += size;
            entries.push(entry);
        }
        let count = entries.len();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| format!("PutEvents: {}", DisplayErrorContext(&e)))?;
        if out.failed_entry_count() > 0 {
            // Entries fail one by one (throttling, an internal error): the batch is sent again
            // whole. Duplicates are harmless on a bus (readers deduplicate by eventID); losses
            // are not.
            let first = out
                .entries()
                .iter()
                .find_map(|e| {
                    e.error_code()
                        .map(|c| format!("{c}: {}", e.error_message().unwrap_or("")))
                })
                .unwrap_or_default();
            return Err(format!(
                "PutEvents: {} of {count} entries failed ({first})",
                out.failed_entry_count()
            ));
        }
        Ok(count)
    }
}

/// The EventBridge audit sink: a [`BatchingAuditSink`] over an [`EventBridgeWriter`].
pub struct EventBridgeAuditSink;

impl EventBridgeAuditSink {
    /// Starts delivery to `bus` (name or ARN; [`DEFAULT_BUS`] when in doubt). Needs a Tokio
    /// runtime.
    pub fn start(
        client: Client,
        bus: impl Into<String>,
        config: BatchConfig,
        metrics: Option<Arc<dyn MetricsSink>>,
    ) -> BatchingAuditSink {
        let bus = bus.into();
        tracing::info!(%bus, "audit events go to EventBridge");
        BatchingAuditSink::spawn(
            "EventBridge audit sink",
            EventBridgeWriter { client, bus },
            config,
            metrics,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_source_detail_type_and_resources() {
        let record = serde_json::json!({
            "eventType": "AwsServiceEvent",
            "eventName": "RotationFailed",
            "resources": [{"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf"}],
        });
        let e = entry("audit", &record);
        assert_eq!(e.source(), Some(SOURCE));
        assert_eq!(e.detail_type(), Some(DETAIL_TYPE_SERVICE_EVENT));
        assert_eq!(e.event_bus_name(), Some("audit"));
        assert_eq!(
            e.resources(),
            ["arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf"]
        );
        let detail: Value = serde_json::from_str(e.detail().unwrap()).unwrap();
        assert_eq!(detail, record);
        let api = entry("default", &serde_json::json!({"eventType": "AwsApiCall"}));
        assert_eq!(api.detail_type(), Some(DETAIL_TYPE_API_CALL));
    }
}
