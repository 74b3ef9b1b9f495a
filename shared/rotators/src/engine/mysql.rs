//! MySQL, MariaDB and Aurora MySQL, as AWS's `SecretsManagerRDSMySQLRotation*` (and
//! `...MariaDBRotation*`) templates do it: `SET PASSWORD = ...` for a single user; for
//! alternating users the master runs `CREATE USER clone IDENTIFIED BY ...` when the clone is
//! missing, replays `SHOW GRANTS FOR original` for the clone (every time, so the clone keeps the
//! original's privileges), and `SET PASSWORD FOR clone = ...`. Users are `'name'@'%'`, as in the
//! templates. `PASSWORD(...)` wraps the new password on MariaDB and MySQL 5.x, a plain literal on
//! MySQL 8 (which removed `PASSWORD()`).
//!
//! Where this sits: the [`super::Database`] the template uses for `engine: mysql` / `mariadb`.
//! Password literals are escaped for the session's `sql_mode` (with or without
//! `NO_BACKSLASH_ESCAPES`), since utility statements take no bound parameters.

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, OptsBuilder, SslOpts};
use zeroize::Zeroizing;

use super::{error_chain, Database, DbError, Login, Session, TlsMode};
use crate::tls::{install_default_provider, TlsSettings};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
const LOGIN_REFUSED: [u16; 3] = [1045, 1044, 1698];
/// ER_PARSE_ERROR, ER_SYNTAX_ERROR: their messages quote the statement.
const QUOTES_STATEMENT: [u16; 2] = [1064, 1149];

pub(crate) struct MySql {
    ssl: SslOpts,
}

impl MySql {
    pub(crate) fn new(tls: &TlsSettings) -> Self {
        install_default_provider();
        let roots = tls
            .extra_roots()
            .iter()
            .map(|der| der.to_vec().into())
            .collect();
        MySql {
            ssl: SslOpts::default().with_root_certs(roots),
        }
    }

    async fn connect_with(
        &self,
        login: &Login<'_>,
        ssl: Option<SslOpts>,
    ) -> Result<Conn, mysql_async::Error> {
        let opts = OptsBuilder::default()
            .ip_or_hostname(login.host)
            .tcp_port(login.port)
            .user(Some(login.user))
            .pass(Some(login.password))
            .db_name(login.dbname)
            // Never swap the TCP connection for the server's Unix socket (it would skip TLS
            // and could reach another server than the secret names).
            .prefer_socket(false)
            .ssl_opts(ssl);
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(result) => result,
            Err(_) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"),
            ))),
        }
    }
}

#[async_trait]
impl Database for MySql {
    fn default_port(&self) -> u16 {
        3306
    }

    fn max_username_len(&self) -> usize {
        // MySQL 5.7+ and MariaDB (AWS's MySQL template checks 32 as well).
        32
    }

    async fn connect(&self, login: &Login<'_>) -> Result<Box<dyn Session>, DbError> {
        let conn = match login.tls {
            TlsMode::Disable => self.connect_with(login, None).await,
            TlsMode::Require => self.connect_with(login, Some(self.ssl.clone())).await,
            TlsMode::Prefer => match self.connect_with(login, Some(self.ssl.clone())).await {
                Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                    tracing::debug!(host = login.host, "server does not support TLS: plain");
                    self.connect_with(login, None).await
                }
                other => other,
            },
        }
        .map_err(connect_error)?;
        Ok(Box::new(MySqlSession {
            conn,
            no_backslash_escapes: None,
        }))
    }
}

struct MySqlSession {
    conn: Conn,
    no_backslash_escapes: Option<bool>,
}

impl MySqlSession {
    async fn run(&mut self, statement: &str) -> Result<(), DbError> {
        self.conn
            .query_drop(statement)
            .await
            .map_err(statement_error)
    }

    /// `value` as a string literal for this session's `sql_mode` (with or without
    /// `NO_BACKSLASH_ESCAPES`; asked once per session).
    async fn literal(&mut self, value: &str) -> Result<Zeroizing<String>, DbError> {
        let no_backslash_escapes = match self.no_backslash_escapes {
            Some(known) => known,
            None => {
                let sql_mode: Option<String> = self
                    .conn
                    .query_first("SELECT @@SESSION.sql_mode")
                    .await
                    .map_err(statement_error)?;
                let known = sql_mode.is_some_and(|m| m.contains("NO_BACKSLASH_ESCAPES"));
                self.no_backslash_escapes = Some(known);
                known
            }
        };
        Ok(string_literal(value, no_backslash_escapes))
    }

    /// The expression that sets `password` on this server: `PASSWORD('...')` on MariaDB and
    /// MySQL 5.x, `'...'` on MySQL 8 and later.
    async fn password_expression(&mut self, password: &str) -> Result<Zeroizing<String>, DbError> {
        let version: Option<String> = self
            .conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(statement_error)?;
        let literal = self.literal(password).await?;
        Ok(if needs_password_function(&version.unwrap_or_default()) {
            Zeroizing::new(format!("PASSWORD({})", literal.as_str()))
        } else {
            literal
        })
    }
}

#[async_trait]
impl Session for MySqlSession {
    async fn change_own_password(&mut self, _user: &str, password: &str) -> Result<(), DbError> {
        let expression = self.password_expression(password).await?;
        self.run(&Zeroizing::new(format!(
            "SET PASSWORD = {}",
            expression.as_str()
        )))
        .await
    }

    async fn upsert_clone(
        &mut self,
        original: &str,
        clone: &str,
        password: &str,
    ) -> Result<(), DbError> {
        // Accounts go in as string literals ('name' means 'name'@'%', as in AWS's template).
        let clone_account = self.literal(clone).await?;
        let original_account = self.literal(original).await?;
        let exists: Option<String> = self
            .conn
            .exec_first("SELECT User FROM mysql.user WHERE User = ?", (clone,))
            .await
            .map_err(statement_error)?;
        if exists.is_none() {
            let password = self.literal(password).await?;
            self.run(&Zeroizing::new(format!(
                "CREATE USER {} IDENTIFIED BY {}",
                clone_account.as_str(),
                password.as_str()
            )))
            .await?;
        }
        let grants: Vec<String> = self
            .conn
            .query(format!("SHOW GRANTS FOR {}", original_account.as_str()))
            .await
            .map_err(statement_error)?;
        for grant in grants {
            if let Some(statement) = grant_for(&grant, &clone_account) {
                self.run(&statement).await?;
            }
        }
        let expression = self.password_expression(password).await?;
        self.run(&Zeroizing::new(format!(
            "SET PASSWORD FOR {} = {}",
            clone_account.as_str(),
            expression.as_str()
        )))
        .await
    }

    async fn check(&mut self) -> Result<(), DbError> {
        self.run("SELECT NOW()").await
    }

    async fn close(self: Box<Self>) {
        if let Err(e) = self.conn.disconnect().await {
            tracing::debug!(error = %e, "mysql disconnect");
        }
    }
}

/// `original`'s grant line (`GRANT ... TO `original`@`%` [IDENTIFIED BY ...] [WITH ...]`)
/// rewritten for `account`, as AWS's template does (everything from the grantee on is
/// dropped: the clone has its own password and gets no GRANT OPTION).
fn grant_for(grant: &str, account: &str) -> Option<String> {
    let at = grant.rfind(" TO ")?;
    Some(format!("{} TO {}", &grant[..at], account))
}

fn needs_password_function(version: &str) -> bool {
    version.contains("MariaDB") || version.starts_with("5.")
}

/// A MySQL string literal for the session's escaping mode.
fn string_literal(value: &str, no_backslash_escapes: bool) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 2));
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if !no_backslash_escapes => out.push_str("\\\\"),
            '\0' if !no_backslash_escapes => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn connect_error(e: mysql_async::Error) -> DbError {
    match e {
        mysql_async::Error::Server(s) if LOGIN_REFUSED.contains(&s.code) => {
            DbError::Refused(format!("{} (error {})", s.message, s.code))
        }
        mysql_async::Error::Server(s) => {
            DbError::Connect(format!("{} (error {})", s.message, s.code))
        }
        other => DbError::Connect(error_chain(&other)),
    }
}

/// A failed statement: its error code, and the server's message unless the message quotes
/// the statement (which carries a password).
fn statement_error(e: mysql_async::Error) -> DbError {
    match e {
        mysql_async::Error::Server(s) if QUOTES_STATEMENT.contains(&s.code) => {
            DbError::Statement(format!("error {} (SQLSTATE {})", s.code, s.state))
        }
        mysql_async::Error::Server(s) => DbError::Statement(format!(
            "error {} (SQLSTATE {}): {}",
            s.code, s.state, s.message
        )),
        other => DbError::Connect(error_chain(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literal_escapes_for_the_sql_mode() {
        assert_eq!(string_literal("a'b\\c", false).as_str(), "'a''b\\\\c'");
        assert_eq!(string_literal("a'b\\c", true).as_str(), "'a''b\\c'");
    }

    #[test]
    fn grant_for_rewrites_the_grantee() {
        assert_eq!(
            grant_for(
                "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABC'",
                "'app_clone'"
            )
            .unwrap(),
            "GRANT USAGE ON *.* TO 'app_clone'"
        );
        assert_eq!(
            grant_for(
                "GRANT SELECT, INSERT ON `my TO db`.* TO `app`@`%` WITH GRANT OPTION",
                "'c'"
            )
            .unwrap(),
            "GRANT SELECT, INSERT ON `my TO db`.* TO 'c'"
        );
    }

    #[test]
    fn password_function_only_where_it_exists() {
        assert!(needs_password_function("10.11.6-MariaDB-0+deb12u1"));
        assert!(needs_password_function("5.7.44-log"));
        assert!(!needs_password_function("8.0.36"));
    }
}
