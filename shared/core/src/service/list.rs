//! ListSecrets and ListSecretVersionIds: filter, sort, and page with tamper-evident tokens.

use super::authorize::Authorized;
use super::describe::{describe, versions_to_stages};
use super::{RequestContext, SecretsService};
use crate::api::{
    ListSecretVersionIdsRequest, ListSecretVersionIdsResponse, ListSecretsRequest,
    ListSecretsResponse, VersionEntry,
};
use crate::error::{Error, Result};
use crate::filters::{matches_all, parse_filters};
use crate::model::SecretRecord;
use crate::paging::Paginator;
use std::cmp::Ordering;

/// `MaxResults` within `1..=max`, defaulting to `max`.
pub(super) fn page_size(max_results: Option<i64>, max: usize) -> Result<usize> {
    match max_results {
        None => Ok(max),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(Error::invalid_parameter(format!(
            "Invalid MaxResults: {n}. It must be between 1 and {max}."
        ))),
    }
}

#[derive(Clone, Copy)]
enum SortBy {
    CreatedDate,
    LastAccessedDate,
    LastChangedDate,
    Name,
}

fn sort_key_cmp(by: SortBy, a: &SecretRecord, b: &SecretRecord) -> Ordering {
    match by {
        SortBy::CreatedDate => a.created.cmp(&b.created),
        SortBy::LastAccessedDate => a.last_accessed.cmp(&b.last_accessed),
        SortBy::LastChangedDate => a.last_changed.cmp(&b.last_changed),
        SortBy::Name => a.name.cmp(&b.name),
    }
    .then_with(|| a.arn.cmp(&b.arn))
}

impl SecretsService {
    /// The live (and, if asked, deleted) secrets of the caller's scope that pass `filters`,
    /// sorted: the listing ListSecrets and BatchGetSecretValue page through.
    pub(super) async fn matching_secrets(
        &self,
        ctx: &RequestContext,
        filters: &[crate::api::Filter],
        include_planned_deletion: bool,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<Vec<SecretRecord>> {
        let filters = parse_filters(filters)?;
        let by = match sort_by {
            None | Some("created-date") => SortBy::CreatedDate,
            Some("last-accessed-date") => SortBy::LastAccessedDate,
            Some("last-changed-date") => SortBy::LastChangedDate,
            Some("name") => SortBy::Name,
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "Invalid SortBy: {other}. Valid values are created-date, last-accessed-date, last-changed-date and name."
                )))
            }
        };
        let descending = match sort_order {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(Error::invalid_parameter(format!(
                    "Invalid SortOrder: {other}. Valid values are asc and desc."
                )))
            }
        };
        let mut records: Vec<SecretRecord> = self
            .ports
            .repository
            .list(&ctx.scope)
            .await
            .map_err(super::lookup::storage_error)?
            .into_iter()
            .filter(|r| include_planned_deletion || !r.is_scheduled_for_deletion())
            .filter(|r| matches_all(&filters, r))
            .collect();
        records.sort_by(|a, b| {
            let o = sort_key_cmp(by, a, b);
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        Ok(records)
    }

    pub(super) async fn list_secrets(
        &self,
        call: Authorized<ListSecretsRequest>,
    ) -> Result<ListSecretsResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        let max = page_size(req.max_results, 100)?;
        let filters = req.filters.clone().unwrap_or_default();
        let include_deleted = req.include_planned_deletion.unwrap_or(false);
        let records = self
            .matching_secrets(
                ctx,
                &filters,
                include_deleted,
                req.sort_by.as_deref(),
                req.sort_order.as_deref(),
            )
            .await?;
        let query = format!(
            "ListSecrets|{:?}|{:?}|{}|{:?}|{:?}",
            ctx.scope, filters, include_deleted, req.sort_by, req.sort_order
        );
        let paginator = Paginator::new(&self.config.paging_key, &query);
        let (page, next_token) = paginator.page(&records, req.next_token.as_deref(), max)?;
        let secret_list = page
            .iter()
            .map(|r| {
                let mut entry = describe(r);
                entry.version_ids_to_stages = None;
                entry.secret_versions_to_stages =
                    Some(versions_to_stages(r)).filter(|m| !m.is_empty());
                entry
            })
            .collect();
        Ok(ListSecretsResponse {
            secret_list,
            next_token,
        })
    }

    pub(super) async fn list_secret_version_ids(
        &self,
        call: Authorized<ListSecretVersionIdsRequest>,
    ) -> Result<ListSecretVersionIdsResponse> {
        let req = &call.request;
        let max = page_size(req.max_results, 100)?;
        let record = call.secret()?;
        let include_deprecated = req.include_deprecated.unwrap_or(false);
        let mut versions: Vec<&crate::model::VersionMeta> = record
            .versions
            .iter()
            // "ListSecretVersionIds only returns versions that contain a secret value."
            .filter(|v| v.has_value && (include_deprecated || !v.stages.is_empty()))
            .collect();
        versions.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        let entries: Vec<VersionEntry> = versions
            .into_iter()
            .map(|v| VersionEntry {
                version_id: v.id.to_string(),
                version_stages: (!v.stages.is_empty())
                    .then(|| v.stages.iter().map(|s| s.to_string()).collect()),
                last_accessed_date: v.last_accessed,
                created_date: v.created,
                kms_key_ids: v.kms_key_arn.clone().map(|k| vec![k]),
            })
            .collect();
        let query = format!("ListSecretVersionIds|{}|{}", record.arn, include_deprecated);
        let paginator = Paginator::new(&self.config.paging_key, &query);
        let (versions, next_token) = paginator.page(&entries, req.next_token.as_deref(), max)?;
        Ok(ListSecretVersionIdsResponse {
            versions,
            next_token,
            arn: record.arn.to_string(),
            name: record.name.to_string(),
        })
    }
}
