//! The SQLite schema of the secret store and its migrations, keyed on `PRAGMA user_version`.
//!
//! Layout (version 1):
//! - `secrets`: one row per secret. `arn` is the key; `(aws_partition, region, account, name)`
//!   is unique, which is what makes names unique per scope (secrets scheduled for deletion
//!   included). `revision` is the optimistic-concurrency counter `update` conditions on.
//!   `record` holds the rest of the `SecretRecord` as JSON; `deleted_ms` / `purge_after_ms`
//!   duplicate two of its fields as columns so `list_purgeable` is an indexed query.
//!   `last_accessed_ms` is the record's access date, kept out of the JSON on purpose: it changes
//!   without a revision bump (`touch_accessed`), and a column that `update` merges (later date
//!   wins) instead of overwriting cannot be clobbered by a writer's older copy.
//! - `version_access`: the per-version access dates, for the same reason.
//! - `secret_values`: one row per version that has a value: the kind and the opaque envelope
//!   (wrapped data key + AES-GCM ciphertext; never plaintext).
//!
//! All timestamps are integer milliseconds since the Unix epoch, UTC.
//!
//! A migration is appended to [`MIGRATIONS`], never edited once released: a database at
//! `user_version = n` runs migrations `n..` in one transaction and ends at `MIGRATIONS.len()`.

use rusqlite::{Connection, TransactionBehavior};

use coffer_core::ports::RepositoryError;

use super::sql_error;

/// `PRAGMA application_id` of a Coffer database ("CofR"), so that Coffer refuses to migrate a
/// SQLite file that belongs to something else.
pub const APPLICATION_ID: i32 = 0x436f_6652;

const V1: &str = "
CREATE TABLE secrets (
    arn              TEXT    NOT NULL PRIMARY KEY,
    aws_partition    TEXT    NOT NULL,
    region           TEXT    NOT NULL,
    account          TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    revision         INTEGER NOT NULL,
    deleted_ms       INTEGER,
    purge_after_ms   INTEGER,
    last_accessed_ms INTEGER,
    record           TEXT    NOT NULL,
    UNIQUE (aws_partition, region, account, name)
) STRICT;

CREATE INDEX secrets_purgeable ON secrets (purge_after_ms) WHERE deleted_ms IS NOT NULL;

CREATE TABLE version_access (
    arn              TEXT    NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
    version_id       TEXT    NOT NULL,
    last_accessed_ms INTEGER NOT NULL,
    PRIMARY KEY (arn, version_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE secret_values (
    arn        TEXT NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('String', 'Binary')),
    envelope   BLOB NOT NULL,
    PRIMARY KEY (arn, version_id)
) STRICT, WITHOUT ROWID;
";

/// Version 2: Coffer's own principals (`PrincipalStore`). `principals` holds users and roles,
/// unique per `(account, kind, name)`, the rest of the record as JSON (tags, inline policies,
/// trust policy). `access_keys` holds each key's owner, status and the envelope of its secret
/// (never plaintext).
const V2: &str = "
CREATE TABLE principals (
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('User', 'Role')),
    name       TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    PRIMARY KEY (account, kind, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE access_keys (
    access_key_id TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL,
    user_name     TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created_ms    INTEGER NOT NULL,
    envelope      BLOB    NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX access_keys_by_user ON access_keys (account, user_name);
";

/// Version 3: `principals` also holds `IamIdentity` records (the identity policies of AWS IAM
/// ARNs and ARN patterns, `coffer_core::identity::iam_identity`). SQLite cannot alter a CHECK: the table
/// is rebuilt with its rows.
const V3: &str = "
CREATE TABLE principals_v3 (
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('User', 'Role', 'IamIdentity')),
    name       TEXT    NOT NULL,
    record     TEXT    NOT NULL,
    PRIMARY KEY (account, kind, name)
) STRICT, WITHOUT ROWID;

INSERT INTO principals_v3 (account, kind, name, record)
    SELECT account, kind, name, record FROM principals;
DROP TABLE principals;
ALTER TABLE principals_v3 RENAME TO principals;
";

/// Every migration, in order; index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to [`current_version`], all or nothing. Refuses a database from a newer
/// Coffer (it may hold data this build would misread) and a SQLite file that is not Coffer's.
pub fn migrate(conn: &mut Connection) -> Result<(), RepositoryError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_error)?;
    let application_id: i32 = tx
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(sql_error)?;
    if version > current_version() {
        return Err(RepositoryError::Unavailable(format!(
            "the database has schema version {version}, newer than this build supports ({})",
            current_version()
        )));
    }
    let foreign = if version == 0 {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(sql_error)?;
        tables > 0 || application_id != 0
    } else {
        application_id != APPLICATION_ID
    };
    if foreign {
        return Err(RepositoryError::Unavailable(
            "the file is a SQLite database that does not belong to Coffer".to_string(),
        ));
    }
    if version == current_version() {
        return Ok(()); // nothing to do; the transaction rolls back harmlessly
    }
    for migration in &MIGRATIONS[version as usize..] {
        tx.execute_batch(migration).map_err(sql_error)?;
    }
    // Both pragmas write the database header inside this transaction, so a crash leaves either
    // the old schema and version or the new ones.
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sql_error)?;
    tx.pragma_update(None, "user_version", current_version())
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)
}
