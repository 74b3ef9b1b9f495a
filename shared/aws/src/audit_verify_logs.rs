//! `coffer audit verify <log group>`: checks an audit log group the CloudWatch Logs sink wrote
//! ([`crate::audit_cloudwatch`], [`crate::audit_cloudwatch_digests`]). The checks are
//! `coffer_core::audit::trail`'s, the same as for the local files; this module only reads the
//! streams and checks signatures with KMS ([`KmsDigestVerifier`]).
//!
//! Place in the data path: reader side, outside the server. For every stream `<s>` of the group
//! (`DescribeLogStreams`), in name order: the digest stream `<s>/digests` if present (its chain,
//! every digest's `VerifyMac`, the heads it names), then `<s>` itself from its first event
//! (`GetLogEvents` from the head: its chain, each signed head on it, no digest naming more
//! records than it holds). A digest stream whose event stream is gone fails too. The first
//! failure is reported with the stream's name, the event's number in the stream and its
//! eventID (or a digest's digestTime).
//!
//! Permissions: `logs:DescribeLogStreams`, `logs:GetLogEvents` on the group, and
//! `kms:VerifyMac` (plus `kms:DescribeKey` for `--digest-key-id`) on the digest key.

use crate::audit_cloudwatch::Client;
use crate::audit_cloudwatch_digests::{digest_stream_name, DIGEST_STREAM_SUFFIX};
use crate::audit_digest_kms::KmsDigestVerifier;
use aws_sdk_cloudwatchlogs::error::DisplayErrorContext;
use coffer_core::audit::trail::{CheckedStream, DigestStreamCheck, EventStreamCheck};
use std::collections::BTreeSet;

/// What one intact stream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    pub stream: String,
    pub checked: CheckedStream,
    /// Digests in `<stream>/digests` (0: none, tail truncation not detectable).
    pub digests: u64,
}

/// The log group's stream names, sorted.
async fn stream_names(client: &Client, log_group: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .describe_log_streams()
            .log_group_name(log_group)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeLogStreams {log_group}: {}",
                    DisplayErrorContext(&e)
                )
            })?;
        names.extend(
            out.log_streams()
                .iter()
                .filter_map(|s| s.log_stream_name().map(str::to_string)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    names.sort();
    Ok(names)
}

/// Every message of `stream`, oldest first, handed to `each` (stops at its first error).
async fn for_each_message(
    client: &Client,
    log_group: &str,
    stream: &str,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let mut token: Option<String> = None;
    loop {
        let out = client
            .get_log_events()
            .log_group_name(log_group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("GetLogEvents {stream}: {}", DisplayErrorContext(&e)))?;
        for event in out.events() {
            each(event.message().unwrap_or_default())?;
        }
        let next = out.next_forward_token().map(str::to_string);
        if out.events().is_empty() || next.is_none() || next == token {
            return Ok(());
        }
        token = next;
    }
}

/// Checks one stream and its digest stream (if `has_digests`).
async fn verify_stream(
    client: &Client,
    verifier: Option<&KmsDigestVerifier>,
    log_group: &str,
    stream: &str,
    has_digests: bool,
) -> Result<StreamReport, String> {
    let mut checkpoints = Vec::new();
    let mut digests = 0;
    if has_digests {
        let digest_stream = digest_stream_name(stream);
        let mut check = DigestStreamCheck::new(
            format!("log group {log_group} stream {digest_stream}"),
            "event",
            stream,
        );
        let mut checked = Vec::new();
        for_each_message(client, log_group, &digest_stream, |line| {
            let digest = check
                .push(line)
                .map_err(|e| format!("log group {log_group} stream {digest_stream} {e}"))?;
            checked.push(digest);
            Ok(())
        })
        .await?;
        if let Some(verifier) = verifier {
            for digest in &checked {
                verifier.verify(digest).await?;
            }
        }
        digests = check.records();
        checkpoints = check.finish();
    }
    let at = |e: String| format!("log group {log_group} stream {stream} {e}");
    let mut check = EventStreamCheck::new(checkpoints, "event").map_err(at)?;
    for_each_message(client, log_group, stream, |line| {
        check.push(line).map_err(at)
    })
    .await?;
    Ok(StreamReport {
        stream: stream.to_string(),
        checked: check.finish().map_err(at)?,
        digests,
    })
}

/// Checks every stream of `log_group` (see the module documentation). `verifier` `None`: digest
/// chains and heads are checked, signatures are not. `Err` is the first broken link.
pub async fn verify_log_group(
    client: &Client,
    verifier: Option<&KmsDigestVerifier>,
    log_group: &str,
) -> Result<Vec<StreamReport>, String> {
    let names = stream_names(client, log_group).await?;
    let all: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut reports = Vec::new();
    for name in &names {
        if let Some(base) = name.strip_suffix(DIGEST_STREAM_SUFFIX) {
            if !all.contains(base) {
                return Err(format!(
                    "log group {log_group} stream {name} signs stream {base}, which is not in \
                     the log group: the stream was deleted"
                ));
            }
            continue;
        }
        let has_digests = all.contains(digest_stream_name(name).as_str());
        reports.push(verify_stream(client, verifier, log_group, name, has_digests).await?);
    }
    Ok(reports)
}
