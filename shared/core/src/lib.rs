//! `coffer-core`: the pure domain of Coffer, a wire-compatible AWS Secrets Manager.
//!
//! Data path: `coffer-wire` authenticates a request and hands the operation name and body to
//! [`service::SecretsService::handle`], which decodes the typed request of [`api`], runs the
//! operation (validate -> repository -> key provider -> envelope [`crypto`]) and emits exactly
//! one audit event and its metrics through the [`ports`]. The [`audit`] module also holds the
//! hash chain and signed digests that make an audit stream tamper-evident. Nothing here touches the network, the
//! filesystem, the environment or the clock directly.

pub mod api;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod filters;
pub mod identity;
pub mod ids;
pub mod keycache;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod operation;
pub mod paging;
pub mod password;
pub mod policy_actions;
pub mod ports;
pub mod redact;
pub mod rotation;
pub mod service;
pub mod value;

pub use error::{Error, Result};
