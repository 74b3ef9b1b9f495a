//! The PostgreSQL and MySQL/MariaDB rotation functions (coffer-rotators) against a spawned
//! Coffer and real database servers (`coffer_e2e::databases`): single user and alternating
//! users, retried steps, staging checks, and error messages without passwords.
//!
//! RotateSecret creates the value-less AWSPENDING version, as AWS does; the tests then drive the
//! four steps through `Rotator::handle` themselves (the rotation ARN names no runnable
//! function), so they control retries and failures step by step. The events carry no
//! RotationToken: a made-up one could be refused once PutSecretValue checks it.

use aws_sdk_secretsmanager::Client;
use coffer_e2e::databases::{PostgresServer, TestDatabase as Db, MASTER_PASSWORD, MASTER_USER};
use coffer_e2e::*;
use coffer_rotators::{
    Engine, PasswordSettings, RotationStep, RotationStepEvent, Rotator, RotatorError, TlsSettings,
};

/// AWS's rotation event for one step (no RotationToken: see the module docs).
fn event(arn: &str, token: &str, step: RotationStep) -> RotationStepEvent {
    RotationStepEvent {
        step,
        secret_id: arn.to_string(),
        client_request_token: token.to_string(),
        rotation_token: None,
    }
}

struct Fixture {
    // Field order: the databases stop before Coffer.
    db: Db,
    client: Client,
    rotator: Rotator,
    _server: CofferServer,
}

impl Fixture {
    /// Coffer and a database of `engine`; `None` when the database is not installed (skipped).
    fn start(engine: Engine) -> Option<Fixture> {
        Some(Fixture::with_db(
            Db::start(engine)?,
            &TlsSettings::default(),
        ))
    }

    /// Coffer, `db`, and a rotator trusting `tls`'s roots.
    fn with_db(db: Db, tls: &TlsSettings) -> Fixture {
        let engine = match db {
            Db::Postgres(_) => Engine::Postgres,
            Db::MariaDb(_) => Engine::MySql,
        };
        let server = CofferServer::start();
        let client = server.default_client();
        // No excluded characters: passwords carry quotes and backslashes, exercising the
        // engines' quoting.
        let passwords = PasswordSettings {
            exclude_characters: String::new(),
            length: 40,
        };
        let rotator = Rotator::new(engine, client.clone(), passwords, tls);
        Fixture {
            db,
            client,
            rotator,
            _server: server,
        }
    }

    async fn create_secret(&self, prefix: &str, json: &str) -> (String, String) {
        create_string_secret(&self.client, &unique_name(prefix), json).await
    }

    /// RotateSecret (a non-runnable rotation ARN): returns the new AWSPENDING version id.
    async fn start_rotation(&self, arn: &str) -> String {
        let out = self
            .client
            .rotate_secret()
            .secret_id(arn)
            .client_request_token(token())
            .rotation_lambda_arn(format!(
                "arn:aws:lambda:{DEFAULT_REGION}:{TEST_ACCOUNT_ID}:function:driven-by-the-test"
            ))
            .rotate_immediately(true)
            .send()
            .await
            .expect("RotateSecret");
        out.version_id().expect("VersionId").to_string()
    }

    async fn step(&self, arn: &str, token: &str, step: RotationStep) -> Result<(), RotatorError> {
        self.rotator.handle(&event(arn, token, step)).await
    }

    /// One whole rotation; returns the new AWSCURRENT version id.
    async fn rotate(&self, arn: &str) -> String {
        let token = self.start_rotation(arn).await;
        for step in RotationStep::ALL {
            self.step(arn, &token, step)
                .await
                .unwrap_or_else(|e| panic!("{step}: {e}\n{}", self.db_log()));
        }
        token
    }

    fn db_log(&self) -> String {
        match &self.db {
            Db::Postgres(pg) => pg.log_tail(),
            Db::MariaDb(m) => m.log_tail(),
        }
    }

    /// `(version id, username, password)` of the version staged `stage`.
    async fn staged(&self, arn: &str, stage: &str) -> (String, String, String) {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {stage}: {e:?}"));
        let value: serde_json::Value =
            serde_json::from_str(out.secret_string().expect("SecretString")).expect("JSON");
        (
            out.version_id().expect("VersionId").to_string(),
            value["username"].as_str().expect("username").to_string(),
            value["password"].as_str().expect("password").to_string(),
        )
    }

    /// The pending value of `token`: `(username, password)`.
    async fn pending(&self, arn: &str, token: &str) -> (String, String) {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_id(token)
            .version_stage("AWSPENDING")
            .send()
            .await
            .expect("GetSecretValue AWSPENDING");
        let value: serde_json::Value =
            serde_json::from_str(out.secret_string().expect("SecretString")).expect("JSON");
        (
            value["username"].as_str().unwrap().to_string(),
            value["password"].as_str().unwrap().to_string(),
        )
    }

    /// A master secret for the database's master user; returns its ARN.
    async fn master_secret(&self) -> String {
        let json = self.db.secret_json(MASTER_USER, MASTER_PASSWORD, None);
        self.create_secret("rot-master", &json).await.0
    }
}

// ---------------------------------------------------------------------------------------------
// Single user

async fn single_user_rotation_changes_the_password(engine: Engine) {
    let Some(f) = Fixture::start(engine) else {
        return;
    };
    let old_password = "initial-Pw-1";
    f.db.create_user("app", old_password);
    let (arn, v1) = f
        .create_secret("rot-single", &f.db.secret_json("app", old_password, None))
        .await;

    let v2 = f.rotate(&arn).await;

    let (current_id, user, new_password) = f.staged(&arn, "AWSCURRENT").await;
    assert_eq!((current_id.as_str(), user.as_str()), (v2.as_str(), "app"));
    assert_ne!(new_password, old_password);
    f.db.login("app", &new_password, "app")
        .await
        .expect("the new AWSCURRENT password logs in");
    let refused = f.db.login("app", old_password, "app").await;
    assert!(refused.is_err(), "the old password still logs in");
    let (previous_id, _, previous_password) = f.staged(&arn, "AWSPREVIOUS").await;
    assert_eq!(previous_id, v1, "AWSPREVIOUS is the old version");
    assert_eq!(previous_password, old_password);
}

#[tokio::test]
async fn postgres_single_user_rotation_changes_the_password() {
    single_user_rotation_changes_the_password(Engine::Postgres).await;
}

#[tokio::test]
async fn mariadb_single_user_rotation_changes_the_password() {
    single_user_rotation_changes_the_password(Engine::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// Alternating users

async fn alternating_users_keep_previous_credentials_working(engine: Engine) {
    let Some(f) = Fixture::start(engine) else {
        return;
    };
    let original_password = "initial-Pw-2";
    f.db.create_user("app", original_password);
    let master = f.master_secret().await;
    let (arn, _) = f
        .create_secret(
            "rot-alt",
            &f.db.secret_json("app", original_password, Some(&master)),
        )
        .await;

    // First rotation: the clone is created with the original's privileges.
    f.rotate(&arn).await;
    let (_, user, password) = f.staged(&arn, "AWSCURRENT").await;
    assert_eq!(user, "app_clone");
    assert!(f.db.user_exists("app_clone"), "the clone user exists");
    f.db.login(&user, &password, "app")
        .await
        .expect("AWSCURRENT (the clone) logs in and has the original's privileges");
    let (_, previous_user, previous_password) = f.staged(&arn, "AWSPREVIOUS").await;
    assert_eq!(
        (previous_user.as_str(), previous_password.as_str()),
        ("app", original_password)
    );
    f.db.login(&previous_user, &previous_password, "app")
        .await
        .expect("AWSPREVIOUS still logs in");

    // Second rotation: back to the original name, with a new password; the clone keeps working.
    f.rotate(&arn).await;
    let (_, user2, password2) = f.staged(&arn, "AWSCURRENT").await;
    assert_eq!(user2, "app");
    assert_ne!(password2, original_password);
    f.db.login(&user2, &password2, "app")
        .await
        .expect("AWSCURRENT (the original) logs in");
    f.db.login(&user, &password, "app")
        .await
        .expect("AWSPREVIOUS (the clone) still logs in");
    assert!(
        f.db.login("app", original_password, "app").await.is_err(),
        "the original's first password no longer logs in"
    );
}

#[tokio::test]
async fn postgres_alternating_users_keep_previous_credentials_working() {
    alternating_users_keep_previous_credentials_working(Engine::Postgres).await;
}

#[tokio::test]
async fn mariadb_alternating_users_keep_previous_credentials_working() {
    alternating_users_keep_previous_credentials_working(Engine::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// Retried steps

/// Every step run twice (and createSecret/setSecret once more after setSecret) rotates once.
async fn steps_run_twice_rotate_once(engine: Engine, alternating: bool) {
    let Some(f) = Fixture::start(engine) else {
        return;
    };
    f.db.create_user("app", "initial-Pw-3");
    let master = match alternating {
        true => Some(f.master_secret().await),
        false => None,
    };
    let (arn, v1) = f
        .create_secret(
            "rot-twice",
            &f.db.secret_json("app", "initial-Pw-3", master.as_deref()),
        )
        .await;
    let token = f.start_rotation(&arn).await;
    let run = |step| f.step(&arn, &token, step);

    run(RotationStep::CreateSecret).await.expect("createSecret");
    let pending = f.pending(&arn, &token).await;
    run(RotationStep::CreateSecret)
        .await
        .expect("createSecret again");
    assert_eq!(
        f.pending(&arn, &token).await,
        pending,
        "a retried createSecret keeps the value"
    );

    run(RotationStep::SetSecret).await.expect("setSecret");
    run(RotationStep::SetSecret).await.expect("setSecret again");
    run(RotationStep::CreateSecret)
        .await
        .expect("createSecret after setSecret");
    run(RotationStep::SetSecret)
        .await
        .expect("setSecret a third time");
    assert_eq!(f.pending(&arn, &token).await, pending);
    f.db.login(&pending.0, &pending.1, "app")
        .await
        .expect("the password set by setSecret still logs in after the retries");

    run(RotationStep::TestSecret).await.expect("testSecret");
    run(RotationStep::TestSecret)
        .await
        .expect("testSecret again");
    run(RotationStep::FinishSecret).await.expect("finishSecret");
    run(RotationStep::FinishSecret)
        .await
        .expect("finishSecret again");
    // Every step on a version that already is AWSCURRENT does nothing.
    for step in RotationStep::ALL {
        run(step).await.expect("a step after finishSecret");
    }

    let (current, user, password) = f.staged(&arn, "AWSCURRENT").await;
    assert_eq!(current, token);
    assert_eq!((user, password), pending);
    let (previous, _, _) = f.staged(&arn, "AWSPREVIOUS").await;
    assert_eq!(previous, v1, "AWSPREVIOUS moved once");
    f.db.login(&pending.0, &pending.1, "app")
        .await
        .expect("AWSCURRENT logs in");
}

#[tokio::test]
async fn postgres_single_user_steps_run_twice_rotate_once() {
    steps_run_twice_rotate_once(Engine::Postgres, false).await;
}

#[tokio::test]
async fn mariadb_alternating_users_steps_run_twice_rotate_once() {
    steps_run_twice_rotate_once(Engine::MySql, true).await;
}

// ---------------------------------------------------------------------------------------------
// Staging checks and error messages

#[tokio::test]
async fn rotation_step_with_token_not_awspending_is_refused() {
    // No database needed: the staging check runs before any login.
    let server = CofferServer::start();
    let client = server.default_client();
    let rotator = Rotator::new(
        Engine::Postgres,
        client.clone(),
        PasswordSettings::default(),
        &TlsSettings::default(),
    );
    let json =
        r#"{"engine":"postgres","host":"127.0.0.1","port":1,"username":"u","password":"p-1"}"#;
    let (arn, v1) = create_string_secret(&client, &unique_name("rot-token"), json).await;
    let v2 = client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(json.replace("p-1", "p-2"))
        .send()
        .await
        .expect("put v2")
        .version_id()
        .unwrap()
        .to_string();
    for step in RotationStep::ALL {
        let err = rotator
            .handle(&event(&arn, &v1, step))
            .await
            .expect_err("AWSPREVIOUS is not AWSPENDING");
        assert_eq!(err.step, step);
        assert!(
            err.to_string().contains(&format!(
                "Secret version {v1} not set as AWSPENDING for rotation of secret {arn}."
            )),
            "{err}"
        );
        let unknown = token();
        let err = rotator
            .handle(&event(&arn, &unknown, step))
            .await
            .expect_err("an unknown version");
        assert!(
            err.to_string().contains(&format!(
                "Secret version {unknown} has no stage for rotation"
            )),
            "{err}"
        );
        // A version that already is AWSCURRENT: nothing to do.
        rotator
            .handle(&event(&arn, &v2, step))
            .await
            .expect("AWSCURRENT");
    }
    assert_eq!(
        holder_of(&client, &arn, "AWSCURRENT").await.as_deref(),
        Some(v2.as_str())
    );
}

#[tokio::test]
async fn failed_steps_name_step_user_and_host_but_no_password() {
    let Some(f) = Fixture::start(Engine::Postgres) else {
        return;
    };
    let old_password = "initial-Pw-4";
    f.db.create_user("app", old_password);
    f.db.create_user("other", old_password);
    let wrong_master = f
        .create_secret(
            "rot-badmaster",
            &f.db.secret_json(MASTER_USER, "not-the-master-Pw", None),
        )
        .await
        .0;
    let (single, _) = f
        .create_secret("rot-err1", &f.db.secret_json("app", old_password, None))
        .await;
    let (alternating, _) = f
        .create_secret(
            "rot-err2",
            &f.db.secret_json("other", old_password, Some(&wrong_master)),
        )
        .await;
    // The single user's password changes behind the secret's back: no stage logs in.
    f.db.sql("ALTER ROLE app PASSWORD 'changed-out-of-band'");

    for (arn, credentials) in [(&single, "AWSCURRENT"), (&alternating, "master")] {
        let token = f.start_rotation(arn).await;
        f.step(arn, &token, RotationStep::CreateSecret)
            .await
            .expect("createSecret");
        let (_, pending_password) = f.pending(arn, &token).await;
        let err = f
            .step(arn, &token, RotationStep::SetSecret)
            .await
            .expect_err("setSecret cannot log in");
        let text = format!("{err} {err:?}");
        assert!(text.contains("setSecret failed"), "{text}");
        assert!(text.contains("127.0.0.1"), "{text}");
        assert!(text.contains(credentials), "{text}");
        for password in [
            old_password,
            pending_password.as_str(),
            "changed-out-of-band",
            "not-the-master-Pw",
            MASTER_PASSWORD,
        ] {
            assert!(!text.contains(password), "a password leaked: {text}");
        }
        let err = f
            .step(arn, &token, RotationStep::TestSecret)
            .await
            .expect_err("testSecret: AWSPENDING was never set");
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("testSecret failed") && text.contains("AWSPENDING"),
            "{text}"
        );
        assert!(!text.contains(pending_password.as_str()), "{text}");
    }
    assert!(f.db.user_exists("other") && !f.db.user_exists("other_clone"));
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn postgres_offering_tls_is_rotated_over_verified_tls_only() {
    let Some(pg) = PostgresServer::start_tls() else {
        return;
    };
    let ca = pg.ca_bundle().expect("CA bundle").to_path_buf();
    let trusting = TlsSettings::with_ca_bundle(&ca).expect("the CA bundle loads");
    let f = Fixture::with_db(Db::Postgres(pg), &trusting);
    f.db.sql("CREATE ROLE app LOGIN PASSWORD 'initial-Pw-5'; CREATE TABLE t_app (x int); GRANT SELECT ON t_app TO app;");
    assert!(
        f.db.login("app", "initial-Pw-5", "app").await.is_err(),
        "the server refuses plain-text logins"
    );
    let (arn, _) = f
        .create_secret("rot-tls", &f.db.secret_json("app", "initial-Pw-5", None))
        .await;
    let token = f.start_rotation(&arn).await;
    f.step(&arn, &token, RotationStep::CreateSecret)
        .await
        .expect("createSecret");

    // Webpki roots only: the test CA's certificate is refused, with no fallback to plain text.
    let untrusting = Rotator::new(
        Engine::Postgres,
        f.client.clone(),
        PasswordSettings::default(),
        &TlsSettings::default(),
    );
    let err = untrusting
        .handle(&event(&arn, &token, RotationStep::SetSecret))
        .await
        .expect_err("an unknown CA is refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // With COFFER_DB_CA_BUNDLE's CA: TLS, verified, and the rotation completes.
    for step in [
        RotationStep::SetSecret,
        RotationStep::TestSecret,
        RotationStep::FinishSecret,
    ] {
        f.step(&arn, &token, step)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(
        holder_of(&f.client, &arn, "AWSCURRENT").await.as_deref(),
        Some(token.as_str())
    );
}
