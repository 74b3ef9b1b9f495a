//! The audit trail and metrics of the local server, end to end: a scripted session (create, get,
//! put, batch get, rotate, update, delete, restore, force delete, failures) through the SDK with
//! a recognisable canary value, then
//! - one `AwsApiCall` event per call in `<data-dir>/audit/events.jsonl`, field by field
//!   (eventName, eventSource, awsRegion, userIdentity, requestID = the `x-amzn-RequestId` the
//!   client got, readOnly, resources, errorCode), one `GetSecretValue` event per secret of the
//!   batch, and the service events of deletion, restore and rotation;
//! - the canary (and its base64) in no audit file, no log line at `RUST_LOG=trace`, no
//!   `/metrics` output and no error message;
//! - `/metrics` counts the session (calls, errors by code, latency histogram, rotation counters,
//!   `ResourceCount`);
//! - `coffer audit verify` passes on the untouched trail and names the exact record after one
//!   byte is changed, a record is removed, two records are swapped, or the last record is cut;
//!   `coffer audit tail` prints the events.
//!
//! Embedded backend only (the trail is a file in the data directory).

use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::primitives::Blob;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use coffer_e2e::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One call of the session and what its event must say.
struct Call {
    operation: &'static str,
    request_id: String,
    arn: Option<String>,
    error: Option<&'static str>,
}

fn call<T: RequestId, E: RequestId>(
    operation: &'static str,
    result: &Result<T, E>,
    arn: Option<&str>,
    error: Option<&'static str>,
) -> Call {
    let request_id = result
        .request_id()
        .unwrap_or_else(|| panic!("{operation}: no x-amzn-RequestId"))
        .to_string();
    Call {
        operation,
        request_id,
        arn: arn.map(str::to_string),
        error,
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn patterns(canary: &str) -> Vec<(&'static str, String)> {
    vec![
        ("raw", canary.to_string()),
        ("base64", BASE64.encode(canary.as_bytes())),
        (
            "base64 unpadded",
            BASE64
                .encode(canary.as_bytes())
                .trim_end_matches('=')
                .to_string(),
        ),
        ("hex", hex::encode(canary.as_bytes())),
    ]
}

fn assert_no_canary(what: &str, text: &str, canary: &str) {
    for (label, pattern) in patterns(canary) {
        assert!(!text.contains(&pattern), "canary ({label}) found in {what}");
    }
}

fn coffer(args: &[&str]) -> Output {
    Command::new(coffer_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run coffer")
}

/// `coffer audit verify <dir>`: (exit success, stdout + stderr).
fn verify(dir: &Path) -> (bool, String) {
    let out = coffer(&["audit", "verify", dir.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A copy of the trail (events, digests, keyring) in a fresh data directory, with the event
/// lines passed through `tamper`.
fn tampered_copy(
    data: &Path,
    root: &Path,
    case: &str,
    tamper: impl FnOnce(&mut Vec<String>),
) -> PathBuf {
    let dir = root.join(case);
    std::fs::create_dir_all(dir.join("audit")).unwrap();
    std::fs::copy(data.join("keyring.json"), dir.join("keyring.json")).unwrap();
    std::fs::copy(
        data.join("audit/digests.jsonl"),
        dir.join("audit/digests.jsonl"),
    )
    .unwrap();
    let text = std::fs::read_to_string(data.join("audit/events.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    tamper(&mut lines);
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(dir.join("audit/events.jsonl"), out).unwrap();
    dir
}

fn event_id(line: &str) -> String {
    serde_json::from_str::<Value>(line).unwrap()["eventID"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_session_audit_trail_metrics_and_verify() {
    let Some(mut server) = CofferServer::start_local(
        ServerOptions::default()
            .env("RUST_LOG", "trace")
            .args(&["--rotation-max-attempts", "1"]),
    ) else {
        return;
    };
    // One attempt per call: a retried call would (rightly) leave two events.
    let client = server.client_with_max_attempts(1);
    let region = server.region();
    let account = TEST_ACCOUNT_ID;
    let canary = format!("CANARYaudit{}", random_alnum(32));
    let name_a = unique_name("audit-a");
    let name_b = unique_name("audit-b");
    let missing = unique_name("audit-missing");
    let mut calls: Vec<Call> = Vec::new();
    let mut error_messages: Vec<String> = Vec::new();

    // --- the session -----------------------------------------------------------------------
    let r = client
        .create_secret()
        .name(&name_a)
        .secret_string(&canary)
        .send()
        .await;
    let arn_a = r.as_ref().expect("create A").arn().unwrap().to_string();
    calls.push(call("CreateSecret", &r, Some(&arn_a), None));

    let r = client.get_secret_value().secret_id(&name_a).send().await;
    assert_eq!(
        r.as_ref().expect("get A").secret_string(),
        Some(canary.as_str())
    );
    calls.push(call("GetSecretValue", &r, Some(&arn_a), None));

    let tok = token();
    let r = client
        .put_secret_value()
        .secret_id(&name_a)
        .client_request_token(&tok)
        .secret_string(format!("put-{canary}"))
        .send()
        .await;
    r.as_ref().expect("put A");
    calls.push(call("PutSecretValue", &r, Some(&arn_a), None));

    // A failing call that carries a value: same token, different value.
    let r = client
        .put_secret_value()
        .secret_id(&name_a)
        .client_request_token(&tok)
        .secret_string(format!("conflict-{canary}"))
        .send()
        .await;
    let e = r.as_ref().expect_err("same token, different value");
    error_messages.push(format!("{e:?}"));
    calls.push(call(
        "PutSecretValue",
        &r,
        None,
        Some("ResourceExistsException"),
    ));

    let r = client
        .create_secret()
        .name(&name_b)
        .secret_binary(Blob::new(canary.as_bytes().to_vec()))
        .send()
        .await;
    let arn_b = r.as_ref().expect("create B").arn().unwrap().to_string();
    calls.push(call("CreateSecret", &r, Some(&arn_b), None));

    let r = client
        .batch_get_secret_value()
        .secret_id_list(&name_a)
        .secret_id_list(&arn_b)
        .secret_id_list(&missing)
        .send()
        .await;
    let batch = r.as_ref().expect("batch get");
    assert_eq!(batch.secret_values().len(), 2);
    assert_eq!(batch.errors().len(), 1);
    let batch_request_id = r.request_id().unwrap().to_string();
    calls.push(call("BatchGetSecretValue", &r, None, None));

    let r = client
        .rotate_secret()
        .secret_id(&name_a)
        .rotation_lambda_arn(format!(
            "arn:aws:lambda:{region}:{account}:function:audit-rotator"
        ))
        .send()
        .await;
    r.as_ref().expect("rotate A");
    let rotate_request_id = r.request_id().unwrap().to_string();
    calls.push(call("RotateSecret", &r, Some(&arn_a), None));
    // The rotation function cannot be invoked (no Lambda endpoint): the runner's one attempt
    // (--rotation-max-attempts 1) fails in the background. Wait for it, so that the update
    // below meets a failed rotation and abandons it (RotationAbandoned), deterministically.
    let events_file = server.data_dir().join("audit/events.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&events_file)
        .unwrap_or_default()
        .contains("\"RotationFailed\"")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no RotationFailed event"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let r = client
        .update_secret()
        .secret_id(&name_a)
        .description("audited")
        .secret_string(format!("upd-{canary}"))
        .send()
        .await;
    r.as_ref().expect("update A");
    calls.push(call("UpdateSecret", &r, Some(&arn_a), None));

    let r = client.get_secret_value().secret_id(&missing).send().await;
    let e = r.as_ref().expect_err("get of a missing secret");
    error_messages.push(format!("{e:?}"));
    calls.push(call(
        "GetSecretValue",
        &r,
        None,
        Some("ResourceNotFoundException"),
    ));

    let r = client
        .delete_secret()
        .secret_id(&name_a)
        .recovery_window_in_days(7)
        .send()
        .await;
    r.as_ref().expect("delete A");
    let delete_a_request_id = r.request_id().unwrap().to_string();
    calls.push(call("DeleteSecret", &r, Some(&arn_a), None));

    let r = client.restore_secret().secret_id(&arn_a).send().await;
    r.as_ref().expect("restore A");
    calls.push(call("RestoreSecret", &r, Some(&arn_a), None));

    let r = client
        .delete_secret()
        .secret_id(&name_b)
        .force_delete_without_recovery(true)
        .send()
        .await;
    r.as_ref().expect("force delete B");
    calls.push(call("DeleteSecret", &r, Some(&arn_b), None));

    let r = client.describe_secret().secret_id(&name_a).send().await;
    r.as_ref().expect("describe A");
    calls.push(call("DescribeSecret", &r, Some(&arn_a), None));

    // --- metrics ---------------------------------------------------------------------------
    let metrics = server.metrics_text();
    assert_no_canary("/metrics", &metrics, &canary);
    let series = |s: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(s).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{s} missing from /metrics:\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        series("coffer_calls_total{operation=\"CreateSecret\"}"),
        2.0
    );
    assert_eq!(
        series("coffer_calls_total{operation=\"PutSecretValue\"}"),
        2.0
    );
    assert_eq!(
        series(
            "coffer_errors_total{operation=\"PutSecretValue\",code=\"ResourceExistsException\"}"
        ),
        1.0
    );
    assert_eq!(
        series(
            "coffer_errors_total{operation=\"GetSecretValue\",code=\"ResourceNotFoundException\"}"
        ),
        1.0
    );
    assert_eq!(
        series("coffer_latency_ms_bucket{operation=\"GetSecretValue\",le=\"+Inf\"}"),
        2.0
    );
    assert_eq!(
        series("coffer_latency_ms_count{operation=\"DeleteSecret\"}"),
        2.0
    );
    assert!(metrics.contains("# TYPE coffer_latency_ms histogram"));
    assert_eq!(server.metric("RotationsStarted"), 1);
    // No rotation runner runs locally yet: the hand-off fails and is counted.
    assert_eq!(server.metric("RotationsFailed"), 1);
    assert!(server.metric("KmsCalls") >= 4, "{metrics}");
    // A is live again, B was purged.
    assert_eq!(
        series(&format!(
            "coffer_ResourceCount{{region=\"{region}\",account=\"{account}\"}}"
        )),
        1.0
    );
    assert_eq!(
        series(&format!(
            "coffer_SecretsOverdueForRotation{{region=\"{region}\",account=\"{account}\"}}"
        )),
        0.0
    );

    // A clean shutdown writes the final signed digest.
    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success(), "exit {status}");
    let data = server.data_dir();
    let events = read_lines(&data.join("audit/events.jsonl"));

    // --- no canary anywhere ---------------------------------------------------------------
    for entry in std::fs::read_dir(data.join("audit")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_no_canary(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
            &canary,
        );
    }
    let log = server.log_text();
    assert!(
        log.lines().count() >= calls.len(),
        "suspiciously little output at RUST_LOG=trace"
    );
    assert_no_canary("the trace log", &log, &canary);
    for message in &error_messages {
        assert_no_canary("an error message", message, &canary);
    }

    // --- one AwsApiCall event per call, field by field --------------------------------------
    let api_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventType"] == "AwsApiCall")
        .collect();
    for c in &calls {
        let matching: Vec<&&Value> = api_events
            .iter()
            .filter(|e| e["requestID"] == c.request_id.as_str() && e["eventName"] == c.operation)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "{} (request {}): {} events",
            c.operation,
            c.request_id,
            matching.len()
        );
        let e = matching[0];
        let what = format!("{} {}", c.operation, c.request_id);
        assert_eq!(e["eventVersion"], "1.08", "{what}");
        assert_eq!(e["eventSource"], "secretsmanager.amazonaws.com", "{what}");
        assert_eq!(e["awsRegion"], region.as_str(), "{what}");
        assert_eq!(e["recipientAccountId"], account, "{what}");
        assert_eq!(str_of(e, "/userIdentity/type"), "Root", "{what}");
        assert_eq!(
            str_of(e, "/userIdentity/arn"),
            format!("arn:aws:iam::{account}:root"),
            "{what}"
        );
        assert_eq!(str_of(e, "/userIdentity/accountId"), account, "{what}");
        assert_eq!(
            str_of(e, "/userIdentity/accessKeyId"),
            TEST_ACCESS_KEY_ID,
            "{what}"
        );
        assert_eq!(e["sourceIPAddress"], "127.0.0.1", "{what}");
        assert!(!str_of(e, "/userAgent").is_empty(), "{what}");
        assert_eq!(str_of(e, "/eventID").len(), 36, "{what}");
        let read_only = matches!(
            c.operation,
            "GetSecretValue" | "BatchGetSecretValue" | "DescribeSecret"
        );
        assert_eq!(e["readOnly"], read_only, "{what}");
        if let Some(arn) = &c.arn {
            assert_eq!(str_of(e, "/resources/0/ARN"), arn, "{what}");
            assert_eq!(
                str_of(e, "/resources/0/type"),
                "AWS::SecretsManager::Secret",
                "{what}"
            );
        }
        match c.error {
            Some(code) => {
                assert_eq!(e["errorCode"], code, "{what}");
                assert!(!str_of(e, "/errorMessage").is_empty(), "{what}");
            }
            None => assert!(e.get("errorCode").is_none(), "{what}: {e}"),
        }
    }
    // The create's value is recorded as hidden, not dropped silently.
    let create = api_events
        .iter()
        .find(|e| e["requestID"] == calls[0].request_id.as_str())
        .unwrap();
    assert_eq!(
        create["requestParameters"]["SecretString"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );

    // BatchGetSecretValue: one GetSecretValue event per secret, same request id.
    let per_secret: Vec<&&Value> = api_events
        .iter()
        .filter(|e| {
            e["requestID"] == batch_request_id.as_str() && e["eventName"] == "GetSecretValue"
        })
        .collect();
    assert_eq!(per_secret.len(), 3, "{per_secret:?}");
    for (id, arn) in [(&name_a, &arn_a), (&arn_b, &arn_b)] {
        let e = per_secret
            .iter()
            .find(|e| str_of(e, "/requestParameters/SecretId") == id.as_str())
            .unwrap_or_else(|| panic!("no GetSecretValue event for {id}"));
        assert_eq!(str_of(e, "/resources/0/ARN"), arn.as_str());
        assert_eq!(e["readOnly"], true);
        assert!(e.get("errorCode").is_none());
        assert!(str_of(e, "/responseElements/VersionId").len() == 36);
    }
    let failed = per_secret
        .iter()
        .find(|e| str_of(e, "/requestParameters/SecretId") == missing.as_str())
        .expect("an event for the missing secret");
    assert_eq!(failed["errorCode"], "ResourceNotFoundException");
    assert_eq!(
        api_events.len(),
        calls.len() + per_secret.len(),
        "no other API events"
    );

    // Service events.
    let service: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventType"] == "AwsServiceEvent")
        .collect();
    let find = |name: &str, arn: &str| -> Vec<&Value> {
        service
            .iter()
            .filter(|e| e["eventName"] == name && str_of(e, "/resources/0/ARN") == arn)
            .copied()
            .collect()
    };
    for (name, arn, count) in [
        ("StartSecretVersionDelete", &arn_a, 1),
        ("CancelSecretVersionDelete", &arn_a, 1),
        ("StartSecretVersionDelete", &arn_b, 1),
        ("EndSecretVersionDelete", &arn_b, 1),
        ("RotationStarted", &arn_a, 1),
        ("RotationFailed", &arn_a, 1),
        ("RotationAbandoned", &arn_a, 1),
    ] {
        let found = find(name, arn);
        assert_eq!(found.len(), count, "{name} for {arn}: {service:?}");
        let e = found[0];
        assert_eq!(
            e["userIdentity"],
            serde_json::json!({"accountId": account, "invokedBy": "secretsmanager.amazonaws.com"}),
            "{name}"
        );
        assert_eq!(e["eventSource"], "secretsmanager.amazonaws.com");
        assert_eq!(e["awsRegion"], region.as_str());
        assert_eq!(str_of(e, "/additionalEventData/SecretId"), arn.as_str());
        assert_eq!(e["readOnly"], false);
    }
    assert_eq!(service.len(), 7, "{service:?}");
    assert_eq!(
        find("StartSecretVersionDelete", &arn_a)[0]["requestID"],
        delete_a_request_id.as_str()
    );
    assert_eq!(
        find("RotationStarted", &arn_a)[0]["requestID"],
        rotate_request_id.as_str()
    );

    // --- coffer audit tail ------------------------------------------------------------------
    let out = coffer(&[
        "audit",
        "tail",
        "--data-dir",
        data.to_str().unwrap(),
        "-n",
        "1000",
    ]);
    assert!(out.status.success());
    let tail = String::from_utf8_lossy(&out.stdout);
    assert_eq!(tail.lines().count(), events.len(), "{tail}");
    assert!(tail.contains("ResourceExistsException"), "{tail}");
    assert!(tail.contains(&format!(
        "arn:aws:iam::{account}:root ({TEST_ACCESS_KEY_ID})"
    )));
    assert!(tail.contains("secretsmanager.amazonaws.com"), "{tail}");
    assert_no_canary("audit tail", &tail, &canary);

    // --- coffer audit verify ----------------------------------------------------------------
    let (ok, text) = verify(&data);
    assert!(ok, "untouched trail must verify:\n{text}");
    assert!(text.contains("intact"), "{text}");
    assert!(
        text.contains(&format!("{} records", events.len())),
        "{text}"
    );

    let root = tempfile::tempdir().unwrap();
    let raw: Vec<String> = std::fs::read_to_string(data.join("audit/events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let k = 5; // 1-based line number of the record tampered with

    // (a) one byte of one record changed: that record is named.
    let dir = tampered_copy(&data, root.path(), "byte", |lines| {
        let line = &mut lines[k - 1];
        let at = line.find("\"eventName\":\"").unwrap() + "\"eventName\":\"".len();
        let mut bytes = std::mem::take(line).into_bytes();
        bytes[at] ^= 0x01;
        *line = String::from_utf8(bytes).unwrap();
    });
    let (ok, text) = verify(&dir);
    assert!(!ok, "a changed byte must fail:\n{text}");
    assert!(text.contains(&format!("line {k} ")), "{text}");
    assert!(text.contains(&event_id(&raw[k - 1])), "{text}");

    // (b) a record removed: the record after it is named, at the removed one's line.
    let dir = tampered_copy(&data, root.path(), "removed", |lines| {
        lines.remove(k - 1);
    });
    let (ok, text) = verify(&dir);
    assert!(!ok, "a removed record must fail:\n{text}");
    assert!(text.contains(&format!("line {k} ")), "{text}");
    assert!(text.contains(&event_id(&raw[k])), "{text}");

    // (c) two records swapped: the first moved record is named.
    let dir = tampered_copy(&data, root.path(), "swapped", |lines| {
        lines.swap(k - 1, k);
    });
    let (ok, text) = verify(&dir);
    assert!(!ok, "swapped records must fail:\n{text}");
    assert!(text.contains(&format!("line {k} ")), "{text}");
    assert!(text.contains(&event_id(&raw[k])), "{text}");

    // (d) the last record cut: the chain is intact, the signed digest is not satisfied.
    let dir = tampered_copy(&data, root.path(), "truncated", |lines| {
        lines.pop();
    });
    let (ok, text) = verify(&dir);
    assert!(!ok, "a cut tail must fail:\n{text}");
    assert!(text.contains("removed from the end"), "{text}");
}

/// Requests refused at authentication (issue #6): a corrupt signature, an unknown access key and
/// no `Authorization` header, for GetSecretValue and PutSecretValue with a canary in the body.
/// Each leaves exactly one `AwsApiCall` event: the refusal's code, `userIdentity` of type
/// `Unknown` with only the access key id the caller claimed, `requestParameters` null, the
/// region of the credential scope (the default without one); the canary, the signatures and the
/// secret keys appear nowhere in the trail; `/metrics` counts the refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_refused_at_authentication_are_audited_without_their_body() {
    let Some(mut server) = CofferServer::start_local(ServerOptions::default()) else {
        return;
    };
    let endpoint = server.endpoint();
    let host = endpoint.trim_start_matches("http://").to_string();
    let account = TEST_ACCOUNT_ID;
    let canary = format!("CANARYrefused{}", random_alnum(32));
    let unknown_key = "AKIAUNKNOWNKEY000042";
    let unknown_secret = format!("unknownSecret/{}", random_alnum(24));

    struct Refused {
        operation: &'static str,
        request_id: String,
        code: &'static str,
        message: &'static str,
        access_key: Option<&'static str>,
        region: &'static str,
    }
    let mut refused: Vec<Refused> = Vec::new();
    let mut signatures: Vec<String> = Vec::new();
    for operation in ["GetSecretValue", "PutSecretValue"] {
        let body = match operation {
            "GetSecretValue" => serde_json::json!({"SecretId": format!("id-{canary}")}),
            _ => serde_json::json!({"SecretId": "refused", "SecretString": canary}),
        };
        let cases = [
            (
                server
                    .raw_request(operation, &body)
                    .region("eu-central-1")
                    .corrupt_signature(),
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
                Some(TEST_ACCESS_KEY_ID),
                "eu-central-1",
            ),
            (
                RawRequest::new(operation, &body)
                    .region("ap-southeast-2")
                    .credentials(unknown_key, &unknown_secret),
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                Some(unknown_key),
                "ap-southeast-2",
            ),
            (
                RawRequest::new(operation, &body).unsigned(),
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                None,
                DEFAULT_REGION,
            ),
        ];
        for (request, code, message, access_key, region) in cases {
            if let Some((_, auth)) = request
                .headers(&host)
                .into_iter()
                .find(|(k, _)| k == "authorization")
            {
                signatures.push(auth.rsplit("Signature=").next().unwrap().to_string());
            }
            let response = request.send(&endpoint);
            assert_eq!(response.status, 400, "{operation} {code}");
            assert_eq!(response.error_code().as_deref(), Some(code));
            refused.push(Refused {
                operation,
                request_id: response
                    .header("x-amzn-requestid")
                    .expect("x-amzn-RequestId")
                    .to_string(),
                code,
                message,
                access_key,
                region,
            });
        }
    }
    assert_eq!(signatures.len(), 4);

    let metrics = server.metrics_text();
    for (operation, code) in [
        ("GetSecretValue", "InvalidSignatureException"),
        ("GetSecretValue", "UnrecognizedClientException"),
        ("GetSecretValue", "MissingAuthenticationTokenException"),
        ("PutSecretValue", "InvalidSignatureException"),
        ("PutSecretValue", "UnrecognizedClientException"),
        ("PutSecretValue", "MissingAuthenticationTokenException"),
    ] {
        let series = format!("coffer_errors_total{{operation=\"{operation}\",code=\"{code}\"}} 1");
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }

    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success(), "exit {status}");
    let data = server.data_dir();
    for entry in std::fs::read_dir(data.join("audit")).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let what = path.display().to_string();
        assert_no_canary(&what, &text, &canary);
        assert!(!text.contains(&unknown_secret), "secret key in {what}");
        assert!(
            !text.contains(TEST_SECRET_ACCESS_KEY),
            "secret key in {what}"
        );
        for signature in &signatures {
            assert!(!text.contains(signature.as_str()), "signature in {what}");
        }
    }

    let events = read_lines(&data.join("audit/events.jsonl"));
    // Nothing but the refused calls happened: one event each.
    assert_eq!(events.len(), refused.len(), "{events:#?}");
    for r in &refused {
        let matching: Vec<&Value> = events
            .iter()
            .filter(|e| e["requestID"] == r.request_id.as_str())
            .collect();
        let what = format!("{} {} {}", r.operation, r.code, r.request_id);
        assert_eq!(matching.len(), 1, "{what}");
        let e = matching[0];
        assert_eq!(e["eventVersion"], "1.08", "{what}");
        assert_eq!(e["eventType"], "AwsApiCall", "{what}");
        assert_eq!(e["eventSource"], "secretsmanager.amazonaws.com", "{what}");
        assert_eq!(e["eventName"], r.operation, "{what}");
        assert_eq!(e["awsRegion"], r.region, "{what}");
        assert_eq!(e["errorCode"], r.code, "{what}");
        assert_eq!(e["errorMessage"], r.message, "{what}");
        assert_eq!(e["readOnly"], r.operation == "GetSecretValue", "{what}");
        assert_eq!(e["requestParameters"], Value::Null, "{what}");
        assert_eq!(e["responseElements"], Value::Null, "{what}");
        assert_eq!(e["resources"], serde_json::json!([]), "{what}");
        assert_eq!(e["sourceIPAddress"], "127.0.0.1", "{what}");
        assert_eq!(e["userAgent"], Value::Null, "{what}");
        assert_eq!(e["recipientAccountId"], account, "{what}");
        let mut identity = serde_json::json!({"type": "Unknown"});
        if let Some(key) = r.access_key {
            identity["accessKeyId"] = Value::String(key.to_string());
        }
        assert_eq!(e["userIdentity"], identity, "{what}");
        assert!(!str_of(e, "/eventID").is_empty(), "{what}");
        assert!(!str_of(e, "/eventTime").is_empty(), "{what}");
    }

    let (ok, text) = verify(&data);
    assert!(ok, "coffer audit verify failed:\n{text}");
}
