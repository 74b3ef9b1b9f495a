//! The CloudWatch Logs audit sink (`--audit-log-group`): CloudTrail-shaped records, sealed
//! with the same hash chain as the local JSON-lines file (`coffer_core::audit::chain`), one
//! record per log event, in one log stream per process (replicas never interleave in a
//! stream, so each stream is one chain that `verify_stream` checks from its first event).
//!
//! Place in the data path: `AuditSink::record` enqueues (see [`crate::audit_batch`]); a
//! background task sends `PutLogEvents` batches. The chain advances only when a batch was
//! accepted, so a rejected batch never leaves a gap in the stream.
//!
//! The stream is named `<yyyy>/<mm>/<dd>/<HHMMSS>Z-<random id>` (start time in UTC), like
//! Lambda's streams; the log group and the stream are created when missing. With a digest
//! signer ([`CloudWatchLogsAuditSink::start_with_digests`]) the stream's head is signed into
//! `<stream>/digests` ([`crate::audit_cloudwatch_digests`]).

use crate::audit_batch::{BatchConfig, BatchWriter, BatchingAuditSink};
use crate::audit_cloudwatch_digests::{DigestConfig, StreamDigests};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use coffer_core::audit::chain::{canonical_json, AuditChain};
use coffer_core::audit::digest::StreamHead;
use coffer_core::ports::MetricsSink;
use serde_json::Value;
use std::sync::Arc;

pub use aws_sdk_cloudwatchlogs::Client;

/// `PutLogEvents` limits: events per request, and bytes per request (each event counts its
/// UTF-8 message plus 26 bytes).
const MAX_EVENTS_PER_REQUEST: usize = 10_000;
const MAX_BYTES_PER_REQUEST: usize = 1_048_576;
const EVENT_OVERHEAD_BYTES: usize = 26;

/// A log stream name for a process started at `start_ms` (epoch milliseconds) with a random
/// `id`: `2024/05/01/120000Z-<id>`.
pub fn stream_name(start_ms: i64, id: &str) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(start_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}/{:02}/{:02}/{:02}{:02}{:02}Z-{id}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// [`stream_name`] of now and a random id: one per process.
pub fn new_stream_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    stream_name(now_ms(), &id[..16])
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn describe<E: std::error::Error>(what: &str, e: &E) -> String {
    format!("{what}: {}", DisplayErrorContext(e))
}

/// Creates `log_group` and `stream` unless they exist.
pub async fn ensure_stream(client: &Client, log_group: &str, stream: &str) -> Result<(), String> {
    if let Err(e) = client
        .create_log_group()
        .log_group_name(log_group)
        .send()
        .await
    {
        if e.code() != Some("ResourceAlreadyExistsException") {
            return Err(describe(&format!("CreateLogGroup {log_group}"), &e));
        }
    }
    if let Err(e) = client
        .create_log_stream()
        .log_group_name(log_group)
        .log_stream_name(stream)
        .send()
        .await
    {
        if e.code() != Some("ResourceAlreadyExistsException") {
            return Err(describe(&format!("CreateLogStream {stream}"), &e));
        }
    }
    Ok(())
}

/// Sends `lines` as one `PutLogEvents` request, all with `timestamp`. A request with rejected
/// events counts as failed (a chained stream would have a hole).
pub(crate) async fn put_lines(
    client: &Client,
    log_group: &str,
    stream: &str,
    lines: Vec<String>,
    timestamp: i64,
) -> Result<(), String> {
    let events = lines
        .into_iter()
        .map(|line| {
            InputLogEvent::builder()
                .timestamp(timestamp)
                .message(line)
                .build()
                .map_err(|e| describe("InputLogEvent", &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = client
        .put_log_events()
        .log_group_name(log_group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| describe("PutLogEvents", &e))?;
    if let Some(rejected) = out.rejected_log_events_info() {
        // Some events were refused (too old, too new, expired log group): the stream's
        // chain would have a hole, so treat the batch as failed.
        return Err(format!("PutLogEvents rejected events: {rejected:?}"));
    }
    Ok(())
}

/// Writes chained records to one log stream.
pub struct CloudWatchLogsWriter {
    client: Client,
    log_group: String,
    stream: String,
    chain: AuditChain,
    /// The timestamp of the last event sent: events of a request must be in chronological
    /// order, so timestamps never go backwards.
    last_timestamp: i64,
    digests: Option<StreamDigests>,
}

#[async_trait]
impl BatchWriter for CloudWatchLogsWriter {
    async fn write(&mut self, records: &[Value]) -> Result<usize, String> {
        let mut next = self.chain.clone();
        // Ingestion time, not eventTime: CloudWatch rejects events older than 14 days, and
        // eventTime (inside the record) is what readers sort by anyway.
        let timestamp = now_ms().max(self.last_timestamp);
        let (mut lines, mut bytes) = (Vec::new(), 0usize);
        for record in records.iter().take(MAX_EVENTS_PER_REQUEST) {
            let mut probe = next.clone();
            let line = canonical_json(&probe.seal(record.clone()));
            let size = line.len() + EVENT_OVERHEAD_BYTES;
            if !lines.is_empty() && bytes + size > MAX_BYTES_PER_REQUEST {
                break;
            }
            next = probe;
            bytes += size;
            lines.push(line);
        }
        let count = lines.len();
        put_lines(
            &self.client,
            &self.log_group,
            &self.stream,
            lines,
            timestamp,
        )
        .await?;
        self.chain = next;
        self.last_timestamp = timestamp;
        Ok(count)
    }

    async fn checkpoint(&mut self, forced: bool) -> Result<(), String> {
        let Some(digests) = &mut self.digests else {
            return Ok(());
        };
        let head = StreamHead {
            stream: self.stream.clone(),
            head_hash: self.chain.head().to_string(),
            record_count: self.chain.records(),
        };
        digests.maybe_write(head, forced).await
    }
}

/// The CloudWatch Logs audit sink: a [`BatchingAuditSink`] over a [`CloudWatchLogsWriter`].
pub struct CloudWatchLogsAuditSink;

impl CloudWatchLogsAuditSink {
    /// Creates the log group and this process's stream if missing, and starts delivery (needs
    /// a Tokio runtime). `stream` is usually [`stream_name`] of the start time and a random id.
    pub async fn start(
        client: Client,
        log_group: impl Into<String>,
        stream: impl Into<String>,
        config: BatchConfig,
        metrics: Option<Arc<dyn MetricsSink>>,
    ) -> Result<BatchingAuditSink, String> {
        Self::start_with_digests(client, log_group, stream, config, metrics, None).await
    }

    /// As [`start`](Self::start), and with `digests` signs the stream's head into
    /// `<stream>/digests` (created if missing).
    pub async fn start_with_digests(
        client: Client,
        log_group: impl Into<String>,
        stream: impl Into<String>,
        config: BatchConfig,
        metrics: Option<Arc<dyn MetricsSink>>,
        digests: Option<DigestConfig>,
    ) -> Result<BatchingAuditSink, String> {
        let (log_group, stream) = (log_group.into(), stream.into());
        ensure_stream(&client, &log_group, &stream).await?;
        tracing::info!(%log_group, %stream, "audit events go to CloudWatch Logs");
        let digests = match digests {
            Some(config) => {
                Some(StreamDigests::start(client.clone(), &log_group, &stream, config).await?)
            }
            None => None,
        };
        let writer = CloudWatchLogsWriter {
            client,
            log_group,
            stream,
            chain: AuditChain::new(),
            last_timestamp: 0,
            digests,
        };
        // A batch is one request; keep it within PutLogEvents' event limit.
        let config = BatchConfig {
            max_batch: config.max_batch.min(MAX_EVENTS_PER_REQUEST),
            ..config
        };
        Ok(BatchingAuditSink::spawn(
            "CloudWatch Logs audit sink",
            writer,
            config,
            metrics,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_name_names_the_start_time_and_id() {
        assert_eq!(
            stream_name(1_714_564_800_000, "abc"),
            "2024/05/01/120000Z-abc"
        );
    }
}
