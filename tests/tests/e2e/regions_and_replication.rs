//! Regions are separate namespaces (the region comes from the SigV4 credential scope), and
//! the replication operations answer a clear error until they are built.

use coffer_e2e::*;
use serde_json::json;

#[tokio::test]
async fn regions_are_separate_namespaces() {
    // A deployed stack serves one region; the multi-region namespace is a feature of the
    // `coffer` binary (on either backend: on the AWS one, the default key alias needs a KMS key
    // in each region, as on AWS).
    let Some(server) = CofferServer::start_process(ServerOptions::default()) else {
        return;
    };
    server.prepare_region("eu-west-1");
    let east = server.client("us-east-1");
    let west = server.client("eu-west-1");
    let name = unique_name("region/shared-name");
    let (east_arn, _) = create_string_secret(&east, &name, "east-value").await;
    // Not visible in the other region.
    let err = expect_error(
        west.get_secret_value().secret_id(&name).send().await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    assert!(
        list_all_secrets(&west, vec![filter("name", &[&name])], false)
            .await
            .is_empty()
    );
    // The same name can exist in both.
    let (west_arn, _) = create_string_secret(&west, &name, "west-value").await;
    assert_secret_arn(&east_arn, "us-east-1", server.account_id(), &name);
    assert_secret_arn(&west_arn, "eu-west-1", server.account_id(), &name);
    let e = east
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("east");
    let w = west
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("west");
    assert_eq!(e.secret_string(), Some("east-value"));
    assert_eq!(w.secret_string(), Some("west-value"));
    // Deleting in one region leaves the other alone.
    west.delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete west");
    east.get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("east still there");
}

#[tokio::test]
async fn replication_operations_answer_a_clear_error() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("replication");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let replica = aws_sdk_secretsmanager::types::ReplicaRegionType::builder()
        .region("eu-central-1")
        .build();

    fn assert_clear<E: ProvideErrorMetadata + std::fmt::Debug>(op: &str, e: E) {
        let code = e.code().unwrap_or_default().to_string();
        assert!(!code.is_empty(), "{op}: error without a code: {e:?}");
        assert!(
            e.message().is_some_and(|m| m.len() > 10),
            "{op}: error without a useful message: {e:?}"
        );
    }

    match client
        .replicate_secret_to_regions()
        .secret_id(&name)
        .add_replica_regions(replica.clone())
        .send()
        .await
    {
        Ok(v) => panic!("ReplicateSecretToRegions succeeded: {v:?}"),
        Err(e) => assert_clear("ReplicateSecretToRegions", e.into_service_error()),
    }
    match client
        .remove_regions_from_replication()
        .secret_id(&name)
        .remove_replica_regions("eu-central-1")
        .send()
        .await
    {
        Ok(v) => panic!("RemoveRegionsFromReplication succeeded: {v:?}"),
        Err(e) => assert_clear("RemoveRegionsFromReplication", e.into_service_error()),
    }
    match client
        .stop_replication_to_replica()
        .secret_id(&name)
        .send()
        .await
    {
        Ok(v) => panic!("StopReplicationToReplica succeeded: {v:?}"),
        Err(e) => assert_clear("StopReplicationToReplica", e.into_service_error()),
    }
    match client
        .create_secret()
        .name(unique_name("replication-create"))
        .secret_string("v")
        .add_replica_regions(replica)
        .send()
        .await
    {
        Ok(v) => panic!("CreateSecret with AddReplicaRegions succeeded: {v:?}"),
        Err(e) => assert_clear("CreateSecret+AddReplicaRegions", e.into_service_error()),
    }
    // The cross-account operations are newer than the Rust SDK in use.
    for (op, body) in [
        (
            "AssociateCrossAccountReplica",
            json!({"SecretId": name, "CrossAccountReplicaARN": arn.replace(&arn.split(':').nth(4).unwrap().to_string(), "210987654321")}),
        ),
        (
            "DisassociateCrossAccountReplica",
            json!({"SecretId": name, "CrossAccountReplicaARN": arn}),
        ),
    ] {
        let resp = server.raw_call(op, &body);
        assert!(
            resp.status >= 400,
            "{op} succeeded: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert!(resp.error_code().is_some(), "{op}: no __type in error body");
        assert!(
            resp.json()["Message"]
                .as_str()
                .or(resp.json()["message"].as_str())
                .is_some_and(|m| m.len() > 10),
            "{op}: no useful message: {}",
            String::from_utf8_lossy(&resp.body)
        );
    }
    // The secret is untouched and not marked as replicated.
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert!(d.replication_status().is_empty());
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("still readable");
}
