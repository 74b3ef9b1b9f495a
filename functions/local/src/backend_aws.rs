//! The AWS backend (`--backend aws`, cargo feature `aws`): secrets in a DynamoDB table, data keys
//! from KMS behind the in-memory data-key cache, audit events as JSON lines on stdout (and to
//! CloudWatch Logs / EventBridge with `--audit-log-group` / `--audit-event-bus`), gauges to
//! CloudWatch every `--gauge-interval-secs`, users, roles and access keys in the same table (so
//! the admin API and STS AssumeRole work as on the embedded backend). The ports are built by
//! `coffer_aws::wiring`, the same code the Lambda functions run. Endpoints, region and credentials come from the standard
//! AWS configuration (`AWS_ENDPOINT_URL`, `AWS_REGION`, profiles, instance roles). Nothing is
//! kept on local disk, so any number of replicas can share one table; they share NextToken
//! validity and STS session tokens because both keys are derived from the root credentials they
//! share.

use crate::config::ServeArgs;
use crate::credentials::{self, CredentialSource};
use crate::server::{BoxError, GaugePublisher, Wiring};
use coffer_aws::dynamodb::create_table;
use coffer_aws::metrics_cloudwatch::publish_gauges;
use coffer_aws::wiring::{self, AuthMode, AwsSettings, Host};
use coffer_core::keycache::CacheLimits;
use coffer_core::metrics::ScopeGauges;
use coffer_core::ports::{MetricsSink, RotationFunction, RotationInvoker};
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::{OsRandom, SystemClock};
use std::sync::Arc;

pub async fn wire(
    args: &ServeArgs,
    metrics: Arc<dyn MetricsSink>,
    rotation: Arc<dyn RotationInvoker>,
) -> Result<Wiring, BoxError> {
    let table = args
        .table
        .clone()
        .ok_or("--table is required with --backend aws")?;
    let kms_key = args
        .kms_key
        .clone()
        .ok_or("--kms-key is required with --backend aws")?;
    let root = credentials::from_environment(&args.account_id).ok_or_else(|| {
        format!(
            "--backend aws is stateless: set {} and {} (shared by every replica)",
            credentials::ACCESS_KEY_ENV,
            credentials::SECRET_KEY_ENV
        )
    })?;
    let settings = AwsSettings {
        table,
        kms_key,
        account_id: args.account_id.clone(),
        rotation_function: None,
        lambda_endpoint: args.lambda_endpoint.clone(),
        auth: AuthMode::SigV4 {
            access_key_id: root.access_key_id.clone(),
            secret_access_key: root.secret_access_key.clone(),
        },
        paging_secret: None,
        audit_log_group: args.audit_log_group.clone(),
        audit_event_bus: args.audit_event_bus.clone(),
        audit_required: args.audit_required,
        audit_digest_key_id: args.audit_digest_key_id.clone(),
        audit_digest_interval_secs: args.audit_digest_interval_secs,
        data_key_cache: CacheLimits {
            ttl_ms: (args.data_key_cache_secs as i64).saturating_mul(1000),
            max_entries: args.data_key_cache_entries,
        },
    };
    let host = Host {
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
        metrics,
        audit: Arc::new(JsonLinesAuditSink::stdout()),
        rotation: Some(rotation),
    };
    let built = wiring::build(&settings, host).await?;
    let lambda_functions: Arc<dyn RotationFunction> = Arc::new(built.rotation_function());
    Ok(Wiring {
        ports: built.ports,
        root,
        principals: Some(built.principals.clone()),
        credential_source: CredentialSource::Environment,
        paging_key: built.paging_key,
        storage: built.storage,
        gauge_publisher: Some(Arc::new(CloudWatchGauges(
            coffer_aws::metrics_cloudwatch::Client::new(&built.sdk),
        ))),
        lambda_functions: Some(lambda_functions),
    })
}

/// Gauges to CloudWatch (`PutMetricData`, namespace `Coffer`).
struct CloudWatchGauges(coffer_aws::metrics_cloudwatch::Client);

#[async_trait::async_trait]
impl GaugePublisher for CloudWatchGauges {
    async fn publish(&self, gauges: &[ScopeGauges]) -> Result<(), String> {
        publish_gauges(&self.0, "Coffer", gauges).await.map(|_| ())
    }
}

/// `coffer init-table --table <name>`.
pub async fn init_table(table: &str) -> Result<(), BoxError> {
    let sdk = wiring::load_sdk_config().await;
    create_table(&coffer_aws::dynamodb::Client::new(&sdk), table).await?;
    println!("created DynamoDB table {table} and its indexes");
    Ok(())
}
