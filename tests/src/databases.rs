//! Throwaway real databases for the rotator tests: a PostgreSQL and a MariaDB server, each in its
//! own temporary directory, listening on a free 127.0.0.1 port (and a Unix socket in that
//! directory), with a master user whose password is known, stopped and removed on drop.
//!
//! Where this sits: beside [`crate::CofferServer`], at the end of the data path. The rotators
//! read their credentials from a spawned Coffer and change them in these servers, and the tests
//! log in to check what happened.
//!
//! The binaries come from Debian's `postgresql` and `mariadb-server` packages
//! (`/usr/lib/postgresql/<version>/bin`, `mariadbd`, `mariadb-install-db`); `tests/run-all.sh`
//! installs them. When they are missing a test skips with a loud note, unless
//! `COFFER_REQUIRE_DATABASES=1` (CI), which turns that into a failure. PostgreSQL refuses to run
//! as root, so under root (CI) its binaries run as the `postgres` OS user (the package creates it)
//! with the temporary directory chowned to it; MariaDB runs as root with `--user=root`.

use std::fs::File;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;
use coffer_rotators::Engine;

/// The master (superuser) of every test database.
pub const MASTER_USER: &str = "coffer_master";
/// The master's password: punctuation included, so the rotators' quoting is exercised when
/// they log in as the master.
pub const MASTER_PASSWORD: &str = "M4ster;pw+with:punct!";

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// True when the databases must exist (`COFFER_REQUIRE_DATABASES=1`): a missing binary fails.
pub fn databases_required() -> bool {
    std::env::var("COFFER_REQUIRE_DATABASES").is_ok_and(|v| v == "1")
}

/// Skips (None, with a loud note) or, when the databases are required, panics.
fn missing<T>(what: &str) -> Option<T> {
    let message = format!(
        "{what} is not installed (apt-get install postgresql mariadb-server; \
         tests/run-all.sh does it)"
    );
    if databases_required() {
        panic!("COFFER_REQUIRE_DATABASES=1 but {message}");
    }
    super::skip(format_args!("{message}"));
    None
}

/// An exclusive lock shared by every process on this machine (a `flock` on a file in the
/// temporary directory), held until the returned file is dropped.
fn machine_wide_lock(name: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("coffer-tests-{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    file
}

/// A running server process, stopped with `signal` on drop.
struct Process {
    name: &'static str,
    child: Option<Child>,
    signal: &'static str,
    log: PathBuf,
    // Held for its Drop, declared last: removed after the process has stopped.
    _dir: tempfile::TempDir,
}

impl Process {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls `ready` until it holds, failing with the server's log if the process exits or
    /// the timeout passes.
    fn wait_until(&mut self, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready() {
                return;
            }
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("wait") {
                panic!(
                    "{} exited during start ({status})\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not start within 60 s\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args([self.signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn log_file(dir: &Path, name: &str) -> (PathBuf, File) {
    let path = dir.join(name);
    let file = File::create(&path).expect("create a log file");
    (path, file)
}

fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({})\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `(uid, gid)` of an OS user, from /etc/passwd.
fn os_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == name)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A throwaway PostgreSQL server (scram-sha-256 authentication, superuser [`MASTER_USER`]).
pub struct PostgresServer {
    port: u16,
    bin: PathBuf,
    /// The CA that signed the server's certificate ([`PostgresServer::start_tls`]).
    ca_bundle: Option<PathBuf>,
    process: Process,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb` and `postgres`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

impl PostgresServer {
    /// Starts a fresh server; `None` (after a loud note) when PostgreSQL is not installed and
    /// `COFFER_REQUIRE_DATABASES` is not `1`.
    pub fn start() -> Option<PostgresServer> {
        Self::launch(false)
    }

    /// As [`PostgresServer::start`], with TLS only: a certificate for IP 127.0.0.1 signed by a
    /// fresh CA ([`PostgresServer::ca_bundle`]), and `hostssl` lines only in pg_hba.conf, so a
    /// plain-text login is refused.
    pub fn start_tls() -> Option<PostgresServer> {
        Self::launch(true)
    }

    /// The PEM file of the CA that signed the server's certificate (TLS servers only).
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.ca_bundle.as_deref()
    }

    fn launch(tls: bool) -> Option<PostgresServer> {
        let Some(bin) = postgres_bin_dir() else {
            return missing("PostgreSQL (/usr/lib/postgresql/*/bin/postgres)");
        };
        let dir = tempfile::Builder::new()
            .prefix("coffer-pg-")
            .tempdir()
            .expect("temporary directory");
        // Under root, run as the `postgres` OS user (PostgreSQL refuses root) and give it the
        // directory.
        let run_as = if is_root() {
            let ids = os_user("postgres")
                .or_else(|| os_user("nobody"))
                .expect("an unprivileged OS user (postgres or nobody) to run PostgreSQL as");
            chown(dir.path(), Some(ids.0), Some(ids.1)).expect("chown the PostgreSQL directory");
            Some(ids)
        } else {
            None
        };
        let as_user = |command: &mut Command| {
            if let Some((uid, gid)) = run_as {
                command.uid(uid).gid(gid);
            }
        };
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, MASTER_PASSWORD).expect("write the password file");
        if let Some((uid, gid)) = run_as {
            chown(&pwfile, Some(uid), Some(gid)).expect("chown the password file");
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", MASTER_USER, "--auth=scram-sha-256", "--no-sync"])
            .args(["--encoding=UTF8", "--locale=C"])
            .arg(format!("--pwfile={}", pwfile.display()));
        as_user(&mut initdb);
        run(&mut initdb, "initdb");
        std::fs::remove_file(&pwfile).expect("remove the password file");
        let ca_bundle = tls.then(|| {
            let ca = make_certificates(dir.path());
            let key = dir.path().join("server.key");
            if let Some((uid, gid)) = run_as {
                chown(&key, Some(uid), Some(gid)).expect("chown the server key");
            }
            // TLS only from 127.0.0.1 (the Unix socket keeps plain access for nothing: unused).
            std::fs::write(
                data.join("pg_hba.conf"),
                "hostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .expect("write pg_hba.conf");
            let conf = format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                dir.path().join("server.crt").display(),
                key.display()
            );
            let mut postgresql_conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .expect("open postgresql.conf");
            std::io::Write::write_all(&mut postgresql_conf, conf.as_bytes())
                .expect("append to postgresql.conf");
            ca
        });

        let port = free_port();
        let (log, log_out) = log_file(dir.path(), "postgres.log");
        let mut command = Command::new(bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .arg("-k")
            .arg(dir.path())
            // A throwaway server: durability off for speed.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdin(Stdio::null())
            .stdout(log_out.try_clone().expect("log"))
            .stderr(log_out);
        as_user(&mut command);
        let child = command.spawn().expect("spawn postgres");
        let mut process = Process {
            name: "postgres",
            child: Some(child),
            // SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for clients to leave).
            signal: "-INT",
            log,
            _dir: dir,
        };
        let isready = bin.join("pg_isready");
        process.wait_until(|| {
            Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        });
        Some(PostgresServer {
            port,
            bin,
            ca_bundle,
            process,
        })
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log (for failure messages).
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Runs `sql` as the master user with `psql` (ON_ERROR_STOP; panics on failure) and returns
    /// its unaligned, tuples-only output.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", MASTER_USER, "-d", "postgres", "-c", sql])
            .env("PGPASSWORD", MASTER_PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A throwaway CA (`ca.pem`) and a server certificate for IP 127.0.0.1 it signed
/// (`server.crt`, `server.key` mode 0600) in `dir`, with the `openssl` CLI; returns the CA path.
fn make_certificates(dir: &Path) -> PathBuf {
    let openssl = |args: &str, what: &str| {
        run(
            Command::new("openssl")
                .current_dir(dir)
                .args(args.split_whitespace()),
            what,
        );
    };
    let ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .expect("write ca.ext");
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(
        &format!("req {ec_key} -keyout ca.key -out ca.csr -subj /CN=coffer-test-ca"),
        "openssl: CA key",
    );
    openssl(
        "x509 -req -in ca.csr -key ca.key -out ca.pem -days 2 -extfile ca.ext",
        "openssl: CA certificate",
    );
    openssl(
        &format!("req {ec_key} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
        "openssl: server key",
    );
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt \
         -days 2 -extfile server.ext",
        "openssl: server certificate",
    );
    dir.join("ca.pem")
}

// ---------------------------------------------------------------------------------------------
// MariaDB

/// A throwaway MariaDB server (run as root with `--user=root`; master [`MASTER_USER`]@`%`
/// with all privileges and GRANT OPTION).
pub struct MariaDbServer {
    port: u16,
    socket: PathBuf,
    client: PathBuf,
    process: Process,
}

/// `name` on PATH or in /usr/sbin, /usr/bin.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(PathBuf::from)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl MariaDbServer {
    /// Starts a fresh server; `None` (after a loud note) when MariaDB is not installed and
    /// `COFFER_REQUIRE_DATABASES` is not `1`.
    pub fn start() -> Option<MariaDbServer> {
        let (Some(server), Some(install), Some(client)) = (
            find_binary("mariadbd"),
            find_binary("mariadb-install-db"),
            find_binary("mariadb"),
        ) else {
            return missing("MariaDB (mariadbd, mariadb-install-db, mariadb)");
        };
        let dir = tempfile::Builder::new()
            .prefix("coffer-mariadb-")
            .tempdir()
            .expect("temporary directory");
        let data = dir.path().join("data");
        let user = if is_root() {
            "root".to_string()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "nobody".into())
        };
        // One mariadb-install-db at a time on this machine: two at once (the AWS-backend and
        // Lambda passes of tests/run-all.sh run side by side) made one exit 1.
        let _install_lock = machine_wide_lock("mariadb-install-db");
        run(
            Command::new(install)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--user={user}"))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                .arg("--skip-name-resolve"),
            "mariadb-install-db",
        );
        let port = free_port();
        let socket = dir.path().join("mariadb.sock");
        let (log, log_out) = log_file(dir.path(), "mariadb.log");
        let child = Command::new(server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mariadb.pid").display()
            ))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .stdin(Stdio::null())
            .stdout(log_out.try_clone().expect("log"))
            .stderr(log_out)
            .spawn()
            .expect("spawn mariadbd");
        let mut process = Process {
            name: "mariadbd",
            child: Some(child),
            signal: "-TERM",
            log,
            _dir: dir,
        };
        process.wait_until(|| {
            socket.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let server = MariaDbServer {
            port,
            socket,
            client,
            process,
        };
        // The master: root (over the socket, no password yet) creates it.
        server.socket_sql(&format!(
            "CREATE USER '{MASTER_USER}'@'%' IDENTIFIED BY '{MASTER_PASSWORD}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{MASTER_USER}'@'%' WITH GRANT OPTION;"
        ));
        Some(server)
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    fn socket_sql(&self, sql: &str) -> String {
        self.client_sql(
            Command::new(&self.client)
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["-u", "root"]),
            sql,
        )
    }

    fn client_sql(&self, command: &mut Command, sql: &str) -> String {
        let out = command
            .args(["--batch", "--skip-column-names", "-e", sql])
            .output()
            .expect("run the mariadb client");
        assert!(
            out.status.success(),
            "mariadb client failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs `sql` as the master user over TCP (panics on failure) and returns the batch
    /// output (tab-separated, no column names).
    pub fn sql(&self, sql: &str) -> String {
        self.client_sql(
            Command::new(&self.client)
                .arg("--no-defaults")
                .args(["-h", "127.0.0.1", "-P", &self.port.to_string()])
                .args(["--protocol=TCP", "-u", MASTER_USER])
                .env("MYSQL_PWD", MASTER_PASSWORD),
            sql,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Either engine

/// A throwaway database of either engine, with the engine-specific SQL the scenarios need.
pub enum TestDatabase {
    Postgres(PostgresServer),
    MariaDb(MariaDbServer),
}

impl TestDatabase {
    pub fn start(engine: Engine) -> Option<TestDatabase> {
        match engine {
            Engine::Postgres => PostgresServer::start().map(TestDatabase::Postgres),
            Engine::MySql => MariaDbServer::start().map(TestDatabase::MariaDb),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            TestDatabase::Postgres(pg) => pg.port(),
            TestDatabase::MariaDb(m) => m.port(),
        }
    }

    pub fn sql(&self, sql: &str) -> String {
        match self {
            TestDatabase::Postgres(pg) => pg.sql(sql),
            TestDatabase::MariaDb(m) => m.sql(sql),
        }
    }

    /// The secret JSON of `user` (AWS's template fields).
    pub fn secret_json(&self, user: &str, password: &str, master_arn: Option<&str>) -> String {
        let mut value = serde_json::json!({
            "engine": match self { TestDatabase::Postgres(_) => "postgres", TestDatabase::MariaDb(_) => "mariadb" },
            "host": "127.0.0.1",
            "port": self.port(),
            "username": user,
            "password": password,
        });
        if let TestDatabase::Postgres(_) = self {
            value["dbname"] = "postgres".into();
        }
        if let Some(arn) = master_arn {
            value["masterarn"] = arn.into();
        }
        value.to_string()
    }

    /// Creates `user` with `password` and SELECT on a table of its own (`t_<user>`).
    pub fn create_user(&self, user: &str, password: &str) {
        match self {
            TestDatabase::Postgres(_) => self.sql(&format!(
                "CREATE ROLE {user} LOGIN PASSWORD '{password}'; CREATE TABLE t_{user} (x int); \
                 GRANT SELECT ON t_{user} TO {user};"
            )),
            TestDatabase::MariaDb(_) => self.sql(&format!(
                "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
                 CREATE DATABASE IF NOT EXISTS appdb; CREATE TABLE appdb.t_{user} (x int); \
                 GRANT SELECT ON appdb.t_{user} TO '{user}'@'%';"
            )),
        };
    }

    pub fn user_exists(&self, user: &str) -> bool {
        let count = match self {
            TestDatabase::Postgres(_) => self.sql(&format!(
                "SELECT count(*) FROM pg_roles WHERE rolname = '{user}'"
            )),
            TestDatabase::MariaDb(_) => self.sql(&format!(
                "SELECT count(*) FROM mysql.user WHERE User = '{user}'"
            )),
        };
        count == "1"
    }

    /// Logs in as `user` and reads `table_of`'s table (`t_<table_of>`): proves the password
    /// and the privilege.
    pub async fn login(&self, user: &str, password: &str, table_of: &str) -> Result<(), String> {
        match self {
            TestDatabase::Postgres(pg) => {
                let (client, connection) = tokio_postgres::Config::new()
                    .host(pg.host())
                    .port(pg.port())
                    .user(user)
                    .password(password)
                    .dbname("postgres")
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .simple_query(&format!("SELECT count(*) FROM t_{table_of}"))
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            TestDatabase::MariaDb(m) => {
                use mysql_async::prelude::Queryable;
                let opts = mysql_async::OptsBuilder::default()
                    .ip_or_hostname(m.host())
                    .tcp_port(m.port())
                    .prefer_socket(false)
                    .user(Some(user))
                    .pass(Some(password));
                let mut conn = mysql_async::Conn::new(opts)
                    .await
                    .map_err(|e| e.to_string())?;
                let result = conn
                    .query_drop(format!("SELECT count(*) FROM appdb.t_{table_of}"))
                    .await
                    .map_err(|e| e.to_string());
                let _ = conn.disconnect().await;
                result
            }
        }
    }

    /// Sets `user`'s password behind the secret's back (as the master).
    pub fn set_password(&self, user: &str, password: &str) {
        match self {
            TestDatabase::Postgres(_) => {
                self.sql(&format!("ALTER ROLE {user} PASSWORD '{password}';"))
            }
            TestDatabase::MariaDb(_) => self.sql(&format!(
                "ALTER USER '{user}'@'%' IDENTIFIED BY '{password}';"
            )),
        };
    }

    /// The master user's secret JSON.
    pub fn master_json(&self) -> String {
        self.secret_json(MASTER_USER, MASTER_PASSWORD, None)
    }

    /// The built-in rotator for this engine.
    pub fn engine(&self) -> Engine {
        match self {
            TestDatabase::Postgres(_) => Engine::Postgres,
            TestDatabase::MariaDb(_) => Engine::MySql,
        }
    }
}
