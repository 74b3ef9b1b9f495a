//! `ServiceParts::assemble`, the one service builder of `coffer serve` and the Lambda cold
//! starts: each option the parts name is offered, none that they do not, and session tokens are
//! sealed under the key derived from the NextToken key (so instances sharing it accept each
//! other's sessions).

use async_trait::async_trait;
use coffer_core::identity::iam_login::{
    CallerIdentity, CallerIdentityVerifier, IamLoginSettings, StsRequest, VerifyError,
};
use coffer_core::identity::sts::{SessionClaims, SessionTokenCodec};
use coffer_core::ports::{RotationInvoker, RotationJob, RotationStartError};
use coffer_core::service::{Ports, ServiceConfig, ServiceParts, TemporaryCredentials};
use coffer_testkit::fakes::{CountingRandom, ManualClock, NoMetrics, RecordingAudit};
use coffer_testkit::{InMemoryKeyProvider, InMemoryPrincipalStore, InMemorySecretRepository};
use std::sync::Arc;

const PAGING_KEY: [u8; 32] = [7; 32];

struct Accepting;
#[async_trait]
impl RotationInvoker for Accepting {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Ok(())
    }
}

struct NoSts;
#[async_trait]
impl CallerIdentityVerifier for NoSts {
    async fn get_caller_identity(&self, _: &StsRequest) -> Result<CallerIdentity, VerifyError> {
        Err(VerifyError::Unavailable("no STS in this test".into()))
    }
}

fn parts(principals: bool, temporary_credentials: Option<TemporaryCredentials>) -> ServiceParts {
    ServiceParts {
        ports: Ports {
            repository: Arc::new(InMemorySecretRepository::new()),
            keys: Arc::new(InMemoryKeyProvider::new()),
            audit: Arc::new(RecordingAudit::default()),
            metrics: Arc::new(NoMetrics),
            rotation: Arc::new(Accepting),
            clock: Arc::new(ManualClock::at(1_714_564_800_000)),
            random: Arc::new(CountingRandom::default()),
        },
        config: ServiceConfig {
            paging_key: PAGING_KEY,
            audit_required: true,
        },
        principals: principals.then(|| Arc::new(InMemoryPrincipalStore::new()) as Arc<_>),
        temporary_credentials,
    }
}

fn iam_login() -> IamLoginSettings {
    IamLoginSettings {
        verifier: Arc::new(NoSts),
        sts_authority: "sts.us-east-1.amazonaws.com".into(),
        audience: Some("coffer".into()),
        region: "us-east-1".into(),
    }
}

#[test]
fn assemble_without_options_offers_none() {
    let service = parts(false, None).assemble();
    assert!(service.principals().is_none());
    assert!(service.sts().is_none());
    assert!(service.iam_login().is_none());
}

#[test]
fn assemble_with_principals_only_iam_mode_has_the_store_and_no_sessions() {
    // The `api` function in IAM mode: identity policies from the store, no STS.
    let service = parts(true, None).assemble();
    assert!(service.principals().is_some());
    assert!(service.sts().is_none());
    assert!(service.iam_login().is_none());
}

#[test]
fn assemble_with_everything_offers_sts_login_and_principals() {
    let service = parts(
        true,
        Some(TemporaryCredentials {
            min_duration_secs: 60,
            iam_login: Some(iam_login()),
        }),
    )
    .assemble();
    assert!(service.principals().is_some());
    assert_eq!(service.sts().expect("sts").min_duration_secs, 60);
    let login = service.iam_login().expect("login");
    assert_eq!(login.audience.as_deref(), Some("coffer"));
}

#[test]
fn assemble_sts_without_login_offers_sts_only() {
    let service = parts(
        true,
        Some(TemporaryCredentials {
            min_duration_secs: 900,
            iam_login: None,
        }),
    )
    .assemble();
    assert!(service.sts().is_some());
    assert!(service.iam_login().is_none());
}

#[test]
fn assemble_sessions_are_sealed_under_the_paging_key_derivation() {
    let service = parts(
        false,
        Some(TemporaryCredentials {
            min_duration_secs: 900,
            iam_login: None,
        }),
    )
    .assemble();
    let claims = SessionClaims {
        access_key_id: "ASIATEST".into(),
        secret_access_key: "session-secret".into(),
        account: "111122223333".into(),
        role_name: "r".into(),
        role_id: "AROATEST".into(),
        session_name: "s".into(),
        expires: 4_000_000_000,
        iam_arn: None,
    };
    // Another instance with the same NextToken key opens this instance's token.
    let token = service.sts().expect("sts").codec.seal(&claims, &[1; 12]);
    let opened = SessionTokenCodec::derived_from(&PAGING_KEY)
        .open(&token)
        .expect("the derived codec opens it");
    assert_eq!(opened.access_key_id, "ASIATEST");
    assert!(SessionTokenCodec::derived_from(&[8; 32])
        .open(&token)
        .is_none());
}
