//! Temporary credentials end to end: STS AssumeRole on Coffer's endpoint (the AWS CLI's `aws sts
//! assume-role --endpoint-url` and the Rust SDK's STS client), the role's trust policy, the
//! session's credentials used with the Secrets Manager SDK (role policies decide), a tampered
//! session token, and expiry. They run on both backends (`COFFER_E2E_BACKEND=aws`: roles in the
//! DynamoDB table, access-key secrets under the KMS key); they need a server process of their own
//! (options, logs), so they skip against an external endpoint and under the Lambda emulator.

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use base64::Engine;
use coffer_e2e::*;
use serde_json::{json, Value};

fn admin(server: &CofferServer, op: &str, body: Value) -> Value {
    server.admin(op, body)
}

fn user(server: &CofferServer, name: &str, policy: Option<Value>) -> (String, String) {
    admin(server, "CreateUser", json!({"UserName": name}));
    if let Some(policy) = policy {
        admin(
            server,
            "PutUserPolicy",
            json!({"UserName": name, "PolicyName": "p", "PolicyDocument": policy.to_string()}),
        );
    }
    let key = admin(server, "CreateAccessKey", json!({"UserName": name}));
    (
        key["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string(),
        key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// A role trusting `principal` (an ARN), allowed to read `secret` only. Returns its ARN.
fn role(server: &CofferServer, name: &str, principal: &str, secret: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]});
    let created = admin(
        server,
        "CreateRole",
        json!({"RoleName": name, "AssumeRolePolicyDocument": trust.to_string()}),
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret}]});
    admin(
        server,
        "PutRolePolicy",
        json!({"RoleName": name, "PolicyName": "read", "PolicyDocument": policy.to_string()}),
    );
    created["Role"]["Arn"].as_str().unwrap().to_string()
}

fn sts_client(
    server: &CofferServer,
    ak: &str,
    sk: &str,
    token: Option<&str>,
) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(server.region()))
        .endpoint_url(server.endpoint())
        .credentials_provider(Credentials::new(
            ak,
            sk,
            token.map(str::to_string),
            None,
            "coffer-e2e",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

fn session_client(
    server: &CofferServer,
    ak: &str,
    sk: &str,
    token: &str,
) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(server.region()))
        .endpoint_url(server.endpoint())
        .credentials_provider(Credentials::new(
            ak,
            sk,
            Some(token.to_string()),
            None,
            "coffer-e2e",
        ))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

struct Session {
    ak: String,
    sk: String,
    token: String,
    arn: String,
}

async fn assume(
    server: &CofferServer,
    ak: &str,
    sk: &str,
    role_arn: &str,
    duration: Option<i32>,
) -> Session {
    let out = sts_client(server, ak, sk, None)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("e2e-session")
        .set_duration_seconds(duration)
        .send()
        .await
        .expect("AssumeRole");
    let c = out.credentials().unwrap();
    Session {
        ak: c.access_key_id().to_string(),
        sk: c.secret_access_key().to_string(),
        token: c.session_token().to_string(),
        arn: out.assumed_role_user().unwrap().arn().to_string(),
    }
}

async fn two_secrets(server: &CofferServer) -> (String, String) {
    let root = server.default_client();
    let (allowed, other) = (unique_name("sts-ok"), unique_name("sts-no"));
    for name in [&allowed, &other] {
        root.create_secret()
            .name(name)
            .secret_string("v")
            .send()
            .await
            .unwrap();
    }
    let arn = root
        .describe_secret()
        .secret_id(&allowed)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    (arn, other)
}

#[tokio::test]
async fn assumed_role_session_reads_what_the_role_allows() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let account = server.account_id().unwrap_or("000000000000").to_string();
    let (secret_arn, other) = two_secrets(&server).await;
    let (ak, sk) = user(&server, "alice", None);
    let role_arn = role(
        &server,
        "reader",
        &format!("arn:aws:iam::{account}:user/alice"),
        &secret_arn,
    );

    let s = assume(&server, &ak, &sk, &role_arn, Some(900)).await;
    assert!(s.ak.starts_with("ASIA"), "{}", s.ak);
    assert_eq!(
        s.arn,
        format!("arn:aws:sts::{account}:assumed-role/reader/e2e-session")
    );

    let who = sts_client(&server, &s.ak, &s.sk, Some(&s.token))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some(s.arn.as_str()));
    assert_eq!(who.account(), Some(account.as_str()));

    let client = session_client(&server, &s.ak, &s.sk, &s.token);
    let value = client
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some("v"));
    let e = expect_error(
        client.get_secret_value().secret_id(&other).send().await,
        "AccessDeniedException",
    );
    let message = format!("{e:?}");
    assert!(message.contains(&s.arn), "{message}");
    expect_error(client.list_secrets().send().await, "AccessDeniedException");

    // The session's secret never reaches the log.
    let log = server.log_text();
    assert!(!log.contains(&s.sk) && !log.contains(&s.token));

    // The audit trail has the STS calls as CloudTrail logs them, without the secret or token.
    let events = server.audit_events();
    let trail = serde_json::to_string(&events).unwrap();
    assert!(!trail.contains(&s.sk) && !trail.contains(&s.token));
    let assumed = events
        .iter()
        .find(|e| e["eventName"] == "AssumeRole" && e["errorCode"].is_null())
        .expect("an AssumeRole event");
    assert_eq!(assumed["eventSource"], "sts.amazonaws.com");
    assert_eq!(
        assumed["userIdentity"]["arn"],
        format!("arn:aws:iam::{account}:user/alice")
    );
    assert_eq!(assumed["requestParameters"]["roleArn"], role_arn.as_str());
    assert_eq!(
        assumed["requestParameters"]["roleSessionName"],
        "e2e-session"
    );
    assert_eq!(
        assumed["responseElements"]["credentials"]["accessKeyId"],
        s.ak.as_str()
    );
    assert_eq!(
        assumed["responseElements"]["assumedRoleUser"]["arn"],
        s.arn.as_str()
    );
    assert_eq!(assumed["resources"][0]["ARN"], role_arn.as_str());
    assert_eq!(assumed["resources"][0]["type"], "AWS::IAM::Role");
    assert_eq!(assumed["readOnly"], false);
    let who_event = events
        .iter()
        .find(|e| e["eventName"] == "GetCallerIdentity")
        .expect("a GetCallerIdentity event");
    assert_eq!(who_event["eventSource"], "sts.amazonaws.com");
    assert_eq!(who_event["readOnly"], true);
    assert_eq!(who_event["userIdentity"]["arn"], s.arn.as_str());
    assert_eq!(who_event["userIdentity"]["accessKeyId"], s.ak.as_str());
}

#[tokio::test]
async fn untrusted_user_and_bad_requests_are_refused() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let account = server.account_id().unwrap_or("000000000000").to_string();
    let (secret_arn, _) = two_secrets(&server).await;
    user(&server, "alice", None);
    let (bk, bs) = user(&server, "bob", None);
    let role_arn = role(
        &server,
        "reader",
        &format!("arn:aws:iam::{account}:user/alice"),
        &secret_arn,
    );
    let bob = sts_client(&server, &bk, &bs, None);
    let e = bob
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("bob")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("AccessDenied"), "{e:?}");
    assert!(format!("{e:?}").contains(&format!("arn:aws:iam::{account}:user/bob")));
    // A role that does not exist is refused the same way.
    let e = bob
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/nope"))
        .role_session_name("bob")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("AccessDenied"));

    // Trust naming the account root: a user also needs an identity policy allowing AssumeRole.
    let root_trust = role(
        &server,
        "account-trusted",
        &format!("arn:aws:iam::{account}:root"),
        &secret_arn,
    );
    let e = bob
        .assume_role()
        .role_arn(&root_trust)
        .role_session_name("bob")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("AccessDenied"));
    let (ck, cs) = user(
        &server,
        "carol",
        Some(json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": root_trust}]})),
    );
    assume(&server, &ck, &cs, &root_trust, None).await;
    // Root of the account is trusted by that role too.
    let (rk, rs) = server.credentials();
    assume(&server, &rk, &rs, &root_trust, None).await;

    // Validation: duration below AWS's minimum, a bad session name.
    let e = bob
        .assume_role()
        .role_arn(&root_trust)
        .role_session_name("bob")
        .duration_seconds(60)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("ValidationError"));
}

#[tokio::test]
async fn tampered_session_token_is_unrecognized() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let account = server.account_id().unwrap_or("000000000000").to_string();
    let (secret_arn, _) = two_secrets(&server).await;
    let (ak, sk) = user(&server, "alice", None);
    let role_arn = role(
        &server,
        "reader",
        &format!("arn:aws:iam::{account}:user/alice"),
        &secret_arn,
    );
    let s = assume(&server, &ak, &sk, &role_arn, None).await;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&s.token)
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let tampered = base64::engine::general_purpose::STANDARD.encode(&raw);
    let client = session_client(&server, &s.ak, &s.sk, &tampered);
    expect_error(
        client
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await,
        "UnrecognizedClientException",
    );
    // Another session's token with this key id does not pass either.
    let s2 = assume(&server, &ak, &sk, &role_arn, None).await;
    let client = session_client(&server, &s.ak, &s.sk, &s2.token);
    expect_error(
        client
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await,
        "UnrecognizedClientException",
    );
    // The right token but a wrong secret: the signature does not match.
    let client = session_client(&server, &s.ak, &s2.sk, &s.token);
    expect_error(
        client
            .get_secret_value()
            .secret_id(&secret_arn)
            .send()
            .await,
        "InvalidSignatureException",
    );
}

#[tokio::test]
async fn session_credentials_stop_working_at_expiry() {
    let Some(server) = CofferServer::start_process(
        ServerOptions::default().args(&["--sts-min-duration-secs", "2"]),
    ) else {
        return;
    };
    let account = server.account_id().unwrap_or("000000000000").to_string();
    let (secret_arn, _) = two_secrets(&server).await;
    let (ak, sk) = user(&server, "alice", None);
    let role_arn = role(
        &server,
        "reader",
        &format!("arn:aws:iam::{account}:user/alice"),
        &secret_arn,
    );
    let s = assume(&server, &ak, &sk, &role_arn, Some(3)).await;
    let client = session_client(&server, &s.ak, &s.sk, &s.token);
    client
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("works before expiry");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let e = client
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap_err();
    let raw = e.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 400);
    expect_error(Err::<(), _>(e), "ExpiredTokenException");
    // STS answers with its own code.
    let e = sts_client(&server, &s.ak, &s.sk, Some(&s.token))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("ExpiredToken"), "{e:?}");
}

/// `aws sts assume-role --endpoint-url` (the repo's .venv AWS CLI), then the CLI reading the
/// secret with the temporary credentials.
#[tokio::test]
async fn aws_cli_assume_role() {
    let cli = workspace_root().join(".venv/bin/aws");
    if !cli.exists() {
        eprintln!("skipping: no AWS CLI at {}", cli.display());
        return;
    }
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let account = server.account_id().unwrap_or("000000000000").to_string();
    let (secret_arn, _) = two_secrets(&server).await;
    let (ak, sk) = user(&server, "alice", None);
    let role_arn = role(
        &server,
        "reader",
        &format!("arn:aws:iam::{account}:user/alice"),
        &secret_arn,
    );
    let run = |args: &[&str], creds: (&str, &str, Option<&str>)| {
        let mut cmd = std::process::Command::new(&cli);
        cmd.args(["--endpoint-url", &server.endpoint(), "--output", "json"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", server.region())
            .env("AWS_ACCESS_KEY_ID", creds.0)
            .env("AWS_SECRET_ACCESS_KEY", creds.1);
        if let Some(token) = creds.2 {
            cmd.env("AWS_SESSION_TOKEN", token);
        }
        let out = cmd.output().expect("aws CLI runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "cli",
        ],
        (&ak, &sk, None),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    let c = &out["Credentials"];
    let (sak, ssk, token) = (
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
        c["SessionToken"].as_str().unwrap(),
    );
    assert!(c["Expiration"].as_str().is_some());
    assert_eq!(
        out["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/reader/cli")
    );
    let (code, stdout, stderr) = run(
        &[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            &secret_arn,
        ],
        (sak, ssk, Some(token)),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"SecretString\": \"v\""), "{stdout}");
    let (code, _, stderr) = run(
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "xy",
        ],
        ("AKIAUNKNOWN000000000", "nope", None),
    );
    assert_ne!(code, Some(0));
    assert!(stderr.contains("InvalidClientTokenId"), "{stderr}");
}
