//! The local server's rotation runner. RotateSecret (and the scheduler loop) hand jobs to
//! [`QueuedRotations`]; [`run_jobs`] runs each in its own task through the core's
//! `RotationDriver`, which invokes the secret's rotation function step by step through
//! [`LocalRotationFunctions`]:
//! - a `RotationLambdaARN` naming a built-in rotator (`coffer-rotator-postgres`,
//!   `coffer-rotator-mysql`, as a bare name or a Lambda ARN) runs in-process; it calls this
//!   server's own API over loopback with the root credentials, like any client, in the
//!   secret's region;
//! - any other ARN is invoked through the Lambda Invoke API at `--lambda-endpoint` (AWS,
//!   LocalStack or a local Lambda emulator; needs the `aws` feature).

use async_trait::async_trait;
use coffer_core::ports::{
    RotationFunction, RotationInvoker, RotationJob, RotationStartError, RotationStepEvent,
    StepFailure,
};
use coffer_core::rotation::driver::RotationDriver;
use coffer_rotators::{ClientSettings, Engine, PasswordSettings, Rotator, TlsSettings};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};
use zeroize::Zeroizing;

/// Hands jobs to the runner task (never blocks the request).
pub struct QueuedRotations(mpsc::UnboundedSender<RotationJob>);

/// The invoker the service gets, and the queue the runner reads.
pub fn queue() -> (Arc<QueuedRotations>, mpsc::UnboundedReceiver<RotationJob>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(QueuedRotations(tx)), rx)
}

#[async_trait]
impl RotationInvoker for QueuedRotations {
    async fn start(&self, job: RotationJob) -> Result<(), RotationStartError> {
        self.0
            .send(job)
            .map_err(|_| RotationStartError("the rotation runner has stopped".to_string()))
    }
}

/// Runs every queued job in a task of its own until the queue closes.
pub async fn run_jobs(mut jobs: mpsc::UnboundedReceiver<RotationJob>, driver: Arc<RotationDriver>) {
    while let Some(job) = jobs.recv().await {
        let driver = driver.clone();
        tokio::spawn(async move {
            let outcome = driver.run(&job).await;
            tracing::info!(secret = %job.secret_arn, ?outcome, "rotation job ended");
        });
    }
}

/// The function name an ARN (or bare name) designates: `arn:aws:lambda:r:a:function:NAME[:q]`.
fn function_name(function: &str) -> &str {
    if function.starts_with("arn:") {
        function.split(':').nth(6).unwrap_or(function)
    } else {
        function
    }
}

fn builtin_engine(function: &str) -> Option<Engine> {
    let name = function_name(function);
    [Engine::Postgres, Engine::MySql]
        .into_iter()
        .find(|e| e.rotator_name() == name)
}

/// The region of a secret ARN (`arn:<partition>:secretsmanager:<region>:...`).
fn region_of(secret_arn: &str) -> Option<&str> {
    secret_arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Runs rotation functions for the local server: built-in rotators in-process, others via
/// Lambda Invoke.
pub struct LocalRotationFunctions {
    /// This server's own API, for the built-in rotators.
    endpoint: String,
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    passwords: PasswordSettings,
    tls: TlsSettings,
    /// One rotator per engine and region, made on first use.
    rotators: Mutex<HashMap<(Engine, String), Arc<Rotator>>>,
    lambda: Option<Arc<dyn RotationFunction>>,
}

impl LocalRotationFunctions {
    pub fn new(
        endpoint: String,
        access_key_id: String,
        secret_access_key: Zeroizing<String>,
        lambda: Option<Arc<dyn RotationFunction>>,
    ) -> Result<Self, String> {
        Ok(LocalRotationFunctions {
            endpoint,
            access_key_id,
            secret_access_key,
            passwords: PasswordSettings::from_env().map_err(|e| e.to_string())?,
            tls: TlsSettings::from_env().map_err(|e| e.to_string())?,
            rotators: Mutex::new(HashMap::new()),
            lambda,
        })
    }

    async fn rotator(&self, engine: Engine, region: &str) -> Arc<Rotator> {
        let mut rotators = self.rotators.lock().await;
        if let Some(r) = rotators.get(&(engine, region.to_string())) {
            return r.clone();
        }
        let settings = ClientSettings {
            endpoint: Some(self.endpoint.clone()),
            region: Some(region.to_string()),
            credentials: Some((self.access_key_id.clone(), self.secret_access_key.clone())),
        };
        let client = coffer_rotators::secrets_manager_client(&settings).await;
        let rotator = Arc::new(Rotator::new(
            engine,
            client,
            self.passwords.clone(),
            &self.tls,
        ));
        rotators.insert((engine, region.to_string()), rotator.clone());
        rotator
    }
}

#[async_trait]
impl RotationFunction for LocalRotationFunctions {
    async fn invoke(
        &self,
        function_arn: &str,
        event: &RotationStepEvent,
    ) -> Result<(), StepFailure> {
        if let Some(engine) = builtin_engine(function_arn) {
            let region = region_of(&event.secret_id).unwrap_or("us-east-1");
            let rotator = self.rotator(engine, region).await;
            return rotator
                .handle(event)
                .await
                .map_err(|e| StepFailure(e.to_string()));
        }
        match &self.lambda {
            Some(lambda) => lambda.invoke(function_arn, event).await,
            None => Err(StepFailure(format!(
                "{function_arn} is not a built-in rotator (coffer-rotator-postgres, coffer-rotator-mysql) and no Lambda endpoint is configured (--lambda-endpoint)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rotators_are_found_by_name_or_arn() {
        assert_eq!(
            builtin_engine("coffer-rotator-postgres"),
            Some(Engine::Postgres)
        );
        assert_eq!(
            builtin_engine("arn:aws:lambda:us-east-1:000000000000:function:coffer-rotator-mysql"),
            Some(Engine::MySql)
        );
        assert_eq!(
            builtin_engine(
                "arn:aws:lambda:us-east-1:000000000000:function:coffer-rotator-mysql:live"
            ),
            Some(Engine::MySql)
        );
        assert_eq!(
            builtin_engine("arn:aws:lambda:us-east-1:000000000000:function:my-rotator"),
            None
        );
    }

    #[test]
    fn the_region_comes_from_the_secret_arn() {
        assert_eq!(
            region_of("arn:aws:secretsmanager:eu-west-1:000000000000:secret:db-AbCdEf"),
            Some("eu-west-1")
        );
        assert_eq!(region_of("db"), None);
    }
}
