//! The delivery machinery shared by the AWS audit sinks: a bounded channel in front of one
//! background task that writes records in batches, and a fan-out sink.
//!
//! Place in the data path: `SecretsService::record_event -> AuditSink::record` enqueues the
//! CloudTrail record and returns; the task sends a batch every `flush_interval` or when
//! `max_batch` records are waiting (CloudWatch Logs `PutLogEvents`, EventBridge `PutEvents`).
//! So delivery is off the request path, except with `required` (`--audit-required`): then
//! `record` waits until the batch holding its record was accepted, and the task sends as soon
//! as the channel is drained (concurrent calls share one request: group commit), so a call
//! pays one round trip, not the flush interval.
//!
//! Failure: a record that cannot be enqueued (the channel is full: the service is producing
//! events faster than AWS accepts them) fails `record` at once (the service counts it as
//! `AuditEventsNotRecorded` and, with `--audit-required`, fails the call). A batch the service
//! rejects is reported to the waiting callers (`required`); records nobody waits for are kept
//! and retried at the next flush, up to `capacity` of them, after which the oldest are dropped
//! and counted.

use async_trait::async_trait;
use coffer_core::audit::AuditEvent;
use coffer_core::metrics::AUDIT_EVENTS_NOT_RECORDED;
use coffer_core::ports::{AuditError, AuditSink, MetricsSink};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How a batching sink delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Wait for each record to be accepted by the AWS service (`--audit-required`).
    pub required: bool,
    /// Send at least this often while records wait.
    pub flush_interval: Duration,
    /// Send as soon as this many records wait.
    pub max_batch: usize,
    /// Records the channel (and the retry buffer) hold at most.
    pub capacity: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            required: false,
            flush_interval: Duration::from_secs(1),
            max_batch: 500,
            capacity: 10_000,
        }
    }
}

/// Writes CloudTrail records, in order, to an AWS service, in one request: it writes the
/// longest prefix of `records` its service's limits allow (at least one record) and returns its
/// length. `Err` means none of them may be considered written (writers that chain records roll
/// the chain back).
#[async_trait]
pub trait BatchWriter: Send + 'static {
    async fn write(&mut self, records: &[Value]) -> Result<usize, String>;

    /// Called when everything pending was written: `forced` on `checkpoint()` (the writer's
    /// answer is the checkpoint's), otherwise from the flush timer, which runs while the
    /// process runs (on Lambda: while an invocation thaws it). Writers that sign digests
    /// write one here (see `audit_cloudwatch_digests`). The default does nothing.
    async fn checkpoint(&mut self, _forced: bool) -> Result<(), String> {
        Ok(())
    }
}

type Ack = oneshot::Sender<Result<(), String>>;

enum Command {
    Record(Value, Option<Ack>),
    Flush(Ack),
}

/// An `AuditSink` in front of a [`BatchWriter`] running on a background task.
pub struct BatchingAuditSink {
    name: &'static str,
    tx: mpsc::Sender<Command>,
    required: bool,
}

impl BatchingAuditSink {
    /// Starts the background task (needs a Tokio runtime). `name` names the sink in errors.
    pub fn spawn<W: BatchWriter>(
        name: &'static str,
        writer: W,
        config: BatchConfig,
        metrics: Option<Arc<dyn MetricsSink>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        tokio::spawn(run(writer, rx, config, metrics));
        BatchingAuditSink {
            name,
            tx,
            required: config.required,
        }
    }

    fn closed(&self) -> AuditError {
        AuditError(format!("{}: the delivery task has stopped", self.name))
    }
}

#[async_trait]
impl AuditSink for BatchingAuditSink {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let record = event.to_cloudtrail();
        if !self.required {
            return self
                .tx
                .try_send(Command::Record(record, None))
                .map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => AuditError(format!(
                        "{}: delivery queue full (the service is not keeping up)",
                        self.name
                    )),
                    mpsc::error::TrySendError::Closed(_) => self.closed(),
                });
        }
        let (ack, accepted) = oneshot::channel();
        self.tx
            .send(Command::Record(record, Some(ack)))
            .await
            .map_err(|_| self.closed())?;
        match accepted.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError(format!("{}: {e}", self.name))),
            Err(_) => Err(self.closed()),
        }
    }

    /// Sends everything enqueued so far and waits for the answer.
    async fn checkpoint(&self) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(ack))
            .await
            .map_err(|_| self.closed())?;
        match done.await {
            Ok(result) => result.map_err(|e| AuditError(format!("{}: {e}", self.name))),
            Err(_) => Err(self.closed()),
        }
    }
}

struct Pending {
    records: VecDeque<(Value, Option<Ack>)>,
    capacity: usize,
    metrics: Option<Arc<dyn MetricsSink>>,
}

impl Pending {
    fn push(&mut self, record: Value, ack: Option<Ack>) {
        self.records.push_back((record, ack));
        while self.records.len() > self.capacity {
            let dropped = self.records.pop_front();
            if let Some((_, Some(ack))) = dropped {
                let _ = ack.send(Err("dropped: the retry buffer is full".into()));
            }
            self.count_lost(1);
        }
    }

    fn count_lost(&self, n: u64) {
        tracing::error!(
            records = n,
            "audit records dropped: the AWS audit destination did not accept them"
        );
        if let Some(m) = &self.metrics {
            m.increment(AUDIT_EVENTS_NOT_RECORDED, n);
        }
    }

    /// Writes every pending record in batches of `max_batch`; stops at the first failure,
    /// failing the waiting callers of that batch and keeping the rest for the next flush.
    async fn flush<W: BatchWriter>(
        &mut self,
        writer: &mut W,
        max_batch: usize,
    ) -> Result<(), String> {
        while !self.records.is_empty() {
            let n = self.records.len().min(max_batch.max(1));
            let batch: Vec<Value> = self
                .records
                .iter()
                .take(n)
                .map(|(r, _)| r.clone())
                .collect();
            match writer.write(&batch).await {
                Ok(written) => {
                    for (_, ack) in self.records.drain(..written.clamp(1, n)) {
                        if let Some(ack) = ack {
                            let _ = ack.send(Ok(()));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, records = n, "audit batch not accepted; will retry");
                    // Callers that wait were told their call failed: their records must not
                    // appear later. Records nobody waits for stay for the next attempt.
                    let mut kept = VecDeque::with_capacity(self.records.len());
                    for (i, (record, ack)) in self.records.drain(..).enumerate() {
                        match ack {
                            Some(ack) if i < n => {
                                let _ = ack.send(Err(e.clone()));
                            }
                            ack => kept.push_back((record, ack)),
                        }
                    }
                    self.records = kept;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

async fn run<W: BatchWriter>(
    mut writer: W,
    mut rx: mpsc::Receiver<Command>,
    config: BatchConfig,
    metrics: Option<Arc<dyn MetricsSink>>,
) {
    let mut pending = Pending {
        records: VecDeque::new(),
        capacity: config.capacity.max(1),
        metrics,
    };
    let mut ticker = tokio::time::interval(config.flush_interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => {
                let Some(command) = command else { break };
                let mut urgent = false;
                let mut flush_acks = Vec::new();
                let mut take = |command: Command, pending: &mut Pending| match command {
                    Command::Record(record, ack) => {
                        urgent |= ack.is_some();
                        pending.push(record, ack);
                    }
                    Command::Flush(ack) => flush_acks.push(ack),
                };
                take(command, &mut pending);
                // Group commit: take whatever else is already waiting.
                while pending.records.len() < config.max_batch {
                    match rx.try_recv() {
                        Ok(command) => take(command, &mut pending),
                        Err(_) => break,
                    }
                }
                if urgent || !flush_acks.is_empty() || pending.records.len() >= config.max_batch {
                    let mut result = pending.flush(&mut writer, config.max_batch).await;
                    if result.is_ok() && !flush_acks.is_empty() {
                        result = writer.checkpoint(true).await;
                    }
                    for ack in flush_acks {
                        let _ = ack.send(result.clone());
                    }
                }
            }
            _ = ticker.tick() => {
                if !pending.records.is_empty() {
                    let _ = pending.flush(&mut writer, config.max_batch).await;
                }
                if pending.records.is_empty() {
                    if let Err(e) = writer.checkpoint(false).await {
                        tracing::warn!(error = %e, "audit digest not written; will retry");
                    }
                }
            }
        }
    }
    // Every sender is gone (shutdown): a last attempt.
    if !pending.records.is_empty() && pending.flush(&mut writer, config.max_batch).await.is_err() {
        let lost = pending.records.len() as u64;
        pending.count_lost(lost);
    }
}

/// Hands every event to several sinks (stdout and CloudWatch Logs and EventBridge, ...). Every
/// sink is tried; the call fails when any of them failed, naming them all.
pub struct FanOutAuditSink {
    sinks: Vec<Arc<dyn AuditSink>>,
}

impl FanOutAuditSink {
    pub fn new(sinks: Vec<Arc<dyn AuditSink>>) -> Self {
        FanOutAuditSink { sinks }
    }
}

fn combine(errors: Vec<AuditError>) -> Result<(), AuditError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AuditError(
            errors
                .into_iter()
                .map(|e| e.0)
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

#[async_trait]
impl AuditSink for FanOutAuditSink {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let mut errors = Vec::new();
        for sink in &self.sinks {
            if let Err(e) = sink.record(event).await {
                errors.push(e);
            }
        }
        combine(errors)
    }

    async fn checkpoint(&self) -> Result<(), AuditError> {
        let mut errors = Vec::new();
        for sink in &self.sinks {
            if let Err(e) = sink.checkpoint().await {
                errors.push(e);
            }
        }
        combine(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::audit::{AuditEventType, Caller};
    use coffer_core::clock::Timestamp;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Recorder {
        written: Arc<Mutex<Vec<Vec<Value>>>>,
        failing: Arc<AtomicBool>,
    }

    #[async_trait]
    impl BatchWriter for Recorder {
        async fn write(&mut self, records: &[Value]) -> Result<usize, String> {
            if self.failing.load(Ordering::SeqCst) {
                return Err("throttled".into());
            }
            self.written.lock().unwrap().push(records.to_vec());
            Ok(records.len())
        }
    }

    fn event(id: &str) -> AuditEvent {
        AuditEvent {
            event_type: AuditEventType::AwsApiCall,
            event_time: Timestamp(0),
            event_name: "GetSecretValue".into(),
            region: "us-east-1".into(),
            caller: Caller::default(),
            request_id: id.into(),
            event_id: id.into(),
            read_only: true,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            resources: vec![],
            error_code: None,
            error_message: None,
            additional_event_data: None,
        }
    }

    fn ids(written: &[Vec<Value>]) -> Vec<String> {
        written
            .iter()
            .flatten()
            .map(|r| r["eventID"].as_str().unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn record_not_required_is_delivered_by_checkpoint_in_order() {
        let writer = Recorder::default();
        let config = BatchConfig {
            flush_interval: Duration::from_secs(3600),
            ..BatchConfig::default()
        };
        let sink = BatchingAuditSink::spawn("test", writer.clone(), config, None);
        for i in 0..5 {
            sink.record(&event(&format!("e{i}"))).await.unwrap();
        }
        sink.checkpoint().await.unwrap();
        assert_eq!(
            ids(&writer.written.lock().unwrap()),
            ["e0", "e1", "e2", "e3", "e4"]
        );
    }

    #[tokio::test]
    async fn record_required_waits_for_acceptance_and_fails_when_rejected() {
        let writer = Recorder::default();
        let config = BatchConfig {
            required: true,
            flush_interval: Duration::from_secs(3600),
            ..BatchConfig::default()
        };
        let sink = BatchingAuditSink::spawn("test", writer.clone(), config, None);
        sink.record(&event("a")).await.unwrap();
        assert_eq!(ids(&writer.written.lock().unwrap()), ["a"]);
        writer.failing.store(true, Ordering::SeqCst);
        let err = sink.record(&event("b")).await.unwrap_err();
        assert!(err.0.contains("throttled"), "{err}");
        writer.failing.store(false, Ordering::SeqCst);
        sink.checkpoint().await.unwrap();
        // The failed call's record is never delivered later.
        assert_eq!(ids(&writer.written.lock().unwrap()), ["a"]);
    }

    #[tokio::test]
    async fn record_not_required_is_retried_after_a_rejected_batch() {
        let writer = Recorder::default();
        writer.failing.store(true, Ordering::SeqCst);
        let config = BatchConfig {
            flush_interval: Duration::from_secs(3600),
            ..BatchConfig::default()
        };
        let sink = BatchingAuditSink::spawn("test", writer.clone(), config, None);
        sink.record(&event("a")).await.unwrap();
        assert!(sink.checkpoint().await.is_err());
        writer.failing.store(false, Ordering::SeqCst);
        sink.record(&event("b")).await.unwrap();
        sink.checkpoint().await.unwrap();
        assert_eq!(ids(&writer.written.lock().unwrap()), ["a", "b"]);
    }

    #[tokio::test]
    async fn record_fan_out_reaches_every_sink_and_reports_failures() {
        let (a, b) = (Recorder::default(), Recorder::default());
        let config = BatchConfig {
            required: true,
            ..BatchConfig::default()
        };
        let sink = FanOutAuditSink::new(vec![
            Arc::new(BatchingAuditSink::spawn("a", a.clone(), config, None)),
            Arc::new(BatchingAuditSink::spawn("b", b.clone(), config, None)),
        ]);
        sink.record(&event("x")).await.unwrap();
        assert_eq!(ids(&a.written.lock().unwrap()), ["x"]);
        assert_eq!(ids(&b.written.lock().unwrap()), ["x"]);
        b.failing.store(true, Ordering::SeqCst);
        let err = sink.record(&event("y")).await.unwrap_err();
        assert!(err.0.starts_with("b: "), "{err}");
        assert_eq!(ids(&a.written.lock().unwrap()), ["x", "y"]);
    }
}
