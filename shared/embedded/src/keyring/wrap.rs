//! The wrapped data key: what the keyring returns as `DataKey::wrapped` and what the envelope
//! of each secret version stores. It names its master key, so decrypting needs no key id:
//!
//! ```text
//! "CKW" | format 0x01 | master key id (16 bytes, UUID) | nonce (12) | AES-256-GCM(data key) (32 + 16 tag)
//! ```
//!
//! 80 bytes in all. The AAD is the 20-byte header (magic, format, key id) followed by the
//! canonical encryption context (serde_json of the `BTreeMap`, keys sorted), so a wrapped key
//! opens only under the context it was made for. The length is checked before any parsing.

use coffer_core::crypto::{aead_open, aead_seal, NONCE_LEN};
use coffer_core::ports::{EncryptionContext, KeyError};
use uuid::Uuid;
use zeroize::Zeroizing;

const MAGIC: &[u8; 3] = b"CKW";
const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1 + 16;
const SEALED_LEN: usize = 32 + 16;
pub(crate) const WRAPPED_LEN: usize = HEADER_LEN + NONCE_LEN + SEALED_LEN;

/// A wrapped key split into its parts (borrowed from the caller's bytes).
pub(crate) struct Parsed<'a> {
    pub key_id: Uuid,
    header: &'a [u8],
    nonce: &'a [u8],
    sealed: &'a [u8],
}

fn header(key_id: &Uuid) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..3].copy_from_slice(MAGIC);
    header[3] = FORMAT_V1;
    header[4..].copy_from_slice(key_id.as_bytes());
    header
}

fn aad(header: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
    // A BTreeMap serializes with sorted keys: the canonical form of the context.
    let context = serde_json::to_vec(context)
        .map_err(|_| KeyError::Unavailable("the encryption context is not serializable".into()))?;
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&context);
    Ok(aad)
}

/// Wraps `data_key` under `master` (whose id is `key_id`) for `context`.
pub(crate) fn wrap(
    key_id: &Uuid,
    master: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    data_key: &[u8; 32],
    context: &EncryptionContext,
) -> Result<Vec<u8>, KeyError> {
    let header = header(key_id);
    let sealed = aead_seal(master, nonce, &aad(&header, context)?, data_key);
    if sealed.len() != SEALED_LEN {
        return Err(KeyError::Unavailable("data key wrapping failed".into()));
    }
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Splits a wrapped key; anything but exactly one well-formed v1 blob is `InvalidCiphertext`.
pub(crate) fn parse(wrapped: &[u8]) -> Result<Parsed<'_>, KeyError> {
    if wrapped.len() != WRAPPED_LEN || &wrapped[..3] != MAGIC || wrapped[3] != FORMAT_V1 {
        return Err(KeyError::InvalidCiphertext);
    }
    let (header, rest) = wrapped.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let key_id = Uuid::from_slice(&header[4..]).map_err(|_| KeyError::InvalidCiphertext)?;
    Ok(Parsed {
        key_id,
        header,
        nonce,
        sealed,
    })
}

/// Opens a parsed wrapped key with its master key; a wrong key, context or any flipped bit is
/// `InvalidCiphertext`.
pub(crate) fn unwrap(
    parsed: &Parsed<'_>,
    master: &[u8; 32],
    context: &EncryptionContext,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let plaintext = aead_open(
        master,
        parsed.nonce,
        &aad(parsed.header, context)?,
        parsed.sealed,
    )
    .map_err(|_| KeyError::InvalidCiphertext)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    if plaintext.len() != data_key.len() {
        return Err(KeyError::InvalidCiphertext);
    }
    data_key.copy_from_slice(&plaintext);
    Ok(data_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::ports::encryption_context;

    fn ctx(version: &str) -> EncryptionContext {
        encryption_context(
            "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf",
            version,
        )
    }

    fn wrapped() -> (Vec<u8>, Uuid) {
        let id = Uuid::from_bytes([9; 16]);
        let w = wrap(&id, &[1; 32], &[2; NONCE_LEN], &[3; 32], &ctx("v1")).unwrap();
        (w, id)
    }

    #[test]
    fn wrap_then_unwrap_returns_data_key_and_names_master() {
        let (w, id) = wrapped();
        assert_eq!(w.len(), WRAPPED_LEN);
        let parsed = parse(&w).unwrap();
        assert_eq!(parsed.key_id, id);
        assert_eq!(*unwrap(&parsed, &[1; 32], &ctx("v1")).unwrap(), [3; 32]);
    }

    #[test]
    fn unwrap_with_other_context_or_master_is_invalid_ciphertext() {
        let (w, _) = wrapped();
        let parsed = parse(&w).unwrap();
        assert_eq!(
            unwrap(&parsed, &[1; 32], &ctx("v2")).unwrap_err(),
            KeyError::InvalidCiphertext
        );
        assert_eq!(
            unwrap(&parsed, &[4; 32], &ctx("v1")).unwrap_err(),
            KeyError::InvalidCiphertext
        );
    }

    #[test]
    fn parse_wrong_length_magic_or_format_is_invalid_ciphertext() {
        let (w, _) = wrapped();
        for cut in [0, 3, 4, 20, 32, WRAPPED_LEN - 1] {
            assert!(parse(&w[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = w.clone();
        longer.push(0);
        assert!(parse(&longer).is_err());
        for i in 0..4 {
            let mut bad = w.clone();
            bad[i] ^= 0x40;
            assert!(parse(&bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn flipped_header_nonce_or_ciphertext_bit_fails() {
        let (w, _) = wrapped();
        for i in 0..WRAPPED_LEN {
            let mut bad = w.clone();
            bad[i] ^= 1;
            let opened = parse(&bad).and_then(|p| unwrap(&p, &[1; 32], &ctx("v1")));
            assert!(opened.is_err(), "byte {i}");
        }
    }
}
