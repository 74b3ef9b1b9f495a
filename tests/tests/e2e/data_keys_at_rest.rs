//! No plaintext data key reaches the SQLite files. Data keys are only ever stored wrapped under a
//! keyring master key, so the test stops the server, unwraps every stored data key itself with
//! the keyring adapter (the same code the server runs), and scans every file of the data
//! directory except the keyring for those 32 plaintext bytes.

use coffer_core::crypto;
use coffer_core::ids::Scope;
use coffer_core::ports::{encryption_context, KeyProvider};
use coffer_e2e::*;
use coffer_embedded::{FileKeyring, OsRandom, SystemClock};
use std::path::Path;
use std::sync::Arc;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn data_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read data dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(data_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_data_keys_never_appear_in_plaintext_in_data_files() {
    let Some(mut server) = CofferServer::start_local(ServerOptions::default()) else {
        return;
    };
    let client = server.default_client();
    let name = unique_name("data-keys");
    create_string_secret(&client, &name, "first value").await;
    for i in 0..3 {
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(format!("value {i}"))
            .send()
            .await
            .expect("put");
    }
    let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
    assert!(status.success(), "server exit: {status:?}");

    let data_dir = server.data_dir();
    let db = rusqlite::Connection::open(data_dir.join("coffer.db")).expect("open db");
    let mut stmt = db
        .prepare("SELECT arn, version_id, envelope FROM secret_values")
        .expect("prepare");
    let rows: Vec<(String, String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert!(
        rows.len() >= 4,
        "expected 4 stored versions, found {}",
        rows.len()
    );

    let keyring = FileKeyring::open(&data_dir, Arc::new(OsRandom), Arc::new(SystemClock))
        .expect("open keyring");
    let mut data_keys = Vec::new();
    for (arn, version, envelope) in &rows {
        let parts: Vec<&str> = arn.split(':').collect();
        let scope = Scope::new(parts[3], parts[4]);
        let parsed = crypto::parse(envelope).expect("stored envelope parses");
        let key = keyring
            .decrypt_data_key(
                &scope,
                parsed.wrapped_key,
                &encryption_context(arn, version),
            )
            .await
            .expect("stored data key unwraps with its context");
        data_keys.push(*key);
    }
    let distinct: std::collections::HashSet<[u8; 32]> = data_keys.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        data_keys.len(),
        "a fresh data key per version"
    );

    for path in data_files(&data_dir) {
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        if file_name == "keyring.json" {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read file");
        for key in &data_keys {
            assert!(
                !contains(&bytes, key),
                "a plaintext data key was found in {}",
                path.display()
            );
        }
    }
}
