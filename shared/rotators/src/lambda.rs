//! The Lambda face of a rotator (feature `lambda`): what the `coffer-rotator-postgres` and
//! `coffer-rotator-mysql` bootstraps run.
//!
//! Where this sits: between the Lambda Runtime API and [`Rotator::handle`]. At cold start it
//! reads the configuration once (`SECRETS_MANAGER_ENDPOINT`, `EXCLUDE_CHARACTERS`,
//! `PASSWORD_LENGTH`, `COFFER_DB_CA_BUNDLE`, optional `COFFER_ACCESS_KEY_ID` /
//! `COFFER_SECRET_ACCESS_KEY`, else the default credential chain: the execution role) and
//! builds the Secrets Manager client; bad configuration ends the cold start with a message naming
//! the variable. Each invocation is one step of AWS's rotation event; a failed step is a Lambda
//! function error (`errorType` `RotationStepFailed`) whose message names the step, the secret,
//! and the user and host involved.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};

use crate::{
    secrets_manager_client, ClientSettings, ConfigError, Engine, PasswordSettings,
    RotationStepEvent, Rotator, TlsSettings,
};

/// Runs the rotation function for `engine` until the Lambda environment shuts it down.
pub async fn run(engine: Engine) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let rotator = match cold_start(engine).await {
        Ok(rotator) => rotator,
        Err(e) => {
            let message = format!("{}: bad configuration: {e}", engine.rotator_name());
            tracing::error!("{message}");
            return Err(message.into());
        }
    };
    let rotator = &rotator;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<RotationStepEvent>| async move {
            rotator
                .handle(&event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: "RotationStepFailed".into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}

async fn cold_start(engine: Engine) -> Result<Rotator, ConfigError> {
    if !engine.is_built() {
        // A bootstrap whose main names an engine its features leave out: say so at cold start
        // (every step would refuse anyway).
        return Err(ConfigError::Invalid(
            crate::engine::EngineNotBuilt(engine).to_string(),
        ));
    }
    let passwords = PasswordSettings::from_env()?;
    let tls = TlsSettings::from_env()?;
    let client_settings = ClientSettings::from_env()?;
    tracing::info!(
        rotator = engine.rotator_name(),
        endpoint = client_settings.endpoint.as_deref().unwrap_or("(SDK default)"),
        static_credentials = client_settings.credentials.is_some(),
        password_length = passwords.length,
        tls = ?tls,
        "cold start"
    );
    let client = secrets_manager_client(&client_settings).await;
    Ok(Rotator::new(engine, client, passwords, &tls))
}
