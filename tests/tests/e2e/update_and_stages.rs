//! UpdateSecret and UpdateSecretVersionStage.

use coffer_e2e::*;

#[tokio::test]
async fn update_secret_description_only_creates_no_version() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("update-desc");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let before = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let out = client
        .update_secret()
        .secret_id(&name)
        .description("new description")
        .send()
        .await
        .expect("UpdateSecret");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert!(out.version_id().is_none(), "no value, no new version");
    let after = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("describe");
    assert_eq!(after.description(), Some("new description"));
    assert_eq!(
        after.version_ids_to_stages().map(|m| m.len()),
        Some(1),
        "still one version"
    );
    assert!(after.version_ids_to_stages().unwrap().contains_key(&v1));
    assert!(
        epoch(after.last_changed_date().expect("LastChangedDate"))
            > epoch(before.last_changed_date().expect("LastChangedDate")),
        "LastChangedDate advances"
    );
}

#[tokio::test]
async fn update_secret_with_value_creates_current_version_and_previous_follows() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("update-value");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let out = client
        .update_secret()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("UpdateSecret with a value");
    let v2 = out.version_id().expect("new VersionId").to_string();
    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.get(&v2), Some(&vec!["AWSCURRENT".to_string()]));
    assert_eq!(stages.get(&v1), Some(&vec!["AWSPREVIOUS".to_string()]));
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.secret_string(), Some("two"));
}

#[tokio::test]
async fn update_secret_with_used_client_request_token_fails() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("update-usedtoken");
    let tok = token();
    client
        .create_secret()
        .name(&name)
        .client_request_token(&tok)
        .secret_string("one")
        .send()
        .await
        .expect("create");
    // Recorded from AWS (issue #13): the same token with the same value is an idempotent
    // success without a new version; with another value it is ResourceExistsException. (This
    // test asserted an error for both before, following the API reference's wording.)
    let retried = client
        .update_secret()
        .secret_id(&name)
        .client_request_token(&tok)
        .secret_string("one")
        .send()
        .await
        .expect("same token, same value");
    assert_eq!(retried.version_id(), Some(tok.as_str()));
    expect_error(
        client
            .update_secret()
            .secret_id(&name)
            .client_request_token(&tok)
            .secret_string("two")
            .send()
            .await,
        "ResourceExistsException",
    );
    assert_eq!(list_all_versions(&client, &name, true).await.len(), 1);
}

#[tokio::test]
async fn update_secret_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .update_secret()
            .secret_id(unique_name("update-missing"))
            .description("d")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn update_secret_kms_key_id_default_alias_is_accepted() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("update-kms");
    create_string_secret(&client, &name, "one").await;
    client
        .update_secret()
        .secret_id(&name)
        .kms_key_id("alias/aws/secretsmanager")
        .secret_string("two")
        .send()
        .await
        .expect("UpdateSecret with the default key's alias");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.secret_string(), Some("two"));
}

#[tokio::test]
async fn update_secret_version_stage_moves_awscurrent_with_matching_remove_from() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-move");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("VersionId")
        .to_string();
    // Roll back: AWSCURRENT from v2 to v1.
    let out = client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&v1)
        .remove_from_version_id(&v2)
        .send()
        .await
        .expect("UpdateSecretVersionStage");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.get(&v1), Some(&vec!["AWSCURRENT".to_string()]));
    assert_eq!(
        stages.get(&v2),
        Some(&vec!["AWSPREVIOUS".to_string()]),
        "AWSPREVIOUS follows the AWSCURRENT move"
    );
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.secret_string(), Some("one"));
}

#[tokio::test]
async fn update_secret_version_stage_without_remove_from_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-noremove");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("VersionId")
        .to_string();
    let err = expect_error(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&v1)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
    assert!(
        err.message()
            .is_some_and(|m| m.contains("RemoveFromVersionId")),
        "message names RemoveFromVersionId: {:?}",
        err.message()
    );
    assert_eq!(
        holder_of(&client, &name, "AWSCURRENT").await.as_deref(),
        Some(v2.as_str()),
        "nothing moved"
    );
}

#[tokio::test]
async fn update_secret_version_stage_with_wrong_remove_from_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-wrongremove");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let v2 = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("VersionId")
        .to_string();
    let v3 = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("three")
        .send()
        .await
        .expect("put")
        .version_id()
        .expect("VersionId")
        .to_string();
    // AWSCURRENT sits on v3; naming v2 as its holder is wrong.
    let err = expect_error(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&v1)
            .remove_from_version_id(&v2)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
    assert_eq!(
        holder_of(&client, &name, "AWSCURRENT").await.as_deref(),
        Some(v3.as_str())
    );
}

#[tokio::test]
async fn update_secret_version_stage_adds_and_removes_custom_labels() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-custom");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("RELEASE")
        .move_to_version_id(&v1)
        .send()
        .await
        .expect("attach a free label");
    let mut s = version_stages(&client, &name)
        .await
        .get(&v1)
        .cloned()
        .unwrap_or_default();
    s.sort();
    assert_eq!(s, ["AWSCURRENT", "RELEASE"]);
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("RELEASE")
        .send()
        .await
        .expect("get by custom label");
    assert_eq!(got.secret_string(), Some("one"));

    // Removing: RemoveFromVersionId without MoveToVersionId.
    client
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("RELEASE")
        .remove_from_version_id(&v1)
        .send()
        .await
        .expect("detach a label");
    assert_eq!(
        version_stages(&client, &name).await.get(&v1),
        Some(&vec!["AWSCURRENT".to_string()])
    );
    expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_stage("RELEASE")
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn update_secret_version_stage_unknown_version_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-unknownversion");
    create_string_secret(&client, &name, "one").await;
    // AWS: InvalidParameterException ("... not a valid version"); ResourceNotFoundException
    // is the other code the model allows for a missing resource.
    expect_error_in(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("CUSTOM")
            .move_to_version_id(token())
            .send()
            .await,
        &["InvalidParameterException", "ResourceNotFoundException"],
    );
}

#[tokio::test]
async fn update_secret_version_stage_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .update_secret_version_stage()
            .secret_id(unique_name("stage-missing"))
            .version_stage("X")
            .move_to_version_id(token())
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn update_secret_version_stage_more_than_20_labels_fails_with_limit_exceeded() {
    // AWS quota: at most 20 staging labels attached across the versions of a secret.
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("stage-limit");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    // AWSCURRENT is label 1; add 19 more to reach 20.
    for i in 0..19 {
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage(format!("L{i:02}"))
            .move_to_version_id(&v1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("label {i}: {e:?}"));
    }
    let err = expect_error(
        client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage("ONE-TOO-MANY")
            .move_to_version_id(&v1)
            .send()
            .await,
        "LimitExceededException",
    );
    assert!(err.is_limit_exceeded_exception());
    assert_eq!(
        version_stages(&client, &name).await.get(&v1).map(Vec::len),
        Some(20)
    );
}
