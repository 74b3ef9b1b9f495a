//! The "public policy" rule behind `BlockPublicPolicy` and ValidateResourcePolicy's broad-access
//! check.
//!
//! Data path: PutResourcePolicy with `BlockPublicPolicy` asks [`grants_public_access`] of the
//! parsed document before it is stored (and refuses it with `PublicPolicyException`), and
//! ValidateResourcePolicy asks [`statement_grants_public_access`] of each statement (see
//! `validate.rs`); nothing here runs while a call is authorized.
//!
//! AWS decides this with Zelkova, an automated reasoner. Coffer uses the rule AWS documents for
//! S3 Block Public Access and IAM Access Analyzer (a policy is public unless it grants access
//! only to *fixed* values of principal or source keys, fixed meaning without a wildcard or a
//! policy variable), and applies it so that it **fails closed**: a statement is public unless
//! the check can prove that it is not. The document is public when any statement is.
//!
//! A statement is public when
//! 1. its `Effect` is `Allow` (a `Deny` never grants anything);
//! 2. its principal can be anyone: `"Principal": "*"`, a principal list containing `"*"` (e.g.
//!    `{"AWS": "*"}` or `{"AWS": ["*", "123456789012"]}`), a principal value with any other
//!    wildcard (IAM refuses those; the grammar lets `arn:aws:iam::*:root` through), or any
//!    `NotPrincipal` (an Allow for "everyone except these"); and
//! 3. no clause of its `Condition` pins the caller. Clauses are ANDed, so one pinning clause is
//!    enough; the values of one clause are ORed, so every one of them must be pinned.
//!
//! A clause pins the caller only when all of these hold:
//! - its key is one of (case-insensitively) `aws:PrincipalAccount`, `aws:SourceAccount`,
//!   `aws:SourceOwner`, `aws:PrincipalOrgID`, `aws:SourceOrgID`, `aws:SourceVpc`,
//!   `aws:SourceVpce` (fixed identifiers), `aws:PrincipalArn`, `aws:SourceArn` (ARNs),
//!   `aws:PrincipalOrgPaths`, `aws:SourceOrgPaths` (organization paths), `aws:userid` or
//!   `aws:SourceIp`. The request, not the caller, supplies these: principal keys come from
//!   authentication, `aws:SourceIp` from the connection, and the other `aws:Source*` keys
//!   (service-to-service calls, VPC endpoints) are never set by Coffer, so a positive clause on
//!   them holds for no caller. Every other key (`aws:UserAgent`, `aws:SecureTransport`, `aws:username`,
//!   `secretsmanager:*`, tags, ...) says nothing about who the caller is;
//! - its operator is positive and fails on a missing key: `StringEquals`,
//!   `StringEqualsIgnoreCase` or `StringLike` (not on `aws:SourceIp`), `ArnEquals` or `ArnLike`
//!   (ARN keys only), `IpAddress` (`aws:SourceIp` only), bare or `ForAnyValue:`. Negated
//!   operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) hold for every value
//!   not listed and for a missing key; `...IfExists` and `ForAllValues:` hold when the key is
//!   missing; `Null`, `Bool`, numbers, dates and binary values do not name a caller;
//! - every value is fixed: not empty, no policy variable (`${...}`, which the evaluator fills
//!   in from the request itself: `aws:PrincipalAccount` equal to `${aws:PrincipalAccount}`
//!   holds for everyone), and no `*` or `?` (treated as wildcards whatever the operator),
//!   except where a literal part before the first wildcard still pins the caller: an ARN
//!   whose `arn:partition:service:region:account:` prefix is literal with a non-empty account
//!   (`arn:aws:iam::123456789012:role/*`), an organization path whose organization id is
//!   literal (`o-a1b2c3d4e5/*`), an `aws:userid` whose unique id is literal (`AROAEXAMPLE:*`,
//!   the role-session pattern AWS documents); `aws:userid` `anonymous` (AWS's id for an
//!   unauthenticated caller) never pins;
//! - for `aws:SourceIp`: every value is a CIDR (or a bare address) in its plain spelling,
//!   read with the evaluator's own parser (`operators::Cidr`), so the check sees exactly the
//!   address set the evaluator enforces; and the union of all of them covers neither the whole
//!   IPv4 space nor the whole IPv6 space (`0.0.0.0/1` with `128.0.0.0/1` is everyone, as is
//!   `::/0`; IPv4-mapped IPv6 addresses count as covered on the IPv6 side because the
//!   evaluator compares those callers as IPv4). One value the plain parser refuses spoils the
//!   clause: the evaluator reads `0.0.0.0/00` as `0.0.0.0/0`, and ignores `10.0.0.0/33`.
//!
//! Why fail closed: the question is whether a stranger can be let in, and anything the check
//! does not understand — a key it does not know, an operator that holds on a missing key, a
//! value it cannot read — might let one in. The cost is that some exotic but private policies
//! (`StringEquals` on a literal `*`, a CIDR written `10.0.0.0/08`) are called public; they can
//! be written in a plain form, or stored without `BlockPublicPolicy`. The resource and the
//! actions of a statement are not looked at: any access for anyone is public.

use super::operators::Cidr;
use super::{
    ConditionClause, Effect, OperatorKind, PolicyDocument, PrincipalBlock, Principals,
    SetQualifier, Statement,
};

/// True when the document grants access to anyone (see the module doc for the rule).
pub fn grants_public_access(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(statement_grants_public_access)
}

/// True when `s` is an `Allow` for anyone that no condition clause narrows (see the module doc).
pub fn statement_grants_public_access(s: &Statement) -> bool {
    s.effect == Effect::Allow
        && principal_can_be_anyone(s.principal.as_ref())
        && !s.condition.iter().any(clause_pins_caller)
}

/// `"*"` in any form, or `NotPrincipal`: the statement applies to every caller the evaluator
/// sees (the lockout check of `validate.rs` uses this for `Deny` statements).
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

/// [`principal_is_anyone`], or a principal value with a wildcard: the evaluator matches those
/// literally (so they name nobody), but IAM does not allow them and their intent is "many".
fn principal_can_be_anyone(principal: Option<&PrincipalBlock>) -> bool {
    principal_is_anyone(principal)
        || matches!(
            principal,
            Some(PrincipalBlock::Principal(Principals::Named(set)))
                if set.all_values().any(has_wildcard)
        )
}

/// What a narrowing key holds, which decides what a pinned value looks like.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyShape {
    /// An account, organization, VPC or VPC endpoint id: pinned only without a wildcard.
    Id,
    /// An ARN: pinned when literal through the account field.
    Arn,
    /// An organization path: pinned when the organization id is literal.
    OrgPath,
    /// `aws:userid`: pinned when the unique id before `:` is literal.
    UserId,
    /// `aws:SourceIp`: a set of CIDRs short of a whole address family.
    Cidr,
}

/// The keys that can narrow a statement to known callers, lowercase.
const NARROWING_KEYS: &[(&str, KeyShape)] = &[
    ("aws:principalaccount", KeyShape::Id),
    ("aws:sourceaccount", KeyShape::Id),
    ("aws:sourceowner", KeyShape::Id),
    ("aws:principalorgid", KeyShape::Id),
    ("aws:sourceorgid", KeyShape::Id),
    ("aws:sourcevpc", KeyShape::Id),
    ("aws:sourcevpce", KeyShape::Id),
    ("aws:principalarn", KeyShape::Arn),
    ("aws:sourcearn", KeyShape::Arn),
    ("aws:principalorgpaths", KeyShape::OrgPath),
    ("aws:sourceorgpaths", KeyShape::OrgPath),
    ("aws:userid", KeyShape::UserId),
    ("aws:sourceip", KeyShape::Cidr),
];

fn key_shape(key: &str) -> Option<KeyShape> {
    NARROWING_KEYS
        .iter()
        .find(|(name, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, shape)| *shape)
}

/// Whether a clause with `operator` on a key of `shape` can only hold for listed values.
/// Exhaustive, so a new operator is not narrowing until someone decides it is.
fn operator_pins(kind: OperatorKind, shape: KeyShape) -> bool {
    use OperatorKind::*;
    match kind {
        StringEquals | StringEqualsIgnoreCase | StringLike => shape != KeyShape::Cidr,
        ArnEquals | ArnLike => shape == KeyShape::Arn,
        IpAddress => shape == KeyShape::Cidr,
        // Negated operators hold for every value that is not listed, and for a missing key.
        StringNotEquals
        | StringNotEqualsIgnoreCase
        | StringNotLike
        | NotIpAddress
        | ArnNotEquals
        | ArnNotLike
        | NumericNotEquals
        | DateNotEquals => false,
        // Existence, booleans, numbers, dates and bytes do not name a caller.
        Null
        | Bool
        | BinaryEquals
        | NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals
        | DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => false,
    }
}

fn clause_pins_caller(clause: &ConditionClause) -> bool {
    let Some(shape) = key_shape(&clause.key) else {
        return false;
    };
    let op = clause.operator;
    // `...IfExists` and `ForAllValues:` hold when the key is missing.
    let holds_on_missing_key = op.if_exists || op.set == Some(SetQualifier::ForAllValues);
    if holds_on_missing_key || !operator_pins(op.kind, shape) || clause.values.is_empty() {
        return false;
    }
    match shape {
        KeyShape::Cidr => cidrs_pin_caller(&clause.values),
        _ => clause.values.iter().all(|v| value_pins_caller(shape, v)),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Whether `value`, a value of a clause on a key of `shape` (not [`KeyShape::Cidr`]), matches
/// only callers that it names.
fn value_pins_caller(shape: KeyShape, value: &str) -> bool {
    if value.is_empty() || value.contains("${") {
        return false;
    }
    let literal_head = |head: &str| !head.is_empty() && !has_wildcard(head);
    match shape {
        KeyShape::Id | KeyShape::Cidr => !has_wildcard(value),
        KeyShape::Arn => {
            if !has_wildcard(value) {
                return true;
            }
            // `arn:partition:service:region:account:` must be literal: under StringLike a
            // wildcard before it could stand for any account (it may span colons).
            let parts: Vec<&str> = value.splitn(6, ':').collect();
            parts.len() == 6 && parts[..5].iter().all(|p| !has_wildcard(p)) && !parts[4].is_empty()
        }
        KeyShape::OrgPath => {
            !has_wildcard(value)
                || value
                    .split_once('/')
                    .is_some_and(|(org, _)| literal_head(org))
        }
        KeyShape::UserId => {
            !value.eq_ignore_ascii_case("anonymous")
                && (!has_wildcard(value)
                    || value
                        .split_once(':')
                        .is_some_and(|(id, _)| literal_head(id)))
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:0:0/96`): the evaluator compares such callers as IPv4,
/// so on the IPv6 side they are never let in or kept out by an IPv6 range.
const IPV4_MAPPED: (u128, u128) = (0xffff_0000_0000, 0xffff_ffff_ffff);

/// Whether the CIDRs of an `IpAddress` clause on `aws:SourceIp` narrow the callers: each one
/// readable in its plain spelling, and together short of every IPv4 and of every IPv6 address.
fn cidrs_pin_caller(values: &[String]) -> bool {
    let mut v4 = Vec::new();
    let mut v6 = vec![IPV4_MAPPED];
    for value in values {
        let Some(cidr) = Cidr::parse_plain(value) else {
            return false;
        };
        match cidr.bounds() {
            (true, first, last) => v4.push((first, last)),
            (false, first, last) => v6.push((first, last)),
        }
    }
    !covers_everything(v4, u128::from(u32::MAX)) && !covers_everything(v6, u128::MAX)
}

/// Whether the union of the inclusive `ranges` covers every address from 0 to `max`.
fn covers_everything(mut ranges: Vec<(u128, u128)>, max: u128) -> bool {
    ranges.sort_unstable();
    // The first address not covered yet; `None` once past `u128::MAX`.
    let mut next = Some(0u128);
    for (first, last) in ranges {
        let Some(n) = next else { break };
        if first > n {
            return false;
        }
        if last >= n {
            next = last.checked_add(1);
        }
    }
    next.is_none_or(|n| n > max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn pins(values: &[&str]) -> bool {
        cidrs_pin_caller(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn public_cidr_sets_short_of_an_address_family_pin() {
        for values in [
            &["10.0.0.0/8"][..],
            &["192.0.2.7"],
            &["10.1.2.3/8"],
            &["0.0.0.0/1"],
            &["2001:db8::/32"],
            &["192.0.2.0/24", "2001:db8::/32"],
            // Every IPv4 address but 255.255.255.255.
            &[
                "0.0.0.0/1",
                "128.0.0.0/2",
                "192.0.0.0/3",
                "224.0.0.0/4",
                "240.0.0.0/5",
                "248.0.0.0/6",
                "252.0.0.0/7",
                "254.0.0.0/8",
                "255.0.0.0/9",
                "255.128.0.0/10",
                "255.192.0.0/11",
                "255.224.0.0/12",
                "255.240.0.0/13",
                "255.248.0.0/14",
                "255.252.0.0/15",
                "255.254.0.0/16",
                "255.255.0.0/17",
                "255.255.128.0/18",
                "255.255.192.0/19",
                "255.255.224.0/20",
                "255.255.240.0/21",
                "255.255.248.0/22",
                "255.255.252.0/23",
                "255.255.254.0/24",
                "255.255.255.0/25",
                "255.255.255.128/26",
                "255.255.255.192/27",
                "255.255.255.224/28",
                "255.255.255.240/29",
                "255.255.255.248/30",
                "255.255.255.252/31",
                "255.255.255.254/32",
            ],
            // Only IPv4-mapped addresses, which the evaluator compares as IPv4: no one.
            &["::ffff:0.0.0.0/96"],
        ] {
            assert!(pins(values), "{values:?}");
        }
    }

    #[test]
    fn public_cidr_sets_covering_an_address_family_do_not_pin() {
        for values in [
            &["0.0.0.0/0"][..],
            &["0.0.0.0/00"],
            &["0.0.0.0/1", "128.0.0.0/1"],
            &["128.0.0.0/1", "10.0.0.0/8", "0.0.0.0/1"],
            &["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
            &["10.0.0.0/8", "::/0"],
            &["::/0"],
            &["::/1", "8000::/1"],
            &["0000:0000::/1", "8000::/1"],
        ] {
            assert!(!pins(values), "{values:?}");
        }
    }

    #[test]
    fn public_cidr_whole_ipv6_but_mapped_range_does_not_pin() {
        // The complement of ::ffff:0:0/96 in ::/0, one CIDR per prefix length: every IPv6
        // caller the evaluator compares as IPv6.
        let (mapped, _) = IPV4_MAPPED;
        let values: Vec<String> = (0..96u32)
            .map(|i| {
                let bit = 1u128 << (127 - i);
                let keep = u128::MAX.checked_shl(128 - i).unwrap_or(0);
                let network = (mapped & keep) | ((mapped & bit) ^ bit);
                format!("{}/{}", Ipv6Addr::from(network), i + 1)
            })
            .collect();
        assert!(!cidrs_pin_caller(&values), "{values:?}");
        // Without one of them, part of the IPv6 space stays out.
        assert!(cidrs_pin_caller(&values[1..]));
    }

    #[test]
    fn public_malformed_or_unusual_cidrs_do_not_pin() {
        for value in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/08",
            "10.0.0.0/0008",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0.0/+8",
            "010.0.0.0/8",
            "10.0.0/8",
            "2001:db8::/129",
            "fe80::1%eth0",
            "example.com",
            "*",
            "10.0.0.*",
            "${aws:SourceIp}",
            "",
        ] {
            assert!(!pins(&[value]), "{value:?}");
            // One unreadable value spoils the clause, whatever the others say.
            assert!(!pins(&["10.0.0.0/8", value]), "{value:?}");
        }
    }

    #[test]
    fn public_covers_everything_edges() {
        assert!(!covers_everything(vec![], 10));
        assert!(covers_everything(vec![(0, 10)], 10));
        assert!(covers_everything(vec![(0, 3), (4, 10)], 10));
        assert!(covers_everything(vec![(4, 10), (0, 5), (2, 3)], 10));
        assert!(!covers_everything(vec![(0, 3), (5, 10)], 10));
        assert!(!covers_everything(vec![(1, 10)], 10));
        assert!(!covers_everything(vec![(0, 9)], 10));
        assert!(covers_everything(vec![(0, u128::MAX)], u128::MAX));
        assert!(covers_everything(
            vec![(1 << 127, u128::MAX), (0, (1 << 127) - 1)],
            u128::MAX
        ));
    }

    #[test]
    fn public_value_shapes() {
        for (shape, value, expected) in [
            (KeyShape::Id, "123456789012", true),
            (KeyShape::Id, "o-abc123", true),
            (KeyShape::Id, "*", false),
            (KeyShape::Id, "1234567890?2", false),
            (KeyShape::Id, "vpce-*", false),
            (KeyShape::Id, "${aws:PrincipalAccount}", false),
            (KeyShape::Id, "", false),
            (KeyShape::Arn, "arn:aws:iam::123456789012:role/x", true),
            (KeyShape::Arn, "arn:aws:iam::123456789012:role/*", true),
            (KeyShape::Arn, "arn:aws:s3:::bucket", true),
            (KeyShape::Arn, "arn:aws:s3:::bucket-*", false),
            (KeyShape::Arn, "arn:aws:iam::*:*", false),
            (KeyShape::Arn, "arn:*:iam::123456789012:role/x", false),
            (KeyShape::Arn, "arn:aws:iam::123456789012*", false),
            (KeyShape::Arn, "*:123456789012:*", false),
            (KeyShape::Arn, "*:*", false),
            (
                KeyShape::Arn,
                "arn:aws:iam::${aws:PrincipalAccount}:root",
                false,
            ),
            (KeyShape::OrgPath, "o-abc123/r-ab12/ou-ab12-11111111/", true),
            (KeyShape::OrgPath, "o-abc123/*", true),
            (KeyShape::OrgPath, "o-abc*/*", false),
            (KeyShape::OrgPath, "o-abc*", false),
            (KeyShape::OrgPath, "*", false),
            (KeyShape::OrgPath, "/*", false),
            (KeyShape::UserId, "AIDAEXAMPLE", true),
            (KeyShape::UserId, "AROAEXAMPLE:*", true),
            (KeyShape::UserId, "AROA*:*", false),
            (KeyShape::UserId, "*", false),
            (KeyShape::UserId, "anonymous", false),
            (KeyShape::UserId, "${aws:userid}", false),
        ] {
            assert_eq!(
                value_pins_caller(shape, value),
                expected,
                "{shape:?} {value}"
            );
        }
    }

    #[test]
    fn public_narrowing_keys_case_insensitive() {
        assert_eq!(key_shape("AWS:PrincipalOrgID"), Some(KeyShape::Id));
        assert_eq!(key_shape("aws:sourceip"), Some(KeyShape::Cidr));
        assert_eq!(key_shape("aws:SourceIp "), None);
        assert_eq!(key_shape("aws:UserAgent"), None);
        assert_eq!(key_shape("secretsmanager:SecretId"), None);
    }
}
