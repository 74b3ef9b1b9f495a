//! Removal of secret material from JSON before it is recorded anywhere (audit events, logs).
//! Works by member name, recursively, so a new operation that returns a value in a known member
//! is covered without code changes.

use serde_json::Value;

/// Members whose values are secret material.
pub const SENSITIVE_MEMBERS: &[&str] = &[
    "SecretString",
    "SecretBinary",
    "RotationToken",
    "RandomPassword",
    "SecretAccessKey",
    "SessionToken",
];

pub const REDACTED: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// A copy of `value` with every sensitive member replaced by a marker.
pub fn redact_sensitive(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if SENSITIVE_MEMBERS.contains(&k.as_str()) {
                        (k.clone(), Value::String(REDACTED.to_string()))
                    } else {
                        (k.clone(), redact_sensitive(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_sensitive).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redact_nested_secret_values_are_hidden() {
        let v = json!({"Name": "n", "SecretValues": [{"SecretString": "canary", "Name": "x"}],
                       "SecretBinary": "Y2FuYXJ5", "RotationToken": "tok"});
        let text = redact_sensitive(&v).to_string();
        assert!(!text.contains("canary") && !text.contains("Y2FuYXJ5") && !text.contains("tok\""));
        assert!(text.contains("\"Name\":\"n\""));
    }
}
