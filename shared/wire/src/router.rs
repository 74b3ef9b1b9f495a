//! The router: `POST /` (JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`) and
//! `GET /health`. Each request gets an id, is authenticated, and is handed to the core; the full
//! cause of a failure is logged once here with the request id, the client gets the code and a
//! safe message. Bodies are never logged.

use crate::auth::Authenticator;
use crate::errors::{core_error_response, error_response, json_response};
use crate::sigv4::{AuthError, RequestParts};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use coffer_core::ids::Scope;
use coffer_core::operation::{Api, Operation};
use coffer_core::service::{RefusedCall, RequestContext, SecretsService};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Largest request body accepted: a 64 KiB binary secret is ~88 KiB in base64 plus JSON.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// The path the client signed, when the transport routed the request under another one (API
/// Gateway REST stages: the client signs `/prod/`, the router sees `/`). Inserted by the `api`
/// function's event conversion; without it the request's own path is the signed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPath(pub String);

/// How long the router waits for a request's body, when the transport sets it (`coffer
/// serve`'s listener does; API Gateway hands over whole bodies). Past it the call is refused
/// with `408 RequestTimeoutException` and nothing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyReadTimeout(pub std::time::Duration);

#[derive(Clone)]
pub struct WireState {
    pub service: Arc<SecretsService>,
    pub authenticator: Arc<dyn Authenticator>,
    /// The account every principal of this server belongs to (one account until IAM lands).
    pub account_id: String,
}

pub fn router(state: WireState) -> Router {
    Router::new()
        .route("/", post(handle_call))
        .route("/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Every call runs inside one `call` span carrying its request id, and (once known) its
/// operation and principal: each log line of the call, from the service and the adapters
/// included, carries them, so one grep for a request id finds the whole call.
async fn handle_call(State(state): State<WireState>, request: Request) -> Response {
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "call",
        request_id = %request_id,
        operation = tracing::field::Empty,
        principal = tracing::field::Empty,
    );
    handle_call_in_span(state, request, request_id)
        .instrument(span)
        .await
}

async fn handle_call_in_span(state: WireState, request: Request, request_id: String) -> Response {
    let (parts, body) = request.into_parts();
    // The peer address; behind API Gateway the `api` function sets it from the request context.
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
    let read = match parts.extensions.get::<BodyReadTimeout>() {
        Some(BodyReadTimeout(limit)) => match tokio::time::timeout(*limit, read).await {
            Ok(read) => read,
            Err(_) => {
                tracing::info!("request body not received within the body timeout");
                return error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeoutException",
                    "The request body was not received in time.",
                    &request_id,
                );
            }
        },
        None => read.await,
    };
    let body = match read {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SerializationException",
                "The request body is too large.",
                &request_id,
            )
        }
    };
    let (method, uri, headers, extensions) =
        (parts.method, parts.uri, parts.headers, parts.extensions);
    let started = Instant::now();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if target.is_empty() && crate::sts::is_query_request(&headers) {
        // STS (awsQuery): AssumeRole, GetCallerIdentity.
        let parts = RequestParts {
            method: method.as_str(),
            path: extensions
                .get::<SignedPath>()
                .map_or(uri.path(), |p| p.0.as_str()),
            query: uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        return crate::sts::handle(&state, &parts, &extensions, &request_id, source_ip, started)
            .await;
    }
    // The operation is parsed once, first: an unknown target is refused before anything is
    // authenticated, decoded or looked up.
    let operation = match Operation::from_target(&target) {
        Ok(op) => op,
        Err(e) => {
            tracing::info!("unknown target");
            let refused = RefusedRequest {
                operation: target.rsplit('.').next().unwrap_or_default(),
                request_id: &request_id,
                headers: &headers,
                source_ip,
                started,
            };
            record_refused(&state, &refused, e.code(), e.message()).await;
            return core_error_response(&e, &request_id);
        }
    };
    tracing::Span::current().record("operation", operation.name());
    if operation == Operation::LoginWithIam {
        // The one call without a Coffer signature: the signed STS request it carries is the proof.
        return login_with_iam(&state, &headers, &body, &request_id, source_ip, started).await;
    }
    let parts = RequestParts {
        method: method.as_str(),
        path: extensions
            .get::<SignedPath>()
            .map_or(uri.path(), |p| p.0.as_str()),
        query: uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let authenticated = match state
        .authenticator
        .authenticate_with(&parts, &extensions)
        .await
        .and_then(|a| match a.service.as_deref() {
            // A signature for STS does not open the JSON APIs.
            Some("sts") => Err(AuthError::InvalidSignature(
                "Credential should be scoped to correct service: 'secretsmanager'. ".to_string(),
            )),
            _ => Ok(a),
        }) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(code = e.code(), "authentication failed");
            let refused = RefusedRequest {
                operation: operation.name(),
                request_id: &request_id,
                headers: &headers,
                source_ip,
                started,
            };
            record_refused_call(&state, &refused, &e).await;
            return auth_error_response(&e, &request_id);
        }
    };
    tracing::Span::current().record("principal", authenticated.principal.arn.as_str());
    let mut caller = authenticated.caller;
    caller.source_ip = source_ip.map(|ip| ip.to_string());
    // A principal acts in its own account (root: the server's account).
    let account = if authenticated.principal.is_root() {
        state.account_id.clone()
    } else {
        authenticated.principal.account.clone()
    };
    let ctx = RequestContext {
        scope: Scope::new(authenticated.region, account),
        caller,
        request_id: request_id.clone(),
        principal: authenticated.principal,
        source_ip,
        // Coffer's listener speaks plain http; TLS, if any, ends in front of it.
        secure_transport: false,
    };
    let outcome = match operation.api() {
        Api::Admin => state.service.handle_admin(&ctx, operation, &body).await,
        Api::SecretsManager => state.service.handle(&ctx, operation, &body).await,
        // from_target never yields an STS operation: STS speaks awsQuery, handled above.
        Api::Sts => Err(coffer_core::Error::UnknownOperation(format!(
            "The operation {operation} is not served over JSON."
        ))),
    };
    respond(outcome, &ctx.scope.region, &request_id, started)
}

/// The response of a call the core ran, logged once with its outcome (never its body); the
/// request id, operation and principal are the `call` span's.
fn respond(
    outcome: coffer_core::service::CallOutcome,
    region: &str,
    request_id: &str,
    started: Instant,
) -> Response {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(body) => {
            tracing::info!(region, elapsed_ms, "ok");
            json_response(StatusCode::OK, &body, request_id)
        }
        Err(e) => {
            tracing::info!(
                region,
                elapsed_ms,
                code = e.code(),
                error_message = e.message(),
                "failed"
            );
            core_error_response(&e, request_id)
        }
    }
}

/// Runs `coffer.LoginWithIam`: the core checks the request, has STS verify it and records the
/// audit event. The body holds the caller's AWS signature and session token: never logged.
async fn login_with_iam(
    state: &WireState,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    request_id: &str,
    source_ip: Option<std::net::IpAddr>,
    started: Instant,
) -> Response {
    let call = coffer_core::identity::iam_login::LoginCall {
        request_id,
        account_id: &state.account_id,
        source_ip,
        user_agent: crate::auth::user_agent_of(headers),
    };
    let outcome = state.service.login_with_iam(&call, body).await;
    let region = state
        .service
        .iam_login()
        .map_or(DEFAULT_AUDIT_REGION, |s| s.region.as_str());
    respond(outcome, region, request_id, started)
}

/// The region of a refused request's event when its credential scope names none that can be
/// read (a request without `Authorization`, a malformed one).
pub const DEFAULT_AUDIT_REGION: &str = "us-east-1";

/// What the router knows of a request refused at authentication.
pub(crate) struct RefusedRequest<'a> {
    pub(crate) operation: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) headers: &'a axum::http::HeaderMap,
    pub(crate) source_ip: Option<std::net::IpAddr>,
    pub(crate) started: Instant,
}

/// Records the audit event and metrics of a request refused at authentication (issue #6: one
/// event for every call). Nothing of the request is trusted and its body is never read: the
/// event carries the claimed access key id and region of the credential scope, the peer
/// address, the `User-Agent`, and the refusal's code with a message that echoes nothing of the
/// request. The client gets the authentication error whether or not the event was recorded.
pub(crate) async fn record_refused_call(
    state: &WireState,
    refused: &RefusedRequest<'_>,
    e: &AuthError,
) {
    record_refused(state, refused, e.code(), &e.audit_message()).await
}

/// Records the event of a request refused before it reached the core (authentication, an
/// unknown target), with `code` and a `message` that echoes nothing of the request.
pub(crate) async fn record_refused(
    state: &WireState,
    refused: &RefusedRequest<'_>,
    code: &str,
    message: &str,
) {
    let (claimed_key, claimed_region) = crate::sigv4::claimed_credential(refused.headers);
    let source_ip = refused.source_ip.map(|ip| ip.to_string());
    let user_agent = crate::auth::user_agent_of(refused.headers);
    let call = RefusedCall {
        operation: refused.operation,
        request_id: refused.request_id,
        region: claimed_region.as_deref().unwrap_or(DEFAULT_AUDIT_REGION),
        account_id: &state.account_id,
        claimed_access_key_id: claimed_key.as_deref(),
        source_ip: source_ip.as_deref(),
        user_agent,
        error_code: code,
        error_message: message,
        elapsed_ms: refused.started.elapsed().as_secs_f64() * 1000.0,
    };
    if let Err(error) = state.service.record_refused_call(&call).await {
        tracing::warn!(code = error.code(), "the refused call was not audited");
    }
}

/// The AWS JSON error for a request refused at authentication.
fn auth_error_response(e: &AuthError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    error_response(status, e.code(), &e.message(), request_id)
}
