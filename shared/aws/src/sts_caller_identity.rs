//! The `CallerIdentityVerifier` adapter: forwards a login's signed `sts:GetCallerIdentity`
//! request to the configured STS endpoint over HTTP(S) and reads the `GetCallerIdentityResponse`
//! XML (`Arn`, `UserId`, `Account`) or STS's `<ErrorResponse>` code.
//!
//! Data path: `coffer_core::identity::iam_login` (the `coffer.LoginWithIam` call of the local server and of
//! the `api` Lambda function) checked the request; this module only sends it, always to the
//! endpoint it was built with. hyper-util's client with rustls (aws-lc-rs, the system's roots),
//! the stack the AWS SDK already builds. The forwarded headers (the caller's signature and AWS
//! session token) are never logged; STS's answer carries no secret.

use async_trait::async_trait;
use aws_smithy_xml::decode::{try_data, Document};
use bytes::Bytes;
use coffer_core::identity::iam_login::{
    url_authority, CallerIdentity, CallerIdentityVerifier, IamLoginSettings, StsRequest,
    VerifyError,
};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long STS may take to answer one login.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest STS answer read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// STS's default endpoint for `region`.
pub fn default_sts_endpoint(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com")
}

/// The LoginWithIam settings of a server: STS at `endpoint` (default: STS's endpoint in
/// `region`), the audience logins must sign (if any), events in `region`.
pub fn iam_login_settings(
    endpoint: Option<&str>,
    region: &str,
    audience: Option<String>,
) -> Result<IamLoginSettings, String> {
    let endpoint = endpoint
        .map(str::to_string)
        .unwrap_or_else(|| default_sts_endpoint(region));
    let verifier = HttpCallerIdentityVerifier::new(&endpoint)?;
    Ok(IamLoginSettings {
        sts_authority: verifier.authority().to_string(),
        verifier: std::sync::Arc::new(verifier),
        audience: audience.filter(|a| !a.is_empty()),
        region: region.to_string(),
    })
}

/// Sends GetCallerIdentity requests to one STS endpoint.
pub struct HttpCallerIdentityVerifier {
    endpoint: http::Uri,
    authority: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpCallerIdentityVerifier {
    /// A verifier for `endpoint` (`https://sts.us-east-1.amazonaws.com`, or `http://` for a
    /// local STS such as moto's).
    pub fn new(endpoint: &str) -> Result<Self, String> {
        let (authority, tail) = url_authority(endpoint)
            .ok_or_else(|| format!("the STS endpoint must be an http(s) URL, got {endpoint}"))?;
        if !matches!(tail, "" | "/") {
            return Err(format!(
                "the STS endpoint must have no path or query, got {endpoint}"
            ));
        }
        let endpoint: http::Uri = format!("{}/", endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("bad STS endpoint {endpoint}: {e}"))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("no TLS root certificates for STS: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpCallerIdentityVerifier {
            endpoint,
            authority,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// `host[:port]` of the endpoint, as logins must be signed for it.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

#[async_trait]
impl CallerIdentityVerifier for HttpCallerIdentityVerifier {
    async fn get_caller_identity(
        &self,
        request: &StsRequest,
    ) -> Result<CallerIdentity, VerifyError> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(self.endpoint.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let http_request = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            // Only the error kind: the values are credentials.
            .map_err(|_| VerifyError::Refused {
                code: "InvalidRequest".to_string(),
                message: "a forwarded header is not valid HTTP".to_string(),
            })?;
        let response = tokio::time::timeout(TIMEOUT, self.client.request(http_request))
            .await
            .map_err(|_| VerifyError::Unavailable(format!("STS at {} timed out", self.endpoint)))?
            .map_err(|e| {
                VerifyError::Unavailable(format!("STS at {} unreachable: {e}", self.endpoint))
            })?;
        let status = response.status();
        let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| VerifyError::Unavailable("STS answer timed out".to_string()))?
            .map_err(|e| VerifyError::Unavailable(format!("STS answer unreadable: {e}")))?
            .to_bytes();
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(VerifyError::Unavailable("STS answer too large".to_string()));
        }
        parse_answer(status.as_u16(), &String::from_utf8_lossy(&body))
    }
}

/// The first text of each of `names` in an XML document (namespaces ignored).
fn leaf_texts(xml: &str, names: &[&str]) -> BTreeMap<String, String> {
    let mut doc = Document::new(xml);
    let mut out = BTreeMap::new();
    while let Some(start) = doc.next_start_element() {
        let name = start.local().to_string();
        if names.contains(&name.as_str()) && !out.contains_key(&name) {
            let mut scoped = doc.scoped_to(start);
            if let Ok(text) = try_data(&mut scoped) {
                out.insert(name, text.trim().to_string());
            }
        }
    }
    out
}

/// STS's answer: the identity (200), its refusal (4xx with an error code), or unavailability.
pub fn parse_answer(status: u16, xml: &str) -> Result<CallerIdentity, VerifyError> {
    if status == 200 {
        let mut texts = leaf_texts(xml, &["Arn", "UserId", "Account"]);
        let mut take = |name: &str| texts.remove(name).filter(|t| !t.is_empty());
        return match (take("Arn"), take("UserId"), take("Account")) {
            (Some(arn), Some(user_id), Some(account)) => Ok(CallerIdentity {
                arn,
                user_id,
                account,
            }),
            _ => Err(VerifyError::Unavailable(
                "STS answered 200 without Arn, UserId and Account".to_string(),
            )),
        };
    }
    let mut texts = leaf_texts(xml, &["Code", "Message"]);
    match texts.remove("Code") {
        Some(code) if (400..500).contains(&status) => Err(VerifyError::Refused {
            code,
            message: texts.remove("Message").unwrap_or_default(),
        }),
        code => Err(VerifyError::Unavailable(format!(
            "STS answered HTTP {status} ({})",
            code.unwrap_or_else(|| "no error code".to_string())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_and_refusals_are_read() {
        let ok = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/app-reader/s&amp;1</Arn>
    <UserId>AROAEXAMPLE:s&amp;1</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            parse_answer(200, ok).unwrap(),
            CallerIdentity {
                arn: "arn:aws:sts::123456789012:assumed-role/app-reader/s&1".to_string(),
                user_id: "AROAEXAMPLE:s&1".to_string(),
                account: "123456789012".to_string(),
            }
        );
        let refused = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        assert_eq!(
            parse_answer(403, refused).unwrap_err(),
            VerifyError::Refused {
                code: "SignatureDoesNotMatch".to_string(),
                message: "bad".to_string()
            }
        );
        assert!(matches!(
            parse_answer(503, refused),
            Err(VerifyError::Unavailable(_))
        ));
        assert!(matches!(
            parse_answer(200, "<GetCallerIdentityResponse/>"),
            Err(VerifyError::Unavailable(_))
        ));
        assert!(matches!(
            parse_answer(502, "not xml"),
            Err(VerifyError::Unavailable(_))
        ));
    }

    #[test]
    fn endpoints_are_checked() {
        let v = HttpCallerIdentityVerifier::new("http://127.0.0.1:5103").unwrap();
        assert_eq!(v.authority(), "127.0.0.1:5103");
        assert_eq!(
            HttpCallerIdentityVerifier::new(&default_sts_endpoint("eu-west-1"))
                .unwrap()
                .authority(),
            "sts.eu-west-1.amazonaws.com"
        );
        assert!(HttpCallerIdentityVerifier::new("sts.amazonaws.com").is_err());
        assert!(HttpCallerIdentityVerifier::new("https://sts.amazonaws.com/x").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_sts_is_unavailable() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let v = HttpCallerIdentityVerifier::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = v
            .get_caller_identity(&StsRequest {
                headers: vec![("X-Amz-Date".to_string(), "x".to_string())],
                body: b"Action=GetCallerIdentity&Version=2011-06-15".to_vec(),
            })
            .await
            .unwrap_err();
        assert!(matches!(e, VerifyError::Unavailable(_)), "{e:?}");
    }
}
