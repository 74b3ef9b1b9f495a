//! The STS face of the endpoint: awsQuery (`POST /`, `Content-Type:
//! application/x-www-form-urlencoded`, `Action=AssumeRole&Version=2011-06-15&...`), SigV4
//! signed for service `sts`, XML answers in the `https://sts.amazonaws.com/doc/2011-06-15/`
//! namespace, errors as `<ErrorResponse>`. The router hands such requests here; the decisions
//! are `SecretsService::handle_sts`'s (`coffer_core::identity::sts`). Neither the secret access key nor
//! the session token of an answer is logged.

use crate::router::{record_refused_call, RefusedRequest, WireState};
use crate::sigv4::RequestParts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use coffer_core::identity::sts::{StsError, StsOutput};
use coffer_core::ids::Scope;
use coffer_core::service::RequestContext;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// True for an awsQuery request (a form body and no `X-Amz-Target`).
pub fn is_query_request(headers: &HeaderMap) -> bool {
    headers.get("x-amz-target").is_none()
        && headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space).
pub fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Escapes text for an XML element.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

/// An STS `<ErrorResponse>`.
pub fn error_xml(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    );
    xml_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
        request_id,
    )
}

fn success_xml(action: &str, result: &str, request_id: &str) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        xml_escape(request_id)
    );
    xml_response(StatusCode::OK, body, request_id)
}

/// Answers one STS request.
pub(crate) async fn handle(
    state: &WireState,
    parts: &RequestParts<'_>,
    extensions: &http::Extensions,
    request_id: &str,
    source_ip: Option<IpAddr>,
    started: Instant,
) -> Response {
    let params = parse_form(parts.body);
    let action = params.get("Action").cloned().unwrap_or_default();
    if action.is_empty() {
        return error_xml(
            400,
            "MissingAction",
            "Missing Action parameter in request.",
            request_id,
        );
    }
    let authenticated = match state
        .authenticator
        .authenticate_with(parts, extensions)
        .await
    {
        Ok(a) if a.service.as_deref() == Some("sts") => a,
        Ok(_) => {
            let e = crate::sigv4::AuthError::InvalidSignature(
                "Credential should be scoped to correct service: 'sts'. ".to_string(),
            );
            return refuse(state, parts, &action, request_id, source_ip, started, &e).await;
        }
        Err(e) => return refuse(state, parts, &action, request_id, source_ip, started, &e).await,
    };
    let mut caller = authenticated.caller;
    caller.source_ip = source_ip.map(|ip| ip.to_string());
    let ctx = RequestContext {
        scope: Scope::new(
            authenticated.region,
            authenticated.principal.account.clone(),
        ),
        caller,
        request_id: request_id.to_string(),
        principal: authenticated.principal,
        source_ip,
        secure_transport: false,
    };
    let outcome = state.service.handle_sts(&ctx, &action, &params).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(output) => {
            tracing::info!(operation = %action, elapsed_ms, "ok");
            success_xml(&action, &result_xml(&output), request_id)
        }
        Err(StsError {
            code,
            message,
            status,
        }) => {
            tracing::info!(operation = %action, elapsed_ms, code, error_message = %message, "failed");
            error_xml(status, code, &message, request_id)
        }
    }
}

async fn refuse(
    state: &WireState,
    parts: &RequestParts<'_>,
    action: &str,
    request_id: &str,
    source_ip: Option<IpAddr>,
    started: Instant,
    e: &crate::sigv4::AuthError,
) -> Response {
    tracing::info!(operation = %action, code = e.query_code(), "authentication failed");
    let refused = RefusedRequest {
        operation: action,
        request_id,
        headers: parts.headers,
        source_ip,
        started,
    };
    record_refused_call(state, &refused, e).await;
    // The awsQuery codes: InvalidClientTokenId, ExpiredToken, SignatureDoesNotMatch, ...
    error_xml(
        e.query_http_status(),
        e.query_code(),
        &e.message(),
        request_id,
    )
}

fn result_xml(output: &StsOutput) -> String {
    match output {
        StsOutput::AssumeRole {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            assumed_role_id,
            arn,
        } => format!(
            "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            xml_escape(access_key_id),
            xml_escape(secret_access_key),
            xml_escape(session_token),
            xml_escape(expiration),
            xml_escape(assumed_role_id),
            xml_escape(arn)
        ),
        StsOutput::CallerIdentity {
            user_id,
            account,
            arn,
        } => format!(
            "<UserId>{}</UserId><Account>{}</Account><Arn>{}</Arn>",
            xml_escape(user_id),
            xml_escape(account),
            xml_escape(arn)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let p = parse_form(
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=a+b",
        );
        assert_eq!(p["Action"], "AssumeRole");
        assert_eq!(p["RoleArn"], "arn:aws:iam::000000000000:role/r");
        assert_eq!(p["RoleSessionName"], "a b");
    }

    #[test]
    fn query_requests_are_recognized() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert!(is_query_request(&h));
        h.insert(
            "x-amz-target",
            "secretsmanager.ListSecrets".parse().unwrap(),
        );
        assert!(!is_query_request(&h));
    }

    #[test]
    fn errors_are_sts_xml() {
        assert_eq!(xml_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
        let r = error_xml(403, "AccessDenied", "no <way>", "rid");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}
