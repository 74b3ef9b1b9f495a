//! The embedded key provider: master keys in a keyring file, with KMS's identities, so that the
//! rest of Coffer cannot tell it from KMS. In the data path it sits where KMS sits in AWS mode:
//! the core service asks it for a fresh data key per secret version (`generate_data_key`) and
//! to unwrap stored data keys (`decrypt_data_key`).
//!
//! - Keys live per scope (partition + region + account): each region is its own namespace, and
//!   an ARN naming another region or account is `NotFound`, as in KMS.
//! - A key has a UUID key id, the ARN `arn:aws:kms:<region>:<account>:key/<uuid>`, any number of
//!   aliases (`alias/<name>`, ARN `arn:aws:kms:<region>:<account>:alias/<name>`), 32 random
//!   bytes of material, an enabled flag, a description and a creation date.
//! - Each scope's default key is created on first use and carries the alias
//!   `alias/aws/secretsmanager`, like AWS's managed key.
//! - The audit digest key ([`FileKeyring::audit_digest_key`], alias
//!   `alias/aws/coffer-audit-digest`) is an ordinary master key of a scope; only a key derived
//!   from it leaves the keyring, to sign `audit/digests.jsonl`.
//! - The file format, atomic replacement and locking are described in [`file`]; the wrapped
//!   data key format in [`wrap`].
//!
//! Permissions: the file is created with mode 0600. A keyring file that is readable or writable
//! by group or others is **refused** with [`KeyringError::InsecurePermissions`] (at open, and
//! for any change), the way ssh refuses a private key: it holds every master key in the clear,
//! and a warning in a log nobody reads protects nothing. Fix with `chmod 600`.
//!
//! Concurrency: one `FileKeyring` is shared by the server behind an `Arc`. Lookups read an
//! in-memory copy. Changes are serialized (an in-process mutex plus an exclusive lock on
//! `keyring.json.lock` against other processes such as the CLI), re-read the file, apply the
//! change, and are persisted (fsync + rename) before the call returns. Each call also `stat`s
//! the file and reloads it when another process replaced it, so a key disabled with the CLI is
//! refused by a running server at once. Keys are never deleted, so merging the file with memory
//! is a union that cannot lose key material.
//!
//! File I/O is synchronous: it happens only on changes (rare: a new scope's default key, the
//! CLI) and on a reload, and takes well under a millisecond on a local disk.

mod file;
mod state;
mod wrap;

use async_trait::async_trait;
use coffer_core::audit::digest::DigestKey;
use coffer_core::clock::{Clock, RandomSource, Timestamp};
use coffer_core::crypto::NONCE_LEN;
use coffer_core::ids::Scope;
use coffer_core::ports::{DataKey, EncryptionContext, KeyError, KeyProvider};
use serde::{Deserialize, Serialize};
use state::{Alias, KeyRef, MasterKey, State};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use thiserror::Error;
use zeroize::Zeroizing;

pub use state::DEFAULT_ALIAS;

/// The alias of the master key from which the audit digest key is derived.
pub const AUDIT_DIGEST_ALIAS: &str = "alias/aws/coffer-audit-digest";
const AUDIT_DIGEST_DESCRIPTION: &str =
    "Coffer audit digests: the HMAC-SHA256 key that signs audit/digests.jsonl is derived from this key";

fn digest_key_of(key: &MasterKey) -> Result<DigestKey, KeyringError> {
    if !key.enabled {
        return Err(KeyringError::InvalidArgument(format!(
            "the audit digest key {} is disabled",
            key.arn()
        )));
    }
    Ok(DigestKey::derive(key.arn(), &key.material[..]))
}

/// The name of the keyring file inside the data directory.
pub const KEYRING_FILE_NAME: &str = file::FILE_NAME;

/// Who manages a key, as KMS reports it: the default key is AWS's, keys created through the
/// management API are the customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyManager {
    #[serde(rename = "AWS")]
    Aws,
    #[serde(rename = "CUSTOMER")]
    Customer,
}

/// What the management API reports about a key (never its material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    pub key_id: String,
    pub arn: String,
    pub scope: Scope,
    /// Alias names (`alias/...`), sorted.
    pub aliases: Vec<String>,
    pub enabled: bool,
    pub description: String,
    pub creation_date: Timestamp,
    pub key_manager: KeyManager,
}

/// Errors of the keyring's management API and of opening it. The `KeyProvider` methods return
/// [`KeyError`] (`NotFound` stays `NotFound`; file problems become `Unavailable`).
#[derive(Debug, Error)]
pub enum KeyringError {
    #[error("key not found: {0}")]
    NotFound(String),
    #[error("alias already exists: {0}")]
    AliasExists(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error(
        "the keyring file {} has mode {mode:o} and is accessible by group or others; \
         it holds master keys in the clear: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("the keyring file {} is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the keyring file {} has format version {found}; this build reads version {supported}",
        path.display()
    )]
    UnsupportedFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("keyring I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the random source repeated a key id: it is not random")]
    BrokenRandomSource,
}

impl From<KeyringError> for KeyError {
    fn from(e: KeyringError) -> Self {
        match e {
            KeyringError::NotFound(what) => KeyError::NotFound(what),
            KeyringError::AliasExists(_)
            | KeyringError::InvalidArgument(_)
            | KeyringError::InsecurePermissions { .. }
            | KeyringError::Corrupt { .. }
            | KeyringError::UnsupportedFormat { .. }
            | KeyringError::Io { .. }
            | KeyringError::BrokenRandomSource => KeyError::Unavailable(e.to_string()),
        }
    }
}

fn not_found(e: KeyError) -> KeyringError {
    match e {
        KeyError::NotFound(what) => KeyringError::NotFound(what),
        other => KeyringError::InvalidArgument(other.to_string()),
    }
}

/// The in-memory copy and the fingerprint of the file it was read from (or written to).
struct Loaded {
    state: State,
    fingerprint: Option<file::Fingerprint>,
}

/// Master keys in `<data-dir>/keyring.json`; see the module documentation.
pub struct FileKeyring {
    dir: PathBuf,
    path: PathBuf,
    random: Arc<dyn RandomSource>,
    clock: Arc<dyn Clock>,
    loaded: RwLock<Loaded>,
    /// Serializes changes (and reloads) within this process; the file lock does it across
    /// processes.
    mutation: Mutex<()>,
}

impl fmt::Debug for FileKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.loaded();
        f.debug_struct("FileKeyring")
            .field("path", &self.path)
            .field("keys", &loaded.state.keys.len())
            .field("aliases", &loaded.state.aliases.len())
            .finish_non_exhaustive()
    }
}

impl FileKeyring {
    /// Opens the keyring of `data_dir` (created with mode 0700 if missing), creating an empty
    /// `keyring.json` (mode 0600) if there is none, so that an unusable data directory fails
    /// at start rather than on the first request. Fails if the file is corrupt, of an unknown
    /// format version, or accessible by group or others.
    pub fn open(
        data_dir: impl AsRef<Path>,
        random: Arc<dyn RandomSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyringError> {
        let dir = data_dir.as_ref().to_path_buf();
        file::ensure_dir(&dir)?;
        let keyring = FileKeyring {
            path: dir.join(file::FILE_NAME),
            dir,
            random,
            clock,
            loaded: RwLock::new(Loaded {
                state: State::default(),
                fingerprint: None,
            }),
            mutation: Mutex::new(()),
        };
        keyring.mutate(|_| Ok(()))?;
        Ok(keyring)
    }

    /// The path of the keyring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a customer key in `scope`, with an alias if given (`alias/<name>` or `<name>`).
    pub fn create_key(
        &self,
        scope: &Scope,
        description: &str,
        alias: Option<&str>,
    ) -> Result<KeyMetadata, KeyringError> {
        state::check_description(description)?;
        let alias = alias.map(state::normalize_alias).transpose()?;
        self.mutate(|state| {
            if let Some(alias) = &alias {
                if state.aliases.contains_key(&(scope.clone(), alias.clone())) {
                    return Err(KeyringError::AliasExists(state::alias_arn(scope, alias)));
                }
            }
            let key = self.new_key(state, scope, description, KeyManager::Customer)?;
            if let Some(alias) = alias {
                state.aliases.insert(
                    (scope.clone(), alias),
                    Alias {
                        target: key.id,
                        creation_date: key.creation_date,
                    },
                );
            }
            tracing::info!(key_arn = %key.arn(), "created a master key");
            Ok(state.metadata(&key))
        })
    }

    /// The keys of `scope`, oldest first (the default key appears once it has been used).
    pub fn list_keys(&self, scope: &Scope) -> Vec<KeyMetadata> {
        self.with_state(|state| {
            let mut keys: Vec<KeyMetadata> = state
                .keys
                .values()
                .filter(|key| &key.scope == scope)
                .map(|key| state.metadata(key))
                .collect();
            keys.sort_by(|a, b| (a.creation_date, &a.key_id).cmp(&(b.creation_date, &b.key_id)));
            keys
        })
    }

    /// Describes a key named by key id, key ARN, alias name or alias ARN (enabled or not).
    /// Naming `alias/aws/secretsmanager` creates the default key if needed, as KMS does.
    pub fn describe_key(&self, scope: &Scope, key_id: &str) -> Result<KeyMetadata, KeyringError> {
        let key_ref = state::parse_key_ref(scope, Some(key_id)).map_err(not_found)?;
        let key = self.find(scope, &key_ref, key_id)?;
        Ok(self.with_state(|state| state.metadata(&key)))
    }

    /// The default key of `scope` (alias `alias/aws/secretsmanager`), created if needed.
    pub fn default_key(&self, scope: &Scope) -> Result<KeyMetadata, KeyringError> {
        self.describe_key(scope, DEFAULT_ALIAS)
    }

    /// Enables or disables a key (any identifier form). A disabled key neither makes nor
    /// unwraps data keys; secrets under it cannot be read until it is enabled again. Unlike
    /// AWS, the default key may be disabled too (useful to test failure handling).
    pub fn set_enabled(
        &self,
        scope: &Scope,
        key_id: &str,
        enabled: bool,
    ) -> Result<KeyMetadata, KeyringError> {
        let key_ref = state::parse_key_ref(scope, Some(key_id)).map_err(not_found)?;
        self.mutate(|state| {
            let id = self.find_or_create_default(state, scope, &key_ref, key_id)?;
            let key = state
                .keys
                .get_mut(&id)
                .ok_or_else(|| KeyringError::NotFound(key_id.to_string()))?;
            if key.enabled != enabled {
                key.enabled = enabled;
                tracing::info!(key_arn = %key.arn(), enabled, "changed the state of a master key");
            }
            let key = key.clone();
            Ok(state.metadata(&key))
        })
    }

    /// Points a new alias (`alias/<name>` or `<name>`) at a key (any identifier form);
    /// `AliasExists` if the alias is taken in the scope. Returns the target's metadata.
    pub fn create_alias(
        &self,
        scope: &Scope,
        alias: &str,
        target_key_id: &str,
    ) -> Result<KeyMetadata, KeyringError> {
        let alias = state::normalize_alias(alias)?;
        let key_ref = state::parse_key_ref(scope, Some(target_key_id)).map_err(not_found)?;
        self.mutate(|state| {
            if state.aliases.contains_key(&(scope.clone(), alias.clone())) {
                return Err(KeyringError::AliasExists(state::alias_arn(scope, &alias)));
            }
            let id = self.find_or_create_default(state, scope, &key_ref, target_key_id)?;
            let creation_date = self.clock.now();
            state.aliases.insert(
                (scope.clone(), alias.clone()),
                Alias {
                    target: id,
                    creation_date,
                },
            );
            let key = state
                .key_in_scope(scope, &id)
                .ok_or_else(|| KeyringError::NotFound(target_key_id.to_string()))?;
            tracing::info!(key_arn = %key.arn(), alias = %alias, "created an alias");
            Ok(state.metadata(key))
        })
    }

    /// The key that signs audit digests in `scope` (see `coffer_core::audit::digest`): derived
    /// from a dedicated master key with the alias [`AUDIT_DIGEST_ALIAS`], created on first use
    /// (the `alias/aws/` prefix keeps users from creating or taking that alias). Refused while
    /// that key is disabled. The derived key is zeroized on drop and never logged.
    pub fn audit_digest_key(&self, scope: &Scope) -> Result<DigestKey, KeyringError> {
        let key_ref = KeyRef::Alias(AUDIT_DIGEST_ALIAS.to_string());
        let existing = self.with_state(|state| state.lookup(scope, &key_ref).cloned());
        let key = match existing {
            Some(key) => key,
            None => self.mutate(|state| {
                if let Some(key) = state.lookup(scope, &key_ref) {
                    return Ok(key.clone());
                }
                let key = self.new_key(state, scope, AUDIT_DIGEST_DESCRIPTION, KeyManager::Aws)?;
                state.aliases.insert(
                    (scope.clone(), AUDIT_DIGEST_ALIAS.to_string()),
                    Alias {
                        target: key.id,
                        creation_date: key.creation_date,
                    },
                );
                tracing::info!(key_arn = %key.arn(), "created the audit digest key");
                Ok(key)
            })?,
        };
        digest_key_of(&key)
    }

    /// The audit digest key derived from the master key `key_arn` (as a digest's
    /// `signingKeyArn` names it), for verifying digests; never creates a key.
    pub fn audit_digest_key_by_arn(&self, key_arn: &str) -> Result<DigestKey, KeyringError> {
        let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
        let [_, partition, _, region, account, _] = parts[..] else {
            return Err(KeyringError::NotFound(key_arn.to_string()));
        };
        let scope = Scope {
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
        };
        let key_ref = state::parse_key_ref(&scope, Some(key_arn)).map_err(not_found)?;
        let key = self
            .with_state(|state| state.lookup(&scope, &key_ref).cloned())
            .ok_or_else(|| KeyringError::NotFound(key_arn.to_string()))?;
        digest_key_of(&key)
    }

    // -----------------------------------------------------------------------------------------

    fn loaded(&self) -> RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` on the current keys, after reloading the file if another process changed it.
    fn with_state<T>(&self, read: impl FnOnce(&State) -> T) -> T {
        self.refresh();
        read(&self.loaded().state)
    }

    fn refresh(&self) {
        let now = file::fingerprint(&self.path);
        if now == self.loaded().fingerprint {
            return;
        }
        let _serial = self.mutation.lock().unwrap_or_else(PoisonError::into_inner);
        let now = file::fingerprint(&self.path);
        if now == self.loaded().fingerprint {
            return;
        }
        let mut loaded = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        match file::read(&self.path) {
            Ok(Some((mut disk, fingerprint))) => match disk.absorb(&loaded.state) {
                Ok(()) => {
                    tracing::info!(path = %self.path.display(), "reloaded the keyring file changed by another process");
                    *loaded = Loaded {
                        state: disk,
                        fingerprint: Some(fingerprint),
                    };
                }
                Err(reason) => {
                    tracing::error!(path = %self.path.display(), %reason, "ignoring a changed keyring file that contradicts the keys in memory");
                    loaded.fingerprint = Some(fingerprint);
                }
            },
            Ok(None) => {
                tracing::warn!(path = %self.path.display(), "the keyring file was removed; keys stay in memory and the file is rewritten on the next change");
                loaded.fingerprint = None;
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "ignoring a changed keyring file that cannot be loaded; keys stay as they were");
                loaded.fingerprint = now;
            }
        }
    }

    /// One serialized, persisted change: lock the file, re-read it, merge what memory knows,
    /// apply `change`, write the file if anything changed, and only then publish the new state.
    fn mutate<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, KeyringError>,
    ) -> Result<T, KeyringError> {
        let _serial = self.mutation.lock().unwrap_or_else(PoisonError::into_inner);
        let _file_lock = file::lock(&self.dir)?;
        let (disk, mut fingerprint) = match file::read(&self.path)? {
            Some((state, fingerprint)) => (state, Some(fingerprint)),
            None => (State::default(), None),
        };
        let mut next = disk.clone();
        next.absorb(&self.loaded().state)
            .map_err(|reason| KeyringError::Corrupt {
                path: self.path.clone(),
                reason,
            })?;
        let out = change(&mut next)?;
        if fingerprint.is_none() || next != disk {
            fingerprint = Some(file::write_atomically(&self.dir, &self.path, &next)?);
        }
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Loaded {
            state: next,
            fingerprint,
        };
        Ok(out)
    }

    /// A new enabled key with fresh material, added to `state`.
    fn new_key(
        &self,
        state: &mut State,
        scope: &Scope,
        description: &str,
        manager: KeyManager,
    ) -> Result<MasterKey, KeyringError> {
        let mut id_bytes = [0u8; 16];
        self.random.fill(&mut id_bytes);
        let id = uuid::Builder::from_random_bytes(id_bytes).into_uuid();
        if state.keys.contains_key(&id) {
            return Err(KeyringError::BrokenRandomSource);
        }
        let mut material = Zeroizing::new([0u8; 32]);
        self.random.fill(&mut material[..]);
        let key = MasterKey {
            scope: scope.clone(),
            id,
            material,
            enabled: true,
            description: description.to_string(),
            creation_date: self.clock.now(),
            manager,
        };
        state.keys.insert(id, key.clone());
        Ok(key)
    }

    /// The id of the key `key_ref` names in `state`, creating the scope's default key if it is
    /// the one named and does not exist yet.
    fn find_or_create_default(
        &self,
        state: &mut State,
        scope: &Scope,
        key_ref: &KeyRef,
        given: &str,
    ) -> Result<uuid::Uuid, KeyringError> {
        if let Some(key) = state.lookup(scope, key_ref) {
            return Ok(key.id);
        }
        if *key_ref != KeyRef::Default {
            return Err(KeyringError::NotFound(format!("{given} does not exist")));
        }
        let key = self.new_key(state, scope, state::DEFAULT_DESCRIPTION, KeyManager::Aws)?;
        state.aliases.insert(
            (scope.clone(), DEFAULT_ALIAS.to_string()),
            Alias {
                target: key.id,
                creation_date: key.creation_date,
            },
        );
        tracing::info!(key_arn = %key.arn(), "created the default key of a scope");
        Ok(key.id)
    }

    /// The key `key_ref` names (enabled or not); the default key is created on first use.
    fn find(
        &self,
        scope: &Scope,
        key_ref: &KeyRef,
        given: &str,
    ) -> Result<MasterKey, KeyringError> {
        if let Some(key) = self.with_state(|state| state.lookup(scope, key_ref).cloned()) {
            return Ok(key);
        }
        self.mutate(|state| {
            let id = self.find_or_create_default(state, scope, key_ref, given)?;
            state
                .key_in_scope(scope, &id)
                .cloned()
                .ok_or_else(|| KeyringError::NotFound(given.to_string()))
        })
    }

    /// The key a `KeyProvider` call names, which must be enabled.
    fn usable_key(&self, scope: &Scope, key_id: Option<&str>) -> Result<MasterKey, KeyError> {
        let key_ref = state::parse_key_ref(scope, key_id)?;
        let given = key_id.unwrap_or(DEFAULT_ALIAS);
        let key = self.find(scope, &key_ref, given)?;
        if !key.enabled {
            return Err(KeyError::Disabled(format!("{} is disabled", key.arn())));
        }
        Ok(key)
    }
}

#[async_trait]
impl KeyProvider for FileKeyring {
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        Ok(self.usable_key(scope, key_id)?.arn())
    }

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let key = self.usable_key(scope, key_id)?;
        let mut plaintext = Zeroizing::new([0u8; 32]);
        self.random.fill(&mut plaintext[..]);
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce);
        let wrapped = wrap::wrap(&key.id, &key.material, &nonce, &plaintext, context)?;
        Ok(DataKey {
            plaintext,
            wrapped,
            key_arn: key.arn(),
        })
    }

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let parsed = wrap::parse(wrapped)?;
        let key = self
            .with_state(|state| state.key_in_scope(scope, &parsed.key_id).cloned())
            .ok_or_else(|| {
                KeyError::NotFound(format!(
                    "{} does not exist",
                    state::key_arn(scope, &parsed.key_id)
                ))
            })?;
        if !key.enabled {
            return Err(KeyError::Disabled(format!("{} is disabled", key.arn())));
        }
        wrap::unwrap(&parsed, &key.material, context)
    }
}
