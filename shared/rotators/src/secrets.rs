//! The Secrets Manager calls a rotation makes, on the official SDK client pointed at Coffer (or
//! AWS): the staging metadata, a value by stage (and version), a random password, the new
//! AWSPENDING value, and the final AWSCURRENT move.
//!
//! Where this sits: between [`crate::template`] and the API. SDK errors become
//! [`StepErrorKind::Api`] with the operation, the error code and the server's message (which
//! never holds a secret value); values are parsed into [`SecretValue`] here, and the raw
//! strings are zeroized.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use zeroize::Zeroizing;

use crate::config::PasswordSettings;
use crate::error::StepErrorKind;
use crate::secret::SecretValue;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// DescribeSecret's rotation state and staging labels.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub rotation_enabled: Option<bool>,
    pub versions: HashMap<String, Vec<String>>,
}

impl Metadata {
    /// The version holding `stage`.
    pub fn holder_of(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }

    pub fn has_stage(&self, version: &str, stage: &str) -> bool {
        self.versions
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }
}

/// The Secrets Manager API as a rotation uses it.
#[derive(Clone)]
pub struct SecretsApi {
    client: Client,
}

impl SecretsApi {
    pub fn new(client: Client) -> Self {
        SecretsApi { client }
    }

    pub async fn describe(&self, secret_id: &str) -> Result<Metadata, StepErrorKind> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| api_error("DescribeSecret", e))?;
        Ok(Metadata {
            rotation_enabled: out.rotation_enabled(),
            versions: out.version_ids_to_stages().cloned().unwrap_or_default(),
        })
    }

    /// The value staged `stage` (on `version` when given); `None` when there is no such value
    /// (ResourceNotFoundException, as for a value-less AWSPENDING version).
    pub async fn value(
        &self,
        secret_id: &str,
        stage: &str,
        version: Option<&str>,
    ) -> Result<Option<SecretValue>, StepErrorKind> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_version_id(version.map(str::to_string))
            .send()
            .await;
        let mut out = match result {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(api_error("GetSecretValue", e)),
        };
        let raw = Zeroizing::new(out.secret_string.take().unwrap_or_default());
        SecretValue::parse(&raw)
            .map(Some)
            .map_err(|problem| StepErrorKind::SecretValue {
                stage: stage.to_string(),
                secret: secret_id.to_string(),
                problem,
            })
    }

    /// As [`SecretsApi::value`], for a value that must exist.
    pub async fn required_value(
        &self,
        secret_id: &str,
        stage: &str,
        version: Option<&str>,
    ) -> Result<SecretValue, StepErrorKind> {
        self.value(secret_id, stage, version)
            .await?
            .ok_or_else(|| StepErrorKind::SecretValue {
                stage: stage.to_string(),
                secret: secret_id.to_string(),
                problem: "does not exist".into(),
            })
    }

    pub async fn random_password(
        &self,
        settings: &PasswordSettings,
    ) -> Result<Zeroizing<String>, StepErrorKind> {
        let mut out = self
            .client
            .get_random_password()
            .exclude_characters(&settings.exclude_characters)
            .password_length(settings.length)
            .send()
            .await
            .map_err(|e| api_error("GetRandomPassword", e))?;
        Ok(Zeroizing::new(
            out.random_password.take().unwrap_or_default(),
        ))
    }

    /// PutSecretValue of `value` as version `token`, staged AWSPENDING (with the event's
    /// RotationToken when it has one).
    pub async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretValue,
        rotation_token: Option<&str>,
    ) -> Result<(), StepErrorKind> {
        let json = value.to_json();
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(json.as_str())
            .version_stages(AWSPENDING)
            .set_rotation_token(rotation_token.map(str::to_string))
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("PutSecretValue", e))
    }

    /// Moves AWSCURRENT to `token` from `from` (AWSPREVIOUS follows on the server).
    pub async fn promote(
        &self,
        secret_id: &str,
        token: &str,
        from: Option<&str>,
    ) -> Result<(), StepErrorKind> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(AWSCURRENT)
            .move_to_version_id(token)
            .set_remove_from_version_id(from.map(str::to_string))
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error("UpdateSecretVersionStage", e))
    }
}

fn api_error<E, R>(operation: &'static str, e: SdkError<E, R>) -> StepErrorKind
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => StepErrorKind::Api {
            operation,
            code: se.code().unwrap_or("Unknown").to_string(),
            message: se.message().unwrap_or_default().to_string(),
        },
        None => StepErrorKind::Api {
            operation,
            code: "ClientError".into(),
            message: DisplayErrorContext(&e).to_string(),
        },
    }
}
