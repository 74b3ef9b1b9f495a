//! The "public policy" rule behind `BlockPublicPolicy` and ValidateResourcePolicy's broad-access
//! check.
//!
//! Data path: PutResourcePolicy with `BlockPublicPolicy` asks [`grants_public_access`] of the
//! parsed document before it is stored, and ValidateResourcePolicy asks
//! [`statement_grants_public_access`] of each statement (see `validate.rs`); nothing here runs
//! while a call is authorized.
//!
//! AWS decides this with Zelkova, an automated reasoner; Coffer approximates it with the rule AWS
//! documents for S3 Block Public Access and IAM Access Analyzer, which is the same notion of
//! "public": a statement is public when it is an `Allow` that
//! 1. applies to anyone: `"Principal": "*"`, a principal list containing `"*"` (e.g.
//!    `{"AWS": "*"}`), or any `NotPrincipal` (an Allow for "everyone except these"), and
//! 2. is not narrowed by a condition that pins the caller to fixed values of one of the keys
//!    `aws:SourceAccount`, `aws:SourceOwner`, `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`,
//!    `aws:SourceOrgID`, `aws:SourceOrgPaths`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
//!    `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:userid` or `aws:SourceIp`.
//!
//! A clause narrows only if it is positive (`StringEquals`, `StringEqualsIgnoreCase`,
//! `StringLike`, `ArnEquals`, `ArnLike`, or `IpAddress` for `aws:SourceIp`), is not `...IfExists`
//! (a missing key would let any caller through), is not `ForAllValues:` (vacuously true when the
//! key is absent), and every value is fixed: no `*`/`?` wildcard, except that an ARN whose account
//! field is a concrete value, an org path whose organization id is concrete, and an `aws:userid`
//! whose unique-id part is concrete still pin the caller. `aws:SourceIp` narrows only with CIDRs
//! other than `0.0.0.0/0` and `::/0`. Negated operators, `Null`, `Bool`, dates, numbers and any
//! other key never narrow. The document is public when any statement is.

use super::{
    Effect, OperatorKind, PolicyDocument, PrincipalBlock, Principals, SetQualifier, Statement,
};
use crate::{PolicyError, Result};

/// True when the document grants access to anyone (see the module doc for the rule).
pub fn grants_public_access(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(statement_grants_public_access)
}

/// PutResourcePolicy with `BlockPublicPolicy`: reject a public document.
pub fn check_block_public_policy(doc: &PolicyDocument) -> Result<()> {
    if grants_public_access(doc) {
        return Err(PolicyError::Public(
            "This resource policy grants public access to the secret. Use a Principal that names \
             specific accounts or roles, or a Condition such as aws:PrincipalAccount or \
             aws:PrincipalOrgID, or call PutResourcePolicy with BlockPublicPolicy set to false."
                .into(),
        ));
    }
    Ok(())
}

pub fn statement_grants_public_access(s: &Statement) -> bool {
    s.effect == Effect::Allow
        && principal_is_anyone(s.principal.as_ref())
        && !s.condition.iter().any(clause_narrows)
}

pub(crate) fn principal_is_anyone(principal: Option<&PrincipalBlock>) -> bool {
    match principal {
        Some(PrincipalBlock::Principal(Principals::Any)) => true,
        Some(PrincipalBlock::Principal(Principals::Named(set))) => {
            set.all_values().any(|v| v == "*")
        }
        // Allow + NotPrincipal grants everyone who is not listed.
        Some(PrincipalBlock::NotPrincipal(_)) => true,
        // Identity policies apply only to the identity they are attached to.
        None => false,
    }
}

/// The kind of value a narrowing key holds, which decides what counts as "fixed".
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyShape {
    Plain,
    Arn,
    OrgPath,
    UserId,
    Cidr,
}

fn narrowing_key(key: &str) -> Option<KeyShape> {
    let shape = match key.to_ascii_lowercase().as_str() {
        "aws:sourceaccount"
        | "aws:sourceowner"
        | "aws:sourcevpc"
        | "aws:sourcevpce"
        | "aws:sourceorgid"
        | "aws:principalaccount"
        | "aws:principalorgid" => KeyShape::Plain,
        "aws:sourcearn" | "aws:principalarn" => KeyShape::Arn,
        "aws:sourceorgpaths" | "aws:principalorgpaths" => KeyShape::OrgPath,
        "aws:userid" => KeyShape::UserId,
        "aws:sourceip" => KeyShape::Cidr,
        _ => return None,
    };
    Some(shape)
}

fn clause_narrows(clause: &super::ConditionClause) -> bool {
    let Some(shape) = narrowing_key(&clause.key) else {
        return false;
    };
    let op = clause.operator;
    if op.if_exists || op.set == Some(SetQualifier::ForAllValues) {
        return false;
    }
    let positive = match shape {
        KeyShape::Cidr => op.kind == OperatorKind::IpAddress,
        _ => matches!(
            op.kind,
            OperatorKind::StringEquals
                | OperatorKind::StringEqualsIgnoreCase
                | OperatorKind::StringLike
                | OperatorKind::ArnEquals
                | OperatorKind::ArnLike
        ),
    };
    positive && !clause.values.is_empty() && clause.values.iter().all(|v| value_is_fixed(shape, v))
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

fn value_is_fixed(shape: KeyShape, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    match shape {
        KeyShape::Plain => !has_wildcard(value),
        KeyShape::Arn => {
            // arn:partition:service:region:account:resource — a concrete account pins the caller
            // even when the resource part has wildcards.
            if !has_wildcard(value) {
                return true;
            }
            let account = value.split(':').nth(4).unwrap_or("");
            !account.is_empty() && !has_wildcard(account)
        }
        KeyShape::OrgPath => {
            let org = value.split('/').next().unwrap_or("");
            !org.is_empty() && !has_wildcard(org)
        }
        KeyShape::UserId => {
            let unique_id = value.split(':').next().unwrap_or("");
            !unique_id.is_empty() && !has_wildcard(unique_id)
        }
        KeyShape::Cidr => {
            let prefix_len = value.split_once('/').map(|(_, len)| len.trim());
            !has_wildcard(value) && prefix_len != Some("0")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_policy;

    fn policy(principal: &str, condition: &str) -> PolicyDocument {
        let condition = if condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{condition}"#)
        };
        parse_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"secretsmanager:GetSecretValue","Resource":"*"{condition}}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn public_star_principal_is_public() {
        assert!(grants_public_access(&policy(r#""*""#, "")));
    }

    #[test]
    fn public_aws_star_principal_is_public() {
        assert!(grants_public_access(&policy(r#"{"AWS":"*"}"#, "")));
        assert!(grants_public_access(&policy(
            r#"{"AWS":["arn:aws:iam::123456789012:root","*"]}"#,
            ""
        )));
    }

    #[test]
    fn public_specific_principal_is_not_public() {
        assert!(!grants_public_access(&policy(
            r#"{"AWS":"arn:aws:iam::123456789012:role/app"}"#,
            ""
        )));
        assert!(!grants_public_access(&policy(
            r#"{"AWS":"123456789012"}"#,
            ""
        )));
        assert!(!grants_public_access(&policy(
            r#"{"Service":"lambda.amazonaws.com"}"#,
            ""
        )));
    }

    #[test]
    fn public_deny_star_is_not_public() {
        let doc = parse_policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert!(!grants_public_access(&doc));
    }

    #[test]
    fn public_allow_not_principal_is_public() {
        let doc = parse_policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert!(grants_public_access(&doc));
    }

    #[test]
    fn public_narrowing_conditions_make_it_private() {
        for condition in [
            r#"{"StringEquals":{"aws:SourceAccount":"123456789012"}}"#,
            r#"{"StringEquals":{"aws:PrincipalAccount":["123456789012","210987654321"]}}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
            r#"{"StringEqualsIgnoreCase":{"AWS:PRINCIPALORGID":"o-abc123"}}"#,
            r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-abc123/r-ab12/*"}}"#,
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}}"#,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/*"}}"#,
            r#"{"StringEquals":{"aws:SourceVpc":"vpc-1a2b3c4d"}}"#,
            r#"{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#,
            r#"{"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#,
            // One narrowing clause among others suffices: clauses are ANDed.
            r#"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:SourceAccount":"123456789012"}}"#,
        ] {
            assert!(
                !grants_public_access(&policy(r#""*""#, condition)),
                "{condition}"
            );
        }
    }

    #[test]
    fn public_non_narrowing_conditions_stay_public() {
        for condition in [
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            r#"{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#,
            r#"{"StringNotEquals":{"aws:SourceAccount":"123456789012"}}"#,
            r#"{"StringEqualsIfExists":{"aws:SourceAccount":"123456789012"}}"#,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
            r#"{"StringLike":{"aws:PrincipalAccount":"*"}}"#,
            r#"{"StringLike":{"aws:PrincipalOrgID":"o-*"}}"#,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}"#,
            r#"{"ArnLike":{"aws:SourceArn":"*"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            r#"{"StringEquals":{"aws:SourceIp":"192.0.2.1"}}"#,
            r#"{"StringEquals":{"aws:SourceAccount":["123456789012","*"]}}"#,
            r#"{"Null":{"aws:SourceAccount":"false"}}"#,
        ] {
            assert!(
                grants_public_access(&policy(r#""*""#, condition)),
                "{condition}"
            );
        }
    }

    #[test]
    fn check_block_public_policy_public_error() {
        let err = check_block_public_policy(&policy(r#""*""#, "")).unwrap_err();
        assert!(matches!(err, PolicyError::Public(_)), "{err:?}");
        assert!(check_block_public_policy(&policy(r#"{"AWS":"123456789012"}"#, "")).is_ok());
    }
}
