//! `coffer-scheduler`: the `scheduler` Lambda function (a `bootstrap` for `provided.al2023`),
//! run by an EventBridge schedule every few minutes. Each invocation runs the core's scheduler
//! tick — start the rotations whose window opened (through the `rotation` function, Lambda
//! `Invoke` with `InvocationType=Event`), purge the secrets whose recovery window ended — and
//! publishes the gauges (`ResourceCount`, `SecretsOverdueForRotation`) with `PutMetricData`.
//! Wiring only; configuration as the `api` function's (docs/lambda.md).

use coffer_aws::metrics_cloudwatch::{publish_gauges, Client as CloudWatch};
use coffer_core::rotation::scheduler::tick;
use coffer_core::service::SecretsService;
use coffer_lambda_host::cold_start;
use lambda_runtime::{service_fn, LambdaEvent};
use std::process::ExitCode;
use std::sync::Arc;

const FUNCTION: &str = "coffer-scheduler";
/// The CloudWatch namespace of Coffer's metrics.
const NAMESPACE: &str = "Coffer";

async fn run_tick(
    service: &SecretsService,
    cloudwatch: &CloudWatch,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let report = tick(service).await?;
    let gauges = service.gauges().await?;
    publish_gauges(cloudwatch, NAMESPACE, &gauges).await?;
    tracing::info!(
        started = report.rotations_started.len(),
        waiting = report.rotations_waiting,
        purged = report.purged,
        "scheduler tick"
    );
    Ok(serde_json::json!({
        "RotationsStarted": report.rotations_started,
        "RotationsWaiting": report.rotations_waiting,
        "Purged": report.purged,
        "GaugeScopes": gauges.len(),
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let start = match cold_start(FUNCTION).await {
        Ok(start) => start,
        Err(code) => return code,
    };
    let service = start.service;
    let cloudwatch = Arc::new(CloudWatch::new(&start.sdk));
    // The scheduled event's content does not matter: every tick looks at the whole table.
    let handler = service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let (service, cloudwatch) = (service.clone(), cloudwatch.clone());
        async move { run_tick(&service, &cloudwatch).await }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{FUNCTION}: the runtime loop ended: {e}");
            ExitCode::FAILURE
        }
    }
}
