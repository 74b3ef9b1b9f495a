//! `DynamoDbPrincipalStore`: the `PrincipalStore` of AWS mode, in the secrets' own table.
//!
//! Place in the data path: the wire's SigV4 authenticator reads an access key here for every
//! request signed with a user's key (one strongly consistent `GetItem`), the service reads the
//! caller's identity policies here when it authorizes, STS AssumeRole reads the role, and the
//! admin API (`coffer.*`) writes users, roles and keys. Secrets of access keys arrive sealed
//! (`coffer_core::identity::principals::seal_access_key_secret`, KMS envelope): this adapter stores opaque
//! bytes, never logs them, and never puts them into an error.
//!
//! The store shares the table, the client and the consumed-capacity counter of a
//! [`DynamoDbSecretRepository`] (so `coffer init-table` and the deployments' table serve it
//! unchanged: no new index). Items ([`super::principal_item`], `docs/dynamodb-design.md`):
//! - a principal: `pk = P#<account>#<kind>`, `sk = <name>`, the record as JSON. Get, insert
//!   (`attribute_not_exists` → `NameTaken`), put (`attribute_exists` → `Conflict`) and delete
//!   are single-item requests; listing one kind of one account is one `Query` (all pages), in
//!   name order.
//! - an access key: its own item `pk = AK#<id>` (the authenticator's `GetItem`) and an entry
//!   in its user's listing `pk = AKU#<account>#<user>, sk = <id>` (one `Query`, in id order).
//!   Both are written and deleted together in one `TransactWriteItems`; both hold the whole
//!   record (keys are immutable), so every read is one request.
//!
//! Key region: access-key secrets are sealed under the default KMS key of
//! [`PrincipalStore::key_region`]. The embedded keyring has a default key in every region, so
//! local mode uses the fixed `PRINCIPAL_KEY_REGION`; a deployment's KMS key lives in the
//! deployment's region only (its IAM policy names that key), so this store is given that region.
//!
//! Errors map as the secret repository's do: throttling → `Throttled`, any other failure →
//! `Unavailable` with the cause logged once.

use super::capacity::Access;
use super::errors::{cancellation, is_condition_failed, sdk_error, Cancelled};
use super::item::{s, Item, PK};
use super::principal_item::*;
use super::{retry_transaction_conflicts, DynamoDbSecretRepository, Expr};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity, TransactWriteItem};
use coffer_core::identity::principals::{AccessKeyRecord, PrincipalRecord, PrincipalType};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::RepositoryError;
use std::sync::Arc;

/// A `PrincipalStore` on the table of a [`DynamoDbSecretRepository`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoDbPrincipalStore {
    table: DynamoDbSecretRepository,
    key_region: Arc<str>,
}

/// What a single-item write's condition requires of the item.
#[derive(Clone, Copy)]
enum Expect {
    Absent,
    Present,
}

impl Expect {
    fn condition(self, expr: &mut Expr) -> String {
        let pk = expr.name(PK);
        match self {
            Expect::Absent => format!("attribute_not_exists({pk})"),
            Expect::Present => format!("attribute_exists({pk})"),
        }
    }

    /// The condition with the expression its placeholders are in.
    fn with_expr(self) -> (String, Expr) {
        let mut expr = Expr::default();
        (self.condition(&mut expr), expr)
    }
}

impl DynamoDbPrincipalStore {
    /// The principals in `repository`'s table, their access-key secrets sealed under the default
    /// key of `key_region` (the deployment's region).
    pub fn on(repository: &DynamoDbSecretRepository, key_region: &str) -> Self {
        DynamoDbPrincipalStore {
            table: repository.clone(),
            key_region: key_region.into(),
        }
    }

    /// A conditional `PutItem`; `Ok(false)` when the condition did not hold.
    async fn put_item(&self, item: Item, expect: Expect) -> Result<bool, RepositoryError> {
        let repo = &self.table;
        let mut expr = Expr::default();
        let condition = expect.condition(&mut expr);
        let result = repo
            .client
            .put_item()
            .table_name(&*repo.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.written("PutItem", result.map(|out| out.consumed_capacity))
    }

    /// A `DeleteItem` of an existing item; `Ok(false)` when there was none.
    async fn delete_item(&self, key: Item) -> Result<bool, RepositoryError> {
        let repo = &self.table;
        let mut expr = Expr::default();
        let condition = Expect::Present.condition(&mut expr);
        let result = repo
            .client
            .delete_item()
            .table_name(&*repo.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.written("DeleteItem", result.map(|out| out.consumed_capacity))
    }

    /// The outcome of a conditional single-item write (its consumed capacity, or its error):
    /// recorded, and `Ok(false)` when the condition did not hold.
    fn written<E, R>(
        &self,
        operation: &'static str,
        result: Result<Option<ConsumedCapacity>, SdkError<E, R>>,
    ) -> Result<bool, RepositoryError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(consumed) => {
                self.table
                    .record(operation, Access::Write, consumed.as_ref());
                Ok(true)
            }
            Err(e) => {
                self.table.record(operation, Access::Write, None);
                if is_condition_failed(&e) {
                    Ok(false)
                } else {
                    Err(sdk_error(operation, &e))
                }
            }
        }
    }

    /// Every item of partition `pk`, in sort-key order (strongly consistent, all pages).
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, RepositoryError> {
        let mut expr = Expr::default();
        let condition = format!("{} = {}", expr.name(PK), expr.value(s(pk)));
        self.table.query_all(None, &condition, &expr, None).await
    }

    /// The repository's `Put` / `Delete` actions, conditional on `expect`.
    fn put_action(
        &self,
        item: Item,
        expect: Option<Expect>,
    ) -> Result<TransactWriteItem, RepositoryError> {
        self.table.put_action(item, expect.map(Expect::with_expr))
    }

    fn delete_action(
        &self,
        key: Item,
        expect: Option<Expect>,
    ) -> Result<TransactWriteItem, RepositoryError> {
        self.table.delete_action(key, expect.map(Expect::with_expr))
    }

    /// One attempt of `insert_access_key`: both items, the key's own only if its id is free.
    async fn try_insert_key(&self, record: &AccessKeyRecord) -> Result<(), RepositoryError> {
        let (own, listed) = access_key_items(record);
        let actions = vec![
            self.put_action(own, Some(Expect::Absent))?,
            self.put_action(listed, None)?,
        ];
        match self.table.transact(actions).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match cancellation(&e) {
                Some(Cancelled::ConditionFailed(_)) => RepositoryError::NameTaken,
                Some(Cancelled::Conflict) => RepositoryError::Conflict,
                Some(reason) => self.cancelled("insert of an access key", reason),
                None => sdk_error("TransactWriteItems", &e),
            }),
        }
    }

    /// One attempt of `delete_access_key`: both items, if the key's own item still exists.
    async fn try_delete_key(&self, access_key_id: &str) -> Result<bool, RepositoryError> {
        let Some(record) = self.get_access_key(access_key_id).await? else {
            return Ok(false);
        };
        let actions = vec![
            self.delete_action(access_key_key(access_key_id), Some(Expect::Present))?,
            self.delete_action(
                user_key_key(&record.account, &record.user_name, access_key_id),
                None,
            )?,
        ];
        match self.table.transact(actions).await {
            Ok(()) => Ok(true),
            Err(e) => match cancellation(&e) {
                // Deleted by someone else between the read and the write.
                Some(Cancelled::ConditionFailed(_)) => Ok(false),
                Some(Cancelled::Conflict) => Err(RepositoryError::Conflict),
                Some(reason) => Err(self.cancelled("delete of an access key", reason)),
                None => Err(sdk_error("TransactWriteItems", &e)),
            },
        }
    }

    /// A cancelled transaction that is neither a failed condition nor a conflict.
    fn cancelled(&self, what: &str, reason: Cancelled) -> RepositoryError {
        match reason {
            Cancelled::Throttled(text) => {
                tracing::warn!(reasons = %text, "{what}: transaction throttled");
                RepositoryError::Throttled(format!("DynamoDB TransactWriteItems: {text}"))
            }
            other => {
                tracing::error!(reasons = ?other, "{what}: transaction cancelled");
                RepositoryError::Unavailable(format!(
                    "DynamoDB TransactWriteItems ({what}) was cancelled: {other:?}"
                ))
            }
        }
    }
}

#[async_trait]
impl PrincipalStore for DynamoDbPrincipalStore {
    fn key_region(&self) -> &str {
        &self.key_region
    }

    async fn insert_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        match self
            .put_item(principal_item(record)?, Expect::Absent)
            .await?
        {
            true => Ok(()),
            false => Err(RepositoryError::NameTaken),
        }
    }

    async fn put_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        match self
            .put_item(principal_item(record)?, Expect::Present)
            .await?
        {
            true => Ok(()),
            false => Err(RepositoryError::Conflict),
        }
    }

    async fn get_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<Option<PrincipalRecord>, RepositoryError> {
        let item = self
            .table
            .get_item(principal_key(account, kind, name), None)
            .await?;
        item.map(|item| decode_principal(&item, account, kind))
            .transpose()
    }

    async fn delete_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<bool, RepositoryError> {
        self.delete_item(principal_key(account, kind, name)).await
    }

    async fn list_principals(
        &self,
        account: &str,
        kind: PrincipalType,
    ) -> Result<Vec<PrincipalRecord>, RepositoryError> {
        let items = self.partition(&principals_pk(account, kind)).await?;
        items
            .iter()
            .map(|item| decode_principal(item, account, kind))
            .collect()
    }

    async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), RepositoryError> {
        retry_transaction_conflicts("insert of an access key", || self.try_insert_key(key)).await
    }

    async fn get_access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyRecord>, RepositoryError> {
        let item = self
            .table
            .get_item(access_key_key(access_key_id), None)
            .await?;
        item.as_ref().map(decode_access_key).transpose()
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, RepositoryError> {
        retry_transaction_conflicts("delete of an access key", || {
            self.try_delete_key(access_key_id)
        })
        .await
    }

    async fn list_access_keys(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Vec<AccessKeyRecord>, RepositoryError> {
        let items = self.partition(&user_keys_pk(account, user_name)).await?;
        items.iter().map(decode_access_key).collect()
    }
}
