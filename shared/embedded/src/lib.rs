//! `coffer-embedded`: the adapters that let Coffer run as one process on one machine: the
//! SQLite `SecretRepository`, the keyring-file `KeyProvider`, the JSON-lines `AuditSink`, the
//! in-process `MetricsSink`, and the system clock and CSPRNG.
//!
//! The SQLite repository is behind the default cargo feature `sqlite`. The Lambda functions
//! depend on this crate without it (`default-features = false`): they need only the host
//! primitives (`SystemClock`, `OsRandom`, `TokioSleeper`, `JsonLinesAuditSink::stdout`), and
//! their bootstraps then do not link SQLite.
pub mod audit_log;
pub mod keyring;
pub mod metrics;
pub mod random;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod system_clock;

pub use keyring::{FileKeyring, KeyMetadata, KeyringError};
pub use random::OsRandom;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSecretRepository;
pub use system_clock::{SystemClock, TokioSleeper};
