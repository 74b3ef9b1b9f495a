//! Wiring of the local server: open the embedded adapters in the data directory, build the
//! service and the router once, serve until SIGTERM/SIGINT (draining in-flight requests), and
//! purge expired secrets in the background.

use crate::config::ServeArgs;
use crate::credentials::{self, CredentialSource};
use crate::rotation::NoRotationRunner;
use axum::routing::get;
use coffer_core::clock::RandomSource;
use coffer_core::service::{Ports, SecretsService, ServiceConfig};
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::keyring::FileKeyring;
use coffer_embedded::metrics::InProcessMetrics;
use coffer_embedded::sqlite::SqliteSecretRepository;
use coffer_embedded::{OsRandom, SystemClock};
use coffer_wire::auth::SigV4Authenticator;
use coffer_wire::WireState;
use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

type BoxError = Box<dyn Error + Send + Sync>;

/// The HMAC key of `NextToken`s, kept in the data directory so tokens survive a restart.
fn load_or_create_paging_key(
    data_dir: &Path,
    random: &dyn RandomSource,
) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join("paging.key");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    random.fill(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

pub async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.data_dir)?;
    let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
    let repository = SqliteSecretRepository::open(&args.data_dir.join("coffer.db"))?;
    let keys = FileKeyring::open(&args.data_dir, random.clone(), Arc::new(SystemClock))?;
    let audit = JsonLinesAuditSink::open(&args.data_dir.join("audit"))?;
    let metrics = Arc::new(InProcessMetrics::new());
    let (root, source) = credentials::load_or_create(&args.data_dir, &args.account_id)?;
    let paging_key = load_or_create_paging_key(&args.data_dir, random.as_ref())?;

    let ports = Ports {
        repository: Arc::new(repository),
        keys: Arc::new(keys),
        audit: Arc::new(audit),
        metrics: metrics.clone(),
        rotation: Arc::new(NoRotationRunner),
        clock: Arc::new(SystemClock),
        random,
    };
    let service = Arc::new(SecretsService::new(
        ports,
        ServiceConfig {
            paging_key,
            audit_required: args.audit_required,
        },
    ));
    let state = WireState {
        service: service.clone(),
        authenticator: Arc::new(SigV4Authenticator::new(root.clone())),
        account_id: args.account_id.clone(),
    };
    let app = coffer_wire::router(state).route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { metrics.render_prometheus() }
        }),
    );

    let purge = tokio::spawn(purge_loop(
        service,
        Duration::from_secs(args.purge_interval_secs.max(1)),
    ));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    announce(local, &args, &root.access_key_id, &source);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    purge.abort();
    tracing::info!("drained in-flight requests; exiting");
    Ok(())
}

fn announce(local: SocketAddr, args: &ServeArgs, access_key_id: &str, source: &CredentialSource) {
    let credentials = match source {
        CredentialSource::Environment => format!(
            "from {} / {}",
            credentials::ACCESS_KEY_ENV,
            credentials::SECRET_KEY_ENV
        ),
        CredentialSource::File(path) => format!("{} (profile default)", path.display()),
    };
    println!("Coffer is serving the Secrets Manager API at http://{local}");
    println!("  data directory: {}", args.data_dir.display());
    println!("  account id:     {}", args.account_id);
    println!("  root access key {access_key_id}; credentials {credentials}");
    println!("  try: AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url http://{local} --region us-east-1 secretsmanager list-secrets",
        args.data_dir.join("credentials").display());
    let _ = std::io::stdout().flush();
    tracing::info!(%local, "ready");
}

async fn purge_loop(service: Arc<SecretsService>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        if let Err(e) = service.purge_expired().await {
            tracing::warn!(error = %e, "purge of expired secrets failed; retrying next sweep");
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
