//! GetSecretValue: find the version by id and/or label, refuse value-less versions, open the
//! envelope, and record the access at day granularity.

use super::authorize::Authorized;
use super::call::SecretsRequest;
use super::lookup::ensure_live;
use super::{RequestContext, SecretsService};
use crate::api::{GetSecretValueRequest, SecretValueEntry};
use crate::error::{Error, Result};
use crate::ids::{StageLabel, VersionId, AWSCURRENT};
use crate::model::{EncryptedValue, SecretRecord, VersionMeta};

/// Which version a read asks for.
pub(super) struct VersionSelector {
    pub id: Option<VersionId>,
    pub stage: Option<StageLabel>,
}

impl VersionSelector {
    pub fn parse(version_id: Option<&str>, version_stage: Option<&str>) -> Result<Self> {
        Ok(VersionSelector {
            id: version_id
                .map(|v| VersionId::parse(v, "VersionId"))
                .transpose()?,
            stage: version_stage.map(StageLabel::parse).transpose()?,
        })
    }

    pub fn current() -> Self {
        VersionSelector {
            id: None,
            stage: None,
        }
    }

    fn describe(&self) -> String {
        match (&self.id, &self.stage) {
            (Some(id), Some(stage)) => format!("VersionId: {id} and staging label: {stage}"),
            (Some(id), None) => format!("VersionId: {id}"),
            (None, Some(stage)) => format!("staging label: {stage}"),
            (None, None) => format!("staging label: {AWSCURRENT}"),
        }
    }

    /// The version selected in `record`, if it exists and holds a value.
    pub fn select<'r>(&self, record: &'r SecretRecord) -> Result<&'r VersionMeta> {
        let found = match (&self.id, &self.stage) {
            (Some(id), Some(stage)) => match record.version(id) {
                Some(v) if !v.has_stage(stage.as_str()) => return Err(Error::invalid_request(
                    "You provided a VersionStage that is not associated to the provided VersionId.",
                )),
                other => other,
            },
            (Some(id), None) => record.version(id),
            (None, Some(stage)) => record.version_with_stage(stage.as_str()),
            (None, None) => record.current_version(),
        };
        found.filter(|v| v.has_value).ok_or_else(|| {
            Error::not_found(format!(
                "Secrets Manager can't find the specified secret value for {}",
                self.describe()
            ))
        })
    }
}

impl SecretsService {
    pub(super) async fn get_secret_value(
        &self,
        mut call: Authorized<GetSecretValueRequest>,
    ) -> Result<SecretValueEntry> {
        let req = &call.request;
        let selector =
            VersionSelector::parse(req.version_id.as_deref(), req.version_stage.as_deref())?;
        let prefetched = call.take_current();
        let ctx = call.ctx();
        let record = call.secret()?;
        let mut entry = self
            .read_version_using(ctx, record, &selector, prefetched)
            .await?;
        let req = &call.request;
        entry.value = self.filter_value(
            ctx,
            call.identity_policies(),
            req.secret_id.as_deref().unwrap_or_default(),
            record,
            &req.view()?,
            entry.value,
        )?;
        Ok(entry)
    }

    /// Reads and decrypts the selected version of a live secret.
    pub(super) async fn read_version(
        &self,
        ctx: &RequestContext,
        record: &SecretRecord,
        selector: &VersionSelector,
    ) -> Result<SecretValueEntry> {
        self.read_version_using(ctx, record, selector, None).await
    }

    /// As `read_version`, using `prefetched` when it is the selected version's value (the
    /// one-read GetSecretValue path).
    async fn read_version_using(
        &self,
        ctx: &RequestContext,
        record: &SecretRecord,
        selector: &VersionSelector,
        prefetched: Option<EncryptedValue>,
    ) -> Result<SecretValueEntry> {
        ensure_live(record)?;
        let version = selector.select(record)?;
        let stored = match prefetched.filter(|v| v.version_id == version.id) {
            Some(value) => Some(value),
            None => self
                .ports
                .repository
                .get_value(&record.arn, &version.id)
                .await
                .map_err(super::lookup::storage_error)?,
        };
        let stored = stored.ok_or_else(|| {
            Error::not_found(format!(
                "Secrets Manager can't find the specified secret value for {}",
                selector.describe()
            ))
        })?;
        let value = self.open_value(&ctx.scope, &record.arn, &stored).await?;
        self.note_access(record, version).await;
        Ok(SecretValueEntry {
            arn: record.arn.to_string(),
            name: record.name.to_string(),
            version_id: version.id.to_string(),
            value,
            version_stages: version.stages.iter().map(|s| s.to_string()).collect(),
            created_date: version.created,
        })
    }

    /// Records the day of this read unless it is already recorded. A failure here must not fail
    /// the read, so it is only logged.
    async fn note_access(&self, record: &SecretRecord, version: &VersionMeta) {
        let today = self.ports.clock.now().start_of_day();
        if record.last_accessed == Some(today) && version.last_accessed == Some(today) {
            return;
        }
        if let Err(e) = self
            .ports
            .repository
            .touch_accessed(&record.arn, &version.id, today)
            .await
        {
            tracing::warn!(secret = %record.arn, error = %e, "could not record the access date");
        }
    }
}
