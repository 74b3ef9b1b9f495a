//! The router layer of the test pyramid: every Secrets Manager operation of one fixed scenario,
//! and the auth and wire errors, sent through `coffer_wire::router` with
//! `tower::ServiceExt::oneshot` (no socket, no process) on the in-memory fakes of
//! `coffer-testkit`. Each response's status, `Content-Type`, presence of `x-amzn-RequestId` and
//! JSON body is compared with a golden file, `tests/fixtures/golden/<case>.json`, so a change of a
//! wire shape (a member name, an error code or message, an HTTP status) shows up as a diff here.
//! The core's behaviour is proven in `coffer-core`'s suites; the e2e suite proves the same wire
//! through the real AWS SDK against the real processes.
//!
//! Values that vary per run are replaced before comparing: UUIDs (request tokens, version ids)
//! by `<uuid-N>` (numbered by first appearance in the response, so distinct ids stay distinct),
//! the random suffix of secret ARNs by `<suffix>`, numeric `...Date` members by `<epoch>` and the
//! random password by `<password>`. Member names, error codes and messages are kept exactly.
//!
//! Updating the fixtures after an intended change of the wire:
//!
//! ```text
//! COFFER_UPDATE_GOLDEN=1 cargo test -p coffer-wire --test router_golden
//! ```
//!
//! then read the diff of `tests/fixtures/golden/` before committing it. Without the variable a
//! missing or differing fixture fails the test with a line diff.

use async_trait::async_trait;
use axum::body::Body;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, ServiceConfig, ServiceParts};
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use coffer_wire::auth::{RootCredentials, SigV4Authenticator};
use coffer_wire::{router, WireState};
use http::Request;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

#[path = "support/sdk_sign.rs"]
mod support;
use support::{sdk_sign, with_host, SdkSigning};
use tower::ServiceExt;
use zeroize::Zeroizing;

const ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";
const AKID: &str = "AKIDGOLDENROOT";
const SECRET: &str = "golden/root/secret/access/key/EXAMPLEKEY";
/// 2024-05-01T12:00:00Z, the time of the service's clock (the signer uses the real time).
const T0: i64 = 1_714_564_800_000;
const NAME: &str = "golden/db/password";
const URI: &str = "http://coffer.golden.test/";

/// As the server's `RotationNotConfigured`: no rotation function is configured.
struct RotationNotConfigured;

#[async_trait]
impl RotationInvoker for RotationNotConfigured {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        Err(RotationStartError(format!(
            "no rotation function: no rotation job started for {}",
            job.secret_arn
        )))
    }
}

fn app() -> axum::Router {
    let service = ServiceParts {
        ports: Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: Arc::new(RecordingAudit::default()),
            metrics: Arc::new(NoMetrics),
            rotation: Arc::new(RotationNotConfigured),
            clock: Arc::new(ManualClock::at(T0)),
            random: Arc::new(CountingRandom::default()),
        },
        config: ServiceConfig {
            paging_key: [7; 32],
            audit_required: true,
        },
        principals: None,
        temporary_credentials: None,
    }
    .assemble();
    let authenticator = SigV4Authenticator::new(RootCredentials {
        access_key_id: AKID.into(),
        secret_access_key: Zeroizing::new(SECRET.into()),
        account_id: ACCOUNT.into(),
    });
    router(WireState {
        service: Arc::new(service),
        authenticator: Arc::new(authenticator),
        account_id: ACCOUNT.into(),
    })
}

/// A JSON 1.1 call as the SDK builds it before signing.
fn call(target: &str, body: &[u8]) -> Request<Vec<u8>> {
    Request::builder()
        .method("POST")
        .uri(URI)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header("content-length", body.len().to_string())
        .body(body.to_vec())
        .unwrap()
}

/// Signs as the SDK for Rust does (tests/support/sdk_sign.rs, shared with the unit tests of
/// `src/sigv4.rs`).
fn signed(req: Request<Vec<u8>>, akid: &str, secret: &str) -> Request<Vec<u8>> {
    sdk_sign(
        req,
        &SdkSigning {
            access_key_id: akid,
            secret,
            session_token: None,
            service: "secretsmanager",
            region: REGION,
            time: SystemTime::now(),
            content_sha256_header: false,
            unsigned_payload: false,
        },
    )
}

/// A root-signed Secrets Manager call.
fn sm(operation: &str, body: Value) -> Request<Vec<u8>> {
    signed(
        call(
            &format!("secretsmanager.{operation}"),
            body.to_string().as_bytes(),
        ),
        AKID,
        SECRET,
    )
}

/// Sends one request and returns the normalized record the golden file holds.
async fn send(app: &axum::Router, req: Request<Vec<u8>>) -> Value {
    let response = app.clone().oneshot(req.map(Body::from)).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let request_id = response.headers().contains_key("x-amzn-requestid");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice::<Value>(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    let mut uuids = HashMap::new();
    json!({
        "status": status,
        "content_type": content_type,
        "x-amzn-RequestId": request_id,
        "body": normalize(None, body, &mut uuids),
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn normalize_str(s: &str, uuids: &mut HashMap<String, usize>) -> String {
    if is_uuid(s) {
        let next = uuids.len() + 1;
        let n = *uuids.entry(s.to_owned()).or_insert(next);
        return format!("<uuid-{n}>");
    }
    if s.starts_with("arn:aws:secretsmanager:") && s.contains(":secret:") {
        if let Some((head, suffix)) = s.rsplit_once('-') {
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) {
                return format!("{head}-<suffix>");
            }
        }
    }
    signing_times(s)
}

/// The SigV4 times an `InvalidSignatureException` message echoes (`20240501T120000Z`, the
/// `20240501/` of the scope) and the hash of the canonical request, which holds that time.
fn signing_times(s: &str) -> String {
    let b = s.as_bytes();
    let digits =
        |at: usize, n: usize| b.len() >= at + n && b[at..at + n].iter().all(u8::is_ascii_digit);
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &s[i..];
        if digits(i, 8)
            && rest.as_bytes().get(8) == Some(&b'T')
            && digits(i + 9, 6)
            && rest.as_bytes().get(15) == Some(&b'Z')
        {
            out.push_str("<amz-date>");
            i += 16;
        } else if digits(i, 8) && rest.as_bytes().get(8) == Some(&b'/') {
            out.push_str("<yyyymmdd>/");
            i += 9;
        } else if let Some(tail) = rest.strip_prefix("aws4_request\n") {
            let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
            out.push_str("aws4_request\n");
            i += "aws4_request\n".len();
            if hex == 64 {
                out.push_str("<sha256>");
                i += 64;
            }
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn normalize(key: Option<&str>, value: Value, uuids: &mut HashMap<String, usize>) -> Value {
    match value {
        Value::Number(_) if key.is_some_and(|k| k.ends_with("Date")) => json!("<epoch>"),
        Value::String(_) if key == Some("RandomPassword") => json!("<password>"),
        Value::String(s) => Value::String(normalize_str(&s, uuids)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| normalize(key, v, uuids))
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| {
                    let v = normalize(Some(&k), v, uuids);
                    (normalize_str(&k, uuids), v)
                })
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// A line diff of two pretty-printed documents, marking the lines that differ.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

/// Compares (or, with `COFFER_UPDATE_GOLDEN=1`, writes) one case; returns the failure, if any.
fn check(case: &str, actual: &Value) -> Option<String> {
    let path = golden_dir().join(format!("{case}.json"));
    let actual = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("COFFER_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Err(e) => Some(format!(
            "{case}: cannot read {} ({e}); actual:\n{actual}",
            path.display()
        )),
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{case}: differs from {} (- golden, + actual):\n{}",
            path.display(),
            diff(&expected, &actual)
        )),
    }
}

fn token(n: u32) -> String {
    format!("{n:08}-0000-4000-8000-000000000000")
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

#[tokio::test]
async fn router_responses_match_the_golden_fixtures() {
    let app = app();
    let cases: Vec<(&str, Request<Vec<u8>>)> = vec![
        (
            "create_secret",
            sm(
                "CreateSecret",
                json!({"Name": NAME, "SecretString": "s3cr3t-v1", "ClientRequestToken": token(1),
                       "Description": "golden", "Tags": [{"Key": "team", "Value": "core"}]}),
            ),
        ),
        (
            "describe_secret",
            sm("DescribeSecret", json!({"SecretId": NAME})),
        ),
        (
            "get_secret_value",
            sm("GetSecretValue", json!({"SecretId": NAME})),
        ),
        (
            "put_secret_value",
            sm(
                "PutSecretValue",
                json!({"SecretId": NAME, "SecretString": "s3cr3t-v2", "ClientRequestToken": token(2)}),
            ),
        ),
        (
            "update_secret",
            sm(
                "UpdateSecret",
                json!({"SecretId": NAME, "Description": "golden, updated"}),
            ),
        ),
        (
            "update_secret_version_stage",
            sm(
                "UpdateSecretVersionStage",
                json!({"SecretId": NAME, "VersionStage": "CUSTOM", "MoveToVersionId": token(1)}),
            ),
        ),
        ("list_secrets", sm("ListSecrets", json!({}))),
        (
            "list_secret_version_ids",
            sm("ListSecretVersionIds", json!({"SecretId": NAME})),
        ),
        (
            "tag_resource",
            sm(
                "TagResource",
                json!({"SecretId": NAME, "Tags": [{"Key": "env", "Value": "golden"}]}),
            ),
        ),
        (
            "untag_resource",
            sm(
                "UntagResource",
                json!({"SecretId": NAME, "TagKeys": ["team"]}),
            ),
        ),
        (
            "get_random_password",
            sm("GetRandomPassword", json!({"PasswordLength": 24})),
        ),
        (
            "put_resource_policy",
            sm(
                "PutResourcePolicy",
                json!({"SecretId": NAME, "ResourcePolicy": POLICY}),
            ),
        ),
        (
            "get_resource_policy",
            sm("GetResourcePolicy", json!({"SecretId": NAME})),
        ),
        (
            "validate_resource_policy",
            sm(
                "ValidateResourcePolicy",
                json!({"SecretId": NAME, "ResourcePolicy": POLICY}),
            ),
        ),
        (
            "list_resource_policies",
            sm("ListResourcePolicies", json!({"SecretId": NAME})),
        ),
        (
            "delete_resource_policy",
            sm("DeleteResourcePolicy", json!({"SecretId": NAME})),
        ),
        (
            "batch_get_secret_value",
            sm(
                "BatchGetSecretValue",
                json!({"SecretIdList": [NAME, "golden/missing"]}),
            ),
        ),
        (
            "rotate_secret_without_lambda",
            sm(
                "RotateSecret",
                json!({"SecretId": NAME, "ClientRequestToken": token(3)}),
            ),
        ),
        (
            "cancel_rotate_secret",
            sm("CancelRotateSecret", json!({"SecretId": NAME})),
        ),
        (
            "delete_secret",
            sm(
                "DeleteSecret",
                json!({"SecretId": NAME, "RecoveryWindowInDays": 7}),
            ),
        ),
        (
            "restore_secret",
            sm("RestoreSecret", json!({"SecretId": NAME})),
        ),
        (
            "replicate_secret_to_regions_refused",
            sm(
                "ReplicateSecretToRegions",
                json!({"SecretId": NAME, "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
            ),
        ),
        // Auth and wire errors.
        (
            "error_unsigned_request",
            with_host(call(
                "secretsmanager.GetSecretValue",
                json!({"SecretId": NAME}).to_string().as_bytes(),
            )),
        ),
        (
            "error_bad_signature",
            signed(
                call(
                    "secretsmanager.GetSecretValue",
                    json!({"SecretId": NAME}).to_string().as_bytes(),
                ),
                AKID,
                "not/the/right/secret/access/key/EXAMPLEKEY",
            ),
        ),
        (
            "error_unknown_access_key",
            signed(
                call(
                    "secretsmanager.GetSecretValue",
                    json!({"SecretId": NAME}).to_string().as_bytes(),
                ),
                "AKIDNOBODYKNOWS",
                SECRET,
            ),
        ),
        (
            "error_unknown_target",
            signed(call("secretsmanager.GetSecretValues", b"{}"), AKID, SECRET),
        ),
        (
            "error_malformed_json",
            signed(
                call("secretsmanager.GetSecretValue", b"{\"SecretId\": "),
                AKID,
                SECRET,
            ),
        ),
        (
            "error_missing_required_member",
            sm("GetSecretValue", json!({})),
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (case, req) in cases {
        let actual = send(&app, req).await;
        failures.extend(check(case, &actual));
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ from their golden fixtures \
         (COFFER_UPDATE_GOLDEN=1 rewrites them):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
