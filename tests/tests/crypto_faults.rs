//! EncryptionFailure and DecryptionFailure.
//!
//! These two modelled errors cannot be provoked from outside a healthy server: every key the
//! local keyring hands out works. The server engineer adds the tests here together with the
//! server-side fault hooks they need (a `KeyProvider` that fails on demand, or a keyring /
//! ciphertext corrupted in a controlled way), asserting that
//! - CreateSecret / PutSecretValue / UpdateSecret answer `EncryptionFailure` when the key
//!   provider cannot produce a data key, and store nothing;
//! - GetSecretValue answers `DecryptionFailure` (and BatchGetSecretValue reports it per
//!   secret in `Errors`) when a version's ciphertext or wrapped data key fails to open;
//! - neither error message leaks key material or plaintext.
//!
//! Until then this file deliberately holds no test.
