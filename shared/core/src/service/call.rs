//! The first stage of a call after authentication: the body decoded once into the operation's
//! typed request, its shape validated, and its JSON view made.
//!
//! Data path: `SecretsService::handle` -> [`decode_request`] -> [`SecretsRequest::validate`] ->
//! authorization (`authorize.rs`, which decides on [`SecretsRequest::view`]) -> the operation ->
//! the audit event (built from the same view). The view is the typed request serialized again:
//! only members of the operation's shape are in it, so a member the model does not define never
//! takes part in a decision, and secret values are in it only as a redaction marker.

use super::write::{check_description, check_kms_key_id, check_secret_type, value_from};
use crate::api::{
    BatchGetSecretValueRequest, CreateSecretRequest, DeleteSecretRequest, GetRandomPasswordRequest,
    GetSecretValueRequest, ListResourcePoliciesRequest, ListSecretVersionIdsRequest,
    ListSecretsRequest, PutResourcePolicyRequest, PutSecretValueRequest, ResourcePolicyRequest,
    RotateSecretRequest, SecretIdRequest, SensitiveBlob, SensitiveString, TagResourceRequest,
    UntagResourceRequest, UpdateSecretRequest, UpdateSecretVersionStageRequest,
    ValidateResourcePolicyRequest,
};
use crate::error::{Error, Result};
use crate::ids::{SecretId, SecretName, VersionId, AWSCURRENT};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The typed request of one Secrets Manager operation.
pub(crate) trait SecretsRequest: DeserializeOwned + Serialize + Send + Sync {
    /// The `SecretId` member, for shapes that have one.
    fn secret_id(&self) -> Option<&str> {
        None
    }

    /// True when the shape's `SecretId` is required (every shape with one but
    /// ValidateResourcePolicy's).
    fn requires_secret_id(&self) -> bool {
        false
    }

    /// True when the call reads the AWSCURRENT value: authorization then loads the value with
    /// the record (one read on DynamoDB for a GetSecretValue by name).
    fn reads_current_value(&self) -> bool {
        false
    }

    /// True when the call carries a secret value (the default-key rule across accounts).
    fn carries_value(&self) -> bool {
        false
    }

    /// Checks what can be checked without storage: required members and identifier syntax.
    /// Runs before authorization and before any lookup, as AWS validates first (protocol and
    /// shape -> parameters -> authorization -> lookup -> state).
    fn validate(&self) -> Result<()> {
        match (self.secret_id(), self.requires_secret_id()) {
            (None, true) => return Err(Error::invalid_parameter("You must specify SecretId.")),
            (Some(id), _) => {
                SecretId::parse(id)?;
            }
            (None, false) => {}
        }
        self.validate_members()
    }

    /// The operation's own parameter checks (after `SecretId`'s).
    fn validate_members(&self) -> Result<()> {
        Ok(())
    }

    /// The request as JSON: members of the shape only, absent members left out, secret values
    /// replaced by the redaction marker. Authorization decides on it, so a view that cannot be
    /// made refuses the call rather than deciding on nothing.
    fn view(&self) -> Result<Value> {
        serde_json::to_value(self)
            .map(without_nulls)
            .map_err(|_| Error::internal("The request could not be read for authorization."))
    }
}

/// Decodes a request body (empty means `{}`) into `R`. The message names the position of a
/// syntax error, never the text around it.
pub(crate) fn decode_request<R: DeserializeOwned>(body: &[u8]) -> Result<R> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        Error::Serialization(format!(
            "The request body could not be read: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Shapes whose `SecretId` is required.
macro_rules! names_a_secret {
    ($($shape:ty),+ $(,)?) => {$(
        impl SecretsRequest for $shape {
            fn secret_id(&self) -> Option<&str> {
                self.secret_id.as_deref()
            }
            fn requires_secret_id(&self) -> bool {
                true
            }
        }
    )+};
}

names_a_secret!(
    SecretIdRequest,
    UpdateSecretVersionStageRequest,
    ListSecretVersionIdsRequest,
    DeleteSecretRequest,
    TagResourceRequest,
    UntagResourceRequest,
    ResourcePolicyRequest,
    PutResourcePolicyRequest,
    ListResourcePoliciesRequest,
);

impl SecretsRequest for RotateSecretRequest {
    fn secret_id(&self) -> Option<&str> {
        self.secret_id.as_deref()
    }
    fn requires_secret_id(&self) -> bool {
        true
    }
    fn validate_members(&self) -> Result<()> {
        require_token(
            self.client_request_token.as_deref(),
            Error::InvalidParameter,
        )?;
        match self.rotation_lambda_arn.as_deref() {
            Some(function) if !function.is_empty() && !is_invocable_function(function) => {
                Err(Error::AccessDenied(LAMBDA_NOT_INVOCABLE.to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// AWS's answer to a `RotationLambdaARN` it cannot invoke; nothing about the secret changes.
pub(crate) const LAMBDA_NOT_INVOCABLE: &str = "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.";

/// A Lambda function ARN (`arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`)
/// or, for the local server's built-in rotators, a bare function name.
fn is_invocable_function(function: &str) -> bool {
    let name_ok = |n: &str| {
        (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !function.starts_with("arn:") {
        return name_ok(function);
    }
    let parts: Vec<&str> = function.split(':').collect();
    matches!(parts.len(), 7 | 8)
        && parts[2] == "lambda"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "function"
        && name_ok(parts[6])
        && parts.get(7).is_none_or(|q| {
            !q.is_empty()
                && q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
        })
}

impl SecretsRequest for GetSecretValueRequest {
    fn secret_id(&self) -> Option<&str> {
        self.secret_id.as_deref()
    }
    fn requires_secret_id(&self) -> bool {
        true
    }
    fn reads_current_value(&self) -> bool {
        self.version_id.is_none()
            && self
                .version_stage
                .as_deref()
                .is_none_or(|s| s == AWSCURRENT)
    }
    fn carries_value(&self) -> bool {
        true
    }
}

impl SecretsRequest for PutSecretValueRequest {
    fn secret_id(&self) -> Option<&str> {
        self.secret_id.as_deref()
    }
    fn requires_secret_id(&self) -> bool {
        true
    }
    fn carries_value(&self) -> bool {
        true
    }
    fn validate_members(&self) -> Result<()> {
        if self.secret_string.is_none() && self.secret_binary.is_none() {
            return Err(Error::invalid_request(
                "You must provide either SecretString or SecretBinary.",
            ));
        }
        value_from(
            self.secret_string.as_ref(),
            self.secret_binary.as_ref(),
            true,
        )?;
        require_token(self.client_request_token.as_deref(), Error::InvalidRequest)
    }
}

impl SecretsRequest for UpdateSecretRequest {
    fn secret_id(&self) -> Option<&str> {
        self.secret_id.as_deref()
    }
    fn requires_secret_id(&self) -> bool {
        true
    }
    fn carries_value(&self) -> bool {
        self.secret_string.is_some() || self.secret_binary.is_some()
    }
    fn validate_members(&self) -> Result<()> {
        check_secret_members(SecretMembers {
            string: self.secret_string.as_ref(),
            binary: self.secret_binary.as_ref(),
            description: self.description.as_deref(),
            secret_type: self.secret_type.as_deref(),
            kms_key_id: self.kms_key_id.as_deref(),
            token: self.client_request_token.as_deref(),
        })
    }
}

impl SecretsRequest for ValidateResourcePolicyRequest {
    fn secret_id(&self) -> Option<&str> {
        self.secret_id.as_deref()
    }
}

impl SecretsRequest for CreateSecretRequest {
    fn validate_members(&self) -> Result<()> {
        SecretName::parse(
            self.name
                .as_deref()
                .ok_or_else(|| Error::invalid_parameter("You must specify Name."))?,
        )?;
        check_secret_members(SecretMembers {
            string: self.secret_string.as_ref(),
            binary: self.secret_binary.as_ref(),
            description: self.description.as_deref(),
            secret_type: self.secret_type.as_deref(),
            kms_key_id: self.kms_key_id.as_deref(),
            token: self.client_request_token.as_deref(),
        })
    }
}

/// The members CreateSecret and UpdateSecret share.
struct SecretMembers<'a> {
    string: Option<&'a SensitiveString>,
    binary: Option<&'a SensitiveBlob>,
    description: Option<&'a str>,
    secret_type: Option<&'a str>,
    kms_key_id: Option<&'a str>,
    token: Option<&'a str>,
}

/// Their checks: the optional value, the text lengths, and a `ClientRequestToken` that is
/// required when a value (so a version) is given.
fn check_secret_members(m: SecretMembers<'_>) -> Result<()> {
    let value = value_from(m.string, m.binary, false)?;
    check_description(m.description)?;
    check_secret_type(m.secret_type)?;
    check_kms_key_id(m.kms_key_id)?;
    match value {
        Some(_) => require_token(m.token, Error::InvalidRequest),
        None => optional_token(m.token),
    }
}

/// AWS's answer to a call that would create a version without `ClientRequestToken` (the SDKs and
/// the CLI always fill one in; raw clients meet this).
pub(crate) const TOKEN_REQUIRED: &str =
    "You must provide a ClientRequestToken value. We recommend a UUID-type value.";

/// A version-creating call's `ClientRequestToken`: present (refused with `missing` otherwise,
/// whose error code differs by operation) and well-formed.
fn require_token(token: Option<&str>, missing: fn(String) -> Error) -> Result<()> {
    let token = token.ok_or_else(|| missing(TOKEN_REQUIRED.to_string()))?;
    VersionId::parse(token, "ClientRequestToken").map(|_| ())
}

fn optional_token(token: Option<&str>) -> Result<()> {
    token.map_or(Ok(()), |t| {
        VersionId::parse(t, "ClientRequestToken").map(|_| ())
    })
}

// Shapes that name no single secret.
impl SecretsRequest for BatchGetSecretValueRequest {}
impl SecretsRequest for ListSecretsRequest {}
impl SecretsRequest for GetRandomPasswordRequest {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_keeps_only_members_of_the_shape() {
        let r: ListSecretsRequest =
            decode_request(br#"{"SecretId":"","MaxResults":5,"Unknown":{"a":1}}"#).unwrap();
        assert_eq!(r.view().unwrap(), serde_json::json!({"MaxResults": 5}));
        assert_eq!(r.secret_id(), None);
    }

    #[test]
    fn view_redacts_values() {
        let r: PutSecretValueRequest =
            decode_request(br#"{"SecretId":"db","SecretString":"canary-value"}"#).unwrap();
        let text = r.view().unwrap().to_string();
        assert!(!text.contains("canary-value"), "{text}");
        assert!(text.contains("SecretString"));
    }

    #[test]
    fn validate_secret_id_missing_empty_or_malformed_is_refused() {
        let missing: SecretIdRequest = decode_request(b"{}").unwrap();
        assert_eq!(
            missing.validate().unwrap_err().code(),
            "InvalidParameterException"
        );
        let empty: SecretIdRequest = decode_request(br#"{"SecretId":""}"#).unwrap();
        assert!(empty.validate().is_err());
        let wrong_type = decode_request::<SecretIdRequest>(br#"{"SecretId":7}"#);
        assert!(wrong_type.is_err());
        let optional: ValidateResourcePolicyRequest = decode_request(b"{}").unwrap();
        assert!(optional.validate().is_ok());
    }

    #[test]
    fn decode_request_message_does_not_echo_the_body() {
        let e = decode_request::<SecretIdRequest>(br#"{"SecretId": "canary-text"#).unwrap_err();
        assert!(!e.message().contains("canary"), "{}", e.message());
    }
}
