//! The configuration of Coffer's Lambda functions (`api`, `rotation`, `scheduler`), read from
//! the environment once per cold start into one typed value, [`LambdaSettings`]: the AWS side's
//! [`AwsSettings`] plus what only the functions read (LoginWithIam's STS, the IAM-mode
//! bootstrap identity, the rotation driver's retries). [`LambdaSettings::from_env`] and
//! [`LogSettings::from_env`] (Lambda's logging controls, read first) are the only places the
//! functions read environment variables (besides the log filter `RUST_LOG`); every
//! variable is documented in `docs/lambda.md`, and their names are that interface.
//!
//! Bad values are a [`ConfigError`] naming the variable (never its value when it may be a
//! secret), which the cold start reports through `fail_init`; nothing here panics.
//!
//! Place in the data path: process start, before any client is built: environment -> here ->
//! `coffer_aws::wiring::build` and `ServiceParts::assemble` (`crate::cold_start`) -> the
//! function's runtime loop.

use coffer_aws::wiring::{AwsSettings, ConfigError};
use coffer_core::rotation::driver::RetryPolicy;
use std::time::Duration;

/// The variables only the Lambda functions read (the AWS side's are
/// `coffer_aws::wiring::env`).
pub mod env {
    /// The region of the deployment (set by Lambda): LoginWithIam's default STS and the region
    /// API Gateway IAM callers are placed in.
    pub const AWS_REGION: &str = "AWS_REGION";
    /// The STS that verifies `coffer.LoginWithIam` (SigV4 mode).
    pub const IAM_STS_ENDPOINT: &str = "COFFER_IAM_STS_ENDPOINT";
    /// The value LoginWithIam requests must sign as `X-Coffer-Login-Audience`.
    pub const IAM_LOGIN_AUDIENCE: &str = "COFFER_IAM_LOGIN_AUDIENCE";
    /// IAM mode's bootstrap identity (the `api` function grants it `coffer-iam-admin`).
    pub const IAM_ADMIN_ARN: &str = "COFFER_IAM_ADMIN_ARN";
    /// Attempts of one rotation job (the `rotation` function; at least 1).
    pub const ROTATION_MAX_ATTEMPTS: &str = "COFFER_ROTATION_MAX_ATTEMPTS";
    /// Seconds before the second attempt of a rotation job, doubled after.
    pub const ROTATION_RETRY_BACKOFF_SECS: &str = "COFFER_ROTATION_RETRY_BACKOFF_SECS";
    /// Lambda's advanced logging controls: the log format (`JSON` or `Text`).
    pub const LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
    /// Lambda's advanced logging controls: the application log level.
    pub const LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
}

/// Lambda's advanced logging controls, read before anything else so that even a configuration
/// error is logged in the format the function is configured for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `AWS_LAMBDA_LOG_FORMAT=JSON` (any case): one JSON object per line; else text.
    pub json: bool,
    /// `AWS_LAMBDA_LOG_LEVEL` (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, any case;
    /// `FATAL` logs errors only): the level of every log line, ahead of `RUST_LOG`. `None` when
    /// unset or not one of those (then `RUST_LOG`, else `info`).
    pub level: Option<&'static str>,
}

impl LogSettings {
    /// The logging controls of this function, from its environment.
    pub fn from_env() -> LogSettings {
        LogSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The logging controls from any variable lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> LogSettings {
        let json = lookup(env::LOG_FORMAT).is_some_and(|v| v.trim().eq_ignore_ascii_case("json"));
        let level =
            lookup(env::LOG_LEVEL).and_then(|v| match v.trim().to_ascii_uppercase().as_str() {
                "TRACE" => Some("trace"),
                "DEBUG" => Some("debug"),
                "INFO" => Some("info"),
                "WARN" => Some("warn"),
                "ERROR" | "FATAL" => Some("error"),
                _ => None,
            });
        LogSettings { json, level }
    }
}

/// The region when `AWS_REGION` is unset (Lambda always sets it).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything a Coffer Lambda function is configured with, parsed once at cold start.
#[derive(Clone, Debug)]
pub struct LambdaSettings {
    /// Table, KMS key, account, auth mode, audit and cache settings (`COFFER_TABLE`, ...).
    pub aws: AwsSettings,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: String,
    /// `COFFER_IAM_STS_ENDPOINT`; `None`: STS of [`LambdaSettings::region`].
    pub iam_sts_endpoint: Option<String>,
    /// `COFFER_IAM_LOGIN_AUDIENCE`; `None`: no audience is required.
    pub iam_login_audience: Option<String>,
    /// `COFFER_IAM_ADMIN_ARN` (read by the `api` function in IAM mode; checked when it is
    /// granted, against the account).
    pub iam_admin_arn: Option<String>,
    /// `COFFER_ROTATION_MAX_ATTEMPTS` / `COFFER_ROTATION_RETRY_BACKOFF_SECS` (the `rotation`
    /// function's driver; defaults 3 and 5 s).
    pub rotation_retry: RetryPolicy,
}

impl LambdaSettings {
    /// The settings of this function, from its environment.
    pub fn from_env() -> Result<LambdaSettings, ConfigError> {
        LambdaSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any variable lookup (tests pass a map). Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<LambdaSettings, ConfigError> {
        let aws = AwsSettings::from_lookup(&lookup)?;
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let retry = RetryPolicy::default();
        Ok(LambdaSettings {
            aws,
            region: get(env::AWS_REGION).unwrap_or_else(|| DEFAULT_REGION.to_string()),
            iam_sts_endpoint: get(env::IAM_STS_ENDPOINT),
            iam_login_audience: get(env::IAM_LOGIN_AUDIENCE),
            iam_admin_arn: get(env::IAM_ADMIN_ARN),
            rotation_retry: RetryPolicy {
                max_attempts: whole_number(
                    env::ROTATION_MAX_ATTEMPTS,
                    get(env::ROTATION_MAX_ATTEMPTS),
                    retry.max_attempts,
                )?
                .max(1),
                first_backoff: Duration::from_secs(whole_number(
                    env::ROTATION_RETRY_BACKOFF_SECS,
                    get(env::ROTATION_RETRY_BACKOFF_SECS),
                    retry.first_backoff.as_secs(),
                )?),
                ..retry
            },
        })
    }
}

/// A whole number, or `default` when unset.
fn whole_number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_aws::wiring::AuthMode;
    use std::collections::HashMap;

    const BASE: &[(&str, &str)] = &[
        ("COFFER_TABLE", "coffer"),
        ("COFFER_KMS_KEY", "alias/coffer"),
        ("COFFER_ACCOUNT_ID", "111122223333"),
        ("COFFER_ROOT_ACCESS_KEY_ID", "AKIAROOT"),
        ("COFFER_ROOT_SECRET_ACCESS_KEY", "topsecret-root-key"),
    ];

    fn settings(extra: &[(&str, &str)]) -> Result<LambdaSettings, ConfigError> {
        let map: HashMap<String, String> = BASE
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LambdaSettings::from_lookup(move |k| map.get(k).cloned())
    }

    fn log_settings(vars: &[(&str, &str)]) -> LogSettings {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogSettings::from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn lambda_log_controls() {
        assert_eq!(
            log_settings(&[]),
            LogSettings {
                json: false,
                level: None
            }
        );
        let json = log_settings(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ]);
        assert_eq!(
            json,
            LogSettings {
                json: true,
                level: Some("debug")
            }
        );
        assert!(log_settings(&[("AWS_LAMBDA_LOG_FORMAT", "json")]).json);
        assert!(!log_settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
        assert_eq!(
            log_settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).level,
            Some("error")
        );
        assert_eq!(
            log_settings(&[("AWS_LAMBDA_LOG_LEVEL", "warn")]).level,
            Some("warn")
        );
        assert_eq!(
            log_settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]).level,
            None
        );
    }

    #[test]
    fn from_lookup_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.aws.table, "coffer");
        assert!(matches!(s.aws.auth, AuthMode::SigV4 { .. }));
        assert_eq!(s.region, DEFAULT_REGION);
        assert_eq!(s.iam_sts_endpoint, None);
        assert_eq!(s.iam_login_audience, None);
        assert_eq!(s.iam_admin_arn, None);
        let default = RetryPolicy::default();
        assert_eq!(s.rotation_retry.max_attempts, default.max_attempts);
        assert_eq!(s.rotation_retry.first_backoff, default.first_backoff);
        assert_eq!(s.rotation_retry.max_backoff, default.max_backoff);
        assert!(!format!("{s:?}").contains("topsecret"), "{s:?}");
    }

    #[test]
    fn from_lookup_reads_every_function_variable() {
        let s = settings(&[
            ("AWS_REGION", "eu-west-1"),
            ("COFFER_IAM_STS_ENDPOINT", "http://127.0.0.1:5000"),
            ("COFFER_IAM_LOGIN_AUDIENCE", "coffer-prod"),
            (
                "COFFER_IAM_ADMIN_ARN",
                "arn:aws:iam::111122223333:role/admin",
            ),
            ("COFFER_ROTATION_MAX_ATTEMPTS", " 2 "),
            ("COFFER_ROTATION_RETRY_BACKOFF_SECS", "1"),
        ])
        .unwrap();
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.iam_sts_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.iam_login_audience.as_deref(), Some("coffer-prod"));
        assert_eq!(
            s.iam_admin_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/admin")
        );
        assert_eq!(s.rotation_retry.max_attempts, 2);
        assert_eq!(s.rotation_retry.first_backoff, Duration::from_secs(1));
    }

    #[test]
    fn from_lookup_empty_values_count_as_unset_and_attempts_are_at_least_one() {
        let s = settings(&[
            ("AWS_REGION", ""),
            ("COFFER_IAM_ADMIN_ARN", " "),
            ("COFFER_ROTATION_MAX_ATTEMPTS", "0"),
        ])
        .unwrap();
        assert_eq!(s.region, DEFAULT_REGION);
        assert_eq!(s.iam_admin_arn, None);
        assert_eq!(s.rotation_retry.max_attempts, 1);
    }

    #[test]
    fn from_lookup_bad_numbers_name_the_variable() {
        for (name, value) in [
            ("COFFER_ROTATION_MAX_ATTEMPTS", "three"),
            ("COFFER_ROTATION_MAX_ATTEMPTS", "-1"),
            ("COFFER_ROTATION_RETRY_BACKOFF_SECS", "5s"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err().to_string();
            assert!(e.contains(&format!("{name} must be a whole number")), "{e}");
        }
    }

    #[test]
    fn from_lookup_errors_of_the_aws_side_come_first() {
        let e = settings(&[
            ("COFFER_AUTH_MODE", "basic"),
            ("COFFER_ROTATION_MAX_ATTEMPTS", "x"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("COFFER_AUTH_MODE"), "{e}");
    }
}
