//! Measures the `api` Lambda function (docs/lambda.md): cold start under the Runtime API
//! emulator, and warm per-request overhead of the Lambda path (API Gateway HTTP API front ->
//! emulator -> coffer-api) against `coffer serve --backend aws`, both on the same moto.
//!
//! Run by `bench/lambda_cold_start.sh` (which starts moto and builds what is needed):
//! `COFFER_TEST_AWS_ENDPOINT=... COFFER_BIN=<aws coffer> COFFER_API_BIN=<coffer-api>
//!  [COLD_API_BINS=<bin>,<bin>] cargo run -p coffer-e2e --example lambda_bench`

use coffer_e2e::lambda_runtime::{
    self, ApiDeployment, FunctionConfig, LambdaEmulator, API_FUNCTION,
};
use coffer_e2e::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// GET /health on `url` over a fresh connection; its time.
fn health(url: &str) -> Duration {
    let addr = url.trim_start_matches("http://");
    let started = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    started.elapsed()
}

fn cold_starts(bin: &str, aws: &AwsResources, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut init = Vec::new();
    let mut first = Vec::new();
    let mut first_read = Vec::new();
    for _ in 0..runs {
        let config = FunctionConfig::new(bin, API_FUNCTION, dir.path().join("log"))
            .envs(ApiDeployment::function_env(aws));
        let emulator = LambdaEmulator::start(vec![config]);
        let event = lambda_runtime::http_api_event(
            "GET",
            "/health",
            "",
            &Default::default(),
            b"",
            "127.0.0.1",
        );
        let answer = rt
            .block_on(emulator.invoke(API_FUNCTION, &event))
            .expect("first invoke");
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let cold = emulator.cold_start(API_FUNCTION);
        init.push(cold.init.expect("init"));
        first.push(cold.first_response.expect("first response"));
        drop(emulator);
        // A fresh instance whose first request is a secret read (DynamoDB + KMS on moto).
        let config = FunctionConfig::new(bin, API_FUNCTION, dir.path().join("log"))
            .envs(ApiDeployment::function_env(aws));
        let emulator = LambdaEmulator::start(vec![config]);
        let front = emulator.http_api_front(API_FUNCTION);
        let started = Instant::now();
        let raw = RawRequest::new(
            "GetSecretValue",
            &serde_json::json!({"SecretId": "bench/secret"}),
        )
        .credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY)
        .send(&front);
        assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
        first_read.push(started.elapsed());
    }
    println!(
        "cold start {bin}: init (spawn -> first /next) median {:.1} ms (min {:.1}, max {:.1}); \
         spawn -> first response (GET /health) median {:.1} ms; \
         first GetSecretValue through the front on a fresh instance median {:.1} ms ({runs} runs)",
        ms(median(init.clone())),
        ms(*init.iter().min().unwrap()),
        ms(*init.iter().max().unwrap()),
        ms(median(first)),
        ms(median(first_read)),
    );
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // coffer serve --backend aws on moto, and the api function behind the HTTP API front on
    // the same moto (a table and key each); the secret every measurement reads.
    std::env::set_var("COFFER_E2E_BACKEND", "aws");
    let direct = CofferServer::start();
    std::env::set_var("COFFER_E2E_BACKEND", "lambda");
    let lambda = CofferServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for server in [&direct, &lambda] {
        rt.block_on(create_string_secret(
            &server.default_client(),
            "bench/secret",
            "bench-value",
        ));
    }
    let aws = lambda.aws_resources().expect("aws").clone();

    for (what, url) in [
        ("coffer serve", direct.endpoint()),
        ("lambda", lambda.endpoint()),
    ] {
        for _ in 0..20 {
            health(&url);
        }
        let times: Vec<Duration> = (0..runs).map(|_| health(&url)).collect();
        println!(
            "GET /health via {what}: median {:.2} ms over {runs}",
            ms(median(times))
        );
    }
    for (what, server) in [("coffer serve", &direct), ("lambda", &lambda)] {
        let client = server.default_client();
        let read = || async {
            let started = Instant::now();
            let out = client
                .get_secret_value()
                .secret_id("bench/secret")
                .send()
                .await;
            out.expect("GetSecretValue");
            started.elapsed()
        };
        let times: Vec<Duration> = rt.block_on(async {
            let mut times = Vec::new();
            for i in 0..runs + 20 {
                let took = read().await;
                // The first 20 warm the connection and the data-key cache.
                if i >= 20 {
                    times.push(took);
                }
            }
            times
        });
        println!(
            "warm GetSecretValue via {what}: median {:.2} ms over {runs}",
            ms(median(times))
        );
    }
    drop(lambda);
    let cold_runs = runs.clamp(1, 10);
    let bins = std::env::var("COLD_API_BINS")
        .unwrap_or_else(|_| lambda_runtime::coffer_api_bin().display().to_string());
    for bin in bins.split(',').filter(|b| !b.is_empty()) {
        cold_starts(bin, &aws, cold_runs);
    }
}
