//! Settings a rotation function reads once, at cold start: the password policy handed to
//! GetRandomPassword (`EXCLUDE_CHARACTERS`, `PASSWORD_LENGTH`, with the defaults of AWS's
//! templates) and the Secrets Manager API client (`SECRETS_MANAGER_ENDPOINT`, optional static
//! credentials). Bad values are errors here, so a misconfigured function fails its cold start
//! instead of its first rotation.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::Region;
use thiserror::Error;
use zeroize::Zeroizing;

/// `EXCLUDE_CHARACTERS` default of AWS's rotation templates: characters that break connection
/// strings and shell quoting.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = "/@\"'\\";
/// `PASSWORD_LENGTH` default of AWS's rotation templates.
pub const DEFAULT_PASSWORD_LENGTH: i64 = 32;
/// GetRandomPassword's limits on `PasswordLength`.
const PASSWORD_LENGTH_RANGE: std::ops::RangeInclusive<i64> = 1..=4096;

/// A configuration value is missing or malformed (names the variable, never a secret).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name} must be an integer from 1 to 4096, got {value:?}")]
    PasswordLength { name: &'static str, value: String },
    #[error("{name} names {path}, which cannot be read: {reason}")]
    CaBundle {
        name: &'static str,
        path: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The password policy of createSecret's GetRandomPassword call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSettings {
    pub exclude_characters: String,
    pub length: i64,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        PasswordSettings {
            exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_string(),
            length: DEFAULT_PASSWORD_LENGTH,
        }
    }
}

impl PasswordSettings {
    /// `EXCLUDE_CHARACTERS` and `PASSWORD_LENGTH` from the environment, with AWS's defaults
    /// when unset (an empty `EXCLUDE_CHARACTERS` excludes nothing, as in AWS's templates).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`PasswordSettings::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings = PasswordSettings::default();
        if let Some(exclude) = lookup("EXCLUDE_CHARACTERS") {
            settings.exclude_characters = exclude;
        }
        if let Some(raw) = lookup("PASSWORD_LENGTH") {
            settings.length = raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| PASSWORD_LENGTH_RANGE.contains(n))
                .ok_or(ConfigError::PasswordLength {
                    name: "PASSWORD_LENGTH",
                    value: raw,
                })?;
        }
        Ok(settings)
    }
}

/// Where and as whom a rotation function calls the Secrets Manager API.
#[derive(Clone, Default)]
pub struct ClientSettings {
    /// The API URL (`SECRETS_MANAGER_ENDPOINT`); `None`: the SDK's default endpoint resolution.
    pub endpoint: Option<String>,
    /// The region; `None`: the default chain (`AWS_REGION`, which Lambda sets).
    pub region: Option<String>,
    /// Static credentials (access key id, secret access key); `None`: the default chain (the
    /// function's execution role on Lambda).
    pub credentials: Option<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(id, _)| id.as_str()),
            )
            .finish()
    }
}

impl ClientSettings {
    /// `SECRETS_MANAGER_ENDPOINT` (as AWS's templates read it) and, when both are set,
    /// `COFFER_ACCESS_KEY_ID` / `COFFER_SECRET_ACCESS_KEY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`ClientSettings::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let endpoint = set("SECRETS_MANAGER_ENDPOINT");
        if let Some(url) = &endpoint {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "SECRETS_MANAGER_ENDPOINT must be an http(s) URL, got {url:?}"
                )));
            }
        }
        let credentials = match (
            set("COFFER_ACCESS_KEY_ID"),
            set("COFFER_SECRET_ACCESS_KEY").map(Zeroizing::new),
        ) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "set both COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY, or neither".into(),
                ))
            }
        };
        Ok(ClientSettings {
            endpoint,
            region: None,
            credentials,
        })
    }
}

/// Builds the Secrets Manager client a rotator calls: the endpoint and static credentials of
/// `settings` when given, the SDK's default chains otherwise.
pub async fn secrets_manager_client(settings: &ClientSettings) -> aws_sdk_secretsmanager::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some((id, secret)) = &settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            id,
            secret.as_str(),
            None,
            None,
            "coffer-rotator",
        ));
    }
    let shared = loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn password_settings_unset_defaults_to_aws_templates() {
        let s = PasswordSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(s.exclude_characters, "/@\"'\\");
        assert_eq!(s.length, 32);
    }

    #[test]
    fn password_settings_bad_length_is_rejected() {
        for bad in ["0", "4097", "abc", "-3", ""] {
            let err =
                PasswordSettings::from_lookup(lookup(&[("PASSWORD_LENGTH", bad)])).expect_err(bad);
            assert!(err.to_string().contains("PASSWORD_LENGTH"), "{err}");
        }
        let ok = PasswordSettings::from_lookup(lookup(&[
            ("PASSWORD_LENGTH", "64"),
            ("EXCLUDE_CHARACTERS", ""),
        ]))
        .unwrap();
        assert_eq!((ok.length, ok.exclude_characters.as_str()), (64, ""));
    }

    #[test]
    fn client_settings_half_credentials_are_rejected() {
        let err =
            ClientSettings::from_lookup(lookup(&[("COFFER_ACCESS_KEY_ID", "AKIA")])).unwrap_err();
        assert!(err.to_string().contains("COFFER_SECRET_ACCESS_KEY"));
        let err = ClientSettings::from_lookup(lookup(&[("SECRETS_MANAGER_ENDPOINT", "localhost")]))
            .unwrap_err();
        assert!(err.to_string().contains("SECRETS_MANAGER_ENDPOINT"));
        let ok = ClientSettings::from_lookup(lookup(&[
            ("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:4584"),
            ("COFFER_ACCESS_KEY_ID", "AKIA"),
            ("COFFER_SECRET_ACCESS_KEY", "s3cr3t-value"),
        ]))
        .unwrap();
        assert!(!format!("{ok:?}").contains("s3cr3t-value"));
    }
}
