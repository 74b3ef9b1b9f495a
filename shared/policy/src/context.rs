//! The request context the policy engine evaluates: who is asking ([`PrincipalInfo`]), for what
//! ([`AuthorizationRequest::action`] on [`AuthorizationRequest::resource`]) and the typed
//! condition keys ([`ContextKeys`] of [`ContextValue`]s).
//!
//! Data path: after authentication the wire layer knows the principal and the network facts
//! (source IP, TLS, the time of the call); the service adds the operation's action and secret
//! ARN and the condition keys of coffer-core's
//! `policy_actions`; [`super::evaluate`] reads the whole. Nothing
//! here reads a clock or the environment: the caller supplies `aws:CurrentTime` through
//! [`AuthorizationRequest::with_current_time`].
//!
//! Keys the engine derives from the principal on every evaluation (they cannot be overridden by
//! request keys): `aws:PrincipalArn` (for an assumed-role session, the ARN of the role, as AWS
//! documents), `aws:PrincipalAccount`, `aws:PrincipalType` (`Account`, `User`, `AssumedRole`),
//! `aws:PrincipalTag/<key>`, `aws:username` (IAM users only), `aws:userid` (the account id for
//! the root user) and `aws:ResourceAccount`. Condition key names are case-insensitive, as in IAM;
//! the case of values matters according to the operator.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;

/// The Coffer condition key that scopes a value read to some top-level JSON keys (see
/// [`super::jsonkeys`]).
pub const JSON_KEY_CONDITION_KEY: &str = "coffer:JsonKey";

/// One typed value of a condition key.
#[derive(Clone, PartialEq)]
pub enum ContextValue {
    String(String),
    /// A multivalued key (`aws:TagKeys`, `secretsmanager:AddReplicaRegions`, `coffer:JsonKey`).
    /// An empty list is an empty data set: `Null` sees it as null and `ForAllValues` holds.
    StringList(Vec<String>),
    Bool(bool),
    Number(f64),
    Date(OffsetDateTime),
    Ip(IpAddr),
    Binary(Vec<u8>),
}

impl fmt::Debug for ContextValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextValue::String(s) => write!(f, "String({s:?})"),
            ContextValue::StringList(l) => write!(f, "StringList({l:?})"),
            ContextValue::Bool(b) => write!(f, "Bool({b})"),
            ContextValue::Number(n) => write!(f, "Number({n})"),
            ContextValue::Date(d) => write!(f, "Date({d})"),
            ContextValue::Ip(ip) => write!(f, "Ip({ip})"),
            // Binary keys may carry anything; keep them out of debug output.
            ContextValue::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl ContextValue {
    /// Multivalued keys hold a list; every other value is a single value.
    pub fn is_multivalued(&self) -> bool {
        matches!(self, ContextValue::StringList(_))
    }

    /// True for the empty data set (an empty list), which IAM treats like a missing key.
    pub fn is_empty_set(&self) -> bool {
        matches!(self, ContextValue::StringList(l) if l.is_empty())
    }

    /// The single values of this key: each element of a list, or the value itself.
    pub(crate) fn scalars(&self) -> Vec<Scalar<'_>> {
        match self {
            ContextValue::String(s) => vec![Scalar::Str(s)],
            ContextValue::StringList(l) => l.iter().map(|s| Scalar::Str(s)).collect(),
            ContextValue::Bool(b) => vec![Scalar::Bool(*b)],
            ContextValue::Number(n) => vec![Scalar::Number(*n)],
            ContextValue::Date(d) => vec![Scalar::Date(*d)],
            ContextValue::Ip(ip) => vec![Scalar::Ip(*ip)],
            ContextValue::Binary(b) => vec![Scalar::Binary(b)],
        }
    }

    /// The value as a policy variable substitutes it; multivalued keys cannot be policy
    /// variables (IAM: "You cannot use a multivalued context key as a policy variable").
    pub(crate) fn as_variable(&self) -> Option<String> {
        match self {
            ContextValue::StringList(_) => None,
            other => other.scalars().first().map(|s| s.to_text()),
        }
    }
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::String(s.to_string())
    }
}

impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::String(s)
    }
}

impl From<bool> for ContextValue {
    fn from(b: bool) -> Self {
        ContextValue::Bool(b)
    }
}

impl From<IpAddr> for ContextValue {
    fn from(ip: IpAddr) -> Self {
        ContextValue::Ip(ip)
    }
}

impl From<OffsetDateTime> for ContextValue {
    fn from(d: OffsetDateTime) -> Self {
        ContextValue::Date(d)
    }
}

impl From<Vec<String>> for ContextValue {
    fn from(l: Vec<String>) -> Self {
        ContextValue::StringList(l)
    }
}

/// One single value, borrowed from a [`ContextValue`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    Number(f64),
    Date(OffsetDateTime),
    Ip(IpAddr),
    Binary(&'a [u8]),
}

impl Scalar<'_> {
    /// The string form string operators compare (`true`, `30`, `2020-01-01T00:00:00Z`).
    pub(crate) fn to_text(self) -> String {
        match self {
            Scalar::Str(s) => s.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Number(n) => format_number(n),
            Scalar::Date(d) => format_date(d),
            Scalar::Ip(ip) => ip.to_string(),
            Scalar::Binary(b) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
        }
    }
}

pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(crate) fn format_date(d: OffsetDateTime) -> String {
    let d = d.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    d.format(&fmt)
        .unwrap_or_else(|_| d.unix_timestamp().to_string())
}

/// Condition keys and their values; names are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextKeys {
    /// lower-cased name -> (name as first given, value)
    entries: BTreeMap<String, (String, ContextValue)>,
}

impl ContextKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (replacing a value under any spelling of the same name).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<ContextValue>) {
        let name = name.into();
        self.entries
            .insert(name.to_lowercase(), (name, value.into()));
    }

    /// Builder form of [`ContextKeys::insert`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<ContextValue>) -> Self {
        self.insert(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&ContextValue> {
        self.entries.get(&name.to_lowercase()).map(|(_, v)| v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(&name.to_lowercase())
    }

    pub fn remove(&mut self, name: &str) -> Option<ContextValue> {
        self.entries.remove(&name.to_lowercase()).map(|(_, v)| v)
    }

    /// Adds every key of `other`, replacing keys present in both.
    pub fn extend(&mut self, other: ContextKeys) {
        self.entries.extend(other.entries);
    }

    /// `(name as given, value)` pairs, ordered by lower-cased name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.values().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What kind of identity makes the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account itself (`arn:aws:iam::<account>:root`): may do everything in its account.
    Root,
    /// An IAM user (`arn:aws:iam::<account>:user/<path/><name>`).
    User,
    /// A role acting as itself (`arn:aws:iam::<account>:role/<name>`); roles normally call
    /// through sessions, see [`PrincipalKind::AssumedRole`].
    Role,
    /// A role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    AssumedRole,
}

impl PrincipalKind {
    /// The `userIdentity.type` of an audit event (CloudTrail's names).
    pub fn audit_identity_type(self) -> &'static str {
        match self {
            PrincipalKind::Root => "Root",
            PrincipalKind::User => "IAMUser",
            PrincipalKind::Role | PrincipalKind::AssumedRole => "AssumedRole",
        }
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(self) -> &'static str {
        match self {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::Role | PrincipalKind::AssumedRole => "AssumedRole",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// The caller's ARN as it appears in error messages (for a session, the session ARN).
    pub arn: String,
    /// The 12-digit account the principal belongs to.
    pub account: String,
    pub kind: PrincipalKind,
    /// The friendly name: user name for users, role name for roles and sessions.
    pub name: Option<String>,
    /// The unique id (`aws:userid`): `AIDA...` for users, `AROA...:<session>` for sessions; the
    /// account id for root (always, whatever is set here).
    pub user_id: Option<String>,
    /// For sessions and roles: the role's ARN (with its path). Derived from the session ARN
    /// (without path) when not set.
    pub role_arn: Option<String>,
    /// Principal tags (`aws:PrincipalTag/<key>`); keys compare case-insensitively.
    pub tags: Vec<(String, String)>,
    /// True for an identity AWS IAM verified (a `coffer.LoginWithIam` session, an API Gateway
    /// IAM caller): its identity policies are those Coffer stores for its ARN under
    /// `iam-identity` records (`coffer_core::identity::iam_identity`), not a Coffer user's or role's. False for
    /// Coffer's own principals.
    pub verified_by_aws: bool,
}

impl PrincipalInfo {
    /// The root user of `account`.
    pub fn root(account: &str) -> Self {
        PrincipalInfo {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_string(),
            kind: PrincipalKind::Root,
            name: None,
            user_id: Some(account.to_string()),
            role_arn: None,
            tags: Vec::new(),
            verified_by_aws: false,
        }
    }

    /// An IAM user without a path.
    pub fn user(account: &str, name: &str, user_id: &str) -> Self {
        PrincipalInfo {
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            account: account.to_string(),
            kind: PrincipalKind::User,
            name: Some(name.to_string()),
            user_id: Some(user_id.to_string()),
            role_arn: None,
            tags: Vec::new(),
            verified_by_aws: false,
        }
    }

    /// A session of role `role_name` (without a path) named `session`; `role_id` is the role's
    /// unique id (`AROA...`).
    pub fn assumed_role(account: &str, role_name: &str, session: &str, role_id: &str) -> Self {
        PrincipalInfo {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            account: account.to_string(),
            kind: PrincipalKind::AssumedRole,
            name: Some(role_name.to_string()),
            user_id: Some(format!("{role_id}:{session}")),
            role_arn: Some(format!("arn:aws:iam::{account}:role/{role_name}")),
            tags: Vec::new(),
            verified_by_aws: false,
        }
    }

    /// Reads kind, account and name from an IAM or STS ARN (as API Gateway reports a caller).
    /// The unique id and tags are unknown and stay empty.
    pub fn from_arn(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return None;
        }
        let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let last = |r: &str| r.rsplit('/').next().map(str::to_string);
        let mut p = PrincipalInfo {
            arn: arn.to_string(),
            account: account.to_string(),
            kind: PrincipalKind::User,
            name: None,
            user_id: None,
            role_arn: None,
            tags: Vec::new(),
            verified_by_aws: false,
        };
        match (service, resource) {
            ("iam", "root") => {
                p.kind = PrincipalKind::Root;
                p.user_id = Some(account.to_string());
            }
            ("iam", r) if r.starts_with("user/") => {
                p.kind = PrincipalKind::User;
                p.name = last(r);
            }
            ("iam", r) if r.starts_with("role/") => {
                p.kind = PrincipalKind::Role;
                p.name = last(r);
                p.role_arn = Some(arn.to_string());
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut it = r["assumed-role/".len()..].splitn(2, '/');
                let role = it.next().filter(|s| !s.is_empty())?;
                it.next().filter(|s| !s.is_empty())?;
                p.kind = PrincipalKind::AssumedRole;
                p.name = Some(role.to_string());
                p.role_arn = Some(format!("arn:{partition}:iam::{account}:role/{role}"));
            }
            _ => return None,
        }
        Some(p)
    }

    /// An identity AWS IAM verified (STS `GetCallerIdentity`, API Gateway IAM authorization),
    /// read from its ARN, marked [`PrincipalInfo::verified_by_aws`].
    pub fn verified_by_aws(arn: &str) -> Option<Self> {
        let mut p = Self::from_arn(arn)?;
        p.verified_by_aws = true;
        Some(p)
    }

    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    /// True for this server's root: the holder of its root credentials (whose principal the
    /// SigV4 authenticator builds with [`PrincipalInfo::root`] for `--account-id`), and the
    /// service acting for an account in background work. An identity AWS verified is never
    /// root here, whatever its ARN: `arn:aws:iam::<acct>:root` behind LoginWithIam or API
    /// Gateway IAM is an IAM identity of `<acct>` with the policies Coffer stores for it.
    pub fn is_root(&self) -> bool {
        self.kind == PrincipalKind::Root && !self.verified_by_aws
    }

    /// `arn:aws:iam::<account>:root`, the ARN that names the account as a principal.
    pub fn account_arn(&self) -> String {
        format!("arn:{}:iam::{}:root", self.partition(), self.account)
    }

    fn partition(&self) -> &str {
        self.arn.split(':').nth(1).unwrap_or("aws")
    }

    /// The role ARN for roles and sessions (derived from the session ARN when not given).
    pub fn role_arn(&self) -> Option<String> {
        match self.kind {
            PrincipalKind::Role | PrincipalKind::AssumedRole => {
                if let Some(r) = &self.role_arn {
                    return Some(r.clone());
                }
                PrincipalInfo::from_arn(&self.arn).and_then(|p| p.role_arn)
            }
            _ => None,
        }
    }

    /// `aws:PrincipalArn`: the role ARN for sessions, the principal's ARN otherwise.
    pub fn principal_arn(&self) -> String {
        match self.kind {
            PrincipalKind::AssumedRole => self.role_arn().unwrap_or_else(|| self.arn.clone()),
            _ => self.arn.clone(),
        }
    }

    /// The identities AWS evaluates a principal as, outermost first: the account, then the
    /// role (for sessions), then the user or session itself. `NotPrincipal` lists must name
    /// each of them to exclude the caller (see [`super::eval`]).
    pub(crate) fn identity_chain(&self) -> Vec<String> {
        let mut chain = vec![self.account_arn()];
        match self.kind {
            PrincipalKind::Root => {}
            PrincipalKind::User => chain.push(self.arn.clone()),
            PrincipalKind::Role => chain.push(self.role_arn().unwrap_or_else(|| self.arn.clone())),
            PrincipalKind::AssumedRole => {
                if let Some(role) = self.role_arn() {
                    chain.push(role);
                }
                chain.push(self.arn.clone());
            }
        }
        chain
    }

    /// The condition keys that describe the principal.
    pub fn context_keys(&self) -> ContextKeys {
        let mut keys = ContextKeys::new();
        keys.insert("aws:PrincipalArn", self.principal_arn());
        keys.insert("aws:PrincipalAccount", self.account.clone());
        keys.insert("aws:PrincipalType", self.kind.principal_type());
        match self.kind {
            PrincipalKind::Root => keys.insert("aws:userid", self.account.clone()),
            _ => {
                if let Some(id) = &self.user_id {
                    keys.insert("aws:userid", id.clone());
                }
            }
        }
        if self.kind == PrincipalKind::User {
            if let Some(name) = &self.name {
                keys.insert("aws:username", name.clone());
            }
        }
        for (k, v) in &self.tags {
            let name = format!("aws:PrincipalTag/{k}");
            // First spelling wins when two tags differ only by case.
            if !keys.contains(&name) {
                keys.insert(name, v.clone());
            }
        }
        keys
    }
}

/// How the engine treats the Coffer key `coffer:JsonKey` (see [`super::jsonkeys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum JsonKeyScope {
    /// No JSON key set is under evaluation (every action except value reads, and reads of
    /// values that are not JSON objects): the key is absent, and Allow statements that test
    /// `coffer:JsonKey` grant nothing.
    #[default]
    NotApplicable,
    /// A value read before the value is known: Allow statements that test `coffer:JsonKey`
    /// apply with those clauses assumed to hold, Deny statements that test it are set aside.
    /// An Allow here means "some keys may be readable"; [`super::json_key_access`] decides
    /// which.
    Pending,
    /// The key is present with these top-level JSON keys.
    Keys(Vec<String>),
}

/// One authorization question: may `principal` perform `action` on `resource`?
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationRequest {
    pub principal: PrincipalInfo,
    /// `service:Action`, e.g. `secretsmanager:GetSecretValue`.
    pub action: String,
    /// The resource ARN, or `*` for actions without resource-level permissions.
    pub resource: String,
    /// The account that owns the resource; taken from the ARN's account field by
    /// [`AuthorizationRequest::new`]. `None` (and `*` resources) mean the caller's account.
    pub resource_account: Option<String>,
    /// The resource as the caller named it (e.g. the `SecretId` given), for error messages
    /// only; defaults to `resource`.
    pub message_resource: Option<String>,
    /// Request, resource and environment keys. Principal keys are derived (see module doc).
    pub context: ContextKeys,
    pub json_keys: JsonKeyScope,
}

impl AuthorizationRequest {
    pub fn new(principal: PrincipalInfo, action: &str, resource: &str) -> Self {
        let resource_account = resource
            .split(':')
            .nth(4)
            .filter(|a| resource.starts_with("arn:") && !a.is_empty())
            .map(str::to_string);
        AuthorizationRequest {
            principal,
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account,
            message_resource: None,
            context: ContextKeys::new(),
            json_keys: JsonKeyScope::NotApplicable,
        }
    }

    pub fn with_context(mut self, name: &str, value: impl Into<ContextValue>) -> Self {
        self.context.insert(name, value);
        self
    }

    pub fn with_context_keys(mut self, keys: ContextKeys) -> Self {
        self.context.extend(keys);
        self
    }

    /// `aws:SourceIp`.
    pub fn with_source_ip(self, ip: IpAddr) -> Self {
        self.with_context("aws:SourceIp", ip)
    }

    /// `aws:CurrentTime` and `aws:EpochTime` (whole seconds).
    pub fn with_current_time(self, now: OffsetDateTime) -> Self {
        self.with_context("aws:CurrentTime", now).with_context(
            "aws:EpochTime",
            ContextValue::Number(now.unix_timestamp() as f64),
        )
    }

    /// `aws:SecureTransport`.
    pub fn with_secure_transport(self, tls: bool) -> Self {
        self.with_context("aws:SecureTransport", tls)
    }

    pub fn with_resource_account(mut self, account: &str) -> Self {
        self.resource_account = Some(account.to_string());
        self
    }

    pub fn with_message_resource(mut self, resource: &str) -> Self {
        self.message_resource = Some(resource.to_string());
        self
    }

    pub fn with_json_keys(mut self, scope: JsonKeyScope) -> Self {
        self.json_keys = scope;
        self
    }

    /// The account that owns the resource (the caller's for `*`).
    pub fn effective_resource_account(&self) -> &str {
        self.resource_account
            .as_deref()
            .unwrap_or(&self.principal.account)
    }

    pub fn is_cross_account(&self) -> bool {
        self.effective_resource_account() != self.principal.account
    }

    /// Every key the conditions see: the request's keys, then the derived principal keys and
    /// `aws:ResourceAccount`, then `coffer:JsonKey` according to [`JsonKeyScope`].
    pub fn effective_context(&self) -> ContextKeys {
        let mut keys = self.context.clone();
        keys.extend(self.principal.context_keys());
        keys.insert(
            "aws:ResourceAccount",
            self.effective_resource_account().to_string(),
        );
        keys.remove(JSON_KEY_CONDITION_KEY);
        if let JsonKeyScope::Keys(list) = &self.json_keys {
            keys.insert(JSON_KEY_CONDITION_KEY, list.clone());
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keys_case_insensitive() {
        let mut keys = ContextKeys::new();
        keys.insert("aws:SourceIp", "192.0.2.1");
        assert!(keys.contains("AWS:sourceip"));
        keys.insert("AWS:SOURCEIP", "192.0.2.2");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.get("aws:sourceIP"), Some(&"192.0.2.2".into()));
        assert!(keys.remove("aws:SourceIP").is_some());
        assert!(keys.is_empty());
    }

    #[test]
    fn principal_from_arn_kinds() {
        let root = PrincipalInfo::from_arn("arn:aws:iam::123456789012:root").unwrap();
        assert_eq!(root.kind, PrincipalKind::Root);
        let user = PrincipalInfo::from_arn("arn:aws:iam::123456789012:user/ops/alice").unwrap();
        assert_eq!(user.name.as_deref(), Some("alice"));
        let session =
            PrincipalInfo::from_arn("arn:aws:sts::123456789012:assumed-role/reader/app-1").unwrap();
        assert_eq!(session.kind, PrincipalKind::AssumedRole);
        assert_eq!(
            session.principal_arn(),
            "arn:aws:iam::123456789012:role/reader"
        );
        assert!(PrincipalInfo::from_arn("arn:aws:sts::123456789012:assumed-role/reader").is_none());
        assert!(PrincipalInfo::from_arn("arn:aws:iam::12345:user/x").is_none());
        assert!(PrincipalInfo::from_arn("not-an-arn").is_none());
    }

    #[test]
    fn principal_context_keys_per_kind() {
        let root = PrincipalInfo::root("123456789012").context_keys();
        assert_eq!(root.get("aws:userid"), Some(&"123456789012".into()));
        assert_eq!(root.get("aws:PrincipalType"), Some(&"Account".into()));
        assert!(root.get("aws:username").is_none());

        let user = PrincipalInfo::user("123456789012", "alice", "AIDAEXAMPLE")
            .with_tag("team", "db")
            .context_keys();
        assert_eq!(user.get("aws:username"), Some(&"alice".into()));
        assert_eq!(user.get("aws:PrincipalTag/Team"), Some(&"db".into()));

        let session = PrincipalInfo::assumed_role("123456789012", "reader", "s1", "AROAEXAMPLE")
            .context_keys();
        assert!(session.get("aws:username").is_none());
        assert_eq!(session.get("aws:userid"), Some(&"AROAEXAMPLE:s1".into()));
        assert_eq!(
            session.get("aws:PrincipalArn"),
            Some(&"arn:aws:iam::123456789012:role/reader".into())
        );
    }

    #[test]
    fn request_effective_context_principal_keys_win() {
        let req = AuthorizationRequest::new(
            PrincipalInfo::user("123456789012", "alice", "AIDA1"),
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:210987654321:secret:x-AbCdEf",
        )
        .with_context("aws:username", "mallory")
        .with_context("coffer:JsonKey", vec!["password".to_string()]);
        assert_eq!(req.effective_resource_account(), "210987654321");
        assert!(req.is_cross_account());
        let ctx = req.effective_context();
        assert_eq!(ctx.get("aws:username"), Some(&"alice".into()));
        assert!(ctx.get("coffer:jsonkey").is_none());
        assert_eq!(ctx.get("aws:ResourceAccount"), Some(&"210987654321".into()));
    }

    #[test]
    fn scalar_text_forms() {
        assert_eq!(format_number(30.0), "30");
        assert_eq!(format_number(1.5), "1.5");
        let d = time::macros::datetime!(2020-01-01 00:00:01 UTC);
        assert_eq!(format_date(d), "2020-01-01T00:00:01Z");
        assert_eq!(
            format!("{:?}", ContextValue::Binary(vec![1, 2, 3])),
            "Binary(3 bytes)"
        );
    }
}
