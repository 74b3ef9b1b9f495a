//! Audit digests signed and verified by KMS: the AWS side of `coffer_core::audit::digest`'s
//! [`DigestSigner`] seam. The CloudWatch Logs sink signs each digest of its stream with
//! [`KmsDigestSigner`] (`GenerateMac`), and `coffer audit verify <log group>` checks them with
//! [`KmsDigestVerifier`] (`VerifyMac`).
//!
//! Place in the data path: off the request path. The sink's background task builds a digest
//! record, asks KMS for the MAC of its canonical form (`signing_input`), and appends it to the
//! digest stream; the verifier sends the same bytes and the recorded MAC back to KMS.
//!
//! **Why `GenerateMac` (an `HMAC_256` key, `GENERATE_VERIFY_MAC` usage) and not `Sign` with an
//! asymmetric key:** the digest is a short record checked by whoever runs `coffer audit verify`
//! with IAM access to the key, not by third parties offline, so the public-key property of
//! `Sign` buys nothing; `GenerateMac` is one cheap symmetric call with a 32-byte result, the
//! key material never leaves KMS in either case, `VerifyMac` answers valid or not (no key
//! handling in the verifier), and the record keeps the exact shape of the local HMAC digests
//! (`signatureAlgorithm` `HMAC_SHA_256`, `signingKeyArn` the key's ARN). Who may write digests
//! is who may call `kms:GenerateMac` on the key: Coffer's function roles only.
//!
//! A MAC proves the digest was made with the key it names. A forger with a KMS key of their own
//! could sign a rewritten trail under *their* key's ARN, so the verifier should be told which
//! key(s) to trust ([`KmsDigestVerifier::new`] with the key ids; `--digest-key-id`): digests
//! naming any other key then fail.

use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MacAlgorithmSpec};
use coffer_core::audit::digest::{DigestSignError, DigestSigner, SignedDigest, KMS_MAC_ALGORITHM};
use coffer_core::audit::trail::{bad_signature, CheckedDigest};
use std::collections::BTreeSet;

pub use aws_sdk_kms::Client;

/// The ARN of `key_id` (id, ARN, alias), checked to be an HMAC_256 key for MACs.
async fn hmac_key_arn(client: &Client, key_id: &str) -> Result<String, String> {
    let out = client
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| format!("DescribeKey {key_id}: {}", DisplayErrorContext(&e)))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| format!("DescribeKey {key_id}: no key metadata"))?;
    if meta.key_spec() != Some(&KeySpec::Hmac256)
        || meta.key_usage() != Some(&KeyUsageType::GenerateVerifyMac)
    {
        return Err(format!(
            "{key_id} is not an HMAC_256 key with usage GENERATE_VERIFY_MAC (key spec {:?}, \
             usage {:?})",
            meta.key_spec().map(KeySpec::as_str),
            meta.key_usage().map(KeyUsageType::as_str)
        ));
    }
    meta.arn()
        .map(str::to_string)
        .ok_or_else(|| format!("DescribeKey {key_id}: no key ARN"))
}

/// Signs digests with KMS `GenerateMac` (`HMAC_SHA_256`).
#[derive(Debug, Clone)]
pub struct KmsDigestSigner {
    client: Client,
    key_arn: String,
}

impl KmsDigestSigner {
    /// Resolves `key_id` (id, ARN or alias) to its ARN with `DescribeKey` and checks it is an
    /// HMAC_256 key: a wrong key fails at start, not at the first digest.
    pub async fn new(client: Client, key_id: &str) -> Result<Self, String> {
        let key_arn = hmac_key_arn(&client, key_id).await?;
        Ok(KmsDigestSigner { client, key_arn })
    }
}

#[async_trait]
impl DigestSigner for KmsDigestSigner {
    fn key_arn(&self) -> &str {
        &self.key_arn
    }

    fn algorithm(&self) -> &'static str {
        KMS_MAC_ALGORITHM
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DigestSignError> {
        let out = self
            .client
            .generate_mac()
            .key_id(&self.key_arn)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| {
                DigestSignError(format!(
                    "GenerateMac {}: {}",
                    self.key_arn,
                    DisplayErrorContext(&e)
                ))
            })?;
        out.mac()
            .map(|mac| mac.as_ref().to_vec())
            .ok_or_else(|| DigestSignError(format!("GenerateMac {}: no MAC", self.key_arn)))
    }
}

/// Checks digest signatures with KMS `VerifyMac`.
#[derive(Debug, Clone)]
pub struct KmsDigestVerifier {
    client: Client,
    /// The ARNs of the keys digests may be signed with; `None`: whatever key a digest names.
    trusted: Option<BTreeSet<String>>,
}

impl KmsDigestVerifier {
    /// `trusted_key_ids` (ids, ARNs or aliases, resolved with `DescribeKey`): the keys the
    /// writers sign with; empty: trust the key each digest names (a forger's own key too).
    pub async fn new(client: Client, trusted_key_ids: &[String]) -> Result<Self, String> {
        let trusted = if trusted_key_ids.is_empty() {
            None
        } else {
            let mut arns = BTreeSet::new();
            for id in trusted_key_ids {
                arns.insert(hmac_key_arn(&client, id).await?);
            }
            Some(arns)
        };
        Ok(KmsDigestVerifier { client, trusted })
    }

    /// Whether the signing key is pinned (for the report).
    pub fn pins_keys(&self) -> bool {
        self.trusted.is_some()
    }

    /// `Ok` when the digest's MAC verifies under a trusted key; otherwise the reason, naming the
    /// digest (KMS unreachable or access denied is an error too: nothing was proven).
    pub async fn verify(&self, digest: &CheckedDigest) -> Result<(), String> {
        let signed = SignedDigest::of(&digest.record).ok_or_else(|| {
            format!(
                "{}: the digest has no signature, signatureAlgorithm or signingKeyArn",
                digest.at
            )
        })?;
        if signed.algorithm != KMS_MAC_ALGORITHM {
            return Err(format!(
                "{}: signatureAlgorithm {:?} is not KMS GenerateMac ({KMS_MAC_ALGORITHM})",
                digest.at, signed.algorithm
            ));
        }
        if let Some(trusted) = &self.trusted {
            if !trusted.contains(&signed.key_arn) {
                return Err(format!(
                    "{}: signed under {}, which is not a digest key given with \
                     --digest-key-id: the digest was forged",
                    digest.at, signed.key_arn
                ));
            }
        }
        let result = self
            .client
            .verify_mac()
            .key_id(&signed.key_arn)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(signed.message.as_bytes()))
            .mac(Blob::new(signed.signature))
            .send()
            .await;
        match result {
            Ok(out) if out.mac_valid() => Ok(()),
            Ok(_) => Err(bad_signature(digest, &signed.key_arn)),
            Err(e) if e.code() == Some("KMSInvalidMacException") => {
                Err(bad_signature(digest, &signed.key_arn))
            }
            Err(e) => Err(format!(
                "{}: cannot check the signature with KMS VerifyMac under {}: {}",
                digest.at,
                signed.key_arn,
                DisplayErrorContext(&e)
            )),
        }
    }
}
