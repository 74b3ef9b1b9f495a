//! The KMS error mapping through the real SDK, for the failures moto cannot produce (disabled
//! keys, key states, throttling, KMS 5xx, timeouts, broken answers): a canned-response HTTP
//! server speaks KMS's JSON protocol to the SDK client, so the SDK's own parsing and retries run
//! as in production. Needs no moto; always runs.

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use coffer_aws::kms::{Client, KmsKeyProvider};
use coffer_core::ids::Scope;
use coffer_core::ports::{encryption_context, KeyError, KeyProvider, MetricsSink};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// What the stub answers to every request.
#[derive(Clone)]
enum Answer {
    /// HTTP status and a JSON body.
    Json(u16, String),
    /// Reads the request and never answers.
    Hang,
}

fn kms_error(status: u16, code: &str) -> Answer {
    Answer::Json(
        status,
        format!(r#"{{"__type":"{code}","message":"canned {code}"}}"#),
    )
}

struct Stub {
    url: String,
    hits: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
}

/// Reads one HTTP/1.1 request (headers, then a Content-Length body); returns its X-Amz-Target.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    header("x-amz-target")
}

async fn stub(answer: Answer) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(Mutex::new(Vec::new()));
    let (h, t) = (hits.clone(), targets.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (answer, hits, targets) = (answer.clone(), h.clone(), t.clone());
            tokio::spawn(async move {
                let Some(target) = read_request(&mut socket).await else {
                    return;
                };
                hits.fetch_add(1, Ordering::SeqCst);
                targets.lock().unwrap().push(target);
                match answer {
                    Answer::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
                    Answer::Json(status, body) => {
                        let response = format!(
                            "HTTP/1.1 {status} Canned\r\nContent-Type: application/x-amz-json-1.1\r\n\
                             Content-Length: {}\r\nx-amzn-RequestId: canned\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                }
            });
        }
    });
    Stub { url, hits, targets }
}

#[derive(Default)]
struct Counters(Mutex<Vec<(String, u64)>>);

impl Counters {
    fn get(&self, metric: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == metric)
            .map(|(_, n)| n)
            .sum()
    }
}

impl MetricsSink for Counters {
    fn record_call(&self, _: &str, _: Option<&str>, _: f64) {}
    fn increment(&self, metric: &str, by: u64) {
        self.0.lock().unwrap().push((metric.to_string(), by));
    }
}

/// A provider on `url` with 3 attempts, millisecond backoff and a 300 ms attempt timeout.
fn provider(url: &str) -> (KmsKeyProvider, Arc<Counters>) {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "stub"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(300))
                .build(),
        )
        .build();
    let metrics = Arc::new(Counters::default());
    let provider = KmsKeyProvider::new(
        Client::from_conf(config),
        KEY_ARN.to_string(),
        metrics.clone(),
    );
    (provider, metrics)
}

fn scope() -> Scope {
    Scope::new("us-east-1", "123456789012")
}

fn ctx() -> coffer_core::ports::EncryptionContext {
    encryption_context(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf",
        "v1",
    )
}

/// Runs GenerateDataKey, Decrypt and resolve against a stub giving `answer`; returns their
/// errors and the number of HTTP requests the stub saw.
async fn all_three(answer: Answer) -> (Vec<KeyError>, usize, Arc<Counters>, u64) {
    let stub = stub(answer).await;
    let (kms, metrics) = provider(&stub.url);
    let errors = vec![
        kms.generate_data_key(&scope(), None, &ctx())
            .await
            .map(|k| k.key_arn)
            .unwrap_err(),
        kms.decrypt_data_key(&scope(), &[1u8; 64], &ctx())
            .await
            .map(|_| ())
            .unwrap_err(),
        kms.resolve(&scope(), None).await.unwrap_err(),
    ];
    (
        errors,
        stub.hits.load(Ordering::SeqCst),
        metrics,
        kms.calls(),
    )
}

#[tokio::test]
async fn kms_disabled_and_invalid_state_are_disabled() {
    for code in ["DisabledException", "KMSInvalidStateException"] {
        let (errors, hits, metrics, calls) = all_three(kms_error(400, code)).await;
        for e in &errors {
            assert!(matches!(e, KeyError::Disabled(_)), "{code}: {e:?}");
        }
        assert_eq!(hits, 3, "{code}: not retried");
        assert_eq!(
            (calls, metrics.get("KmsCalls"), metrics.get("KmsErrors")),
            (3, 3, 3)
        );
    }
}

#[tokio::test]
async fn kms_access_denied_is_access_denied() {
    let (errors, _, _, _) = all_three(kms_error(400, "AccessDeniedException")).await;
    for e in &errors {
        assert!(matches!(e, KeyError::AccessDenied(_)), "{e:?}");
    }
}

#[tokio::test]
async fn kms_not_found_and_invalid_arn_are_not_found() {
    for code in ["NotFoundException", "InvalidArnException"] {
        let (errors, _, _, _) = all_three(kms_error(400, code)).await;
        for e in &errors {
            assert!(matches!(e, KeyError::NotFound(_)), "{code}: {e:?}");
        }
    }
}

#[tokio::test]
async fn kms_ciphertext_and_key_usage_errors_are_invalid_ciphertext() {
    for code in [
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "InvalidKeyUsageException",
    ] {
        let (errors, _, _, _) = all_three(kms_error(400, code)).await;
        assert_eq!(errors, vec![KeyError::InvalidCiphertext; 3], "{code}");
    }
}

#[tokio::test]
async fn kms_throttling_is_retried_by_the_sdk_then_throttled() {
    for code in ["ThrottlingException", "LimitExceededException"] {
        let stub = stub(kms_error(400, code)).await;
        let (kms, metrics) = provider(&stub.url);
        let got = kms.generate_data_key(&scope(), None, &ctx()).await;
        assert_eq!(
            got.map(|k| k.key_arn).err(),
            Some(KeyError::Throttled),
            "{code}"
        );
        let hits = stub.hits.load(Ordering::SeqCst);
        if code == "ThrottlingException" {
            // The SDK's standard strategy retries throttling: three attempts, one call for us.
            assert_eq!(hits, 3, "{code}");
        }
        assert_eq!(kms.calls(), 1);
        assert_eq!(metrics.get("KmsErrors"), 1);
    }
}

#[tokio::test]
async fn kms_internal_and_unavailable_errors_are_retried_then_unavailable() {
    for (status, code) in [
        (500, "KMSInternalException"),
        (500, "KeyUnavailableException"),
        (503, "DependencyTimeoutException"),
        (400, "UnrecognizedClientException"),
        (400, "ValidationException"),
    ] {
        let stub = stub(kms_error(status, code)).await;
        let (kms, _) = provider(&stub.url);
        let got = kms
            .decrypt_data_key(&scope(), &[1u8; 64], &ctx())
            .await
            .map(|_| ());
        match got {
            Err(KeyError::Unavailable(cause)) => {
                assert!(cause.contains(code), "{code}: {cause}");
                assert!(cause.contains("Decrypt"), "{code}: {cause}");
            }
            other => panic!("{code}: {other:?}"),
        }
        if status >= 500 {
            assert_eq!(
                stub.hits.load(Ordering::SeqCst),
                3,
                "{code}: 5xx is retried"
            );
        }
    }
}

#[tokio::test]
async fn kms_timeout_is_unavailable() {
    let stub = stub(Answer::Hang).await;
    let (kms, metrics) = provider(&stub.url);
    let got = kms.generate_data_key(&scope(), None, &ctx()).await;
    assert!(
        matches!(
            got.as_ref().map(|k| &k.key_arn),
            Err(KeyError::Unavailable(_))
        ),
        "{:?}",
        got.map(|k| k.key_arn)
    );
    assert_eq!(metrics.get("KmsErrors"), 1);
}

#[tokio::test]
async fn kms_unreachable_is_unavailable() {
    // A port that was just free: nothing listens there.
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (kms, _) = provider(&url);
    let got = kms.resolve(&scope(), None).await;
    assert!(matches!(got, Err(KeyError::Unavailable(_))), "{got:?}");
}

#[tokio::test]
async fn kms_data_key_of_wrong_length_is_unavailable() {
    // 16 bytes of plaintext (an AES_128 key) where AES_256 was asked for.
    let body = format!(
        r#"{{"CiphertextBlob":"AQIDBA==","Plaintext":"AAAAAAAAAAAAAAAAAAAAAA==","KeyId":"{KEY_ARN}"}}"#
    );
    let stub = stub(Answer::Json(200, body)).await;
    let (kms, _) = provider(&stub.url);
    let got = kms.generate_data_key(&scope(), None, &ctx()).await;
    match got.map(|k| k.key_arn) {
        Err(KeyError::Unavailable(cause)) => assert!(cause.contains("16 bytes"), "{cause}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn resolve_checks_state_then_key_access() {
    // DescribeKey answers an enabled symmetric key; the stub answers every request alike, so the
    // second request (the key-access GenerateDataKey) fails to parse as a data key: what matters
    // is that resolve made it, with the key's ARN.
    let body = format!(
        r#"{{"KeyMetadata":{{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Arn":"{KEY_ARN}","KeyState":"Enabled","Enabled":true,"KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT"}}}}"#
    );
    let stub = stub(Answer::Json(200, body)).await;
    let (kms, _) = provider(&stub.url);
    let got = kms.resolve(&scope(), Some("alias/some-key")).await;
    assert!(matches!(got, Err(KeyError::Unavailable(_))), "{got:?}");
    assert_eq!(
        *stub.targets.lock().unwrap(),
        vec![
            "trentservice.describekey".to_string(),
            "trentservice.generatedatakey".to_string()
        ]
    );
    assert_eq!(kms.calls(), 2);
}
