//! `SqliteSecretRepository` against the `SecretRepository` contract, plus what only a file on
//! disk has: permissions, pragmas, schema migration, reopening, integrity.

use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use coffer_embedded::sqlite::{schema_version, SqliteSecretRepository, APPLICATION_ID};
use coffer_testkit::builders::{sample_record, sample_value, sample_values, scope, version_id};
use coffer_testkit::repository_contract;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open the database directly")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_repository_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    repository_contract::run_all(|| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        SqliteSecretRepository::open(&dir.path().join(format!("contract-{i}.db"))).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_repository_lists_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = SqliteSecretRepository::open(&dir.path().join("scopes.db")).unwrap();
    repository_contract::list_scopes_names_each_scope_with_secrets_once(std::sync::Arc::new(repo))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_new_database_is_private_wal_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let repo = SqliteSecretRepository::open(&path).unwrap();
    assert_eq!(repo.path(), path);
    let record = sample_record(&scope(), "perm");
    repo.insert(&record, &sample_values(&record)).await.unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["coffer.db", "coffer.db-wal", "coffer.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
        }
    }
    let conn = raw(&path);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema_version());
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_leave_integrity_check_ok_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let repo = SqliteSecretRepository::open(&path).unwrap();
    let mut records = Vec::new();
    for i in 0..20 {
        let record = sample_record(&scope(), &format!("app/secret-{i}"));
        repo.insert(&record, &sample_values(&record)).await.unwrap();
        let mut next = record.clone();
        next.revision = 2;
        next.description = Some(format!("n{i}"));
        let writes = VersionWrites {
            put_values: vec![sample_value(&version_id(2))],
            delete_values: vec![],
        };
        repo.update(&next, 1, &writes).await.unwrap();
        repo.touch_accessed(&record.arn, &version_id(1), record.created.start_of_day())
            .await
            .unwrap();
        if i % 3 == 0 {
            repo.purge(&record.arn).await.unwrap();
        } else {
            records.push(repo.get_by_arn(record.arn.as_str()).await.unwrap().unwrap());
        }
    }

    let conn = raw(&path);
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(check, ["ok"]);
    let fk_violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk_violations, 0);
    drop(conn);
    drop(repo);

    let reopened = SqliteSecretRepository::open(&path).unwrap();
    let listed = reopened.list(&scope()).await.unwrap();
    let mut expected = records.clone();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    let mut listed_sorted = listed;
    listed_sorted.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(listed_sorted, expected);
    for r in &records {
        assert!(reopened
            .get_value(&r.arn, &version_id(2))
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_stored_as_opaque_blobs_and_records_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let repo = SqliteSecretRepository::open(&path).unwrap();
    let record = sample_record(&scope(), "blob");
    let value = sample_value(&version_id(1));
    repo.insert(&record, std::slice::from_ref(&value))
        .await
        .unwrap();

    let conn = raw(&path);
    let (kind, envelope): (String, Vec<u8>) = conn
        .query_row(
            "SELECT kind, envelope FROM secret_values WHERE arn = ?1",
            [record.arn.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "String");
    assert_eq!(envelope, value.envelope);
    let typeof_envelope: String = conn
        .query_row("SELECT typeof(envelope) FROM secret_values", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(typeof_envelope, "blob");
    let json: String = conn
        .query_row("SELECT record FROM secrets", [], |r| r.get(0))
        .unwrap();
    assert!(!json.contains("envelope"), "the record JSON holds no value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_of_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    drop(SqliteSecretRepository::open(&path).unwrap());
    raw(&path)
        .pragma_update(None, "user_version", schema_version() + 1)
        .unwrap();
    match SqliteSecretRepository::open(&path) {
        Err(RepositoryError::Unavailable(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_of_foreign_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path)
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    match SqliteSecretRepository::open(&path) {
        Err(RepositoryError::Unavailable(msg)) => assert!(msg.contains("Coffer"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_in_missing_directory_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteSecretRepository::open(&dir.path().join("no/such/dir/coffer.db")).unwrap_err();
    assert!(matches!(err, RepositoryError::Unavailable(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_repositories_on_one_file_see_each_others_writes() {
    // E.g. the server and an admin tool: the busy timeout and WAL make them coexist.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let a = SqliteSecretRepository::open(&path).unwrap();
    let b = SqliteSecretRepository::open(&path).unwrap();
    let record = sample_record(&scope(), "shared");
    a.insert(&record, &sample_values(&record)).await.unwrap();
    assert_eq!(
        b.get_by_name(&scope(), "shared").await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        b.insert(&record, &[]).await.unwrap_err(),
        RepositoryError::NameTaken
    );
    let mut next = record.clone();
    next.revision = 2;
    b.update(&next, 1, &VersionWrites::default()).await.unwrap();
    assert_eq!(
        a.update(&next, 1, &VersionWrites::default())
            .await
            .unwrap_err(),
        RepositoryError::Conflict
    );
}
