//! `SqliteSecretRepository`: the `SecretRepository` of local mode, one SQLite file on disk.
//!
//! Place in the data path: the core service calls it for every read and write of a secret
//! (`service -> repository`); the key provider and envelope crypto sit after it, so everything
//! stored here is already encrypted (the `secret_values.envelope` blobs are opaque and are never
//! logged or put in an error message).
//!
//! How it is built:
//! - Durability: WAL journal with `synchronous=FULL`, so every commit fsyncs the WAL before the
//!   call returns. An acknowledged write therefore survives `kill -9` of the process and also a
//!   power cut or OS crash (`NORMAL` would survive `kill -9` but could lose the last commits on
//!   power loss).
//! - Concurrency: rusqlite is blocking, so every call runs on tokio's blocking pool. Writes go
//!   through one writer connection behind a mutex, each in one `BEGIN IMMEDIATE` transaction;
//!   SQLite admits one writer at a time anyway, and one in-process writer means no
//!   `SQLITE_BUSY` between our own writers (the busy timeout covers another process on the same
//!   file). Reads use a small pool of reader connections that, thanks to WAL, never block on the
//!   writer and read one consistent snapshot per call.
//! - Optimistic concurrency: `update` is `UPDATE secrets ... WHERE arn = ? AND revision = ?`;
//!   zero rows changed is `Conflict`, and the whole transaction (value writes included) rolls
//!   back.
//! - Access dates live outside the revisioned JSON record (`secrets.last_accessed_ms` and the
//!   `version_access` table): `touch_accessed` never bumps the revision, so a read never makes a
//!   writer retry, and `update` merges them (later date wins) instead of overwriting, so a writer
//!   that read the record before a touch does not roll the date back.
//! - Schema: see [`schema`]; migrations run in [`SqliteSecretRepository::open`].

mod principals;
mod schema;

use async_trait::async_trait;
use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, SecretArn, VersionId};
use coffer_core::model::{EncryptedValue, SecretRecord, StoredKind};
use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use rusqlite::{
    ffi, params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior,
};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use schema::{current_version as schema_version, APPLICATION_ID};

/// How long a statement waits for a lock held by another connection (another process, or a
/// checkpoint) before giving up with `Throttled`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reader connections kept open between calls; more are opened under load and closed after.
const MAX_IDLE_READERS: usize = 4;

/// A `SecretRepository` on one SQLite file. Cheap to clone (the connections are shared).
#[derive(Clone)]
pub struct SqliteSecretRepository {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteSecretRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSecretRepository")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteSecretRepository {
    /// Opens the database at `path`, creating it (mode 0600 on Unix: it holds every secret's
    /// ciphertext) if it does not exist, and migrates its schema. The parent directory must exist.
    /// Blocking; call it once at start-up.
    pub fn open(path: &Path) -> Result<Self, RepositoryError> {
        create_private_file(path)?;
        let mut writer = open_connection(path)?;
        let journal: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_error)?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(RepositoryError::Unavailable(format!(
                "{}: SQLite refused WAL mode (journal_mode is {journal})",
                path.display()
            )));
        }
        schema::migrate(&mut writer)?;
        Ok(SqliteSecretRepository {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The file this repository stores into.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, RepositoryError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let pooled = lock(&inner.idle_readers).pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = open_connection(&inner.path)?;
                    conn.pragma_update(None, "query_only", true)
                        .map_err(sql_error)?;
                    conn
                }
            };
            let result = f(&mut conn);
            // A reader is only reused when it is back out of any transaction.
            if conn.is_autocommit() {
                let mut idle = lock(&inner.idle_readers);
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(conn);
                }
            }
            result
        })
        .await
    }

    /// Runs `f` on the writer connection on the blocking pool; writes are serialized here.
    async fn write<T, F>(&self, f: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, RepositoryError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let mut conn = lock(&inner.writer);
            if !conn.is_autocommit() {
                // Only possible if an earlier call panicked mid-transaction: undo its leftovers.
                conn.execute_batch("ROLLBACK").map_err(sql_error)?;
            }
            f(&mut conn)
        })
        .await
    }
}

/// Runs blocking SQLite work off the async worker threads.
async fn blocking<T, F>(f: F) -> Result<T, RepositoryError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, RepositoryError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RepositoryError::Unavailable(format!("storage task failed: {e}")))?
}

/// Takes a lock even if a holder panicked: the connection underneath is still sound (an open
/// transaction is rolled back by `write` or by the `Transaction` drop during unwinding).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn create_private_file(path: &Path) -> Result<(), RepositoryError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Applies only when the file is created; SQLite creates the -wal and -shm files with
        // the same permissions as the database file.
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .map_err(|e| RepositoryError::Unavailable(format!("cannot open {}: {e}", path.display())))
}

fn open_connection(path: &Path) -> Result<Connection, RepositoryError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        RepositoryError::Unavailable(format!("cannot open {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    // `synchronous` is per connection: FULL fsyncs the WAL on every commit, so a write that was
    // acknowledged survives kill -9 (and power loss). Foreign keys are per connection too.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(sql_error)?;
    Ok(conn)
}

/// Maps a SQLite failure to the port's error. Messages name tables and constraints, never
/// bound values, so no envelope or record content can leak through them.
fn sql_error(e: rusqlite::Error) -> RepositoryError {
    match &e {
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(
                err.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
            ) =>
        {
            RepositoryError::Throttled(format!("the database is busy: {e}"))
        }
        rusqlite::Error::SqliteFailure(err, _) if err.code == ErrorCode::DatabaseCorrupt => {
            RepositoryError::Corrupt(e.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => RepositoryError::Corrupt(e.to_string()),
        _ => RepositoryError::Unavailable(e.to_string()),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || err.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

fn to_i64(n: u64, what: &str) -> Result<i64, RepositoryError> {
    i64::try_from(n).map_err(|_| RepositoryError::Corrupt(format!("{what} {n} is out of range")))
}

fn kind_text(kind: StoredKind) -> &'static str {
    match kind {
        StoredKind::String => "String",
        StoredKind::Binary => "Binary",
    }
}

fn kind_from_text(text: &str) -> Result<StoredKind, RepositoryError> {
    match text {
        "String" => Ok(StoredKind::String),
        "Binary" => Ok(StoredKind::Binary),
        other => Err(RepositoryError::Corrupt(format!(
            "unknown value kind {other:?}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows <-> records

/// What a write stores: the record JSON without access dates (those have their own columns),
/// and the columns duplicated from it.
struct RecordRow {
    arn: String,
    revision: i64,
    deleted_ms: Option<i64>,
    purge_after_ms: Option<i64>,
    last_accessed_ms: Option<i64>,
    /// (version id, last accessed) of every version the record carries a date for.
    version_access: Vec<(String, i64)>,
    /// Every version id of the record.
    version_ids: BTreeSet<String>,
    json: String,
}

impl RecordRow {
    fn from_record(record: &SecretRecord) -> Result<Self, RepositoryError> {
        let mut stripped = record.clone();
        stripped.last_accessed = None;
        for v in &mut stripped.versions {
            v.last_accessed = None;
        }
        let json = serde_json::to_string(&stripped)
            .map_err(|e| RepositoryError::Unavailable(format!("cannot encode the record: {e}")))?;
        Ok(RecordRow {
            arn: record.arn.as_str().to_string(),
            revision: to_i64(record.revision, "revision")?,
            deleted_ms: record.deleted.map(Timestamp::millis),
            purge_after_ms: record.purge_after.map(Timestamp::millis),
            last_accessed_ms: record.last_accessed.map(Timestamp::millis),
            version_access: record
                .versions
                .iter()
                .filter_map(|v| Some((v.id.as_str().to_string(), v.last_accessed?.millis())))
                .collect(),
            version_ids: record
                .versions
                .iter()
                .map(|v| v.id.as_str().to_string())
                .collect(),
            json,
        })
    }
}

const SELECT_RECORD: &str = "SELECT arn, revision, last_accessed_ms, record FROM secrets";

/// A `secrets` row as read, before the access dates are laid over it.
struct LoadedRow {
    arn: String,
    revision: i64,
    last_accessed_ms: Option<i64>,
    json: String,
}

fn loaded_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LoadedRow> {
    Ok(LoadedRow {
        arn: row.get(0)?,
        revision: row.get(1)?,
        last_accessed_ms: row.get(2)?,
        json: row.get(3)?,
    })
}

/// Decodes a row and lays the access dates over it (`access`: version id -> last accessed).
fn decode_record(
    row: LoadedRow,
    access: &HashMap<String, i64>,
) -> Result<SecretRecord, RepositoryError> {
    let mut record: SecretRecord = serde_json::from_str(&row.json)
        .map_err(|e| RepositoryError::Corrupt(format!("record of {}: {e}", row.arn)))?;
    record.revision = u64::try_from(row.revision)
        .map_err(|_| RepositoryError::Corrupt(format!("negative revision of {}", row.arn)))?;
    record.last_accessed = row.last_accessed_ms.map(Timestamp::from_millis);
    for v in &mut record.versions {
        v.last_accessed = access
            .get(v.id.as_str())
            .copied()
            .map(Timestamp::from_millis);
    }
    Ok(record)
}

fn version_access_of(
    conn: &Connection,
    arn: &str,
) -> Result<HashMap<String, i64>, RepositoryError> {
    let mut stmt = conn
        .prepare_cached("SELECT version_id, last_accessed_ms FROM version_access WHERE arn = ?1")
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([arn], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(sql_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql_error)
}

/// One record by a `WHERE` clause over `secrets`, read in one snapshot with its access dates.
fn load_one<P: rusqlite::Params>(
    conn: &mut Connection,
    where_clause: &str,
    params: P,
) -> Result<Option<SecretRecord>, RepositoryError> {
    let tx = conn.transaction().map_err(sql_error)?;
    let row = tx
        .prepare_cached(&format!("{SELECT_RECORD} WHERE {where_clause}"))
        .map_err(sql_error)?
        .query_row(params, loaded_row)
        .optional()
        .map_err(sql_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let access = version_access_of(&tx, &row.arn)?;
    decode_record(row, &access).map(Some)
}

/// Only the version ids of a stored record (`touch_accessed` checks the version exists).
#[derive(Deserialize)]
struct VersionIdsOnly {
    versions: Vec<VersionIdOnly>,
}

#[derive(Deserialize)]
struct VersionIdOnly {
    id: String,
}

fn put_values(
    tx: &Connection,
    arn: &str,
    values: &[EncryptedValue],
) -> Result<(), RepositoryError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO secret_values (arn, version_id, kind, envelope) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (arn, version_id) DO UPDATE
             SET kind = excluded.kind, envelope = excluded.envelope",
        )
        .map_err(sql_error)?;
    for value in values {
        stmt.execute(params![
            arn,
            value.version_id.as_str(),
            kind_text(value.kind),
            value.envelope
        ])
        .map_err(sql_error)?;
    }
    Ok(())
}

/// Records access dates, keeping the later one where a date is already stored.
fn merge_version_access(
    tx: &Connection,
    arn: &str,
    dates: &[(String, i64)],
) -> Result<(), RepositoryError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO version_access (arn, version_id, last_accessed_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (arn, version_id) DO UPDATE
             SET last_accessed_ms = max(last_accessed_ms, excluded.last_accessed_ms)",
        )
        .map_err(sql_error)?;
    for (version, ms) in dates {
        stmt.execute(params![arn, version, ms]).map_err(sql_error)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The port

#[async_trait]
impl SecretRepository for SqliteSecretRepository {
    async fn get_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<SecretRecord>, RepositoryError> {
        let key = (
            scope.partition.clone(),
            scope.region.clone(),
            scope.account.clone(),
            name.to_string(),
        );
        self.read(move |conn| {
            load_one(
                conn,
                "aws_partition = ?1 AND region = ?2 AND account = ?3 AND name = ?4",
                params![key.0, key.1, key.2, key.3],
            )
        })
        .await
    }

    async fn get_by_arn(&self, arn: &str) -> Result<Option<SecretRecord>, RepositoryError> {
        let arn = arn.to_string();
        self.read(move |conn| load_one(conn, "arn = ?1", [arn]))
            .await
    }

    async fn get_value(
        &self,
        arn: &SecretArn,
        version: &VersionId,
    ) -> Result<Option<EncryptedValue>, RepositoryError> {
        let arn = arn.as_str().to_string();
        let version = version.clone();
        self.read(move |conn| {
            let row: Option<(String, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT kind, envelope FROM secret_values WHERE arn = ?1 AND version_id = ?2",
                )
                .map_err(sql_error)?
                .query_row(params![arn, version.as_str()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
                .map_err(sql_error)?;
            row.map(|(kind, envelope)| {
                Ok(EncryptedValue {
                    version_id: version.clone(),
                    kind: kind_from_text(&kind)?,
                    envelope,
                })
            })
            .transpose()
        })
        .await
    }

    async fn insert(
        &self,
        record: &SecretRecord,
        values: &[EncryptedValue],
    ) -> Result<(), RepositoryError> {
        let row = RecordRow::from_record(record)?;
        let scope = record.scope.clone();
        let name = record.name.as_str().to_string();
        let values = values.to_vec();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO secrets (arn, aws_partition, region, account, name, revision,
                         deleted_ms, purge_after_ms, last_accessed_ms, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sql_error)?
                .execute(params![
                    row.arn,
                    scope.partition,
                    scope.region,
                    scope.account,
                    name,
                    row.revision,
                    row.deleted_ms,
                    row.purge_after_ms,
                    row.last_accessed_ms,
                    row.json
                ]);
            match inserted {
                // The ARN embeds the scope and the name, so either key colliding means the name
                // is taken in this scope.
                Err(e) if is_unique_violation(&e) => return Err(RepositoryError::NameTaken),
                Err(e) => return Err(sql_error(e)),
                Ok(_) => {}
            }
            merge_version_access(&tx, &row.arn, &row.version_access)?;
            put_values(&tx, &row.arn, &values)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn update(
        &self,
        record: &SecretRecord,
        expected_revision: u64,
        writes: &VersionWrites,
    ) -> Result<(), RepositoryError> {
        let row = RecordRow::from_record(record)?;
        let Ok(expected) = i64::try_from(expected_revision) else {
            // No stored revision can be this large.
            return Err(RepositoryError::Conflict);
        };
        let puts = writes.put_values.clone();
        let deletes: Vec<String> = writes
            .delete_values
            .iter()
            .map(|v| v.as_str().to_string())
            .collect();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            // The record's access date only moves forward: max() of the stored and the written
            // date, where a NULL on one side yields the other (and NULL only if both are NULL).
            let changed = tx
                .prepare_cached(
                    "UPDATE secrets
                     SET revision = ?3, deleted_ms = ?4, purge_after_ms = ?5, record = ?6,
                         last_accessed_ms = max(coalesce(last_accessed_ms, ?7),
                                                coalesce(?7, last_accessed_ms))
                     WHERE arn = ?1 AND revision = ?2",
                )
                .map_err(sql_error)?
                .execute(params![
                    row.arn,
                    expected,
                    row.revision,
                    row.deleted_ms,
                    row.purge_after_ms,
                    row.json,
                    row.last_accessed_ms
                ])
                .map_err(sql_error)?;
            if changed == 0 {
                // Another writer got there first, or the secret was purged. Dropping `tx`
                // rolls back: nothing of this update is applied.
                return Err(RepositoryError::Conflict);
            }
            // Access dates of versions the record no longer has go with them.
            let stale: Vec<String> = version_access_of(&tx, &row.arn)?
                .into_keys()
                .filter(|id| !row.version_ids.contains(id))
                .collect();
            {
                let mut drop_access = tx
                    .prepare_cached("DELETE FROM version_access WHERE arn = ?1 AND version_id = ?2")
                    .map_err(sql_error)?;
                for id in &stale {
                    drop_access
                        .execute(params![row.arn, id])
                        .map_err(sql_error)?;
                }
            }
            merge_version_access(&tx, &row.arn, &row.version_access)?;
            put_values(&tx, &row.arn, &puts)?;
            {
                let mut delete_value = tx
                    .prepare_cached("DELETE FROM secret_values WHERE arn = ?1 AND version_id = ?2")
                    .map_err(sql_error)?;
                for id in &deletes {
                    delete_value
                        .execute(params![row.arn, id])
                        .map_err(sql_error)?;
                }
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn touch_accessed(
        &self,
        arn: &SecretArn,
        version: &VersionId,
        day: Timestamp,
    ) -> Result<(), RepositoryError> {
        let arn = arn.as_str().to_string();
        let version = version.as_str().to_string();
        let ms = day.millis();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let json: Option<String> = tx
                .prepare_cached("SELECT record FROM secrets WHERE arn = ?1")
                .map_err(sql_error)?
                .query_row([&arn], |row| row.get(0))
                .optional()
                .map_err(sql_error)?;
            let Some(json) = json else {
                return Ok(()); // purged since it was read: nothing to record
            };
            let ids: VersionIdsOnly = serde_json::from_str(&json)
                .map_err(|e| RepositoryError::Corrupt(format!("record of {arn}: {e}")))?;
            if !ids.versions.iter().any(|v| v.id == version) {
                return Ok(()); // the version was pruned since it was read
            }
            // No revision bump: a read must never make a concurrent writer retry.
            tx.prepare_cached(
                "UPDATE secrets SET last_accessed_ms = max(coalesce(last_accessed_ms, ?2), ?2)
                 WHERE arn = ?1",
            )
            .map_err(sql_error)?
            .execute(params![arn, ms])
            .map_err(sql_error)?;
            merge_version_access(&tx, &arn, &[(version, ms)])?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn list(&self, scope: &Scope) -> Result<Vec<SecretRecord>, RepositoryError> {
        let scope = scope.clone();
        self.read(move |conn| {
            let tx = conn.transaction().map_err(sql_error)?;
            let rows: Vec<LoadedRow> = tx
                .prepare_cached(&format!(
                    "{SELECT_RECORD} WHERE aws_partition = ?1 AND region = ?2 AND account = ?3
                     ORDER BY name"
                ))
                .map_err(sql_error)?
                .query_map(
                    params![scope.partition, scope.region, scope.account],
                    loaded_row,
                )
                .map_err(sql_error)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_error)?;
            let mut access: HashMap<String, HashMap<String, i64>> = HashMap::new();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT a.arn, a.version_id, a.last_accessed_ms
                         FROM version_access a JOIN secrets s ON s.arn = a.arn
                         WHERE s.aws_partition = ?1 AND s.region = ?2 AND s.account = ?3",
                    )
                    .map_err(sql_error)?;
                let dates = stmt
                    .query_map(
                        params![scope.partition, scope.region, scope.account],
                        |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .map_err(sql_error)?;
                for date in dates {
                    let (arn, version, ms) = date.map_err(sql_error)?;
                    access.entry(arn).or_default().insert(version, ms);
                }
            }
            let none = HashMap::new();
            rows.into_iter()
                .map(|row| {
                    let dates = access.get(&row.arn).unwrap_or(&none);
                    decode_record(row, dates)
                })
                .collect()
        })
        .await
    }

    async fn list_purgeable(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError> {
        let now = now.millis();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT arn FROM secrets
                     WHERE deleted_ms IS NOT NULL AND purge_after_ms <= ?1
                     ORDER BY purge_after_ms, arn",
                )
                .map_err(sql_error)?;
            let arns = stmt
                .query_map([now], |row| row.get::<_, String>(0))
                .map_err(sql_error)?
                .map(|arn| arn.map(SecretArn::from_stored))
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_error)?;
            Ok(arns)
        })
        .await
    }

    async fn purge(&self, arn: &SecretArn) -> Result<(), RepositoryError> {
        let arn = arn.as_str().to_string();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            // The foreign keys cascade too; deleting the children explicitly keeps a purge
            // complete even on a connection that opened the file without foreign keys.
            for sql in [
                "DELETE FROM secret_values WHERE arn = ?1",
                "DELETE FROM version_access WHERE arn = ?1",
                "DELETE FROM secrets WHERE arn = ?1",
            ] {
                tx.prepare_cached(sql)
                    .map_err(sql_error)?
                    .execute([&arn])
                    .map_err(sql_error)?;
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>, RepositoryError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT DISTINCT aws_partition, region, account FROM secrets
                     ORDER BY aws_partition, region, account",
                )
                .map_err(sql_error)?;
            let scopes = stmt
                .query_map([], |row| {
                    Ok(Scope {
                        partition: row.get(0)?,
                        region: row.get(1)?,
                        account: row.get(2)?,
                    })
                })
                .map_err(sql_error)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_error)?;
            Ok(scopes)
        })
        .await
    }
}
