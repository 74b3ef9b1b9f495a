//! RotateSecret and CancelRotateSecret: validate and store the rotation configuration, create
//! the value-less AWSPENDING version, and hand the job to the `RotationInvoker` port (which runs
//! the rotation function's four steps outside the request). Handing the job over emits
//! `RotationStarted` (`TestRotationStarted` when `RotateImmediately` is false and only
//! `testSecret` runs); an invoker that refuses the job turns that into `RotationFailed`
//! (`TestRotationFailed`). The runner reports the outcome of the jobs it runs.

use super::lookup::new_uuid;
use super::mutate::{Change, DeletedSecrets};
use super::{RequestContext, SecretsService};
use crate::api::{ArnNameVersion, RotateSecretRequest, SecretIdRequest};
use crate::audit::ServiceEventName;
use crate::error::{Error, Result};
use crate::ids::StageLabel;
use crate::labels::move_label;
use crate::model::VersionMeta;
use crate::ports::{RotationJob, VersionWrites};
use crate::schedule::{next_rotation_window, validate_rotation_rules, RotationRules};

pub const ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

impl SecretsService {
    pub(super) async fn rotate_secret(
        &self,
        ctx: &RequestContext,
        req: RotateSecretRequest,
    ) -> Result<ArnNameVersion> {
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
        let version_id = self.version_id_from_token(req.client_request_token.as_deref())?;
        let rotate_now = req.rotate_immediately.unwrap_or(true);
        let rotation_token = new_uuid(self.ports.random.as_ref());
        let now = self.ports.clock.now();
        let external_metadata: Vec<(String, String)> = req
            .external_secret_rotation_metadata
            .iter()
            .flatten()
            .map(|m| {
                (
                    m.key.clone().unwrap_or_default(),
                    m.value.clone().unwrap_or_default(),
                )
            })
            .collect();

        let (response, job) = self
            .mutate(ctx, req.secret_id.as_deref(), DeletedSecrets::Refuse, |r| {
                if r.pending_rotation().is_some() {
                    return Err(Error::invalid_request(ROTATION_INCOMPLETE));
                }
                let lambda_arn = req
                    .rotation_lambda_arn
                    .clone()
                    .filter(|a| !a.is_empty())
                    .or_else(|| r.rotation.lambda_arn.clone())
                    .ok_or_else(|| {
                        Error::invalid_request(
                            "No Lambda rotation function ARN is associated with this secret.",
                        )
                    })?;
                if rotate_now && r.version(&version_id).is_some() {
                    return Err(Error::invalid_request(format!(
                        "A version with the ClientRequestToken {version_id} already exists."
                    )));
                }
                let rotation = &mut r.rotation;
                rotation.configured = true;
                rotation.enabled = true;
                rotation.lambda_arn = Some(lambda_arn.clone());
                if rules.is_some() {
                    rotation.rules = rules.clone();
                }
                if !external_metadata.is_empty() {
                    rotation.external_metadata = external_metadata.clone();
                }
                if req.external_secret_rotation_role_arn.is_some() {
                    rotation.external_role_arn = req.external_secret_rotation_role_arn.clone();
                }
                rotation.next_rotation = rotation
                    .rules
                    .as_ref()
                    .and_then(|rules| next_rotation_window(rules, now))
                    .map(|w| w.start);
                if rotate_now {
                    r.versions.push(VersionMeta {
                        id: version_id.clone(),
                        stages: vec![],
                        created: now,
                        last_accessed: None,
                        kms_key_arn: None,
                        has_value: false,
                    });
                    move_label(r, &version_id, &StageLabel::pending())?;
                }
                let response = ArnNameVersion {
                    arn: r.arn.to_string(),
                    name: r.name.to_string(),
                    version_id: rotate_now.then(|| version_id.to_string()),
                };
                let job = RotationJob {
                    scope: ctx.scope.clone(),
                    secret_arn: r.arn.clone(),
                    lambda_arn,
                    pending_version: rotate_now.then(|| version_id.clone()),
                    rotation_token: rotation_token.clone(),
                };
                Ok(Change::Write((response, job), VersionWrites::default()))
            })
            .await?;
        let (started, failed) = if job.pending_version.is_some() {
            (
                ServiceEventName::RotationStarted,
                ServiceEventName::RotationFailed,
            )
        } else {
            (
                ServiceEventName::TestRotationStarted,
                ServiceEventName::TestRotationFailed,
            )
        };
        let details = serde_json::json!({ "VersionId": response.version_id });
        self.record_service_event(
            started,
            &ctx.scope,
            &response.arn,
            Some(&ctx.request_id),
            details.clone(),
        )
        .await?;
        if let Err(e) = self.ports.rotation.start(job).await {
            // The configuration and the AWSPENDING version stay: the next scheduled window (or
            // another RotateSecret) reattempts the rotation, as AWS does.
            tracing::warn!(request_id = %ctx.request_id, secret = %response.arn, error = %e, "rotation job not started");
            self.record_service_event(
                failed,
                &ctx.scope,
                &response.arn,
                Some(&ctx.request_id),
                details,
            )
            .await?;
        }
        Ok(response)
    }

    pub(super) async fn cancel_rotate_secret(
        &self,
        ctx: &RequestContext,
        req: SecretIdRequest,
    ) -> Result<ArnNameVersion> {
        self.mutate(ctx, req.secret_id.as_deref(), DeletedSecrets::Refuse, |r| {
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
            Ok(Change::Write(response, VersionWrites::default()))
        })
        .await
    }
}
