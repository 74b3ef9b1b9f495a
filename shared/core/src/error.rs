//! The one error type of the core. Every variant is an AWS Secrets Manager error code; the wire
//! layer maps each to its `__type` and HTTP status with an exhaustive match, so a new variant cannot
//! ship unmapped. Messages are safe to show a client: they never carry a secret value or key.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    ResourceExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PublicPolicy(String),
    #[error("{0}")]
    PreconditionNotMet(String),
    #[error("{0}")]
    EncryptionFailure(String),
    #[error("{0}")]
    DecryptionFailure(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Throttling(String),
    #[error("{0}")]
    InternalServiceError(String),
    /// The body is not valid JSON for the operation (AWS's protocol-level `SerializationException`).
    #[error("{0}")]
    Serialization(String),
    /// The `X-Amz-Target` names no operation.
    #[error("{0}")]
    UnknownOperation(String),
    /// A member breaks a constraint of the model (AWS's protocol-level `ValidationException`,
    /// e.g. a secret name with a character outside `[A-Za-z0-9/_+=.@!-]`).
    #[error("{0}")]
    Validation(String),
}

impl Error {
    /// The AWS error code, as sent in `__type`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ResourceNotFound(_) => "ResourceNotFoundException",
            Error::InvalidParameter(_) => "InvalidParameterException",
            Error::InvalidRequest(_) => "InvalidRequestException",
            Error::ResourceExists(_) => "ResourceExistsException",
            Error::LimitExceeded(_) => "LimitExceededException",
            Error::InvalidNextToken(_) => "InvalidNextTokenException",
            Error::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            Error::PublicPolicy(_) => "PublicPolicyException",
            Error::PreconditionNotMet(_) => "PreconditionNotMetException",
            Error::EncryptionFailure(_) => "EncryptionFailure",
            Error::DecryptionFailure(_) => "DecryptionFailure",
            Error::AccessDenied(_) => "AccessDeniedException",
            Error::Throttling(_) => "ThrottlingException",
            Error::InternalServiceError(_) => "InternalServiceError",
            Error::Serialization(_) => "SerializationException",
            Error::UnknownOperation(_) => "UnknownOperationException",
            Error::Validation(_) => "ValidationException",
        }
    }

    /// The client-safe message.
    pub fn message(&self) -> &str {
        match self {
            Error::ResourceNotFound(m)
            | Error::InvalidParameter(m)
            | Error::InvalidRequest(m)
            | Error::ResourceExists(m)
            | Error::LimitExceeded(m)
            | Error::InvalidNextToken(m)
            | Error::MalformedPolicyDocument(m)
            | Error::PublicPolicy(m)
            | Error::PreconditionNotMet(m)
            | Error::EncryptionFailure(m)
            | Error::DecryptionFailure(m)
            | Error::AccessDenied(m)
            | Error::Throttling(m)
            | Error::InternalServiceError(m)
            | Error::Serialization(m)
            | Error::UnknownOperation(m)
            | Error::Validation(m) => m,
        }
    }

    pub fn invalid_parameter(msg: impl Into<String>) -> Self {
        Error::InvalidParameter(msg.into())
    }

    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }

    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::ResourceNotFound(msg.into())
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Error::InternalServiceError(msg.into())
    }
}

/// A policy the engine refuses keeps its message and becomes the AWS error it always was: a
/// grammar problem `MalformedPolicyDocumentException`. (A public policy under
/// `BlockPublicPolicy` is refused by PutResourcePolicy itself, as `PublicPolicyException`.) The
/// match is exhaustive, so a new engine error cannot ship unmapped.
impl From<coffer_policy::PolicyError> for Error {
    fn from(e: coffer_policy::PolicyError) -> Self {
        match e {
            coffer_policy::PolicyError::Malformed(m) => Error::MalformedPolicyDocument(m),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_errors_keep_their_aws_code_and_message() {
        let malformed =
            Error::from(coffer_policy::parse_policy(r#"{"Version":"2012-10-17"}"#).unwrap_err());
        assert_eq!(malformed.code(), "MalformedPolicyDocumentException");
        assert_eq!(
            malformed.message(),
            "This resource policy contains a syntax error: the policy document must contain a \
             Statement."
        );
    }
}
