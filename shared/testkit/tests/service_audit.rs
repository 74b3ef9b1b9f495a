//! The core service's audit events and metrics on the in-memory fakes: exactly one `AwsApiCall`
//! event per call, one `GetSecretValue` event per secret of a batch, the service events of
//! deletion, restore, purge and rotation, `audit_required`, and the gauges.

use async_trait::async_trait;
use coffer_core::audit::{AuditEvent, AuditEventType, Caller};
use coffer_core::ids::Scope;
use coffer_core::metrics::ScopeGauges;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use coffer_testkit::fakes::{CountingMetrics, CountingRandom, ManualClock, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

struct Runner(bool);
#[async_trait]
impl RotationInvoker for Runner {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        if self.0 {
            Ok(())
        } else {
            Err(RotationStartError("no runner".into()))
        }
    }
}

struct Fixture {
    service: SecretsService,
    audit: Arc<RecordingAudit>,
    metrics: Arc<CountingMetrics>,
    clock: Arc<ManualClock>,
}

const T0: i64 = 1_714_564_800_000;

fn fixture(audit_required: bool, runner_accepts: bool) -> Fixture {
    let audit = Arc::new(RecordingAudit::default());
    let metrics = Arc::new(CountingMetrics::default());
    let clock = Arc::new(ManualClock::at(T0));
    let service = SecretsService::new(
        Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: audit.clone(),
            metrics: metrics.clone(),
            rotation: Arc::new(Runner(runner_accepts)),
            clock: clock.clone(),
            random: Arc::new(CountingRandom::default()),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required,
        },
    );
    Fixture {
        service,
        audit,
        metrics,
        clock,
    }
}

fn ctx(request_id: &str) -> RequestContext {
    RequestContext {
        scope: Scope::new("us-east-1", "111122223333"),
        caller: Caller {
            identity_type: "Root".into(),
            principal_arn: "arn:aws:iam::111122223333:root".into(),
            account_id: "111122223333".into(),
            access_key_id: Some("AKIATEST".into()),
            source_ip: Some("127.0.0.1".into()),
            user_agent: Some("test".into()),
        },
        request_id: request_id.to_string(),
        principal: coffer_policy::PrincipalInfo::root("111122223333"),
        source_ip: None,
        secure_transport: false,
    }
}

impl Fixture {
    async fn call(&self, request_id: &str, op: &str, body: Value) -> Result<Value, String> {
        self.service
            .handle(
                &ctx(request_id),
                coffer_core::operation::Operation::from_name(op).expect("operation"),
                coffer_testkit::builders::with_idempotency_token(op, body)
                    .to_string()
                    .as_bytes(),
            )
            .await
            .map_err(|e| e.code().to_string())
    }

    fn events(&self) -> Vec<AuditEvent> {
        self.audit.events.lock().unwrap().clone()
    }

    fn of_request(&self, request_id: &str) -> Vec<AuditEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.request_id == request_id)
            .collect()
    }
}

fn names(events: &[AuditEvent]) -> Vec<(AuditEventType, String)> {
    events
        .iter()
        .map(|e| (e.event_type.clone(), e.event_name.clone()))
        .collect()
}

#[tokio::test]
async fn handle_every_call_yields_exactly_one_api_event() {
    let f = fixture(false, true);
    let arn = f
        .call(
            "r1",
            "CreateSecret",
            json!({"Name": "a", "SecretString": "canary"}),
        )
        .await
        .unwrap()["ARN"]
        .as_str()
        .unwrap()
        .to_string();
    f.call("r2", "GetSecretValue", json!({"SecretId": "a"}))
        .await
        .unwrap();
    assert_eq!(
        f.call("r3", "GetSecretValue", json!({"SecretId": "nope"}))
            .await
            .unwrap_err(),
        "ResourceNotFoundException"
    );
    for (request, name) in [
        ("r1", "CreateSecret"),
        ("r2", "GetSecretValue"),
        ("r3", "GetSecretValue"),
    ] {
        let events = f.of_request(request);
        assert_eq!(
            names(&events),
            vec![(AuditEventType::AwsApiCall, name.to_string())]
        );
    }
    let created = &f.of_request("r1")[0];
    assert_eq!(created.resources, vec![arn.clone()]);
    assert!(!created.to_cloudtrail().to_string().contains("canary"));
    let failed = &f.of_request("r3")[0];
    assert_eq!(
        failed.error_code.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert!(failed.resources.is_empty());
    assert!(f.of_request("r2")[0].read_only);
    assert!(!created.read_only);
}

#[tokio::test]
async fn batch_get_yields_one_get_secret_value_event_per_secret() {
    let f = fixture(false, true);
    let a = f
        .call(
            "c1",
            "CreateSecret",
            json!({"Name": "a", "SecretString": "va"}),
        )
        .await
        .unwrap();
    let b = f
        .call(
            "c2",
            "CreateSecret",
            json!({"Name": "b", "SecretString": "vb"}),
        )
        .await
        .unwrap();
    f.call(
        "batch",
        "BatchGetSecretValue",
        json!({"SecretIdList": ["a", b["ARN"], "missing"]}),
    )
    .await
    .unwrap();
    let events = f.of_request("batch");
    assert_eq!(events.len(), 4);
    let batch: Vec<_> = events
        .iter()
        .filter(|e| e.event_name == "BatchGetSecretValue")
        .collect();
    assert_eq!(batch.len(), 1, "exactly one event for the batch call");
    assert_eq!(
        batch[0].resources,
        vec![
            a["ARN"].as_str().unwrap().to_string(),
            b["ARN"].as_str().unwrap().to_string()
        ]
    );
    let gets: Vec<_> = events
        .iter()
        .filter(|e| e.event_name == "GetSecretValue")
        .collect();
    assert_eq!(gets.len(), 3);
    assert!(gets
        .iter()
        .all(|e| e.event_type == AuditEventType::AwsApiCall
            && e.read_only
            && e.caller.principal_arn == "arn:aws:iam::111122223333:root"));
    assert_eq!(gets[0].request_parameters, json!({"SecretId": "a"}));
    assert_eq!(gets[0].resources, vec![a["ARN"].as_str().unwrap()]);
    assert_eq!(gets[1].resources, vec![b["ARN"].as_str().unwrap()]);
    assert_eq!(
        gets[2].error_code.as_deref(),
        Some("ResourceNotFoundException")
    );
    for e in &events {
        let text = e.to_cloudtrail().to_string();
        assert!(
            !text.contains("\"va\"") && !text.contains("\"vb\""),
            "{text}"
        );
    }
}

#[tokio::test]
async fn delete_restore_and_purge_emit_service_events() {
    let f = fixture(false, true);
    let arn = f
        .call(
            "c",
            "CreateSecret",
            json!({"Name": "a", "SecretString": "v"}),
        )
        .await
        .unwrap()["ARN"]
        .as_str()
        .unwrap()
        .to_string();
    f.call(
        "d1",
        "DeleteSecret",
        json!({"SecretId": "a", "RecoveryWindowInDays": 7}),
    )
    .await
    .unwrap();
    assert_eq!(
        names(&f.of_request("d1")),
        vec![
            (
                AuditEventType::AwsServiceEvent,
                "StartSecretVersionDelete".into()
            ),
            (AuditEventType::AwsApiCall, "DeleteSecret".into()),
        ]
    );
    // Deleting again is refused and starts nothing.
    f.call("d2", "DeleteSecret", json!({"SecretId": "a"}))
        .await
        .unwrap_err();
    assert_eq!(f.of_request("d2").len(), 1);

    f.call("r", "RestoreSecret", json!({"SecretId": "a"}))
        .await
        .unwrap();
    assert_eq!(
        names(&f.of_request("r")),
        vec![
            (
                AuditEventType::AwsServiceEvent,
                "CancelSecretVersionDelete".into()
            ),
            (AuditEventType::AwsApiCall, "RestoreSecret".into()),
        ]
    );
    // Restoring a live secret cancels nothing.
    f.call("r2", "RestoreSecret", json!({"SecretId": "a"}))
        .await
        .unwrap();
    assert_eq!(f.of_request("r2").len(), 1);

    f.call(
        "d3",
        "DeleteSecret",
        json!({"SecretId": "a", "RecoveryWindowInDays": 7}),
    )
    .await
    .unwrap();
    f.clock.0.fetch_add(8 * 86_400_000, Ordering::SeqCst);
    assert_eq!(f.service.purge_expired().await.unwrap(), 1);
    let end: Vec<_> = f
        .events()
        .into_iter()
        .filter(|e| e.event_name == "EndSecretVersionDelete")
        .collect();
    assert_eq!(end.len(), 1);
    let record = end[0].to_cloudtrail();
    assert_eq!(
        record["userIdentity"],
        json!({"accountId": "111122223333", "invokedBy": "secretsmanager.amazonaws.com"})
    );
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["additionalEventData"]["SecretId"], arn.as_str());
    assert_eq!(record["resources"][0]["ARN"], arn.as_str());
}

#[tokio::test]
async fn rotate_secret_emits_rotation_started_and_counts_it() {
    let lambda = "arn:aws:lambda:us-east-1:111122223333:function:rot";
    let f = fixture(false, true);
    f.call(
        "c",
        "CreateSecret",
        json!({"Name": "a", "SecretString": "v"}),
    )
    .await
    .unwrap();
    f.call(
        "rot",
        "RotateSecret",
        json!({"SecretId": "a", "RotationLambdaARN": lambda}),
    )
    .await
    .unwrap();
    assert_eq!(
        names(&f.of_request("rot")),
        vec![
            (AuditEventType::AwsServiceEvent, "RotationStarted".into()),
            (AuditEventType::AwsApiCall, "RotateSecret".into()),
        ]
    );
    assert_eq!(f.metrics.get("RotationsStarted"), 1);
    assert_eq!(f.metrics.get("RotationsFailed"), 0);

    // An invoker that refuses the job: started, then failed.
    let f = fixture(false, false);
    f.call(
        "c",
        "CreateSecret",
        json!({"Name": "a", "SecretString": "v"}),
    )
    .await
    .unwrap();
    f.call(
        "rot",
        "RotateSecret",
        json!({"SecretId": "a", "RotationLambdaARN": lambda}),
    )
    .await
    .unwrap();
    let service: Vec<String> = f
        .of_request("rot")
        .into_iter()
        .filter(|e| e.event_type == AuditEventType::AwsServiceEvent)
        .map(|e| e.event_name)
        .collect();
    assert_eq!(service, vec!["RotationStarted", "RotationFailed"]);
    assert_eq!(f.metrics.get("RotationsFailed"), 1);

    // RotateImmediately=false only tests the configuration.
    let f = fixture(false, true);
    f.call(
        "c",
        "CreateSecret",
        json!({"Name": "a", "SecretString": "v"}),
    )
    .await
    .unwrap();
    f.call(
        "t",
        "RotateSecret",
        json!({"SecretId": "a", "RotationLambdaARN": lambda, "RotateImmediately": false}),
    )
    .await
    .unwrap();
    assert_eq!(f.of_request("t")[0].event_name, "TestRotationStarted");
    assert_eq!(f.metrics.get("RotationsStarted"), 0);
}

#[tokio::test]
async fn audit_required_fails_the_call_when_the_event_is_not_recorded() {
    let f = fixture(true, true);
    f.audit.failing.store(true, Ordering::SeqCst);
    assert_eq!(
        f.call("r", "ListSecrets", json!({})).await.unwrap_err(),
        "InternalServiceError"
    );
    assert_eq!(f.metrics.get("AuditEventsNotRecorded"), 1);

    let f = fixture(false, true);
    f.audit.failing.store(true, Ordering::SeqCst);
    f.call("r", "ListSecrets", json!({})).await.unwrap();
    assert_eq!(f.metrics.get("AuditEventsNotRecorded"), 1);
}

#[tokio::test]
async fn gauges_count_secrets_per_scope_and_overdue_rotations() {
    let f = fixture(false, true);
    for name in ["a", "b", "c"] {
        f.call(
            "c",
            "CreateSecret",
            json!({"Name": name, "SecretString": "v"}),
        )
        .await
        .unwrap();
    }
    f.call(
        "d",
        "DeleteSecret",
        json!({"SecretId": "c", "RecoveryWindowInDays": 7}),
    )
    .await
    .unwrap();
    f.call(
        "rot",
        "RotateSecret",
        json!({"SecretId": "a",
               "RotationLambdaARN": "arn:aws:lambda:us-east-1:111122223333:function:rot",
               "RotationRules": {"AutomaticallyAfterDays": 1}}),
    )
    .await
    .unwrap();
    let scope = Scope::new("us-east-1", "111122223333");
    assert_eq!(
        f.service.gauges().await.unwrap(),
        vec![ScopeGauges {
            scope: scope.clone(),
            resource_count: 3,
            overdue_rotations: 0,
        }]
    );
    // Three days later the daily rotation (never completed: nothing ran it) is overdue.
    f.clock.0.fetch_add(3 * 86_400_000, Ordering::SeqCst);
    assert_eq!(
        f.service.gauges().await.unwrap(),
        vec![ScopeGauges {
            scope,
            resource_count: 3,
            overdue_rotations: 1,
        }]
    );
}
