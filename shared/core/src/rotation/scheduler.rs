//! The scheduler's tick: start the rotations whose window has opened, purge the secrets whose
//! recovery window has ended. Run every few minutes by the `scheduler` Lambda function (an
//! EventBridge schedule) and by the local server's background loop; both then publish the
//! gauges (`SecretsService::gauges`).
//!
//! Due secrets come from the repository's sparse rotation index
//! (`SecretRepository::list_due_rotations`: rotation enabled, `NextRotationDate` reached, not
//! scheduled for deletion). Inside its window each secret starts at a pseudo-random moment, as
//! AWS starts rotations "at a random time within the window": the offset is derived from the
//! secret's ARN and the window's start (so every replica of the scheduler agrees, and a test
//! with an injected clock can predict it), in whole minutes, and leaves the last quarter of the
//! window (at most 30 minutes) free so that a tick or two may be missed without leaving the
//! window. A rotation whose window passed while no scheduler ran starts at the next tick. A
//! rotation that is pending but not running is reattempted; a running one is left alone.

use crate::clock::{Timestamp, MILLIS_PER_HOUR};
use crate::error::Result;
use crate::ids::SecretArn;
use crate::service::{service_context, SecretsService};
use sha2::{Digest, Sha256};

const MILLIS_PER_MINUTE: i64 = 60_000;
/// The tail of a window kept free of planned starts: a quarter of it, at most this.
const MAX_WINDOW_MARGIN_MS: i64 = 30 * MILLIS_PER_MINUTE;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Secrets whose rotation job was started (or reattempted).
    pub rotations_started: Vec<String>,
    /// Due secrets left for a later tick (their planned start inside the window is ahead).
    pub rotations_waiting: usize,
    /// Secrets purged because their recovery window ended.
    pub purged: usize,
}

/// The moment inside `[start, end)` at which the scheduler starts the rotation of `arn`.
pub fn planned_start(arn: &str, start: Timestamp, end: Option<Timestamp>) -> Timestamp {
    let end = end.unwrap_or(Timestamp(start.0 + MILLIS_PER_HOUR));
    let length = (end.0 - start.0).max(0);
    let margin = (length / 4).min(MAX_WINDOW_MARGIN_MS);
    let minutes = ((length - margin) / MILLIS_PER_MINUTE).max(1);
    let digest = Sha256::new()
        .chain_update(arn.as_bytes())
        .chain_update(start.0.to_be_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let offset = (u64::from_be_bytes(first) % minutes as u64) as i64;
    Timestamp(start.0 + offset * MILLIS_PER_MINUTE)
}

/// One tick: due rotations, then expired deletions.
pub async fn tick(service: &SecretsService) -> Result<TickReport> {
    let now = service.ports().clock.now();
    let mut report = TickReport::default();
    let due = service
        .ports()
        .repository
        .list_due_rotations(now)
        .await
        .map_err(crate::service::storage_error)?;
    for arn in due {
        match start_if_planned(service, &arn, now).await {
            Ok(Some(true)) => report.rotations_started.push(arn.to_string()),
            Ok(Some(false)) => report.rotations_waiting += 1,
            Ok(None) => {}
            // One secret's failure does not stop the others; the next tick retries it.
            Err(e) => tracing::warn!(secret = %arn, error = %e, "scheduled rotation not started"),
        }
    }
    report.purged = service.purge_expired().await?;
    Ok(report)
}

/// `Some(true)` when started, `Some(false)` when its planned start is ahead, `None` when
/// nothing is due after all (the index lags, or a rotation is running).
async fn start_if_planned(
    service: &SecretsService,
    arn: &SecretArn,
    now: Timestamp,
) -> Result<Option<bool>> {
    let Some(record) = service
        .ports()
        .repository
        .get_by_arn(arn.as_str())
        .await
        .map_err(crate::service::storage_error)?
    else {
        return Ok(None);
    };
    let rotation = &record.rotation;
    let Some(start) = rotation.next_rotation.filter(|_| rotation.enabled) else {
        return Ok(None);
    };
    if record.deleted.is_some() || start > now {
        return Ok(None);
    }
    if planned_start(arn.as_str(), start, rotation.next_rotation_end) > now {
        return Ok(Some(false));
    }
    let request_id = format!("scheduler-{}", now.millis());
    let ctx = service_context(record.scope.clone(), request_id);
    let started = service.start_scheduled_rotation(&ctx, arn.as_str()).await?;
    Ok(started.then_some(true))
}
