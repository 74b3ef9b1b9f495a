//! Temporary credentials (STS `AssumeRole`, `GetCallerIdentity`; wherever a principal store is
//! wired: the embedded and the AWS backend).
//!
//! Data path: the wire routes an awsQuery STS request (`POST /`, form body, SigV4 scope service
//! `sts`) to [`SecretsService::handle_sts`] with the authenticated caller. AssumeRole decides
//! `sts:AssumeRole` on the role with the role's trust policy and the caller's identity policies
//! ([`evaluate_trust`]), then mints an `ASIA...` access key id, a random secret, and a session
//! token: the [`SessionClaims`] (role, account, session name, the secret, expiry) sealed with
//! AES-256-GCM under a server key ([`SessionTokenCodec`], derived from the NextToken key of the
//! data dir), so the token is self-contained and tamper-evident and nothing is stored. The wire's
//! SigV4 authenticator opens the token of every request signed with an `ASIA` key, checks the key
//! id and the expiry, and verifies the signature with the secret inside. The secret and the token
//! are never logged (`Debug` redacts them).

use crate::clock::Timestamp;
use crate::identity::principals::PrincipalType;
use crate::service::{RequestContext, SecretsService};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use coffer_policy::{
    access_denied_message, evaluate_trust, parse_trust_policy, AuthorizationRequest,
    PolicyDocument, PrincipalInfo, PrincipalKind,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// AWS's shortest session (`DurationSeconds` minimum); `--sts-min-duration-secs` may lower it.
pub const DEFAULT_MIN_DURATION_SECS: u64 = 900;
/// AWS's longest role session.
pub const MAX_DURATION_SECS: u64 = 43_200;
/// The session length when `DurationSeconds` is not given.
pub const DEFAULT_DURATION_SECS: u64 = 3_600;

/// Binds the ciphertext to its purpose (and format version).
const TOKEN_AAD: &[u8] = b"coffer-sts-session-token-v1";
const NONCE_LEN: usize = 12;

/// What a session token carries. `secret_access_key` is zeroized on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    #[serde(rename = "k")]
    pub access_key_id: String,
    #[serde(rename = "s")]
    pub secret_access_key: String,
    #[serde(rename = "a")]
    pub account: String,
    #[serde(rename = "r")]
    pub role_name: String,
    #[serde(rename = "i")]
    pub role_id: String,
    #[serde(rename = "n")]
    pub session_name: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// A `coffer.LoginWithIam` session (`crate::identity::iam_login`): the caller's AWS IAM ARN as STS
    /// reported it; the session acts as that identity ([`PrincipalInfo::verified_by_aws`]) and
    /// `role_name`/`session_name` are empty, `role_id` is STS's `UserId`. Absent (and not
    /// written) for AssumeRole sessions, so tokens sealed before it existed still open.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub iam_arn: Option<String>,
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
    }
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("account", &self.account)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("expires", &self.expires)
            .field("iam_arn", &self.iam_arn)
            .finish_non_exhaustive()
    }
}

impl SessionClaims {
    /// The session as the policy engine sees it (its identity policies are the role's, or for
    /// a LoginWithIam session those stored for its IAM ARN).
    pub fn principal(&self) -> PrincipalInfo {
        if let Some(arn) = &self.iam_arn {
            // The ARN was parsed at login; a token that carries another is not one of ours.
            let mut p = PrincipalInfo::verified_by_aws(arn).unwrap_or_else(|| {
                let mut p = PrincipalInfo::root(&self.account);
                p.arn = arn.clone();
                p.kind = PrincipalKind::User;
                p
            });
            p.verified_by_aws = true;
            if !self.role_id.is_empty() {
                p.user_id = Some(self.role_id.clone());
            }
            return p;
        }
        PrincipalInfo::assumed_role(
            &self.account,
            &self.role_name,
            &self.session_name,
            &self.role_id,
        )
    }
}

/// Seals and opens session tokens (AES-256-GCM, random 96-bit nonce, base64).
#[derive(Clone)]
pub struct SessionTokenCodec {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SessionTokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionTokenCodec(<key redacted>)")
    }
}

impl SessionTokenCodec {
    pub fn new(key: &[u8; 32]) -> Self {
        SessionTokenCodec {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// The codec whose key is derived (HMAC-SHA256, own label) from the server's NextToken key,
    /// so tokens survive restarts exactly as long as NextTokens do.
    pub fn derived_from(paging_key: &[u8; 32]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(paging_key)
            .expect("HMAC accepts a key of any length");
        mac.update(b"coffer-sts-session-token-key-v1");
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self::new(&key)
    }

    /// The token for `claims`; `nonce` must be fresh random bytes.
    pub fn seal(&self, claims: &SessionClaims, nonce: &[u8; NONCE_LEN]) -> String {
        let plain = Zeroizing::new(serde_json::to_vec(claims).expect("claims serialize"));
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: &plain,
                    aad: TOKEN_AAD,
                },
            )
            .expect("AES-GCM encryption of a small message cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// The claims of `token`; `None` if it is malformed, tampered with or sealed under another key.
    pub fn open(&self, token: &str) -> Option<SessionClaims> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: TOKEN_AAD,
                    },
                )
                .ok()?,
        );
        serde_json::from_slice(&plain).ok()
    }
}

/// The STS settings of a server.
#[derive(Clone, Debug)]
pub struct StsSettings {
    pub codec: Arc<SessionTokenCodec>,
    /// Smallest accepted `DurationSeconds` (AWS: 900).
    pub min_duration_secs: u64,
}

/// An STS error: the awsQuery code, message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl StsError {
    fn access_denied(message: String) -> Self {
        StsError {
            code: "AccessDenied",
            message,
            status: 403,
        }
    }
    fn validation(message: impl Into<String>) -> Self {
        StsError {
            code: "ValidationError",
            message: message.into(),
            status: 400,
        }
    }
    fn internal() -> Self {
        StsError {
            code: "InternalFailure",
            message: "An internal error occurred.".to_string(),
            status: 500,
        }
    }
}

/// The result of an STS action.
pub enum StsOutput {
    AssumeRole {
        access_key_id: String,
        secret_access_key: Zeroizing<String>,
        session_token: Zeroizing<String>,
        /// `2026-01-01T00:00:00Z`.
        expiration: String,
        assumed_role_id: String,
        arn: String,
    },
    CallerIdentity {
        user_id: String,
        account: String,
        arn: String,
    },
}

impl fmt::Debug for StsOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StsOutput::AssumeRole {
                access_key_id, arn, ..
            } => f
                .debug_struct("AssumeRole")
                .field("access_key_id", access_key_id)
                .field("arn", arn)
                .finish_non_exhaustive(),
            StsOutput::CallerIdentity { arn, .. } => f
                .debug_struct("CallerIdentity")
                .field("arn", arn)
                .finish_non_exhaustive(),
        }
    }
}

/// `arn:aws:iam::<account>:role/<path/><name>` → (account, name).
fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" {
        return None;
    }
    let account = parts[4];
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = parts[5].strip_prefix("role/")?.rsplit('/').next()?;
    (!name.is_empty()).then(|| (account.to_string(), name.to_string()))
}

/// `RoleSessionName`: 2 to 64 characters of `[\w+=,.@-]`.
pub fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The `DurationSeconds` of a request, checked against `min..=MAX_DURATION_SECS`.
pub fn session_duration(requested: Option<&str>, min: u64) -> Result<u64, StsError> {
    let Some(text) = requested else {
        return Ok(DEFAULT_DURATION_SECS.max(min));
    };
    let value: i64 = text.trim().parse().map_err(|_| {
        StsError::validation(format!(
            "1 validation error detected: Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ))
    })?;
    if value < min as i64 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if value > MAX_DURATION_SECS as i64 {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {MAX_DURATION_SECS}"
        )));
    }
    Ok(value as u64)
}

/// Who a new session acts as (the [`SessionClaims`] without key, secret and expiry).
pub(crate) struct SessionIdentity {
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    pub iam_arn: Option<String>,
}

/// `identity` with a fresh `ASIA...` key id and secret, expiring `duration` seconds after `now`.
fn fresh_claims(
    random: &dyn crate::clock::RandomSource,
    now: Timestamp,
    duration: u64,
    identity: SessionIdentity,
) -> SessionClaims {
    SessionClaims {
        account: identity.account,
        role_name: identity.role_name,
        role_id: identity.role_id,
        session_name: identity.session_name,
        iam_arn: identity.iam_arn,
        access_key_id: format!(
            "ASIA{}",
            random_text(random, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        secret_access_key: random_text(
            random,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
        ),
        expires: now.millis().div_euclid(1000) + duration as i64,
    }
}

/// The session token of `claims`, sealed with a fresh nonce.
fn seal_claims(
    codec: &SessionTokenCodec,
    random: &dyn crate::clock::RandomSource,
    claims: &SessionClaims,
) -> Zeroizing<String> {
    let mut nonce = [0u8; NONCE_LEN];
    random.fill(&mut nonce);
    Zeroizing::new(codec.seal(claims, &nonce))
}

/// `2026-01-01T00:00:00Z` for Unix seconds.
pub(crate) fn expiration_text(unix: i64) -> String {
    let at =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(format).unwrap_or_default()
}

fn random_text(random: &dyn crate::clock::RandomSource, alphabet: &[u8], len: usize) -> String {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    random.fill(&mut buf);
    buf.iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

impl SecretsService {
    /// Runs one STS action (`AssumeRole`, `GetCallerIdentity`) for the authenticated caller,
    /// and records its audit event and metrics as every call does. `params` are the decoded
    /// form members.
    pub async fn handle_sts(
        &self,
        ctx: &RequestContext,
        action: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<StsOutput, StsError> {
        let started = self.ports().clock.now();
        let mut outcome = self.run_sts(ctx, action, params).await;
        if let Err(e) = self.audit_sts(ctx, action, params, &outcome).await {
            outcome = Err(StsError {
                code: "InternalFailure",
                message: e.message().to_string(),
                status: 500,
            });
        }
        let elapsed = (self.ports().clock.now().millis() - started.millis()) as f64;
        let metric_name = crate::operation::Operation::from_sts_action(action)
            .map_or("UnknownOperation", crate::operation::Operation::name);
        self.ports().metrics.record_call(
            metric_name,
            outcome.as_ref().err().map(|e| e.code),
            elapsed,
        );
        outcome
    }

    async fn run_sts(
        &self,
        ctx: &RequestContext,
        action: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<StsOutput, StsError> {
        match action {
            "GetCallerIdentity" => {
                let p = &ctx.principal;
                let user_id = match p.kind {
                    PrincipalKind::Root => p.account.clone(),
                    _ => p.user_id.clone().unwrap_or_else(|| p.account.clone()),
                };
                Ok(StsOutput::CallerIdentity {
                    user_id,
                    account: p.account.clone(),
                    arn: p.arn.clone(),
                })
            }
            "AssumeRole" => self.assume_role(ctx, params).await,
            other => Err(StsError {
                code: "InvalidAction",
                message: format!("Could not find operation {other} for version 2011-06-15"),
                status: 400,
            }),
        }
    }

    async fn assume_role(
        &self,
        ctx: &RequestContext,
        params: &BTreeMap<String, String>,
    ) -> Result<StsOutput, StsError> {
        let (Some(store), Some(settings)) = (self.principals(), self.sts()) else {
            return Err(StsError {
                code: "InvalidAction",
                message: "AssumeRole is not available here: this server has no principal store (no roles) or no session-token key.".to_string(),
                status: 400,
            });
        };
        let role_arn = params
            .get("RoleArn")
            .ok_or_else(|| StsError::validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
        let session_name = params.get("RoleSessionName").ok_or_else(|| {
            StsError::validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
        })?;
        if !valid_session_name(session_name) {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        if role_arn.len() < 20 || role_arn.len() > 2048 {
            return Err(StsError::validation(format!(
                "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048"
            )));
        }
        let duration = session_duration(
            params.get("DurationSeconds").map(String::as_str),
            settings.min_duration_secs,
        )?;

        let request = AuthorizationRequest::new(ctx.principal.clone(), "sts:AssumeRole", role_arn)
            .with_current_time(self.ports().clock.now().to_offset_datetime())
            .with_secure_transport(ctx.secure_transport);
        let request = match ctx.source_ip {
            Some(ip) => request.with_source_ip(ip),
            None => request,
        };
        let denied_implicitly = |request: &AuthorizationRequest| {
            StsError::access_denied(access_denied_message(
                request,
                &coffer_policy::Decision::ImplicitDeny {
                    reason: coffer_policy::ImplicitDenyReason::NoResourceAllow,
                },
            ))
        };
        let Some((role_account, role_name)) = parse_role_arn(role_arn) else {
            return Err(denied_implicitly(&request));
        };
        let request = request.with_resource_account(&role_account);
        let role = store
            .get_principal(&role_account, PrincipalType::Role, &role_name)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "principal store failure");
                StsError::internal()
            })?;
        // A missing role is answered like a refusal: the caller learns nothing of the account.
        let Some(role) = role else {
            return Err(denied_implicitly(&request));
        };
        let Some(trust) = role
            .assume_role_policy
            .as_deref()
            .and_then(|doc| parse_trust_policy(doc).ok())
        else {
            return Err(denied_implicitly(&request));
        };
        let identity = self.caller_policies(ctx).await?;
        let decision = evaluate_trust(&request, &identity, &trust);
        if !decision.is_allowed() {
            return Err(StsError::access_denied(access_denied_message(
                &request, &decision,
            )));
        }

        let (claims, token) = self.issue_session(
            settings,
            duration,
            SessionIdentity {
                account: role.account.clone(),
                role_name: role.name.clone(),
                role_id: role.id.clone(),
                session_name: session_name.clone(),
                iam_arn: None,
            },
        );
        let access_key_id = claims.access_key_id.clone();
        let expires = claims.expires;
        let principal = claims.principal();
        tracing::info!(
            request_id = %ctx.request_id,
            caller = %ctx.principal.arn,
            session = %principal.arn,
            access_key_id = %access_key_id,
            duration,
            "role assumed"
        );
        Ok(StsOutput::AssumeRole {
            access_key_id,
            secret_access_key: Zeroizing::new(claims.secret_access_key.clone()),
            session_token: token,
            expiration: expiration_text(expires),
            assumed_role_id: principal.user_id.clone().unwrap_or_default(),
            arn: principal.arn,
        })
    }

    /// A new session for `identity` lasting `duration` seconds: its claims (key id, secret,
    /// expiry) and its sealed token.
    pub(crate) fn issue_session(
        &self,
        settings: &StsSettings,
        duration: u64,
        identity: SessionIdentity,
    ) -> (SessionClaims, Zeroizing<String>) {
        let random = self.ports().random.clone();
        let claims = fresh_claims(
            random.as_ref(),
            self.ports().clock.now(),
            duration,
            identity,
        );
        let token = seal_claims(&settings.codec, random.as_ref(), &claims);
        (claims, token)
    }

    /// The identity policies of the caller (root: none; sessions: their role's), as every
    /// call's authorization reads them.
    async fn caller_policies(&self, ctx: &RequestContext) -> Result<Vec<PolicyDocument>, StsError> {
        self.identity_policies(ctx).await.map_err(|e| {
            tracing::error!(error = %e, "principal store failure");
            StsError::internal()
        })
    }

    /// Records the CloudTrail event of one STS call (`eventSource` `sts.amazonaws.com`, as
    /// CloudTrail logs AssumeRole): the request's role, session name and duration, and of the
    /// answer only the access key id, expiry and assumed-role user — never the secret access
    /// key or the session token. Fails only when audit is required and it was not recorded.
    async fn audit_sts(
        &self,
        ctx: &RequestContext,
        action: &str,
        params: &BTreeMap<String, String>,
        outcome: &Result<StsOutput, StsError>,
    ) -> crate::error::Result<()> {
        let event_name = crate::operation::Operation::from_sts_action(action)
            .map_or("UnknownOperation", crate::operation::Operation::name);
        let mut event = self.call_event(
            &ctx.scope.region,
            ctx.caller.clone(),
            &ctx.request_id,
            event_name,
        );
        event.read_only = action == "GetCallerIdentity";
        if action == "AssumeRole" {
            let mut request = serde_json::Map::new();
            for (member, field) in [
                ("RoleArn", "roleArn"),
                ("RoleSessionName", "roleSessionName"),
                ("DurationSeconds", "durationSeconds"),
            ] {
                if let Some(value) = params.get(member) {
                    request.insert(field.to_string(), serde_json::Value::String(value.clone()));
                }
            }
            event.request_parameters = serde_json::Value::Object(request);
            event.resources = params.get("RoleArn").cloned().into_iter().collect();
        }
        match outcome {
            Ok(StsOutput::AssumeRole {
                access_key_id,
                expiration,
                assumed_role_id,
                arn,
                ..
            }) => {
                event.response_elements = serde_json::json!({
                    "credentials": {"accessKeyId": access_key_id, "expiration": expiration},
                    "assumedRoleUser": {"assumedRoleId": assumed_role_id, "arn": arn},
                });
            }
            Ok(StsOutput::CallerIdentity { .. }) => {}
            Err(e) => {
                event.error_code = Some(e.code.to_string());
                event.error_message = Some(e.message.clone());
            }
        }
        self.record_event(&ctx.request_id, &event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            access_key_id: "ASIAEXAMPLE1234567".to_string(),
            secret_access_key: "s3cr3t/key+material".to_string(),
            account: "111122223333".to_string(),
            role_name: "reader".to_string(),
            role_id: "AROAEXAMPLE".to_string(),
            session_name: "alice".to_string(),
            expires: 1_900_000_000,
            iam_arn: None,
        }
    }

    #[test]
    fn token_round_trips() {
        let codec = SessionTokenCodec::new(&[7; 32]);
        let token = codec.seal(&claims(), &[1; 12]);
        let opened = codec.open(&token).expect("opens");
        assert_eq!(opened, claims());
        assert_eq!(
            opened.principal().arn,
            "arn:aws:sts::111122223333:assumed-role/reader/alice"
        );
        // Nothing of the claims is readable in the token.
        assert!(!token.contains("reader") && !token.contains("s3cr3t"));
    }

    #[test]
    fn tampered_or_foreign_tokens_do_not_open() {
        let codec = SessionTokenCodec::new(&[7; 32]);
        let token = codec.seal(&claims(), &[1; 12]);
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            let bad = base64::engine::general_purpose::STANDARD.encode(&raw);
            assert!(codec.open(&bad).is_none(), "flipped byte {i}");
            raw[i] ^= 1;
        }
        assert!(codec.open(&token[..token.len() - 4]).is_none());
        assert!(codec.open("not base64!").is_none());
        assert!(codec.open("").is_none());
        assert!(SessionTokenCodec::new(&[8; 32]).open(&token).is_none());
        let derived = SessionTokenCodec::derived_from(&[7; 32]);
        assert!(derived.open(&token).is_none());
        assert!(derived.open(&derived.seal(&claims(), &[2; 12])).is_some());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let text = format!("{:?}", claims());
        assert!(!text.contains("s3cr3t"));
        assert!(text.contains("ASIAEXAMPLE1234567"));
    }

    #[test]
    fn trust_policy_decides_assume_role() {
        let role = "arn:aws:iam::111122223333:role/reader";
        let trust = |principal: &str| {
            coffer_policy::parse_trust_policy(&format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
            ))
            .unwrap()
        };
        let alice = PrincipalInfo::user("111122223333", "alice", "AIDAALICE");
        let bob = PrincipalInfo::user("111122223333", "bob", "AIDABOB");
        let root = PrincipalInfo::root("111122223333");
        let req = |p: &PrincipalInfo| AuthorizationRequest::new(p.clone(), "sts:AssumeRole", role);
        let allow_assume = coffer_policy::parse_identity_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .unwrap();
        let named = trust("arn:aws:iam::111122223333:user/alice");
        assert!(evaluate_trust(&req(&alice), &[], &named).is_allowed());
        assert!(!evaluate_trust(&req(&bob), &[], &named).is_allowed());
        // An identity allow (or root) alone does not open a role that does not trust the caller.
        assert!(
            !evaluate_trust(&req(&bob), std::slice::from_ref(&allow_assume), &named).is_allowed()
        );
        assert!(!evaluate_trust(&req(&root), &[], &named).is_allowed());
        // Trusting the account: root may, a user needs an identity allow too.
        let account = trust("arn:aws:iam::111122223333:root");
        assert!(evaluate_trust(&req(&root), &[], &account).is_allowed());
        assert!(!evaluate_trust(&req(&bob), &[], &account).is_allowed());
        assert!(evaluate_trust(&req(&bob), &[allow_assume], &account).is_allowed());
        // Another account's root is not trusted.
        let other = PrincipalInfo::root("444455556666");
        assert!(!evaluate_trust(&req(&other), &[], &account).is_allowed());
    }

    #[test]
    fn session_names_durations_and_role_arns() {
        assert!(valid_session_name("alice@example.com"));
        assert!(valid_session_name("a_b+c=d,e.f-g"));
        assert!(!valid_session_name("a"));
        assert!(!valid_session_name(&"a".repeat(65)));
        assert!(!valid_session_name("has space"));
        assert_eq!(session_duration(None, 900).unwrap(), 3600);
        assert_eq!(session_duration(Some("900"), 900).unwrap(), 900);
        assert_eq!(session_duration(Some("43200"), 900).unwrap(), 43200);
        assert_eq!(session_duration(Some("2"), 2).unwrap(), 2);
        assert_eq!(
            session_duration(Some("899"), 900).unwrap_err().code,
            "ValidationError"
        );
        assert!(session_duration(Some("43201"), 900).is_err());
        assert!(session_duration(Some("x"), 900).is_err());
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/team/reader"),
            Some(("111122223333".to_string(), "reader".to_string()))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:user/bob"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/x"), None);
        assert_eq!(expiration_text(0), "1970-01-01T00:00:00Z");
    }
}
