//! Access control end to end: users created through the `coffer.*` admin API, their access keys
//! used by the Rust SDK, identity policies, resource policies and `coffer:JsonKey`. They run on
//! both backends (`COFFER_E2E_BACKEND=aws`: principals in the DynamoDB table; the cross-account
//! test, which makes a customer key with the keyring CLI, on the embedded one); they need a server
//! of their own (the admin API with its root key), so they skip against an external endpoint and
//! under the Lambda emulator.

use coffer_e2e::*;
use serde_json::{json, Value};

fn admin(server: &CofferServer, op: &str, body: Value) -> Value {
    server.admin(op, body)
}

/// A user with `policy` attached and its keys.
fn user_with_policy(server: &CofferServer, name: &str, policy: Value) -> (String, String) {
    admin(server, "CreateUser", json!({"UserName": name}));
    admin(
        server,
        "PutUserPolicy",
        json!({"UserName": name, "PolicyName": "p", "PolicyDocument": policy.to_string()}),
    );
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

fn allow(actions: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}
    ]})
}

#[tokio::test]
async fn read_only_user_get_allowed_put_denied() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let name = unique_name("ro");
    root.create_secret()
        .name(&name)
        .secret_string("v1")
        .send()
        .await
        .unwrap();
    let (ak, sk) = user_with_policy(
        &server,
        "reader",
        allow(json!(["secretsmanager:GetSecretValue"])),
    );
    let user = server.client_with_credentials(&server.region(), &ak, &sk);
    let got = user
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some("v1"));
    let err = expect_error(
        user.put_secret_value()
            .secret_id(&name)
            .secret_string("v2")
            .send()
            .await,
        "AccessDeniedException",
    );
    let message = err.meta().message().unwrap_or_default().to_string();
    assert!(
        message.contains("user/reader is not authorized to perform: secretsmanager:PutSecretValue")
            && message.contains("because no identity-based policy allows"),
        "{message}"
    );
    // Same answer for a secret that does not exist.
    let missing = expect_error(
        user.put_secret_value()
            .secret_id("no-such-secret")
            .secret_string("v2")
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(missing
        .meta()
        .message()
        .unwrap_or_default()
        .contains("no-such-secret"));
}

#[tokio::test]
async fn explicit_deny_beats_allow() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let name = unique_name("deny");
    root.create_secret()
        .name(&name)
        .secret_string("v")
        .send()
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    ]});
    let (ak, sk) = user_with_policy(&server, "denied", policy);
    let user = server.client_with_credentials(&server.region(), &ak, &sk);
    user.describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    let err = expect_error(
        user.get_secret_value().secret_id(&name).send().await,
        "AccessDeniedException",
    );
    assert!(err
        .meta()
        .message()
        .unwrap_or_default()
        .contains("with an explicit deny in an identity-based policy"));
}

#[tokio::test]
async fn resource_tag_condition_grants_by_team() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let ours = unique_name("team-a");
    let theirs = unique_name("team-b");
    for (name, team) in [(&ours, "a"), (&theirs, "b")] {
        root.create_secret()
            .name(name)
            .secret_string("v")
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("team")
                    .value(team)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "a"}}
    }]});
    let (ak, sk) = user_with_policy(&server, "teama", policy);
    let user = server.client_with_credentials(&server.region(), &ak, &sk);
    user.get_secret_value()
        .secret_id(&ours)
        .send()
        .await
        .unwrap();
    expect_error(
        user.get_secret_value().secret_id(&theirs).send().await,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn json_key_restricted_read_returns_only_allowed_keys() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let name = unique_name("json");
    root.create_secret()
        .name(&name)
        .secret_string(r#"{"username":"app","password":"s3cr3t","host":"db"}"#)
        .send()
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"coffer:JsonKey": ["username", "host"]}}
    }, {
        "Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"
    }]});
    let (ak, sk) = user_with_policy(&server, "keys", policy);
    let user = server.client_with_credentials(&server.region(), &ak, &sk);
    let got = user
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.secret_string(),
        Some(r#"{"username":"app","host":"db"}"#)
    );
    let batch = user
        .batch_get_secret_value()
        .secret_id_list(&name)
        .secret_id_list("no-such-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(
        batch.secret_values()[0].secret_string(),
        Some(r#"{"username":"app","host":"db"}"#)
    );
    assert_eq!(batch.errors().len(), 1);
}

#[tokio::test]
async fn block_public_policy_rejects_public_policy() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let name = unique_name("public");
    let created = root
        .create_secret()
        .name(&name)
        .secret_string("v")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap();
    // No condition, and three conditions that look narrowing but let the world in: a /00
    // prefix (read as /0), two halves of the address space, a variable that always matches.
    let conditions = [
        None,
        Some(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/00"}})),
        Some(json!({"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}})),
        Some(json!({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}})),
    ];
    for condition in conditions {
        let mut statement = json!({
            "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
            "Resource": arn
        });
        if let Some(condition) = &condition {
            statement["Condition"] = condition.clone();
        }
        let policy = json!({"Version": "2012-10-17", "Statement": [statement]});
        let refused = expect_error(
            root.put_resource_policy()
                .secret_id(&name)
                .resource_policy(policy.to_string())
                .block_public_policy(true)
                .send()
                .await,
            "PublicPolicyException",
        );
        assert_eq!(
            refused.message(),
            Some(
                "The BlockPublicPolicy parameter is set to true, and the resource policy did not \
                 prevent broad access to the secret."
            ),
            "{condition:?}"
        );
        let stored = root
            .get_resource_policy()
            .secret_id(&name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            stored.resource_policy(),
            None,
            "{condition:?}: nothing stored"
        );
    }
    // Pinned to one account: not public, stored.
    let pinned = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}
    }]});
    root.put_resource_policy()
        .secret_id(&name)
        .resource_policy(pinned.to_string())
        .block_public_policy(true)
        .send()
        .await
        .expect("a policy pinned to one account is not public");
}

#[tokio::test]
async fn cross_account_read_needs_resource_and_identity_allow() {
    // Embedded only: it makes its customer key with the keyring CLI (`coffer keys create`).
    let Some(server) = CofferServer::start_local(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let owner = server.account_id().unwrap_or("111122223333").to_string();
    let other = "444455556666";
    // Shared secrets must be under a customer key (AWS's rule for the managed key).
    let alias = format!("alias/shared-{}", random_letters(8).to_lowercase());
    coffer_keys(&server, &["create", "--alias", &alias]);
    let resource_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{other}:root")},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"
    }]});
    let mut arns = Vec::new();
    for key in [Some(alias.as_str()), None] {
        let created = root
            .create_secret()
            .name(unique_name("shared"))
            .set_kms_key_id(key.map(str::to_string))
            .secret_string("shared-value")
            .send()
            .await
            .unwrap();
        let arn = created.arn().unwrap().to_string();
        root.put_resource_policy()
            .secret_id(&arn)
            .resource_policy(resource_policy.to_string())
            .send()
            .await
            .unwrap();
        arns.push(arn);
    }
    let (arn, default_key_arn) = (&arns[0], &arns[1]);
    // Users in the second account, created by this server's root through `Account`.
    let make = |user: &str, policy: Value| {
        admin(
            &server,
            "CreateUser",
            json!({"UserName": user, "Account": other}),
        );
        admin(
            &server,
            "PutUserPolicy",
            json!({"UserName": user, "Account": other, "PolicyName": "p",
                   "PolicyDocument": policy.to_string()}),
        );
        let key = admin(
            &server,
            "CreateAccessKey",
            json!({"UserName": user, "Account": other}),
        );
        server.client_with_credentials(
            &server.region(),
            key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        )
    };
    let allowed = make("xreader", allow(json!("secretsmanager:GetSecretValue")));
    let without = make("xnothing", allow(json!("secretsmanager:DescribeSecret")));
    let got = allowed
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some("shared-value"));
    expect_error(
        without.get_secret_value().secret_id(arn).send().await,
        "AccessDeniedException",
    );
    // The same policies on a secret under the default key: refused with AWS's message.
    let err = expect_error(
        allowed
            .get_secret_value()
            .secret_id(default_key_arn)
            .send()
            .await,
        "AccessDeniedException",
    );
    assert!(
        format!("{err:?}").contains("encrypt the secret with the default KMS service key"),
        "{err:?}"
    );
    // The owner still reads it.
    root.get_secret_value()
        .secret_id(default_key_arn)
        .send()
        .await
        .unwrap();
    assert_ne!(owner, other);
}

#[tokio::test]
async fn resource_policy_that_locks_its_author_out_is_refused() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let root = server.default_client();
    let account = server.account_id().unwrap_or("111122223333").to_string();
    let name = unique_name("lockout");
    create_string_secret(&root, &name, "v").await;
    let deny_to_root = |action: &str| {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": action, "Resource": "*"
        }]})
        .to_string()
    };
    let err = expect_error(
        root.put_resource_policy()
            .secret_id(&name)
            .resource_policy(deny_to_root("secretsmanager:*"))
            .send()
            .await,
        "MalformedPolicyDocumentException",
    );
    assert!(
        format!("{err:?}").contains("will not allow you to update the resource policy"),
        "{err:?}"
    );
    // Nothing was stored.
    let policy = root
        .get_resource_policy()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(policy.resource_policy(), None);
    // Denying something else is fine.
    root.put_resource_policy()
        .secret_id(&name)
        .resource_policy(deny_to_root("secretsmanager:DeleteSecret"))
        .send()
        .await
        .unwrap();
    expect_error(
        root.delete_secret().secret_id(&name).send().await,
        "AccessDeniedException",
    );
}

#[tokio::test]
async fn wrong_secret_key_and_tampered_signature_rejected() {
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    let (ak, _) = user_with_policy(&server, "signer", allow(json!("secretsmanager:*")));
    let wrong = server.client_with_credentials(&server.region(), &ak, "not-the-secret-key");
    expect_error(
        wrong.list_secrets().send().await,
        "InvalidSignatureException",
    );
    let unknown = server.client_with_credentials(&server.region(), "AKIAUNKNOWN000000000", "x");
    expect_error(
        unknown.list_secrets().send().await,
        "UnrecognizedClientException",
    );
    let tampered = server
        .raw_request("ListSecrets", &json!({}))
        .corrupt_signature()
        .send(&server.endpoint());
    assert_eq!(tampered.json()["__type"], "InvalidSignatureException");
}
