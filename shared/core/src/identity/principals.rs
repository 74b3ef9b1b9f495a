//! Coffer's own principals: IAM-style users and roles (several accounts side by side), their
//! tags and inline identity policies, and the users' access keys.
//!
//! Data path: the wire's SigV4 authenticator asks [`PrincipalStore::get_access_key`] for the key
//! a request was signed with, opens its secret with [`open_access_key_secret`] (through the
//! `KeyProvider`), and yields the principal; the service's authorization step reads the
//! principal's identity policies back from the store; the admin service (`crate::identity::admin`) writes
//! everything here. The secret access key is stored only as an envelope (the same envelope
//! format as secret values, encryption context `{"CofferAccessKeyId": id}`), is never logged, and
//! is returned once, by CreateAccessKey.
//!
//! Besides users and roles the store holds `iam-identity` records ([`PrincipalType::IamIdentity`]):
//! the identity policies of AWS IAM identities (by ARN or ARN pattern) that log in with
//! `coffer.LoginWithIam` or call through API Gateway with IAM authorization (`crate::identity::iam_identity`).
//!
//! Storage failures reuse [`RepositoryError`] (`NameTaken` = the principal or key exists).

use crate::clock::Timestamp;
use crate::crypto;
use crate::ids::Scope;
use crate::ports::{EncryptionContext, KeyError, KeyProvider, PrincipalStore, RepositoryError};
use coffer_policy::{parse_identity_policy, PolicyDocument, PrincipalInfo, PrincipalKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The keyring/KMS region whose default key wraps access-key secrets (one per account), unless
/// the store names another ([`PrincipalStore::key_region`]: AWS mode uses the deployment's own
/// region, where its KMS key lives).
pub const PRINCIPAL_KEY_REGION: &str = "us-east-1";

/// User, role, or the identity policies of AWS IAM identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PrincipalType {
    User,
    Role,
    /// Not a principal of Coffer's own: the record's `name` is an AWS IAM ARN or ARN pattern
    /// (`*`, `?`), its `policies` the identity policies of the IAM identities it matches.
    IamIdentity,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "user",
            PrincipalType::Role => "role",
            PrincipalType::IamIdentity => "iam-identity",
        }
    }
}

/// One user or role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRecord {
    pub account: String,
    pub kind: PrincipalType,
    pub name: String,
    /// `AIDA...` (users) or `AROA...` (roles).
    pub id: String,
    pub tags: Vec<(String, String)>,
    /// Roles only: the trust policy as given.
    pub assume_role_policy: Option<String>,
    /// Inline identity policies by name (documents validated on the way in).
    pub policies: BTreeMap<String, String>,
    pub created: Timestamp,
}

impl PrincipalRecord {
    /// `arn:aws:iam::<account>:user/<name>` or `...:role/<name>`; the ARN (pattern) itself for
    /// an `iam-identity` record.
    pub fn arn(&self) -> String {
        if self.kind == PrincipalType::IamIdentity {
            return self.name.clone();
        }
        format!(
            "arn:aws:iam::{}:{}/{}",
            self.account,
            self.kind.as_str(),
            self.name
        )
    }

    /// The principal as the policy engine sees it.
    pub fn info(&self) -> PrincipalInfo {
        let mut info = PrincipalInfo::user(&self.account, &self.name, &self.id);
        if self.kind == PrincipalType::Role {
            info.arn = self.arn();
            info.kind = coffer_policy::PrincipalKind::Role;
            info.role_arn = Some(self.arn());
        }
        info.tags = self.tags.clone();
        info
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }

    /// The status [`AccessKeyStatus::as_str`] wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<AccessKeyStatus> {
        [AccessKeyStatus::Active, AccessKeyStatus::Inactive]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An access key of a user. `encrypted_secret` is the envelope of the secret access key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account: String,
    pub user_name: String,
    pub status: AccessKeyStatus,
    pub created: Timestamp,
    pub encrypted_secret: Vec<u8>,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account", &self.account)
            .field("user_name", &self.user_name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The encryption context of an access key's secret.
pub fn access_key_context(access_key_id: &str) -> EncryptionContext {
    let mut ctx = BTreeMap::new();
    ctx.insert("CofferAccessKeyId".to_string(), access_key_id.to_string());
    ctx
}

/// Envelope-encrypts a secret access key under the account's default key of `key_region`
/// ([`PrincipalStore::key_region`] of the store the key goes to).
pub async fn seal_access_key_secret(
    keys: &dyn KeyProvider,
    key_region: &str,
    account: &str,
    access_key_id: &str,
    secret: &str,
    nonce: &[u8; crypto::NONCE_LEN],
) -> Result<Vec<u8>, KeyError> {
    let scope = Scope::new(key_region, account);
    let context = access_key_context(access_key_id);
    let data_key = keys.generate_data_key(&scope, None, &context).await?;
    Ok(crypto::seal(
        &data_key.plaintext,
        &data_key.wrapped,
        &context,
        nonce,
        secret.as_bytes(),
    ))
}

/// Opens the secret of `key`; `None` if the envelope does not open (tampered or foreign).
pub async fn open_access_key_secret(
    keys: &dyn KeyProvider,
    key_region: &str,
    key: &AccessKeyRecord,
) -> Result<Option<Zeroizing<String>>, KeyError> {
    let scope = Scope::new(key_region, &key.account);
    let context = access_key_context(&key.access_key_id);
    let Ok(parsed) = crypto::parse(&key.encrypted_secret) else {
        return Ok(None);
    };
    let data_key = keys
        .decrypt_data_key(&scope, parsed.wrapped_key, &context)
        .await?;
    let Ok(plain) = crypto::open(&parsed, &data_key, &context) else {
        return Ok(None);
    };
    Ok(String::from_utf8(plain.to_vec()).ok().map(Zeroizing::new))
}

/// The identity policies of `principal`: a Coffer user's or role's (a session's: its role's)
/// inline policies; for an identity AWS verified, those of the `iam-identity` records matching
/// its ARN ([`crate::identity::iam_identity`]); none for root. A stored document that no longer parses is
/// an error, never skipped (it might hold a deny): the call is refused (fail closed).
pub async fn identity_policies_of(
    store: &dyn PrincipalStore,
    principal: &PrincipalInfo,
) -> Result<Vec<PolicyDocument>, RepositoryError> {
    let documents = if principal.verified_by_aws {
        crate::identity::iam_identity::matching_policies(store, principal).await?
    } else {
        let kind = match principal.kind {
            PrincipalKind::User => PrincipalType::User,
            PrincipalKind::Role | PrincipalKind::AssumedRole => PrincipalType::Role,
            PrincipalKind::Root => return Ok(Vec::new()),
        };
        let Some(name) = &principal.name else {
            return Ok(Vec::new());
        };
        store
            .get_principal(&principal.account, kind, name)
            .await?
            .map(|r| r.policies.into_values().collect())
            .unwrap_or_default()
    };
    documents
        .iter()
        .map(|doc| {
            parse_identity_policy(doc).map_err(|_| {
                RepositoryError::Corrupt(format!(
                    "a stored identity policy of {} no longer parses",
                    principal.arn
                ))
            })
        })
        .collect()
}

/// An authenticated principal: who it is, and its identity policies (root has none: it may do
/// everything in its account).
#[derive(Debug, Clone)]
pub struct ResolvedPrincipal {
    pub info: PrincipalInfo,
    pub access_key_id: String,
}

/// Looks up a stored access key that is active, returning its secret and its user.
pub async fn resolve_access_key(
    store: &dyn PrincipalStore,
    keys: &dyn KeyProvider,
    access_key_id: &str,
) -> Result<Option<(Zeroizing<String>, PrincipalRecord)>, RepositoryError> {
    let Some(key) = store.get_access_key(access_key_id).await? else {
        return Ok(None);
    };
    if key.status != AccessKeyStatus::Active {
        return Ok(None);
    }
    let Some(user) = store
        .get_principal(&key.account, PrincipalType::User, &key.user_name)
        .await?
    else {
        return Ok(None);
    };
    let secret = match open_access_key_secret(keys, store.key_region(), &key).await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::error!(access_key_id, error = %e, "access key secret could not be opened");
            return Err(RepositoryError::Unavailable(
                "the key provider could not open an access key".to_string(),
            ));
        }
    };
    Ok(Some((secret, user)))
}
