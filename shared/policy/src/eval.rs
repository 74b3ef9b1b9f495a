//! Policy evaluation: the decision for one [`AuthorizationRequest`] given the caller's identity
//! policies and the secret's resource policy.
//!
//! Data path: the service authorizes every call before it touches the repository: it builds
//! the request (principal from authentication, action and condition keys from
//! coffer-core's `policy_actions`), loads the principal's identity policies and the secret's resource
//! policies, calls [`evaluate`], and on a denial answers `AccessDeniedException` with
//! [`access_denied_message`].
//!
//! The logic is IAM's ("Policy evaluation logic", "Cross-account policy evaluation logic"):
//! 1. A statement applies when its `Action`/`NotAction`, `Resource`/`NotResource`, in a resource
//!    policy its `Principal`/`NotPrincipal`, and every `Condition` clause match the request.
//!    Actions match case-insensitively with `*`/`?`; resources match case-sensitively, part by
//!    part (see `arn_match` in `variables.rs`); a request on `*` (ListSecrets, ...) is matched
//!    only by `"Resource": "*"`. A statement with an unresolvable policy variable does not apply.
//! 2. An applicable `Deny` in any policy is an explicit deny, and wins over every allow
//!    (identity-based policies are reported first).
//! 3. The identity side allows when an identity-based statement allows; the root user of an
//!    account is implicitly allowed on its identity side (root can do everything in its
//!    account) but is still subject to explicit denies, including the resource policy's.
//! 4. The resource side allows *directly* when a resource-policy statement names the caller:
//!    `"*"`, `{"AWS": "*"}`, the caller's user ARN, the session ARN, or, for a role session, the
//!    role's ARN. It allows *for the account* when the statement names the caller's account
//!    (`"123456789012"` or `arn:aws:iam::123456789012:root`): that delegates to the account,
//!    whose identity policies must then allow too (User Guide, Principal element).
//! 5. Same account: allowed if the identity side allows or the resource side allows directly.
//!    Cross-account (the resource's account differs from the caller's): the identity side must
//!    allow *and* the resource side must allow, directly or for the account.
//!
//! `NotPrincipal`: AWS evaluates a caller as a chain of identities — its account, the role (for
//! a session) and the user or session. A `Deny` with `NotPrincipal` applies unless *every*
//! identity of the chain is listed (so excluding a user needs the user and its account, as the
//! User Guide advises); an `Allow` with `NotPrincipal` applies only if *no* identity of the chain
//! is listed. `Service`, `Federated` and `CanonicalUser` principals never name a Coffer caller.

use super::context::{AuthorizationRequest, ContextKeys, JsonKeyScope, JSON_KEY_CONDITION_KEY};
use super::operators::clause_holds;
use super::variables::{arn_match, expand, Unresolved};
use super::{
    matches_wildcard, ActionBlock, Effect, PolicyDocument, PrincipalBlock, Principals,
    ResourceBlock, Statement,
};

/// Which kind of policy a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    Identity,
    Resource,
}

/// Why nothing allowed the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImplicitDenyReason {
    /// No identity-based statement allows (and, in the same account, no resource-policy
    /// statement names the caller), or, across accounts, the resource policy allows but the
    /// caller's identity policies do not.
    NoIdentityAllow,
    /// Across accounts: the identity policies allow but no resource-policy statement allows
    /// the caller or its account (or the secret has no resource policy).
    NoResourceAllow,
    /// Across accounts: neither side allows.
    CrossAccountNeedsBoth,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement applied.
    ExplicitDeny {
        policy: PolicyType,
        /// The index of the denying policy among the identity policies (or resource policies).
        policy_index: usize,
        /// The denying statement's `Sid`, if it has one.
        sid: Option<String>,
    },
    ImplicitDeny {
        reason: ImplicitDenyReason,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// How a resource-policy statement's principal element matches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PrincipalMatch {
    No,
    /// The caller's account is named: access is delegated to the account.
    Account,
    /// The caller itself (or everyone) is named.
    Direct,
}

/// Decides `request` against the caller's identity policies and the resource's policy.
pub fn evaluate(
    request: &AuthorizationRequest,
    identity_policies: &[PolicyDocument],
    resource_policy: Option<&PolicyDocument>,
) -> Decision {
    let resource_policies = resource_policy.map(std::slice::from_ref).unwrap_or(&[]);
    evaluate_all(request, identity_policies, resource_policies)
}

/// [`evaluate`] for a resource with several resource policies (Coffer keeps named policies per
/// secret); their statements are evaluated as one policy.
pub fn evaluate_all(
    request: &AuthorizationRequest,
    identity_policies: &[PolicyDocument],
    resource_policies: &[PolicyDocument],
) -> Decision {
    let ctx = request.effective_context();

    let mut identity_allow = false;
    for (index, policy) in identity_policies.iter().enumerate() {
        for statement in &policy.statements {
            if !statement_applies(statement, policy, request, &ctx) {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        policy: PolicyType::Identity,
                        policy_index: index,
                        sid: statement.sid.clone(),
                    }
                }
                Effect::Allow => identity_allow = true,
            }
        }
    }

    let mut resource_allow = PrincipalMatch::No;
    for (index, policy) in resource_policies.iter().enumerate() {
        for statement in &policy.statements {
            let principal = principal_match(statement, request);
            if principal == PrincipalMatch::No
                || !statement_applies(statement, policy, request, &ctx)
            {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        policy: PolicyType::Resource,
                        policy_index: index,
                        sid: statement.sid.clone(),
                    }
                }
                Effect::Allow => resource_allow = resource_allow.max(principal),
            }
        }
    }

    let identity_allowed = identity_allow || request.principal.is_root();
    if !request.is_cross_account() {
        if identity_allowed || resource_allow == PrincipalMatch::Direct {
            return Decision::Allow;
        }
        return Decision::ImplicitDeny {
            reason: ImplicitDenyReason::NoIdentityAllow,
        };
    }
    let resource_allowed = resource_allow != PrincipalMatch::No;
    let reason = match (identity_allowed, resource_allowed) {
        (true, true) => return Decision::Allow,
        (true, false) => ImplicitDenyReason::NoResourceAllow,
        (false, true) => ImplicitDenyReason::NoIdentityAllow,
        (false, false) => ImplicitDenyReason::CrossAccountNeedsBoth,
    };
    Decision::ImplicitDeny { reason }
}

/// Decides `sts:AssumeRole` (or another action on a role) as IAM does with a role's trust
/// policy: the trust policy must allow the caller (by name, or its account); when it names only
/// the account, the caller's identity policies must allow too (root always does in its own
/// account); across accounts both sides are needed; an explicit deny anywhere wins. Unlike
/// [`evaluate_all`], an identity allow alone (or root) never suffices.
pub fn evaluate_trust(
    request: &AuthorizationRequest,
    identity_policies: &[PolicyDocument],
    trust_policy: &PolicyDocument,
) -> Decision {
    let decision = evaluate_all(
        request,
        identity_policies,
        std::slice::from_ref(trust_policy),
    );
    if !decision.is_allowed() {
        return decision;
    }
    let ctx = request.effective_context();
    let trusted = trust_policy.statements.iter().any(|statement| {
        statement.effect == Effect::Allow
            && principal_match(statement, request) != PrincipalMatch::No
            && statement_applies(statement, trust_policy, request, &ctx)
    });
    if trusted {
        Decision::Allow
    } else {
        Decision::ImplicitDeny {
            reason: ImplicitDenyReason::NoResourceAllow,
        }
    }
}

/// The `AccessDeniedException` message AWS gives for `decision`, e.g. `User:
/// arn:aws:iam::123456789012:user/alice is not authorized to perform:
/// secretsmanager:GetSecretValue on resource: prod/db because no identity-based policy allows
/// the secretsmanager:GetSecretValue action`. The resource is the one the caller named
/// ([`AuthorizationRequest::message_resource`]) so the message reveals nothing the caller did not
/// send; actions on `*` carry no "on resource" part. Meant for denials; for `Allow` it returns
/// the implicit-deny wording.
pub fn access_denied_message(request: &AuthorizationRequest, decision: &Decision) -> String {
    let resource = request
        .message_resource
        .as_deref()
        .unwrap_or(&request.resource);
    let on = if resource == "*" || resource.is_empty() {
        String::new()
    } else {
        format!(" on resource: {resource}")
    };
    let action = &request.action;
    let head = format!(
        "User: {} is not authorized to perform: {action}{on}",
        request.principal.arn
    );
    match decision {
        Decision::ExplicitDeny {
            policy: PolicyType::Identity,
            ..
        } => format!("{head} with an explicit deny in an identity-based policy"),
        Decision::ExplicitDeny {
            policy: PolicyType::Resource,
            ..
        } => format!("{head} with an explicit deny in a resource-based policy"),
        Decision::ImplicitDeny {
            reason: ImplicitDenyReason::NoResourceAllow,
        } => format!("{head} because no resource-based policy allows the {action} action"),
        Decision::ImplicitDeny { .. } | Decision::Allow => {
            format!("{head} because no identity-based policy allows the {action} action")
        }
    }
}

/// True when any statement of the policies tests `coffer:JsonKey`.
pub fn policies_test_json_key<'a>(policies: impl IntoIterator<Item = &'a PolicyDocument>) -> bool {
    policies
        .into_iter()
        .flat_map(|p| &p.statements)
        .any(tests_json_key)
}

fn tests_json_key(statement: &Statement) -> bool {
    statement
        .condition
        .iter()
        .any(|c| c.key.eq_ignore_ascii_case(JSON_KEY_CONDITION_KEY))
}

fn statement_applies(
    statement: &Statement,
    policy: &PolicyDocument,
    request: &AuthorizationRequest,
    ctx: &ContextKeys,
) -> bool {
    if !action_matches(&statement.action, &request.action) {
        return false;
    }
    // The JSON-key scope decides whether key-scoped statements take part (see jsonkeys).
    let key_scoped = tests_json_key(statement);
    let skip_json_key_clauses = match (&request.json_keys, key_scoped, statement.effect) {
        (_, false, _) => false,
        (JsonKeyScope::NotApplicable, true, Effect::Allow) => return false,
        (JsonKeyScope::NotApplicable, true, Effect::Deny) => false,
        (JsonKeyScope::Pending, true, Effect::Allow) => true,
        (JsonKeyScope::Pending, true, Effect::Deny) => return false,
        (JsonKeyScope::Keys(_), true, _) => false,
    };
    let applies = || -> Result<bool, Unresolved> {
        if !resource_matches(&statement.resource, policy, request, ctx)? {
            return Ok(false);
        }
        for clause in &statement.condition {
            if skip_json_key_clauses && clause.key.eq_ignore_ascii_case(JSON_KEY_CONDITION_KEY) {
                continue;
            }
            if !clause_holds(clause, ctx, policy.version)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    applies().unwrap_or(false)
}

fn action_matches(block: &ActionBlock, action: &str) -> bool {
    match block {
        ActionBlock::Action(list) => list.iter().any(|p| matches_wildcard(p, action)),
        ActionBlock::NotAction(list) => !list.iter().any(|p| matches_wildcard(p, action)),
    }
}

fn resource_matches(
    block: &ResourceBlock,
    policy: &PolicyDocument,
    request: &AuthorizationRequest,
    ctx: &ContextKeys,
) -> Result<bool, Unresolved> {
    let (list, negate) = match block {
        ResourceBlock::Resource(list) => (list, false),
        ResourceBlock::NotResource(list) => (list, true),
    };
    let mut any = false;
    for pattern in list {
        let tokens = expand(pattern, ctx, policy.version, true)?;
        if arn_match(&tokens, &request.resource) {
            any = true;
            break;
        }
    }
    Ok(any != negate)
}

fn principal_match(statement: &Statement, request: &AuthorizationRequest) -> PrincipalMatch {
    match &statement.principal {
        // Identity policies have no principal element; resource policies always do.
        None => PrincipalMatch::No,
        Some(PrincipalBlock::Principal(principals)) => principals_match(principals, request),
        Some(PrincipalBlock::NotPrincipal(principals)) => {
            let chain = request.principal.identity_chain();
            let listed = |identity: &String| match principals {
                Principals::Any => true,
                Principals::Named(set) => set.aws.iter().any(|v| names_identity(v, identity)),
            };
            let applies = match statement.effect {
                Effect::Deny => !chain.iter().all(listed),
                Effect::Allow => !chain.iter().any(listed),
            };
            if applies {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
    }
}

fn principals_match(principals: &Principals, request: &AuthorizationRequest) -> PrincipalMatch {
    let set = match principals {
        Principals::Any => return PrincipalMatch::Direct,
        Principals::Named(set) => set,
    };
    let p = &request.principal;
    let account_arn = p.account_arn();
    let role_arn = p.role_arn();
    set.aws
        .iter()
        .map(|value| {
            let value = normalize_aws_principal(value);
            if value == "*" || value == p.arn || role_arn.as_deref() == Some(value.as_str()) {
                PrincipalMatch::Direct
            } else if value == account_arn {
                if p.is_root() {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::Account
                }
            } else {
                PrincipalMatch::No
            }
        })
        .max()
        .unwrap_or(PrincipalMatch::No)
}

/// `"123456789012"` is shorthand for `arn:aws:iam::123456789012:root`.
fn normalize_aws_principal(value: &str) -> String {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{value}:root")
    } else {
        value.to_string()
    }
}

/// Whether a principal entry names one identity of a caller's chain.
fn names_identity(value: &str, identity: &str) -> bool {
    value == "*" || normalize_aws_principal(value) == identity
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::PrincipalInfo;
    use crate::{parse_identity_policy, parse_policy};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

    fn alice() -> PrincipalInfo {
        PrincipalInfo::user("123456789012", "alice", "AIDAALICE")
    }

    fn identity(statements: &str) -> PolicyDocument {
        parse_identity_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
        ))
        .unwrap()
    }

    fn resource(statements: &str) -> PolicyDocument {
        parse_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
        ))
        .unwrap()
    }

    fn get(principal: PrincipalInfo, resource: &str) -> AuthorizationRequest {
        AuthorizationRequest::new(principal, "secretsmanager:GetSecretValue", resource)
    }

    #[test]
    fn evaluate_no_policies_implicit_deny() {
        let d = evaluate(&get(alice(), SECRET), &[], None);
        assert_eq!(
            d,
            Decision::ImplicitDeny {
                reason: ImplicitDenyReason::NoIdentityAllow
            }
        );
        assert!(!d.is_allowed());
    }

    #[test]
    fn evaluate_identity_allow_allows() {
        let p = identity(r#"{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"*"}"#);
        assert_eq!(evaluate(&get(alice(), SECRET), &[p], None), Decision::Allow);
    }

    #[test]
    fn evaluate_deny_wins_and_reports_sid() {
        let allow = identity(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        let deny = identity(
            r#"{"Sid":"NoReads","Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#,
        );
        assert_eq!(
            evaluate(&get(alice(), SECRET), &[allow, deny], None),
            Decision::ExplicitDeny {
                policy: PolicyType::Identity,
                policy_index: 1,
                sid: Some("NoReads".into())
            }
        );
    }

    #[test]
    fn evaluate_root_implicitly_allowed_but_resource_deny_applies() {
        let root = PrincipalInfo::root("123456789012");
        assert_eq!(
            evaluate(&get(root.clone(), SECRET), &[], None),
            Decision::Allow
        );
        let deny = resource(r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}"#);
        assert!(matches!(
            evaluate(&get(root, SECRET), &[], Some(&deny)),
            Decision::ExplicitDeny {
                policy: PolicyType::Resource,
                ..
            }
        ));
    }

    #[test]
    fn evaluate_account_principal_delegates_in_same_account() {
        let rp = resource(
            r#"{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"*","Resource":"*"}"#,
        );
        assert_eq!(
            evaluate(&get(alice(), SECRET), &[], Some(&rp)),
            Decision::ImplicitDeny {
                reason: ImplicitDenyReason::NoIdentityAllow
            }
        );
        let direct = resource(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"*","Resource":"*"}"#,
        );
        assert_eq!(
            evaluate(&get(alice(), SECRET), &[], Some(&direct)),
            Decision::Allow
        );
    }

    #[test]
    fn evaluate_cross_account_needs_both() {
        let bob = PrincipalInfo::user("210987654321", "bob", "AIDABOB");
        let allow_id = identity(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        let rp = resource(
            r#"{"Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"*","Resource":"*"}"#,
        );
        let req = get(bob, SECRET);
        assert_eq!(
            evaluate(&req, &[], None),
            Decision::ImplicitDeny {
                reason: ImplicitDenyReason::CrossAccountNeedsBoth
            }
        );
        assert_eq!(
            evaluate(&req, std::slice::from_ref(&allow_id), None),
            Decision::ImplicitDeny {
                reason: ImplicitDenyReason::NoResourceAllow
            }
        );
        assert_eq!(
            evaluate(&req, &[], Some(&rp)),
            Decision::ImplicitDeny {
                reason: ImplicitDenyReason::NoIdentityAllow
            }
        );
        assert_eq!(evaluate(&req, &[allow_id], Some(&rp)), Decision::Allow);
    }

    #[test]
    fn access_denied_message_shapes() {
        let req = get(alice(), SECRET).with_message_resource("db");
        let head = "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
                    secretsmanager:GetSecretValue on resource: db";
        assert_eq!(
            access_denied_message(
                &req,
                &Decision::ImplicitDeny {
                    reason: ImplicitDenyReason::NoIdentityAllow
                }
            ),
            format!("{head} because no identity-based policy allows the secretsmanager:GetSecretValue action")
        );
        assert_eq!(
            access_denied_message(
                &req,
                &Decision::ImplicitDeny {
                    reason: ImplicitDenyReason::NoResourceAllow
                }
            ),
            format!("{head} because no resource-based policy allows the secretsmanager:GetSecretValue action")
        );
        assert_eq!(
            access_denied_message(
                &req,
                &Decision::ExplicitDeny {
                    policy: PolicyType::Identity,
                    policy_index: 0,
                    sid: None
                }
            ),
            format!("{head} with an explicit deny in an identity-based policy")
        );
        assert_eq!(
            access_denied_message(
                &req,
                &Decision::ExplicitDeny {
                    policy: PolicyType::Resource,
                    policy_index: 0,
                    sid: None
                }
            ),
            format!("{head} with an explicit deny in a resource-based policy")
        );
        let list = AuthorizationRequest::new(alice(), "secretsmanager:ListSecrets", "*");
        assert_eq!(
            access_denied_message(
                &list,
                &Decision::ImplicitDeny {
                    reason: ImplicitDenyReason::NoIdentityAllow
                }
            ),
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
             secretsmanager:ListSecrets because no identity-based policy allows the \
             secretsmanager:ListSecrets action"
        );
    }
}
