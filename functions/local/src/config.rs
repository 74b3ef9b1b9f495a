//! The command line of the `coffer` binary, parsed once at start. Every flag has an environment
//! variable twin (`COFFER_LISTEN`, `COFFER_DATA_DIR`, ...), so a container or a systemd unit can
//! configure it without arguments.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "coffer",
    version,
    about = "A self-hosted, wire-compatible AWS Secrets Manager"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Secrets Manager API (the default command). Boxed: its many flags make it far
    /// larger than the other commands.
    Serve(Box<ServeArgs>),
    /// Manage the master keys of the local keyring.
    Keys(KeysArgs),
    /// Create the DynamoDB table and its indexes (AWS backend; needs the `aws` feature).
    InitTable(InitTableArgs),
    /// Verify or follow the audit trail (`<data-dir>/audit/`).
    Audit(AuditArgs),
    /// Call the admin API (users, roles, access keys, policies) of a local or deployed server:
    /// `coffer admin create-user --user-name alice`.
    Admin(AdminArgs),
    /// Log in to a Coffer server with your AWS IAM identity (`--iam`) and print temporary
    /// credentials in the AWS CLI's `credential_process` format (needs the `aws` feature).
    Login(LoginArgs),
}

/// Where secrets and keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite and a keyring file in the data directory.
    Embedded,
    /// A DynamoDB table and KMS (stateless: replicas may share the table).
    Aws,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InitTableArgs {
    /// Name of the table to create.
    #[arg(long, env = "COFFER_TABLE")]
    pub table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COFFER_LISTEN", default_value = "127.0.0.1:4584")]
    pub listen: SocketAddr,
    /// Directory for the database, keyring, credentials and audit log.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,
    /// The AWS account id of this server's secrets and keys.
    #[arg(long, env = "COFFER_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// Log line format.
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "COFFER_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a connection may take to send a request's headers (also the idle limit of a
    /// keep-alive connection); then it is closed.
    #[arg(long, env = "COFFER_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a request may take to send its body; then it is refused (408).
    #[arg(long, env = "COFFER_REQUEST_BODY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_body_timeout_secs: u64,
    /// Fail a call when its audit event cannot be recorded.
    #[arg(long, env = "COFFER_AUDIT_REQUIRED", default_value_t = false)]
    pub audit_required: bool,
    /// Seconds between signed digests of the audit trail (0: only on clean shutdown).
    #[arg(long, env = "COFFER_AUDIT_DIGEST_INTERVAL_SECS", default_value_t = 300)]
    pub audit_digest_interval_secs: u64,
    /// Seconds between scheduler ticks: start the rotations whose window opened, purge the
    /// secrets whose recovery window ended (`--purge-interval-secs` is the old name).
    #[arg(
        long,
        alias = "purge-interval-secs",
        env = "COFFER_SCHEDULER_INTERVAL_SECS",
        default_value_t = 60
    )]
    pub scheduler_interval_secs: u64,
    /// Attempts of a failing rotation before the job gives up (AWSPENDING stays; the next
    /// window or RotateSecret reattempts it).
    #[arg(long, env = "COFFER_ROTATION_MAX_ATTEMPTS", default_value_t = 3)]
    pub rotation_max_attempts: u32,
    /// Seconds before the second attempt of a failing rotation, doubled for each further one.
    #[arg(long, env = "COFFER_ROTATION_RETRY_BACKOFF_SECS", default_value_t = 5)]
    pub rotation_retry_backoff_secs: u64,
    /// Storage and key backend.
    #[arg(long, env = "COFFER_BACKEND", value_enum, default_value = "embedded")]
    pub backend: Backend,
    /// DynamoDB table (AWS backend).
    #[arg(long, env = "COFFER_TABLE", required_if_eq("backend", "aws"))]
    pub table: Option<String>,
    /// Default KMS key: id, key ARN, alias name or alias ARN (AWS backend).
    #[arg(long, env = "COFFER_KMS_KEY", required_if_eq("backend", "aws"))]
    pub kms_key: Option<String>,
    /// Seconds a plaintext data key stays cached in memory (AWS backend; 0 disables).
    #[arg(long, env = "COFFER_DATA_KEY_CACHE_SECS", default_value_t = 300)]
    pub data_key_cache_secs: u64,
    /// CloudWatch Logs group that receives the audit trail (AWS backend; created if missing).
    #[arg(long, env = "COFFER_AUDIT_LOG_GROUP")]
    pub audit_log_group: Option<String>,
    /// EventBridge bus that receives every audit event, source `coffer.secretsmanager` (AWS
    /// backend).
    #[arg(long, env = "COFFER_AUDIT_EVENT_BUS")]
    pub audit_event_bus: Option<String>,
    /// KMS key (HMAC_256, GENERATE_VERIFY_MAC: id, ARN or alias) that signs digests of the
    /// CloudWatch Logs audit stream every `--audit-digest-interval-secs` (AWS backend; without
    /// it the stream is chained but not signed).
    #[arg(long, env = "COFFER_AUDIT_DIGEST_KEY_ID")]
    pub audit_digest_key_id: Option<String>,
    /// Seconds between `PutMetricData` of the ResourceCount and overdue-rotation gauges in the
    /// `Coffer` namespace (AWS backend; 0 = off).
    #[arg(long, env = "COFFER_GAUGE_INTERVAL_SECS", default_value_t = 300)]
    pub gauge_interval_secs: u64,
    /// Most plaintext data keys cached at once (AWS backend; 0 disables).
    #[arg(long, env = "COFFER_DATA_KEY_CACHE_ENTRIES", default_value_t = 1000)]
    pub data_key_cache_entries: usize,
    /// Lambda Invoke API endpoint for rotation functions (AWS, LocalStack or a local Lambda
    /// emulator); default: the standard AWS configuration.
    #[arg(long, env = "COFFER_LAMBDA_ENDPOINT")]
    pub lambda_endpoint: Option<String>,
    /// Shortest STS AssumeRole session accepted (`DurationSeconds`), in seconds. AWS's minimum
    /// is 900; lower it (e.g. to 2) only to test credential expiry without waiting.
    #[arg(long, env = "COFFER_STS_MIN_DURATION_SECS", default_value_t = coffer_core::identity::sts::DEFAULT_MIN_DURATION_SECS,
          value_parser = clap::value_parser!(u64).range(1..=43200))]
    pub sts_min_duration_secs: u64,
    /// STS endpoint that verifies `coffer.LoginWithIam` requests (needs the `aws` feature);
    /// logins must be signed for its host. Default: https://sts.<--iam-sts-region>.amazonaws.com.
    #[arg(long, env = "COFFER_IAM_STS_ENDPOINT")]
    pub iam_sts_endpoint: Option<String>,
    /// Region of the default STS endpoint and of LoginWithIam's audit events.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub iam_sts_region: String,
    /// When set, LoginWithIam requests must sign the header X-Coffer-Login-Audience with this
    /// value (so a login request made for another server cannot be replayed here).
    #[arg(long, env = "COFFER_IAM_LOGIN_AUDIENCE")]
    pub iam_login_audience: Option<String>,
}

/// `coffer` with no subcommand serves with the defaults (and the `COFFER_*` environment).
#[derive(Debug, Parser)]
struct ServeDefaults {
    #[command(flatten)]
    args: ServeArgs,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeDefaults::parse_from(["coffer"]).args
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeysArgs {
    /// Directory holding keyring.json.
    #[arg(
        long,
        env = "COFFER_DATA_DIR",
        default_value = "./coffer-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// The account of the keys.
    #[arg(
        long,
        env = "COFFER_ACCOUNT_ID",
        default_value = "000000000000",
        global = true
    )]
    pub account_id: String,
    /// The region of the keys.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Create a master key, optionally with an alias (`alias/name`).
    Create {
        #[arg(long)]
        alias: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the keys of the region.
    List,
    /// Disable a key (by id, ARN or alias): its secrets can no longer be read or written.
    Disable { key_id: String },
    /// Enable a key again.
    Enable { key_id: String },
}

/// `coffer admin <operation> [--member value ...]`, configured like the AWS CLI.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = crate::admin_cli::AFTER_HELP)]
pub struct AdminArgs {
    /// The server's endpoint.
    #[arg(long, env = "COFFER_ENDPOINT", default_value = "http://127.0.0.1:4584")]
    pub endpoint_url: String,
    /// Signing region (default: AWS_REGION, AWS_DEFAULT_REGION, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Profile of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
    /// ~/.aws/credentials) when AWS_ACCESS_KEY_ID is not set.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Data directory whose `credentials` file (the local server's root) is the last resort.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,
    /// The operation in kebab-case (create-user, put-user-policy, ...).
    pub operation: String,
    /// The request members as `--member-name value` (`--user-name alice`,
    /// `--tags Key=team,Value=pay`, `--policy-document file://p.json`, `--cli-input-json '{..}'`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "MEMBERS"
    )]
    pub members: Vec<String>,
}

/// `coffer login --iam`: for a profile's `credential_process`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoginArgs {
    /// Prove the caller's AWS IAM identity with a signed sts:GetCallerIdentity request
    /// (`coffer.LoginWithIam`); the only login method.
    #[arg(long, required = true)]
    pub iam: bool,
    /// The Coffer server's endpoint.
    #[arg(long, env = "COFFER_ENDPOINT", default_value = "http://127.0.0.1:4584")]
    pub endpoint_url: String,
    /// Region of the STS signature (default: AWS_REGION, AWS_DEFAULT_REGION, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// The STS endpoint the server verifies with (default: https://sts.<region>.amazonaws.com).
    #[arg(long, env = "COFFER_IAM_STS_ENDPOINT")]
    pub iam_sts_endpoint: Option<String>,
    /// Session length in seconds (900 to 43200; default 3600).
    #[arg(long)]
    pub duration_seconds: Option<u64>,
    /// The server's login audience, signed as X-Coffer-Login-Audience.
    #[arg(long, env = "COFFER_IAM_LOGIN_AUDIENCE")]
    pub audience: Option<String>,
    /// AWS profile holding the source credentials (default: the standard chain: environment,
    /// profile, web identity, ECS, instance metadata). Not AWS_PROFILE: that may name the very
    /// profile whose credential_process runs this command.
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: AuditAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain of an audit trail and its signed digests. Exits 0 when intact,
    /// non-zero naming the first broken record (line and eventID) otherwise.
    Verify {
        /// `events.jsonl`, the audit directory holding it, or a data directory; anything that
        /// is not an existing path is taken as a CloudWatch Logs group (`aws` build).
        #[arg(required_unless_present = "log_group")]
        path: Option<PathBuf>,
        /// Check this CloudWatch Logs audit group: every stream and its `<stream>/digests`
        /// (`aws` build; AWS credentials from the environment, as the AWS CLI).
        #[arg(long, conflicts_with = "path")]
        log_group: Option<String>,
        /// The CloudWatch Logs and KMS endpoint (`aws` build; default: AWS's).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// The log group's region (`aws` build; default: AWS_REGION / the profile's).
        #[arg(long)]
        region: Option<String>,
        /// KMS key(s) the digests must be signed with (id, ARN or alias; repeat or separate
        /// with commas); without it a digest is checked under whatever key it names.
        #[arg(
            long = "digest-key-id",
            env = "COFFER_AUDIT_DIGEST_KEY_ID",
            value_delimiter = ','
        )]
        digest_key_ids: Vec<String>,
        /// Data directory whose keyring.json signed the digests (default: the parent of the
        /// audit directory, when it holds keyring.json).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Check the chains only, not the digests' signatures (no keyring at hand).
        #[arg(long, default_value_t = false)]
        skip_signatures: bool,
    },
    /// Print audit events human-readably: time, region, event, caller, resources, outcome.
    Tail {
        /// Data directory whose audit/events.jsonl to read.
        #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
        data_dir: PathBuf,
        /// Read this events file instead.
        #[arg(long)]
        file: Option<PathBuf>,
        /// How many of the last events to print first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep printing events as they are written (until interrupted).
        #[arg(short, long, default_value_t = false)]
        follow: bool,
    },
}
