//! `DynamoDbPrincipalStore` against the `PrincipalStore` contract on moto's server, plus what
//! only this adapter has: items beside the secrets that the secret repository never lists, and
//! access-key secrets sealed with KMS the way AWS mode seals them (the default key of the
//! deployment's region, given as a key ARN or an alias).
//!
//! The endpoint comes from `COFFER_TEST_AWS_ENDPOINT`; without it the tests print why and pass
//! without running. Every store works in a table of its own.

mod kms_support;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use coffer_aws::dynamodb::{create_table, DynamoDbPrincipalStore, DynamoDbSecretRepository};
use coffer_aws::kms::KmsKeyProvider;
use coffer_core::identity::principals::{
    resolve_access_key, seal_access_key_secret, PrincipalType, PRINCIPAL_KEY_REGION,
};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::{KeyError, SecretRepository};
use coffer_testkit::builders::{sample_record, sample_values, scope, ACCOUNT};
use coffer_testkit::principal_store_contract::{self, access_key, principal, OTHER_ACCOUNT};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(kms_support::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "coffer-tests"))
        .build();
    Client::from_conf(config)
}

/// A fresh table (name unique per process and call) and the secret repository on it.
async fn fresh_repo(client: &Client) -> DynamoDbSecretRepository {
    static N: AtomicUsize = AtomicUsize::new(0);
    let table = format!(
        "coffer-principals-{}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    create_table(client, &table).await.expect("create_table");
    DynamoDbSecretRepository::new(client.clone(), table)
}

#[tokio::test]
async fn dynamodb_principal_store_meets_the_contract() {
    let Some(url) = kms_support::endpoint("dynamodb_principal_store_meets_the_contract") else {
        return;
    };
    let client = client(&url);
    // `run_all` takes a synchronous factory: the tables are created up front, one per case.
    let mut stores = Vec::new();
    for _ in 0..32 {
        stores.push(DynamoDbPrincipalStore::on(
            &fresh_repo(&client).await,
            kms_support::REGION,
        ));
    }
    let stores = std::sync::Mutex::new(stores);
    principal_store_contract::run_all(|| {
        stores
            .lock()
            .unwrap()
            .pop()
            .expect("more contract cases than prepared tables")
    })
    .await;
}

/// Principals and keys share the table with secrets but never show up in a secret listing,
/// and a secret's listing and purge never touch them.
#[tokio::test]
async fn principal_items_stay_out_of_the_secret_indexes() {
    let Some(url) = kms_support::endpoint("principal_items_stay_out_of_the_secret_indexes") else {
        return;
    };
    let repo = fresh_repo(&client(&url)).await;
    let store = DynamoDbPrincipalStore::on(&repo, kms_support::REGION);
    store
        .insert_principal(&principal(ACCOUNT, PrincipalType::User, "alice"))
        .await
        .unwrap();
    store
        .insert_principal(&principal(OTHER_ACCOUNT, PrincipalType::Role, "reader"))
        .await
        .unwrap();
    store
        .insert_access_key(&access_key(ACCOUNT, "alice", "AKIAINDEXCHECK000001"))
        .await
        .unwrap();
    let secret = sample_record(&scope(), "alice");
    repo.insert(&secret, &sample_values(&secret)).await.unwrap();

    assert_eq!(repo.list(&scope()).await.unwrap(), vec![secret.clone()]);
    assert_eq!(repo.list_scopes().await.unwrap(), vec![scope()]);
    let far_future = coffer_core::clock::Timestamp::from_millis(i64::MAX / 2);
    assert!(repo.list_purgeable(far_future).await.unwrap().is_empty());
    assert!(repo
        .list_due_rotations(far_future)
        .await
        .unwrap()
        .is_empty());
    repo.purge(&secret.arn).await.unwrap();
    assert!(store
        .get_principal(ACCOUNT, PrincipalType::User, "alice")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .list_access_keys(ACCOUNT, "alice")
            .await
            .unwrap()
            .len(),
        1
    );
}

/// AWS mode's KMS configuration: one default key (`--kms-key` / `COFFER_KMS_KEY`, a key ARN or
/// an alias) in the deployment's region. A key ARN exists in its region only, so sealing under
/// the fixed `PRINCIPAL_KEY_REGION` of local mode fails outside that region; the store's
/// `key_region` (the deployment's region) makes sealing and the authenticator's opening work
/// for principals of any account.
#[tokio::test]
async fn access_key_secret_sealed_with_the_deployment_key_resolves() {
    let Some(url) =
        kms_support::endpoint("access_key_secret_sealed_with_the_deployment_key_resolves")
    else {
        return;
    };
    const HOME: &str = "eu-west-1";
    assert_ne!(HOME, PRINCIPAL_KEY_REGION);
    let kms = kms_support::client(&url, HOME);
    let key = kms_support::create_key(&kms, "coffer deployment key").await;
    let alias = kms_support::create_alias(&kms, &key).await;
    let repo = fresh_repo(&client(&url)).await;
    let store = DynamoDbPrincipalStore::on(&repo, HOME);
    assert_eq!(store.key_region(), HOME);

    for (default_key, account, user) in [
        (key.arn.as_str(), ACCOUNT, "alice"),
        (alias.as_str(), OTHER_ACCOUNT, "bob"),
    ] {
        let metrics = Arc::new(kms_support::CountingMetrics::default());
        let keys = KmsKeyProvider::new(kms.clone(), default_key.to_string(), metrics);
        let secret = format!("{user}-secret-access-key-0123456789abcdef");
        let id = format!("AKIA{:0>16}", user.to_uppercase());

        // The region local mode uses has no such key here.
        let foreign =
            seal_access_key_secret(&keys, PRINCIPAL_KEY_REGION, account, &id, &secret, &[7; 12])
                .await;
        if default_key == key.arn {
            assert!(matches!(foreign, Err(KeyError::NotFound(_))), "{foreign:?}");
        }

        store
            .insert_principal(&principal(account, PrincipalType::User, user))
            .await
            .unwrap();
        let mut record = access_key(account, user, &id);
        record.encrypted_secret =
            seal_access_key_secret(&keys, store.key_region(), account, &id, &secret, &[7; 12])
                .await
                .expect("sealed under the deployment key");
        assert!(
            !record
                .encrypted_secret
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "the stored envelope holds no plaintext"
        );
        store.insert_access_key(&record).await.unwrap();

        let (opened, owner) = resolve_access_key(&store, &keys, &id)
            .await
            .unwrap()
            .expect("an active key of an existing user resolves");
        assert_eq!(opened.as_str(), secret);
        assert_eq!(owner.arn(), format!("arn:aws:iam::{account}:user/{user}"));
    }
}
