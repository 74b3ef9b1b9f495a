//! `coffer.LoginWithIam`: temporary Coffer credentials for an AWS IAM identity, proven by a
//! signed `sts:GetCallerIdentity` request (Vault's AWS auth method).
//!
//! Data path: the wire routes `X-Amz-Target: coffer.LoginWithIam` here without a Coffer
//! signature (the signed STS request is the proof). [`check_login_request`] decodes the request
//! (`IamHttpRequestMethod`, base64 `IamRequestUrl`, `IamRequestBody`, `IamRequestHeaders`) and
//! refuses, before anything is sent, what is not a fresh POST GetCallerIdentity signed for the
//! configured STS endpoint (and for the configured audience). The [`CallerIdentityVerifier`]
//! port (adapter: `coffer-aws`'s `HttpCallerIdentityVerifier`) sends the request to the
//! *configured* STS endpoint only, never to a URL of the client's choosing, and reads STS's
//! answer. The verified ARN becomes a session ([`crate::identity::sts::SessionClaims`] with `iam_arn`)
//! sealed like AssumeRole sessions; its identity policies are the `iam-identity` records that
//! match the ARN ([`crate::identity::iam_identity`]). One audit event records the call, with the verified
//! caller or the refusal; neither the caller's AWS credentials (the forwarded headers) nor the
//! issued secret or token reach an event, a log line or an error.

use crate::audit::{Caller, UNKNOWN_IDENTITY};
use crate::error::{Error, Result};
use crate::identity::sts::{session_duration, SessionIdentity};
use crate::redact::redact_sensitive;
use crate::service::{CallOutcome, SecretsService};
use async_trait::async_trait;
use base64::Engine;
use coffer_policy::PrincipalInfo;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// The header that names the Coffer server a login request is meant for.
pub const AUDIENCE_HEADER: &str = "x-coffer-login-audience";
/// How far the request's `X-Amz-Date` may be from the server's clock (STS's own window).
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
/// The region of a login's audit event when LoginWithIam is not configured.
const DEFAULT_REGION: &str = "us-east-1";
/// The only body accepted (any order of the two members).
const ACTION: (&str, &str) = ("Action", "GetCallerIdentity");
const VERSION: (&str, &str) = ("Version", "2011-06-15");

/// The signed GetCallerIdentity request to forward to STS: headers as the client signed them
/// (without `Host` and `Content-Length`, which the transport sets) and the form body. `Debug`
/// shows the header names only: the values carry the caller's signature and session token.
#[derive(Clone, PartialEq, Eq)]
pub struct StsRequest {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl fmt::Debug for StsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("StsRequest")
            .field("header_names", &names)
            .finish_non_exhaustive()
    }
}

/// What STS answered: who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub user_id: String,
    pub account: String,
}

/// Why STS gave no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// STS refused the request (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`).
    Refused { code: String, message: String },
    /// STS could not be reached or answered something unreadable.
    Unavailable(String),
}

/// Sends a signed GetCallerIdentity request to the configured STS endpoint.
#[async_trait]
pub trait CallerIdentityVerifier: Send + Sync {
    async fn get_caller_identity(
        &self,
        request: &StsRequest,
    ) -> std::result::Result<CallerIdentity, VerifyError>;
}

/// How a server verifies LoginWithIam requests.
#[derive(Clone)]
pub struct IamLoginSettings {
    pub verifier: Arc<dyn CallerIdentityVerifier>,
    /// `host[:port]` of the configured STS endpoint (default ports omitted): the request must
    /// be signed for it.
    pub sts_authority: String,
    /// When set, the value of `X-Coffer-Login-Audience` that must be signed into the request.
    pub audience: Option<String>,
    /// The region of the login's audit event.
    pub region: String,
}

impl fmt::Debug for IamLoginSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamLoginSettings")
            .field("sts_authority", &self.sts_authority)
            .field("audience", &self.audience)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// `host[:port]` of an `http(s)://` URL, lower-cased, without the scheme's default port;
/// `None` for anything else. `path_ok` receives the path and query.
pub fn url_authority(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority
        .strip_suffix(default_port)
        .map(str::to_string)
        .unwrap_or(authority);
    Some((authority, tail))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LoginRequest {
    iam_http_request_method: Option<String>,
    iam_request_url: Option<String>,
    iam_request_body: Option<String>,
    iam_request_headers: Option<String>,
    duration_seconds: Option<Value>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_parameter(message)
}

fn base64_member(value: Option<&str>, member: &str) -> Result<Vec<u8>> {
    let value = value.ok_or_else(|| invalid(format!("You must specify {member}.")))?;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| invalid(format!("{member} must be base64.")))
}

/// The headers of `IamRequestHeaders`: a JSON object of name -> string or list of strings.
fn decode_headers(raw: &[u8]) -> Result<Vec<(String, String)>> {
    let bad = || {
        invalid("IamRequestHeaders must be the base64 of a JSON object of header names to strings or lists of strings.")
    };
    let map: serde_json::Map<String, Value> = serde_json::from_slice(raw).map_err(|_| bad())?;
    let mut headers = Vec::new();
    for (name, value) in map {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(bad());
        }
        let values = match value {
            Value::String(s) => vec![s],
            Value::Array(items) => items
                .into_iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<_>>()?,
            _ => return Err(bad()),
        };
        for v in values {
            if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(bad());
            }
            headers.push((name.clone(), v));
        }
    }
    Ok(headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The signing service and signed header names of a SigV4 `Authorization` header.
fn authorization_parts(value: &str) -> Option<(String, Vec<String>)> {
    let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut service, mut signed) = (None, None);
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=')?;
        match key {
            "Credential" => {
                let scope: Vec<&str> = val.split('/').collect();
                if scope.len() != 5 || scope[4] != "aws4_request" {
                    return None;
                }
                service = Some(scope[3].to_string());
            }
            "SignedHeaders" => {
                signed = Some(val.split(';').map(str::to_ascii_lowercase).collect());
            }
            _ => {}
        }
    }
    Some((service?, signed?))
}

fn parse_amz_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(|d| d.assume_utc().unix_timestamp())
}

/// The body must be exactly `Action=GetCallerIdentity&Version=2011-06-15` (either order).
fn is_get_caller_identity(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut pairs: Vec<(&str, &str)> = text
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs == [ACTION, VERSION]
}

/// Checks a LoginWithIam request body against `settings` at `now` (Unix seconds) and returns
/// the request to forward and the session length. Every refusal is an AWS error that changes
/// nothing; nothing has been sent yet.
pub fn check_login_request(
    body: &[u8],
    settings: &IamLoginSettings,
    min_duration_secs: u64,
    now: i64,
) -> Result<(StsRequest, u64)> {
    let req: LoginRequest = if body.is_empty() {
        LoginRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Error::Serialization(format!(
                "The request body could not be read at line {} column {}",
                e.line(),
                e.column()
            ))
        })?
    };
    let duration_text = match &req.duration_seconds {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => Some(other.to_string()),
    };
    let duration = session_duration(duration_text.as_deref(), min_duration_secs)
        .map_err(|e| invalid(e.message))?;
    if req.iam_http_request_method.as_deref() != Some("POST") {
        return Err(invalid("IamHttpRequestMethod must be POST."));
    }
    let url = base64_member(req.iam_request_url.as_deref(), "IamRequestUrl")?;
    let url = String::from_utf8(url).map_err(|_| invalid("IamRequestUrl must be a URL."))?;
    let (authority, tail) =
        url_authority(&url).ok_or_else(|| invalid("IamRequestUrl must be an http(s) URL."))?;
    if authority != settings.sts_authority {
        return Err(invalid(format!(
            "IamRequestUrl must name this server's STS endpoint ({}).",
            settings.sts_authority
        )));
    }
    if !matches!(tail, "" | "/") {
        return Err(invalid(
            "IamRequestUrl must be the STS endpoint's root, without a path or query.",
        ));
    }
    let body = base64_member(req.iam_request_body.as_deref(), "IamRequestBody")?;
    if !is_get_caller_identity(&body) {
        return Err(invalid(
            "IamRequestBody must be exactly Action=GetCallerIdentity&Version=2011-06-15.",
        ));
    }
    let raw_headers = base64_member(req.iam_request_headers.as_deref(), "IamRequestHeaders")?;
    let headers = decode_headers(&raw_headers)?;
    let (service, signed_headers) = header(&headers, "authorization")
        .and_then(authorization_parts)
        .ok_or_else(|| {
            invalid("IamRequestHeaders must hold an AWS4-HMAC-SHA256 Authorization header.")
        })?;
    if service != "sts" {
        return Err(invalid(
            "The Authorization header must be signed for the service sts.",
        ));
    }
    if let Some(host) = header(&headers, "host") {
        if !host.eq_ignore_ascii_case(&settings.sts_authority) {
            return Err(invalid(format!(
                "The Host header must name this server's STS endpoint ({}).",
                settings.sts_authority
            )));
        }
    }
    let signed_at = header(&headers, "x-amz-date")
        .and_then(parse_amz_date)
        .ok_or_else(|| invalid("IamRequestHeaders must hold X-Amz-Date (YYYYMMDDTHHMMSSZ)."))?;
    if (now - signed_at).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(Error::AccessDenied(
            "The login request was signed more than 15 minutes away from the server's time."
                .to_string(),
        ));
    }
    if let Some(audience) = &settings.audience {
        let given = header(&headers, AUDIENCE_HEADER);
        if given != Some(audience.as_str()) || !signed_headers.iter().any(|h| h == AUDIENCE_HEADER)
        {
            return Err(Error::AccessDenied(
                "The login request must sign the header X-Coffer-Login-Audience with this server's audience."
                    .to_string(),
            ));
        }
    }
    let headers = headers
        .into_iter()
        .filter(|(n, _)| {
            !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length")
        })
        .collect();
    Ok((StsRequest { headers, body }, duration))
}

/// What the wire knows of a LoginWithIam call.
#[derive(Debug, Clone, Copy)]
pub struct LoginCall<'a> {
    pub request_id: &'a str,
    /// The account the server serves (the event's account when the caller is not verified).
    pub account_id: &'a str,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
}

impl SecretsService {
    /// Runs one `coffer.LoginWithIam` call and records its audit event and metrics.
    pub async fn login_with_iam(&self, call: &LoginCall<'_>, body: &[u8]) -> CallOutcome {
        let started = self.ports().clock.now();
        let (outcome, verified) = self.run_login(call, body).await;
        let caller = match &verified {
            Some(p) => Caller {
                identity_type: p.kind.audit_identity_type().to_string(),
                principal_arn: p.arn.clone(),
                account_id: p.account.clone(),
                access_key_id: None,
                source_ip: call.source_ip.map(|ip| ip.to_string()),
                user_agent: call.user_agent.map(str::to_string),
            },
            None => Caller {
                identity_type: UNKNOWN_IDENTITY.to_string(),
                principal_arn: String::new(),
                account_id: call.account_id.to_string(),
                access_key_id: None,
                source_ip: call.source_ip.map(|ip| ip.to_string()),
                user_agent: call.user_agent.map(str::to_string),
            },
        };
        let region = self
            .iam_login()
            .map_or(DEFAULT_REGION, |s| s.region.as_str());
        let mut event = self.call_event(region, caller, call.request_id, "LoginWithIam");
        // Only the members that carry no credential: the headers hold the caller's signature
        // and AWS session token.
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        event.request_parameters = json!({
            "IamHttpRequestMethod": request.get("IamHttpRequestMethod"),
            "DurationSeconds": request.get("DurationSeconds"),
        });
        if let Ok(v) = &outcome {
            event.response_elements = redact_sensitive(v);
        }
        event.error_code = outcome.as_ref().err().map(|e| e.code().to_string());
        event.error_message = outcome.as_ref().err().map(|e| e.message().to_string());
        let outcome = match self.record_event(call.request_id, &event).await {
            Ok(()) => outcome,
            Err(e) => Err(e),
        };
        let elapsed = (self.ports().clock.now().millis() - started.millis()) as f64;
        let code = outcome.as_ref().err().map(|e| e.code());
        self.ports()
            .metrics
            .record_call("LoginWithIam", code, elapsed);
        outcome
    }

    async fn run_login(
        &self,
        call: &LoginCall<'_>,
        body: &[u8],
    ) -> (CallOutcome, Option<PrincipalInfo>) {
        let (Some(settings), Some(sts)) = (self.iam_login(), self.sts()) else {
            return (
                Err(Error::invalid_request(
                    "LoginWithIam is not enabled on this server (no STS endpoint configured).",
                )),
                None,
            );
        };
        let now = self.ports().clock.now().millis().div_euclid(1000);
        let (request, duration) =
            match check_login_request(body, settings, sts.min_duration_secs, now) {
                Ok(checked) => checked,
                Err(e) => return (Err(e), None),
            };
        let identity = match settings.verifier.get_caller_identity(&request).await {
            Ok(identity) => identity,
            Err(VerifyError::Refused { code, message }) => {
                tracing::info!(request_id = call.request_id, sts_code = %code, sts_message = %message, "STS refused a login request");
                return (
                    Err(Error::AccessDenied(format!(
                        "STS refused the login request: {code}."
                    ))),
                    None,
                );
            }
            Err(VerifyError::Unavailable(why)) => {
                tracing::error!(request_id = call.request_id, error = %why, "STS could not verify a login request");
                return (
                    Err(Error::internal(
                        "The login request could not be verified: STS is unavailable.",
                    )),
                    None,
                );
            }
        };
        let Some(principal) =
            PrincipalInfo::verified_by_aws(&identity.arn).filter(|p| p.account == identity.account)
        else {
            tracing::error!(request_id = call.request_id, arn = %identity.arn, "STS answered an identity Coffer cannot read");
            return (
                Err(Error::AccessDenied(format!(
                    "The identity {} cannot log in to Coffer.",
                    identity.arn
                ))),
                None,
            );
        };
        let (claims, token) = self.issue_session(
            sts,
            duration,
            SessionIdentity {
                account: identity.account.clone(),
                role_name: String::new(),
                role_id: identity.user_id.clone(),
                session_name: String::new(),
                iam_arn: Some(identity.arn.clone()),
            },
        );
        tracing::info!(
            request_id = call.request_id,
            arn = %identity.arn,
            access_key_id = %claims.access_key_id,
            duration,
            "logged in with IAM"
        );
        let body = json!({
            "Credentials": {
                "AccessKeyId": claims.access_key_id,
                "SecretAccessKey": claims.secret_access_key.as_str(),
                "SessionToken": token.as_str(),
                "Expiration": claims.expires,
            },
            "Arn": identity.arn,
        });
        (Ok(body), Some(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-coffer-login-audience, Signature=abc";

    struct Never;

    #[async_trait]
    impl CallerIdentityVerifier for Never {
        async fn get_caller_identity(
            &self,
            _: &StsRequest,
        ) -> std::result::Result<CallerIdentity, VerifyError> {
            unreachable!("the checks run before anything is sent")
        }
    }

    fn settings(audience: Option<&str>) -> IamLoginSettings {
        IamLoginSettings {
            verifier: Arc::new(Never),
            sts_authority: "sts.us-east-1.amazonaws.com".to_string(),
            audience: audience.map(str::to_string),
            region: "us-east-1".to_string(),
        }
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn request(mut edit: impl FnMut(&mut Value, &mut serde_json::Map<String, Value>)) -> Vec<u8> {
        let mut headers = serde_json::Map::new();
        headers.insert("Authorization".into(), json!(AUTH));
        headers.insert("X-Amz-Date".into(), json!("20260101T000500Z"));
        headers.insert("Host".into(), json!("sts.us-east-1.amazonaws.com"));
        headers.insert(
            "Content-Type".into(),
            json!(["application/x-www-form-urlencoded; charset=utf-8"]),
        );
        headers.insert("X-Amz-Security-Token".into(), json!("aws-session-token"));
        headers.insert("X-Coffer-Login-Audience".into(), json!("coffer-prod"));
        let mut body = json!({
            "IamHttpRequestMethod": "POST",
            "IamRequestUrl": b64(b"https://sts.us-east-1.amazonaws.com/"),
            "IamRequestBody": b64(b"Action=GetCallerIdentity&Version=2011-06-15"),
        });
        edit(&mut body, &mut headers);
        body["IamRequestHeaders"] = json!(b64(&serde_json::to_vec(&headers).unwrap()));
        serde_json::to_vec(&body).unwrap()
    }

    fn check(body: &[u8], audience: Option<&str>) -> Result<(StsRequest, u64)> {
        check_login_request(body, &settings(audience), 900, NOW)
    }

    fn code(body: &[u8], audience: Option<&str>) -> &'static str {
        check(body, audience).unwrap_err().code()
    }

    #[test]
    fn a_fresh_signed_get_caller_identity_passes() {
        let (sts, duration) = check(&request(|_, _| {}), Some("coffer-prod")).unwrap();
        assert_eq!(duration, 3600);
        assert_eq!(sts.body, b"Action=GetCallerIdentity&Version=2011-06-15");
        // Host and Content-Length are the transport's; everything else is forwarded as signed.
        assert!(sts.headers.iter().all(|(n, _)| n != "Host"));
        assert!(sts
            .headers
            .iter()
            .any(|(n, v)| n == "X-Amz-Security-Token" && v == "aws-session-token"));
        // Debug shows names only, never the token or signature.
        let debug = format!("{sts:?}");
        assert!(!debug.contains("aws-session-token") && !debug.contains("Signature"));
        let (_, duration) = check(
            &request(|b, _| b["DurationSeconds"] = json!(900)),
            Some("coffer-prod"),
        )
        .unwrap();
        assert_eq!(duration, 900);
    }

    #[test]
    fn other_methods_bodies_and_urls_are_refused() {
        let p = "InvalidParameterException";
        assert_eq!(
            code(
                &request(|b, _| b["IamHttpRequestMethod"] = json!("GET")),
                None
            ),
            p
        );
        for body in [
            &b"Action=AssumeRole&Version=2011-06-15"[..],
            b"Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x",
            b"Action=GetCallerIdentity",
            b"Action=%47etCallerIdentity&Version=2011-06-15",
        ] {
            assert_eq!(
                code(
                    &request(|b, _| b["IamRequestBody"] = json!(b64(body))),
                    None
                ),
                p
            );
        }
        for url in [
            "https://evil.example/",
            "https://sts.us-east-1.amazonaws.com.evil.example/",
            "https://sts.us-east-1.amazonaws.com@evil.example/",
            "https://sts.us-east-1.amazonaws.com/?Action=AssumeRole",
            "ftp://sts.us-east-1.amazonaws.com/",
        ] {
            assert_eq!(
                code(
                    &request(|b, _| b["IamRequestUrl"] = json!(b64(url.as_bytes()))),
                    None
                ),
                p,
                "{url}"
            );
        }
        // The default port may be written out.
        assert!(check(
            &request(
                |b, _| b["IamRequestUrl"] = json!(b64(b"https://STS.us-east-1.amazonaws.com:443"))
            ),
            None
        )
        .is_ok());
        assert_eq!(
            code(
                &request(|_, h| {
                    h.insert("Host".into(), json!("evil.example"));
                }),
                None
            ),
            p
        );
        assert_eq!(
            code(&request(|b, _| b["IamRequestBody"] = json!("***")), None),
            p
        );
        assert_eq!(
            code(&request(|b, _| b["DurationSeconds"] = json!(899)), None),
            p
        );
        assert_eq!(
            code(&request(|b, _| b["DurationSeconds"] = json!(43201)), None),
            p
        );
        assert_eq!(code(b"{", None), "SerializationException");
        assert_eq!(code(b"", None), p);
    }

    #[test]
    fn the_authorization_must_be_sigv4_for_sts() {
        let p = "InvalidParameterException";
        assert_eq!(
            code(
                &request(|_, h| {
                    h.remove("Authorization");
                }),
                None
            ),
            p
        );
        assert_eq!(
            code(
                &request(|_, h| {
                    h.insert(
                        "authorization".into(),
                        json!(AUTH.replace("/sts/", "/secretsmanager/")),
                    );
                    h.remove("Authorization");
                }),
                None
            ),
            p
        );
        assert_eq!(
            code(
                &request(|_, h| {
                    h.insert("Authorization".into(), json!("Basic dXNlcjpwYXNz"));
                }),
                None
            ),
            p
        );
        assert_eq!(
            code(
                &request(|_, h| {
                    h.insert("X-Amz-Date".into(), json!(7));
                }),
                None
            ),
            p
        );
    }

    #[test]
    fn stale_requests_and_wrong_audiences_are_denied() {
        let denied = "AccessDeniedException";
        for date in ["20251231T234400Z", "20260101T001600Z"] {
            assert_eq!(
                code(
                    &request(|_, h| {
                        h.insert("X-Amz-Date".into(), json!(date));
                    }),
                    None
                ),
                denied,
                "{date}"
            );
        }
        assert!(check(
            &request(|_, h| {
                h.insert("X-Amz-Date".into(), json!("20251231T234600Z"));
            }),
            None
        )
        .is_ok());
        assert_eq!(code(&request(|_, _| {}), Some("coffer-staging")), denied);
        // The audience must be signed, not merely sent.
        let unsigned = AUTH.replace(";x-coffer-login-audience", "");
        assert_eq!(
            code(
                &request(|_, h| {
                    h.insert("Authorization".into(), json!(unsigned));
                }),
                Some("coffer-prod")
            ),
            denied
        );
        assert!(check(
            &request(|_, h| {
                h.insert("Authorization".into(), json!(unsigned));
            }),
            None
        )
        .is_ok());
    }

    #[test]
    fn authorities_drop_default_ports() {
        assert_eq!(
            url_authority("http://127.0.0.1:5103").unwrap().0,
            "127.0.0.1:5103"
        );
        assert_eq!(
            url_authority("http://host:80/").unwrap(),
            ("host".to_string(), "/")
        );
        assert_eq!(url_authority("https://host:443").unwrap().0, "host");
        assert!(url_authority("host").is_none());
        assert!(url_authority("https://").is_none());
    }
}
