//! Beyond AWS: reading only some top-level keys of a JSON `SecretString`, with the Coffer
//! condition key `coffer:JsonKey`.
//!
//! Data path: GetSecretValue (and each secret of BatchGetSecretValue) is authorized twice.
//! Before the repository is read, [`super::evaluate`] runs with [`JsonKeyScope::Pending`] (as
//! coffer-core's `policy_actions::required_actions` asks); after the value is decrypted, the service calls
//! [`json_key_access`] and returns the whole value, the value cut down with
//! [`filter_secret_string`], or `AccessDeniedException` (message from
//! [`super::access_denied_message`] with the returned decision).
//!
//! Semantics. A statement is *key-scoped* when one of its condition clauses tests
//! `coffer:JsonKey` (key name case-insensitive). The value of `coffer:JsonKey` is a set of
//! top-level keys of the secret's JSON object, and every clause is evaluated with IAM's own rules
//! for multivalued keys, so
//! `"ForAllValues:StringEquals": {"coffer:JsonKey": ["username", "host"]}` allows a key set
//! exactly when every key in it is `username` or `host`, and `"ForAllValues:StringLike"` takes
//! wildcards. Precisely:
//! 1. Phase 1, value unknown ([`JsonKeyScope::Pending`]): key-scoped Allow statements apply with
//!    their `coffer:JsonKey` clauses taken as true (every other part must match), key-scoped Deny
//!    statements are set aside. Allow means "some key may be readable"; a denial ends the call
//!    before the secret is read.
//! 2. Phase 2, the `SecretString` is a JSON object with top-level keys `K` (in document order,
//!    duplicates once): if the request evaluated with `coffer:JsonKey = K` is allowed, the whole
//!    value is returned ([`JsonKeyAccess::Full`]). Otherwise each key `k` of `K` is evaluated
//!    alone with `coffer:JsonKey = [k]`; the allowed keys are returned
//!    ([`JsonKeyAccess::Keys`], the response's `SecretString` holding just those members), and
//!    when none is allowed the call is denied with the decision of the whole-set evaluation.
//!    Key-scoped Deny statements therefore remove keys: `"Deny" ... "ForAnyValue:StringEquals":
//!    {"coffer:JsonKey": "password"}` hides `password` and leaves the rest readable.
//! 3. Phase 2 for a value that is not a JSON object (a `SecretBinary`, a plain string, an
//!    array): there are no keys, so key-scoped Allow statements grant nothing
//!    ([`JsonKeyScope::NotApplicable`]); the value is returned only if some other statement
//!    allows it.
//! 4. Every other action is evaluated with [`JsonKeyScope::NotApplicable`]: a key-scoped Allow
//!    never grants DescribeSecret, PutSecretValue or anything but value reads, even though
//!    `ForAllValues` on a missing key would hold in plain IAM.
//!
//! The filtered value keeps the members' original JSON text and order.

use super::context::{AuthorizationRequest, JsonKeyScope};
use super::eval::{evaluate_all, policies_test_json_key, Decision};
use super::PolicyDocument;
use serde::de::IgnoredAny;
use zeroize::Zeroizing;

/// What a value read may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonKeyAccess {
    /// The whole value.
    Full,
    /// Only these top-level keys, in document order (see [`filter_secret_string`]).
    Keys(Vec<String>),
    /// Nothing: the read is denied with this decision.
    Denied(Decision),
}

/// Phase 2 of a value read (see the module doc): what of `secret_string` the caller may see.
/// `secret_string` is `None` for a `SecretBinary` value. The `json_keys` scope of `request` is
/// ignored.
pub fn json_key_access(
    request: &AuthorizationRequest,
    identity_policies: &[PolicyDocument],
    resource_policies: &[PolicyDocument],
    secret_string: Option<&str>,
) -> JsonKeyAccess {
    let decide = |scope: JsonKeyScope| {
        let request = request.clone().with_json_keys(scope);
        evaluate_all(&request, identity_policies, resource_policies)
    };
    let whole = |decision: Decision| match decision {
        Decision::Allow => JsonKeyAccess::Full,
        denied => JsonKeyAccess::Denied(denied),
    };
    let key_scoped = policies_test_json_key(identity_policies.iter().chain(resource_policies));
    let keys = match secret_string
        .filter(|_| key_scoped)
        .and_then(top_level_keys)
    {
        Some(keys) => keys,
        None => return whole(decide(JsonKeyScope::NotApplicable)),
    };
    let all = decide(JsonKeyScope::Keys(keys.clone()));
    if all.is_allowed() {
        return JsonKeyAccess::Full;
    }
    let allowed: Vec<String> = keys
        .into_iter()
        .filter(|k| decide(JsonKeyScope::Keys(vec![k.clone()])).is_allowed())
        .collect();
    if allowed.is_empty() {
        JsonKeyAccess::Denied(all)
    } else {
        JsonKeyAccess::Keys(allowed)
    }
}

/// The top-level keys of a JSON object in document order (each once); `None` when `text` is not
/// a JSON object.
pub fn top_level_keys(text: &str) -> Option<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for (key, _) in object_entries(text)? {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Some(keys)
}

/// `secret_string` reduced to the members whose key is in `keys`, each member's JSON text and
/// order unchanged (`{"username":"app","host":"db"}` from
/// `{"username":"app","password":"s3cr3t","host":"db"}`); `None` when it is not a JSON object.
pub fn filter_secret_string(secret_string: &str, keys: &[String]) -> Option<Zeroizing<String>> {
    let entries = object_entries(secret_string)?;
    let kept: Vec<(String, &str)> = entries
        .into_iter()
        .filter(|(k, _)| keys.contains(k))
        .map(|(k, v)| (serde_json::to_string(&k).unwrap_or_default(), v))
        .collect();
    // Sized up front so the buffer holding secret material is never reallocated (and so never
    // leaves an unzeroized copy behind).
    let capacity = 2 + kept
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>();
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    out.push('{');
    for (i, (key, value)) in kept.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    Some(out)
}

/// The members of a top-level JSON object as (decoded key, raw value text), in document order.
fn object_entries(text: &str) -> Option<Vec<(String, &str)>> {
    // Validate first: the scanner below then only ever sees well-formed JSON.
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(bytes, i);
        match bytes.get(i)? {
            b'}' => return Some(out),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(bytes, i)?;
        let key: String = serde_json::from_str(&text[i..key_end]).ok()?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, i + 1);
        let end = value_end(bytes, start)?;
        out.push((key, text[start..end].trim_end()));
        i = end;
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `start` (which is a `"`).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    loop {
        match bytes.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The index where the member value starting at `start` ends (at the `,` or `}` that follows
/// it, outside nested values and strings).
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = start;
    loop {
        match bytes.get(j)? {
            b'"' => {
                j = string_end(bytes, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(j),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(j),
            _ => {}
        }
        j += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_object_only() {
        assert_eq!(
            top_level_keys(r#" {"b":1, "a":{"x":[1,"}"]}, "c":"q\"uote", "b":2} "#).unwrap(),
            ["b", "a", "c"]
        );
        assert_eq!(top_level_keys("{}").unwrap(), Vec::<String>::new());
        assert_eq!(top_level_keys(r#"{"k\u00e9y":true}"#).unwrap(), ["kéy"]);
        for not_object in [
            "",
            "[1,2]",
            "\"text\"",
            "plain text",
            "{\"a\":1",
            "{} x",
            "42",
        ] {
            assert_eq!(top_level_keys(not_object), None, "{not_object}");
        }
    }

    #[test]
    fn filter_secret_string_keeps_text_and_order() {
        let value = r#"{ "username" : "app", "password": "s3cr3t", "host":"db.internal", "port": 5432, "opts": {"a": [1, 2]} }"#;
        let keys = [
            "host".to_string(),
            "username".to_string(),
            "opts".to_string(),
        ];
        let filtered = filter_secret_string(value, &keys).unwrap();
        assert_eq!(
            filtered.as_str(),
            r#"{"username":"app","host":"db.internal","opts":{"a": [1, 2]}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&filtered).unwrap();
        assert_eq!(parsed["host"], "db.internal");
        assert_eq!(filter_secret_string(value, &[]).unwrap().as_str(), "{}");
        assert!(filter_secret_string("not json", &keys).is_none());
    }
}
