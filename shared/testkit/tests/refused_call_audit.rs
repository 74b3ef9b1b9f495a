//! The audit event and metrics of a call refused at authentication
//! (`SecretsService::record_refused_call`, issue #6), on the in-memory fakes: one `AwsApiCall`
//! event with an `Unknown` caller, no request parameters, the refusal's code; `audit_required`.

use async_trait::async_trait;
use coffer_core::audit::{AuditEvent, AuditEventType};
use coffer_core::clock::Timestamp;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, RefusedCall, SecretsService, ServiceConfig};
use coffer_testkit::fakes::{CountingMetrics, CountingRandom, ManualClock, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const T0: i64 = 1_714_564_800_000;

struct NoRunner;
#[async_trait]
impl RotationInvoker for NoRunner {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Err(RotationStartError("no runner".into()))
    }
}

struct Fixture {
    service: SecretsService,
    audit: Arc<RecordingAudit>,
    metrics: Arc<CountingMetrics>,
}

fn fixture(audit_required: bool, _runner: bool) -> Fixture {
    let audit = Arc::new(RecordingAudit::default());
    let metrics = Arc::new(CountingMetrics::default());
    let service = SecretsService::new(
        Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: audit.clone(),
            metrics: metrics.clone(),
            rotation: Arc::new(NoRunner),
            clock: Arc::new(ManualClock::at(T0)),
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
    }
}

impl Fixture {
    fn events(&self) -> Vec<AuditEvent> {
        self.audit.events.lock().unwrap().clone()
    }
}

fn refused<'a>(operation: &'a str, key: Option<&'a str>) -> RefusedCall<'a> {
    RefusedCall {
        operation,
        request_id: "refused-1",
        region: "eu-west-1",
        account_id: "111122223333",
        claimed_access_key_id: key,
        source_ip: Some("192.0.2.7"),
        user_agent: Some("aws-cli/2"),
        error_code: "UnrecognizedClientException",
        error_message: "The security token included in the request is invalid.",
        elapsed_ms: 1.5,
    }
}

#[tokio::test]
async fn record_refused_call_yields_one_unknown_caller_event_and_counts_it() {
    let f = fixture(false, true);
    f.service
        .record_refused_call(&refused("GetSecretValue", Some("AKIAUNKNOWNKEY000001")))
        .await
        .unwrap();
    let events = f.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_type, AuditEventType::AwsApiCall);
    assert_eq!(e.event_name, "GetSecretValue");
    assert_eq!(e.region, "eu-west-1");
    assert_eq!(e.request_id, "refused-1");
    assert!(e.read_only);
    assert_eq!(e.request_parameters, Value::Null);
    assert_eq!(e.response_elements, Value::Null);
    assert!(e.resources.is_empty());
    assert_eq!(e.error_code.as_deref(), Some("UnrecognizedClientException"));
    assert_eq!(
        e.error_message.as_deref(),
        Some("The security token included in the request is invalid.")
    );
    assert_eq!(e.event_time, Timestamp(T0));
    assert_eq!(e.caller.identity_type, "Unknown");
    assert_eq!(e.caller.principal_arn, "");
    assert_eq!(
        e.caller.access_key_id.as_deref(),
        Some("AKIAUNKNOWNKEY000001")
    );
    assert_eq!(e.caller.source_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(e.caller.user_agent.as_deref(), Some("aws-cli/2"));
    let record = e.to_cloudtrail();
    assert_eq!(
        record["userIdentity"],
        json!({"type": "Unknown", "accessKeyId": "AKIAUNKNOWNKEY000001"})
    );
    assert_eq!(record["recipientAccountId"], "111122223333");
    assert_eq!(f.metrics.get("call:GetSecretValue"), 1);
    assert_eq!(
        f.metrics
            .get("error:GetSecretValue:UnrecognizedClientException"),
        1
    );

    // A write; a "key id" that is not of an access key's form (a secret key pasted in its
    // place) is not recorded; an operation nobody knows gets no metric series of its own.
    f.service
        .record_refused_call(&refused(
            "PutSecretValue",
            Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ))
        .await
        .unwrap();
    f.service
        .record_refused_call(&refused("NoSuchOperation", None))
        .await
        .unwrap();
    f.service
        .record_refused_call(&refused("Bad.Target/../x", None))
        .await
        .unwrap();
    let events = f.events();
    assert_eq!(events.len(), 4);
    assert_eq!(events[1].event_name, "PutSecretValue");
    assert!(!events[1].read_only);
    assert_eq!(events[1].caller.access_key_id, None);
    assert!(!serde_json::to_string(&events[1].to_cloudtrail())
        .unwrap()
        .contains("wJalrXUtnFEMI"));
    assert_eq!(events[2].event_name, "NoSuchOperation");
    assert_eq!(events[3].event_name, "UnknownOperation");
    assert_eq!(f.metrics.get("call:NoSuchOperation"), 0);
    assert_eq!(f.metrics.get("call:UnknownOperation"), 2);
    assert_eq!(f.metrics.get("call:PutSecretValue"), 1);
}

#[tokio::test]
async fn record_refused_call_fails_only_when_audit_is_required() {
    let f = fixture(true, true);
    f.audit.failing.store(true, Ordering::SeqCst);
    let e = f
        .service
        .record_refused_call(&refused("GetSecretValue", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InternalServiceError");
    assert_eq!(f.metrics.get("AuditEventsNotRecorded"), 1);
    assert_eq!(f.metrics.get("call:GetSecretValue"), 1);

    let f = fixture(false, true);
    f.audit.failing.store(true, Ordering::SeqCst);
    f.service
        .record_refused_call(&refused("GetSecretValue", None))
        .await
        .unwrap();
    assert_eq!(f.metrics.get("AuditEventsNotRecorded"), 1);
}
