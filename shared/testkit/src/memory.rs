//! `InMemorySecretRepository`: a faithful in-memory fake of the `SecretRepository` port, for the
//! core's service tests and as the reference implementation of [`crate::repository_contract`]
//! (it passes the same suite every real adapter runs).
//!
//! All state sits behind one `Mutex`, so each call is atomic, exactly like one SQLite
//! transaction or one DynamoDB `TransactWriteItems`. Semantics it shares with every adapter:
//! - names are unique per scope, including secrets scheduled for deletion;
//! - `update` is conditional on the stored revision and applies the record and its value writes
//!   together or not at all (puts first, then deletes);
//! - access dates (`last_accessed` of the record and of each version) are kept apart from the
//!   revisioned record: `touch_accessed` never bumps the revision, and an `update` written from
//!   a copy read before a touch keeps the later of the stored and the written date, so a read
//!   neither makes a writer retry nor is forgotten by the next write;
//! - access dates never move backwards (the later date wins).
//!
//! For failure paths, [`InMemorySecretRepository::fail_next`] queues an error that the next call
//! of one operation returns instead of running.

use async_trait::async_trait;
use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, SecretArn, VersionId};
use coffer_core::model::{EncryptedValue, SecretRecord};
use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The operations of the port, to aim an injected failure at one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoOp {
    GetByName,
    GetByArn,
    GetValue,
    Insert,
    Update,
    TouchAccessed,
    List,
    ListPurgeable,
    Purge,
    ListScopes,
}

#[derive(Debug, Clone)]
struct Stored {
    record: SecretRecord,
    values: BTreeMap<VersionId, EncryptedValue>,
}

#[derive(Debug, Default)]
struct State {
    /// Keyed by full ARN.
    secrets: BTreeMap<String, Stored>,
    /// Errors to return from the next calls of an operation, oldest first.
    failures: Vec<(RepoOp, RepositoryError)>,
}

impl State {
    fn take_failure(&mut self, op: RepoOp) -> Result<(), RepositoryError> {
        match self.failures.iter().position(|(o, _)| *o == op) {
            Some(i) => Err(self.failures.remove(i).1),
            None => Ok(()),
        }
    }

    fn find_by_name(&self, scope: &Scope, name: &str) -> Option<&Stored> {
        self.secrets
            .values()
            .find(|s| &s.record.scope == scope && s.record.name.as_str() == name)
    }
}

/// An in-memory `SecretRepository`. Cheap to create; one per test.
#[derive(Debug, Default)]
pub struct InMemorySecretRepository {
    state: Mutex<State>,
}

impl InMemorySecretRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next call of `op` return `error` without touching the state. Several queued
    /// failures of one operation are returned in the order they were queued.
    pub fn fail_next(&self, op: RepoOp, error: RepositoryError) {
        self.lock().failures.push((op, error));
    }

    /// How many secrets are stored (all scopes, including those scheduled for deletion).
    pub fn secret_count(&self) -> usize {
        self.lock().secrets.len()
    }

    /// How many values are stored for the secret `arn` (0 if it does not exist).
    pub fn value_count(&self, arn: &SecretArn) -> usize {
        self.lock()
            .secrets
            .get(arn.as_str())
            .map_or(0, |s| s.values.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock cannot have left a half-applied change:
        // every mutation below is computed first and committed with infallible inserts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Copies the stored access dates into `incoming` where they are later: the record a writer
/// read before a `touch_accessed` must not roll the touch back.
fn keep_later_access_dates(stored: &SecretRecord, incoming: &mut SecretRecord) {
    incoming.last_accessed = incoming.last_accessed.max(stored.last_accessed);
    for version in &mut incoming.versions {
        if let Some(old) = stored.version(&version.id) {
            version.last_accessed = version.last_accessed.max(old.last_accessed);
        }
    }
}

#[async_trait]
impl SecretRepository for InMemorySecretRepository {
    async fn get_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<SecretRecord>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::GetByName)?;
        Ok(state.find_by_name(scope, name).map(|s| s.record.clone()))
    }

    async fn get_by_arn(&self, arn: &str) -> Result<Option<SecretRecord>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::GetByArn)?;
        Ok(state.secrets.get(arn).map(|s| s.record.clone()))
    }

    async fn get_value(
        &self,
        arn: &SecretArn,
        version: &VersionId,
    ) -> Result<Option<EncryptedValue>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::GetValue)?;
        Ok(state
            .secrets
            .get(arn.as_str())
            .and_then(|s| s.values.get(version))
            .cloned())
    }

    async fn insert(
        &self,
        record: &SecretRecord,
        values: &[EncryptedValue],
    ) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::Insert)?;
        if state.secrets.contains_key(record.arn.as_str())
            || state
                .find_by_name(&record.scope, record.name.as_str())
                .is_some()
        {
            return Err(RepositoryError::NameTaken);
        }
        let values = values
            .iter()
            .map(|v| (v.version_id.clone(), v.clone()))
            .collect();
        state.secrets.insert(
            record.arn.as_str().to_string(),
            Stored {
                record: record.clone(),
                values,
            },
        );
        Ok(())
    }

    async fn update(
        &self,
        record: &SecretRecord,
        expected_revision: u64,
        writes: &VersionWrites,
    ) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::Update)?;
        let Some(stored) = state.secrets.get_mut(record.arn.as_str()) else {
            // The secret was purged since it was read: the caller re-reads and finds nothing.
            return Err(RepositoryError::Conflict);
        };
        if stored.record.revision != expected_revision {
            return Err(RepositoryError::Conflict);
        }
        let mut next = record.clone();
        keep_later_access_dates(&stored.record, &mut next);
        for value in &writes.put_values {
            stored
                .values
                .insert(value.version_id.clone(), value.clone());
        }
        for id in &writes.delete_values {
            stored.values.remove(id);
        }
        stored.record = next;
        Ok(())
    }

    async fn touch_accessed(
        &self,
        arn: &SecretArn,
        version: &VersionId,
        day: Timestamp,
    ) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::TouchAccessed)?;
        let Some(stored) = state.secrets.get_mut(arn.as_str()) else {
            return Ok(()); // purged meanwhile: nothing to record
        };
        let record = &mut stored.record;
        let Some(meta) = record.version_mut(version) else {
            return Ok(()); // version pruned meanwhile
        };
        meta.last_accessed = meta.last_accessed.max(Some(day));
        record.last_accessed = record.last_accessed.max(Some(day));
        Ok(())
    }

    async fn list(&self, scope: &Scope) -> Result<Vec<SecretRecord>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::List)?;
        Ok(state
            .secrets
            .values()
            .filter(|s| &s.record.scope == scope)
            .map(|s| s.record.clone())
            .collect())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::ListScopes)?;
        let mut scopes: Vec<Scope> = state
            .secrets
            .values()
            .map(|s| s.record.scope.clone())
            .collect();
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    async fn list_purgeable(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::ListPurgeable)?;
        Ok(state
            .secrets
            .values()
            .filter(|s| {
                s.record.deleted.is_some() && s.record.purge_after.is_some_and(|p| p <= now)
            })
            .map(|s| s.record.arn.clone())
            .collect())
    }

    async fn purge(&self, arn: &SecretArn) -> Result<(), RepositoryError> {
        let mut state = self.lock();
        state.take_failure(RepoOp::Purge)?;
        state.secrets.remove(arn.as_str());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::{sample_record, sample_values, scope};

    #[tokio::test]
    async fn fail_next_update_returns_the_error_once_then_works() {
        let repo = InMemorySecretRepository::new();
        let record = sample_record(&scope(), "app/db");
        repo.insert(&record, &sample_values(&record)).await.unwrap();
        repo.fail_next(RepoOp::Update, RepositoryError::Unavailable("down".into()));

        let mut next = record.clone();
        next.revision = 2;
        let first = repo.update(&next, 1, &VersionWrites::default()).await;
        assert_eq!(first, Err(RepositoryError::Unavailable("down".into())));
        assert_eq!(
            repo.get_by_arn(record.arn.as_str()).await.unwrap(),
            Some(record)
        );

        repo.update(&next, 1, &VersionWrites::default())
            .await
            .unwrap();
        assert_eq!(repo.secret_count(), 1);
        assert_eq!(repo.value_count(&next.arn), 1);
    }

    #[tokio::test]
    async fn fail_next_only_hits_its_operation() {
        let repo = InMemorySecretRepository::new();
        repo.fail_next(
            RepoOp::Purge,
            RepositoryError::Throttled("slow down".into()),
        );
        assert_eq!(repo.list(&scope()).await.unwrap(), vec![]);
        assert!(repo.purge(&sample_record(&scope(), "x").arn).await.is_err());
    }
}
