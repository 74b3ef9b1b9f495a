//! Condition operators: whether one `operator -> key -> values` clause holds for a request.
//!
//! Data path: while the service authorizes a call, [`super::eval`] calls [`clause_holds`] for
//! every clause of a statement whose action, resource and principal match; the statement applies
//! only if every clause holds.
//!
//! Semantics (IAM User Guide, "Condition operators", "Creating a condition with multiple keys or
//! values", "Single-valued vs. multivalued context keys"):
//! - several values for one key are ORed: the clause holds if the request value matches any of
//!   them. A negated operator (`StringNotEquals`, `StringNotLike`, `NumericNotEquals`,
//!   `DateNotEquals`, `NotIpAddress`, `ArnNotEquals`, `ArnNotLike`, ...) is the negation of its
//!   positive form: it holds if the request value matches *none* of the values;
//! - a missing key makes a positive operator false and a negated operator true;
//!   `...IfExists` makes any operator true for a missing key; a present key is evaluated as
//!   usual. An empty multivalued key (`[]`) counts as missing;
//! - `Null` holds with `"true"` when the key is missing (or an empty set) and with `"false"` when
//!   it is present; set qualifiers do not change it;
//! - `ForAllValues:` holds when every request value satisfies the operator (for a negated
//!   operator: matches none of the policy values); it holds for a missing key or an empty set;
//! - `ForAnyValue:` holds when at least one request value satisfies the operator (for a negated
//!   operator: some value matches none of the policy values); it is false for a missing key or
//!   an empty set, unless `...IfExists`;
//! - without a set qualifier, a multivalued request key behaves like `ForAnyValue:` for a
//!   positive operator and as its negation for a negated operator (no request value matches);
//!   a single-valued key under a set qualifier is a set of one.
//!
//! Values: string operators compare text (case-sensitive except `...IgnoreCase`; `StringLike`
//! with `*`/`?`); numbers are decimals (`10`, `-1.5`); dates are W3C ISO 8601 forms
//! (`2020-01-01`, `2020-01-01T00:00:01Z`, offsets, fractions) or epoch seconds; `Bool` takes
//! `true`/`false` in any case; `BinaryEquals` compares bytes with the base64 policy value;
//! `IpAddress` takes CIDRs (`203.0.113.0/24`, `2001:DB8:1234:5678::/64`), a bare address
//! meaning `/32` or `/128`; `Arn*` compare ARNs part by part (see
//! [`super::variables::arn_match`]). A request value that cannot be read as the operator's type,
//! or a policy value that is not a valid literal of it, never matches. Policy variables are
//! expanded in string, ARN and `Bool` values only.

use super::context::{ContextKeys, Scalar};
use super::variables::{arn_match, expand, glob, literal, Token, Unresolved};
use super::{ConditionClause, OperatorKind, PolicyVersion, SetQualifier};
use base64::Engine as _;
use std::net::IpAddr;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Whether `clause` holds. `Err(Unresolved)` when a policy variable in a value that had to be
/// compared could not be resolved.
pub(crate) fn clause_holds(
    clause: &ConditionClause,
    ctx: &ContextKeys,
    version: PolicyVersion,
) -> Result<bool, Unresolved> {
    let op = clause.operator;
    let value = ctx.get(&clause.key).filter(|v| !v.is_empty_set());

    if op.kind == OperatorKind::Null {
        let is_null = value.is_none();
        return Ok(clause
            .values
            .iter()
            .any(|v| match v.to_ascii_lowercase().as_str() {
                "true" => is_null,
                "false" => !is_null,
                _ => false,
            }));
    }

    let negated = op.kind.is_negated();
    let Some(value) = value else {
        return Ok(match op.set {
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => op.if_exists,
            None => op.if_exists || negated,
        });
    };

    let matcher = Matcher::new(positive(op.kind), &clause.values, ctx, version)?;
    let scalars = value.scalars();
    // For a single request value: does it satisfy the (possibly negated) operator?
    let satisfies = |s: &Scalar<'_>| matcher.matches_any(s) != negated;
    Ok(match op.set {
        Some(SetQualifier::ForAllValues) => scalars.iter().all(satisfies),
        Some(SetQualifier::ForAnyValue) => scalars.iter().any(satisfies),
        None if negated => !scalars.iter().any(|s| matcher.matches_any(s)),
        None => scalars.iter().any(|s| matcher.matches_any(s)),
    })
}

/// The positive operator a negated one negates.
fn positive(kind: OperatorKind) -> OperatorKind {
    use OperatorKind::*;
    match kind {
        StringNotEquals => StringEquals,
        StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
        StringNotLike => StringLike,
        NumericNotEquals => NumericEquals,
        DateNotEquals => DateEquals,
        NotIpAddress => IpAddress,
        ArnNotEquals => ArnEquals,
        ArnNotLike => ArnLike,
        other => other,
    }
}

/// The policy values of a clause, parsed once for the operator's type.
enum Matcher {
    StringEquals(Vec<String>),
    StringEqualsIgnoreCase(Vec<String>),
    StringLike(Vec<Vec<Token>>),
    Arn(Vec<Vec<Token>>),
    Numeric(OperatorKind, Vec<Option<f64>>),
    Date(OperatorKind, Vec<Option<OffsetDateTime>>),
    Bool(Vec<Option<bool>>),
    Binary(Vec<Option<Vec<u8>>>),
    Ip(Vec<Option<Cidr>>),
}

impl Matcher {
    fn new(
        kind: OperatorKind,
        values: &[String],
        ctx: &ContextKeys,
        version: PolicyVersion,
    ) -> Result<Matcher, Unresolved> {
        use OperatorKind::*;
        let texts = |wildcards: bool| -> Result<Vec<Vec<Token>>, Unresolved> {
            values
                .iter()
                .map(|v| expand(v, ctx, version, wildcards))
                .collect()
        };
        Ok(match kind {
            StringEquals => {
                Matcher::StringEquals(texts(false)?.iter().map(|t| literal(t)).collect())
            }
            StringEqualsIgnoreCase => Matcher::StringEqualsIgnoreCase(
                texts(false)?
                    .iter()
                    .map(|t| literal(t).to_lowercase())
                    .collect(),
            ),
            StringLike => Matcher::StringLike(texts(true)?),
            ArnEquals | ArnLike => Matcher::Arn(texts(true)?),
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => {
                Matcher::Numeric(kind, values.iter().map(|v| parse_number(v)).collect())
            }
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => {
                Matcher::Date(kind, values.iter().map(|v| parse_date(v)).collect())
            }
            Bool => Matcher::Bool(
                texts(false)?
                    .iter()
                    .map(|t| parse_bool(&literal(t)))
                    .collect(),
            ),
            BinaryEquals => Matcher::Binary(values.iter().map(|v| decode_base64(v)).collect()),
            IpAddress => Matcher::Ip(values.iter().map(|v| Cidr::parse(v)).collect()),
            // Negated kinds are mapped to their positive form by the caller; Null never gets
            // here.
            StringNotEquals
            | StringNotEqualsIgnoreCase
            | StringNotLike
            | NumericNotEquals
            | DateNotEquals
            | NotIpAddress
            | ArnNotEquals
            | ArnNotLike
            | Null => Matcher::StringEquals(Vec::new()),
        })
    }

    /// Whether the request value matches at least one policy value (positive form).
    fn matches_any(&self, s: &Scalar<'_>) -> bool {
        match self {
            Matcher::StringEquals(values) => {
                let text = s.to_text();
                values.contains(&text)
            }
            Matcher::StringEqualsIgnoreCase(values) => {
                let text = s.to_text().to_lowercase();
                values.contains(&text)
            }
            Matcher::StringLike(patterns) => {
                let text = s.to_text();
                patterns.iter().any(|p| glob(p, &text, false))
            }
            Matcher::Arn(patterns) => {
                let text = s.to_text();
                patterns.iter().any(|p| arn_match(p, &text))
            }
            Matcher::Numeric(kind, values) => {
                let Some(n) = scalar_number(s) else {
                    return false;
                };
                values
                    .iter()
                    .flatten()
                    .any(|v| compare(*kind, n.partial_cmp(v)))
            }
            Matcher::Date(kind, values) => {
                let Some(d) = scalar_date(s) else {
                    return false;
                };
                values
                    .iter()
                    .flatten()
                    .any(|v| compare(*kind, Some(d.cmp(v))))
            }
            Matcher::Bool(values) => {
                let Some(b) = scalar_bool(s) else {
                    return false;
                };
                values.iter().flatten().any(|v| *v == b)
            }
            Matcher::Binary(values) => {
                let bytes = match s {
                    Scalar::Binary(b) => b.to_vec(),
                    Scalar::Str(text) => match decode_base64(text) {
                        Some(b) => b,
                        None => return false,
                    },
                    _ => return false,
                };
                values.iter().flatten().any(|v| *v == bytes)
            }
            Matcher::Ip(cidrs) => {
                let Some(ip) = scalar_ip(s) else {
                    return false;
                };
                cidrs.iter().flatten().any(|c| c.contains(ip))
            }
        }
    }
}

fn compare(kind: OperatorKind, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use OperatorKind::*;
    let Some(ord) = ord else {
        return false;
    };
    match kind {
        NumericEquals | DateEquals => ord == Equal,
        NumericLessThan | DateLessThan => ord == Less,
        NumericLessThanEquals | DateLessThanEquals => ord != Greater,
        NumericGreaterThan | DateGreaterThan => ord == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => ord != Less,
        _ => false,
    }
}

/// A decimal number: optional sign, digits, optional fraction (`10`, `-3`, `1.5`, `.5`).
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && frac.is_empty() && int.is_empty());
    if !valid {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn scalar_number(s: &Scalar<'_>) -> Option<f64> {
    match s {
        Scalar::Number(n) => Some(*n),
        Scalar::Str(text) => parse_number(text),
        Scalar::Date(d) => Some(d.unix_timestamp() as f64),
        _ => None,
    }
}

fn scalar_date(s: &Scalar<'_>) -> Option<OffsetDateTime> {
    match s {
        Scalar::Date(d) => Some(*d),
        Scalar::Number(n) => epoch_to_date(*n),
        Scalar::Str(text) => parse_date(text),
        _ => None,
    }
}

fn scalar_bool(s: &Scalar<'_>) -> Option<bool> {
    match s {
        Scalar::Bool(b) => Some(*b),
        Scalar::Str(text) => parse_bool(text),
        _ => None,
    }
}

fn scalar_ip(s: &Scalar<'_>) -> Option<IpAddr> {
    let ip = match s {
        Scalar::Ip(ip) => *ip,
        Scalar::Str(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    Some(canonical_ip(ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are compared as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

fn epoch_to_date(seconds: f64) -> Option<OffsetDateTime> {
    if !seconds.is_finite() {
        return None;
    }
    let nanos = (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// Epoch seconds, or one of the W3C profiles of ISO 8601: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm`, `YYYY-MM-DDThh:mm:ss`, `YYYY-MM-DDThh:mm:ss.s...`, each time form with
/// an optional zone designator (`Z`, `+hh:mm`, `-hh:mm`, `+hhmm`; none means UTC).
pub(crate) fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let is_epoch = {
        let digits = t.strip_prefix('-').unwrap_or(t);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        // Four digits alone are a year, not a second count.
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && !(int.len() == 4 && !digits.contains('.') && !t.starts_with('-'))
    };
    if is_epoch {
        return epoch_to_date(t.parse().ok()?);
    }
    let (date_part, time_part) = match t.split_once(['T', 't']) {
        Some((d, tm)) => (d, Some(tm)),
        None => (t, None),
    };
    let date_fields: Vec<&str> = date_part.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (year, month, day) = match date_fields.as_slice() {
        [y] => (num(y, 4)?, 1, 1),
        [y, m] => (num(y, 4)?, num(m, 2)?, 1),
        [y, m, d] => (num(y, 4)?, num(m, 2)?, num(d, 2)?),
        _ => return None,
    };
    if time_part.is_some() && date_fields.len() != 3 {
        return None;
    }
    let date = Date::from_calendar_date(
        year as i32,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let Some(time_part) = time_part else {
        return Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc());
    };
    // Split off the zone designator.
    let (clock, offset) = if let Some(clock) = time_part.strip_suffix(['Z', 'z']) {
        (clock, UtcOffset::UTC)
    } else if let Some(pos) = time_part.rfind(['+', '-']) {
        let (clock, zone) = time_part.split_at(pos);
        let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
        let zone = &zone[1..];
        let (h, m) = match zone.split_once(':') {
            Some((h, m)) => (num(h, 2)?, num(m, 2)?),
            // `get`, not slicing: the zone is policy text and may hold multibyte characters.
            None if zone.len() == 4 => (num(zone.get(..2)?, 2)?, num(zone.get(2..)?, 2)?),
            None => (num(zone, 2)?, 0),
        };
        let offset = UtcOffset::from_hms(
            sign * i8::try_from(h).ok()?,
            sign * i8::try_from(m).ok()?,
            0,
        )
        .ok()?;
        (clock, offset)
    } else {
        (time_part, UtcOffset::UTC)
    };
    let clock_fields: Vec<&str> = clock.split(':').collect();
    let (hour, minute, second, nanos) = match clock_fields.as_slice() {
        [h, m] => (num(h, 2)?, num(m, 2)?, 0, 0),
        [h, m, s] => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            if s.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
                return None;
            }
            let mut nanos = 0u32;
            for (i, b) in frac.bytes().take(9).enumerate() {
                nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
            }
            (num(h, 2)?, num(m, 2)?, num(whole, 2)?, nanos)
        }
        _ => return None,
    };
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// An address range in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (a, Some(p.parse::<u8>().ok()?))
            }
            None => (t, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    /// [`Cidr::parse`] of a value in its plain spelling only: no surrounding space, and a
    /// prefix length of at most three digits without a leading zero. [`Cidr::parse`] is more
    /// lenient (it reads `0.0.0.0/00` as `0.0.0.0/0` and ` 10.0.0.0/008` as `10.0.0.0/8`), and
    /// the public-policy check does not take such spellings as narrowing. Whatever this
    /// accepts, the evaluator reads the same way, since it is the evaluator's own parser.
    pub(crate) fn parse_plain(text: &str) -> Option<Cidr> {
        if text.is_empty() || text.trim() != text {
            return None;
        }
        if let Some((_, prefix)) = text.split_once('/') {
            if prefix.len() > 3 || (prefix.len() > 1 && prefix.starts_with('0')) {
                return None;
            }
        }
        Cidr::parse(text)
    }

    /// The first and the last address of the range as integers, and whether it is an IPv4
    /// range. An IPv6 range never contains an IPv4 caller, IPv4-mapped ones included
    /// ([`canonical_ip`] turns those into IPv4 before they are compared).
    pub(crate) fn bounds(&self) -> (bool, u128, u128) {
        match self.network {
            IpAddr::V4(net) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                let first = u32::from(net) & mask;
                (true, u128::from(first), u128::from(first | !mask))
            }
            IpAddr::V6(net) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                let first = u128::from(net) & mask;
                (false, first, first | !mask)
            }
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_date_multibyte_zone_is_none_not_a_panic() {
        for text in [
            "2026-01-01T00:00:00+1\u{e9}1",
            "2026-01-01T00:00:00+\u{e9}\u{e9}",
            "2026-01-01T00:00:00-0\u{20ac}",
            "2026-01-01T00:00:00+\u{1f600}",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
        assert!(parse_date("2026-01-01T00:00:00+0130").is_some());
    }
    use time::macros::datetime;

    use crate::context::ContextValue;
    use crate::ConditionOperator;

    fn holds(op: &str, key_value: Option<ContextValue>, values: &[&str]) -> bool {
        let mut ctx = ContextKeys::new();
        if let Some(v) = key_value {
            ctx.insert("k:key", v);
        }
        let clause = ConditionClause {
            operator: op.parse::<ConditionOperator>().unwrap(),
            key: "K:Key".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        clause_holds(&clause, &ctx, PolicyVersion::V2012_10_17).unwrap()
    }

    fn list(items: &[&str]) -> Option<ContextValue> {
        Some(ContextValue::StringList(
            items.iter().map(|s| s.to_string()).collect(),
        ))
    }

    #[test]
    fn clause_multivalued_key_without_qualifier_any_or_none() {
        // Positive operators behave like ForAnyValue; negated ones hold when no value matches.
        assert!(holds("StringEquals", list(&["a", "b"]), &["b"]));
        assert!(!holds("StringEquals", list(&["a", "b"]), &["c"]));
        assert!(!holds("StringNotEquals", list(&["a", "b"]), &["b"]));
        assert!(holds("StringNotEquals", list(&["a", "b"]), &["c"]));
    }

    #[test]
    fn clause_empty_set_is_missing() {
        assert!(!holds("StringEquals", list(&[]), &["a"]));
        assert!(holds("StringNotEquals", list(&[]), &["a"]));
        assert!(holds("ForAllValues:StringEquals", list(&[]), &["a"]));
        assert!(!holds("ForAnyValue:StringEquals", list(&[]), &["a"]));
        assert!(holds("Null", list(&[]), &["true"]));
        assert!(holds("Null", None, &["TRUE"]));
        assert!(!holds("Null", None, &["maybe"]));
    }

    #[test]
    fn clause_typed_values_convert() {
        assert!(holds(
            "NumericEquals",
            Some(ContextValue::String("7".into())),
            &["7"]
        ));
        assert!(holds(
            "StringEquals",
            Some(ContextValue::Number(7.0)),
            &["7"]
        ));
        assert!(holds(
            "StringEquals",
            Some(ContextValue::Bool(true)),
            &["true"]
        ));
        assert!(holds(
            "Bool",
            Some(ContextValue::String("TRUE".into())),
            &["true"]
        ));
        assert!(!holds(
            "Bool",
            Some(ContextValue::String("yes".into())),
            &["true"]
        ));
        assert!(holds(
            "IpAddress",
            Some(ContextValue::String("::ffff:192.0.2.1".into())),
            &["192.0.2.0/24"]
        ));
        assert!(!holds(
            "IpAddress",
            Some(ContextValue::String("not-an-ip".into())),
            &["0.0.0.0/0"]
        ));
        assert!(!holds(
            "NotIpAddress",
            Some(ContextValue::String("192.0.2.1".into())),
            &["192.0.2.0/24"]
        ));
        assert!(holds(
            "DateLessThan",
            Some(ContextValue::Number(0.0)),
            &["1970-01-02"]
        ));
        assert!(holds(
            "BinaryEquals",
            Some(ContextValue::String("AAE=".into())),
            &["AAE="]
        ));
        assert!(!holds(
            "NumericLessThan",
            Some(ContextValue::Bool(true)),
            &["1"]
        ));
    }

    #[test]
    fn parse_number_forms() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("+7"), Some(7.0));
        for bad in ["", "1e3", "inf", "NaN", "0x10", "1.2.3", ".", "-", "ten"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_date_forms() {
        assert_eq!(
            parse_date("2020-01-01T00:00:01Z"),
            Some(datetime!(2020-01-01 00:00:01 UTC))
        );
        assert_eq!(
            parse_date("2019-07-16"),
            Some(datetime!(2019-07-16 00:00 UTC))
        );
        assert_eq!(parse_date("2019"), Some(datetime!(2019-01-01 00:00 UTC)));
        assert_eq!(parse_date("2019-07"), Some(datetime!(2019-07-01 00:00 UTC)));
        assert_eq!(
            parse_date("2019-07-16T12:00+02:00"),
            Some(datetime!(2019-07-16 10:00 UTC))
        );
        assert_eq!(
            parse_date("2019-07-16T12:00:00.5-0100"),
            Some(datetime!(2019-07-16 13:00:00.5 UTC))
        );
        assert_eq!(
            parse_date("1526716800"),
            Some(datetime!(2018-05-19 08:00 UTC))
        );
        for bad in [
            "",
            "2019-13-01",
            "2019-02-30",
            "yesterday",
            "2019-07-16T25:00Z",
            "2019-7-1",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidr_contains() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.255".parse().unwrap()));
        assert!(!c.contains("203.0.114.0".parse().unwrap()));
        let c = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c.contains("203.0.113.1".parse().unwrap()));
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert!(host.contains("192.0.2.7".parse().unwrap()));
        assert!(!host.contains("192.0.2.8".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0.0/"), None);
        assert_eq!(Cidr::parse("example.com"), None);
        assert_eq!(
            canonical_ip("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn cidr_parse_plain_and_bounds() {
        // The lenient spellings the evaluator reads, and the plain parser refuses.
        assert_eq!(Cidr::parse("0.0.0.0/00"), Cidr::parse("0.0.0.0/0"));
        assert_eq!(Cidr::parse(" 10.0.0.0/008"), Cidr::parse("10.0.0.0/8"));
        for text in [
            "0.0.0.0/00",
            " 10.0.0.0/8",
            "10.0.0.0/008",
            "10.0.0.0/33",
            "",
        ] {
            assert_eq!(Cidr::parse_plain(text), None, "{text:?}");
        }
        for text in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "192.0.2.7",
            "::/0",
            "2001:db8::/128",
        ] {
            assert_eq!(Cidr::parse_plain(text), Cidr::parse(text), "{text}");
        }
        let bounds = |text: &str| Cidr::parse_plain(text).unwrap().bounds();
        assert_eq!(bounds("0.0.0.0/0"), (true, 0, u128::from(u32::MAX)));
        assert_eq!(bounds("10.1.2.3/8"), (true, 0x0a00_0000, 0x0aff_ffff));
        assert_eq!(bounds("192.0.2.7"), (true, 0xc000_0207, 0xc000_0207));
        assert_eq!(bounds("::/0"), (false, 0, u128::MAX));
        assert_eq!(
            bounds("::ffff:0.0.0.0/96"),
            (false, 0xffff_0000_0000, 0xffff_ffff_ffff)
        );
    }
}
