//! `coffer admin <operation> [--member value ...]`: a client of the admin API (`coffer.<Op>`,
//! JSON 1.1, SigV4 for service `secretsmanager`), so the same commands manage the principals of
//! a local server and of a deployed one.
//!
//! Like the AWS CLI: the operation in kebab-case (`create-user` calls `coffer.CreateUser`), the
//! request members as kebab-case flags (`--user-name` is `UserName`), `--tags Key=k,Value=v ...`
//! shorthand (or JSON), `file://path` for any string value, `--cli-input-json` for the whole
//! body; endpoint, region and credentials from the flags and the AWS environment; the answer
//! pretty-printed on stdout; an error answer as `An error occurred (<Code>) when calling the
//! <Op> operation: <message>` on stderr with exit status 255.

use crate::config::AdminArgs;
use bytes::Bytes;
use coffer_core::operation::{Api, Operation};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;
use zeroize::Zeroizing;

pub const AFTER_HELP: &str = "Operations: create-user, delete-user, list-users, create-role, \
delete-role, list-roles, create-access-key, delete-access-key, list-access-keys, \
put-user-policy, put-role-policy, delete-user-policy, delete-role-policy, \
put-iam-identity-policy, get-iam-identity-policy, delete-iam-identity-policy, \
list-iam-identities.\n\
Example: coffer admin create-user --user-name alice --tags Key=team,Value=pay\n\
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the profile \
(--profile, AWS_PROFILE, default) of AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, else \
<data-dir>/credentials.";

/// Exit statuses of the AWS CLI: bad command line, bad configuration, failed call.
const EXIT_USAGE: u8 = 252;
const EXIT_CONFIG: u8 = 253;
const EXIT_CALL: u8 = 255;

/// The signing service name of the whole API, admin operations included.
const SIGNING_SERVICE: &str = "secretsmanager";

/// An error of the command, with the exit status it ends with.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_USAGE,
            message: message.into(),
        }
    }
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_CONFIG,
            message: message.into(),
        }
    }
    pub(crate) fn call(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_CALL,
            message: message.into(),
        }
    }
}

pub async fn run(args: AdminArgs) -> ExitCode {
    match call(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.status)
        }
    }
}

/// Settings that may also follow the operation, as with the AWS CLI.
struct Settings {
    endpoint_url: String,
    region: Option<String>,
    profile: Option<String>,
    data_dir: PathBuf,
}

async fn call(args: AdminArgs) -> Result<(), Failure> {
    let operation = operation_name(&args.operation)?;
    let mut settings = Settings {
        endpoint_url: args.endpoint_url,
        region: args.region,
        profile: args.profile,
        data_dir: args.data_dir,
    };
    let body = request_body(&args.members, &mut settings)?;
    let region = settings
        .region
        .clone()
        .or_else(|| non_empty_env("AWS_REGION"))
        .or_else(|| non_empty_env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    let credentials = credentials(settings.profile.as_deref(), &settings.data_dir)?;
    let request = signed_request(
        &settings.endpoint_url,
        &region,
        &operation,
        &body,
        &credentials,
    )?;
    let (status, text) = send(&settings.endpoint_url, request).await?;
    if status.is_success() {
        let value: Value = if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&text).map_err(|e| {
                Failure::call(format!("the server's answer is not JSON ({e}): {text}"))
            })?
        };
        // An empty answer (DeleteUser, PutUserPolicy, ...) prints nothing, as the AWS CLI does.
        if value.as_object().is_some_and(|o| !o.is_empty()) || !value.is_object() {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        return Ok(());
    }
    Err(Failure::call(error_message(
        &operation,
        status.as_u16(),
        &text,
    )))
}

/// `create-user` (or `CreateUser`) -> `CreateUser`, if it is an admin operation.
fn operation_name(given: &str) -> Result<String, Failure> {
    let pascal = if given.contains('-') || given.starts_with(|c: char| c.is_ascii_lowercase()) {
        kebab_to_pascal(given)
    } else {
        given.to_string()
    };
    if admin_operations().any(|op| op.name() == pascal) {
        return Ok(pascal);
    }
    let choices: Vec<String> = admin_operations()
        .map(|op| pascal_to_kebab(op.name()))
        .collect();
    Err(Failure::usage(format!(
        "coffer admin: invalid operation '{given}'; valid operations:\n  {}",
        choices.join("\n  ")
    )))
}

/// The admin operations `coffer admin` calls (LoginWithIam is `coffer login --iam`'s).
fn admin_operations() -> impl Iterator<Item = Operation> {
    Operation::of(Api::Admin).filter(|op| *op != Operation::LoginWithIam)
}

fn kebab_to_pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn pascal_to_kebab(pascal: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The JSON body from the member flags (and `--cli-input-json`), taking the settings flags
/// (`--endpoint-url`, `--region`, `--profile`, `--data-dir`) that follow the operation.
fn request_body(members: &[String], settings: &mut Settings) -> Result<String, Failure> {
    let mut base: Option<Map<String, Value>> = None;
    let mut flags: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < members.len() {
        let token = &members[i];
        let Some(flag) = token.strip_prefix("--").filter(|f| !f.is_empty()) else {
            return Err(Failure::usage(format!(
                "coffer admin: unexpected argument '{token}' (members are --member-name value)"
            )));
        };
        let (name, mut values) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), vec![value.to_string()]),
            None => (flag.to_string(), Vec::new()),
        };
        i += 1;
        if values.is_empty() {
            while i < members.len() && !members[i].starts_with("--") {
                values.push(members[i].clone());
                i += 1;
            }
        }
        flags.push((name, values));
    }
    let mut body = Map::new();
    for (name, values) in flags {
        let single = || -> Result<String, Failure> {
            match values.as_slice() {
                [value] => Ok(value.clone()),
                _ => Err(Failure::usage(format!(
                    "coffer admin: --{name} takes one value"
                ))),
            }
        };
        match name.as_str() {
            "endpoint-url" => settings.endpoint_url = single()?,
            "region" => settings.region = Some(single()?),
            "profile" => settings.profile = Some(single()?),
            "data-dir" => settings.data_dir = PathBuf::from(single()?),
            "cli-input-json" => {
                let text = resolve_file(&single()?)?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(object)) => base = Some(object),
                    _ => {
                        return Err(Failure::usage(
                            "coffer admin: --cli-input-json must be a JSON object",
                        ))
                    }
                }
            }
            _ => {
                let member = kebab_to_pascal(&name);
                let value = member_value(&name, &member, &values)?;
                body.insert(member, value);
            }
        }
    }
    let mut merged = base.unwrap_or_default();
    merged.extend(body);
    Ok(Value::Object(merged).to_string())
}

/// The JSON value of one member: `Tags` is a list of `Key=..,Value=..` shorthands (or JSON),
/// a flag without a value is `true`, anything else a string (`file://` read from the file).
fn member_value(flag: &str, member: &str, values: &[String]) -> Result<Value, Failure> {
    if member == "Tags" {
        let mut tags = Vec::new();
        for value in values {
            if value.trim_start().starts_with(['[', '{']) {
                match serde_json::from_str::<Value>(value) {
                    Ok(Value::Array(items)) => tags.extend(items),
                    Ok(item @ Value::Object(_)) => tags.push(item),
                    _ => {
                        return Err(Failure::usage(format!(
                            "coffer admin: bad JSON in --{flag}"
                        )))
                    }
                }
            } else {
                tags.push(shorthand(flag, value)?);
            }
        }
        if tags.is_empty() {
            return Err(Failure::usage(format!(
                "coffer admin: --{flag} needs Key=..,Value=.. values"
            )));
        }
        return Ok(Value::Array(tags));
    }
    match values {
        [] => Ok(Value::Bool(true)),
        [value] => Ok(Value::String(resolve_file(value)?)),
        _ => Err(Failure::usage(format!(
            "coffer admin: --{flag} takes one value"
        ))),
    }
}

/// `Key=team,Value=pay` -> `{"Key":"team","Value":"pay"}`.
fn shorthand(flag: &str, text: &str) -> Result<Value, Failure> {
    let mut object = Map::new();
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::usage(format!(
                "coffer admin: --{flag}: expected Key=..,Value=.., got '{text}'"
            )));
        };
        object.insert(key.trim().to_string(), Value::String(value.to_string()));
    }
    Ok(Value::Object(object))
}

/// `file://path` -> the file's contents; anything else as is.
fn resolve_file(value: &str) -> Result<String, Failure> {
    match value.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("coffer admin: cannot read {path}: {e}"))),
        None => Ok(value.to_string()),
    }
}

/// An AWS-style key pair (with a session token for temporary credentials).
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Zeroizing<String>,
    pub(crate) session_token: Option<String>,
}

/// The environment, else the profile of the shared credentials file, else the local server's
/// `<data-dir>/credentials`.
fn credentials(profile: Option<&str>, data_dir: &Path) -> Result<Credentials, Failure> {
    if let (Some(id), Some(secret)) = (
        non_empty_env("AWS_ACCESS_KEY_ID"),
        non_empty_env("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: non_empty_env("AWS_SESSION_TOKEN"),
        });
    }
    let shared = non_empty_env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| non_empty_env("HOME").map(|home| Path::new(&home).join(".aws/credentials")));
    if let Some(path) = &shared {
        if let Ok(text) = std::fs::read_to_string(path) {
            let text = Zeroizing::new(text);
            if let Some(found) = profile_credentials(&text, profile.unwrap_or("default")) {
                return Ok(found);
            }
        }
    }
    if let Some(profile) = profile {
        return Err(Failure::config(format!(
            "The config profile ({profile}) could not be found in {}",
            shared.map_or_else(|| "~/.aws/credentials".into(), |p| p.display().to_string())
        )));
    }
    let path = data_dir.join("credentials");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = Zeroizing::new(text);
        if let Some(found) = profile_credentials(&text, "default") {
            return Ok(found);
        }
    }
    Err(Failure::config(format!(
        "Unable to locate credentials: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, \
         AWS_PROFILE, or --data-dir to the server's data directory (no {})",
        path.display()
    )))
}

/// One profile of a file in the AWS shared-credentials format.
fn profile_credentials(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let mut id = None;
    let mut secret = None;
    let mut token = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            in_profile = section == profile || section == format!("profile {profile}");
            continue;
        }
        if !in_profile {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "aws_access_key_id" => id = Some(value),
            "aws_secret_access_key" => secret = Some(Zeroizing::new(value)),
            "aws_session_token" => token = Some(value),
            _ => {}
        }
    }
    Some(Credentials {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
    })
}

/// The `POST /` request of the operation, signed with SigV4 by the official signer.
fn signed_request(
    endpoint: &str,
    region: &str,
    operation: &str,
    body: &str,
    credentials: &Credentials,
) -> Result<http::Request<Full<Bytes>>, Failure> {
    let url = endpoint_url(endpoint)?;
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("coffer.{operation}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| Failure::usage(format!("coffer admin: {e}")))?;
    sign_request(
        &mut request,
        body.as_bytes(),
        credentials,
        region,
        SIGNING_SERVICE,
        SystemTime::now(),
    )?;
    Ok(request)
}

/// `http(s)://host[:port]/path` of `--endpoint-url` (path `/` when none is given).
pub(crate) fn endpoint_url(endpoint: &str) -> Result<String, Failure> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| Failure::usage(format!("bad --endpoint-url {endpoint}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(Failure::usage(format!(
            "--endpoint-url must be http(s)://host[:port][/path], got {endpoint}"
        )));
    }
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    Ok(format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default(),
        path
    ))
}

/// Adds the SigV4 headers (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`) for `body` and
/// the request's method, URL and headers, signed for `service` in `region` at `now`.
pub(crate) fn sign_request<B>(
    request: &mut http::Request<B>,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), Failure> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;

    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.as_str(),
        credentials.session_token.clone(),
        None,
        "coffer-cli",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Failure::config(format!("cannot sign: {e}")))?
        .into();
    let url = request.uri().to_string();
    let method = request.method().as_str().to_string();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let signable = SignableRequest::new(&method, &url, headers, SignableBody::Bytes(body))
        .map_err(|e| Failure::config(format!("cannot sign: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| Failure::config(format!("cannot sign: {e}")))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// Sends the request (rustls with the system's roots for https) and reads the whole answer.
pub(crate) async fn send(
    endpoint: &str,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, String), Failure> {
    if request.uri().scheme_str() == Some("https") {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| Failure::config(format!("coffer admin: no TLS root certificates: {e}")))?
            .https_only()
            .enable_http1()
            .build();
        exchange(
            Client::builder(TokioExecutor::new()).build(connector),
            endpoint,
            request,
        )
        .await
    } else {
        exchange(
            Client::builder(TokioExecutor::new()).build_http(),
            endpoint,
            request,
        )
        .await
    }
}

async fn exchange<C>(
    client: Client<C, Full<Bytes>>,
    endpoint: &str,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, String), Failure>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let response = client.request(request).await.map_err(|e| {
        Failure::call(format!(
            "Could not connect to the endpoint URL: \"{endpoint}\" ({e})"
        ))
    })?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::call(format!("coffer admin: reading the answer: {e}")))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The AWS CLI's line for an error answer (`__type` `Namespace#Code` or `Code`; `message` or
/// `Message`).
pub(crate) fn error_message(operation: &str, status: u16, text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let field = |names: &[&str]| {
        parsed.as_ref().and_then(|v| {
            names
                .iter()
                .find_map(|n| v.get(*n).and_then(Value::as_str).map(str::to_string))
        })
    };
    let code = field(&["__type", "code", "Code"])
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = field(&["message", "Message"]).unwrap_or_else(|| {
        if parsed.is_some() {
            "Unknown".to_string()
        } else {
            text.trim().to_string()
        }
    });
    format!("\nAn error occurred ({code}) when calling the {operation} operation: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            endpoint_url: "http://127.0.0.1:4584".into(),
            region: None,
            profile: None,
            data_dir: PathBuf::from("./coffer-data"),
        }
    }

    fn body(args: &[&str]) -> Value {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        serde_json::from_str(&request_body(&args, &mut settings()).unwrap()).unwrap()
    }

    #[test]
    fn operations_map_from_kebab_case() {
        assert_eq!(operation_name("create-user").unwrap(), "CreateUser");
        assert_eq!(operation_name("put-user-policy").unwrap(), "PutUserPolicy");
        assert_eq!(operation_name("ListAccessKeys").unwrap(), "ListAccessKeys");
        let err = operation_name("create-secret").unwrap_err();
        assert_eq!(err.status, EXIT_USAGE);
        assert!(err.message.contains("create-access-key"), "{}", err.message);
        for op in admin_operations() {
            assert_eq!(kebab_to_pascal(&pascal_to_kebab(op.name())), op.name());
        }
    }

    #[test]
    fn members_become_pascal_case_json() {
        assert_eq!(
            body(&[
                "--user-name",
                "alice",
                "--tags",
                "Key=team,Value=pay",
                "Key=env,Value=dev",
                "--tags",
                r#"[{"Key":"a","Value":"b"}]"#,
                "--account=123456789012",
            ]),
            serde_json::json!({
                "UserName": "alice",
                "Tags": [{"Key":"a","Value":"b"}],
                "Account": "123456789012",
            })
        );
        assert_eq!(
            body(&["--tags", "Key=team,Value=pay", "Key=env,Value=dev"])["Tags"],
            serde_json::json!([{"Key":"team","Value":"pay"},{"Key":"env","Value":"dev"}])
        );
    }

    #[test]
    fn cli_input_json_is_the_base_and_flags_override() {
        assert_eq!(
            body(&[
                "--cli-input-json",
                r#"{"UserName":"a","PolicyName":"p"}"#,
                "--user-name",
                "b"
            ]),
            serde_json::json!({"UserName": "b", "PolicyName": "p"})
        );
    }

    #[test]
    fn file_values_are_read_and_settings_are_taken() {
        let dir = std::env::temp_dir().join(format!("coffer-admin-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.json");
        std::fs::write(&file, "{\"Version\":\"2012-10-17\"}").unwrap();
        let mut s = settings();
        let args: Vec<String> = [
            "--policy-document".to_string(),
            format!("file://{}", file.display()),
            "--endpoint-url".to_string(),
            "https://coffer.example.com".to_string(),
            "--region".to_string(),
            "eu-west-1".to_string(),
        ]
        .into();
        let value: Value = serde_json::from_str(&request_body(&args, &mut s).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"PolicyDocument": "{\"Version\":\"2012-10-17\"}"})
        );
        assert_eq!(s.endpoint_url, "https://coffer.example.com");
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        std::fs::remove_dir_all(&dir).unwrap();
        let bad: Vec<String> = vec!["alice".into()];
        assert_eq!(
            request_body(&bad, &mut settings()).unwrap_err().status,
            EXIT_USAGE
        );
    }

    #[test]
    fn profiles_are_read_by_name() {
        let text = "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\
                    [admin]\naws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token=T\n";
        let d = profile_credentials(text, "default").unwrap();
        assert_eq!(
            (d.access_key_id.as_str(), d.secret_access_key.as_str()),
            ("A1", "S1")
        );
        let a = profile_credentials(text, "admin").unwrap();
        assert_eq!(a.access_key_id, "A2");
        assert_eq!(a.session_token.as_deref(), Some("T"));
        assert!(profile_credentials(text, "other").is_none());
    }

    #[test]
    fn errors_read_like_the_aws_cli() {
        assert_eq!(
            error_message(
                "DeleteUser",
                400,
                r#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"no user"}"#
            ),
            "\nAn error occurred (ResourceNotFoundException) when calling the DeleteUser operation: no user"
        );
        assert_eq!(
            error_message("ListUsers", 502, "Bad Gateway"),
            "\nAn error occurred (HTTP 502) when calling the ListUsers operation: Bad Gateway"
        );
    }
}
