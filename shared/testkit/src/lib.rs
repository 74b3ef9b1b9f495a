//! `coffer-testkit`: port contract suites and in-memory fakes (a dev-dependency only; nothing in a
//! shipped binary links it).
//!
//! Place in the data path: none at run time. Every adapter of a core port (`coffer-embedded`'s
//! SQLite repository, `coffer-aws`'s DynamoDB repository, ...) runs the port's contract suite
//! here, so the core can rely on one behaviour whatever the storage; the core's own service tests
//! run on the in-memory fakes, which pass the same suites.
//!
//! - [`memory::InMemorySecretRepository`]: a faithful fake of `SecretRepository`.
//! - [`repository_contract`]: the `SecretRepository` contract (`run_all` or one case at a time).
//! - [`key_fake::InMemoryKeyProvider`]: a fake of `KeyProvider` with KMS's key identities.
//! - [`key_provider_contract`]: the `KeyProvider` contract (`run_all` or one case at a time).
//! - [`principal_fake::InMemoryPrincipalStore`]: a fake of `PrincipalStore`.
//! - [`principal_store_contract`]: the `PrincipalStore` contract (`run_all` or one case at a time).
//! - [`builders`]: small builders of records, values and ids that tests share.
//! - [`fakes`]: a recording audit sink, a hand-moved clock, counting random bytes, null metrics.

pub mod builders;
pub mod fakes;
pub mod key_fake;
pub mod key_provider_contract;
pub mod memory;
pub mod principal_fake;
pub mod principal_store_contract;
pub mod repository_contract;

pub use key_fake::{InMemoryKeyProvider, KeyOp};
pub use memory::{InMemorySecretRepository, RepoOp};
pub use principal_fake::InMemoryPrincipalStore;
