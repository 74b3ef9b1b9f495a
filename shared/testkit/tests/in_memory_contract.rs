//! The in-memory fakes pass the same `SecretRepository` and `PrincipalStore` contracts as every
//! real adapter.

use coffer_testkit::{
    principal_store_contract, repository_contract, InMemoryPrincipalStore, InMemorySecretRepository,
};

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

#[tokio::test]
async fn in_memory_principal_store_meets_the_contract() {
    principal_store_contract::run_all(InMemoryPrincipalStore::new).await;
}
