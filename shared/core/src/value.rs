//! Secret values in memory: a type whose `Debug` is redacted and whose bytes are zeroized on drop,
//! so a value can travel from the wire through the core to the crypto without ever being
//! printable by accident.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Whether a version was written with `SecretString` or `SecretBinary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    Binary,
}

#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretValue {
    #[zeroize(skip)]
    kind: ValueKind,
    bytes: Vec<u8>,
}

impl SecretValue {
    pub fn string(s: String) -> Self {
        SecretValue {
            kind: ValueKind::String,
            bytes: s.into_bytes(),
        }
    }

    pub fn binary(bytes: Vec<u8>) -> Self {
        SecretValue {
            kind: ValueKind::Binary,
            bytes,
        }
    }

    pub fn from_parts(kind: ValueKind, bytes: Vec<u8>) -> Self {
        SecretValue { kind, bytes }
    }

    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The string form; `None` for binary values (or a string that is somehow not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self.kind {
            ValueKind::String => std::str::from_utf8(&self.bytes).ok(),
            ValueKind::Binary => None,
        }
    }

    /// Constant-time equality, used for idempotent `ClientRequestToken` retries.
    pub fn same_as(&self, other: &SecretValue) -> bool {
        use subtle_eq::ct_eq;
        self.kind == other.kind && ct_eq(&self.bytes, &other.bytes)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretValue({:?}, <redacted {} bytes>)",
            self.kind,
            self.bytes.len()
        )
    }
}

mod subtle_eq {
    /// Compares two byte strings without an early exit on the first difference.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_value() {
        let v = SecretValue::string("hunter2-canary".to_string());
        let shown = format!("{:?}", v);
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn same_as_distinguishes_kind_and_bytes() {
        let a = SecretValue::string("x".into());
        assert!(a.same_as(&SecretValue::string("x".into())));
        assert!(!a.same_as(&SecretValue::binary(b"x".to_vec())));
        assert!(!a.same_as(&SecretValue::string("y".into())));
    }
}
