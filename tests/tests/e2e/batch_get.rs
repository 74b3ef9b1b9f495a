//! BatchGetSecretValue: SecretIdList, Filters, paging and per-secret Errors.

use std::collections::{BTreeMap, BTreeSet};

use coffer_e2e::*;

#[tokio::test]
async fn batch_get_by_secret_id_list_returns_values_and_per_secret_errors() {
    let server = CofferServer::start();
    let client = server.default_client();
    let a = unique_name("batch-a");
    let b = unique_name("batch-b");
    let (a_arn, a_version) = create_string_secret(&client, &a, "value-a").await;
    create_string_secret(&client, &b, "value-b").await;
    let missing = unique_name("batch-missing");
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&a_arn)
        .secret_id_list(&b)
        .secret_id_list(&missing)
        .send()
        .await
        .expect("BatchGetSecretValue");
    let values: BTreeMap<String, String> = out
        .secret_values()
        .iter()
        .map(|v| {
            (
                v.name().unwrap_or_default().to_string(),
                v.secret_string().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        values,
        BTreeMap::from([
            (a.clone(), "value-a".to_string()),
            (b.clone(), "value-b".to_string())
        ])
    );
    let entry_a = out
        .secret_values()
        .iter()
        .find(|v| v.name() == Some(a.as_str()))
        .unwrap();
    assert_eq!(entry_a.arn(), Some(a_arn.as_str()));
    assert_eq!(entry_a.version_id(), Some(a_version.as_str()));
    assert_eq!(entry_a.version_stages(), ["AWSCURRENT"]);
    assert!(entry_a.created_date().is_some());

    assert_eq!(out.errors().len(), 1, "one error for the missing secret");
    let e = &out.errors()[0];
    assert_eq!(e.secret_id(), Some(missing.as_str()));
    assert_eq!(e.error_code(), Some("ResourceNotFoundException"));
    assert!(e.message().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn batch_get_reports_scheduled_secret_as_error() {
    let server = CofferServer::start();
    let client = server.default_client();
    let live = unique_name("batch-live");
    let gone = unique_name("batch-gone");
    create_string_secret(&client, &live, "alive").await;
    create_string_secret(&client, &gone, "dying").await;
    client
        .delete_secret()
        .secret_id(&gone)
        .send()
        .await
        .expect("delete");
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&live)
        .secret_id_list(&gone)
        .send()
        .await
        .expect("BatchGetSecretValue");
    assert_eq!(out.secret_values().len(), 1);
    assert_eq!(out.secret_values()[0].name(), Some(live.as_str()));
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].secret_id(), Some(gone.as_str()));
    assert_eq!(
        out.errors()[0].error_code(),
        Some("InvalidRequestException"),
        "same code GetSecretValue gives for a secret scheduled for deletion"
    );
}

#[tokio::test]
async fn batch_get_by_filters_pages_through_matching_secrets() {
    let server = CofferServer::start();
    let client = server.default_client();
    let prefix = format!("bf{}", random_letters(10));
    let mut expected = BTreeMap::new();
    for i in 0..5 {
        let name = format!("{prefix}-{i}");
        create_string_secret(&client, &name, &format!("value-{i}")).await;
        expected.insert(name, format!("value-{i}"));
    }
    let mut got = BTreeMap::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 50, "paging does not terminate");
        let out = client
            .batch_get_secret_value()
            .filters(filter("name", &[&prefix]))
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("BatchGetSecretValue with Filters");
        assert!(
            out.secret_values().len() <= 2,
            "page larger than MaxResults"
        );
        for v in out.secret_values() {
            let prev = got.insert(
                v.name().unwrap_or_default().to_string(),
                v.secret_string().unwrap_or_default().to_string(),
            );
            assert!(prev.is_none(), "secret returned twice");
        }
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn batch_get_with_both_id_list_and_filters_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("batch-both");
    create_string_secret(&client, &name, "v").await;
    let err = expect_error(
        client
            .batch_get_secret_value()
            .secret_id_list(&name)
            .filters(filter("name", &[&name]))
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn batch_get_with_neither_id_list_nor_filters_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client.batch_get_secret_value().send().await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn batch_get_max_results_without_filters_fails_with_invalid_parameter() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("batch-maxresults");
    create_string_secret(&client, &name, "v").await;
    // "To use this parameter, you must also use the Filters parameter."
    let err = expect_error(
        client
            .batch_get_secret_value()
            .secret_id_list(&name)
            .max_results(5)
            .send()
            .await,
        "InvalidParameterException",
    );
    assert!(err.is_invalid_parameter_exception());
}

#[tokio::test]
async fn batch_get_more_than_20_ids_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    let ids: Vec<String> = (0..21).map(|i| format!("batch-too-many-{i}")).collect();
    expect_error_in(
        client
            .batch_get_secret_value()
            .set_secret_id_list(Some(ids))
            .send()
            .await,
        &["InvalidParameterException", "ValidationException"],
    );
}

#[tokio::test]
async fn batch_get_tampered_next_token_fails_with_invalid_next_token() {
    let server = CofferServer::start();
    let client = server.default_client();
    let prefix = format!("bt{}", random_letters(10));
    for i in 0..3 {
        create_string_secret(&client, &format!("{prefix}-{i}"), "v").await;
    }
    let out = client
        .batch_get_secret_value()
        .filters(filter("name", &[&prefix]))
        .max_results(1)
        .send()
        .await
        .expect("first page");
    let mut token = out.next_token().expect("NextToken").to_string();
    token.insert(token.len() / 2, 'Z');
    let err = expect_error(
        client
            .batch_get_secret_value()
            .filters(filter("name", &[&prefix]))
            .max_results(1)
            .next_token(token)
            .send()
            .await,
        "InvalidNextTokenException",
    );
    assert!(err.is_invalid_next_token_exception());
}

#[tokio::test]
async fn batch_get_returns_binary_values() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("batch-bin");
    client
        .create_secret()
        .name(&name)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 159, 146, 150,
        ]))
        .send()
        .await
        .expect("create");
    let out = client
        .batch_get_secret_value()
        .secret_id_list(&name)
        .send()
        .await
        .expect("batch get");
    assert_eq!(out.secret_values().len(), 1);
    assert_eq!(
        out.secret_values()[0]
            .secret_binary()
            .map(|b| b.as_ref().to_vec()),
        Some(vec![0u8, 159, 146, 150])
    );
    let names: BTreeSet<_> = out.secret_values().iter().map(|v| v.name()).collect();
    assert!(names.contains(&Some(name.as_str())));
}
