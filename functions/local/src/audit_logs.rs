//! `coffer audit verify <log group>` (the `aws` build): the AWS configuration of the command
//! line (`--endpoint-url`, `--region`, credentials from the environment as the AWS CLI takes
//! them), then `coffer_aws::audit_verify_logs` does the reading and the checks (the same
//! `coffer_core::audit::trail` checks as for the local files) and this prints the outcome.

use crate::audit_cli::LogGroupTarget;
use crate::server::BoxError;
use coffer_aws::audit_digest_kms::KmsDigestVerifier;
use coffer_aws::audit_verify_logs::verify_log_group;

pub async fn verify(target: LogGroupTarget) -> Result<(), BoxError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = &target.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &target.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let logs = coffer_aws::audit_cloudwatch::Client::new(&sdk);
    let verifier = if target.skip_signatures {
        None
    } else {
        Some(
            KmsDigestVerifier::new(
                coffer_aws::audit_digest_kms::Client::new(&sdk),
                &target.digest_key_ids,
            )
            .await
            .map_err(|e| format!("--digest-key-id: {e}"))?,
        )
    };
    let reports = verify_log_group(&logs, verifier.as_ref(), &target.log_group)
        .await
        .map_err(|e| format!("the audit trail is NOT intact: {e}"))?;
    println!(
        "coffer audit verify: the audit trail is intact: log group {}, {} streams",
        target.log_group,
        reports.len()
    );
    for r in &reports {
        println!(
            "  stream {}: {} records, chain intact, head {}{}; {} digests, {} of {} records \
             covered by a signed digest",
            r.stream,
            r.checked.records,
            r.checked.head,
            r.checked
                .last_event_time
                .as_ref()
                .map(|t| format!(", last event {t}"))
                .unwrap_or_default(),
            r.digests,
            r.checked.covered,
            r.checked.records
        );
    }
    println!(
        "  signatures: {}",
        match &verifier {
            None => "NOT checked (--skip-signatures)",
            Some(v) if v.pins_keys() => "valid (KMS VerifyMac), under the --digest-key-id keys",
            Some(_) => {
                "valid (KMS VerifyMac) under the key each digest names; pass --digest-key-id to \
                 pin the key"
            }
        }
    );
    Ok(())
}
