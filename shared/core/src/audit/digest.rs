//! Signed digests of an audit stream: at intervals (and on clean shutdown) the writer of a
//! stream appends, to a digest stream of its own, a record naming the stream's head (its last
//! hash and record count) signed with HMAC-SHA256 under a key the audit trail's readers do not
//! hold. A digest proves what the stream held at `digestTime`: records removed from the end of a
//! stream (which leave a valid hash chain) are caught because a digest names a head that is no
//! longer there, and a stream rewritten from scratch with a new, valid chain is caught because
//! the rewriter cannot sign digests for it.
//!
//! A digest record (one line of `audit/digests.jsonl`, canonical JSON as in [`super::chain`]):
//!
//! ```json
//! {"digestTime":"2024-05-01T12:05:00.000Z","digestVersion":"1","hash":"…",
//!  "previousHash":"…","signature":"…","signatureAlgorithm":"HMAC-SHA256",
//!  "signingKeyArn":"arn:aws:kms:us-east-1:111122223333:key/…","stream":"events.jsonl",
//!  "streamHeadHash":"…","streamRecordCount":42}
//! ```
//!
//! - `streamHeadHash` is the `hash` of record number `streamRecordCount` of `stream` (64 zeros
//!   when the count is 0).
//! - `signature` is the lowercase hex HMAC-SHA256, under the digest key, of the canonical form
//!   of the record without its `signature` and `hash` members (so it covers `previousHash`).
//! - The digest records form a chain of their own (`previousHash`/`hash`, as any stream).
//! - The digest key is derived from a master key of the keyring (`signingKeyArn` names it):
//!   `HMAC-SHA256(master key material, "coffer audit digest key v1")`, so the key material
//!   itself is never used for anything but key derivation and data-key wrapping.

use super::chain::{canonical_json, AuditChain, HASH_FIELD};
use crate::clock::Timestamp;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

pub const DIGEST_VERSION: &str = "1";
pub const SIGNATURE_ALGORITHM: &str = "HMAC-SHA256";
pub const SIGNATURE_FIELD: &str = "signature";
const KEY_DERIVATION_LABEL: &[u8] = b"coffer audit digest key v1";

/// The key that signs digests, and the ARN of the master key it was derived from. Zeroized on
/// drop; `Debug` shows the ARN only.
#[derive(Clone)]
pub struct DigestKey {
    key_arn: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestKey")
            .field("key_arn", &self.key_arn)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl DigestKey {
    /// Derives the digest key from a master key's material.
    pub fn derive(key_arn: impl Into<String>, master_material: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master_material)
            .expect("HMAC takes any key length");
        mac.update(KEY_DERIVATION_LABEL);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        DigestKey {
            key_arn: key_arn.into(),
            key,
        }
    }

    pub fn key_arn(&self) -> &str {
        &self.key_arn
    }

    fn mac(&self, record: &Value) -> Hmac<Sha256> {
        let mut unsigned = record.clone();
        if let Some(map) = unsigned.as_object_mut() {
            map.remove(SIGNATURE_FIELD);
            map.remove(HASH_FIELD);
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("HMAC takes any key length");
        mac.update(canonical_json(&unsigned).as_bytes());
        mac
    }

    /// The signature of a digest record (see the module documentation).
    pub fn sign(&self, record: &Value) -> String {
        hex::encode(self.mac(record).finalize().into_bytes())
    }

    /// True when `record` carries a valid signature under this key (constant-time compare).
    pub fn verify(&self, record: &Value) -> bool {
        let Some(signature) = record
            .get(SIGNATURE_FIELD)
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
        else {
            return false;
        };
        self.mac(record).verify_slice(&signature).is_ok()
    }
}

/// RFC 3339 with milliseconds, UTC (`2024-05-01T12:05:00.000Z`).
pub fn rfc3339_millis(t: Timestamp) -> String {
    let dt = t.to_offset_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

/// A stream's head as a digest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHead {
    /// The stream's file name, relative to the digest stream's directory (`events.jsonl`).
    pub stream: String,
    pub head_hash: String,
    pub record_count: u64,
}

/// Appends a signed digest of `head` to the digest stream `chain` and returns the sealed
/// record (to be written as `canonical_json(&record)` + newline).
pub fn seal_digest(
    chain: &mut AuditChain,
    key: &DigestKey,
    head: &StreamHead,
    time: Timestamp,
) -> Value {
    let mut record = json!({
        "digestVersion": DIGEST_VERSION,
        "digestTime": rfc3339_millis(time),
        "stream": head.stream,
        "streamHeadHash": head.head_hash,
        "streamRecordCount": head.record_count,
        "signingKeyArn": key.key_arn(),
        "signatureAlgorithm": SIGNATURE_ALGORITHM,
    });
    // Signed with the link to the previous digest, which `seal` sets to the same value.
    record[super::chain::PREVIOUS_HASH_FIELD] = Value::String(chain.head().to_string());
    record[SIGNATURE_FIELD] = Value::String(key.sign(&record));
    chain.seal(record)
}

/// The head a digest record names, if it is well-formed.
pub fn named_head(record: &Value) -> Option<StreamHead> {
    Some(StreamHead {
        stream: record.get("stream")?.as_str()?.to_string(),
        head_hash: record.get("streamHeadHash")?.as_str()?.to_string(),
        record_count: record.get("streamRecordCount")?.as_u64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::{verify_stream, GENESIS_HASH};

    fn key() -> DigestKey {
        DigestKey::derive("arn:aws:kms:us-east-1:111122223333:key/k", &[7u8; 32])
    }

    fn head(n: u64) -> StreamHead {
        StreamHead {
            stream: "events.jsonl".into(),
            head_hash: GENESIS_HASH.into(),
            record_count: n,
        }
    }

    #[test]
    fn seal_digest_is_signed_and_chained() {
        let mut chain = AuditChain::new();
        let first = seal_digest(&mut chain, &key(), &head(0), Timestamp(1_714_567_890_123));
        let second = seal_digest(&mut chain, &key(), &head(3), Timestamp(1_714_567_990_000));
        assert!(key().verify(&first) && key().verify(&second));
        assert_eq!(first["digestTime"], "2024-05-01T12:51:30.123Z");
        assert_eq!(named_head(&second), Some(head(3)));
        let lines = [canonical_json(&first), canonical_json(&second)];
        assert_eq!(verify_stream(&lines).unwrap().records, 2);
    }

    #[test]
    fn digest_key_verify_rejects_changes_and_other_keys() {
        let mut chain = AuditChain::new();
        let record = seal_digest(&mut chain, &key(), &head(5), Timestamp(0));
        let mut changed = record.clone();
        changed["streamRecordCount"] = json!(4);
        assert!(!key().verify(&changed));
        let other = DigestKey::derive("arn:aws:kms:us-east-1:111122223333:key/k", &[8u8; 32]);
        assert!(!other.verify(&record));
        let mut unsigned = record.clone();
        unsigned.as_object_mut().unwrap().remove(SIGNATURE_FIELD);
        assert!(!key().verify(&unsigned));
    }

    #[test]
    fn digest_key_debug_hides_the_key() {
        let text = format!("{:?}", key());
        assert!(text.contains("<redacted>") && text.contains("key/k"));
    }
}
