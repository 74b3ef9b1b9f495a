//! The AWS audit and metrics adapters on moto's server: a scripted session (create, get, put,
//! batch get, rotate, update, a failing get, delete) with a canary value runs through a
//! `SecretsService` built from coffer-testkit fakes whose audit port fans out to a recorder,
//! the CloudWatch Logs sink and the EventBridge sink. The test then reads the trail back from
//! CloudWatch Logs (GetLogEvents) and from EventBridge (a rule with a CloudWatch Logs target,
//! read with FilterLogEvents), checks every record field by field against the recorded events,
//! verifies the stream's hash chain and its KMS-signed digest (`verify_log_group`), searches
//! everything (the EMF metric lines, the digest stream, every log line at trace level, the error
//! messages) for the canary and its base64, and reads the published gauges back with
//! GetMetricData.
//!
//! The endpoint comes from `COFFER_TEST_AWS_ENDPOINT` (the test runner starts moto and sets it);
//! without it the test prints why and passes without running. Names are unique per run.

mod audit_support;

use async_trait::async_trait;
use audit_support::{endpoint, hmac_key, sdk, WallClock, REGION};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use coffer_aws::audit_batch::{BatchConfig, FanOutAuditSink};
use coffer_aws::audit_cloudwatch::{new_stream_name, CloudWatchLogsAuditSink};
use coffer_aws::audit_cloudwatch_digests::{digest_stream_name, DigestConfig};
use coffer_aws::audit_digest_kms::{KmsDigestSigner, KmsDigestVerifier};
use coffer_aws::audit_eventbridge::{
    EventBridgeAuditSink, DETAIL_TYPE_API_CALL, DETAIL_TYPE_SERVICE_EVENT, SOURCE,
};
use coffer_aws::audit_verify_logs::verify_log_group;
use coffer_aws::emf::EmfMetricsSink;
use coffer_aws::metrics_cloudwatch::{
    publish_gauges, RESOURCE_COUNT, SECRETS_OVERDUE_FOR_ROTATION,
};
use coffer_core::audit::chain::verify_stream;
use coffer_core::audit::{AuditEvent, AuditEventType, Caller};
use coffer_core::clock::RandomSource;
use coffer_core::ids::Scope;
use coffer_core::ports::{AuditError, AuditSink, RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// moto's default account: the EventBridge target's log group lives there.
const MOTO_ACCOUNT: &str = "123456789012";
const CANARY: &str = "canary-Zq8vW3xK5tY1";

#[derive(Default)]
struct Recorder(Mutex<Vec<AuditEvent>>);

#[async_trait]
impl AuditSink for Recorder {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

struct Counter(AtomicU64);
impl RandomSource for Counter {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.0.fetch_add(1, Ordering::SeqCst).to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

struct AcceptingRunner;
#[async_trait]
impl RotationInvoker for AcceptingRunner {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn ctx(request_id: &str) -> RequestContext {
    RequestContext::root(
        Scope::new(REGION, "111122223333"),
        Caller {
            identity_type: "IAMUser".into(),
            principal_arn: "arn:aws:iam::111122223333:user/alice".into(),
            account_id: "111122223333".into(),
            access_key_id: Some("AKIAAUDITTEST".into()),
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("aws-cli/2".into()),
        },
        request_id,
    )
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// FilterLogEvents over plain HTTP (moto checks no signature), returning the JSON body.
async fn raw_filter_log_events(endpoint: &str, group: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = json!({"logGroupName": group, "limit": 10000}).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: Logs_20140328.FilterLogEvents\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/{REGION}/logs/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    // moto's single-threaded server (tests/tools/moto_serial.py) answers HTTP/1.0.
    let status = head.split_whitespace().nth(1);
    assert_eq!(status, Some("200"), "{head}");
    serde_json::from_str(body).unwrap()
}

fn assert_no_canary(what: &str, text: &str) {
    for needle in [CANARY.to_string(), base64(CANARY.as_bytes())] {
        assert!(
            !text.contains(&needle),
            "{what} contains the canary {needle}"
        );
    }
}

/// The fields every sink must carry, compared with the event the service produced.
fn assert_record_matches(record: &Value, event: &AuditEvent) {
    let id = &event.event_id;
    assert_eq!(record["eventID"], event.event_id.as_str(), "{id}");
    assert_eq!(record["eventName"], event.event_name.as_str(), "{id}");
    assert_eq!(
        record["eventSource"], "secretsmanager.amazonaws.com",
        "{id}"
    );
    assert_eq!(record["awsRegion"], REGION, "{id}");
    assert_eq!(record["requestID"], event.request_id.as_str(), "{id}");
    assert_eq!(record["eventVersion"], "1.08", "{id}");
    let arns: Vec<&str> = record["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ARN"].as_str().unwrap())
        .collect();
    assert_eq!(arns, event.resources, "{id}");
    assert_eq!(
        record["errorCode"].as_str(),
        event.error_code.as_deref(),
        "{id}"
    );
    match event.event_type {
        AuditEventType::AwsApiCall => {
            assert_eq!(record["eventType"], "AwsApiCall", "{id}");
            assert_eq!(
                record["userIdentity"],
                json!({
                    "type": "IAMUser",
                    "arn": "arn:aws:iam::111122223333:user/alice",
                    "accountId": "111122223333",
                    "accessKeyId": "AKIAAUDITTEST",
                }),
                "{id}"
            );
            assert_eq!(record["sourceIPAddress"], "203.0.113.7", "{id}");
        }
        AuditEventType::AwsServiceEvent => {
            assert_eq!(record["eventType"], "AwsServiceEvent", "{id}");
            assert_eq!(
                record["userIdentity"]["invokedBy"], "secretsmanager.amazonaws.com",
                "{id}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_session_reaches_cloudwatch_logs_eventbridge_and_metrics_intact_without_canary() {
    let Some(endpoint) = endpoint(
        "scripted_session_reaches_cloudwatch_logs_eventbridge_and_metrics_intact_without_canary",
    ) else {
        return;
    };
    // Every log line of the session (the adapters', the SDK's, the core's) at trace level.
    let trace = Buffer::default();
    let writer = trace.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let sdk = sdk(&endpoint).await;
    let logs = coffer_aws::audit_cloudwatch::Client::new(&sdk);
    let events = coffer_aws::audit_eventbridge::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let digest_key = hmac_key(&kms).await;
    let cloudwatch = coffer_aws::metrics_cloudwatch::Client::new(&sdk);
    let run = uuid::Uuid::new_v4().simple().to_string();

    // EventBridge: a bus of this run, a rule for Coffer's source, a log group target.
    let bus = format!("coffer-audit-{run}");
    let target_group = format!("/aws/events/coffer-{run}");
    events.create_event_bus().name(&bus).send().await.unwrap();
    logs.create_log_group()
        .log_group_name(&target_group)
        .send()
        .await
        .unwrap();
    events
        .put_rule()
        .name("coffer-audit")
        .event_bus_name(&bus)
        .event_pattern(json!({"source": [SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("coffer-audit")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("logs")
                .arn(format!(
                    "arn:aws:logs:{REGION}:{MOTO_ACCOUNT}:log-group:{target_group}"
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let log_group = format!("/coffer/audit-{run}");
    let stream = new_stream_name();
    let cloudwatch_sink = Arc::new(
        CloudWatchLogsAuditSink::start_with_digests(
            logs.clone(),
            &log_group,
            &stream,
            BatchConfig::default(),
            None,
            Some(DigestConfig {
                signer: Arc::new(
                    KmsDigestSigner::new(kms.clone(), &digest_key)
                        .await
                        .unwrap(),
                ),
                interval: Duration::ZERO,
                clock: Arc::new(WallClock),
            }),
        )
        .await
        .unwrap(),
    );
    // EventBridge in the `--audit-required` mode: each call waits for its PutEvents.
    let eventbridge_sink = Arc::new(EventBridgeAuditSink::start(
        events.clone(),
        &bus,
        BatchConfig {
            required: true,
            ..BatchConfig::default()
        },
        None,
    ));
    let recorder = Arc::new(Recorder::default());
    let emf = Buffer::default();
    let service = SecretsService::new(
        Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: Arc::new(FanOutAuditSink::new(vec![
                recorder.clone(),
                cloudwatch_sink.clone(),
                eventbridge_sink.clone(),
            ])),
            metrics: Arc::new(EmfMetricsSink::new(
                "Coffer",
                Arc::new(WallClock),
                Box::new(emf.clone()),
            )),
            rotation: Arc::new(AcceptingRunner),
            clock: Arc::new(WallClock),
            random: Arc::new(Counter(AtomicU64::new(1))),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required: true,
        },
    );

    // The scripted session; every response is searched for the canary as well.
    let mut responses = String::new();
    let mut call = async |request_id: &str, op: &str, body: Value| {
        let out = service
            .handle(
                &ctx(request_id),
                coffer_core::operation::Operation::from_name(op).expect("operation"),
                coffer_testkit::builders::with_idempotency_token(op, body)
                    .to_string()
                    .as_bytes(),
            )
            .await;
        match out {
            Ok(v) => {
                responses.push_str(&v.to_string());
                Ok(v)
            }
            Err(e) => {
                responses.push_str(e.message());
                Err(e.code().to_string())
            }
        }
    };
    let created = call(
        "r-create",
        "CreateSecret",
        json!({"Name": "db", "SecretString": CANARY}),
    )
    .await
    .unwrap();
    let arn = created["ARN"].as_str().unwrap().to_string();
    call(
        "r-create-b",
        "CreateSecret",
        json!({"Name": "api", "SecretBinary": base64(CANARY.as_bytes())}),
    )
    .await
    .unwrap();
    let got = call("r-get", "GetSecretValue", json!({"SecretId": "db"}))
        .await
        .unwrap();
    assert_eq!(got["SecretString"], CANARY);
    call(
        "r-put",
        "PutSecretValue",
        json!({"SecretId": "db", "SecretString": format!("{CANARY}-2")}),
    )
    .await
    .unwrap();
    call(
        "r-batch",
        "BatchGetSecretValue",
        json!({"SecretIdList": ["db", "api"]}),
    )
    .await
    .unwrap();
    call(
        "r-rotate",
        "RotateSecret",
        json!({"SecretId": "db",
               "RotationLambdaARN": "arn:aws:lambda:us-east-1:111122223333:function:rot"}),
    )
    .await
    .unwrap();
    call(
        "r-update",
        "UpdateSecret",
        json!({"SecretId": "db", "SecretString": format!("{CANARY}-3"), "Description": "d"}),
    )
    .await
    .unwrap();
    assert_eq!(
        call("r-missing", "GetSecretValue", json!({"SecretId": "nope"}))
            .await
            .unwrap_err(),
        "ResourceNotFoundException"
    );
    call(
        "r-delete",
        "DeleteSecret",
        json!({"SecretId": "db", "RecoveryWindowInDays": 7}),
    )
    .await
    .unwrap();

    let gauges = service.gauges().await.unwrap();
    cloudwatch_sink.checkpoint().await.unwrap();
    eventbridge_sink.checkpoint().await.unwrap();

    let expected = recorder.0.lock().unwrap().clone();
    let names: Vec<&str> = expected.iter().map(|e| e.event_name.as_str()).collect();
    for name in [
        "CreateSecret",
        "GetSecretValue",
        "PutSecretValue",
        "BatchGetSecretValue",
        "RotationStarted",
        "RotateSecret",
        "UpdateSecret",
        "DeleteSecret",
        "StartSecretVersionDelete",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(expected[0].resources, [arn]);
    assert!(expected
        .iter()
        .any(|e| e.error_code.as_deref() == Some("ResourceNotFoundException")));

    // CloudWatch Logs: the whole session in order, one chained stream.
    let out = logs
        .get_log_events()
        .log_group_name(&log_group)
        .log_stream_name(&stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let lines: Vec<String> = out
        .events()
        .iter()
        .map(|e| e.message().unwrap().to_string())
        .collect();
    assert_eq!(lines.len(), expected.len(), "one log event per audit event");
    let summary = verify_stream(&lines).expect("the CloudWatch Logs stream's chain verifies");
    assert_eq!(summary.records, expected.len() as u64);
    for (line, event) in lines.iter().zip(&expected) {
        assert_record_matches(&serde_json::from_str(line).unwrap(), event);
        assert_no_canary("a CloudWatch Logs record", line);
    }
    let mut tampered = lines.clone();
    let mut record: Value = serde_json::from_str(&tampered[1]).unwrap();
    record["eventName"] = json!("Tampered");
    tampered[1] = record.to_string();
    let broken = verify_stream(&tampered).expect_err("a changed record breaks the chain");
    assert!(
        broken.to_string().contains(&expected[1].event_id),
        "{broken}"
    );

    // EventBridge: the rule delivered every event to the target log group.
    let mut delivered: HashMap<String, Value> = HashMap::new();
    for _ in 0..50 {
        // Raw JSON: moto stores the events its rules deliver with fractional millisecond
        // timestamps, which the SDK's FilterLogEvents deserializer rejects.
        let page = raw_filter_log_events(&endpoint, &target_group).await;
        for e in page["events"].as_array().unwrap() {
            let message = e["message"].as_str().unwrap();
            assert_no_canary("an EventBridge event", message);
            let event: Value = serde_json::from_str(message).unwrap();
            let id = event["detail"]["eventID"].as_str().unwrap().to_string();
            delivered.insert(id, event);
        }
        if delivered.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        delivered.len(),
        expected.len(),
        "one EventBridge event per audit event"
    );
    for event in &expected {
        let got = &delivered[&event.event_id];
        assert_eq!(got["source"], SOURCE);
        let detail_type = match event.event_type {
            AuditEventType::AwsApiCall => DETAIL_TYPE_API_CALL,
            AuditEventType::AwsServiceEvent => DETAIL_TYPE_SERVICE_EVENT,
        };
        assert_eq!(got["detail-type"], detail_type, "{}", event.event_id);
        let resources: Vec<&str> = got["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(resources, event.resources);
        assert_record_matches(&got["detail"], event);
    }

    // Everything else the session produced: responses aside (GetSecretValue returns the value
    // by design), the EMF metric lines and the error messages carry no canary.
    let emf = String::from_utf8(emf.0.lock().unwrap().clone()).unwrap();
    assert!(emf.contains("RotationsStarted"), "{emf}");
    assert_no_canary("the EMF metric lines", &emf);
    let errors: String = expected
        .iter()
        .filter_map(|e| e.error_message.clone())
        .collect();
    assert_no_canary("the error messages", &errors);

    // The signed digest of the stream: present, canary-free, and the log group verifies.
    let digests = logs
        .get_log_events()
        .log_group_name(&log_group)
        .log_stream_name(digest_stream_name(&stream))
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    assert_eq!(digests.events().len(), 1, "one checkpoint, one digest");
    for event in digests.events() {
        assert_no_canary("a digest record", event.message().unwrap());
    }
    let verifier = KmsDigestVerifier::new(kms.clone(), std::slice::from_ref(&digest_key))
        .await
        .unwrap();
    let reports = verify_log_group(&logs, Some(&verifier), &log_group)
        .await
        .unwrap();
    assert_eq!(reports[0].checked.covered, reports[0].checked.records);

    // The log output of the whole session at trace level.
    let trace = String::from_utf8(trace.0.lock().unwrap().clone()).unwrap();
    assert!(
        trace.contains("PutLogEvents"),
        "suspiciously little trace output"
    );
    assert_no_canary("the trace log", &trace);
    assert!(
        responses.contains(CANARY),
        "the session did read the canary"
    );

    // Gauges: PutMetricData, then GetMetricData returns them.
    let namespace = format!("CofferTest{run}");
    assert_eq!(gauges.len(), 1);
    assert_eq!(
        gauges[0].resource_count, 2,
        "a secret pending deletion still counts"
    );
    publish_gauges(&cloudwatch, &namespace, &gauges)
        .await
        .unwrap();
    let query = |id: &str, name: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(&namespace)
                            .metric_name(name)
                            .dimensions(Dimension::builder().name("Region").value(REGION).build())
                            .build(),
                    )
                    .period(60)
                    .stat("Maximum")
                    .build(),
            )
            .build()
    };
    let now = std::time::SystemTime::now();
    let out = cloudwatch
        .get_metric_data()
        .metric_data_queries(query("count", RESOURCE_COUNT))
        .metric_data_queries(query("overdue", SECRETS_OVERDUE_FOR_ROTATION))
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .send()
        .await
        .unwrap();
    let values: HashMap<&str, Vec<f64>> = out
        .metric_data_results()
        .iter()
        .map(|r| (r.id().unwrap(), r.values().to_vec()))
        .collect();
    assert_eq!(values["count"], [gauges[0].resource_count as f64]);
    assert_eq!(values["overdue"], [gauges[0].overdue_rotations as f64]);
}
