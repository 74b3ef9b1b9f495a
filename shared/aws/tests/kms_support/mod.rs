//! Shared helpers of the KMS adapter's tests: the moto endpoint, SDK clients for it, a counting
//! metrics sink, and key/alias creation through aws-sdk-kms (the real control-plane API).
//!
//! The tests need moto's server: they read its URL from `COFFER_TEST_AWS_ENDPOINT` and skip
//! (with a line on stderr) when it is unset, so `cargo test --workspace` passes without it.

#![allow(dead_code)] // each test binary uses a different subset

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_kms::Client;
use coffer_aws::kms::KmsKeyProvider;
use coffer_core::ids::Scope;
use coffer_core::ports::MetricsSink;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// moto's default account: the ARNs it issues carry it.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub fn scope() -> Scope {
    Scope::new(REGION, ACCOUNT)
}

/// The moto endpoint, or `None` after printing why the test is skipped.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var("COFFER_TEST_AWS_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIP {test}: COFFER_TEST_AWS_ENDPOINT is not set (start moto_server and set it)"
            );
            None
        }
    }
}

/// A KMS client for `region` on `endpoint`, with moto's dummy credentials.
pub fn client(endpoint: &str, region: &str) -> Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "coffer-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// Counters recorded through the `MetricsSink` port.
#[derive(Default)]
pub struct CountingMetrics {
    counters: Mutex<HashMap<String, u64>>,
}

impl CountingMetrics {
    pub fn get(&self, metric: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(metric)
            .copied()
            .unwrap_or(0)
    }
}

impl MetricsSink for CountingMetrics {
    fn record_call(&self, _operation: &str, _error_code: Option<&str>, _latency_ms: f64) {}

    fn increment(&self, metric: &str, by: u64) {
        *self
            .counters
            .lock()
            .unwrap()
            .entry(metric.to_string())
            .or_default() += by;
    }
}

/// A provider on `endpoint` (home region `REGION`) with `default_key` and a counting sink.
pub fn provider(endpoint: &str, default_key: &str) -> (KmsKeyProvider, Arc<CountingMetrics>) {
    let metrics = Arc::new(CountingMetrics::default());
    let provider = KmsKeyProvider::new(
        client(endpoint, REGION),
        default_key.to_string(),
        metrics.clone(),
    );
    (provider, metrics)
}

/// A key made through the control plane.
pub struct TestKey {
    pub id: String,
    pub arn: String,
}

pub async fn create_key(client: &Client, description: &str) -> TestKey {
    let out = client
        .create_key()
        .description(description)
        .send()
        .await
        .expect("CreateKey");
    let meta = out.key_metadata.expect("KeyMetadata");
    TestKey {
        id: meta.key_id,
        arn: meta.arn.expect("Arn"),
    }
}

pub async fn create_asymmetric_key(client: &Client) -> TestKey {
    let out = client
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .key_spec(KeySpec::Rsa2048)
        .send()
        .await
        .expect("CreateKey RSA_2048");
    let meta = out.key_metadata.expect("KeyMetadata");
    TestKey {
        id: meta.key_id,
        arn: meta.arn.expect("Arn"),
    }
}

/// A fresh alias name (`alias/coffer-test-<uuid>`) pointing at `key`.
pub async fn create_alias(client: &Client, key: &TestKey) -> String {
    let alias = format!("alias/coffer-test-{}", uuid::Uuid::new_v4());
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key.id)
        .send()
        .await
        .expect("CreateAlias");
    alias
}

/// The ARN of `alias` in the test region and account.
pub fn alias_arn(alias: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:{alias}")
}
