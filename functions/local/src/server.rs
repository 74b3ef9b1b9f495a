//! Serving: build the service and the router once from a backend's wiring, serve until
//! SIGTERM/SIGINT (draining in-flight requests), and run the scheduler (due rotations, expired
//! deletions) and the rotation runner in the background.
//! The audit sink is checkpointed (a signed digest of the trail's head) every
//! `--audit-digest-interval-secs` and once more after the drain. `GET /metrics` renders the
//! counters plus the repository gauges, computed at scrape time.

use crate::config::{Backend, ServeArgs};
use crate::credentials::{self, CredentialSource};
use crate::rotation::{self, LocalRotationFunctions};
use axum::routing::get;
use coffer_core::ports::{RotationFunction, RotationInvoker};
use coffer_core::rotation::driver::{RetryPolicy, RotationDriver};
use coffer_core::service::{
    Ports, SecretsService, ServiceConfig, ServiceParts, TemporaryCredentials,
};
use coffer_embedded::metrics::InProcessMetrics;
use coffer_embedded::TokioSleeper;
use coffer_wire::auth::{RootCredentials, SigV4Authenticator};
use coffer_wire::WireState;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a backend hands the server: the ports, the root principal, and the NextToken key.
pub struct Wiring {
    pub ports: Ports,
    pub root: RootCredentials,
    /// Coffer's own users and roles (SQLite, or DynamoDB on the AWS backend; `None`: root only).
    pub principals: Option<Arc<dyn coffer_core::ports::PrincipalStore>>,
    pub credential_source: CredentialSource,
    pub paging_key: [u8; 32],
    /// One line for the start-up message.
    pub storage: String,
    /// Publishes the gauges somewhere outside the process (AWS backend: CloudWatch), if set.
    pub gauge_publisher: Option<Arc<dyn GaugePublisher>>,
    /// Lambda Invoke of rotation functions that are not built in (`--lambda-endpoint`).
    pub lambda_functions: Option<Arc<dyn RotationFunction>>,
}

/// Where the periodic gauges (ResourceCount, overdue rotations) go besides `/metrics`.
#[async_trait::async_trait]
pub trait GaugePublisher: Send + Sync {
    async fn publish(&self, gauges: &[coffer_core::metrics::ScopeGauges]) -> Result<(), String>;
}

async fn gauge_loop(
    service: Arc<SecretsService>,
    publisher: Arc<dyn GaugePublisher>,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        let outcome = match service.gauges().await {
            Ok(gauges) => publisher.publish(&gauges).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "publishing gauges failed; retrying next interval");
        }
    }
}

async fn wire_backend(
    args: &ServeArgs,
    metrics: Arc<InProcessMetrics>,
    rotation: Arc<dyn RotationInvoker>,
) -> Result<Wiring, BoxError> {
    match args.backend {
        Backend::Embedded => crate::backend_embedded::wire(args, metrics, rotation).await,
        #[cfg(feature = "aws")]
        Backend::Aws => crate::backend_aws::wire(args, metrics, rotation).await,
        #[cfg(not(feature = "aws"))]
        Backend::Aws => Err("this coffer was built without the `aws` feature; rebuild with `cargo build --release --features aws`".into()),
    }
}

/// `coffer.LoginWithIam`: STS verifies logins through `coffer-aws`'s client (the `aws` feature).
#[cfg(feature = "aws")]
fn iam_login_settings(
    args: &ServeArgs,
) -> Result<Option<coffer_core::identity::iam_login::IamLoginSettings>, BoxError> {
    Ok(Some(coffer_aws::sts_caller_identity::iam_login_settings(
        args.iam_sts_endpoint.as_deref(),
        &args.iam_sts_region,
        args.iam_login_audience.clone(),
    )?))
}

#[cfg(not(feature = "aws"))]
fn iam_login_settings(
    args: &ServeArgs,
) -> Result<Option<coffer_core::identity::iam_login::IamLoginSettings>, BoxError> {
    match args.iam_sts_endpoint {
        Some(_) => Err("--iam-sts-endpoint (LoginWithIam) needs the `aws` feature: cargo build --release --features aws".into()),
        None => Ok(None),
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let metrics = Arc::new(InProcessMetrics::new());
    let (rotations, rotation_jobs) = rotation::queue();
    let wiring = wire_backend(&args, metrics.clone(), rotations).await?;
    let keys = wiring.ports.keys.clone();
    // Both backends: temporary credentials (STS AssumeRole, LoginWithIam when configured),
    // their tokens sealed under a key derived from the NextToken key, and the principal store.
    let service = Arc::new(
        ServiceParts {
            ports: wiring.ports,
            config: ServiceConfig {
                paging_key: wiring.paging_key,
                audit_required: args.audit_required,
            },
            principals: wiring.principals.clone(),
            temporary_credentials: Some(TemporaryCredentials {
                min_duration_secs: args.sts_min_duration_secs,
                iam_login: iam_login_settings(&args)?,
            }),
        }
        .assemble(),
    );
    let mut authenticator = SigV4Authenticator::new(wiring.root.clone());
    if let Some(sts) = service.sts() {
        authenticator = authenticator.with_sessions(sts.codec.clone());
    }
    if let Some(store) = &wiring.principals {
        authenticator = authenticator.with_principals(store.clone(), keys);
    }
    let state = WireState {
        service: service.clone(),
        authenticator: Arc::new(authenticator),
        account_id: args.account_id.clone(),
    };
    let scrape_service = service.clone();
    let app = coffer_wire::router(state).route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            let service = scrape_service.clone();
            async move {
                let gauges = match service.gauges().await {
                    Ok(gauges) => Some(gauges),
                    Err(e) => {
                        tracing::debug!(error = %e, "gauges not available for this scrape");
                        None
                    }
                };
                metrics.render_prometheus_with(gauges.as_deref())
            }
        }),
    );

    let scheduler = tokio::spawn(scheduler_loop(
        service.clone(),
        Duration::from_secs(args.scheduler_interval_secs.max(1)),
    ));
    let digests = (args.audit_digest_interval_secs > 0).then(|| {
        tokio::spawn(digest_loop(
            service.clone(),
            Duration::from_secs(args.audit_digest_interval_secs),
        ))
    });
    let gauges = match (&wiring.gauge_publisher, args.gauge_interval_secs) {
        (Some(publisher), secs) if secs > 0 => Some(tokio::spawn(gauge_loop(
            service.clone(),
            publisher.clone(),
            Duration::from_secs(secs),
        ))),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let runner = tokio::spawn(rotation::run_jobs(
        rotation_jobs,
        Arc::new(rotation_driver(
            &args,
            &wiring.root,
            wiring.lambda_functions.clone(),
            local,
            service.clone(),
        )?),
    ));
    announce(
        local,
        &args,
        &wiring.root.access_key_id,
        &wiring.credential_source,
        &wiring.storage,
    );
    let limits = crate::listener::Limits {
        max_connections: args.max_connections as usize,
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        request_body_timeout: Duration::from_secs(args.request_body_timeout_secs),
    };
    crate::listener::serve(listener, app, limits, shutdown_signal()).await?;
    scheduler.abort();
    runner.abort();
    if let Some(gauges) = gauges {
        gauges.abort();
    }
    if let Some(digests) = digests {
        digests.abort();
    }
    match service.ports().audit.checkpoint().await {
        Ok(()) => tracing::info!("audit trail checkpointed"),
        Err(e) => tracing::error!(error = %e, "final audit checkpoint failed"),
    }
    tracing::info!("drained in-flight requests; exiting");
    Ok(())
}

/// Signs a digest of the audit trail's head at every tick (the sink skips it when nothing was
/// recorded since the last one).
async fn digest_loop(service: Arc<SecretsService>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if let Err(e) = service.ports().audit.checkpoint().await {
            tracing::warn!(error = %e, "audit checkpoint failed; retrying next interval");
        }
    }
}

fn announce(
    local: SocketAddr,
    args: &ServeArgs,
    access_key_id: &str,
    source: &CredentialSource,
    storage: &str,
) {
    let credentials = match source {
        CredentialSource::Environment => format!(
            "from {} / {}",
            credentials::ACCESS_KEY_ENV,
            credentials::SECRET_KEY_ENV
        ),
        CredentialSource::File(path) => format!("{} (profile default)", path.display()),
    };
    println!("Coffer is serving the Secrets Manager API at http://{local}");
    println!("  storage:        {storage}");
    println!("  account id:     {}", args.account_id);
    println!("  root access key {access_key_id}; credentials {credentials}");
    if let CredentialSource::File(path) = source {
        println!(
            "  try: AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url http://{local} --region us-east-1 secretsmanager list-secrets",
            path.display()
        );
    }
    let _ = std::io::stdout().flush();
    tracing::info!(%local, "ready");
}

/// The in-process rotation driver: built-in rotators call this server at `local` (loopback
/// when it listens on every interface) as root.
fn rotation_driver(
    args: &ServeArgs,
    root: &RootCredentials,
    lambda: Option<Arc<dyn RotationFunction>>,
    local: SocketAddr,
    service: Arc<SecretsService>,
) -> Result<RotationDriver, BoxError> {
    let host = if local.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    };
    let functions = LocalRotationFunctions::new(
        format!("http://{}", SocketAddr::new(host, local.port())),
        root.access_key_id.clone(),
        root.secret_access_key.clone(),
        lambda,
    )?;
    Ok(RotationDriver::new(
        service,
        Arc::new(functions),
        Arc::new(TokioSleeper),
        RetryPolicy {
            max_attempts: args.rotation_max_attempts.max(1),
            first_backoff: Duration::from_secs(args.rotation_retry_backoff_secs),
            ..RetryPolicy::default()
        },
    ))
}

/// The scheduler's tick, every `--scheduler-interval-secs`: due rotations, expired deletions.
async fn scheduler_loop(service: Arc<SecretsService>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        match coffer_core::rotation::scheduler::tick(&service).await {
            Ok(report) if !report.rotations_started.is_empty() || report.purged > 0 => {
                tracing::info!(
                    started = report.rotations_started.len(),
                    purged = report.purged,
                    "scheduler tick"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; retrying next tick"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
