//! `coffer-rotator-postgres`: the PostgreSQL rotation function, built as a Lambda `bootstrap` for
//! `provided.al2023`. It receives AWS's rotation event (`{"Step", "SecretId",
//! "ClientRequestToken", "RotationToken"}`) once per step and rotates the database user through
//! Coffer's API; everything it does lives in `coffer_rotators` (configuration: see
//! `coffer_rotators::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    coffer_rotators::lambda::run(coffer_rotators::Engine::Postgres).await
}
