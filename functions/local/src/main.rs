//! `coffer`: the local server. Wiring only: parse the command line, start logging, and run the
//! chosen command (`serve` by default, so `cargo run --release` serves).

mod admin_cli;
mod audit_cli;
#[cfg(feature = "aws")]
mod audit_logs;
#[cfg(feature = "aws")]
mod backend_aws;
mod backend_embedded;
mod config;
mod credentials;
mod keys;
mod listener;
mod login_cli;
mod rotation;
mod server;

use clap::Parser;
use config::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[cfg(feature = "aws")]
async fn init_table(args: config::InitTableArgs) -> Result<(), server::BoxError> {
    backend_aws::init_table(&args.table).await
}

#[cfg(not(feature = "aws"))]
async fn init_table(_: config::InitTableArgs) -> Result<(), server::BoxError> {
    Err("init-table needs the `aws` feature: cargo build --release --features aws".into())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::default()))
    {
        Command::Serve(args) => {
            init_tracing(args.log_format);
            server::serve(*args).await
        }
        Command::Keys(args) => {
            init_tracing(LogFormat::Text);
            keys::run(args).await
        }
        Command::InitTable(args) => {
            init_tracing(LogFormat::Text);
            init_table(args).await
        }
        Command::Audit(args) => {
            init_tracing(LogFormat::Text);
            audit_cli::run(args).await
        }
        Command::Admin(args) => {
            init_tracing(LogFormat::Text);
            return admin_cli::run(args).await;
        }
        // No log lines: stdout is the credentials, stderr the error a user reads.
        Command::Login(args) => return login_cli::run(args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
