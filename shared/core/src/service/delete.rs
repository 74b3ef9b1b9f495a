//! DeleteSecret, RestoreSecret, and the purge of secrets whose recovery window has ended (run by
//! a background task: the local server's purge loop, the scheduler function on AWS). Each emits
//! its service event, as AWS does: `StartSecretVersionDelete` when a secret is scheduled for
//! deletion, `CancelSecretVersionDelete` when it is restored, `EndSecretVersionDelete` when it
//! is purged.

use super::authorize::Authorized;
use super::mutate::{Change, DeletedSecrets};
use super::{RequestContext, SecretsService};
use crate::api::{ArnName, DeleteSecretRequest, DeleteSecretResponse, SecretIdRequest};
use crate::audit::ServiceEventName;
use crate::error::{Error, Result};
use crate::ids::{Scope, SecretId};
use crate::ports::VersionWrites;
use serde_json::json;

pub const DEFAULT_RECOVERY_WINDOW_DAYS: i64 = 30;

/// The answer to a forced delete of a secret that does not exist (any more): success, naming
/// the secret as the caller did.
fn already_gone(
    ctx: &RequestContext,
    secret_id: Option<&str>,
    now: crate::clock::Timestamp,
) -> Result<DeleteSecretResponse> {
    let id = SecretId::parse(secret_id.unwrap_or_default())?;
    let (arn, name) = match &id {
        SecretId::Arn { arn, resource, .. } => (arn.clone(), resource.clone()),
        SecretId::Name(name) => (
            format!(
                "arn:{}:secretsmanager:{}:{}:secret:{}",
                ctx.scope.partition, ctx.scope.region, ctx.scope.account, name
            ),
            name.clone(),
        ),
    };
    Ok(DeleteSecretResponse {
        arn,
        name,
        deletion_date: now,
    })
}

impl SecretsService {
    pub(super) async fn delete_secret(
        &self,
        call: Authorized<DeleteSecretRequest>,
    ) -> Result<DeleteSecretResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        let force = req.force_delete_without_recovery.unwrap_or(false);
        if force && req.recovery_window_in_days.is_some() {
            return Err(Error::invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let days = req
            .recovery_window_in_days
            .unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS);
        if !(7..=30).contains(&days) {
            return Err(Error::invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        let now = self.ports.clock.now();
        let purge_after = if force { now } else { now.plus_days(days) };
        let outcome = self
            .mutate_authorized(&call, DeletedSecrets::Allow, |r| {
                let response = |purge| DeleteSecretResponse {
                    arn: r.arn.to_string(),
                    name: r.name.to_string(),
                    deletion_date: purge,
                };
                match r.purge_after {
                    // Deleting again: a force delete shortens the window, anything else is refused.
                    Some(existing) if r.deleted.is_some() => {
                        if !force {
                            return Err(Error::invalid_request(super::lookup::MARKED_FOR_DELETION));
                        }
                        if existing <= now {
                            return Ok(Change::Unchanged((response(existing), false)));
                        }
                        r.purge_after = Some(now);
                        Ok(Change::Write(
                            (response(now), false),
                            VersionWrites::default(),
                        ))
                    }
                    _ => {
                        r.deleted = Some(now);
                        r.purge_after = Some(purge_after);
                        Ok(Change::Write(
                            (response(purge_after), true),
                            VersionWrites::default(),
                        ))
                    }
                }
            })
            .await;
        let response = match outcome {
            // "If you forcibly delete an already deleted or nonexistent secret, the operation
            // does not return ResourceNotFoundException."
            Err(Error::ResourceNotFound(_)) if force => {
                already_gone(ctx, req.secret_id.as_deref(), now)?
            }
            Err(e) => return Err(e),
            Ok((response, started)) => {
                if started {
                    self.record_service_event(
                        ServiceEventName::StartSecretVersionDelete,
                        &ctx.scope,
                        &response.arn,
                        Some(&ctx.request_id),
                        json!({ "DeletionDate": response.deletion_date.epoch_seconds() }),
                    )
                    .await?;
                }
                response
            }
        };
        if force {
            // Force delete is asynchronous in AWS; purging right away keeps the name reusable
            // soon, and a failure here is retried by the background purge.
            if let Err(e) = self.purge_expired().await {
                tracing::warn!(error = %e, "purge after force delete failed; the background task retries");
            }
        }
        Ok(response)
    }

    pub(super) async fn restore_secret(
        &self,
        call: Authorized<SecretIdRequest>,
    ) -> Result<ArnName> {
        let ctx = call.ctx();
        let (names, cancelled) = self
            .mutate_authorized(&call, DeletedSecrets::Allow, |r| {
                let names = ArnName {
                    arn: r.arn.to_string(),
                    name: r.name.to_string(),
                };
                if r.deleted.is_none() {
                    return Ok(Change::Unchanged((names, false)));
                }
                r.deleted = None;
                r.purge_after = None;
                Ok(Change::Write((names, true), VersionWrites::default()))
            })
            .await?;
        if cancelled {
            self.record_service_event(
                ServiceEventName::CancelSecretVersionDelete,
                &ctx.scope,
                &names.arn,
                Some(&ctx.request_id),
                serde_json::Value::Null,
            )
            .await?;
        }
        Ok(names)
    }

    /// Removes every secret whose recovery window has ended; returns how many were purged.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = self.ports.clock.now();
        let due = self
            .ports
            .repository
            .list_purgeable(now)
            .await
            .map_err(super::lookup::storage_error)?;
        let mut purged = 0;
        for arn in due {
            self.ports
                .repository
                .purge(&arn)
                .await
                .map_err(super::lookup::storage_error)?;
            tracing::info!(secret = %arn, "purged secret after its recovery window");
            purged += 1;
            // Background work: a failure to record is logged (by record_event) and the purge
            // goes on; the secret is gone either way.
            let _ = self
                .record_service_event(
                    ServiceEventName::EndSecretVersionDelete,
                    &scope_of_arn(arn.as_str()),
                    arn.as_str(),
                    None,
                    serde_json::Value::Null,
                )
                .await;
        }
        Ok(purged)
    }
}

/// The scope an ARN names (`arn:<partition>:secretsmanager:<region>:<account>:secret:...`).
fn scope_of_arn(arn: &str) -> Scope {
    let mut parts = arn.splitn(6, ':').skip(1);
    let partition = parts.next().unwrap_or("aws").to_string();
    let _service = parts.next();
    let region = parts.next().unwrap_or_default().to_string();
    let account = parts.next().unwrap_or_default().to_string();
    Scope {
        partition,
        region,
        account,
    }
}
