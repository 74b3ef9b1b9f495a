//! Policy variables and wildcard patterns.
//!
//! Data path: while the service authorizes a call, every `Resource`/`NotResource` entry and every
//! value of a string, ARN or `Bool` condition is expanded here against the request context before
//! it is compared. A value becomes
//! a sequence of [`Token`]s: literal characters, `*` (any run) and `?` (exactly one).
//!
//! Rules (IAM User Guide, "IAM policy elements: Variables and tags"):
//! - variables are `${key}` with any single-valued context key (`${aws:username}`,
//!   `${aws:PrincipalTag/team}`, `${aws:userid}`, `${aws:PrincipalAccount}`, ...); key names
//!   are case-insensitive; a multivalued key cannot be a variable;
//! - `${key, 'default'}` substitutes `default` when the key is missing;
//! - `${*}`, `${?}` and `${$}` are a literal `*`, `?` and `$`;
//! - substituted text is always literal: a `*` inside a user name or tag value is not a
//!   wildcard;
//! - variables exist only in `"Version": "2012-10-17"` documents; in `2008-10-17` documents
//!   `${...}` is plain text;
//! - a variable whose key is missing and that has no default cannot be resolved
//!   ([`Unresolved`]); the statement that holds it then does not apply (IAM: "If AWS cannot
//!   resolve a variable, this might cause the entire statement to be invalid").
//!
//! Malformed variables (no closing brace, a default that is not single-quoted, a name without a
//! `vendor:` prefix) are kept as literal text.

use super::context::ContextKeys;
use super::PolicyVersion;

/// One element of an expanded pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Char(char),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    Question,
}

/// A policy variable referred to a key the request does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unresolved;

/// Expands `text` into tokens. With `wildcards`, literal `*` and `?` of the policy text are
/// wildcards (StringLike, ArnLike, Resource); without, they are ordinary characters.
pub(crate) fn expand(
    text: &str,
    ctx: &ContextKeys,
    version: PolicyVersion,
    wildcards: bool,
) -> Result<Vec<Token>, Unresolved> {
    let mut out = Vec::with_capacity(text.len());
    let push_policy_char = |out: &mut Vec<Token>, c: char| {
        out.push(match c {
            '*' if wildcards => Token::Star,
            '?' if wildcards => Token::Question,
            c => Token::Char(c),
        })
    };
    if version != PolicyVersion::V2012_10_17 {
        text.chars().for_each(|c| push_policy_char(&mut out, c));
        return Ok(out);
    }
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest[..start]
            .chars()
            .for_each(|c| push_policy_char(&mut out, c));
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // No closing brace: the remainder is literal text.
            rest[start..]
                .chars()
                .for_each(|c| push_policy_char(&mut out, c));
            return Ok(out);
        };
        let body = &after[..end];
        match substitute(body, ctx)? {
            Some(value) => out.extend(value.chars().map(Token::Char)),
            None => rest[start..start + 2 + end + 1]
                .chars()
                .for_each(|c| push_policy_char(&mut out, c)),
        }
        rest = &after[end + 1..];
    }
    rest.chars().for_each(|c| push_policy_char(&mut out, c));
    Ok(out)
}

/// The text a variable body stands for; `Ok(None)` when the body is not a variable.
fn substitute(body: &str, ctx: &ContextKeys) -> Result<Option<String>, Unresolved> {
    match body {
        "*" | "?" | "$" => return Ok(Some(body.to_string())),
        _ => {}
    }
    let (key, default) = match body.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
            if !quoted {
                return Ok(None);
            }
            (key.trim(), Some(&default[1..default.len() - 1]))
        }
        None => (body.trim(), None),
    };
    let well_formed = key
        .split_once(':')
        .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty());
    if !well_formed {
        return Ok(None);
    }
    match ctx.get(key).and_then(|v| v.as_variable()) {
        Some(value) => Ok(Some(value)),
        None => match default {
            Some(d) => Ok(Some(d.to_string())),
            None => Err(Unresolved),
        },
    }
}

/// The literal text of tokens (wildcards written back as `*` and `?`).
pub(crate) fn literal(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Char(c) => *c,
            Token::Star => '*',
            Token::Question => '?',
        })
        .collect()
}

/// Wildcard match of the whole `text`; `*` matches any run, `?` one character.
pub(crate) fn glob(pattern: &[Token], text: &str, ignore_case: bool) -> bool {
    let (pattern, text): (Vec<Token>, Vec<char>) = if ignore_case {
        (
            pattern
                .iter()
                .flat_map(|t| match t {
                    Token::Char(c) => c.to_lowercase().map(Token::Char).collect::<Vec<_>>(),
                    other => vec![*other],
                })
                .collect(),
            text.chars().flat_map(char::to_lowercase).collect(),
        )
    } else {
        (pattern.to_vec(), text.chars().collect())
    };
    // Iterative matching with single-star backtracking: linear in practice, never exponential.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(Token::Question) => {
                pi += 1;
                ti += 1;
            }
            Some(Token::Char(c)) if *c == text[ti] => {
                pi += 1;
                ti += 1;
            }
            Some(Token::Star) => {
                star = Some((pi, ti));
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(|t| *t == Token::Star)
}

/// ARN match, segment by segment: the six colon-separated parts of the ARN
/// (`arn:partition:service:region:account:resource`) are compared separately, so a wildcard
/// does not cross a colon (IAM's ArnLike; the User Guide's example: the pattern
/// `arn:aws:someservice:*:111122223333:finance/*` does not match
/// `arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`).
/// The resource part may itself contain colons. A pattern with fewer than six parts lets its
/// last part match the rest of the value (so `*` matches every ARN, and
/// `arn:aws:secretsmanager:*` every secret ARN); a value with fewer parts than the pattern does
/// not match.
pub(crate) fn arn_match(pattern: &[Token], value: &str) -> bool {
    let pattern_parts = split_tokens(pattern, 6);
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    if pattern_parts.len() > value_parts.len() {
        return false;
    }
    let last = pattern_parts.len() - 1;
    for (i, part) in pattern_parts.iter().enumerate() {
        let matched = if i == last {
            glob(part, &value_parts[i..].join(":"), false)
        } else {
            glob(part, value_parts[i], false)
        };
        if !matched {
            return false;
        }
    }
    true
}

/// Splits tokens at literal colons into at most `max` parts (the last part keeps its colons).
fn split_tokens(tokens: &[Token], max: usize) -> Vec<&[Token]> {
    let mut parts = Vec::with_capacity(max);
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if parts.len() + 1 == max {
            break;
        }
        if *t == Token::Char(':') {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    parts.push(&tokens[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextValue;

    fn ctx() -> ContextKeys {
        ContextKeys::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalTag/team", "db*")
            .with("aws:TagKeys", ContextValue::StringList(vec!["a".into()]))
    }

    fn text(pattern: &str, wildcards: bool) -> Result<String, Unresolved> {
        expand(pattern, &ctx(), PolicyVersion::V2012_10_17, wildcards).map(|t| literal(&t))
    }

    #[test]
    fn expand_variables_substituted() {
        assert_eq!(text("home/${aws:username}/", false).unwrap(), "home/alice/");
        assert_eq!(text("${AWS:UserName}", false).unwrap(), "alice");
        assert_eq!(text("${aws:PrincipalTag/TEAM}-x", false).unwrap(), "db*-x");
        assert_eq!(text("a${*}b${?}c${$}", false).unwrap(), "a*b?c$");
    }

    #[test]
    fn expand_missing_variable_unresolved_or_default() {
        assert_eq!(text("${aws:userid}", false), Err(Unresolved));
        assert_eq!(
            text("${aws:userid, 'anonymous'}", false).unwrap(),
            "anonymous"
        );
        assert_eq!(text("${aws:userid,'x'}", false).unwrap(), "x");
        // A present key ignores the default.
        assert_eq!(
            text("${aws:username, 'anonymous'}", false).unwrap(),
            "alice"
        );
        // Multivalued keys are not variables.
        assert_eq!(text("${aws:TagKeys}", false), Err(Unresolved));
    }

    #[test]
    fn expand_malformed_kept_literal() {
        assert_eq!(text("${aws:username", false).unwrap(), "${aws:username");
        assert_eq!(text("${username}", false).unwrap(), "${username}");
        assert_eq!(
            text("${aws:username, anon}", false).unwrap(),
            "${aws:username, anon}"
        );
    }

    #[test]
    fn expand_2008_version_literal() {
        let t = expand("${aws:username}", &ctx(), PolicyVersion::V2008_10_17, false).unwrap();
        assert_eq!(literal(&t), "${aws:username}");
    }

    #[test]
    fn expand_substituted_wildcards_literal() {
        let t = expand(
            "${aws:PrincipalTag/team}",
            &ctx(),
            PolicyVersion::V2012_10_17,
            true,
        )
        .unwrap();
        assert!(glob(&t, "db*", false));
        assert!(!glob(&t, "dbx", false));
        let t = expand("a${*}", &ctx(), PolicyVersion::V2012_10_17, true).unwrap();
        assert!(glob(&t, "a*", false));
        assert!(!glob(&t, "ab", false));
    }

    #[test]
    fn glob_cases() {
        let p = |s: &str| expand(s, &ctx(), PolicyVersion::V2012_10_17, true).unwrap();
        assert!(glob(&p("*"), "", false));
        assert!(glob(&p("a*b*c"), "axxbyyc", false));
        assert!(!glob(&p("a*b*c"), "axxbyy", false));
        assert!(glob(&p("a?c"), "abc", false));
        assert!(!glob(&p("a?"), "a", false));
        assert!(!glob(&p("ABC"), "abc", false));
        assert!(glob(&p("ABC"), "abc", true));
    }

    #[test]
    fn arn_match_segments() {
        let p = |s: &str| expand(s, &ctx(), PolicyVersion::V2012_10_17, true).unwrap();
        let value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!arn_match(
            &p("arn:aws:someservice:*:111122223333:finance/*"),
            value
        ));
        assert!(glob(
            &p("arn:aws:someservice:*:111122223333:finance/*"),
            value,
            false
        ));
        assert!(arn_match(&p("*"), value));
        assert!(arn_match(&p("arn:aws:someservice:*"), value));
        assert!(arn_match(&p("arn:aws:someservice:*:*:store/*"), value));
        assert!(!arn_match(&p("arn:aws:someservice:*:*:*"), "*"));
        assert!(arn_match(&p("*"), "*"));
        assert!(!arn_match(
            &p("arn:aws:iam::*:role/a"),
            "arn:aws:iam::123456789012:role/A"
        ));
    }
}
