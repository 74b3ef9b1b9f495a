//! DescribeSecret, and the metadata view of a record that ListSecrets shares. Fields without a
//! value are omitted, as AWS omits them.

use super::authorize::Authorized;
use super::SecretsService;
use crate::api::{
    DescribeSecretResponse, ExternalMetadataItem, RotationRulesShape, SecretIdRequest, Tag,
};
use crate::error::Result;
use crate::model::SecretRecord;
use std::collections::BTreeMap;

pub(super) fn versions_to_stages(record: &SecretRecord) -> BTreeMap<String, Vec<String>> {
    record
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| {
            (
                v.id.to_string(),
                v.stages.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

/// The DescribeSecret view of a record.
pub(super) fn describe(record: &SecretRecord) -> DescribeSecretResponse {
    let rotation = &record.rotation;
    DescribeSecretResponse {
        arn: record.arn.to_string(),
        name: record.name.to_string(),
        secret_type: record.secret_type.clone(),
        // A description set to "" is not shown, as AWS omits it.
        description: record.description.clone().filter(|d| !d.is_empty()),
        kms_key_id: record.kms_key_id.clone(),
        rotation_enabled: rotation.configured.then_some(rotation.enabled),
        rotation_lambda_arn: rotation.lambda_arn.clone(),
        rotation_rules: rotation.rules.as_ref().map(RotationRulesShape::from),
        external_secret_rotation_metadata: (!rotation.external_metadata.is_empty()).then(|| {
            rotation
                .external_metadata
                .iter()
                .map(|(k, v)| ExternalMetadataItem {
                    key: Some(k.clone()),
                    value: Some(v.clone()),
                })
                .collect()
        }),
        external_secret_rotation_role_arn: rotation.external_role_arn.clone(),
        last_rotated_date: rotation.last_rotated,
        last_changed_date: Some(record.last_changed),
        last_accessed_date: record.last_accessed,
        deleted_date: record.deleted,
        next_rotation_date: rotation.next_rotation.filter(|_| rotation.enabled),
        tags: (record.had_tags || !record.tags.is_empty()).then(|| {
            record
                .tags
                .iter()
                .map(|t| Tag {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect()
        }),
        version_ids_to_stages: Some(versions_to_stages(record)).filter(|m| !m.is_empty()),
        secret_versions_to_stages: None,
        owning_service: None,
        created_date: Some(record.created),
        primary_region: None,
    }
}

impl SecretsService {
    pub(super) async fn describe_secret(
        &self,
        call: Authorized<SecretIdRequest>,
    ) -> Result<DescribeSecretResponse> {
        let record = call.secret()?;
        Ok(describe(record))
    }
}
