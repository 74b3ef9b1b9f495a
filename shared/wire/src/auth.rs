//! Authentication: turns a signed request into the caller and the region it signed for. The
//! `Authenticator` trait is the seam: local mode verifies SigV4 against Coffer's own credentials
//! ([`SigV4Authenticator`]); behind API Gateway with IAM authorization the verified caller comes
//! from the request context instead.

use crate::sigv4::{self, AuthError, RequestParts, SigningKeyLookup};
use async_trait::async_trait;
use coffer_core::audit::Caller;
use coffer_core::identity::principals::resolve_access_key;
use coffer_core::identity::sts::SessionTokenCodec;
use coffer_core::ports::KeyProvider;
use coffer_core::ports::PrincipalStore;
use coffer_policy::PrincipalInfo;
use std::fmt;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Who signed a request, and for which region.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub region: String,
    /// The principal the policy engine decides for.
    pub principal: PrincipalInfo,
    /// The signing service of the SigV4 credential scope (`secretsmanager`, `sts`); `None` when
    /// the transport authenticated the caller.
    pub service: Option<String>,
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(&self, request: &RequestParts<'_>) -> Result<Authenticated, AuthError>;

    /// Authenticates with what the transport attached to the request as well (the API Gateway
    /// caller of [`ApiGatewayIamAuthenticator`]); the router calls this. By default the
    /// signature alone decides.
    async fn authenticate_with(
        &self,
        request: &RequestParts<'_>,
        _extensions: &http::Extensions,
    ) -> Result<Authenticated, AuthError> {
        self.authenticate(request).await
    }
}

/// The caller API Gateway verified with IAM authorization (`requestContext.authorizer.iam.
/// userArn` of an HTTP API event, `requestContext.identity.userArn` of a REST API event). Only
/// the `api` function's event conversion inserts it, from the event API Gateway built: it is
/// never read from a client-supplied header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiGatewayCaller {
    pub user_arn: String,
    /// The access key the caller signed with, when API Gateway reports it.
    pub access_key_id: Option<String>,
}

/// Authentication behind API Gateway with IAM authorization (`COFFER_AUTH_MODE=iam`): API
/// Gateway has verified the caller's SigV4 signature (for `execute-api`), so the caller's ARN
/// from the request context is the principal. A request without one is refused: it did not
/// come through an IAM-authorized route.
///
/// The principal is marked `verified_by_aws`: its identity policies are those Coffer stores
/// for its ARN or an ARN pattern matching it (`iam-identity` records, `coffer.PutIamIdentityPolicy`;
/// see `coffer_core::identity::iam_identity`), beside what the secrets' resource policies allow (its own
/// account's root is granted everything in that account, as with SigV4). Coffer does not read
/// the caller's policies from AWS IAM.
pub struct ApiGatewayIamAuthenticator {
    region: String,
}

impl ApiGatewayIamAuthenticator {
    /// `region`: the region of the API (and of the function behind it).
    pub fn new(region: impl Into<String>) -> Self {
        ApiGatewayIamAuthenticator {
            region: region.into(),
        }
    }
}

#[async_trait]
impl Authenticator for ApiGatewayIamAuthenticator {
    async fn authenticate(&self, _request: &RequestParts<'_>) -> Result<Authenticated, AuthError> {
        Err(AuthError::MissingAuthenticationToken)
    }

    async fn authenticate_with(
        &self,
        request: &RequestParts<'_>,
        extensions: &http::Extensions,
    ) -> Result<Authenticated, AuthError> {
        let caller = extensions
            .get::<ApiGatewayCaller>()
            .ok_or(AuthError::MissingAuthenticationToken)?;
        let principal = PrincipalInfo::verified_by_aws(&caller.user_arn)
            .ok_or(AuthError::InvalidClientTokenId)?;
        Ok(Authenticated {
            caller: Caller {
                identity_type: principal.kind.audit_identity_type().to_string(),
                principal_arn: principal.arn.clone(),
                account_id: principal.account.clone(),
                access_key_id: caller.access_key_id.clone(),
                source_ip: None,
                user_agent: user_agent(request),
            },
            region: self.region.clone(),
            principal,
            service: None,
        })
    }
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

/// Verifies SigV4 signatures made with the root credentials or with the access keys of
/// Coffer's own users (when a [`PrincipalStore`] is wired). The signing service of the
/// credential scope is `secretsmanager` for the Secrets Manager API and the admin API alike.
pub struct SigV4Authenticator {
    root: RootCredentials,
    principals: Option<(Arc<dyn PrincipalStore>, Arc<dyn KeyProvider>)>,
    sessions: Option<Arc<SessionTokenCodec>>,
    services: Vec<&'static str>,
    clock: Box<dyn Fn() -> time::OffsetDateTime + Send + Sync>,
}

impl SigV4Authenticator {
    pub fn new(root: RootCredentials) -> Self {
        SigV4Authenticator {
            root,
            principals: None,
            sessions: None,
            // The router checks that the scope's service fits the protocol of the request.
            services: vec!["secretsmanager", "sts"],
            clock: Box::new(time::OffsetDateTime::now_utc),
        }
    }

    /// Also accepts the access keys stored in `store` (their secrets opened through `keys`).
    pub fn with_principals(
        mut self,
        store: Arc<dyn PrincipalStore>,
        keys: Arc<dyn KeyProvider>,
    ) -> Self {
        self.principals = Some((store, keys));
        self
    }

    /// Also accepts temporary credentials (`ASIA...` keys with an `X-Amz-Security-Token`
    /// sealed by `codec`, see `coffer_core::identity::sts`).
    pub fn with_sessions(mut self, codec: Arc<SessionTokenCodec>) -> Self {
        self.sessions = Some(codec);
        self
    }

    /// Authenticates a request signed with temporary credentials: the token must open, name the
    /// signing key, be unexpired, and hold the secret the request was signed with.
    fn authenticate_session(
        &self,
        codec: &SessionTokenCodec,
        request: &RequestParts<'_>,
        key_id: &str,
        now: time::OffsetDateTime,
    ) -> Result<Authenticated, AuthError> {
        let token = request
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::InvalidClientTokenId)?;
        let claims = codec
            .open(token)
            .filter(|c| c.access_key_id == key_id)
            .ok_or(AuthError::InvalidClientTokenId)?;
        let secret = Zeroizing::new(claims.secret_access_key.clone());
        let lookup = |id: &str| (id == key_id).then(|| secret.clone());
        let verified = sigv4::verify(request, &lookup, &self.services, now)?;
        if now.unix_timestamp() >= claims.expires {
            return Err(AuthError::ExpiredToken);
        }
        // An AssumeRole session, or a LoginWithIam session acting as its AWS IAM identity.
        let principal = claims.principal();
        Ok(Authenticated {
            caller: Caller {
                identity_type: principal.kind.audit_identity_type().to_string(),
                principal_arn: principal.arn.clone(),
                account_id: principal.account.clone(),
                access_key_id: Some(verified.access_key_id),
                source_ip: None,
                user_agent: user_agent(request),
            },
            region: verified.region,
            principal,
            service: Some(verified.service),
        })
    }

    /// The access key id a request names, found by a verification pass that knows no key.
    fn requested_key_id(
        &self,
        request: &RequestParts<'_>,
        now: time::OffsetDateTime,
    ) -> Result<String, AuthError> {
        let seen = Mutex::new(None::<String>);
        let probe = |id: &str| -> Option<Zeroizing<String>> {
            *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_string());
            None
        };
        match sigv4::verify(request, &probe, &self.services, now) {
            Err(AuthError::InvalidClientTokenId) => seen
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .ok_or(AuthError::InvalidClientTokenId),
            Err(e) => Err(e),
            Ok(_) => Err(AuthError::InvalidClientTokenId),
        }
    }
}

fn user_agent(request: &RequestParts<'_>) -> Option<String> {
    user_agent_of(request.headers).map(str::to_string)
}

/// Longest `User-Agent` kept for audit events and logs (AWS records at most 1 KB of it).
pub const MAX_USER_AGENT_BYTES: usize = 1024;

/// The request's `User-Agent`, cut to [`MAX_USER_AGENT_BYTES`] at a character boundary: a
/// caller chooses it, so it must not be able to fill the audit trail.
pub fn user_agent_of(headers: &http::HeaderMap) -> Option<&str> {
    let text = headers.get("user-agent")?.to_str().ok()?;
    let mut end = text.len().min(MAX_USER_AGENT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(&text[..end])
}

#[async_trait]
impl Authenticator for SigV4Authenticator {
    async fn authenticate(&self, request: &RequestParts<'_>) -> Result<Authenticated, AuthError> {
        let now = (self.clock)();
        let key_id = self.requested_key_id(request, now)?;
        if key_id == self.root.access_key_id {
            let verified = sigv4::verify(request, &self.root, &self.services, now)?;
            return Ok(Authenticated {
                caller: Caller {
                    identity_type: "Root".to_string(),
                    principal_arn: format!("arn:aws:iam::{}:root", self.root.account_id),
                    account_id: self.root.account_id.clone(),
                    access_key_id: Some(verified.access_key_id),
                    source_ip: None,
                    user_agent: user_agent(request),
                },
                region: verified.region,
                principal: PrincipalInfo::root(&self.root.account_id),
                service: Some(verified.service),
            });
        }
        if key_id.starts_with("ASIA") {
            let Some(codec) = &self.sessions else {
                return Err(AuthError::InvalidClientTokenId);
            };
            return self.authenticate_session(codec, request, &key_id, now);
        }
        let Some((store, keys)) = &self.principals else {
            return Err(AuthError::InvalidClientTokenId);
        };
        let resolved = resolve_access_key(store.as_ref(), keys.as_ref(), &key_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "access key lookup failed");
                AuthError::InvalidClientTokenId
            })?;
        let Some((secret, user)) = resolved else {
            return Err(AuthError::InvalidClientTokenId);
        };
        let lookup = |id: &str| (id == key_id).then(|| secret.clone());
        let verified = sigv4::verify(request, &lookup, &self.services, now)?;
        let principal = user.info();
        Ok(Authenticated {
            caller: Caller {
                identity_type: "IAMUser".to_string(),
                principal_arn: principal.arn.clone(),
                account_id: principal.account.clone(),
                access_key_id: Some(verified.access_key_id),
                source_ip: None,
                user_agent: user_agent(request),
            },
            region: verified.region,
            principal,
            service: Some(verified.service),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_of_long_header_is_cut_to_1_kb() {
        let mut headers = http::HeaderMap::new();
        headers.insert("user-agent", "a".repeat(300_000).parse().unwrap());
        assert_eq!(user_agent_of(&headers).unwrap().len(), MAX_USER_AGENT_BYTES);
        headers.insert("user-agent", "aws-cli/2".parse().unwrap());
        assert_eq!(user_agent_of(&headers), Some("aws-cli/2"));
    }

    fn parts<'a>(headers: &'a http::HeaderMap) -> RequestParts<'a> {
        RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body: b"{}",
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        // The authenticators never wait on I/O here: one poll with a no-op waker finishes them.
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the authenticator waited"),
        }
    }

    #[test]
    fn api_gateway_iam_caller_from_context_is_the_principal() {
        let auth = ApiGatewayIamAuthenticator::new("eu-west-1");
        let headers = http::HeaderMap::new();
        let mut extensions = http::Extensions::new();
        extensions.insert(ApiGatewayCaller {
            user_arn: "arn:aws:sts::111122223333:assumed-role/dev/alice".to_string(),
            access_key_id: Some("ASIAEXAMPLE".to_string()),
        });
        let a = block_on(auth.authenticate_with(&parts(&headers), &extensions)).unwrap();
        assert_eq!(a.region, "eu-west-1");
        assert_eq!(a.principal.account, "111122223333");
        assert_eq!(a.caller.identity_type, "AssumedRole");
        assert_eq!(
            a.caller.principal_arn,
            "arn:aws:sts::111122223333:assumed-role/dev/alice"
        );
        assert_eq!(a.caller.access_key_id.as_deref(), Some("ASIAEXAMPLE"));
        // Its identity policies are the iam-identity records matching its ARN.
        assert!(a.principal.verified_by_aws);
    }

    #[test]
    fn api_gateway_iam_without_context_caller_is_refused() {
        let auth = ApiGatewayIamAuthenticator::new("us-east-1");
        let mut headers = http::HeaderMap::new();
        // A client-supplied signature or header never stands in for the context.
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        let none = http::Extensions::new();
        let e = block_on(auth.authenticate_with(&parts(&headers), &none)).unwrap_err();
        assert_eq!(e.code(), "MissingAuthenticationTokenException");
        let e = block_on(auth.authenticate(&parts(&headers))).unwrap_err();
        assert_eq!(e.code(), "MissingAuthenticationTokenException");
        let mut bad = http::Extensions::new();
        bad.insert(ApiGatewayCaller {
            user_arn: "not-an-arn".to_string(),
            access_key_id: None,
        });
        let e = block_on(auth.authenticate_with(&parts(&headers), &bad)).unwrap_err();
        assert_eq!(e.code(), "UnrecognizedClientException");
    }
}
