//! API Gateway events in, the coffer-wire router in the middle, API Gateway responses out.
//!
//! lambda_http decodes every event shape (HTTP API payload 2.0, REST API 1.0, function URLs)
//! into an `http::Request`; [`into_router_request`] hands it to the router unchanged where
//! SigV4 needs it (method, headers, body bytes, the path the client signed) and adds what only
//! the request context knows: the caller's source IP (as the router's peer address) and, with
//! IAM authorization, the verified caller ARN ([`ApiGatewayCaller`]). A REST API stage prefix
//! (`/prod/`) is removed for routing and kept as the signed path. [`into_lambda_response`]
//! returns the router's answer: text bodies as text, anything else base64-encoded.
//!
//! Place in the data path: Lambda Runtime API -> lambda_http -> here -> coffer-wire router ->
//! core service -> here -> lambda_http -> API Gateway.

use axum::body::Body as AxumBody;
use axum::extract::ConnectInfo;
use axum::Router;
use coffer_aws::wiring::AuthMode;
use coffer_core::service::SecretsService;
use coffer_lambda_host::{LambdaSettings, OwnPrincipals};
use coffer_wire::auth::{
    ApiGatewayCaller, ApiGatewayIamAuthenticator, Authenticator, RootCredentials,
    SigV4Authenticator,
};
use coffer_wire::{SignedPath, WireState};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tower::ServiceExt;

/// The router of the `api` function: the local server's, with the authenticator the
/// configuration names (SigV4: the root key, and the keys and sessions of `own` principals).
pub fn router(
    settings: &LambdaSettings,
    service: Arc<SecretsService>,
    own: Option<&OwnPrincipals>,
) -> Router {
    let account_id = &settings.aws.account_id;
    let authenticator: Arc<dyn Authenticator> = match &settings.aws.auth {
        AuthMode::SigV4 {
            access_key_id,
            secret_access_key,
        } => {
            let sigv4 = SigV4Authenticator::new(RootCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                account_id: account_id.clone(),
            });
            // LoginWithIam and AssumeRole sessions, sealed by the service's codec
            // (coffer_lambda_host), and the access keys of Coffer's own principals.
            let sigv4 = match service.sts() {
                Some(sts) => sigv4.with_sessions(sts.codec.clone()),
                None => sigv4,
            };
            Arc::new(match own {
                Some(own) => sigv4.with_principals(own.store.clone(), own.keys.clone()),
                None => sigv4,
            })
        }
        AuthMode::Iam => Arc::new(ApiGatewayIamAuthenticator::new(settings.region.clone())),
    };
    coffer_wire::router(WireState {
        service,
        authenticator,
        account_id: account_id.clone(),
    })
}

/// The identity policy `COFFER_IAM_ADMIN_ARN` gets in IAM mode: every Secrets Manager and admin
/// action in its own account.
const IAM_ADMIN_POLICY_NAME: &str = "coffer-iam-admin";

/// IAM mode's bootstrap: API Gateway verified callers are never this server's root, so the
/// operator names one IAM identity (`COFFER_IAM_ADMIN_ARN`, of the deployment's account) that
/// is given an identity policy allowing `secretsmanager:*` and `coffer:*` there — stored as an
/// `iam-identity` record, exactly as `coffer.PutIamIdentityPolicy` would. It stays an IAM
/// identity of its account: it cannot name another account.
pub async fn grant_iam_admin(
    service: &SecretsService,
    account_id: &str,
    arn: &str,
) -> Result<(), String> {
    let account = coffer_core::identity::iam_identity::parse_iam_arn_pattern(arn)
        .map_err(|e| format!("COFFER_IAM_ADMIN_ARN: {}", e.message()))?;
    if account != account_id {
        return Err(format!(
            "COFFER_IAM_ADMIN_ARN must name an identity of account {account_id} (COFFER_ACCOUNT_ID)"
        ));
    }
    let Some(store) = service.principals() else {
        return Err("COFFER_IAM_ADMIN_ARN needs the principal store".to_string());
    };
    let ports = service.ports();
    let admin = coffer_core::identity::admin::AdminService {
        store: store.clone(),
        keys: ports.keys.clone(),
        clock: ports.clock.clone(),
        random: ports.random.clone(),
    };
    let document = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["secretsmanager:*", "coffer:*"], "Resource": "*"}]});
    let body = serde_json::json!({"IamArn": arn, "PolicyName": IAM_ADMIN_POLICY_NAME,
        "PolicyDocument": document.to_string()});
    let request = coffer_core::identity::admin::parse_body(body.to_string().as_bytes())
        .map_err(|e| e.message().to_string())?;
    admin
        .run(
            &coffer_policy::PrincipalInfo::root(account_id),
            coffer_core::operation::Operation::PutIamIdentityPolicy,
            request,
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "storing the policy of COFFER_IAM_ADMIN_ARN failed: {}",
                e.message()
            )
        })
}

/// One event: convert, route, convert back.
pub async fn handle(
    router: Router,
    event: lambda_http::Request,
) -> Result<lambda_http::Response<Body>, lambda_http::Error> {
    let response = router.oneshot(into_router_request(event)).await?;
    into_lambda_response(response).await
}

/// What the request context says about the caller.
#[derive(Debug, Default, PartialEq, Eq)]
struct ContextFacts {
    source_ip: Option<IpAddr>,
    caller: Option<ApiGatewayCaller>,
    stage: Option<String>,
    /// The path the client requested, as API Gateway reports it (REST: `requestContext.path`,
    /// with the stage on execute-api domains and without on custom domains).
    client_path: Option<String>,
}

fn context_facts(context: Option<&RequestContext>) -> ContextFacts {
    let caller = |arn: &Option<String>, key: &Option<String>| {
        arn.as_ref()
            .filter(|a| !a.is_empty())
            .map(|arn| ApiGatewayCaller {
                user_arn: arn.clone(),
                access_key_id: key.clone(),
            })
    };
    let ip = |s: &Option<String>| s.as_deref().and_then(|s| s.parse().ok());
    match context {
        Some(RequestContext::ApiGatewayV2(c)) => ContextFacts {
            source_ip: ip(&c.http.source_ip),
            caller: c
                .authorizer
                .as_ref()
                .and_then(|a| a.iam.as_ref())
                .and_then(|iam| caller(&iam.user_arn, &iam.access_key)),
            stage: c.stage.clone(),
            client_path: None,
        },
        Some(RequestContext::ApiGatewayV1(c)) => ContextFacts {
            source_ip: ip(&c.identity.source_ip),
            caller: caller(&c.identity.user_arn, &c.identity.access_key),
            stage: c.stage.clone(),
            client_path: c.path.clone().filter(|p| p.starts_with('/')),
        },
        _ => ContextFacts::default(),
    }
}

/// The path to route on: the signed path without a stage prefix (`/prod/` -> `/`).
fn route_path(path: &str, stage: Option<&str>) -> String {
    let stripped = match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/')),
        _ => None,
    };
    match stripped {
        Some("") => "/".to_string(),
        Some(rest) => rest.to_string(),
        None => path.to_string(),
    }
}

/// The router's request for an event: same method, headers and body bytes.
pub fn into_router_request(event: lambda_http::Request) -> axum::extract::Request {
    let facts = context_facts(event.request_context_ref());
    // HTTP API: `rawPath` is what the client sent (lambda_http adds a missing stage prefix to
    // the URI); REST: the context's path.
    let raw_path = Some(event.raw_http_path().to_string()).filter(|p| p.starts_with('/'));
    let (mut parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(text) => AxumBody::from(text),
        Body::Binary(bytes) => AxumBody::from(bytes),
        // Event bodies are Empty, Text or Binary; anything newer arrives empty.
        _ => AxumBody::empty(),
    };
    let uri_path = parts.uri.path().to_string();
    let routed = route_path(&uri_path, facts.stage.as_deref());
    let signed = facts
        .client_path
        .clone()
        .or(raw_path)
        .unwrap_or_else(|| uri_path.clone());
    if routed != uri_path || signed != routed {
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        if let Ok(uri) = format!("{routed}{query}").parse() {
            parts.uri = uri;
        }
        parts.extensions.insert(SignedPath(signed));
    }
    if let Some(ip) = facts.source_ip {
        parts.extensions.insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    if let Some(caller) = facts.caller {
        parts.extensions.insert(caller);
    }
    axum::extract::Request::from_parts(parts, body)
}

/// The event response for the router's answer.
pub async fn into_lambda_response(
    response: axum::response::Response,
) -> Result<lambda_http::Response<Body>, lambda_http::Error> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(lambda_http::Response::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http_api_event(
        body: &str,
        authorizer: serde_json::Value,
        stage: &str,
    ) -> lambda_http::Request {
        let event = json!({
            "version": "2.0",
            "routeKey": "POST /",
            "rawPath": if stage == "$default" { "/".to_string() } else { format!("/{stage}/") },
            "rawQueryString": "",
            "headers": {
                "host": "abc.execute-api.us-east-1.amazonaws.com",
                "x-amz-target": "secretsmanager.ListSecrets",
                "content-type": "application/x-amz-json-1.1",
                "authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
            },
            "requestContext": {
                "accountId": "111122223333",
                "apiId": "abc",
                "authorizer": authorizer,
                "domainName": "abc.execute-api.us-east-1.amazonaws.com",
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "aws-sdk-rust"},
                "requestId": "req-1",
                "routeKey": "POST /",
                "stage": stage,
                "time": "01/Jan/2024:00:00:00 +0000",
                "timeEpoch": 1704067200000i64
            },
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
    }

    #[tokio::test]
    async fn into_router_request_http_api_keeps_body_headers_and_source_ip() {
        let request = into_router_request(http_api_event(
            r#"{"MaxResults": 1}"#,
            json!(null),
            "$default",
        ));
        assert_eq!(request.uri().path(), "/");
        assert_eq!(
            request.headers()["x-amz-target"],
            "secretsmanager.ListSecrets"
        );
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        assert_eq!(ip, Some("203.0.113.7".parse().unwrap()));
        assert!(request.extensions().get::<ApiGatewayCaller>().is_none());
        assert!(request.extensions().get::<SignedPath>().is_none());
        let body = axum::body::to_bytes(request.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"MaxResults": 1}"#);
    }

    #[test]
    fn into_router_request_iam_authorizer_gives_the_caller() {
        let authorizer = json!({"iam": {"accessKey": "ASIAEXAMPLE", "accountId": "111122223333",
            "callerId": "AROA:alice", "userArn": "arn:aws:sts::111122223333:assumed-role/dev/alice",
            "userId": "AROA:alice"}});
        let request = into_router_request(http_api_event("{}", authorizer, "$default"));
        let caller = request
            .extensions()
            .get::<ApiGatewayCaller>()
            .expect("caller");
        assert_eq!(
            caller.user_arn,
            "arn:aws:sts::111122223333:assumed-role/dev/alice"
        );
        assert_eq!(caller.access_key_id.as_deref(), Some("ASIAEXAMPLE"));
    }

    #[test]
    fn into_router_request_stage_is_routed_at_root_and_signed_with_prefix() {
        let request = into_router_request(http_api_event("{}", json!(null), "prod"));
        assert_eq!(request.uri().path(), "/");
        assert_eq!(
            request.extensions().get::<SignedPath>(),
            Some(&SignedPath("/prod/".to_string()))
        );
    }

    #[test]
    fn into_router_request_rest_event_signs_the_context_path() {
        let event = |context_path: &str| {
            json!({
                "resource": "/", "path": "/", "httpMethod": "POST",
                "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com",
                            "X-Amz-Target": "secretsmanager.ListSecrets"},
                "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"],
                                      "X-Amz-Target": ["secretsmanager.ListSecrets"]},
                "queryStringParameters": null, "multiValueQueryStringParameters": null,
                "pathParameters": null, "stageVariables": null,
                "requestContext": {
                    "accountId": "111122223333", "apiId": "abc", "httpMethod": "POST",
                    "identity": {"sourceIp": "198.51.100.9",
                                 "userArn": "arn:aws:iam::111122223333:user/bob"},
                    "path": context_path, "protocol": "HTTP/1.1", "requestId": "r",
                    "requestTimeEpoch": 1704067200000i64, "resourceId": "x",
                    "resourcePath": "/", "stage": "prod"
                },
                "body": "{}", "isBase64Encoded": false
            })
            .to_string()
        };
        // execute-api domain: the client signed /prod/.
        let request =
            into_router_request(lambda_http::request::from_str(&event("/prod/")).unwrap());
        assert_eq!(request.uri().path(), "/");
        assert_eq!(
            request.extensions().get::<SignedPath>(),
            Some(&SignedPath("/prod/".into()))
        );
        let caller = request.extensions().get::<ApiGatewayCaller>().unwrap();
        assert_eq!(caller.user_arn, "arn:aws:iam::111122223333:user/bob");
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        assert_eq!(ip, Some("198.51.100.9".parse().unwrap()));
        // A custom domain without base path: the client signed /.
        let request = into_router_request(lambda_http::request::from_str(&event("/")).unwrap());
        assert_eq!(request.uri().path(), "/");
        assert_eq!(
            request.extensions().get::<SignedPath>(),
            Some(&SignedPath("/".into()))
        );
    }

    #[test]
    fn route_path_strips_only_a_whole_stage_segment() {
        assert_eq!(route_path("/prod/", Some("prod")), "/");
        assert_eq!(route_path("/prod", Some("prod")), "/");
        assert_eq!(route_path("/prod/health", Some("prod")), "/health");
        assert_eq!(route_path("/production/", Some("prod")), "/production/");
        assert_eq!(route_path("/", Some("$default")), "/");
        assert_eq!(route_path("/health", None), "/health");
    }

    #[tokio::test]
    async fn into_lambda_response_text_stays_text_binary_is_binary() {
        let text = axum::response::Response::new(AxumBody::from("{\"a\":1}"));
        let out = into_lambda_response(text).await.unwrap();
        assert!(matches!(out.body(), Body::Text(t) if t == "{\"a\":1}"));
        let binary = axum::response::Response::new(AxumBody::from(vec![0xff, 0x00]));
        let out = into_lambda_response(binary).await.unwrap();
        assert!(matches!(out.body(), Body::Binary(b) if b == &vec![0xff, 0x00]));
    }
}
