//! The four rotation steps, engine-agnostic, as AWS's rotation templates run them.
//!
//! Where this sits: the body of a rotation function. The rotation driver calls
//! [`Rotator::handle`] once per step with AWS's event; each step reads and writes the secret
//! through [`SecretsApi`] and talks to the database through an [`crate::engine::Database`].
//!
//! Before any step, the version named by the event's token must be staged AWSPENDING (AWS's
//! texts); a version already AWSCURRENT means the step has nothing left to do. Then:
//! - **createSecret**: if the AWSPENDING value of the token exists, done (a retry); else a
//!   password from GetRandomPassword (`EXCLUDE_CHARACTERS`, `PASSWORD_LENGTH`) goes into a copy
//!   of the AWSCURRENT value, stored with PutSecretValue as version `token`, staged AWSPENDING.
//!   With alternating users (a `masterarn` field) the username flips between `name` and
//!   `name_clone`.
//! - **setSecret**: if the AWSPENDING credentials already log in, done (a retry). Single user:
//!   log in with AWSCURRENT (or AWSPREVIOUS, after an interrupted rotation) and change the
//!   user's own password. Alternating users: check that AWSCURRENT logs in (AWS's guard against a
//!   confused deputy), log in with the master secret (`masterarn`), and create the alternate user
//!   with the original's privileges, or set its password.
//! - **testSecret**: log in with AWSPENDING and run `SELECT NOW()`.
//! - **finishSecret**: move AWSCURRENT to the token's version (AWSPREVIOUS follows).
//!
//! Every step is idempotent, so the driver may retry any of them. A rotator whose engine this
//! build lacks (see [`crate::engine`]'s cargo features) refuses every step before any call.

use aws_sdk_secretsmanager::Client;
use coffer_core::ports::{RotationStep, RotationStepEvent};

use crate::config::PasswordSettings;
use crate::engine::{Database, DbError, Engine, EngineNotBuilt, Session};
use crate::error::{RotatorError, StepErrorKind};
use crate::secret::SecretValue;
use crate::secrets::{Metadata, SecretsApi, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::tls::TlsSettings;

/// The alternating-users suffix of AWS's templates.
const CLONE_SUFFIX: &str = "_clone";

/// A rotation function for one database engine.
pub struct Rotator {
    engine: Engine,
    /// The engine's driver; [`EngineNotBuilt`] when this build lacks it, which every step
    /// reports before doing anything.
    database: Result<Box<dyn Database>, EngineNotBuilt>,
    api: SecretsApi,
    passwords: PasswordSettings,
}

impl Rotator {
    /// A rotator calling the Secrets Manager API through `client` (see
    /// [`crate::secrets_manager_client`]), with the password policy and database TLS roots
    /// read at start (see [`PasswordSettings::from_env`], [`TlsSettings::from_env`]).
    pub fn new(
        engine: Engine,
        client: Client,
        passwords: PasswordSettings,
        tls: &TlsSettings,
    ) -> Rotator {
        Rotator {
            engine,
            database: engine.database(tls),
            api: SecretsApi::new(client),
            passwords,
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Runs one step of AWS's rotation event. The error names the step, the secret, and the
    /// user and host involved; never a password.
    pub async fn handle(&self, event: &RotationStepEvent) -> Result<(), RotatorError> {
        let secret_id = event.secret_id.as_str();
        tracing::info!(step = %event.step, secret = secret_id, version = %event.client_request_token, "rotation step");
        self.run(event).await.map_err(|kind| {
            let error = RotatorError {
                step: event.step,
                secret_id: secret_id.to_string(),
                kind,
            };
            tracing::warn!(%error, "rotation step failed");
            error
        })
    }

    async fn run(&self, event: &RotationStepEvent) -> Result<(), StepErrorKind> {
        let db = self
            .database
            .as_deref()
            .map_err(|e| StepErrorKind::EngineNotBuilt(*e))?;
        let secret_id = event.secret_id.as_str();
        let token = event.client_request_token.as_str();
        let metadata = self.api.describe(secret_id).await?;
        if already_current(&metadata, secret_id, token)? {
            tracing::info!(
                secret = secret_id,
                version = token,
                "version already set as AWSCURRENT"
            );
            return Ok(());
        }
        match event.step {
            RotationStep::CreateSecret => {
                self.create_secret(db, secret_id, token, event.rotation_token.as_deref())
                    .await
            }
            RotationStep::SetSecret => self.set_secret(db, secret_id, token).await,
            RotationStep::TestSecret => self.test_secret(db, secret_id, token).await,
            RotationStep::FinishSecret => {
                // The staging check above already returned when `token` is AWSCURRENT.
                let current = metadata.holder_of(AWSCURRENT);
                self.api.promote(secret_id, token, current).await?;
                tracing::info!(
                    secret = secret_id,
                    version = token,
                    "finishSecret: AWSCURRENT moved"
                );
                Ok(())
            }
        }
    }

    async fn create_secret(
        &self,
        db: &dyn Database,
        secret_id: &str,
        token: &str,
        rotation_token: Option<&str>,
    ) -> Result<(), StepErrorKind> {
        let current = self.value(secret_id, AWSCURRENT, None).await?;
        if self
            .api
            .value(secret_id, AWSPENDING, Some(token))
            .await?
            .is_some()
        {
            tracing::info!(
                secret = secret_id,
                "createSecret: AWSPENDING value already exists"
            );
            return Ok(());
        }
        let username = match current.master_arn() {
            Some(_) => alternate_username(current.username(), db.max_username_len())?,
            None => current.username().to_string(),
        };
        let password = self.api.random_password(&self.passwords).await?;
        let pending = current.with_credentials(&username, &password);
        self.api
            .put_pending(secret_id, token, &pending, rotation_token)
            .await?;
        tracing::info!(secret = secret_id, version = token, user = %username, "createSecret: AWSPENDING value stored");
        Ok(())
    }

    async fn set_secret(
        &self,
        db: &dyn Database,
        secret_id: &str,
        token: &str,
    ) -> Result<(), StepErrorKind> {
        let current = self.value(secret_id, AWSCURRENT, None).await?;
        let pending = self.value(secret_id, AWSPENDING, Some(token)).await?;
        if let Ok(session) = login(db, &pending).await {
            session.close().await;
            tracing::info!(
                secret = secret_id,
                user = pending.username(),
                "setSecret: AWSPENDING already logs in"
            );
            return Ok(());
        }
        match current.master_arn() {
            None => {
                self.set_single_user(db, secret_id, &current, &pending)
                    .await?
            }
            Some(master_arn) => {
                self.set_alternating_users(db, master_arn, &current, &pending)
                    .await?
            }
        }
        tracing::info!(
            secret = secret_id,
            user = pending.username(),
            host = pending.host(),
            "setSecret: password set"
        );
        Ok(())
    }

    async fn set_single_user(
        &self,
        db: &dyn Database,
        secret_id: &str,
        current: &SecretValue,
        pending: &SecretValue,
    ) -> Result<(), StepErrorKind> {
        if current.username() != pending.username() {
            return Err(StepErrorKind::UserMismatch {
                pending: pending.username().into(),
                current: current.username().into(),
            });
        }
        if current.host() != pending.host() {
            return Err(StepErrorKind::HostMismatch {
                pending: pending.host().into(),
                current: current.host().into(),
            });
        }
        let mut session = match login(db, current).await {
            Ok(session) => session,
            // After an interrupted rotation the database may still hold the previous password.
            Err(cause) => match self.api.value(secret_id, AWSPREVIOUS, None).await? {
                Some(previous) if previous.username() == current.username() => login(db, &previous)
                    .await
                    .map_err(|cause| login_error("AWSCURRENT or AWSPREVIOUS", current, cause))?,
                _ => return Err(login_error(AWSCURRENT, current, cause)),
            },
        };
        let result = session
            .change_own_password(pending.username(), pending.password())
            .await;
        session.close().await;
        result.map_err(|cause| database_error("changing the password", pending, cause))
    }

    async fn set_alternating_users(
        &self,
        db: &dyn Database,
        master_arn: &str,
        current: &SecretValue,
        pending: &SecretValue,
    ) -> Result<(), StepErrorKind> {
        // The AWSCURRENT credentials must be valid before the master acts on them: this keeps
        // a secret naming someone else's user from having the master change that user.
        login(db, current)
            .await
            .map_err(|cause| login_error(AWSCURRENT, current, cause))?
            .close()
            .await;
        let mut master = self.value(master_arn, AWSCURRENT, None).await?;
        master.set_dbname(current.dbname());
        if master.host() != current.host() {
            return Err(StepErrorKind::MasterHostMismatch {
                current: current.host().into(),
                master: master.host().into(),
            });
        }
        let mut session = login(db, &master)
            .await
            .map_err(|cause| login_error("master secret's", &master, cause))?;
        let result = session
            .upsert_clone(current.username(), pending.username(), pending.password())
            .await;
        session.close().await;
        result.map_err(|cause| {
            database_error("creating or updating the alternate user", pending, cause)
        })
    }

    async fn test_secret(
        &self,
        db: &dyn Database,
        secret_id: &str,
        token: &str,
    ) -> Result<(), StepErrorKind> {
        let pending = self.value(secret_id, AWSPENDING, Some(token)).await?;
        let mut session = login(db, &pending)
            .await
            .map_err(|cause| login_error(AWSPENDING, &pending, cause))?;
        let result = session.check().await;
        session.close().await;
        result.map_err(|cause| database_error("SELECT NOW()", &pending, cause))?;
        tracing::info!(
            secret = secret_id,
            user = pending.username(),
            "testSecret: AWSPENDING logs in"
        );
        Ok(())
    }

    /// A value that must exist, for this rotator's engine.
    async fn value(
        &self,
        secret_id: &str,
        stage: &str,
        version: Option<&str>,
    ) -> Result<SecretValue, StepErrorKind> {
        let value = self.api.required_value(secret_id, stage, version).await?;
        let engines = self.engine.secret_engines();
        match value.engine() {
            Some(engine) if engines.contains(&engine) => Ok(value),
            found => Err(StepErrorKind::SecretValue {
                stage: stage.into(),
                secret: secret_id.into(),
                problem: format!(
                    "has engine {found:?}: the engine must be one of {engines:?} for {}",
                    self.engine.rotator_name()
                ),
            }),
        }
    }
}

/// Logs in with `value`'s credentials.
async fn login(db: &dyn Database, value: &SecretValue) -> Result<Box<dyn Session>, DbError> {
    db.connect(&value.login(db.default_port())).await
}

/// AWS's staging check: `Ok(true)` when `token` is already AWSCURRENT (nothing to do),
/// `Ok(false)` when it is AWSPENDING, an error otherwise.
fn already_current(
    metadata: &Metadata,
    secret_id: &str,
    token: &str,
) -> Result<bool, StepErrorKind> {
    if metadata.rotation_enabled == Some(false) {
        return Err(StepErrorKind::RotationNotEnabled {
            arn: secret_id.into(),
        });
    }
    if !metadata.versions.contains_key(token) {
        return Err(StepErrorKind::NoStage {
            token: token.into(),
            arn: secret_id.into(),
        });
    }
    if metadata.has_stage(token, AWSCURRENT) {
        return Ok(true);
    }
    if !metadata.has_stage(token, AWSPENDING) {
        return Err(StepErrorKind::NotPending {
            token: token.into(),
            arn: secret_id.into(),
        });
    }
    Ok(false)
}

/// `name` <-> `name_clone`, as AWS's templates alternate.
fn alternate_username(current: &str, max_len: usize) -> Result<String, StepErrorKind> {
    if let Some(original) = current.strip_suffix(CLONE_SUFFIX) {
        return Ok(original.to_string());
    }
    let clone = format!("{current}{CLONE_SUFFIX}");
    if clone.chars().count() > max_len {
        return Err(StepErrorKind::UsernameTooLong {
            user: current.into(),
            max: max_len,
        });
    }
    Ok(clone)
}

fn login_error(credentials: &'static str, value: &SecretValue, cause: DbError) -> StepErrorKind {
    StepErrorKind::Login {
        credentials,
        user: value.username().into(),
        host: value.host().into(),
        cause,
    }
}

fn database_error(action: &'static str, value: &SecretValue, cause: DbError) -> StepErrorKind {
    StepErrorKind::Database {
        action,
        user: value.username().into(),
        host: value.host().into(),
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn metadata(versions: &[(&str, &[&str])]) -> Metadata {
        Metadata {
            rotation_enabled: Some(true),
            versions: versions
                .iter()
                .map(|(v, s)| (v.to_string(), s.iter().map(|s| s.to_string()).collect()))
                .collect::<HashMap<_, _>>(),
        }
    }

    #[test]
    fn alternate_username_flips_and_checks_length() {
        assert_eq!(alternate_username("app", 63).unwrap(), "app_clone");
        assert_eq!(alternate_username("app_clone", 63).unwrap(), "app");
        assert!(matches!(
            alternate_username(&"a".repeat(27), 32),
            Err(StepErrorKind::UsernameTooLong { .. })
        ));
    }

    /// A rotator whose engine this build lacks refuses every step with a message naming the
    /// feature and the rotator that has it, before any API call (the client points nowhere).
    #[tokio::test]
    async fn step_without_the_engine_fails_before_any_call() {
        use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
        let client = Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let rotator = Rotator {
            engine: Engine::MySql,
            database: Err(EngineNotBuilt(Engine::MySql)),
            api: SecretsApi::new(client),
            passwords: PasswordSettings::default(),
        };
        let event = RotationStepEvent {
            step: RotationStep::CreateSecret,
            secret_id: "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf".into(),
            client_request_token: "v1".into(),
            rotation_token: None,
        };
        let error = rotator.handle(&event).await.unwrap_err();
        assert!(
            matches!(error.kind, StepErrorKind::EngineNotBuilt(_)),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.contains("cargo feature `mysql`"), "{text}");
        assert!(text.contains("coffer-rotator-mysql"), "{text}");
    }

    #[test]
    #[cfg(all(feature = "postgres", feature = "mysql"))]
    fn engines_of_the_default_build_are_built() {
        for engine in [Engine::Postgres, Engine::MySql] {
            assert!(engine.is_built(), "{engine:?}");
            assert!(engine.database(&TlsSettings::default()).is_ok());
        }
    }

    #[test]
    fn staging_check_uses_aws_texts() {
        let m = metadata(&[
            ("v1", &["AWSCURRENT"]),
            ("v2", &["AWSPREVIOUS"]),
            ("v3", &["AWSPENDING"]),
        ]);
        assert!(already_current(&m, "arn", "v1").unwrap());
        assert!(!already_current(&m, "arn", "v3").unwrap());
        assert_eq!(
            already_current(&m, "arn", "v2").unwrap_err().to_string(),
            "Secret version v2 not set as AWSPENDING for rotation of secret arn."
        );
        assert_eq!(
            already_current(&m, "arn", "v9").unwrap_err().to_string(),
            "Secret version v9 has no stage for rotation of secret arn."
        );
        let disabled = Metadata {
            rotation_enabled: Some(false),
            ..m
        };
        assert_eq!(
            already_current(&disabled, "arn", "v3")
                .unwrap_err()
                .to_string(),
            "Secret arn is not enabled for rotation"
        );
    }
}
