//! Rotation and the scheduler as Lambda runs them: the real `coffer-api`, `coffer-rotation`,
//! `coffer-rotator-postgres` and `coffer-scheduler` bootstraps under the Runtime API emulator
//! (`coffer_e2e::lambda_runtime`), on moto's DynamoDB, KMS and CloudWatch, with a real
//! PostgreSQL. RotateSecret through the official SDK and an API Gateway HTTP API front makes
//! the `api` function start the `rotation` function (Invoke, `Event`), which invokes the
//! rotator four times (Invoke, `RequestResponse`), which calls the API back like any client.
//! The scheduler function is fed EventBridge's scheduled event.
//!
//! Runs with `COFFER_E2E_BACKEND=lambda` (moto is there); skips otherwise.

use coffer_e2e::databases::PostgresServer;
use coffer_e2e::lambda_runtime::{ApiDeployment, FunctionConfig, LambdaEmulator};
use coffer_e2e::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn bin(name: &str) -> PathBuf {
    let path = workspace_root().join("target").join("debug").join(name);
    assert!(
        path.exists(),
        "{} not built (cargo build -p {name})",
        path.display()
    );
    path
}

/// Forwards `listener`'s connections to `target` (the rotator learns the API's URL at cold
/// start, before the API Gateway front exists).
fn forward(listener: tokio::net::TcpListener, target: String) {
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

struct Stack {
    emulator: LambdaEmulator,
    endpoint: String,
    _logs: tempfile::TempDir,
}

impl Stack {
    /// The four functions under one emulator on fresh moto resources.
    async fn start(aws: &AwsResources) -> Stack {
        let logs = tempfile::tempdir().unwrap();
        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}", api_listener.local_addr().unwrap());
        let env = ApiDeployment::function_env(aws);
        let log = |name: &str| logs.path().join(format!("{name}.log"));
        let emulator = LambdaEmulator::start(vec![
            FunctionConfig::new(bin("coffer-api"), "coffer-api", log("coffer-api"))
                .envs(env.clone())
                .timeout(Duration::from_secs(120)),
            FunctionConfig::new(
                bin("coffer-rotation"),
                "coffer-rotation",
                log("coffer-rotation"),
            )
            .envs(env.clone())
            .env("COFFER_ROTATION_MAX_ATTEMPTS", "2")
            .env("COFFER_ROTATION_RETRY_BACKOFF_SECS", "1")
            .timeout(Duration::from_secs(300)),
            FunctionConfig::new(
                bin("coffer-scheduler"),
                "coffer-scheduler",
                log("coffer-scheduler"),
            )
            .envs(env.clone())
            .timeout(Duration::from_secs(120)),
            FunctionConfig::new(
                bin("coffer-rotator-postgres"),
                "coffer-rotator-postgres",
                log("coffer-rotator-postgres"),
            )
            .env("SECRETS_MANAGER_ENDPOINT", &api_url)
            .env("AWS_REGION", &aws.region)
            .env("COFFER_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
            .env("COFFER_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
            .timeout(Duration::from_secs(120)),
        ]);
        let front = emulator.http_api_front("coffer-api");
        forward(
            api_listener,
            front.trim_start_matches("http://").to_string(),
        );
        for f in [
            "coffer-api",
            "coffer-rotation",
            "coffer-scheduler",
            "coffer-rotator-postgres",
        ] {
            assert!(
                emulator.wait_ready(f, Duration::from_secs(30)),
                "{f} did not start: {:?}",
                emulator.init_error(f)
            );
        }
        Stack {
            emulator,
            endpoint: front,
            _logs: logs,
        }
    }

    fn client(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        sdk_client(
            &self.endpoint,
            region,
            TEST_ACCESS_KEY_ID,
            TEST_SECRET_ACCESS_KEY,
            3,
        )
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self._logs.path()).unwrap().flatten() {
            out.push_str(&format!("--- {}\n", entry.path().display()));
            out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        out
    }
}

fn skip_unless_lambda() -> bool {
    if !lambda_mode() {
        skip(format_args!(
            "runs with COFFER_E2E_BACKEND=lambda (moto and the function binaries)"
        ));
        return true;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_secret_runs_the_rotation_and_rotator_functions_under_lambda() {
    if skip_unless_lambda() {
        return;
    }
    let Some(pg) = PostgresServer::start() else {
        return;
    };
    let aws = AwsResources::create(DEFAULT_REGION);
    let stack = Stack::start(&aws).await;
    let client = stack.client(&aws.region);

    pg.sql("CREATE ROLE app LOGIN PASSWORD 'Initial-Lambda-1';");
    let secret = json!({"engine": "postgres", "host": "127.0.0.1", "port": pg.port(),
        "username": "app", "password": "Initial-Lambda-1", "dbname": "postgres"});
    let (arn, v1) =
        create_string_secret(&client, &unique_name("lambda-rot"), &secret.to_string()).await;
    let pending = client
        .rotate_secret()
        .secret_id(&arn)
        .rotation_lambda_arn(format!(
            "arn:aws:lambda:{}:000000000000:function:coffer-rotator-postgres",
            aws.region
        ))
        .send()
        .await
        .expect("RotateSecret")
        .version_id()
        .unwrap()
        .to_string();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let described = client
            .describe_secret()
            .secret_id(&arn)
            .send()
            .await
            .unwrap();
        if holder_of(&client, &arn, "AWSCURRENT").await.as_deref() == Some(pending.as_str())
            && described.last_rotated_date().is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rotation did not finish:\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        holder_of(&client, &arn, "AWSPREVIOUS").await.as_deref(),
        Some(v1.as_str())
    );
    let value = client
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    let current: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    let password = current["password"].as_str().unwrap();
    assert_ne!(password, "Initial-Lambda-1");
    let (db, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(pg.port())
        .user("app")
        .password(password)
        .dbname("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .expect("the rotated password logs in");
    tokio::spawn(connection);
    db.simple_query("SELECT 1").await.unwrap();
    let logs = stack.logs();
    assert!(
        logs.contains("RotationSucceeded"),
        "the audit lines report the rotation"
    );
    assert!(
        !logs.contains(password),
        "the new password never reaches a function's log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduler_function_runs_a_tick_and_publishes_gauges() {
    // Purging at the end of a recovery window and starting rotations inside their window need
    // an injected clock: shared/testkit/tests/rotation_runner.rs covers them on the core's
    // tick. Here the real bootstrap runs that tick on DynamoDB and PutMetricData on CloudWatch.
    if skip_unless_lambda() {
        return;
    }
    let aws = AwsResources::create(DEFAULT_REGION);
    let stack = Stack::start(&aws).await;
    let client = stack.client(&aws.region);
    let (kept, _) = create_string_secret(&client, &unique_name("lambda-kept"), "v").await;
    client
        .delete_secret()
        .secret_id(&kept)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    // EventBridge's scheduled event, as the schedule rule delivers it.
    let event = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": "2026-11-28T12:00:00Z", "region": aws.region,
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/coffer-scheduler"],
        "detail": {}
    });
    let report = stack
        .emulator
        .invoke("coffer-scheduler", &event)
        .await
        .unwrap_or_else(|e| panic!("scheduler failed: {e:?}\n{}", stack.logs()));
    assert_eq!(
        report["Purged"], 0,
        "nothing is past its recovery window: {report}"
    );
    assert_eq!(report["RotationsStarted"], json!([]), "{report}");
    assert!(
        report["GaugeScopes"].as_u64().unwrap() >= 1,
        "gauges published: {report}"
    );
    client
        .describe_secret()
        .secret_id(&kept)
        .send()
        .await
        .expect("a secret inside its recovery window stays");
}
