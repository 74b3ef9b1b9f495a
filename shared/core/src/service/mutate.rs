//! The optimistic-concurrency write loop every mutating operation goes through: take the record
//! (as authorization loaded it), apply the change to a copy, write it conditioned on the
//! revision that was read, and on a conflict re-read it and start over. A change either lands
//! whole or not at all.

use super::authorize::Authorized;
use super::lookup::{ensure_live, storage_error};
use super::{RequestContext, SecretsService};
use crate::error::{Error, Result};
use crate::labels::prune_deprecated;
use crate::model::SecretRecord;
use crate::ports::{RepositoryError, VersionWrites};

/// Attempts before a write gives up under contention.
const MAX_ATTEMPTS: usize = 2_000;

/// Whether a change may touch a secret that is scheduled for deletion.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DeletedSecrets {
    Refuse,
    Allow,
}

/// What a change decided: write the record (with these value writes), or leave it untouched.
pub(super) enum Change<T> {
    Write(T, VersionWrites),
    Unchanged(T),
}

impl SecretsService {
    /// Applies `change` to the secret an authorized call loaded, retrying on concurrent writes.
    /// The first attempt works on the record authorization loaded (no second read); a revision
    /// conflict re-reads it.
    pub(super) async fn mutate_authorized<R, T>(
        &self,
        call: &Authorized<R>,
        deleted: DeletedSecrets,
        change: impl FnMut(&mut SecretRecord) -> Result<Change<T>>,
    ) -> Result<T> {
        let loaded = call.secret()?.clone();
        self.mutate_from(call.ctx(), loaded, deleted, change).await
    }

    /// Applies `change` to the secret `secret_id` names (background work: rotation jobs, the
    /// scheduler), retrying on concurrent writes.
    pub(super) async fn mutate<T>(
        &self,
        ctx: &RequestContext,
        secret_id: Option<&str>,
        deleted: DeletedSecrets,
        change: impl FnMut(&mut SecretRecord) -> Result<Change<T>>,
    ) -> Result<T> {
        let record = self.find_secret(ctx, secret_id).await?;
        self.mutate_from(ctx, record, deleted, change).await
    }

    /// The write loop, starting from `first` (read before the lane was entered: a write in
    /// between makes the first attempt conflict and the loop re-read).
    pub(super) async fn mutate_from<T>(
        &self,
        ctx: &RequestContext,
        first: SecretRecord,
        deleted: DeletedSecrets,
        mut change: impl FnMut(&mut SecretRecord) -> Result<Change<T>>,
    ) -> Result<T> {
        let arn = first.arn.clone();
        let _lane = self.lanes.enter(arn.as_str()).await;
        let mut next = Some(first);
        for _ in 0..MAX_ATTEMPTS {
            let mut record = match next.take() {
                Some(record) => record,
                None => self
                    .ports
                    .repository
                    .get_by_arn(arn.as_str())
                    .await
                    .map_err(storage_error)?
                    .ok_or_else(|| Error::not_found(super::lookup::SECRET_NOT_FOUND))?,
            };
            if deleted == DeletedSecrets::Refuse {
                ensure_live(&record)?;
            }
            let expected = record.revision;
            let (result, mut writes) = match change(&mut record)? {
                Change::Unchanged(result) => return Ok(result),
                Change::Write(result, writes) => (result, writes),
            };
            let now = self.ports.clock.now();
            writes
                .delete_values
                .extend(prune_deprecated(&mut record, now));
            record.revision = expected + 1;
            record.last_changed = now;
            match self
                .ports
                .repository
                .update(&record, expected, &writes)
                .await
            {
                Ok(()) => return Ok(result),
                Err(RepositoryError::Conflict) => continue,
                Err(e) => return Err(storage_error(e)),
            }
        }
        tracing::warn!(request_id = %ctx.request_id, "gave up after repeated write conflicts");
        Err(Error::Throttling(
            "The secret is being changed by too many concurrent requests; retry.".to_string(),
        ))
    }
}
