//! CreateSecret: validate, pick the ARN, seal the first version (if a value is given) and insert
//! the secret. A retry with the same `ClientRequestToken` and value succeeds without a change.

use super::authorize::Authorized;
use super::lookup::arn_suffix;
use super::tags::validate_tags;
use super::write::{check_description, check_secret_type, same_value_or_conflict, value_from};
use super::{RequestContext, SecretsService};
use crate::api::{CreateSecretRequest, CreateSecretResponse};
use crate::error::{Error, Result};
use crate::ids::{SecretArn, SecretName, StageLabel, VersionId};
use crate::model::{RotationConfig, SecretRecord, Tag, VersionMeta};
use crate::ports::RepositoryError;

impl SecretsService {
    pub(super) async fn create_secret(
        &self,
        call: Authorized<CreateSecretRequest>,
    ) -> Result<CreateSecretResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        let name = SecretName::parse(
            req.name
                .as_deref()
                .ok_or_else(|| Error::invalid_parameter("You must specify Name."))?,
        )?;
        if req
            .add_replica_regions
            .as_ref()
            .is_some_and(|r| !r.is_empty())
            || req.cross_account_primary_arn.is_some()
        {
            return Err(Error::invalid_request(
                "Replication is not supported by this Coffer server yet.",
            ));
        }
        check_description(req.description.as_deref())?;
        check_secret_type(req.secret_type.as_deref())?;
        let tags = validate_tags(req.tags.as_deref().unwrap_or_default())?;
        if tags.len() > 50 {
            return Err(Error::LimitExceeded(
                "A secret can have at most 50 tags.".to_string(),
            ));
        }
        let value = value_from(
            req.secret_string.as_ref(),
            req.secret_binary.as_ref(),
            false,
        )?;
        let version_id = self.version_id_from_token(req.client_request_token.as_deref())?;

        if let Some(existing) = self
            .ports
            .repository
            .get_by_name(&ctx.scope, name.as_str())
            .await
            .map_err(super::lookup::storage_error)?
        {
            return self
                .create_retry_or_conflict(ctx, &existing, &version_id, value.as_ref())
                .await;
        }

        let key_arn = self
            .check_key(&ctx.scope, req.kms_key_id.as_deref())
            .await?;
        let arn = SecretArn::new(&ctx.scope, &name, &arn_suffix(self.ports.random.as_ref()));
        let now = self.ports.clock.now();
        let mut versions = Vec::new();
        let mut values = Vec::new();
        if let Some(value) = &value {
            let sealed = self
                .seal_value(
                    &ctx.scope,
                    req.kms_key_id.as_deref(),
                    &arn,
                    &version_id,
                    value,
                )
                .await?;
            versions.push(VersionMeta {
                id: version_id.clone(),
                stages: vec![StageLabel::current()],
                created: now,
                last_accessed: None,
                kms_key_arn: Some(sealed.key_arn),
                has_value: true,
            });
            values.push(sealed.value);
        }
        let _ = key_arn;
        let record = SecretRecord {
            arn: arn.clone(),
            name: name.clone(),
            scope: ctx.scope.clone(),
            description: req.description.clone(),
            kms_key_id: req.kms_key_id.clone().filter(|k| !k.is_empty()),
            secret_type: req.secret_type.clone(),
            had_tags: !tags.is_empty(),
            tags: tags
                .into_iter()
                .map(|t| Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
            rotation: RotationConfig::default(),
            policies: vec![],
            created: now,
            last_changed: now,
            last_accessed: None,
            deleted: None,
            purge_after: None,
            versions,
            revision: 1,
        };
        match self.ports.repository.insert(&record, &values).await {
            Ok(()) => Ok(CreateSecretResponse {
                arn: arn.to_string(),
                name: name.to_string(),
                version_id: value.map(|_| version_id.to_string()),
                replication_status: vec![],
            }),
            Err(RepositoryError::NameTaken) => {
                // Lost a race with a concurrent create: treat it as if we had seen it first.
                let existing = self
                    .ports
                    .repository
                    .get_by_name(&ctx.scope, name.as_str())
                    .await
                    .map_err(super::lookup::storage_error)?
                    .ok_or_else(|| Error::internal("An error occurred on the server side."))?;
                self.create_retry_or_conflict(ctx, &existing, &version_id, value.as_ref())
                    .await
            }
            Err(e) => Err(super::lookup::storage_error(e)),
        }
    }

    /// A create for a name that exists: an idempotent retry (same token, same value) succeeds;
    /// anything else is `ResourceExistsException`.
    async fn create_retry_or_conflict(
        &self,
        ctx: &RequestContext,
        existing: &SecretRecord,
        version_id: &VersionId,
        value: Option<&crate::value::SecretValue>,
    ) -> Result<CreateSecretResponse> {
        if existing.is_scheduled_for_deletion() {
            return Err(Error::invalid_request(
                "You can't create this secret because a secret with this name is already scheduled for deletion.",
            ));
        }
        let exists = || {
            Error::ResourceExists(format!(
                "The operation failed because the secret {} already exists.",
                existing.name
            ))
        };
        let (Some(value), Some(_)) = (value, existing.version(version_id)) else {
            return Err(exists());
        };
        same_value_or_conflict(self, ctx, existing, version_id, value).await?;
        Ok(CreateSecretResponse {
            arn: existing.arn.to_string(),
            name: existing.name.to_string(),
            version_id: Some(version_id.to_string()),
            replication_status: vec![],
        })
    }
}
