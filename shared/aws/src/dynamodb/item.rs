//! The item layout of the table: key formats, attribute names, and the encoding of a
//! `SecretRecord` / `EncryptedValue` into DynamoDB attributes and back. Pure functions, no I/O,
//! so the layout can be unit-tested without a table. `docs/dynamodb-design.md` explains why the
//! layout is what it is.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, SecretArn, VersionId};
use coffer_core::model::{EncryptedValue, SecretRecord, StoredKind};
use coffer_core::ports::RepositoryError;
use std::collections::HashMap;
use std::io::{Read, Write};

/// One item as the SDK carries it.
pub(crate) type Item = HashMap<String, AttributeValue>;

// ---------------------------------------------------------------------------------------------
// Keys and attribute names

/// Partition key of every item: `S#<partition>#<region>#<account>#<name>`. Secret names cannot
/// contain `#`, and the scope parts of a real secret cannot either, so no two secrets share it.
pub(crate) const PK: &str = "pk";
/// Sort key: [`SECRET_SK`] for the secret item, `V#<version id>` for a value item.
pub(crate) const SK: &str = "sk";
pub(crate) const SECRET_SK: &str = "S";
pub(crate) const VALUE_SK_PREFIX: &str = "V#";

/// The full ARN (both item types): lookups by ARN compute the key from the ARN and then check
/// this, so a stale ARN of a recreated secret (same name, other suffix) never matches.
pub(crate) const ARN: &str = "arn";
/// The revision (N), the optimistic-concurrency counter every write is conditioned on.
pub(crate) const REV: &str = "rev";
/// The record as JSON (S), without access dates; or, when that is large, [`RECORD_DEFLATED`].
pub(crate) const RECORD_JSON: &str = "rec";
/// The record JSON compressed with raw DEFLATE (B), used above [`COMPRESS_ABOVE`] bytes.
pub(crate) const RECORD_DEFLATED: &str = "recz";
/// The record's last access day (N, epoch ms), written by `touch_accessed` only.
pub(crate) const LAST_ACCESSED: &str = "la";
/// Map version id -> last access day (N) or NULL (never read): one entry per version of the
/// record, so `touch_accessed` can condition on the version existing.
pub(crate) const VERSION_ACCESS: &str = "va";
/// Copy of the AWSCURRENT version's envelope (B), its version id (S) and kind (S): the
/// one-`GetItem` GetSecretValue.
pub(crate) const CURRENT_ENVELOPE: &str = "cur";
pub(crate) const CURRENT_VERSION: &str = "cur_ver";
pub(crate) const CURRENT_KIND: &str = "cur_kind";
/// Index `by_scope`: partition `<partition>#<region>#<account>`, sort by name.
pub(crate) const SCOPE: &str = "scope";
pub(crate) const NAME: &str = "sname";
/// Sparse index `by_rotation`: present only while rotation is enabled and scheduled.
pub(crate) const ROTATION_PK: &str = "rot_pk";
pub(crate) const ROTATION_AT: &str = "rot_at";
/// Sparse index `by_purge`: present only while the secret is scheduled for deletion.
pub(crate) const PURGE_PK: &str = "del_pk";
pub(crate) const PURGE_AT: &str = "purge_at";
/// The constant partition values of the two sparse indexes.
pub(crate) const ROTATION_PK_VALUE: &str = "ROTATION";
pub(crate) const PURGE_PK_VALUE: &str = "PURGE";
/// Value item: version id (S), kind (S: `String` | `Binary`), envelope (B).
pub(crate) const VERSION: &str = "ver";
pub(crate) const KIND: &str = "kind";
pub(crate) const ENVELOPE: &str = "env";

/// Attributes of the secret item that a write sets or removes depending on the record.
pub(crate) const OPTIONAL_SECRET_ATTRIBUTES: [&str; 9] = [
    RECORD_JSON,
    RECORD_DEFLATED,
    CURRENT_ENVELOPE,
    CURRENT_VERSION,
    CURRENT_KIND,
    ROTATION_PK,
    ROTATION_AT,
    PURGE_PK,
    PURGE_AT,
];

/// Record JSON above this many bytes is stored deflated. A new secret's JSON (~900 bytes) then
/// shrinks to ~500, which keeps its `by_scope` entry within one write unit, and the version list
/// (most of a large record) compresses about 7:1 (measured). Smaller JSON stays readable.
pub(crate) const COMPRESS_ABOVE: usize = 512;

/// DynamoDB's item limit is 400 KB (409,600 bytes); we refuse a little earlier (moto enforces
/// 400,000) since our size estimate follows the documented rules but is not DynamoDB's own.
pub(crate) const MAX_ITEM_BYTES: usize = 400_000;

/// A deflated record never inflates beyond this (a corrupt or hostile item cannot exhaust memory).
const MAX_INFLATED_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) fn scope_key(scope: &Scope) -> String {
    format!("{}#{}#{}", scope.partition, scope.region, scope.account)
}

pub(crate) fn secret_pk(scope: &Scope, name: &str) -> String {
    format!("S#{}#{}", scope_key(scope), name)
}

pub(crate) fn value_sk(version: &str) -> String {
    format!("{VALUE_SK_PREFIX}{version}")
}

pub(crate) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(crate) fn secret_key(scope: &Scope, name: &str) -> Item {
    key(&secret_pk(scope, name), SECRET_SK)
}

/// The partition key of the secret an ARN names: `arn:<partition>:secretsmanager:<region>:
/// <account>:secret:<name>-<6 characters>`. `None` when the ARN does not have that shape (then no
/// stored secret can have it). The caller still compares the stored `arn` attribute.
pub(crate) fn pk_of_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [prefix, partition, service, region, account, kind, resource] = parts[..] else {
        return None;
    };
    if prefix != "arn" || service != "secretsmanager" || kind != "secret" {
        return None;
    }
    // The name is the resource minus `-XXXXXX`. '-' is ASCII, so the split is a char boundary.
    let cut = resource.len().checked_sub(7)?;
    if cut == 0 || resource.as_bytes()[cut] != b'-' {
        return None;
    }
    let scope = Scope {
        partition: partition.to_string(),
        region: region.to_string(),
        account: account.to_string(),
    };
    Some(secret_pk(&scope, &resource[..cut]))
}

// ---------------------------------------------------------------------------------------------
// Attribute values

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn b(v: impl Into<Vec<u8>>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

pub(crate) fn null() -> AttributeValue {
    AttributeValue::Null(true)
}

fn date_value(date: Option<Timestamp>) -> AttributeValue {
    match date {
        Some(t) => n(t.millis()),
        None => null(),
    }
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn get_b<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(v)) => Some(v.as_ref()),
        _ => None,
    }
}

pub(crate) fn parse_n<T: std::str::FromStr>(
    v: &AttributeValue,
    what: &str,
) -> Result<T, RepositoryError> {
    match v {
        AttributeValue::N(text) => text
            .parse()
            .map_err(|_| RepositoryError::Corrupt(format!("{what} is not a valid number"))),
        _ => Err(RepositoryError::Corrupt(format!("{what} is not a number"))),
    }
}

pub(crate) fn get_u64(item: &Item, name: &str) -> Result<Option<u64>, RepositoryError> {
    item.get(name).map(|v| parse_n(v, name)).transpose()
}

fn kind_text(kind: StoredKind) -> &'static str {
    match kind {
        StoredKind::String => "String",
        StoredKind::Binary => "Binary",
    }
}

fn kind_from_text(text: Option<&str>) -> Result<StoredKind, RepositoryError> {
    match text {
        Some("String") => Ok(StoredKind::String),
        Some("Binary") => Ok(StoredKind::Binary),
        other => Err(RepositoryError::Corrupt(format!(
            "unknown value kind {other:?}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Secret item

/// The attributes of a secret item that follow from the record alone (every attribute but the
/// key and the access dates): what `insert` puts and `update` sets. `current` is the envelope
/// of the record's AWSCURRENT version, if that version has a value.
pub(crate) fn secret_attributes(
    record: &SecretRecord,
    current: Option<&EncryptedValue>,
) -> Result<Item, RepositoryError> {
    let mut item = Item::new();
    item.insert(ARN.to_string(), s(record.arn.as_str()));
    item.insert(REV.to_string(), n(record.revision));
    item.insert(SCOPE.to_string(), s(scope_key(&record.scope)));
    item.insert(NAME.to_string(), s(record.name.as_str()));
    let json = record_json(record)?;
    if json.len() > COMPRESS_ABOVE {
        item.insert(RECORD_DEFLATED.to_string(), b(deflate(json.as_bytes())?));
    } else {
        item.insert(RECORD_JSON.to_string(), s(json));
    }
    if let Some(value) = current {
        item.insert(CURRENT_ENVELOPE.to_string(), b(value.envelope.clone()));
        item.insert(CURRENT_VERSION.to_string(), s(value.version_id.as_str()));
        item.insert(CURRENT_KIND.to_string(), s(kind_text(value.kind)));
    }
    // A secret scheduled for deletion cannot be rotated, so it leaves the rotation index until
    // it is restored.
    if let (true, Some(next), None) = (
        record.rotation.enabled,
        record.rotation.next_rotation,
        record.deleted,
    ) {
        item.insert(ROTATION_PK.to_string(), s(ROTATION_PK_VALUE));
        item.insert(ROTATION_AT.to_string(), n(next.millis()));
    }
    if let (Some(_), Some(purge_after)) = (record.deleted, record.purge_after) {
        item.insert(PURGE_PK.to_string(), s(PURGE_PK_VALUE));
        item.insert(PURGE_AT.to_string(), n(purge_after.millis()));
    }
    Ok(item)
}

/// The access-date attributes of a new secret item: `la` if set, and `va` with one entry per
/// version (its date, or NULL).
pub(crate) fn access_attributes(record: &SecretRecord) -> Item {
    let mut item = Item::new();
    if let Some(date) = record.last_accessed {
        item.insert(LAST_ACCESSED.to_string(), n(date.millis()));
    }
    item.insert(
        VERSION_ACCESS.to_string(),
        AttributeValue::M(version_access_map(record)),
    );
    item
}

pub(crate) fn version_access_map(record: &SecretRecord) -> Item {
    record
        .versions
        .iter()
        .map(|v| (v.id.as_str().to_string(), date_value(v.last_accessed)))
        .collect()
}

pub(crate) fn version_access_entry(date: Option<Timestamp>) -> AttributeValue {
    date_value(date)
}

/// The record as stored: JSON without access dates (those live in `la` / `va`, so that a
/// `touch_accessed` never changes the revisioned part).
fn record_json(record: &SecretRecord) -> Result<String, RepositoryError> {
    let mut stripped = record.clone();
    stripped.last_accessed = None;
    for v in &mut stripped.versions {
        v.last_accessed = None;
    }
    serde_json::to_string(&stripped)
        .map_err(|e| RepositoryError::Unavailable(format!("cannot encode the record: {e}")))
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, RepositoryError> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| RepositoryError::Unavailable(format!("cannot compress the record: {e}")))
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, RepositoryError> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| RepositoryError::Corrupt(format!("cannot inflate the record: {e}")))?;
    Ok(out)
}

/// Decodes a secret item (from the table or the `by_scope` index) into the record, laying the
/// access dates over it. The `rev` attribute is authoritative for the revision.
pub(crate) fn decode_secret(item: &Item) -> Result<SecretRecord, RepositoryError> {
    let arn = get_s(item, ARN).unwrap_or("<no arn>");
    let mut record: SecretRecord = if let Some(json) = get_s(item, RECORD_JSON) {
        serde_json::from_str(json)
    } else if let Some(deflated) = get_b(item, RECORD_DEFLATED) {
        serde_json::from_slice(&inflate(deflated)?)
    } else {
        return Err(RepositoryError::Corrupt(format!(
            "secret item of {arn} has no record"
        )));
    }
    .map_err(|e| RepositoryError::Corrupt(format!("record of {arn}: {e}")))?;
    if record.arn.as_str() != arn {
        return Err(RepositoryError::Corrupt(format!(
            "secret item of {arn} holds the record of {}",
            record.arn
        )));
    }
    if let Some(rev) = get_u64(item, REV)? {
        record.revision = rev;
    }
    record.last_accessed = item
        .get(LAST_ACCESSED)
        .map(|v| parse_n(v, LAST_ACCESSED))
        .transpose()?
        .map(Timestamp::from_millis);
    if let Some(AttributeValue::M(dates)) = item.get(VERSION_ACCESS) {
        for v in &mut record.versions {
            v.last_accessed = match dates.get(v.id.as_str()) {
                Some(AttributeValue::N(_)) => {
                    let ms = parse_n(&dates[v.id.as_str()], VERSION_ACCESS)?;
                    Some(Timestamp::from_millis(ms))
                }
                _ => None,
            };
        }
    }
    Ok(record)
}

/// The AWSCURRENT copy of a secret item, if it holds one for `version`.
pub(crate) fn decode_current(
    item: &Item,
    version: &VersionId,
) -> Result<Option<EncryptedValue>, RepositoryError> {
    if get_s(item, CURRENT_VERSION) != Some(version.as_str()) {
        return Ok(None);
    }
    let Some(envelope) = get_b(item, CURRENT_ENVELOPE) else {
        return Ok(None);
    };
    Ok(Some(EncryptedValue {
        version_id: version.clone(),
        kind: kind_from_text(get_s(item, CURRENT_KIND))?,
        envelope: envelope.to_vec(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Value item

pub(crate) fn value_item(pk: &str, arn: &SecretArn, value: &EncryptedValue) -> Item {
    let mut item = key(pk, &value_sk(value.version_id.as_str()));
    item.insert(ARN.to_string(), s(arn.as_str()));
    item.insert(VERSION.to_string(), s(value.version_id.as_str()));
    item.insert(KIND.to_string(), s(kind_text(value.kind)));
    item.insert(ENVELOPE.to_string(), b(value.envelope.clone()));
    item
}

pub(crate) fn decode_value(
    item: &Item,
    version: &VersionId,
) -> Result<EncryptedValue, RepositoryError> {
    let envelope = get_b(item, ENVELOPE).ok_or_else(|| {
        RepositoryError::Corrupt(format!("value item of version {version} has no envelope"))
    })?;
    Ok(EncryptedValue {
        version_id: version.clone(),
        kind: kind_from_text(get_s(item, KIND))?,
        envelope: envelope.to_vec(),
    })
}

// ---------------------------------------------------------------------------------------------
// Item size

/// The size DynamoDB charges and limits an attribute value by: UTF-8 bytes of strings, raw bytes
/// of binaries, about half a byte per digit of numbers, 3 bytes of overhead per map or list plus
/// one per element.
pub(crate) fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(l) => l.iter().map(String::len).sum(),
        AttributeValue::Ns(l) => l.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(l) => l.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Attribute names plus values: the item size of DynamoDB's rules.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// The error for a write whose item would exceed the limit: clear, and without content.
pub(crate) fn too_large(what: &str, arn: &SecretArn, bytes: usize) -> RepositoryError {
    RepositoryError::Unavailable(format!(
        "the {what} of {arn} would be {bytes} bytes, over DynamoDB's 400 KB item limit \
         (too many versions, tags or policy text in one secret)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::ids::SecretName;

    #[test]
    fn pk_of_arn_strips_the_suffix_and_keeps_the_scope() {
        let scope = Scope::new("eu-west-1", "123456789012");
        let arn = SecretArn::new(&scope, &SecretName::parse("app/db-1").unwrap(), "AbC123");
        assert_eq!(
            pk_of_arn(arn.as_str()).as_deref(),
            Some("S#aws#eu-west-1#123456789012#app/db-1")
        );
    }

    #[test]
    fn pk_of_arn_without_a_suffix_is_none() {
        for arn in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:short",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:-AbC123",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:no_dash_here",
            "arn:aws:kms:us-east-1:123456789012:secret:name-AbC123",
            "arn:aws:secretsmanager:us-east-1:123456789012",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:ééééé-é",
            "not an arn",
        ] {
            assert_eq!(pk_of_arn(arn), None, "{arn}");
        }
    }

    #[test]
    fn deflate_roundtrips_and_inflate_rejects_garbage() {
        let text = "{\"versions\":[".repeat(200);
        let packed = deflate(text.as_bytes()).unwrap();
        assert!(packed.len() < text.len() / 10);
        assert_eq!(inflate(&packed).unwrap(), text.as_bytes());
        assert!(matches!(
            inflate(&[0xff, 0xff, 0xff]),
            Err(RepositoryError::Corrupt(_))
        ));
    }

    #[test]
    fn value_size_follows_the_documented_rules() {
        assert_eq!(value_size(&s("héllo")), 6);
        assert_eq!(value_size(&b(vec![0u8; 10])), 10);
        assert_eq!(value_size(&n(1_700_000_000_000i64)), 8);
        let map = AttributeValue::M(HashMap::from([("ab".to_string(), null())]));
        assert_eq!(value_size(&map), 3 + 2 + 1 + 1);
    }
}
