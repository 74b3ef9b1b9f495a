//! The checks `coffer audit verify` makes on one event stream and its digest stream, shared by
//! every place a trail is read from: the local files (`audit/events.jsonl` + `digests.jsonl`)
//! and a CloudWatch Logs log group (each `<stream>` + `<stream>/digests`). Pure: the caller
//! reads the lines (a file, `GetLogEvents`) and checks each digest's signature with whatever
//! holds the key (the keyring's HMAC key, KMS `VerifyMac`); everything else is here.
//!
//! Place in the data path: reader side only. `coffer audit verify` -> read the digest stream
//! line by line into a [`DigestStreamCheck`] (its chain, each digest's named head; the caller
//! checks the signature of each record it returns) -> the digests' heads become
//! [`Checkpoint`]s -> read the event stream into an [`EventStreamCheck`] (its chain, that each
//! checkpoint's head is on it, and at the end that no digest names more records than the
//! stream holds).
//!
//! Every failure is a message naming the first broken record by its position (`line 5` in a
//! file, `event 5` in a log stream) and its `eventID` (or a digest's `digestTime`); the caller
//! prefixes the stream's name.

use super::chain::{StreamVerifier, GENESIS_HASH};
use super::digest::{named_head, StreamHead};
use serde_json::Value;
use std::collections::BTreeMap;

/// A digest's head, and where the digest is (for messages: `digests.jsonl line 2 (digestTime
/// …)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub at: String,
    pub head: StreamHead,
}

/// One digest record whose chain link and head were checked; its signature is the caller's.
#[derive(Debug, Clone)]
pub struct CheckedDigest {
    pub record: Value,
    /// Where it is, as in [`Checkpoint::at`].
    pub at: String,
}

/// Checks a digest stream's chain and collects the heads it names for one event stream.
#[derive(Debug)]
pub struct DigestStreamCheck {
    verifier: StreamVerifier,
    label: String,
    unit: &'static str,
    stream: String,
    checkpoints: Vec<Checkpoint>,
}

impl DigestStreamCheck {
    /// `label` names the digest stream in messages, `unit` its records (`line`, `event`);
    /// `stream` is the event stream whose digests are collected (digests of other streams are
    /// checked but not collected).
    pub fn new(label: impl Into<String>, unit: &'static str, stream: impl Into<String>) -> Self {
        DigestStreamCheck {
            verifier: StreamVerifier::new(),
            label: label.into(),
            unit,
            stream: stream.into(),
            checkpoints: Vec::new(),
        }
    }

    /// Checks the next digest line; returns the record for the caller's signature check.
    pub fn push(&mut self, line: &str) -> Result<CheckedDigest, String> {
        self.verifier
            .push(line)
            .map_err(|link| link.describe(self.unit))?;
        let record: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let time = record
            .get("digestTime")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let at = format!(
            "{} {} {} (digestTime {time})",
            self.label,
            self.unit,
            self.verifier.records()
        );
        let head = named_head(&record).ok_or_else(|| {
            format!(
                "{} {} (digestTime {time}): the digest does not name a stream head",
                self.unit,
                self.verifier.records()
            )
        })?;
        if head.stream == self.stream {
            self.checkpoints.push(Checkpoint {
                at: at.clone(),
                head,
            });
        }
        Ok(CheckedDigest { record, at })
    }

    /// How many digests were checked.
    pub fn records(&self) -> u64 {
        self.verifier.records()
    }

    /// The heads the digests name for the event stream, in order.
    pub fn finish(self) -> Vec<Checkpoint> {
        self.checkpoints
    }
}

/// The message for a digest whose signature does not verify.
pub fn bad_signature(digest: &CheckedDigest, key_arn: &str) -> String {
    format!(
        "{}: the signature does not verify under {key_arn}: the digest was changed or forged",
        digest.at
    )
}

/// What an intact event stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedStream {
    pub records: u64,
    pub head: String,
    /// The `eventTime` of the last record.
    pub last_event_time: Option<String>,
    /// Records covered by a signed digest (the largest count a digest names).
    pub covered: u64,
}

/// Checks an event stream's chain and that it passes through every checkpoint.
#[derive(Debug)]
pub struct EventStreamCheck {
    verifier: StreamVerifier,
    unit: &'static str,
    checkpoints: BTreeMap<u64, Vec<Checkpoint>>,
    last_event_time: Option<String>,
}

fn text_member(record: &Value, member: &str) -> Option<String> {
    record
        .get(member)
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl EventStreamCheck {
    /// Fails at once when a digest signs an empty stream with a head.
    pub fn new(checkpoints: Vec<Checkpoint>, unit: &'static str) -> Result<Self, String> {
        let mut by_count: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
        for checkpoint in checkpoints {
            by_count
                .entry(checkpoint.head.record_count)
                .or_default()
                .push(checkpoint);
        }
        if let Some(empty) = by_count.get(&0) {
            if let Some(c) = empty.iter().find(|c| c.head.head_hash != GENESIS_HASH) {
                return Err(format!(
                    "does not match {}: it signs an empty stream with a head",
                    c.at
                ));
            }
        }
        Ok(EventStreamCheck {
            verifier: StreamVerifier::new(),
            unit,
            checkpoints: by_count,
            last_event_time: None,
        })
    }

    /// Checks the next event line.
    pub fn push(&mut self, line: &str) -> Result<(), String> {
        let head = self
            .verifier
            .push(line)
            .map_err(|link| link.describe(self.unit))?
            .to_string();
        let record = serde_json::from_str::<Value>(line).unwrap_or(Value::Null);
        let number = self.verifier.records();
        if let Some(checkpoints) = self.checkpoints.get(&number) {
            if let Some(c) = checkpoints.iter().find(|c| c.head.head_hash != head) {
                return Err(format!(
                    "{} {number} (eventID {}): its hash is not the head signed by {}: the stream \
                     was rewritten up to here",
                    self.unit,
                    text_member(&record, "eventID").unwrap_or_default(),
                    c.at
                ));
            }
        }
        self.last_event_time = text_member(&record, "eventTime");
        Ok(())
    }

    /// Fails when a digest names more records than the stream held.
    pub fn finish(self) -> Result<CheckedStream, String> {
        let records = self.verifier.records();
        if let Some((count, checkpoints)) = self.checkpoints.range(records + 1..).next() {
            let missing = if *count == records + 1 {
                format!("record {count} was")
            } else {
                format!("records {}..{count} were", records + 1)
            };
            return Err(format!(
                "holds {records} records, but {} signed a stream of {count}: {missing} removed \
                 from the end",
                checkpoints[0].at,
            ));
        }
        Ok(CheckedStream {
            records,
            covered: self.checkpoints.keys().next_back().copied().unwrap_or(0),
            head: self.verifier.finish().head,
            last_event_time: self.last_event_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{canonical_json, AuditChain};
    use crate::audit::digest::{seal_digest, DigestKey};
    use crate::clock::Timestamp;
    use serde_json::json;

    fn events(n: u32) -> (Vec<String>, AuditChain) {
        let mut chain = AuditChain::new();
        let lines = (1..=n)
            .map(|i| chain.seal_line(json!({"eventID": format!("e{i}"), "eventTime": "t"})))
            .collect();
        (lines, chain)
    }

    fn digest_lines(heads: &[(u64, &str)]) -> Vec<String> {
        let key = DigestKey::derive("arn:aws:kms:us-east-1:111122223333:key/k", &[1; 32]);
        let mut chain = AuditChain::new();
        heads
            .iter()
            .map(|(count, hash)| {
                let head = StreamHead {
                    stream: "s".into(),
                    head_hash: hash.to_string(),
                    record_count: *count,
                };
                canonical_json(&seal_digest(&mut chain, &key, &head, Timestamp(0)))
            })
            .collect()
    }

    fn check(events: &[String], digests: &[String]) -> Result<CheckedStream, String> {
        let mut d = DigestStreamCheck::new("s/digests", "event", "s");
        for line in digests {
            d.push(line)?;
        }
        let mut e = EventStreamCheck::new(d.finish(), "event")?;
        for line in events {
            e.push(line)?;
        }
        e.finish()
    }

    #[test]
    fn event_stream_check_intact_reports_coverage() {
        let (lines, chain) = events(4);
        let digests = digest_lines(&[(4, chain.head())]);
        let summary = check(&lines, &digests).unwrap();
        assert_eq!((summary.records, summary.covered), (4, 4));
        assert_eq!(summary.last_event_time.as_deref(), Some("t"));
    }

    #[test]
    fn event_stream_check_cut_tail_names_the_digest() {
        let (mut lines, chain) = events(4);
        let digests = digest_lines(&[(4, chain.head())]);
        lines.pop();
        let e = check(&lines, &digests).unwrap_err();
        assert!(e.contains("record 4 was removed from the end"), "{e}");
        assert!(e.contains("s/digests event 1"), "{e}");
    }

    #[test]
    fn event_stream_check_rewritten_stream_fails_at_the_signed_head() {
        let (lines, _) = events(3);
        let (other, _) = events(1);
        let digests = digest_lines(&[(2, GENESIS_HASH)]);
        let e = check(&lines, &digests).unwrap_err();
        assert!(e.starts_with("event 2 (eventID e2)"), "{e}");
        let e = check(&other, &digest_lines(&[(0, &"1".repeat(64))])).unwrap_err();
        assert!(e.contains("signs an empty stream"), "{e}");
    }

    #[test]
    fn event_stream_check_broken_chain_names_the_unit_and_event() {
        let (mut lines, _) = events(3);
        lines.swap(0, 1);
        let e = check(&lines, &[]).unwrap_err();
        assert!(e.starts_with("event 1 (eventID e2)"), "{e}");
    }
}
