//! Logging in with an AWS IAM identity end to end (`coffer.LoginWithIam`, `coffer login --iam`):
//! credentials from moto's STS AssumeRole for `arn:aws:iam::111122223333:role/app-reader`, an
//! AWS CLI profile whose `credential_process` is `coffer login --iam`, the stock AWS CLI and the
//! Rust SDK reading secrets as decided by `PutIamIdentityPolicy` for `role/app-*`, refusals of
//! tampered, stale and wrong-audience login requests, session expiry, and the server log free of
//! every credential.
//!
//! Needs moto (`COFFER_TEST_AWS_ENDPOINT`) as the STS that verifies logins and a coffer built
//! with `--features aws` (`COFFER_BIN`): both exist in run-all's `COFFER_E2E_BACKEND=aws` stage,
//! the only one these tests run in (they skip with a note elsewhere). The server is an embedded
//! one (`CofferServer::start_embedded`), whose store holds the iam-identity records.

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use base64::Engine;
use coffer_e2e::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const AUDIENCE: &str = "coffer-e2e";
/// The workload's role, in the server's account (moto's AssumeRole takes a role of any account
/// and need not know it), so that identity policies alone decide (same-account access).
fn role_arn() -> String {
    format!("arn:aws:iam::{TEST_ACCOUNT_ID}:role/app-reader")
}

fn app_pattern() -> String {
    format!("arn:aws:iam::{TEST_ACCOUNT_ID}:role/app-*")
}

struct Setup {
    server: CofferServer,
    moto: String,
    /// moto's temporary credentials of the role session (the workload's AWS credentials).
    aws: (String, String, String),
    dir: tempfile::TempDir,
}

impl Setup {
    fn config_file(&self) -> PathBuf {
        self.dir.path().join("aws-config")
    }
}

/// The embedded server with LoginWithIam verified by moto's STS, and a role session from moto.
async fn setup(extra_args: &[&str]) -> Option<Setup> {
    if !aws_mode() {
        skip(format_args!(
            "LoginWithIam needs moto's STS and a coffer built with --features aws \
             (COFFER_E2E_BACKEND=aws, as run-all.sh runs it)"
        ));
        return None;
    }
    let moto = aws::moto_endpoint();
    let mut args = vec![
        "--iam-sts-endpoint",
        moto.as_str(),
        "--iam-login-audience",
        AUDIENCE,
    ];
    args.extend_from_slice(extra_args);
    let server = CofferServer::start_embedded(ServerOptions::default().args(&args))?;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .build(),
    );
    let assumed = sts
        .assume_role()
        .role_arn(role_arn())
        .role_session_name("e2e-workload")
        .send()
        .await
        .expect("moto AssumeRole");
    let c = assumed.credentials().expect("credentials");
    let aws = (
        c.access_key_id().to_string(),
        c.secret_access_key().to_string(),
        c.session_token().to_string(),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = Setup {
        server,
        moto,
        aws,
        dir,
    };
    let login = login_command(&setup, &[]);
    std::fs::write(
        setup.config_file(),
        format!(
            "[profile app]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\nregion = us-east-1\n\n\
             [profile coffer]\nregion = us-east-1\ncredential_process = {}\n",
            setup.aws.0,
            setup.aws.1,
            setup.aws.2,
            login.join(" ")
        ),
    )
    .expect("write AWS config");
    Some(setup)
}

/// `coffer login --iam ...` with the source credentials of profile `app`.
fn login_command(setup: &Setup, extra: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        coffer_bin().display().to_string(),
        "login".to_string(),
        "--iam".to_string(),
        "--endpoint-url".to_string(),
        setup.server.endpoint(),
        "--iam-sts-endpoint".to_string(),
        setup.moto.clone(),
        "--audience".to_string(),
        AUDIENCE.to_string(),
        "--region".to_string(),
        "us-east-1".to_string(),
        "--profile".to_string(),
        "app".to_string(),
    ];
    cmd.extend(extra.iter().map(|s| s.to_string()));
    cmd
}

/// A command with only the AWS configuration of `setup` (no credentials in the environment).
fn isolated(program: &Path, setup: &Setup) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", setup.dir.path())
        .env("AWS_CONFIG_FILE", setup.config_file())
        .env("AWS_SHARED_CREDENTIALS_FILE", setup.dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// Runs `coffer login --iam` and returns its credential_process JSON.
fn login(setup: &Setup, extra: &[&str]) -> Value {
    let command = login_command(setup, extra);
    let out = isolated(Path::new(&command[0]), setup)
        .args(&command[1..])
        .output()
        .expect("coffer login runs");
    assert!(
        out.status.success(),
        "coffer login failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("credential_process JSON")
}

/// The AWS CLI (`.venv/bin/aws`) with profile `coffer`: (success, stdout, stderr).
fn cli_get(setup: &Setup, secret: &str) -> (bool, String, String) {
    let cli = workspace_root().join(".venv/bin/aws");
    assert!(cli.exists(), "no AWS CLI at {}", cli.display());
    let out = isolated(&cli, setup)
        .args([
            "--profile",
            "coffer",
            "--endpoint-url",
            &setup.server.endpoint(),
            "--output",
            "json",
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            secret,
        ])
        .output()
        .expect("aws CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sdk_client(setup: &Setup, creds: &Value) -> aws_sdk_secretsmanager::Client {
    let text = |k: &str| creds[k].as_str().unwrap().to_string();
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(setup.server.region()))
            .endpoint_url(setup.server.endpoint())
            .credentials_provider(Credentials::new(
                text("AccessKeyId"),
                text("SecretAccessKey"),
                Some(text("SessionToken")),
                None,
                "coffer-login",
            ))
            .build(),
    )
}

fn admin(server: &CofferServer, op: &str, body: Value) -> RawResponse {
    server
        .raw_request(op, &body)
        .with_target(&format!("coffer.{op}"))
        .send(&server.endpoint())
}

fn allow_read(secret_arn: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}]})
    .to_string()
}

fn audit_events(server: &CofferServer) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir().join("audit/events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn iam_identity_policies_decide_for_the_aws_cli_and_the_sdk() {
    let Some(setup) = setup(&[]).await else {
        return;
    };
    let root = setup.server.default_client();
    let allowed = unique_name("iam-allowed");
    let other = unique_name("iam-other");
    let (allowed_arn, _) = create_string_secret(&root, &allowed, "for-app-readers").await;
    create_string_secret(&root, &other, "not-for-them").await;

    // Logged in, but no identity policy yet: denied.
    let (ok, _, stderr) = cli_get(&setup, &allowed);
    assert!(!ok && stderr.contains("AccessDeniedException"), "{stderr}");
    let creds = login(&setup, &[]);
    assert_eq!(creds["Version"], 1);
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    time::OffsetDateTime::parse(
        creds["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("Expiration is RFC 3339");
    let client = sdk_client(&setup, &creds);
    expect_error(
        client.get_secret_value().secret_id(&allowed).send().await,
        "AccessDeniedException",
    );

    let put = admin(
        &setup.server,
        "PutIamIdentityPolicy",
        json!({"IamArn": app_pattern(), "PolicyName": "read",
               "PolicyDocument": allow_read(&allowed_arn)}),
    );
    assert_eq!(put.status, 200, "{:?}", put.json());
    let got = admin(
        &setup.server,
        "GetIamIdentityPolicy",
        json!({"IamArn": app_pattern(), "PolicyName": "read"}),
    )
    .json();
    assert_eq!(got["PolicyDocument"], allow_read(&allowed_arn));
    // The account of a pattern is a literal id.
    let bad = admin(
        &setup.server,
        "PutIamIdentityPolicy",
        json!({"IamArn": "arn:aws:iam::*:role/app-*", "PolicyName": "read",
               "PolicyDocument": allow_read(&allowed_arn)}),
    );
    assert_eq!(bad.json()["__type"], "InvalidParameterException");
    let listed = admin(&setup.server, "ListIamIdentities", json!({})).json();
    assert_eq!(
        listed["IamIdentities"],
        json!([{"IamArn": app_pattern(), "PolicyNames": ["read"]}])
    );

    // The stock AWS CLI through credential_process: the one secret, and nothing else.
    let (ok, stdout, stderr) = cli_get(&setup, &allowed);
    assert!(ok, "{stderr}");
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["SecretString"], "for-app-readers");
    let (ok, _, stderr) = cli_get(&setup, &other);
    assert!(!ok && stderr.contains("AccessDeniedException"), "{stderr}");

    // The Rust SDK with the same session (the policy applies to existing sessions at once).
    let got = client
        .get_secret_value()
        .secret_id(&allowed)
        .send()
        .await
        .expect("allowed");
    assert_eq!(got.secret_string(), Some("for-app-readers"));
    expect_error(
        client.get_secret_value().secret_id(&other).send().await,
        "AccessDeniedException",
    );

    // Its last policy deleted, the record is gone and the session denied again.
    let deleted = admin(
        &setup.server,
        "DeleteIamIdentityPolicy",
        json!({"IamArn": app_pattern(), "PolicyName": "read"}),
    );
    assert_eq!(deleted.status, 200, "{:?}", deleted.json());
    assert_eq!(
        admin(&setup.server, "ListIamIdentities", json!({})).json()["IamIdentities"],
        json!([])
    );
    expect_error(
        client.get_secret_value().secret_id(&allowed).send().await,
        "AccessDeniedException",
    );

    // The audit trail names the verified caller of each login.
    let logins: Vec<Value> = audit_events(&setup.server)
        .into_iter()
        .filter(|e| e["eventName"] == "LoginWithIam")
        .collect();
    assert!(logins.len() >= 3, "{logins:?}");
    for event in &logins {
        assert_eq!(
            event["userIdentity"]["arn"],
            format!("arn:aws:sts::{TEST_ACCOUNT_ID}:assumed-role/app-reader/e2e-workload"),
            "{event}"
        );
        assert!(event["errorCode"].is_null(), "{event}");
    }

    // No credential of either side in the server's output.
    let log = setup.server.log_text();
    let audit = std::fs::read_to_string(setup.server.data_dir().join("audit/events.jsonl"))
        .unwrap_or_default();
    for secret in [
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str().unwrap(),
        setup.aws.1.as_str(),
        setup.aws.2.as_str(),
    ] {
        assert!(!log.contains(secret), "a credential is in the server log");
        assert!(
            !audit.contains(secret),
            "a credential is in the audit trail"
        );
    }
}

/// Changes a hand-made login request: its body members and its signed headers.
type Edit = Box<dyn FnOnce(&mut Value, &mut serde_json::Map<String, Value>)>;

/// A LoginWithIam request made by hand with moto's session key: moto's STS does not check
/// signatures, so whatever is refused below is refused by Coffer's own checks.
fn raw_login(
    setup: &Setup,
    edit: impl FnOnce(&mut Value, &mut serde_json::Map<String, Value>),
) -> RawResponse {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap();
    let host = setup
        .moto
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut headers = serde_json::Map::new();
    headers.insert(
        "Authorization".into(),
        json!(format!(
            "AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-coffer-login-audience, Signature={}",
            setup.aws.0,
            &date[..8],
            "0".repeat(64)
        )),
    );
    headers.insert("X-Amz-Date".into(), json!(date));
    headers.insert("X-Amz-Security-Token".into(), json!(setup.aws.2));
    headers.insert("Host".into(), json!(host));
    headers.insert(
        "Content-Type".into(),
        json!("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert("X-Coffer-Login-Audience".into(), json!(AUDIENCE));
    let mut body = json!({
        "IamHttpRequestMethod": "POST",
        "IamRequestUrl": b64(format!("{}/", setup.moto).as_bytes()),
        "IamRequestBody": b64(b"Action=GetCallerIdentity&Version=2011-06-15"),
    });
    edit(&mut body, &mut headers);
    body["IamRequestHeaders"] = json!(b64(Value::Object(headers).to_string().as_bytes()));
    RawRequest::new("LoginWithIam", &body)
        .with_target("coffer.LoginWithIam")
        .unsigned()
        .send(&setup.server.endpoint())
}

#[tokio::test]
async fn tampered_stale_and_foreign_login_requests_get_no_credentials() {
    let Some(setup) = setup(&[]).await else {
        return;
    };
    // The baseline passes every check (and moto answers it).
    let ok = raw_login(&setup, |_, _| {});
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    assert!(ok.json()["Credentials"]["SessionToken"].is_string());

    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "AssumeRole body",
            "InvalidParameterException",
            Box::new(|b: &mut Value, _: &mut serde_json::Map<String, Value>| {
                b["IamRequestBody"] = json!(base64::engine::general_purpose::STANDARD.encode(
                "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/admin&RoleSessionName=x"
            ));
            }),
        ),
        (
            "stale X-Amz-Date",
            "AccessDeniedException",
            Box::new(|_: &mut Value, h: &mut serde_json::Map<String, Value>| {
                let stale = time::OffsetDateTime::now_utc() - time::Duration::minutes(20);
                h.insert(
                    "X-Amz-Date".into(),
                    json!(stale
                        .format(time::macros::format_description!(
                            "[year][month][day]T[hour][minute][second]Z"
                        ))
                        .unwrap()),
                );
            }),
        ),
        (
            "wrong audience",
            "AccessDeniedException",
            Box::new(|_: &mut Value, h: &mut serde_json::Map<String, Value>| {
                h.insert("X-Coffer-Login-Audience".into(), json!("another-coffer"));
            }),
        ),
        (
            "another STS host",
            "InvalidParameterException",
            Box::new(|b: &mut Value, _: &mut serde_json::Map<String, Value>| {
                b["IamRequestUrl"] =
                    json!(base64::engine::general_purpose::STANDARD
                        .encode("https://sts.amazonaws.com/"));
            }),
        ),
        (
            "GET",
            "InvalidParameterException",
            Box::new(|b: &mut Value, _: &mut serde_json::Map<String, Value>| {
                b["IamHttpRequestMethod"] = json!("GET");
            }),
        ),
    ];
    for (what, code, edit) in cases {
        let refused = raw_login(&setup, edit);
        let body = refused.json();
        assert_eq!(refused.status, 400, "{what}: {body:?}");
        assert_eq!(body["__type"], code, "{what}: {body:?}");
        assert!(body.get("Credentials").is_none(), "{what}");
    }
    // Each refusal is one audit event with its code and no caller.
    let refusals: Vec<Value> = audit_events(&setup.server)
        .into_iter()
        .filter(|e| e["eventName"] == "LoginWithIam" && !e["errorCode"].is_null())
        .collect();
    assert_eq!(refusals.len(), 5, "{refusals:?}");
    assert!(refusals
        .iter()
        .all(|e| e["userIdentity"]["arn"].is_null() || e["userIdentity"]["arn"] == ""));
}

#[tokio::test]
async fn login_sessions_expire() {
    let Some(setup) = setup(&["--sts-min-duration-secs", "2"]).await else {
        return;
    };
    let root = setup.server.default_client();
    let name = unique_name("iam-expiry");
    let (arn, _) = create_string_secret(&root, &name, "v").await;
    let put = admin(
        &setup.server,
        "PutIamIdentityPolicy",
        json!({"IamArn": role_arn(), "PolicyName": "read", "PolicyDocument": allow_read(&arn)}),
    );
    assert_eq!(put.status, 200, "{:?}", put.json());
    let creds = login(&setup, &["--duration-seconds", "3"]);
    let client = sdk_client(&setup, &creds);
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("fresh session reads");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    expect_error(
        client.get_secret_value().secret_id(&name).send().await,
        "ExpiredTokenException",
    );
}
