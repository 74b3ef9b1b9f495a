//! Envelope encryption of one secret version. The service asks the `KeyProvider` for a fresh
//! data key per version, seals the value here with AES-256-GCM, and stores the envelope:
//!
//! ```text
//! "CFR" | format 0x01 | wrapped-key length (u16 BE) | wrapped key | nonce (12) | ciphertext+tag
//! ```
//!
//! The AAD is the header followed by the canonical JSON of the encryption context
//! (`{"SecretARN": ..., "SecretVersionId": ...}`), so an envelope cannot be replayed under another
//! secret or version. Lengths are checked before any slicing.

use crate::ports::EncryptionContext;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use thiserror::Error;
use zeroize::Zeroizing;

const MAGIC: &[u8; 3] = b"CFR";
const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 4;
pub const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("the envelope is malformed")]
    Malformed,
    #[error("the envelope uses an unknown format version")]
    UnknownFormat,
    #[error("the ciphertext failed authentication")]
    Authentication,
}

/// An envelope split into its parts (borrowed from the stored bytes).
pub struct ParsedEnvelope<'a> {
    pub wrapped_key: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

fn aad(context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(128);
    aad.extend_from_slice(MAGIC);
    aad.push(FORMAT_V1);
    // A BTreeMap serializes with sorted keys: the canonical form.
    aad.extend_from_slice(
        serde_json::to_string(context)
            .unwrap_or_default()
            .as_bytes(),
    );
    aad
}

/// AES-256-GCM over `plaintext` with `aad`; the caller supplies a unique nonce.
pub fn aead_seal(key: &[u8; 32], nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Encryption only fails for inputs over 64 GiB, which the API limits exclude.
        .unwrap_or_default()
}

pub fn aead_open(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if nonce.len() != NONCE_LEN || ciphertext.len() < TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

/// Seals `plaintext` under `data_key` and packs the envelope.
pub fn seal(
    data_key: &[u8; 32],
    wrapped_key: &[u8],
    context: &EncryptionContext,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Vec<u8> {
    let ciphertext = aead_seal(data_key, nonce, &aad(context), plaintext);
    let wrapped_len = u16::try_from(wrapped_key.len()).unwrap_or(u16::MAX);
    let mut out =
        Vec::with_capacity(HEADER_LEN + 2 + wrapped_key.len() + NONCE_LEN + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_V1);
    out.extend_from_slice(&wrapped_len.to_be_bytes());
    out.extend_from_slice(&wrapped_key[..wrapped_len as usize]);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Splits an envelope, checking every length before slicing.
pub fn parse(envelope: &[u8]) -> Result<ParsedEnvelope<'_>, CryptoError> {
    if envelope.len() < HEADER_LEN + 2 || &envelope[..3] != MAGIC {
        return Err(CryptoError::Malformed);
    }
    if envelope[3] != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat);
    }
    let wrapped_len = u16::from_be_bytes([envelope[4], envelope[5]]) as usize;
    let rest = &envelope[HEADER_LEN + 2..];
    if rest.len() < wrapped_len + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let (wrapped_key, rest) = rest.split_at(wrapped_len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok(ParsedEnvelope {
        wrapped_key,
        nonce,
        ciphertext,
    })
}

/// Opens a parsed envelope with the unwrapped data key.
pub fn open(
    parsed: &ParsedEnvelope<'_>,
    data_key: &[u8; 32],
    context: &EncryptionContext,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    aead_open(data_key, parsed.nonce, &aad(context), parsed.ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::encryption_context;

    fn sealed() -> (Vec<u8>, [u8; 32], EncryptionContext) {
        let key = [7u8; 32];
        let ctx = encryption_context("arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", "v1");
        let env = seal(&key, b"wrapped-key-bytes", &ctx, &[1u8; 12], b"the value");
        (env, key, ctx)
    }

    #[test]
    fn seal_then_open_returns_plaintext() {
        let (env, key, ctx) = sealed();
        let parsed = parse(&env).unwrap();
        assert_eq!(parsed.wrapped_key, b"wrapped-key-bytes");
        assert_eq!(&open(&parsed, &key, &ctx).unwrap()[..], b"the value");
    }

    #[test]
    fn open_with_other_context_fails_authentication() {
        let (env, key, _) = sealed();
        let other = encryption_context("arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", "v2");
        let parsed = parse(&env).unwrap();
        assert_eq!(
            open(&parsed, &key, &other).unwrap_err(),
            CryptoError::Authentication
        );
    }

    #[test]
    fn parse_truncated_envelope_is_malformed() {
        let (env, _, _) = sealed();
        for cut in [0, 3, 5, 6, 20, env.len() - 17] {
            assert!(parse(&env[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn parse_unknown_format_is_rejected() {
        let (mut env, _, _) = sealed();
        env[3] = 9;
        assert_eq!(parse(&env).err(), Some(CryptoError::UnknownFormat));
    }

    #[test]
    fn flipped_ciphertext_bit_fails_authentication() {
        let (mut env, key, ctx) = sealed();
        let last = env.len() - 1;
        env[last] ^= 1;
        let parsed = parse(&env).unwrap();
        assert!(open(&parsed, &key, &ctx).is_err());
    }
}
