//! The admin API: Coffer's own users, roles, access keys and inline identity policies, with IAM's
//! operation names, members and result shapes (`X-Amz-Target: coffer.<Op>`, JSON 1.1).
//!
//! Data path: the wire routes `coffer.*` targets to `SecretsService::handle_admin`, which
//! authorizes the caller for `coffer:<Op>` (root of an account always may; others need an
//! identity policy allowing it), runs the operation here against the [`PrincipalStore`], and
//! records one audit event through the service's audit path (`SecretAccessKey` is redacted).
//!
//! Principals are created in the caller's account: root credentials of the server's account
//! create principals there; to populate another account, pass `Account` (a 12-digit id, root
//! only) — Coffer's accounts are implicit.
//!
//! The identity policies of AWS IAM identities (`coffer.PutIamIdentityPolicy` & co., keyed by
//! IAM ARN or ARN pattern) are in [`iam_identities`].
//!
//! Errors reuse Secrets Manager's codes: a missing entity is `ResourceNotFoundException`, a
//! duplicate `ResourceExistsException`, a bad document `MalformedPolicyDocumentException`.

use crate::clock::{Clock, RandomSource};
use crate::error::{Error, Result};
use crate::identity::principals::{
    seal_access_key_secret, AccessKeyRecord, AccessKeyStatus, PrincipalRecord, PrincipalType,
};
use crate::operation::Operation;
use crate::ports::PrincipalStore;
use crate::ports::{KeyProvider, RepositoryError};
use coffer_policy::{parse_identity_policy, PrincipalInfo};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

mod iam_identities;

/// The request of every admin operation (IAM's member names); decoded once, before
/// authorization.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AdminRequest {
    user_name: Option<String>,
    role_name: Option<String>,
    access_key_id: Option<String>,
    policy_name: Option<String>,
    policy_document: Option<String>,
    assume_role_policy_document: Option<String>,
    tags: Vec<TagMember>,
    account: Option<String>,
    iam_arn: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagMember {
    key: String,
    value: String,
}

/// Runs admin operations against the principal store.
pub struct AdminService {
    pub store: Arc<dyn PrincipalStore>,
    pub keys: Arc<dyn KeyProvider>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
}

fn store_error(e: RepositoryError) -> Error {
    tracing::error!(error = %e, "principal store failure");
    Error::internal("An error occurred on the server side.")
}

/// Decodes an admin request body (empty means `{}`).
pub fn parse_body(body: &[u8]) -> Result<AdminRequest> {
    if body.is_empty() {
        return Ok(AdminRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::Serialization(format!(
            "The request body could not be read at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

fn valid_name(name: Option<&str>, member: &str) -> Result<String> {
    let name =
        name.ok_or_else(|| Error::invalid_parameter(format!("You must specify {member}.")))?;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !ok {
        return Err(Error::invalid_parameter(format!(
            "{member} must be 1 to 64 characters of [A-Za-z0-9+=,.@_-]."
        )));
    }
    Ok(name.to_string())
}

/// The account an admin call acts in: the caller's, or — for this server's root only — the
/// `Account` member. [`PrincipalInfo::is_root`] is true only for the holder of the server's root
/// credentials: an identity AWS verified is never root here, whatever its ARN, so a principal
/// of one account can never create, change or read the principals of another.
pub(crate) fn target_account(caller: &PrincipalInfo, requested: Option<&str>) -> Result<String> {
    match requested {
        None => Ok(caller.account.clone()),
        Some(a) if a == caller.account => Ok(a.to_string()),
        Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) && caller.is_root() => {
            Ok(a.to_string())
        }
        Some(_) => Err(Error::AccessDenied(
            "Only this server's root may name another Account; Account must be a 12-digit account id.".to_string(),
        )),
    }
}

/// The resource an admin action is authorized on: the named principal, else `*`.
pub fn admin_resource(caller: &PrincipalInfo, operation: Operation, req: &AdminRequest) -> String {
    let account = req.account.as_deref().unwrap_or(&caller.account);
    if let Some(arn) = req
        .iam_arn
        .as_ref()
        .filter(|_| operation.is_iam_identity_admin())
    {
        return arn.clone();
    }
    match (operation.names_a_role(), &req.user_name, &req.role_name) {
        (false, Some(user), _) => format!("arn:aws:iam::{account}:user/{user}"),
        (true, _, Some(role)) => format!("arn:aws:iam::{account}:role/{role}"),
        _ => "*".to_string(),
    }
}

impl AdminService {
    fn random_id(&self, prefix: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::from(prefix);
        let mut buf = vec![0u8; len];
        self.random.fill(&mut buf);
        out.extend(buf.iter().map(|b| ALPHABET[(*b % 32) as usize] as char));
        out
    }

    fn secret_key(&self) -> zeroize::Zeroizing<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut buf = zeroize::Zeroizing::new([0u8; 40]);
        self.random.fill(buf.as_mut());
        let mut out = zeroize::Zeroizing::new(String::with_capacity(40));
        out.extend(buf.iter().map(|b| ALPHABET[(*b % 64) as usize] as char));
        out
    }

    /// Runs `operation` for `caller` (already authorized).
    pub async fn run(
        &self,
        caller: &PrincipalInfo,
        operation: Operation,
        req: AdminRequest,
    ) -> Result<Value> {
        use Operation::*;
        let account = || target_account(caller, req.account.as_deref());
        match operation {
            CreateUser => self.create(&account()?, PrincipalType::User, req).await,
            CreateRole => self.create(&account()?, PrincipalType::Role, req).await,
            DeleteUser => self.delete(&account()?, PrincipalType::User, req).await,
            DeleteRole => self.delete(&account()?, PrincipalType::Role, req).await,
            ListUsers => self.list(&account()?, PrincipalType::User).await,
            ListRoles => self.list(&account()?, PrincipalType::Role).await,
            PutUserPolicy => self.put_policy(&account()?, PrincipalType::User, req).await,
            PutRolePolicy => self.put_policy(&account()?, PrincipalType::Role, req).await,
            DeleteUserPolicy => {
                self.delete_policy(&account()?, PrincipalType::User, req)
                    .await
            }
            DeleteRolePolicy => {
                self.delete_policy(&account()?, PrincipalType::Role, req)
                    .await
            }
            CreateAccessKey => self.create_access_key(&account()?, req).await,
            DeleteAccessKey => self.delete_access_key(&account()?, req).await,
            ListAccessKeys => self.list_access_keys(&account()?, req).await,
            PutIamIdentityPolicy
            | GetIamIdentityPolicy
            | DeleteIamIdentityPolicy
            | ListIamIdentities => self.run_iam_identity(caller, operation, req).await,
            // Not run here: LoginWithIam has its own path, the others are other APIs'.
            LoginWithIam
            | BatchGetSecretValue
            | CancelRotateSecret
            | CreateSecret
            | DeleteResourcePolicy
            | DeleteSecret
            | DescribeSecret
            | GetRandomPassword
            | GetResourcePolicy
            | GetSecretValue
            | ListResourcePolicies
            | ListSecretVersionIds
            | ListSecrets
            | PutResourcePolicy
            | PutSecretValue
            | RestoreSecret
            | RotateSecret
            | TagResource
            | UntagResource
            | UpdateSecret
            | UpdateSecretVersionStage
            | ValidateResourcePolicy
            | ReplicateSecretToRegions
            | RemoveRegionsFromReplication
            | StopReplicationToReplica
            | AssociateCrossAccountReplica
            | DisassociateCrossAccountReplica
            | AssumeRole
            | GetCallerIdentity => Err(Error::UnknownOperation(format!(
                "The operation {operation} is not known to the Coffer admin API."
            ))),
        }
    }

    fn name_of(kind: PrincipalType, req: &AdminRequest) -> Result<String> {
        match kind {
            PrincipalType::User => valid_name(req.user_name.as_deref(), "UserName"),
            PrincipalType::Role => valid_name(req.role_name.as_deref(), "RoleName"),
            PrincipalType::IamIdentity => {
                let arn = req
                    .iam_arn
                    .as_deref()
                    .ok_or_else(|| Error::invalid_parameter("You must specify IamArn."))?;
                crate::identity::iam_identity::parse_iam_arn_pattern(arn)?;
                Ok(arn.to_string())
            }
        }
    }

    /// A record without tags, trust policy or inline policies.
    fn new_record(&self, account: &str, kind: PrincipalType, name: &str) -> PrincipalRecord {
        PrincipalRecord {
            account: account.to_string(),
            kind,
            name: name.to_string(),
            id: self.random_id(id_prefix(kind), 17),
            tags: Vec::new(),
            assume_role_policy: None,
            policies: BTreeMap::new(),
            created: self.clock.now(),
        }
    }

    async fn existing(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<PrincipalRecord> {
        self.store
            .get_principal(account, kind, name)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(kind, name))
    }

    async fn create(&self, account: &str, kind: PrincipalType, req: AdminRequest) -> Result<Value> {
        let name = Self::name_of(kind, &req)?;
        let assume_role_policy = match kind {
            PrincipalType::Role => {
                let doc = req.assume_role_policy_document.clone().ok_or_else(|| {
                    Error::invalid_parameter("You must specify AssumeRolePolicyDocument.")
                })?;
                coffer_policy::parse_trust_policy(&doc)?;
                Some(doc)
            }
            PrincipalType::User | PrincipalType::IamIdentity => None,
        };
        let mut record = self.new_record(account, kind, &name);
        record.tags = req.tags.into_iter().map(|t| (t.key, t.value)).collect();
        record.assume_role_policy = assume_role_policy;
        match self.store.insert_principal(&record).await {
            Ok(()) => {}
            Err(RepositoryError::NameTaken) => {
                return Err(Error::ResourceExists(format!(
                    "A {} with name {name} already exists.",
                    kind.as_str()
                )))
            }
            Err(e) => return Err(store_error(e)),
        }
        let key = match kind {
            PrincipalType::User => "User",
            PrincipalType::Role => "Role",
            PrincipalType::IamIdentity => "IamIdentity",
        };
        Ok(json!({ key: principal_json(&record) }))
    }

    async fn delete(&self, account: &str, kind: PrincipalType, req: AdminRequest) -> Result<Value> {
        let name = Self::name_of(kind, &req)?;
        if kind == PrincipalType::User {
            for key in self
                .store
                .list_access_keys(account, &name)
                .await
                .map_err(store_error)?
            {
                self.store
                    .delete_access_key(&key.access_key_id)
                    .await
                    .map_err(store_error)?;
            }
        }
        if !self
            .store
            .delete_principal(account, kind, &name)
            .await
            .map_err(store_error)?
        {
            return Err(not_found(kind, &name));
        }
        Ok(json!({}))
    }

    async fn list(&self, account: &str, kind: PrincipalType) -> Result<Value> {
        let all = self
            .store
            .list_principals(account, kind)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = all.iter().map(principal_json).collect();
        Ok(match kind {
            PrincipalType::User => json!({ "Users": items, "IsTruncated": false }),
            PrincipalType::Role => json!({ "Roles": items, "IsTruncated": false }),
            PrincipalType::IamIdentity => json!({ "IamIdentities": items }),
        })
    }

    async fn put_policy(
        &self,
        account: &str,
        kind: PrincipalType,
        req: AdminRequest,
    ) -> Result<Value> {
        let name = Self::name_of(kind, &req)?;
        let policy_name = valid_name(req.policy_name.as_deref(), "PolicyName")?;
        let doc = req
            .policy_document
            .ok_or_else(|| Error::invalid_parameter("You must specify PolicyDocument."))?;
        parse_identity_policy(&doc)?;
        let found = self
            .store
            .get_principal(account, kind, &name)
            .await
            .map_err(store_error)?;
        let (mut record, new) = match found {
            Some(record) => (record, false),
            // An iam-identity record lives as long as it has a policy: the first creates it.
            None if kind == PrincipalType::IamIdentity => {
                (self.new_record(account, kind, &name), true)
            }
            None => return Err(not_found(kind, &name)),
        };
        record.policies.insert(policy_name, doc);
        let stored = if new {
            self.store.insert_principal(&record).await
        } else {
            self.store.put_principal(&record).await
        };
        match stored {
            Ok(()) => Ok(json!({})),
            Err(RepositoryError::NameTaken | RepositoryError::Conflict) => {
                Err(Error::invalid_request(format!(
                    "The {} {name} was changed concurrently; retry the request.",
                    kind.as_str()
                )))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn delete_policy(
        &self,
        account: &str,
        kind: PrincipalType,
        req: AdminRequest,
    ) -> Result<Value> {
        let name = Self::name_of(kind, &req)?;
        let policy_name = valid_name(req.policy_name.as_deref(), "PolicyName")?;
        let mut record = self.existing(account, kind, &name).await?;
        if record.policies.remove(&policy_name).is_none() {
            return Err(policy_not_found(kind, &policy_name));
        }
        if kind == PrincipalType::IamIdentity && record.policies.is_empty() {
            // Its last policy gone, the record goes too.
            self.store
                .delete_principal(account, kind, &name)
                .await
                .map_err(store_error)?;
        } else {
            self.store
                .put_principal(&record)
                .await
                .map_err(store_error)?;
        }
        Ok(json!({}))
    }

    async fn create_access_key(&self, account: &str, req: AdminRequest) -> Result<Value> {
        let name = valid_name(req.user_name.as_deref(), "UserName")?;
        self.existing(account, PrincipalType::User, &name).await?;
        let access_key_id = self.random_id("AKIA", 16);
        let secret = self.secret_key();
        let mut nonce = [0u8; crate::crypto::NONCE_LEN];
        self.random.fill(&mut nonce);
        let encrypted_secret = seal_access_key_secret(
            self.keys.as_ref(),
            self.store.key_region(),
            account,
            &access_key_id,
            &secret,
            &nonce,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "access key secret could not be encrypted");
            Error::EncryptionFailure("The access key could not be encrypted.".to_string())
        })?;
        let record = AccessKeyRecord {
            access_key_id: access_key_id.clone(),
            account: account.to_string(),
            user_name: name.clone(),
            status: AccessKeyStatus::Active,
            created: self.clock.now(),
            encrypted_secret,
        };
        self.store
            .insert_access_key(&record)
            .await
            .map_err(store_error)?;
        Ok(json!({ "AccessKey": {
            "UserName": name,
            "AccessKeyId": access_key_id,
            "SecretAccessKey": secret.as_str(),
            "Status": "Active",
            "CreateDate": record.created,
        }}))
    }

    async fn delete_access_key(&self, account: &str, req: AdminRequest) -> Result<Value> {
        let id = req
            .access_key_id
            .ok_or_else(|| Error::invalid_parameter("You must specify AccessKeyId."))?;
        let not_found =
            || Error::not_found(format!("The Access Key with id {id} cannot be found."));
        let key = self
            .store
            .get_access_key(&id)
            .await
            .map_err(store_error)?
            .filter(|k| k.account == account)
            .filter(|k| req.user_name.as_ref().is_none_or(|u| *u == k.user_name))
            .ok_or_else(not_found)?;
        self.store
            .delete_access_key(&key.access_key_id)
            .await
            .map_err(store_error)?;
        Ok(json!({}))
    }

    async fn list_access_keys(&self, account: &str, req: AdminRequest) -> Result<Value> {
        let name = valid_name(req.user_name.as_deref(), "UserName")?;
        self.existing(account, PrincipalType::User, &name).await?;
        let keys = self
            .store
            .list_access_keys(account, &name)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "UserName": k.user_name,
                    "AccessKeyId": k.access_key_id,
                    "Status": k.status.as_str(),
                    "CreateDate": k.created,
                })
            })
            .collect();
        Ok(json!({ "AccessKeyMetadata": items, "IsTruncated": false }))
    }
}

fn not_found(kind: PrincipalType, name: &str) -> Error {
    Error::not_found(format!(
        "The {} with name {name} cannot be found.",
        kind.as_str()
    ))
}

fn policy_not_found(kind: PrincipalType, policy_name: &str) -> Error {
    Error::not_found(format!(
        "The {} policy with name {policy_name} cannot be found.",
        kind.as_str()
    ))
}

/// The prefix of a new record's unique id (IAM's: `AIDA` users, `AROA` roles).
fn id_prefix(kind: PrincipalType) -> &'static str {
    match kind {
        PrincipalType::User => "AIDA",
        PrincipalType::Role => "AROA",
        PrincipalType::IamIdentity => "CIAM",
    }
}

fn principal_json(record: &PrincipalRecord) -> Value {
    let (name_member, id_member) = match record.kind {
        PrincipalType::User => ("UserName", "UserId"),
        PrincipalType::Role => ("RoleName", "RoleId"),
        PrincipalType::IamIdentity => {
            return json!({
                "IamArn": record.name,
                "PolicyNames": record.policies.keys().collect::<Vec<_>>(),
            })
        }
    };
    let tags: Vec<Value> = record
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    let mut out = json!({
        name_member: record.name,
        id_member: record.id,
        "Arn": record.arn(),
        "Path": "/",
        "CreateDate": record.created,
        "Tags": tags,
    });
    if let Some(doc) = &record.assume_role_policy {
        out["AssumeRolePolicyDocument"] = json!(doc);
    }
    out
}
