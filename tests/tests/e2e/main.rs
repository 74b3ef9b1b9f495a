//! The end-to-end suite: one test binary (`cargo test -p coffer-e2e --test e2e`), one module per
//! area. Every test drives a running Coffer the way a user does (the official
//! `aws-sdk-secretsmanager` client, the AWS CLI, hand-signed requests), through the harness in
//! `tests/src` (`coffer_e2e`). One binary rather than one per file: the harness and the AWS SDK
//! are compiled and linked once.
//!
//! Deployment shapes: the embedded pass runs every test; the AWS-backend and Lambda passes run
//! the tests listed in `tests/deployment-subset.txt` (wiring, AWS errors, IAM mode, cold start:
//! what differs there), see tests/run-all.sh. Filter by module as usual:
//! `cargo test -p coffer-e2e --test e2e rotation::`.

mod access_control;
mod at_rest;
mod audit_trail;
mod aws_backend;
mod aws_fidelity;
mod batch_get;
mod call_logs;
mod concurrency;
mod crash;
mod create_describe;
mod crypto_faults;
mod data_keys_at_rest;
mod delete_restore;
mod fail_closed;
mod get_put_value;
mod iam_login;
mod lambda_api;
mod lambda_rotation;
mod list_secrets;
mod regions_and_replication;
mod resource_policies;
mod rotation;
mod rotation_end_to_end;
mod rotators;
mod server_limits;
mod sts;
mod tags_and_passwords;
mod update_and_stages;
mod wire_and_auth;
