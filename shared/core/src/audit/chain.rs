//! The hash chain that makes an audit stream tamper-evident, beyond what CloudTrail records
//! carry. Pure: the JSON-lines sink (`coffer-embedded`) seals every record with an
//! [`AuditChain`] before writing it, and `coffer audit verify` checks a stream with a
//! [`StreamVerifier`].
//!
//! # The chain
//!
//! Every record of a stream (one file: `audit/events.jsonl`, or `audit/digests.jsonl`) is a
//! JSON object with two extra members:
//!
//! - `previousHash`: the `hash` of the previous record of the same stream; for the first record,
//!   64 zeros ([`GENESIS_HASH`]).
//! - `hash`: the lowercase hex SHA-256 of the **canonical form** of the record without its
//!   `hash` member (so `previousHash` is covered, which links the records).
//!
//! # The canonical form
//!
//! The canonical form of a JSON value is its serialization with:
//!
//! - no insignificant whitespace (no space or newline between tokens);
//! - the members of every object sorted by key, comparing keys as byte strings of their UTF-8
//!   encoding (Rust's `str` order), recursively; array order is kept;
//! - strings written as serde_json 1.x writes them: UTF-8, with only `"` and `\` escaped by a
//!   backslash, and the control characters U+0000..U+001F escaped as `\b`, `\t`, `\n`, `\f`, `\r`
//!   or `\u00xx` (lowercase hex); `/` and non-ASCII characters are not escaped;
//! - numbers as serde_json 1.x writes them: integers in decimal, other numbers in the shortest
//!   form that reads back to the same `f64` (for example `1714567890.123`); `true`, `false`,
//!   `null` as such.
//!
//! The sink writes each record as exactly its canonical form (with `hash` included) followed by
//! `\n`, so a line is its own canonical form; a verifier nevertheless parses the line and
//! re-canonicalizes it, so a stream that was pretty-printed or re-ordered member-wise by a tool
//! still verifies, while any change to a value does not.
//!
//! # What breaks the chain
//!
//! Checking the records in order, the first record that is not valid JSON, lacks `hash` or
//! `previousHash`, whose `hash` differs from the hash of its content (a changed byte), or whose
//! `previousHash` differs from the `hash` of the record before it (a record removed, inserted,
//! or records reordered), is reported with its line number and `eventID`. Records removed from
//! the *end* of a stream leave a valid chain: the signed digests (see [`super::digest`]) name the
//! stream's head at intervals and catch that.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// The `previousHash` of a stream's first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The member holding a record's own hash.
pub const HASH_FIELD: &str = "hash";
/// The member holding the previous record's hash.
pub const PREVIOUS_HASH_FIELD: &str = "previousHash";

/// The canonical form of `value` (see the module documentation).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // serde_json's own forms for null, booleans and numbers.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    // Serializing a `str` cannot fail; serde_json's escaping is the canonical one.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The lowercase hex SHA-256 of the canonical form of `record` without its `hash` member.
pub fn record_hash(record: &Value) -> String {
    let text = match record {
        Value::Object(map) if map.contains_key(HASH_FIELD) => {
            let mut copy = map.clone();
            copy.remove(HASH_FIELD);
            canonical_json(&Value::Object(copy))
        }
        other => canonical_json(other),
    };
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The head of one stream: the hash of its last record and how many records it holds. The
/// writer of a stream owns one and seals every record with it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChain {
    head: String,
    records: u64,
}

impl Default for AuditChain {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditChain {
    /// The chain of an empty stream.
    pub fn new() -> Self {
        AuditChain {
            head: GENESIS_HASH.to_string(),
            records: 0,
        }
    }

    /// Continues a stream whose last record has hash `head` and which holds `records` records
    /// (a writer reopening its file after a restart).
    pub fn resume(head: impl Into<String>, records: u64) -> Self {
        AuditChain {
            head: head.into(),
            records,
        }
    }

    /// The hash of the last sealed record ([`GENESIS_HASH`] for an empty stream).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// How many records the stream holds.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Links `record` to the chain: sets `previousHash` to the head and `hash` to the record's
    /// hash, and advances the head. A value that is not an object is wrapped as
    /// `{"record": value}` (records are objects; this keeps the chain total).
    pub fn seal(&mut self, record: Value) -> Value {
        let mut map = match record {
            Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("record".to_string(), other);
                map
            }
        };
        map.remove(HASH_FIELD);
        map.insert(
            PREVIOUS_HASH_FIELD.to_string(),
            Value::String(self.head.clone()),
        );
        let mut record = Value::Object(map);
        let hash = record_hash(&record);
        record[HASH_FIELD] = Value::String(hash.clone());
        self.head = hash;
        self.records += 1;
        record
    }

    /// [`seal`](Self::seal), returning the line to append (canonical form, without the newline).
    pub fn seal_line(&mut self, record: Value) -> String {
        canonical_json(&self.seal(record))
    }
}

/// Why a record breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// The line is not a JSON object.
    NotJson,
    /// The record lacks this member (or it is not a 64-digit hex string).
    MissingMember(&'static str),
    /// The record's content does not hash to its `hash`: it was changed after it was written.
    ContentChanged { stored: String, computed: String },
    /// The record's `previousHash` is not the hash of the record before it: records before it
    /// were removed, inserted or reordered (or this record was moved here).
    OutOfSequence { expected: String, found: String },
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::NotJson => write!(f, "the line is not a JSON object"),
            BreakReason::MissingMember(member) => {
                write!(f, "the record has no valid `{member}` member")
            }
            BreakReason::ContentChanged { stored, computed } => write!(
                f,
                "the record was changed after it was written (its content hashes to {computed}, \
                 its `hash` says {stored})"
            ),
            BreakReason::OutOfSequence { expected, found } => write!(
                f,
                "the record does not follow the record before it (its `previousHash` is {found}, \
                 the previous record's hash is {expected}): records were removed, inserted or \
                 reordered"
            ),
        }
    }
}

/// The first record that breaks a stream's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// 1-based line number in the stream.
    pub line: u64,
    /// The record's `eventID` (for a digest record, its `digestTime`), when it can be read.
    pub record_event_id: Option<String>,
    /// The member `record_event_id` was read from (`eventID` or `digestTime`).
    pub id_member: &'static str,
    pub reason: BreakReason,
}

impl BrokenLink {
    /// The report with the record's position in `unit`s (`line 5` in a file, `event 5` in a
    /// CloudWatch Logs stream).
    pub fn describe(&self, unit: &str) -> String {
        let id = match &self.record_event_id {
            Some(id) => format!(" ({} {id})", self.id_member),
            None => String::new(),
        };
        format!("{unit} {}{id}: {}", self.line, self.reason)
    }
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("line"))
    }
}

/// What an intact stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub records: u64,
    /// The hash of the last record ([`GENESIS_HASH`] for an empty stream).
    pub head: String,
}

/// Checks a stream line by line, in order (streaming: a large file is never held in memory).
#[derive(Debug, Clone)]
pub struct StreamVerifier {
    expected_previous: String,
    line: u64,
    records: u64,
}

impl Default for StreamVerifier {
    fn default() -> Self {
        Self::new()
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

const ID_MEMBERS: [&str; 2] = ["eventID", "digestTime"];

/// The record's id for a report and the member it came from: `eventID`, else `digestTime`
/// (digests); for a line that is no longer JSON, a best-effort look into the text.
fn record_id(record: Option<&Value>, line: &str) -> (Option<String>, &'static str) {
    for member in ID_MEMBERS {
        let found = match record {
            Some(record) => record
                .get(member)
                .and_then(Value::as_str)
                .map(str::to_string),
            None => {
                let needle = format!("\"{member}\":\"");
                line.find(&needle).and_then(|start| {
                    let rest = &line[start + needle.len()..];
                    rest.find('"').map(|end| rest[..end].to_string())
                })
            }
        };
        if found.is_some() {
            return (found, member);
        }
    }
    (None, ID_MEMBERS[0])
}

impl StreamVerifier {
    pub fn new() -> Self {
        StreamVerifier {
            expected_previous: GENESIS_HASH.to_string(),
            line: 0,
            records: 0,
        }
    }

    /// Checks the next line; on success returns the record's hash (the new head).
    pub fn push(&mut self, line: &str) -> Result<&str, BrokenLink> {
        self.line += 1;
        let parsed: Option<Value> = serde_json::from_str::<Value>(line)
            .ok()
            .filter(Value::is_object);
        let (record_event_id, id_member) = record_id(parsed.as_ref(), line);
        let broken = |reason| BrokenLink {
            line: self.line,
            record_event_id: record_event_id.clone(),
            id_member,
            reason,
        };
        let Some(record) = parsed.as_ref() else {
            return Err(broken(BreakReason::NotJson));
        };
        let stored = match record.get(HASH_FIELD).and_then(Value::as_str) {
            Some(h) if is_hash(h) => h.to_string(),
            _ => return Err(broken(BreakReason::MissingMember(HASH_FIELD))),
        };
        let previous = match record.get(PREVIOUS_HASH_FIELD).and_then(Value::as_str) {
            Some(h) if is_hash(h) => h.to_string(),
            _ => return Err(broken(BreakReason::MissingMember(PREVIOUS_HASH_FIELD))),
        };
        let computed = record_hash(record);
        if computed != stored {
            return Err(broken(BreakReason::ContentChanged { stored, computed }));
        }
        if previous != self.expected_previous {
            return Err(broken(BreakReason::OutOfSequence {
                expected: self.expected_previous.clone(),
                found: previous,
            }));
        }
        self.expected_previous = stored;
        self.records += 1;
        Ok(&self.expected_previous)
    }

    /// Records checked so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The hash of the last checked record.
    pub fn head(&self) -> &str {
        &self.expected_previous
    }

    pub fn finish(self) -> StreamSummary {
        StreamSummary {
            records: self.records,
            head: self.expected_previous,
        }
    }
}

/// Checks a whole stream given as lines (without their newlines).
pub fn verify_stream<I, S>(lines: I) -> Result<StreamSummary, BrokenLink>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut verifier = StreamVerifier::new();
    for line in lines {
        verifier.push(line.as_ref())?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(i: u32) -> Value {
        json!({
            "eventVersion": "1.08",
            "eventName": "GetSecretValue",
            "eventID": format!("event-{i}"),
            "eventTime": "2024-05-01T12:00:00Z",
            "readOnly": true,
            "resources": [{"ARN": format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:s{i}-AbCdEf")}],
            "responseElements": {"CreatedDate": 1714567890.123, "Name": "ünï/cødé \"q\"\n"},
        })
    }

    fn stream(n: u32) -> Vec<String> {
        let mut chain = AuditChain::new();
        (1..=n).map(|i| chain.seal_line(event(i))).collect()
    }

    #[test]
    fn canonical_json_sorts_keys_recursively_without_whitespace() {
        let v = json!({"b": 1, "a": {"d": [3, {"z": null, "y": true}], "c": "x"}, "B": 2.5});
        assert_eq!(
            canonical_json(&v),
            r#"{"B":2.5,"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}"#
        );
        assert_eq!(
            canonical_json(&json!("a/\u{1}\t\"\\é")),
            r#""a/\u0001\t\"\\é""#
        );
    }

    #[test]
    fn canonical_json_is_stable_through_a_parse() {
        for line in stream(3) {
            let parsed: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(canonical_json(&parsed), line);
        }
    }

    #[test]
    fn seal_links_records_to_the_previous_hash() {
        let mut chain = AuditChain::new();
        let first = chain.seal(event(1));
        assert_eq!(first[PREVIOUS_HASH_FIELD], GENESIS_HASH);
        let second = chain.seal(event(2));
        assert_eq!(second[PREVIOUS_HASH_FIELD], first[HASH_FIELD]);
        assert_eq!(chain.head(), second[HASH_FIELD].as_str().unwrap());
        assert_eq!(chain.records(), 2);
        assert_eq!(record_hash(&second), chain.head());
    }

    #[test]
    fn verify_stream_intact_chain_passes() {
        let lines = stream(5);
        let summary = verify_stream(&lines).unwrap();
        assert_eq!(summary.records, 5);
        let last: Value = serde_json::from_str(&lines[4]).unwrap();
        assert_eq!(summary.head, last[HASH_FIELD].as_str().unwrap());
        assert_eq!(
            verify_stream(Vec::<String>::new()).unwrap().head,
            GENESIS_HASH
        );
    }

    #[test]
    fn verify_stream_resumed_chain_continues() {
        let mut lines = stream(2);
        let last: Value = serde_json::from_str(&lines[1]).unwrap();
        let mut resumed = AuditChain::resume(last[HASH_FIELD].as_str().unwrap(), 2);
        lines.push(resumed.seal_line(event(3)));
        assert_eq!(verify_stream(&lines).unwrap().records, 3);
    }

    #[test]
    fn verify_stream_one_changed_byte_names_that_line() {
        let lines = stream(5);
        // Change one byte in each member of record 3 in turn, the hashes included.
        for (needle, replacement) in [
            ("GetSecretValue", "GetSecretValuf"),
            ("1714567890.123", "1714567890.124"),
            ("event-3", "event-4"),
        ] {
            let mut tampered = lines.clone();
            tampered[2] = tampered[2].replacen(needle, replacement, 1);
            let broken = verify_stream(&tampered).unwrap_err();
            assert_eq!(broken.line, 3, "{needle}");
            assert!(
                matches!(broken.reason, BreakReason::ContentChanged { .. }),
                "{broken}"
            );
        }
        for member in [HASH_FIELD, PREVIOUS_HASH_FIELD] {
            let mut tampered = lines.clone();
            let at = tampered[2].find(&format!("\"{member}\":\"")).unwrap() + member.len() + 4;
            let mut bytes = tampered[2].clone().into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            tampered[2] = String::from_utf8(bytes).unwrap();
            let broken = verify_stream(&tampered).unwrap_err();
            assert_eq!(broken.line, 3, "{member}");
            assert_eq!(broken.record_event_id.as_deref(), Some("event-3"));
        }
    }

    #[test]
    fn verify_stream_changed_byte_that_breaks_json_names_the_line_and_event() {
        let mut lines = stream(4);
        lines[1] = lines[1].replacen('{', "[", 1);
        let broken = verify_stream(&lines).unwrap_err();
        assert_eq!(broken.line, 2);
        assert_eq!(broken.reason, BreakReason::NotJson);
        assert_eq!(broken.record_event_id.as_deref(), Some("event-2"));
    }

    #[test]
    fn verify_stream_removed_record_names_the_record_after() {
        for removed in 0..4 {
            let mut lines = stream(5);
            lines.remove(removed);
            let broken = verify_stream(&lines).unwrap_err();
            assert_eq!(broken.line, removed as u64 + 1);
            assert_eq!(
                broken.record_event_id,
                Some(format!("event-{}", removed + 2))
            );
            assert!(matches!(broken.reason, BreakReason::OutOfSequence { .. }));
        }
    }

    #[test]
    fn verify_stream_swapped_records_name_the_first_moved_line() {
        let mut lines = stream(5);
        lines.swap(1, 2);
        let broken = verify_stream(&lines).unwrap_err();
        assert_eq!(broken.line, 2);
        assert_eq!(broken.record_event_id.as_deref(), Some("event-3"));
        assert!(matches!(broken.reason, BreakReason::OutOfSequence { .. }));
    }

    #[test]
    fn verify_stream_inserted_or_duplicated_record_is_detected() {
        let mut lines = stream(4);
        let copy = lines[1].clone();
        lines.insert(2, copy);
        let broken = verify_stream(&lines).unwrap_err();
        assert_eq!(broken.line, 3);

        let mut lines = stream(3);
        let mut other = AuditChain::new();
        lines.insert(1, other.seal_line(event(9)));
        assert_eq!(verify_stream(&lines).unwrap_err().line, 2);
    }

    #[test]
    fn verify_stream_record_without_chain_members_is_detected() {
        let mut lines = stream(2);
        lines.push(event(3).to_string());
        let broken = verify_stream(&lines).unwrap_err();
        assert_eq!(broken.line, 3);
        assert_eq!(broken.reason, BreakReason::MissingMember(HASH_FIELD));
    }

    #[test]
    fn verify_stream_reformatted_but_unchanged_record_passes() {
        let mut lines = stream(3);
        let pretty: Value = serde_json::from_str(&lines[1]).unwrap();
        lines[1] = serde_json::to_string(&pretty)
            .unwrap()
            .replace(",\"", ", \"");
        assert_eq!(verify_stream(&lines).unwrap().records, 3);
    }
}
