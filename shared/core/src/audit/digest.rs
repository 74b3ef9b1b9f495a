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
//!
//! # Who signs: the [`DigestSigner`] seam
//!
//! The record format is the same for every signer; `signatureAlgorithm` and `signingKeyArn`
//! say which one made the signature, so a verifier knows how to check it:
//!
//! | `signatureAlgorithm` | signer | verifier |
//! |---|---|---|
//! | `HMAC-SHA256` ([`SIGNATURE_ALGORITHM`]) | [`DigestKey`]: the keyring-derived key above (local server) | the same key, from the keyring |
//! | `HMAC_SHA_256` ([`KMS_MAC_ALGORITHM`]) | KMS `GenerateMac` under an HMAC_256 key (`coffer_aws::audit_digest_kms`) | KMS `VerifyMac` |
//!
//! The signature is always the lowercase hex of the MAC bytes over [`signing_input`]. Signing
//! is async ([`DigestSigner::sign`]) because KMS is a network call; the local key also offers
//! the synchronous [`seal_digest`] for the file sink, which signs under its file lock.

use super::chain::{canonical_json, AuditChain, HASH_FIELD, PREVIOUS_HASH_FIELD};
use crate::clock::Timestamp;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

pub const DIGEST_VERSION: &str = "1";
pub const SIGNATURE_ALGORITHM: &str = "HMAC-SHA256";
/// `signatureAlgorithm` of digests signed with KMS `GenerateMac` (KMS's own name of the MAC
/// algorithm, `MacAlgorithmSpec`).
pub const KMS_MAC_ALGORITHM: &str = "HMAC_SHA_256";
pub const SIGNATURE_FIELD: &str = "signature";
pub const SIGNING_KEY_FIELD: &str = "signingKeyArn";
pub const ALGORITHM_FIELD: &str = "signatureAlgorithm";
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

    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .expect("HMAC takes any key length");
        mac.update(message);
        mac
    }

    /// The signature of a digest record (see the module documentation).
    pub fn sign(&self, record: &Value) -> String {
        hex::encode(
            self.mac(signing_input(record).as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    /// True when `record` carries a valid signature under this key (constant-time compare).
    pub fn verify(&self, record: &Value) -> bool {
        let Some(signed) = SignedDigest::of(record) else {
            return false;
        };
        self.mac(signed.message.as_bytes())
            .verify_slice(&signed.signature)
            .is_ok()
    }
}

#[async_trait]
impl DigestSigner for DigestKey {
    fn key_arn(&self) -> &str {
        &self.key_arn
    }

    fn algorithm(&self) -> &'static str {
        SIGNATURE_ALGORITHM
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DigestSignError> {
        Ok(self.mac(message).finalize().into_bytes().to_vec())
    }
}

/// A signer could not sign (KMS unreachable, access denied, ...). The message names the key,
/// never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit digest could not be signed: {0}")]
pub struct DigestSignError(pub String);

/// What signs digests (see the module documentation): the local [`DigestKey`], or KMS
/// `GenerateMac` in coffer-aws.
#[async_trait]
pub trait DigestSigner: Send + Sync {
    /// The ARN the digests name in `signingKeyArn`.
    fn key_arn(&self) -> &str;
    /// What the digests name in `signatureAlgorithm`.
    fn algorithm(&self) -> &'static str;
    /// The MAC (or signature) bytes of `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DigestSignError>;
}

/// The bytes a digest's signature covers: the canonical form of the record without its
/// `signature` and `hash` members (so it covers `previousHash`, `signingKeyArn` and
/// `signatureAlgorithm`).
pub fn signing_input(record: &Value) -> String {
    let mut unsigned = record.clone();
    if let Some(map) = unsigned.as_object_mut() {
        map.remove(SIGNATURE_FIELD);
        map.remove(HASH_FIELD);
    }
    canonical_json(&unsigned)
}

/// A digest's signature as a verifier needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDigest {
    pub key_arn: String,
    pub algorithm: String,
    /// [`signing_input`] of the record.
    pub message: String,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

impl SignedDigest {
    /// The signature parts of `record`; `None` when a member is missing or the signature is not
    /// hex.
    pub fn of(record: &Value) -> Option<SignedDigest> {
        let text = |member: &str| record.get(member).and_then(Value::as_str);
        Some(SignedDigest {
            key_arn: text(SIGNING_KEY_FIELD)?.to_string(),
            algorithm: text(ALGORITHM_FIELD)?.to_string(),
            message: signing_input(record),
            signature: hex::decode(text(SIGNATURE_FIELD)?).ok()?,
        })
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

/// A digest record before its signature: built against the digest stream's current head,
/// signed over [`UnsignedDigest::message`], then sealed onto the same chain.
#[derive(Debug, Clone)]
pub struct UnsignedDigest(Value);

impl UnsignedDigest {
    pub fn new(
        chain: &AuditChain,
        key_arn: &str,
        algorithm: &str,
        head: &StreamHead,
        time: Timestamp,
    ) -> Self {
        let mut record = json!({
            "digestVersion": DIGEST_VERSION,
            "digestTime": rfc3339_millis(time),
            "stream": head.stream,
            "streamHeadHash": head.head_hash,
            "streamRecordCount": head.record_count,
            SIGNING_KEY_FIELD: key_arn,
            ALGORITHM_FIELD: algorithm,
        });
        // Signed with the link to the previous digest, which `seal` sets to the same value.
        record[PREVIOUS_HASH_FIELD] = Value::String(chain.head().to_string());
        UnsignedDigest(record)
    }

    /// What the signer signs ([`signing_input`]).
    pub fn message(&self) -> String {
        signing_input(&self.0)
    }

    /// Adds the signature and appends the record to `chain` (the chain it was built against);
    /// returns the sealed record (to be written as `canonical_json(&record)`).
    pub fn seal(mut self, chain: &mut AuditChain, signature: &[u8]) -> Value {
        self.0[SIGNATURE_FIELD] = Value::String(hex::encode(signature));
        chain.seal(self.0)
    }
}

/// Appends a digest of `head` signed with the local key to the digest stream `chain` and
/// returns the sealed record (to be written as `canonical_json(&record)` + newline).
pub fn seal_digest(
    chain: &mut AuditChain,
    key: &DigestKey,
    head: &StreamHead,
    time: Timestamp,
) -> Value {
    let unsigned = UnsignedDigest::new(chain, key.key_arn(), SIGNATURE_ALGORITHM, head, time);
    let signature = key
        .mac(unsigned.message().as_bytes())
        .finalize()
        .into_bytes();
    unsigned.seal(chain, &signature)
}

/// As [`seal_digest`], with any [`DigestSigner`] (KMS on AWS). The chain only advances when
/// the signer signed.
pub async fn seal_digest_with(
    chain: &mut AuditChain,
    signer: &dyn DigestSigner,
    head: &StreamHead,
    time: Timestamp,
) -> Result<Value, DigestSignError> {
    let unsigned = UnsignedDigest::new(chain, signer.key_arn(), signer.algorithm(), head, time);
    let signature = signer.sign(unsigned.message().as_bytes()).await?;
    Ok(unsigned.seal(chain, &signature))
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
    fn seal_digest_with_the_local_key_signs_exactly_as_seal_digest() {
        let (mut a, mut b) = (AuditChain::new(), AuditChain::new());
        let sync = seal_digest(&mut a, &key(), &head(4), Timestamp(5));
        let signer: &dyn DigestSigner = &key();
        let with = block_on(seal_digest_with(&mut b, signer, &head(4), Timestamp(5))).unwrap();
        assert_eq!(sync, with);
        assert_eq!(a, b);
        let signed = SignedDigest::of(&with).unwrap();
        assert_eq!(signed.algorithm, SIGNATURE_ALGORITHM);
        assert_eq!(
            hex::encode(signed.signature),
            with["signature"].as_str().unwrap()
        );
    }

    /// A trail written before the signer seam verifies unchanged (a fixed record).
    #[test]
    fn digest_key_verifies_a_record_of_the_original_format() {
        let record: Value = serde_json::from_str(
            r#"{"digestTime":"1970-01-01T00:00:00.000Z","digestVersion":"1","previousHash":"0000000000000000000000000000000000000000000000000000000000000000","signatureAlgorithm":"HMAC-SHA256","signingKeyArn":"arn:aws:kms:us-east-1:111122223333:key/k","stream":"events.jsonl","streamHeadHash":"0000000000000000000000000000000000000000000000000000000000000000","streamRecordCount":5}"#,
        )
        .unwrap();
        let mut chain = AuditChain::new();
        let sealed = seal_digest(&mut chain, &key(), &head(5), Timestamp(0));
        let mut unsigned = sealed.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        unsigned.as_object_mut().unwrap().remove("hash");
        assert_eq!(unsigned, record);
        // HMAC-SHA256(HMAC-SHA256([7; 32], label), canonical record), computed independently.
        assert_eq!(
            sealed["signature"],
            "12e270717fd614c1b60f5b0e6dfc821f5824f5daf78db5489fa17ac972f20ad5"
        );
        assert!(key().verify(&sealed));
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn digest_key_debug_hides_the_key() {
        let text = format!("{:?}", key());
        assert!(text.contains("<redacted>") && text.contains("key/k"));
    }
}
