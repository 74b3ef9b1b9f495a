//! Rotation through the Lambda Invoke API (aws-sdk-lambda).
//!
//! - [`LambdaRotationInvoker`] is the `RotationInvoker` of AWS mode: RotateSecret (in the `api`
//!   function, and the scheduler) starts a rotation job with `Invoke`
//!   (`InvocationType=Event`) of the `rotation` function; the payload is the `RotationJob` as
//!   JSON. Lambda queues it and answers 202.
//! - [`LambdaRotationFunction`] is the `RotationFunction` of AWS mode: the rotation driver runs
//!   each step of a secret's rotation function with `Invoke` (`InvocationType=RequestResponse`)
//!   and the step event AWS sends. A function error (`X-Amz-Function-Error` set) becomes a
//!   `StepFailure` naming the function's `errorType` but not its `errorMessage`: the failure
//!   lands in the `RotationFailed` audit event, and a rotation function's own text may quote
//!   the secret it was handling (a connection string, a rejected password). The message is in
//!   the function's own log group, where its author put it.
//!
//! Both take an endpoint override (`--lambda-endpoint`, `COFFER_LAMBDA_ENDPOINT`): LocalStack,
//! a local Lambda emulator, or the Invoke API of the test harness (`tests/src/lambda_runtime.rs`).
//!
//! Emulators differ from Lambda here: cargo-lambda's answers a function error with HTTP 500
//! instead of 200 + `X-Amz-Function-Error`. The SDK would retry a 500 as a server fault, running
//! a failed step three times. So the step client makes one attempt, and any error response of
//! the Invoke call is a `StepFailure` (with the `errorMessage` of a function-error body when
//! there is one): the rotation driver already retries the whole rotation with backoff, which is
//! the retry a rotation needs.

use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use coffer_core::ports::{
    RotationFunction, RotationInvoker, RotationJob, RotationStartError, RotationStepEvent,
    StepFailure,
};

pub use aws_sdk_lambda::Client;

/// A Lambda client from the standard configuration, with an optional endpoint override and a
/// cap on attempts (`None`: the SDK's standard retries).
pub fn client(
    sdk: &aws_config::SdkConfig,
    endpoint: Option<&str>,
    max_attempts: Option<u32>,
) -> Client {
    let mut config = aws_sdk_lambda::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    if let Some(attempts) = max_attempts {
        config = config.retry_config(
            aws_sdk_lambda::config::retry::RetryConfig::standard().with_max_attempts(attempts),
        );
    }
    Client::from_conf(config.build())
}

/// Starts rotation jobs: `Invoke` of the `rotation` function with `InvocationType=Event`.
#[derive(Clone, Debug)]
pub struct LambdaRotationInvoker {
    client: Client,
    function: String,
}

impl LambdaRotationInvoker {
    /// `function`: the `rotation` function's name or ARN.
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        LambdaRotationInvoker {
            client,
            function: function.into(),
        }
    }

    /// With a client made from `sdk` (standard retries) and `endpoint` if given.
    pub fn from_sdk(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        function: impl Into<String>,
    ) -> Self {
        LambdaRotationInvoker::new(client(sdk, endpoint, None), function)
    }

    /// The function jobs are sent to.
    pub fn function(&self) -> &str {
        &self.function
    }
}

#[async_trait::async_trait]
impl RotationInvoker for LambdaRotationInvoker {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        let payload = serde_json::to_vec(&job)
            .map_err(|e| RotationStartError(format!("encoding the rotation job: {e}")))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                RotationStartError(format!(
                    "Lambda Invoke (Event) of {} failed: {}",
                    self.function,
                    DisplayErrorContext(&e)
                ))
            })?;
        tracing::debug!(function = %self.function, status = out.status_code(), secret = %job.secret_arn, "rotation job queued");
        Ok(())
    }
}

/// Runs one step of a rotation function: `Invoke` with `InvocationType=RequestResponse`.
#[derive(Clone, Debug)]
pub struct LambdaRotationFunction {
    client: Client,
}

impl LambdaRotationFunction {
    /// `client` should make one attempt per call (see the module docs); [`Self::from_sdk`]
    /// makes such a client.
    pub fn new(client: Client) -> Self {
        LambdaRotationFunction { client }
    }

    /// With a one-attempt client made from `sdk` and `endpoint` if given.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Self {
        LambdaRotationFunction::new(client(sdk, endpoint, Some(1)))
    }
}

/// What may be repeated of an error payload of `Invoke`: the `errorType` of a function error
/// (`{"errorMessage": ..., "errorType": ...}`; the message, written by the function, is
/// withheld), or the `Message` of an error of the Lambda service itself
/// (`{"Type": "User", "Message": "Function not found: ..."}`). Any other payload is withheld.
pub fn function_error_summary(payload: &[u8]) -> String {
    const WITHHELD: &str = "message withheld; see the function's logs";
    let parsed: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(|s| s.chars().take(256).collect::<String>())
    };
    match (field("errorType"), field("errorMessage"), field("Message")) {
        (Some(kind), _, _) => format!("{kind} ({WITHHELD})"),
        (None, Some(_), _) => format!("function error ({WITHHELD})"),
        (None, None, Some(service_message)) => service_message,
        (None, None, None) => format!("unrecognised error payload ({WITHHELD})"),
    }
}

#[async_trait::async_trait]
impl RotationFunction for LambdaRotationFunction {
    async fn invoke(
        &self,
        function_arn: &str,
        event: &RotationStepEvent,
    ) -> Result<(), StepFailure> {
        let payload = serde_json::to_vec(event)
            .map_err(|e| StepFailure(format!("encoding the {} event: {e}", event.step)))?;
        let result = self
            .client
            .invoke()
            .function_name(function_arn)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await;
        match result {
            Ok(out) => match out.function_error() {
                None => Ok(()),
                Some(kind) => {
                    let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
                    let message = function_error_summary(body);
                    Err(StepFailure(format!(
                        "{} of {function_arn} failed ({kind}): {message}",
                        event.step
                    )))
                }
            },
            // An emulator's function error (HTTP 500 with the error body), or any other error
            // answer of the Invoke API.
            Err(SdkError::ServiceError(context)) => {
                let raw = context.raw();
                let status = raw.status().as_u16();
                let message = raw
                    .body()
                    .bytes()
                    .map(function_error_summary)
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| DisplayErrorContext(context.err()).to_string());
                Err(StepFailure(format!(
                    "{} of {function_arn} failed (Invoke answered HTTP {status}): {message}",
                    event.step
                )))
            }
            Err(e) => Err(StepFailure(format!(
                "{} of {function_arn}: Lambda Invoke failed: {}",
                event.step,
                DisplayErrorContext(&e)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_error_summary_names_the_error_type_and_withholds_the_function_message() {
        let canary = "hunter2-canary-password";
        let summaries = [
            function_error_summary(
                format!(
                    r#"{{"errorType":"ValueError","errorMessage":"cannot log in with {canary}"}}"#
                )
                .as_bytes(),
            ),
            function_error_summary(format!(r#"{{"errorMessage":"{canary}"}}"#).as_bytes()),
            function_error_summary(canary.as_bytes()),
        ];
        assert!(summaries[0].starts_with("ValueError ("), "{}", summaries[0]);
        assert!(
            summaries[1].starts_with("function error ("),
            "{}",
            summaries[1]
        );
        assert!(
            summaries[2].starts_with("unrecognised error payload ("),
            "{}",
            summaries[2]
        );
        for summary in &summaries {
            assert!(!summary.contains(canary), "{summary}");
            assert!(summary.contains("see the function's logs"), "{summary}");
        }
        // Errors of the Lambda service itself are AWS's text, not the function's: kept.
        assert_eq!(
            function_error_summary(br#"{"Type":"User","Message":"Function not found"}"#),
            "Function not found"
        );
    }
}
