//! The rotation runner and the scheduler on the in-memory fakes, with an injected clock: the
//! four steps in order with AWS's event, AWSCURRENT moving, `LastRotatedDate` and the next
//! window, retries and the failed mark, reattempts through RotateSecret, abandonment by a
//! manual write, the `RotationToken` check, test-only rotations, and the scheduler starting a
//! rotation inside its window (and not before) and purging expired deletions.

use async_trait::async_trait;
use coffer_core::clock::{Timestamp, MILLIS_PER_HOUR};
use coffer_core::ids::Scope;
use coffer_core::ports::{
    RotationFunction, RotationInvoker, RotationJob, RotationStartError, RotationStep,
    RotationStepEvent, StepFailure,
};
use coffer_core::rotation::driver::{RetryPolicy, RotationDriver, RotationOutcome, Sleeper};
use coffer_core::rotation::scheduler::{planned_start, tick};
use coffer_core::service::{service_context, Ports, SecretsService, ServiceConfig};
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// 2024-05-01T12:00:00Z.
const T0: i64 = 1_714_564_800_000;
const LAMBDA: &str = "arn:aws:lambda:us-east-1:111122223333:function:rotator";

/// Queues the jobs RotateSecret and the scheduler hand over; the test runs them.
#[derive(Default)]
struct JobQueue(Mutex<Vec<RotationJob>>);
#[async_trait]
impl RotationInvoker for JobQueue {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        self.0.lock().unwrap().push(job);
        Ok(())
    }
}

/// Waiting advances the injected clock instead of the wall clock.
struct ClockSleeper(Arc<ManualClock>, Mutex<Vec<Duration>>);
#[async_trait]
impl Sleeper for ClockSleeper {
    async fn sleep(&self, duration: Duration) {
        self.1.lock().unwrap().push(duration);
        self.0.advance(duration.as_millis() as i64);
    }
}

/// A rotation function behaving like AWS's templates, calling the service like any client:
/// createSecret puts a new value as AWSPENDING (once), finishSecret moves AWSCURRENT.
/// `fail_set_secret` makes setSecret fail; `on_set_secret` runs during setSecret.
#[derive(Default)]
struct TemplateRotator {
    service: OnceLock<Arc<SecretsService>>,
    fail_set_secret: AtomicBool,
    pass_token: AtomicBool,
    steps: Mutex<Vec<RotationStepEvent>>,
    #[allow(clippy::type_complexity)]
    on_set_secret: Mutex<Option<Box<dyn Fn() -> Value + Send + Sync>>>,
    manual_write: Mutex<Option<Value>>,
}

impl TemplateRotator {
    async fn call(&self, op: &str, body: Value) -> Result<Value, String> {
        let service = self.service.get().expect("service wired");
        service
            .handle(
                &service_context(scope(), "rotator"),
                coffer_core::operation::Operation::from_name(op).expect("operation"),
                coffer_testkit::builders::with_idempotency_token(op, body)
                    .to_string()
                    .as_bytes(),
            )
            .await
            .map_err(|e| e.code().to_string())
    }
}

#[async_trait]
impl RotationFunction for TemplateRotator {
    async fn invoke(&self, function_arn: &str, e: &RotationStepEvent) -> Result<(), StepFailure> {
        assert_eq!(function_arn, LAMBDA);
        self.steps.lock().unwrap().push(e.clone());
        let fail = |m: String| StepFailure(m);
        match e.step {
            RotationStep::CreateSecret => {
                let existing = self
                    .call(
                        "GetSecretValue",
                        json!({"SecretId": e.secret_id, "VersionId": e.client_request_token, "VersionStage": "AWSPENDING"}),
                    )
                    .await;
                if existing.is_ok() {
                    return Ok(());
                }
                let mut body = json!({
                    "SecretId": e.secret_id,
                    "ClientRequestToken": e.client_request_token,
                    "SecretString": format!("rotated-{}", e.client_request_token),
                    "VersionStages": ["AWSPENDING"],
                });
                if self.pass_token.load(Ordering::SeqCst) {
                    body["RotationToken"] = json!(e.rotation_token);
                }
                self.call("PutSecretValue", body).await.map(|_| ()).map_err(fail)
            }
            RotationStep::SetSecret => {
                if let Some(hook) = self.on_set_secret.lock().unwrap().as_ref() {
                    *self.manual_write.lock().unwrap() = Some(hook());
                }
                let manual = self.manual_write.lock().unwrap().take();
                if let Some(body) = manual {
                    self.call("PutSecretValue", body).await.map_err(fail)?;
                }
                if self.fail_set_secret.load(Ordering::SeqCst) {
                    return Err(fail("setSecret: could not log in to db.example:5432 as app".into()));
                }
                Ok(())
            }
            RotationStep::TestSecret => self
                .call(
                    "GetSecretValue",
                    json!({"SecretId": e.secret_id, "VersionId": e.client_request_token, "VersionStage": "AWSPENDING"}),
                )
                .await
                .map(|_| ())
                .map_err(fail),
            RotationStep::FinishSecret => {
                let described = self
                    .call("DescribeSecret", json!({"SecretId": e.secret_id}))
                    .await
                    .map_err(fail)?;
                let current = described["VersionIdsToStages"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(_, s)| s.as_array().unwrap().contains(&json!("AWSCURRENT")))
                    .map(|(v, _)| v.clone())
                    .unwrap();
                if current == e.client_request_token {
                    return Ok(());
                }
                self.call(
                    "UpdateSecretVersionStage",
                    json!({"SecretId": e.secret_id, "VersionStage": "AWSCURRENT",
                           "MoveToVersionId": e.client_request_token, "RemoveFromVersionId": current}),
                )
                .await
                .map(|_| ())
                .map_err(fail)
            }
        }
    }
}

fn scope() -> Scope {
    Scope::new("us-east-1", "111122223333")
}

struct Fixture {
    service: Arc<SecretsService>,
    audit: Arc<RecordingAudit>,
    clock: Arc<ManualClock>,
    jobs: Arc<JobQueue>,
    rotator: Arc<TemplateRotator>,
    sleeper: Arc<ClockSleeper>,
    driver: RotationDriver,
}

fn fixture() -> Fixture {
    let audit = Arc::new(RecordingAudit::default());
    let clock = Arc::new(ManualClock::at(T0));
    let jobs = Arc::new(JobQueue::default());
    let service = Arc::new(SecretsService::new(
        Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: audit.clone(),
            metrics: Arc::new(NoMetrics),
            rotation: jobs.clone(),
            clock: clock.clone(),
            random: Arc::new(CountingRandom::default()),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required: false,
        },
    ));
    let rotator = Arc::new(TemplateRotator::default());
    let _ = rotator.service.set(service.clone());
    let sleeper = Arc::new(ClockSleeper(clock.clone(), Mutex::new(vec![])));
    let driver = RotationDriver::new(
        service.clone(),
        rotator.clone(),
        sleeper.clone(),
        RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
        },
    );
    Fixture {
        service,
        audit,
        clock,
        jobs,
        rotator,
        sleeper,
        driver,
    }
}

impl Fixture {
    async fn call(&self, op: &str, body: Value) -> Result<Value, String> {
        self.rotator.call(op, body).await
    }

    async fn create(&self, name: &str) -> String {
        self.call(
            "CreateSecret",
            json!({"Name": name, "SecretString": "initial"}),
        )
        .await
        .unwrap()["VersionId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn take_job(&self) -> RotationJob {
        let mut jobs = self.jobs.0.lock().unwrap();
        assert_eq!(jobs.len(), 1, "exactly one job handed over");
        jobs.remove(0)
    }

    async fn stages(&self, name: &str) -> serde_json::Map<String, Value> {
        self.call("DescribeSecret", json!({"SecretId": name}))
            .await
            .unwrap()["VersionIdsToStages"]
            .as_object()
            .unwrap()
            .clone()
    }

    async fn holder(&self, name: &str, label: &str) -> Option<String> {
        self.stages(name)
            .await
            .into_iter()
            .find(|(_, s)| s.as_array().unwrap().contains(&json!(label)))
            .map(|(v, _)| v)
    }

    fn service_events(&self) -> Vec<(String, Value)> {
        self.audit
            .events()
            .iter()
            .filter(|e| e.to_cloudtrail()["eventType"] == "AwsServiceEvent")
            .map(|e| {
                (
                    e.event_name.clone(),
                    e.additional_event_data.clone().unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    fn event_names(&self) -> Vec<String> {
        self.service_events().into_iter().map(|(n, _)| n).collect()
    }

    fn now(&self) -> i64 {
        self.clock.millis()
    }

    fn set_now(&self, t: i64) {
        self.clock.set(t);
    }
}

#[tokio::test]
async fn a_rotation_runs_the_four_steps_in_order_and_moves_awscurrent() {
    let f = fixture();
    let v1 = f.create("app/db").await;
    let out = f
        .call(
            "RotateSecret",
            json!({"SecretId": "app/db", "RotationLambdaARN": LAMBDA,
                   "RotationRules": {"AutomaticallyAfterDays": 30}}),
        )
        .await
        .unwrap();
    let pending = out["VersionId"].as_str().unwrap().to_string();
    let job = f.take_job();
    assert_eq!(f.driver.run(&job).await, RotationOutcome::Succeeded);

    let steps = f.rotator.steps.lock().unwrap().clone();
    let order: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        order,
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
    );
    for s in &steps {
        assert_eq!(s.secret_id, job.secret_arn.to_string());
        assert_eq!(s.client_request_token, pending);
        assert_eq!(
            s.rotation_token.as_deref(),
            Some(job.rotation_token.as_str())
        );
    }
    // The wire shape AWS sends.
    let wire = serde_json::to_value(&steps[0]).unwrap();
    assert_eq!(
        wire.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ClientRequestToken", "RotationToken", "SecretId", "Step"]
    );

    assert_eq!(
        f.holder("app/db", "AWSCURRENT").await,
        Some(pending.clone())
    );
    assert_eq!(f.holder("app/db", "AWSPREVIOUS").await, Some(v1));
    let value = f
        .call("GetSecretValue", json!({"SecretId": "app/db"}))
        .await
        .unwrap();
    assert_eq!(value["SecretString"], format!("rotated-{pending}"));
    let described = f
        .call("DescribeSecret", json!({"SecretId": "app/db"}))
        .await
        .unwrap();
    assert_eq!(
        described["LastRotatedDate"].as_f64().unwrap() * 1000.0,
        T0 as f64
    );
    // AutomaticallyAfterDays 30: the window is the UTC day 30 days on.
    let next = described["NextRotationDate"].as_f64().unwrap() as i64 * 1000;
    assert_eq!(next, Timestamp(T0).plus_days(30).start_of_day().millis());
    assert_eq!(f.event_names(), ["RotationStarted", "RotationSucceeded"]);

    // Done: a new RotateSecret is accepted.
    f.call("RotateSecret", json!({"SecretId": "app/db"}))
        .await
        .expect("a second rotation after a completed one");
}

#[tokio::test]
async fn a_failing_set_secret_retries_keeps_awspending_and_a_later_rotate_secret_reattempts() {
    let f = fixture();
    let v1 = f.create("app/fail").await;
    f.rotator.fail_set_secret.store(true, Ordering::SeqCst);
    let pending = f
        .call(
            "RotateSecret",
            json!({"SecretId": "app/fail", "RotationLambdaARN": LAMBDA}),
        )
        .await
        .unwrap()["VersionId"]
        .as_str()
        .unwrap()
        .to_string();
    let job = f.take_job();
    assert_eq!(
        f.driver.run(&job).await,
        RotationOutcome::Failed {
            step: RotationStep::SetSecret,
            attempts: 3
        }
    );
    // Backoff 5 s then 10 s between the three attempts.
    assert_eq!(
        *f.sleeper.1.lock().unwrap(),
        [Duration::from_secs(5), Duration::from_secs(10)]
    );
    let failed: Vec<Value> = f
        .service_events()
        .into_iter()
        .filter(|(n, _)| n == "RotationFailed")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(failed.len(), 3, "one RotationFailed per attempt");
    assert!(failed.iter().all(|d| d["Step"] == "setSecret"));
    assert_eq!(failed[2]["WillRetry"], false);
    assert_eq!(failed[0]["WillRetry"], true);

    // AWSCURRENT untouched and readable; AWSPENDING kept.
    assert_eq!(f.holder("app/fail", "AWSCURRENT").await, Some(v1.clone()));
    assert_eq!(
        f.holder("app/fail", "AWSPENDING").await,
        Some(pending.clone())
    );
    let value = f
        .call("GetSecretValue", json!({"SecretId": "app/fail"}))
        .await
        .unwrap();
    assert_eq!(value["SecretString"], "initial");

    // Fixed; RotateSecret answers as AWS does and reattempts with the same AWSPENDING version.
    f.rotator.fail_set_secret.store(false, Ordering::SeqCst);
    let err = f
        .call("RotateSecret", json!({"SecretId": "app/fail"}))
        .await
        .unwrap_err();
    assert_eq!(err, "InvalidRequestException");
    let retry = f.take_job();
    assert_eq!(retry.pending_version.as_ref().unwrap().as_str(), pending);
    assert_eq!(f.driver.run(&retry).await, RotationOutcome::Succeeded);
    assert_eq!(f.holder("app/fail", "AWSCURRENT").await, Some(pending));
    assert_eq!(f.holder("app/fail", "AWSPREVIOUS").await, Some(v1));
    assert_eq!(f.event_names().last().unwrap(), "RotationSucceeded");
}

#[tokio::test]
async fn a_running_rotation_refuses_a_second_one_without_a_new_job() {
    let f = fixture();
    f.create("app/busy").await;
    f.call(
        "RotateSecret",
        json!({"SecretId": "app/busy", "RotationLambdaARN": LAMBDA}),
    )
    .await
    .unwrap();
    let _running = f.take_job();
    let err = f
        .call("RotateSecret", json!({"SecretId": "app/busy"}))
        .await
        .unwrap_err();
    assert_eq!(err, "InvalidRequestException");
    assert!(f.jobs.0.lock().unwrap().is_empty(), "no second job");
}

#[tokio::test]
async fn a_value_written_by_hand_mid_rotation_abandons_it() {
    let f = fixture();
    f.create("app/manual").await;
    *f.rotator.on_set_secret.lock().unwrap() = Some(Box::new(
        || json!({"SecretId": "app/manual", "SecretString": "typed by an operator"}),
    ));
    f.call(
        "RotateSecret",
        json!({"SecretId": "app/manual", "RotationLambdaARN": LAMBDA}),
    )
    .await
    .unwrap();
    let job = f.take_job();
    assert_eq!(f.driver.run(&job).await, RotationOutcome::NotCurrent);
    let steps: Vec<RotationStep> = f
        .rotator
        .steps
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.step)
        .collect();
    assert_eq!(steps, [RotationStep::CreateSecret, RotationStep::SetSecret]);
    assert_eq!(f.holder("app/manual", "AWSPENDING").await, None);
    let value = f
        .call("GetSecretValue", json!({"SecretId": "app/manual"}))
        .await
        .unwrap();
    assert_eq!(value["SecretString"], "typed by an operator");
    assert_eq!(
        f.event_names(),
        ["RotationStarted", "RotationAbandoned"],
        "no RotationFailed or RotationSucceeded"
    );
    // Nothing blocks the next rotation.
    f.call("RotateSecret", json!({"SecretId": "app/manual"}))
        .await
        .expect("RotateSecret after an abandoned rotation");
}

#[tokio::test]
async fn put_secret_value_checks_the_rotation_token() {
    let f = fixture();
    f.create("app/token").await;
    f.call(
        "RotateSecret",
        json!({"SecretId": "app/token", "RotationLambdaARN": LAMBDA}),
    )
    .await
    .unwrap();
    let job = f.take_job();
    let pending = job.pending_version.clone().unwrap();
    let wrong = f
        .call(
            "PutSecretValue",
            json!({"SecretId": "app/token", "ClientRequestToken": pending.as_str(),
                   "SecretString": "x", "VersionStages": ["AWSPENDING"],
                   "RotationToken": "not-the-token"}),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong, "AccessDeniedException");
    f.rotator.pass_token.store(true, Ordering::SeqCst);
    assert_eq!(f.driver.run(&job).await, RotationOutcome::Succeeded);
    // After the rotation the token is spent.
    let spent = f
        .call(
            "PutSecretValue",
            json!({"SecretId": "app/token", "SecretString": "y",
                   "RotationToken": job.rotation_token}),
        )
        .await
        .unwrap_err();
    assert_eq!(spent, "AccessDeniedException");
}

#[tokio::test]
async fn rotate_immediately_false_runs_only_test_secret_and_removes_its_label() {
    let f = fixture();
    let v1 = f.create("app/test-only").await;
    let out = f
        .call(
            "RotateSecret",
            json!({"SecretId": "app/test-only", "RotationLambdaARN": LAMBDA,
                   "RotateImmediately": false}),
        )
        .await
        .unwrap();
    assert!(out.get("VersionId").is_none());
    let job = f.take_job();
    assert_eq!(f.driver.run(&job).await, RotationOutcome::TestSucceeded);
    let steps = f.rotator.steps.lock().unwrap().clone();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].step, RotationStep::TestSecret);
    assert_eq!(steps[0].client_request_token, v1);
    assert_eq!(
        f.stages("app/test-only").await.get(&v1),
        Some(&json!(["AWSCURRENT"]))
    );
    assert_eq!(
        f.event_names(),
        ["TestRotationStarted", "TestRotationSucceeded"]
    );
}

/// Steps the clock a minute at a time from `from` until the scheduler starts a job; returns
/// the time it started at.
async fn tick_until_started(f: &Fixture, from: i64, until: i64) -> Option<i64> {
    let mut t = from;
    while t < until {
        f.set_now(t);
        let report = tick(&f.service).await.unwrap();
        if !report.rotations_started.is_empty() {
            return Some(t);
        }
        t += 60_000;
    }
    None
}

async fn rotated_secret_with(f: &Fixture, name: &str, rules: Value) -> (i64, i64) {
    f.create(name).await;
    f.call(
        "RotateSecret",
        json!({"SecretId": name, "RotationLambdaARN": LAMBDA, "RotationRules": rules}),
    )
    .await
    .unwrap();
    let job = f.take_job();
    assert_eq!(f.driver.run(&job).await, RotationOutcome::Succeeded);
    f.rotator.steps.lock().unwrap().clear();
    let described = f
        .call("DescribeSecret", json!({"SecretId": name}))
        .await
        .unwrap();
    let start = described["NextRotationDate"].as_f64().unwrap() as i64 * 1000;
    (start, start + 2 * MILLIS_PER_HOUR)
}

#[tokio::test]
async fn the_scheduler_starts_a_rate_rotation_inside_its_window_and_not_before() {
    let f = fixture();
    let (start, end) = rotated_secret_with(
        &f,
        "app/rate",
        json!({"ScheduleExpression": "rate(4 hours)", "Duration": "2h"}),
    )
    .await;
    // rate(4 hours) from 12:00: the window opens at 16:00 and lasts the 2 hours asked for.
    assert_eq!(start, T0 + 4 * MILLIS_PER_HOUR);
    let started = tick_until_started(&f, T0, end + MILLIS_PER_HOUR)
        .await
        .expect("started");
    assert!(
        started >= start && started < end,
        "started at {started}, window {start}..{end}"
    );
    let arn = f
        .call("DescribeSecret", json!({"SecretId": "app/rate"}))
        .await
        .unwrap()["ARN"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        started,
        planned_start(&arn, Timestamp(start), Some(Timestamp(end))).millis()
    );
    // The started job rotates; the next window is 4 hours after it.
    let job = f.take_job();
    assert_eq!(f.driver.run(&job).await, RotationOutcome::Succeeded);
    let next = f
        .call("DescribeSecret", json!({"SecretId": "app/rate"}))
        .await
        .unwrap()["NextRotationDate"]
        .as_f64()
        .unwrap() as i64
        * 1000;
    assert!(next > started, "the next window is later");
    // Nothing more is due now.
    assert!(tick(&f.service).await.unwrap().rotations_started.is_empty());
}

#[tokio::test]
async fn the_scheduler_starts_a_cron_rotation_inside_its_window_and_not_before() {
    let f = fixture();
    let (start, end) = rotated_secret_with(
        &f,
        "app/cron",
        json!({"ScheduleExpression": "cron(0 3 * * ? *)", "Duration": "2h"}),
    )
    .await;
    // The next 03:00 UTC after 2024-05-01T12:00Z.
    assert_eq!(
        start,
        Timestamp(T0).plus_days(1).start_of_day().millis() + 3 * MILLIS_PER_HOUR
    );
    let started = tick_until_started(&f, start - 3 * MILLIS_PER_HOUR, end + MILLIS_PER_HOUR)
        .await
        .expect("started");
    assert!(
        started >= start && started < end,
        "started at {started}, window {start}..{end}"
    );
}

#[tokio::test]
async fn the_scheduler_reattempts_a_failed_rotation_in_the_next_window() {
    let f = fixture();
    let (start, end) = rotated_secret_with(
        &f,
        "app/flaky",
        json!({"ScheduleExpression": "rate(4 hours)", "Duration": "2h"}),
    )
    .await;
    f.rotator.fail_set_secret.store(true, Ordering::SeqCst);
    tick_until_started(&f, start, end).await.expect("started");
    let job = f.take_job();
    assert!(matches!(
        f.driver.run(&job).await,
        RotationOutcome::Failed { .. }
    ));
    // The failed rotation waits for the next window.
    let next = f
        .call("DescribeSecret", json!({"SecretId": "app/flaky"}))
        .await
        .unwrap()["NextRotationDate"]
        .as_f64()
        .unwrap() as i64
        * 1000;
    assert!(next > f.now());
    assert!(tick(&f.service).await.unwrap().rotations_started.is_empty());
    f.rotator.fail_set_secret.store(false, Ordering::SeqCst);
    tick_until_started(&f, next, next + 2 * MILLIS_PER_HOUR)
        .await
        .expect("reattempted in the next window");
    let retry = f.take_job();
    assert_eq!(
        retry.pending_version, job.pending_version,
        "same AWSPENDING version"
    );
    assert_eq!(f.driver.run(&retry).await, RotationOutcome::Succeeded);
}

#[tokio::test]
async fn the_scheduler_purges_a_secret_whose_recovery_window_ended() {
    let f = fixture();
    f.create("app/gone").await;
    f.call(
        "DeleteSecret",
        json!({"SecretId": "app/gone", "RecoveryWindowInDays": 7}),
    )
    .await
    .unwrap();
    f.set_now(T0 + 6 * 24 * MILLIS_PER_HOUR);
    assert_eq!(tick(&f.service).await.unwrap().purged, 0);
    f.set_now(T0 + 7 * 24 * MILLIS_PER_HOUR);
    assert_eq!(tick(&f.service).await.unwrap().purged, 1);
    assert_eq!(
        f.call("DescribeSecret", json!({"SecretId": "app/gone"}))
            .await
            .unwrap_err(),
        "ResourceNotFoundException"
    );
    assert!(f
        .event_names()
        .contains(&"EndSecretVersionDelete".to_string()));
}
