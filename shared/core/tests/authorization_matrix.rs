//! The authorization matrix: every Secrets Manager operation (generated from [`Operation`], so a
//! new operation cannot ship without its rows) × every kind of caller × every shape of body,
//! driven through `SecretsService::handle` on the testkit fakes (no HTTP, no process).
//!
//! Each cell asserts the exact outcome — success, `AccessDeniedException`,
//! `ResourceNotFoundException`, the validation error, or the retryable `ThrottlingException` of
//! a failing store — and that a refused call changed nothing and returned no secret data.

use async_trait::async_trait;
use coffer_core::audit::Caller;
use coffer_core::clock::Timestamp;
use coffer_core::identity::principals::{PrincipalRecord, PrincipalType};
use coffer_core::ids::Scope;
use coffer_core::operation::{Api, Operation};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::{
    RepositoryError, RotationInvoker, RotationJob, RotationStartError, SecretRepository,
};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use coffer_policy::PrincipalInfo;
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{
    InMemoryKeyProvider, InMemoryPrincipalStore, InMemorySecretRepository, RepoOp,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const A: &str = "111111111111";
const B: &str = "222222222222";
const REGION: &str = "us-east-1";
const CANARY: &str = "canary-matrix-value";
const FIRST_VERSION: &str = "11111111-1111-4111-8111-111111111111";
const T0: i64 = 1_714_564_800_000;

struct Accepting;
#[async_trait]
impl RotationInvoker for Accepting {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Ok(())
    }
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The holder of the server's root credentials (account A).
    ServerRoot,
    /// A user of A allowed `secretsmanager:*`.
    UserAllowed,
    /// A user of A whose only policy denies `secretsmanager:*`.
    UserDenied,
    /// A user of A without policies.
    UserWithoutPolicy,
    /// `arn:aws:iam::B:root` as AWS verified it (LoginWithIam, API Gateway IAM).
    OtherRootVerifiedByAws,
    /// A user of B allowed `secretsmanager:*`, named by the secret's resource policy.
    OtherUserWithResourcePolicy,
    /// A user of B allowed `secretsmanager:*`, not named by any resource policy.
    OtherUserWithoutResourcePolicy,
}

const CALLERS: [Who; 7] = [
    Who::ServerRoot,
    Who::UserAllowed,
    Who::UserDenied,
    Who::UserWithoutPolicy,
    Who::OtherRootVerifiedByAws,
    Who::OtherUserWithResourcePolicy,
    Who::OtherUserWithoutResourcePolicy,
];

impl Who {
    fn principal(self) -> PrincipalInfo {
        match self {
            Who::ServerRoot => PrincipalInfo::root(A),
            Who::UserAllowed => PrincipalInfo::user(A, "alice", "AIDAALICE"),
            Who::UserDenied => PrincipalInfo::user(A, "dave", "AIDADAVE"),
            Who::UserWithoutPolicy => PrincipalInfo::user(A, "nobody", "AIDANOBODY"),
            Who::OtherRootVerifiedByAws => {
                PrincipalInfo::verified_by_aws(&format!("arn:aws:iam::{B}:root")).unwrap()
            }
            Who::OtherUserWithResourcePolicy => PrincipalInfo::user(B, "bob", "AIDABOB"),
            Who::OtherUserWithoutResourcePolicy => PrincipalInfo::user(B, "carol", "AIDACAROL"),
        }
    }

    /// The account the caller acts in, as the wire sets it.
    fn account(self) -> &'static str {
        match self {
            Who::ServerRoot | Who::UserAllowed | Who::UserDenied | Who::UserWithoutPolicy => A,
            _ => B,
        }
    }

    /// May the caller run Secrets Manager actions on resources of its own account (`*`)?
    fn allowed_in_own_account(self) -> bool {
        matches!(
            self,
            Who::ServerRoot
                | Who::UserAllowed
                | Who::OtherUserWithResourcePolicy
                | Who::OtherUserWithoutResourcePolicy
        )
    }

    /// May the caller act on the matrix secret (account A, resource policy naming bob)?
    fn allowed_on_target(self) -> bool {
        matches!(
            self,
            Who::ServerRoot | Who::UserAllowed | Who::OtherUserWithResourcePolicy
        )
    }

    /// May the caller act on a secret it names that does not exist?
    fn allowed_on_missing(self) -> bool {
        matches!(self, Who::ServerRoot | Who::UserAllowed)
    }
}

/// The shapes of body each operation is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    WellFormed,
    SecretIdMissing,
    SecretIdEmpty,
    SecretIdWrongType,
    SecretIdUnknown,
    SecretIdOfAnotherAccount,
    ExtraUnknownMembers,
    StoreThrottling,
}

const BODIES: [Body; 8] = [
    Body::WellFormed,
    Body::SecretIdMissing,
    Body::SecretIdEmpty,
    Body::SecretIdWrongType,
    Body::SecretIdUnknown,
    Body::SecretIdOfAnotherAccount,
    Body::ExtraUnknownMembers,
    Body::StoreThrottling,
];

/// How an operation's shape treats `SecretId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretIdMember {
    Required,
    Optional,
    /// Not in the shape: ignored like any unknown member.
    Absent,
    /// Replication: refused before anything is looked up.
    Unsupported,
}

fn policy(effect: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": "secretsmanager:*", "Resource": "*"}]})
    .to_string()
}

fn bob_resource_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{B}:user/bob")},
        "Action": "secretsmanager:*", "Resource": "*"}]})
    .to_string()
}

/// The well-formed body of `op` naming `secret_id`, and how its shape treats `SecretId`.
/// Exhaustive: a new operation needs its row here.
fn well_formed(op: Operation, secret_id: &str) -> (Value, SecretIdMember) {
    use Operation::*;
    use SecretIdMember::*;
    let id = |extra: Value| {
        let mut body = json!({"SecretId": secret_id});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        body
    };
    match op {
        CreateSecret => (
            json!({"Name": "matrix-new", "SecretString": "new-value",
                   "ClientRequestToken": "33333333-3333-4333-8333-333333333333"}),
            Absent,
        ),
        BatchGetSecretValue => (json!({"SecretIdList": [secret_id]}), Absent),
        ListSecrets => (json!({"MaxResults": 10}), Absent),
        GetRandomPassword => (json!({"PasswordLength": 20}), Absent),
        ValidateResourcePolicy => (
            id(json!({"ResourcePolicy": bob_resource_policy()})),
            Optional,
        ),
        DescribeSecret | GetSecretValue | ListSecretVersionIds | RestoreSecret
        | GetResourcePolicy | DeleteResourcePolicy | ListResourcePolicies | DeleteSecret
        | CancelRotateSecret => (id(json!({})), Required),
        PutSecretValue => (
            id(json!({"SecretString": "next-value",
                      "ClientRequestToken": "22222222-2222-4222-8222-222222222222"})),
            Required,
        ),
        UpdateSecret => (id(json!({"Description": "changed"})), Required),
        UpdateSecretVersionStage => (
            id(json!({"VersionStage": "MATRIX", "MoveToVersionId": FIRST_VERSION})),
            Required,
        ),
        TagResource => (id(json!({"Tags": [{"Key": "k", "Value": "v"}]})), Required),
        UntagResource => (id(json!({"TagKeys": ["team"]})), Required),
        PutResourcePolicy => (
            id(json!({"ResourcePolicy": bob_resource_policy()})),
            Required,
        ),
        RotateSecret => (
            id(
                json!({"RotationLambdaARN": format!("arn:aws:lambda:{REGION}:{A}:function:rot"),
                      "RotationRules": {"AutomaticallyAfterDays": 30},
                      "ClientRequestToken": "44444444-4444-4444-8444-444444444444"}),
            ),
            Required,
        ),
        ReplicateSecretToRegions
        | RemoveRegionsFromReplication
        | StopReplicationToReplica
        | AssociateCrossAccountReplica
        | DisassociateCrossAccountReplica => (id(json!({})), Unsupported),
        CreateUser
        | DeleteUser
        | ListUsers
        | CreateRole
        | DeleteRole
        | ListRoles
        | CreateAccessKey
        | DeleteAccessKey
        | ListAccessKeys
        | PutUserPolicy
        | PutRolePolicy
        | DeleteUserPolicy
        | DeleteRolePolicy
        | PutIamIdentityPolicy
        | GetIamIdentityPolicy
        | DeleteIamIdentityPolicy
        | ListIamIdentities
        | LoginWithIam
        | AssumeRole
        | GetCallerIdentity => unreachable!("{op} is not a Secrets Manager operation"),
    }
}

struct Fixture {
    service: SecretsService,
    repository: Arc<InMemorySecretRepository>,
    /// ARNs of the matrix secret (A, resource policy for bob), a plain secret of A and one of B.
    target_arn: String,
    plain_a_arn: String,
    b_arn: String,
}

fn ctx_for(who: Who) -> RequestContext {
    let principal = who.principal();
    RequestContext {
        scope: Scope::new(REGION, who.account()),
        caller: Caller {
            identity_type: principal.kind.audit_identity_type().into(),
            principal_arn: principal.arn.clone(),
            account_id: principal.account.clone(),
            access_key_id: None,
            source_ip: None,
            user_agent: None,
        },
        request_id: "matrix".into(),
        principal,
        source_ip: None,
        secure_transport: true,
    }
}

async fn user(store: &InMemoryPrincipalStore, account: &str, name: &str, doc: Option<String>) {
    let mut policies = BTreeMap::new();
    if let Some(doc) = doc {
        policies.insert("p".to_string(), doc);
    }
    store
        .insert_principal(&PrincipalRecord {
            account: account.into(),
            kind: PrincipalType::User,
            name: name.into(),
            id: format!("AIDA{}", name.to_uppercase()),
            tags: vec![],
            assume_role_policy: None,
            policies,
            created: Timestamp(T0),
        })
        .await
        .unwrap();
}

async fn call(
    service: &SecretsService,
    ctx: &RequestContext,
    op: Operation,
    body: &Value,
) -> Result<Value, coffer_core::Error> {
    service.handle(ctx, op, body.to_string().as_bytes()).await
}

async fn fixture() -> Fixture {
    let repository = Arc::new(InMemorySecretRepository::new());
    let keys = Arc::new(InMemoryKeyProvider::new());
    let key_a = keys.create_key(&Scope::new(REGION, A), Some("alias/matrix"));
    let key_b = keys.create_key(&Scope::new(REGION, B), Some("alias/matrix"));
    let principals = Arc::new(InMemoryPrincipalStore::new());
    user(&principals, A, "alice", Some(policy("Allow"))).await;
    user(&principals, A, "dave", Some(policy("Deny"))).await;
    user(&principals, A, "nobody", None).await;
    user(&principals, B, "bob", Some(policy("Allow"))).await;
    user(&principals, B, "carol", Some(policy("Allow"))).await;
    let service = SecretsService::new(
        Ports {
            repository: repository.clone(),
            keys,
            audit: Arc::new(RecordingAudit::default()),
            metrics: Arc::new(NoMetrics),
            rotation: Arc::new(Accepting),
            clock: Arc::new(ManualClock::at(T0)),
            random: Arc::new(CountingRandom::default()),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required: true,
        },
    )
    .with_principals(principals);
    let root_a = RequestContext::root(
        Scope::new(REGION, A),
        ctx_for(Who::ServerRoot).caller,
        "setup",
    );
    let root_b = RequestContext::root(
        Scope::new(REGION, B),
        ctx_for(Who::ServerRoot).caller,
        "setup",
    );
    let create = |name: &str, key: &str| {
        json!({"Name": name, "KmsKeyId": key, "ClientRequestToken": FIRST_VERSION,
               "SecretString": format!("{{\"password\":\"{CANARY}\"}}"),
               "Tags": [{"Key": "team", "Value": "pay"}]})
    };
    let arn = |v: Value| v["ARN"].as_str().unwrap().to_string();
    let target_arn = arn(call(
        &service,
        &root_a,
        Operation::CreateSecret,
        &create("matrix-secret", &key_a),
    )
    .await
    .unwrap());
    call(
        &service,
        &root_a,
        Operation::PutResourcePolicy,
        &json!({"SecretId": target_arn, "ResourcePolicy": bob_resource_policy()}),
    )
    .await
    .unwrap();
    let plain_a_arn = arn(call(
        &service,
        &root_a,
        Operation::CreateSecret,
        &create("matrix-plain", &key_a),
    )
    .await
    .unwrap());
    let b_arn = arn(call(
        &service,
        &root_b,
        Operation::CreateSecret,
        &create("matrix-b", &key_b),
    )
    .await
    .unwrap());
    Fixture {
        service,
        repository,
        target_arn,
        plain_a_arn,
        b_arn,
    }
}

impl Fixture {
    /// Every record and value count of both accounts, to prove a refused call changed nothing.
    async fn snapshot(&self) -> String {
        let mut out = String::new();
        for account in [A, B] {
            let scope = Scope::new(REGION, account);
            // A failure queued for a throttling cell and not consumed by the call is used up here.
            let mut records = self.repository.list(&scope).await;
            while records.is_err() {
                records = self.repository.list(&scope).await;
            }
            let records = records.unwrap();
            for r in records {
                let values = self.repository.value_count(&r.arn);
                out.push_str(&format!("{r:?} values={values}\n"));
            }
        }
        out
    }

    /// The `SecretId` `who` names the matrix secret by: its name in its own account, its ARN
    /// from another.
    fn target_for(&self, who: Who) -> String {
        if who.account() == A {
            "matrix-secret".to_string()
        } else {
            self.target_arn.clone()
        }
    }

    fn unknown_for(&self, who: Who) -> String {
        if who.account() == A {
            "matrix-nope".to_string()
        } else {
            format!("arn:aws:secretsmanager:{REGION}:{A}:secret:matrix-nope-AbCdEf")
        }
    }

    /// A secret of an account other than the caller's, without a resource policy.
    fn other_account_arn_for(&self, who: Who) -> String {
        if who.account() == A {
            self.b_arn.clone()
        } else {
            self.plain_a_arn.clone()
        }
    }
}

/// What a cell must answer: success or one error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Code(&'static str),
}

const DENIED: Expect = Expect::Code("AccessDeniedException");
const NOT_FOUND: Expect = Expect::Code("ResourceNotFoundException");
const INVALID_PARAMETER: Expect = Expect::Code("InvalidParameterException");
const UNREADABLE: Expect = Expect::Code("SerializationException");
const THROTTLED: Expect = Expect::Code("ThrottlingException");
const UNSUPPORTED: Expect = Expect::Code("InvalidRequestException");

/// The outcome the AWS rules give one cell.
fn expected(op: Operation, member: SecretIdMember, who: Who, body: Body) -> Expect {
    let allowed = |yes: bool| if yes { Expect::Ok } else { DENIED };
    match member {
        SecretIdMember::Unsupported => match body {
            Body::SecretIdWrongType => UNREADABLE,
            _ => UNSUPPORTED,
        },
        SecretIdMember::Absent => {
            // `SecretId` is not in the shape: every body but throttling is the well-formed one.
            let decision = match op {
                // CreateSecret is decided on the new secret's ARN in the caller's account.
                Operation::CreateSecret => who.allowed_in_own_account(),
                // BatchGetSecretValue, ListSecrets, GetRandomPassword: on `*`.
                _ => who.allowed_in_own_account(),
            };
            match (decision, body, op) {
                (false, _, _) => DENIED,
                (true, Body::StoreThrottling, Operation::GetRandomPassword) => Expect::Ok,
                (true, Body::StoreThrottling, _) => THROTTLED,
                (true, _, _) => Expect::Ok,
            }
        }
        SecretIdMember::Required | SecretIdMember::Optional => match body {
            Body::SecretIdMissing if member == SecretIdMember::Required => INVALID_PARAMETER,
            Body::SecretIdMissing => allowed(who.allowed_in_own_account()),
            Body::SecretIdEmpty => INVALID_PARAMETER,
            Body::SecretIdWrongType => UNREADABLE,
            Body::SecretIdUnknown => {
                if who.allowed_on_missing() {
                    NOT_FOUND
                } else {
                    DENIED
                }
            }
            Body::SecretIdOfAnotherAccount => DENIED,
            // The lookup runs before the decision: its failure is the answer, for everyone.
            Body::StoreThrottling => THROTTLED,
            Body::WellFormed | Body::ExtraUnknownMembers => allowed(who.allowed_on_target()),
        },
    }
}

fn body_for(f: &Fixture, op: Operation, who: Who, body: Body) -> (Value, SecretIdMember) {
    let (mut value, member) = well_formed(op, &f.target_for(who));
    let object = value.as_object_mut().unwrap();
    match body {
        Body::WellFormed | Body::StoreThrottling => {}
        Body::SecretIdMissing => {
            object.remove("SecretId");
        }
        Body::SecretIdEmpty => {
            object.insert("SecretId".into(), json!(""));
        }
        Body::SecretIdWrongType => {
            object.insert("SecretId".into(), json!(42));
        }
        Body::SecretIdUnknown => {
            object.insert("SecretId".into(), json!(f.unknown_for(who)));
        }
        Body::SecretIdOfAnotherAccount => {
            object.insert("SecretId".into(), json!(f.other_account_arn_for(who)));
        }
        Body::ExtraUnknownMembers => {
            object.insert("Unknown".into(), json!({"SecretId": "matrix-nope"}));
            object.insert("Principal".into(), json!("*"));
            object.insert("ResourceArn".into(), json!(f.b_arn));
        }
    }
    (value, member)
}

fn throttle_every_read(repository: &InMemorySecretRepository) {
    for op in [
        RepoOp::GetByName,
        RepoOp::GetByArn,
        RepoOp::GetValue,
        RepoOp::List,
        RepoOp::ListScopes,
    ] {
        repository.fail_next(op, RepositoryError::Throttled("matrix".into()));
    }
}

#[tokio::test]
async fn authorization_matrix_every_operation_caller_and_body_has_its_exact_outcome() {
    let mut cells = 0;
    let mut operations = 0;
    let mut failures = Vec::new();
    for op in Operation::of(Api::SecretsManager) {
        operations += 1;
        for who in CALLERS {
            for body in BODIES {
                let f = fixture().await;
                let (request, member) = body_for(&f, op, who, body);
                let want = expected(op, member, who, body);
                let before = f.snapshot().await;
                if body == Body::StoreThrottling {
                    throttle_every_read(&f.repository);
                }
                let got = call(&f.service, &ctx_for(who), op, &request).await;
                cells += 1;
                let outcome = match &got {
                    Ok(_) => Expect::Ok,
                    Err(e) => Expect::Code(e.code()),
                };
                let cell = format!("{op} × {who:?} × {body:?}");
                if outcome != want {
                    failures.push(format!("{cell}: expected {want:?}, got {got:?}"));
                    continue;
                }
                if let (Ok(response), false) = (&got, who.allowed_on_target()) {
                    if response.to_string().contains(CANARY) {
                        failures.push(format!("{cell}: a caller not allowed the secret read it"));
                    }
                }
                if let Err(e) = &got {
                    let after = f.snapshot().await;
                    if before != after {
                        failures.push(format!("{cell}: refused, but the store changed"));
                    }
                    if e.message().contains(CANARY) {
                        failures.push(format!("{cell}: the error carries the secret value"));
                    }
                }
            }
        }
    }
    println!("authorization matrix: {operations} operations, {cells} cells");
    assert!(operations >= 26, "one row per Secrets Manager operation");
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Case 1 of the issue: a body member outside the shape (`SecretId` on ListSecrets) takes no
/// part in the decision, so a denied caller stays denied.
#[tokio::test]
async fn list_secrets_with_unresolvable_secret_id_denied_caller_is_refused() {
    let f = fixture().await;
    for body in [
        json!({}),
        json!({"SecretId": ""}),
        json!({"SecretId": 7}),
        json!({"SecretId": "nope"}),
    ] {
        let e = call(
            &f.service,
            &ctx_for(Who::UserDenied),
            Operation::ListSecrets,
            &body,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "AccessDeniedException", "{body}");
    }
}

/// Case 2 of the issue: a root identity of another account verified by AWS is not this
/// server's root: it cannot read the server account's secrets nor administer its principals.
#[tokio::test]
async fn other_account_root_verified_by_aws_is_not_server_root() {
    let f = fixture().await;
    let intruder = ctx_for(Who::OtherRootVerifiedByAws);
    assert!(!intruder.principal.is_root());
    let listed = call(&f.service, &intruder, Operation::ListSecrets, &json!({})).await;
    assert_eq!(listed.unwrap_err().code(), "AccessDeniedException");
    let read = call(
        &f.service,
        &intruder,
        Operation::GetSecretValue,
        &json!({"SecretId": f.target_arn}),
    )
    .await;
    assert_eq!(read.unwrap_err().code(), "AccessDeniedException");
    for (op, body) in [
        (
            Operation::CreateUser,
            json!({"UserName": "mallory", "Account": A}),
        ),
        (
            Operation::PutUserPolicy,
            json!({"UserName": "alice", "Account": A, "PolicyName": "x", "PolicyDocument": policy("Allow")}),
        ),
        (Operation::ListUsers, json!({"Account": A})),
        (Operation::CreateUser, json!({"UserName": "mallory"})),
    ] {
        let e = f
            .service
            .handle_admin(&intruder, op, body.to_string().as_bytes())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "AccessDeniedException", "{op} {body}");
    }
    // A user of B allowed every admin action in its own account still cannot name A.
    let bob = ctx_for(Who::OtherUserWithResourcePolicy);
    let e = f
        .service
        .handle_admin(
            &bob,
            Operation::ListUsers,
            json!({"Account": A}).to_string().as_bytes(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "AccessDeniedException");
    // The server's root may name another account.
    f.service
        .handle_admin(
            &ctx_for(Who::ServerRoot),
            Operation::ListUsers,
            json!({"Account": B}).to_string().as_bytes(),
        )
        .await
        .unwrap();
}

/// A stored resource policy that no longer parses refuses the call instead of being skipped
/// (it might hold a deny).
#[tokio::test]
async fn authorize_unparseable_stored_policy_refuses() {
    let f = fixture().await;
    let mut record = f
        .repository
        .get_by_arn(&f.target_arn)
        .await
        .unwrap()
        .unwrap();
    let expected = record.revision;
    record.policies[0].document = "{not json".into();
    record.revision += 1;
    f.repository
        .update(&record, expected, &Default::default())
        .await
        .unwrap();
    let e = call(
        &f.service,
        &ctx_for(Who::UserAllowed),
        Operation::GetSecretValue,
        &json!({"SecretId": "matrix-secret"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "InternalServiceError");
}

/// A stored identity policy that no longer parses refuses the caller's calls instead of being
/// skipped (it might hold a deny).
#[tokio::test]
async fn authorize_unparseable_identity_policy_refuses() {
    let store = InMemoryPrincipalStore::new();
    let mut policies = BTreeMap::new();
    policies.insert("allow".to_string(), policy("Allow"));
    policies.insert("broken-deny".to_string(), "{not json".to_string());
    store
        .insert_principal(&PrincipalRecord {
            account: A.into(),
            kind: PrincipalType::User,
            name: "eve".into(),
            id: "AIDAEVE".into(),
            tags: vec![],
            assume_role_policy: None,
            policies,
            created: Timestamp(T0),
        })
        .await
        .unwrap();
    let eve = PrincipalInfo::user(A, "eve", "AIDAEVE");
    let refused = coffer_core::identity::principals::identity_policies_of(&store, &eve).await;
    assert!(refused.is_err(), "the broken document is not skipped");
}
