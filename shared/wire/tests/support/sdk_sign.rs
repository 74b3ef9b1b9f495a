//! Signs a request with the official `aws-sigv4` crate and the SDK for Rust's default
//! settings, then adds the `Host` header hyper derives from the URI when it sends the request.
//! Test support shared by the unit tests of `src/sigv4.rs` (through `#[path]`) and
//! `tests/router_golden.rs`: the verifier is always checked against the real signer.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use http::{HeaderValue, Request};
use std::time::SystemTime;

/// How to sign.
pub struct SdkSigning<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub session_token: Option<&'a str>,
    pub service: &'a str,
    pub region: &'a str,
    pub time: SystemTime,
    /// Send `X-Amz-Content-Sha256` (S3-style) as well.
    pub content_sha256_header: bool,
    /// Sign with `UNSIGNED-PAYLOAD` instead of the body's hash.
    pub unsigned_payload: bool,
}

/// `req` signed as `how` says, with its `Host` header.
pub fn sdk_sign(mut req: Request<Vec<u8>>, how: &SdkSigning) -> Request<Vec<u8>> {
    let identity = Credentials::new(
        how.access_key_id,
        how.secret,
        how.session_token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    if how.content_sha256_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(how.region)
        .name(how.service)
        .time(how.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let method = req.method().as_str().to_owned();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = req.body().clone();
    let signable_body = if how.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&body)
    };
    let signable = SignableRequest::new(
        &method,
        uri,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        signable_body,
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    with_host(req)
}

/// `req` with the `Host` header hyper derives from its URI.
pub fn with_host(mut req: Request<Vec<u8>>) -> Request<Vec<u8>> {
    let host = HeaderValue::from_str(req.uri().authority().unwrap().as_str()).unwrap();
    req.headers_mut().insert(http::header::HOST, host);
    req
}
