//! The five replication operations: refused by this server with InvalidRequestException after
//! the body is read and before anything is looked up or changed; CreateSecret refuses replica
//! regions the same way.

use crate::harness::*;
use coffer_core::audit::AuditEventType;
use coffer_core::operation::Operation::{self, *};
use serde_json::json;

cases! {
    ReplicateSecretToRegions Refused replication_operations_are_refused_before_any_lookup,
    RemoveRegionsFromReplication Refused replication_operations_are_refused_before_any_lookup,
    StopReplicationToReplica Refused replication_operations_are_refused_before_any_lookup,
    AssociateCrossAccountReplica Refused replication_operations_are_refused_before_any_lookup,
    DisassociateCrossAccountReplica Refused replication_operations_are_refused_before_any_lookup,
    ReplicateSecretToRegions Refused replication_operations_with_unreadable_bodies_are_serialization_errors,
    RemoveRegionsFromReplication Refused replication_operations_with_unreadable_bodies_are_serialization_errors,
    StopReplicationToReplica Refused replication_operations_with_unreadable_bodies_are_serialization_errors,
    AssociateCrossAccountReplica Refused replication_operations_with_unreadable_bodies_are_serialization_errors,
    DisassociateCrossAccountReplica Refused replication_operations_with_unreadable_bodies_are_serialization_errors,
    CreateSecret Error create_secret_with_replica_regions_is_refused,
}

const REPLICATION: [Operation; 5] = [
    ReplicateSecretToRegions,
    RemoveRegionsFromReplication,
    StopReplicationToReplica,
    AssociateCrossAccountReplica,
    DisassociateCrossAccountReplica,
];

#[tokio::test]
pub async fn replication_operations_are_refused_before_any_lookup() {
    let h = Harness::new();
    let (arn, _) = h.create("replicated", "v").await;
    let before = h.describe("replicated").await;
    for op in REPLICATION {
        let message = format!(
            "{op} is not supported by this Coffer server: replication is not implemented yet."
        );
        for body in [
            json!({"SecretId": "replicated",
                   "AddReplicaRegions": [{"Region": "eu-west-1"}],
                   "RemoveReplicaRegions": ["eu-west-1"]}),
            json!({"SecretId": arn}),
            // A missing secret, or none named at all: the refusal comes first.
            json!({"SecretId": "never-created"}),
            json!({}),
        ] {
            h.audit.events.lock().unwrap().clear();
            expect_error(
                &h.err(op, body.clone()).await,
                "InvalidRequestException",
                &message,
            );
            // The refusal is audited as the call it was.
            let events = h.audit.events();
            assert_eq!(events.len(), 1, "{op} {body}");
            assert_eq!(events[0].event_type, AuditEventType::AwsApiCall);
            assert_eq!(events[0].event_name, op.name());
            assert_eq!(
                events[0].error_code.as_deref(),
                Some("InvalidRequestException")
            );
        }
    }
    assert_eq!(h.describe("replicated").await, before, "nothing changed");
    assert!(h
        .describe("replicated")
        .await
        .get("PrimaryRegion")
        .is_none());
}

#[tokio::test]
pub async fn replication_operations_with_unreadable_bodies_are_serialization_errors() {
    let h = Harness::new();
    for op in REPLICATION {
        let e = h.err(op, json!({"SecretId": 42})).await;
        assert_eq!(e.code(), "SerializationException", "{op}");
        assert!(!e.message().contains("42"), "{}", e.message());
    }
}

#[tokio::test]
pub async fn create_secret_with_replica_regions_is_refused() {
    let h = Harness::new();
    for body in [
        json!({"Name": "rep", "SecretString": "v", "ClientRequestToken": token(1),
               "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
        json!({"Name": "rep", "CrossAccountPrimaryARN":
               format!("arn:aws:secretsmanager:{REGION}:222222222222:secret:rep-AbCdEf")}),
    ] {
        expect_error(
            &h.err(CreateSecret, body).await,
            "InvalidRequestException",
            "Replication is not supported by this Coffer server yet.",
        );
    }
    expect_error(
        &h.err(DescribeSecret, json!({"SecretId": "rep"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
}
