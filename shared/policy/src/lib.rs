//! `coffer-policy`: Coffer's IAM policy engine — the policy grammar, ValidateResourcePolicy's
//! checks, evaluation with IAM's logic, condition operators and policy variables, `coffer:JsonKey`
//! scoping and the public-policy rule. It knows nothing of secrets, storage or the wire: it reads
//! policy documents and an [`AuthorizationRequest`] and answers with a [`Decision`] or a
//! [`PolicyError`].
//!
//! Data path: coffer-core's service authorizes every call before the repository is touched: it
//! maps the operation to the IAM actions, resource and condition keys it needs (coffer-core's
//! `policy_actions`), builds an [`AuthorizationRequest`] per action from the caller's
//! [`PrincipalInfo`], and calls [`evaluate_all`] with the caller's identity policies and the
//! secret's resource policy; only an `Allow` lets the call proceed, and [`access_denied_message`]
//! words a denial. PutResourcePolicy and ValidateResourcePolicy hand the raw `ResourcePolicy`
//! string to [`parse_policy`] (or [`validate_resource_policy`]) before anything is stored; a syntax
//! error is [`PolicyError::Malformed`] (`MalformedPolicyDocumentException` on the wire), and with
//! `BlockPublicPolicy` the service refuses a document for which [`grants_public_access`] holds
//! (`PublicPolicyException`). [`parse_identity_policy`] and
//! [`parse_trust_policy`] parse the identity and trust policies of Coffer's own principals with the
//! same grammar.
//!
//! Grammar enforced (IAM's policy grammar, resource-policy flavour):
//! - at most 20480 characters (the `ResourcePolicy` member's limit), a JSON object whose only
//!   members are `Version` (required, `"2012-10-17"` or `"2008-10-17"`), `Id` (optional string) and
//!   `Statement` (one statement object or a non-empty array of them);
//! - a statement's only members are `Sid` (optional string, unique within the document), `Effect`
//!   (`"Allow"` | `"Deny"`), exactly one of `Principal`/`NotPrincipal` (required in a resource
//!   policy, forbidden in an identity policy), exactly one of `Action`/`NotAction`, exactly one of
//!   `Resource`/`NotResource`, and an optional `Condition`;
//! - `Action`, `Resource` and principal values are a string or a non-empty array of strings; an
//!   action is `"*"` or `vendor:pattern`, a resource is `"*"` or an ARN (wildcards allowed);
//! - `Principal` is `"*"` or an object of `AWS` / `Service` / `Federated` / `CanonicalUser`; an `AWS`
//!   principal is `"*"`, a 12-digit account id or an ARN;
//! - `Condition` maps an operator to a map of condition key (`vendor:name`) to a string, boolean or
//!   number or a non-empty array of them; operators are IAM's list (`String*`, `Numeric*`,
//!   `Date*`, `Bool`, `BinaryEquals`, `IpAddress`, `NotIpAddress`, `Arn*`, `Null`), optionally
//!   suffixed `IfExists` (not `Null`) and prefixed `ForAnyValue:` / `ForAllValues:`. Names of
//!   elements and operators are case-sensitive, as in IAM.

pub mod context;
mod error;
pub mod eval;
pub mod jsonkeys;
mod operators;
mod public;
mod validate;
mod variables;

pub use context::{
    AuthorizationRequest, ContextKeys, ContextValue, JsonKeyScope, PrincipalInfo, PrincipalKind,
    JSON_KEY_CONDITION_KEY,
};
pub use error::{PolicyError, Result};
pub use eval::{
    access_denied_message, evaluate, evaluate_all, evaluate_trust, policies_test_json_key,
    Decision, ImplicitDenyReason, PolicyType,
};
pub use jsonkeys::{filter_secret_string, json_key_access, top_level_keys, JsonKeyAccess};

pub use public::{grants_public_access, statement_grants_public_access};
pub use validate::{
    validate_resource_policy, ValidationIssue, CHECK_BROAD_ACCESS, CHECK_LOCKOUT, CHECK_SYNTAX,
};

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Largest accepted document, in characters (`NonEmptyResourcePolicyType`).
pub const MAX_POLICY_LENGTH: usize = 20_480;

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: PolicyVersion,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    V2012_10_17,
    V2008_10_17,
}

impl PolicyVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVersion::V2012_10_17 => "2012-10-17",
            PolicyVersion::V2008_10_17 => "2008-10-17",
        }
    }
}

/// Which flavour of the grammar applies: resource policies must name principals, identity
/// policies must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Resource,
    Identity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// Always `Some` in a resource policy, always `None` in an identity policy.
    pub principal: Option<PrincipalBlock>,
    pub action: ActionBlock,
    pub resource: ResourceBlock,
    /// Every clause must hold for the statement to apply (IAM ANDs operators and keys).
    pub condition: Vec<ConditionClause>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalBlock {
    Principal(Principals),
    NotPrincipal(Principals),
}

/// The value of `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// `"Principal": "*"`: everyone, including anonymous callers.
    Any,
    /// `"Principal": {"AWS": ..., "Service": ...}`.
    Named(PrincipalSet),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalSet {
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

impl PrincipalSet {
    /// Every listed principal value, whatever its type.
    pub fn all_values(&self) -> impl Iterator<Item = &str> {
        self.aws
            .iter()
            .chain(&self.service)
            .chain(&self.federated)
            .chain(&self.canonical_user)
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionBlock {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceBlock {
    Resource(Vec<String>),
    NotResource(Vec<String>),
}

/// One `operator -> key -> values` entry of a `Condition` block. Booleans and numbers are kept in
/// their JSON text form (`true`, `42`, `1.5`), as IAM compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionClause {
    pub operator: ConditionOperator,
    pub key: String,
    pub values: Vec<String>,
}

/// A condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    pub set: Option<SetQualifier>,
    pub kind: OperatorKind,
    pub if_exists: bool,
}

/// The multivalued-key qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

impl SetQualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            SetQualifier::ForAnyValue => "ForAnyValue",
            SetQualifier::ForAllValues => "ForAllValues",
        }
    }
}

macro_rules! operator_kinds {
    ($($name:ident),+ $(,)?) => {
        /// The base condition operators of IAM.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OperatorKind {
            $($name),+
        }

        impl OperatorKind {
            pub const ALL: &'static [OperatorKind] = &[$(OperatorKind::$name),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(OperatorKind::$name => stringify!($name)),+
                }
            }
        }
    };
}

operator_kinds!(
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
);

impl OperatorKind {
    /// True for operators that match when the value is *not* one of the listed values.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            OperatorKind::StringNotEquals
                | OperatorKind::StringNotEqualsIgnoreCase
                | OperatorKind::StringNotLike
                | OperatorKind::NumericNotEquals
                | OperatorKind::DateNotEquals
                | OperatorKind::NotIpAddress
                | OperatorKind::ArnNotEquals
                | OperatorKind::ArnNotLike
        )
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(set) = self.set {
            write!(f, "{}:", set.as_str())?;
        }
        f.write_str(self.kind.as_str())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

impl FromStr for ConditionOperator {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self> {
        let invalid =
            || PolicyError::Malformed(format!("Condition operator \"{s}\" is not supported."));
        let (set, rest) = match s.split_once(':') {
            Some(("ForAnyValue", rest)) => (Some(SetQualifier::ForAnyValue), rest),
            Some(("ForAllValues", rest)) => (Some(SetQualifier::ForAllValues), rest),
            Some(_) => return Err(invalid()),
            None => (None, s),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let kind = OperatorKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == base)
            .ok_or_else(invalid)?;
        if kind == OperatorKind::Null && if_exists {
            // `Null` already tests for existence; IAM has no NullIfExists.
            return Err(invalid());
        }
        Ok(ConditionOperator {
            set,
            kind,
            if_exists,
        })
    }
}

/// Parses a resource policy (Principal required). Errors are [`PolicyError::Malformed`] with the
/// first problem found.
pub fn parse_policy(doc: &str) -> Result<PolicyDocument> {
    parse_policy_of_kind(doc, PolicyKind::Resource)
}

/// Parses a role's trust policy (`AssumeRolePolicyDocument`): the resource-policy grammar,
/// except that a statement may omit `Resource` (as IAM's trust policies do; it means the role).
pub fn parse_trust_policy(doc: &str) -> Result<PolicyDocument> {
    let mut value: Value = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(_) => return parse_policy(doc),
    };
    let fill = |statement: &mut Value| {
        if let Some(obj) = statement.as_object_mut() {
            if !obj.contains_key("Resource") && !obj.contains_key("NotResource") {
                obj.insert("Resource".to_string(), Value::String("*".to_string()));
            }
        }
    };
    match value.get_mut("Statement") {
        Some(Value::Array(statements)) => statements.iter_mut().for_each(fill),
        Some(statement @ Value::Object(_)) => fill(statement),
        _ => {}
    }
    parse_policy(&value.to_string())
}

/// Parses an identity-based policy (Principal forbidden), for Coffer's own principals.
pub fn parse_identity_policy(doc: &str) -> Result<PolicyDocument> {
    parse_policy_of_kind(doc, PolicyKind::Identity)
}

pub fn parse_policy_of_kind(doc: &str, kind: PolicyKind) -> Result<PolicyDocument> {
    parse_collecting(doc, kind).map_err(|mut problems| {
        let first = if problems.is_empty() {
            "unknown problem".to_string()
        } else {
            problems.swap_remove(0)
        };
        let what = match kind {
            PolicyKind::Resource => "This resource policy",
            PolicyKind::Identity => "This policy",
        };
        PolicyError::Malformed(format!("{what} contains a syntax error: {first}"))
    })
}

/// Parses `doc`, collecting every problem rather than stopping at the first (ValidateResourcePolicy
/// reports them all).
pub(crate) fn parse_collecting(
    doc: &str,
    kind: PolicyKind,
) -> std::result::Result<PolicyDocument, Vec<String>> {
    let mut p = Problems::default();
    let doc = parse_document(doc, kind, &mut p);
    match doc {
        Some(doc) if p.0.is_empty() => Ok(doc),
        _ => Err(p.0),
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, msg: impl Into<String>) {
        self.0.push(msg.into());
    }
}

const DOCUMENT_KEYS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_KEYS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_document(doc: &str, kind: PolicyKind, p: &mut Problems) -> Option<PolicyDocument> {
    let chars = doc.chars().count();
    if doc.trim().is_empty() {
        p.push("the policy document is empty.");
        return None;
    }
    if chars > MAX_POLICY_LENGTH {
        p.push(format!(
            "the policy document is {chars} characters long; the maximum is {MAX_POLICY_LENGTH}."
        ));
        return None;
    }
    let value: Value = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(e) => {
            p.push(format!("the policy document is not valid JSON ({e})."));
            return None;
        }
    };
    let Value::Object(obj) = value else {
        p.push("the policy document must be a JSON object.");
        return None;
    };
    for key in obj.keys() {
        if !DOCUMENT_KEYS.contains(&key.as_str()) {
            p.push(format!(
                "unknown element \"{key}\" in the policy document; allowed are Version, Id and \
                 Statement."
            ));
        }
    }

    let version = match obj.get("Version") {
        None => {
            p.push("the policy document must specify Version \"2012-10-17\" or \"2008-10-17\".");
            None
        }
        Some(Value::String(v)) if v == "2012-10-17" => Some(PolicyVersion::V2012_10_17),
        Some(Value::String(v)) if v == "2008-10-17" => Some(PolicyVersion::V2008_10_17),
        Some(other) => {
            p.push(format!(
                "Version {other} is not supported; use \"2012-10-17\" or \"2008-10-17\"."
            ));
            None
        }
    };

    let id = match obj.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.push("Id must be a string.");
            None
        }
    };

    let statements = match obj.get("Statement") {
        None => {
            p.push("the policy document must contain a Statement.");
            None
        }
        Some(Value::Object(s)) => parse_statement(s, "Statement", kind, p).map(|s| vec![s]),
        Some(Value::Array(items)) if items.is_empty() => {
            p.push("Statement must contain at least one statement.");
            None
        }
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = format!("Statement[{i}]");
                match item {
                    Value::Object(s) => {
                        if let Some(s) = parse_statement(s, &path, kind, p) {
                            out.push(s);
                        }
                    }
                    _ => p.push(format!("{path} must be a JSON object.")),
                }
            }
            Some(out)
        }
        Some(_) => {
            p.push("Statement must be a statement object or an array of statement objects.");
            None
        }
    };

    if let Some(statements) = &statements {
        let mut seen = BTreeSet::new();
        for sid in statements.iter().filter_map(|s| s.sid.as_deref()) {
            if !sid.is_empty() && !seen.insert(sid) {
                p.push(format!(
                    "statement ids (Sid) must be unique within a policy; \"{sid}\" is repeated."
                ));
            }
        }
    }

    Some(PolicyDocument {
        version: version?,
        id,
        statements: statements?,
    })
}

fn parse_statement(
    obj: &Map<String, Value>,
    path: &str,
    kind: PolicyKind,
    p: &mut Problems,
) -> Option<Statement> {
    let before = p.0.len();
    for key in obj.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            p.push(format!("{path} has unknown element \"{key}\"."));
        }
    }

    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.push(format!("{path}.Sid must be a string."));
            None
        }
    };

    let effect = match obj.get("Effect") {
        None => {
            p.push(format!("{path} is missing the required element Effect."));
            None
        }
        Some(Value::String(e)) if e == "Allow" => Some(Effect::Allow),
        Some(Value::String(e)) if e == "Deny" => Some(Effect::Deny),
        Some(other) => {
            p.push(format!(
                "{path}.Effect must be \"Allow\" or \"Deny\", not {other}."
            ));
            None
        }
    };

    let principal = match (kind, obj.get("Principal"), obj.get("NotPrincipal")) {
        (_, Some(_), Some(_)) => {
            p.push(format!(
                "{path} must not contain both Principal and NotPrincipal."
            ));
            None
        }
        (PolicyKind::Identity, Some(_), None) | (PolicyKind::Identity, None, Some(_)) => {
            p.push(format!(
                "{path} must not name a Principal: an identity-based policy applies to the \
                 identity it is attached to."
            ));
            None
        }
        (PolicyKind::Identity, None, None) => None,
        (PolicyKind::Resource, None, None) => {
            p.push(format!(
                "{path} is missing the required element Principal (a resource policy must name \
                 the principals it applies to)."
            ));
            None
        }
        (PolicyKind::Resource, Some(v), None) => {
            parse_principals(v, &format!("{path}.Principal"), p).map(PrincipalBlock::Principal)
        }
        (PolicyKind::Resource, None, Some(v)) => {
            parse_principals(v, &format!("{path}.NotPrincipal"), p)
                .map(PrincipalBlock::NotPrincipal)
        }
    };

    let action = match (obj.get("Action"), obj.get("NotAction")) {
        (Some(_), Some(_)) => {
            p.push(format!(
                "{path} must not contain both Action and NotAction."
            ));
            None
        }
        (None, None) => {
            p.push(format!(
                "{path} is missing the required element Action (or NotAction)."
            ));
            None
        }
        (Some(v), None) => parse_actions(v, &format!("{path}.Action"), p).map(ActionBlock::Action),
        (None, Some(v)) => {
            parse_actions(v, &format!("{path}.NotAction"), p).map(ActionBlock::NotAction)
        }
    };

    let resource = match (obj.get("Resource"), obj.get("NotResource")) {
        (Some(_), Some(_)) => {
            p.push(format!(
                "{path} must not contain both Resource and NotResource."
            ));
            None
        }
        (None, None) => {
            p.push(format!(
                "{path} is missing the required element Resource (or NotResource); use \"*\" for \
                 the secret the policy is attached to."
            ));
            None
        }
        (Some(v), None) => {
            parse_resources(v, &format!("{path}.Resource"), p).map(ResourceBlock::Resource)
        }
        (None, Some(v)) => {
            parse_resources(v, &format!("{path}.NotResource"), p).map(ResourceBlock::NotResource)
        }
    };

    let condition = match obj.get("Condition") {
        None => Some(Vec::new()),
        Some(v) => parse_condition(v, &format!("{path}.Condition"), p),
    };

    if p.0.len() != before {
        return None;
    }
    Some(Statement {
        sid,
        effect: effect?,
        principal,
        action: action?,
        resource: resource?,
        condition: condition?,
    })
}

/// A string or a non-empty array of strings.
fn string_list(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => {
            p.push(format!("{path} must not be an empty array."));
            None
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    _ => {
                        p.push(format!("{path} must be a string or an array of strings."));
                        return None;
                    }
                }
            }
            Some(out)
        }
        _ => {
            p.push(format!("{path} must be a string or an array of strings."));
            None
        }
    }
}

fn parse_principals(v: &Value, path: &str, p: &mut Problems) -> Option<Principals> {
    match v {
        Value::String(s) if s == "*" => Some(Principals::Any),
        Value::String(s) => {
            p.push(format!(
                "{path} must be \"*\" or an object such as {{\"AWS\": ...}}, not \"{s}\"."
            ));
            None
        }
        Value::Object(map) if map.is_empty() => {
            p.push(format!("{path} must name at least one principal."));
            None
        }
        Value::Object(map) => {
            let before = p.0.len();
            let mut set = PrincipalSet::default();
            for (kind, values) in map {
                let item_path = format!("{path}.{kind}");
                let slot = match kind.as_str() {
                    "AWS" => &mut set.aws,
                    "Service" => &mut set.service,
                    "Federated" => &mut set.federated,
                    "CanonicalUser" => &mut set.canonical_user,
                    _ => {
                        p.push(format!(
                            "{path} has unsupported principal type \"{kind}\"; use AWS, Service, \
                             Federated or CanonicalUser."
                        ));
                        continue;
                    }
                };
                let Some(list) = string_list(values, &item_path, p) else {
                    continue;
                };
                for value in &list {
                    let ok = if kind == "AWS" {
                        is_aws_principal(value)
                    } else {
                        !value.is_empty() && !value.chars().any(char::is_whitespace)
                    };
                    if !ok {
                        p.push(format!(
                            "{item_path} contains an invalid principal \"{value}\"."
                        ));
                    }
                }
                *slot = list;
            }
            (p.0.len() == before).then_some(Principals::Named(set))
        }
        _ => {
            p.push(format!(
                "{path} must be \"*\" or an object of AWS, Service, Federated or CanonicalUser."
            ));
            None
        }
    }
}

/// `"*"`, a 12-digit account id, or an ARN (`arn:aws:iam::123456789012:role/x`).
fn is_aws_principal(value: &str) -> bool {
    value == "*"
        || (value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()))
        || (is_arn(value) && !value.chars().any(char::is_whitespace))
}

fn is_arn(value: &str) -> bool {
    value.starts_with("arn:") && value.split(':').count() >= 6
}

fn parse_actions(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    let list = string_list(v, path, p)?;
    let mut ok = true;
    for action in &list {
        let valid = action == "*"
            || action.split_once(':').is_some_and(|(vendor, name)| {
                !vendor.is_empty()
                    && vendor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !name.is_empty()
                    && !name.contains(':')
                    && !name.chars().any(char::is_whitespace)
            });
        if !valid {
            ok = false;
            p.push(format!(
                "{path}: action \"{action}\" must be \"*\" or prefaced by a vendor, for example \
                 \"secretsmanager:GetSecretValue\"."
            ));
        }
    }
    ok.then_some(list)
}

fn parse_resources(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    let list = string_list(v, path, p)?;
    let mut ok = true;
    for resource in &list {
        if resource != "*" && !is_arn(resource) {
            ok = false;
            p.push(format!(
                "{path}: resource \"{resource}\" must be \"*\" or an ARN."
            ));
        }
    }
    ok.then_some(list)
}

fn parse_condition(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<ConditionClause>> {
    let Value::Object(operators) = v else {
        p.push(format!(
            "{path} must be an object mapping condition operators to condition keys."
        ));
        return None;
    };
    let before = p.0.len();
    let mut clauses = Vec::new();
    for (op_name, keys) in operators {
        let op_path = format!("{path}.{op_name}");
        let operator = match op_name.parse::<ConditionOperator>() {
            Ok(op) => op,
            Err(_) => {
                p.push(format!(
                    "{path}: condition operator \"{op_name}\" is not supported."
                ));
                continue;
            }
        };
        let Value::Object(keys) = keys else {
            p.push(format!(
                "{op_path} must be an object mapping condition keys to values."
            ));
            continue;
        };
        if keys.is_empty() {
            p.push(format!(
                "{op_path} must contain at least one condition key."
            ));
        }
        for (key, values) in keys {
            let key_path = format!("{op_path}.{key}");
            let has_vendor = key
                .split_once(':')
                .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
            if !has_vendor {
                p.push(format!(
                    "{op_path}: condition key \"{key}\" must be prefaced by a vendor, for \
                     example \"aws:SourceAccount\"."
                ));
                continue;
            }
            if let Some(values) = condition_values(values, &key_path, p) {
                clauses.push(ConditionClause {
                    operator,
                    key: key.clone(),
                    values,
                });
            }
        }
    }
    (p.0.len() == before).then_some(clauses)
}

fn condition_values(v: &Value, path: &str, p: &mut Problems) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    let bad = |p: &mut Problems| {
        p.push(format!(
            "{path} must be a string, boolean or number, or a non-empty array of them."
        ));
        None
    };
    match v {
        Value::Array(items) if items.is_empty() => bad(p),
        Value::Array(items) => match items.iter().map(scalar).collect::<Option<Vec<_>>>() {
            Some(values) => Some(values),
            None => bad(p),
        },
        other => match scalar(other) {
            Some(s) => Some(vec![s]),
            None => bad(p),
        },
    }
}

/// IAM-style wildcard match: `*` is any run of characters, `?` exactly one; case-insensitive,
/// as IAM compares action names.
pub fn matches_wildcard(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Iterative glob with single-star backtracking: linear in practice, never exponential.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        if pi < pattern.len() && (pattern[pi] == '?' || pattern[pi] == text[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < pattern.len() && pattern[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
        "Version": "2012-10-17",
        "Id": "policy-1",
        "Statement": [
            {
                "Sid": "ReadFromRole",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:role/reader", "210987654321"]},
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"secretsmanager:VersionStage": ["AWSCURRENT", "AWSPREVIOUS"]},
                    "ForAnyValue:StringLikeIfExists": {"aws:PrincipalTag/team": "db-*"},
                    "Bool": {"aws:SecureTransport": true},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": 3600}
                }
            },
            {
                "Effect": "Deny",
                "NotPrincipal": {"Service": "lambda.amazonaws.com"},
                "NotAction": "secretsmanager:Get*",
                "NotResource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-*"
            }
        ]
    }"#;

    fn malformed(doc: &str) -> String {
        match parse_policy(doc) {
            Err(PolicyError::Malformed(m)) => m,
            other => panic!("expected MalformedPolicyDocument, got {other:?}"),
        }
    }

    fn statement(body: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{body}}}"#)
    }

    #[test]
    fn parse_full_document_typed() {
        let doc = parse_policy(GOOD).unwrap();
        assert_eq!(doc.version, PolicyVersion::V2012_10_17);
        assert_eq!(doc.id.as_deref(), Some("policy-1"));
        assert_eq!(doc.statements.len(), 2);

        let s = &doc.statements[0];
        assert_eq!(s.sid.as_deref(), Some("ReadFromRole"));
        assert_eq!(s.effect, Effect::Allow);
        let Some(PrincipalBlock::Principal(Principals::Named(set))) = &s.principal else {
            panic!("{:?}", s.principal);
        };
        assert_eq!(
            set.aws,
            ["arn:aws:iam::123456789012:role/reader", "210987654321"]
        );
        assert_eq!(
            s.action,
            ActionBlock::Action(vec![
                "secretsmanager:GetSecretValue".into(),
                "secretsmanager:Describe*".into()
            ])
        );
        assert_eq!(s.resource, ResourceBlock::Resource(vec!["*".into()]));
        assert_eq!(s.condition.len(), 4);
        let stage = s
            .condition
            .iter()
            .find(|c| c.key == "secretsmanager:VersionStage")
            .unwrap();
        assert_eq!(stage.operator.kind, OperatorKind::StringEquals);
        assert_eq!(stage.values, ["AWSCURRENT", "AWSPREVIOUS"]);
        let tag = s
            .condition
            .iter()
            .find(|c| c.key == "aws:PrincipalTag/team")
            .unwrap();
        assert_eq!(tag.operator.set, Some(SetQualifier::ForAnyValue));
        assert!(tag.operator.if_exists);
        assert_eq!(tag.operator.to_string(), "ForAnyValue:StringLikeIfExists");
        let tls = s
            .condition
            .iter()
            .find(|c| c.key == "aws:SecureTransport")
            .unwrap();
        assert_eq!(tls.values, ["true"]);
        let age = s
            .condition
            .iter()
            .find(|c| c.key == "aws:MultiFactorAuthAge")
            .unwrap();
        assert_eq!(age.values, ["3600"]);

        let d = &doc.statements[1];
        assert_eq!(d.effect, Effect::Deny);
        assert!(matches!(
            &d.principal,
            Some(PrincipalBlock::NotPrincipal(Principals::Named(set))) if set.service == ["lambda.amazonaws.com"]
        ));
        assert_eq!(
            d.action,
            ActionBlock::NotAction(vec!["secretsmanager:Get*".into()])
        );
        assert!(matches!(d.resource, ResourceBlock::NotResource(_)));
        assert!(d.condition.is_empty());
    }

    #[test]
    fn parse_single_statement_object_accepted() {
        let doc = parse_policy(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#,
        ))
        .unwrap();
        assert_eq!(doc.statements.len(), 1);
        assert_eq!(
            doc.statements[0].principal,
            Some(PrincipalBlock::Principal(Principals::Any))
        );
    }

    #[test]
    fn parse_version_2008_accepted() {
        let doc = parse_policy(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(doc.version, PolicyVersion::V2008_10_17);
        assert_eq!(doc.version.as_str(), "2008-10-17");
    }

    #[test]
    fn parse_too_large_malformed() {
        let padding = " ".repeat(MAX_POLICY_LENGTH);
        let msg = malformed(&format!("{padding}{GOOD}"));
        assert!(msg.contains("maximum is 20480"), "{msg}");
        // Exactly at the limit is fine.
        let body = GOOD;
        let exact = format!(
            "{body}{}",
            " ".repeat(MAX_POLICY_LENGTH - body.chars().count())
        );
        assert!(parse_policy(&exact).is_ok());
    }

    #[test]
    fn parse_empty_malformed() {
        assert!(malformed("").contains("empty"));
        assert!(malformed("   ").contains("empty"));
    }

    #[test]
    fn parse_invalid_json_malformed() {
        let msg = malformed(r#"{"Version": "2012-10-17", "Statement": ["#);
        assert!(msg.contains("not valid JSON"), "{msg}");
        assert!(msg.starts_with("This resource policy contains a syntax error"));
    }

    #[test]
    fn parse_non_object_malformed() {
        assert!(malformed("[]").contains("must be a JSON object"));
        assert!(malformed("\"policy\"").contains("must be a JSON object"));
    }

    #[test]
    fn parse_missing_version_malformed() {
        let msg = malformed(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        );
        assert!(msg.contains("Version"), "{msg}");
    }

    #[test]
    fn parse_unsupported_version_malformed() {
        let msg = malformed(
            r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        );
        assert!(msg.contains("\"2012-10-18\" is not supported"), "{msg}");
        let msg = malformed(
            r#"{"Version":20121017,"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        );
        assert!(msg.contains("not supported"), "{msg}");
    }

    #[test]
    fn parse_unknown_top_level_key_malformed() {
        let msg = malformed(
            r#"{"Version":"2012-10-17","Extra":1,"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        );
        assert!(msg.contains("unknown element \"Extra\""), "{msg}");
    }

    #[test]
    fn parse_id_not_string_malformed() {
        let msg = malformed(
            r#"{"Version":"2012-10-17","Id":5,"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        );
        assert!(msg.contains("Id must be a string"), "{msg}");
    }

    #[test]
    fn parse_missing_statement_malformed() {
        assert!(malformed(r#"{"Version":"2012-10-17"}"#).contains("must contain a Statement"));
    }

    #[test]
    fn parse_statement_wrong_shape_malformed() {
        assert!(malformed(&statement("[]")).contains("at least one statement"));
        assert!(malformed(&statement("\"x\"")).contains("statement object"));
        assert!(malformed(&statement("[1]")).contains("Statement[0] must be a JSON object"));
    }

    #[test]
    fn parse_statement_unknown_key_malformed() {
        let msg = malformed(&statement(
            r#"[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Actions":"x"}]"#,
        ));
        assert!(
            msg.contains("Statement[0] has unknown element \"Actions\""),
            "{msg}"
        );
    }

    #[test]
    fn parse_sid_not_string_malformed() {
        let msg = malformed(&statement(
            r#"{"Sid":1,"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#,
        ));
        assert!(msg.contains("Sid must be a string"), "{msg}");
    }

    #[test]
    fn parse_duplicate_sid_malformed() {
        let msg = malformed(&statement(
            r#"[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
                {"Sid":"A","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]"#,
        ));
        assert!(msg.contains("\"A\" is repeated"), "{msg}");
    }

    #[test]
    fn parse_effect_missing_or_invalid_malformed() {
        let msg = malformed(&statement(
            r#"{"Principal":"*","Action":"*","Resource":"*"}"#,
        ));
        assert!(msg.contains("missing the required element Effect"), "{msg}");
        let msg = malformed(&statement(
            r#"{"Effect":"allow","Principal":"*","Action":"*","Resource":"*"}"#,
        ));
        assert!(
            msg.contains("Effect must be \"Allow\" or \"Deny\""),
            "{msg}"
        );
    }

    #[test]
    fn parse_resource_policy_without_principal_malformed() {
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
        ));
        assert!(
            msg.contains("missing the required element Principal"),
            "{msg}"
        );
    }

    #[test]
    fn parse_principal_and_not_principal_malformed() {
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"}"#,
        ));
        assert!(msg.contains("both Principal and NotPrincipal"), "{msg}");
    }

    #[test]
    fn parse_principal_shapes_malformed() {
        for (principal, needle) in [
            (
                r#""arn:aws:iam::123456789012:root""#,
                "must be \"*\" or an object",
            ),
            (r#"{}"#, "at least one principal"),
            (r#"{"User":"x"}"#, "unsupported principal type \"User\""),
            (r#"{"AWS":"bob"}"#, "invalid principal \"bob\""),
            (r#"{"AWS":[]}"#, "must not be an empty array"),
            (r#"{"AWS":[1]}"#, "string or an array of strings"),
            (r#"{"Service":""}"#, "invalid principal"),
            (r#"5"#, "must be \"*\" or an object"),
        ] {
            let msg = malformed(&statement(&format!(
                r#"{{"Effect":"Allow","Principal":{principal},"Action":"*","Resource":"*"}}"#
            )));
            assert!(msg.contains(needle), "{principal}: {msg}");
        }
    }

    #[test]
    fn parse_principal_types_accepted() {
        let doc = parse_policy(&statement(
            r#"{"Effect":"Allow","Principal":{"AWS":"*","Service":["a.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},"Action":"*","Resource":"*"}"#,
        ))
        .unwrap();
        let Some(PrincipalBlock::Principal(Principals::Named(set))) = &doc.statements[0].principal
        else {
            panic!()
        };
        assert_eq!(set.aws, ["*"]);
        assert_eq!(set.all_values().count(), 4);
    }

    #[test]
    fn parse_action_rules_malformed() {
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Resource":"*"}"#,
        ));
        assert!(msg.contains("missing the required element Action"), "{msg}");
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*","Resource":"*"}"#,
        ));
        assert!(msg.contains("both Action and NotAction"), "{msg}");
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"GetSecretValue","Resource":"*"}"#,
        ));
        assert!(msg.contains("prefaced by a vendor"), "{msg}");
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":{"a":1},"Resource":"*"}"#,
        ));
        assert!(msg.contains("string or an array of strings"), "{msg}");
    }

    #[test]
    fn parse_resource_rules_malformed() {
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*"}"#,
        ));
        assert!(
            msg.contains("missing the required element Resource"),
            "{msg}"
        );
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"}"#,
        ));
        assert!(msg.contains("both Resource and NotResource"), "{msg}");
        let msg = malformed(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"my-secret"}"#,
        ));
        assert!(msg.contains("must be \"*\" or an ARN"), "{msg}");
    }

    #[test]
    fn parse_condition_shapes_malformed() {
        for (condition, needle) in [
            (r#""x""#, "must be an object mapping condition operators"),
            (
                r#"{"StringEqual":{"aws:username":"a"}}"#,
                "\"StringEqual\" is not supported",
            ),
            (
                r#"{"stringequals":{"aws:username":"a"}}"#,
                "is not supported",
            ),
            (
                r#"{"NullIfExists":{"aws:username":"true"}}"#,
                "is not supported",
            ),
            (
                r#"{"ForSomeValues:StringEquals":{"aws:username":"a"}}"#,
                "is not supported",
            ),
            (
                r#"{"StringEquals":"a"}"#,
                "must be an object mapping condition keys",
            ),
            (r#"{"StringEquals":{}}"#, "at least one condition key"),
            (
                r#"{"StringEquals":{"username":"a"}}"#,
                "prefaced by a vendor",
            ),
            (
                r#"{"StringEquals":{"aws:username":null}}"#,
                "string, boolean or number",
            ),
            (r#"{"StringEquals":{"aws:username":[]}}"#, "non-empty array"),
            (
                r#"{"StringEquals":{"aws:username":[["a"]]}}"#,
                "string, boolean or number",
            ),
            (
                r#"{"StringEquals":{"aws:username":{"a":"b"}}}"#,
                "string, boolean or number",
            ),
        ] {
            let msg = malformed(&statement(&format!(
                r#"{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{condition}}}"#
            )));
            assert!(msg.contains(needle), "{condition}: {msg}");
        }
    }

    #[test]
    fn parse_condition_every_operator_accepted() {
        for kind in OperatorKind::ALL {
            for set in [None, Some("ForAnyValue:"), Some("ForAllValues:")] {
                for suffix in ["", "IfExists"] {
                    if *kind == OperatorKind::Null && suffix == "IfExists" {
                        continue;
                    }
                    let op = format!("{}{}{}", set.unwrap_or(""), kind.as_str(), suffix);
                    let parsed: ConditionOperator = op.parse().unwrap();
                    assert_eq!(parsed.to_string(), op);
                    let doc = statement(&format!(
                        r#"{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{{"{op}":{{"aws:k":"v"}}}}}}"#
                    ));
                    assert!(parse_policy(&doc).is_ok(), "{op}");
                }
            }
        }
    }

    #[test]
    fn parse_empty_condition_block_accepted() {
        let doc = parse_policy(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{}}"#,
        ))
        .unwrap();
        assert!(doc.statements[0].condition.is_empty());
    }

    #[test]
    fn parse_identity_policy_principal_rules() {
        let doc = parse_identity_policy(&statement(
            r#"{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#,
        ))
        .unwrap();
        assert_eq!(doc.statements[0].principal, None);
        let err = parse_identity_policy(&statement(
            r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#,
        ))
        .unwrap_err();
        assert!(err
            .message()
            .starts_with("This policy contains a syntax error"));
        assert!(err.message().contains("must not name a Principal"));
    }

    #[test]
    fn parse_collecting_reports_every_problem() {
        let problems = parse_collecting(
            &statement(
                r#"[{"Effect":"Maybe","Principal":"*","Action":"*","Resource":"*"},
                    {"Effect":"Allow","Action":"x","Resource":"*"}]"#,
            ),
            PolicyKind::Resource,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("Statement[0].Effect"));
        assert!(problems[1].starts_with("Statement[1] is missing the required element Principal"));
        assert!(problems[2].starts_with("Statement[1].Action"));
    }

    #[test]
    fn matches_wildcard_cases() {
        assert!(matches_wildcard("*", ""));
        assert!(matches_wildcard(
            "secretsmanager:*",
            "secretsmanager:GetSecretValue"
        ));
        assert!(matches_wildcard(
            "SecretsManager:get*",
            "secretsmanager:GetSecretValue"
        ));
        assert!(matches_wildcard(
            "secretsmanager:Get?ecretValue",
            "secretsmanager:GetSecretValue"
        ));
        assert!(matches_wildcard(
            "*Resource*",
            "secretsmanager:PutResourcePolicy"
        ));
        assert!(!matches_wildcard(
            "secretsmanager:Put*",
            "secretsmanager:GetSecretValue"
        ));
        assert!(!matches_wildcard("a?", "a"));
        assert!(matches_wildcard("a*b*c", "axxbyyc"));
        assert!(!matches_wildcard("a*b*c", "axxbyy"));
    }
}
