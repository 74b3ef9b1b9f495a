//! PostgreSQL (and Aurora PostgreSQL), as AWS's `SecretsManagerRDSPostgreSQLRotation*`
//! templates do it: `ALTER USER ... WITH PASSWORD` for a single user; for alternating users the
//! master creates the clone with `CREATE ROLE clone WITH LOGIN PASSWORD ...` and
//! `GRANT original TO clone` (so the clone holds exactly the original's privileges), or alters
//! its password when it exists.
//!
//! Where this sits: the [`super::Database`] the template uses for `engine: postgres`. One
//! difference from the templates, for safety: the password is sent as a SCRAM-SHA-256 verifier
//! computed here (as `psql`'s `\password` does), so the clear password is never in a statement,
//! on the wire or in a server log. PostgreSQL 10 or later is needed (RDS supports nothing older).

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

use super::{error_chain, Database, DbError, Login, Session, TlsMode};
use crate::tls::TlsSettings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Postgres {
    tls: MakeRustlsConnect,
}

impl Postgres {
    pub(crate) fn new(tls: &TlsSettings) -> Self {
        Postgres {
            tls: MakeRustlsConnect::new(tls.client_config().clone()),
        }
    }
}

#[async_trait]
impl Database for Postgres {
    fn default_port(&self) -> u16 {
        5432
    }

    fn max_username_len(&self) -> usize {
        // NAMEDATALEN - 1, as AWS's template checks.
        63
    }

    async fn connect(&self, login: &Login<'_>) -> Result<Box<dyn Session>, DbError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(login.host)
            .port(login.port)
            .user(login.user)
            .password(login.password)
            .dbname(login.dbname.unwrap_or("postgres"))
            .application_name("coffer-rotator")
            .connect_timeout(CONNECT_TIMEOUT)
            // Prefer: TLS if the server answers the SSLRequest with `S` (a failing handshake
            // or certificate is an error), plain text only if it answers `N`.
            .ssl_mode(match login.tls {
                TlsMode::Prefer => SslMode::Prefer,
                TlsMode::Require => SslMode::Require,
                TlsMode::Disable => SslMode::Disable,
            });
        let (client, connection) = config
            .connect(self.tls.clone())
            .await
            .map_err(connect_error)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended");
            }
        });
        Ok(Box::new(PgSession { client }))
    }
}

struct PgSession {
    client: Client,
}

#[async_trait]
impl Session for PgSession {
    async fn change_own_password(&mut self, user: &str, password: &str) -> Result<(), DbError> {
        let statement = alter_password(user, password);
        self.client
            .batch_execute(&statement)
            .await
            .map_err(statement_error)
    }

    async fn upsert_clone(
        &mut self,
        original: &str,
        clone: &str,
        password: &str,
    ) -> Result<(), DbError> {
        let tx = self.client.transaction().await.map_err(statement_error)?;
        let exists = tx
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&clone])
            .await
            .map_err(statement_error)?
            .is_some();
        let statement = if exists {
            alter_password(clone, password)
        } else {
            Zeroizing::new(format!(
                "CREATE ROLE {clone} WITH LOGIN PASSWORD {verifier}; GRANT {original} TO {clone}",
                clone = quote_ident(clone),
                original = quote_ident(original),
                verifier = quote_literal(&scram_verifier(password)).as_str(),
            ))
        };
        tx.batch_execute(&statement)
            .await
            .map_err(statement_error)?;
        tx.commit().await.map_err(statement_error)
    }

    async fn check(&mut self) -> Result<(), DbError> {
        self.client
            .simple_query("SELECT NOW()")
            .await
            .map(drop)
            .map_err(statement_error)
    }

    async fn close(self: Box<Self>) {
        // Dropping the client closes the connection; the spawned task then ends.
    }
}

fn alter_password(user: &str, password: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "ALTER USER {} WITH PASSWORD {}",
        quote_ident(user),
        quote_literal(&scram_verifier(password)).as_str()
    ))
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (random salt).
fn scram_verifier(password: &str) -> Zeroizing<String> {
    Zeroizing::new(postgres_protocol::password::scram_sha_256(
        password.as_bytes(),
    ))
}

/// A quoted identifier (`quote_ident`, always quoting: the name is taken exactly as written).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An escape string literal (`E'...'`): correct whatever `standard_conforming_strings` says.
fn quote_literal(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 3));
    out.push_str("E'");
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn connect_error(e: tokio_postgres::Error) -> DbError {
    match e.code() {
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            DbError::Refused(server_message(&e))
        }
        _ => DbError::Connect(server_message(&e)),
    }
}

/// A failed statement: its SQLSTATE, and the server's message unless it is a syntax error
/// (whose message quotes the statement, which carries a password verifier).
fn statement_error(e: tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) if *db.code() == SqlState::SYNTAX_ERROR => {
            DbError::Statement(format!("SQLSTATE {} (syntax error)", db.code().code()))
        }
        Some(db) => DbError::Statement(format!("SQLSTATE {}: {}", db.code().code(), db.message())),
        None => DbError::Connect(error_chain(&e)),
    }
}

fn server_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error_chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn quote_literal_escapes_quotes_and_backslashes() {
        assert_eq!(quote_literal("a'b\\c").as_str(), "E'a''b\\\\c'");
    }

    #[test]
    fn alter_password_carries_a_verifier_not_the_password() {
        let statement = alter_password("app", "Pa55-word!");
        assert!(statement.starts_with("ALTER USER \"app\" WITH PASSWORD E'SCRAM-SHA-256$4096:"));
        assert!(!statement.contains("Pa55-word!"));
    }
}
