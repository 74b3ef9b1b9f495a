//! Secrets at rest and in logs: a canary value never appears in the data directory (the
//! keyring and the credentials file aside), nor does any master key leave the keyring; and at
//! `RUST_LOG=trace` no log line carries the canary or the signing secret.

use std::path::{Path, PathBuf};

use aws_sdk_secretsmanager::primitives::Blob;
use base64::Engine;
use coffer_e2e::*;

/// Every byte pattern under which `secret` could be stored or logged: raw, hex, and base64
/// (standard and URL-safe) at each of the three alignments it can take inside a longer
/// base64 stream.
fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("plain".to_string(), secret.to_vec()),
        ("hex".to_string(), hex::encode(secret).into_bytes()),
        ("HEX".to_string(), hex::encode_upper(secret).into_bytes()),
    ];
    for skip in 0..3 {
        for (label, engine) in [
            ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
            (
                "base64url",
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ),
        ] {
            let enc = engine.encode(&secret[skip..]);
            // Drop the last group: it depends on the bytes that follow in a longer stream.
            let stable = &enc[..enc.len().saturating_sub(4)];
            out.push((format!("{label}+{skip}"), stable.as_bytes().to_vec()));
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Decoded key material found in keyring.json: string values that decode (base64 or hex) to
/// exactly 32 bytes, i.e. AES-256 keys.
fn keyring_key_material(keyring: &Path) -> Vec<Vec<u8>> {
    fn walk(v: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
        match v {
            serde_json::Value::String(s) => {
                for engine in [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::URL_SAFE,
                    &base64::engine::general_purpose::STANDARD_NO_PAD,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    if let Ok(bytes) = engine.decode(s) {
                        if bytes.len() == 32 {
                            out.push(bytes);
                        }
                    }
                }
                if s.len() == 64 {
                    if let Ok(bytes) = hex::decode(s) {
                        out.push(bytes);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(keyring).expect("read keyring.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("keyring.json is JSON");
    let mut out = Vec::new();
    walk(&json, &mut out);
    out.sort();
    out.dedup();
    out
}

fn scan_data_dir(data_dir: &Path, canaries: &[Vec<u8>], stage: &str) {
    let files = files_under(data_dir);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "coffer.db"),
        "{stage}: no coffer.db in the data dir: {names:?}"
    );
    let keyring = data_dir.join("keyring.json");
    assert!(keyring.exists(), "{stage}: no keyring.json");
    let keys = keyring_key_material(&keyring);
    assert!(
        !keys.is_empty(),
        "{stage}: found no 32-byte key material in keyring.json to look for"
    );
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "keyring.json" || name == "credentials" {
            continue;
        }
        let bytes = std::fs::read(path).expect("read data file");
        for canary in canaries {
            for (label, pattern) in encodings(canary) {
                assert!(
                    !find(&bytes, &pattern),
                    "{stage}: canary ({label}) found in {}",
                    path.display()
                );
            }
        }
        for key in &keys {
            for (label, pattern) in encodings(key) {
                assert!(
                    !find(&bytes, &pattern),
                    "{stage}: keyring key material ({label}) found in {}",
                    path.display()
                );
            }
        }
    }
}

#[cfg(unix)]
fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "{} is readable by others: {mode:o}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_and_keys_never_reach_data_files() {
    let Some(mut server) = CofferServer::start_local(ServerOptions::default()) else {
        return;
    };
    let client = server.default_client();
    let canary1 = format!("CANARYone{}", random_alnum(40));
    let canary2 = format!("CANARYtwo{}", random_alnum(40));
    let canary3 = format!("CANARYthree{}", random_alnum(40));
    let name = unique_name("at-rest");
    create_string_secret(&client, &name, &canary1).await;
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_binary(Blob::new(canary2.as_bytes().to_vec()))
        .send()
        .await
        .expect("put binary");
    client
        .update_secret()
        .secret_id(&name)
        .secret_string(format!("{{\"password\":\"{canary3}\"}}"))
        .send()
        .await
        .expect("update");
    let canaries: Vec<Vec<u8>> = [&canary1, &canary2, &canary3]
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .collect();

    // Crash state first: the WAL and shared-memory files are still there.
    tokio::task::block_in_place(|| server.kill9());
    scan_data_dir(&server.data_dir(), &canaries, "after kill -9");

    // The values did persist (so the scan looked at real data), then a clean stop.
    tokio::task::block_in_place(|| server.restart());
    let got = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("get previous");
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(canary2.as_bytes().to_vec())
    );
    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success());
    scan_data_dir(&server.data_dir(), &canaries, "after SIGTERM");

    #[cfg(unix)]
    assert_mode_0600(&server.data_dir().join("keyring.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_root_credentials_file_is_private() {
    // Without the root credential variables the server writes its own, mode 0600.
    if external_mode() {
        skip(format_args!("needs a locally spawned coffer"));
        return;
    }
    if aws_mode() {
        // Generated credentials are an embedded-backend feature: `--backend aws` requires them
        // from the environment (replicas must share them).
        skip(format_args!(
            "generated root credentials exist on the embedded backend only"
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = std::process::Command::new(coffer_bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("COFFER_ROOT_ACCESS_KEY_ID")
        .env_remove("COFFER_ROOT_SECRET_ACCESS_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn coffer");
    let creds = dir.path().join("credentials");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !creds.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Give the writer a moment to finish the file.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&creds).expect("credentials file written");
    assert!(
        text.contains("[default]"),
        "shared-credentials format: {text}"
    );
    assert!(text.contains("aws_access_key_id"));
    assert!(text.contains("aws_secret_access_key"));
    #[cfg(unix)]
    assert_mode_0600(&creds);
}

async fn exercise_with_canary(client: &aws_sdk_secretsmanager::Client, canary: &str) {
    let name = unique_name("log-canary");
    let tok = token();
    client
        .create_secret()
        .name(&name)
        .client_request_token(&tok)
        .secret_string(canary)
        .send()
        .await
        .expect("create");
    client
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("get");
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_binary(Blob::new(format!("bin-{canary}").into_bytes()))
        .send()
        .await
        .expect("put binary");
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(format!("{{\"password\":\"{canary}\"}}"))
        .send()
        .await
        .expect("put json");
    client
        .update_secret()
        .secret_id(&name)
        .secret_string(format!("updated-{canary}"))
        .send()
        .await
        .expect("update");
    client
        .batch_get_secret_value()
        .secret_id_list(&name)
        .send()
        .await
        .expect("batch get");
    client
        .batch_get_secret_value()
        .filters(filter("name", &[&name]))
        .send()
        .await
        .expect("batch get by filter");
    client.list_secrets().send().await.expect("list");
    client
        .list_secret_version_ids()
        .secret_id(&name)
        .include_deprecated(true)
        .send()
        .await
        .expect("list versions");
    client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .expect("get previous");
    // A failing call carrying the value: same token, different value.
    let _ = client
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&tok)
        .secret_string(format!("conflict-{canary}"))
        .send()
        .await
        .expect_err("same token, different value is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_never_appears_in_trace_logs() {
    for format in ["text", "json"] {
        // Any backend: on the AWS one the log also carries the SDK's own trace output.
        let Some(mut server) = CofferServer::start_process(
            ServerOptions::default()
                .env("RUST_LOG", "trace")
                .args(&["--log-format", format]),
        ) else {
            return;
        };
        let client = server.default_client();
        let canary = format!("CANARYlog{}", random_alnum(40));
        exercise_with_canary(&client, &canary).await;
        let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
        assert!(status.success(), "{format}: exit {status}");
        let log = server.log_text();
        // The exercise makes 12 calls; each leaves at least its request line, so fewer lines
        // than that means the log was not captured and the scan below would prove nothing.
        assert!(
            log.lines().count() >= 12,
            "{format}: suspiciously little output at RUST_LOG=trace ({} lines)",
            log.lines().count()
        );
        for (label, pattern) in encodings(canary.as_bytes()) {
            assert!(
                !find(log.as_bytes(), &pattern),
                "{format}: canary ({label}) found in the log"
            );
        }
        for (label, pattern) in encodings(TEST_SECRET_ACCESS_KEY.as_bytes()) {
            assert!(
                !find(log.as_bytes(), &pattern),
                "{format}: the root secret access key ({label}) found in the log"
            );
        }
    }
}
