//! Authorization of every call, after its typed request is decoded and validated and before
//! the operation runs: the policy engine ([`coffer_policy`]) decides with the caller's identity policies (from the
//! `PrincipalStore`) and the secret's resource policies (`record.policies`).
//!
//! Data path: `handle` -> `prepare` (decode, validate) -> [`SecretsService::authorize`] -> the
//! operation, which takes the [`Authorized`] value this module alone can build. It carries what
//! authorization loaded — the secret record with its revision (and, for a read of AWSCURRENT,
//! its value), the caller's identity policies — so the operation does not read them again.
//!
//! Fail closed: every error while deciding is the answer. A lookup that fails for any reason but
//! "no such secret" returns that error (throttling stays retryable); a stored policy that no
//! longer parses refuses the call; an operation with no action to check is refused. A missing
//! secret is decided on the ARN the caller named: a caller allowed the action there learns
//! `ResourceNotFoundException` (from the operation), any other `AccessDeniedException`, and the
//! denial's message names the `SecretId` as sent. The root principal of the secret's own account
//! is allowed everything except what a resource policy explicitly denies (the engine's rule).
//!
//! Cross-account: a `SecretId` that is an ARN in another account of the same region is looked up
//! there; if allowed, the operation runs in the owner's scope.

use super::call::SecretsRequest;
use super::{RequestContext, SecretsService};
use crate::error::{Error, Result};
use crate::identity::principals::identity_policies_of;
use crate::ids::SecretId;
use crate::model::{EncryptedValue, SecretRecord};
use crate::operation::Operation;
use crate::policy_actions::{required_actions, SecretFacts};
use crate::ports::DEFAULT_KEY_ALIAS;
use crate::value::SecretValue;
use coffer_policy::{
    access_denied_message, evaluate_all, json_key_access, parse_policy, AuthorizationRequest,
    JsonKeyAccess, PolicyDocument,
};
use serde_json::Value;

/// The secret a call names, as authorization loaded it.
pub(super) struct LoadedSecret {
    pub record: SecretRecord,
    /// The AWSCURRENT value, when the call reads it and the repository fetched it with the
    /// record.
    pub current: Option<EncryptedValue>,
}

/// Proof that authorization ran and allowed the call `request`; only
/// [`SecretsService::authorize`] builds one, and every operation takes one.
pub(super) struct Authorized<R> {
    pub request: R,
    ctx: RequestContext,
    loaded: Option<LoadedSecret>,
    identity: Vec<PolicyDocument>,
}

impl<R> Authorized<R> {
    /// The context the operation runs in (the secret owner's scope for cross-account calls).
    pub fn ctx(&self) -> &RequestContext {
        &self.ctx
    }

    /// The secret the call names, as loaded: `ResourceNotFoundException` when there is none
    /// (the caller was allowed the action on the ARN it named, so it may learn that).
    pub fn secret(&self) -> Result<&SecretRecord> {
        self.loaded
            .as_ref()
            .map(|l| &l.record)
            .ok_or_else(|| Error::not_found(super::lookup::SECRET_NOT_FOUND))
    }

    /// The AWSCURRENT value loaded with the record, once.
    pub fn take_current(&mut self) -> Option<EncryptedValue> {
        self.loaded.as_mut().and_then(|l| l.current.take())
    }

    /// The caller's identity policies, as loaded to decide.
    pub fn identity_policies(&self) -> &[PolicyDocument] {
        &self.identity
    }
}

/// What authorization found for a `SecretId`: the loaded secret, or the ARN the caller named.
struct Target {
    loaded: Option<LoadedSecret>,
    would_be_arn: String,
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

    /// Loads the secret `secret_id` names for authorization: in the caller's scope, or by ARN
    /// in another account of the same region. Not found is `loaded: None`; any other failure
    /// is the error.
    async fn load_target(
        &self,
        ctx: &RequestContext,
        secret_id: &str,
        with_current: bool,
    ) -> Result<Target> {
        let id = SecretId::parse(secret_id)?;
        let (scope, would_be_arn) = match &id {
            SecretId::Name(name) => (
                ctx.scope.clone(),
                format!(
                    "arn:{}:secretsmanager:{}:{}:secret:{name}",
                    ctx.scope.partition, ctx.scope.region, ctx.scope.account
                ),
            ),
            SecretId::Arn { arn, scope, .. } => (scope.clone(), arn.clone()),
        };
        if scope.region != ctx.scope.region {
            return Ok(Target {
                loaded: None,
                would_be_arn,
            });
        }
        let lookup_ctx = RequestContext {
            scope,
            ..ctx.clone()
        };
        let found = if with_current {
            self.find_secret_with_current(&lookup_ctx, Some(secret_id))
                .await
                .map(|(record, current)| LoadedSecret { record, current })
        } else {
            self.find_secret(&lookup_ctx, Some(secret_id))
                .await
                .map(|record| LoadedSecret {
                    record,
                    current: None,
                })
        };
        match found {
            Ok(loaded) => Ok(Target {
                loaded: Some(loaded),
                would_be_arn,
            }),
            Err(Error::ResourceNotFound(_)) => Ok(Target {
                loaded: None,
                would_be_arn,
            }),
            Err(e) => Err(e),
        }
    }

    /// Decides whether `ctx`'s caller may run `operation` with `request` (whose JSON view is
    /// `view`), loading what the decision needs; the operation runs on what is returned.
    pub(super) async fn authorize<R: SecretsRequest>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        request: R,
        view: &Value,
    ) -> Result<Authorized<R>> {
        let identity = self.identity_policies(ctx).await?;
        let secret_id = request
            .secret_id()
            .filter(|_| operation != Operation::CreateSecret);
        let target = match secret_id {
            Some(id) => Some(
                self.load_target(ctx, id, request.reads_current_value())
                    .await?,
            ),
            None => None,
        };
        let record = target
            .as_ref()
            .and_then(|t| t.loaded.as_ref())
            .map(|l| &l.record);
        let resource_arn = match (&target, record) {
            (_, Some(r)) => r.arn.to_string(),
            (Some(t), None) => t.would_be_arn.clone(),
            (None, None) => match (operation, view.get("Name").and_then(Value::as_str)) {
                (Operation::CreateSecret, Some(name)) => format!(
                    "arn:{}:secretsmanager:{}:{}:secret:{name}",
                    ctx.scope.partition, ctx.scope.region, ctx.scope.account
                ),
                _ => String::new(),
            },
        };
        let facts = record.map(facts_of);
        let required = required_actions(operation, view, facts.as_ref());
        if required.is_empty() {
            return Err(Error::AccessDenied(format!(
                "{} is not a Secrets Manager operation this endpoint authorizes.",
                operation.name()
            )));
        }
        let resource_policies = match record {
            Some(r) => resource_policies_of(r)?,
            None => Vec::new(),
        };
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
        if let Some(r) = record {
            refuse_default_key_across_accounts(ctx, r, request.carries_value())?;
        }
        let ctx = match record {
            Some(r) if r.scope != ctx.scope => RequestContext {
                scope: r.scope.clone(),
                ..ctx.clone()
            },
            _ => ctx.clone(),
        };
        Ok(Authorized {
            request,
            ctx,
            loaded: target.and_then(|t| t.loaded),
            identity,
        })
    }

    /// The lockout check of PutResourcePolicy: refuses a new resource policy under which the
    /// caller could no longer change the secret's policy (`secretsmanager:PutResourcePolicy`
    /// explicitly denied to it, or, across accounts, no longer allowed), as KMS refuses a key
    /// policy that would lock its author out. The caller's account root is not exempt from an
    /// explicit deny, so it is checked like everyone else.
    pub(super) fn refuse_policy_lockout(
        &self,
        ctx: &RequestContext,
        identity: &[PolicyDocument],
        record: &SecretRecord,
        new_policy: &PolicyDocument,
    ) -> Result<()> {
        let body = serde_json::json!({ "SecretId": record.arn.as_str() });
        let facts = facts_of(record);
        let required = required_actions(Operation::PutResourcePolicy, &body, Some(&facts));
        let policies = [new_policy.clone()];
        for action in &required {
            let req = self.base_request(
                ctx,
                action.to_request(ctx.principal.clone(), record.arn.as_str()),
            );
            if !evaluate_all(&req, identity, &policies).is_allowed() {
                return Err(Error::MalformedPolicyDocument(format!(
                    "The new resource policy will not allow you to update the resource policy in the future: it does not let {} perform {} on this secret.",
                    ctx.principal.arn, action.action
                )));
            }
        }
        Ok(())
    }

    /// Authorizes one value read of a batch (GetSecretValue on the secret `secret_id` names),
    /// loading the secret: the record to read, or the error for this secret (a denial replaces
    /// a not-found, so the caller learns nothing about existence). A storage failure is the
    /// error of the whole call.
    pub(super) async fn authorize_batch_read(
        &self,
        ctx: &RequestContext,
        identity: &[PolicyDocument],
        secret_id: &str,
    ) -> Result<Result<SecretRecord>> {
        let target = match self.load_target(ctx, secret_id, false).await {
            Ok(t) => t,
            Err(e @ (Error::Throttling(_) | Error::InternalServiceError(_))) => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let record = target.loaded.map(|l| l.record);
        let decided = self.authorize_read_of(
            ctx,
            identity,
            secret_id,
            &target.would_be_arn,
            record.as_ref(),
        );
        Ok(decided
            .and_then(|()| record.ok_or_else(|| Error::not_found(super::lookup::SECRET_NOT_FOUND))))
    }

    /// Decides GetSecretValue on `record` (or, when it was not found, on `would_be_arn`) for
    /// one secret of a batch.
    pub(super) fn authorize_read_of(
        &self,
        ctx: &RequestContext,
        identity: &[PolicyDocument],
        secret_id: &str,
        would_be_arn: &str,
        record: Option<&SecretRecord>,
    ) -> Result<()> {
        let resource_arn = record.map_or(would_be_arn.to_string(), |r| r.arn.to_string());
        let facts = record.map(facts_of);
        let body = serde_json::json!({ "SecretId": secret_id });
        let required = required_actions(Operation::GetSecretValue, &body, facts.as_ref());
        let resource_policies = match record {
            Some(r) => resource_policies_of(r)?,
            None => Vec::new(),
        };
        for action in &required {
            let req = self
                .base_request(ctx, action.to_request(ctx.principal.clone(), &resource_arn))
                .with_message_resource(secret_id);
            let decision = evaluate_all(&req, identity, &resource_policies);
            if !decision.is_allowed() {
                return Err(Error::AccessDenied(access_denied_message(&req, &decision)));
            }
        }
        if let Some(r) = record {
            refuse_default_key_across_accounts(ctx, r, true)?;
        }
        Ok(())
    }

    /// Phase 2 of a value read (`coffer:JsonKey`): the value the caller may see of `value`
    /// read from `record`, or the denial.
    pub(super) fn filter_value(
        &self,
        ctx: &RequestContext,
        identity: &[PolicyDocument],
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
        let facts = facts_of(record);
        let resource_policies = resource_policies_of(record)?;
        let record_arn = record.arn.as_str();
        let required = required_actions(Operation::GetSecretValue, request, Some(&facts));
        let Some(first) = required.first() else {
            return Err(Error::internal("The value read could not be authorized."));
        };
        let req = self
            .base_request(ctx, first.to_request(ctx.principal.clone(), record_arn))
            .with_message_resource(secret_id);
        match json_key_access(&req, identity, &resource_policies, value.as_str()) {
            JsonKeyAccess::Full => Ok(value),
            JsonKeyAccess::Keys(keys) => {
                let text = value.as_str().unwrap_or_default();
                let filtered = coffer_policy::filter_secret_string(text, &keys)
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
/// an UpdateSecret carrying a value, each read of a BatchGetSecretValue:
/// [`SecretsRequest::carries_value`]) is refused, whatever the policies allow. Calls on
/// metadata (DescribeSecret, tags, policies) are not affected.
fn refuse_default_key_across_accounts(
    ctx: &RequestContext,
    record: &SecretRecord,
    uses_the_key: bool,
) -> Result<()> {
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

/// The secret's resource policies. One that no longer parses refuses the call (it might hold
/// a deny); policies are parsed when they are put, so this takes a parser change to happen.
pub(super) fn resource_policies_of(record: &SecretRecord) -> Result<Vec<PolicyDocument>> {
    record
        .policies
        .iter()
        .map(|p| {
            parse_policy(&p.document).map_err(|_| {
                tracing::error!(secret = %record.arn, policy = %p.name, "stored resource policy does not parse; refusing");
                Error::internal("The secret's resource policy could not be evaluated.")
            })
        })
        .collect()
}
