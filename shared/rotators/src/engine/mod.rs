//! The database side of a rotation, behind a small trait: log in, change the logged-in user's
//! own password (single user), create or update the clone user as the master user (alternating
//! users), and run a trivial query (testSecret).
//!
//! Where this sits: [`crate::template`] decides *what* to do in each step; an engine
//! ([`postgres`], [`mysql`]) knows *how* to say it to its server: identifier quoting, password
//! literals, privilege copying, TLS negotiation. Statement errors that could echo a statement
//! (syntax errors) are reduced to their error code, since statements carry passwords.
//!
//! Each engine's driver is behind a cargo feature of this crate (`postgres`, `mysql`), so a
//! rotator-* bootstrap links only its own. [`Engine`] always names both: an engine a build
//! lacks is refused by [`Engine::database`] with [`EngineNotBuilt`], which a rotation step
//! reports as its error (never a panic).

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

use async_trait::async_trait;
use thiserror::Error;

use crate::tls::TlsSettings;

/// The database engines Coffer has rotators for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// PostgreSQL and Aurora PostgreSQL (`engine`: `postgres`, `aurora-postgresql`).
    Postgres,
    /// MySQL, MariaDB and Aurora MySQL (`engine`: `mysql`, `mariadb`, `aurora-mysql`,
    /// `aurora`).
    MySql,
}

impl Engine {
    /// The built-in rotator's name (`coffer-rotator-postgres`, `coffer-rotator-mysql`).
    pub fn rotator_name(self) -> &'static str {
        match self {
            Engine::Postgres => "coffer-rotator-postgres",
            Engine::MySql => "coffer-rotator-mysql",
        }
    }

    /// The `engine` values of the secret JSON this engine rotates (AWS's templates refuse any
    /// other).
    pub fn secret_engines(self) -> &'static [&'static str] {
        match self {
            Engine::Postgres => &["postgres", "aurora-postgresql"],
            Engine::MySql => &["mysql", "mariadb", "aurora-mysql", "aurora"],
        }
    }

    /// The cargo feature of `coffer-rotators` that builds this engine's driver in.
    pub fn cargo_feature(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
        }
    }

    /// Whether this build has the engine's driver (its [`Engine::cargo_feature`]).
    pub fn is_built(self) -> bool {
        match self {
            Engine::Postgres => cfg!(feature = "postgres"),
            Engine::MySql => cfg!(feature = "mysql"),
        }
    }

    /// The engine's driver, or [`EngineNotBuilt`] when this build lacks it.
    pub(crate) fn database(self, tls: &TlsSettings) -> Result<Box<dyn Database>, EngineNotBuilt> {
        match self {
            Engine::Postgres => postgres_database(tls),
            Engine::MySql => mysql_database(tls),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_database(tls: &TlsSettings) -> Result<Box<dyn Database>, EngineNotBuilt> {
    Ok(Box::new(postgres::Postgres::new(tls)))
}

#[cfg(not(feature = "postgres"))]
fn postgres_database(_: &TlsSettings) -> Result<Box<dyn Database>, EngineNotBuilt> {
    Err(EngineNotBuilt(Engine::Postgres))
}

#[cfg(feature = "mysql")]
fn mysql_database(tls: &TlsSettings) -> Result<Box<dyn Database>, EngineNotBuilt> {
    Ok(Box::new(mysql::MySql::new(tls)))
}

#[cfg(not(feature = "mysql"))]
fn mysql_database(_: &TlsSettings) -> Result<Box<dyn Database>, EngineNotBuilt> {
    Err(EngineNotBuilt(Engine::MySql))
}

/// A rotator was asked for an engine whose driver this build does not have (the rotator-*
/// functions build only their own engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "this build has no {} engine (cargo feature `{}` of coffer-rotators); secrets with engine \
     {:?} are rotated by {}",
    .0.cargo_feature(),
    .0.cargo_feature(),
    .0.secret_engines(),
    .0.rotator_name()
)]
pub struct EngineNotBuilt(pub Engine);

/// How to use TLS for one login (the secret's optional `ssl` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS when the server offers it, plain text only when the server does not support TLS.
    Prefer,
    /// TLS or no connection.
    Require,
    /// Plain text.
    Disable,
}

/// The credentials and address of one login.
pub struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
    pub dbname: Option<&'a str>,
    pub tls: TlsMode,
}

/// A database error, safe to show: never a password or a statement.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DbError {
    /// The server refused the credentials (its message names the user, not the password).
    #[error("the server refused the login: {0}")]
    Refused(String),
    /// No session: the host is unreachable, TLS failed, the server closed the connection...
    #[error("could not connect: {0}")]
    Connect(String),
    /// A statement failed: its error code, and the server's message unless the message could
    /// quote the statement.
    #[error("{0}")]
    Statement(String),
}

/// `error` and its sources, `: `-separated (drivers keep the useful part, such as a certificate
/// error under "error performing TLS handshake", in the sources).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One engine: how to log in.
#[async_trait]
pub trait Database: Send + Sync {
    /// The port when the secret names none.
    fn default_port(&self) -> u16;
    /// The longest user name the engine accepts (the clone's name must fit).
    fn max_username_len(&self) -> usize;
    /// Logs in (TLS as [`TlsMode`] says).
    async fn connect(&self, login: &Login<'_>) -> Result<Box<dyn Session>, DbError>;
}

/// A logged-in session.
#[async_trait]
pub trait Session: Send {
    /// Changes the password of the logged-in user `user` (single-user strategy).
    async fn change_own_password(&mut self, user: &str, password: &str) -> Result<(), DbError>;
    /// As the master user: creates `clone` with `original`'s privileges and `password` when it
    /// does not exist, else sets its password (alternating-users strategy).
    async fn upsert_clone(
        &mut self,
        original: &str,
        clone: &str,
        password: &str,
    ) -> Result<(), DbError>;
    /// A trivial query (`SELECT NOW()`), proving the session works.
    async fn check(&mut self) -> Result<(), DbError>;
    /// Ends the session politely.
    async fn close(self: Box<Self>);
}
