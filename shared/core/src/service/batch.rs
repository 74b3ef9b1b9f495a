//! BatchGetSecretValue: up to 20 named secrets (per-secret errors reported in `Errors`), or a
//! filtered, paged listing of secrets with their AWSCURRENT values. As in AWS, every secret the
//! batch reads (or fails to read) also yields a `GetSecretValue` audit event of the caller,
//! besides the one `BatchGetSecretValue` event of the call.

use super::authorize::Authorized;
use super::list::page_size;
use super::read::VersionSelector;
use super::{RequestContext, SecretsService};
use crate::api::{
    ApiErrorEntry, BatchGetSecretValueRequest, BatchGetSecretValueResponse, SecretValueEntry,
};
use crate::error::{Error, Result};
use crate::paging::Paginator;
use serde_json::json;

impl SecretsService {
    pub(super) async fn batch_get_secret_value(
        &self,
        call: Authorized<BatchGetSecretValueRequest>,
    ) -> Result<BatchGetSecretValueResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        match (&req.secret_id_list, &req.filters) {
            (Some(ids), None) => {
                if req.max_results.is_some() || req.next_token.is_some() {
                    return Err(Error::invalid_parameter(
                        "MaxResults and NextToken can only be used with Filters.",
                    ));
                }
                if ids.is_empty() || ids.len() > 20 {
                    return Err(Error::invalid_parameter(
                        "SecretIdList must name between 1 and 20 secrets.",
                    ));
                }
                let mut response = BatchGetSecretValueResponse::default();
                for id in ids {
                    // A storage failure fails the whole call (`?`), never a secret's check.
                    let outcome = match self
                        .authorize_batch_read(ctx, call.identity_policies(), id)
                        .await?
                    {
                        Ok(record) => {
                            self.read_filtered(ctx, call.identity_policies(), id, &record)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    self.audit_secret_read(ctx, id, &outcome).await?;
                    match outcome {
                        Ok(entry) => response.secret_values.push(entry),
                        Err(e) => response.errors.push(ApiErrorEntry {
                            secret_id: id.clone(),
                            error_code: e.code().to_string(),
                            message: e.message().to_string(),
                        }),
                    }
                }
                Ok(response)
            }
            (None, Some(filters)) => {
                let max = page_size(req.max_results, 20)?;
                let records = self
                    .matching_secrets(ctx, filters, false, None, None)
                    .await?;
                let query = format!("BatchGetSecretValue|{:?}|{:?}", ctx.scope, filters);
                let paginator = Paginator::new(&self.config.paging_key, &query);
                let (page, next_token) =
                    paginator.page(&records, req.next_token.as_deref(), max)?;
                let mut response = BatchGetSecretValueResponse {
                    next_token,
                    ..Default::default()
                };
                for record in &page {
                    let arn = record.arn.as_str();
                    let identity = call.identity_policies();
                    let outcome =
                        match self.authorize_read_of(ctx, identity, arn, arn, Some(record)) {
                            Err(denied) => Err(denied),
                            Ok(()) => self.read_filtered(ctx, identity, arn, record).await,
                        };
                    self.audit_secret_read(ctx, record.arn.as_str(), &outcome)
                        .await?;
                    match outcome {
                        Ok(entry) => response.secret_values.push(entry),
                        Err(e) => response.errors.push(ApiErrorEntry {
                            secret_id: record.arn.to_string(),
                            error_code: e.code().to_string(),
                            message: e.message().to_string(),
                        }),
                    }
                }
                Ok(response)
            }
            _ => Err(Error::invalid_parameter(
                "You must include Filters or SecretIdList, but not both.",
            )),
        }
    }

    /// Reads the AWSCURRENT value of one authorized secret of a batch, cut down to the JSON
    /// keys the caller may read (`coffer:JsonKey`).
    async fn read_filtered(
        &self,
        ctx: &RequestContext,
        identity: &[coffer_policy::PolicyDocument],
        secret_id: &str,
        record: &crate::model::SecretRecord,
    ) -> Result<SecretValueEntry> {
        let mut entry = self
            .read_version(ctx, record, &VersionSelector::current())
            .await?;
        entry.value = self.filter_value(
            ctx,
            identity,
            secret_id,
            record,
            &json!({ "SecretId": secret_id }),
            entry.value,
        )?;
        Ok(entry)
    }

    /// The `GetSecretValue` event of one secret of a batch: the secret as the caller named it,
    /// the version read (never its value), or the error.
    async fn audit_secret_read(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
        outcome: &Result<SecretValueEntry>,
    ) -> Result<()> {
        let (response, resources) = match outcome {
            Ok(entry) => (
                json!({
                    "ARN": entry.arn,
                    "Name": entry.name,
                    "VersionId": entry.version_id,
                    "VersionStages": entry.version_stages,
                    "CreatedDate": entry.created_date.epoch_seconds(),
                }),
                vec![entry.arn.clone()],
            ),
            Err(_) => (
                serde_json::Value::Null,
                Some(secret_id)
                    .filter(|id| id.starts_with("arn:"))
                    .map(|arn| vec![arn.to_string()])
                    .unwrap_or_default(),
            ),
        };
        let event = self.api_event(
            ctx,
            "GetSecretValue",
            json!({ "SecretId": secret_id }),
            response,
            resources,
            outcome.as_ref().err(),
        );
        self.record_event(&ctx.request_id, &event).await
    }
}
