//! The keyring file `<data-dir>/keyring.json` and how it is read, locked and replaced.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "keys": [{
//!     "key_id": "0b6b8f5e-4c1a-4f2e-9d3b-7a1c2e3f4a5b",
//!     "partition": "aws", "region": "us-east-1", "account": "000000000000",
//!     "key_material": "<base64 of 32 bytes>",
//!     "enabled": true,
//!     "description": "Default key that protects my Secrets Manager data when no other key is defined",
//!     "creation_date": "2024-05-01T12:00:00.123Z",
//!     "key_manager": "AWS"
//!   }],
//!   "aliases": [{
//!     "alias_name": "alias/aws/secretsmanager",
//!     "partition": "aws", "region": "us-east-1", "account": "000000000000",
//!     "target_key_id": "0b6b8f5e-4c1a-4f2e-9d3b-7a1c2e3f4a5b",
//!     "creation_date": "2024-05-01T12:00:00.123Z"
//!   }]
//! }
//! ```
//!
//! Writes are atomic: the new content goes to a temporary file created with mode 0600 in the
//! same directory, is fsynced, renamed over `keyring.json`, and the directory is fsynced. Every
//! read-modify-write holds an exclusive lock on `keyring.json.lock`, so a CLI and a running
//! server never lose each other's keys. A file readable or writable by group or others is
//! refused (like ssh does with private keys): it holds every master key in the clear.

use super::state::{Alias, MasterKey, State};
use super::{KeyManager, KeyringError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use coffer_core::clock::Timestamp;
use coffer_core::ids::Scope;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

pub(crate) const FILE_NAME: &str = "keyring.json";
const LOCK_FILE_NAME: &str = "keyring.json.lock";
const FORMAT_VERSION: u32 = 1;

/// A string holding key material: zeroized on drop, never printed.
struct SecretString(Zeroizing<String>);

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The String is moved, not copied, into the zeroizing wrapper.
        String::deserialize(deserializer).map(|s| SecretString(Zeroizing::new(s)))
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    format_version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format_version: u32,
    keys: Vec<KeyEntry>,
    aliases: Vec<AliasEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key_id: String,
    partition: String,
    region: String,
    account: String,
    key_material: SecretString,
    enabled: bool,
    description: String,
    creation_date: String,
    key_manager: KeyManager,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasEntry {
    alias_name: String,
    partition: String,
    region: String,
    account: String,
    target_key_id: String,
    creation_date: String,
}

/// Identifies one version of the file cheaply (one `stat`), to notice changes made by another
/// process (the CLI) without re-reading the file on every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64, i64, i64),
}

impl Fingerprint {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
            // inode + ctime: a rename-based replace or a chmod changes them.
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The fingerprint of the file now; `None` if it does not exist or cannot be read.
pub(crate) fn fingerprint(path: &Path) -> Option<Fingerprint> {
    fs::metadata(path).ok().map(|m| Fingerprint::of(&m))
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> KeyringError {
    KeyringError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the data directory (mode 0700 where it is created) if it does not exist.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), KeyringError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error(dir))
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<(), KeyringError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyringError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyringError> {
    Ok(())
}

/// Reads and validates the keyring; `None` if the file does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<(State, Fingerprint)>, KeyringError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path)(e)),
    };
    let meta = file.metadata().map_err(io_error(path))?;
    check_permissions(path, &meta)?;
    // Sized up front so that the buffer holding every key in base64 is never reallocated
    // (a reallocation would leave an unzeroized copy behind).
    let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.read_to_end(&mut bytes).map_err(io_error(path))?;
    let state = decode(path, &bytes)?;
    Ok(Some((state, Fingerprint::of(&meta))))
}

fn parse_date(path: &Path, date: &str) -> Result<Timestamp, KeyringError> {
    OffsetDateTime::parse(date, &Rfc3339)
        .map(Timestamp::from_offset_datetime)
        .map_err(|_| corrupt(path, format!("invalid creation_date {date:?}")))
}

fn format_date(ts: Timestamp) -> String {
    ts.to_offset_datetime()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

fn parse_uuid(path: &Path, id: &str) -> Result<Uuid, KeyringError> {
    super::state::parse_key_id(id).ok_or_else(|| corrupt(path, format!("invalid key id {id:?}")))
}

fn decode(path: &Path, bytes: &[u8]) -> Result<State, KeyringError> {
    let probe: VersionProbe =
        serde_json::from_slice(bytes).map_err(|e| corrupt(path, format!("not a keyring: {e}")))?;
    if probe.format_version != FORMAT_VERSION {
        return Err(KeyringError::UnsupportedFormat {
            path: path.to_path_buf(),
            found: probe.format_version,
            supported: FORMAT_VERSION,
        });
    }
    // serde_json's errors name a line and column, never the content.
    let file: KeyringFile =
        serde_json::from_slice(bytes).map_err(|e| corrupt(path, e.to_string()))?;
    let mut state = State::default();
    for entry in file.keys {
        let id = parse_uuid(path, &entry.key_id)?;
        let mut buf = Zeroizing::new([0u8; 48]);
        let len = BASE64
            .decode_slice(entry.key_material.0.as_bytes(), &mut buf[..])
            .map_err(|_| corrupt(path, format!("key {id}: key_material is not base64")))?;
        if len != 32 {
            return Err(corrupt(
                path,
                format!("key {id}: key_material is not 32 bytes"),
            ));
        }
        let mut material = Zeroizing::new([0u8; 32]);
        material.copy_from_slice(&buf[..32]);
        let key = MasterKey {
            scope: Scope {
                partition: entry.partition,
                region: entry.region,
                account: entry.account,
            },
            id,
            material,
            enabled: entry.enabled,
            description: entry.description,
            creation_date: parse_date(path, &entry.creation_date)?,
            manager: entry.key_manager,
        };
        if state.keys.insert(id, key).is_some() {
            return Err(corrupt(path, format!("key {id} appears twice")));
        }
    }
    for entry in file.aliases {
        let scope = Scope {
            partition: entry.partition,
            region: entry.region,
            account: entry.account,
        };
        let target = parse_uuid(path, &entry.target_key_id)?;
        if !entry.alias_name.starts_with("alias/") {
            return Err(corrupt(
                path,
                format!("invalid alias {:?}", entry.alias_name),
            ));
        }
        if state.key_in_scope(&scope, &target).is_none() {
            return Err(corrupt(
                path,
                format!("alias {} targets a key not in its scope", entry.alias_name),
            ));
        }
        let alias = Alias {
            target,
            creation_date: parse_date(path, &entry.creation_date)?,
        };
        if state
            .aliases
            .insert((scope, entry.alias_name.clone()), alias)
            .is_some()
        {
            return Err(corrupt(
                path,
                format!("alias {} appears twice", entry.alias_name),
            ));
        }
    }
    Ok(state)
}

fn encode(state: &State) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let keys = state
        .keys
        .values()
        .map(|key| KeyEntry {
            key_id: key.id.to_string(),
            partition: key.scope.partition.clone(),
            region: key.scope.region.clone(),
            account: key.scope.account.clone(),
            key_material: SecretString(Zeroizing::new(BASE64.encode(&key.material[..]))),
            enabled: key.enabled,
            description: key.description.clone(),
            creation_date: format_date(key.creation_date),
            key_manager: key.manager,
        })
        .collect();
    let aliases = state
        .aliases
        .iter()
        .map(|((scope, name), alias)| AliasEntry {
            alias_name: name.clone(),
            partition: scope.partition.clone(),
            region: scope.region.clone(),
            account: scope.account.clone(),
            target_key_id: alias.target.to_string(),
            creation_date: format_date(alias.creation_date),
        })
        .collect();
    let file = KeyringFile {
        format_version: FORMAT_VERSION,
        keys,
        aliases,
    };
    // Measured first so that the buffer is allocated once at its final size and never
    // reallocated (a reallocation would leave an unzeroized copy of the keys behind).
    let mut counter = CountingWriter(0);
    serde_json::to_writer_pretty(&mut counter, &file)?;
    let mut out = Zeroizing::new(Vec::with_capacity(counter.0 + 1));
    serde_json::to_writer_pretty(&mut *out, &file)?;
    out.push(b'\n');
    Ok(out)
}

struct CountingWriter(usize);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Replaces the keyring file atomically with `state` and returns the new file's fingerprint.
/// The caller holds the [`lock`].
pub(crate) fn write_atomically(
    dir: &Path,
    path: &Path,
    state: &State,
) -> Result<Fingerprint, KeyringError> {
    let bytes = encode(state).map_err(|e| corrupt(path, format!("cannot encode: {e}")))?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    // A leftover from a crash may carry other permissions: remove it so that `create_new`
    // below makes a fresh file with mode 0600 from the start.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&tmp)(e)),
    }
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(path)(e));
    }
    let meta = fs::metadata(path).map_err(io_error(path))?;
    Ok(Fingerprint::of(&meta))
}

/// Makes the rename durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// An exclusive advisory lock on `keyring.json.lock`, held for one read-modify-write and
/// released when dropped (the file is closed).
pub(crate) struct FileLock {
    _file: File,
}

pub(crate) fn lock(dir: &Path) -> Result<FileLock, KeyringError> {
    let path: PathBuf = dir.join(LOCK_FILE_NAME);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(io_error(&path))?;
    file.lock().map_err(io_error(&path))?;
    Ok(FileLock { _file: file })
}
