//! `DynamoDbSecretRepository` against the `SecretRepository` contract on moto's server, plus what
//! only this adapter has: the one-`GetItem` AWSCURRENT read, the 400 KB item bound, transactions
//! cancelled half-way, the table set-up, the sparse indexes, and the capacity counter.
//!
//! The endpoint comes from `COFFER_TEST_AWS_ENDPOINT` (the test runner starts moto and sets it);
//! without it the moto tests print why and pass without running. Every test works in a table of
//! its own, so tests run in parallel against one server.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use coffer_aws::dynamodb::{
    create_table, ConsumedCapacity, DynamoDbSecretRepository, TableSetup, INDEX_BY_PURGE,
    INDEX_BY_ROTATION, INDEX_BY_SCOPE,
};
use coffer_core::clock::Timestamp;
use coffer_core::ids::{SecretArn, VersionId};
use coffer_core::model::{SecretRecord, StoredKind, Tag, VersionMeta};
use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use coffer_testkit::builders::{
    arn_with_suffix, sample_record, sample_value, sample_value_seeded, sample_values,
    scheduled_for_deletion, scope, stage, test_key_arn, value_less_version, version_id,
    version_meta, T0,
};
use coffer_testkit::repository_contract;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use aws_sdk_dynamodb::config::http::HttpRequest;
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};

const ENDPOINT_VAR: &str = "COFFER_TEST_AWS_ENDPOINT";

/// The moto endpoint, or `None` (and a note on stderr) when the tests should skip.
fn endpoint(test: &str) -> Option<String> {
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

/// moto's server is threaded and evaluates a conditional write as "read the item, test the
/// condition, write" without a lock, so two concurrent conditional writes of one item can both
/// pass (the contract's 32-writer case then loses updates on moto, never on DynamoDB). The
/// tests therefore send one HTTP exchange at a time, which restores the per-request atomicity
/// DynamoDB guarantees; requests of different tasks still interleave freely between exchanges.
#[derive(Debug, Clone)]
struct OneExchangeAtATime {
    inner: SharedHttpClient,
}

fn exchange_lock() -> Arc<tokio::sync::Mutex<()>> {
    static LOCK: OnceLock<Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    LOCK.get_or_init(Default::default).clone()
}

impl HttpClient for OneExchangeAtATime {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(OneExchangeConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct OneExchangeConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for OneExchangeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let _one = exchange_lock().lock_owned().await;
            inner.call(request).await
        })
    }
}

async fn client(endpoint: &str) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    // moto speaks plain HTTP; an https endpoint (real DynamoDB) needs no serializing.
    if endpoint.starts_with("http://") {
        loader = loader.http_client(OneExchangeAtATime {
            inner: aws_smithy_http_client::Builder::new().build_http(),
        });
    }
    let config = loader
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "coffer-tests"))
        .load()
        .await;
    Client::new(&config)
}

/// A table name no other test (or earlier run against the same server) uses.
fn fresh_table(label: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "coffer-{label}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn fresh_repo(client: &Client, label: &str) -> DynamoDbSecretRepository {
    let table = fresh_table(label);
    let setup = create_table(client, &table).await.expect("create_table");
    assert_eq!(setup, TableSetup::Created);
    DynamoDbSecretRepository::new(client.clone(), table)
}

// ---------------------------------------------------------------------------------------------
// The contract

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_repository_meets_the_contract() {
    let Some(url) = endpoint("dynamodb_repository_meets_the_contract") else {
        return;
    };
    let client = client(&url).await;
    let handle = tokio::runtime::Handle::current();
    repository_contract::run_all(|| {
        // The suite's factory is synchronous; each case gets a table of its own.
        tokio::task::block_in_place(|| handle.block_on(fresh_repo(&client, "contract")))
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// AWSCURRENT in one GetItem

/// A record with version 1 AWSCURRENT and version 2 AWSPENDING, both with values.
fn record_with_pending(name: &str) -> SecretRecord {
    let mut record = sample_record(&scope(), name);
    record.versions.push(version_meta(
        version_id(2),
        &["AWSPENDING"],
        T0.plus_hours(1),
    ));
    record
}

fn next(read: &SecretRecord) -> SecretRecord {
    let mut next = read.clone();
    next.revision += 1;
    next.last_changed = Timestamp(read.last_changed.0 + 1_000);
    next
}

/// `get_by_name_with_current`, asserting it took exactly one request.
async fn current_in_one_request(
    repo: &DynamoDbSecretRepository,
    name: &str,
) -> (SecretRecord, Option<coffer_core::model::EncryptedValue>) {
    let before = repo.consumed();
    let got = repo
        .get_by_name_with_current(&scope(), name)
        .await
        .unwrap()
        .expect("secret exists");
    assert_eq!(
        repo.consumed().since(&before).requests,
        1,
        "one GetItem for the record and its AWSCURRENT value"
    );
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_read_after_label_only_move_returns_the_new_current_in_one_get_item() {
    let Some(url) = endpoint("current_read_after_label_only_move") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "current").await;
    let record = record_with_pending("rotating");
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    let (got, value) = current_in_one_request(&repo, "rotating").await;
    assert_eq!(got, record);
    assert_eq!(value, Some(sample_value(&version_id(1))));

    // finishSecret: AWSCURRENT moves to version 2 by label only (no value written).
    let mut finished = next(&record);
    finished.version_mut(&version_id(1)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    finished.version_mut(&version_id(2)).unwrap().stages = vec![stage("AWSCURRENT")];
    repo.update(&finished, 1, &VersionWrites::default())
        .await
        .unwrap();
    let (got, value) = current_in_one_request(&repo, "rotating").await;
    assert_eq!(got, finished);
    assert_eq!(
        value,
        Some(sample_value(&version_id(2))),
        "the moved AWSCURRENT"
    );

    // PutSecretValue: a new version becomes AWSCURRENT with its value in the same write.
    let mut put = next(&finished);
    put.version_mut(&version_id(1)).unwrap().stages = vec![];
    put.version_mut(&version_id(2)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    put.versions.push(version_meta(
        version_id(3),
        &["AWSCURRENT"],
        T0.plus_hours(2),
    ));
    let v3 = sample_value_seeded(&version_id(3), StoredKind::Binary, 3);
    let writes = VersionWrites {
        put_values: vec![v3.clone()],
        delete_values: vec![],
    };
    repo.update(&put, 2, &writes).await.unwrap();
    assert_eq!(current_in_one_request(&repo, "rotating").await.1, Some(v3));

    // Re-encryption of AWSCURRENT replaces the copy too.
    let reencrypted = next(&put);
    let v3_again = sample_value_seeded(&version_id(3), StoredKind::Binary, 33);
    let writes = VersionWrites {
        put_values: vec![v3_again.clone()],
        delete_values: vec![],
    };
    repo.update(&reencrypted, 3, &writes).await.unwrap();
    assert_eq!(
        current_in_one_request(&repo, "rotating").await.1,
        Some(v3_again.clone())
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(3)).await.unwrap(),
        Some(v3_again)
    );

    // Back to version 1 by label only, then to a value-less version: no value.
    let mut back = next(&reencrypted);
    back.version_mut(&version_id(3)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    back.version_mut(&version_id(1)).unwrap().stages = vec![stage("AWSCURRENT")];
    repo.update(&back, 4, &VersionWrites::default())
        .await
        .unwrap();
    assert_eq!(
        current_in_one_request(&repo, "rotating").await.1,
        Some(sample_value(&version_id(1)))
    );
    let mut empty = next(&back);
    empty.version_mut(&version_id(1)).unwrap().stages = vec![];
    empty.versions.push(value_less_version(
        version_id(4),
        &["AWSCURRENT"],
        T0.plus_hours(3),
    ));
    repo.update(&empty, 5, &VersionWrites::default())
        .await
        .unwrap();
    let (got, value) = current_in_one_request(&repo, "rotating").await;
    assert_eq!(got.revision, 6);
    assert_eq!(value, None);
}

// ---------------------------------------------------------------------------------------------
// Item size

/// `len` pseudo-random alphanumerics (xorshift): text that does not compress.
fn noise(len: usize, mut seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ALPHABET[(seed % 62) as usize] as char
        })
        .collect()
}

/// A UUID-shaped random version id, as the service makes them.
fn random_version(n: u64) -> VersionId {
    let h = noise(32, n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1).to_lowercase();
    VersionId::from_stored(format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    ))
}

/// A record of `n` versions with random ids, as a busy secret accumulates them.
fn record_with_versions(name: &str, n: u64) -> SecretRecord {
    let mut record = sample_record(&scope(), name);
    record.versions = (0..n)
        .map(|i| VersionMeta {
            id: random_version(i + 1),
            stages: if i + 1 == n {
                vec![stage("AWSCURRENT")]
            } else {
                vec![]
            },
            created: Timestamp(T0.0 + i as i64 * 60_000),
            last_accessed: None,
            kms_key_arn: Some(test_key_arn()),
            has_value: true,
        })
        .collect();
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_record_is_a_clean_error_and_stores_nothing() {
    let Some(url) = endpoint("oversized_record_is_a_clean_error") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "size").await;
    let mut huge = sample_record(&scope(), "huge");
    huge.tags = (0..50)
        .map(|i| Tag {
            key: format!("k{i}"),
            value: noise(12_000, i + 1),
        })
        .collect();
    match repo.insert(&huge, &sample_values(&huge)).await {
        Err(RepositoryError::Unavailable(msg)) => {
            assert!(msg.contains("400 KB"), "unclear message: {msg}");
            assert!(
                msg.contains(huge.arn.as_str()),
                "message names the secret: {msg}"
            );
        }
        other => panic!("expected a clean Unavailable, got {other:?}"),
    }
    assert_eq!(repo.get_by_name(&scope(), "huge").await.unwrap(), None);
    assert_eq!(
        repo.get_value(&huge.arn, &version_id(1)).await.unwrap(),
        None
    );

    // An update that would grow a stored secret past the limit changes nothing.
    let record = sample_record(&scope(), "grows");
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    let mut grown = next(&record);
    grown.tags = huge.tags.clone();
    grown.versions.push(version_meta(version_id(2), &[], T0));
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(2))],
        delete_values: vec![version_id(1)],
    };
    assert!(matches!(
        repo.update(&grown, 1, &writes).await,
        Err(RepositoryError::Unavailable(msg)) if msg.contains("400 KB")
    ));
    assert_eq!(
        repo.get_by_arn(record.arn.as_str()).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        None
    );
    assert!(repo
        .get_value(&record.arn, &version_id(1))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_with_thousands_of_versions_fits_compressed() {
    let Some(url) = endpoint("record_with_thousands_of_versions_fits_compressed") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "versions").await;
    // ~180 bytes of JSON per version: 2,500 versions are ~450 KB of JSON, stored deflated.
    let record = record_with_versions("busy", 2_500);
    let json = serde_json::to_vec(&record).unwrap().len();
    assert!(
        json > 400_000,
        "the test needs a record over the limit uncompressed ({json})"
    );
    let current = sample_value(&record.versions.last().unwrap().id);
    repo.insert(&record, std::slice::from_ref(&current))
        .await
        .unwrap();
    let (got, value) = current_in_one_request(&repo, "busy").await;
    assert_eq!(got, record);
    assert_eq!(value, Some(current));
    eprintln!("2,500 versions: {json} bytes of record JSON fit in one item compressed");
}

// ---------------------------------------------------------------------------------------------
// Transactions

async fn raw_put(client: &Client, table: &str, item: HashMap<String, AttributeValue>) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("raw PutItem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_cancelled_by_a_value_item_half_way_changes_nothing() {
    let Some(url) = endpoint("update_cancelled_by_a_value_item_half_way") else {
        return;
    };
    let client = client(&url).await;
    let repo = fresh_repo(&client, "cancel").await;
    let record = sample_record(&scope(), "app/db");
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    repo.touch_accessed(&record.arn, &version_id(1), T0.start_of_day())
        .await
        .unwrap();
    let before = repo.get_by_arn(record.arn.as_str()).await.unwrap().unwrap();

    // A value item of version 2 that belongs to another secret sits under this secret's key
    // (it cannot happen through the repository; it stands for any failure of the 2nd action).
    let foreign = arn_with_suffix(&scope(), "app/db", "zZzZzZ");
    let pk = "S#aws#us-east-1#123456789012#app/db";
    raw_put(
        &client,
        repo.table(),
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk.to_string())),
            (
                "sk".to_string(),
                AttributeValue::S(format!("V#{}", version_id(2))),
            ),
            ("arn".to_string(), AttributeValue::S(foreign.to_string())),
        ]),
    )
    .await;

    // PutSecretValue of version 2 that also prunes version 1: three actions, the second fails.
    let mut put = next(&before);
    put.description = Some("changed".to_string());
    put.version_mut(&version_id(1)).unwrap().stages = vec![];
    put.versions.push(version_meta(
        version_id(2),
        &["AWSCURRENT"],
        T0.plus_hours(1),
    ));
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(2))],
        delete_values: vec![version_id(1)],
    };
    match repo.update(&put, 1, &writes).await {
        Err(RepositoryError::Corrupt(msg)) => assert!(msg.contains("another secret"), "{msg}"),
        other => panic!("expected the cancelled transaction as Corrupt, got {other:?}"),
    }

    // Nothing moved: record, access dates, values, the AWSCURRENT copy, the foreign item.
    assert_eq!(
        repo.get_by_arn(record.arn.as_str()).await.unwrap(),
        Some(before.clone())
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(1)).await.unwrap(),
        Some(sample_value(&version_id(1)))
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        None
    );
    let (got, value) = current_in_one_request(&repo, "app/db").await;
    assert_eq!(got, before);
    assert_eq!(value, Some(sample_value(&version_id(1))));

    // Once the obstacle is gone the same write lands whole.
    client
        .delete_item()
        .table_name(repo.table())
        .key("pk", AttributeValue::S(pk.to_string()))
        .key("sk", AttributeValue::S(format!("V#{}", version_id(2))))
        .send()
        .await
        .unwrap();
    repo.update(&put, 1, &writes).await.unwrap();
    let mut expected = put.clone();
    expected.last_accessed = before.last_accessed;
    assert_eq!(
        repo.get_by_arn(record.arn.as_str()).await.unwrap(),
        Some(expected)
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(1)).await.unwrap(),
        None
    );
    assert_eq!(
        current_in_one_request(&repo, "app/db").await.1,
        Some(sample_value(&version_id(2)))
    );
}

// ---------------------------------------------------------------------------------------------
// Table, indexes, lookups by ARN

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_builds_the_indexes_and_a_second_call_leaves_the_table() {
    let Some(url) = endpoint("create_table_builds_the_indexes") else {
        return;
    };
    let client = client(&url).await;
    let table = fresh_table("setup");
    assert_eq!(
        create_table(&client, &table).await.unwrap(),
        TableSetup::Created
    );
    assert_eq!(
        create_table(&client, &table).await.unwrap(),
        TableSetup::AlreadyExisted
    );
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    let names: BTreeSet<&str> = t
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([INDEX_BY_SCOPE, INDEX_BY_ROTATION, INDEX_BY_PURGE])
    );

    // A table with another key schema is refused, not used.
    let foreign = fresh_table("foreign");
    client
        .create_table()
        .table_name(&foreign)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(matches!(
        create_table(&client, &foreign).await,
        Err(RepositoryError::Unavailable(msg)) if msg.contains("not a Coffer table")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_rotations_come_from_the_sparse_index() {
    let Some(url) = endpoint("due_rotations_come_from_the_sparse_index") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "rotation").await;
    let now = T0.plus_days(30);
    let mut due = BTreeSet::new();
    for (name, enabled, next_rotation, deleted) in [
        ("due", true, Some(T0.plus_days(29)), false),
        ("due-now", true, Some(now), false),
        ("later", true, Some(T0.plus_days(31)), false),
        ("disabled", false, Some(T0.plus_days(1)), false),
        ("unscheduled", true, None, false),
        ("deleted", true, Some(T0.plus_days(1)), true),
    ] {
        let mut record = sample_record(&scope(), name);
        record.rotation.configured = true;
        record.rotation.enabled = enabled;
        record.rotation.next_rotation = next_rotation;
        if deleted {
            record = scheduled_for_deletion(record, T0, T0.plus_days(7));
        }
        repo.insert(&record, &sample_values(&record)).await.unwrap();
        if enabled && !deleted && next_rotation.is_some_and(|t| t <= now) {
            due.insert(record.arn.clone());
        }
    }
    let got: BTreeSet<SecretArn> = repo
        .list_due_rotations(now)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(got, due);

    // Rotation done: next rotation moves out; disabling removes it from the index.
    let record = repo.get_by_name(&scope(), "due").await.unwrap().unwrap();
    let mut rotated = next(&record);
    rotated.rotation.next_rotation = Some(T0.plus_days(60));
    repo.update(&rotated, 1, &VersionWrites::default())
        .await
        .unwrap();
    let record = repo
        .get_by_name(&scope(), "due-now")
        .await
        .unwrap()
        .unwrap();
    let mut disabled = next(&record);
    disabled.rotation.enabled = false;
    repo.update(&disabled, 1, &VersionWrites::default())
        .await
        .unwrap();
    assert!(repo.list_due_rotations(now).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_by_arn_verify_the_stored_arn() {
    let Some(url) = endpoint("lookups_by_arn_verify_the_stored_arn") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "arn").await;
    // A name that itself ends like a suffix: its partial ARN parses as name "my" + suffix.
    let record = sample_record(&scope(), "my-secret");
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    let partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:my-secret";
    assert_eq!(repo.get_by_arn(partial).await.unwrap(), None);
    assert_eq!(
        repo.get_by_arn(record.arn.as_str()).await.unwrap(),
        Some(record.clone())
    );
    // A stale ARN of an earlier secret of the same name reads, touches and purges nothing.
    let stale = arn_with_suffix(&scope(), "my-secret", "OLDOLD");
    assert_eq!(repo.get_by_arn(stale.as_str()).await.unwrap(), None);
    assert_eq!(repo.get_value(&stale, &version_id(1)).await.unwrap(), None);
    repo.touch_accessed(&stale, &version_id(1), T0.start_of_day())
        .await
        .unwrap();
    repo.purge(&stale).await.unwrap();
    assert_eq!(
        repo.get_by_arn(record.arn.as_str()).await.unwrap(),
        Some(record.clone())
    );
    assert!(repo
        .get_value(&record.arn, &version_id(1))
        .await
        .unwrap()
        .is_some());
    for garbage in [
        "",
        "arn:aws:secretsmanager",
        "arn:aws:s3:::bucket",
        "my-secret",
    ] {
        assert_eq!(repo.get_by_arn(garbage).await.unwrap(), None, "{garbage:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity and errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumed_capacity_is_counted_per_call() {
    let Some(url) = endpoint("consumed_capacity_is_counted_per_call") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "capacity").await;
    let mut rows: Vec<(&str, ConsumedCapacity)> = Vec::new();
    macro_rules! measure {
        ($label:expr, $call:expr) => {{
            let before = repo.consumed();
            let out = $call;
            rows.push(($label, repo.consumed().since(&before)));
            out
        }};
    }
    let record = sample_record(&scope(), "measured");
    measure!(
        "insert (1 value)",
        repo.insert(&record, &sample_values(&record)).await
    )
    .unwrap();
    measure!("get_by_name", repo.get_by_name(&scope(), "measured").await).unwrap();
    measure!("get_by_arn", repo.get_by_arn(record.arn.as_str()).await).unwrap();
    measure!(
        "get_by_name_with_current",
        repo.get_by_name_with_current(&scope(), "measured").await
    )
    .unwrap();
    measure!(
        "get_value",
        repo.get_value(&record.arn, &version_id(1)).await
    )
    .unwrap();
    measure!(
        "touch_accessed",
        repo.touch_accessed(&record.arn, &version_id(1), T0.start_of_day())
            .await
    )
    .unwrap();
    let mut labels = next(&record);
    labels.description = Some("metadata only".to_string());
    measure!(
        "update (metadata only)",
        repo.update(&labels, 1, &VersionWrites::default()).await
    )
    .unwrap();
    let mut put = next(&labels);
    put.version_mut(&version_id(1)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    put.versions.push(version_meta(
        version_id(2),
        &["AWSCURRENT"],
        T0.plus_hours(1),
    ));
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(2))],
        delete_values: vec![],
    };
    measure!("update (new version)", repo.update(&put, 2, &writes).await).unwrap();
    let mut moved = next(&put);
    moved.version_mut(&version_id(1)).unwrap().stages = vec![stage("AWSCURRENT")];
    moved.version_mut(&version_id(2)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    measure!(
        "update (AWSCURRENT moved by label)",
        repo.update(&moved, 3, &VersionWrites::default()).await
    )
    .unwrap();
    measure!(
        "update (stale revision)",
        repo.update(&moved, 3, &VersionWrites::default()).await
    )
    .unwrap_err();
    measure!("list (1 secret)", repo.list(&scope()).await).unwrap();
    measure!("list_purgeable", repo.list_purgeable(T0).await).unwrap();
    measure!("list_due_rotations", repo.list_due_rotations(T0).await).unwrap();
    let doomed = scheduled_for_deletion(next(&moved), T0, T0.plus_days(7));
    repo.update(&doomed, 4, &VersionWrites::default())
        .await
        .unwrap();
    measure!("purge (2 values)", repo.purge(&record.arn).await).unwrap();

    eprintln!(
        "{:<36} {:>8} {:>6} {:>6}",
        "call (moto's figures)", "requests", "RCU", "WCU"
    );
    for (label, c) in &rows {
        eprintln!(
            "{label:<36} {:>8} {:>6} {:>6}",
            c.requests, c.read_units, c.write_units
        );
        assert!(c.requests >= 1, "{label} sent no request");
    }
    let by_label: HashMap<&str, ConsumedCapacity> = rows.iter().copied().collect();
    assert_eq!(by_label["get_by_name_with_current"].requests, 1);
    assert!(
        by_label["get_by_name"].read_units > 0.0,
        "GetItem reports read units"
    );
    assert!(by_label["insert (1 value)"].write_units >= 0.0);
    assert_eq!(
        by_label["update (metadata only)"].requests, 2,
        "pre-read + UpdateItem"
    );
    assert_eq!(
        by_label["update (new version)"].requests, 2,
        "pre-read + transaction"
    );
    assert_eq!(
        by_label["update (AWSCURRENT moved by label)"].requests, 3,
        "pre-read + value read + UpdateItem"
    );
    assert_eq!(
        by_label["update (stale revision)"].requests, 1,
        "fails on the pre-read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_unavailable_not_a_panic() {
    // Needs no moto: nothing listens on port 1.
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(Credentials::new("test", "test", None, None, "coffer-tests"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let repo = DynamoDbSecretRepository::new(Client::from_conf(config), "absent".to_string());
    match repo.get_by_name(&scope(), "x").await {
        Err(RepositoryError::Unavailable(msg)) => assert!(msg.contains("GetItem"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let record = sample_record(&scope(), "x");
    assert!(matches!(
        repo.insert(&record, &sample_values(&record)).await,
        Err(RepositoryError::Unavailable(_))
    ));
    assert_eq!(repo.consumed().requests, 2);
}

// ---------------------------------------------------------------------------------------------
// Item sizes for the cost model (docs/dynamodb-design.md)

/// DynamoDB's documented size of an attribute value.
fn rule_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + rule_size(v) + 1)
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn rule_item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + rule_size(v)).sum()
}

/// A secret as the service stores it: random version ids, a real-looking key ARN, tags,
/// rotation, and `versions` versions (the last AWSCURRENT, the one before AWSPREVIOUS).
fn realistic_record(name: &str, versions: u64) -> SecretRecord {
    let mut record = record_with_versions(name, versions);
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for v in &mut record.versions {
        v.kms_key_arn = Some(key.to_string());
    }
    if versions > 1 {
        let i = record.versions.len() - 2;
        record.versions[i].stages = vec![stage("AWSPREVIOUS")];
    }
    record.description = Some("Credentials of the orders database".to_string());
    record.tags = vec![
        Tag {
            key: "team".to_string(),
            value: "payments".to_string(),
        },
        Tag {
            key: "env".to_string(),
            value: "prod".to_string(),
        },
    ];
    record.rotation.configured = true;
    record.rotation.enabled = true;
    record.rotation.lambda_arn =
        Some("arn:aws:lambda:us-east-1:123456789012:function:rotate-orders-db".to_string());
    record.rotation.next_rotation = Some(T0.plus_days(30));
    record
}

/// The envelope of a 200-byte value: 6-byte header, ~184-byte KMS-wrapped data key, 12-byte
/// nonce, ciphertext and 16-byte tag.
fn realistic_value(version: &VersionId) -> coffer_core::model::EncryptedValue {
    coffer_core::model::EncryptedValue {
        version_id: version.clone(),
        kind: StoredKind::String,
        envelope: noise(6 + 184 + 12 + 200 + 16, 7).into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_sizes_for_the_cost_model() {
    let Some(url) = endpoint("item_sizes_for_the_cost_model") else {
        return;
    };
    let client = client(&url).await;
    let repo = fresh_repo(&client, "sizes").await;
    eprintln!(
        "{:>8} {:>10} {:>10} {:>12} {:>12} {:>10}",
        "versions", "JSON", "stored rec", "secret item", "by_scope", "value item"
    );
    for versions in [1u64, 2, 10, 100, 1_000] {
        let name = format!("sized-{versions}");
        let record = realistic_record(&name, versions);
        let current = realistic_value(&record.current_version().unwrap().id);
        repo.insert(&record, std::slice::from_ref(&current))
            .await
            .unwrap();
        let key = |sk: String| {
            HashMap::from([
                (
                    "pk".to_string(),
                    AttributeValue::S(format!("S#aws#us-east-1#123456789012#{name}")),
                ),
                ("sk".to_string(), AttributeValue::S(sk)),
            ])
        };
        let get = |sk: String| {
            client
                .get_item()
                .table_name(repo.table())
                .set_key(Some(key(sk)))
                .send()
        };
        let secret = get("S".to_string()).await.unwrap().item.unwrap();
        let value = get(format!("V#{}", current.version_id))
            .await
            .unwrap()
            .item
            .unwrap();
        let projected: HashMap<String, AttributeValue> = secret
            .iter()
            .filter(|(k, _)| {
                [
                    "pk", "sk", "scope", "sname", "arn", "rev", "rec", "recz", "la", "va",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let stored = secret
            .get("rec")
            .or_else(|| secret.get("recz"))
            .map(rule_size)
            .unwrap_or(0);
        eprintln!(
            "{versions:>8} {:>10} {stored:>10} {:>12} {:>12} {:>10}",
            serde_json::to_vec(&record).unwrap().len(),
            rule_item_size(&secret),
            rule_item_size(&projected),
            rule_item_size(&value),
        );
        assert!(rule_item_size(&secret) < 400_000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_from_a_slower_clock_moves_dates_only_forward() {
    let Some(url) = endpoint("touch_from_a_slower_clock_moves_dates_only_forward") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "touch").await;
    let record = record_with_pending("clocks");
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    let day = |n| T0.start_of_day().plus_days(n);
    repo.touch_accessed(&record.arn, &version_id(1), day(3))
        .await
        .unwrap();
    // Another replica, a day behind, records a read of version 2: the record keeps day 3.
    repo.touch_accessed(&record.arn, &version_id(2), day(2))
        .await
        .unwrap();
    // And an even older read of each version changes nothing.
    repo.touch_accessed(&record.arn, &version_id(2), day(1))
        .await
        .unwrap();
    repo.touch_accessed(&record.arn, &version_id(1), day(1))
        .await
        .unwrap();
    let got = repo.get_by_arn(record.arn.as_str()).await.unwrap().unwrap();
    assert_eq!(got.last_accessed, Some(day(3)));
    assert_eq!(
        got.version(&version_id(1)).unwrap().last_accessed,
        Some(day(3))
    );
    assert_eq!(
        got.version(&version_id(2)).unwrap().last_accessed,
        Some(day(2))
    );
    assert_eq!(got.revision, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_scopes_names_each_scope_with_a_secret_once() {
    let Some(url) = endpoint("list_scopes_names_each_scope_with_a_secret_once") else {
        return;
    };
    let repo = fresh_repo(&client(&url).await, "scopes").await;
    assert!(repo.list_scopes().await.unwrap().is_empty());
    let west = coffer_testkit::builders::scope_in("us-west-2");
    let other = coffer_core::ids::Scope::new("us-east-1", "210987654321");
    for (scope, name) in [
        (scope(), "a"),
        (scope(), "b"),
        (west.clone(), "a"),
        (other.clone(), "c"),
    ] {
        let record = sample_record(&scope, name);
        repo.insert(&record, &sample_values(&record)).await.unwrap();
    }
    let doomed = sample_record(&west, "a");
    repo.purge(&doomed.arn).await.unwrap();
    let got: BTreeSet<_> = repo.list_scopes().await.unwrap().into_iter().collect();
    assert_eq!(got, BTreeSet::from([scope(), other]));
}
