//! ValidateResourcePolicy: the checks AWS documents for the operation, as a list of issues.
//!
//! Data path: the service calls [`validate_resource_policy`] with the candidate document and
//! answers `PolicyValidationPassed = issues.is_empty()` with `ValidationErrors` built from the
//! issues; nothing is stored. AWS runs three checks, and Coffer mirrors each:
//! - [`CHECK_SYNTAX`]: the grammar of [`super::parse_policy`]; every problem found is one issue,
//!   and the other checks run only on a document that parses;
//! - [`CHECK_BROAD_ACCESS`]: one issue per statement for which
//!   [`super::statement_grants_public_access`] holds (the Zelkova approximation);
//! - [`CHECK_LOCKOUT`]: the policy must not lock every caller out of managing it, i.e. deny
//!   everyone, unconditionally, both `secretsmanager:PutResourcePolicy` and
//!   `secretsmanager:DeleteResourcePolicy` on the secret.

use super::public::{principal_is_anyone, statement_grants_public_access};
use super::{
    matches_wildcard, parse_collecting, ActionBlock, Effect, PolicyDocument, PolicyKind,
    ResourceBlock, Statement,
};

pub const CHECK_SYNTAX: &str = "SYNTAX_CHECK";
pub const CHECK_BROAD_ACCESS: &str = "BROAD_ACCESS_CHECK";
pub const CHECK_LOCKOUT: &str = "LOCKOUT_CHECK";

/// One `ValidationErrorsEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    pub check_name: String,
    pub error_message: String,
}

impl ValidationIssue {
    fn new(check: &str, message: impl Into<String>) -> Self {
        ValidationIssue {
            check_name: check.to_string(),
            error_message: message.into(),
        }
    }
}

/// Runs the syntax, broad-access and lockout checks; an empty list means the policy passed.
pub fn validate_resource_policy(doc: &str) -> Vec<ValidationIssue> {
    let parsed = match parse_collecting(doc, PolicyKind::Resource) {
        Ok(parsed) => parsed,
        Err(problems) => {
            return problems
                .into_iter()
                .map(|p| ValidationIssue::new(CHECK_SYNTAX, p))
                .collect()
        }
    };
    let mut issues = broad_access_issues(&parsed);
    if locks_out_every_caller(&parsed) {
        issues.push(ValidationIssue::new(
            CHECK_LOCKOUT,
            "This resource policy denies every principal both secretsmanager:PutResourcePolicy \
             and secretsmanager:DeleteResourcePolicy, so no caller could change or remove it.",
        ));
    }
    issues
}

fn statement_label(i: usize, s: &Statement) -> String {
    match s.sid.as_deref() {
        Some(sid) if !sid.is_empty() => format!("Statement[{i}] (Sid \"{sid}\")"),
        _ => format!("Statement[{i}]"),
    }
}

fn broad_access_issues(doc: &PolicyDocument) -> Vec<ValidationIssue> {
    doc.statements
        .iter()
        .enumerate()
        .filter(|(_, s)| statement_grants_public_access(s))
        .map(|(i, s)| {
            ValidationIssue::new(
                CHECK_BROAD_ACCESS,
                format!(
                    "{} allows access to any principal without a condition that limits it to \
                     specific accounts, organizations, networks or source resources.",
                    statement_label(i, s)
                ),
            )
        })
        .collect()
}

fn locks_out_every_caller(doc: &PolicyDocument) -> bool {
    let denied_to_all = |action: &str| {
        doc.statements.iter().any(|s| {
            s.effect == Effect::Deny
                && s.condition.is_empty()
                && principal_is_anyone(s.principal.as_ref())
                && covers_action(s, action)
                && covers_this_secret(s)
        })
    };
    denied_to_all("secretsmanager:PutResourcePolicy")
        && denied_to_all("secretsmanager:DeleteResourcePolicy")
}

fn covers_action(s: &Statement, action: &str) -> bool {
    match &s.action {
        ActionBlock::Action(list) => list.iter().any(|p| matches_wildcard(p, action)),
        ActionBlock::NotAction(list) => !list.iter().any(|p| matches_wildcard(p, action)),
    }
}

/// In a secret's resource policy `"*"` means the secret itself; an explicit ARN pattern could
/// name another secret, so only `"*"` (or a NotResource that excludes nothing of ours) counts.
fn covers_this_secret(s: &Statement) -> bool {
    match &s.resource {
        ResourceBlock::Resource(list) => list.iter().any(|r| r == "*"),
        ResourceBlock::NotResource(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
    }

    #[test]
    fn validate_private_policy_passes() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#,
        ));
        assert_eq!(issues, []);
    }

    #[test]
    fn validate_syntax_errors_reported_each() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Nope","Principal":"*","Action":"*","Resource":"*"}"#,
        ));
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(issues.iter().all(|i| i.check_name == CHECK_SYNTAX));
        assert!(issues[0].error_message.contains("Principal"));
        assert!(issues[1].error_message.contains("Effect"));
    }

    #[test]
    fn validate_invalid_json_syntax_issue() {
        let issues = validate_resource_policy("{not json");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].check_name, CHECK_SYNTAX);
    }

    #[test]
    fn validate_public_statement_broad_access_issue() {
        let issues = validate_resource_policy(&doc(
            r#"{"Sid":"Open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
               {"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"*","Resource":"*"}"#,
        ));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].check_name, CHECK_BROAD_ACCESS);
        assert!(issues[0].error_message.contains("Sid \"Open\""));
    }

    #[test]
    fn validate_public_with_org_condition_passes() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}"#,
        ));
        assert_eq!(issues, []);
    }

    #[test]
    fn validate_deny_all_policy_management_lockout_issue() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*ResourcePolicy","Resource":"*"}"#,
        ));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].check_name, CHECK_LOCKOUT);
    }

    #[test]
    fn validate_deny_one_management_action_no_lockout() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:PutResourcePolicy","Resource":"*"}"#,
        ));
        assert_eq!(issues, []);
    }

    #[test]
    fn validate_conditional_deny_no_lockout() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}}"#,
        ));
        assert_eq!(issues, []);
    }

    #[test]
    fn validate_deny_not_action_lockout_issue() {
        let issues = validate_resource_policy(&doc(
            r#"{"Effect":"Deny","Principal":{"AWS":"*"},"NotAction":"secretsmanager:GetSecretValue","Resource":"*"}"#,
        ));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].check_name, CHECK_LOCKOUT);
    }
}
