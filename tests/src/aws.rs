//! The AWS backend mode of the harness (`COFFER_E2E_BACKEND=aws`).
//!
//! In this mode every spawned `coffer` runs `serve --backend aws` against moto's server (the
//! endpoint in `COFFER_TEST_AWS_ENDPOINT`, started by `tests/run-all.sh`): each
//! [`crate::CofferServer::start`] gets a fresh DynamoDB table (made by `coffer init-table`, the
//! command an operator runs) and a fresh KMS key with an alias, so tests stay independent while
//! sharing one moto. [`AwsResources`] is that table and key; replicas of one server share it.
//!
//! The helpers here also give tests direct SDK clients for moto (KMS keys of their own, raw
//! DynamoDB items), which is how the AWS-only tests look under the API.

use std::future::Future;
use std::process::Command;

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};

/// Environment variable naming moto's endpoint (`http://127.0.0.1:<port>`).
pub const AWS_ENDPOINT_ENV: &str = "COFFER_TEST_AWS_ENDPOINT";
/// Access key id every process uses against moto (moto accepts any).
pub const MOTO_ACCESS_KEY_ID: &str = "testing";
/// Secret access key every process uses against moto.
pub const MOTO_SECRET_ACCESS_KEY: &str = "testing";

/// Which backend spawned servers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite and the keyring file in a temporary data directory (the default).
    Embedded,
    /// `coffer serve --backend aws` on moto: a DynamoDB table and a KMS key per server.
    Aws,
    /// The `coffer-api` Lambda function under the Runtime API emulator behind an API Gateway
    /// HTTP API front, on moto (a table and a key per server): `crate::lambda_runtime`.
    Lambda,
}

/// The backend chosen by `COFFER_E2E_BACKEND` (`embedded`, the default, or `aws`).
pub fn backend() -> Backend {
    match std::env::var("COFFER_E2E_BACKEND").as_deref() {
        Ok("aws") => Backend::Aws,
        Ok("lambda") => Backend::Lambda,
        Ok("") | Ok("embedded") | Err(_) => Backend::Embedded,
        Ok(other) => {
            panic!("COFFER_E2E_BACKEND must be `embedded`, `aws` or `lambda`, not `{other}`")
        }
    }
}

/// True when spawned servers run on the AWS backend.
pub fn aws_mode() -> bool {
    backend() == Backend::Aws
}

/// True when the servers are the `api` Lambda function under the emulator.
pub fn lambda_mode() -> bool {
    backend() == Backend::Lambda
}

/// True when storage is moto's (the AWS backend, or the Lambda function on it): slow writes.
pub fn on_moto() -> bool {
    matches!(backend(), Backend::Aws | Backend::Lambda)
}

/// moto's endpoint; panics with instructions when it is not configured.
pub fn moto_endpoint() -> String {
    match std::env::var(AWS_ENDPOINT_ENV) {
        Ok(v) if !v.is_empty() => v.trim_end_matches('/').to_string(),
        _ => panic!(
            "COFFER_E2E_BACKEND=aws needs {AWS_ENDPOINT_ENV}=http://127.0.0.1:<port> of a running \
             moto_server (tests/run-all.sh starts one)"
        ),
    }
}

/// The environment a process needs to reach moto at `endpoint` in `region`: the standard AWS
/// variables, with anything that could send it elsewhere (profiles, IMDS) switched off.
pub fn aws_process_env(endpoint: &str, region: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", MOTO_SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Variables removed from the environment of processes that talk to moto.
pub const AWS_ENV_REMOVED: &[&str] = &["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"];

fn moto_credentials() -> Credentials {
    Credentials::new(
        MOTO_ACCESS_KEY_ID,
        MOTO_SECRET_ACCESS_KEY,
        None,
        None,
        "coffer-e2e-moto",
    )
}

/// A KMS client for moto in `region`.
pub fn kms_client(region: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(moto_endpoint())
        .credentials_provider(moto_credentials())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// A DynamoDB client for moto in `region`.
pub fn dynamodb_client(region: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(moto_endpoint())
        .credentials_provider(moto_credentials())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A KMS key made for a test.
#[derive(Debug, Clone)]
pub struct KmsKey {
    /// The key id (a UUID).
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// Its alias (`alias/...`).
    pub alias: String,
}

/// Creates a symmetric encryption key in moto's `region` and points `alias` at it.
pub async fn create_kms_key(region: &str, alias: &str) -> KmsKey {
    let kms = kms_client(region);
    let created = kms
        .create_key()
        .description("coffer e2e test key")
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto KMS CreateKey in {region}: {e:?}"));
    let meta = created.key_metadata().expect("KeyMetadata");
    let key_id = meta.key_id().to_string();
    let arn = meta.arn().expect("key Arn").to_string();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto KMS CreateAlias {alias} in {region}: {e:?}"));
    KmsKey {
        key_id,
        arn,
        alias: alias.to_string(),
    }
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own, so that
/// synchronous harness code can call the async SDK from inside any test runtime.
pub fn block_on_side<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a side runtime")
            .block_on(future)
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The DynamoDB table and default KMS key one spawned server (and its replicas) run on.
#[derive(Debug, Clone)]
pub struct AwsResources {
    /// moto's endpoint the resources live in.
    pub endpoint: String,
    /// Region of the table and the key.
    pub region: String,
    /// Table name.
    pub table: String,
    /// The default key (`--kms-key` is its alias).
    pub key: KmsKey,
}

impl AwsResources {
    /// A fresh table (through `coffer init-table`, as an operator makes one) and a fresh KMS key
    /// with a unique alias, in moto's `region`.
    pub fn create(region: &str) -> AwsResources {
        let endpoint = moto_endpoint();
        let suffix = crate::random_letters(12);
        let table = format!("coffer-e2e-{suffix}");
        let alias = format!("alias/coffer-e2e-{suffix}");
        let mut cmd = Command::new(crate::coffer_bin());
        cmd.args(["init-table", "--table", &table]);
        for name in AWS_ENV_REMOVED {
            cmd.env_remove(name);
        }
        cmd.envs(aws_process_env(&endpoint, region));
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("run {} init-table: {e}", crate::coffer_bin().display()));
        assert!(
            out.status.success(),
            "coffer init-table --table {table} failed ({}); is COFFER_BIN built with \
             `--features aws`?\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let key_region = region.to_string();
        let key = block_on_side(async move { create_kms_key(&key_region, &alias).await });
        AwsResources {
            endpoint,
            region: region.to_string(),
            table,
            key,
        }
    }

    /// Gives the default key's alias a key in `region` too, so a server on these resources can
    /// serve secrets of that region (KMS keys are regional; the alias name is looked up in the
    /// secret's region).
    pub fn add_region(&self, region: &str) {
        if region == self.region {
            return;
        }
        let region = region.to_string();
        let alias = self.key.alias.clone();
        block_on_side(async move {
            create_kms_key(&region, &alias).await;
        });
    }

    /// Every item of the table (a full scan; the tables here are small).
    pub async fn scan_items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let client = dynamodb_client(&self.region);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|e| panic!("Scan {}: {e:?}", self.table));
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return items,
            }
        }
    }
}
