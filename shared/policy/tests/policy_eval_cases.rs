//! Table-driven acceptance suite for the policy engine: every case of
//! `fixtures/policy_eval_cases.json` names the AWS documentation page (and example) its expected
//! result comes from. See the fixture's `about` for the case format.

use base64::Engine as _;
use coffer_policy::{
    evaluate_all, json_key_access, parse_identity_policy, parse_policy, AuthorizationRequest,
    ContextKeys, ContextValue, Decision, ImplicitDenyReason, JsonKeyAccess, JsonKeyScope,
    PolicyDocument, PolicyType, PrincipalInfo,
};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const FIXTURE: &str = include_str!("fixtures/policy_eval_cases.json");
const ACCOUNT: &str = "111122223333";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("fixture is valid JSON")
}

fn principal(spec: Option<&Value>) -> PrincipalInfo {
    let Some(spec) = spec else {
        return PrincipalInfo::user(ACCOUNT, "alice", "AIDAALICEEXAMPLE");
    };
    let account = spec["account"].as_str().unwrap_or(ACCOUNT);
    let mut p = if let Some(root) = spec["root"].as_str() {
        PrincipalInfo::root(root)
    } else if let Some(user) = spec["user"].as_str() {
        let id = spec["id"].as_str().unwrap_or("AIDAEXAMPLE");
        PrincipalInfo::user(account, user, id)
    } else if let Some(role) = spec["role"].as_str() {
        let session = spec["session"]
            .as_str()
            .expect("a role principal needs a session");
        let id = spec["id"].as_str().unwrap_or("AROAEXAMPLE");
        PrincipalInfo::assumed_role(account, role, session, id)
    } else {
        panic!("unknown principal {spec}");
    };
    if let Some(tags) = spec["tags"].as_object() {
        for (k, v) in tags {
            p = p.with_tag(k, v.as_str().unwrap());
        }
    }
    p
}

fn context_value(v: &Value) -> ContextValue {
    match v {
        Value::String(s) => ContextValue::String(s.clone()),
        Value::Bool(b) => ContextValue::Bool(*b),
        Value::Number(n) => ContextValue::Number(n.as_f64().unwrap()),
        Value::Array(items) => ContextValue::StringList(
            items
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect(),
        ),
        Value::Object(o) => {
            if let Some(d) = o.get("date").and_then(Value::as_str) {
                ContextValue::Date(OffsetDateTime::parse(d, &Rfc3339).unwrap())
            } else if let Some(ip) = o.get("ip").and_then(Value::as_str) {
                ContextValue::Ip(ip.parse().unwrap())
            } else if let Some(b) = o.get("binary").and_then(Value::as_str) {
                ContextValue::Binary(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
            } else {
                panic!("unknown context value {v}")
            }
        }
        Value::Null => panic!("null context value"),
    }
}

fn request(case: &Value) -> AuthorizationRequest {
    let action = case["action"]
        .as_str()
        .unwrap_or("secretsmanager:GetSecretValue");
    let resource = case["resource"].as_str().unwrap_or(SECRET);
    let mut req = AuthorizationRequest::new(principal(case.get("principal")), action, resource);
    let mut keys = ContextKeys::new();
    if let Some(ctx) = case["context"].as_object() {
        for (k, v) in ctx {
            keys.insert(k.clone(), context_value(v));
        }
    }
    req = req.with_context_keys(keys);
    if let Some(now) = case["now"].as_str() {
        req = req.with_current_time(OffsetDateTime::parse(now, &Rfc3339).unwrap());
    }
    match &case["json_keys"] {
        Value::Null => {}
        Value::String(s) if s == "pending" => req = req.with_json_keys(JsonKeyScope::Pending),
        Value::Array(keys) => {
            req = req.with_json_keys(JsonKeyScope::Keys(
                keys.iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect(),
            ))
        }
        other => panic!("unknown json_keys {other}"),
    }
    req
}

fn identity_policies(case: &Value) -> Vec<PolicyDocument> {
    let mut docs: Vec<Value> = case["identity"].as_array().cloned().unwrap_or_default();
    if let Some(condition) = case.get("condition") {
        let version = case["version"].as_str().unwrap_or("2012-10-17");
        let conditional = |effect: &str| serde_json::json!({"Effect": effect, "Action": "*", "Resource": "*", "Condition": condition});
        let statements = match case["effect"].as_str().unwrap_or("Allow") {
            "Allow" => vec![conditional("Allow")],
            "Deny" => vec![
                serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                conditional("Deny"),
            ],
            other => panic!("unknown effect {other}"),
        };
        docs.push(serde_json::json!({"Version": version, "Statement": statements}));
    }
    docs.iter()
        .map(|d| {
            parse_identity_policy(&d.to_string())
                .unwrap_or_else(|e| panic!("{}: identity policy {d}: {e}", case["name"]))
        })
        .collect()
}

fn resource_policies(case: &Value) -> Vec<PolicyDocument> {
    let docs = match &case["resource_policy"] {
        Value::Null => Vec::new(),
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    docs.iter()
        .map(|d| {
            parse_policy(&d.to_string())
                .unwrap_or_else(|e| panic!("{}: resource policy {d}: {e}", case["name"]))
        })
        .collect()
}

fn decision_matches(expect: &str, decision: &Decision) -> bool {
    let (kind, detail) = expect.split_once(':').unwrap_or((expect, ""));
    match (kind, decision) {
        ("Allow", Decision::Allow) => true,
        ("ExplicitDeny", Decision::ExplicitDeny { policy, .. }) => match detail {
            "" => true,
            "Identity" => *policy == PolicyType::Identity,
            "Resource" => *policy == PolicyType::Resource,
            other => panic!("unknown explicit deny detail {other}"),
        },
        ("ImplicitDeny", Decision::ImplicitDeny { reason }) => match detail {
            "" => true,
            "NoIdentityAllow" => *reason == ImplicitDenyReason::NoIdentityAllow,
            "NoResourceAllow" => *reason == ImplicitDenyReason::NoResourceAllow,
            "CrossAccountNeedsBoth" => *reason == ImplicitDenyReason::CrossAccountNeedsBoth,
            other => panic!("unknown implicit deny detail {other}"),
        },
        _ => false,
    }
}

#[test]
fn policy_eval_documented_cases_all_pass() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert!(
            case["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{name} names no source"
        );
        let decision = evaluate_all(
            &request(case),
            &identity_policies(case),
            &resource_policies(case),
        );
        let expect = case["expect"].as_str().unwrap();
        let mut ok = decision_matches(expect, &decision);
        if let Some(sid) = case["expect_sid"].as_str() {
            ok &= matches!(&decision, Decision::ExplicitDeny { sid: Some(s), .. } if s == sid);
        }
        if !ok {
            failures.push(format!("{name}: expected {expect}, got {decision:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn policy_eval_documented_cases_cover_acceptance() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let text = FIXTURE;
    // Every operator, both set qualifiers, IfExists, every Not-element and variables appear.
    for needle in [
        "\"StringEquals\"",
        "\"StringNotEquals\"",
        "\"StringEqualsIgnoreCase\"",
        "\"StringNotEqualsIgnoreCase\"",
        "\"StringLike\"",
        "\"StringNotLike\"",
        "\"NumericEquals\"",
        "\"NumericNotEquals\"",
        "\"NumericLessThan\"",
        "\"NumericLessThanEquals\"",
        "\"NumericGreaterThan\"",
        "\"NumericGreaterThanEquals\"",
        "\"DateEquals\"",
        "\"DateNotEquals\"",
        "\"DateLessThan\"",
        "\"DateLessThanEquals\"",
        "\"DateGreaterThan\"",
        "\"DateGreaterThanEquals\"",
        "\"Bool\"",
        "\"BoolIfExists\"",
        "\"BinaryEquals\"",
        "\"IpAddress\"",
        "\"NotIpAddress\"",
        "\"ArnEquals\"",
        "\"ArnNotEquals\"",
        "\"ArnLike\"",
        "\"ArnNotLike\"",
        "\"Null\"",
        "ForAllValues:",
        "ForAnyValue:",
        "IfExists\"",
        "\"NotAction\"",
        "\"NotResource\"",
        "\"NotPrincipal\"",
        "${aws:username}",
        "${aws:PrincipalTag/",
        "${aws:userid}",
        "${aws:PrincipalAccount}",
        "${*}",
        "${?}",
        "${$}",
        ", 'anonymous'}",
    ] {
        assert!(text.contains(needle), "no case uses {needle}");
    }
}

#[test]
fn policy_eval_json_key_cases_all_pass() {
    let fixture = fixture();
    let cases = fixture["json_key_cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let req = request(case);
        let identity = identity_policies(case);
        let resource = resource_policies(case);
        let got = json_key_access(&req, &identity, &resource, case["secret_string"].as_str());
        let ok = match &case["expect"] {
            Value::String(s) if s == "Full" => got == JsonKeyAccess::Full,
            Value::String(s) if s == "Denied" => matches!(got, JsonKeyAccess::Denied(_)),
            Value::Array(keys) => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| k.as_str().unwrap().to_string())
                    .collect();
                got == JsonKeyAccess::Keys(keys)
            }
            other => panic!("{name}: unknown expectation {other}"),
        };
        if !ok {
            failures.push(format!("{name}: expected {}, got {got:?}", case["expect"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
