//! ListSecrets (filters, negation, prefix matching, sorting, planned deletion, paging,
//! NextToken tamper-evidence) and ListSecretVersionIds.

use std::collections::BTreeSet;

use aws_sdk_secretsmanager::types::{SortByType, SortOrderType};
use coffer_e2e::*;

/// Names of the listed secrets.
fn names(list: &[aws_sdk_secretsmanager::types::SecretListEntry]) -> BTreeSet<String> {
    list.iter()
        .filter_map(|s| s.name().map(str::to_string))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

struct Fixture {
    prefix: String,
    alpha: String,
    beta: String,
    gamma: String,
}

/// Three secrets sharing a unique prefix, with distinct descriptions and tags.
async fn fixture(client: &aws_sdk_secretsmanager::Client) -> Fixture {
    let prefix = format!("ls{}", random_letters(10));
    let alpha = format!("{prefix}-Alpha");
    let beta = format!("{prefix}-Beta");
    let gamma = format!("{prefix}-gamma/nested");
    for (name, desc, tags) in [
        (
            &alpha,
            format!("{prefix} Alpha words"),
            vec![tag(&format!("{prefix}Env"), "Production")],
        ),
        (
            &beta,
            format!("{prefix} beta"),
            vec![tag(&format!("{prefix}Env"), "staging")],
        ),
        (
            &gamma,
            "unrelated text".to_string(),
            vec![tag(
                &format!("{prefix}Owner"),
                format!("{prefix}Value").as_str(),
            )],
        ),
    ] {
        client
            .create_secret()
            .name(name)
            .description(desc)
            .set_tags(Some(tags))
            .secret_string("v")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    }
    Fixture {
        prefix,
        alpha,
        beta,
        gamma,
    }
}

#[tokio::test]
async fn list_secrets_name_filter_is_case_sensitive_prefix_match() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let all = list_all_secrets(&client, vec![filter("name", &[&f.prefix])], false).await;
    assert_eq!(names(&all), set(&[&f.alpha, &f.beta, &f.gamma]));
    let alpha = list_all_secrets(
        &client,
        vec![filter("name", &[&format!("{}-Al", f.prefix)])],
        false,
    )
    .await;
    assert_eq!(names(&alpha), set(&[&f.alpha]));
    let lower = list_all_secrets(
        &client,
        vec![filter("name", &[&format!("{}-al", f.prefix)])],
        false,
    )
    .await;
    assert!(lower.is_empty(), "name filter is case-sensitive: {lower:?}");
    // Prefix, not substring.
    let inner = list_all_secrets(&client, vec![filter("name", &["Alpha"])], false).await;
    assert!(
        !names(&inner).contains(&f.alpha),
        "name filter matches prefixes only"
    );
}

#[tokio::test]
async fn list_secrets_filter_values_are_ored_and_filters_are_anded() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let either = list_all_secrets(
        &client,
        vec![filter(
            "name",
            &[
                &format!("{}-Alpha", f.prefix),
                &format!("{}-Beta", f.prefix),
            ],
        )],
        false,
    )
    .await;
    assert_eq!(names(&either), set(&[&f.alpha, &f.beta]));
    let both = list_all_secrets(
        &client,
        vec![
            filter("name", &[&f.prefix]),
            filter("tag-value", &["Production"]),
        ],
        false,
    )
    .await;
    assert_eq!(names(&both), set(&[&f.alpha]));
}

#[tokio::test]
async fn list_secrets_negated_filter_excludes_matches() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let not_alpha = list_all_secrets(
        &client,
        vec![
            filter("name", &[&f.prefix]),
            filter("name", &[&format!("!{}-Alpha", f.prefix)]),
        ],
        false,
    )
    .await;
    assert_eq!(names(&not_alpha), set(&[&f.beta, &f.gamma]));
    let not_prod = list_all_secrets(
        &client,
        vec![
            filter("name", &[&f.prefix]),
            filter("tag-value", &["!Production"]),
        ],
        false,
    )
    .await;
    assert!(!names(&not_prod).contains(&f.alpha));
    assert!(names(&not_prod).contains(&f.beta));
}

#[tokio::test]
async fn list_secrets_description_filter_is_case_insensitive() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let upper = f.prefix.to_uppercase();
    let found = list_all_secrets(&client, vec![filter("description", &[&upper])], false).await;
    assert_eq!(names(&found), set(&[&f.alpha, &f.beta]));
}

#[tokio::test]
async fn list_secrets_tag_key_and_tag_value_filters_are_case_sensitive_prefixes() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let by_key = list_all_secrets(
        &client,
        vec![filter("tag-key", &[&format!("{}En", f.prefix)])],
        false,
    )
    .await;
    assert_eq!(names(&by_key), set(&[&f.alpha, &f.beta]));
    let by_key_case = list_all_secrets(
        &client,
        vec![filter("tag-key", &[&format!("{}en", f.prefix)])],
        false,
    )
    .await;
    assert!(by_key_case.is_empty(), "tag-key is case-sensitive");
    let by_value = list_all_secrets(
        &client,
        vec![filter("tag-value", &[&format!("{}Val", f.prefix)])],
        false,
    )
    .await;
    assert_eq!(names(&by_value), set(&[&f.gamma]));
}

#[tokio::test]
async fn list_secrets_all_filter_searches_every_attribute_case_insensitively() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    // The prefix appears in names, descriptions and tags: all three match.
    let found = list_all_secrets(
        &client,
        vec![filter("all", &[&f.prefix.to_uppercase()])],
        false,
    )
    .await;
    assert_eq!(names(&found), set(&[&f.alpha, &f.beta, &f.gamma]));
}

#[tokio::test]
async fn list_secrets_primary_region_and_owning_service_filters_do_not_match_plain_secrets() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    for (key, value) in [
        ("primary-region", "ap-southeast-4"),
        ("owning-service", "rds"),
    ] {
        let found = list_all_secrets(
            &client,
            vec![filter("name", &[&f.prefix]), filter(key, &[value])],
            false,
        )
        .await;
        assert!(found.is_empty(), "{key}={value} matched {found:?}");
    }
}

#[tokio::test]
async fn list_secrets_unknown_filter_key_is_rejected() {
    let server = CofferServer::start();
    let client = server.default_client();
    expect_error_in(
        client
            .list_secrets()
            .filters(filter("no-such-key", &["x"]))
            .send()
            .await,
        &["InvalidParameterException", "ValidationException"],
    );
}

#[tokio::test]
async fn list_secrets_sort_by_name_asc_and_desc() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    for (order, expected) in [
        (
            SortOrderType::Asc,
            vec![f.alpha.clone(), f.beta.clone(), f.gamma.clone()],
        ),
        (
            SortOrderType::Desc,
            vec![f.gamma.clone(), f.beta.clone(), f.alpha.clone()],
        ),
    ] {
        let out = client
            .list_secrets()
            .filters(filter("name", &[&f.prefix]))
            .sort_by(SortByType::Name)
            .sort_order(order.clone())
            .send()
            .await
            .expect("ListSecrets");
        let got: Vec<String> = out
            .secret_list()
            .iter()
            .filter_map(|s| s.name().map(str::to_string))
            .collect();
        assert_eq!(got, expected, "SortBy name, {order:?}");
    }
}

#[tokio::test]
async fn list_secrets_sort_by_created_date_orders_by_creation() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    for order in [SortOrderType::Asc, SortOrderType::Desc] {
        let out = client
            .list_secrets()
            .filters(filter("name", &[&f.prefix]))
            .sort_by(SortByType::CreatedDate)
            .sort_order(order.clone())
            .send()
            .await
            .expect("ListSecrets");
        let dates: Vec<f64> = out
            .secret_list()
            .iter()
            .map(|s| epoch(s.created_date().expect("CreatedDate")))
            .collect();
        assert_eq!(dates.len(), 3);
        let sorted = dates.windows(2).all(|w| match order {
            SortOrderType::Desc => w[0] >= w[1],
            _ => w[0] <= w[1],
        });
        assert!(sorted, "CreatedDate order {order:?}: {dates:?}");
    }
}

#[tokio::test]
async fn list_secrets_entries_carry_metadata() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    let list = list_all_secrets(&client, vec![filter("name", &[&f.alpha])], false).await;
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_secret_arn(
        e.arn().expect("ARN"),
        &server.region(),
        server.account_id(),
        &f.alpha,
    );
    assert!(e.description().is_some_and(|d| d.ends_with("Alpha words")));
    assert_eq!(e.tags().len(), 1);
    assert!(e.created_date().is_some());
    assert!(e.last_changed_date().is_some());
    let stages = e
        .secret_versions_to_stages()
        .expect("SecretVersionsToStages");
    assert_eq!(stages.len(), 1);
    assert_eq!(
        stages.values().next(),
        Some(&vec!["AWSCURRENT".to_string()])
    );
    assert!(e.deleted_date().is_none());
}

#[tokio::test]
async fn list_secrets_hides_planned_deletion_unless_asked() {
    let server = CofferServer::start();
    let client = server.default_client();
    let f = fixture(&client).await;
    client
        .delete_secret()
        .secret_id(&f.beta)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("delete");
    let default = list_all_secrets(&client, vec![filter("name", &[&f.prefix])], false).await;
    assert_eq!(names(&default), set(&[&f.alpha, &f.gamma]));
    let with = list_all_secrets(&client, vec![filter("name", &[&f.prefix])], true).await;
    assert_eq!(names(&with), set(&[&f.alpha, &f.beta, &f.gamma]));
    let deleted = with
        .iter()
        .find(|s| s.name() == Some(f.beta.as_str()))
        .expect("beta");
    assert!(deleted.deleted_date().is_some(), "DeletedDate on the entry");
}

#[tokio::test]
async fn list_secrets_pages_with_max_results_and_next_token() {
    let server = CofferServer::start();
    let client = server.default_client();
    let prefix = format!("page{}", random_letters(10));
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        let name = format!("{prefix}-{i}");
        create_string_secret(&client, &name, "v").await;
        expected.insert(name);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 50, "paging does not terminate");
        let out = client
            .list_secrets()
            .filters(filter("name", &[&prefix]))
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("ListSecrets page");
        assert!(out.secret_list().len() <= 3, "page larger than MaxResults");
        seen.extend(
            out.secret_list()
                .iter()
                .filter_map(|s| s.name().map(str::to_string)),
        );
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a secret appeared twice: {seen:?}"
    );
    assert_eq!(unique, expected);
    assert!(
        pages >= 3,
        "7 secrets at 3 per page need 3 pages, got {pages}"
    );
}

#[tokio::test]
async fn list_secrets_tampered_next_token_fails_with_invalid_next_token() {
    let server = CofferServer::start();
    let client = server.default_client();
    let prefix = format!("tok{}", random_letters(10));
    for i in 0..3 {
        create_string_secret(&client, &format!("{prefix}-{i}"), "v").await;
    }
    let out = client
        .list_secrets()
        .filters(filter("name", &[&prefix]))
        .max_results(1)
        .send()
        .await
        .expect("first page");
    let good = out
        .next_token()
        .expect("NextToken with more results")
        .to_string();
    // Flip one character in the middle of the opaque token.
    let mut chars: Vec<char> = good.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    for bad in [tampered, "definitely-not-a-token".to_string()] {
        let err = expect_error(
            client
                .list_secrets()
                .filters(filter("name", &[&prefix]))
                .max_results(1)
                .next_token(&bad)
                .send()
                .await,
            "InvalidNextTokenException",
        );
        assert!(err.is_invalid_next_token_exception());
    }
    // The genuine token still works.
    client
        .list_secrets()
        .filters(filter("name", &[&prefix]))
        .max_results(1)
        .next_token(good)
        .send()
        .await
        .expect("genuine NextToken");
}

#[tokio::test]
async fn list_secret_version_ids_lists_versions_with_kms_key_ids() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("lv-basic");
    let (arn, v1) = create_string_secret(&client, &name, "one").await;
    let out = client
        .list_secret_version_ids()
        .secret_id(&name)
        .send()
        .await
        .expect("ListSecretVersionIds");
    assert_eq!(out.arn(), Some(arn.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    assert_eq!(out.versions().len(), 1);
    let v = &out.versions()[0];
    assert_eq!(v.version_id(), Some(v1.as_str()));
    assert_eq!(v.version_stages(), ["AWSCURRENT"]);
    assert!(v.created_date().is_some());
    assert!(
        !v.kms_key_ids().is_empty(),
        "each version names the key that encrypted it"
    );
}

#[tokio::test]
async fn list_secret_version_ids_pages_and_rejects_tampered_token() {
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("lv-paging");
    let (_, v1) = create_string_secret(&client, &name, "v0").await;
    let mut all = BTreeSet::from([v1]);
    for i in 1..5 {
        let out = client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(format!("v{i}"))
            .send()
            .await
            .expect("put");
        all.insert(out.version_id().expect("VersionId").to_string());
    }
    let mut seen = BTreeSet::new();
    let mut token: Option<String> = None;
    let mut first_token = None;
    for _ in 0..20 {
        let out = client
            .list_secret_version_ids()
            .secret_id(&name)
            .include_deprecated(true)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("page");
        assert!(out.versions().len() <= 2);
        for v in out.versions() {
            assert!(
                seen.insert(v.version_id().expect("id").to_string()),
                "duplicate version across pages"
            );
        }
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if first_token.is_none() {
            first_token = token.clone();
        }
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, all);
    let mut bad = first_token.expect("NextToken on the first page");
    bad.push('x');
    let err = expect_error(
        client
            .list_secret_version_ids()
            .secret_id(&name)
            .include_deprecated(true)
            .max_results(2)
            .next_token(bad)
            .send()
            .await,
        "InvalidNextTokenException",
    );
    assert!(err.is_invalid_next_token_exception());
}

#[tokio::test]
async fn list_secret_version_ids_unknown_secret_is_resource_not_found() {
    let server = CofferServer::start();
    let client = server.default_client();
    let err = expect_error(
        client
            .list_secret_version_ids()
            .secret_id(unique_name("lv-missing"))
            .send()
            .await,
        "ResourceNotFoundException",
    );
    assert!(err.is_resource_not_found_exception());
}
