//! AWS JSON 1.1 error responses: `{"__type": "<Code>", "Message": "..."}` with HTTP 400 (500 for
//! `InternalServiceError`) and the `x-amzn-RequestId` header. The status of each core error is
//! decided by an exhaustive match, so a new error variant cannot ship unmapped.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use coffer_core::Error;

pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::InternalServiceError(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::AccessDenied(_) => StatusCode::BAD_REQUEST,
        Error::ResourceNotFound(_)
        | Error::InvalidParameter(_)
        | Error::InvalidRequest(_)
        | Error::ResourceExists(_)
        | Error::LimitExceeded(_)
        | Error::InvalidNextToken(_)
        | Error::MalformedPolicyDocument(_)
        | Error::PublicPolicy(_)
        | Error::PreconditionNotMet(_)
        | Error::EncryptionFailure(_)
        | Error::DecryptionFailure(_)
        | Error::Throttling(_)
        | Error::Serialization(_)
        | Error::UnknownOperation(_)
        | Error::Validation(_) => StatusCode::BAD_REQUEST,
    }
}

/// A JSON 1.1 body with the request id header.
pub fn json_response(status: StatusCode, body: &serde_json::Value, request_id: &str) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(JSON_CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

pub fn error_response(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let body = serde_json::json!({ "__type": code, "Message": message });
    json_response(status, &body, request_id)
}

pub fn core_error_response(error: &Error, request_id: &str) -> Response {
    error_response(status_of(error), error.code(), error.message(), request_id)
}
