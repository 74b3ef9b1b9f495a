//! Validated identifiers, parsed at the boundary (wire -> core). Once a value is one of these
//! types it is known to satisfy AWS's length and character rules.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A region + account pair: every scope is its own namespace of secrets and keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Scope {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Scope {
            partition: "aws".to_string(),
            region: region.into(),
            account: account.into(),
        }
    }
}

/// Characters AWS allows in a secret name besides ASCII letters and digits.
const NAME_PUNCTUATION: &str = "/_+=.@-!";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SecretName(String);

/// AWS's answer to a secret name with a character outside `[A-Za-z0-9/_+=.@!-]`.
pub const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

/// True when every character of `name` may appear in a secret name.
fn has_name_characters_only(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(c))
}

impl SecretName {
    /// A name of 1 to 512 characters of `[A-Za-z0-9/_+=.@!-]`: a bad character is AWS's
    /// `ValidationException`, a bad length `InvalidParameterException`.
    pub fn parse(name: &str) -> Result<Self> {
        if !has_name_characters_only(name) {
            return Err(Error::Validation(INVALID_NAME.to_string()));
        }
        if name.is_empty() || name.len() > 512 {
            return Err(Error::invalid_parameter(
                "Invalid name: it must be between 1 and 512 characters long.",
            ));
        }
        Ok(SecretName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 random alphanumerics>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SecretArn(String);

impl SecretArn {
    pub fn new(scope: &Scope, name: &SecretName, suffix: &str) -> Self {
        SecretArn(format!(
            "arn:{}:secretsmanager:{}:{}:secret:{}-{}",
            scope.partition, scope.region, scope.account, name, suffix
        ))
    }

    /// Wraps an ARN read back from storage (already validated when it was created).
    pub fn from_stored(arn: String) -> Self {
        SecretArn(arn)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a caller named a secret in `SecretId`: a name, or an ARN (full or partial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretId {
    Name(String),
    /// An ARN; `scope` and `resource` (everything after `secret:`) are split out so the
    /// lookup can try the full ARN first and then treat `resource` as the name (partial ARN).
    Arn {
        arn: String,
        scope: Scope,
        resource: String,
    },
}

impl SecretId {
    pub fn parse(id: &str) -> Result<Self> {
        if id.is_empty() || id.len() > 2048 {
            return Err(Error::invalid_parameter(
                "Invalid SecretId: it must be between 1 and 2048 characters long.",
            ));
        }
        if let Some(rest) = id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(6, ':').collect();
            let well_formed = parts.len() == 6
                && parts[1] == "secretsmanager"
                && !parts[2].is_empty()
                && !parts[3].is_empty()
                && parts[4] == "secret"
                && !parts[5].is_empty();
            if !well_formed {
                return Err(Error::invalid_parameter(format!(
                    "Invalid SecretId: {} is not a valid Secrets Manager secret ARN.",
                    id
                )));
            }
            return Ok(SecretId::Arn {
                arn: id.to_string(),
                scope: Scope {
                    partition: parts[0].to_string(),
                    region: parts[2].to_string(),
                    account: parts[3].to_string(),
                },
                resource: parts[5].to_string(),
            });
        }
        if !has_name_characters_only(id) {
            return Err(Error::Validation(INVALID_NAME.to_string()));
        }
        Ok(SecretId::Name(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            SecretId::Name(n) => n,
            SecretId::Arn { arn, .. } => arn,
        }
    }
}

/// A version id (also the `ClientRequestToken`): 32 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionId(String);

impl VersionId {
    pub fn parse(id: &str, member: &str) -> Result<Self> {
        let printable = id.chars().all(|c| c.is_ascii_graphic());
        if id.len() < 32 || id.len() > 64 || !printable {
            return Err(Error::invalid_parameter(format!(
                "Invalid {}: it must be between 32 and 64 characters long.",
                member
            )));
        }
        Ok(VersionId(id.to_string()))
    }

    pub fn from_stored(id: String) -> Self {
        VersionId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staging label: 1 to 256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StageLabel(String);

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";

impl StageLabel {
    pub fn parse(label: &str) -> Result<Self> {
        if label.is_empty() || label.len() > 256 {
            return Err(Error::invalid_parameter(
                "Invalid VersionStage: a staging label must be between 1 and 256 characters long.",
            ));
        }
        Ok(StageLabel(label.to_string()))
    }

    pub fn current() -> Self {
        StageLabel(AWSCURRENT.to_string())
    }

    pub fn previous() -> Self {
        StageLabel(AWSPREVIOUS.to_string())
    }

    pub fn pending() -> Self {
        StageLabel(AWSPENDING.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StageLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_name_with_space_is_rejected() {
        // AWS answers ValidationException with its exact message (issue #13).
        for bad in ["a b", "star*", "q?", "br]", "back\\slash"] {
            let e = SecretName::parse(bad).unwrap_err();
            assert_eq!(e, Error::Validation(INVALID_NAME.to_string()), "{bad}");
            let e = SecretId::parse(bad).unwrap_err();
            assert_eq!(e.code(), "ValidationException", "{bad}");
        }
        assert!(SecretName::parse("prod/db-1_x+y=z.w@q!").is_ok());
        assert!(SecretName::parse(&"a".repeat(513)).is_err());
    }

    #[test]
    fn secret_id_partial_arn_splits_scope_and_resource() {
        let id =
            SecretId::parse("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db").unwrap();
        match id {
            SecretId::Arn {
                scope, resource, ..
            } => {
                assert_eq!(scope.region, "eu-west-1");
                assert_eq!(scope.account, "123456789012");
                assert_eq!(resource, "app/db");
            }
            SecretId::Name(_) => panic!("expected an ARN"),
        }
    }

    #[test]
    fn secret_id_malformed_arn_is_invalid_parameter() {
        assert!(SecretId::parse("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn version_id_length_is_checked() {
        assert!(VersionId::parse("short", "ClientRequestToken").is_err());
        assert!(VersionId::parse(&"a".repeat(32), "ClientRequestToken").is_ok());
        assert!(VersionId::parse(&"a".repeat(65), "ClientRequestToken").is_err());
    }
}
