//! Authentication: turns a signed request into the caller and the region it signed for. The
//! `Authenticator` trait is the seam: local mode verifies SigV4 against Coffer's own credentials
//! ([`SigV4Authenticator`]); behind API Gateway with IAM authorization the verified caller comes
//! from the request context instead.

use crate::sigv4::{self, AuthError, RequestParts, SigningKeyLookup};
use coffer_core::audit::Caller;
use std::fmt;
use zeroize::Zeroizing;

/// Who signed a request, and for which region.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub region: String,
}

pub trait Authenticator: Send + Sync {
    fn authenticate(&self, request: &RequestParts<'_>) -> Result<Authenticated, AuthError>;
}

/// A static access key pair that acts as the account's root principal.
#[derive(Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub account_id: String,
}

impl fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl SigningKeyLookup for RootCredentials {
    fn secret_access_key(&self, access_key_id: &str) -> Option<Zeroizing<String>> {
        (access_key_id == self.access_key_id).then(|| self.secret_access_key.clone())
    }
}

/// Verifies SigV4 signatures made with the root credentials. Users, roles and policies come in
/// a later stage; for now the root principal may do everything.
pub struct SigV4Authenticator {
    root: RootCredentials,
    services: Vec<&'static str>,
    clock: Box<dyn Fn() -> time::OffsetDateTime + Send + Sync>,
}

impl SigV4Authenticator {
    pub fn new(root: RootCredentials) -> Self {
        SigV4Authenticator {
            root,
            services: vec!["secretsmanager"],
            clock: Box::new(time::OffsetDateTime::now_utc),
        }
    }
}

impl Authenticator for SigV4Authenticator {
    fn authenticate(&self, request: &RequestParts<'_>) -> Result<Authenticated, AuthError> {
        let verified = sigv4::verify(request, &self.root, &self.services, (self.clock)())?;
        let user_agent = request
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Authenticated {
            caller: Caller {
                identity_type: "Root".to_string(),
                principal_arn: format!("arn:aws:iam::{}:root", self.root.account_id),
                account_id: self.root.account_id.clone(),
                access_key_id: Some(verified.access_key_id),
                source_ip: None,
                user_agent,
            },
            region: verified.region,
        })
    }
}
