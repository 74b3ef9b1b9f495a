//! The AWS backend (`--backend aws`, cargo feature `aws`): secrets in a DynamoDB table, data keys
//! from KMS behind the in-memory data-key cache, audit events as JSON lines on stdout (and to
//! CloudWatch Logs / EventBridge with `--audit-log-group` / `--audit-event-bus`), gauges to
//! CloudWatch every `--gauge-interval-secs`. Endpoints,
//! region and credentials come from the standard AWS configuration (`AWS_ENDPOINT_URL`,
//! `AWS_REGION`, profiles, instance roles). Nothing is kept on local disk, so any number of
//! replicas can share one table; they share NextToken validity because the token key is derived
//! from the root credentials they share.

use crate::config::ServeArgs;
use crate::credentials::{self, CredentialSource};
use crate::rotation::NoRotationRunner;
use crate::server::{BoxError, GaugePublisher, Wiring};
use coffer_aws::audit_batch::{BatchConfig, FanOutAuditSink};
use coffer_aws::audit_cloudwatch::{new_stream_name, CloudWatchLogsAuditSink};
use coffer_aws::audit_eventbridge::EventBridgeAuditSink;
use coffer_aws::dynamodb::{create_table, DynamoDbSecretRepository};
use coffer_aws::kms::KmsKeyProvider;
use coffer_aws::metrics_cloudwatch::publish_gauges;
use coffer_core::clock::{Clock, RandomSource};
use coffer_core::keycache::{CacheLimits, CachingKeyProvider};
use coffer_core::metrics::ScopeGauges;
use coffer_core::ports::AuditSink;
use coffer_core::ports::MetricsSink;
use coffer_core::service::Ports;
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::{OsRandom, SystemClock};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// Every replica derives the same NextToken key from the shared root secret.
fn derived_paging_key(root_secret: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"coffer NextToken key v1");
    mac.finalize().into_bytes().into()
}

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub async fn wire(args: &ServeArgs, metrics: Arc<dyn MetricsSink>) -> Result<Wiring, BoxError> {
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
    let sdk = sdk_config().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let random: Arc<dyn RandomSource> = Arc::new(OsRandom);
    let repository = DynamoDbSecretRepository::new(aws_sdk_dynamodb_client(&sdk), table.clone());
    let kms = KmsKeyProvider::new(
        coffer_aws::kms::Client::new(&sdk),
        kms_key.clone(),
        metrics.clone(),
    );
    let keys = CachingKeyProvider::new(
        Arc::new(kms),
        clock.clone(),
        metrics.clone(),
        CacheLimits {
            ttl_ms: (args.data_key_cache_secs as i64).saturating_mul(1000),
            max_entries: args.data_key_cache_entries,
        },
    );
    let paging_key = derived_paging_key(&root.secret_access_key);
    let audit = audit_sinks(args, &sdk, &metrics).await?;
    Ok(Wiring {
        ports: Ports {
            repository: Arc::new(repository),
            keys: Arc::new(keys),
            audit,
            metrics,
            rotation: Arc::new(NoRotationRunner),
            clock,
            random,
        },
        root,
        // No DynamoDB adapter for principals yet: in AWS mode only the root principal exists.
        principals: None,
        credential_source: CredentialSource::Environment,
        paging_key,
        storage: format!("aws (DynamoDB table {table}, KMS key {kms_key})"),
        gauge_publisher: Some(Arc::new(CloudWatchGauges(
            coffer_aws::metrics_cloudwatch::Client::new(&sdk),
        ))),
    })
}

/// The audit sinks of AWS mode: JSON lines on stdout, plus CloudWatch Logs and EventBridge
/// when configured (batched off the request path unless `--audit-required`).
async fn audit_sinks(
    args: &ServeArgs,
    sdk: &aws_config::SdkConfig,
    metrics: &Arc<dyn MetricsSink>,
) -> Result<Arc<dyn AuditSink>, BoxError> {
    let config = BatchConfig {
        required: args.audit_required,
        ..BatchConfig::default()
    };
    let mut sinks: Vec<Arc<dyn AuditSink>> = vec![Arc::new(JsonLinesAuditSink::stdout())];
    if let Some(group) = &args.audit_log_group {
        let sink = CloudWatchLogsAuditSink::start(
            coffer_aws::audit_cloudwatch::Client::new(sdk),
            group.clone(),
            new_stream_name(),
            config,
            Some(metrics.clone()),
        )
        .await?;
        sinks.push(Arc::new(sink));
    }
    if let Some(bus) = &args.audit_event_bus {
        sinks.push(Arc::new(EventBridgeAuditSink::start(
            coffer_aws::audit_eventbridge::Client::new(sdk),
            bus.clone(),
            config,
            Some(metrics.clone()),
        )));
    }
    Ok(match sinks.len() {
        1 => sinks.remove(0),
        _ => Arc::new(FanOutAuditSink::new(sinks)),
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

fn aws_sdk_dynamodb_client(sdk: &aws_config::SdkConfig) -> coffer_aws::dynamodb::Client {
    coffer_aws::dynamodb::Client::new(sdk)
}

/// `coffer init-table --table <name>`.
pub async fn init_table(table: &str) -> Result<(), BoxError> {
    let sdk = sdk_config().await;
    create_table(&aws_sdk_dynamodb_client(&sdk), table).await?;
    println!("created DynamoDB table {table} and its indexes");
    Ok(())
}
