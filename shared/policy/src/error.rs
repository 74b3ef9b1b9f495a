//! The one error type of the policy engine.
//!
//! Data path: the service parses and checks a policy while it handles PutResourcePolicy,
//! ValidateResourcePolicy, an admin call storing an identity or trust policy, or while it
//! authorizes a call against stored policies; a problem is a [`PolicyError`], which coffer-core
//! turns into its `MalformedPolicyDocumentException` with the message unchanged. (A public
//! policy under `BlockPublicPolicy` is not an engine error: the engine answers
//! `grants_public_access`, and the service words AWS's `PublicPolicyException`.) Messages are safe to show a client: they quote the document's structure, never a
//! secret value.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The document breaks the policy grammar (AWS's `MalformedPolicyDocumentException`).
    #[error("{0}")]
    Malformed(String),
}

impl PolicyError {
    /// The message, as the client reads it.
    pub fn message(&self) -> &str {
        match self {
            PolicyError::Malformed(m) => m,
        }
    }
}

pub type Result<T, E = PolicyError> = std::result::Result<T, E>;
