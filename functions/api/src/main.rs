//! `coffer-api`: the `api` Lambda function (a `bootstrap` for `provided.al2023`) behind API
//! Gateway (HTTP API payload 2.0, REST API, function URLs). Wiring only: read the configuration
//! and build the clients once per cold start, then hand every event to the same coffer-wire
//! router the local server runs ([`gateway`] converts events and responses). Bad configuration
//! fails the cold start with a message naming the setting (`docs/lambda.md`).

mod gateway;

use coffer_aws::lambda_init::fail_init;
use coffer_aws::wiring::{self, AwsSettings, Host};
use coffer_core::service::{SecretsService, ServiceConfig};
use coffer_embedded::audit_log::JsonLinesAuditSink;
use coffer_embedded::{OsRandom, SystemClock};
use std::process::ExitCode;
use std::sync::Arc;

const FUNCTION: &str = "coffer-api";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let settings = match AwsSettings::from_env() {
        Ok(settings) => settings,
        Err(e) => return fail_init(FUNCTION, &e.to_string()).await,
    };
    let host = Host::lambda(
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Arc::new(JsonLinesAuditSink::stdout()),
    );
    let built = match wiring::build(&settings, host).await {
        Ok(built) => built,
        Err(e) => return fail_init(FUNCTION, &e.to_string()).await,
    };
    let service = SecretsService::new(
        built.ports,
        ServiceConfig {
            paging_key: built.paging_key,
            audit_required: settings.audit_required,
        },
    );
    let router = gateway::router(&settings, Arc::new(service));
    match lambda_http::run(lambda_http::service_fn(move |event| {
        gateway::handle(router.clone(), event)
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{FUNCTION}: the runtime loop ended: {e}");
            ExitCode::FAILURE
        }
    }
}
