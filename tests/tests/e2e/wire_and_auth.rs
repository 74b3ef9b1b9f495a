//! The AWS JSON 1.1 wire format and SigV4 authentication, seen from a raw client.

use coffer_e2e::*;
use serde_json::json;

fn body_text(r: &RawResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// AWS JSON-protocol services answer authentication failures with 400 (the query protocols
/// and API Gateway with 403); either is a refusal a stock SDK understands.
fn assert_auth_refusal(r: &RawResponse, what: &str) {
    assert!(
        r.status == 400 || r.status == 403,
        "{what}: status {} ({})",
        r.status,
        body_text(r)
    );
}

#[tokio::test]
async fn success_response_is_json_with_request_id_and_epoch_timestamps() {
    let server = CofferServer::start();
    let name = unique_name("wire-ok");
    let created = server.raw_call(
        "CreateSecret",
        &json!({"Name": name, "SecretString": "v", "ClientRequestToken": token()}),
    );
    assert_eq!(created.status, 200, "{}", body_text(&created));
    assert!(
        created
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-amz-json-1.1")),
        "content-type: {:?}",
        created.header("content-type")
    );
    assert!(
        created
            .header("x-amzn-requestid")
            .is_some_and(|id| !id.is_empty()),
        "x-amzn-RequestId header on success"
    );
    let described = server.raw_call("DescribeSecret", &json!({"SecretId": name}));
    assert_eq!(described.status, 200);
    let created_date = &described.json()["CreatedDate"];
    assert!(
        created_date.is_number(),
        "timestamps are epoch seconds: {created_date}"
    );
    let secs = created_date.as_f64().unwrap();
    assert!((now_epoch() - secs).abs() < 300.0);
}

#[tokio::test]
async fn error_response_has_type_message_and_request_id() {
    let server = CofferServer::start();
    let resp = server.raw_call(
        "GetSecretValue",
        &json!({"SecretId": unique_name("wire-missing")}),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.error_code().as_deref(),
        Some("ResourceNotFoundException")
    );
    let v = resp.json();
    assert!(
        v["Message"].as_str().or(v["message"].as_str()).is_some(),
        "Message in error body: {v}"
    );
    assert!(resp.header("x-amzn-requestid").is_some());
}

#[tokio::test]
async fn secret_binary_travels_base64_encoded() {
    let server = CofferServer::start();
    let name = unique_name("wire-binary");
    let created = server.raw_call(
        "CreateSecret",
        &json!({"Name": name, "SecretBinary": "AAEC/w==", "ClientRequestToken": token()}),
    );
    assert_eq!(created.status, 200, "{}", body_text(&created));
    let got = server.raw_call("GetSecretValue", &json!({"SecretId": name}));
    assert_eq!(got.json()["SecretBinary"], json!("AAEC/w=="));
    assert!(got.json().get("SecretString").is_none());
}

#[tokio::test]
async fn unknown_members_are_ignored() {
    let server = CofferServer::start();
    let name = unique_name("wire-unknown-member");
    let created = server.raw_call(
        "CreateSecret",
        &json!({"Name": name, "SecretString": "v", "ClientRequestToken": token(), "FutureMember": {"x": 1}}),
    );
    assert_eq!(created.status, 200, "{}", body_text(&created));
}

#[tokio::test]
async fn unknown_operation_is_rejected() {
    let server = CofferServer::start();
    let resp = server.raw_call("DoSomethingUnheardOf", &json!({}));
    assert!((400..500).contains(&resp.status), "status {}", resp.status);
    assert!(resp.error_code().is_some(), "{}", body_text(&resp));
}

#[tokio::test]
async fn malformed_json_body_is_rejected() {
    let server = CofferServer::start();
    let resp = server
        .raw_request("ListSecrets", &json!({}))
        .raw_body(b"{this is not json")
        .send(&server.endpoint());
    assert!((400..500).contains(&resp.status), "status {}", resp.status);
    assert!(resp.error_code().is_some(), "{}", body_text(&resp));
}

#[tokio::test]
async fn unsigned_request_is_refused_with_missing_authentication_token() {
    let server = CofferServer::start();
    let resp = server
        .raw_request("ListSecrets", &json!({}))
        .unsigned()
        .send(&server.endpoint());
    assert_auth_refusal(&resp, "refusal");
    let code = resp.error_code().unwrap_or_default();
    assert!(
        code.starts_with("MissingAuthenticationToken"),
        "code {code}"
    );
}

#[tokio::test]
async fn wrong_signature_is_refused() {
    let server = CofferServer::start();
    let resp = server
        .raw_request("ListSecrets", &json!({}))
        .corrupt_signature()
        .send(&server.endpoint());
    assert_auth_refusal(&resp, "refusal");
    let code = resp.error_code().unwrap_or_default();
    // JSON-protocol AWS services name this InvalidSignatureException; the query services
    // SignatureDoesNotMatch.
    assert!(
        ["SignatureDoesNotMatch", "InvalidSignatureException"].contains(&code.as_str()),
        "code {code}"
    );
}

#[tokio::test]
async fn wrong_secret_key_is_refused_through_the_sdk() {
    let server = CofferServer::start();
    let (ak, _) = server.credentials();
    let client = server.client_with_credentials(&server.region(), &ak, "not-the-right-secret-key");
    let err = client
        .list_secrets()
        .send()
        .await
        .expect_err("wrong secret key accepted");
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    assert!(
        ["SignatureDoesNotMatch", "InvalidSignatureException"].contains(&code),
        "code {code}: {err:?}"
    );
}

#[tokio::test]
async fn unknown_access_key_is_refused() {
    let server = CofferServer::start();
    let resp = server
        .raw_request("ListSecrets", &json!({}))
        .credentials("AKIAUNKNOWNKEY000000", "whatever")
        .send(&server.endpoint());
    assert_auth_refusal(&resp, "refusal");
    let code = resp.error_code().unwrap_or_default();
    assert!(
        ["InvalidClientTokenId", "UnrecognizedClientException"].contains(&code.as_str()),
        "code {code}"
    );
}

#[tokio::test]
async fn incomplete_authorization_header_is_refused() {
    let server = CofferServer::start();
    let resp = server
        .raw_request("ListSecrets", &json!({}))
        .incomplete_authorization()
        .send(&server.endpoint());
    assert_auth_refusal(&resp, "incomplete signature");
    let code = resp.error_code().unwrap_or_default();
    assert!(code.starts_with("IncompleteSignature"), "code {code}");
}

#[tokio::test]
async fn request_signed_with_20_minutes_of_clock_skew_is_refused() {
    let server = CofferServer::start();
    for offset in [-20i64, 20] {
        let t = time::OffsetDateTime::now_utc() + time::Duration::minutes(offset);
        let resp = server
            .raw_request("ListSecrets", &json!({}))
            .signed_at(t)
            .send(&server.endpoint());
        assert_auth_refusal(&resp, &format!("{offset} min"));
        let code = resp.error_code().unwrap_or_default();
        assert!(
            [
                "InvalidSignatureException",
                "SignatureDoesNotMatch",
                "RequestExpired"
            ]
            .contains(&code.as_str()),
            "{offset} min: code {code}"
        );
    }
    // Within the window is fine. (AWS's JSON services answer "Signature expired ... - 5 min."
    // while the SigV4 guide speaks of 15 minutes; both accept a two-minute skew.)
    for offset in [-2i64, 2] {
        let t = time::OffsetDateTime::now_utc() + time::Duration::minutes(offset);
        let resp = server
            .raw_request("ListSecrets", &json!({}))
            .signed_at(t)
            .send(&server.endpoint());
        assert_eq!(resp.status, 200, "{offset} min: {}", body_text(&resp));
    }
}

#[tokio::test]
async fn health_endpoint_answers_200() {
    let server = CofferServer::start();
    let endpoint = server.endpoint();
    let host = endpoint.trim_start_matches("http://").to_string();
    let text = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&host).expect("connect");
        write!(
            s,
            "GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut buf = String::new();
        s.read_to_string(&mut buf).expect("read");
        buf
    })
    .await
    .expect("join");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}
