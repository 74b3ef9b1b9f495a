//! `coffer-api`: the `api` Lambda function (a `bootstrap` for `provided.al2023`) behind API
//! Gateway (HTTP API payload 2.0, REST API, function URLs). Wiring only: the shared cold start
//! (`coffer_lambda_host`: configuration, clients and service built once; bad configuration
//! fails the cold start with a message naming the setting, `docs/lambda.md`), then every event
//! goes to the same coffer-wire router the local server runs ([`gateway`] converts events and
//! responses).

mod gateway;

use std::process::ExitCode;

const FUNCTION: &str = "coffer-api";

#[tokio::main]
async fn main() -> ExitCode {
    let cold = match coffer_lambda_host::cold_start(FUNCTION).await {
        Ok(cold) => cold,
        Err(code) => return code,
    };
    if let (coffer_aws::wiring::AuthMode::Iam, Some(arn)) =
        (&cold.settings.aws.auth, &cold.settings.iam_admin_arn)
    {
        if let Err(message) =
            gateway::grant_iam_admin(&cold.service, &cold.settings.aws.account_id, arn).await
        {
            return coffer_lambda_host::fail_init(FUNCTION, &message).await;
        }
    }
    let router = gateway::router(&cold.settings, cold.service, cold.own_principals.as_ref());
    let handler = lambda_http::service_fn(move |event| gateway::handle(router.clone(), event));
    match lambda_http::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{FUNCTION}: the runtime loop ended: {e}");
            ExitCode::FAILURE
        }
    }
}
