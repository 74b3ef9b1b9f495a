//! The envelope step of the data path: a fresh data key per version from the `KeyProvider`,
//! AES-256-GCM through [`crate::crypto`], and the mapping of key failures to the AWS errors
//! (`EncryptionFailure`, `DecryptionFailure`, `ResourceNotFoundException`, ...).

use super::SecretsService;
use crate::crypto::{self, NONCE_LEN};
use crate::error::{Error, Result};
use crate::ids::{Scope, SecretArn, VersionId};
use crate::model::EncryptedValue;
use crate::ports::{encryption_context, KeyError};
use crate::value::SecretValue;

/// A caller's `KmsKeyId`: absent or empty means the default key.
pub(super) fn key_choice(kms_key_id: Option<&str>) -> Option<&str> {
    kms_key_id.filter(|k| !k.is_empty())
}

fn encryption_error(e: KeyError) -> Error {
    match e {
        KeyError::NotFound(_) => {
            Error::not_found("Secrets Manager can't find the specified encryption key.")
        }
        KeyError::Disabled(_) => Error::EncryptionFailure(
            "Secrets Manager can't encrypt the secret value because the KMS key is disabled."
                .into(),
        ),
        KeyError::AccessDenied(_) => Error::EncryptionFailure(
            "Secrets Manager can't encrypt the secret value: access to the KMS key is not allowed."
                .into(),
        ),
        KeyError::InvalidCiphertext => Error::EncryptionFailure(
            "Secrets Manager can't encrypt the secret value with the KMS key.".into(),
        ),
        KeyError::Throttled => Error::Throttling("Rate exceeded for the KMS key.".into()),
        KeyError::Unavailable(cause) => {
            tracing::error!(%cause, "key provider unavailable during encryption");
            Error::internal("An error occurred on the server side.")
        }
    }
}

fn key_refused_decryption(reason: &str) -> Error {
    Error::DecryptionFailure(format!(
        "Secrets Manager can't decrypt the protected secret text using the provided KMS key: {reason}"
    ))
}

fn decryption_error(e: KeyError) -> Error {
    match e {
        KeyError::NotFound(_) => key_refused_decryption("the key does not exist."),
        KeyError::Disabled(_) => key_refused_decryption("the key is disabled."),
        KeyError::InvalidCiphertext => {
            key_refused_decryption("the ciphertext is not valid for this key.")
        }
        KeyError::AccessDenied(_) => Error::DecryptionFailure(
            "Secrets Manager can't decrypt the secret value: access to the KMS key is not allowed."
                .into(),
        ),
        KeyError::Throttled => Error::Throttling("Rate exceeded for the KMS key.".into()),
        KeyError::Unavailable(cause) => {
            tracing::error!(%cause, "key provider unavailable during decryption");
            Error::internal("An error occurred on the server side.")
        }
    }
}

/// A value sealed for one version, with the ARN of the master key that wrapped its data key.
pub(super) struct Sealed {
    pub value: EncryptedValue,
    pub key_arn: String,
}

impl SecretsService {
    /// Checks that the key a secret is configured with exists and can be used.
    pub(super) async fn check_key(
        &self,
        scope: &Scope,
        kms_key_id: Option<&str>,
    ) -> Result<String> {
        self.ports
            .keys
            .resolve(scope, key_choice(kms_key_id))
            .await
            .map_err(encryption_error)
    }

    pub(super) async fn seal_value(
        &self,
        scope: &Scope,
        kms_key_id: Option<&str>,
        arn: &SecretArn,
        version: &VersionId,
        value: &SecretValue,
    ) -> Result<Sealed> {
        let context = encryption_context(arn.as_str(), version.as_str());
        let data_key = self
            .ports
            .keys
            .generate_data_key(scope, key_choice(kms_key_id), &context)
            .await
            .map_err(encryption_error)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.ports.random.fill(&mut nonce);
        let envelope = crypto::seal(
            &data_key.plaintext,
            &data_key.wrapped,
            &context,
            &nonce,
            value.bytes(),
        );
        Ok(Sealed {
            value: EncryptedValue {
                version_id: version.clone(),
                kind: value.kind().into(),
                envelope,
            },
            key_arn: data_key.key_arn,
        })
    }

    pub(super) async fn open_value(
        &self,
        scope: &Scope,
        arn: &SecretArn,
        stored: &EncryptedValue,
    ) -> Result<SecretValue> {
        let context = encryption_context(arn.as_str(), stored.version_id.as_str());
        let corrupt = |_| {
            tracing::error!(secret = %arn, version = %stored.version_id, "stored envelope is malformed");
            Error::DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text.".into(),
            )
        };
        let parsed = crypto::parse(&stored.envelope).map_err(corrupt)?;
        let data_key = self
            .ports
            .keys
            .decrypt_data_key(scope, parsed.wrapped_key, &context)
            .await
            .map_err(decryption_error)?;
        let plaintext = crypto::open(&parsed, &data_key, &context).map_err(corrupt)?;
        Ok(SecretValue::from_parts(
            stored.kind.into(),
            plaintext.to_vec(),
        ))
    }
}
