//! `coffer-embedded`: the adapters that let Coffer run as one process on one machine: the
//! SQLite `SecretRepository`, the keyring-file `KeyProvider`, the JSON-lines `AuditSink`, the
//! in-process `MetricsSink`, and the system clock and CSPRNG.
pub mod audit_log;
pub mod keyring;
pub mod metrics;
pub mod random;
pub mod sqlite;
pub mod system_clock;

pub use keyring::{FileKeyring, KeyMetadata, KeyringError};
pub use random::OsRandom;
pub use sqlite::SqliteSecretRepository;
pub use system_clock::{SystemClock, TokioSleeper};
