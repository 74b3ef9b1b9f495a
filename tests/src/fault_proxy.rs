//! A small fault-injecting HTTP proxy for the AWS backend tests: it stands between a spawned
//! `coffer --backend aws` (whose `AWS_ENDPOINT_URL` points at it) and moto, forwards every
//! request, and, when armed, answers chosen AWS JSON operations (by their `X-Amz-Target`
//! header, e.g. `DynamoDB_20120810.TransactWriteItems`) with an HTTP 500 or a connection reset
//! instead. That is how a test makes a DynamoDB write fail in the middle of an operation while
//! the KMS calls before it pass.
//!
//! It serves one request per connection (answers carry `Connection: close`, so the SDK's
//! connection pool never reuses one) and runs on a runtime of its own, so tests may block their
//! own threads while it works. It records the target of every request it sees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What an armed proxy answers instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with an AWS JSON error body (`InternalServerError`), which SDKs retry and then
    /// report.
    Http500,
    /// Close the connection with a TCP reset, without an answer.
    Reset,
}

/// Which requests fail.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// `X-Amz-Target` values (exact, e.g. `DynamoDB_20120810.TransactWriteItems`) to fail.
    pub targets: Vec<String>,
    /// How many matching requests pass before the first failure.
    pub pass_first: usize,
    /// The failure.
    pub fault: Fault,
}

impl FaultRule {
    /// Fail every request with one of `targets`.
    pub fn fail(targets: &[&str], fault: Fault) -> FaultRule {
        FaultRule {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            pass_first: 0,
            fault,
        }
    }

    /// Let the first `n` matching requests through, then fail the rest.
    pub fn after(mut self, n: usize) -> FaultRule {
        self.pass_first = n;
        self
    }
}

/// The DynamoDB operations that write.
pub const DYNAMODB_WRITES: &[&str] = &[
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.TransactWriteItems",
    "DynamoDB_20120810.BatchWriteItem",
];

#[derive(Default)]
struct State {
    rule: Mutex<Option<(FaultRule, usize)>>,
    seen: Mutex<Vec<String>>,
    injected: AtomicUsize,
}

impl State {
    /// Records `target` and decides whether to fail it.
    fn decide(&self, target: &str) -> Option<Fault> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(target.to_string());
        let mut rule = self.rule.lock().unwrap_or_else(PoisonError::into_inner);
        let (rule, matched) = rule.as_mut()?;
        if !rule.targets.iter().any(|t| t == target) {
            return None;
        }
        *matched += 1;
        if *matched <= rule.pass_first {
            return None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(rule.fault)
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(State::default());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread_state = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = thread_state.clone();
                            let upstream = upstream.clone();
                            tokio::spawn(async move {
                                // A failed exchange is the client's or moto's to report.
                                let _ = serve(stream, &upstream, &state).await;
                            });
                        }
                    }
                }
            });
        });
        FaultProxy {
            port,
            state,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Fail requests by `rule` from now on (replacing any earlier rule).
    pub fn arm(&self, rule: FaultRule) {
        *self
            .state
            .rule
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((rule, 0));
    }

    /// Forward everything again.
    pub fn disarm(&self) {
        *self
            .state
            .rule
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Requests failed so far.
    pub fn injected(&self) -> usize {
        self.state.injected.load(Ordering::SeqCst)
    }

    /// Targets of the requests seen since the last call (and forgets them).
    pub fn take_seen(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .state
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;

/// Reads up to the end of an HTTP head; returns (head, bytes after it).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Ok((head, buf[end + 4..].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("HTTP head too long"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn with_connection_close(head: &str) -> String {
    let mut out: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            !line
                .split_once(':')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        })
        .collect();
    out.push("Connection: close");
    format!("{}\r\n\r\n", out.join("\r\n"))
}

async fn serve(mut client: TcpStream, upstream: &str, state: &State) -> std::io::Result<()> {
    let (head, mut body) = read_head(&mut client).await?;
    if header(&head, "transfer-encoding").is_some() {
        return Err(std::io::Error::other("chunked requests are not supported"));
    }
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let target = header(&head, "x-amz-target").unwrap_or("").to_string();
    match state.decide(&target) {
        Some(Fault::Http500) => {
            let payload = serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "message": format!("fault injected by the e2e proxy into {target}"),
            })
            .to_string();
            let answer = format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.0\r\n\
                 x-amzn-RequestId: e2e-fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
            client.write_all(answer.as_bytes()).await?;
            client.shutdown().await
        }
        Some(Fault::Reset) => {
            client.set_zero_linger()?;
            drop(client);
            Ok(())
        }
        None => {
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(with_connection_close(&head).as_bytes())
                .await?;
            up.write_all(&body).await?;
            let (response_head, rest) = read_head(&mut up).await?;
            client
                .write_all(with_connection_close(&response_head).as_bytes())
                .await?;
            client.write_all(&rest).await?;
            tokio::io::copy(&mut up, &mut client).await?;
            client.shutdown().await
        }
    }
}
