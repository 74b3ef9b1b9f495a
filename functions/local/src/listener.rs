//! The HTTP listener of `coffer serve`: accepts TCP connections and runs the router on each
//! with limits a hostile client cannot walk around.
//!
//! - **Connection cap** (`--max-connections`): at most that many connections are served at
//!   once; one more is answered `503 ServiceUnavailableException` and closed, so a flood of
//!   idle sockets cannot starve the server of file descriptors or memory.
//! - **Header-read timeout** (`--header-read-timeout-secs`): a connection whose next request's
//!   headers are not complete within it is closed. It covers slow-loris clients (half a
//!   request, then silence) and idle keep-alive connections alike: hyper starts the timer
//!   whenever it waits for a request head.
//! - **Request-body timeout** (`--request-body-timeout-secs`): the router reads a body under
//!   this deadline ([`coffer_wire::router::BodyReadTimeout`], set on every request here).
//! - **Header size**: request heads over [`MAX_HEADER_BYTES`] or [`MAX_HEADERS`] headers get
//!   `431` and the connection is closed.
//! - **Graceful drain**: on shutdown the listener stops accepting and waits for in-flight
//!   requests (hyper's graceful shutdown of every connection) before returning.
//!
//! Place in the data path: the first stop of a request in `coffer serve` (the `api` Lambda gets
//! its requests from API Gateway instead), before `coffer_wire::router`.

use axum::extract::ConnectInfo;
use axum::Router;
use coffer_wire::router::BodyReadTimeout;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most headers accepted in one request.
pub const MAX_HEADERS: usize = 100;
/// How long a refused connection may take to receive its 503 before it is dropped.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the drain waits for in-flight requests on shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits of one listener (from `ServeArgs`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub request_body_timeout: Duration,
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let body_timeout = BodyReadTimeout(limits.request_body_timeout);
        let app = app.clone();
        let service = tower::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(body_timeout);
            app.clone().oneshot(request)
        });
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // Held for the connection's life: its slot under the cap.
            let _permit = permit;
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("in-flight requests did not finish within the drain timeout");
        }
    }
    Ok(())
}

/// Answers a connection over the cap with AWS's throttling-style 503 and closes it.
async fn refuse(mut stream: TcpStream, max_connections: usize) {
    tracing::warn!(
        max_connections,
        "connection refused: the connection limit is reached"
    );
    let body = r#"{"__type":"ServiceUnavailableException","Message":"The server is at its connection limit; retry later."}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
