//! The log lines of one call: every line a call writes, from deep inside the service included,
//! carries that call's request id (the `call` span of shared/wire/src/router.rs), in the text
//! and the JSON log formats, so an operator who has the `x-amzn-RequestId` of a failed call
//! finds its whole story with one grep.

use coffer_e2e::*;
use serde_json::json;

/// The message the service logs, from inside the call, when a stored envelope does not parse.
const INNER_FAILURE: &str = "stored envelope is malformed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_line_from_inside_a_failing_call_carries_its_request_id() {
    for format in ["text", "json"] {
        let Some(mut server) =
            CofferServer::start_local(ServerOptions::default().args(&["--log-format", format]))
        else {
            return;
        };
        let client = server.default_client();
        let name = unique_name("call-logs");
        let (arn, _) = create_string_secret(&client, &name, "value").await;
        // Corrupt the stored envelope behind the server's back (SQLite in WAL mode takes a
        // second writer), so the next read fails inside the service.
        let db = rusqlite::Connection::open(server.data_dir().join("coffer.db")).expect("open db");
        let changed = db
            .execute(
                "UPDATE secret_values SET envelope = X'00' WHERE arn = ?1",
                [&arn],
            )
            .expect("corrupt the envelope");
        assert_eq!(changed, 1, "one version to corrupt");
        drop(db);

        let response = server.raw_call("GetSecretValue", &json!({ "SecretId": name }));
        assert_eq!(
            response.error_code().as_deref(),
            Some("DecryptionFailure"),
            "{format}: a corrupt envelope is a DecryptionFailure: {}",
            String::from_utf8_lossy(&response.body)
        );
        let request_id = response
            .header("x-amzn-requestid")
            .expect("x-amzn-RequestId")
            .to_string();
        // A second failing call, so the line has to name the right one.
        let other = server.raw_call("GetSecretValue", &json!({ "SecretId": name }));
        let other_id = other.header("x-amzn-requestid").expect("request id");
        assert_ne!(other_id, request_id);

        let status = tokio::task::block_in_place(|| server.sigterm_and_wait());
        assert!(status.success(), "{format}: server exit: {status:?}");
        let log = server.log_text();
        let inner: Vec<&str> = log.lines().filter(|l| l.contains(INNER_FAILURE)).collect();
        assert_eq!(
            inner.len(),
            2,
            "{format}: one \"{INNER_FAILURE}\" line per failing call:\n{log}"
        );
        let line = inner
            .iter()
            .find(|l| l.contains(&request_id))
            .unwrap_or_else(|| {
                panic!(
                    "{format}: no \"{INNER_FAILURE}\" line carries request id {request_id}:\n{log}"
                )
            });
        assert!(
            line.contains("GetSecretValue"),
            "{format}: the line names the operation: {line}"
        );
        if format == "json" {
            let parsed: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
            assert_eq!(
                parsed["span"]["request_id"], request_id,
                "{format}: the call span's request id: {line}"
            );
            assert_eq!(parsed["span"]["operation"], "GetSecretValue", "{line}");
        }
        // The router's closing line of the same call carries it too, once.
        let closing: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&request_id) && l.contains("failed"))
            .collect();
        assert_eq!(
            closing.len(),
            1,
            "{format}: one closing \"failed\" line for the call:\n{log}"
        );
    }
}
