//! Crash safety: `kill -9` the server while writers run; after a restart every acknowledged
//! write reads back, each secret still has exactly one AWSCURRENT, and SQLite's
//! `PRAGMA integrity_check` says `ok` (embedded backend; on the AWS backend the same kill and
//! restart run against the DynamoDB table, which has no local file to check).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_e2e::*;
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
struct Ack {
    secret: String,
    version: String,
    value: String,
}

/// Runs writers until `stop`; returns nothing, records every acknowledged write in `acks`.
fn spawn_writers(
    client: &aws_sdk_secretsmanager::Client,
    own_secrets: &[String],
    shared_secret: &str,
    prefix: &str,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    count: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    // Writers on their own secret, and writers sharing one secret.
    let targets: Vec<String> = own_secrets
        .iter()
        .cloned()
        .chain(std::iter::repeat_n(shared_secret.to_string(), 4))
        .collect();
    for (w, secret) in targets.into_iter().enumerate() {
        let client = client.clone();
        let stop = stop.clone();
        let acks = acks.clone();
        let count = count.clone();
        handles.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let version = token();
                let value = format!("w{w}-{i}-{}", random_alnum(12));
                match client
                    .put_secret_value()
                    .secret_id(&secret)
                    .client_request_token(&version)
                    .secret_string(&value)
                    .send()
                    .await
                {
                    Ok(_) => {
                        acks.lock().await.push(Ack {
                            secret: secret.clone(),
                            version,
                            value,
                        });
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    // The server died under us: this write was not acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    // A writer creating new secrets.
    let client = client.clone();
    let prefix = prefix.to_string();
    handles.push(tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let name = format!("{prefix}-created-{i}-{}", random_letters(6));
            let version = token();
            let value = format!("created-{i}-{}", random_alnum(12));
            match client
                .create_secret()
                .name(&name)
                .client_request_token(&version)
                .secret_string(&value)
                .send()
                .await
            {
                Ok(_) => {
                    acks.lock().await.push(Ack {
                        secret: name,
                        version,
                        value,
                    });
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => return,
            }
        }
    }));
    handles
}

async fn verify_all(client: &aws_sdk_secretsmanager::Client, acks: &[Ack]) {
    for a in acks {
        let got = client
            .get_secret_value()
            .secret_id(&a.secret)
            .version_id(&a.version)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "acknowledged write {} of {} lost after kill -9: {e:?}",
                    a.version, a.secret
                )
            });
        assert_eq!(got.secret_string(), Some(a.value.as_str()), "{}", a.version);
    }
    let mut secrets: Vec<&str> = acks.iter().map(|a| a.secret.as_str()).collect();
    secrets.sort();
    secrets.dedup();
    for s in secrets {
        assert!(
            holder_of(client, s, "AWSCURRENT").await.is_some(),
            "{s} has no AWSCURRENT after restart"
        );
    }
}

/// SQLite's integrity check of an embedded-backend server (nothing to check on the AWS backend,
/// whose storage is not local).
fn integrity_check_if_embedded(server: &CofferServer) {
    if server.backend() == Some(Backend::Embedded) {
        integrity_check(&server.data_dir().join("coffer.db"));
    }
}

fn integrity_check(db: &std::path::Path) {
    assert!(db.exists(), "no SQLite database at {}", db.display());
    let conn = rusqlite::Connection::open(db).expect("open coffer.db");
    let result: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .expect("prepare")
        .query_map([], |row| row.get::<_, String>(0))
        .expect("integrity_check")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(result, ["ok"], "PRAGMA integrity_check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_during_writes_keeps_acknowledged_writes_and_database_intact() {
    let Some(mut server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let client = server.default_client();
    let prefix = unique_name("crash");
    let mut own = Vec::new();
    for i in 0..4 {
        let name = format!("{prefix}-own-{i}");
        create_string_secret(&client, &name, "start").await;
        own.push(name);
    }
    let shared = format!("{prefix}-shared");
    create_string_secret(&client, &shared, "start").await;

    let acks: Arc<Mutex<Vec<Ack>>> = Arc::new(Mutex::new(Vec::new()));
    for round in 0..2 {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let handles = spawn_writers(
            &client,
            &own,
            &shared,
            &format!("{prefix}-r{round}"),
            stop.clone(),
            acks.clone(),
            count.clone(),
        );
        // Let a good number of writes through, then pull the plug mid-stream.
        let started = Instant::now();
        while count.load(Ordering::Relaxed) < 150 && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            count.load(Ordering::Relaxed) > 0,
            "no write succeeded before the kill"
        );
        tokio::task::block_in_place(|| server.kill9());
        for h in handles {
            // Each writer stops at its first failed request.
            tokio::time::timeout(Duration::from_secs(120), h)
                .await
                .expect("writer stops once the server is gone")
                .expect("writer task");
        }
        stop.store(true, Ordering::Relaxed);
        tokio::task::block_in_place(|| server.restart());
        let snapshot = acks.lock().await.clone();
        eprintln!(
            "round {round}: verifying {} acknowledged writes",
            snapshot.len()
        );
        verify_all(&client, &snapshot).await;
    }

    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success(), "coffer exited with {status} on SIGTERM");
    integrity_check_if_embedded(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero_and_data_survives_restart() {
    let Some(mut server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let client = server.default_client();
    let name = unique_name("sigterm");
    let (_, version) = create_string_secret(&client, &name, "kept").await;
    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success(), "exit status {status}");
    integrity_check_if_embedded(&server);
    tokio::task::block_in_place(|| server.restart());
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&version)
        .send()
        .await
        .expect("value after restart");
    assert_eq!(got.secret_string(), Some("kept"));
}
