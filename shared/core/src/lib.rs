//! `coffer-core`: the pure domain of Coffer, a wire-compatible AWS Secrets Manager.
//!
//! Data path: `wire` decodes a request into the typed requests of [`api`], the [`service`] runs the
//! operation (validate -> repository -> key provider -> envelope crypto) and emits exactly one audit
//! event and its metrics through the ports in [`ports`]. Nothing here touches the network, the
//! filesystem, the environment or the clock directly.

pub mod clock;
pub mod error;
pub mod password;
pub mod policy;
pub mod schedule;

pub use error::{Error, Result};
