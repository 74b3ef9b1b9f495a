//! The cold start every Coffer Lambda function that serves or drives secrets shares (`api`,
//! `rotation`, `scheduler`): logging to standard error, the configuration from the environment
//! read once ([`settings::LambdaSettings`], documented in docs/lambda.md), the AWS clients and
//! ports built once, and the `SecretsService` on them through the service builder the local
//! server uses too (`coffer_core::service::ServiceParts`): the principal store in both auth
//! modes (Coffer's own principals, or the IAM-identity policies of API Gateway's IAM callers),
//! STS and LoginWithIam in SigV4 mode. Bad configuration fails the cold start through
//! `coffer_aws::lambda_init::fail_init` (a message naming the setting, reported to the Runtime
//! API), never with a panic.
//!
//! Place in the data path: the first thing each function's `main` does, before its runtime loop.

pub mod settings;

pub use coffer_aws::lambda_init::fail_init;
use coffer_aws::lambda_invoke::LambdaRotationFunction;
use coffer_aws::sts_caller_identity::iam_login_settings;
use coffer_aws::wiring::{self, AuthMode, Host};
use coffer_core::identity::iam_login::IamLoginSettings;
use coffer_core::identity::sts::DEFAULT_MIN_DURATION_SECS;
use coffer_core::ports::KeyProvider;
use coffer_core::ports::PrincipalStore;
use coffer_core::service::{SecretsService, ServiceConfig, ServiceParts, TemporaryCredentials};
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::{OsRandom, SystemClock};
pub use settings::{LambdaSettings, LogSettings};
use std::process::ExitCode;
use std::sync::Arc;

/// What a cold start built.
pub struct ColdStart {
    /// The function's whole configuration, as read at cold start.
    pub settings: LambdaSettings,
    pub service: Arc<SecretsService>,
    /// The standard AWS configuration the clients were made from (for further clients).
    pub sdk: aws_config::SdkConfig,
    /// Lambda `Invoke` of rotation functions (the rotation driver's steps).
    pub rotation_function: LambdaRotationFunction,
    /// Coffer's own principals, whose access keys the `api` function's SigV4 authenticator
    /// accepts. `None` with `COFFER_AUTH_MODE=iam`, where API Gateway authenticates IAM's
    /// principals instead (the service still has the store: their identity policies are its
    /// `iam-identity` records).
    pub own_principals: Option<OwnPrincipals>,
}

/// What a SigV4 authenticator needs to accept the access keys of Coffer's own principals (their
/// sessions it accepts with the service's STS codec).
pub struct OwnPrincipals {
    /// Users, roles and access keys (the DynamoDB table of the secrets).
    pub store: Arc<dyn PrincipalStore>,
    /// Opens access-key secrets (KMS, behind the data-key cache).
    pub keys: Arc<dyn KeyProvider>,
}

/// Logs to standard error (Lambda ships it to the function's log group; standard output
/// carries the audit events), in the format and at the level of Lambda's advanced logging
/// controls ([`LogSettings`]): `AWS_LAMBDA_LOG_LEVEL` when set, else `RUST_LOG`, else `info`.
pub fn init_logging(log: &LogSettings) {
    use tracing_subscriber::EnvFilter;
    let filter = match log.level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if log.json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `coffer.LoginWithIam` (SigV4 mode; behind API Gateway's IAM authorization callers are
/// AWS-verified already): STS at `COFFER_IAM_STS_ENDPOINT` (default: STS of `AWS_REGION`), the
/// audience `COFFER_IAM_LOGIN_AUDIENCE` if set.
fn iam_login(settings: &LambdaSettings) -> Result<IamLoginSettings, String> {
    iam_login_settings(
        settings.iam_sts_endpoint.as_deref(),
        &settings.region,
        settings.iam_login_audience.clone(),
    )
    .map_err(|e| format!("{}: {e}", settings::env::IAM_STS_ENDPOINT))
}

/// Reads the configuration and builds the service; on bad configuration reports the init
/// error and returns the exit code the process ends with.
pub async fn cold_start(function: &str) -> Result<ColdStart, ExitCode> {
    init_logging(&LogSettings::from_env());
    let settings = match LambdaSettings::from_env() {
        Ok(settings) => settings,
        Err(e) => return Err(fail_init(function, &e.to_string()).await),
    };
    let host = Host::lambda(
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Arc::new(JsonLinesAuditSink::stdout()),
    );
    let built = match wiring::build(&settings.aws, host).await {
        Ok(built) => built,
        Err(e) => return Err(fail_init(function, &e.to_string()).await),
    };
    let rotation_function = built.rotation_function();
    // SigV4 mode: Coffer authenticates its own principals' keys and offers STS and
    // LoginWithIam, whose sessions every instance opens (the codec derives from the shared
    // paging key). IAM mode: API Gateway authenticates; no Coffer sessions.
    let (own_principals, temporary_credentials) = match settings.aws.auth {
        AuthMode::SigV4 { .. } => {
            let login = match iam_login(&settings) {
                Ok(login) => login,
                Err(e) => return Err(fail_init(function, &e).await),
            };
            (
                Some(OwnPrincipals {
                    store: built.principals.clone(),
                    keys: built.ports.keys.clone(),
                }),
                Some(TemporaryCredentials {
                    min_duration_secs: DEFAULT_MIN_DURATION_SECS,
                    iam_login: Some(login),
                }),
            )
        }
        AuthMode::Iam => (None, None),
    };
    let service = ServiceParts {
        ports: built.ports,
        config: ServiceConfig {
            paging_key: built.paging_key,
            audit_required: settings.aws.audit_required,
        },
        // Both modes: identity policies (own principals', or IAM callers' iam-identity
        // records) and the admin API come from the store.
        principals: Some(built.principals.clone()),
        temporary_credentials,
    }
    .assemble();
    Ok(ColdStart {
        settings,
        service: Arc::new(service),
        sdk: built.sdk,
        rotation_function,
        own_principals,
    })
}
