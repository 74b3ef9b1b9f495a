//! The optimistic-concurrency write loop every mutating operation goes through: read the
//! record, apply the change to a copy, write it conditioned on the revision that was read, and
//! start over on a conflict. A change either lands whole or not at all.

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
    /// Applies `change` to the secret `secret_id` names, retrying on concurrent writes.
    pub(super) async fn mutate<T>(
        &self,
        ctx: &RequestContext,
        secret_id: Option<&str>,
        deleted: DeletedSecrets,
        mut change: impl FnMut(&mut SecretRecord) -> Result<Change<T>>,
    ) -> Result<T> {
        let arn = self.find_secret(ctx, secret_id).await?.arn;
        let _lane = self.lanes.enter(arn.as_str()).await;
        for _ in 0..MAX_ATTEMPTS {
            let mut record = self.find_secret(ctx, secret_id).await?;
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
