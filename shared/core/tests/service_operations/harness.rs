//! The service on the testkit fakes, and the helpers every module of the suite shares.

use async_trait::async_trait;
use coffer_core::audit::{AuditEventType, Caller};
use coffer_core::clock::Timestamp;
use coffer_core::identity::principals::{PrincipalRecord, PrincipalType};
use coffer_core::ids::Scope;
use coffer_core::operation::Operation;
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use coffer_core::Error;
use coffer_policy::PrincipalInfo;
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemoryPrincipalStore, InMemorySecretRepository};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The account every test acts in (as its root, unless it says otherwise).
pub const A: &str = "111111111111";
pub const REGION: &str = "us-east-1";
/// 2024-05-01T12:00:00Z: noon, so "the day of" and "midnight after N days" differ from T0.
pub const T0: i64 = 1_714_564_800_000;
pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;

/// AWS's fixed messages the suite checks word for word.
pub const SECRET_NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";
pub const TOKEN_REQUIRED: &str =
    "You must provide a ClientRequestToken value. We recommend a UUID-type value.";
pub const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";
pub const BOTH_VALUES: &str =
    "You can't specify both a binary secret value and a string secret value in the same secret.";

thread_local! {
    /// The operations this thread sent through [`Harness::call_as`]: the coverage check runs
    /// each registered test and reads this to prove the test calls its operation.
    static CALLED: RefCell<BTreeSet<Operation>> = const { RefCell::new(BTreeSet::new()) };
}

/// Empties and returns the operations called on this thread so far.
pub fn take_called() -> BTreeSet<Operation> {
    CALLED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

/// Epoch seconds, as the JSON protocol sends timestamps.
pub fn secs(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// A well-formed `ClientRequestToken` (36 characters), distinct per `n`.
pub fn token(n: u32) -> String {
    format!("{n:08}-0000-4000-8000-000000000000")
}

/// A Lambda function ARN of account A.
pub fn lambda(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{A}:function:{name}")
}

/// The secret's ARN without its random suffix (a partial ARN).
pub fn partial(arn: &str) -> String {
    arn[..arn.len() - 7].to_string()
}

/// Asserts an error's code and exact message.
pub fn expect_error(e: &Error, code: &str, message: &str) {
    assert_eq!(
        (e.code(), e.message()),
        (code, message),
        "expected {code}: {message}"
    );
}

/// Keeps every rotation job it is handed; refuses them while `refuse` is set.
#[derive(Default)]
pub struct RecordingInvoker {
    jobs: Mutex<Vec<RotationJob>>,
    pub refuse: AtomicBool,
}

#[async_trait]
impl RotationInvoker for RecordingInvoker {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(RotationStartError("the function cannot be invoked".into()));
        }
        self.jobs.lock().unwrap().push(job);
        Ok(())
    }
}

/// One `SecretsService` on fresh fakes, and the root of account A to call it as.
pub struct Harness {
    pub service: SecretsService,
    pub keys: Arc<InMemoryKeyProvider>,
    pub principals: Arc<InMemoryPrincipalStore>,
    pub clock: Arc<ManualClock>,
    pub audit: Arc<RecordingAudit>,
    pub invoker: Arc<RecordingInvoker>,
    pub root: RequestContext,
    tokens: AtomicU32,
}

fn caller(principal_arn: &str) -> Caller {
    Caller {
        identity_type: "Root".into(),
        principal_arn: principal_arn.into(),
        account_id: A.into(),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
    }
}

impl Harness {
    pub fn new() -> Harness {
        let repository = Arc::new(InMemorySecretRepository::new());
        let keys = Arc::new(InMemoryKeyProvider::new());
        let principals = Arc::new(InMemoryPrincipalStore::new());
        let clock = Arc::new(ManualClock::at(T0));
        let audit = Arc::new(RecordingAudit::default());
        let invoker = Arc::new(RecordingInvoker::default());
        let service = SecretsService::new(
            Ports {
                repository: repository.clone(),
                keys: keys.clone(),
                audit: audit.clone(),
                metrics: Arc::new(NoMetrics),
                rotation: invoker.clone(),
                clock: clock.clone(),
                random: Arc::new(CountingRandom::default()),
            },
            ServiceConfig {
                paging_key: [7; 32],
                audit_required: true,
            },
        )
        .with_principals(principals.clone());
        let root = RequestContext::root(
            Scope::new(REGION, A),
            caller(&format!("arn:aws:iam::{A}:root")),
            "service-operations",
        );
        Harness {
            service,
            keys,
            principals,
            clock,
            audit,
            invoker,
            root,
            tokens: AtomicU32::new(1),
        }
    }

    pub async fn call_as(
        &self,
        ctx: &RequestContext,
        op: Operation,
        body: &Value,
    ) -> Result<Value, Error> {
        CALLED.with(|c| c.borrow_mut().insert(op));
        self.service
            .handle(ctx, op, body.to_string().as_bytes())
            .await
    }

    pub async fn call(&self, op: Operation, body: Value) -> Result<Value, Error> {
        self.call_as(&self.root, op, &body).await
    }

    /// The response of a call that must succeed.
    pub async fn ok(&self, op: Operation, body: Value) -> Value {
        match self.call(op, body.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{op} {body} failed: {} {}", e.code(), e.message()),
        }
    }

    /// The error of a call that must fail.
    pub async fn err(&self, op: Operation, body: Value) -> Error {
        match self.call(op, body.clone()).await {
            Ok(v) => panic!("{op} {body} succeeded: {v}"),
            Err(e) => e,
        }
    }

    /// A fresh well-formed `ClientRequestToken`.
    pub fn token(&self) -> String {
        token(1000 + self.tokens.fetch_add(1, Ordering::SeqCst))
    }

    /// Creates a string secret; returns its ARN and first version id.
    pub async fn create(&self, name: &str, value: &str) -> (String, String) {
        let version = self.token();
        let out = self
            .ok(
                Operation::CreateSecret,
                json!({"Name": name, "SecretString": value, "ClientRequestToken": version}),
            )
            .await;
        (out["ARN"].as_str().unwrap().to_string(), version)
    }

    /// Puts a new AWSCURRENT string value; returns its version id.
    pub async fn put(&self, id: &str, value: &str) -> String {
        let version = self.token();
        self.ok(
            Operation::PutSecretValue,
            json!({"SecretId": id, "SecretString": value, "ClientRequestToken": version}),
        )
        .await;
        version
    }

    pub async fn describe(&self, id: &str) -> Value {
        self.ok(Operation::DescribeSecret, json!({"SecretId": id}))
            .await
    }

    /// `VersionIdsToStages` of DescribeSecret, each label list sorted.
    pub async fn stages(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let described = self.describe(id).await;
        let map: BTreeMap<String, Vec<String>> = described
            .get("VersionIdsToStages")
            .map(|m| serde_json::from_value(m.clone()).unwrap())
            .unwrap_or_default();
        map.into_iter()
            .map(|(id, mut labels)| {
                labels.sort();
                (id, labels)
            })
            .collect()
    }

    /// The AWSCURRENT `SecretString`.
    pub async fn current(&self, id: &str) -> String {
        let got = self
            .ok(Operation::GetSecretValue, json!({"SecretId": id}))
            .await;
        got["SecretString"].as_str().unwrap().to_string()
    }

    /// How many versions the secret has, deprecated ones included.
    pub async fn version_count(&self, id: &str) -> usize {
        let mut count = 0;
        let mut body = json!({"SecretId": id, "IncludeDeprecated": true});
        loop {
            let listed = self.ok(Operation::ListSecretVersionIds, body.clone()).await;
            count += listed["Versions"].as_array().unwrap().len();
            match listed.get("NextToken") {
                Some(next) => body["NextToken"] = next.clone(),
                None => return count,
            }
        }
    }

    pub fn advance(&self, millis: i64) {
        self.clock.advance(millis);
    }

    /// The names of the service events (`AwsServiceEvent`) recorded so far, in order.
    pub fn service_events(&self) -> Vec<String> {
        self.audit
            .events()
            .into_iter()
            .filter(|e| e.event_type == AuditEventType::AwsServiceEvent)
            .map(|e| e.event_name)
            .collect()
    }

    /// The rotation jobs handed to the invoker so far.
    pub fn jobs(&self) -> Vec<RotationJob> {
        self.invoker.jobs.lock().unwrap().clone()
    }

    /// A user of account A whose only identity policy is `policy`, and its request context.
    pub async fn user(&self, name: &str, policy: Value) -> RequestContext {
        let id = format!("AIDA{}", name.to_uppercase());
        self.principals
            .insert_principal(&PrincipalRecord {
                account: A.into(),
                kind: PrincipalType::User,
                name: name.into(),
                id: id.clone(),
                tags: vec![],
                assume_role_policy: None,
                policies: BTreeMap::from([("p".to_string(), policy.to_string())]),
                created: Timestamp(T0),
            })
            .await
            .unwrap();
        let principal = PrincipalInfo::user(A, name, &id);
        RequestContext {
            scope: Scope::new(REGION, A),
            caller: caller(&principal.arn),
            request_id: format!("as-{name}"),
            principal,
            source_ip: None,
            secure_transport: true,
        }
    }
}

/// An identity policy allowing `actions` on `resource`.
pub fn allow(actions: &[&str], resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resource}]})
}

/// A resource policy letting `principal` run `action` on the secret.
pub fn grant(principal: &str, action: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Grant", "Effect": "Allow",
        "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}]})
    .to_string()
}
