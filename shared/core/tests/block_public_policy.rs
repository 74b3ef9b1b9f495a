//! PutResourcePolicy with `BlockPublicPolicy` through `SecretsService::handle` on the testkit
//! fakes: a public policy is refused with the exact wire error (`PublicPolicyException` and
//! its message) and nothing is stored; a policy narrowed to known callers is stored; without
//! `BlockPublicPolicy` a public policy is stored. The rule itself is tested in coffer-policy
//! (`shared/policy/tests/public_policies.rs`).

use async_trait::async_trait;
use coffer_core::audit::Caller;
use coffer_core::ids::Scope;
use coffer_core::operation::Operation;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemorySecretRepository};
use serde_json::{json, Value};
use std::sync::Arc;

const ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";

/// The wire error for a public policy, byte for byte (AWS's `PublicPolicyException` text).
const PUBLIC_MESSAGE: &str = "The BlockPublicPolicy parameter is set to true, and the resource \
                              policy did not prevent broad access to the secret.";

struct Accepting;
#[async_trait]
impl RotationInvoker for Accepting {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Ok(())
    }
}

fn root() -> RequestContext {
    let caller = Caller {
        identity_type: "Root".into(),
        principal_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        account_id: ACCOUNT.into(),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
    };
    RequestContext::root(Scope::new(REGION, ACCOUNT), caller, "block-public-policy")
}

async fn service_with_secret() -> SecretsService {
    let keys = Arc::new(InMemoryKeyProvider::new());
    let service = SecretsService::new(
        Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys,
            audit: Arc::new(RecordingAudit::default()),
            metrics: Arc::new(NoMetrics),
            rotation: Arc::new(Accepting),
            clock: Arc::new(ManualClock::at(1_714_564_800_000)),
            random: Arc::new(CountingRandom::default()),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required: true,
        },
    );
    call(
        &service,
        Operation::CreateSecret,
        json!({"Name": "db", "SecretString": "v",
               "ClientRequestToken": "11111111-1111-4111-8111-111111111111"}),
    )
    .await
    .unwrap();
    service
}

async fn call(
    service: &SecretsService,
    op: Operation,
    body: Value,
) -> Result<Value, coffer_core::Error> {
    service
        .handle(&root(), op, body.to_string().as_bytes())
        .await
}

fn policy(condition: Value) -> String {
    let mut statement = json!({"Effect": "Allow", "Principal": "*",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"});
    if !condition.is_null() {
        statement["Condition"] = condition;
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

async fn stored_policy(service: &SecretsService) -> Option<String> {
    let got = call(
        service,
        Operation::GetResourcePolicy,
        json!({"SecretId": "db"}),
    )
    .await
    .unwrap();
    got.get("ResourcePolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[tokio::test]
async fn block_public_policy_refuses_public_policies_with_the_wire_error() {
    for condition in [
        Value::Null,
        json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/00"}}),
        json!({"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}),
        json!({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}),
        json!({"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}),
    ] {
        let service = service_with_secret().await;
        let err = call(
            &service,
            Operation::PutResourcePolicy,
            json!({"SecretId": "db", "ResourcePolicy": policy(condition.clone()),
                   "BlockPublicPolicy": true}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "PublicPolicyException", "{condition}");
        assert_eq!(err.message(), PUBLIC_MESSAGE, "{condition}");
        assert_eq!(stored_policy(&service).await, None, "{condition}");
    }
}

#[tokio::test]
async fn block_public_policy_stores_narrowed_policies() {
    for condition in [
        json!({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    ] {
        let service = service_with_secret().await;
        let document = policy(condition.clone());
        call(
            &service,
            Operation::PutResourcePolicy,
            json!({"SecretId": "db", "ResourcePolicy": document, "BlockPublicPolicy": true}),
        )
        .await
        .unwrap_or_else(|e| panic!("{condition}: {e:?}"));
        assert_eq!(stored_policy(&service).await, Some(document), "{condition}");
    }
}

#[tokio::test]
async fn block_public_policy_unset_stores_public_policy() {
    for block in [None, Some(false)] {
        let service = service_with_secret().await;
        let document = policy(Value::Null);
        let mut body = json!({"SecretId": "db", "ResourcePolicy": document});
        if let Some(block) = block {
            body["BlockPublicPolicy"] = json!(block);
        }
        call(&service, Operation::PutResourcePolicy, body)
            .await
            .unwrap();
        assert_eq!(stored_policy(&service).await, Some(document), "{block:?}");
    }
}
