//! `InMemoryKeyProvider`: an in-memory fake of the `KeyProvider` port with KMS's identities
//! (key ids, key ARNs, aliases, alias ARNs, one namespace per scope, a lazily created default
//! key with alias `alias/aws/secretsmanager`). The core's service tests run on it; it passes
//! [`crate::key_provider_contract`] like the keyring file and the KMS adapter.
//!
//! Wrapped data keys are real AES-256-GCM under the fake master key (the core's `aead_seal`),
//! with the canonical encryption context as AAD, so a wrong context fails as with KMS:
//!
//! ```text
//! "FAKEKEY1" | key id (36 ASCII) | nonce (12) | AES-256-GCM(data key) (48)
//! ```
//!
//! Randomness is a deterministic generator (splitmix64): fresh per call, identical per run.
//! For failure paths, [`InMemoryKeyProvider::fail_next`] queues an error that the next call of
//! one operation returns; [`InMemoryKeyProvider::calls`] counts calls (e.g. to check a data key
//! cache).

use async_trait::async_trait;
use coffer_core::crypto::{aead_open, aead_seal, NONCE_LEN};
use coffer_core::ids::Scope;
use coffer_core::ports::{DataKey, EncryptionContext, KeyError, KeyProvider};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use zeroize::Zeroizing;

/// The alias of each scope's default key, as AWS names its managed Secrets Manager key.
pub use coffer_core::ports::DEFAULT_KEY_ALIAS;

const MAGIC: &[u8; 8] = b"FAKEKEY1";
const KEY_ID_LEN: usize = 36;
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN;
const WRAPPED_LEN: usize = HEADER_LEN + NONCE_LEN + 32 + 16;

/// The operations of the port, to aim an injected failure at one of them or count its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOp {
    Resolve,
    GenerateDataKey,
    DecryptDataKey,
}

struct FakeKey {
    scope: Scope,
    material: Zeroizing<[u8; 32]>,
    enabled: bool,
}

#[derive(Default)]
struct State {
    /// Keyed by key id.
    keys: BTreeMap<String, FakeKey>,
    /// (scope, alias name) -> key id.
    aliases: BTreeMap<(Scope, String), String>,
    rng: u64,
    failures: Vec<(KeyOp, KeyError)>,
    calls: HashMap<KeyOp, usize>,
}

impl State {
    fn next_u64(&mut self) -> u64 {
        // splitmix64: distinct outputs for 2^64 calls.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    fn new_key(&mut self, scope: &Scope) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        );
        let mut material = Zeroizing::new([0u8; 32]);
        self.fill(&mut material[..]);
        self.keys.insert(
            id.clone(),
            FakeKey {
                scope: scope.clone(),
                material,
                enabled: true,
            },
        );
        id
    }

    fn take_failure(&mut self, op: KeyOp) -> Result<(), KeyError> {
        *self.calls.entry(op).or_default() += 1;
        match self.failures.iter().position(|(o, _)| *o == op) {
            Some(i) => Err(self.failures.remove(i).1),
            None => Ok(()),
        }
    }

    /// The id of the key `key_id` names in `scope` (`None`: the default key, created on first
    /// use), following KMS's identifier forms.
    fn find(&mut self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        let given = key_id.unwrap_or(DEFAULT_KEY_ALIAS);
        let not_found = || KeyError::NotFound(format!("Invalid keyId {given}"));
        let resource = match given.strip_prefix("arn:") {
            Some(rest) => {
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                let [partition, "kms", region, account, resource] = parts[..] else {
                    return Err(not_found());
                };
                if partition != scope.partition
                    || region != scope.region
                    || account != scope.account
                {
                    return Err(not_found());
                }
                match resource.strip_prefix("key/") {
                    Some(id) => id,
                    None if resource.starts_with("alias/") => resource,
                    None => return Err(not_found()),
                }
            }
            None => given,
        };
        if resource.starts_with("alias/") {
            let alias = (scope.clone(), resource.to_string());
            if let Some(id) = self.aliases.get(&alias) {
                return Ok(id.clone());
            }
            if resource == DEFAULT_KEY_ALIAS {
                let id = self.new_key(scope);
                self.aliases.insert(alias, id.clone());
                return Ok(id);
            }
            return Err(not_found());
        }
        let id = resource.to_ascii_lowercase();
        match self.keys.get(&id) {
            Some(key) if &key.scope == scope => Ok(id),
            _ => Err(not_found()),
        }
    }

    fn usable(&mut self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        let id = self.find(scope, key_id)?;
        if !self.keys[&id].enabled {
            return Err(KeyError::Disabled(format!(
                "{} is disabled",
                key_arn(scope, &id)
            )));
        }
        Ok(id)
    }
}

fn key_arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:{}:kms:{}:{}:key/{}",
        scope.partition, scope.region, scope.account, id
    )
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(
        serde_json::to_string(context)
            .unwrap_or_default()
            .as_bytes(),
    );
    aad
}

#[derive(Default)]
pub struct InMemoryKeyProvider {
    state: Mutex<State>,
}

impl fmt::Debug for InMemoryKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryKeyProvider")
            .field("keys", &self.lock().keys.len())
            .finish_non_exhaustive()
    }
}

impl InMemoryKeyProvider {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a key in `scope` (with an alias `alias/<name>` if given) and returns its ARN.
    pub fn create_key(&self, scope: &Scope, alias: Option<&str>) -> String {
        let mut state = self.lock();
        let id = state.new_key(scope);
        if let Some(alias) = alias {
            state
                .aliases
                .insert((scope.clone(), alias.to_string()), id.clone());
        }
        key_arn(scope, &id)
    }

    /// Enables or disables the key `key_id` names (any identifier form).
    pub fn set_enabled(&self, scope: &Scope, key_id: &str, enabled: bool) -> Result<(), KeyError> {
        let mut state = self.lock();
        let id = state.find(scope, Some(key_id))?;
        if let Some(key) = state.keys.get_mut(&id) {
            key.enabled = enabled;
        }
        Ok(())
    }

    /// Makes the next call of `op` return `error`. Several queued failures of one operation are
    /// returned in the order they were queued.
    pub fn fail_next(&self, op: KeyOp, error: KeyError) {
        self.lock().failures.push((op, error));
    }

    /// How many times `op` was called (including calls that failed).
    pub fn calls(&self, op: KeyOp) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }
}

#[async_trait]
impl KeyProvider for InMemoryKeyProvider {
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        let mut state = self.lock();
        state.take_failure(KeyOp::Resolve)?;
        let id = state.usable(scope, key_id)?;
        Ok(key_arn(scope, &id))
    }

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let mut state = self.lock();
        state.take_failure(KeyOp::GenerateDataKey)?;
        let id = state.usable(scope, key_id)?;
        let mut plaintext = Zeroizing::new([0u8; 32]);
        state.fill(&mut plaintext[..]);
        let mut nonce = [0u8; NONCE_LEN];
        state.fill(&mut nonce);
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.extend_from_slice(MAGIC);
        wrapped.extend_from_slice(id.as_bytes());
        let sealed = aead_seal(
            &state.keys[&id].material,
            &nonce,
            &aad(&wrapped, context),
            &plaintext[..],
        );
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey {
            plaintext,
            wrapped,
            key_arn: key_arn(scope, &id),
        })
    }

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let mut state = self.lock();
        state.take_failure(KeyOp::DecryptDataKey)?;
        if wrapped.len() != WRAPPED_LEN || &wrapped[..MAGIC.len()] != MAGIC {
            return Err(KeyError::InvalidCiphertext);
        }
        let id = std::str::from_utf8(&wrapped[MAGIC.len()..HEADER_LEN])
            .map_err(|_| KeyError::InvalidCiphertext)?;
        let arn = key_arn(scope, id);
        let key = match state.keys.get(id) {
            Some(key) if &key.scope == scope => key,
            _ => return Err(KeyError::NotFound(format!("{arn} does not exist"))),
        };
        if !key.enabled {
            return Err(KeyError::Disabled(format!("{arn} is disabled")));
        }
        let (header, rest) = wrapped.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plaintext = aead_open(&key.material, nonce, &aad(header, context), sealed)
            .map_err(|_| KeyError::InvalidCiphertext)?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        if plaintext.len() != 32 {
            return Err(KeyError::InvalidCiphertext);
        }
        data_key.copy_from_slice(&plaintext);
        Ok(data_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::ports::encryption_context;

    fn scope() -> Scope {
        Scope::new("us-east-1", "123456789012")
    }

    fn ctx() -> EncryptionContext {
        encryption_context(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf",
            "v1",
        )
    }

    #[tokio::test]
    async fn disabled_key_refuses_generate_and_decrypt_until_enabled() {
        let keys = InMemoryKeyProvider::new();
        let arn = keys.create_key(&scope(), Some("alias/app"));
        let data_key = keys
            .generate_data_key(&scope(), Some("alias/app"), &ctx())
            .await
            .unwrap();
        assert_eq!(data_key.key_arn, arn);
        keys.set_enabled(&scope(), &arn, false).unwrap();
        assert!(matches!(
            keys.generate_data_key(&scope(), Some(&arn), &ctx()).await,
            Err(KeyError::Disabled(_))
        ));
        assert!(matches!(
            keys.decrypt_data_key(&scope(), &data_key.wrapped, &ctx())
                .await,
            Err(KeyError::Disabled(_))
        ));
        keys.set_enabled(&scope(), "alias/app", true).unwrap();
        let plaintext = keys
            .decrypt_data_key(&scope(), &data_key.wrapped, &ctx())
            .await
            .unwrap();
        assert_eq!(*plaintext, *data_key.plaintext);
    }

    #[tokio::test]
    async fn fail_next_returns_the_error_once_and_counts_the_call() {
        let keys = InMemoryKeyProvider::new();
        keys.fail_next(KeyOp::GenerateDataKey, KeyError::Throttled);
        assert_eq!(
            keys.generate_data_key(&scope(), None, &ctx()).await.err(),
            Some(KeyError::Throttled)
        );
        assert!(keys.generate_data_key(&scope(), None, &ctx()).await.is_ok());
        assert!(keys.resolve(&scope(), None).await.is_ok());
        assert_eq!(keys.calls(KeyOp::GenerateDataKey), 2);
        assert_eq!(keys.calls(KeyOp::Resolve), 1);
        assert_eq!(keys.calls(KeyOp::DecryptDataKey), 0);
    }
}
