//! The one error type of the policy engine.
//!
//! Data path: the service parses and checks a policy while it handles PutResourcePolicy,
//! ValidateResourcePolicy, an admin call storing an identity or trust policy, or while it
//! authorizes a call against stored policies; a problem is a [`PolicyError`], which coffer-core
//! turns into its `MalformedPolicyDocumentException` or `PublicPolicyException` with the message
//! unchanged. Messages are safe to show a client: they quote the document's structure, never a
//! secret value.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The document breaks the policy grammar (AWS's `MalformedPolicyDocumentException`).
    #[error("{0}")]
    Malformed(String),
    /// The document grants public access while `BlockPublicPolicy` is set (AWS's
    /// `PublicPolicyException`).
    #[error("{0}")]
    Public(String),
}

impl PolicyError {
    /// The message, as the client reads it.
    pub fn message(&self) -> &str {
        match self {
            PolicyError::Malformed(m) | PolicyError::Public(m) => m,
        }
    }
}

pub type Result<T, E = PolicyError> = std::result::Result<T, E>;
