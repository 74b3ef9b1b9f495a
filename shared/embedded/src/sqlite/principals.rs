//! The `PrincipalStore` of local mode: tables `principals` and `access_keys` in the same
//! `coffer.db` (schema version 2), through the repository's reader pool and single writer.

use super::{is_unique_violation, sql_error, SqliteSecretRepository};
use async_trait::async_trait;
use coffer_core::clock::Timestamp;
use coffer_core::identity::principals::{
    AccessKeyRecord, AccessKeyStatus, PrincipalRecord, PrincipalType,
};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::RepositoryError;
use rusqlite::{params, OptionalExtension};

fn kind_text(kind: PrincipalType) -> &'static str {
    match kind {
        PrincipalType::User => "User",
        PrincipalType::Role => "Role",
        PrincipalType::IamIdentity => "IamIdentity",
    }
}

fn encode(record: &PrincipalRecord) -> Result<String, RepositoryError> {
    serde_json::to_string(record).map_err(|e| RepositoryError::Corrupt(e.to_string()))
}

fn decode(text: &str) -> Result<PrincipalRecord, RepositoryError> {
    serde_json::from_str(text)
        .map_err(|e| RepositoryError::Corrupt(format!("principal record: {e}")))
}

type KeyRow = (String, String, String, String, i64, Vec<u8>);

fn key_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn key_record(row: KeyRow) -> Result<AccessKeyRecord, RepositoryError> {
    let (access_key_id, account, user_name, status, created_ms, envelope) = row;
    let status = AccessKeyStatus::parse(&status)
        .ok_or_else(|| RepositoryError::Corrupt(format!("unknown access key status {status:?}")))?;
    Ok(AccessKeyRecord {
        access_key_id,
        account,
        user_name,
        status,
        created: Timestamp::from_millis(created_ms),
        encrypted_secret: envelope,
    })
}

const KEY_COLUMNS: &str = "access_key_id, account, user_name, status, created_ms, envelope";

#[async_trait]
impl PrincipalStore for SqliteSecretRepository {
    async fn insert_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        let (account, kind, name, json) = (
            record.account.clone(),
            kind_text(record.kind),
            record.name.clone(),
            encode(record)?,
        );
        self.write(move |conn| {
            match conn.execute(
                "INSERT INTO principals (account, kind, name, record) VALUES (?1, ?2, ?3, ?4)",
                params![account, kind, name, json],
            ) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(RepositoryError::NameTaken),
                Err(e) => Err(sql_error(e)),
            }
        })
        .await
    }

    async fn put_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        let (account, kind, name, json) = (
            record.account.clone(),
            kind_text(record.kind),
            record.name.clone(),
            encode(record)?,
        );
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE principals SET record = ?4 WHERE account = ?1 AND kind = ?2 AND name = ?3",
                    params![account, kind, name, json],
                )
                .map_err(sql_error)?;
            if changed == 0 {
                return Err(RepositoryError::Conflict);
            }
            Ok(())
        })
        .await
    }

    async fn get_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<Option<PrincipalRecord>, RepositoryError> {
        let (account, kind, name) = (account.to_string(), kind_text(kind), name.to_string());
        self.read(move |conn| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT record FROM principals WHERE account = ?1 AND kind = ?2 AND name = ?3",
                    params![account, kind, name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            text.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn delete_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<bool, RepositoryError> {
        let (account, kind, name) = (account.to_string(), kind_text(kind), name.to_string());
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM principals WHERE account = ?1 AND kind = ?2 AND name = ?3",
                    params![account, kind, name],
                )
                .map_err(sql_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn list_principals(
        &self,
        account: &str,
        kind: PrincipalType,
    ) -> Result<Vec<PrincipalRecord>, RepositoryError> {
        let (account, kind) = (account.to_string(), kind_text(kind));
        self.read(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT record FROM principals WHERE account = ?1 AND kind = ?2 ORDER BY name",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![account, kind], |row| row.get::<_, String>(0))
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode(&row.map_err(sql_error)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), RepositoryError> {
        let key = key.clone();
        self.write(move |conn| {
            match conn.execute(
                &format!("INSERT INTO access_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    key.access_key_id,
                    key.account,
                    key.user_name,
                    key.status.as_str(),
                    key.created.millis(),
                    key.encrypted_secret
                ],
            ) {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(RepositoryError::NameTaken),
                Err(e) => Err(sql_error(e)),
            }
        })
        .await
    }

    async fn get_access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyRecord>, RepositoryError> {
        let id = access_key_id.to_string();
        self.read(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?1"),
                    params![id],
                    key_row,
                )
                .optional()
                .map_err(sql_error)?;
            row.map(key_record).transpose()
        })
        .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, RepositoryError> {
        let id = access_key_id.to_string();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM access_keys WHERE access_key_id = ?1",
                    params![id],
                )
                .map_err(sql_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn list_access_keys(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Vec<AccessKeyRecord>, RepositoryError> {
        let (account, user) = (account.to_string(), user_name.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM access_keys WHERE account = ?1 AND user_name = ?2 ORDER BY access_key_id"
                ))
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![account, user], key_row)
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(key_record(row.map_err(sql_error)?)?);
            }
            Ok(out)
        })
        .await
    }
}
