//! EncryptionFailure and DecryptionFailure, provoked the way an operator would: by disabling
//! the master key of a secret in the local keyring (`coffer keys disable`, which a running
//! server honours at once, as KMS does for a disabled key). Writes under a disabled key store
//! nothing; reads fail per secret; enabling the key restores access.

use coffer_e2e::*;

#[tokio::test(flavor = "multi_thread")]
async fn disabled_key_fails_reads_with_decryption_failure_and_writes_with_encryption_failure() {
    let Some(server) = CofferServer::start_local(ServerOptions::default()) else {
        return;
    };
    let client = server.default_client();
    let alias = format!("alias/faults-{}", random_letters(8).to_lowercase());
    let created = coffer_keys(&server, &["create", "--alias", &alias]);
    assert!(created.contains(&alias), "keys create output: {created}");

    let name = unique_name("faults");
    let canary = format!("CANARY{}", random_alnum(24));
    client
        .create_secret()
        .name(&name)
        .kms_key_id(&alias)
        .secret_string(&canary)
        .send()
        .await
        .expect("create under the new key");
    let other = unique_name("faults-other");
    create_string_secret(&client, &other, "default key").await;
    let versions_before = list_all_versions(&client, &name, true).await.len();

    coffer_keys(&server, &["disable", &alias]);

    let err = expect_error(
        client.get_secret_value().secret_id(&name).send().await,
        "DecryptionFailure",
    );
    let message = format!("{err:?}");
    assert!(
        !message.contains(&canary),
        "message leaks the value: {message}"
    );

    let err = expect_error(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(format!("{canary}-new"))
            .send()
            .await,
        "EncryptionFailure",
    );
    assert!(!format!("{err:?}").contains(&canary));
    assert_eq!(
        list_all_versions(&client, &name, true).await.len(),
        versions_before,
        "a failed put stored a version"
    );

    expect_error(
        client
            .update_secret()
            .secret_id(&name)
            .secret_string("another")
            .send()
            .await,
        "EncryptionFailure",
    );

    let failed_create = unique_name("faults-create");
    expect_error(
        client
            .create_secret()
            .name(&failed_create)
            .kms_key_id(&alias)
            .secret_string("x")
            .send()
            .await,
        "EncryptionFailure",
    );
    expect_error(
        client
            .describe_secret()
            .secret_id(&failed_create)
            .send()
            .await,
        "ResourceNotFoundException",
    );

    let batch = client
        .batch_get_secret_value()
        .secret_id_list(&name)
        .secret_id_list(&other)
        .send()
        .await
        .expect("batch get answers with per-secret errors");
    assert_eq!(
        batch.secret_values().len(),
        1,
        "the default-key secret reads"
    );
    let errors = batch.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].error_code(), Some("DecryptionFailure"));

    coffer_keys(&server, &["enable", &alias]);
    let value = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("readable again once the key is enabled");
    assert_eq!(value.secret_string(), Some(canary.as_str()));
}

#[tokio::test]
async fn unknown_kms_key_is_resource_not_found_and_creates_nothing() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("faults-unknown-key");
    expect_error(
        client
            .create_secret()
            .name(&name)
            .kms_key_id("alias/does-not-exist")
            .secret_string("x")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    expect_error(
        client.describe_secret().secret_id(&name).send().await,
        "ResourceNotFoundException",
    );
}
