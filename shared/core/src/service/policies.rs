//! Resource policies: Get/Put/Delete/ListResourcePolicies and ValidateResourcePolicy. Policies
//! are parsed with the IAM grammar of [`coffer_policy`] and stored; their enforcement lives in
//! the authorization step (a later stage of the data path). PutResourcePolicy refuses a policy
//! that is public while `BlockPublicPolicy` is set, and one that would lock its author out of
//! changing it again (`refuse_policy_lockout`).

use super::authorize::Authorized;
use super::list::page_size;
use super::mutate::{Change, DeletedSecrets};
use super::SecretsService;
use crate::api::{
    GetResourcePolicyResponse, ListResourcePoliciesRequest, ListResourcePoliciesResponse,
    PolicySummary, PutResourcePolicyRequest, ResourcePolicyNameResponse, ResourcePolicyRequest,
    ValidateResourcePolicyRequest, ValidateResourcePolicyResponse, ValidationErrorEntry,
};
use crate::error::{Error, Result};
use crate::model::ResourcePolicy;
use crate::paging::Paginator;
use crate::ports::VersionWrites;
use coffer_policy::{grants_public_access, parse_policy, validate_resource_policy};

pub const DEFAULT_POLICY_NAME: &str = "default";

fn policy_name(name: Option<&str>) -> Result<&str> {
    let name = name.unwrap_or(DEFAULT_POLICY_NAME);
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::invalid_parameter(
            "Invalid PolicyName: it must be 1 to 64 letters, digits, hyphens or underscores.",
        ));
    }
    Ok(name)
}

impl SecretsService {
    pub(super) async fn get_resource_policy(
        &self,
        call: Authorized<ResourcePolicyRequest>,
    ) -> Result<GetResourcePolicyResponse> {
        let req = &call.request;
        let name = policy_name(req.policy_name.as_deref())?;
        let record = call.secret()?;
        let policy = record.policies.iter().find(|p| p.name == name);
        if policy.is_none() && name != DEFAULT_POLICY_NAME {
            return Err(Error::not_found(format!(
                "Secrets Manager can't find a resource policy named {name} for the secret."
            )));
        }
        Ok(GetResourcePolicyResponse {
            arn: record.arn.to_string(),
            name: record.name.to_string(),
            resource_policy: policy.map(|p| p.document.clone()),
            policy_name: policy.map(|p| p.name.clone()),
        })
    }

    pub(super) async fn put_resource_policy(
        &self,
        call: Authorized<PutResourcePolicyRequest>,
    ) -> Result<ResourcePolicyNameResponse> {
        let ctx = call.ctx();
        let req = &call.request;
        let name = policy_name(req.policy_name.as_deref())?;
        if name != DEFAULT_POLICY_NAME {
            return Err(Error::invalid_parameter(
                "You can only attach the default resource policy; PolicyName must be default.",
            ));
        }
        let document = req
            .resource_policy
            .clone()
            .ok_or_else(|| Error::invalid_parameter("You must specify ResourcePolicy."))?;
        let parsed = parse_policy(&document)?;
        if req.block_public_policy.unwrap_or(false) && grants_public_access(&parsed) {
            return Err(Error::PublicPolicy(
                "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.".into(),
            ));
        }
        // A missing or deleted secret is reported by `mutate` below, as for every write.
        if let Ok(record) = call.secret() {
            self.refuse_policy_lockout(ctx, call.identity_policies(), record, &parsed)?;
        }
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            r.policies.retain(|p| p.name != name);
            r.policies.push(ResourcePolicy {
                name: name.to_string(),
                document: document.clone(),
            });
            let response = ResourcePolicyNameResponse {
                arn: r.arn.to_string(),
                name: r.name.to_string(),
                policy_name: Some(name.to_string()),
            };
            Ok(Change::Write(response, VersionWrites::default()))
        })
        .await
    }

    pub(super) async fn delete_resource_policy(
        &self,
        call: Authorized<ResourcePolicyRequest>,
    ) -> Result<ResourcePolicyNameResponse> {
        let req = &call.request;
        let name = policy_name(req.policy_name.as_deref())?.to_string();
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            let response = ResourcePolicyNameResponse {
                arn: r.arn.to_string(),
                name: r.name.to_string(),
                policy_name: Some(name.clone()),
            };
            if !r.policies.iter().any(|p| p.name == name) {
                if name != DEFAULT_POLICY_NAME {
                    return Err(Error::not_found(format!(
                        "Secrets Manager can't find a resource policy named {name} for the secret."
                    )));
                }
                return Ok(Change::Unchanged(response));
            }
            r.policies.retain(|p| p.name != name);
            Ok(Change::Write(response, VersionWrites::default()))
        })
        .await
    }

    pub(super) async fn list_resource_policies(
        &self,
        call: Authorized<ListResourcePoliciesRequest>,
    ) -> Result<ListResourcePoliciesResponse> {
        let req = &call.request;
        let max = page_size(req.max_results, 100)?;
        let record = call.secret()?;
        let names: Vec<PolicySummary> = record
            .policies
            .iter()
            .map(|p| PolicySummary {
                policy_name: p.name.clone(),
            })
            .collect();
        let paginator = Paginator::new(
            &self.config.paging_key,
            &format!("ListResourcePolicies|{}", record.arn),
        );
        let (resource_policies, next_token) =
            paginator.page(&names, req.next_token.as_deref(), max)?;
        Ok(ListResourcePoliciesResponse {
            resource_policies,
            next_token,
        })
    }

    pub(super) async fn validate_resource_policy(
        &self,
        call: Authorized<ValidateResourcePolicyRequest>,
    ) -> Result<ValidateResourcePolicyResponse> {
        let req = &call.request;
        let document = req
            .resource_policy
            .clone()
            .ok_or_else(|| Error::invalid_parameter("You must specify ResourcePolicy."))?;
        if req.secret_id.is_some() {
            call.secret()?;
        }
        if serde_json::from_str::<serde_json::Value>(&document).is_err() {
            return Err(Error::MalformedPolicyDocument(
                "The policy document is not valid JSON.".into(),
            ));
        }
        let validation_errors: Vec<ValidationErrorEntry> = validate_resource_policy(&document)
            .into_iter()
            .map(|issue| ValidationErrorEntry {
                check_name: issue.check_name,
                error_message: issue.error_message,
            })
            .collect();
        Ok(ValidateResourcePolicyResponse {
            policy_validation_passed: validation_errors.is_empty(),
            validation_errors,
        })
    }
}
