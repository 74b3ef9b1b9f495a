//! `DynamoDbSecretRepository`: the `SecretRepository` of AWS mode, on one DynamoDB table.
//!
//! Place in the data path: the core service calls it for every read and write of a secret
//! (`service -> repository`), before the key provider and the envelope crypto, so everything it
//! stores is already encrypted: envelopes are opaque bytes that are never logged and never put
//! in an error message. Any number of stateless `coffer` replicas or Lambda instances can share
//! one table; all coordination between them is in DynamoDB's conditions.
//!
//! How it is built (the full design, with measured costs, is `docs/dynamodb-design.md`):
//! - Single-table design: a secret is one item collection under the partition key
//!   `S#<partition>#<region>#<account>#<name>`: the secret item (`sk = "S"`: record JSON, revision,
//!   access dates, a copy of the AWSCURRENT envelope, index attributes) and one immutable value
//!   item per version with a value (`sk = "V#<version id>"`). By name, by full ARN (the key is
//!   computed from the ARN, the stored ARN compared) and by partial ARN (= by name) are each one
//!   `GetItem`; GetSecretValue of AWSCURRENT is one strongly consistent `GetItem`.
//! - Optimistic concurrency: `update` reads the secret item (strongly consistent), then writes it
//!   with `ConditionExpression rev = expected AND arn = arn`, together with the value puts and
//!   deletes in one `TransactWriteItems` (a write of the secret item alone is one conditional
//!   `UpdateItem`: the same atomicity at half the write units). A failed condition is `Conflict`.
//! - Access dates (`la`, `va`) are attributes of the secret item written only by
//!   `touch_accessed`, with `UpdateItem SET` and no revision condition, and `update` writes the
//!   secret item with `SET`/`REMOVE` of its own attributes (never a whole-item `Put`), so a read
//!   never makes a writer retry and a writer never rolls an access date back.
//! - Indexes: `by_scope` (ListSecrets of one scope), and the sparse `by_rotation` and `by_purge`
//!   (scheduler: due rotations, expired recovery windows), created by [`create_table`].
//! - Every request asks for `ReturnConsumedCapacity = TOTAL`; [`DynamoDbSecretRepository::consumed`]
//!   sums what DynamoDB reported, for the cost model.

mod capacity;
mod errors;
mod item;
mod principal_item;
mod principals;
mod schema;

/// The SDK client the repository is built on, re-exported so that wiring code (`coffer serve
/// --backend aws`, `coffer init-table`) needs no direct dependency on `aws-sdk-dynamodb`.
pub use aws_sdk_dynamodb::Client;
pub use capacity::ConsumedCapacity;
pub use principals::DynamoDbPrincipalStore;
pub use schema::{create_table, TableSetup, INDEX_BY_PURGE, INDEX_BY_ROTATION, INDEX_BY_SCOPE};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use capacity::{Access, CapacityCounter};
use coffer_core::clock::Timestamp;
use coffer_core::ids::{Scope, SecretArn, VersionId};
use coffer_core::model::{EncryptedValue, SecretRecord};
use coffer_core::ports::{RepositoryError, SecretRepository, VersionWrites};
use errors::{cancellation, is_condition_failed, is_transaction_conflict, sdk_error, Cancelled};
use item::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// DynamoDB's limit on the actions of one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// Attempts of an `insert` or `purge` whose transaction collided with another transaction on the
/// same items (DynamoDB cancels one of them with `TransactionConflict`); `update` instead
/// reports `Conflict` and the service's write loop re-reads.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// The attributes a record is decoded from (the AWSCURRENT copy is left out unless needed).
const RECORD_ATTRIBUTES: [&str; 6] = [
    ARN,
    REV,
    RECORD_JSON,
    RECORD_DEFLATED,
    LAST_ACCESSED,
    VERSION_ACCESS,
];

/// A `SecretRepository` on one DynamoDB table (created by [`create_table`]). Cheap to clone.
#[derive(Clone)]
pub struct DynamoDbSecretRepository {
    client: Client,
    table: Arc<str>,
    capacity: Arc<CapacityCounter>,
}

impl std::fmt::Debug for DynamoDbSecretRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbSecretRepository")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Placeholders of one expression: `#n0`.. for attribute names, `:v0`.. for values, so no
/// reserved word or map key (a version id) ever needs escaping.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    by_name: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        if let Some(p) = self.by_name.get(attribute) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attribute.to_string());
        self.by_name.insert(attribute.to_string(), p.clone());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    fn projection(&mut self, attributes: &[&str]) -> String {
        attributes
            .iter()
            .map(|a| self.name(a))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The secret item's `UpdateExpression` and `ConditionExpression` for one `update`.
struct SecretWrite {
    key: Item,
    update: String,
    condition: String,
    expr: Expr,
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> RepositoryError {
    RepositoryError::Unavailable(format!("invalid DynamoDB request: {e}"))
}

impl DynamoDbSecretRepository {
    /// A repository on `table` (which must exist: see [`create_table`]).
    pub fn new(client: Client, table: String) -> Self {
        DynamoDbSecretRepository {
            client,
            table: table.into(),
            capacity: Arc::new(CapacityCounter::default()),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Capacity units DynamoDB reported for this repository's requests since it was created
    /// (clones share the counter). Take a snapshot before and after a call and use
    /// [`ConsumedCapacity::since`] for that call's cost.
    pub fn consumed(&self) -> ConsumedCapacity {
        self.capacity.snapshot()
    }

    // -----------------------------------------------------------------------------------------
    // Requests (each records its consumed capacity)

    async fn get_item(
        &self,
        key: Item,
        projection: Option<&[&str]>,
    ) -> Result<Option<Item>, RepositoryError> {
        let mut expr = Expr::default();
        let projection = projection.map(|attrs| expr.projection(attrs));
        let result = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .set_projection_expression(projection)
            .set_expression_attribute_names(expr.names())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.record("GetItem", Access::Read, out.consumed_capacity());
                Ok(out.item)
            }
            Err(e) => {
                self.record("GetItem", Access::Read, None);
                Err(sdk_error("GetItem", &e))
            }
        }
    }

    /// All items of a query, page by page (`index`: a GSI, read eventually consistent; `None`:
    /// the table, read strongly consistent).
    async fn query_all(
        &self,
        index: Option<&str>,
        key_condition: &str,
        expr: &Expr,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, RepositoryError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let result = self
                .client
                .query()
                .table_name(&*self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(key_condition)
                .set_projection_expression(projection.map(str::to_string))
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .set_exclusive_start_key(start.take())
                .consistent_read(index.is_none())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    self.record("Query", Access::Read, None);
                    return Err(sdk_error("Query", &e));
                }
            };
            self.record("Query", Access::Read, out.consumed_capacity());
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError>> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match &result {
            Ok(out) => self.record("TransactWriteItems", Access::Write, out.consumed_capacity()),
            Err(_) => self.record("TransactWriteItems", Access::Write, None),
        }
        result.map(drop)
    }

    fn record<'a>(
        &self,
        operation: &'static str,
        access: Access,
        reported: impl IntoIterator<Item = &'a aws_sdk_dynamodb::types::ConsumedCapacity>,
    ) {
        self.capacity
            .record(&self.table, operation, access, reported);
    }

    async fn sparse_index_due(
        &self,
        index: &str,
        pk_attribute: &str,
        pk_value: &str,
        at_attribute: &str,
        now: Timestamp,
    ) -> Result<Vec<SecretArn>, RepositoryError> {
        let mut expr = Expr::default();
        let condition = format!(
            "{} = {} AND {} <= {}",
            expr.name(pk_attribute),
            expr.value(s(pk_value)),
            expr.name(at_attribute),
            expr.value(n(now.millis()))
        );
        let projection = expr.projection(&[ARN]);
        let items = self
            .query_all(Some(index), &condition, &expr, Some(&projection))
            .await?;
        items
            .iter()
            .map(|item| {
                get_s(item, ARN)
                    .map(|arn| SecretArn::from_stored(arn.to_string()))
                    .ok_or_else(|| RepositoryError::Corrupt(format!("{index} entry has no arn")))
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Building writes

    /// The `Update` of the secret item for `update`: every attribute that follows from the record
    /// is SET or REMOVEd; version access entries are added for new versions and removed for
    /// versions the record dropped (so a re-added version id starts without a date); `la` is
    /// only set if absent. `stored` is the secret item as read at `expected` revision.
    fn secret_write(
        record: &SecretRecord,
        current: Option<&EncryptedValue>,
        stored: &Item,
        expected: u64,
    ) -> Result<SecretWrite, RepositoryError> {
        let pk = secret_pk(&record.scope, record.name.as_str());
        let attributes = secret_attributes(record, current)?;

        // The size the item will have: these attributes, the key, and the access dates.
        let mut full = key(&pk, SECRET_SK);
        full.extend(attributes.clone());
        full.extend(access_attributes(record));
        // NULL entries of never-read versions may become dates later: count them as dates.
        let size = item_size(&full) + record.versions.len() * 8 + 9;
        if size > MAX_ITEM_BYTES {
            return Err(too_large("secret item", &record.arn, size));
        }

        let mut expr = Expr::default();
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut names: Vec<&String> = attributes.keys().collect();
        names.sort(); // deterministic expressions (easier to read in logs and tests)
        for name in names {
            let value = attributes[name.as_str()].clone();
            sets.push(format!("{} = {}", expr.name(name), expr.value(value)));
        }
        for name in OPTIONAL_SECRET_ATTRIBUTES {
            if !attributes.contains_key(name) {
                removes.push(expr.name(name));
            }
        }
        match stored.get(VERSION_ACCESS) {
            Some(AttributeValue::M(old)) => {
                let new_ids: HashSet<&str> =
                    record.versions.iter().map(|v| v.id.as_str()).collect();
                for v in &record.versions {
                    if !old.contains_key(v.id.as_str()) {
                        let path =
                            format!("{}.{}", expr.name(VERSION_ACCESS), expr.name(v.id.as_str()));
                        let entry = expr.value(version_access_entry(v.last_accessed));
                        sets.push(format!("{path} = {entry}"));
                    }
                }
                let mut gone: Vec<&String> = old
                    .keys()
                    .filter(|id| !new_ids.contains(id.as_str()))
                    .collect();
                gone.sort();
                for id in gone {
                    removes.push(format!("{}.{}", expr.name(VERSION_ACCESS), expr.name(id)));
                }
            }
            _ => {
                let va = expr.name(VERSION_ACCESS);
                let map = expr.value(AttributeValue::M(version_access_map(record)));
                sets.push(format!("{va} = {map}"));
            }
        }
        if let Some(date) = record.last_accessed {
            let la = expr.name(LAST_ACCESSED);
            let d = expr.value(n(date.millis()));
            sets.push(format!("{la} = if_not_exists({la}, {d})"));
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let condition = format!(
            "{} = {} AND {} = {}",
            expr.name(REV),
            expr.value(n(expected)),
            expr.name(ARN),
            expr.value(s(record.arn.as_str()))
        );
        Ok(SecretWrite {
            key: key(&pk, SECRET_SK),
            update,
            condition,
            expr,
        })
    }

    /// A `Put` of a value item that never overwrites a value item of another secret (the
    /// condition cancels the transaction instead).
    fn value_put(
        &self,
        pk: &str,
        arn: &SecretArn,
        value: &EncryptedValue,
    ) -> Result<TransactWriteItem, RepositoryError> {
        let item = value_item(pk, arn, value);
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Err(too_large("value item", arn, size));
        }
        let mut expr = Expr::default();
        let condition = format!(
            "attribute_not_exists({}) OR {} = {}",
            expr.name(PK),
            expr.name(ARN),
            expr.value(s(arn.as_str()))
        );
        self.put_action(item, Some((condition, expr)))
    }

    fn put_action(
        &self,
        item: Item,
        condition: Option<(String, Expr)>,
    ) -> Result<TransactWriteItem, RepositoryError> {
        let (condition, expr) = match condition {
            Some((c, e)) => (Some(c), e),
            None => (None, Expr::default()),
        };
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete_action(
        &self,
        key: Item,
        condition: Option<(String, Expr)>,
    ) -> Result<TransactWriteItem, RepositoryError> {
        let (condition, expr) = match condition {
            Some((c, e)) => (Some(c), e),
            None => (None, Expr::default()),
        };
        let delete = Delete::builder()
            .table_name(&*self.table)
            .set_key(Some(key))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// The envelope of the record's AWSCURRENT version for the secret item's copy: from this
    /// write, else from the stored copy if it is of that version, else from its value item
    /// (values are immutable, so a read before the conditional write is safe).
    async fn current_envelope(
        &self,
        record: &SecretRecord,
        puts: &[&EncryptedValue],
        stored: &Item,
    ) -> Result<Option<EncryptedValue>, RepositoryError> {
        let Some(current) = record.current_version().filter(|v| v.has_value) else {
            return Ok(None);
        };
        if let Some(value) = puts.iter().find(|p| p.version_id == current.id) {
            return Ok(Some((*value).clone()));
        }
        if let Some(value) = decode_current(stored, &current.id)? {
            return Ok(Some(value));
        }
        let value = self.get_value(&record.arn, &current.id).await?;
        if value.is_none() {
            tracing::warn!(secret = %record.arn, version = %current.id,
                "AWSCURRENT version has no value item; the secret item keeps no copy");
        }
        Ok(value)
    }

    /// One attempt of [`SecretRepository::update`] (see there), without the pause after a
    /// lost race.
    async fn try_update(
        &self,
        record: &SecretRecord,
        expected_revision: u64,
        writes: &VersionWrites,
    ) -> Result<(), RepositoryError> {
        let pk = secret_pk(&record.scope, record.name.as_str());
        let puts = distinct_values(&writes.put_values);
        let put_ids: HashSet<&str> = puts.iter().map(|v| v.version_id.as_str()).collect();
        let mut deletes: Vec<&VersionId> = Vec::new();
        for id in &writes.delete_values {
            if !put_ids.contains(id.as_str()) && !deletes.contains(&id) {
                deletes.push(id);
            }
        }
        if 1 + puts.len() + deletes.len() > MAX_TRANSACTION_ITEMS {
            return Err(RepositoryError::Unavailable(format!(
                "update of {} writes {} values and deletes {}: more than one transaction holds",
                record.arn,
                puts.len(),
                deletes.len()
            )));
        }

        // The stored item at the expected revision: its version set (for the access-date map)
        // and its AWSCURRENT copy. A different revision fails here without a write.
        let stored = self
            .get_item(
                key(&pk, SECRET_SK),
                Some(&[
                    ARN,
                    REV,
                    VERSION_ACCESS,
                    CURRENT_VERSION,
                    CURRENT_KIND,
                    CURRENT_ENVELOPE,
                ]),
            )
            .await?;
        let Some(stored) = stored else {
            return Err(RepositoryError::Conflict);
        };
        if get_s(&stored, ARN) != Some(record.arn.as_str())
            || get_u64(&stored, REV)? != Some(expected_revision)
        {
            return Err(RepositoryError::Conflict);
        }
        let current = self.current_envelope(record, &puts, &stored).await?;
        let write = Self::secret_write(record, current.as_ref(), &stored, expected_revision)?;

        if puts.is_empty() && deletes.is_empty() {
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .set_key(Some(write.key))
                .update_expression(write.update)
                .condition_expression(write.condition)
                .set_expression_attribute_names(write.expr.names())
                .set_expression_attribute_values(write.expr.values())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            return match result {
                Ok(out) => {
                    self.record("UpdateItem", Access::Write, out.consumed_capacity());
                    Ok(())
                }
                Err(e) => {
                    self.record("UpdateItem", Access::Write, None);
                    if is_condition_failed(&e) || is_transaction_conflict(&e) {
                        Err(RepositoryError::Conflict)
                    } else {
                        Err(sdk_error("UpdateItem", &e))
                    }
                }
            };
        }

        let update = Update::builder()
            .table_name(&*self.table)
            .set_key(Some(write.key))
            .update_expression(write.update)
            .condition_expression(write.condition)
            .set_expression_attribute_names(write.expr.names())
            .set_expression_attribute_values(write.expr.values())
            .build()
            .map_err(build_error)?;
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        for value in &puts {
            actions.push(self.value_put(&pk, &record.arn, value)?);
        }
        for id in deletes {
            // Only a value item of this very secret is removed.
            let mut expr = Expr::default();
            let condition = format!(
                "attribute_not_exists({}) OR {} = {}",
                expr.name(PK),
                expr.name(ARN),
                expr.value(s(record.arn.as_str()))
            );
            actions.push(
                self.delete_action(key(&pk, &value_sk(id.as_str())), Some((condition, expr)))?,
            );
        }
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match cancellation(&e) {
                Some(Cancelled::ConditionFailed(0)) | Some(Cancelled::Conflict) => {
                    RepositoryError::Conflict
                }
                Some(other) => self.cancelled("update", &record.arn, other),
                None => sdk_error("TransactWriteItems", &e),
            }),
        }
    }

    async fn try_insert(
        &self,
        record: &SecretRecord,
        values: &[&EncryptedValue],
        secret: &Item,
        pk: &str,
    ) -> Result<(), RepositoryError> {
        let mut expr = Expr::default();
        let condition = format!("attribute_not_exists({})", expr.name(PK));
        if values.is_empty() {
            let result = self
                .client
                .put_item()
                .table_name(&*self.table)
                .set_item(Some(secret.clone()))
                .condition_expression(condition)
                .set_expression_attribute_names(expr.names())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            return match result {
                Ok(out) => {
                    self.record("PutItem", Access::Write, out.consumed_capacity());
                    Ok(())
                }
                Err(e) => {
                    self.record("PutItem", Access::Write, None);
                    if is_condition_failed(&e) {
                        Err(RepositoryError::NameTaken)
                    } else if is_transaction_conflict(&e) {
                        Err(RepositoryError::Conflict)
                    } else {
                        Err(sdk_error("PutItem", &e))
                    }
                }
            };
        }
        let put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(secret.clone()))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .build()
            .map_err(build_error)?;
        let mut actions = vec![TransactWriteItem::builder().put(put).build()];
        for value in values {
            actions.push(self.value_put(pk, &record.arn, value)?);
        }
        match self.transact(actions).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match cancellation(&e) {
                Some(Cancelled::ConditionFailed(0)) => RepositoryError::NameTaken,
                Some(Cancelled::Conflict) => RepositoryError::Conflict,
                Some(other) => self.cancelled("insert", &record.arn, other),
                None => sdk_error("TransactWriteItems", &e),
            }),
        }
    }

    /// A cancelled transaction that is neither `Conflict` nor the secret's own condition.
    fn cancelled(&self, what: &str, arn: &SecretArn, reason: Cancelled) -> RepositoryError {
        match reason {
            Cancelled::ConditionFailed(i) => {
                tracing::error!(secret = %arn, item = i, "{what}: a value item of another secret is in the way");
                RepositoryError::Corrupt(format!(
                    "{what} of {arn}: action {i} found a value item that belongs to another secret"
                ))
            }
            Cancelled::Conflict => RepositoryError::Conflict,
            Cancelled::Throttled(text) => {
                tracing::warn!(secret = %arn, reasons = %text, "{what}: transaction throttled");
                RepositoryError::Throttled(format!("DynamoDB TransactWriteItems: {text}"))
            }
            Cancelled::Other(text) => {
                tracing::error!(secret = %arn, reasons = %text, "{what}: transaction cancelled");
                RepositoryError::Unavailable(format!(
                    "DynamoDB TransactWriteItems ({what} of {arn}) was cancelled: {text}"
                ))
            }
        }
    }

    async fn try_purge(&self, arn: &SecretArn, pk: &str) -> Result<(), RepositoryError> {
        let mut expr = Expr::default();
        let condition = format!("{} = {}", expr.name(PK), expr.value(s(pk)));
        let projection = expr.projection(&[PK, SK, ARN]);
        let items = self
            .query_all(None, &condition, &expr, Some(&projection))
            .await?;
        let mine = |item: &Item| get_s(item, ARN) == Some(arn.as_str());
        let mut actions = Vec::new();
        for item in items.iter().filter(|i| mine(i)) {
            let sk = get_s(item, SK).unwrap_or_default();
            if sk.starts_with(VALUE_SK_PREFIX) {
                actions.push(self.delete_action(key(pk, sk), None)?);
            }
        }
        // The secret item goes last: until it is gone the name stays taken, so a purge that
        // fails half-way is simply run again by the scheduler.
        if items
            .iter()
            .any(|i| mine(i) && get_s(i, SK) == Some(SECRET_SK))
        {
            let mut expr = Expr::default();
            let condition = format!("{} = {}", expr.name(ARN), expr.value(s(arn.as_str())));
            actions.push(self.delete_action(key(pk, SECRET_SK), Some((condition, expr)))?);
        }
        let mut chunks: Vec<Vec<TransactWriteItem>> = Vec::new();
        let mut rest = actions;
        while rest.len() > MAX_TRANSACTION_ITEMS {
            let tail = rest.split_off(MAX_TRANSACTION_ITEMS);
            chunks.push(rest);
            rest = tail;
        }
        if !rest.is_empty() {
            chunks.push(rest);
        }
        for chunk in chunks {
            match self.transact(chunk).await {
                Ok(()) => {}
                // The secret item changed hands (purged and recreated) meanwhile: nothing of ours
                // is left to remove.
                Err(e) => match cancellation(&e) {
                    Some(Cancelled::ConditionFailed(_)) => return Ok(()),
                    Some(Cancelled::Conflict) => return Err(RepositoryError::Conflict),
                    Some(other) => return Err(self.cancelled("purge", arn, other)),
                    None => return Err(sdk_error("TransactWriteItems", &e)),
                },
            }
        }
        Ok(())
    }

    /// `touch_accessed`'s fallback when the record's date is already later than `day` (a reader
    /// with a slower clock): only the version's date moves, and only forward.
    async fn touch_version_only(
        &self,
        pk: &str,
        arn: &SecretArn,
        version: &VersionId,
        day: Timestamp,
    ) -> Result<(), RepositoryError> {
        let mut expr = Expr::default();
        let path = format!(
            "{}.{}",
            expr.name(VERSION_ACCESS),
            expr.name(version.as_str())
        );
        let d = expr.value(n(day.millis()));
        let update = format!("SET {path} = {d}");
        let condition = format!(
            "{} = {} AND (attribute_type({path}, {}) OR {path} < {d})",
            expr.name(ARN),
            expr.value(s(arn.as_str())),
            expr.value(s("NULL")),
        );
        self.touch_request(pk, update, condition, expr)
            .await
            .map(drop)
    }

    /// One `UpdateItem` of access dates; `Ok(false)` when its condition did not hold.
    async fn touch_request(
        &self,
        pk: &str,
        update: String,
        condition: String,
        expr: Expr,
    ) -> Result<bool, RepositoryError> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key(pk, SECRET_SK)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.record("UpdateItem", Access::Write, out.consumed_capacity());
                Ok(true)
            }
            Err(e) => {
                self.record("UpdateItem", Access::Write, None);
                if is_condition_failed(&e) {
                    Ok(false)
                } else if is_transaction_conflict(&e) {
                    // A writer's transaction holds the item. The date is a day-granular hint that
                    // the next read records again; never make a read (or the writer) fail for it.
                    tracing::debug!(table = %self.table, "access date skipped: item in a transaction");
                    Ok(true)
                } else {
                    Err(sdk_error("UpdateItem", &e))
                }
            }
        }
    }
}

/// Values of one write, one per version (the last wins), as `insert` and `update` send them
/// (DynamoDB refuses two actions on one item in a transaction).
fn distinct_values(values: &[EncryptedValue]) -> Vec<&EncryptedValue> {
    let mut seen = HashSet::new();
    let mut out: Vec<&EncryptedValue> = values
        .iter()
        .rev()
        .filter(|v| seen.insert(v.version_id.as_str()))
        .collect();
    out.reverse();
    out
}

async fn backoff(attempt: u32) {
    // 20, 40, 80, ... ms: the competing transaction is done after a round trip or two.
    tokio::time::sleep(Duration::from_millis(10 << attempt.min(5))).await;
}

/// Runs `attempt` again (after a [`backoff`]) while its transaction collided with another
/// transaction on the same items (`Conflict`), up to [`TRANSACTION_ATTEMPTS`] times; then
/// `Throttled`, naming `what`.
async fn retry_transaction_conflicts<T, F, Fut>(
    what: &str,
    mut attempt: F,
) -> Result<T, RepositoryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RepositoryError>>,
{
    let mut attempts = 0;
    loop {
        match attempt().await {
            Err(RepositoryError::Conflict) if attempts + 1 < TRANSACTION_ATTEMPTS => {
                attempts += 1;
                backoff(attempts).await;
            }
            Err(RepositoryError::Conflict) => {
                return Err(RepositoryError::Throttled(format!(
                    "{what} kept colliding with concurrent transactions"
                )))
            }
            other => return other,
        }
    }
}

/// Bounds of the window [`contention_pause`] draws from.
const CONTENTION_WINDOW_MIN: Duration = Duration::from_millis(2);
const CONTENTION_WINDOW_MAX: Duration = Duration::from_secs(2);

/// The pause after an `update` that lost the race for a secret item (`Conflict`), before the
/// service's write loop re-reads: a uniformly random time up to three times what the failed
/// attempt took (about one read-decide-write cycle of the competing writer).
///
/// Without it, two replicas writing one secret can lock into a fixed phase in which one of them
/// never wins. Each replica queues its own writers of a secret (the service's write lanes), so
/// replica A's next writer reads the item the moment A's write lands; B learns that it lost
/// only after that write, so it re-reads just behind A's next writer, writes just behind it
/// again, and loses again: every time, for as long as A has writers queued. On a server that
/// answers in arrival order (moto, which the tests run single-threaded) this is deterministic
/// (observed: one replica made no write for ten minutes while the other made ~600); on DynamoDB
/// it is a race that latency noise usually, but not always, breaks. A random pause lands the
/// loser's re-read inside the winner's write often enough: AWS's documented answer to
/// contention (exponential backoff and jitter), scaled by the observed round trips so that it
/// is milliseconds on DynamoDB and as long as a write cycle on a slow emulator. The core cannot
/// sleep (it has no timer), so the pause is here, in the adapter of the storage that replicas
/// share. It only delays a `Conflict` answer: nothing has been written when it runs.
async fn contention_pause(failed_attempt: Duration) {
    let window = (failed_attempt * 3).clamp(CONTENTION_WINDOW_MIN, CONTENTION_WINDOW_MAX);
    // Any uniform fraction will do (jitter, not a secret): the low 32 bits of a v4 UUID.
    let fraction = (uuid::Uuid::new_v4().as_u128() as u32) as f64 / (u32::MAX as f64 + 1.0);
    tokio::time::sleep(window.mul_f64(fraction)).await;
}

#[async_trait]
impl SecretRepository for DynamoDbSecretRepository {
    async fn get_by_name(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<SecretRecord>, RepositoryError> {
        let Some(item) = self
            .get_item(secret_key(scope, name), Some(&RECORD_ATTRIBUTES))
            .await?
        else {
            return Ok(None);
        };
        let record = decode_secret(&item)?;
        // Defensive: the key is derived from (scope, name), so anything else is a foreign item.
        if &record.scope != scope || record.name.as_str() != name {
            return Err(RepositoryError::Corrupt(format!(
                "item of {} is stored under another name",
                record.arn
            )));
        }
        Ok(Some(record))
    }

    async fn get_by_arn(&self, arn: &str) -> Result<Option<SecretRecord>, RepositoryError> {
        let Some(pk) = pk_of_arn(arn) else {
            return Ok(None);
        };
        let item = self
            .get_item(key(&pk, SECRET_SK), Some(&RECORD_ATTRIBUTES))
            .await?;
        match item {
            Some(item) if get_s(&item, ARN) == Some(arn) => decode_secret(&item).map(Some),
            _ => Ok(None),
        }
    }

    /// One strongly consistent `GetItem` of the whole secret item: the record and the copy of
    /// its AWSCURRENT envelope.
    async fn get_by_name_with_current(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<(SecretRecord, Option<EncryptedValue>)>, RepositoryError> {
        let Some(item) = self.get_item(secret_key(scope, name), None).await? else {
            return Ok(None);
        };
        let record = decode_secret(&item)?;
        if &record.scope != scope || record.name.as_str() != name {
            return Err(RepositoryError::Corrupt(format!(
                "item of {} is stored under another name",
                record.arn
            )));
        }
        let current = match record.current_version().filter(|v| v.has_value) {
            None => None,
            Some(v) => match decode_current(&item, &v.id)? {
                Some(value) => Some(value),
                // Not expected (every write keeps the copy in step); stay correct regardless.
                None => {
                    tracing::warn!(secret = %record.arn, "no AWSCURRENT copy in the secret item");
                    self.get_value(&record.arn, &v.id).await?
                }
            },
        };
        Ok(Some((record, current)))
    }

    async fn get_value(
        &self,
        arn: &SecretArn,
        version: &VersionId,
    ) -> Result<Option<EncryptedValue>, RepositoryError> {
        let Some(pk) = pk_of_arn(arn.as_str()) else {
            return Ok(None);
        };
        let item = self
            .get_item(key(&pk, &value_sk(version.as_str())), None)
            .await?;
        match item {
            Some(item) if get_s(&item, ARN) == Some(arn.as_str()) => {
                decode_value(&item, version).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn insert(
        &self,
        record: &SecretRecord,
        values: &[EncryptedValue],
    ) -> Result<(), RepositoryError> {
        let pk = secret_pk(&record.scope, record.name.as_str());
        let values = distinct_values(values);
        if values.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(RepositoryError::Unavailable(format!(
                "insert of {} with {} values exceeds one transaction",
                record.arn,
                values.len()
            )));
        }
        let current = record
            .current_version()
            .filter(|v| v.has_value)
            .and_then(|v| values.iter().find(|x| x.version_id == v.id).copied());
        let mut secret = key(&pk, SECRET_SK);
        secret.extend(secret_attributes(record, current)?);
        secret.extend(access_attributes(record));
        let size = item_size(&secret) + record.versions.len() * 8 + 9;
        if size > MAX_ITEM_BYTES {
            return Err(too_large("secret item", &record.arn, size));
        }
        retry_transaction_conflicts(&format!("insert of {}", record.arn), || {
            self.try_insert(record, &values, &secret, &pk)
        })
        .await
    }

    async fn update(
        &self,
        record: &SecretRecord,
        expected_revision: u64,
        writes: &VersionWrites,
    ) -> Result<(), RepositoryError> {
        let started = Instant::now();
        let result = self.try_update(record, expected_revision, writes).await;
        if matches!(result, Err(RepositoryError::Conflict)) {
            contention_pause(started.elapsed()).await;
        }
        result
    }

    async fn touch_accessed(
        &self,
        arn: &SecretArn,
        version: &VersionId,
        day: Timestamp,
    ) -> Result<(), RepositoryError> {
        let Some(pk) = pk_of_arn(arn.as_str()) else {
            return Ok(());
        };
        // The record's date and the version's in one write, if the record's date is not later
        // (then no version's date is either, and both simply become `day`).
        let mut expr = Expr::default();
        let la = expr.name(LAST_ACCESSED);
        let path = format!(
            "{}.{}",
            expr.name(VERSION_ACCESS),
            expr.name(version.as_str())
        );
        let d = expr.value(n(day.millis()));
        let update = format!("SET {la} = {d}, {path} = {d}");
        let condition = format!(
            "{} = {} AND attribute_exists({path}) AND (attribute_not_exists({la}) OR {la} <= {d})",
            expr.name(ARN),
            expr.value(s(arn.as_str())),
        );
        if self.touch_request(&pk, update, condition, expr).await? {
            return Ok(());
        }
        // The secret or version is gone (a no-op), or the record's date is later than `day`.
        self.touch_version_only(&pk, arn, version, day).await
    }

    async fn list(&self, scope: &Scope) -> Result<Vec<SecretRecord>, RepositoryError> {
        let mut expr = Expr::default();
        let condition = format!("{} = {}", expr.name(SCOPE), expr.value(s(scope_key(scope))));
        let projection = expr.projection(&RECORD_ATTRIBUTES);
        let items = self
            .query_all(Some(INDEX_BY_SCOPE), &condition, &expr, Some(&projection))
            .await?;
        items.iter().map(decode_secret).collect()
    }

    async fn list_purgeable(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError> {
        self.sparse_index_due(INDEX_BY_PURGE, PURGE_PK, PURGE_PK_VALUE, PURGE_AT, now)
            .await
    }

    /// A `Scan` of the `by_scope` index (every secret's index entry, ~0.1 read unit per secret:
    /// the gauges that call this then list each scope anyway). Exact, never stale beyond the
    /// index's own lag.
    /// ARNs of secrets, across scopes, whose rotation is enabled and due at or before `now`
    /// (the sparse `by_rotation` index; eventually consistent, as every index read).
    async fn list_due_rotations(&self, now: Timestamp) -> Result<Vec<SecretArn>, RepositoryError> {
        self.sparse_index_due(
            INDEX_BY_ROTATION,
            ROTATION_PK,
            ROTATION_PK_VALUE,
            ROTATION_AT,
            now,
        )
        .await
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>, RepositoryError> {
        let mut expr = Expr::default();
        let projection = expr.projection(&[SCOPE]);
        let mut scopes = std::collections::BTreeSet::new();
        let mut start: Option<Item> = None;
        loop {
            let result = self
                .client
                .scan()
                .table_name(&*self.table)
                .index_name(INDEX_BY_SCOPE)
                .projection_expression(&projection)
                .set_expression_attribute_names(expr.names())
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    self.record("Scan", Access::Read, None);
                    return Err(sdk_error("Scan", &e));
                }
            };
            self.record("Scan", Access::Read, out.consumed_capacity());
            for item in out.items() {
                let key = get_s(item, SCOPE).unwrap_or_default();
                let parts: Vec<&str> = key.split('#').collect();
                let [partition, region, account] = parts[..] else {
                    return Err(RepositoryError::Corrupt(format!(
                        "{INDEX_BY_SCOPE} entry has a malformed scope {key:?}"
                    )));
                };
                scopes.insert(Scope {
                    partition: partition.to_string(),
                    region: region.to_string(),
                    account: account.to_string(),
                });
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(scopes.into_iter().collect()),
            }
        }
    }

    async fn purge(&self, arn: &SecretArn) -> Result<(), RepositoryError> {
        let Some(pk) = pk_of_arn(arn.as_str()) else {
            return Ok(());
        };
        retry_transaction_conflicts(&format!("purge of {arn}"), || self.try_purge(arn, &pk)).await
    }
}
