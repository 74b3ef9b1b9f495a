//! The in-memory key provider passes the same `KeyProvider` contract as every real adapter.

use coffer_core::ids::Scope;
use coffer_testkit::{key_provider_contract, InMemoryKeyProvider};

#[tokio::test]
async fn in_memory_key_provider_meets_the_contract() {
    let keys = InMemoryKeyProvider::new();
    key_provider_contract::run_all(&keys, &Scope::new("us-east-1", "123456789012")).await;
    // Twice against the same provider, and in a second scope: cases tolerate leftover state.
    key_provider_contract::run_all(&keys, &Scope::new("us-east-1", "123456789012")).await;
    key_provider_contract::run_all(&keys, &Scope::new("us-west-2", "210987654321")).await;
}
