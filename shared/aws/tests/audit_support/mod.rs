//! Shared helpers of the audit adapters' tests on moto (`audit_sinks.rs`, `audit_digests.rs`):
//! the endpoint from `COFFER_TEST_AWS_ENDPOINT` (without it a test prints why and passes
//! without running), the SDK configuration for it, a wall clock, and a KMS HMAC key for digests.

#![allow(dead_code)] // each test binary uses a different subset

use aws_config::BehaviorVersion;
use aws_sdk_kms::config::{Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use coffer_core::clock::{Clock, Timestamp};

pub const ENDPOINT_VAR: &str = "COFFER_TEST_AWS_ENDPOINT";
pub const REGION: &str = "us-east-1";

/// The moto endpoint, or `None` after printing why the test is skipped.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED {test}: set {ENDPOINT_VAR} to a moto server (e.g. http://127.0.0.1:5000)"
            );
            None
        }
    }
}

/// The SDK configuration for moto, with dummy credentials.
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "coffer-tests"))
        .load()
        .await
}

pub struct WallClock;
impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        )
    }
}

/// A new KMS key for digests (HMAC_256, GENERATE_VERIFY_MAC); returns its id.
pub async fn hmac_key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string()
}
