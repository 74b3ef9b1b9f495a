//! Rotation functions for PostgreSQL and MySQL/MariaDB (the engines behind RDS and Aurora).
//!
//! Where this sits: at the far end of a rotation. Coffer's rotation driver (or AWS Secrets
//! Manager itself) invokes a rotation function four times with AWS's rotation event
//! ([`RotationStepEvent`]); the function calls the Secrets Manager API back *like any client*
//! (DescribeSecret, GetSecretValue, GetRandomPassword, PutSecretValue,
//! UpdateSecretVersionStage) and changes the password in the database. The same code runs as the
//! `coffer-rotator-postgres` / `coffer-rotator-mysql` Lambda functions and in-process in the
//! local `coffer` binary: both call [`Rotator::handle`].
//!
//! The behaviour is that of AWS's rotation templates (`SecretsManagerRDSPostgreSQLRotation*`,
//! `SecretsManagerRDSMySQLRotation*`), with the secret JSON they expect: `engine`, `host`,
//! `port`, `username`, `password`, `dbname`, and `masterarn` for the alternating-users strategy.
//! One rotator serves both strategies: an AWSCURRENT value with a `masterarn` field rotates with
//! alternating users (`name` / `name_clone`, created by the master user), any other value rotates
//! the single user's own password.
//!
//! Modules, each with one job:
//! - [`template`]: the four steps, engine-agnostic (what AWS's templates do, in order);
//! - [`secrets`]: the Secrets Manager calls the steps make;
//! - [`secret`]: the secret JSON (parsing, the fields a login needs, zeroized on drop);
//! - [`engine`]: the small trait a database engine implements, with [`engine::postgres`] and
//!   [`engine::mysql`];
//! - [`tls`]: certificate roots for TLS to the database;
//! - [`config`]: settings read once at cold start (password policy, API client);
//! - `lambda` (feature `lambda`): the Lambda runtime loop of the `rotator-*` functions.
//!
//! Cargo features `postgres` and `mysql` (both by default) build the engines' drivers in; each
//! rotator-* function enables only its own, and a step for an engine a build lacks fails with
//! [`StepErrorKind::EngineNotBuilt`].
//!
//! No password ever reaches an error, a log line or a panic message: errors name the step, the
//! user and the host, and database errors from statements that carry a password are reduced to
//! their SQLSTATE / error code.

pub mod config;
pub mod engine;
pub mod error;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod secret;
pub mod secrets;
pub mod template;
pub mod tls;

pub use coffer_core::ports::{RotationStep, RotationStepEvent};
pub use config::{secrets_manager_client, ClientSettings, ConfigError, PasswordSettings};
pub use engine::DbError;
pub use engine::Engine;
pub use error::{RotatorError, StepErrorKind};
pub use template::Rotator;
pub use tls::TlsSettings;
