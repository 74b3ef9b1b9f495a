//! Rotation end to end, as a user runs it: `RotateSecret` through the official SDK against a
//! spawned `coffer serve`, whose rotation runner invokes the built-in
//! `coffer-rotator-postgres` / `coffer-rotator-mysql` in-process, which change real passwords in
//! throwaway PostgreSQL and MariaDB servers (`coffer_e2e::databases`).
//!
//! Checked: after a rotation the new AWSCURRENT credentials log in, AWSPREVIOUS is the old
//! version, the old password no longer works (single user) or still works (alternating users),
//! LastRotatedDate is set, and the audit trail holds RotationStarted and RotationSucceeded; a
//! failing setSecret leaves AWSCURRENT readable, keeps AWSPENDING, reports RotationFailed with
//! the step for every attempt, and a RotateSecret after the fix reattempts and succeeds; and a
//! client that reads AWSCURRENT and logs in every 10 ms sees no failed login across 20
//! alternating-users rotations (the single-user strategy's failures are counted and printed).

use aws_sdk_secretsmanager::Client;
use coffer_e2e::databases::{MariaDbServer, PostgresServer, TestDatabase as Db};
use coffer_e2e::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROTATION_TIMEOUT: Duration = Duration::from_secs(60);

fn rotator_arn(server: &CofferServer, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{name}",
        server.region(),
        server.account_id().unwrap_or("000000000000")
    )
}

/// A server whose rotation runner retries quickly (two attempts, 1 s apart).
fn rotating_server() -> Option<CofferServer> {
    CofferServer::start_process(ServerOptions::default().args(&[
        "--rotation-max-attempts",
        "2",
        "--rotation-retry-backoff-secs",
        "1",
    ]))
}

/// The built-in rotator's name for the database's engine.
fn rotator(db: &Db) -> &'static str {
    db.engine().rotator_name()
}

fn postgres() -> Option<Db> {
    PostgresServer::start().map(Db::Postgres)
}

fn mariadb() -> Option<Db> {
    MariaDbServer::start().map(Db::MariaDb)
}

/// The credentials a secret version holds.
async fn credentials(client: &Client, arn: &str, stage: &str) -> (String, String) {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetSecretValue {stage}: {e:?}"));
    let value: serde_json::Value = serde_json::from_str(out.secret_string().unwrap()).unwrap();
    (
        value["username"].as_str().unwrap().to_string(),
        value["password"].as_str().unwrap().to_string(),
    )
}

async fn create_secret(client: &Client, json: &str) -> (String, String) {
    create_string_secret(client, &unique_name("rot-db"), json).await
}

async fn start_rotation(client: &Client, arn: &str, lambda: &str) -> String {
    client
        .rotate_secret()
        .secret_id(arn)
        .rotation_lambda_arn(lambda)
        .send()
        .await
        .expect("RotateSecret")
        .version_id()
        .expect("VersionId")
        .to_string()
}

/// Waits until AWSCURRENT is on `version` (the rotation finished) and LastRotatedDate is set.
async fn wait_rotated(server: &CofferServer, client: &Client, arn: &str, version: &str) {
    let deadline = Instant::now() + ROTATION_TIMEOUT;
    loop {
        let described = client
            .describe_secret()
            .secret_id(arn)
            .send()
            .await
            .unwrap();
        let current = described
            .version_ids_to_stages()
            .and_then(|m| m.iter().find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT")))
            .map(|(v, _)| v.clone());
        if current.as_deref() == Some(version) && described.last_rotated_date().is_some() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "rotation to {version} did not finish; stages {:?}\nserver log:\n{}",
                described.version_ids_to_stages(),
                server.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The service events of `arn` in the audit trail (the data directory's JSON lines on the
/// embedded backend; the server's standard output on the AWS backend).
fn service_events(server: &CofferServer, arn: &str) -> Vec<serde_json::Value> {
    server
        .audit_events()
        .into_iter()
        .filter(|e| e["eventType"] == "AwsServiceEvent")
        .filter(|e| e["resources"].to_string().contains(arn))
        .collect()
}

fn event_names(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits until the trail holds `count` events named `name` for `arn`.
async fn wait_events(
    server: &CofferServer,
    arn: &str,
    name: &str,
    count: usize,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + ROTATION_TIMEOUT;
    loop {
        let events: Vec<_> = service_events(server, arn)
            .into_iter()
            .filter(|e| e["eventName"] == name)
            .collect();
        if events.len() >= count {
            return events;
        }
        if Instant::now() > deadline {
            panic!(
                "{count} {name} events for {arn} never arrived; log:\n{}",
                server.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn single_user_rotation(db: Db) {
    let Some(server) = rotating_server() else {
        return;
    };
    let client = server.default_client();
    db.create_user("app", "Initial-Pw-1");
    let (arn, v1) = create_secret(&client, &db.secret_json("app", "Initial-Pw-1", None)).await;
    let pending = start_rotation(&client, &arn, &rotator_arn(&server, rotator(&db))).await;
    wait_rotated(&server, &client, &arn, &pending).await;

    let (user, password) = credentials(&client, &arn, "AWSCURRENT").await;
    assert_eq!(user, "app");
    assert_ne!(password, "Initial-Pw-1");
    db.login(&user, &password, "app")
        .await
        .expect("the new AWSCURRENT logs in");
    assert!(
        db.login("app", "Initial-Pw-1", "app").await.is_err(),
        "the old password no longer works"
    );
    assert_eq!(
        holder_of(&client, &arn, "AWSPREVIOUS").await.as_deref(),
        Some(v1.as_str())
    );
    wait_events(&server, &arn, "RotationSucceeded", 1).await;
    let names = event_names(&service_events(&server, &arn));
    assert_eq!(names, ["RotationStarted", "RotationSucceeded"]);
    assert!(
        !server.log_text().contains(&password),
        "the new password never reaches the log"
    );
}

#[tokio::test]
async fn postgres_single_user_rotate_secret_changes_the_password() {
    let Some(db) = postgres() else { return };
    single_user_rotation(db).await;
}

#[tokio::test]
async fn mariadb_single_user_rotate_secret_changes_the_password() {
    let Some(db) = mariadb() else { return };
    single_user_rotation(db).await;
}

/// A master secret and an alternating-users secret for `app`.
async fn alternating_secret(db: &Db, client: &Client) -> (String, String) {
    db.create_user("app", "Initial-Pw-2");
    let (master_arn, _) = create_secret(client, &db.master_json()).await;
    create_secret(
        client,
        &db.secret_json("app", "Initial-Pw-2", Some(&master_arn)),
    )
    .await
}

async fn alternating_users_rotation(db: Db) {
    let Some(server) = rotating_server() else {
        return;
    };
    let client = server.default_client();
    let (arn, v1) = alternating_secret(&db, &client).await;
    let pending = start_rotation(&client, &arn, &rotator_arn(&server, rotator(&db))).await;
    wait_rotated(&server, &client, &arn, &pending).await;

    let (user, password) = credentials(&client, &arn, "AWSCURRENT").await;
    assert_eq!(user, "app_clone");
    db.login(&user, &password, "app")
        .await
        .expect("the new AWSCURRENT logs in");
    assert_eq!(
        holder_of(&client, &arn, "AWSPREVIOUS").await.as_deref(),
        Some(v1.as_str())
    );
    let (previous_user, previous_password) = credentials(&client, &arn, "AWSPREVIOUS").await;
    assert_eq!(
        (previous_user.as_str(), previous_password.as_str()),
        ("app", "Initial-Pw-2")
    );
    db.login(&previous_user, &previous_password, "app")
        .await
        .expect("AWSPREVIOUS keeps working for a full cycle");
    wait_events(&server, &arn, "RotationSucceeded", 1).await;
    let names = event_names(&service_events(&server, &arn));
    assert_eq!(names, ["RotationStarted", "RotationSucceeded"]);
}

#[tokio::test]
async fn postgres_alternating_users_rotate_secret_keeps_previous_working() {
    let Some(db) = postgres() else { return };
    alternating_users_rotation(db).await;
}

#[tokio::test]
async fn mariadb_alternating_users_rotate_secret_keeps_previous_working() {
    let Some(db) = mariadb() else { return };
    alternating_users_rotation(db).await;
}

#[tokio::test]
async fn failing_set_secret_keeps_awscurrent_and_a_rotate_secret_after_the_fix_succeeds() {
    let Some(db) = postgres() else { return };
    let Some(server) = rotating_server() else {
        return;
    };
    let client = server.default_client();
    db.create_user("app", "Initial-Pw-3");
    let (arn, v1) = create_secret(&client, &db.secret_json("app", "Initial-Pw-3", None)).await;
    // Someone changed the password behind the secret's back: setSecret cannot log in.
    db.set_password("app", "Changed-Out-Of-Band-3");
    let lambda = rotator_arn(&server, rotator(&db));
    let pending = start_rotation(&client, &arn, &lambda).await;

    // Two attempts (the server's --rotation-max-attempts), each reported with its step.
    let failed = wait_events(&server, &arn, "RotationFailed", 2).await;
    for event in &failed {
        let data = &event["additionalEventData"];
        assert_eq!(data["Step"], "setSecret", "{event}");
    }
    assert_eq!(failed[1]["additionalEventData"]["WillRetry"], false);
    assert!(
        !failed
            .iter()
            .any(|e| e.to_string().contains("Changed-Out-Of-Band-3")),
        "no password in the events"
    );
    // AWSCURRENT untouched and readable; AWSPENDING kept.
    assert_eq!(
        holder_of(&client, &arn, "AWSCURRENT").await.as_deref(),
        Some(v1.as_str())
    );
    assert_eq!(
        holder_of(&client, &arn, "AWSPENDING").await.as_deref(),
        Some(pending.as_str())
    );
    let (_, current_password) = credentials(&client, &arn, "AWSCURRENT").await;
    assert_eq!(current_password, "Initial-Pw-3");

    // Fixed: the password is what AWSCURRENT says again. RotateSecret answers as AWS does
    // ("A previous rotation isn't complete. That rotation will be reattempted.") and does
    // reattempt it, with the same AWSPENDING version.
    db.set_password("app", "Initial-Pw-3");
    let err = expect_error(
        client.rotate_secret().secret_id(&arn).send().await,
        "InvalidRequestException",
    );
    assert!(err.message().unwrap_or_default().contains("reattempted"));
    wait_rotated(&server, &client, &arn, &pending).await;
    let (user, password) = credentials(&client, &arn, "AWSCURRENT").await;
    db.login(&user, &password, "app")
        .await
        .expect("the rotated credentials log in");
    wait_events(&server, &arn, "RotationSucceeded", 1).await;
}

/// Rotates `rotations` times while a client reads AWSCURRENT and logs in every 10 ms; returns
/// (logins attempted, logins failed).
async fn logins_during_rotations(
    server: &CofferServer,
    db: Arc<Db>,
    arn: &str,
    rotations: usize,
) -> (u64, u64) {
    let client = server.default_client();
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let reader = {
        let (client, db, stop, attempts, failures) = (
            client.clone(),
            db.clone(),
            stop.clone(),
            attempts.clone(),
            failures.clone(),
        );
        let arn = arn.to_string();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(10));
            while !stop.load(Ordering::SeqCst) {
                ticker.tick().await;
                let (user, password) = credentials(&client, &arn, "AWSCURRENT").await;
                attempts.fetch_add(1, Ordering::SeqCst);
                if db.login(&user, &password, "app").await.is_err() {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let lambda = rotator_arn(server, rotator(&db));
    for _ in 0..rotations {
        let pending = start_rotation(&client, arn, &lambda).await;
        wait_rotated(server, &client, arn, &pending).await;
    }
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    (
        attempts.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
    )
}

#[tokio::test]
async fn alternating_users_rotation_has_zero_failed_logins_over_twenty_rotations() {
    let Some(db) = postgres() else { return };
    let Some(server) = rotating_server() else {
        return;
    };
    let client = server.default_client();
    let (arn, _) = alternating_secret(&db, &client).await;
    let db = Arc::new(db);
    let (attempts, failures) = logins_during_rotations(&server, db, &arn, 20).await;
    println!("alternating users: {failures} failed logins of {attempts} over 20 rotations");
    assert!(
        attempts >= 20,
        "the client loop ran throughout ({attempts} logins)"
    );
    assert_eq!(failures, 0, "zero downtime with alternating users");
}

#[tokio::test]
async fn single_user_rotation_failed_logins_are_measured() {
    let Some(db) = postgres() else { return };
    let Some(server) = rotating_server() else {
        return;
    };
    let client = server.default_client();
    db.create_user("app", "Initial-Pw-4");
    let (arn, _) = create_secret(&client, &db.secret_json("app", "Initial-Pw-4", None)).await;
    let db = Arc::new(db);
    let (attempts, failures) = logins_during_rotations(&server, db.clone(), &arn, 20).await;
    println!("single user: {failures} failed logins of {attempts} over 20 rotations");
    assert!(
        attempts >= 20,
        "the client loop ran throughout ({attempts} logins)"
    );
    // The measured figure is reported, not bounded: between setSecret and finishSecret the
    // database has the new password while AWSCURRENT still holds the old one.
    let (user, password) = credentials(&client, &arn, "AWSCURRENT").await;
    db.login(&user, &password, "app")
        .await
        .expect("the final AWSCURRENT logs in");
}
