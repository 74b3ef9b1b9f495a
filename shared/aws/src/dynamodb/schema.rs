//! The table: its key schema, its three global secondary indexes, and [`create_table`], which
//! `coffer init-table` runs (CloudFormation / CDK create the same table in a deployment; keep
//! `infra/` in step with this file).

use super::errors::sdk_error;
use super::item::{
    ARN, LAST_ACCESSED, NAME, PK, PURGE_AT, PURGE_PK, RECORD_DEFLATED, RECORD_JSON, REV,
    ROTATION_AT, ROTATION_PK, SCOPE, SK, VERSION_ACCESS,
};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use coffer_core::ports::RepositoryError;
use std::time::Duration;

/// `list(scope)`: partition `scope`, sort `sname`; projects what a record needs, not the
/// AWSCURRENT envelope copy.
pub const INDEX_BY_SCOPE: &str = "by_scope";
/// Sparse: secrets with rotation enabled, by next rotation (epoch ms).
pub const INDEX_BY_ROTATION: &str = "by_rotation";
/// Sparse: secrets scheduled for deletion, by end of the recovery window (epoch ms).
pub const INDEX_BY_PURGE: &str = "by_purge";

/// How long `create_table` waits for the table and its indexes to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
const ACTIVE_POLL: Duration = Duration::from_millis(500);

/// What `create_table` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSetup {
    Created,
    /// A table of that name existed with Coffer's keys and indexes; it was left as it was.
    AlreadyExisted,
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> RepositoryError {
    RepositoryError::Unavailable(format!("invalid CreateTable request: {e}"))
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, RepositoryError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn attribute(name: &str, t: ScalarAttributeType) -> Result<AttributeDefinition, RepositoryError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .map_err(build_error)
}

fn index(
    name: &str,
    hash: &str,
    range: &str,
    projected: &[&str],
) -> Result<GlobalSecondaryIndex, RepositoryError> {
    let projection = Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(projected.iter().map(|s| s.to_string()).collect()))
        .build();
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(hash, KeyType::Hash)?)
        .key_schema(key_element(range, KeyType::Range)?)
        .projection(projection)
        .build()
        .map_err(build_error)
}

/// Creates the table `table` with its indexes (on-demand capacity) and waits until the table and
/// every index are ACTIVE. If the table already exists, checks that it has Coffer's key schema
/// and indexes and leaves it alone.
pub async fn create_table(client: &Client, table: &str) -> Result<TableSetup, RepositoryError> {
    use ScalarAttributeType::{N, S};
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .set_attribute_definitions(Some(vec![
            attribute(PK, S)?,
            attribute(SK, S)?,
            attribute(SCOPE, S)?,
            attribute(NAME, S)?,
            attribute(ROTATION_PK, S)?,
            attribute(ROTATION_AT, N)?,
            attribute(PURGE_PK, S)?,
            attribute(PURGE_AT, N)?,
        ]))
        .global_secondary_indexes(index(
            INDEX_BY_SCOPE,
            SCOPE,
            NAME,
            &[
                ARN,
                REV,
                RECORD_JSON,
                RECORD_DEFLATED,
                LAST_ACCESSED,
                VERSION_ACCESS,
            ],
        )?)
        .global_secondary_indexes(index(INDEX_BY_ROTATION, ROTATION_PK, ROTATION_AT, &[ARN])?)
        .global_secondary_indexes(index(INDEX_BY_PURGE, PURGE_PK, PURGE_AT, &[ARN])?)
        .send()
        .await;
    let setup = match created {
        Ok(_) => TableSetup::Created,
        Err(e) if e.code() == Some("ResourceInUseException") => TableSetup::AlreadyExisted,
        Err(e) => return Err(sdk_error("CreateTable", &e)),
    };
    wait_until_active(client, table).await?;
    Ok(setup)
}

/// Polls `DescribeTable` until the table and all its indexes are ACTIVE, checking the schema.
async fn wait_until_active(client: &Client, table: &str) -> Result<(), RepositoryError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", &e))?;
        let Some(t) = described.table() else {
            return Err(RepositoryError::Unavailable(format!(
                "DescribeTable of {table} returned no table"
            )));
        };
        let keys: Vec<(&str, &KeyType)> = t
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type()))
            .collect();
        if keys != [(PK, &KeyType::Hash), (SK, &KeyType::Range)] {
            return Err(RepositoryError::Unavailable(format!(
                "table {table} exists but its key is not ({PK} HASH, {SK} RANGE): not a Coffer table"
            )));
        }
        let indexes = t.global_secondary_indexes();
        for wanted in [INDEX_BY_SCOPE, INDEX_BY_ROTATION, INDEX_BY_PURGE] {
            if !indexes.iter().any(|i| i.index_name() == Some(wanted)) {
                return Err(RepositoryError::Unavailable(format!(
                    "table {table} has no index {wanted}"
                )));
            }
        }
        let table_active = t.table_status() == Some(&TableStatus::Active);
        let indexes_active = indexes
            .iter()
            .all(|i| i.index_status().is_none_or(|s| s == &IndexStatus::Active));
        if table_active && indexes_active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RepositoryError::Unavailable(format!(
                "table {table} did not become ACTIVE within {} s",
                ACTIVE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(ACTIVE_POLL).await;
    }
}
