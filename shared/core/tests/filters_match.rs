//! ListSecrets / BatchGetSecretValue `Filters` through the public API (`parse_filters`,
//! `matches_all`) on stored records: one table of (filters, secret, expected outcome) per rule of
//! `coffer_core::filters`.

use coffer_core::api::Filter;
use coffer_core::filters::{matches_all, parse_filters};
use coffer_core::ids::Scope;
use coffer_core::model::{SecretRecord, Tag};
use coffer_testkit::builders::sample_record;

fn record(name: &str, description: Option<&str>, tags: &[(&str, &str)]) -> SecretRecord {
    let mut r = sample_record(&Scope::new("us-east-1", "123456789012"), name);
    r.description = description.map(str::to_string);
    r.tags = tags
        .iter()
        .map(|(k, v)| Tag {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect();
    r
}

/// (filters as (key, values), secret, expected match).
type Case<'a> = (&'a [(&'a str, &'a [&'a str])], SecretRecord, bool);

fn check(cases: Vec<Case<'_>>) {
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(filters, secret, expected)| {
            let filters: Vec<Filter> = filters
                .iter()
                .map(|(k, vs)| Filter {
                    key: Some(k.to_string()),
                    values: Some(vs.iter().map(|v| v.to_string()).collect()),
                })
                .collect();
            let parsed = parse_filters(&filters).expect("filters parse");
            let got = matches_all(&parsed, &secret);
            (got != expected).then(|| {
                format!(
                    "{filters:?} on name={} description={:?} tags={:?}: expected {expected}, got {got}",
                    secret.name.as_str(),
                    secret.description,
                    secret.tags
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn name_filter_full_name_or_name_prefix_matches() {
    let db = || record("prod/db-password", None, &[]);
    check(vec![
        (&[("name", &["prod/db-password"])], db(), true),
        (&[("name", &["prod/"])], db(), true),
        (&[("name", &["prod/db"])], db(), true),
        (&[("name", &["prod/DB"])], db(), false),
        (&[("name", &["password"])], db(), false),
        (&[("name", &["!prod/"])], db(), false),
    ]);
}

#[test]
fn all_filter_searches_name_description_and_tags_of_a_record() {
    let secret = || {
        record(
            "billing/MyDbPassword",
            Some("Rotated nightly"),
            &[("CostCenter", "Finance-Team")],
        )
    };
    check(vec![
        (&[("all", &["PASSWORD"])], secret(), true),
        (&[("all", &["nightly"])], secret(), true),
        (&[("all", &["center"])], secret(), true),
        (&[("all", &["TEAM"])], secret(), true),
        (&[("all", &["illing"])], secret(), false),
        (&[("all", &["+"])], secret(), false),
        // Coffer secrets are not replicated: no primary region to find (the scope's region is
        // not reported as PrimaryRegion, so it is not searched either).
        (&[("all", &["east"])], secret(), false),
        (&[("primary-region", &["us-east-1"])], secret(), false),
        (&[("owning-service", &["rds"])], secret(), false),
    ]);
}

#[test]
fn separate_filters_all_must_match() {
    let secret = || {
        record(
            "prod/db",
            Some("Primary database"),
            &[("Env", "Production")],
        )
    };
    check(vec![
        (
            &[("name", &["prod/"]), ("tag-value", &["Production"])],
            secret(),
            true,
        ),
        (
            &[("name", &["prod/"]), ("tag-value", &["Staging"])],
            secret(),
            false,
        ),
        (
            &[
                ("description", &["database primary"]),
                ("tag-key", &["!Owner"]),
            ],
            secret(),
            true,
        ),
        (
            &[("description", &["database"]), ("tag-key", &["!Env"])],
            secret(),
            false,
        ),
    ]);
}
