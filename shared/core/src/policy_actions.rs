//! What each Secrets Manager operation asks IAM: the action(s), the resource and the condition
//! keys, per the Service Authorization Reference ("Actions, resources, and condition keys for AWS
//! Secrets Manager") and the "Required permissions" of each operation in the API reference.
//!
//! Data path: the service, before running an operation, calls [`required_actions`] with the
//! [`Operation`], the typed request's JSON view (only the members of the operation's shape, so
//! nothing outside it takes part in a decision) and — when the call names an existing secret —
//! the [`SecretFacts`] it loaded; it authorizes every returned [`RequiredAction`] (resource
//! [`ActionResource::Secret`] meaning the secret's ARN) and the call proceeds only if all are
//! allowed. The operation's own action and resource kind are [`Operation::action`] and
//! [`Operation::resource`]. The table is written in terms of [`Operation`], so it stays in
//! coffer-core; the engine that evaluates the requests it builds is `coffer-policy`.
//!
//! Table (the operation's own action unless said otherwise):
//! - on `*` (no resource-level permissions): ListSecrets, GetRandomPassword,
//!   BatchGetSecretValue (which also needs `secretsmanager:ListSecrets` when `Filters` is given,
//!   and `secretsmanager:GetSecretValue` on every secret it returns: the service authorizes each
//!   with `required_actions("GetSecretValue", {"SecretId": ...}, facts)` and reports denials per
//!   secret in `Errors`);
//! - on the secret: every other operation. CreateSecret also needs `secretsmanager:TagResource`
//!   when it has `Tags` and `secretsmanager:ReplicateSecretToRegions` when it has
//!   `AddReplicaRegions`; ValidateResourcePolicy also needs `secretsmanager:PutResourcePolicy`
//!   (and is on `*` without a `SecretId`); Coffer's ListResourcePolicies is authorized as
//!   `secretsmanager:GetResourcePolicy`.
//!
//! Condition keys supplied (a key is present only when its member is in the request, except that
//! booleans with a documented default carry the effective value):
//! - every call on an existing secret: `secretsmanager:SecretId` (the secret's ARN; the `SecretId`
//!   as sent when the secret is unknown), `secretsmanager:ResourceTag/<k>` and
//!   `aws:ResourceTag/<k>` for each tag, `secretsmanager:resource/AllowRotationLambdaArn` (the
//!   configured rotation function) and `secretsmanager:SecretPrimaryRegion`;
//! - CreateSecret: `secretsmanager:Name`, `Description`, `KmsKeyId` and `KmsKeyArn` (the key as
//!   sent; the service may replace `KmsKeyArn` with the resolved ARN), `Type`,
//!   `aws:RequestTag/<k>`, `aws:TagKeys`, `secretsmanager:AddReplicaRegions`,
//!   `secretsmanager:ForceOverwriteReplicaSecret` (default false);
//! - UpdateSecret: `Description`, `KmsKeyId`, `KmsKeyArn`, `Type`;
//! - GetSecretValue: `secretsmanager:VersionId`, `secretsmanager:VersionStage`;
//! - UpdateSecretVersionStage: `secretsmanager:VersionStage`;
//! - DeleteSecret: `secretsmanager:RecoveryWindowInDays`,
//!   `secretsmanager:ForceDeleteWithoutRecovery` (default false);
//! - PutResourcePolicy: `secretsmanager:BlockPublicPolicy` (default false, as the API
//!   documents and the service applies);
//! - RotateSecret: `secretsmanager:RotationLambdaARN`, `secretsmanager:ModifyRotationRules`
//!   (whether `RotationRules` is given), `secretsmanager:RotateImmediately` (default true);
//! - TagResource: `aws:RequestTag/<k>`, `aws:TagKeys`; UntagResource: `aws:TagKeys`;
//! - ReplicateSecretToRegions: `secretsmanager:AddReplicaRegions`,
//!   `secretsmanager:ForceOverwriteReplicaSecret`.
//!
//! The principal and environment keys (`aws:PrincipalArn`, `aws:SourceIp`, `aws:CurrentTime`, ...)
//! come from [`AuthorizationRequest`] (coffer-policy), not from here.

use crate::operation::{ActionResource, Api, Operation};
use coffer_policy::{AuthorizationRequest, ContextKeys, ContextValue, JsonKeyScope, PrincipalInfo};
use serde_json::Value;

/// What the service knows about the secret a call names, for the resource condition keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretFacts {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    /// The configured rotation function (`secretsmanager:resource/AllowRotationLambdaArn`).
    pub rotation_lambda_arn: Option<String>,
    /// The region the secret was created in (`secretsmanager:SecretPrimaryRegion`).
    pub primary_region: Option<String>,
}

/// One authorization the operation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RequiredAction {
    pub action: &'static str,
    pub resource: ActionResource,
    /// The operation's condition keys (request and resource keys).
    pub context: ContextKeys,
    /// [`JsonKeyScope::Pending`] for value reads (GetSecretValue), else not applicable.
    pub json_keys: JsonKeyScope,
}

impl RequiredAction {
    /// The authorization request for this action by `principal`; `secret_arn` is the resource
    /// of [`ActionResource::Secret`] actions (ignored for [`ActionResource::Any`]).
    pub fn to_request(&self, principal: PrincipalInfo, secret_arn: &str) -> AuthorizationRequest {
        let resource = match self.resource {
            ActionResource::Any | ActionResource::Principal => "*",
            ActionResource::Secret => secret_arn,
        };
        AuthorizationRequest::new(principal, self.action, resource)
            .with_context_keys(self.context.clone())
            .with_json_keys(self.json_keys.clone())
    }
}

/// The authorizations `operation` (a Secrets Manager operation) needs for `request` (the
/// typed request's view: only members of the operation's shape) on the secret described by
/// `secret` (`None` for a secret that does not exist yet or was not found). Empty for an
/// operation of another API: those are authorized elsewhere, and nothing is allowed by an
/// empty list (the service refuses a call it has no action for).
pub fn required_actions(
    operation: Operation,
    request: &Value,
    secret: Option<&SecretFacts>,
) -> Vec<RequiredAction> {
    if operation.api() != Api::SecretsManager {
        return Vec::new();
    }
    let context = condition_keys(operation, request, secret);
    let json_keys = if operation == Operation::GetSecretValue {
        JsonKeyScope::Pending
    } else {
        JsonKeyScope::NotApplicable
    };
    let resource = match operation {
        Operation::ValidateResourcePolicy if str_member(request, "SecretId").is_none() => {
            ActionResource::Any
        }
        op => op.resource(),
    };
    let mut out = vec![RequiredAction {
        action: operation.action(),
        resource,
        context: context.clone(),
        json_keys,
    }];
    let mut also = |action: &'static str, resource: ActionResource| {
        out.push(RequiredAction {
            action,
            resource,
            context: context.clone(),
            json_keys: JsonKeyScope::NotApplicable,
        })
    };
    match operation {
        Operation::BatchGetSecretValue if has_items(request, "Filters") => {
            also("secretsmanager:ListSecrets", ActionResource::Any)
        }
        Operation::CreateSecret => {
            if has_items(request, "Tags") {
                also("secretsmanager:TagResource", ActionResource::Secret);
            }
            if has_items(request, "AddReplicaRegions") {
                also(
                    "secretsmanager:ReplicateSecretToRegions",
                    ActionResource::Secret,
                );
            }
        }
        Operation::ValidateResourcePolicy => also("secretsmanager:PutResourcePolicy", resource),
        _ => {}
    }
    out
}

/// The condition keys `operation` supplies for `request` and `secret` (see the module doc).
pub fn condition_keys(
    operation: Operation,
    request: &Value,
    secret: Option<&SecretFacts>,
) -> ContextKeys {
    let mut keys = ContextKeys::new();
    let put_str = |keys: &mut ContextKeys, key: &str, member: &str| {
        if let Some(v) = str_member(request, member) {
            keys.insert(key, v.to_string());
        }
    };

    if operation.resource() == ActionResource::Secret {
        match secret {
            Some(facts) => {
                keys.insert("secretsmanager:SecretId", facts.arn.clone());
                for (k, v) in &facts.tags {
                    keys.insert(format!("secretsmanager:ResourceTag/{k}"), v.clone());
                    keys.insert(format!("aws:ResourceTag/{k}"), v.clone());
                }
                if let Some(arn) = &facts.rotation_lambda_arn {
                    keys.insert(
                        "secretsmanager:resource/AllowRotationLambdaArn",
                        arn.clone(),
                    );
                }
                if let Some(region) = &facts.primary_region {
                    keys.insert("secretsmanager:SecretPrimaryRegion", region.clone());
                }
            }
            None => put_str(&mut keys, "secretsmanager:SecretId", "SecretId"),
        }
    }

    match operation {
        Operation::CreateSecret => {
            put_str(&mut keys, "secretsmanager:Name", "Name");
            put_str(&mut keys, "secretsmanager:Description", "Description");
            put_str(&mut keys, "secretsmanager:KmsKeyId", "KmsKeyId");
            put_str(&mut keys, "secretsmanager:KmsKeyArn", "KmsKeyId");
            put_str(&mut keys, "secretsmanager:Type", "Type");
            request_tags(&mut keys, request);
            replica_regions(&mut keys, request);
            keys.insert(
                "secretsmanager:ForceOverwriteReplicaSecret",
                bool_member(request, "ForceOverwriteReplicaSecret").unwrap_or(false),
            );
        }
        Operation::UpdateSecret => {
            put_str(&mut keys, "secretsmanager:Description", "Description");
            put_str(&mut keys, "secretsmanager:KmsKeyId", "KmsKeyId");
            put_str(&mut keys, "secretsmanager:KmsKeyArn", "KmsKeyId");
            put_str(&mut keys, "secretsmanager:Type", "Type");
        }
        Operation::GetSecretValue => {
            put_str(&mut keys, "secretsmanager:VersionId", "VersionId");
            put_str(&mut keys, "secretsmanager:VersionStage", "VersionStage");
        }
        Operation::UpdateSecretVersionStage => {
            put_str(&mut keys, "secretsmanager:VersionStage", "VersionStage");
        }
        Operation::DeleteSecret => {
            if let Some(n) = request.get("RecoveryWindowInDays").and_then(Value::as_f64) {
                keys.insert(
                    "secretsmanager:RecoveryWindowInDays",
                    ContextValue::Number(n),
                );
            }
            keys.insert(
                "secretsmanager:ForceDeleteWithoutRecovery",
                bool_member(request, "ForceDeleteWithoutRecovery").unwrap_or(false),
            );
        }
        Operation::PutResourcePolicy => {
            keys.insert(
                "secretsmanager:BlockPublicPolicy",
                bool_member(request, "BlockPublicPolicy").unwrap_or(false),
            );
        }
        Operation::RotateSecret => {
            put_str(
                &mut keys,
                "secretsmanager:RotationLambdaARN",
                "RotationLambdaARN",
            );
            keys.insert(
                "secretsmanager:ModifyRotationRules",
                request.get("RotationRules").is_some_and(|v| !v.is_null()),
            );
            keys.insert(
                "secretsmanager:RotateImmediately",
                bool_member(request, "RotateImmediately").unwrap_or(true),
            );
        }
        Operation::TagResource => request_tags(&mut keys, request),
        Operation::UntagResource => {
            if let Some(list) = request.get("TagKeys").and_then(Value::as_array) {
                let tag_keys = list.iter().filter_map(Value::as_str).map(str::to_string);
                keys.insert("aws:TagKeys", tag_keys.collect::<Vec<_>>());
            }
        }
        Operation::ReplicateSecretToRegions => {
            replica_regions(&mut keys, request);
            keys.insert(
                "secretsmanager:ForceOverwriteReplicaSecret",
                bool_member(request, "ForceOverwriteReplicaSecret").unwrap_or(false),
            );
        }
        _ => {}
    }
    keys
}

fn str_member<'a>(request: &'a Value, member: &str) -> Option<&'a str> {
    request.get(member).and_then(Value::as_str)
}

fn bool_member(request: &Value, member: &str) -> Option<bool> {
    request.get(member).and_then(Value::as_bool)
}

fn has_items(request: &Value, member: &str) -> bool {
    request
        .get(member)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// `aws:RequestTag/<k>` for each `{"Key","Value"}` of `Tags`, and `aws:TagKeys`.
fn request_tags(keys: &mut ContextKeys, request: &Value) {
    let Some(tags) = request.get("Tags").and_then(Value::as_array) else {
        return;
    };
    let mut tag_keys = Vec::new();
    for tag in tags {
        let Some(k) = tag.get("Key").and_then(Value::as_str) else {
            continue;
        };
        let v = tag.get("Value").and_then(Value::as_str).unwrap_or("");
        keys.insert(format!("aws:RequestTag/{k}"), v.to_string());
        tag_keys.push(k.to_string());
    }
    keys.insert("aws:TagKeys", tag_keys);
}

/// `secretsmanager:AddReplicaRegions` from `AddReplicaRegions[].Region`.
fn replica_regions(keys: &mut ContextKeys, request: &Value) {
    if let Some(list) = request.get("AddReplicaRegions").and_then(Value::as_array) {
        let regions = list
            .iter()
            .filter_map(|r| r.get("Region").and_then(Value::as_str))
            .map(str::to_string);
        keys.insert(
            "secretsmanager:AddReplicaRegions",
            regions.collect::<Vec<_>>(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> SecretFacts {
        SecretFacts {
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".into(),
            tags: vec![("team".into(), "payments".into())],
            rotation_lambda_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:rot".into()),
            primary_region: Some("us-east-1".into()),
        }
    }

    fn op(name: &str) -> Operation {
        Operation::from_name(name).unwrap()
    }

    fn actions(
        name: &str,
        req: Value,
        secret: Option<&SecretFacts>,
    ) -> Vec<(&'static str, ActionResource)> {
        required_actions(op(name), &req, secret)
            .into_iter()
            .map(|r| (r.action, r.resource))
            .collect()
    }

    #[test]
    fn required_actions_resource_kinds() {
        use ActionResource::*;
        assert_eq!(
            actions("ListSecrets", json!({}), None),
            [("secretsmanager:ListSecrets", Any)]
        );
        assert_eq!(
            actions("GetRandomPassword", json!({}), None),
            [("secretsmanager:GetRandomPassword", Any)]
        );
        assert_eq!(
            actions("BatchGetSecretValue", json!({"SecretIdList": ["a"]}), None),
            [("secretsmanager:BatchGetSecretValue", Any)]
        );
        assert_eq!(
            actions(
                "BatchGetSecretValue",
                json!({"Filters": [{"Key": "name", "Values": ["a"]}]}),
                None
            ),
            [
                ("secretsmanager:BatchGetSecretValue", Any),
                ("secretsmanager:ListSecrets", Any)
            ]
        );
        assert_eq!(
            actions("GetSecretValue", json!({"SecretId": "db"}), Some(&facts())),
            [("secretsmanager:GetSecretValue", Secret)]
        );
        assert_eq!(
            actions(
                "ListResourcePolicies",
                json!({"SecretId": "db"}),
                Some(&facts())
            ),
            [("secretsmanager:GetResourcePolicy", Secret)]
        );
        assert!(required_actions(op("CreateUser"), &json!({}), None).is_empty());
    }

    #[test]
    fn required_actions_dependent_actions() {
        use ActionResource::*;
        let create = json!({"Name": "db", "Tags": [{"Key": "team", "Value": "x"}],
                            "AddReplicaRegions": [{"Region": "eu-west-1"}]});
        assert_eq!(
            actions("CreateSecret", create, None),
            [
                ("secretsmanager:CreateSecret", Secret),
                ("secretsmanager:TagResource", Secret),
                ("secretsmanager:ReplicateSecretToRegions", Secret)
            ]
        );
        assert_eq!(
            actions("CreateSecret", json!({"Name": "db", "Tags": []}), None),
            [("secretsmanager:CreateSecret", Secret)]
        );
        assert_eq!(
            actions(
                "ValidateResourcePolicy",
                json!({"ResourcePolicy": "{}"}),
                None
            ),
            [
                ("secretsmanager:ValidateResourcePolicy", Any),
                ("secretsmanager:PutResourcePolicy", Any)
            ]
        );
        assert_eq!(
            actions(
                "ValidateResourcePolicy",
                json!({"SecretId": "db", "ResourcePolicy": "{}"}),
                None
            ),
            [
                ("secretsmanager:ValidateResourcePolicy", Secret),
                ("secretsmanager:PutResourcePolicy", Secret)
            ]
        );
    }

    #[test]
    fn required_action_to_request_fills_resource_and_keys() {
        let alice = PrincipalInfo::user("123456789012", "alice", "AIDA1");
        let r = required_actions(
            op("GetSecretValue"),
            &json!({"SecretId": "db", "VersionStage": "AWSCURRENT"}),
            Some(&facts()),
        );
        let req = r[0].to_request(alice.clone(), &facts().arn);
        assert_eq!(req.resource, facts().arn);
        assert_eq!(req.action, "secretsmanager:GetSecretValue");
        assert_eq!(req.json_keys, JsonKeyScope::Pending);
        assert_eq!(
            req.context.get("secretsmanager:VersionStage"),
            Some(&"AWSCURRENT".into())
        );
        let r = required_actions(op("ListSecrets"), &json!({}), None);
        assert_eq!(r[0].to_request(alice, "ignored").resource, "*");
    }

    #[test]
    fn required_actions_value_read_pending_scope() {
        let r = required_actions(op("GetSecretValue"), &json!({"SecretId": "db"}), None);
        assert_eq!(r[0].json_keys, JsonKeyScope::Pending);
        let r = required_actions(op("DescribeSecret"), &json!({"SecretId": "db"}), None);
        assert_eq!(r[0].json_keys, JsonKeyScope::NotApplicable);
    }

    #[test]
    fn condition_keys_resource_facts() {
        let k = condition_keys(
            op("DescribeSecret"),
            &json!({"SecretId": "db"}),
            Some(&facts()),
        );
        assert_eq!(k.get("secretsmanager:SecretId"), Some(&facts().arn.into()));
        assert_eq!(
            k.get("secretsmanager:ResourceTag/team"),
            Some(&"payments".into())
        );
        assert_eq!(k.get("aws:ResourceTag/TEAM"), Some(&"payments".into()));
        assert_eq!(
            k.get("secretsmanager:resource/AllowRotationLambdaArn"),
            Some(&"arn:aws:lambda:us-east-1:123456789012:function:rot".into())
        );
        assert_eq!(
            k.get("secretsmanager:SecretPrimaryRegion"),
            Some(&"us-east-1".into())
        );
        let unknown = condition_keys(op("DescribeSecret"), &json!({"SecretId": "db"}), None);
        assert_eq!(unknown.get("secretsmanager:SecretId"), Some(&"db".into()));
        assert!(condition_keys(op("ListSecrets"), &json!({}), Some(&facts())).is_empty());
    }

    #[test]
    fn condition_keys_per_operation() {
        let k = condition_keys(
            op("GetSecretValue"),
            &json!({"SecretId": "db", "VersionStage": "AWSPREVIOUS", "VersionId": "v1"}),
            None,
        );
        assert_eq!(
            k.get("secretsmanager:VersionStage"),
            Some(&"AWSPREVIOUS".into())
        );
        assert_eq!(k.get("secretsmanager:VersionId"), Some(&"v1".into()));

        let k = condition_keys(
            op("DeleteSecret"),
            &json!({"SecretId": "db", "RecoveryWindowInDays": 7}),
            None,
        );
        assert_eq!(
            k.get("secretsmanager:RecoveryWindowInDays"),
            Some(&ContextValue::Number(7.0))
        );
        assert_eq!(
            k.get("secretsmanager:ForceDeleteWithoutRecovery"),
            Some(&false.into())
        );

        let k = condition_keys(
            op("PutResourcePolicy"),
            &json!({"SecretId": "db", "BlockPublicPolicy": true}),
            None,
        );
        assert_eq!(
            k.get("secretsmanager:BlockPublicPolicy"),
            Some(&true.into())
        );
        let k = condition_keys(op("PutResourcePolicy"), &json!({"SecretId": "db"}), None);
        assert_eq!(
            k.get("secretsmanager:BlockPublicPolicy"),
            Some(&false.into())
        );

        let k = condition_keys(
            op("RotateSecret"),
            &json!({"SecretId": "db", "RotationLambdaARN": "arn:aws:lambda:us-east-1:123456789012:function:f",
                    "RotationRules": {"AutomaticallyAfterDays": 30}}),
            None,
        );
        assert_eq!(
            k.get("secretsmanager:ModifyRotationRules"),
            Some(&true.into())
        );
        assert_eq!(
            k.get("secretsmanager:RotateImmediately"),
            Some(&true.into())
        );
        assert!(k.contains("secretsmanager:RotationLambdaARN"));

        let k = condition_keys(
            op("CreateSecret"),
            &json!({"Name": "db", "Description": "d", "KmsKeyId": "alias/k",
                    "Tags": [{"Key": "team", "Value": "x"}, {"Key": "env", "Value": "prod"}],
                    "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
            None,
        );
        assert_eq!(k.get("secretsmanager:Name"), Some(&"db".into()));
        assert_eq!(k.get("secretsmanager:KmsKeyArn"), Some(&"alias/k".into()));
        assert_eq!(k.get("aws:RequestTag/env"), Some(&"prod".into()));
        assert_eq!(
            k.get("aws:TagKeys"),
            Some(&ContextValue::StringList(vec!["team".into(), "env".into()]))
        );
        assert_eq!(
            k.get("secretsmanager:AddReplicaRegions"),
            Some(&ContextValue::StringList(vec!["eu-west-1".into()]))
        );
        assert!(!k.contains("secretsmanager:SecretId"));

        let k = condition_keys(
            op("UntagResource"),
            &json!({"SecretId": "db", "TagKeys": ["a", "b"]}),
            None,
        );
        assert_eq!(
            k.get("aws:TagKeys"),
            Some(&ContextValue::StringList(vec!["a".into(), "b".into()]))
        );
    }
}
