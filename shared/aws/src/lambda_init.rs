//! Failing a Lambda cold start cleanly. Bad configuration must stop the function at init with
//! a message an operator can act on, not a panic with a backtrace: [`fail_init`] prints the
//! message on stderr (the function's log), reports it to the Runtime API
//! (`POST /2018-06-01/runtime/init/error`, so Lambda answers the invocation with
//! `Runtime.ConfigError` and the message), and returns the exit code the process ends with.
//!
//! Place in the data path: before any request, in each function's `main`.

use std::process::ExitCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `errorType` init failures are reported with.
pub const INIT_ERROR_TYPE: &str = "Runtime.ConfigError";

/// Reports `message` as the init error of this function (when running under a Runtime API)
/// and returns the failure exit code. `message` must not contain secrets (configuration errors
/// name variables, never their values).
pub async fn fail_init(function: &str, message: &str) -> ExitCode {
    eprintln!("{function}: cold start failed: {message}");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        if let Err(e) = post_init_error(&api, message).await {
            eprintln!("{function}: could not report the init error to the Runtime API: {e}");
        }
    }
    ExitCode::FAILURE
}

/// One HTTP/1.1 request to the Runtime API (a local, plain-HTTP endpoint); the answer's
/// status line is checked, the body ignored.
async fn post_init_error(api: &str, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({
        "errorMessage": message,
        "errorType": INIT_ERROR_TYPE,
        "stackTrace": [],
    })
    .to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {INIT_ERROR_TYPE}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(api).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status_ok = answer.starts_with(b"HTTP/1.1 2") || answer.starts_with(b"HTTP/1.0 2");
    if status_ok {
        Ok(())
    } else {
        let line = String::from_utf8_lossy(&answer);
        Err(std::io::Error::other(format!(
            "unexpected answer: {}",
            line.lines().next().unwrap_or_default()
        )))
    }
}
