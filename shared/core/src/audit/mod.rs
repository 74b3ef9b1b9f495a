//! Audit events, shaped like CloudTrail records. The service builds exactly one `AwsApiCall`
//! event per API call (allowed or denied, successful or failed) and hands it to the `AuditSink`
//! port; BatchGetSecretValue also yields one `GetSecretValue` event per secret, as AWS does, and
//! the parts that rotate and delete secrets emit `AwsServiceEvent`s ([`ServiceEventName`]).
//! Request parameters and response elements are recorded with secret material removed
//! ([`crate::redact`]).
//!
//! [`chain`] makes a stream of records tamper-evident (each record carries the hash of the
//! previous one and its own); [`digest`] signs a stream's head at intervals; [`trail`] holds
//! the checks a verifier makes on a stream and its digests, wherever they were read from.

pub mod chain;
pub mod digest;
pub mod trail;

use crate::clock::Timestamp;
use crate::ids::Scope;
use serde::{Deserialize, Serialize};

/// Who performs service events, as CloudTrail names it in `userIdentity.invokedBy`,
/// `sourceIPAddress` and `userAgent`.
pub const SERVICE_PRINCIPAL: &str = "secretsmanager.amazonaws.com";

/// CloudTrail's `eventSource` and `resources[].type` of an event named `event_name`: the STS
/// actions Coffer answers (`crate::identity::sts`) carry STS's `eventSource` and name roles as their
/// resources, as CloudTrail records them.
fn source_and_resource_type(event_name: &str) -> (&'static str, &'static str) {
    if crate::operation::Operation::from_sts_action(event_name).is_some() {
        ("sts.amazonaws.com", "AWS::IAM::Role")
    } else {
        (
            "secretsmanager.amazonaws.com",
            "AWS::SecretsManager::Secret",
        )
    }
}

/// `userIdentity.type` of a caller refused at authentication (CloudTrail's "an identity type
/// that CloudTrail can't determine").
pub const UNKNOWN_IDENTITY: &str = "Unknown";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditEventType {
    AwsApiCall,
    AwsServiceEvent,
}

/// Who made a call, as CloudTrail's `userIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Caller {
    /// `Root`, `IAMUser`, `AssumedRole`, ...
    pub identity_type: String,
    pub principal_arn: String,
    pub account_id: String,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub event_type: AuditEventType,
    pub event_time: Timestamp,
    pub event_name: String,
    pub region: String,
    pub caller: Caller,
    pub request_id: String,
    pub event_id: String,
    pub read_only: bool,
    pub request_parameters: serde_json::Value,
    pub response_elements: serde_json::Value,
    /// ARNs of the secrets the call touched.
    pub resources: Vec<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// CloudTrail's `additionalEventData` (service events name their secret here).
    #[serde(default)]
    pub additional_event_data: Option<serde_json::Value>,
}

/// The service events of Secrets Manager (`eventType` `AwsServiceEvent`), emitted by the parts
/// that do those things: deletion and restore (`service::delete`), the purge, RotateSecret
/// handing a job to the `RotationInvoker`, and the rotation runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceEventName {
    RotationStarted,
    RotationSucceeded,
    RotationFailed,
    RotationAbandoned,
    TestRotationStarted,
    TestRotationSucceeded,
    TestRotationFailed,
    StartSecretVersionDelete,
    EndSecretVersionDelete,
    CancelSecretVersionDelete,
}

impl ServiceEventName {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceEventName::RotationStarted => "RotationStarted",
            ServiceEventName::RotationSucceeded => "RotationSucceeded",
            ServiceEventName::RotationFailed => "RotationFailed",
            ServiceEventName::RotationAbandoned => "RotationAbandoned",
            ServiceEventName::TestRotationStarted => "TestRotationStarted",
            ServiceEventName::TestRotationSucceeded => "TestRotationSucceeded",
            ServiceEventName::TestRotationFailed => "TestRotationFailed",
            ServiceEventName::StartSecretVersionDelete => "StartSecretVersionDelete",
            ServiceEventName::EndSecretVersionDelete => "EndSecretVersionDelete",
            ServiceEventName::CancelSecretVersionDelete => "CancelSecretVersionDelete",
        }
    }

    /// The counter this event increments, if any (`crate::metrics` names).
    pub fn metric(self) -> Option<&'static str> {
        match self {
            ServiceEventName::RotationStarted => Some(crate::metrics::ROTATIONS_STARTED),
            ServiceEventName::RotationSucceeded => Some(crate::metrics::ROTATIONS_SUCCEEDED),
            ServiceEventName::RotationFailed => Some(crate::metrics::ROTATIONS_FAILED),
            ServiceEventName::RotationAbandoned
            | ServiceEventName::TestRotationStarted
            | ServiceEventName::TestRotationSucceeded
            | ServiceEventName::TestRotationFailed
            | ServiceEventName::StartSecretVersionDelete
            | ServiceEventName::EndSecretVersionDelete
            | ServiceEventName::CancelSecretVersionDelete => None,
        }
    }
}

impl std::fmt::Display for ServiceEventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn iso8601(t: Timestamp) -> String {
    let dt = t.to_offset_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month() as u8,
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

impl AuditEvent {
    /// A service event about one secret: performed by Secrets Manager itself
    /// (`userIdentity.invokedBy`), with the secret's ARN in `resources` and in
    /// `additionalEventData.SecretId` (plus the members of `additional`, if an object).
    pub fn service_event(
        name: ServiceEventName,
        scope: &Scope,
        secret_arn: &str,
        request_id: String,
        event_id: String,
        time: Timestamp,
        additional: serde_json::Value,
    ) -> AuditEvent {
        let mut data = serde_json::json!({ "SecretId": secret_arn });
        if let serde_json::Value::Object(extra) = additional {
            for (k, v) in extra {
                data[k] = v;
            }
        }
        AuditEvent {
            event_type: AuditEventType::AwsServiceEvent,
            event_time: time,
            event_name: name.as_str().to_string(),
            region: scope.region.clone(),
            caller: Caller {
                identity_type: "AWSService".to_string(),
                principal_arn: String::new(),
                account_id: scope.account.clone(),
                access_key_id: None,
                source_ip: Some(SERVICE_PRINCIPAL.to_string()),
                user_agent: Some(SERVICE_PRINCIPAL.to_string()),
            },
            request_id,
            event_id,
            read_only: false,
            request_parameters: serde_json::Value::Null,
            response_elements: serde_json::Value::Null,
            resources: vec![secret_arn.to_string()],
            error_code: None,
            error_message: None,
            additional_event_data: Some(data),
        }
    }

    /// The event as a CloudTrail record (`eventVersion` 1.08), the form every sink writes.
    pub fn to_cloudtrail(&self) -> serde_json::Value {
        let user_identity = match self.event_type {
            // A caller refused at authentication (type `Unknown`) is no principal: no `arn`,
            // no `accountId` (the account a claimed key belongs to is not known), only the
            // access key id it claimed.
            AuditEventType::AwsApiCall if self.caller.identity_type == UNKNOWN_IDENTITY => {
                let mut identity = serde_json::json!({ "type": self.caller.identity_type });
                if let Some(key) = &self.caller.access_key_id {
                    identity["accessKeyId"] = serde_json::Value::String(key.clone());
                }
                identity
            }
            AuditEventType::AwsApiCall => {
                let mut identity = serde_json::json!({
                    "type": self.caller.identity_type,
                    "arn": self.caller.principal_arn,
                    "accountId": self.caller.account_id,
                });
                if let Some(key) = &self.caller.access_key_id {
                    identity["accessKeyId"] = serde_json::Value::String(key.clone());
                }
                identity
            }
            // CloudTrail's form for what the service does on its own.
            AuditEventType::AwsServiceEvent => serde_json::json!({
                "accountId": self.caller.account_id,
                "invokedBy": SERVICE_PRINCIPAL,
            }),
        };
        let (event_source, resource_type) = source_and_resource_type(&self.event_name);
        let mut record = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": user_identity,
            "eventTime": iso8601(self.event_time),
            "eventSource": event_source,
            "eventName": self.event_name,
            "awsRegion": self.region,
            "sourceIPAddress": self.caller.source_ip,
            "userAgent": self.caller.user_agent,
            "requestParameters": self.request_parameters,
            "responseElements": self.response_elements,
            "requestID": self.request_id,
            "eventID": self.event_id,
            "readOnly": self.read_only,
            "resources": self.resources.iter().map(|arn| serde_json::json!({
                "ARN": arn,
                "accountId": self.caller.account_id,
                "type": resource_type,
            })).collect::<Vec<_>>(),
            "eventType": match self.event_type {
                AuditEventType::AwsApiCall => "AwsApiCall",
                AuditEventType::AwsServiceEvent => "AwsServiceEvent",
            },
            "managementEvent": true,
            "recipientAccountId": self.caller.account_id,
            "eventCategory": "Management",
        });
        if let Some(code) = &self.error_code {
            record["errorCode"] = serde_json::Value::String(code.clone());
        }
        if let Some(message) = &self.error_message {
            record["errorMessage"] = serde_json::Value::String(message.clone());
        }
        if let Some(data) = &self.additional_event_data {
            record["additionalEventData"] = data.clone();
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_caller_to_cloudtrail_has_no_principal() {
        let event = AuditEvent {
            event_type: AuditEventType::AwsApiCall,
            event_time: Timestamp(0),
            event_name: "GetSecretValue".into(),
            region: "eu-west-1".into(),
            caller: Caller {
                identity_type: "Unknown".into(),
                principal_arn: String::new(),
                account_id: "111122223333".into(),
                access_key_id: Some("AKIAEXAMPLEEXAMPLE00".into()),
                source_ip: Some("192.0.2.1".into()),
                user_agent: None,
            },
            request_id: "req".into(),
            event_id: "evt".into(),
            read_only: true,
            request_parameters: serde_json::Value::Null,
            response_elements: serde_json::Value::Null,
            resources: Vec::new(),
            error_code: Some("UnrecognizedClientException".into()),
            error_message: Some("The security token included in the request is invalid.".into()),
            additional_event_data: None,
        };
        let record = event.to_cloudtrail();
        assert_eq!(
            record["userIdentity"],
            serde_json::json!({"type": "Unknown", "accessKeyId": "AKIAEXAMPLEEXAMPLE00"})
        );
        assert_eq!(record["recipientAccountId"], "111122223333");
        assert_eq!(record["errorCode"], "UnrecognizedClientException");
        assert_eq!(record["requestParameters"], serde_json::Value::Null);
        assert_eq!(record["readOnly"], true);
    }

    #[test]
    fn service_event_to_cloudtrail_is_invoked_by_the_service() {
        let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf";
        let event = AuditEvent::service_event(
            ServiceEventName::StartSecretVersionDelete,
            &Scope::new("eu-west-1", "111122223333"),
            arn,
            "req".into(),
            "evt".into(),
            Timestamp(0),
            serde_json::json!({"DeletionDate": 7}),
        );
        let record = event.to_cloudtrail();
        assert_eq!(
            record["userIdentity"],
            serde_json::json!({"accountId": "111122223333", "invokedBy": SERVICE_PRINCIPAL})
        );
        assert_eq!(record["eventType"], "AwsServiceEvent");
        assert_eq!(record["eventName"], "StartSecretVersionDelete");
        assert_eq!(record["awsRegion"], "eu-west-1");
        assert_eq!(record["sourceIPAddress"], SERVICE_PRINCIPAL);
        assert_eq!(record["resources"][0]["ARN"], arn);
        assert_eq!(
            record["additionalEventData"],
            serde_json::json!({"SecretId": arn, "DeletionDate": 7})
        );
        assert_eq!(record["eventTime"], "1970-01-01T00:00:00Z");
    }
}
