//! The embedded backend: SQLite, the keyring file, and the JSON-lines audit log (hash-chained,
//! with digests signed under the keyring's audit digest key), all in the data directory
//! (created 0700). Root credentials and the NextToken key live there too.

use crate::config::ServeArgs;
use crate::credentials;
use crate::server::{BoxError, Wiring};
use coffer_core::clock::RandomSource;
use coffer_core::ids::Scope;
use coffer_core::metrics::MeteredKeyProvider;
use coffer_core::ports::{MetricsSink, RotationFunction, RotationInvoker};
use coffer_core::service::Ports;
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::{FileKeyring, OsRandom, SqliteSecretRepository, SystemClock};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

/// The region of the keyring scope that holds the audit digest key.
const AUDIT_KEY_REGION: &str = "us-east-1";

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

pub async fn wire(
    args: &ServeArgs,
    metrics: Arc<dyn MetricsSink>,
    rotation: Arc<dyn RotationInvoker>,
) -> Result<Wiring, BoxError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.data_dir)?;
    let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
    let repository = SqliteSecretRepository::open(&args.data_dir.join("coffer.db"))?;
    let keys = Arc::new(FileKeyring::open(
        &args.data_dir,
        random.clone(),
        Arc::new(SystemClock),
    )?);
    // The trail is one stream for every region, so its signing key lives in one fixed scope.
    let digest_key = keys.audit_digest_key(&Scope::new(AUDIT_KEY_REGION, &args.account_id))?;
    let audit = JsonLinesAuditSink::open_with_digests(
        &args.data_dir.join("audit"),
        digest_key,
        Arc::new(SystemClock),
    )?;
    let (root, credential_source) = credentials::load_or_create(&args.data_dir, &args.account_id)?;
    let paging_key = load_or_create_paging_key(&args.data_dir, random.as_ref())?;
    let principals: Arc<dyn coffer_core::ports::PrincipalStore> = Arc::new(repository.clone());
    Ok(Wiring {
        ports: Ports {
            repository: Arc::new(repository),
            // The keyring is the local KMS: count its calls as KmsCalls.
            keys: Arc::new(MeteredKeyProvider::new(keys, metrics.clone())),
            audit: Arc::new(audit),
            metrics,
            rotation,
            clock: Arc::new(SystemClock),
            random,
        },
        root,
        principals: Some(principals),
        credential_source,
        paging_key,
        storage: format!("embedded (data directory {})", args.data_dir.display()),
        gauge_publisher: None,
        lambda_functions: lambda_functions(args.lambda_endpoint.as_deref()).await?,
    })
}

/// Lambda Invoke of rotation functions at `--lambda-endpoint` (the `aws` feature has the
/// Lambda client).
#[cfg(feature = "aws")]
async fn lambda_functions(
    endpoint: Option<&str>,
) -> Result<Option<Arc<dyn RotationFunction>>, BoxError> {
    let Some(endpoint) = endpoint else {
        return Ok(None);
    };
    let sdk = coffer_aws::wiring::load_sdk_config().await;
    Ok(Some(Arc::new(
        coffer_aws::lambda_invoke::LambdaRotationFunction::from_sdk(&sdk, Some(endpoint)),
    )))
}

#[cfg(not(feature = "aws"))]
async fn lambda_functions(
    endpoint: Option<&str>,
) -> Result<Option<Arc<dyn RotationFunction>>, BoxError> {
    match endpoint {
        None => Ok(None),
        Some(_) => {
            Err("--lambda-endpoint needs the Lambda client: rebuild with `--features aws`".into())
        }
    }
}
