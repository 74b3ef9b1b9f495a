//! The one place a [`SecretsService`] is put together from its parts. `coffer serve` (embedded
//! and AWS backends) and every Lambda cold start (`api`, `rotation`, `scheduler`) fill in a
//! [`ServiceParts`] and call [`ServiceParts::assemble`], so the sequence of `with_*` calls
//! exists once: a process cannot end up offering LoginWithIam without the STS codec that seals
//! its sessions, and a missing principal store is a field someone had to write `None` into
//! rather than a call someone forgot (the `api` function in IAM mode once lacked it).
//!
//! Which options a process offers is its configuration, decided where that is read (the local
//! server's flags, the Lambda settings); how they are wired is decided here.
//!
//! Place in the data path: process start only. Wiring (ports from coffer-aws or
//! coffer-embedded) -> [`ServiceParts::assemble`] -> the `SecretsService` every call then goes
//! through (wire -> `SecretsService::handle`). Nothing here runs on the request path.

use super::{Ports, SecretsService, ServiceConfig};
use crate::identity::iam_login::IamLoginSettings;
use crate::identity::sts::{SessionTokenCodec, StsSettings};
use crate::ports::PrincipalStore;
use std::sync::Arc;

/// Everything a service is made of.
pub struct ServiceParts {
    pub ports: Ports,
    pub config: ServiceConfig,
    /// Coffer's own users, roles and access keys, and the identity policies of IAM identities
    /// (authorization and the admin API); `None`: only root principals exist.
    pub principals: Option<Arc<dyn PrincipalStore>>,
    /// STS (AssumeRole) and LoginWithIam sessions; `None`: neither is offered.
    pub temporary_credentials: Option<TemporaryCredentials>,
}

/// How temporary credentials are offered. Their session tokens are sealed under a key derived
/// from the NextToken key ([`ServiceConfig::paging_key`]), which every instance of a deployment
/// shares, so a session made on one instance is accepted by the others.
pub struct TemporaryCredentials {
    /// Smallest accepted `DurationSeconds` (AWS: `crate::identity::sts::DEFAULT_MIN_DURATION_SECS`).
    pub min_duration_secs: u64,
    /// `coffer.LoginWithIam` (its sessions are sealed with the same codec); `None`: not
    /// offered.
    pub iam_login: Option<IamLoginSettings>,
}

impl ServiceParts {
    /// The service, with exactly the options the parts name.
    pub fn assemble(self) -> SecretsService {
        let ServiceParts {
            ports,
            config,
            principals,
            temporary_credentials,
        } = self;
        let codec = Arc::new(SessionTokenCodec::derived_from(&config.paging_key));
        let mut service = SecretsService::new(ports, config);
        if let Some(temporary) = temporary_credentials {
            service = service.with_sts(StsSettings {
                codec,
                min_duration_secs: temporary.min_duration_secs,
            });
            if let Some(login) = temporary.iam_login {
                service = service.with_iam_login(login);
            }
        }
        if let Some(store) = principals {
            service = service.with_principals(store);
        }
        service
    }
}
