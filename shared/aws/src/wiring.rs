//! The AWS side of a Coffer process, built once from configuration: the DynamoDB repository
//! and principal store (one table), the KMS key provider behind the data-key cache, the audit sinks (the process's own JSON
//! lines plus CloudWatch Logs / EventBridge when configured), and the rotation invoker (Lambda
//! `Invoke` of the rotation function). Both `coffer serve --backend aws` and the Lambda
//! functions (`api`, `rotation`, `scheduler`) call [`build`]; the Lambda functions read their
//! [`AwsSettings`] from the environment with the rest of their configuration
//! (`coffer_lambda_host::LambdaSettings`, through [`AwsSettings::from_lookup`]; one table of
//! variables in `docs/lambda.md`), `coffer serve --backend aws` builds it from its flags.
//!
//! Place in the data path: process start -> [`AwsSettings`] -> [`build`] -> `Ports` ->
//! `SecretsService` (and, in the `api` function, the coffer-wire router). Nothing here runs on
//! the request path.
//!
//! What only the host process knows comes in through [`Host`]: its clock and randomness, its
//! metrics sink (EMF lines on Lambda: no API call on the request path; Prometheus counters in
//! `coffer serve`), the sink its audit lines go to, and optionally a rotation invoker of its own.

use crate::audit_batch::{BatchConfig, FanOutAuditSink};
use crate::audit_cloudwatch::{new_stream_name, CloudWatchLogsAuditSink};
use crate::audit_cloudwatch_digests::DigestConfig;
use crate::audit_digest_kms::KmsDigestSigner;
use crate::audit_eventbridge::EventBridgeAuditSink;
use crate::dynamodb::{DynamoDbPrincipalStore, DynamoDbSecretRepository};
use crate::emf::EmfMetricsSink;
use crate::kms::KmsKeyProvider;
use crate::lambda_invoke::{LambdaRotationFunction, LambdaRotationInvoker};
use coffer_core::clock::{Clock, RandomSource};
use coffer_core::keycache::{CacheLimits, CachingKeyProvider};
use coffer_core::ports::{
    AuditSink, MetricsSink, RotationInvoker, RotationJob, RotationStartError,
};
use coffer_core::service::Ports;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Environment variables of the Lambda functions (and `coffer serve --backend aws`).
pub mod env {
    pub const TABLE: &str = "COFFER_TABLE";
    pub const KMS_KEY: &str = "COFFER_KMS_KEY";
    pub const ACCOUNT_ID: &str = "COFFER_ACCOUNT_ID";
    pub const ROTATION_FUNCTION: &str = "COFFER_ROTATION_FUNCTION";
    pub const LAMBDA_ENDPOINT: &str = "COFFER_LAMBDA_ENDPOINT";
    pub const AUTH_MODE: &str = "COFFER_AUTH_MODE";
    pub const ROOT_ACCESS_KEY_ID: &str = "COFFER_ROOT_ACCESS_KEY_ID";
    pub const ROOT_SECRET_ACCESS_KEY: &str = "COFFER_ROOT_SECRET_ACCESS_KEY";
    pub const PAGING_SECRET: &str = "COFFER_PAGING_SECRET";
    pub const AUDIT_LOG_GROUP: &str = "COFFER_AUDIT_LOG_GROUP";
    pub const AUDIT_EVENT_BUS: &str = "COFFER_AUDIT_EVENT_BUS";
    pub const AUDIT_REQUIRED: &str = "COFFER_AUDIT_REQUIRED";
    pub const AUDIT_DIGEST_KEY_ID: &str = "COFFER_AUDIT_DIGEST_KEY_ID";
    pub const AUDIT_DIGEST_INTERVAL_SECS: &str = "COFFER_AUDIT_DIGEST_INTERVAL_SECS";
    pub const DATA_KEY_CACHE_SECS: &str = "COFFER_DATA_KEY_CACHE_SECS";
    pub const DATA_KEY_CACHE_ENTRIES: &str = "COFFER_DATA_KEY_CACHE_ENTRIES";
}

/// Seconds between signed audit digests unless configured (as `coffer serve`'s default).
pub const DEFAULT_AUDIT_DIGEST_INTERVAL_SECS: u64 = 300;

/// Configuration that cannot work. The message names the setting and never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// How callers prove who they are.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Coffer verifies SigV4 itself against the root access key pair (`COFFER_AUTH_MODE=sigv4`,
    /// the default).
    SigV4 {
        access_key_id: String,
        secret_access_key: Zeroizing<String>,
    },
    /// API Gateway IAM authorization verified the caller; the caller's ARN in the request
    /// context is the principal (`COFFER_AUTH_MODE=iam`).
    Iam,
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::SigV4 { access_key_id, .. } => f
                .debug_struct("SigV4")
                .field("access_key_id", access_key_id)
                .finish_non_exhaustive(),
            AuthMode::Iam => f.write_str("Iam"),
        }
    }
}

/// Everything the AWS side needs, parsed once at start.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// DynamoDB table (`COFFER_TABLE`).
    pub table: String,
    /// Default KMS key: id, key ARN, alias name or alias ARN (`COFFER_KMS_KEY`).
    pub kms_key: String,
    /// The account of this deployment's secrets (`COFFER_ACCOUNT_ID`).
    pub account_id: String,
    /// The `rotation` function (name or ARN) RotateSecret starts jobs with
    /// (`COFFER_ROTATION_FUNCTION`); `None`: RotateSecret stores the pending version and
    /// reports that no rotation runner is configured.
    pub rotation_function: Option<String>,
    /// Lambda Invoke API endpoint override (`COFFER_LAMBDA_ENDPOINT`, `--lambda-endpoint`):
    /// LocalStack, a local emulator; `None`: the standard AWS configuration.
    pub lambda_endpoint: Option<String>,
    pub auth: AuthMode,
    /// Key material for `NextToken`s shared by every instance (`COFFER_PAGING_SECRET`); when
    /// unset, derived from the root secret (SigV4 mode).
    pub paging_secret: Option<Zeroizing<String>>,
    pub audit_log_group: Option<String>,
    pub audit_event_bus: Option<String>,
    /// Fail a call whose audit event cannot be recorded (`COFFER_AUDIT_REQUIRED`).
    pub audit_required: bool,
    /// KMS HMAC_256 key that signs digests of the CloudWatch Logs stream
    /// (`COFFER_AUDIT_DIGEST_KEY_ID`); `None`: chain only, no digests.
    pub audit_digest_key_id: Option<String>,
    /// Seconds between digests (`COFFER_AUDIT_DIGEST_INTERVAL_SECS`, default 300; 0: only on
    /// checkpoints, i.e. clean shutdown of `coffer serve`).
    pub audit_digest_interval_secs: u64,
    /// Plaintext data-key cache bounds (`COFFER_DATA_KEY_CACHE_SECS` / `_ENTRIES`).
    pub data_key_cache: CacheLimits,
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            ConfigError(format!(
                "{name} must be a non-negative whole number, not {v:?}"
            ))
        }),
    }
}

fn parse_bool(name: &str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ConfigError(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl AwsSettings {
    /// The settings from a variable lookup: a Lambda function's environment
    /// (`coffer_lambda_host::LambdaSettings::from_env`), or a map in tests. Empty values count
    /// as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AwsSettings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str, what: &str| {
            get(name).ok_or_else(|| ConfigError(format!("{name} is required ({what})")))
        };
        let table = required(env::TABLE, "the DynamoDB table of the secrets")?;
        let kms_key = required(env::KMS_KEY, "the default KMS key: id, ARN or alias")?;
        let account_id = required(env::ACCOUNT_ID, "the 12-digit account of the secrets")?;
        if !is_account_id(&account_id) {
            return Err(ConfigError(format!(
                "{} must be a 12-digit account id, not {account_id:?}",
                env::ACCOUNT_ID
            )));
        }
        let auth = match get(env::AUTH_MODE).as_deref().map(str::trim) {
            None | Some("sigv4") => AuthMode::SigV4 {
                access_key_id: required(
                    env::ROOT_ACCESS_KEY_ID,
                    "COFFER_AUTH_MODE=sigv4 verifies signatures made with the root key pair",
                )?,
                secret_access_key: Zeroizing::new(required(
                    env::ROOT_SECRET_ACCESS_KEY,
                    "COFFER_AUTH_MODE=sigv4 verifies signatures made with the root key pair",
                )?),
            },
            Some("iam") => AuthMode::Iam,
            Some(other) => {
                return Err(ConfigError(format!(
                    "{} must be `sigv4` or `iam`, not {other:?}",
                    env::AUTH_MODE
                )))
            }
        };
        let paging_secret = get(env::PAGING_SECRET).map(Zeroizing::new);
        let defaults = CacheLimits::default();
        let ttl_secs: i64 = parse_number(
            env::DATA_KEY_CACHE_SECS,
            get(env::DATA_KEY_CACHE_SECS),
            defaults.ttl_ms / 1000,
        )?;
        if ttl_secs < 0 {
            return Err(ConfigError(format!(
                "{} must not be negative",
                env::DATA_KEY_CACHE_SECS
            )));
        }
        let settings = AwsSettings {
            table,
            kms_key,
            account_id,
            rotation_function: get(env::ROTATION_FUNCTION),
            lambda_endpoint: get(env::LAMBDA_ENDPOINT),
            auth,
            paging_secret,
            audit_log_group: get(env::AUDIT_LOG_GROUP),
            audit_event_bus: get(env::AUDIT_EVENT_BUS),
            audit_required: parse_bool(env::AUDIT_REQUIRED, get(env::AUDIT_REQUIRED))?,
            audit_digest_key_id: get(env::AUDIT_DIGEST_KEY_ID),
            audit_digest_interval_secs: parse_number(
                env::AUDIT_DIGEST_INTERVAL_SECS,
                get(env::AUDIT_DIGEST_INTERVAL_SECS),
                DEFAULT_AUDIT_DIGEST_INTERVAL_SECS,
            )?,
            data_key_cache: CacheLimits {
                ttl_ms: ttl_secs.saturating_mul(1000),
                max_entries: parse_number(
                    env::DATA_KEY_CACHE_ENTRIES,
                    get(env::DATA_KEY_CACHE_ENTRIES),
                    defaults.max_entries,
                )?,
            },
        };
        settings.paging_key()?;
        Ok(settings)
    }

    /// The HMAC key of `NextToken`s: every instance derives the same one, so a token from one
    /// instance pages on another.
    pub fn paging_key(&self) -> Result<[u8; 32], ConfigError> {
        match (&self.paging_secret, &self.auth) {
            (Some(secret), _) => Ok(derived_paging_key(secret)),
            (
                None,
                AuthMode::SigV4 {
                    secret_access_key, ..
                },
            ) => Ok(derived_paging_key(secret_access_key)),
            (None, AuthMode::Iam) => Err(ConfigError(format!(
                "{} is required with COFFER_AUTH_MODE=iam (the key of NextToken, shared by \
                 every instance; at least 16 characters)",
                env::PAGING_SECRET
            ))),
        }
    }
}

/// Every instance derives the same NextToken key from a shared secret.
pub fn derived_paging_key(secret: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"coffer NextToken key v1");
    mac.finalize().into_bytes().into()
}

/// What the host process contributes to the wiring.
pub struct Host {
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
    pub metrics: Arc<dyn MetricsSink>,
    /// The process's own audit lines (JSON lines on standard output, which Lambda ships to
    /// the function's log group); CloudWatch Logs / EventBridge sinks are added to it.
    pub audit: Arc<dyn AuditSink>,
    /// A rotation invoker of the host's own (the local server's in-process runner); `None`:
    /// Lambda `Invoke` of [`AwsSettings::rotation_function`].
    pub rotation: Option<Arc<dyn RotationInvoker>>,
}

impl Host {
    /// A Lambda function's host: per-call metrics as EMF lines on standard output (CloudWatch
    /// extracts them from the log; no API call on the request path).
    pub fn lambda(
        clock: Arc<dyn Clock>,
        random: Arc<dyn RandomSource>,
        audit: Arc<dyn AuditSink>,
    ) -> Host {
        Host {
            metrics: Arc::new(EmfMetricsSink::stdout(clock.clone())),
            clock,
            random,
            audit,
            rotation: None,
        }
    }
}

/// The built AWS side.
pub struct AwsWiring {
    /// The core's ports, ready for `SecretsService::new`.
    pub ports: Ports,
    /// The concrete repository (the scheduler's sparse-index queries, the local server's
    /// gauges).
    pub repository: Arc<DynamoDbSecretRepository>,
    /// Coffer's own users, roles and access keys, in the same table; their access-key secrets
    /// are sealed under the default KMS key of the deployment's region ([`principal_key_region`]).
    pub principals: Arc<DynamoDbPrincipalStore>,
    /// The standard AWS configuration the clients were made from.
    pub sdk: aws_config::SdkConfig,
    pub paging_key: [u8; 32],
    /// One line describing the storage, for start-up messages.
    pub storage: String,
    lambda_endpoint: Option<String>,
}

impl AwsWiring {
    /// The `RotationFunction` that runs a rotation function's steps through Lambda `Invoke`
    /// (the rotation driver's).
    pub fn rotation_function(&self) -> LambdaRotationFunction {
        LambdaRotationFunction::from_sdk(&self.sdk, self.lambda_endpoint.as_deref())
    }
}

/// The standard AWS configuration (environment, profiles, Lambda's role credentials).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The region whose default KMS key (`COFFER_KMS_KEY`) seals access-key secrets: the
/// deployment's own (the SDK configuration's region, which is the KMS client's home region).
/// Local mode's fixed `PRINCIPAL_KEY_REGION` relies on its keyring having a default key in every
/// region; a KMS key given as a key ARN exists in one region only, and the function's IAM policy
/// names that key, so AWS mode seals where its key is. Changing a deployment's region therefore
/// needs new access keys (the old envelopes name a key of the old region).
pub fn principal_key_region(sdk: &aws_config::SdkConfig) -> &str {
    sdk.region()
        .map(|r| r.as_ref())
        .unwrap_or(coffer_core::identity::principals::PRINCIPAL_KEY_REGION)
}

/// A RotateSecret with no rotation function configured keeps its AWSPENDING version and
/// reports this; the service logs it.
struct RotationNotConfigured;

#[async_trait::async_trait]
impl RotationInvoker for RotationNotConfigured {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        Err(RotationStartError(format!(
            "{} is not set: no rotation job started for {}",
            env::ROTATION_FUNCTION,
            job.secret_arn
        )))
    }
}

/// Builds the AWS side once: clients from the standard AWS configuration, the repository, the
/// cached KMS key provider, the audit sinks and the rotation invoker.
pub async fn build(settings: &AwsSettings, host: Host) -> Result<AwsWiring, ConfigError> {
    let sdk = load_sdk_config().await;
    let paging_key = settings.paging_key()?;
    let repository = Arc::new(DynamoDbSecretRepository::new(
        crate::dynamodb::Client::new(&sdk),
        settings.table.clone(),
    ));
    let principals = Arc::new(DynamoDbPrincipalStore::on(
        &repository,
        principal_key_region(&sdk),
    ));
    let kms = KmsKeyProvider::new(
        crate::kms::Client::new(&sdk),
        settings.kms_key.clone(),
        host.metrics.clone(),
    );
    let keys = CachingKeyProvider::new(
        Arc::new(kms),
        host.clock.clone(),
        host.metrics.clone(),
        settings.data_key_cache,
    );
    let audit = audit_sinks(settings, &sdk, &host).await?;
    let rotation: Arc<dyn RotationInvoker> = match (&host.rotation, &settings.rotation_function) {
        (Some(own), _) => own.clone(),
        (None, Some(function)) => Arc::new(LambdaRotationInvoker::from_sdk(
            &sdk,
            settings.lambda_endpoint.as_deref(),
            function.clone(),
        )),
        (None, None) => Arc::new(RotationNotConfigured),
    };
    Ok(AwsWiring {
        ports: Ports {
            repository: repository.clone(),
            keys: Arc::new(keys),
            audit,
            metrics: host.metrics,
            rotation,
            clock: host.clock,
            random: host.random,
        },
        repository,
        principals,
        sdk,
        paging_key,
        storage: format!(
            "aws (DynamoDB table {}, KMS key {})",
            settings.table, settings.kms_key
        ),
        lambda_endpoint: settings.lambda_endpoint.clone(),
    })
}

/// How the CloudWatch Logs stream's head is signed: KMS `GenerateMac` under
/// [`AwsSettings::audit_digest_key_id`], or (without a key) not at all, which is said once here.
async fn digest_config(
    settings: &AwsSettings,
    sdk: &aws_config::SdkConfig,
    host: &Host,
) -> Result<Option<DigestConfig>, ConfigError> {
    let Some(key_id) = &settings.audit_digest_key_id else {
        tracing::info!(
            "{} is not set: the audit log stream is hash-chained but no signed digests are \
             written (records cut from its end cannot be detected)",
            env::AUDIT_DIGEST_KEY_ID
        );
        return Ok(None);
    };
    let signer = KmsDigestSigner::new(crate::audit_digest_kms::Client::new(sdk), key_id)
        .await
        .map_err(|e| ConfigError(format!("{}: {e}", env::AUDIT_DIGEST_KEY_ID)))?;
    Ok(Some(DigestConfig {
        signer: Arc::new(signer),
        interval: std::time::Duration::from_secs(settings.audit_digest_interval_secs),
        clock: host.clock.clone(),
    }))
}

/// The host's audit sink, plus CloudWatch Logs and EventBridge when configured (batched off
/// the request path unless audit is required).
async fn audit_sinks(
    settings: &AwsSettings,
    sdk: &aws_config::SdkConfig,
    host: &Host,
) -> Result<Arc<dyn AuditSink>, ConfigError> {
    let config = BatchConfig {
        required: settings.audit_required,
        ..BatchConfig::default()
    };
    let mut sinks: Vec<Arc<dyn AuditSink>> = vec![host.audit.clone()];
    if let Some(group) = &settings.audit_log_group {
        let sink = CloudWatchLogsAuditSink::start_with_digests(
            crate::audit_cloudwatch::Client::new(sdk),
            group.clone(),
            new_stream_name(),
            config,
            Some(host.metrics.clone()),
            digest_config(settings, sdk, host).await?,
        )
        .await
        .map_err(|e| ConfigError(format!("{} {group}: {e}", env::AUDIT_LOG_GROUP)))?;
        sinks.push(Arc::new(sink));
    }
    if let Some(bus) = &settings.audit_event_bus {
        sinks.push(Arc::new(EventBridgeAuditSink::start(
            crate::audit_eventbridge::Client::new(sdk),
            bus.clone(),
            config,
            Some(host.metrics.clone()),
        )));
    }
    Ok(match sinks.len() {
        1 => sinks.remove(0),
        _ => Arc::new(FanOutAuditSink::new(sinks)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("COFFER_TABLE", "coffer"),
        ("COFFER_KMS_KEY", "alias/coffer"),
        ("COFFER_ACCOUNT_ID", "111122223333"),
        ("COFFER_ROOT_ACCESS_KEY_ID", "AKIAROOT"),
        ("COFFER_ROOT_SECRET_ACCESS_KEY", "topsecret-root-key"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut all: Vec<_> = BASE.to_vec();
        all.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        all.extend_from_slice(extra);
        all
    }

    #[test]
    fn from_lookup_minimal_sigv4_defaults() {
        let s = AwsSettings::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(s.table, "coffer");
        assert_eq!(s.rotation_function, None);
        assert!(matches!(s.auth, AuthMode::SigV4 { .. }));
        assert_eq!(s.data_key_cache, CacheLimits::default());
        assert_eq!(s.audit_digest_key_id, None);
        assert_eq!(
            s.audit_digest_interval_secs,
            DEFAULT_AUDIT_DIGEST_INTERVAL_SECS
        );
        assert_eq!(
            s.paging_key().unwrap(),
            derived_paging_key("topsecret-root-key")
        );
        assert!(!format!("{s:?}").contains("topsecret"), "{s:?}");
    }

    #[test]
    fn from_lookup_missing_table_names_the_variable() {
        let all: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| *k != "COFFER_TABLE")
            .copied()
            .collect();
        let e = AwsSettings::from_lookup(lookup(&all)).unwrap_err();
        assert!(e.to_string().contains("COFFER_TABLE is required"), "{e}");
    }

    #[test]
    fn from_lookup_bad_values_fail_without_echoing_secrets() {
        for (extra, needle) in [
            (("COFFER_ACCOUNT_ID", "12345"), "12-digit"),
            (("COFFER_AUTH_MODE", "basic"), "`sigv4` or `iam`"),
            (
                ("COFFER_DATA_KEY_CACHE_SECS", "ten"),
                "COFFER_DATA_KEY_CACHE_SECS",
            ),
            (
                ("COFFER_DATA_KEY_CACHE_ENTRIES", "-1"),
                "COFFER_DATA_KEY_CACHE_ENTRIES",
            ),
            (("COFFER_AUDIT_REQUIRED", "yes"), "COFFER_AUDIT_REQUIRED"),
            (
                ("COFFER_AUDIT_DIGEST_INTERVAL_SECS", "5m"),
                "COFFER_AUDIT_DIGEST_INTERVAL_SECS",
            ),
            (
                ("COFFER_ROOT_SECRET_ACCESS_KEY", ""),
                "COFFER_ROOT_SECRET_ACCESS_KEY is required",
            ),
        ] {
            let e = AwsSettings::from_lookup(lookup(&with(&[extra]))).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(needle), "{text}");
            assert!(!text.contains("topsecret"), "{text}");
        }
    }

    #[test]
    fn from_lookup_iam_needs_a_paging_secret() {
        let e =
            AwsSettings::from_lookup(lookup(&with(&[("COFFER_AUTH_MODE", "iam")]))).unwrap_err();
        assert!(e.to_string().contains("COFFER_PAGING_SECRET"), "{e}");
        let s = AwsSettings::from_lookup(lookup(&with(&[
            ("COFFER_AUTH_MODE", "iam"),
            ("COFFER_PAGING_SECRET", "a shared paging secret"),
            ("COFFER_ROTATION_FUNCTION", "coffer-rotation"),
            ("COFFER_DATA_KEY_CACHE_SECS", "0"),
            ("COFFER_AUDIT_DIGEST_KEY_ID", "alias/coffer-audit-digest"),
            ("COFFER_AUDIT_DIGEST_INTERVAL_SECS", "60"),
        ])))
        .unwrap();
        assert_eq!(
            s.audit_digest_key_id.as_deref(),
            Some("alias/coffer-audit-digest")
        );
        assert_eq!(s.audit_digest_interval_secs, 60);
        assert_eq!(s.auth, AuthMode::Iam);
        assert_eq!(s.rotation_function.as_deref(), Some("coffer-rotation"));
        assert_eq!(s.data_key_cache.ttl_ms, 0);
    }
}
