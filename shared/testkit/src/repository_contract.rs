//! The contract of the `SecretRepository` port: what the core's services rely on, whatever the
//! storage. Every adapter runs it (`run_all`, or the cases one by one); the in-memory fake runs it
//! too, which keeps the fake honest.
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn sqlite_repository_meets_the_contract() {
//!     let dir = tempfile::tempdir().unwrap();
//!     let n = std::sync::atomic::AtomicUsize::new(0);
//!     coffer_testkit::repository_contract::run_all(|| {
//!         let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!         SqliteSecretRepository::open(&dir.path().join(format!("{i}.db"))).unwrap()
//!     })
//!     .await;
//! }
//! ```
//!
//! What the suite pins down:
//! - `get_by_name` is by (scope, exact name); `get_by_arn` by exact full ARN; both return the
//!   record exactly as written (every field round-trips).
//! - Each scope (partition, region, account) is its own namespace; `insert` of a name that exists
//!   in the scope, even scheduled for deletion, is `NameTaken` and stores nothing.
//! - `update(record, n, writes)` lands only if the stored revision is `n`, otherwise `Conflict`
//!   (also for a secret that no longer exists) and nothing changes: not the record, not a value.
//!   `writes.put_values` upsert (a value-less version receives its value; re-encryption replaces
//!   a value) and `writes.delete_values` remove, with the record, all or nothing.
//! - Access dates: `touch_accessed` sets the record's and the version's `last_accessed` without
//!   bumping the revision, so a read never makes a writer retry. An `update` built from a copy
//!   read before the touch keeps the touched dates (adapters keep access dates apart from the
//!   revisioned record and keep the later date), so LastAccessedDate is not lost when a secret
//!   is changed. A touch of a secret or version that is gone is a successful no-op and creates
//!   nothing.
//! - `list(scope)` returns all secrets of the scope, scheduled-for-deletion ones included (the
//!   core filters and sorts); `list_purgeable(now)` returns the ARNs, across scopes, of secrets
//!   scheduled for deletion whose `purge_after <= now`; `purge` removes the record and every value
//!   (idempotent), freeing the name.
//! - Under contention, N writers that each re-read and retry on `Conflict` all land exactly once
//!   (the revision ends at initial + N), and of N concurrent inserts of one name exactly one wins.
//! - `list_scopes` (optional: the port's default answers `Unavailable` and the gauges are then
//!   not reported) names every scope holding a secret, scheduled-for-deletion ones included,
//!   once each, and forgets a scope whose last secret was purged. Adapters that implement it
//!   also run [`list_scopes_names_each_scope_with_secrets_once`] (it is not part of `run_all`).

use crate::builders::{
    arn_with_suffix, sample_record, sample_value, sample_value_seeded, sample_values,
    scheduled_for_deletion, scope, scope_in, stage, test_key_arn, value_less_version, version_id,
    version_meta, ACCOUNT, T0,
};
use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, VersionId};
use coffer_core::model::{
    ResourcePolicy, RotationConfig, RotationInProgress, SecretRecord, StoredKind, Tag,
};
use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use coffer_core::rotation::schedule::RotationRules;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::task::JoinSet;

/// A repository under test, shared by the tasks of the concurrency cases.
pub type Repo = Arc<dyn SecretRepository>;

/// How many concurrent writers the contention cases start.
pub const WRITERS: usize = 32;

/// Runs every case, each on a fresh repository from `make`. Panics (with the case name printed
/// to stderr first) on the first violation. Run it on a multi-threaded runtime so the
/// concurrency cases really run in parallel.
pub async fn run_all<R, F>(make: F)
where
    R: SecretRepository + 'static,
    F: Fn() -> R,
{
    macro_rules! run {
        ($($case:ident),* $(,)?) => {
            $(
                eprintln!("repository contract: {}", stringify!($case));
                $case(Arc::new(make())).await;
            )*
        };
    }
    run!(
        insert_then_get_by_name_and_arn_returns_the_record,
        get_of_unknown_secret_returns_none,
        record_with_every_field_roundtrips,
        same_name_in_two_scopes_are_separate_secrets,
        insert_of_taken_name_is_name_taken_and_stores_nothing,
        insert_of_name_scheduled_for_deletion_is_name_taken,
        update_with_current_revision_replaces_record,
        update_with_stale_revision_conflicts_and_changes_nothing,
        update_of_missing_secret_conflicts_and_creates_nothing,
        update_applies_value_writes_with_the_record,
        touch_accessed_sets_dates_without_bumping_revision,
        touch_accessed_survives_update_from_older_read,
        touch_accessed_of_missing_secret_or_version_is_a_noop,
        list_returns_only_the_scope_secrets,
        list_purgeable_returns_expired_deletions_of_all_scopes,
        purge_removes_record_and_values_and_frees_the_name,
        concurrent_updates_with_retry_land_exactly_once,
        concurrent_inserts_of_one_name_admit_exactly_one,
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The record a writer would store after `read`: revision + 1, changed a second later.
fn next_revision(read: &SecretRecord) -> SecretRecord {
    let mut next = read.clone();
    next.revision = read.revision + 1;
    next.last_changed = Timestamp(read.last_changed.0 + 1_000);
    next
}

async fn insert_sample(repo: &Repo, scope: &Scope, name: &str) -> SecretRecord {
    let record = sample_record(scope, name);
    repo.insert(&record, &sample_values(&record))
        .await
        .unwrap_or_else(|e| panic!("insert of {name} failed: {e}"));
    record
}

async fn must_get(repo: &Repo, record: &SecretRecord) -> SecretRecord {
    repo.get_by_arn(record.arn.as_str())
        .await
        .expect("get_by_arn failed")
        .unwrap_or_else(|| panic!("{} is missing", record.arn))
}

fn by_name(mut records: Vec<SecretRecord>) -> Vec<SecretRecord> {
    records.sort_by(|a, b| a.name.cmp(&b.name));
    records
}

fn day(n: i64) -> Timestamp {
    T0.start_of_day().plus_days(n)
}

// ---------------------------------------------------------------------------------------------
// Reads and inserts

pub async fn insert_then_get_by_name_and_arn_returns_the_record(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "prod/app/db").await;
    let by_name = repo.get_by_name(&scope(), "prod/app/db").await.unwrap();
    assert_eq!(by_name.as_ref(), Some(&record), "get_by_name");
    let by_arn = repo.get_by_arn(record.arn.as_str()).await.unwrap();
    assert_eq!(by_arn.as_ref(), Some(&record), "get_by_arn");
    let value = repo.get_value(&record.arn, &version_id(1)).await.unwrap();
    assert_eq!(value, Some(sample_value(&version_id(1))), "get_value");
}

pub async fn get_of_unknown_secret_returns_none(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "known").await;
    assert_eq!(repo.get_by_name(&scope(), "unknown").await.unwrap(), None);
    assert_eq!(
        repo.get_by_name(&scope(), "Known").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    assert_eq!(
        repo.get_by_name(&scope(), "know").await.unwrap(),
        None,
        "no prefix match"
    );
    assert_eq!(
        repo.get_by_name(&scope_in("eu-west-1"), "known")
            .await
            .unwrap(),
        None
    );
    // Only the exact full ARN: a partial ARN (without the suffix) or another suffix is no match.
    let partial = record.arn.as_str().trim_end_matches("-a1B2c3").to_string();
    assert_eq!(
        repo.get_by_arn(&partial).await.unwrap(),
        None,
        "partial ARN"
    );
    let other = arn_with_suffix(&scope(), "known", "zzzzzz");
    assert_eq!(
        repo.get_by_arn(other.as_str()).await.unwrap(),
        None,
        "other suffix"
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        None
    );
    assert_eq!(repo.get_value(&other, &version_id(1)).await.unwrap(), None);
}

pub async fn record_with_every_field_roundtrips(repo: Repo) {
    let mut record = sample_record(&scope(), "all/fields_+=.@-!");
    record.description = Some("Ünïcödé \"quoted\" \\ back\nslash".to_string());
    record.kms_key_id = Some("alias/app-key".to_string());
    record.secret_type = Some("rds".to_string());
    record.tags = vec![
        Tag {
            key: "team".to_string(),
            value: "payments".to_string(),
        },
        Tag {
            key: "empty".to_string(),
            value: String::new(),
        },
    ];
    record.rotation = RotationConfig {
        configured: true,
        enabled: true,
        lambda_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:rotate".to_string()),
        rules: Some(RotationRules {
            automatically_after_days: None,
            duration: Some("3h".to_string()),
            schedule_expression: Some("rate(10 days)".to_string()),
        }),
        last_rotated: Some(Timestamp(T0.0 + 1)),
        next_rotation: Some(T0.plus_days(10)),
        external_metadata: vec![("k".to_string(), "v".to_string())],
        external_role_arn: Some("arn:aws:iam::123456789012:role/r".to_string()),
        next_rotation_end: Some(T0.plus_days(10).plus_hours(3)),
        in_progress: Some(RotationInProgress {
            version: VersionId::from_stored("EXAMPLE1-90ab-cdef-fedc-ba987SECRET1".to_string()),
            token_sha256: "ab".repeat(32),
            started: Timestamp(T0.0 + 7),
            test_only: false,
            failed: true,
        }),
    };
    record.policies = vec![ResourcePolicy {
        name: "Default".to_string(),
        document: r#"{"Version":"2012-10-17","Statement":[]}"#.to_string(),
    }];
    record.created = Timestamp(T0.0 + 123);
    record.last_changed = Timestamp(T0.0 + 456_789);
    record.last_accessed = Some(day(0));
    let mut previous = version_meta(
        version_id(2),
        &["AWSPREVIOUS", "custom"],
        Timestamp(T0.0 - 7),
    );
    previous.last_accessed = Some(day(-1));
    record.versions = vec![
        version_meta(version_id(3), &[], Timestamp(T0.0 - 999)),
        previous,
        version_meta(version_id(1), &["AWSCURRENT"], T0),
        value_less_version(version_id(4), &["AWSPENDING"], Timestamp(T0.0 + 5)),
    ];
    record.revision = 41;
    let values = vec![
        sample_value_seeded(&version_id(3), StoredKind::String, 3),
        sample_value_seeded(&version_id(2), StoredKind::Binary, 2),
        sample_value_seeded(&version_id(1), StoredKind::Binary, 1),
    ];
    repo.insert(&record, &values).await.unwrap();

    assert_eq!(must_get(&repo, &record).await, record);
    for value in &values {
        let got = repo
            .get_value(&record.arn, &value.version_id)
            .await
            .unwrap();
        assert_eq!(got.as_ref(), Some(value), "value of {}", value.version_id);
    }
    assert_eq!(
        repo.get_value(&record.arn, &version_id(4)).await.unwrap(),
        None
    );

    // Scheduled for deletion round-trips too.
    let deleted = scheduled_for_deletion(next_revision(&record), T0.plus_days(1), T0.plus_days(8));
    repo.update(&deleted, 41, &VersionWrites::default())
        .await
        .unwrap();
    assert_eq!(must_get(&repo, &record).await, deleted);
}

pub async fn same_name_in_two_scopes_are_separate_secrets(repo: Repo) {
    let east = insert_sample(&repo, &scope(), "shared/name").await;
    let west = insert_sample(&repo, &scope_in("us-west-2"), "shared/name").await;
    let other_account = Scope::new("us-east-1", "210987654321");
    let mut other = sample_record(&other_account, "shared/name");
    other.description = Some("other account".to_string());
    repo.insert(&other, &[]).await.unwrap();
    let mut gov = sample_record(
        &Scope {
            partition: "aws-us-gov".to_string(),
            region: "us-east-1".to_string(),
            account: ACCOUNT.to_string(),
        },
        "shared/name",
    );
    gov.description = Some("other partition".to_string());
    repo.insert(&gov, &[]).await.unwrap();

    for expected in [&east, &west, &other, &gov] {
        let got = repo
            .get_by_name(&expected.scope, "shared/name")
            .await
            .unwrap();
        assert_eq!(
            got.as_ref(),
            Some(expected),
            "get_by_name in {:?}",
            expected.scope
        );
        assert_eq!(must_get(&repo, expected).await, *expected);
        assert_eq!(
            repo.list(&expected.scope).await.unwrap(),
            vec![expected.clone()]
        );
    }
    assert_ne!(east.arn, west.arn);
    assert!(repo
        .get_value(&other.arn, &version_id(1))
        .await
        .unwrap()
        .is_none());
    assert!(repo
        .get_value(&west.arn, &version_id(1))
        .await
        .unwrap()
        .is_some());
}

pub async fn insert_of_taken_name_is_name_taken_and_stores_nothing(repo: Repo) {
    let first = insert_sample(&repo, &scope(), "taken").await;
    let mut second = sample_record(&scope(), "taken");
    second.arn = arn_with_suffix(&scope(), "taken", "XyZ789");
    second.description = Some("second".to_string());
    second.versions = vec![version_meta(version_id(9), &["AWSCURRENT"], T0)];
    let err = repo
        .insert(&second, &[sample_value(&version_id(9))])
        .await
        .unwrap_err();
    assert_eq!(err, RepositoryError::NameTaken);
    // Same ARN again (a retried insert) is NameTaken too.
    let again = repo
        .insert(&first, &sample_values(&first))
        .await
        .unwrap_err();
    assert_eq!(again, RepositoryError::NameTaken);

    assert_eq!(
        repo.get_by_name(&scope(), "taken").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(repo.get_by_arn(second.arn.as_str()).await.unwrap(), None);
    assert_eq!(
        repo.get_value(&second.arn, &version_id(9)).await.unwrap(),
        None
    );
    assert_eq!(repo.list(&scope()).await.unwrap(), vec![first]);
}

pub async fn insert_of_name_scheduled_for_deletion_is_name_taken(repo: Repo) {
    let record = scheduled_for_deletion(sample_record(&scope(), "doomed"), T0, T0.plus_days(7));
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    let mut fresh = sample_record(&scope(), "doomed");
    fresh.arn = arn_with_suffix(&scope(), "doomed", "NeW000");
    assert_eq!(
        repo.insert(&fresh, &[]).await.unwrap_err(),
        RepositoryError::NameTaken
    );
    assert_eq!(
        repo.get_by_name(&scope(), "doomed").await.unwrap(),
        Some(record)
    );
}

// ---------------------------------------------------------------------------------------------
// Conditional updates

pub async fn update_with_current_revision_replaces_record(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "to-update").await;
    let mut next = next_revision(&record);
    next.description = Some("changed".to_string());
    next.tags.push(Tag {
        key: "k".to_string(),
        value: "v".to_string(),
    });
    repo.update(&next, 1, &VersionWrites::default())
        .await
        .unwrap();
    assert_eq!(must_get(&repo, &record).await, next);
    assert_eq!(
        repo.get_by_name(&scope(), "to-update").await.unwrap(),
        Some(next.clone())
    );

    let mut third = next_revision(&next);
    third.description = None;
    repo.update(&third, 2, &VersionWrites::default())
        .await
        .unwrap();
    assert_eq!(must_get(&repo, &record).await, third);
    // Values are untouched by an update without writes.
    assert_eq!(
        repo.get_value(&record.arn, &version_id(1)).await.unwrap(),
        Some(sample_value(&version_id(1)))
    );
}

pub async fn update_with_stale_revision_conflicts_and_changes_nothing(repo: Repo) {
    let original = insert_sample(&repo, &scope(), "contended").await;
    let mut winner = next_revision(&original);
    winner.description = Some("winner".to_string());
    repo.update(&winner, 1, &VersionWrites::default())
        .await
        .unwrap();

    // A writer that read revision 1 tries to add version 2 and drop version 1's value.
    let mut loser = next_revision(&original);
    loser.description = Some("loser".to_string());
    loser.versions = vec![version_meta(version_id(2), &["AWSCURRENT"], T0)];
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(2))],
        delete_values: vec![version_id(1)],
    };
    assert_eq!(
        repo.update(&loser, 1, &writes).await.unwrap_err(),
        RepositoryError::Conflict
    );
    // A revision from the future conflicts too.
    assert_eq!(
        repo.update(&loser, 7, &writes).await.unwrap_err(),
        RepositoryError::Conflict
    );

    assert_eq!(must_get(&repo, &original).await, winner);
    assert_eq!(
        repo.get_value(&original.arn, &version_id(1)).await.unwrap(),
        Some(sample_value(&version_id(1))),
        "the failed update deleted a value"
    );
    assert_eq!(
        repo.get_value(&original.arn, &version_id(2)).await.unwrap(),
        None,
        "the failed update stored a value"
    );
}

pub async fn update_of_missing_secret_conflicts_and_creates_nothing(repo: Repo) {
    let ghost = next_revision(&sample_record(&scope(), "ghost"));
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(1))],
        delete_values: vec![],
    };
    assert_eq!(
        repo.update(&ghost, 1, &writes).await.unwrap_err(),
        RepositoryError::Conflict
    );
    assert_eq!(repo.get_by_arn(ghost.arn.as_str()).await.unwrap(), None);
    assert_eq!(repo.get_by_name(&scope(), "ghost").await.unwrap(), None);
    assert_eq!(
        repo.get_value(&ghost.arn, &version_id(1)).await.unwrap(),
        None
    );
    assert!(repo.list(&scope()).await.unwrap().is_empty());
}

pub async fn update_applies_value_writes_with_the_record(repo: Repo) {
    // Version 1 current with a value, version 2 pending without one (RotateSecret).
    let mut record = sample_record(&scope(), "rotating");
    record
        .versions
        .push(value_less_version(version_id(2), &["AWSPENDING"], T0));
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        None
    );

    // The value-less version receives its value (setSecret).
    let mut with_value = next_revision(&record);
    let pending = with_value.version_mut(&version_id(2)).unwrap();
    pending.has_value = true;
    pending.kms_key_arn = Some(test_key_arn());
    let v2 = sample_value_seeded(&version_id(2), StoredKind::Binary, 2);
    let writes = VersionWrites {
        put_values: vec![v2.clone()],
        delete_values: vec![],
    };
    repo.update(&with_value, 1, &writes).await.unwrap();
    assert_eq!(must_get(&repo, &record).await, with_value);
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        Some(v2.clone())
    );

    // Re-encryption replaces a value in place.
    let reencrypted = next_revision(&with_value);
    let v1_again = sample_value_seeded(&version_id(1), StoredKind::String, 9);
    let writes = VersionWrites {
        put_values: vec![v1_again.clone()],
        delete_values: vec![],
    };
    repo.update(&reencrypted, 2, &writes).await.unwrap();
    assert_eq!(
        repo.get_value(&record.arn, &version_id(1)).await.unwrap(),
        Some(v1_again)
    );

    // A new version and the pruning of an old one land together.
    let mut pruned = next_revision(&reencrypted);
    pruned.versions.retain(|v| v.id != version_id(1));
    pruned.versions.push(version_meta(
        version_id(3),
        &["AWSCURRENT"],
        T0.plus_hours(1),
    ));
    pruned.version_mut(&version_id(2)).unwrap().stages = vec![stage("AWSPREVIOUS")];
    let v3 = sample_value(&version_id(3));
    let writes = VersionWrites {
        put_values: vec![v3.clone()],
        delete_values: vec![version_id(1)],
    };
    repo.update(&pruned, 3, &writes).await.unwrap();
    assert_eq!(must_get(&repo, &record).await, pruned);
    assert_eq!(
        repo.get_value(&record.arn, &version_id(1)).await.unwrap(),
        None
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(2)).await.unwrap(),
        Some(v2)
    );
    assert_eq!(
        repo.get_value(&record.arn, &version_id(3)).await.unwrap(),
        Some(v3)
    );

    // Deleting a value that is not there is not an error.
    let writes = VersionWrites {
        put_values: vec![],
        delete_values: vec![version_id(1), version_id(77)],
    };
    let last = next_revision(&pruned);
    repo.update(&last, 4, &writes).await.unwrap();
    assert_eq!(must_get(&repo, &record).await.revision, 5);
}

// ---------------------------------------------------------------------------------------------
// Access dates

pub async fn touch_accessed_sets_dates_without_bumping_revision(repo: Repo) {
    let mut record = sample_record(&scope(), "read-often");
    record
        .versions
        .insert(0, version_meta(version_id(2), &["AWSPREVIOUS"], T0));
    repo.insert(&record, &sample_values(&record)).await.unwrap();

    repo.touch_accessed(&record.arn, &version_id(1), day(1))
        .await
        .unwrap();
    let mut expected = record.clone();
    expected.last_accessed = Some(day(1));
    expected.version_mut(&version_id(1)).unwrap().last_accessed = Some(day(1));
    assert_eq!(
        must_get(&repo, &record).await,
        expected,
        "after the first touch"
    );

    // A later day moves both dates; the other version keeps its own date.
    repo.touch_accessed(&record.arn, &version_id(2), day(2))
        .await
        .unwrap();
    repo.touch_accessed(&record.arn, &version_id(1), day(3))
        .await
        .unwrap();
    expected.last_accessed = Some(day(3));
    expected.version_mut(&version_id(1)).unwrap().last_accessed = Some(day(3));
    expected.version_mut(&version_id(2)).unwrap().last_accessed = Some(day(2));
    let got = repo.get_by_name(&scope(), "read-often").await.unwrap();
    assert_eq!(got, Some(expected));
    assert_eq!(
        repo.list(&scope()).await.unwrap()[0].last_accessed,
        Some(day(3)),
        "list reports access dates too"
    );
}

pub async fn touch_accessed_survives_update_from_older_read(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "read-and-written").await;
    let read_by_writer = must_get(&repo, &record).await;

    // A reader records today's access after the writer read the record ...
    repo.touch_accessed(&record.arn, &version_id(1), day(1))
        .await
        .unwrap();

    // ... and the writer's update, conditioned on the revision it read, still lands.
    let mut written = next_revision(&read_by_writer);
    written.description = Some("changed after a read".to_string());
    written
        .versions
        .push(value_less_version(version_id(2), &["AWSPENDING"], T0));
    repo.update(&written, 1, &VersionWrites::default())
        .await
        .expect("a touch must not make a writer's update conflict");

    let got = must_get(&repo, &record).await;
    let mut expected = written.clone();
    expected.last_accessed = Some(day(1));
    expected.version_mut(&version_id(1)).unwrap().last_accessed = Some(day(1));
    assert_eq!(got, expected, "the update kept the touched access dates");

    // A writer's own (older) copy of the dates never rolls them back.
    let mut stale_dates = next_revision(&got);
    stale_dates.last_accessed = Some(day(0));
    stale_dates
        .version_mut(&version_id(1))
        .unwrap()
        .last_accessed = Some(day(0));
    repo.update(&stale_dates, 2, &VersionWrites::default())
        .await
        .unwrap();
    let got = must_get(&repo, &record).await;
    assert_eq!(got.last_accessed, Some(day(1)));
    assert_eq!(
        got.version(&version_id(1)).unwrap().last_accessed,
        Some(day(1))
    );
    assert_eq!(got.revision, 3);
}

pub async fn touch_accessed_of_missing_secret_or_version_is_a_noop(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "present").await;
    repo.touch_accessed(&record.arn, &version_id(99), day(1))
        .await
        .expect("touch of a missing version");
    let got = must_get(&repo, &record).await;
    assert_eq!(got.versions, record.versions, "no version appeared");
    assert_eq!(got.revision, 1);

    let ghost = arn_with_suffix(&scope(), "absent", "a1B2c3");
    repo.touch_accessed(&ghost, &version_id(1), day(1))
        .await
        .expect("touch of a missing secret");
    assert_eq!(repo.get_by_arn(ghost.as_str()).await.unwrap(), None);
    assert_eq!(repo.get_by_name(&scope(), "absent").await.unwrap(), None);
    assert_eq!(repo.list(&scope()).await.unwrap().len(), 1);

    // A version pruned after a touch takes its date with it.
    repo.touch_accessed(&record.arn, &version_id(1), day(1))
        .await
        .unwrap();
    let mut replaced = next_revision(&must_get(&repo, &record).await);
    replaced.versions = vec![version_meta(version_id(2), &["AWSCURRENT"], T0)];
    let writes = VersionWrites {
        put_values: vec![sample_value(&version_id(2))],
        delete_values: vec![version_id(1)],
    };
    repo.update(&replaced, 1, &writes).await.unwrap();
    let mut again = next_revision(&replaced);
    again
        .versions
        .insert(0, version_meta(version_id(1), &[], T0));
    repo.update(&again, 2, &VersionWrites::default())
        .await
        .unwrap();
    let got = must_get(&repo, &record).await;
    assert_eq!(got.version(&version_id(1)).unwrap().last_accessed, None);
}

// ---------------------------------------------------------------------------------------------
// Listing and purging

pub async fn list_returns_only_the_scope_secrets(repo: Repo) {
    assert!(repo.list(&scope()).await.unwrap().is_empty());
    let a = insert_sample(&repo, &scope(), "a").await;
    let b = scheduled_for_deletion(sample_record(&scope(), "b"), T0, T0.plus_days(7));
    repo.insert(&b, &sample_values(&b)).await.unwrap();
    let c = insert_sample(&repo, &scope(), "c/nested").await;
    insert_sample(&repo, &scope_in("eu-central-1"), "a").await;
    insert_sample(&repo, &Scope::new("us-east-1", "999999999999"), "d").await;

    let listed = by_name(repo.list(&scope()).await.unwrap());
    assert_eq!(listed, vec![a, b, c]);
    assert_eq!(repo.list(&scope_in("eu-central-1")).await.unwrap().len(), 1);
    assert!(repo.list(&scope_in("ap-south-1")).await.unwrap().is_empty());
}

pub async fn list_scopes_names_each_scope_with_secrets_once(repo: Repo) {
    assert!(repo.list_scopes().await.unwrap().is_empty());
    insert_sample(&repo, &scope(), "a").await;
    insert_sample(&repo, &scope(), "b").await;
    let deleted = scheduled_for_deletion(
        sample_record(&scope_in("eu-west-1"), "c"),
        T0,
        T0.plus_days(7),
    );
    repo.insert(&deleted, &sample_values(&deleted))
        .await
        .unwrap();
    let other_account = Scope::new("us-east-1", "999999999999");
    let d = insert_sample(&repo, &other_account, "d").await;

    let got: BTreeSet<Scope> = repo.list_scopes().await.unwrap().into_iter().collect();
    let want: BTreeSet<Scope> = [scope(), scope_in("eu-west-1"), other_account.clone()]
        .into_iter()
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        repo.list_scopes().await.unwrap().len(),
        3,
        "each scope once"
    );

    repo.purge(&d.arn).await.unwrap();
    assert!(!repo.list_scopes().await.unwrap().contains(&other_account));
}

pub async fn list_purgeable_returns_expired_deletions_of_all_scopes(repo: Repo) {
    let now = T0.plus_days(30);
    insert_sample(&repo, &scope(), "live").await;
    let mut due = Vec::new();
    for (scope, name, purge_after) in [
        (scope(), "expired", T0.plus_days(7)),
        (scope(), "expires-now", now),
        (scope_in("eu-west-1"), "expired-elsewhere", T0.plus_days(1)),
        (scope(), "not-yet", Timestamp(now.0 + 1)),
    ] {
        let record = scheduled_for_deletion(sample_record(&scope, name), T0, purge_after);
        repo.insert(&record, &sample_values(&record)).await.unwrap();
        if purge_after <= now {
            due.push(record.arn);
        }
    }
    // Restored (DeleteSecret then RestoreSecret): no longer purgeable.
    let restored = scheduled_for_deletion(sample_record(&scope(), "restored"), T0, T0.plus_days(7));
    repo.insert(&restored, &[]).await.unwrap();
    let mut back = next_revision(&restored);
    back.deleted = None;
    back.purge_after = None;
    repo.update(&back, 1, &VersionWrites::default())
        .await
        .unwrap();

    let got: BTreeSet<_> = repo
        .list_purgeable(now)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<_> = due.into_iter().collect();
    assert_eq!(got, want);
    assert!(repo.list_purgeable(T0).await.unwrap().is_empty());
}

pub async fn purge_removes_record_and_values_and_frees_the_name(repo: Repo) {
    let mut record = sample_record(&scope(), "gone");
    record
        .versions
        .insert(0, version_meta(version_id(2), &["AWSPREVIOUS"], T0));
    let record = scheduled_for_deletion(record, T0, T0.plus_days(7));
    repo.insert(&record, &sample_values(&record)).await.unwrap();
    repo.touch_accessed(&record.arn, &version_id(1), day(0))
        .await
        .unwrap();
    let neighbour = insert_sample(&repo, &scope(), "stays").await;

    repo.purge(&record.arn).await.unwrap();
    assert_eq!(repo.get_by_arn(record.arn.as_str()).await.unwrap(), None);
    assert_eq!(repo.get_by_name(&scope(), "gone").await.unwrap(), None);
    for v in [1, 2] {
        assert_eq!(
            repo.get_value(&record.arn, &version_id(v)).await.unwrap(),
            None
        );
    }
    assert_eq!(repo.list(&scope()).await.unwrap(), vec![neighbour.clone()]);
    assert!(repo
        .list_purgeable(T0.plus_days(8))
        .await
        .unwrap()
        .is_empty());
    repo.purge(&record.arn).await.expect("purge is idempotent");

    // The name is free again, even under the very same ARN, and nothing of the old secret
    // (values, access dates) comes back with it.
    let reborn = sample_record(&scope(), "gone");
    repo.insert(&reborn, &[]).await.unwrap();
    assert_eq!(must_get(&repo, &reborn).await, reborn);
    assert_eq!(
        repo.get_value(&reborn.arn, &version_id(1)).await.unwrap(),
        None
    );
    assert_eq!(
        repo.get_value(&reborn.arn, &version_id(2)).await.unwrap(),
        None
    );
    assert_eq!(
        repo.get_value(&neighbour.arn, &version_id(1))
            .await
            .unwrap(),
        Some(sample_value(&version_id(1)))
    );
}

// ---------------------------------------------------------------------------------------------
// Contention

pub async fn concurrent_updates_with_retry_land_exactly_once(repo: Repo) {
    let record = insert_sample(&repo, &scope(), "hot").await;
    let initial = record.revision;
    let mut writers = JoinSet::new();
    for i in 0..WRITERS {
        let repo = repo.clone();
        let arn = record.arn.clone();
        writers.spawn(async move {
            for attempt in 1..=10_000u32 {
                let mut r = repo.get_by_arn(arn.as_str()).await.unwrap().unwrap();
                // Readers record accesses in the middle of the writers' read-modify-write.
                repo.touch_accessed(&arn, &version_id(1), day(1))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                let expected = r.revision;
                r.revision = expected + 1;
                r.tags.push(Tag {
                    key: format!("writer-{i}"),
                    value: format!("attempt-{attempt}"),
                });
                match repo.update(&r, expected, &VersionWrites::default()).await {
                    Ok(()) => return,
                    Err(RepositoryError::Conflict) => continue,
                    Err(e) => panic!("writer {i}: unexpected error {e}"),
                }
            }
            panic!("writer {i} never got its update in");
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer task panicked");
    }
    let got = must_get(&repo, &record).await;
    assert_eq!(
        got.revision,
        initial + WRITERS as u64,
        "every update landed exactly once"
    );
    let keys: BTreeSet<_> = got.tags.iter().map(|t| t.key.clone()).collect();
    assert_eq!(got.tags.len(), WRITERS, "no update landed twice");
    assert_eq!(keys.len(), WRITERS, "no update was lost");
    assert_eq!(
        got.last_accessed,
        Some(day(1)),
        "concurrent updates kept the access date"
    );
}

pub async fn concurrent_inserts_of_one_name_admit_exactly_one(repo: Repo) {
    let mut tasks = JoinSet::new();
    for i in 0..WRITERS {
        let repo = repo.clone();
        tasks.spawn(async move {
            let mut record = sample_record(&scope(), "race");
            record.arn = arn_with_suffix(&scope(), "race", &format!("r{i:05}"));
            repo.insert(&record, &sample_values(&record))
                .await
                .map(|()| record)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.expect("insert task panicked") {
            Ok(record) => winners.push(record),
            Err(RepositoryError::NameTaken) => {}
            Err(e) => panic!("unexpected insert error {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert wins");
    assert_eq!(repo.list(&scope()).await.unwrap(), winners);
}
