//! A Lambda emulator for tests: the real function binaries (`bootstrap`s) run as Lambda runs
//! them, speaking the Lambda Runtime API to this harness.
//!
//! Why not `cargo lambda watch`: installing cargo-lambda from crates.io takes ~18 minutes on
//! the 2-core test machines, its Invoke emulation differs from Lambda (a function error comes
//! back as HTTP 500, `InvocationType=Event` answers 200), and it builds and runs debug
//! binaries itself; this harness is a few hundred lines of axum, starts in milliseconds, runs
//! any binary it is given (debug or release), and measures cold starts. See `docs/lambda.md`.
//!
//! What it serves, on 127.0.0.1:
//! - **Runtime API**, one listener per function (the process gets
//!   `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`): `GET /2018-06-01/runtime/invocation/next`
//!   (with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`,
//!   `-Trace-Id`), `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error`,
//!   `POST /2018-06-01/runtime/init/error`.
//! - **Invoke API** ([`LambdaEmulator::invoke_endpoint`]; aws-sdk-lambda reaches it with an
//!   endpoint override): `POST /2015-03-31/functions/{name}/invocations` with
//!   `X-Amz-Invocation-Type` `RequestResponse` (200; a function error is 200 with
//!   `X-Amz-Function-Error: Unhandled`, as Lambda answers), `Event` (202, run in the
//!   background) or `DryRun` (204); unknown functions 404 `ResourceNotFoundException`.
//! - **API Gateway HTTP API front** ([`LambdaEmulator::http_api_front`]): each HTTP request
//!   becomes a payload 2.0 event, the function's answer becomes the HTTP response.
//!
//! Each function runs in `instances` processes (Lambda scales out with concurrency; each
//! process handles one invocation at a time), with a clean environment: the usual Lambda
//! variables plus the configured ones. Output goes to a log file. Everything stops on drop.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

/// The account in the function ARNs the emulator reports.
pub const EMULATOR_ACCOUNT: &str = "000000000000";

/// In a [`FunctionConfig`] variable's value, replaced by the emulator's Invoke API endpoint
/// (`http://127.0.0.1:<port>`): functions that invoke others (`COFFER_LAMBDA_ENDPOINT`).
pub const INVOKE_ENDPOINT: &str = "{invoke_endpoint}";

/// One function to run.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The built binary (a `bootstrap`).
    pub binary: PathBuf,
    /// `AWS_LAMBDA_FUNCTION_NAME`, and the name the Invoke API answers to.
    pub name: String,
    /// Variables of the function's configuration (on top of Lambda's own).
    pub env: Vec<(String, String)>,
    /// How many processes poll for invocations.
    pub instances: usize,
    /// Where the processes' stdout and stderr go (appended).
    pub log_path: PathBuf,
    /// The invocation timeout (`Lambda-Runtime-Deadline-Ms`).
    pub timeout: Duration,
    pub memory_mb: u32,
    pub region: String,
}

impl FunctionConfig {
    /// One instance, 60 s timeout, 256 MB, us-east-1.
    pub fn new(binary: impl Into<PathBuf>, name: &str, log_path: impl Into<PathBuf>) -> Self {
        FunctionConfig {
            binary: binary.into(),
            name: name.to_string(),
            env: Vec::new(),
            instances: 1,
            log_path: log_path.into(),
            timeout: Duration::from_secs(60),
            memory_mb: 256,
            region: "us-east-1".to_string(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(vars);
        self
    }

    pub fn instances(mut self, n: usize) -> Self {
        self.instances = n.max(1);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{EMULATOR_ACCOUNT}:function:{}",
            self.region, self.name
        )
    }
}

/// A failed invocation, as Lambda reports it: the function's own error (`/error`), or the
/// runtime's (`Runtime.InitError` from `/init/error`, `Runtime.ExitError`, `Sandbox.Timedout`).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

impl FunctionError {
    fn new(error_type: &str, error_message: impl Into<String>) -> Self {
        FunctionError {
            error_type: error_type.to_string(),
            error_message: error_message.into(),
        }
    }

    fn from_body(header_type: Option<&str>, body: &[u8]) -> Self {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_string);
        FunctionError {
            error_type: field("errorType")
                .or_else(|| header_type.map(str::to_string))
                .unwrap_or_else(|| "Unhandled".to_string()),
            error_message: field("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
        }
    }

    /// The payload Lambda's Invoke API returns for a function error.
    pub fn to_payload(&self) -> Value {
        json!({"errorType": self.error_type, "errorMessage": self.error_message})
    }
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

type Outcome = Result<Bytes, FunctionError>;

struct Invocation {
    id: String,
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

/// Cold-start figures of a function, measured from the spawn of its first process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColdStart {
    /// Spawn to the first `GET .../invocation/next` (Lambda's "Init Duration").
    pub init: Option<Duration>,
    /// Spawn to the first invocation's response.
    pub first_response: Option<Duration>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Invocation>,
    in_flight: HashMap<String, oneshot::Sender<Outcome>>,
    /// Set when every process has exited: why.
    dead: Option<FunctionError>,
    init_error: Option<FunctionError>,
}

struct FunctionState {
    config: FunctionConfig,
    queue: Mutex<Queue>,
    notify: Notify,
    spawned_at: Mutex<Option<Instant>>,
    cold: Mutex<ColdStart>,
    alive: AtomicUsize,
}

impl FunctionState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn since_spawn(&self) -> Option<Duration> {
        let spawned = *self.spawned_at.lock().unwrap_or_else(|p| p.into_inner());
        spawned.map(|t| t.elapsed())
    }

    /// Queues one invocation and waits for its outcome.
    async fn invoke(&self, payload: Bytes) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut q = self.lock();
            if let Some(dead) = &q.dead {
                return Err(dead.clone());
            }
            q.waiting.push_back(Invocation {
                id: id.clone(),
                payload,
                reply,
            });
        }
        self.notify.notify_waiters();
        match tokio::time::timeout(self.config.timeout, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(self.lock().dead.clone().unwrap_or_else(|| {
                FunctionError::new("Runtime.ExitError", "the function process exited")
            })),
            Err(_) => {
                let mut q = self.lock();
                q.in_flight.remove(&id);
                q.waiting.retain(|i| i.id != id);
                Err(FunctionError::new(
                    "Sandbox.Timedout",
                    format!(
                        "Task timed out after {:.2} seconds",
                        self.config.timeout.as_secs_f64()
                    ),
                ))
            }
        }
    }

    /// Every process has exited: fail what waits and what comes.
    fn mark_dead(&self, why: String) {
        let mut q = self.lock();
        let error = match &q.init_error {
            Some(init) => FunctionError::new(
                "Runtime.InitError",
                format!("{} ({why})", init.error_message),
            ),
            None => FunctionError::new("Runtime.ExitError", why),
        };
        q.dead = Some(error.clone());
        for (_, reply) in q.in_flight.drain() {
            let _ = reply.send(Err(error.clone()));
        }
        for invocation in q.waiting.drain(..) {
            let _ = invocation.reply.send(Err(error.clone()));
        }
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Runtime API

async fn next_invocation(State(f): State<Arc<FunctionState>>) -> Response {
    loop {
        let notified = f.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let taken = {
            let mut q = f.lock();
            match q.waiting.pop_front() {
                Some(invocation) if q.dead.is_none() => {
                    q.in_flight.insert(invocation.id.clone(), invocation.reply);
                    Some((invocation.id, invocation.payload))
                }
                Some(invocation) => {
                    let dead = q.dead.clone().expect("dead");
                    let _ = invocation.reply.send(Err(dead));
                    None
                }
                None => None,
            }
        };
        {
            let mut cold = f.cold.lock().unwrap_or_else(|p| p.into_inner());
            if cold.init.is_none() {
                cold.init = f.since_spawn();
            }
        }
        if let Some((id, payload)) = taken {
            let deadline = epoch_ms() + f.config.timeout.as_millis();
            let trace = format!(
                "Root=1-{:08x}-{};Parent={};Sampled=0",
                (epoch_ms() / 1000) as u64,
                &uuid::Uuid::new_v4().simple().to_string()[..24],
                &uuid::Uuid::new_v4().simple().to_string()[..16]
            );
            let mut response = Response::new(Body::from(payload));
            let headers = response.headers_mut();
            let set = |headers: &mut HeaderMap, name: &'static str, value: String| {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            };
            set(headers, "content-type", "application/json".to_string());
            set(headers, "lambda-runtime-aws-request-id", id);
            set(headers, "lambda-runtime-deadline-ms", deadline.to_string());
            set(
                headers,
                "lambda-runtime-invoked-function-arn",
                f.config.arn(),
            );
            set(headers, "lambda-runtime-trace-id", trace);
            return response;
        }
        notified.await;
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown_request_id(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"errorType": "InvalidRequestID", "errorMessage": format!("unknown request id {id}")})),
    )
        .into_response()
}

async fn invocation_response(
    State(f): State<Arc<FunctionState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(reply) = f.lock().in_flight.remove(&id) else {
        return unknown_request_id(&id);
    };
    {
        let mut cold = f.cold.lock().unwrap_or_else(|p| p.into_inner());
        if cold.first_response.is_none() {
            cold.first_response = f.since_spawn();
        }
    }
    let _ = reply.send(Ok(body));
    accepted()
}

async fn invocation_error(
    State(f): State<Arc<FunctionState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reply) = f.lock().in_flight.remove(&id) else {
        return unknown_request_id(&id);
    };
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok());
    let _ = reply.send(Err(FunctionError::from_body(kind, &body)));
    accepted()
}

async fn init_error(
    State(f): State<Arc<FunctionState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok());
    f.lock().init_error = Some(FunctionError::from_body(kind, &body));
    accepted()
}

fn runtime_api(f: Arc<FunctionState>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(f)
}

// ---------------------------------------------------------------------------------------------
// Invoke API

type Functions = Arc<HashMap<String, Arc<FunctionState>>>;

/// The function a name, partial ARN or ARN (optionally with a qualifier) designates.
fn find_function(functions: &Functions, name: &str) -> Option<Arc<FunctionState>> {
    let base = match name.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name.split(':').next().unwrap_or(name),
    };
    functions.get(base).cloned()
}

async fn invoke_api(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(f) = find_function(&functions, &name) else {
        let mut response = (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"Type": "User", "Message": format!("Function not found: {name}")})),
        )
            .into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static("ResourceNotFoundException"),
        );
        return response;
    };
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    let payload = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    match kind {
        "Event" => {
            tokio::spawn(async move {
                let _ = f.invoke(payload).await;
            });
            StatusCode::ACCEPTED.into_response()
        }
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        _ => {
            let (body, function_error) = match f.invoke(payload).await {
                Ok(body) => (body, false),
                Err(e) => (Bytes::from(e.to_payload().to_string()), true),
            };
            let mut response = Response::new(Body::from(body));
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.insert(
                "x-amz-executed-version",
                HeaderValue::from_static("$LATEST"),
            );
            if function_error {
                headers.insert(
                    "x-amz-function-error",
                    HeaderValue::from_static("Unhandled"),
                );
            }
            response
        }
    }
}

// ---------------------------------------------------------------------------------------------
// API Gateway HTTP API front

/// Content types API Gateway passes as text; every other body is base64-encoded.
fn is_text_type(content_type: &str) -> bool {
    let t = content_type.to_ascii_lowercase();
    t.starts_with("text/")
        || t.contains("json") && !t.contains("amz-json")
        || t.contains("xml")
        || t.contains("javascript")
}

/// API Gateway's `requestContext.time` format (`12/Mar/2020:19:03:58 +0000`).
fn gateway_time(ms: u128) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        months[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The payload 2.0 event API Gateway's HTTP API builds for `request`.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: &str,
) -> Value {
    let mut joined: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        joined
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let content_type = joined.get("content-type").cloned().unwrap_or_default();
    let text = std::str::from_utf8(body)
        .ok()
        .filter(|_| is_text_type(&content_type));
    let (body, encoded) = match (body.is_empty(), text) {
        (true, _) => (Value::Null, false),
        (false, Some(text)) => (json!(text), false),
        (false, None) => (
            json!(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = epoch_ms();
    let route_key = if method == "POST" && path == "/" {
        "POST /".to_string()
    } else {
        "$default".to_string()
    };
    // API Gateway always knows its domain; an empty one would make lambda_http read the path
    // as a host name.
    let host = joined
        .get("host")
        .cloned()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let mut query_parameters = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query_parameters.insert(k.to_string(), json!(v));
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined.clone(),
        "requestContext": {
            "accountId": EMULATOR_ACCOUNT,
            "apiId": "coffer-e2e",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": gateway_time(now),
            "timeEpoch": now as u64,
        },
        "isBase64Encoded": encoded,
    });
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The HTTP response for a payload 2.0 function answer.
pub fn http_api_response(answer: &Value) -> Response {
    let status = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = match answer.get("body").and_then(Value::as_str) {
        None => Vec::new(),
        Some(b) if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            match base64::engine::general_purpose::STANDARD.decode(b) {
                Ok(bytes) => bytes,
                Err(_) => return bad_gateway(),
            }
        }
        Some(b) => b.as_bytes().to_vec(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(headers) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                response.headers_mut().append(name, value);
            }
        }
    }
    if let Some(values) = answer.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, list) in values {
            for value in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
        }
    }
    response
}

/// What API Gateway answers when the integration fails.
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        axum::Json(json!({"message": "Internal Server Error"})),
    )
        .into_response()
}

async fn http_api(
    State(f): State<Arc<FunctionState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // API Gateway's payload limit is 10 MB.
    let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response();
    };
    let event = http_api_event(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &parts.headers,
        &body,
        &peer.ip().to_string(),
    );
    match f.invoke(Bytes::from(event.to_string())).await {
        Ok(answer) => match serde_json::from_slice::<Value>(&answer) {
            Ok(answer) => http_api_response(&answer),
            Err(_) => bad_gateway(),
        },
        Err(_) => bad_gateway(),
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator

/// Running functions, their Runtime APIs, the Invoke API and any API Gateway fronts.
pub struct LambdaEmulator {
    functions: Functions,
    invoke_addr: SocketAddr,
    handle: tokio::runtime::Handle,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Resolves once the emulator is told to stop (the watch's guard is not held across awaits).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.is_ok();
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an emulator port");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stopped(&mut stop).await })
        .await;
    });
}

/// Spawns one process of `f` and watches it; the last one to exit marks the function dead.
fn spawn_instance(
    f: Arc<FunctionState>,
    runtime_addr: SocketAddr,
    index: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&f.config.log_path)?;
    let c = &f.config;
    let mut cmd = tokio::process::Command::new(&c.binary);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TZ", ":UTC")
        .env("LANG", "en_US.UTF-8")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &c.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string())
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", c.name),
        )
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("emulator/[$LATEST]{index}"),
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_REGION", &c.region)
        .env("AWS_DEFAULT_REGION", &c.region)
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("_HANDLER", "bootstrap")
        .envs(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    f.alive.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let why = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => format!("the function process exited: {status}"),
                Err(e) => format!("waiting for the function process failed: {e}"),
            },
            _ = stopped(&mut stop) => {
                let _ = child.kill().await;
                "the emulator stopped".to_string()
            }
        };
        if f.alive.fetch_sub(1, Ordering::SeqCst) == 1 {
            f.mark_dead(why);
        }
    });
    Ok(())
}

impl LambdaEmulator {
    /// Starts the emulator and one or more processes of every function. Panics when a binary
    /// cannot be spawned (a test setup error).
    pub fn start(functions: Vec<FunctionConfig>) -> LambdaEmulator {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            runtime.block_on(async move {
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let (invoke_listener, invoke_addr) = bind().await;
                let mut states = HashMap::new();
                for mut config in functions {
                    for (_, value) in config.env.iter_mut() {
                        *value = value.replace(INVOKE_ENDPOINT, &format!("http://{invoke_addr}"));
                    }
                    let f = Arc::new(FunctionState {
                        config,
                        queue: Mutex::new(Queue::default()),
                        notify: Notify::new(),
                        spawned_at: Mutex::new(None),
                        cold: Mutex::new(ColdStart::default()),
                        alive: AtomicUsize::new(0),
                    });
                    let (listener, addr) = bind().await;
                    serve(listener, runtime_api(f.clone()), stop_rx.clone());
                    *f.spawned_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    for i in 0..f.config.instances {
                        if let Err(e) = spawn_instance(f.clone(), addr, i, stop_rx.clone()) {
                            panic!("spawn {}: {e}", f.config.binary.display());
                        }
                    }
                    states.insert(f.config.name.clone(), f);
                }
                let functions: Functions = Arc::new(states);
                let listener = invoke_listener;
                let invoke = Router::new()
                    .route("/2015-03-31/functions/{name}/invocations", post(invoke_api))
                    .with_state(functions.clone());
                serve(listener, invoke, stop_rx.clone());
                let _ = ready_tx.send((
                    functions,
                    invoke_addr,
                    tokio::runtime::Handle::current(),
                    stop_tx,
                ));
                let mut stop = stop_rx;
                stopped(&mut stop).await;
                // Let the watchers kill their processes.
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
        });
        let (functions, invoke_addr, handle, stop) = ready_rx
            .recv()
            .expect("the emulator thread failed to start");
        LambdaEmulator {
            functions,
            invoke_addr,
            handle,
            shutdown: Some(stop),
            thread: Some(thread),
        }
    }

    fn function(&self, name: &str) -> Arc<FunctionState> {
        self.functions
            .get(name)
            .unwrap_or_else(|| panic!("the emulator runs no function {name}"))
            .clone()
    }

    /// Invokes `function` synchronously with `event`; its answer, or its error.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, FunctionError> {
        let f = self.function(function);
        let payload = Bytes::from(event.to_string());
        let answer = self
            .handle
            .spawn(async move { f.invoke(payload).await })
            .await
            .map_err(|e| FunctionError::new("Emulator", e.to_string()))??;
        serde_json::from_slice(&answer).map_err(|e| {
            FunctionError::new(
                "Emulator",
                format!("the function answered with invalid JSON: {e}"),
            )
        })
    }

    /// The Invoke API endpoint (`http://127.0.0.1:<port>`), for aws-sdk-lambda's `endpoint_url`.
    pub fn invoke_endpoint(&self) -> String {
        format!("http://{}", self.invoke_addr)
    }

    /// Starts an API Gateway HTTP API (payload 2.0) in front of `function`; its URL.
    pub fn http_api_front(&self, function: &str) -> String {
        let f = self.function(function);
        let stop = self
            .shutdown
            .as_ref()
            .expect("running emulator")
            .subscribe();
        let addr = self.handle.block_on_side(async move {
            let (listener, addr) = bind().await;
            let app = Router::new().fallback(http_api).with_state(f);
            serve(listener, app, stop);
            addr
        });
        format!("http://{addr}")
    }

    /// The function's init error, if it reported one.
    pub fn init_error(&self, function: &str) -> Option<FunctionError> {
        self.function(function).lock().init_error.clone()
    }

    /// Why the function cannot run anymore (all its processes exited), if so.
    pub fn exited(&self, function: &str) -> Option<FunctionError> {
        self.function(function).lock().dead.clone()
    }

    /// Cold-start figures of `function` so far.
    pub fn cold_start(&self, function: &str) -> ColdStart {
        *self
            .function(function)
            .cold
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (up to `timeout`) until `function` polls for its first invocation, i.e. its init
    /// is done, or it died; true when ready.
    pub fn wait_ready(&self, function: &str, timeout: Duration) -> bool {
        let f = self.function(function);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if f.cold
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .init
                .is_some()
            {
                return true;
            }
            if f.lock().dead.is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

/// Runs a future on the emulator's runtime from synchronous code (which may itself be inside
/// another runtime).
trait BlockOnSide {
    fn block_on_side<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static;
}

impl BlockOnSide for tokio::runtime::Handle {
    fn block_on_side<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().expect("the emulator runtime stopped")
    }
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The `api` function as the e2e suite's server (COFFER_E2E_BACKEND=lambda)

/// The name the `api` function runs under.
pub const API_FUNCTION: &str = "coffer-api";
/// The rotation function the `api` function starts jobs with. The emulator does not run it, so
/// a RotateSecret's job start fails (404 from the Invoke API), as with no runner configured.
pub const ROTATION_FUNCTION: &str = "coffer-rotation";

/// Path of the `coffer-api` binary: `COFFER_API_BIN`, else `target/debug/coffer-api`.
pub fn coffer_api_bin() -> PathBuf {
    match std::env::var("COFFER_API_BIN") {
        Ok(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => crate::workspace_root()
            .join("target")
            .join("debug")
            .join("coffer-api"),
    }
}

/// The `api` function on moto's DynamoDB and KMS, under the emulator, behind an API Gateway
/// HTTP API front: what the SDK talks to in `COFFER_E2E_BACKEND=lambda`.
pub struct ApiDeployment {
    pub emulator: LambdaEmulator,
    /// The API Gateway front's URL.
    pub endpoint: String,
    pub aws: Arc<crate::AwsResources>,
    log_dir: tempfile::TempDir,
}

impl ApiDeployment {
    /// The `api` function's environment for `aws`: moto, the table and key, the test root
    /// credentials, rotation jobs to the emulator's Invoke API.
    pub fn function_env(aws: &crate::AwsResources) -> Vec<(String, String)> {
        let mut env = crate::aws::aws_process_env(&aws.endpoint, &aws.region);
        for (k, v) in [
            ("COFFER_TABLE", aws.table.as_str()),
            ("COFFER_KMS_KEY", aws.key.alias.as_str()),
            ("COFFER_ACCOUNT_ID", crate::TEST_ACCOUNT_ID),
            ("COFFER_ROOT_ACCESS_KEY_ID", crate::TEST_ACCESS_KEY_ID),
            (
                "COFFER_ROOT_SECRET_ACCESS_KEY",
                crate::TEST_SECRET_ACCESS_KEY,
            ),
            ("COFFER_ROTATION_FUNCTION", ROTATION_FUNCTION),
            ("COFFER_LAMBDA_ENDPOINT", INVOKE_ENDPOINT),
            ("RUST_LOG", "info"),
        ] {
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    /// Starts `instances` processes of the `api` function for `aws` and waits for their init.
    pub fn start(aws: Arc<crate::AwsResources>, instances: usize) -> ApiDeployment {
        let bin = coffer_api_bin();
        assert!(
            bin.exists(),
            "coffer-api not found at {} (build it with `cargo build -p coffer-api`, or set COFFER_API_BIN)",
            bin.display()
        );
        let log_dir = tempfile::Builder::new()
            .prefix("coffer-lambda-")
            .tempdir()
            .expect("temp dir");
        let config = FunctionConfig::new(&bin, API_FUNCTION, log_dir.path().join("function.log"))
            .envs(ApiDeployment::function_env(&aws))
            .instances(instances)
            .timeout(Duration::from_secs(600));
        let emulator = LambdaEmulator::start(vec![config]);
        let deployment = ApiDeployment {
            endpoint: emulator.http_api_front(API_FUNCTION),
            emulator,
            aws,
            log_dir,
        };
        if !deployment
            .emulator
            .wait_ready(API_FUNCTION, Duration::from_secs(30))
        {
            panic!(
                "coffer-api did not start under the emulator (init error: {:?}; exit: {:?})\n{}",
                deployment.emulator.init_error(API_FUNCTION),
                deployment.emulator.exited(API_FUNCTION),
                deployment.log_tail()
            );
        }
        deployment
    }

    /// Everything the function's processes wrote.
    pub fn log_text(&self) -> String {
        std::fs::read(self.log_dir.path().join("function.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- last {} lines of the coffer-api log ---\n{}\n--- end ---",
            lines.len() - start,
            lines[start..].join("\n")
        )
    }
}

impl Drop for ApiDeployment {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("coffer-api behind {}:\n{}", self.endpoint, self.log_tail());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_api_event_json_body_of_amz_json_is_base64_and_headers_lower_cased() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "Content-Type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert(
            "X-Amz-Target",
            HeaderValue::from_static("secretsmanager.ListSecrets"),
        );
        headers.insert("Host", HeaderValue::from_static("127.0.0.1:1234"));
        let event = http_api_event("POST", "/", "", &headers, b"{}", "127.0.0.1");
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /");
        assert_eq!(
            event["headers"]["x-amz-target"],
            "secretsmanager.ListSecrets"
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "e30=");
        assert_eq!(event["requestContext"]["stage"], "$default");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
        let text = http_api_event("GET", "/health", "a=1", &HeaderMap::new(), b"", "127.0.0.1");
        assert_eq!(text["routeKey"], "$default");
        assert_eq!(text["queryStringParameters"]["a"], "1");
        assert!(text.get("body").is_none());
    }

    #[test]
    fn http_api_response_decodes_base64_and_sets_headers() {
        let answer = json!({"statusCode": 400, "headers": {"x-amzn-requestid": "r1"},
            "body": "eyJhIjoxfQ==", "isBase64Encoded": true});
        let response = http_api_response(&answer);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["x-amzn-requestid"], "r1");
    }

    #[test]
    fn gateway_time_has_api_gateway_format() {
        assert_eq!(
            gateway_time(1_704_067_200_000),
            "01/Jan/2024:00:00:00 +0000"
        );
    }

    #[test]
    fn find_function_accepts_name_arn_and_qualifier() {
        let f = Arc::new(FunctionState {
            config: FunctionConfig::new("/bin/true", "coffer-api", "/dev/null"),
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            spawned_at: Mutex::new(None),
            cold: Mutex::new(ColdStart::default()),
            alive: AtomicUsize::new(0),
        });
        let functions: Functions = Arc::new(HashMap::from([("coffer-api".to_string(), f)]));
        for name in [
            "coffer-api",
            "coffer-api:$LATEST",
            "arn:aws:lambda:us-east-1:000000000000:function:coffer-api",
            "arn:aws:lambda:us-east-1:000000000000:function:coffer-api:1",
        ] {
            assert!(find_function(&functions, name).is_some(), "{name}");
        }
        assert!(find_function(&functions, "other").is_none());
    }
}
