//! `coffer login --iam`: temporary Coffer credentials for the caller's AWS IAM identity, printed
//! in the AWS CLI's `credential_process` format, so a workload on Lambda, ECS or EC2 points a
//! profile at a deployed Coffer and uses the stock AWS CLI and SDKs with its own role.
//!
//! Data path (client side of `coffer_core::identity::iam_login`): the caller's AWS credentials from
//! aws-config's default chain (environment, profile, web identity, ECS, instance metadata; the
//! `aws` feature) sign a POST `sts:GetCallerIdentity` for the STS endpoint the server verifies
//! with ([`presign`], the official `aws-sigv4` signer); the signed request goes, base64, to
//! `coffer.LoginWithIam` (unsigned: it is its own proof); the answer's credentials are printed
//! on stdout as `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
//! "Expiration"}`. Errors go to stderr with a non-zero exit. Nothing is logged.

use crate::admin_cli::{
    endpoint_url, error_message, non_empty_env, send, sign_request, Credentials, Failure,
};
use crate::config::LoginArgs;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{json, Map, Value};
use std::process::ExitCode;
use std::time::SystemTime;

/// The form body of the request the server accepts.
const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// Set while a login loads its source credentials: a `credential_process` that leads back here
/// would otherwise call itself forever.
#[cfg(feature = "aws")]
const NESTED_ENV: &str = "COFFER_LOGIN_IN_PROGRESS";

pub async fn run(args: LoginArgs) -> ExitCode {
    match login(args).await {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("coffer login: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

#[cfg(feature = "aws")]
async fn source_credentials(profile: Option<&str>) -> Result<Credentials, Failure> {
    use aws_credential_types::provider::ProvideCredentials;
    if std::env::var_os(NESTED_ENV).is_some() {
        return Err(Failure::config(
            "the source credentials lead back to `coffer login` (a profile whose credential_process runs it): pass --profile with a profile that holds the AWS credentials",
        ));
    }
    std::env::set_var(NESTED_ENV, "1");
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let provider = config.credentials_provider().ok_or_else(|| {
        Failure::config("no AWS credentials found (environment, profile, web identity, ECS or instance metadata)")
    })?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| Failure::config(format!("no AWS credentials: {e}")))?;
    Ok(Credentials {
        access_key_id: credentials.access_key_id().to_string(),
        secret_access_key: zeroize::Zeroizing::new(credentials.secret_access_key().to_string()),
        session_token: credentials.session_token().map(str::to_string),
    })
}

#[cfg(not(feature = "aws"))]
async fn source_credentials(_profile: Option<&str>) -> Result<Credentials, Failure> {
    Err(Failure::config(
        "`coffer login --iam` loads AWS credentials with aws-config: this coffer was built without the `aws` feature; rebuild with `cargo build --release --features aws`",
    ))
}

async fn login(args: LoginArgs) -> Result<String, Failure> {
    let region = args
        .region
        .clone()
        .or_else(|| non_empty_env("AWS_REGION"))
        .or_else(|| non_empty_env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    let sts_endpoint = args
        .iam_sts_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    let credentials = source_credentials(args.profile.as_deref()).await?;
    let mut body = presign(
        &sts_endpoint,
        &region,
        args.audience.as_deref(),
        &credentials,
        SystemTime::now(),
    )?;
    if let Some(duration) = args.duration_seconds {
        body["DurationSeconds"] = json!(duration);
    }
    let request = http::Request::builder()
        .method("POST")
        .uri(endpoint_url(&args.endpoint_url)?)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "coffer.LoginWithIam")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| Failure::usage(format!("bad --endpoint-url: {e}")))?;
    let (status, text) = send(&args.endpoint_url, request).await?;
    if !status.is_success() {
        return Err(Failure::call(
            error_message("LoginWithIam", status.as_u16(), &text)
                .trim_start()
                .to_string(),
        ));
    }
    credential_process_output(&text)
}

/// The `coffer.LoginWithIam` request body: a POST GetCallerIdentity for `sts_endpoint`, signed
/// at `now` with `credentials` for region `region` (and the audience header, when given).
pub fn presign(
    sts_endpoint: &str,
    region: &str,
    audience: Option<&str>,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<Value, Failure> {
    let uri: http::Uri = sts_endpoint
        .parse()
        .map_err(|e| Failure::usage(format!("bad --iam-sts-endpoint {sts_endpoint}: {e}")))?;
    let authority = uri.authority().map(|a| a.as_str().to_string());
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), authority) else {
        return Err(Failure::usage(format!(
            "--iam-sts-endpoint must be http(s)://host[:port], got {sts_endpoint}"
        )));
    };
    let url = format!("{scheme}://{authority}/");
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("host", authority.as_str())
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
    if let Some(audience) = audience {
        builder = builder.header(coffer_core::identity::iam_login::AUDIENCE_HEADER, audience);
    }
    let mut request = builder
        .body(())
        .map_err(|e| Failure::usage(format!("cannot build the STS request: {e}")))?;
    sign_request(
        &mut request,
        GET_CALLER_IDENTITY.as_bytes(),
        credentials,
        region,
        "sts",
        now,
    )?;
    let mut headers = Map::new();
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| Failure::config("a signed header is not text"))?;
        headers.insert(name.as_str().to_string(), json!(value));
    }
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(json!({
        "IamHttpRequestMethod": "POST",
        "IamRequestUrl": b64(url.as_bytes()),
        "IamRequestBody": b64(GET_CALLER_IDENTITY.as_bytes()),
        "IamRequestHeaders": b64(Value::Object(headers).to_string().as_bytes()),
    }))
}

/// The `credential_process` JSON of a LoginWithIam answer (Expiration as RFC 3339).
pub fn credential_process_output(answer: &str) -> Result<String, Failure> {
    let unreadable = || Failure::call("the server's LoginWithIam answer has no credentials");
    let value: Value = serde_json::from_str(answer).map_err(|_| unreadable())?;
    let c = value.get("Credentials").ok_or_else(unreadable)?;
    let text = |name: &str| {
        c.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(unreadable)
    };
    let expires = c
        .get("Expiration")
        .and_then(Value::as_f64)
        .ok_or_else(unreadable)?;
    let expiration = time::OffsetDateTime::from_unix_timestamp(expires as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or_else(unreadable)?;
    Ok(json!({
        "Version": 1,
        "AccessKeyId": text("AccessKeyId")?,
        "SecretAccessKey": text("SecretAccessKey")?,
        "SessionToken": text("SessionToken")?,
        "Expiration": expiration,
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::identity::iam_login::{check_login_request, IamLoginSettings};

    struct Never;

    #[async_trait::async_trait]
    impl coffer_core::identity::iam_login::CallerIdentityVerifier for Never {
        async fn get_caller_identity(
            &self,
            _: &coffer_core::identity::iam_login::StsRequest,
        ) -> Result<
            coffer_core::identity::iam_login::CallerIdentity,
            coffer_core::identity::iam_login::VerifyError,
        > {
            unreachable!()
        }
    }

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "ASIAMOTOEXAMPLE".to_string(),
            secret_access_key: zeroize::Zeroizing::new("moto-secret".to_string()),
            session_token: Some("moto-token".to_string()),
        }
    }

    #[test]
    fn presigned_requests_pass_the_servers_checks() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        let body = presign(
            "http://127.0.0.1:5103",
            "us-east-1",
            Some("coffer-prod"),
            &creds(),
            now,
        )
        .unwrap();
        let settings = |audience: &str| IamLoginSettings {
            verifier: std::sync::Arc::new(Never),
            sts_authority: "127.0.0.1:5103".to_string(),
            audience: Some(audience.to_string()),
            region: "us-east-1".to_string(),
        };
        let bytes = body.to_string().into_bytes();
        let (request, _) =
            check_login_request(&bytes, &settings("coffer-prod"), 900, 1_767_225_600).unwrap();
        assert!(request
            .headers
            .iter()
            .any(|(n, v)| n == "x-amz-security-token" && v == "moto-token"));
        // The secret key itself is never part of the request.
        assert!(!body.to_string().contains("moto-secret"));
        let e = check_login_request(&bytes, &settings("other"), 900, 1_767_225_600).unwrap_err();
        assert_eq!(e.code(), "AccessDeniedException");
    }

    #[test]
    fn answers_become_credential_process_json() {
        let out = credential_process_output(
            r#"{"Credentials":{"AccessKeyId":"ASIAX","SecretAccessKey":"s","SessionToken":"t","Expiration":1767229200},"Arn":"a"}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAX");
        assert_eq!(v["Expiration"], "2026-01-01T01:00:00Z");
        assert!(credential_process_output("{}").is_err());
    }
}
