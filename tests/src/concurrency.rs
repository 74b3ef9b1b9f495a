//! The checks of the concurrent-writers test: N tasks × M PutSecretValue on one secret,
//! spread over one or more endpoints (replicas sharing storage), with DescribeSecret pollers.
//!
//! Afterwards every acknowledged VersionId is listed (IncludeDeprecated), exactly one version
//! holds AWSCURRENT, and AWSPREVIOUS sits on the version that was AWSCURRENT just before.
//!
//! How "just before" is checked soundly from outside: every label move is atomic, so the
//! successful puts form one commit order, each taking effect somewhere inside its own
//! request interval [sent, answered]. A consistent (current, previous) pair (C, P), seen in a
//! DescribeSecret snapshot taken while writers run or at the end, claims that P's commit
//! immediately preceded C's. That claim is refuted, with no false alarm possible, when
//! - two snapshots pair the same C with different Ps, or the same P with different Cs (each
//!   version becomes current exactly once, so "immediately before" is a bijection) — the
//!   classic lost update, where two writers both read current = X and both set previous = X;
//! - C was answered before P was sent (C committed first);
//! - some other acknowledged put Q was sent after P was answered and answered before C was
//!   sent (Q committed strictly between them).
//!
//! The final pair also has to name the last commits: no acknowledged put may have been sent
//! after the final current was answered.
//!
//! With several endpoints, writer task `i` sends to endpoint `i % n` and the pollers and readers
//! alternate too, so the order checks span replicas: their commits meet only in the shared
//! storage's conditional writes; and no endpoint may go without an acknowledged put for more
//! than half of the writers' time (one replica starving behind the other's queue of writers).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use tokio::sync::Mutex;

use crate::{list_all_versions, random_alnum, token, version_stages};

#[derive(Debug, Clone)]
struct Put {
    /// Index of the client (endpoint) it went to.
    endpoint: usize,
    version: String,
    value: String,
    sent: Instant,
    answered: Instant,
}

/// (AWSCURRENT holder, AWSPREVIOUS holder) seen in one DescribeSecret.
type Snapshot = (String, Option<String>);

/// What one run did (for the test's log line).
#[derive(Debug, Clone)]
pub struct ConcurrencyReport {
    /// Acknowledged puts.
    pub puts: usize,
    /// DescribeSecret snapshots checked (the final one included).
    pub snapshots: usize,
    /// Distinct (current, previous) pairs checked against the commit order.
    pub pairs: usize,
    /// Time the writers took.
    pub write_time: Duration,
    /// Time the whole run took (writes, checks, read-back).
    pub total_time: Duration,
    /// Per endpoint: the slowest acknowledged put (a replica that keeps losing the race for the
    /// secret shows here long before a client timeout).
    pub slowest_put: Vec<Duration>,
    /// Per endpoint: the longest time without an acknowledged put while the writers ran.
    pub longest_gap: Vec<Duration>,
}

/// (current, previous) from one DescribeSecret, after checking the snapshot is consistent.
pub fn current_and_previous(stages: &HashMap<String, Vec<String>>) -> (String, Option<String>) {
    let holders = |label: &str| -> Vec<String> {
        stages
            .iter()
            .filter(|(_, s)| s.iter().any(|l| l == label))
            .map(|(v, _)| v.clone())
            .collect()
    };
    let current = holders("AWSCURRENT");
    let previous = holders("AWSPREVIOUS");
    assert_eq!(current.len(), 1, "exactly one AWSCURRENT: {stages:?}");
    assert!(previous.len() <= 1, "at most one AWSPREVIOUS: {stages:?}");
    assert_ne!(
        previous.first(),
        current.first(),
        "AWSPREVIOUS and AWSCURRENT on one version: {stages:?}"
    );
    (current[0].clone(), previous.first().cloned())
}

/// Runs `tasks` writers × `puts_per_task` PutSecretValue on the secret `name` (whose only
/// version is `initial`), spread over `clients`, and asserts everything the module doc lists.
pub async fn concurrent_puts_keep_every_version_and_label_order(
    clients: &[Client],
    name: &str,
    initial: &str,
    tasks: usize,
    puts_per_task: usize,
) -> ConcurrencyReport {
    assert!(!clients.is_empty(), "at least one client");
    let n_endpoints = clients.len();
    let client_for = |i: usize| clients[i % n_endpoints].clone();
    let started = Instant::now();

    // The pollers pause between DescribeSecret calls: 2 ms, or on the AWS backend 50 ms and at
    // least three times what their last call took. moto serves one request at a time, and a
    // DescribeSecret of a secret with 1,000 versions costs it as much as a writer's read (up to
    // a second late in a 32 × 50 run): two pollers without that pause would take half of
    // moto's turns from the writers.
    let aws = crate::aws_mode();
    let poll_pause = move |last_call: Duration| {
        if aws {
            (last_call * 3).max(Duration::from_millis(50))
        } else {
            Duration::from_millis(2)
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots: Arc<Mutex<Vec<Snapshot>>> = Arc::new(Mutex::new(Vec::new()));
    let mut pollers = Vec::new();
    for p in 0..2 {
        let client = client_for(p);
        let name = name.to_string();
        let stop = stop.clone();
        let snapshots = snapshots.clone();
        pollers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let stages = version_stages(&client, &name).await;
                let took = asked.elapsed();
                let pair = current_and_previous(&stages);
                snapshots.lock().await.push(pair);
                tokio::time::sleep(poll_pause(took)).await;
            }
        }));
    }

    let mut writers = Vec::new();
    for task in 0..tasks {
        let client = client_for(task);
        let name = name.to_string();
        writers.push(tokio::spawn(async move {
            let mut done = Vec::with_capacity(puts_per_task);
            for i in 0..puts_per_task {
                let version = token();
                let value = format!("task{task}-put{i}-{}", random_alnum(8));
                let sent = Instant::now();
                let out = client
                    .put_secret_value()
                    .secret_id(&name)
                    .client_request_token(&version)
                    .secret_string(&value)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("task {task} put {i} failed: {e:?}"));
                let answered = Instant::now();
                assert_eq!(out.version_id(), Some(version.as_str()));
                assert_eq!(out.version_stages(), ["AWSCURRENT"]);
                done.push(Put {
                    endpoint: task % n_endpoints,
                    version,
                    value,
                    sent,
                    answered,
                });
            }
            done
        }));
    }
    let mut puts: Vec<Put> = Vec::new();
    for w in writers {
        puts.extend(w.await.expect("writer task"));
    }
    let write_time = started.elapsed();
    let slowest_put: Vec<Duration> = (0..clients.len())
        .map(|e| {
            puts.iter()
                .filter(|p| p.endpoint == e)
                .map(|p| p.answered - p.sent)
                .max()
                .unwrap_or_default()
        })
        .collect();
    let longest_gap: Vec<Duration> = (0..clients.len())
        .map(|e| {
            let mut acks: Vec<Instant> = puts
                .iter()
                .filter(|p| p.endpoint == e)
                .map(|p| p.answered)
                .collect();
            acks.sort();
            let mut last = started;
            let mut gap = Duration::ZERO;
            for a in acks {
                gap = gap.max(a - last);
                last = a;
            }
            gap
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    for p in pollers {
        p.await.expect("poller task");
    }
    assert_eq!(puts.len(), tasks * puts_per_task);
    let by_version: HashMap<&str, &Put> = puts.iter().map(|p| (p.version.as_str(), p)).collect();

    // 0. No endpoint starves. Each endpoint queues its own writers of the secret, so one
    //    that keeps losing the race for the storage's conditional write to another endpoint's
    //    queue would make no progress until the other's writers are done (observed on moto
    //    before the DynamoDB adapter's pause after a lost race): the puts still all land in the
    //    end when the run is short, so the checks below alone would not notice.
    if n_endpoints > 1 {
        for (e, gap) in longest_gap.iter().enumerate() {
            assert!(
                *gap <= write_time / 2,
                "endpoint {e} acknowledged no put for {gap:?} of the writers' {write_time:?}: \
                 it kept losing the race for the secret to the other endpoints (starvation)"
            );
        }
    }
    assert_eq!(by_version.len(), puts.len(), "VersionIds are unique");

    let client = &clients[0];
    // 1. Every acknowledged version is listed, and nothing else appeared.
    let listed = list_all_versions(client, name, true).await;
    let listed_ids: HashSet<String> = listed
        .iter()
        .map(|v| v.version_id().expect("VersionId").to_string())
        .collect();
    assert_eq!(listed_ids.len(), listed.len(), "a version listed twice");
    for p in &puts {
        assert!(
            listed_ids.contains(&p.version),
            "acknowledged version {} is missing",
            p.version
        );
    }
    assert!(listed_ids.contains(initial));
    assert_eq!(
        listed_ids.len(),
        puts.len() + 1,
        "unexpected extra versions"
    );

    // 2. Exactly one AWSCURRENT and one AWSPREVIOUS in the listing, agreeing with Describe
    //    (asked of every endpoint).
    let with = |label: &str| -> Vec<String> {
        listed
            .iter()
            .filter(|v| v.version_stages().iter().any(|s| s == label))
            .map(|v| v.version_id().unwrap().to_string())
            .collect()
    };
    let current = with("AWSCURRENT");
    let previous = with("AWSPREVIOUS");
    assert_eq!(current.len(), 1, "exactly one AWSCURRENT: {current:?}");
    assert_eq!(previous.len(), 1, "exactly one AWSPREVIOUS: {previous:?}");
    let (final_c, final_p) = current_and_previous(&version_stages(client, name).await);
    assert_eq!(final_c, current[0]);
    assert_eq!(final_p.as_deref(), Some(previous[0].as_str()));
    for other in &clients[1..] {
        assert_eq!(
            current_and_previous(&version_stages(other, name).await),
            (final_c.clone(), final_p.clone()),
            "endpoints disagree about the final labels"
        );
    }
    let final_p = final_p.unwrap();

    // 3. The final current is the last commit.
    let c = by_version
        .get(final_c.as_str())
        .expect("the final AWSCURRENT is an acknowledged put");
    for q in &puts {
        assert!(
            q.version == c.version || q.sent <= c.answered,
            "put {} was sent after the final AWSCURRENT {} was answered, so it committed later",
            q.version,
            c.version
        );
    }

    // 4. Every observed (current, previous) pair is consistent with one commit order.
    let mut pairs = snapshots.lock().await.clone();
    pairs.push((final_c.clone(), Some(final_p.clone())));
    let mut pred: HashMap<String, String> = HashMap::new();
    let mut succ: HashMap<String, String> = HashMap::new();
    for (c, p) in pairs
        .iter()
        .filter_map(|(c, p)| p.clone().map(|p| (c.clone(), p)))
    {
        if let Some(old) = pred.insert(c.clone(), p.clone()) {
            assert_eq!(
                old, p,
                "version {c} was seen with two different AWSPREVIOUS versions"
            );
        }
        if let Some(old) = succ.insert(p.clone(), c.clone()) {
            assert_eq!(
                old, c,
                "AWSPREVIOUS {p} was seen behind two different AWSCURRENT versions (lost update)"
            );
        }
    }
    for (c, p) in &pred {
        let Some(cp) = by_version.get(c.as_str()) else {
            assert_eq!(c, initial, "unknown AWSCURRENT {c}");
            continue;
        };
        let Some(pp) = by_version.get(p.as_str()) else {
            assert_eq!(p, initial, "unknown AWSPREVIOUS {p}");
            continue;
        };
        assert!(
            cp.answered >= pp.sent,
            "{c} was answered before {p} was sent, yet {p} is its AWSPREVIOUS"
        );
        for q in &puts {
            if q.version == *c || q.version == *p {
                continue;
            }
            assert!(
                !(q.sent > pp.answered && q.answered < cp.sent),
                "put {} committed strictly between AWSPREVIOUS {p} and AWSCURRENT {c}",
                q.version
            );
        }
    }
    let report_pairs = pred.len();
    let report_snapshots = pairs.len();

    // 5. Every acknowledged version reads back its own value (through every endpoint).
    let puts = Arc::new(puts);
    let mut readers = Vec::new();
    for r in 0..8 {
        let client = client_for(r);
        let name = name.to_string();
        let puts = puts.clone();
        readers.push(tokio::spawn(async move {
            for p in puts.iter().skip(r).step_by(8) {
                let got = client
                    .get_secret_value()
                    .secret_id(&name)
                    .version_id(&p.version)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("read {}: {e:?}", p.version));
                assert_eq!(got.secret_string(), Some(p.value.as_str()));
            }
        }));
    }
    for r in readers {
        r.await.expect("reader task");
    }

    // 6. One more sequential put: AWSPREVIOUS goes to the version that was current.
    let last = client
        .put_secret_value()
        .secret_id(name)
        .secret_string("after the storm")
        .send()
        .await
        .expect("final put");
    let (c, p) = current_and_previous(&version_stages(clients.last().unwrap(), name).await);
    assert_eq!(Some(c.as_str()), last.version_id());
    assert_eq!(p.as_deref(), Some(final_c.as_str()));

    ConcurrencyReport {
        puts: puts.len(),
        snapshots: report_snapshots,
        pairs: report_pairs,
        write_time,
        total_time: started.elapsed(),
        slowest_put,
        longest_gap,
    }
}
