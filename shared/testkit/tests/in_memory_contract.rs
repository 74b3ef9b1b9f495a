//! The in-memory fake passes the same `SecretRepository` contract as every real adapter.

use coffer_testkit::{repository_contract, InMemorySecretRepository};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_repository_meets_the_contract() {
    repository_contract::run_all(InMemorySecretRepository::new).await;
}

#[tokio::test]
async fn in_memory_repository_lists_scopes() {
    repository_contract::list_scopes_names_each_scope_with_secrets_once(std::sync::Arc::new(
        InMemorySecretRepository::new(),
    ))
    .await;
}
