//! Identity policies of AWS IAM identities: `iam-identity` records of the [`PrincipalStore`]
//! whose name is an IAM ARN or ARN pattern (`arn:aws:iam::123456789012:role/app-*`).
//!
//! Data path: a caller AWS verified (a `coffer.LoginWithIam` session, `crate::identity::iam_login`; an
//! API Gateway IAM caller, `coffer-wire`'s `ApiGatewayIamAuthenticator`) reaches the service's
//! authorization step as a [`PrincipalInfo`] with `verified_by_aws`; its identity policies are
//! those of every `iam-identity` record of its account whose pattern matches its ARN
//! ([`matching_policies`]). The admin operations `coffer.PutIamIdentityPolicy` & co.
//! (`crate::identity::admin`) write the records, validated by [`parse_iam_arn_pattern`].
//!
//! Matching is case-insensitive, as IAM names are unique regardless of case. For a role session
//! (`arn:aws:sts::A:assumed-role/R/S`) both the session ARN and the role ARN
//! `arn:aws:iam::A:role/R` are matched; the role's path is not in a session ARN, so a pattern
//! naming a role by path does not match its sessions.

use crate::error::{Error, Result};
use crate::identity::principals::{PrincipalRecord, PrincipalType};
use crate::ports::PrincipalStore;
use crate::ports::RepositoryError;
use coffer_policy::{matches_wildcard, PrincipalInfo};

/// Longest accepted ARN pattern (IAM's limit for an ARN).
pub const MAX_ARN_PATTERN_LEN: usize = 2048;

/// Checks an `IamArn` member: `arn:<partition>:iam|sts::<12-digit account>:<resource>`,
/// wildcards only in the resource, no whitespace or control characters. Returns the account,
/// the one the record is stored in.
pub fn parse_iam_arn_pattern(text: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::invalid_parameter(format!(
            "IamArn must be an IAM ARN or ARN pattern such as arn:aws:iam::123456789012:role/app-*: {why}."
        ))
    };
    if text.is_empty() || text.len() > MAX_ARN_PATTERN_LEN {
        return Err(bad("1 to 2048 characters"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("no whitespace or control characters"));
    }
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("six colon-separated parts"));
    };
    if arn != "arn" || !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(bad("it starts with arn:aws:"));
    }
    if !matches!(service, "iam" | "sts") || !region.is_empty() {
        return Err(bad("the service is iam or sts and the region is empty"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account is a literal 12-digit id"));
    }
    if resource.is_empty() {
        return Err(bad("a resource such as role/name"));
    }
    Ok(account.to_string())
}

/// The ARNs a verified principal is matched as: its own, and its role's for a session.
pub fn candidate_arns(principal: &PrincipalInfo) -> Vec<String> {
    let mut arns = vec![principal.arn.clone()];
    if let Some(role) = principal.role_arn() {
        if role != principal.arn {
            arns.push(role);
        }
    }
    arns
}

/// True when `pattern` names one of `principal`'s ARNs.
pub fn pattern_matches(pattern: &str, principal: &PrincipalInfo) -> bool {
    candidate_arns(principal)
        .iter()
        .any(|arn| matches_wildcard(pattern, arn))
}

/// The records of the principal's account that match it.
pub fn matching_records<'a>(
    records: &'a [PrincipalRecord],
    principal: &'a PrincipalInfo,
) -> impl Iterator<Item = &'a PrincipalRecord> + 'a {
    records
        .iter()
        .filter(move |r| r.account == principal.account && pattern_matches(&r.name, principal))
}

/// The identity policy documents (as stored) of a verified IAM principal.
pub async fn matching_policies(
    store: &dyn PrincipalStore,
    principal: &PrincipalInfo,
) -> std::result::Result<Vec<String>, RepositoryError> {
    let records = store
        .list_principals(&principal.account, PrincipalType::IamIdentity)
        .await?;
    Ok(matching_records(&records, principal)
        .flat_map(|r| r.policies.values().cloned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn record(account: &str, pattern: &str) -> PrincipalRecord {
        PrincipalRecord {
            account: account.to_string(),
            kind: PrincipalType::IamIdentity,
            name: pattern.to_string(),
            id: String::new(),
            tags: Vec::new(),
            assume_role_policy: None,
            policies: BTreeMap::new(),
            created: crate::clock::Timestamp::from_millis(0),
        }
    }

    #[test]
    fn arn_patterns_are_validated() {
        assert_eq!(
            parse_iam_arn_pattern("arn:aws:iam::123456789012:role/app-*").unwrap(),
            "123456789012"
        );
        assert!(parse_iam_arn_pattern("arn:aws:sts::123456789012:assumed-role/r/*").is_ok());
        for bad in [
            "",
            "arn:aws:iam::*:role/app",
            "arn:aws:iam::12345678901:role/app",
            "arn:aws:iam::123456789012:",
            "arn:aws:s3::123456789012:bucket",
            "arn:aws:iam:us-east-1:123456789012:role/a",
            "arn:other:iam::123456789012:role/a",
            "arn:aws:iam::123456789012:role/a b",
            "role/app",
        ] {
            let e = parse_iam_arn_pattern(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidParameterException", "{bad}");
        }
        assert!(parse_iam_arn_pattern(&format!(
            "arn:aws:iam::123456789012:role/{}",
            "a".repeat(2048)
        ))
        .is_err());
    }

    #[test]
    fn sessions_match_their_role_and_session_arns() {
        let session = PrincipalInfo::verified_by_aws(
            "arn:aws:sts::123456789012:assumed-role/app-reader/i-0abc",
        )
        .unwrap();
        assert!(session.verified_by_aws);
        assert_eq!(
            candidate_arns(&session),
            [
                "arn:aws:sts::123456789012:assumed-role/app-reader/i-0abc",
                "arn:aws:iam::123456789012:role/app-reader"
            ]
        );
        assert!(pattern_matches(
            "arn:aws:iam::123456789012:role/app-*",
            &session
        ));
        assert!(pattern_matches(
            "arn:aws:iam::123456789012:role/APP-READER",
            &session
        ));
        assert!(pattern_matches(
            "arn:aws:sts::123456789012:assumed-role/app-reader/i-0ab?",
            &session
        ));
        assert!(!pattern_matches(
            "arn:aws:iam::123456789012:role/app-writer",
            &session
        ));
        assert!(!pattern_matches(
            "arn:aws:iam::123456789012:role/app",
            &session
        ));
        let user = PrincipalInfo::verified_by_aws("arn:aws:iam::123456789012:user/ci").unwrap();
        assert_eq!(candidate_arns(&user), ["arn:aws:iam::123456789012:user/ci"]);
        assert!(pattern_matches("arn:aws:iam::123456789012:user/*", &user));
        assert!(!pattern_matches("arn:aws:iam::123456789012:role/*", &user));
    }

    #[test]
    fn only_records_of_the_callers_account_match() {
        let session =
            PrincipalInfo::verified_by_aws("arn:aws:sts::123456789012:assumed-role/app-reader/s")
                .unwrap();
        let records = vec![
            record("123456789012", "arn:aws:iam::123456789012:role/app-*"),
            record("123456789012", "arn:aws:iam::123456789012:role/other"),
            // A record of another account never applies, whatever its pattern says.
            record("444455556666", "arn:aws:iam::*"),
        ];
        let names: Vec<&str> = matching_records(&records, &session)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["arn:aws:iam::123456789012:role/app-*"]);
    }
}
