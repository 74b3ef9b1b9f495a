//! The rotation runner: what happens after RotateSecret (or the scheduler) hands a
//! [`RotationJob`] to the `RotationInvoker`. It invokes the secret's rotation function for
//! `createSecret`, `setSecret`, `testSecret` and `finishSecret`, in order, synchronously, with
//! the event AWS sends; checks that AWSCURRENT moved to the pending version; records
//! `LastRotatedDate` / `NextRotationDate`; and reports `RotationSucceeded` or `RotationFailed`
//! (one per failed attempt, naming the step) through the audit port.
//!
//! Data path: local mode runs it in-process (a task per job); on AWS the `rotation` Lambda
//! function runs it for the job in its event. Before each step it re-reads the secret: a job
//! that is no longer the secret's current rotation (a newer RotateSecret replaced it, a manual
//! write abandoned it, the secret was deleted) stops without touching anything. A failed step
//! retries the whole rotation with exponential backoff up to `RetryPolicy::max_attempts`;
//! then the job is marked failed, AWSPENDING stays (as in AWS), and the next window or a
//! RotateSecret reattempts it. Steps are idempotent in rotation functions (AWS's contract), so
//! re-running the completed ones is safe. `RotateImmediately=false` jobs run `testSecret` only.

use crate::audit::ServiceEventName;
use crate::ports::{RotationFunction, RotationJob, RotationStep, RotationStepEvent};
use crate::service::{Completion, JobStatus, SecretsService};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// How often a failing rotation is retried before the job gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of the whole rotation (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 5 s then 10 s apart: inside one Lambda invocation of the `rotation`
    /// function even with slow rotation functions.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, failed_attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed_attempts.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Waiting between attempts (tokio's timer in the binaries; instant in tests).
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: Duration);
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    Succeeded,
    /// Every attempt failed; `step` is the step that failed last.
    Failed {
        step: RotationStep,
        attempts: u32,
    },
    TestSucceeded,
    TestFailed,
    /// The job is no longer the secret's current rotation; nothing was changed.
    NotCurrent,
}

/// A step (or the bookkeeping around the steps) that failed.
struct AttemptFailure {
    step: RotationStep,
    message: String,
}

/// Longest failure description copied into a `RotationFailed` event (the adapters of
/// `RotationFunction` never pass a Lambda function's own error message; see `StepFailure`).
const MAX_ERROR_MESSAGE: usize = 512;

pub struct RotationDriver {
    service: Arc<SecretsService>,
    functions: Arc<dyn RotationFunction>,
    sleeper: Arc<dyn Sleeper>,
    retry: RetryPolicy,
}

impl RotationDriver {
    pub fn new(
        service: Arc<SecretsService>,
        functions: Arc<dyn RotationFunction>,
        sleeper: Arc<dyn Sleeper>,
        retry: RetryPolicy,
    ) -> Self {
        RotationDriver {
            service,
            functions,
            sleeper,
            retry,
        }
    }

    /// Runs the job to its end.
    pub async fn run(&self, job: &RotationJob) -> RotationOutcome {
        if job.pending_version.is_none() {
            return self.run_test(job).await;
        }
        let max_attempts = self.retry.max_attempts.max(1);
        for attempt in 1..=max_attempts {
            let failure = match self.attempt(job).await {
                Ok(Completion::Rotated) => {
                    tracing::info!(secret = %job.secret_arn, attempt, "rotation succeeded");
                    self.report(
                        job,
                        ServiceEventName::RotationSucceeded,
                        serde_json::json!({}),
                    )
                    .await;
                    return RotationOutcome::Succeeded;
                }
                Ok(Completion::NotCurrent) => {
                    tracing::info!(secret = %job.secret_arn, "rotation job superseded or abandoned; stopping");
                    return RotationOutcome::NotCurrent;
                }
                Ok(Completion::NotFinished) => AttemptFailure {
                    step: RotationStep::FinishSecret,
                    message: "finishSecret returned, but AWSCURRENT is not on the pending version"
                        .to_string(),
                },
                Err(failure) => failure,
            };
            let will_retry = attempt < max_attempts;
            tracing::warn!(secret = %job.secret_arn, step = %failure.step, attempt, will_retry, "rotation attempt failed");
            self.report(
                job,
                ServiceEventName::RotationFailed,
                serde_json::json!({
                    "Step": failure.step.as_str(),
                    "Attempt": attempt,
                    "WillRetry": will_retry,
                    "ErrorMessage": truncate(&failure.message),
                }),
            )
            .await;
            if will_retry {
                self.sleeper.sleep(self.retry.backoff(attempt)).await;
            } else {
                if let Err(e) = self.service.mark_rotation_failed(job).await {
                    tracing::error!(secret = %job.secret_arn, error = %e, "could not mark the rotation failed");
                }
                return RotationOutcome::Failed {
                    step: failure.step,
                    attempts: attempt,
                };
            }
        }
        unreachable!("the last attempt returns")
    }

    /// One attempt: the four steps, each after checking the job is still current, then the
    /// check that AWSCURRENT moved.
    async fn attempt(&self, job: &RotationJob) -> Result<Completion, AttemptFailure> {
        for step in RotationStep::ALL {
            let version = match self.status(job, step).await? {
                JobStatus::NotCurrent => return Ok(Completion::NotCurrent),
                // finishSecret already ran (an earlier attempt failed after it).
                JobStatus::Current { finished: true, .. } => break,
                JobStatus::Current { version, .. } => version,
            };
            self.invoke(job, step, version.as_str()).await?;
        }
        self.service
            .complete_rotation(job)
            .await
            .map_err(|e| AttemptFailure {
                step: RotationStep::FinishSecret,
                message: format!("recording the rotation failed: {e}"),
            })
    }

    async fn run_test(&self, job: &RotationJob) -> RotationOutcome {
        let step = RotationStep::TestSecret;
        let result = match self.status(job, step).await {
            Ok(JobStatus::NotCurrent) => return RotationOutcome::NotCurrent,
            Ok(JobStatus::Current { version, .. }) => {
                self.invoke(job, step, version.as_str()).await
            }
            Err(failure) => Err(failure),
        };
        if let Err(e) = self.service.finish_test_rotation(job).await {
            tracing::error!(secret = %job.secret_arn, error = %e, "could not remove the test's AWSPENDING label");
        }
        match result {
            Ok(()) => {
                self.report(
                    job,
                    ServiceEventName::TestRotationSucceeded,
                    serde_json::json!({}),
                )
                .await;
                RotationOutcome::TestSucceeded
            }
            Err(failure) => {
                self.report(
                    job,
                    ServiceEventName::TestRotationFailed,
                    serde_json::json!({
                        "Step": failure.step.as_str(),
                        "ErrorMessage": truncate(&failure.message),
                    }),
                )
                .await;
                RotationOutcome::TestFailed
            }
        }
    }

    async fn status(
        &self,
        job: &RotationJob,
        step: RotationStep,
    ) -> Result<JobStatus, AttemptFailure> {
        self.service
            .rotation_job_status(job)
            .await
            .map_err(|e| AttemptFailure {
                step,
                message: format!("reading the secret before {step} failed: {e}"),
            })
    }

    async fn invoke(
        &self,
        job: &RotationJob,
        step: RotationStep,
        version: &str,
    ) -> Result<(), AttemptFailure> {
        let event = RotationStepEvent {
            step,
            secret_id: job.secret_arn.to_string(),
            client_request_token: version.to_string(),
            rotation_token: Some(job.rotation_token.clone()),
        };
        tracing::info!(secret = %job.secret_arn, function = %job.lambda_arn, %step, "invoking rotation step");
        self.functions
            .invoke(&job.lambda_arn, &event)
            .await
            .map_err(|e| AttemptFailure { step, message: e.0 })
    }

    /// Emits a service event about the job; a failure to record it is logged (background
    /// work has no caller to fail).
    async fn report(&self, job: &RotationJob, name: ServiceEventName, details: serde_json::Value) {
        let mut details = details;
        details["VersionId"] = serde_json::json!(job.pending_version);
        if let Err(e) = self
            .service
            .record_service_event(name, &job.scope, job.secret_arn.as_str(), None, details)
            .await
        {
            tracing::error!(secret = %job.secret_arn, event = name.as_str(), error = %e, "could not record a rotation event");
        }
    }
}

fn truncate(message: &str) -> String {
    match message.char_indices().nth(MAX_ERROR_MESSAGE) {
        Some((end, _)) => format!("{}...", &message[..end]),
        None => message.to_string(),
    }
}
