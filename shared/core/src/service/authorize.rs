//! Authorization of every call, before the operation runs: the policy engine decides with the
//! caller's identity policies (from the `PrincipalStore`) and the secret's resource policies
//! (`record.policies`). Only the secret's metadata is read to decide (its ARN, tags and
//! policies); no value is read and nothing is written before the decision.
//!
//! A denied caller gets the same `AccessDeniedException` whether or not the secret exists: for a
//! missing secret the engine decides on the ARN the caller would have named, and the message
//! names the `SecretId` as sent. The root principal of the secret's own account is allowed
//! everything except what a resource policy explicitly denies (the engine's rule).
//!
//! Cross-account: a `SecretId` that is an ARN in another account of the same region is looked up
//! there; if allowed, the operation runs in the owner's scope.

use super::{RequestContext, SecretsService};
use crate::error::{Error, Result};
use crate::ids::SecretId;
use crate::model::SecretRecord;
use crate::policy::{
    access_denied_message, evaluate_all, json_key_access, parse_policy, required_actions,
    AuthorizationRequest, JsonKeyAccess, PolicyDocument, SecretFacts,
};
use crate::ports::DEFAULT_KEY_ALIAS;
use crate::principals::identity_policies_of;
use crate::value::SecretValue;
use serde_json::Value;

/// The outcome of authorizing a call.
pub(super) struct Authorized {
    /// The context the operation runs in (the secret owner's scope for cross-account calls).
    pub ctx: RequestContext,
}

impl SecretsService {
    /// The caller's identity policies (root and unknown principals have none; see
    /// [`identity_policies_of`]).
    pub(crate) async fn identity_policies(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<PolicyDocument>> {
        let Some(store) = &self.principals else {
            return Ok(Vec::new());
        };
        identity_policies_of(store.as_ref(), &ctx.principal)
            .await
            .map_err(super::lookup::storage_error)
    }

    fn base_request(
        &self,
        ctx: &RequestContext,
        request: AuthorizationRequest,
    ) -> AuthorizationRequest {
        let mut request = request
            .with_current_time(self.ports.clock.now().to_offset_datetime())
            .with_secure_transport(ctx.secure_transport);
        if let Some(ip) = ctx.source_ip {
            request = request.with_source_ip(ip);
        }
        request
    }

    /// Looks up the secret a call names for authorization: in the caller's scope, or by ARN in
    /// another account of the same region. `Ok(None)`: not found.
    async fn secret_for_authorization(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
    ) -> Result<(Option<SecretRecord>, String)> {
        let id = SecretId::parse(secret_id)?;
        let (scope, would_be_arn) = match &id {
            SecretId::Name(name) => (
                ctx.scope.clone(),
                format!(
                    "arn:aws:secretsmanager:{}:{}:secret:{name}",
                    ctx.scope.region, ctx.scope.account
                ),
            ),
            SecretId::Arn { arn, scope, .. } => (scope.clone(), arn.clone()),
        };
        if scope.region != ctx.scope.region {
            return Ok((None, would_be_arn));
        }
        let lookup_ctx = RequestContext {
            scope,
            ..ctx.clone()
        };
        match self.find_secret(&lookup_ctx, Some(secret_id)).await {
            Ok(record) => Ok((Some(record), would_be_arn)),
            Err(Error::ResourceNotFound(_)) => Ok((None, would_be_arn)),
            Err(e) => Err(e),
        }
    }

    /// Decides whether `ctx`'s caller may run `operation` with `body`.
    pub(super) async fn authorize(
        &self,
        ctx: &RequestContext,
        operation: &str,
        body: &[u8],
    ) -> Result<Authorized> {
        let request: Value = serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
            .unwrap_or(Value::Null);
        // Operations outside the table (unknown, replication) fail in dispatch as before.
        let secret_id = request
            .get("SecretId")
            .and_then(Value::as_str)
            .filter(|_| operation != "CreateSecret" && operation != "BatchGetSecretValue");
        let (record, resource_arn) = match secret_id {
            Some(id) => match self.secret_for_authorization(ctx, id).await {
                Ok(found) => found,
                // A malformed SecretId: let the operation report it.
                Err(_) => return Ok(Authorized { ctx: ctx.clone() }),
            },
            None => (None, String::new()),
        };
        let resource_arn = match (operation, &record) {
            (_, Some(r)) => r.arn.to_string(),
            ("CreateSecret", _) => request
                .get("Name")
                .and_then(Value::as_str)
                .map(|n| {
                    format!(
                        "arn:aws:secretsmanager:{}:{}:secret:{n}",
                        ctx.scope.region, ctx.scope.account
                    )
                })
                .unwrap_or_default(),
            _ => resource_arn,
        };
        let facts = record.as_ref().map(facts_of);
        let Some(required) = required_actions(operation, &request, facts.as_ref()) else {
            return Ok(Authorized { ctx: ctx.clone() });
        };
        let identity = self.identity_policies(ctx).await?;
        let resource_policies = record
            .as_ref()
            .map(resource_policies_of)
            .unwrap_or_default();
        for action in &required {
            let mut req =
                self.base_request(ctx, action.to_request(ctx.principal.clone(), &resource_arn));
            if let Some(id) = secret_id {
                req = req.with_message_resource(id);
            }
            let decision = evaluate_all(&req, &identity, &resource_policies);
            if !decision.is_allowed() {
                return Err(Error::AccessDenied(access_denied_message(&req, &decision)));
            }
        }
        if let Some(r) = &record {
            refuse_default_key_across_accounts(ctx, r, operation, &request)?;
        }
        let ctx = match &record {
            Some(r) if r.scope != ctx.scope => RequestContext {
                scope: r.scope.clone(),
                ..ctx.clone()
            },
            _ => ctx.clone(),
        };
        Ok(Authorized { ctx })
    }

    /// The lockout check of PutResourcePolicy: refuses a new resource policy under which the
    /// caller could no longer change the secret's policy (`secretsmanager:PutResourcePolicy`
    /// explicitly denied to it, or, across accounts, no longer allowed), as KMS refuses a key
    /// policy that would lock its author out. The caller's account root is not exempt from an
    /// explicit deny, so it is checked like everyone else.
    pub(super) async fn refuse_policy_lockout(
        &self,
        ctx: &RequestContext,
        record: &SecretRecord,
        new_policy: &PolicyDocument,
    ) -> Result<()> {
        let body = serde_json::json!({ "SecretId": record.arn.as_str() });
        let facts = facts_of(record);
        let Some(required) = required_actions("PutResourcePolicy", &body, Some(&facts)) else {
            return Ok(());
        };
        let identity = self.identity_policies(ctx).await?;
        let policies = [new_policy.clone()];
        for action in &required {
            let req = self.base_request(
                ctx,
                action.to_request(ctx.principal.clone(), record.arn.as_str()),
            );
            if !evaluate_all(&req, &identity, &policies).is_allowed() {
                return Err(Error::MalformedPolicyDocument(format!(
                    "The new resource policy will not allow you to update the resource policy in the future: it does not let {} perform {} on this secret.",
                    ctx.principal.arn, action.action
                )));
            }
        }
        Ok(())
    }

    /// Authorizes one value read of a batch (GetSecretValue on the secret), before the value is
    /// read. `record` is the lookup's outcome; a denial replaces a not-found so that the caller
    /// learns nothing about existence.
    pub(super) async fn authorize_batch_read(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
        record: &Result<SecretRecord>,
    ) -> Result<()> {
        let resource_arn = match record {
            Ok(r) => r.arn.to_string(),
            Err(_) if secret_id.starts_with("arn:") => secret_id.to_string(),
            Err(_) => format!(
                "arn:aws:secretsmanager:{}:{}:secret:{secret_id}",
                ctx.scope.region, ctx.scope.account
            ),
        };
        let facts = record.as_ref().ok().map(facts_of);
        let body = serde_json::json!({ "SecretId": secret_id });
        let Some(required) = required_actions("GetSecretValue", &body, facts.as_ref()) else {
            return Ok(());
        };
        let identity = self.identity_policies(ctx).await?;
        let resource_policies = record
            .as_ref()
            .map(resource_policies_of)
            .unwrap_or_default();
        for action in &required {
            let req = self
                .base_request(ctx, action.to_request(ctx.principal.clone(), &resource_arn))
                .with_message_resource(secret_id);
            let decision = evaluate_all(&req, &identity, &resource_policies);
            if !decision.is_allowed() {
                return Err(Error::AccessDenied(access_denied_message(&req, &decision)));
            }
        }
        if let Ok(r) = record {
            refuse_default_key_across_accounts(ctx, r, "GetSecretValue", &body)?;
        }
        Ok(())
    }

    /// Phase 2 of a value read (`coffer:JsonKey`): the value the caller may see of `value`
    /// read from `record`, or the denial.
    pub(super) async fn filter_value(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
        record: &SecretRecord,
        request: &Value,
        value: SecretValue,
    ) -> Result<SecretValue> {
        if ctx.principal.is_root() && ctx.principal.account == ctx.scope.account {
            // The engine's root rule: only an explicit deny of the resource policy could
            // stop root, and phase 1 already checked that.
            return Ok(value);
        }
        let identity = self.identity_policies(ctx).await?;
        let facts = facts_of(record);
        let resource_policies = resource_policies_of(record);
        let record_arn = record.arn.as_str();
        let Some(required) = required_actions("GetSecretValue", request, Some(&facts)) else {
            return Ok(value);
        };
        let req = self
            .base_request(
                ctx,
                required[0].to_request(ctx.principal.clone(), record_arn),
            )
            .with_message_resource(secret_id);
        match json_key_access(&req, &identity, &resource_policies, value.as_str()) {
            JsonKeyAccess::Full => Ok(value),
            JsonKeyAccess::Keys(keys) => {
                let text = value.as_str().unwrap_or_default();
                let filtered = crate::policy::filter_secret_string(text, &keys)
                    .ok_or_else(|| Error::internal("The value could not be filtered."))?;
                Ok(SecretValue::string(filtered.to_string()))
            }
            JsonKeyAccess::Denied(decision) => {
                Err(Error::AccessDenied(access_denied_message(&req, &decision)))
            }
        }
    }
}

/// The message AWS answers a cross-account value call on a secret under the default key with.
pub const DEFAULT_KEY_CROSS_ACCOUNT_MESSAGE: &str = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";

/// AWS's rule: the AWS managed key `aws/secretsmanager` trusts only its own account, so a call
/// from another account that must encrypt or decrypt the value (GetSecretValue, PutSecretValue,
/// an UpdateSecret carrying a value, each read of a BatchGetSecretValue) is refused, whatever
/// the policies allow. Calls on metadata (DescribeSecret, tags, policies) are not affected.
fn refuse_default_key_across_accounts(
    ctx: &RequestContext,
    record: &SecretRecord,
    operation: &str,
    request: &Value,
) -> Result<()> {
    let carries_value =
        request.get("SecretString").is_some() || request.get("SecretBinary").is_some();
    let uses_the_key = match operation {
        "GetSecretValue" | "PutSecretValue" => true,
        "UpdateSecret" => carries_value,
        _ => false,
    };
    if uses_the_key
        && ctx.principal.account != record.scope.account
        && uses_default_key(record.kms_key_id.as_deref())
    {
        return Err(Error::AccessDenied(
            DEFAULT_KEY_CROSS_ACCOUNT_MESSAGE.to_string(),
        ));
    }
    Ok(())
}

/// True for a secret under the AWS managed key: no `KmsKeyId`, or the managed key's alias
/// (by name or alias ARN).
fn uses_default_key(kms_key_id: Option<&str>) -> bool {
    match kms_key_id {
        None => true,
        Some(id) => id == DEFAULT_KEY_ALIAS || id.ends_with(&format!(":{DEFAULT_KEY_ALIAS}")),
    }
}

pub(super) fn facts_of(record: &SecretRecord) -> SecretFacts {
    SecretFacts {
        arn: record.arn.to_string(),
        tags: record
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        rotation_lambda_arn: record.rotation.lambda_arn.clone(),
        primary_region: Some(record.scope.region.clone()),
    }
}

pub(super) fn resource_policies_of(record: &SecretRecord) -> Vec<PolicyDocument> {
    record
        .policies
        .iter()
        .filter_map(|p| parse_policy(&p.document).ok())
        .collect()
}
