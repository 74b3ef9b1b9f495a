//! GetSecretValue and PutSecretValue: staging labels, AWSPREVIOUS following AWSCURRENT,
//! ClientRequestToken idempotency, label-less (deprecated) versions.

use aws_sdk_secretsmanager::primitives::Blob;
use coffer_e2e::*;

#[tokio::test]
async fn get_secret_value_by_stage_and_version_id_returns_that_version() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("get-by");
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

    let cur = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .expect("by AWSCURRENT");
    assert_eq!(cur.secret_string(), Some("two"));
    assert_eq!(cur.version_id(), Some(v2.as_str()));

    let prev = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("by AWSPREVIOUS");
    assert_eq!(prev.secret_string(), Some("one"));
    assert_eq!(prev.version_id(), Some(v1.as_str()));
    assert_eq!(prev.version_stages(), ["AWSPREVIOUS"]);

    let by_id = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v1)
        .send()
        .await
        .expect("by VersionId");
    assert_eq!(by_id.secret_string(), Some("one"));

    let both = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v2)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .expect("VersionId and VersionStage naming the same version");
    assert_eq!(both.secret_string(), Some("two"));
}

#[tokio::test]
async fn get_secret_value_with_mismatched_version_id_and_stage_fails() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("get-mismatch");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .send()
        .await
        .expect("put");
    // "If you include both this parameter and VersionStage, the two parameters must refer to
    // the same secret version." AWS answers InvalidRequestException ("You provided a
    // VersionStage that is not associated to the provided VersionId").
    expect_error_in(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_id(&v1)
            .version_stage("AWSCURRENT")
            .send()
            .await,
        &["InvalidRequestException", "InvalidParameterException"],
    );
}

#[tokio::test]
async fn get_secret_value_unknown_version_or_stage_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("get-unknown");
    create_string_secret(&client, &name, "one").await;
    let err = expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_id(token())
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    let err = expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_stage("NOSUCHLABEL")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
    // Only one version exists, so nothing holds AWSPREVIOUS yet.
    expect_error(
        client
            .get_secret_value()
            .secret_id(&name)
            .version_stage("AWSPREVIOUS")
            .send()
            .await,
        "ResourceNotFoundException",
    );
}

#[tokio::test]
async fn get_secret_value_sets_last_accessed_date_at_day_granularity() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("get-accessed");
    create_string_secret(&client, &name, "v").await;
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue");
    let d = client
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .expect("DescribeSecret");
    let accessed = d
        .last_accessed_date()
        .expect("LastAccessedDate after a read");
    assert_eq!(
        accessed.secs() % 86_400,
        0,
        "LastAccessedDate is a date (midnight UTC)"
    );
    assert_eq!(accessed.subsec_nanos(), 0);
    let today = (now_epoch() as i64).div_euclid(86_400) * 86_400;
    assert!(
        accessed.secs() == today || accessed.secs() == today - 86_400,
        "LastAccessedDate {} is not today ({today})",
        accessed.secs()
    );
    // The version read carries it too.
    let versions = list_all_versions(&client, &name, false).await;
    assert!(versions[0].last_accessed_date().is_some());
}

#[tokio::test]
async fn put_secret_value_moves_awscurrent_and_awsprevious_follows() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-previous");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let mut ids = vec![v1];
    for value in ["two", "three", "four"] {
        let out = client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(value)
            .send()
            .await
            .expect("PutSecretValue");
        assert_eq!(out.version_stages(), ["AWSCURRENT"]);
        assert_eq!(out.name(), Some(name.as_str()));
        ids.push(out.version_id().expect("VersionId").to_string());
        let n = ids.len();
        let stages = version_stages(&client, &name).await;
        assert_eq!(
            stages.get(&ids[n - 1]),
            Some(&vec!["AWSCURRENT".to_string()])
        );
        assert_eq!(
            stages.get(&ids[n - 2]),
            Some(&vec!["AWSPREVIOUS".to_string()]),
            "AWSPREVIOUS moves to the version AWSCURRENT left: {stages:?}"
        );
        assert_eq!(
            stages.len(),
            2,
            "older versions lose their labels: {stages:?}"
        );
    }
}

#[tokio::test]
async fn put_secret_value_with_custom_stages_leaves_awscurrent() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-custom");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let out = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("staged")
        .version_stages("STAGED")
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("PutSecretValue with VersionStages");
    let v2 = out.version_id().expect("VersionId").to_string();
    let mut returned: Vec<String> = out.version_stages().to_vec();
    returned.sort();
    assert_eq!(returned, ["AWSPENDING", "STAGED"]);
    let cur = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get current");
    assert_eq!(
        cur.version_id(),
        Some(v1.as_str()),
        "AWSCURRENT did not move"
    );
    let staged = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("STAGED")
        .send()
        .await
        .expect("get STAGED");
    assert_eq!(staged.secret_string(), Some("staged"));
    assert!(holder_of(&client, &name, "AWSPREVIOUS").await.is_none());

    // A label given again moves from the version that had it.
    let out3 = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("restaged")
        .version_stages("STAGED")
        .send()
        .await
        .expect("move STAGED");
    let v3 = out3.version_id().expect("VersionId").to_string();
    let stages = version_stages(&client, &name).await;
    assert_eq!(stages.get(&v3), Some(&vec!["STAGED".to_string()]));
    assert_eq!(stages.get(&v2), Some(&vec!["AWSPENDING".to_string()]));
}

#[tokio::test]
async fn put_secret_value_with_awscurrent_in_stages_moves_awsprevious_too() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-current-stage");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    let out = client
        .put_secret_value()
        .secret_id(&name)
        .secret_string("two")
        .version_stages("AWSCURRENT")
        .version_stages("PUT0")
        .send()
        .await
        .expect("put");
    let v2 = out.version_id().expect("VersionId").to_string();
    let stages = version_stages(&client, &name).await;
    let mut s2 = stages.get(&v2).cloned().unwrap_or_default();
    s2.sort();
    assert_eq!(s2, ["AWSCURRENT", "PUT0"]);
    assert_eq!(stages.get(&v1), Some(&vec!["AWSPREVIOUS".to_string()]));
}

#[tokio::test]
async fn put_secret_value_same_token_same_value_returns_same_version_without_new_one() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-idem");
    create_string_secret(&client, &name, "one").await;
    let tok = token();
    let first = client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&tok)
        .secret_string("two")
        .send()
        .await
        .expect("first put");
    assert_eq!(first.version_id(), Some(tok.as_str()));
    let before = list_all_versions(&client, &name, true).await.len();
    let second = client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&tok)
        .secret_string("two")
        .send()
        .await
        .expect("same token and value is an idempotent success");
    assert_eq!(second.version_id(), first.version_id());
    assert_eq!(list_all_versions(&client, &name, true).await.len(), before);
    assert_eq!(
        holder_of(&client, &name, "AWSCURRENT").await.as_deref(),
        Some(tok.as_str())
    );
}

#[tokio::test]
async fn put_secret_value_same_token_different_value_fails_with_resource_exists() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-conflict");
    create_string_secret(&client, &name, "one").await;
    let tok = token();
    client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&tok)
        .secret_string("two")
        .send()
        .await
        .expect("first put");
    let err = expect_error(
        client
            .put_secret_value()
            .secret_id(&name)
            .client_request_token(&tok)
            .secret_string("something else")
            .send()
            .await,
        "ResourceExistsException",
    );
    assert!(err.is_resource_exists_exception());
    // Versions are immutable.
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&tok)
        .send()
        .await
        .expect("get");
    assert_eq!(got.secret_string(), Some("two"));
}

#[tokio::test]
async fn put_secret_value_with_string_and_binary_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-both");
    create_string_secret(&client, &name, "one").await;
    let err = expect_error(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("a")
            .secret_binary(Blob::new(b"b".to_vec()))
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn put_secret_value_without_value_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-none");
    create_string_secret(&client, &name, "one").await;
    // "You must include SecretBinary or SecretString, but not both."
    expect_error_in(
        client.put_secret_value().secret_id(&name).send().await,
        &["InvalidParameterException", "InvalidRequestException"],
    );
}

#[tokio::test]
async fn put_secret_value_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .put_secret_value()
            .secret_id(unique_name("put-missing"))
            .secret_string("v")
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn put_secret_value_short_client_request_token_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-shorttoken");
    create_string_secret(&client, &name, "one").await;
    // ClientRequestToken is 32-64 characters.
    expect_error_in(
        client
            .put_secret_value()
            .secret_id(&name)
            .client_request_token("too-short")
            .secret_string("v")
            .send()
            .await,
        &["InvalidParameterException", "ValidationException"],
    );
}

#[tokio::test]
async fn put_secret_value_binary_roundtrips_and_reads_as_binary() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-binary");
    create_string_secret(&client, &name, "text first").await;
    let bytes = vec![0u8, 1, 2, 250, 251, 252, 253, 254, 255];
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .expect("put binary");
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(bytes)
    );
    assert!(got.secret_string().is_none());
    let prev = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("get previous");
    assert_eq!(prev.secret_string(), Some("text first"));
}

#[tokio::test]
async fn deprecated_versions_are_kept_listed_with_include_deprecated_and_readable() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-deprecated");
    let (_, v1) = create_string_secret(&client, &name, "one").await;
    for v in ["two", "three"] {
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(v)
            .send()
            .await
            .expect("put");
    }
    // v1 now has no label.
    let labelled = list_all_versions(&client, &name, false).await;
    assert_eq!(
        labelled.len(),
        2,
        "default listing hides label-less versions"
    );
    assert!(labelled.iter().all(|v| v.version_id() != Some(v1.as_str())));
    let all = list_all_versions(&client, &name, true).await;
    assert_eq!(all.len(), 3, "IncludeDeprecated lists every version");
    let old = all
        .iter()
        .find(|v| v.version_id() == Some(v1.as_str()))
        .expect("v1 listed");
    assert!(old.version_stages().is_empty());
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .version_id(&v1)
        .send()
        .await
        .expect("a label-less version with a value is still readable by id");
    assert_eq!(got.secret_string(), Some("one"));
    assert!(got.version_stages().is_empty());
}

#[tokio::test]
async fn large_secret_value_of_64_kib_roundtrips() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-large");
    let value = random_alnum(65_536);
    create_string_secret(&client, &name, &value).await;
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.secret_string(), Some(value.as_str()));
}

#[tokio::test]
async fn secret_value_over_64_kib_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("put-toolarge");
    create_string_secret(&client, &name, "small").await;
    expect_error_in(
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(random_alnum(65_537))
            .send()
            .await,
        &["InvalidParameterException", "ValidationException"],
    );
}
