//! The writes of values and labels: PutSecretValue, UpdateSecret and UpdateSecretVersionStage,
//! plus the input checks they share with CreateSecret.

use super::authorize::Authorized;
use super::lookup::{ensure_live, storage_error};
use super::mutate::{Change, DeletedSecrets};
use super::rotation::{abandon_rotation, check_rotation_token};
use super::{RequestContext, SecretsService};
use crate::api::{
    ArnName, ArnNameVersion, PutSecretValueRequest, PutSecretValueResponse, SensitiveBlob,
    SensitiveString, UpdateSecretRequest, UpdateSecretVersionStageRequest,
};
use crate::error::{Error, Result};
use crate::ids::{StageLabel, VersionId, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::labels::{move_label, remove_label, MAX_LABELS_PER_VERSION};
use crate::model::{SecretRecord, VersionMeta};
use crate::ports::VersionWrites;
use crate::value::SecretValue;

/// Largest `SecretString` / `SecretBinary`, in bytes.
pub const MAX_VALUE_BYTES: usize = 65_536;

/// The value of a request: exactly one of `SecretString` and `SecretBinary`, 1 to 64 KiB.
pub(super) fn value_from(
    string: Option<&SensitiveString>,
    binary: Option<&SensitiveBlob>,
    required: bool,
) -> Result<Option<SecretValue>> {
    let value = match (string, binary) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_parameter(
                "You can't specify both a binary secret value and a string secret value in the same secret.",
            ))
        }
        (Some(s), None) => SecretValue::string(s.0.to_string()),
        (None, Some(b)) => SecretValue::binary(b.0.to_vec()),
        (None, None) if required => {
            return Err(Error::invalid_parameter(
                "You must provide either SecretString or SecretBinary.",
            ))
        }
        (None, None) => return Ok(None),
    };
    if value.is_empty() {
        return Err(Error::invalid_parameter(
            "The secret value must be at least 1 character long.",
        ));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::invalid_parameter(
            "The secret value exceeds the maximum size of 65536 bytes.",
        ));
    }
    Ok(Some(value))
}

pub(super) fn check_description(description: Option<&str>) -> Result<()> {
    match description {
        Some(d) if d.chars().count() > 2048 => Err(Error::invalid_parameter(
            "Invalid Description: it must be at most 2048 characters long.",
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_secret_type(secret_type: Option<&str>) -> Result<()> {
    match secret_type {
        Some(t) if t.len() > 256 => Err(Error::invalid_parameter(
            "Invalid Type: it must be at most 256 characters long.",
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_kms_key_id(kms_key_id: Option<&str>) -> Result<()> {
    match kms_key_id {
        Some(k) if k.len() > 2048 => Err(Error::invalid_parameter(
            "Invalid KmsKeyId: it must be at most 2048 characters long.",
        )),
        _ => Ok(()),
    }
}

/// Parses `VersionStages`; absent means AWSCURRENT.
fn stages_from(stages: Option<&[String]>) -> Result<Vec<StageLabel>> {
    let Some(stages) = stages else {
        return Ok(vec![StageLabel::current()]);
    };
    if stages.is_empty() || stages.len() > MAX_LABELS_PER_VERSION {
        return Err(Error::invalid_parameter(format!(
            "VersionStages must list between 1 and {MAX_LABELS_PER_VERSION} staging labels."
        )));
    }
    let mut parsed: Vec<StageLabel> = Vec::with_capacity(stages.len());
    for s in stages {
        let label = StageLabel::parse(s)?;
        if !parsed.contains(&label) {
            parsed.push(label);
        }
    }
    Ok(parsed)
}

/// For a retried request whose version exists: success when the stored value equals `value`,
/// `ResourceExistsException` otherwise (versions are immutable).
pub(super) async fn same_value_or_conflict(
    service: &SecretsService,
    ctx: &RequestContext,
    record: &SecretRecord,
    version: &VersionId,
    value: &SecretValue,
) -> Result<()> {
    let stored = service
        .ports
        .repository
        .get_value(&record.arn, version)
        .await
        .map_err(storage_error)?;
    let same = match stored {
        Some(stored) => service
            .open_value(&ctx.scope, &record.arn, &stored)
            .await?
            .same_as(value),
        None => false,
    };
    if same {
        Ok(())
    } else {
        Err(token_in_use(record, version))
    }
}

/// AWS's answer to a `ClientRequestToken` reused for a different value.
pub(super) fn token_in_use(record: &SecretRecord, version: &VersionId) -> Error {
    Error::ResourceExists(format!(
        "You can't use ClientRequestToken {version} because that value is already in use for a version of secret {}.",
        record.arn
    ))
}

fn stage_names(v: &VersionMeta) -> Vec<String> {
    v.stages.iter().map(|s| s.to_string()).collect()
}

/// Adds a sealed value as version `id` (or fills the value-less version `id`) and moves
/// `stages` onto it. The first value of a secret always gets AWSCURRENT.
fn attach_new_version(
    record: &mut SecretRecord,
    id: &VersionId,
    stages: &[StageLabel],
    created: crate::clock::Timestamp,
    key_arn: &str,
) -> Result<Vec<String>> {
    match record.version_mut(id) {
        Some(v) => {
            v.has_value = true;
            v.kms_key_arn = Some(key_arn.to_string());
        }
        None => record.versions.push(VersionMeta {
            id: id.clone(),
            stages: vec![],
            created,
            last_accessed: None,
            kms_key_arn: Some(key_arn.to_string()),
            has_value: true,
        }),
    }
    let mut labels = stages.to_vec();
    if record.current_version().is_none() && !labels.iter().any(|l| l.as_str() == AWSCURRENT) {
        labels.push(StageLabel::current());
    }
    for label in &labels {
        move_label(record, id, label)?;
    }
    Ok(record.version(id).map(stage_names).unwrap_or_default())
}

impl SecretsService {
    pub(super) async fn put_secret_value(
        &self,
        call: Authorized<PutSecretValueRequest>,
    ) -> Result<PutSecretValueResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        let record = call.secret()?;
        ensure_live(record)?;
        let value = value_from(req.secret_string.as_ref(), req.secret_binary.as_ref(), true)?
            .ok_or_else(|| Error::internal("missing value"))?;
        let stages = stages_from(req.version_stages.as_deref())?;
        let version_id = self.version_id_from_token(req.client_request_token.as_deref())?;
        let respond = |r: &SecretRecord, stages: Vec<String>| PutSecretValueResponse {
            arn: r.arn.to_string(),
            name: r.name.to_string(),
            version_id: version_id.to_string(),
            version_stages: stages,
        };
        if let Some(existing) = record.version(&version_id).filter(|v| v.has_value) {
            same_value_or_conflict(self, ctx, record, &version_id, &value).await?;
            return Ok(respond(record, stage_names(existing)));
        }
        let sealed = self
            .seal_value(
                &ctx.scope,
                record.kms_key_id.as_deref(),
                &record.arn,
                &version_id,
                &value,
            )
            .await?;
        let now = self.ports.clock.now();
        let rotation_token = req.rotation_token.as_ref().map(|t| t.0.to_string());
        let moves_current = stages.iter().any(|s| s.as_str() == AWSCURRENT);
        let landed = self
            .mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
                if r.version(&version_id).is_some_and(|v| v.has_value) {
                    // A concurrent retry with the same token landed first.
                    return Ok(Change::Unchanged(None));
                }
                if let Some(token) = &rotation_token {
                    check_rotation_token(r, token)?;
                }
                let abandoned = rotation_token.is_none() && moves_current && abandon_rotation(r)?;
                let stages = attach_new_version(r, &version_id, &stages, now, &sealed.key_arn)?;
                let writes = VersionWrites {
                    put_values: vec![sealed.value.clone()],
                    delete_values: vec![],
                };
                Ok(Change::Write(Some((stages, abandoned)), writes))
            })
            .await?;
        match landed {
            Some((stages, abandoned)) => {
                if abandoned {
                    self.rotation_abandoned(ctx, &record.arn).await?;
                }
                Ok(respond(record, stages))
            }
            None => {
                let record = self
                    .find_live_secret(ctx, Some(record.arn.as_str()))
                    .await?;
                same_value_or_conflict(self, ctx, &record, &version_id, &value).await?;
                let stages = record
                    .version(&version_id)
                    .map(stage_names)
                    .unwrap_or_default();
                Ok(respond(&record, stages))
            }
        }
    }

    pub(super) async fn update_secret(
        &self,
        call: Authorized<UpdateSecretRequest>,
    ) -> Result<ArnNameVersion> {
        let ctx = call.ctx();
        let req = &call.request;
        let record = call.secret()?;
        ensure_live(record)?;
        check_description(req.description.as_deref())?;
        check_secret_type(req.secret_type.as_deref())?;
        check_kms_key_id(req.kms_key_id.as_deref())?;
        let value = value_from(
            req.secret_string.as_ref(),
            req.secret_binary.as_ref(),
            false,
        )?;
        let version_id = self.version_id_from_token(req.client_request_token.as_deref())?;
        let stored = record.version(&version_id).filter(|v| v.has_value);
        if let (Some(value), Some(_)) = (&value, stored) {
            // A retry: the same token and value succeed without a new version.
            same_value_or_conflict(self, ctx, record, &version_id, value).await?;
            return Ok(ArnNameVersion {
                arn: record.arn.to_string(),
                name: record.name.to_string(),
                version_id: Some(version_id.to_string()),
            });
        }
        let new_key = req
            .kms_key_id
            .as_deref()
            .map(|k| Some(k).filter(|k| !k.is_empty()));
        let key_changes = new_key.is_some_and(|k| k != record.kms_key_id.as_deref());
        let effective_key = match new_key {
            Some(k) => k,
            None => record.kms_key_id.as_deref(),
        };
        if key_changes {
            self.check_key(&ctx.scope, effective_key).await?;
        }
        let sealed = match &value {
            Some(v) => Some(
                self.seal_value(&ctx.scope, effective_key, &record.arn, &version_id, v)
                    .await?,
            ),
            None => None,
        };
        let resealed = if key_changes {
            self.reseal_labelled_versions(ctx, record, effective_key)
                .await?
        } else {
            vec![]
        };
        let now = self.ports.clock.now();
        let abandoned = self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            if let Some(d) = &req.description {
                r.description = Some(d.clone());
            }
            if let Some(t) = &req.secret_type {
                r.secret_type = Some(t.clone());
            }
            if let Some(k) = new_key {
                r.kms_key_id = k.map(str::to_string);
            }
            let mut writes = VersionWrites::default();
            for (value, key_arn) in &resealed {
                if let Some(v) = r.version_mut(&value.version_id) {
                    v.kms_key_arn = Some(key_arn.clone());
                    writes.put_values.push(value.clone());
                }
            }
            let mut abandoned = false;
            if let Some(sealed) = &sealed {
                if r.version(&version_id).is_some() {
                    return Err(Error::ResourceExists(
                        "A version with this ClientRequestToken already exists; you can't modify an existing version.".into(),
                    ));
                }
                abandoned = abandon_rotation(r)?;
                attach_new_version(r, &version_id, &[StageLabel::current()], now, &sealed.key_arn)?;
                writes.put_values.push(sealed.value.clone());
            }
            Ok(Change::Write(abandoned, writes))
        })
        .await?;
        if abandoned {
            self.rotation_abandoned(ctx, &record.arn).await?;
        }
        Ok(ArnNameVersion {
            arn: record.arn.to_string(),
            name: record.name.to_string(),
            version_id: value.map(|_| version_id.to_string()),
        })
    }

    /// Re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS values under a new key, as AWS
    /// does when a secret's `KmsKeyId` changes.
    async fn reseal_labelled_versions(
        &self,
        ctx: &RequestContext,
        record: &SecretRecord,
        key: Option<&str>,
    ) -> Result<Vec<(crate::model::EncryptedValue, String)>> {
        let mut out = Vec::new();
        for v in record.versions.iter().filter(|v| {
            v.has_value
                && [AWSCURRENT, AWSPENDING, AWSPREVIOUS]
                    .iter()
                    .any(|l| v.has_stage(l))
        }) {
            let Some(stored) = self
                .ports
                .repository
                .get_value(&record.arn, &v.id)
                .await
                .map_err(storage_error)?
            else {
                continue;
            };
            let plain = self.open_value(&ctx.scope, &record.arn, &stored).await?;
            let sealed = self
                .seal_value(&ctx.scope, key, &record.arn, &v.id, &plain)
                .await?;
            out.push((sealed.value, sealed.key_arn));
        }
        Ok(out)
    }

    pub(super) async fn update_secret_version_stage(
        &self,
        call: Authorized<UpdateSecretVersionStageRequest>,
    ) -> Result<ArnName> {
        let req = &call.request;
        let label = StageLabel::parse(
            req.version_stage
                .as_deref()
                .ok_or_else(|| Error::invalid_parameter("You must specify VersionStage."))?,
        )?;
        let remove_from = req
            .remove_from_version_id
            .as_deref()
            .map(|v| VersionId::parse(v, "RemoveFromVersionId"))
            .transpose()?;
        let move_to = req
            .move_to_version_id
            .as_deref()
            .map(|v| VersionId::parse(v, "MoveToVersionId"))
            .transpose()?;
        if remove_from.is_none() && move_to.is_none() {
            return Err(Error::invalid_parameter(
                "You must specify RemoveFromVersionId, MoveToVersionId, or both.",
            ));
        }
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            let holder = r.version_with_stage(label.as_str()).map(|v| v.id.clone());
            match &move_to {
                Some(target) => {
                    if r.version(target).is_none() {
                        return Err(Error::not_found(format!(
                            "Secrets Manager can't find the specified secret version: {target}"
                        )));
                    }
                    if let Some(h) = holder.as_ref().filter(|h| *h != target) {
                        if remove_from.is_none() && label.as_str() == AWSCURRENT {
                            return Err(Error::invalid_parameter(format!(
                                "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                            )));
                        }
                        if remove_from.as_ref() != Some(h) {
                            return Err(Error::invalid_parameter(format!(
                                "The staging label {label} is currently attached to version {h}, but you have not specified that version in RemoveFromVersionId."
                            )));
                        }
                    }
                    if let Some(from) = &remove_from {
                        if holder.as_ref() != Some(from) {
                            return Err(Error::invalid_parameter(format!(
                                "The staging label {label} is not attached to version {from}."
                            )));
                        }
                    }
                    move_label(r, target, &label)?;
                }
                None => {
                    if label.as_str() == AWSCURRENT {
                        return Err(Error::invalid_parameter(
                            "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
                        ));
                    }
                    let from = remove_from.as_ref().ok_or_else(|| Error::internal("unreachable"))?;
                    remove_label(r, from, &label)?;
                }
            }
            Ok(Change::Write((), VersionWrites::default()))
        })
        .await?;
        let record = call.secret()?;
        Ok(ArnName {
            arn: record.arn.to_string(),
            name: record.name.to_string(),
        })
    }
}
