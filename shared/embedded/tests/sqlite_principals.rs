//! `SqliteSecretRepository` as a `PrincipalStore` (tables `principals` and `access_keys` of the
//! same database) against the `PrincipalStore` contract.

use coffer_embedded::sqlite::SqliteSecretRepository;
use coffer_testkit::principal_store_contract;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test]
async fn sqlite_principal_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    principal_store_contract::run_all(|| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        SqliteSecretRepository::open(&dir.path().join(format!("principals-{i}.db"))).unwrap()
    })
    .await;
}
