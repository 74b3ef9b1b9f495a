//! Signed digests of a CloudWatch Logs audit stream: the AWS counterpart of the local
//! `digests.jsonl`. Each event stream `<stream>` of the audit log group gets a digest stream
//! `<stream>/digests` in the same group, holding chained digest records
//! (`coffer_core::audit::digest`, `"stream": "<stream>"`) signed by a [`DigestSigner`] (KMS
//! `GenerateMac`, [`crate::audit_digest_kms`]). A reader lists the group's streams and pairs
//! each `<stream>` with `<stream>/digests` (`coffer audit verify <log group>`).
//!
//! Place in the data path: inside the CloudWatch Logs sink's background task
//! ([`crate::audit_cloudwatch`]), after a batch was accepted: never on the request path. A
//! digest names the event stream's head as CloudWatch accepted it, and is written
//!
//! - on every `checkpoint()` (the server's `--audit-digest-interval-secs` timer and clean
//!   shutdown), and
//! - from the sink's own flush timer once `interval` has passed since the last digest. This is
//!   what keeps the Lambda functions signing: their instances run the timer only while an
//!   invocation thaws them, so a digest follows the first flush after the interval; an
//!   instance that is frozen and then reclaimed leaves its last records covered by the chain
//!   only.
//!
//! Never twice for the same head, never for an empty stream. A digest that cannot be signed or
//! written is retried at the next opportunity; the digest chain advances only when the digest
//! was accepted.

use crate::audit_cloudwatch::{ensure_stream, now_ms, put_lines, Client};
use coffer_core::audit::chain::{canonical_json, AuditChain};
use coffer_core::audit::digest::{seal_digest_with, DigestSigner, StreamHead};
use coffer_core::clock::Clock;
use std::sync::Arc;
use std::time::Duration;

/// The suffix that names a stream's digest stream.
pub const DIGEST_STREAM_SUFFIX: &str = "/digests";

/// The digest stream of event stream `stream`.
pub fn digest_stream_name(stream: &str) -> String {
    format!("{stream}{DIGEST_STREAM_SUFFIX}")
}

/// How a CloudWatch Logs sink signs digests.
#[derive(Clone)]
pub struct DigestConfig {
    pub signer: Arc<dyn DigestSigner>,
    /// Write a digest from the flush timer once this long has passed since the last one;
    /// `Duration::ZERO`: only on `checkpoint()`.
    pub interval: Duration,
    pub clock: Arc<dyn Clock>,
}

/// The digest stream of one event stream.
pub(crate) struct StreamDigests {
    config: DigestConfig,
    client: Client,
    log_group: String,
    digest_stream: String,
    chain: AuditChain,
    /// The head the last digest named.
    last: Option<StreamHead>,
    /// When the last digest was written (the start, before the first).
    last_at_ms: i64,
    last_timestamp: i64,
}

impl StreamDigests {
    /// Creates `<stream>/digests` when missing.
    pub(crate) async fn start(
        client: Client,
        log_group: &str,
        stream: &str,
        config: DigestConfig,
    ) -> Result<Self, String> {
        let digest_stream = digest_stream_name(stream);
        ensure_stream(&client, log_group, &digest_stream).await?;
        tracing::info!(
            %log_group,
            %digest_stream,
            signing_key = config.signer.key_arn(),
            "signed audit digests go to CloudWatch Logs"
        );
        Ok(StreamDigests {
            last_at_ms: config.clock.now().0,
            config,
            client,
            log_group: log_group.to_string(),
            digest_stream,
            chain: AuditChain::new(),
            last: None,
            last_timestamp: 0,
        })
    }

    /// Writes a digest of `head` unless it is empty or already signed, and (unless `forced`)
    /// only once the interval has passed.
    pub(crate) async fn maybe_write(
        &mut self,
        head: StreamHead,
        forced: bool,
    ) -> Result<(), String> {
        if head.record_count == 0 || self.last.as_ref() == Some(&head) {
            return Ok(());
        }
        let now = self.config.clock.now();
        let interval = self.config.interval.as_millis() as i64;
        if !forced && (interval == 0 || now.0 - self.last_at_ms < interval) {
            return Ok(());
        }
        let mut next = self.chain.clone();
        let record = seal_digest_with(&mut next, self.config.signer.as_ref(), &head, now)
            .await
            .map_err(|e| e.to_string())?;
        let timestamp = now_ms().max(self.last_timestamp);
        put_lines(
            &self.client,
            &self.log_group,
            &self.digest_stream,
            vec![canonical_json(&record)],
            timestamp,
        )
        .await?;
        self.chain = next;
        self.last = Some(head);
        self.last_at_ms = now.0;
        self.last_timestamp = timestamp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_stream_name_appends_the_suffix() {
        assert_eq!(
            digest_stream_name("2024/05/01/120000Z-abc"),
            "2024/05/01/120000Z-abc/digests"
        );
    }
}
