//! `coffer-embedded`: adapters for one machine.
pub mod keyring;
pub mod random;
pub mod sqlite;
pub mod system_clock;

pub use keyring::{FileKeyring, KeyMetadata, KeyringError};
pub use random::OsRandom;
pub use sqlite::SqliteSecretRepository;
pub use system_clock::SystemClock;
