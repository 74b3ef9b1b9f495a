//! `coffer-rotation`: the `rotation` Lambda function (a `bootstrap` for `provided.al2023`).
//! RotateSecret in the `api` function and the `scheduler` start it asynchronously (Lambda
//! `Invoke`, `InvocationType=Event`) with a `RotationJob` as the payload; it runs the job with
//! the core's `RotationDriver`, invoking the secret's rotation function for each step
//! synchronously (Lambda `Invoke`, `RequestResponse`). Wiring only.
//!
//! Configuration: the shared cold start reads it (`coffer_lambda_host::LambdaSettings`,
//! docs/lambda.md), including `COFFER_ROTATION_MAX_ATTEMPTS` (default 3) and
//! `COFFER_ROTATION_RETRY_BACKOFF_SECS` (default 5); keep the function's timeout above the
//! attempts' total.

use coffer_core::ports::RotationJob;
use coffer_core::rotation::driver::{RotationDriver, RotationOutcome};
use coffer_embedded::TokioSleeper;
use coffer_lambda_host::cold_start;
use lambda_runtime::{service_fn, LambdaEvent};
use std::process::ExitCode;
use std::sync::Arc;

const FUNCTION: &str = "coffer-rotation";

/// The invocation's result: the outcome, for the Lambda log and `Invoke` callers.
fn outcome_payload(outcome: &RotationOutcome) -> serde_json::Value {
    match outcome {
        RotationOutcome::Succeeded => serde_json::json!({"Outcome": "Succeeded"}),
        RotationOutcome::Failed { step, attempts } => {
            serde_json::json!({"Outcome": "Failed", "Step": step.as_str(), "Attempts": attempts})
        }
        RotationOutcome::TestSucceeded => serde_json::json!({"Outcome": "TestSucceeded"}),
        RotationOutcome::TestFailed => serde_json::json!({"Outcome": "TestFailed"}),
        RotationOutcome::NotCurrent => serde_json::json!({"Outcome": "NotCurrent"}),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let start = match cold_start(FUNCTION).await {
        Ok(start) => start,
        Err(code) => return code,
    };
    let driver = Arc::new(RotationDriver::new(
        start.service,
        Arc::new(start.rotation_function),
        Arc::new(TokioSleeper),
        start.settings.rotation_retry,
    ));
    let handler = service_fn(move |event: LambdaEvent<RotationJob>| {
        let driver = driver.clone();
        async move {
            let job = event.payload;
            let outcome = driver.run(&job).await;
            tracing::info!(secret = %job.secret_arn, ?outcome, "rotation job ended");
            Ok::<_, lambda_runtime::Error>(outcome_payload(&outcome))
        }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{FUNCTION}: the runtime loop ended: {e}");
            ExitCode::FAILURE
        }
    }
}
