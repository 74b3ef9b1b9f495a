//! `coffer-testkit`: port contract suites and in-memory fakes.
pub mod key_fake;
pub mod key_provider_contract;

pub use key_fake::{InMemoryKeyProvider, KeyOp};
