//! The item layout of principals and access keys in the secrets' table: key formats and the
//! encoding of a `PrincipalRecord` / `AccessKeyRecord` into DynamoDB attributes and back. Pure
//! functions, no I/O ([`super::principals`] sends the requests). `docs/dynamodb-design.md`
//! ("Principals and access keys") explains the layout.
//!
//! Every partition key here starts with a prefix no secret key has (`P#`, `AK#`, `AKU#`; secrets
//! are `S#`), and none of these items carries an attribute of the `by_scope`, `by_rotation` or
//! `by_purge` indexes, so the secret repository's queries and scans never see them. The
//! principal type is stored by name (`PrincipalType::as_str` in the key, serde in the JSON), so a
//! new type needs no change here.

use super::item::{b, get_s, key, n, parse_n, s, Item, ENVELOPE, RECORD_JSON};
use aws_sdk_dynamodb::types::AttributeValue;
use coffer_core::clock::Timestamp;
use coffer_core::identity::principals::{
    AccessKeyRecord, AccessKeyStatus, PrincipalRecord, PrincipalType,
};
use coffer_core::ports::RepositoryError;

/// Sort key of an access key's own item (its partition is the key id).
pub(crate) const ACCESS_KEY_SK: &str = "K";

/// Access-key attributes (on both items of a key).
pub(crate) const KEY_ID: &str = "akid";
pub(crate) const KEY_ACCOUNT: &str = "acct";
pub(crate) const KEY_USER: &str = "user";
pub(crate) const KEY_STATUS: &str = "status";
pub(crate) const KEY_CREATED: &str = "created";

/// Partition of the principals of one kind in one account: `P#<account>#<kind>`. The sort key
/// is the name, so listing is one `Query`, sorted by name.
pub(crate) fn principals_pk(account: &str, kind: PrincipalType) -> String {
    format!("P#{account}#{}", kind.as_str())
}

pub(crate) fn principal_key(account: &str, kind: PrincipalType, name: &str) -> Item {
    key(&principals_pk(account, kind), name)
}

/// The item of a principal: its key and the record as JSON.
pub(crate) fn principal_item(record: &PrincipalRecord) -> Result<Item, RepositoryError> {
    let json = serde_json::to_string(record)
        .map_err(|e| RepositoryError::Unavailable(format!("cannot encode the principal: {e}")))?;
    let mut item = principal_key(&record.account, record.kind, &record.name);
    item.insert(RECORD_JSON.to_string(), s(json));
    Ok(item)
}

/// Decodes a principal item, checking that it holds the principal its key names.
pub(crate) fn decode_principal(
    item: &Item,
    account: &str,
    kind: PrincipalType,
) -> Result<PrincipalRecord, RepositoryError> {
    let name = get_s(item, super::item::SK).unwrap_or("<no name>");
    let json = get_s(item, RECORD_JSON).ok_or_else(|| {
        RepositoryError::Corrupt(format!("principal item {account}/{name} has no record"))
    })?;
    let record: PrincipalRecord = serde_json::from_str(json)
        .map_err(|e| RepositoryError::Corrupt(format!("principal record {account}/{name}: {e}")))?;
    if record.account != account || record.kind != kind || record.name != name {
        return Err(RepositoryError::Corrupt(format!(
            "principal item {account}/{}/{name} holds the record of {}",
            kind.as_str(),
            record.arn()
        )));
    }
    Ok(record)
}

/// The partition of an access key's own item (`GetItem` by id): `AK#<access key id>`.
pub(crate) fn access_key_key(access_key_id: &str) -> Item {
    key(&format!("AK#{access_key_id}"), ACCESS_KEY_SK)
}

/// The partition of a user's key listing: `AKU#<account>#<user name>`, sorted by key id.
pub(crate) fn user_keys_pk(account: &str, user_name: &str) -> String {
    format!("AKU#{account}#{user_name}")
}

pub(crate) fn user_key_key(account: &str, user_name: &str, access_key_id: &str) -> Item {
    key(&user_keys_pk(account, user_name), access_key_id)
}

/// The two items of an access key: its own (by id) and its entry in the user's listing. Both
/// carry the whole record (keys never change), so each read is one request.
pub(crate) fn access_key_items(record: &AccessKeyRecord) -> (Item, Item) {
    let attributes = [
        (KEY_ID, s(&record.access_key_id)),
        (KEY_ACCOUNT, s(&record.account)),
        (KEY_USER, s(&record.user_name)),
        (KEY_STATUS, s(record.status.as_str())),
        (KEY_CREATED, n(record.created.millis())),
        (ENVELOPE, b(record.encrypted_secret.clone())),
    ];
    let with = |mut item: Item| {
        item.extend(attributes.iter().map(|(k, v)| (k.to_string(), v.clone())));
        item
    };
    (
        with(access_key_key(&record.access_key_id)),
        with(user_key_key(
            &record.account,
            &record.user_name,
            &record.access_key_id,
        )),
    )
}

pub(crate) fn decode_access_key(item: &Item) -> Result<AccessKeyRecord, RepositoryError> {
    let id = get_s(item, KEY_ID)
        .ok_or_else(|| RepositoryError::Corrupt("access key item has no key id".to_string()))?;
    let text = |name: &str| {
        get_s(item, name)
            .map(str::to_string)
            .ok_or_else(|| RepositoryError::Corrupt(format!("access key {id} has no {name}")))
    };
    let status = text(KEY_STATUS)?;
    let status = AccessKeyStatus::parse(&status).ok_or_else(|| {
        RepositoryError::Corrupt(format!("access key {id} has an unknown status {status:?}"))
    })?;
    let created = item
        .get(KEY_CREATED)
        .ok_or_else(|| RepositoryError::Corrupt(format!("access key {id} has no {KEY_CREATED}")))
        .and_then(|v| parse_n::<i64>(v, KEY_CREATED))?;
    let encrypted_secret = match item.get(ENVELOPE) {
        Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
        _ => {
            return Err(RepositoryError::Corrupt(format!(
                "access key {id} has no envelope"
            )))
        }
    };
    Ok(AccessKeyRecord {
        access_key_id: id.to_string(),
        account: text(KEY_ACCOUNT)?,
        user_name: text(KEY_USER)?,
        status,
        created: Timestamp::from_millis(created),
        encrypted_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::super::item::{PK, SK};
    use super::*;
    use std::collections::BTreeMap;

    fn user(account: &str, name: &str) -> PrincipalRecord {
        PrincipalRecord {
            account: account.to_string(),
            kind: PrincipalType::User,
            name: name.to_string(),
            id: "AIDAEXAMPLE".to_string(),
            tags: vec![("team".to_string(), "a".to_string())],
            assume_role_policy: None,
            policies: BTreeMap::new(),
            created: Timestamp::from_millis(1_700_000_000_000),
        }
    }

    #[test]
    fn principal_items_are_keyed_by_account_kind_and_name_and_roundtrip() {
        let record = user("111122223333", "alice");
        let item = principal_item(&record).unwrap();
        assert_eq!(get_s(&item, PK), Some("P#111122223333#user"));
        assert_eq!(get_s(&item, SK), Some("alice"));
        assert_eq!(
            decode_principal(&item, "111122223333", PrincipalType::User).unwrap(),
            record
        );
        // An item decoded as another account's or kind's is refused, not returned.
        assert!(matches!(
            decode_principal(&item, "999988887777", PrincipalType::User),
            Err(RepositoryError::Corrupt(_))
        ));
        assert!(matches!(
            decode_principal(&item, "111122223333", PrincipalType::Role),
            Err(RepositoryError::Corrupt(_))
        ));
    }

    #[test]
    fn access_key_items_carry_the_record_and_roundtrip() {
        let record = AccessKeyRecord {
            access_key_id: "AKIAEXAMPLE0000001".to_string(),
            account: "111122223333".to_string(),
            user_name: "alice".to_string(),
            status: AccessKeyStatus::Inactive,
            created: Timestamp::from_millis(1_700_000_000_123),
            encrypted_secret: vec![1, 2, 3],
        };
        let (own, listed) = access_key_items(&record);
        assert_eq!(get_s(&own, PK), Some("AK#AKIAEXAMPLE0000001"));
        assert_eq!(get_s(&listed, PK), Some("AKU#111122223333#alice"));
        assert_eq!(get_s(&listed, SK), Some("AKIAEXAMPLE0000001"));
        assert_eq!(decode_access_key(&own).unwrap(), record);
        assert_eq!(decode_access_key(&listed).unwrap(), record);
        let mut broken = own.clone();
        broken.insert(KEY_STATUS.to_string(), s("Revoked"));
        assert!(matches!(
            decode_access_key(&broken),
            Err(RepositoryError::Corrupt(_))
        ));
    }

    #[test]
    fn no_item_carries_an_index_attribute() {
        use super::super::item::{NAME, PURGE_PK, ROTATION_PK, SCOPE};
        let (own, listed) = access_key_items(&AccessKeyRecord {
            access_key_id: "AKIA1".to_string(),
            account: "111122223333".to_string(),
            user_name: "alice".to_string(),
            status: AccessKeyStatus::Active,
            created: Timestamp::from_millis(0),
            encrypted_secret: vec![],
        });
        let principal = principal_item(&user("111122223333", "alice")).unwrap();
        for item in [own, listed, principal] {
            for attribute in [SCOPE, NAME, ROTATION_PK, PURGE_PK] {
                assert!(!item.contains_key(attribute), "{attribute} in {item:?}");
            }
        }
    }
}
