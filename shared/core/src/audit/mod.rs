//! Audit events, shaped like CloudTrail records. The service builds exactly one `AuditEvent` per
//! API call (allowed or denied, successful or failed) and hands it to the `AuditSink` port.
//! Request parameters and response elements are recorded with secret material removed: the
//! request types decide what is safe through [`crate::api::Request::audit_parameters`].

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// The event as a CloudTrail record (`eventVersion` 1.08), the form every sink writes.
    pub fn to_cloudtrail(&self) -> serde_json::Value {
        let mut user_identity = serde_json::json!({
            "type": self.caller.identity_type,
            "arn": self.caller.principal_arn,
            "accountId": self.caller.account_id,
        });
        if let Some(key) = &self.caller.access_key_id {
            user_identity["accessKeyId"] = serde_json::Value::String(key.clone());
        }
        let mut record = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": user_identity,
            "eventTime": iso8601(self.event_time),
            "eventSource": "secretsmanager.amazonaws.com",
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
                "type": "AWS::SecretsManager::Secret",
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
        record
    }
}
