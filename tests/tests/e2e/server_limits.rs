//! `coffer serve` under a hostile client (functions/local/src/listener.rs): connections over
//! `--max-connections` are answered 503 and closed; half-sent requests (slow loris) are closed
//! after `--header-read-timeout-secs`; an oversized or over-long request head gets 431; a body
//! that does not arrive within `--request-body-timeout-secs` gets 408 — and afterwards the
//! server answers normally.

use coffer_e2e::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const CAP: usize = 30;
const HEADER_TIMEOUT_SECS: u64 = 2;

fn address(server: &CofferServer) -> SocketAddr {
    server
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("a loopback endpoint")
}

/// Everything the server sends until it closes the connection (or `limit` passes: then what
/// came so far, and false).
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (out, false)
            }
            // Reset by the server: closed.
            Err(_) => return (out, true),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_are_capped_timed_out_and_refused_then_the_server_answers() {
    let Some(server) = CofferServer::start_process(ServerOptions::default().args(&[
        "--max-connections",
        &CAP.to_string(),
        "--header-read-timeout-secs",
        &HEADER_TIMEOUT_SECS.to_string(),
        "--request-body-timeout-secs",
        "2",
    ])) else {
        return;
    };
    let addr = address(&server);
    let client = server.default_client();
    let name = unique_name("limits");
    create_string_secret(&client, &name, "still here").await;

    tokio::task::block_in_place(|| {
        // Slow loris: CAP connections, each with half a request head.
        let opened = Instant::now();
        let mut held: Vec<TcpStream> = (0..CAP)
            .map(|_| {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(b"POST / HTTP/1.1\r\nHost: coffer\r\nX-Half: ")
                    .expect("half a request");
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));

        // One more: over the cap, answered 503 and closed.
        let mut extra = TcpStream::connect(addr).expect("connect");
        let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5));
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 503") && answer.contains("ServiceUnavailableException"),
            "over the cap: {answer}"
        );
        assert!(closed, "the refused connection is closed");

        // Every half-open connection is closed once the header timeout has passed.
        let mut closed_after = Vec::new();
        for s in &mut held {
            let (_, closed) = read_until_closed(s, Duration::from_secs(HEADER_TIMEOUT_SECS + 5));
            assert!(closed, "a slow-loris connection was still open");
            closed_after.push(opened.elapsed());
        }
        let last = closed_after.iter().max().expect("connections");
        eprintln!(
            "{} slow-loris connections closed by the server, the last {:.1} s after they opened \
             (header timeout {HEADER_TIMEOUT_SECS} s)",
            closed_after.len(),
            last.as_secs_f64()
        );
        assert!(
            *last >= Duration::from_secs(HEADER_TIMEOUT_SECS - 1),
            "closed before the timeout: {last:?}"
        );

        // A head over the size limit, and one with too many headers: 431.
        for head in [
            format!(
                "POST / HTTP/1.1\r\nHost: coffer\r\nX-Big: {}\r\n\r\n",
                "a".repeat(100 * 1024)
            ),
            format!(
                "POST / HTTP/1.1\r\nHost: coffer\r\n{}\r\n",
                (0..500)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            ),
        ] {
            let mut s = TcpStream::connect(addr).expect("connect");
            // The server may close before it read everything: a failed write is fine.
            let _ = s.write_all(head.as_bytes());
            let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5));
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.starts_with("HTTP/1.1 431"),
                "oversized head: {answer}"
            );
        }

        // A body that never finishes: 408 after the body timeout.
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(
            b"POST / HTTP/1.1\r\nHost: coffer\r\nContent-Type: application/x-amz-json-1.1\r\n\
              X-Amz-Target: secretsmanager.ListSecrets\r\nContent-Length: 100\r\n\r\n{\"Max",
        )
        .expect("a partial body");
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(8));
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 408") && answer.contains("RequestTimeoutException"),
            "slow body: {answer}"
        );
    });

    // And the server still answers, within the cap again.
    let started = Instant::now();
    let value = client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("GetSecretValue after the abuse");
    assert_eq!(value.secret_string(), Some("still here"));
    eprintln!(
        "GetSecretValue afterwards: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
