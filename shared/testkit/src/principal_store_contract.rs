//! The contract of the `PrincipalStore` port: what the admin API, the SigV4 authenticator and
//! STS rely on, whatever the storage. Every adapter runs it (`run_all`, or the cases one by one):
//! the in-memory fake (here), SQLite (`coffer-embedded`), DynamoDB on moto (`coffer-aws`).
//!
//! ```ignore
//! #[tokio::test]
//! async fn my_store_meets_the_principal_contract() {
//!     coffer_testkit::principal_store_contract::run_all(|| MyStore::new()).await;
//! }
//! ```
//!
//! What the suite pins down:
//! - A principal is identified by (account, kind, name): the same name as a user and as a role,
//!   or in two accounts, are separate principals. `get` returns the record exactly as written
//!   (every field round-trips).
//! - `insert_principal` of an existing one is `NameTaken` and keeps the first; `put_principal`
//!   replaces an existing one and is `Conflict` (creating nothing) for a missing one;
//!   `delete_principal` is true once, then false, and touches nothing else.
//! - `list_principals(account, kind)` returns exactly that account's principals of that kind,
//!   sorted by name (byte order), however many there are and however large (more than one
//!   DynamoDB page).
//! - Access keys: `get` by id returns the record as written (status, date, envelope);
//!   `insert_access_key` of an existing id is `NameTaken` (also for another user) and keeps the
//!   first; `delete_access_key` is true once, then false; `list_access_keys(account, user)`
//!   returns that user's keys sorted by id, not those of a same-named user of another account.

use crate::builders::{ACCOUNT, T0};
use coffer_core::identity::principals::{
    AccessKeyRecord, AccessKeyStatus, PrincipalRecord, PrincipalType,
};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::RepositoryError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A store under test.
pub type Store = Arc<dyn PrincipalStore>;

/// The second account of the cases that keep accounts apart.
pub const OTHER_ACCOUNT: &str = "210987654321";

/// Runs every case, each on a fresh store from `make`. Panics (with the case name printed to
/// stderr first) on the first violation.
pub async fn run_all<S, F>(make: F)
where
    S: PrincipalStore + 'static,
    F: Fn() -> S,
{
    macro_rules! run {
        ($($case:ident),* $(,)?) => {
            $(
                eprintln!("principal store contract: {}", stringify!($case));
                $case(Arc::new(make())).await;
            )*
        };
    }
    run!(
        insert_then_get_returns_every_field,
        get_of_unknown_principal_returns_none,
        same_name_in_two_accounts_and_kinds_are_separate,
        insert_of_existing_principal_is_name_taken_and_keeps_the_first,
        put_replaces_an_existing_principal,
        put_of_missing_principal_conflicts_and_creates_nothing,
        delete_principal_is_true_once_and_removes_only_it,
        list_principals_is_per_account_and_kind_sorted_by_name,
        list_principals_returns_all_of_many_large_ones,
        access_key_insert_get_delete_roundtrips,
        insert_of_existing_access_key_id_is_name_taken,
        list_access_keys_is_per_user_sorted_by_id,
    );
}

// ---------------------------------------------------------------------------------------------
// Builders

/// A principal with tags, an inline policy and (roles) a trust policy.
pub fn principal(account: &str, kind: PrincipalType, name: &str) -> PrincipalRecord {
    let is_role = kind == PrincipalType::Role;
    PrincipalRecord {
        account: account.to_string(),
        kind,
        name: name.to_string(),
        id: format!("{}{:0>17}", if is_role { "AROA" } else { "AIDA" }, name.len()),
        tags: vec![
            ("team".to_string(), "payments".to_string()),
            ("cost-center".to_string(), "42".to_string()),
        ],
        assume_role_policy: is_role.then(|| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
            )
        }),
        policies: BTreeMap::from([(
            "read".to_string(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#.to_string(),
        )]),
        created: T0,
    }
}

/// An active access key of `user` with a recognisable envelope.
pub fn access_key(account: &str, user: &str, id: &str) -> AccessKeyRecord {
    AccessKeyRecord {
        access_key_id: id.to_string(),
        account: account.to_string(),
        user_name: user.to_string(),
        status: AccessKeyStatus::Active,
        created: T0.plus_days(1),
        encrypted_secret: id.bytes().chain([0, 255, 7]).collect(),
    }
}

async fn insert(store: &Store, record: &PrincipalRecord) {
    store
        .insert_principal(record)
        .await
        .unwrap_or_else(|e| panic!("insert of {}: {e}", record.arn()));
}

async fn get(
    store: &Store,
    account: &str,
    kind: PrincipalType,
    name: &str,
) -> Option<PrincipalRecord> {
    store.get_principal(account, kind, name).await.unwrap()
}

fn names(records: &[PrincipalRecord]) -> Vec<&str> {
    records.iter().map(|r| r.name.as_str()).collect()
}

fn key_ids(records: &[AccessKeyRecord]) -> Vec<&str> {
    records.iter().map(|r| r.access_key_id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Principals

pub async fn insert_then_get_returns_every_field(store: Store) {
    let mut user = principal(ACCOUNT, PrincipalType::User, "alice");
    user.tags.push((
        "Ünïcödé".to_string(),
        "\"quoted\" \\ back\nslash".to_string(),
    ));
    user.policies
        .insert("deny".to_string(), r#"{"Statement":[]}"#.to_string());
    let role = principal(ACCOUNT, PrincipalType::Role, "reader_+=,.@-");
    insert(&store, &user).await;
    insert(&store, &role).await;
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "alice").await,
        Some(user)
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::Role, "reader_+=,.@-").await,
        Some(role)
    );
}

pub async fn get_of_unknown_principal_returns_none(store: Store) {
    insert(&store, &principal(ACCOUNT, PrincipalType::User, "known")).await;
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "unknown").await,
        None
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "know").await,
        None
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "KNOWN").await,
        None
    );
}

pub async fn same_name_in_two_accounts_and_kinds_are_separate(store: Store) {
    let mut here = principal(ACCOUNT, PrincipalType::User, "shared");
    here.tags = vec![("where".to_string(), "here".to_string())];
    let mut there = principal(OTHER_ACCOUNT, PrincipalType::User, "shared");
    there.tags = vec![("where".to_string(), "there".to_string())];
    let role = principal(ACCOUNT, PrincipalType::Role, "shared");
    for record in [&here, &there, &role] {
        insert(&store, record).await;
    }
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "shared").await,
        Some(here.clone())
    );
    assert_eq!(
        get(&store, OTHER_ACCOUNT, PrincipalType::User, "shared").await,
        Some(there)
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::Role, "shared").await,
        Some(role)
    );
    assert_eq!(
        get(&store, OTHER_ACCOUNT, PrincipalType::Role, "shared").await,
        None
    );
    // Deleting one leaves the others.
    assert!(store
        .delete_principal(OTHER_ACCOUNT, PrincipalType::User, "shared")
        .await
        .unwrap());
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "shared").await,
        Some(here)
    );
    assert!(get(&store, ACCOUNT, PrincipalType::Role, "shared")
        .await
        .is_some());
}

pub async fn insert_of_existing_principal_is_name_taken_and_keeps_the_first(store: Store) {
    for kind in [PrincipalType::User, PrincipalType::Role] {
        let first = principal(ACCOUNT, kind, "taken");
        insert(&store, &first).await;
        let mut second = principal(ACCOUNT, kind, "taken");
        second.id = "AIDASECOND".to_string();
        second.tags.clear();
        assert_eq!(
            store.insert_principal(&second).await,
            Err(RepositoryError::NameTaken),
            "{}",
            kind.as_str()
        );
        assert_eq!(get(&store, ACCOUNT, kind, "taken").await, Some(first));
    }
}

pub async fn put_replaces_an_existing_principal(store: Store) {
    let role = principal(ACCOUNT, PrincipalType::Role, "app");
    insert(&store, &role).await;
    let mut changed = role.clone();
    changed.tags = vec![("team".to_string(), "platform".to_string())];
    changed.policies.clear();
    changed
        .policies
        .insert("write".to_string(), r#"{"Statement":[]}"#.to_string());
    changed.assume_role_policy = Some(r#"{"Statement":[]}"#.to_string());
    store.put_principal(&changed).await.unwrap();
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::Role, "app").await,
        Some(changed)
    );
}

pub async fn put_of_missing_principal_conflicts_and_creates_nothing(store: Store) {
    // Same name elsewhere (other account, other kind) does not make it exist.
    insert(
        &store,
        &principal(OTHER_ACCOUNT, PrincipalType::User, "ghost"),
    )
    .await;
    insert(&store, &principal(ACCOUNT, PrincipalType::Role, "ghost")).await;
    let ghost = principal(ACCOUNT, PrincipalType::User, "ghost");
    assert_eq!(
        store.put_principal(&ghost).await,
        Err(RepositoryError::Conflict)
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "ghost").await,
        None
    );
    assert!(store
        .list_principals(ACCOUNT, PrincipalType::User)
        .await
        .unwrap()
        .is_empty());
}

pub async fn delete_principal_is_true_once_and_removes_only_it(store: Store) {
    let keep = principal(ACCOUNT, PrincipalType::User, "keep");
    insert(&store, &keep).await;
    insert(&store, &principal(ACCOUNT, PrincipalType::User, "drop")).await;
    assert!(store
        .delete_principal(ACCOUNT, PrincipalType::User, "drop")
        .await
        .unwrap());
    assert!(!store
        .delete_principal(ACCOUNT, PrincipalType::User, "drop")
        .await
        .unwrap());
    assert!(!store
        .delete_principal(ACCOUNT, PrincipalType::Role, "keep")
        .await
        .unwrap());
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "drop").await,
        None
    );
    assert_eq!(
        get(&store, ACCOUNT, PrincipalType::User, "keep").await,
        Some(keep)
    );
    // The name is free again.
    insert(&store, &principal(ACCOUNT, PrincipalType::User, "drop")).await;
}

pub async fn list_principals_is_per_account_and_kind_sorted_by_name(store: Store) {
    for name in ["zed", "alice", "Bob", "alice2", "a", "mallory"] {
        insert(&store, &principal(ACCOUNT, PrincipalType::User, name)).await;
    }
    for name in ["writer", "reader"] {
        insert(&store, &principal(ACCOUNT, PrincipalType::Role, name)).await;
    }
    insert(
        &store,
        &principal(OTHER_ACCOUNT, PrincipalType::User, "other"),
    )
    .await;
    let users = store
        .list_principals(ACCOUNT, PrincipalType::User)
        .await
        .unwrap();
    assert_eq!(
        names(&users),
        ["Bob", "a", "alice", "alice2", "mallory", "zed"]
    );
    assert_eq!(
        users[2],
        principal(ACCOUNT, PrincipalType::User, "alice"),
        "listed records are whole"
    );
    let roles = store
        .list_principals(ACCOUNT, PrincipalType::Role)
        .await
        .unwrap();
    assert_eq!(names(&roles), ["reader", "writer"]);
    let other = store
        .list_principals(OTHER_ACCOUNT, PrincipalType::User)
        .await
        .unwrap();
    assert_eq!(names(&other), ["other"]);
    assert!(store
        .list_principals(OTHER_ACCOUNT, PrincipalType::Role)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_principals("999999999999", PrincipalType::User)
        .await
        .unwrap()
        .is_empty());
}

/// Twelve roles of ~100 KB each: more than one 1 MB page of a DynamoDB `Query`.
pub async fn list_principals_returns_all_of_many_large_ones(store: Store) {
    let big = format!(r#"{{"Statement":[],"Pad":"{}"}}"#, "x".repeat(100_000));
    let mut expected = Vec::new();
    for i in (0..12).rev() {
        let mut role = principal(ACCOUNT, PrincipalType::Role, &format!("role-{i:02}"));
        role.policies.insert("big".to_string(), big.clone());
        insert(&store, &role).await;
        expected.push(role);
    }
    expected.reverse();
    let listed = store
        .list_principals(ACCOUNT, PrincipalType::Role)
        .await
        .unwrap();
    assert_eq!(listed.len(), expected.len());
    assert!(
        listed == expected,
        "listed roles differ from the inserted ones"
    );
}

// ---------------------------------------------------------------------------------------------
// Access keys

pub async fn access_key_insert_get_delete_roundtrips(store: Store) {
    let active = access_key(ACCOUNT, "alice", "AKIAAAAAAAAAAAAAAAA1");
    let mut inactive = access_key(ACCOUNT, "alice", "AKIAAAAAAAAAAAAAAAA2");
    inactive.status = AccessKeyStatus::Inactive;
    store.insert_access_key(&active).await.unwrap();
    store.insert_access_key(&inactive).await.unwrap();
    assert_eq!(
        store.get_access_key(&active.access_key_id).await.unwrap(),
        Some(active.clone())
    );
    assert_eq!(
        store.get_access_key(&inactive.access_key_id).await.unwrap(),
        Some(inactive.clone())
    );
    assert_eq!(store.get_access_key("AKIAUNKNOWN").await.unwrap(), None);

    assert!(store
        .delete_access_key(&active.access_key_id)
        .await
        .unwrap());
    assert!(!store
        .delete_access_key(&active.access_key_id)
        .await
        .unwrap());
    assert!(!store.delete_access_key("AKIAUNKNOWN").await.unwrap());
    assert_eq!(
        store.get_access_key(&active.access_key_id).await.unwrap(),
        None
    );
    assert_eq!(
        store.list_access_keys(ACCOUNT, "alice").await.unwrap(),
        vec![inactive.clone()],
        "a deleted key leaves its user's listing"
    );
    // The id is free again.
    store.insert_access_key(&active).await.unwrap();
    assert_eq!(
        store.get_access_key(&active.access_key_id).await.unwrap(),
        Some(active)
    );
}

pub async fn insert_of_existing_access_key_id_is_name_taken(store: Store) {
    let first = access_key(ACCOUNT, "alice", "AKIADUPLICATE0000001");
    store.insert_access_key(&first).await.unwrap();
    for owner in [
        (ACCOUNT, "alice"),
        (ACCOUNT, "bob"),
        (OTHER_ACCOUNT, "alice"),
    ] {
        let mut second = access_key(owner.0, owner.1, "AKIADUPLICATE0000001");
        second.encrypted_secret = vec![9; 40];
        assert_eq!(
            store.insert_access_key(&second).await,
            Err(RepositoryError::NameTaken),
            "{owner:?}"
        );
    }
    assert_eq!(
        store.get_access_key("AKIADUPLICATE0000001").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.list_access_keys(ACCOUNT, "alice").await.unwrap(),
        vec![first]
    );
    assert!(store
        .list_access_keys(ACCOUNT, "bob")
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .list_access_keys(OTHER_ACCOUNT, "alice")
        .await
        .unwrap()
        .is_empty());
}

pub async fn list_access_keys_is_per_user_sorted_by_id(store: Store) {
    let alice = [
        "AKIAC000000000000003",
        "AKIAA000000000000001",
        "AKIAB000000000000002",
    ];
    for id in alice {
        store
            .insert_access_key(&access_key(ACCOUNT, "alice", id))
            .await
            .unwrap();
    }
    let others = [
        access_key(OTHER_ACCOUNT, "alice", "AKIAOTHERACCOUNT0001"),
        access_key(ACCOUNT, "bob", "AKIABOB0000000000001"),
        access_key(ACCOUNT, "alice2", "AKIAALICE20000000001"),
    ];
    for key in &others {
        store.insert_access_key(key).await.unwrap();
    }
    let listed = store.list_access_keys(ACCOUNT, "alice").await.unwrap();
    assert_eq!(
        key_ids(&listed),
        [
            "AKIAA000000000000001",
            "AKIAB000000000000002",
            "AKIAC000000000000003"
        ]
    );
    assert_eq!(
        listed[0],
        access_key(ACCOUNT, "alice", "AKIAA000000000000001")
    );
    assert_eq!(
        store
            .list_access_keys(OTHER_ACCOUNT, "alice")
            .await
            .unwrap(),
        vec![others[0].clone()]
    );
    assert_eq!(
        store.list_access_keys(ACCOUNT, "bob").await.unwrap(),
        vec![others[1].clone()]
    );
    assert!(store
        .list_access_keys(ACCOUNT, "carol")
        .await
        .unwrap()
        .is_empty());
}
