//! Finding the secret a `SecretId` names (name, full ARN or partial ARN) in the caller's scope,
//! and the AWS errors for secrets that are missing or scheduled for deletion.

use super::{RequestContext, SecretsService};
use crate::clock::RandomSource;
use crate::error::{Error, Result};
use crate::ids::{SecretId, VersionId};
use crate::model::{EncryptedValue, SecretRecord};
use crate::ports::RepositoryError;

pub const SECRET_NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";

/// Maps a storage failure to the client-facing error, logging the cause once.
pub fn storage_error(e: RepositoryError) -> Error {
    match e {
        RepositoryError::Throttled(_) => {
            tracing::warn!(error = %e, "storage throttled");
            Error::Throttling("Rate exceeded".to_string())
        }
        RepositoryError::NameTaken
        | RepositoryError::Conflict
        | RepositoryError::Unavailable(_)
        | RepositoryError::Corrupt(_) => {
            tracing::error!(error = %e, "storage failure");
            Error::internal("An error occurred on the server side.")
        }
    }
}

/// A random UUID v4 string (version ids, event ids) from the injected random source.
pub fn new_uuid(random: &dyn RandomSource) -> String {
    let mut b = [0u8; 16];
    random.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Six random alphanumerics, the suffix AWS appends to a secret's ARN.
pub fn arn_suffix(random: &dyn RandomSource) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(6);
    while out.len() < 6 {
        let mut b = [0u8; 1];
        random.fill(&mut b);
        // 248 = 4 * 62: reject above it so every character is equally likely.
        if b[0] < 248 {
            out.push(ALPHABET[(b[0] % 62) as usize] as char);
        }
    }
    out
}

impl SecretsService {
    /// The secret `secret_id` names in the caller's scope, whatever its state.
    pub(super) async fn find_secret(
        &self,
        ctx: &RequestContext,
        secret_id: Option<&str>,
    ) -> Result<SecretRecord> {
        let raw =
            secret_id.ok_or_else(|| Error::invalid_parameter("You must specify SecretId."))?;
        let id = SecretId::parse(raw)?;
        let repo = &self.ports.repository;
        let found = match &id {
            SecretId::Name(name) => repo.get_by_name(&ctx.scope, name).await,
            SecretId::Arn {
                arn,
                scope,
                resource,
            } => {
                if scope.region != ctx.scope.region || scope.account != ctx.scope.account {
                    Ok(None)
                } else {
                    match repo.get_by_arn(arn).await {
                        Ok(None) => repo.get_by_name(&ctx.scope, resource).await,
                        other => other,
                    }
                }
            }
        };
        found
            .map_err(storage_error)?
            .ok_or_else(|| Error::not_found(SECRET_NOT_FOUND))
    }

    /// As `find_secret`, also returning the AWSCURRENT value when the repository can fetch it
    /// with the record (one read for GetSecretValue by name).
    pub(super) async fn find_secret_with_current(
        &self,
        ctx: &RequestContext,
        secret_id: Option<&str>,
    ) -> Result<(SecretRecord, Option<EncryptedValue>)> {
        let raw =
            secret_id.ok_or_else(|| Error::invalid_parameter("You must specify SecretId."))?;
        match SecretId::parse(raw)? {
            SecretId::Name(name) => self
                .ports
                .repository
                .get_by_name_with_current(&ctx.scope, &name)
                .await
                .map_err(storage_error)?
                .ok_or_else(|| Error::not_found(SECRET_NOT_FOUND)),
            SecretId::Arn { .. } => Ok((self.find_secret(ctx, secret_id).await?, None)),
        }
    }

    /// The id of the version a request creates: its `ClientRequestToken`, or a fresh UUID.
    pub(super) fn version_id_from_token(&self, token: Option<&str>) -> Result<VersionId> {
        match token {
            Some(t) => VersionId::parse(t, "ClientRequestToken"),
            None => Ok(VersionId::from_stored(new_uuid(self.ports.random.as_ref()))),
        }
    }

    /// As `find_secret`, refusing a secret that is scheduled for deletion.
    pub(super) async fn find_live_secret(
        &self,
        ctx: &RequestContext,
        secret_id: Option<&str>,
    ) -> Result<SecretRecord> {
        let record = self.find_secret(ctx, secret_id).await?;
        ensure_live(&record)?;
        Ok(record)
    }
}

pub fn ensure_live(record: &SecretRecord) -> Result<()> {
    if record.is_scheduled_for_deletion() {
        return Err(Error::invalid_request(MARKED_FOR_DELETION));
    }
    Ok(())
}
