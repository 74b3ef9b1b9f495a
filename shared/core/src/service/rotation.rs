//! RotateSecret, CancelRotateSecret, and the scheduler's start of a due rotation: validate and
//! store the rotation configuration, stage AWSPENDING, record the job in the secret
//! (`RotationConfig::in_progress`, with the SHA-256 of its `RotationToken`), and hand the job to
//! the `RotationInvoker` port, which runs the rotation function's steps outside the request
//! (`crate::rotation::driver`). Handing the job over emits `RotationStarted`
//! (`TestRotationStarted` when `RotateImmediately` is false and only `testSecret` runs); an
//! invoker that refuses the job turns that into `RotationFailed` (`TestRotationFailed`).
//!
//! A pending rotation blocks a new one, as in AWS: RotateSecret answers "A previous rotation
//! isn't complete. That rotation will be reattempted." — and, when that rotation is not running
//! (it failed, its runner died, or AWSPENDING was staged by hand), Coffer does reattempt it
//! with the same AWSPENDING version, as the message promises.

use super::authorize::Authorized;
use super::lookup::new_uuid;
use super::mutate::{Change, DeletedSecrets};
use super::{RequestContext, SecretsService};
use crate::api::{ArnNameVersion, RotateSecretRequest, SecretIdRequest};
use crate::audit::ServiceEventName;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::{StageLabel, VersionId};
use crate::labels::move_label;
use crate::model::{RotationInProgress, SecretRecord, VersionMeta};
use crate::ports::{RotationJob, VersionWrites};
use crate::rotation::schedule::{next_rotation_window, validate_rotation_rules, RotationRules};
use sha2::{Digest, Sha256};

pub const ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

/// A job that has not reported for this long is considered dead (Lambda's longest timeout is
/// 15 minutes; four steps and the retries fit well inside an hour).
pub const ROTATION_STALE_AFTER_MS: i64 = 60 * 60 * 1000;

/// The SHA-256 (hex) of a rotation token, as the record keeps it.
pub fn rotation_token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// True while a job for this secret is running (started, not failed, not stale).
pub(crate) fn rotation_running(record: &SecretRecord, now: Timestamp) -> bool {
    record
        .rotation
        .in_progress
        .as_ref()
        .is_some_and(|p| !p.failed && now.millis() - p.started.millis() < ROTATION_STALE_AFTER_MS)
}

/// Who asked for the rotation: a RotateSecret call, or the scheduler when a window opened.
struct RotationRequest {
    lambda_arn: Option<String>,
    rules: Option<RotationRules>,
    rotate_now: bool,
    version_id: VersionId,
    external_metadata: Vec<(String, String)>,
    external_role_arn: Option<String>,
}

/// What staging decided: start a job, or (a rotation is pending) refuse, reattempting it first
/// when it is not running.
enum Staged {
    Start(ArnNameVersion, RotationJob),
    Incomplete(Option<RotationJob>),
}

/// What became of a rotation request.
enum Handed {
    Started(ArnNameVersion),
    /// A pending rotation that was not running was handed over again.
    Reattempted,
    /// A rotation is running; nothing was started.
    Running,
}

impl SecretsService {
    pub(super) async fn rotate_secret(
        &self,
        call: Authorized<RotateSecretRequest>,
    ) -> Result<ArnNameVersion> {
        let ctx = call.ctx();
        let req = &call.request;
        if req
            .rotation_lambda_arn
            .as_ref()
            .is_some_and(|a| a.len() > 2048)
        {
            return Err(Error::invalid_parameter(
                "Invalid RotationLambdaARN: it must be at most 2048 characters long.",
            ));
        }
        let rules: Option<RotationRules> = req.rotation_rules.clone().map(Into::into);
        if let Some(rules) = &rules {
            validate_rotation_rules(rules)?;
        }
        let request = RotationRequest {
            lambda_arn: req.rotation_lambda_arn.clone().filter(|a| !a.is_empty()),
            rules,
            rotate_now: req.rotate_immediately.unwrap_or(true),
            version_id: self.version_id_from_token(req.client_request_token.as_deref())?,
            external_metadata: req
                .external_secret_rotation_metadata
                .iter()
                .flatten()
                .map(|m| {
                    (
                        m.key.clone().unwrap_or_default(),
                        m.value.clone().unwrap_or_default(),
                    )
                })
                .collect(),
            external_role_arn: req.external_secret_rotation_role_arn.clone(),
        };
        let record = call.secret()?.clone();
        match self.stage_and_start(ctx, record, request).await? {
            Handed::Started(response) => Ok(response),
            Handed::Reattempted | Handed::Running => {
                Err(Error::invalid_request(ROTATION_INCOMPLETE))
            }
        }
    }

    /// Starts the rotation of a secret whose window opened (the scheduler). A rotation that is
    /// pending but not running is reattempted; a running one is left alone (`Ok(false)`).
    pub async fn start_scheduled_rotation(
        &self,
        ctx: &RequestContext,
        secret_arn: &str,
    ) -> Result<bool> {
        let request = RotationRequest {
            lambda_arn: None,
            rules: None,
            rotate_now: true,
            version_id: self.version_id_from_token(None)?,
            external_metadata: vec![],
            external_role_arn: None,
        };
        let record = self.find_secret(ctx, Some(secret_arn)).await?;
        Ok(match self.stage_and_start(ctx, record, request).await? {
            Handed::Started(_) | Handed::Reattempted => true,
            Handed::Running => false,
        })
    }

    async fn stage_and_start(
        &self,
        ctx: &RequestContext,
        record: SecretRecord,
        request: RotationRequest,
    ) -> Result<Handed> {
        let rotation_token = new_uuid(self.ports.random.as_ref());
        let token_sha256 = rotation_token_digest(&rotation_token);
        let now = self.ports.clock.now();
        let staged = self
            .mutate_from(ctx, record, DeletedSecrets::Refuse, |r| {
                stage_rotation(r, &request, &rotation_token, &token_sha256, now, ctx)
            })
            .await?;
        match staged {
            Staged::Start(response, job) => {
                self.hand_over(ctx, &response.arn, job).await?;
                Ok(Handed::Started(response))
            }
            Staged::Incomplete(Some(job)) => {
                let arn = job.secret_arn.to_string();
                self.hand_over(ctx, &arn, job).await?;
                Ok(Handed::Reattempted)
            }
            Staged::Incomplete(None) => Ok(Handed::Running),
        }
    }

    /// Emits the start event and gives the job to the invoker.
    async fn hand_over(&self, ctx: &RequestContext, arn: &str, job: RotationJob) -> Result<()> {
        let test_only = job.pending_version.is_none();
        let (started, failed) = if test_only {
            (
                ServiceEventName::TestRotationStarted,
                ServiceEventName::TestRotationFailed,
            )
        } else {
            (
                ServiceEventName::RotationStarted,
                ServiceEventName::RotationFailed,
            )
        };
        let details = serde_json::json!({ "VersionId": job.pending_version });
        self.record_service_event(
            started,
            &ctx.scope,
            arn,
            Some(&ctx.request_id),
            details.clone(),
        )
        .await?;
        if let Err(e) = self.ports.rotation.start(job.clone()).await {
            // The configuration and the AWSPENDING version stay: the next scheduled window (or
            // another RotateSecret) reattempts the rotation, as AWS does.
            tracing::warn!(request_id = %ctx.request_id, secret = %arn, error = %e, "rotation job not started");
            self.mark_rotation_failed(&job).await?;
            self.record_service_event(failed, &ctx.scope, arn, Some(&ctx.request_id), details)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn cancel_rotate_secret(
        &self,
        call: Authorized<SecretIdRequest>,
    ) -> Result<ArnNameVersion> {
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            let pending = r.pending_rotation().map(|v| v.id.to_string());
            let response = ArnNameVersion {
                arn: r.arn.to_string(),
                name: r.name.to_string(),
                version_id: pending,
            };
            if !r.rotation.enabled && response.version_id.is_none() {
                return Ok(Change::Unchanged(response));
            }
            r.rotation.enabled = false;
            r.rotation.next_rotation = None;
            r.rotation.next_rotation_end = None;
            Ok(Change::Write(response, VersionWrites::default()))
        })
        .await
    }
}

/// Applies a rotation request to the record: the configuration, AWSPENDING, the job.
fn stage_rotation(
    r: &mut SecretRecord,
    request: &RotationRequest,
    rotation_token: &str,
    token_sha256: &str,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<Change<Staged>> {
    let lambda_arn = request
        .lambda_arn
        .clone()
        .or_else(|| r.rotation.lambda_arn.clone())
        .ok_or_else(|| {
            Error::invalid_request(
                "No Lambda rotation function ARN is associated with this secret.",
            )
        })?;
    let job = |r: &SecretRecord, version: &VersionId, test_only: bool| RotationJob {
        scope: ctx.scope.clone(),
        secret_arn: r.arn.clone(),
        lambda_arn: lambda_arn.clone(),
        pending_version: (!test_only).then(|| version.clone()),
        rotation_token: rotation_token.to_string(),
    };
    let in_progress = |version: &VersionId, test_only: bool| RotationInProgress {
        version: version.clone(),
        token_sha256: token_sha256.to_string(),
        started: now,
        test_only,
        failed: false,
    };

    if let Some(pending) = r.pending_rotation().map(|v| v.id.clone()) {
        if rotation_running(r, now) {
            return Ok(Change::Unchanged(Staged::Incomplete(None)));
        }
        // Reattempt the stalled rotation with its AWSPENDING version.
        let reattempt = job(r, &pending, false);
        r.rotation.in_progress = Some(in_progress(&pending, false));
        return Ok(Change::Write(
            Staged::Incomplete(Some(reattempt)),
            VersionWrites::default(),
        ));
    }
    if request.rotate_now && r.version(&request.version_id).is_some() {
        return Err(Error::invalid_request(format!(
            "A version with the ClientRequestToken {} already exists.",
            request.version_id
        )));
    }
    let rotation = &mut r.rotation;
    rotation.configured = true;
    rotation.enabled = true;
    rotation.lambda_arn = Some(lambda_arn.clone());
    if request.rules.is_some() {
        rotation.rules = request.rules.clone();
    }
    if !request.external_metadata.is_empty() {
        rotation.external_metadata = request.external_metadata.clone();
    }
    if request.external_role_arn.is_some() {
        rotation.external_role_arn = request.external_role_arn.clone();
    }
    schedule_next_window(r, now);
    let (version, test_only) = if request.rotate_now {
        r.versions.push(VersionMeta {
            id: request.version_id.clone(),
            stages: vec![],
            created: now,
            last_accessed: None,
            kms_key_arn: None,
            has_value: false,
        });
        (request.version_id.clone(), false)
    } else {
        // The test of the configuration runs `testSecret` against AWSPENDING staged on the
        // AWSCURRENT version; the runner removes the label afterwards.
        let current = r.current_version().map(|v| v.id.clone()).ok_or_else(|| {
            Error::invalid_request("The secret has no AWSCURRENT version to test.")
        })?;
        (current, true)
    };
    move_label(r, &version, &StageLabel::pending())?;
    r.rotation.in_progress = Some(in_progress(&version, test_only));
    let response = ArnNameVersion {
        arn: r.arn.to_string(),
        name: r.name.to_string(),
        version_id: (!test_only).then(|| version.to_string()),
    };
    let job = job(r, &version, test_only);
    Ok(Change::Write(
        Staged::Start(response, job),
        VersionWrites::default(),
    ))
}

/// Sets `NextRotationDate` (and the end of its window) to the next window after `after`.
pub(crate) fn schedule_next_window(r: &mut SecretRecord, after: Timestamp) {
    let window = r
        .rotation
        .rules
        .as_ref()
        .and_then(|rules| next_rotation_window(rules, after));
    r.rotation.next_rotation = window.map(|w| w.start);
    r.rotation.next_rotation_end = window.map(|w| w.end);
}

/// PutSecretValue's `RotationToken` must be the token of the rotation running on the secret.
pub(super) fn check_rotation_token(r: &SecretRecord, token: &str) -> Result<()> {
    let digest = rotation_token_digest(token);
    match &r.rotation.in_progress {
        Some(p) if p.token_sha256 == digest => Ok(()),
        _ => Err(Error::AccessDenied(
            "The RotationToken isn't the token of a rotation in progress for this secret."
                .to_string(),
        )),
    }
}

/// A value staged AWSCURRENT by hand (not by the rotation, which passes its token or moves the
/// label with UpdateSecretVersionStage) abandons the rotation in progress: AWSPENDING leaves the
/// rotation's version and the job ends. Returns true when a rotation was abandoned (the caller
/// emits `RotationAbandoned`).
pub(super) fn abandon_rotation(r: &mut SecretRecord) -> Result<bool> {
    let Some(progress) = r.rotation.in_progress.take() else {
        return Ok(false);
    };
    if progress.test_only {
        r.rotation.in_progress = Some(progress);
        return Ok(false);
    }
    let still_pending = r.version(&progress.version).is_some_and(|v| {
        v.has_stage(crate::ids::AWSPENDING) && !v.has_stage(crate::ids::AWSCURRENT)
    });
    if still_pending {
        crate::labels::remove_label(r, &progress.version, &StageLabel::pending())?;
    }
    Ok(true)
}

impl SecretsService {
    /// Emits `RotationAbandoned` for a rotation a manual write ended.
    pub(super) async fn rotation_abandoned(
        &self,
        ctx: &RequestContext,
        arn: &crate::ids::SecretArn,
    ) -> Result<()> {
        self.record_service_event(
            ServiceEventName::RotationAbandoned,
            &ctx.scope,
            arn.as_str(),
            Some(&ctx.request_id),
            serde_json::Value::Null,
        )
        .await
    }
}
