//! `coffer audit verify` and `coffer audit tail`: the reader's side of the audit trail the
//! JSON-lines sink writes (`<data-dir>/audit/events.jsonl` and `digests.jsonl`; formats in
//! `coffer_core::audit::chain` and `::digest`, user documentation in docs/audit.md).
//!
//! `verify` checks, streaming, in this order: the digest stream's own chain; every digest's
//! HMAC under the keyring key its `signingKeyArn` names; the event stream's chain; that each
//! digest's head (`streamRecordCount`, `streamHeadHash`) is on that chain; and that no digest
//! names more records than the stream holds (records cut from the end). The first failure is
//! reported with its file, line and eventID, and the command exits non-zero.

use crate::config::{AuditAction, AuditArgs};
use crate::server::BoxError;
use coffer_core::audit::digest::{DigestKey, SIGNING_KEY_FIELD};
use coffer_core::audit::trail::{bad_signature, Checkpoint, DigestStreamCheck, EventStreamCheck};
use coffer_embedded::audit_log::{DIGESTS_FILE, EVENTS_FILE};
use coffer_embedded::keyring::{FileKeyring, KEYRING_FILE_NAME};
use coffer_embedded::{OsRandom, SystemClock};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub async fn run(args: AuditArgs) -> Result<(), BoxError> {
    match args.action {
        AuditAction::Verify {
            path,
            log_group,
            endpoint_url,
            region,
            digest_key_ids,
            data_dir,
            skip_signatures,
        } => match (path, log_group) {
            (Some(path), None) if path.exists() => {
                verify(&path, data_dir.as_deref(), skip_signatures)
            }
            (path, group) => {
                let group = group
                    .or_else(|| path.map(|p| p.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                let target = LogGroupTarget {
                    log_group: group,
                    endpoint_url,
                    region,
                    digest_key_ids,
                    skip_signatures,
                };
                verify_log_group(target).await
            }
        },
        AuditAction::Tail {
            data_dir,
            file,
            lines,
            follow,
        } => {
            let path = file.unwrap_or_else(|| data_dir.join("audit").join(EVENTS_FILE));
            tail(&path, lines, follow).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// verify

/// `coffer audit verify <log group>`: what to read and how to check signatures (read by the
/// `aws` build only).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct LogGroupTarget {
    pub log_group: String,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub digest_key_ids: Vec<String>,
    pub skip_signatures: bool,
}

#[cfg(feature = "aws")]
async fn verify_log_group(target: LogGroupTarget) -> Result<(), BoxError> {
    crate::audit_logs::verify(target).await
}

#[cfg(not(feature = "aws"))]
async fn verify_log_group(target: LogGroupTarget) -> Result<(), BoxError> {
    Err(format!(
        "{}: no such file or directory; checking a CloudWatch Logs group needs the `aws` build \
         (cargo build --release --features aws)",
        target.log_group
    )
    .into())
}

/// The files a `verify` argument names.
struct Trail {
    events: PathBuf,
    digests: Option<PathBuf>,
    /// The directory the files are in.
    dir: PathBuf,
}

fn locate(path: &Path) -> Result<Trail, BoxError> {
    let (dir, events) = if path.is_dir() {
        let dir = if path.join("audit").join(EVENTS_FILE).is_file() {
            path.join("audit")
        } else {
            path.to_path_buf()
        };
        let events = dir.join(EVENTS_FILE);
        (dir, events)
    } else if path.is_file() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let events = if path.file_name().is_some_and(|n| n == DIGESTS_FILE) {
            dir.join(EVENTS_FILE)
        } else {
            path.to_path_buf()
        };
        (dir, events)
    } else {
        return Err(format!("{}: no such file or directory", path.display()).into());
    };
    if !events.is_file() {
        return Err(format!("{}: no audit events file", events.display()).into());
    }
    let digests = Some(dir.join(DIGESTS_FILE)).filter(|d| d.is_file() && *d != events);
    Ok(Trail {
        events,
        digests,
        dir,
    })
}

/// Reads `path` line by line (bytes, so a changed byte that is not UTF-8 is reported as a
/// broken record rather than an I/O error), calling `each(line_number, line)`.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(u64, &str) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        each(number, &String::from_utf8_lossy(&buf))?;
    }
}

fn broken(path: &Path, detail: impl std::fmt::Display) -> BoxError {
    not_intact(format!("{} {detail}", path.display()))
}

/// For details that name their place themselves (a digest's `at`).
fn not_intact(detail: impl std::fmt::Display) -> BoxError {
    format!("the audit trail is NOT intact: {detail}").into()
}

fn open_keyring(dir: &Path) -> Result<FileKeyring, BoxError> {
    FileKeyring::open(dir, Arc::new(OsRandom), Arc::new(SystemClock))
        .map_err(|e| format!("cannot open the keyring to check digest signatures: {e}").into())
}

/// Checks the digest stream's chain and signatures; returns the heads it names for `stream`
/// and how many digests it holds.
fn check_digests(
    path: &Path,
    stream: &str,
    keyring: Option<&FileKeyring>,
) -> Result<(Vec<Checkpoint>, u64), BoxError> {
    let mut check = DigestStreamCheck::new(path.display().to_string(), "line", stream);
    let mut keys: BTreeMap<String, DigestKey> = BTreeMap::new();
    for_each_line(path, |_, line| {
        let digest = check.push(line).map_err(|e| broken(path, e))?;
        let Some(keyring) = keyring else {
            return Ok(());
        };
        let arn = digest
            .record
            .get(SIGNING_KEY_FIELD)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                not_intact(format!("{}: the digest names no signingKeyArn", digest.at))
            })?;
        if !keys.contains_key(arn) {
            let key = keyring.audit_digest_key_by_arn(arn).map_err(|e| {
                not_intact(format!("{}: cannot get the signing key: {e}", digest.at))
            })?;
            keys.insert(arn.to_string(), key);
        }
        if !keys[arn].verify(&digest.record) {
            return Err(not_intact(bad_signature(&digest, arn)));
        }
        Ok(())
    })?;
    let total = check.records();
    Ok((check.finish(), total))
}

fn verify(path: &Path, data_dir: Option<&Path>, skip_signatures: bool) -> Result<(), BoxError> {
    let trail = locate(path)?;
    let stream_name = trail
        .events
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(EVENTS_FILE)
        .to_string();

    // Digests first: their heads are the checkpoints the event stream must pass through.
    let mut digest_report =
        String::from("no digests.jsonl beside it: tail truncation cannot be detected");
    let mut checkpoints = Vec::new();
    if let Some(digests_path) = &trail.digests {
        let keyring_dir = data_dir.map(Path::to_path_buf).or_else(|| {
            trail
                .dir
                .parent()
                .filter(|p| p.join(KEYRING_FILE_NAME).is_file())
                .map(Path::to_path_buf)
        });
        let keyring = match (skip_signatures, keyring_dir) {
            (true, _) => None,
            (false, Some(dir)) if dir.join(KEYRING_FILE_NAME).is_file() => {
                Some(open_keyring(&dir)?)
            }
            (false, _) => {
                return Err(format!(
                    "cannot check the signatures of {}: no keyring.json found; pass --data-dir \
                     <the data directory of the server that wrote it>, or --skip-signatures",
                    digests_path.display()
                )
                .into())
            }
        };
        let (named, total) = check_digests(digests_path, &stream_name, keyring.as_ref())?;
        digest_report = format!(
            "{}: {total} digests, chain intact, {} ({} of them name {stream_name})",
            digests_path.display(),
            if keyring.is_some() {
                "signatures valid"
            } else {
                "signatures NOT checked (--skip-signatures)"
            },
            named.len()
        );
        checkpoints = named;
    }

    // The event stream, checking each digest's head on the way.
    let mut check =
        EventStreamCheck::new(checkpoints, "line").map_err(|e| broken(&trail.events, e))?;
    for_each_line(&trail.events, |_, line| {
        check.push(line).map_err(|e| broken(&trail.events, e))
    })?;
    let summary = check.finish().map_err(|e| broken(&trail.events, e))?;
    println!("coffer audit verify: the audit trail is intact");
    println!(
        "  events  {}: {} records, chain intact, head {}{}",
        trail.events.display(),
        summary.records,
        summary.head,
        summary
            .last_event_time
            .map(|t| format!(", last event {t}"))
            .unwrap_or_default()
    );
    println!("  digests {digest_report}");
    if trail.digests.is_some() {
        println!(
            "  {} of {} records are covered by a signed digest",
            summary.covered, summary.records
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// tail

/// One event as a line: time, region, event name, caller, resources, outcome.
fn render(line: &str) -> String {
    let Ok(record) = serde_json::from_str::<Value>(line) else {
        return format!("<unreadable record: {} bytes>", line.len());
    };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let identity = record.get("userIdentity").cloned().unwrap_or(Value::Null);
    let caller = match identity.get("invokedBy").and_then(Value::as_str) {
        Some(service) => service.to_string(),
        None => match identity.get("accessKeyId").and_then(Value::as_str) {
            Some(key) => format!("{} ({key})", s(&identity, "arn")),
            None => s(&identity, "arn"),
        },
    };
    let resources: Vec<String> = record
        .get("resources")
        .and_then(Value::as_array)
        .map(|r| r.iter().map(|r| s(r, "ARN")).collect())
        .unwrap_or_default();
    let resources = if resources.is_empty() {
        "-".to_string()
    } else {
        resources.join(",")
    };
    let outcome = match record.get("errorCode").and_then(Value::as_str) {
        Some(code) => code.to_string(),
        None => "OK".to_string(),
    };
    format!(
        "{}  {:<10}  {:<26}  {}  {}  {}",
        s(&record, "eventTime"),
        s(&record, "awsRegion"),
        s(&record, "eventName"),
        caller,
        resources,
        outcome
    )
}

async fn tail(path: &Path, lines: usize, follow: bool) -> Result<(), BoxError> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut last: VecDeque<String> = VecDeque::with_capacity(lines.min(10_000));
    let mut offset = 0u64;
    {
        let mut reader = BufReader::new(&mut file);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            offset += n as u64;
            if lines > 0 {
                if last.len() == lines {
                    last.pop_front();
                }
                last.push_back(String::from_utf8_lossy(&buf[..n - 1]).into_owned());
            }
        }
    }
    for line in &last {
        println!("{}", render(line));
    }
    if !follow {
        return Ok(());
    }
    let mut pending = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < offset {
            // Replaced or cut (moved aside after a torn line): start over on the new file.
            file = File::open(path)?;
            offset = 0;
            pending.clear();
        }
        if len == offset {
            continue;
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut chunk = Vec::new();
        (&mut file).take(len - offset).read_to_end(&mut chunk)?;
        offset += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            println!("{}", render(&String::from_utf8_lossy(&line[..end])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_api_call_and_service_event() {
        let call = serde_json::json!({
            "eventTime": "2024-05-01T12:00:00Z", "awsRegion": "us-east-1",
            "eventName": "GetSecretValue",
            "userIdentity": {"arn": "arn:aws:iam::111122223333:root", "accessKeyId": "AKIA1"},
            "resources": [{"ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf"}],
            "errorCode": "ResourceNotFoundException"
        });
        let text = render(&call.to_string());
        assert!(
            text.starts_with("2024-05-01T12:00:00Z  us-east-1"),
            "{text}"
        );
        assert!(text.contains("GetSecretValue"));
        assert!(text.contains("arn:aws:iam::111122223333:root (AKIA1)"));
        assert!(text.contains("secret:a-AbCdEf"));
        assert!(text.ends_with("ResourceNotFoundException"));

        let service = serde_json::json!({
            "eventTime": "2024-05-01T12:00:00Z", "awsRegion": "us-east-1",
            "eventName": "StartSecretVersionDelete",
            "userIdentity": {"accountId": "1", "invokedBy": "secretsmanager.amazonaws.com"},
        });
        let text = render(&service.to_string());
        assert!(
            text.contains("secretsmanager.amazonaws.com  -  OK"),
            "{text}"
        );
        assert!(render("{broken").starts_with("<unreadable"));
    }
}
