//! What each Secrets Manager operation costs on the AWS backend, measured: the service runs on
//! `DynamoDbSecretRepository` and `KmsKeyProvider` (behind the data-key cache) on moto's server,
//! each operation runs once on a typical secret, and the deltas of the repository's
//! `consumed()` counters and of `KmsKeyProvider::calls()` are printed as a markdown table
//! (`-- --nocapture`), the one in `docs/dynamodb-design.md` ("Cost per Secrets Manager operation
//! (measured)").
//!
//! moto reports a constant capacity per request kind, so the units are also computed by
//! DynamoDB's pricing rules: a counting layer (an SDK interceptor) records every request the
//! repository sends, and a consistent scan of the table before and after the operation (by a
//! separate, uncounted client) gives the sizes of the items read and written.
//!
//! Needs `COFFER_TEST_AWS_ENDPOINT` (a moto server); without it the test prints why and passes.

mod kms_support;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use coffer_aws::dynamodb::{
    create_table, DynamoDbSecretRepository, INDEX_BY_PURGE, INDEX_BY_ROTATION, INDEX_BY_SCOPE,
};
use coffer_aws::kms::KmsKeyProvider;
use coffer_core::audit::{AuditEvent, Caller};
use coffer_core::clock::{Clock, RandomSource, Timestamp};
use coffer_core::keycache::{CacheLimits, CachingKeyProvider};
use coffer_core::ports::{
    AuditError, AuditSink, KeyProvider, RotationInvoker, RotationJob, RotationStartError,
};
use coffer_core::service::{Ports, RequestContext, SecretsService, ServiceConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Secrets in the scope when ListSecrets is measured (the typical secret plus fillers).
const SECRETS_IN_SCOPE: usize = 20;

type Item = HashMap<String, AttributeValue>;
type Key = (String, String);

// ---- the counting layer ----------------------------------------------------------------------

/// Every DynamoDB request the repository sends: operation name and JSON body.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Vec<(String, Value)>>>);

impl Recorder {
    fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CostRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_string();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        self.0.lock().unwrap().push((operation, body));
        Ok(())
    }
}

async fn dynamodb_client(endpoint: &str, recorder: Option<Recorder>) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "coffer-tests"));
    if let Some(r) = recorder {
        builder = builder.interceptor(r);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

// ---- DynamoDB's pricing rules ----------------------------------------------------------------

/// An attribute's size by DynamoDB's rules (as `item_sizes_for_the_cost_model` computes it).
fn rule_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + rule_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| rule_size(v) + 1).sum::<usize>(),
        _ => 1,
    }
}

fn rule_item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + rule_size(v)).sum()
}

/// The GSIs of `create_table`: name, hash key, range key, projected attributes.
const INDEXES: [(&str, &str, &str, &[&str]); 3] = [
    (
        INDEX_BY_SCOPE,
        "scope",
        "sname",
        &["arn", "rev", "rec", "recz", "la", "va"],
    ),
    (INDEX_BY_ROTATION, "rot_pk", "rot_at", &["arn"]),
    (INDEX_BY_PURGE, "del_pk", "purge_at", &["arn"]),
];

/// The entry `item` has in an index (`None` when it lacks one of the index's keys).
fn index_entry(item: &Item, hash: &str, range: &str, projected: &[&str]) -> Option<Item> {
    if !item.contains_key(hash) || !item.contains_key(range) {
        return None;
    }
    Some(
        item.iter()
            .filter(|(k, _)| {
                ["pk", "sk", hash, range].contains(&k.as_str()) || projected.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

type Snapshot = HashMap<Key, Item>;

/// Every item of the table, strongly consistent, through the uncounted client.
async fn snapshot(client: &aws_sdk_dynamodb::Client, table: &str) -> Snapshot {
    let mut items = Snapshot::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("Scan");
        for item in out.items.unwrap_or_default() {
            let key = (s_of(&item, "pk"), s_of(&item, "sk"));
            items.insert(key, item);
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

fn s_of(item: &Item, attribute: &str) -> String {
    match item.get(attribute) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        _ => String::new(),
    }
}

fn json_key(v: &Value) -> Key {
    let s = |a: &str| v[a]["S"].as_str().unwrap_or_default().to_string();
    (s("pk"), s("sk"))
}

/// Whether `item` satisfies a key condition such as `#n0 = :v0 AND #n1 <= :v1`.
fn matches(item: &Item, request: &Value) -> bool {
    let condition = request["KeyConditionExpression"]
        .as_str()
        .unwrap_or_default();
    condition.split(" AND ").all(|part| {
        let tokens: Vec<&str> = part.split_whitespace().collect();
        let [name, op, value] = tokens[..] else {
            return true; // not a simple comparison: counted as a match (an over-estimate)
        };
        let name = request["ExpressionAttributeNames"][name]
            .as_str()
            .unwrap_or(name);
        let wanted = &request["ExpressionAttributeValues"][value];
        let Some(have) = item.get(name) else {
            return false;
        };
        let ordering = match (have, wanted) {
            (AttributeValue::S(h), w) => w["S"].as_str().map(|w| h.as_str().cmp(w)),
            (AttributeValue::N(h), w) => w["N"].as_str().and_then(|w| {
                let (h, w) = (h.parse::<f64>().ok()?, w.parse::<f64>().ok()?);
                h.partial_cmp(&w)
            }),
            _ => None,
        };
        let Some(o) = ordering else { return false };
        match op {
            "=" => o.is_eq(),
            "<=" => o.is_le(),
            "<" => o.is_lt(),
            ">=" => o.is_ge(),
            ">" => o.is_gt(),
            _ => true,
        }
    })
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.max(1).div_ceil(4096) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

fn write_units(bytes: usize) -> f64 {
    bytes.max(1).div_ceil(1024) as f64
}

/// Units of the recorded requests by DynamoDB's rules, from the table before and after.
/// A key written by several requests of one operation is sized at the larger of its sizes
/// before and after the operation (intermediate sizes are not observed); index writes are
/// counted once per item and operation (also inside transactions).
fn units_by_the_rules(
    requests: &[(String, Value)],
    before: &Snapshot,
    after: &Snapshot,
) -> (f64, f64) {
    let (mut rcu, mut wcu) = (0.0, 0.0);
    let size = |snap: &Snapshot, key: &Key| snap.get(key).map(rule_item_size).unwrap_or(0);
    let mut written: Vec<Key> = Vec::new();
    for (operation, request) in requests {
        let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
        match operation.as_str() {
            "GetItem" => rcu += read_units(size(before, &json_key(&request["Key"])), consistent),
            "Query" | "Scan" => {
                let index = request["IndexName"].as_str();
                let def = INDEXES.iter().find(|(n, ..)| Some(*n) == index);
                let bytes: usize = before
                    .values()
                    .filter(|item| operation == "Scan" || matches(item, request))
                    .filter_map(|item| match def {
                        Some((_, h, r, p)) => index_entry(item, h, r, p),
                        None => Some(item.clone()),
                    })
                    .map(|e| rule_item_size(&e))
                    .sum();
                rcu += read_units(bytes, consistent);
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let key = json_key(if operation == "PutItem" {
                    &request["Item"]
                } else {
                    &request["Key"]
                });
                wcu += write_units(size(before, &key).max(size(after, &key)));
                written.push(key);
            }
            "TransactWriteItems" => {
                for action in request["TransactItems"].as_array().into_iter().flatten() {
                    let key = if let Some(put) = action.get("Put") {
                        json_key(&put["Item"])
                    } else {
                        let (_, a) = action.as_object().unwrap().iter().next().unwrap();
                        json_key(&a["Key"])
                    };
                    wcu += 2.0 * write_units(size(before, &key).max(size(after, &key)));
                    written.push(key);
                }
            }
            other => panic!("no pricing rule for {other}"),
        }
    }
    written.sort();
    written.dedup();
    for key in &written {
        for (_, hash, range, projected) in INDEXES {
            let old = before
                .get(key)
                .and_then(|i| index_entry(i, hash, range, projected));
            let new = after
                .get(key)
                .and_then(|i| index_entry(i, hash, range, projected));
            wcu += match (&old, &new) {
                (None, None) => 0.0,
                (Some(o), Some(n)) if o == n => 0.0,
                (Some(o), Some(n))
                    if o.get(hash) == n.get(hash) && o.get(range) == n.get(range) =>
                {
                    write_units(rule_item_size(o).max(rule_item_size(n)))
                }
                _ => {
                    old.as_ref()
                        .map(|o| write_units(rule_item_size(o)))
                        .unwrap_or(0.0)
                        + new
                            .as_ref()
                            .map(|n| write_units(rule_item_size(n)))
                            .unwrap_or(0.0)
                }
            };
        }
    }
    (rcu, wcu)
}

// ---- the service's other ports ---------------------------------------------------------------

struct NoAudit;
#[async_trait]
impl AuditSink for NoAudit {
    async fn record(&self, _: &AuditEvent) -> Result<(), AuditError> {
        Ok(())
    }
}

struct AcceptingRunner;
#[async_trait]
impl RotationInvoker for AcceptingRunner {
    async fn start(&self, _: RotationJob) -> Result<(), RotationStartError> {
        Ok(())
    }
}

struct Clockwork(AtomicI64);
impl Clock for Clockwork {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Distinct bytes per call (ids only need to be distinct and unused in this table).
struct Counter(AtomicU64);
impl RandomSource for Counter {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst)
                .to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

struct Bench {
    repo: DynamoDbSecretRepository,
    kms: Arc<KmsKeyProvider>,
    recorder: Recorder,
    raw: aws_sdk_dynamodb::Client,
    clock: Arc<Clockwork>,
    random: Arc<Counter>,
    rows: Vec<String>,
    /// The DynamoDB operations of the last measured call, in order.
    last: Vec<String>,
}

impl Bench {
    /// A service (one replica) with an empty data-key cache of the default limits.
    fn service(&self) -> SecretsService {
        let metrics = Arc::new(kms_support::CountingMetrics::default());
        let keys = CachingKeyProvider::new(
            self.kms.clone() as Arc<dyn KeyProvider>,
            self.clock.clone(),
            metrics.clone(),
            CacheLimits::default(),
        );
        SecretsService::new(
            Ports {
                repository: Arc::new(self.repo.clone()),
                keys: Arc::new(keys),
                audit: Arc::new(NoAudit),
                metrics,
                rotation: Arc::new(AcceptingRunner),
                clock: self.clock.clone(),
                random: self.random.clone(),
            },
            ServiceConfig {
                paging_key: [7; 32],
                audit_required: false,
            },
        )
    }
}

async fn call(service: &SecretsService, op: &str, body: Value) -> Value {
    let caller = Caller {
        identity_type: "Root".into(),
        principal_arn: format!("arn:aws:iam::{}:root", kms_support::ACCOUNT),
        account_id: kms_support::ACCOUNT.into(),
        access_key_id: Some("AKIATEST".into()),
        source_ip: Some("127.0.0.1".into()),
        user_agent: Some("cost".into()),
    };
    let ctx = RequestContext::root(kms_support::scope(), caller, "cost");
    service
        .handle(
            &ctx,
            coffer_core::operation::Operation::from_name(op).expect("operation"),
            coffer_testkit::builders::with_idempotency_token(op, body)
                .to_string()
                .as_bytes(),
        )
        .await
        .unwrap_or_else(|e| panic!("{op}: {}", e.code()))
}

impl Bench {
    /// Runs `run` and adds its row to the table.
    async fn measure<F, Fut, T>(&mut self, label: &str, run: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let before = snapshot(&self.raw, self.repo.table()).await;
        self.recorder.take();
        let (consumed, kms) = (self.repo.consumed(), self.kms.calls());
        let out = run().await;
        let consumed = self.repo.consumed().since(&consumed);
        let kms = self.kms.calls() - kms;
        let requests = self.recorder.take();
        let after = snapshot(&self.raw, self.repo.table()).await;
        let (rcu, wcu) = units_by_the_rules(&requests, &before, &after);
        let mut kinds: Vec<String> = Vec::new();
        for (op, request) in &requests {
            // GetItem of the secret item (`S`) or of a value item (`V#…`).
            let op = &match (op.as_str(), request["Key"]["sk"]["S"].as_str()) {
                ("GetItem", Some(sk)) => format!("GetItem {}", &sk[..1]),
                _ => op.clone(),
            };
            match kinds.iter_mut().find(|k| k.ends_with(op.as_str())) {
                Some(k) if k.contains('×') => {
                    let (n, rest) = k.split_once('×').unwrap();
                    *k = format!("{}×{rest}", n.parse::<u32>().unwrap() + 1);
                }
                Some(k) => *k = format!("2×{k}"),
                None => kinds.push(op.clone()),
            }
        }
        assert_eq!(consumed.requests as usize, requests.len(), "{label}");
        self.last = requests.iter().map(|(op, _)| op.clone()).collect();
        self.rows.push(format!(
            "| {label} | {} ({}) | {} | {} | {} / {} | {kms} |",
            consumed.requests,
            if kinds.is_empty() {
                "–".to_string()
            } else {
                kinds.join(", ")
            },
            fmt(rcu),
            fmt(wcu),
            fmt(consumed.read_units),
            fmt(consumed.write_units),
        ));
        out
    }
}

fn fmt(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// A 200-byte secret string, like the typical secret of the design doc.
fn secret_string(n: u32) -> String {
    let s = format!(
        r#"{{"username":"orders_app","password":"{n:0>24}-pw","host":"orders-db.cluster-abc123.us-east-1.rds.amazonaws.com","port":5432,"dbname":"orders","engine":"postgres"}}"#
    );
    format!("{s:<200}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_of_every_operation() {
    let Some(url) = kms_support::endpoint("cost_of_every_operation") else {
        return;
    };
    let recorder = Recorder::default();
    let counted = dynamodb_client(&url, Some(recorder.clone())).await;
    let raw = dynamodb_client(&url, None).await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let table = format!("coffer-cost-{}", nanos.as_nanos());
    create_table(&raw, &table).await.expect("create_table");
    let kms_client = kms_support::client(&url, kms_support::REGION);
    let key = kms_support::create_key(&kms_client, "cost model").await;
    let metrics = Arc::new(kms_support::CountingMetrics::default());
    let kms = Arc::new(KmsKeyProvider::new(kms_client, key.arn.clone(), metrics));
    let mut bench = Bench {
        repo: DynamoDbSecretRepository::new(counted, table),
        kms,
        recorder,
        raw,
        clock: Arc::new(Clockwork(AtomicI64::new(nanos.as_millis() as i64))),
        random: Arc::new(Counter(AtomicU64::new(nanos.as_nanos() as u64))),
        rows: Vec::new(),
        last: Vec::new(),
    };
    let service = bench.service();

    // Fillers, so ListSecrets reads a scope of SECRETS_IN_SCOPE secrets.
    for i in 1..SECRETS_IN_SCOPE {
        call(
                &service,
                "CreateSecret",
                json!({"Name": format!("filler-{i:02}"), "SecretString": secret_string(i as u32),
                       "Description": "A filler secret", "Tags": [{"Key": "team", "Value": "payments"}]}),
            )
            .await;
    }

    let s = &service;
    macro_rules! op {
        ($label:expr, $svc:expr, $op:expr, $body:expr) => {{
            let body = $body;
            let svc = $svc;
            bench.measure($label, || call(svc, $op, body)).await
        }};
    }

    let created = op!(
        "CreateSecret (200-byte value, description, 2 tags)",
        s,
        "CreateSecret",
        json!({"Name": "orders-db", "SecretString": secret_string(0),
               "Description": "Credentials of the orders database",
               "Tags": [{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}]})
    );
    let first_version = created["VersionId"].as_str().unwrap().to_string();
    let id = json!({"SecretId": "orders-db"});
    let cold = bench.service();
    op!(
        "GetSecretValue, cold (empty data-key cache, first read of the day)",
        &cold,
        "GetSecretValue",
        id.clone()
    );
    op!(
        "GetSecretValue, warm (data key cached, read earlier today)",
        &cold,
        "GetSecretValue",
        id.clone()
    );
    // Authorization loads the record with the current value; the operation reads nothing again.
    assert_eq!(
        bench.last,
        ["GetItem"],
        "GetSecretValue by name: one GetItem"
    );
    op!(
        "GetSecretValue by full ARN, warm",
        &cold,
        "GetSecretValue",
        json!({"SecretId": created["ARN"]})
    );
    op!("DescribeSecret", s, "DescribeSecret", id.clone());
    let put = op!(
        "PutSecretValue",
        s,
        "PutSecretValue",
        json!({"SecretId": "orders-db", "SecretString": secret_string(1)})
    );
    let second_version = put["VersionId"].as_str().unwrap().to_string();
    let reads_before_write = bench
        .last
        .iter()
        .take_while(|op| !op.starts_with("TransactWrite"))
        .count();
    assert!(
        reads_before_write <= 2,
        "PutSecretValue: {reads_before_write} reads before its transaction ({:?})",
        bench.last
    );
    op!(
        "UpdateSecret, description only",
        s,
        "UpdateSecret",
        json!({"SecretId": "orders-db", "Description": "Orders database (primary)"})
    );
    let updated = op!(
        "UpdateSecret with a value",
        s,
        "UpdateSecret",
        json!({"SecretId": "orders-db", "SecretString": secret_string(2)})
    );
    let third_version = updated["VersionId"].as_str().unwrap().to_string();
    op!(
        "UpdateSecretVersionStage (AWSCURRENT back to the previous version)",
        s,
        "UpdateSecretVersionStage",
        json!({"SecretId": "orders-db", "VersionStage": "AWSCURRENT",
               "MoveToVersionId": second_version, "RemoveFromVersionId": third_version})
    );
    let list_label = format!("ListSecrets ({SECRETS_IN_SCOPE} secrets in the scope, one page)");
    op!(&list_label, s, "ListSecrets", json!({"MaxResults": 100}));
    op!(
        "ListSecretVersionIds",
        s,
        "ListSecretVersionIds",
        id.clone()
    );
    op!(
        "TagResource (1 tag)",
        s,
        "TagResource",
        json!({"SecretId": "orders-db", "Tags": [{"Key": "owner", "Value": "orders-team"}]})
    );
    op!(
        "UntagResource (1 tag)",
        s,
        "UntagResource",
        json!({"SecretId": "orders-db", "TagKeys": ["owner"]})
    );
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:role/orders-app", kms_support::ACCOUNT)},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"
        }]
    });
    op!(
        "PutResourcePolicy",
        s,
        "PutResourcePolicy",
        json!({"SecretId": "orders-db", "ResourcePolicy": policy.to_string()})
    );
    op!("GetResourcePolicy", s, "GetResourcePolicy", id.clone());
    op!(
        "DeleteResourcePolicy",
        s,
        "DeleteResourcePolicy",
        id.clone()
    );
    op!(
        "RotateSecret (enables rotation, hands the job to the runner)",
        s,
        "RotateSecret",
        json!({"SecretId": "orders-db",
               "RotationLambdaARN": format!("arn:aws:lambda:us-east-1:{}:function:rotate-orders-db", kms_support::ACCOUNT),
               "RotationRules": {"AutomaticallyAfterDays": 30}})
    );
    op!("CancelRotateSecret", s, "CancelRotateSecret", id.clone());
    op!(
        "DeleteSecret (7-day recovery window)",
        s,
        "DeleteSecret",
        json!({"SecretId": "orders-db", "RecoveryWindowInDays": 7})
    );
    op!("RestoreSecret", s, "RestoreSecret", id.clone());
    let batch = bench.service();
    op!(
        "BatchGetSecretValue of 3, cold cache",
        &batch,
        "BatchGetSecretValue",
        json!({"SecretIdList": ["filler-01", "filler-02", "filler-03"]})
    );
    op!(
        "BatchGetSecretValue of 3, warm cache",
        &batch,
        "BatchGetSecretValue",
        json!({"SecretIdList": ["filler-01", "filler-02", "filler-03"]})
    );
    call(
        s,
        "DeleteSecret",
        json!({"SecretId": "orders-db", "RecoveryWindowInDays": 7}),
    )
    .await;
    bench
        .clock
        .0
        .fetch_add(8 * 24 * 3_600_000, Ordering::SeqCst);
    let purger = SecretsService::new(
        Ports {
            repository: Arc::new(bench.repo.clone()),
            keys: bench.kms.clone(),
            audit: Arc::new(NoAudit),
            metrics: Arc::new(kms_support::CountingMetrics::default()),
            rotation: Arc::new(AcceptingRunner),
            clock: bench.clock.clone(),
            random: bench.random.clone(),
        },
        ServiceConfig {
            paging_key: [7; 32],
            audit_required: false,
        },
    );
    let purged = bench
        .measure(
            "purge (scheduler: `list_purgeable` + `purge` of the secret)",
            || purger.purge_expired(),
        )
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    let _ = first_version;

    println!(
        "\n| Operation | DynamoDB requests | RCU (rules) | WCU (rules) | moto reported RCU / WCU | KMS calls |"
    );
    println!("| --- | --- | ---: | ---: | --- | ---: |");
    for row in &bench.rows {
        println!("{row}");
    }
}
