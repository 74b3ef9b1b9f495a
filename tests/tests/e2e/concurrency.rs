//! 32 tasks × 50 PutSecretValue on one secret; the checks (every acknowledged version kept,
//! exactly one AWSCURRENT, AWSPREVIOUS on the version current just before, consistent with one
//! commit order) live in the harness, [`coffer_e2e::concurrency`], shared with the two-replica
//! run of the AWS backend (`aws_backend.rs`).

use coffer_e2e::concurrency::concurrent_puts_keep_every_version_and_label_order;
use coffer_e2e::*;

const TASKS: usize = 32;
const PUTS_PER_TASK: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_secret_value_concurrent_writers_keep_every_version_and_label_order() {
    if on_moto() && !external_mode() {
        // On moto each write to a secret with N versions costs O(N) (see
        // docs/aws-backend-testing.md): one 32 × 50 run takes many minutes there, and
        // aws_backend.rs runs it through two replicas with these same checks.
        skip(format_args!(
            "on the AWS backend the two-replica run in aws_backend.rs makes these checks"
        ));
        return;
    }
    let server = CofferServer::start();
    let client = server.default_client();
    let name = unique_name("concurrency");
    let (_, initial) = create_string_secret(&client, &name, "initial").await;
    let report = concurrent_puts_keep_every_version_and_label_order(
        &[client],
        &name,
        &initial,
        TASKS,
        PUTS_PER_TASK,
    )
    .await;
    eprintln!(
        "{} puts ({:.1} s of writes, {:.1} s in all), {} snapshots, {} distinct (current, previous) \
         pairs checked",
        report.puts,
        report.write_time.as_secs_f64(),
        report.total_time.as_secs_f64(),
        report.snapshots,
        report.pairs
    );
}
