//! Signed digests of the CloudWatch Logs audit stream, and `verify_log_group` (what
//! `coffer audit verify <log group>` runs), on moto's server: a sink with a KMS HMAC_256 digest
//! key writes a session's records and two digests; the untouched log group verifies. Then, since
//! CloudWatch Logs events cannot be edited, copies of the stream are written into fresh log
//! groups with one change each (one byte of one record, a record removed, two records swapped,
//! the last record cut, digests signed under another key) and each copy fails, naming exactly
//! that record (stream name, event number, eventID) or digest.
//!
//! The endpoint comes from `COFFER_TEST_AWS_ENDPOINT`; without it the test prints why and passes
//! without running. Names are unique per run.

mod audit_support;

use async_trait::async_trait;
use audit_support::{endpoint, hmac_key, sdk, WallClock};
use coffer_aws::audit_batch::BatchConfig;
use coffer_aws::audit_cloudwatch::{ensure_stream, new_stream_name, CloudWatchLogsAuditSink};
use coffer_aws::audit_cloudwatch_digests::{digest_stream_name, DigestConfig};
use coffer_aws::audit_digest_kms::{KmsDigestSigner, KmsDigestVerifier};
use coffer_aws::audit_verify_logs::verify_log_group;
use coffer_core::audit::chain::{canonical_json, AuditChain};
use coffer_core::audit::digest::{named_head, seal_digest_with, DigestSignError, DigestSigner};
use coffer_core::audit::{AuditEvent, AuditEventType, Caller};
use coffer_core::clock::{Clock, Timestamp};
use coffer_core::ports::AuditSink;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        event_type: AuditEventType::AwsApiCall,
        event_time: Timestamp(1_714_564_800_000 + i as i64),
        event_name: "GetSecretValue".into(),
        region: "us-east-1".into(),
        caller: Caller::default(),
        request_id: format!("request-{i}"),
        event_id: format!("digest-test-event-{i:02}"),
        read_only: true,
        request_parameters: serde_json::json!({"SecretId": format!("app/s{i}")}),
        response_elements: Value::Null,
        resources: vec![],
        error_code: None,
        error_message: None,
        additional_event_data: None,
    }
}

async fn messages(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str) -> Vec<String> {
    let out = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    out.events()
        .iter()
        .map(|e| e.message().unwrap().to_string())
        .collect()
}

/// Writes `events` and `digests` as `stream` and `<stream>/digests` of a fresh log group.
async fn copy_group(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[String],
    digests: &[String],
) {
    for (name, lines) in [
        (stream.to_string(), events),
        (digest_stream_name(stream), digests),
    ] {
        ensure_stream(logs, group, &name).await.unwrap();
        if lines.is_empty() {
            continue;
        }
        let base = WallClock.now().0;
        let batch: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(base + i as i64)
                    .message(line)
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(&name)
            .set_log_events(Some(batch))
            .send()
            .await
            .unwrap();
    }
}

fn event_id(line: &str) -> String {
    serde_json::from_str::<Value>(line).unwrap()["eventID"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Names one key's ARN but MACs with another's: a digest "signed under another key".
struct Impostor {
    claimed_arn: String,
    real: KmsDigestSigner,
}

#[async_trait]
impl DigestSigner for Impostor {
    fn key_arn(&self) -> &str {
        &self.claimed_arn
    }
    fn algorithm(&self) -> &'static str {
        self.real.algorithm()
    }
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DigestSignError> {
        self.real.sign(message).await
    }
}

/// Re-signs the heads `digests` name with `signer` (a fresh digest chain).
async fn resigned(digests: &[String], signer: &dyn DigestSigner) -> Vec<String> {
    let mut chain = AuditChain::new();
    let mut out = Vec::new();
    for line in digests {
        let head = named_head(&serde_json::from_str(line).unwrap()).unwrap();
        let record = seal_digest_with(&mut chain, signer, &head, WallClock.now())
            .await
            .unwrap();
        out.push(canonical_json(&record));
    }
    out
}

#[tokio::test]
async fn log_group_with_kms_digests_verifies_and_each_tampered_copy_names_its_record() {
    let Some(url) =
        endpoint("log_group_with_kms_digests_verifies_and_each_tampered_copy_names_its_record")
    else {
        return;
    };
    let sdk = sdk(&url).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let group = format!("/coffer/digest-test/{run}");
    let (key, other_key) = (hmac_key(&kms).await, hmac_key(&kms).await);
    let signer = KmsDigestSigner::new(kms.clone(), &key).await.unwrap();
    let other = KmsDigestSigner::new(kms.clone(), &other_key).await.unwrap();
    assert!(
        signer.key_arn().starts_with("arn:aws:kms:"),
        "{}",
        signer.key_arn()
    );
    assert!(
        KmsDigestSigner::new(kms.clone(), "alias/does-not-exist")
            .await
            .is_err(),
        "a key that cannot be described fails at start"
    );

    // The session: 8 records, a checkpoint (digest 1), 2 more, a checkpoint (digest 2), and a
    // checkpoint with nothing new (no third digest).
    let stream = new_stream_name();
    let sink = CloudWatchLogsAuditSink::start_with_digests(
        logs.clone(),
        group.clone(),
        stream.clone(),
        BatchConfig {
            flush_interval: Duration::from_secs(3600),
            ..BatchConfig::default()
        },
        None,
        Some(DigestConfig {
            signer: Arc::new(signer.clone()),
            interval: Duration::ZERO,
            clock: Arc::new(WallClock),
        }),
    )
    .await
    .unwrap();
    for i in 1..=8 {
        sink.record(&event(i)).await.unwrap();
    }
    sink.checkpoint().await.unwrap();
    for i in 9..=10 {
        sink.record(&event(i)).await.unwrap();
    }
    sink.checkpoint().await.unwrap();
    sink.checkpoint().await.unwrap();

    let events = messages(&logs, &group, &stream).await;
    let digests = messages(&logs, &group, &digest_stream_name(&stream)).await;
    assert_eq!(events.len(), 10);
    assert_eq!(digests.len(), 2, "{digests:?}");
    let last: Value = serde_json::from_str(&digests[1]).unwrap();
    assert_eq!(last["stream"], stream.as_str());
    assert_eq!(last["streamRecordCount"], 10);
    assert_eq!(last["signatureAlgorithm"], "HMAC_SHA_256");
    assert_eq!(last["signingKeyArn"], signer.key_arn());

    let pinned = KmsDigestVerifier::new(kms.clone(), std::slice::from_ref(&key))
        .await
        .unwrap();
    let unpinned = KmsDigestVerifier::new(kms.clone(), &[]).await.unwrap();

    // Untouched: intact, fully covered.
    let reports = verify_log_group(&logs, Some(&pinned), &group)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].stream, stream);
    assert_eq!(
        (
            reports[0].checked.records,
            reports[0].checked.covered,
            reports[0].digests
        ),
        (10, 10, 2)
    );

    let k = 5; // 1-based number of the record tampered with
    let check = |name: &'static str, events: Vec<String>, digests: Vec<String>| {
        let (logs, pinned, stream, run) = (&logs, &pinned, &stream, &run);
        async move {
            let copy = format!("/coffer/digest-test/{run}-{name}");
            copy_group(logs, &copy, stream, &events, &digests).await;
            let e = verify_log_group(logs, Some(pinned), &copy)
                .await
                .expect_err(name);
            assert!(
                e.contains(&format!("log group {copy} stream {stream}")),
                "{name}: {e}"
            );
            e
        }
    };

    // (a) one byte of one record changed: that record is named.
    let mut changed = events.clone();
    changed[k - 1] = changed[k - 1].replacen("GetSecretValue", "GetSecretValuf", 1);
    let e = check("byte", changed, digests.clone()).await;
    assert!(
        e.contains(&format!(
            "stream {stream} event {k} (eventID {})",
            event_id(&events[k - 1])
        )),
        "{e}"
    );
    assert!(e.contains("changed after it was written"), "{e}");

    // (b) a record removed: the record now standing at its place is named.
    let mut removed = events.clone();
    removed.remove(k - 1);
    let e = check("removed", removed, digests.clone()).await;
    assert!(
        e.contains(&format!(
            "stream {stream} event {k} (eventID {})",
            event_id(&events[k])
        )),
        "{e}"
    );
    assert!(e.contains("removed, inserted or reordered"), "{e}");

    // (c) two records swapped: the first moved record is named.
    let mut swapped = events.clone();
    swapped.swap(k - 1, k);
    let e = check("swapped", swapped, digests.clone()).await;
    assert!(
        e.contains(&format!(
            "stream {stream} event {k} (eventID {})",
            event_id(&events[k])
        )),
        "{e}"
    );

    // (d) the last record cut: the chain holds, the second digest does not.
    let mut cut = events.clone();
    cut.pop();
    let e = check("cut", cut, digests.clone()).await;
    assert!(e.contains("holds 9 records"), "{e}");
    assert!(e.contains("record 10 was removed from the end"), "{e}");

    // (e) digests that name our key but were MACed under another key.
    let impostor = Impostor {
        claimed_arn: signer.key_arn().to_string(),
        real: other.clone(),
    };
    let copy = format!("/coffer/digest-test/{run}-impostor");
    copy_group(
        &logs,
        &copy,
        &stream,
        &events,
        &resigned(&digests, &impostor).await,
    )
    .await;
    for verifier in [&pinned, &unpinned] {
        let e = verify_log_group(&logs, Some(verifier), &copy)
            .await
            .expect_err("impostor");
        assert!(
            e.contains(&format!("stream {}", digest_stream_name(&stream))),
            "{e}"
        );
        assert!(e.contains("event 1 (digestTime"), "{e}");
        assert!(e.contains("does not verify"), "{e}");
    }

    // (f) digests honestly signed under another key: fail when the key is pinned.
    let copy = format!("/coffer/digest-test/{run}-other-key");
    copy_group(
        &logs,
        &copy,
        &stream,
        &events,
        &resigned(&digests, &other).await,
    )
    .await;
    let e = verify_log_group(&logs, Some(&pinned), &copy)
        .await
        .expect_err("other key");
    assert!(e.contains(other.key_arn()) && e.contains("forged"), "{e}");
    assert!(verify_log_group(&logs, Some(&unpinned), &copy)
        .await
        .is_ok());

    // (g) an event stream deleted, its digest stream left: named.
    let copy = format!("/coffer/digest-test/{run}-deleted");
    copy_group(&logs, &copy, &stream, &events, &digests).await;
    logs.delete_log_stream()
        .log_group_name(&copy)
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let e = verify_log_group(&logs, Some(&pinned), &copy)
        .await
        .expect_err("deleted");
    assert!(e.contains("the stream was deleted"), "{e}");
}
