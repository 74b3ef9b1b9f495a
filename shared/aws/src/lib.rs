//! `coffer-aws`: the adapters of Coffer's core ports on the AWS SDK for Rust (`aws-sdk-*`).
//!
//! Place in the data path: in AWS mode (the Lambda functions, and `coffer serve --backend aws`)
//! these adapters stand where `coffer-embedded`'s stand on one machine. The core service calls
//! the ports; the adapters turn each call into AWS requests and the SDK's errors into the port's
//! error enums at the call site:
//!
//! `wire -> core service -> [SecretRepository = DynamoDB] -> [KeyProvider = KMS] -> envelope crypto`
//!
//! - [`dynamodb`]: `DynamoDbSecretRepository`, the `SecretRepository` on one DynamoDB table
//!   (single-table design; see `docs/dynamodb-design.md`), and `create_table` for `coffer init-table`.
//! - [`kms`]: `KmsKeyProvider`, the `KeyProvider` on AWS KMS (data keys, key resolution).
//! - [`lambda_invoke`]: `LambdaRotationInvoker` / `LambdaRotationFunction`, rotation through
//!   Lambda `Invoke`.
//! - [`audit_cloudwatch`], [`audit_eventbridge`], [`audit_batch`]: the audit sinks;
//!   [`audit_cloudwatch_digests`] with [`audit_digest_kms`] sign each CloudWatch Logs stream's
//!   head (KMS `GenerateMac`), and [`audit_verify_logs`] checks a log group
//!   (`coffer audit verify <log group>`).
//! - [`wiring`]: the whole AWS side (`Ports`) from configuration, shared by the Lambda functions
//!   and `coffer serve --backend aws`; [`lambda_init`]: a clean cold-start failure.
//!
//! This crate depends on `coffer-core` only (never on `coffer-wire` or `coffer-embedded`), and is
//! not a default member of the workspace: the default local build does not compile AWS SDK crates.

pub mod audit_batch;
pub mod audit_cloudwatch;
pub mod audit_cloudwatch_digests;
pub mod audit_digest_kms;
pub mod audit_eventbridge;
pub mod audit_verify_logs;
pub mod dynamodb;
pub mod emf;
pub mod kms;
pub mod lambda_init;
pub mod lambda_invoke;
pub mod metrics_cloudwatch;
pub mod sts_caller_identity;
pub mod wiring;
