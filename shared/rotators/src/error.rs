//! The error a rotation step returns. It travels back to the rotation driver (as a Lambda
//! function error, or in-process) and into its audit event, so it names the step, the secret,
//! the user and the host, and never carries a password: database errors are built by
//! [`crate::engine`] from error codes and server messages that do not echo statements.

use coffer_core::ports::RotationStep;
use thiserror::Error;

use crate::engine::{DbError, EngineNotBuilt};

/// A rotation step failed.
#[derive(Debug, Error)]
#[error("{step} failed for secret {secret_id}: {kind}")]
pub struct RotatorError {
    pub step: RotationStep,
    pub secret_id: String,
    pub kind: StepErrorKind,
}

/// Why a step failed. The texts of the staging checks are those of AWS's templates.
#[derive(Debug, Error)]
pub enum StepErrorKind {
    /// The rotator's engine is not built into this binary (checked before any API call).
    #[error("{0}")]
    EngineNotBuilt(EngineNotBuilt),
    #[error("Secret {arn} is not enabled for rotation")]
    RotationNotEnabled { arn: String },
    #[error("Secret version {token} has no stage for rotation of secret {arn}.")]
    NoStage { token: String, arn: String },
    #[error("Secret version {token} not set as AWSPENDING for rotation of secret {arn}.")]
    NotPending { token: String, arn: String },
    /// A Secrets Manager call failed (its error code and the server's message).
    #[error("{operation}: {code}: {message}")]
    Api {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// A secret value is not the JSON the rotator needs (names the field, not its value).
    #[error("the {stage} value of secret {secret} {problem}")]
    SecretValue {
        stage: String,
        secret: String,
        problem: String,
    },
    #[error("Attempting to modify user {pending} other than current user {current}")]
    UserMismatch { pending: String, current: String },
    #[error("Attempting to modify user for host {pending} other than current host {current}")]
    HostMismatch { pending: String, current: String },
    #[error("Current database host {current} is not the same host as master {master}")]
    MasterHostMismatch { current: String, master: String },
    #[error("Unable to clone user {user}: the alternate username would exceed {max} characters")]
    UsernameTooLong { user: String, max: usize },
    /// No credentials of the secret log in (the last attempt's reason).
    #[error("Unable to log into {host} as {user} with the {credentials} credentials: {cause}")]
    Login {
        credentials: &'static str,
        user: String,
        host: String,
        cause: DbError,
    },
    /// A statement failed (only its action is named; the statement carried a password).
    #[error("{action} for user {user} on {host} failed: {cause}")]
    Database {
        action: &'static str,
        user: String,
        host: String,
        cause: DbError,
    },
}
