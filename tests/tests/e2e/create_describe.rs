//! CreateSecret and DescribeSecret, the ARN format and the three forms of SecretId.

use aws_sdk_secretsmanager::primitives::Blob;
use coffer_e2e::*;

#[tokio::test]
async fn create_secret_with_string_returns_arn_name_and_version() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create/string");
    let out = client
        .create_secret()
        .name(&name)
        .secret_string("s3cr3t-value")
        .send()
        .await
        .expect("CreateSecret");
    assert_eq!(out.name(), Some(name.as_str()));
    assert_secret_arn(
        out.arn().expect("ARN"),
        &server.region(),
        server.account_id(),
        &name,
    );
    let version = out.version_id().expect("VersionId");
    assert!(
        (32..=64).contains(&version.len()),
        "VersionId length: {version}"
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("s3cr3t-value"));
    assert_eq!(got.version_id(), Some(version));
    assert_eq!(got.version_stages(), ["AWSCURRENT"]);
    assert!(got.secret_binary().is_none());
    assert!(got.created_date().is_some());
}

#[tokio::test]
async fn create_secret_with_binary_roundtrips_bytes() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create-binary");
    let bytes: Vec<u8> = (0u8..=255).chain([0, 0, 255]).collect();
    client
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .expect("CreateSecret");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(bytes)
    );
    assert!(got.secret_string().is_none());
}

#[tokio::test]
async fn create_secret_with_client_request_token_uses_it_as_version_id() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create-token");
    let tok = token();
    let out = client
        .create_secret()
        .name(&name)
        .client_request_token(&tok)
        .secret_string("v1")
        .send()
        .await
        .expect("CreateSecret");
    assert_eq!(out.version_id(), Some(tok.as_str()));
}

#[tokio::test]
async fn create_secret_retried_with_same_token_and_value_is_idempotent() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create-retry");
    let tok = token();
    let first = client
        .create_secret()
        .name(&name)
        .client_request_token(&tok)
        .secret_string("same")
        .send()
        .await
        .expect("first CreateSecret");
    let second = client
        .create_secret()
        .name(&name)
        .client_request_token(&tok)
        .secret_string("same")
        .send()
        .await
        .expect("a retry with the same token and value succeeds");
    assert_eq!(first.arn(), second.arn());
    assert_eq!(second.version_id(), Some(tok.as_str()));
    assert_eq!(list_all_versions(&client, &name, true).await.len(), 1);
}

#[tokio::test]
async fn create_secret_duplicate_name_fails_with_resource_exists() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create-dup");
    create_string_secret(&client, &name, "one").await;
    let err = expect_error(
        client
            .create_secret()
            .name(&name)
            .secret_string("two")
            .send()
            .await,
        "ResourceExistsException",
    );
    assert!(err.is_resource_exists_exception());
    // The original value is untouched.
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    assert_eq!(got.secret_string(), Some("one"));
}

#[tokio::test]
async fn create_secret_without_value_has_no_version_until_put() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("create-novalue");
    let out = client
        .create_secret()
        .name(&name)
        .description("metadata only")
        .send()
        .await
        .expect("CreateSecret without a value");
    assert!(out.version_id().is_none(), "no version without a value");
    assert!(version_stages(&client, &name).await.is_empty());
    let err = expect_error(
        client.get_secret_value().secret_id(&name).send().await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());

    let put = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("first")
        .send()
        .await
        .expect("PutSecretValue");
    assert_eq!(put.version_stages(), ["AWSCURRENT"]);
    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.len(), 1);
    assert_eq!(
        stages.get(put.version_id().expect("VersionId")),
        Some(&vec!["AWSCURRENT".to_string()])
    );
}

#[tokio::test]
async fn create_secret_with_string_and_binary_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .create_secret()
            .name(unique_name("create-both"))
            .secret_string("text")
            .secret_binary(Blob::new(b"bytes".to_vec()))
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn create_secret_with_invalid_name_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    // AWS answers a name outside [A-Za-z0-9/_+=.@-] with ValidationException ("Invalid name.
    // Must be a valid name containing alphanumeric characters, or any of the following:
    // -/_+=.@!"); InvalidParameterException is the modelled code for the same rule.
    for bad in [
        "has space",
        "star*name",
        "question?",
        "x".repeat(513).as_str(),
    ] {
        expect_error_in(
            client
                .create_secret()
                .name(bad)
                .secret_string("v")
                .send()
                .await,
            &["ValidationException", "InvalidParameterException"],
        );
    }
}

#[tokio::test]
async fn create_secret_name_with_all_allowed_characters_is_accepted() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = format!("{}/_+=.@-Name", unique_name("Valid"));
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    assert_secret_arn(&arn, &server.region(), server.account_id(), &name);
}

#[tokio::test]
async fn describe_secret_returns_metadata_and_omits_empty_fields() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("describe");
    let before = now_epoch();
    let created = client
        .create_secret()
        .name(&name)
        .description("the description")
        .tags(tag("team", "platform"))
        .secret_string("v")
        .send()
        .await
        .expect("CreateSecret");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    assert_eq!(d.arn(), created.arn());
    assert_eq!(d.name(), Some(name.as_str()));
    assert_eq!(d.description(), Some("the description"));
    let created_date = epoch(d.created_date().expect("CreatedDate"));
    assert!(
        (before - 5.0..now_epoch() + 5.0).contains(&created_date),
        "CreatedDate {created_date} not around now"
    );
    assert!(d.last_changed_date().is_some(), "LastChangedDate");
    assert_eq!(d.tags().len(), 1);
    assert_eq!(d.tags()[0].key(), Some("team"));
    assert_eq!(d.tags()[0].value(), Some("platform"));
    let stages = d.version_ids_to_stages().expect("VersionIdsToStages");
    assert_eq!(
        stages.get(created.version_id().expect("VersionId")),
        Some(&vec!["AWSCURRENT".to_string()])
    );
    // Fields without a value are omitted, as AWS does.
    assert!(d.deleted_date().is_none(), "DeletedDate on a live secret");
    assert!(d.last_accessed_date().is_none(), "never read yet");
    assert!(
        d.rotation_enabled().is_none(),
        "never configured for rotation"
    );
    assert!(d.rotation_lambda_arn().is_none());
    assert!(d.rotation_rules().is_none());
    assert!(d.last_rotated_date().is_none());
    assert!(d.next_rotation_date().is_none());
    assert!(
        d.kms_key_id().is_none(),
        "KmsKeyId is omitted for the default key"
    );
}

#[tokio::test]
async fn describe_secret_unknown_name_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .describe_secret()
            .secret_id(unique_name("never-created"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    assert!(err.message().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn secret_id_accepts_name_full_arn_and_partial_arn() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("ids/by-form");
    let (arn, version) = create_string_secret(&client, &name, "same-secret").await;
    for id in [name.clone(), arn.clone(), partial_arn(&arn)] {
        let got = client
            .get_secret_value()
            .secret_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue by {id}: {e:?}"));
        assert_eq!(got.secret_string(), Some("same-secret"), "by {id}");
        assert_eq!(got.arn(), Some(arn.as_str()), "by {id}");
        assert_eq!(got.version_id(), Some(version.as_str()), "by {id}");
        let d = client
            .describe_secret()
            .secret_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeSecret by {id}: {e:?}"));
        assert_eq!(d.name(), Some(name.as_str()), "by {id}");
    }
}

#[tokio::test]
async fn secret_id_with_wrong_arn_suffix_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("ids-suffix");
    let (arn, _) = create_string_secret(&client, &name, "v").await;
    let suffix = &arn[arn.len() - 6..];
    let other = if suffix == "AAAAAA" {
        "BBBBBB"
    } else {
        "AAAAAA"
    };
    let wrong = format!("{}-{other}", partial_arn(&arn));
    let err = expect_error(
        client.get_secret_value().secret_id(&wrong).send().await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn secret_name_that_looks_like_arn_suffix_is_found_by_name() {
    // A name ending in -XXXXXX is legal (AWS only warns against it); lookup by name works.
    let server = CofferServer::start();
    let client = server.default_client();
    let name = format!("{}-a1b2c3", unique_name("ids-tricky"));
    create_string_secret(&client, &name, "tricky").await;
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue by a name ending in -XXXXXX");
    assert_eq!(got.secret_string(), Some("tricky"));
}

#[tokio::test]
async fn secret_arns_differ_after_recreating_a_name() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("recreate");
    let (first_arn, _) = create_string_secret(&client, &name, "v1").await;
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("force delete");
    // Force deletion is asynchronous in AWS; retry the create briefly.
    let mut second_arn = None;
    for _ in 0..100 {
        match client
            .create_secret()
            .name(&name)
            .secret_string("v2")
            .send()
            .await
        {
            Ok(out) => {
                second_arn = out.arn().map(str::to_string);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let second_arn = second_arn.expect("the name is reusable after a forced deletion");
    assert_ne!(
        first_arn, second_arn,
        "a recreated secret gets a new ARN suffix"
    );
    let err = expect_error(
        client.describe_secret().secret_id(&first_arn).send().await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}
