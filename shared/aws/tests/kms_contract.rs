//! The `KeyProvider` contract of `coffer-testkit`, run against `KmsKeyProvider` on moto's KMS.
//! The default key is the scope's AWS-managed key, `alias/aws/secretsmanager`, which KMS (and
//! moto) creates on first use in each region, as the contract expects.

mod kms_support;

use coffer_core::ids::Scope;
use coffer_testkit::key_provider_contract::{self, DEFAULT_KEY_ALIAS};
use kms_support::{endpoint, provider, scope, ACCOUNT};

#[tokio::test]
async fn kms_key_provider_passes_the_key_provider_contract() {
    let Some(endpoint) = endpoint("kms_key_provider_passes_the_key_provider_contract") else {
        return;
    };
    let (kms, metrics) = provider(&endpoint, DEFAULT_KEY_ALIAS);
    key_provider_contract::run_all(&kms, &scope()).await;
    // A scope whose region is not the client's own: served by a derived client.
    key_provider_contract::run_all(&kms, &Scope::new("eu-west-1", ACCOUNT)).await;
    assert!(kms.calls() > 0);
    assert_eq!(metrics.get("KmsCalls"), kms.calls());
}
