//! The public-policy rule (`BlockPublicPolicy`, ValidateResourcePolicy's broad-access check)
//! through the crate's API, table-driven: shapes AWS documents as public (S3 "The meaning of
//! public", IAM Access Analyzer, Secrets Manager's BlockPublicPolicy) and the conditions that
//! make a `"Principal": "*"` statement private.
//!
//! Each case is also run through the evaluator with strangers (callers of another account,
//! outside every listed network, in no organization): no stranger may get in through a policy
//! the check calls private, and each public case records whether a stranger actually gets in
//! (`let_in`) or whether the check is only failing closed on a shape it cannot prove private.

use coffer_policy::{
    evaluate_all, grants_public_access, parse_identity_policy, parse_policy,
    statement_grants_public_access, validate_resource_policy, AuthorizationRequest,
    ConditionClause, ConditionOperator, PolicyDocument, PrincipalInfo, CHECK_BROAD_ACCESS,
};
use std::net::IpAddr;
use time::macros::datetime;

const OWNER: &str = "123456789012";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

/// One statement: effect, principal element (`"Principal": ...` or `"NotPrincipal": ...`) and
/// condition block (empty for none).
struct Case {
    what: &'static str,
    effect: &'static str,
    principal: &'static str,
    condition: &'static str,
}

const fn allow(what: &'static str, principal: &'static str, condition: &'static str) -> Case {
    Case {
        what,
        effect: "Allow",
        principal,
        condition,
    }
}

const STAR: &str = r#""Principal":"*""#;
const AWS_STAR: &str = r#""Principal":{"AWS":"*"}"#;

impl Case {
    fn statement(&self) -> String {
        let condition = if self.condition.is_empty() {
            String::new()
        } else {
            format!(r#","Condition":{}"#, self.condition)
        };
        format!(
            r#"{{"Effect":"{}",{},"Action":"secretsmanager:GetSecretValue","Resource":"*"{condition}}}"#,
            self.effect, self.principal
        )
    }

    fn document(&self) -> String {
        document(&[self.statement()])
    }
}

fn document(statements: &[String]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn parse(doc: &str) -> PolicyDocument {
    parse_policy(doc).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

/// `(public, let_in)`: the shapes the check calls public, and whether a stranger actually gets
/// in through each with the evaluator.
const PUBLIC: &[(Case, bool)] = &[
    // The three shapes that used to pass as private (issue #15).
    (
        allow(
            "/00 is read as /0 by the evaluator",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/00"}}"#,
        ),
        true,
    ),
    (
        allow(
            "two halves make the whole IPv4 space",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":["0.0.0.0/1","128.0.0.0/1"]}}"#,
        ),
        true,
    ),
    (
        allow(
            "a variable equal to itself",
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":"${aws:PrincipalAccount}"}}"#,
        ),
        true,
    ),
    // Anyone, unconditionally.
    (allow("Principal *", STAR, ""), true),
    (allow("AWS *", AWS_STAR, ""), true),
    (
        allow(
            "AWS * among named principals",
            r#""Principal":{"AWS":["arn:aws:iam::123456789012:root","*"]}"#,
            "",
        ),
        true,
    ),
    (
        allow(
            "a wildcard principal ARN (IAM refuses it; the evaluator matches it literally)",
            r#""Principal":{"AWS":"arn:aws:iam::*:root"}"#,
            "",
        ),
        false,
    ),
    (
        allow(
            "Allow with NotPrincipal",
            r#""NotPrincipal":{"AWS":"123456789012"}"#,
            "",
        ),
        true,
    ),
    (
        allow(
            "Allow with NotPrincipal and a condition that does not narrow",
            r#""NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"}"#,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        ),
        true,
    ),
    // Address conditions that do not narrow.
    (
        allow(
            "every IPv4 address",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        ),
        true,
    ),
    (
        allow(
            "every IPv6 address",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#,
        ),
        true,
    ),
    (
        allow(
            "a private IPv4 range, but every IPv6 address",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::/0"]}}"#,
        ),
        true,
    ),
    (
        allow(
            "four quarters of the IPv4 space",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":["0.0.0.0/2","64.0.0.0/2","128.0.0.0/2","192.0.0.0/2"]}}"#,
        ),
        true,
    ),
    (
        allow(
            "a malformed CIDR (the evaluator ignores it)",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
        ),
        false,
    ),
    (
        allow(
            "a prefix length with a leading zero",
            STAR,
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/08"}}"#,
        ),
        false,
    ),
    (
        allow(
            "NotIpAddress",
            STAR,
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        ),
        true,
    ),
    (
        allow(
            "IpAddressIfExists (a call without a known address passes)",
            STAR,
            r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        ),
        true,
    ),
    (
        allow(
            "an address compared as a string",
            STAR,
            r#"{"StringEquals":{"aws:SourceIp":"192.0.2.1"}}"#,
        ),
        false,
    ),
    // Principal keys with values that match everyone, or negated.
    (
        allow(
            "StringLike aws:PrincipalArn *",
            STAR,
            r#"{"StringLike":{"aws:PrincipalArn":"*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "ArnLike aws:PrincipalArn of any account",
            STAR,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "ArnLike *:*",
            AWS_STAR,
            r#"{"ArnLike":{"aws:PrincipalArn":"*:*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "StringNotEquals aws:PrincipalAccount",
            STAR,
            r#"{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
        ),
        true,
    ),
    (
        allow(
            "ArnNotLike aws:PrincipalArn",
            STAR,
            r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "StringLike aws:PrincipalAccount *",
            STAR,
            r#"{"StringLike":{"aws:PrincipalAccount":"*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "one wildcard among fixed accounts",
            STAR,
            r#"{"StringLike":{"aws:PrincipalAccount":["123456789012","*"]}}"#,
        ),
        true,
    ),
    (
        allow(
            "a literal * under StringEquals (failing closed)",
            STAR,
            r#"{"StringEquals":{"aws:PrincipalAccount":["123456789012","*"]}}"#,
        ),
        false,
    ),
    (
        allow(
            "Null aws:PrincipalAccount false (any caller has an account)",
            STAR,
            r#"{"Null":{"aws:PrincipalAccount":"false"}}"#,
        ),
        true,
    ),
    (
        allow(
            "StringLike aws:userid *",
            STAR,
            r#"{"StringLike":{"aws:userid":"*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "aws:userid anonymous (AWS's unauthenticated caller)",
            STAR,
            r#"{"StringEquals":{"aws:userid":"anonymous"}}"#,
        ),
        false,
    ),
    // Organization keys.
    (
        allow(
            "ForAnyValue:StringEquals aws:PrincipalOrgPaths *",
            STAR,
            r#"{"ForAnyValue:StringEquals":{"aws:PrincipalOrgPaths":"*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "ForAnyValue:StringLike aws:PrincipalOrgPaths *",
            STAR,
            r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "ForAllValues holds for a caller in no organization",
            STAR,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
        ),
        true,
    ),
    (
        allow(
            "StringEqualsIfExists holds for a caller in no organization",
            STAR,
            r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-abc123"}}"#,
        ),
        true,
    ),
    (
        allow(
            "StringLike aws:PrincipalOrgID o-*",
            STAR,
            r#"{"StringLike":{"aws:PrincipalOrgID":"o-*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "an organization id from a variable",
            STAR,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"${aws:PrincipalOrgID}"}}"#,
        ),
        false,
    ),
    // Network and source keys with wildcards.
    (
        allow(
            "aws:SourceVpce *",
            STAR,
            r#"{"StringLike":{"aws:SourceVpce":"*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "aws:SourceVpc vpc-*",
            STAR,
            r#"{"StringLike":{"aws:SourceVpc":"vpc-*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "aws:SourceArn of any bucket of any account",
            STAR,
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
        ),
        false,
    ),
    (
        allow(
            "aws:SourceAccount StringNotEquals",
            STAR,
            r#"{"StringNotEquals":{"aws:SourceAccount":"123456789012"}}"#,
        ),
        true,
    ),
    // Keys that say nothing about the caller.
    (
        allow(
            "an unknown key the caller controls",
            STAR,
            r#"{"StringEquals":{"aws:UserAgent":"my-app"}}"#,
        ),
        false,
    ),
    (
        allow(
            "aws:username (a name exists in every account)",
            STAR,
            r#"{"StringLike":{"aws:username":"*"}}"#,
        ),
        true,
    ),
    (
        allow(
            "transport only",
            STAR,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        ),
        true,
    ),
    (
        allow(
            "a Secrets Manager key",
            STAR,
            r#"{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#,
        ),
        false,
    ),
    (
        allow(
            "a time window",
            STAR,
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
        ),
        true,
    ),
    (
        allow(
            "several clauses, none narrowing",
            STAR,
            r#"{"Bool":{"aws:SecureTransport":"true"},"StringNotEquals":{"aws:PrincipalAccount":"123456789012"},"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        ),
        true,
    ),
];

/// Shapes the check calls private.
const PRIVATE: &[Case] = &[
    allow(
        "a role ARN",
        r#""Principal":{"AWS":"arn:aws:iam::123456789012:role/x"}"#,
        "",
    ),
    allow("an account id", r#""Principal":{"AWS":"123456789012"}"#, ""),
    allow(
        "an account root ARN",
        r#""Principal":{"AWS":"arn:aws:iam::123456789012:root"}"#,
        "",
    ),
    allow(
        "a service principal",
        r#""Principal":{"Service":"lambda.amazonaws.com"}"#,
        "",
    ),
    allow(
        "StringEquals aws:PrincipalAccount",
        STAR,
        r#"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
    ),
    allow(
        "StringEquals aws:PrincipalAccount, two accounts",
        STAR,
        r#"{"StringEquals":{"aws:PrincipalAccount":["123456789012","210987654321"]}}"#,
    ),
    allow(
        "StringEquals aws:PrincipalOrgID",
        STAR,
        r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
    ),
    allow(
        "StringEqualsIgnoreCase, key in capitals",
        AWS_STAR,
        r#"{"StringEqualsIgnoreCase":{"AWS:PRINCIPALORGID":"o-abc123"}}"#,
    ),
    allow(
        "ForAnyValue:StringLike aws:PrincipalOrgPaths under one organization",
        STAR,
        r#"{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-abc123/r-ab12/*"}}"#,
    ),
    allow(
        "StringEquals aws:SourceVpce",
        STAR,
        r#"{"StringEquals":{"aws:SourceVpce":"vpce-1234"}}"#,
    ),
    allow(
        "StringEquals aws:SourceVpc",
        STAR,
        r#"{"StringEquals":{"aws:SourceVpc":"vpc-1a2b3c4d"}}"#,
    ),
    allow(
        "IpAddress 10.0.0.0/8",
        STAR,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    ),
    allow(
        "IpAddress, IPv4 and IPv6 ranges",
        STAR,
        r#"{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}"#,
    ),
    allow(
        "IpAddress, half of the IPv4 space (short of all of it)",
        STAR,
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}"#,
    ),
    allow(
        "ArnEquals aws:PrincipalArn",
        STAR,
        r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/x"}}"#,
    ),
    allow(
        "ArnLike aws:PrincipalArn, the roles of one account",
        STAR,
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/*"}}"#,
    ),
    allow(
        "StringEquals aws:SourceAccount",
        STAR,
        r#"{"StringEquals":{"aws:SourceAccount":"123456789012"}}"#,
    ),
    allow(
        "ArnEquals aws:SourceArn",
        STAR,
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}}"#,
    ),
    allow(
        "the sessions of one role by aws:userid",
        STAR,
        r#"{"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}"#,
    ),
    allow(
        "a narrowing clause ANDed with one that does not narrow",
        STAR,
        r#"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
    ),
    allow(
        "a narrowing clause ANDed with a negated one",
        STAR,
        r#"{"StringNotEquals":{"aws:PrincipalAccount":"210987654321"},"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
    ),
    allow(
        "NotPrincipal narrowed to one account",
        r#""NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/eve"}"#,
        r#"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
    ),
    Case {
        what: "Deny *",
        effect: "Deny",
        principal: STAR,
        condition: "",
    },
    Case {
        what: "Deny AWS * outside a network",
        effect: "Deny",
        principal: AWS_STAR,
        condition: r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    },
    Case {
        what: "Deny with NotPrincipal",
        effect: "Deny",
        principal: r#""NotPrincipal":{"AWS":"123456789012"}"#,
        condition: "",
    },
];

/// Callers that no private policy of the tables lets in: another account, in no organization,
/// with an address outside every listed network (or none known).
fn strangers() -> Vec<AuthorizationRequest> {
    let principals = [
        PrincipalInfo::user("999999999999", "mallory", "AIDAMALLORY"),
        PrincipalInfo::root("999999999999"),
        PrincipalInfo::assumed_role("999999999999", "x", "s", "AROAMALLORY"),
    ];
    let addresses: [Option<IpAddr>; 3] = [
        Some("198.51.100.7".parse().unwrap()),
        Some("2600:1f18::7".parse().unwrap()),
        None,
    ];
    let mut out = Vec::new();
    for principal in &principals {
        for address in addresses {
            let mut request = AuthorizationRequest::new(
                principal.clone(),
                "secretsmanager:GetSecretValue",
                SECRET,
            )
            .with_resource_account(OWNER)
            .with_secure_transport(true)
            .with_current_time(datetime!(2026-01-01 00:00 UTC));
            if let Some(ip) = address {
                request = request.with_source_ip(ip);
            }
            out.push(request);
        }
    }
    out
}

/// Whether some stranger (allowed everything by its own identity policy) is allowed by `doc`.
fn stranger_let_in(doc: &PolicyDocument) -> bool {
    let allow_all = parse_identity_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )
    .unwrap();
    strangers().iter().any(|request| {
        evaluate_all(
            request,
            std::slice::from_ref(&allow_all),
            std::slice::from_ref(doc),
        )
        .is_allowed()
    })
}

fn broad_access_issues(doc: &str) -> usize {
    validate_resource_policy(doc)
        .iter()
        .filter(|i| i.check_name == CHECK_BROAD_ACCESS)
        .count()
}

#[test]
fn public_shapes_are_public() {
    for (case, let_in) in PUBLIC {
        let text = case.document();
        let doc = parse(&text);
        assert!(grants_public_access(&doc), "{}: {text}", case.what);
        assert_eq!(broad_access_issues(&text), 1, "{}: {text}", case.what);
        assert_eq!(stranger_let_in(&doc), *let_in, "{}: {text}", case.what);
    }
}

#[test]
fn private_shapes_are_not_public_and_keep_strangers_out() {
    for case in PRIVATE {
        let text = case.document();
        let doc = parse(&text);
        assert!(!grants_public_access(&doc), "{}: {text}", case.what);
        assert_eq!(broad_access_issues(&text), 0, "{}: {text}", case.what);
        assert!(!stranger_let_in(&doc), "{}: {text}", case.what);
    }
}

#[test]
fn public_one_public_statement_makes_the_document_public() {
    for (public, _) in PUBLIC {
        for private in PRIVATE {
            let text = document(&[private.statement(), public.statement()]);
            assert!(grants_public_access(&parse(&text)), "{text}");
        }
    }
    let all_private: Vec<String> = PRIVATE.iter().map(Case::statement).collect();
    assert!(!grants_public_access(&parse(&document(&all_private))));
}

#[test]
fn public_clause_without_values_does_not_narrow() {
    // The grammar refuses `[]`; a document built in code may still hold an empty clause.
    let mut doc = parse(&allow("", STAR, "").document());
    doc.statements[0].condition.push(ConditionClause {
        operator: "StringEquals".parse::<ConditionOperator>().unwrap(),
        key: "aws:PrincipalAccount".into(),
        values: vec![],
    });
    assert!(statement_grants_public_access(&doc.statements[0]));
}
