//! The `api` Lambda function as Lambda runs it (the real `coffer-api` binary under the Runtime
//! API emulator of `coffer_e2e::lambda_runtime`), beyond what the SDK suite covers through the
//! HTTP API front: a bad configuration failing the cold start, REST API (payload 1.0) events,
//! IAM authorization (`COFFER_AUTH_MODE=iam`), and the Invoke API's answers.
//!
//! Needs `coffer-api` built (`COFFER_API_BIN` or `target/debug/coffer-api`); the tests on moto
//! need `COFFER_TEST_AWS_ENDPOINT` and an aws-enabled `COFFER_BIN` (for `coffer init-table`).

use coffer_e2e::lambda_runtime::{coffer_api_bin, ApiDeployment, FunctionConfig, LambdaEmulator};
use coffer_e2e::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

const FUNCTION: &str = "coffer-api";

fn api_bin_or_skip() -> Option<std::path::PathBuf> {
    let bin = coffer_api_bin();
    if bin.exists() {
        Some(bin)
    } else {
        skip(format_args!(
            "{} is not built (cargo build -p coffer-api)",
            bin.display()
        ));
        None
    }
}

fn moto_or_skip() -> bool {
    if std::env::var(aws::AWS_ENDPOINT_ENV).is_ok_and(|v| !v.is_empty()) && !external_mode() {
        true
    } else {
        skip(format_args!(
            "needs moto (COFFER_TEST_AWS_ENDPOINT) and a local coffer-api"
        ));
        false
    }
}

fn start(
    bin: &std::path::Path,
    env: Vec<(String, String)>,
    log: &std::path::Path,
) -> LambdaEmulator {
    LambdaEmulator::start(vec![FunctionConfig::new(bin, FUNCTION, log)
        .envs(env)
        .timeout(Duration::from_secs(120))])
}

#[test]
fn cold_start_with_bad_configuration_reports_init_error_naming_the_setting_without_secrets() {
    let Some(bin) = api_bin_or_skip() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("function.log");
    let canary = "canary-root-secret-Zq81xV";
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[
                ("COFFER_KMS_KEY", "alias/k"),
                ("COFFER_ACCOUNT_ID", "111122223333"),
            ],
            "COFFER_TABLE is required",
        ),
        (
            &[
                ("COFFER_TABLE", "t"),
                ("COFFER_KMS_KEY", "alias/k"),
                ("COFFER_ACCOUNT_ID", "111122223333"),
                ("COFFER_AUTH_MODE", "magic"),
            ],
            "COFFER_AUTH_MODE must be `sigv4` or `iam`",
        ),
        (
            &[
                ("COFFER_TABLE", "t"),
                ("COFFER_KMS_KEY", "alias/k"),
                ("COFFER_ACCOUNT_ID", "111122223333"),
                ("COFFER_DATA_KEY_CACHE_SECS", "soon"),
            ],
            "COFFER_DATA_KEY_CACHE_SECS must be",
        ),
    ];
    for (vars, expected) in cases {
        let mut env: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("COFFER_ROOT_ACCESS_KEY_ID".into(), "AKIACANARY".into()));
        env.push(("COFFER_ROOT_SECRET_ACCESS_KEY".into(), canary.into()));
        let emulator = start(&bin, env, &log);
        assert!(
            !emulator.wait_ready(FUNCTION, Duration::from_secs(20)),
            "{expected}: started"
        );
        let init = emulator
            .init_error(FUNCTION)
            .expect("an init error was reported");
        assert_eq!(init.error_type, "Runtime.ConfigError");
        assert!(init.error_message.contains(expected), "{init:?}");
        assert!(!init.error_message.contains(canary), "{init:?}");
        let failed = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(emulator.invoke(FUNCTION, &json!({})))
            .unwrap_err();
        assert_eq!(failed.error_type, "Runtime.InitError", "{failed:?}");
        assert!(failed.error_message.contains(expected), "{failed:?}");
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("cold start failed"), "{text}");
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
    assert!(!text.contains(canary), "{text}");
}

/// A REST API (payload 1.0) event for a SigV4-signed request made with the test root key.
fn rest_event(operation: &str, body: &Value, stage: &str, context_path: &str) -> Value {
    let host = "abc123.execute-api.us-east-1.amazonaws.com";
    let headers: serde_json::Map<String, Value> = RawRequest::new(operation, body)
        .credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
        .headers(host)
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    json!({
        "resource": "/", "path": "/", "httpMethod": "POST",
        "headers": headers, "multiValueHeaders": multi,
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "accountId": "111122223333", "apiId": "abc123", "httpMethod": "POST",
            "identity": {"sourceIp": "198.51.100.9", "userAgent": "e2e"},
            "path": context_path, "protocol": "HTTP/1.1", "requestId": "r-1",
            "requestTimeEpoch": 1704067200000i64, "resourceId": "res", "resourcePath": "/",
            "stage": stage, "domainName": host
        },
        "body": body.to_string(), "isBase64Encoded": false
    })
}

/// A payload 2.0 event with an IAM authorizer context (no signature: API Gateway checked it).
fn iam_event(operation: &str, body: &Value, user_arn: Option<&str>) -> Value {
    let mut event = json!({
        "version": "2.0", "routeKey": "POST /", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/x-amz-json-1.1",
                    "x-amz-target": format!("secretsmanager.{operation}"),
                    "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "111122223333", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.9", "userAgent": "e2e"},
            "requestId": "r-2", "routeKey": "POST /", "stage": "$default",
            "time": "01/Jan/2024:00:00:00 +0000", "timeEpoch": 1704067200000i64
        },
        "body": body.to_string(), "isBase64Encoded": false
    });
    if let Some(arn) = user_arn {
        event["requestContext"]["authorizer"] = json!({"iam": {
            "accessKey": "ASIAE2E", "accountId": "111122223333", "callerId": "AIDAE2E",
            "userArn": arn, "userId": "AIDAE2E"}});
    }
    event
}

fn response_body(answer: &Value) -> Value {
    let body = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"] == true {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64 body")
    } else {
        body.as_bytes().to_vec()
    };
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_events_signed_for_the_stage_path_or_a_custom_domain_are_served() {
    let Some(_) = api_bin_or_skip() else { return };
    if !moto_or_skip() {
        return;
    }
    let aws = Arc::new(AwsResources::create(DEFAULT_REGION));
    let deployment = ApiDeployment::start(aws, 1);
    let name = unique_name("rest");
    // A custom domain: the client signed `/`, the context path is `/`.
    let create = rest_event(
        "CreateSecret",
        &json!({"Name": name, "SecretString": "v1", "ClientRequestToken": token()}),
        "prod",
        "/",
    );
    let answer = deployment
        .emulator
        .invoke(FUNCTION, &create)
        .await
        .expect("invoke");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(response_body(&answer)["Name"], name.as_str());
    // The execute-api domain: the client signed `/prod/` but RawRequest signs `/`, so the
    // signature must fail, proving the signed path is the context's.
    let get = rest_event(
        "GetSecretValue",
        &json!({"SecretId": name}),
        "prod",
        "/prod/",
    );
    let answer = deployment
        .emulator
        .invoke(FUNCTION, &get)
        .await
        .expect("invoke");
    assert_eq!(answer["statusCode"], 400, "{answer}");
    assert_eq!(
        response_body(&answer)["__type"],
        "InvalidSignatureException",
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_mode_takes_the_caller_from_the_context_and_refuses_requests_without_one() {
    let Some(bin) = api_bin_or_skip() else { return };
    if !moto_or_skip() {
        return;
    }
    let aws = AwsResources::create(DEFAULT_REGION);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = ApiDeployment::function_env(&aws);
    env.retain(|(k, _)| !k.starts_with("COFFER_ROOT_"));
    env.push(("COFFER_AUTH_MODE".into(), "iam".into()));
    // The operator's bootstrap identity (COFFER_IAM_ADMIN_ARN): an IAM identity of the account
    // given secretsmanager:* and coffer:* there, never this server's root.
    let admin_arn = format!("arn:aws:iam::{TEST_ACCOUNT_ID}:role/coffer-admin");
    env.push(("COFFER_IAM_ADMIN_ARN".into(), admin_arn.clone()));
    env.push((
        "COFFER_PAGING_SECRET".into(),
        "e2e paging secret, 32 characters".into(),
    ));
    let emulator = start(&bin, env, &dir.path().join("function.log"));
    assert!(
        emulator.wait_ready(FUNCTION, Duration::from_secs(30)),
        "{:?}",
        emulator.init_error(FUNCTION)
    );
    let name = unique_name("iam");
    // An account root that API Gateway verified is an IAM identity with the policies Coffer
    // stores for it (none here), not this server's root: refused.
    let account_root = format!("arn:aws:iam::{TEST_ACCOUNT_ID}:root");
    let body = json!({"Name": name, "SecretString": "v1", "ClientRequestToken": token()});
    let answer = emulator
        .invoke(
            FUNCTION,
            &iam_event("CreateSecret", &body, Some(&account_root)),
        )
        .await
        .unwrap();
    assert_eq!(
        response_body(&answer)["__type"],
        "AccessDeniedException",
        "{answer}"
    );
    let root = admin_arn;
    let answer = emulator
        .invoke(FUNCTION, &iam_event("CreateSecret", &body, Some(&root)))
        .await
        .unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let answer = emulator
        .invoke(
            FUNCTION,
            &iam_event("GetSecretValue", &json!({"SecretId": name}), None),
        )
        .await
        .unwrap();
    assert_eq!(
        response_body(&answer)["__type"],
        "MissingAuthenticationTokenException",
        "{answer}"
    );
    // An IAM user of the account: no identity policy stored for its ARN yet, so the read is
    // denied; once the admin identity stores one (coffer.PutIamIdentityPolicy through the same
    // IAM-authorized route), the read is allowed (docs/lambda.md).
    let user = format!("arn:aws:iam::{TEST_ACCOUNT_ID}:user/alice");
    let read_as_alice = iam_event("GetSecretValue", &json!({"SecretId": name}), Some(&user));
    let answer = emulator.invoke(FUNCTION, &read_as_alice).await.unwrap();
    assert_eq!(
        response_body(&answer)["__type"],
        "AccessDeniedException",
        "{answer}"
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
    let mut put_policy = iam_event(
        "PutIamIdentityPolicy",
        &json!({"IamArn": format!("arn:aws:iam::{TEST_ACCOUNT_ID}:user/ali*"),
                "PolicyName": "read", "PolicyDocument": policy.to_string()}),
        Some(&root),
    );
    put_policy["headers"]["x-amz-target"] = json!("coffer.PutIamIdentityPolicy");
    let answer = emulator.invoke(FUNCTION, &put_policy).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let answer = emulator.invoke(FUNCTION, &read_as_alice).await.unwrap();
    assert_eq!(response_body(&answer)["SecretString"], "v1", "{answer}");
    let answer = emulator
        .invoke(
            FUNCTION,
            &iam_event("GetSecretValue", &json!({"SecretId": name}), Some(&root)),
        )
        .await
        .unwrap();
    assert_eq!(response_body(&answer)["SecretString"], "v1", "{answer}");
}

/// One raw HTTP/1.1 POST; (status line, headers text, body).
fn post(url: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (String, String, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

#[test]
fn invoke_api_answers_like_lambda_function_error_event_and_unknown_function() {
    let Some(bin) = api_bin_or_skip() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // A valid configuration that never reaches AWS: an event that is no HTTP event fails in
    // lambda_http before any call.
    let env = vec![
        ("COFFER_TABLE".to_string(), "t".to_string()),
        ("COFFER_KMS_KEY".into(), "alias/k".into()),
        ("COFFER_ACCOUNT_ID".into(), "111122223333".into()),
        ("COFFER_ROOT_ACCESS_KEY_ID".into(), "AKIAE2E".into()),
        ("COFFER_ROOT_SECRET_ACCESS_KEY".into(), "secret".into()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ];
    let emulator = start(&bin, env, &dir.path().join("function.log"));
    assert!(
        emulator.wait_ready(FUNCTION, Duration::from_secs(30)),
        "{:?}",
        emulator.init_error(FUNCTION)
    );
    let url = emulator.invoke_endpoint();
    let path = format!("/2015-03-31/functions/{FUNCTION}/invocations");
    let (status, headers, body) = post(&url, &path, &[], r#"{"not": "an http event"}"#);
    assert!(status.contains(" 200"), "{status}");
    assert!(
        headers.contains("x-amz-function-error: unhandled"),
        "{headers}"
    );
    let error: Value = serde_json::from_str(&body).expect("error JSON");
    assert!(error["errorMessage"].is_string(), "{body}");
    let (status, _, _) = post(&url, &path, &[("X-Amz-Invocation-Type", "Event")], "{}");
    assert!(status.contains(" 202"), "{status}");
    let (status, headers, _) = post(&url, "/2015-03-31/functions/nope/invocations", &[], "{}");
    assert!(status.contains(" 404"), "{status}");
    assert!(headers.contains("resourcenotfoundexception"), "{headers}");
}
