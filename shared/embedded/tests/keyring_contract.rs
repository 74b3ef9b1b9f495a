//! `FileKeyring` passes the `KeyProvider` contract, and keeps the promises of a keyring file:
//! mode 0600, persistence across restarts, the default key's alias, disabled keys, isolated
//! scopes, and no lost keys when two processes share the file.

use coffer_core::clock::{Clock, Timestamp};
use coffer_core::ids::Scope;
use coffer_core::ports::{encryption_context, EncryptionContext, KeyError, KeyProvider};
use coffer_embedded::keyring::{KeyManager, DEFAULT_ALIAS, KEYRING_FILE_NAME};
use coffer_embedded::{FileKeyring, KeyringError, OsRandom};
use coffer_testkit::key_provider_contract;
use std::path::Path;
use std::sync::Arc;

struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0)
    }
}

const NOW: i64 = 1_714_564_800_123; // 2024-05-01T12:00:00.123Z

fn open(dir: &Path) -> FileKeyring {
    FileKeyring::open(dir, Arc::new(OsRandom), Arc::new(FixedClock(NOW))).expect("open keyring")
}

fn scope() -> Scope {
    Scope::new("us-east-1", "123456789012")
}

fn ctx(version: &str) -> EncryptionContext {
    encryption_context(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf",
        version,
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn file_keyring_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    key_provider_contract::run_all(&keyring, &scope()).await;
    key_provider_contract::run_all(&keyring, &Scope::new("eu-west-1", "210987654321")).await;
    // And again after a restart, against the persisted keys.
    drop(keyring);
    key_provider_contract::run_all(&open(dir.path()), &scope()).await;
}

#[cfg(unix)]
#[tokio::test]
async fn open_creates_data_dir_0700_and_keyring_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let keyring = open(&data_dir);
    let file = data_dir.join(KEYRING_FILE_NAME);
    assert_eq!(keyring.path(), file);
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    // Still 0600 after a rewrite (a new file is renamed over the old one).
    keyring.create_key(&scope(), "app", Some("app")).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&data_dir.join("keyring.json.lock")), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn open_group_or_world_accessible_keyring_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let file = dir.path().join(KEYRING_FILE_NAME);
    for insecure in [0o640, 0o604, 0o660, 0o606] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(insecure)).unwrap();
        let opened = FileKeyring::open(dir.path(), Arc::new(OsRandom), Arc::new(FixedClock(NOW)));
        match opened {
            Err(KeyringError::InsecurePermissions { mode, .. }) => assert_eq!(mode, insecure),
            other => panic!("mode {insecure:o}: {other:?}"),
        }
    }
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    open(dir.path());
}

#[tokio::test]
async fn keys_and_aliases_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let created = keyring
        .create_key(&scope(), "the app's key", Some("alias/app"))
        .unwrap();
    let default_arn = keyring.resolve(&scope(), None).await.unwrap();
    let data_key = keyring
        .generate_data_key(&scope(), Some("alias/app"), &ctx("v1"))
        .await
        .unwrap();
    let listed = keyring.list_keys(&scope());
    drop(keyring);

    let reopened = open(dir.path());
    assert_eq!(reopened.list_keys(&scope()), listed);
    assert_eq!(reopened.resolve(&scope(), None).await.unwrap(), default_arn);
    assert_eq!(
        reopened.resolve(&scope(), Some("alias/app")).await.unwrap(),
        created.arn
    );
    let plaintext = reopened
        .decrypt_data_key(&scope(), &data_key.wrapped, &ctx("v1"))
        .await
        .unwrap();
    assert_eq!(*plaintext, *data_key.plaintext);
}

#[tokio::test]
async fn create_key_reports_kms_style_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let key = keyring
        .create_key(&scope(), "the app's key", Some("app"))
        .unwrap();
    assert_eq!(key.key_id.len(), 36);
    assert_eq!(
        key.arn,
        format!("arn:aws:kms:us-east-1:123456789012:key/{}", key.key_id)
    );
    assert_eq!(key.aliases, vec!["alias/app".to_string()]);
    assert!(key.enabled);
    assert_eq!(key.description, "the app's key");
    assert_eq!(key.creation_date, Timestamp::from_millis(NOW));
    assert_eq!(key.key_manager, KeyManager::Customer);
    assert_eq!(key.scope, scope());
    let data_key = keyring
        .generate_data_key(&scope(), Some(&key.key_id), &ctx("v1"))
        .await
        .unwrap();
    assert_eq!(data_key.key_arn, key.arn);
}

#[tokio::test]
async fn default_key_is_created_once_with_the_aws_alias_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    assert!(keyring.list_keys(&scope()).is_empty());
    let arn = keyring.resolve(&scope(), None).await.unwrap();
    assert_eq!(keyring.resolve(&scope(), None).await.unwrap(), arn);
    let keys = keyring.list_keys(&scope());
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].arn, arn);
    assert_eq!(keys[0].aliases, vec![DEFAULT_ALIAS.to_string()]);
    assert_eq!(keys[0].key_manager, KeyManager::Aws);
    assert_eq!(keyring.default_key(&scope()).unwrap(), keys[0]);

    let text = std::fs::read_to_string(dir.path().join(KEYRING_FILE_NAME)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["aliases"][0]["alias_name"], DEFAULT_ALIAS);
    assert_eq!(json["aliases"][0]["target_key_id"], keys[0].key_id);
    assert_eq!(json["keys"][0]["key_id"], keys[0].key_id);
    assert_eq!(json["keys"][0]["key_manager"], "AWS");
    assert_eq!(json["keys"][0]["enabled"], true);
    assert_eq!(json["keys"][0]["creation_date"], "2024-05-01T12:00:00.123Z");
    let material = json["keys"][0]["key_material"].as_str().unwrap();
    assert_eq!(material.len(), 44, "base64 of 32 bytes");
    drop(keyring);
    assert_eq!(open(dir.path()).resolve(&scope(), None).await.unwrap(), arn);
}

#[tokio::test]
async fn disabled_key_refuses_generate_resolve_and_decrypt_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let key = keyring.create_key(&scope(), "", Some("app")).unwrap();
    let data_key = keyring
        .generate_data_key(&scope(), Some("alias/app"), &ctx("v1"))
        .await
        .unwrap();
    let disabled = keyring.set_enabled(&scope(), "alias/app", false).unwrap();
    assert!(!disabled.enabled);
    for id in [key.key_id.as_str(), key.arn.as_str(), "alias/app"] {
        assert!(matches!(
            keyring
                .generate_data_key(&scope(), Some(id), &ctx("v2"))
                .await,
            Err(KeyError::Disabled(_))
        ));
        assert!(matches!(
            keyring.resolve(&scope(), Some(id)).await,
            Err(KeyError::Disabled(_))
        ));
    }
    assert!(matches!(
        keyring
            .decrypt_data_key(&scope(), &data_key.wrapped, &ctx("v1"))
            .await,
        Err(KeyError::Disabled(_))
    ));
    // Disabled survives a restart.
    drop(keyring);
    let keyring = open(dir.path());
    assert!(matches!(
        keyring.resolve(&scope(), Some("alias/app")).await,
        Err(KeyError::Disabled(_))
    ));
    keyring.set_enabled(&scope(), &key.arn, true).unwrap();
    let plaintext = keyring
        .decrypt_data_key(&scope(), &data_key.wrapped, &ctx("v1"))
        .await
        .unwrap();
    assert_eq!(*plaintext, *data_key.plaintext);
}

#[tokio::test]
async fn disabled_default_key_refuses_generate() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    keyring.set_enabled(&scope(), DEFAULT_ALIAS, false).unwrap();
    assert!(matches!(
        keyring.generate_data_key(&scope(), None, &ctx("v1")).await,
        Err(KeyError::Disabled(_))
    ));
}

#[tokio::test]
async fn scopes_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let east = scope();
    let west = Scope::new("eu-west-1", "123456789012");
    let other_account = Scope::new("us-east-1", "210987654321");
    let key = keyring.create_key(&east, "", Some("app")).unwrap();
    let data_key = keyring
        .generate_data_key(&east, Some("alias/app"), &ctx("v1"))
        .await
        .unwrap();
    for other in [&west, &other_account] {
        assert!(keyring.list_keys(other).is_empty());
        for id in [key.key_id.as_str(), key.arn.as_str(), "alias/app"] {
            assert!(
                matches!(
                    keyring.resolve(other, Some(id)).await,
                    Err(KeyError::NotFound(_))
                ),
                "{id}"
            );
        }
        assert!(matches!(
            keyring
                .decrypt_data_key(other, &data_key.wrapped, &ctx("v1"))
                .await,
            Err(KeyError::NotFound(_))
        ));
        // The same alias name is free in another scope.
        let theirs = keyring.create_key(other, "", Some("app")).unwrap();
        assert_ne!(theirs.key_id, key.key_id);
    }
    let defaults: Vec<String> = [
        keyring.resolve(&east, None).await.unwrap(),
        keyring.resolve(&west, None).await.unwrap(),
        keyring.resolve(&other_account, None).await.unwrap(),
    ]
    .into();
    assert_ne!(defaults[0], defaults[1]);
    assert_ne!(defaults[0], defaults[2]);
    assert_eq!(keyring.list_keys(&east).len(), 2);
}

#[tokio::test]
async fn aliases_follow_kms_rules() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let key = keyring.create_key(&scope(), "", Some("app")).unwrap();
    assert!(matches!(
        keyring.create_key(&scope(), "", Some("alias/app")),
        Err(KeyringError::AliasExists(_))
    ));
    assert!(matches!(
        keyring.create_alias(&scope(), "alias/app", &key.key_id),
        Err(KeyringError::AliasExists(_))
    ));
    for reserved in [
        "alias/aws/secretsmanager",
        "alias/aws/mine",
        "bad name",
        "alias/",
    ] {
        assert!(
            matches!(
                keyring.create_alias(&scope(), reserved, &key.key_id),
                Err(KeyringError::InvalidArgument(_))
            ),
            "{reserved}"
        );
    }
    assert!(matches!(
        keyring.create_alias(&scope(), "other", "11111111-2222-4333-8444-555555555555"),
        Err(KeyringError::NotFound(_))
    ));
    let with_alias = keyring
        .create_alias(&scope(), "team/app-2", &key.arn)
        .unwrap();
    assert_eq!(
        with_alias.aliases,
        vec!["alias/app".to_string(), "alias/team/app-2".to_string()]
    );
    let alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/team/app-2";
    assert_eq!(
        keyring.resolve(&scope(), Some(alias_arn)).await.unwrap(),
        key.arn
    );
    assert_eq!(
        keyring.describe_key(&scope(), alias_arn).unwrap(),
        with_alias
    );
    assert!(matches!(
        keyring.create_key(&scope(), &"d".repeat(8193), None),
        Err(KeyringError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn corrupt_or_future_keyring_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    keyring.resolve(&scope(), None).await.unwrap();
    drop(keyring);
    let file = dir.path().join(KEYRING_FILE_NAME);
    let good = std::fs::read_to_string(&file).unwrap();

    let write = |text: &str| {
        // Rewrites in place, keeping mode 0600.
        std::fs::write(&file, text).unwrap();
        FileKeyring::open(dir.path(), Arc::new(OsRandom), Arc::new(FixedClock(NOW)))
    };
    assert!(matches!(
        write("not json"),
        Err(KeyringError::Corrupt { .. })
    ));
    assert!(matches!(
        write(&good.replace("\"format_version\": 1", "\"format_version\": 2")),
        Err(KeyringError::UnsupportedFormat { found: 2, .. })
    ));
    assert!(matches!(
        write(&good.replace("\"enabled\"", "\"enable\"")),
        Err(KeyringError::Corrupt { .. })
    ));
    let json: serde_json::Value = serde_json::from_str(&good).unwrap();
    let material = json["keys"][0]["key_material"].as_str().unwrap();
    let short = write(&good.replace(material, "AAAA"));
    match short {
        Err(KeyringError::Corrupt { reason, .. }) => {
            assert!(reason.contains("32 bytes"), "{reason}");
            assert!(!reason.contains(material));
        }
        other => panic!("{other:?}"),
    }
    assert!(write(&good).is_ok());
}

#[tokio::test]
async fn two_instances_on_one_file_see_each_others_changes_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // As the server and the CLI: two keyrings on the same data directory.
    let server = open(dir.path());
    let cli = open(dir.path());
    let server_default = server.resolve(&scope(), None).await.unwrap();
    let created = cli
        .create_key(&scope(), "from the CLI", Some("cli"))
        .unwrap();
    // The server sees the CLI's key without a restart...
    assert_eq!(
        server.resolve(&scope(), Some("alias/cli")).await.unwrap(),
        created.arn
    );
    // ...and the CLI sees the server's default key rather than creating a second one.
    assert_eq!(cli.resolve(&scope(), None).await.unwrap(), server_default);
    // A key disabled with the CLI is refused by the running server at once.
    cli.set_enabled(&scope(), "alias/cli", false).unwrap();
    assert!(matches!(
        server.resolve(&scope(), Some("alias/cli")).await,
        Err(KeyError::Disabled(_))
    ));
    // Changes made by both are all persisted.
    server
        .create_key(&scope(), "from the server", Some("server"))
        .unwrap();
    cli.create_key(&scope(), "from the CLI again", Some("cli2"))
        .unwrap();
    let aliases: Vec<String> = open(dir.path())
        .list_keys(&scope())
        .into_iter()
        .flat_map(|k| k.aliases)
        .collect();
    for alias in [
        "alias/aws/secretsmanager",
        "alias/cli",
        "alias/server",
        "alias/cli2",
    ] {
        assert!(
            aliases.contains(&alias.to_string()),
            "{alias} in {aliases:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_are_serialized_and_all_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(open(dir.path()));
    let regions = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"];
    let mut tasks = Vec::new();
    for (i, region) in regions.iter().enumerate() {
        for j in 0..4 {
            let keyring = Arc::clone(&keyring);
            let region = region.to_string();
            tasks.push(tokio::spawn(async move {
                let scope = Scope::new(region, "123456789012");
                // Default-key creation races in every scope: exactly one must win.
                let default = keyring.resolve(&scope, None).await.unwrap();
                keyring
                    .create_key(&scope, "", Some(&format!("k{i}-{j}")))
                    .unwrap();
                default
            }));
        }
    }
    let mut defaults = std::collections::BTreeMap::new();
    for task in tasks {
        let arn = task.await.unwrap();
        let region = arn.split(':').nth(3).unwrap().to_string();
        defaults.entry(region).or_insert_with(Vec::new).push(arn);
    }
    for arns in defaults.values() {
        assert!(arns.iter().all(|a| a == &arns[0]), "{arns:?}");
    }
    drop(keyring);
    let reopened = open(dir.path());
    for region in regions {
        assert_eq!(
            reopened
                .list_keys(&Scope::new(region, "123456789012"))
                .len(),
            5
        );
    }
}

#[tokio::test]
async fn debug_and_file_never_show_data_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let data_key = keyring
        .generate_data_key(&scope(), None, &ctx("v1"))
        .await
        .unwrap();
    let debug = format!("{keyring:?}");
    assert!(debug.contains("FileKeyring"), "{debug}");
    assert!(!debug.contains("material"), "{debug}");
    let file = std::fs::read(dir.path().join(KEYRING_FILE_NAME)).unwrap();
    assert!(!file.windows(32).any(|w| w == &data_key.plaintext[..]));
}

#[tokio::test]
async fn audit_digest_key_is_created_once_persisted_and_found_by_arn() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = open(dir.path());
    let key = keyring.audit_digest_key(&scope()).unwrap();
    assert!(
        key.key_arn()
            .starts_with("arn:aws:kms:us-east-1:123456789012:key/"),
        "{key:?}"
    );
    assert!(format!("{key:?}").contains("<redacted>"));
    let listed = keyring.list_keys(&scope());
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].aliases,
        vec![coffer_embedded::keyring::AUDIT_DIGEST_ALIAS.to_string()]
    );
    assert_eq!(listed[0].key_manager, KeyManager::Aws);

    // The same key after a restart and by ARN: a digest signed before verifies after.
    let record = serde_json::json!({
        "streamRecordCount": 1,
        "signingKeyArn": key.key_arn(),
        "signatureAlgorithm": coffer_core::audit::digest::SIGNATURE_ALGORITHM,
    });
    let mut signed = record.clone();
    signed["signature"] = serde_json::Value::String(key.sign(&record));
    drop(keyring);
    let keyring = open(dir.path());
    let again = keyring.audit_digest_key(&scope()).unwrap();
    assert_eq!(again.key_arn(), key.key_arn());
    assert!(again.verify(&signed));
    let by_arn = keyring.audit_digest_key_by_arn(key.key_arn()).unwrap();
    assert!(by_arn.verify(&signed));
    assert_eq!(keyring.list_keys(&scope()).len(), 1);

    // Not the data-key default, and not creatable by a user.
    assert!(matches!(
        keyring.create_key(&scope(), "", Some("alias/aws/coffer-audit-digest")),
        Err(KeyringError::InvalidArgument(_))
    ));
    assert!(matches!(
        keyring.audit_digest_key_by_arn(
            "arn:aws:kms:us-east-1:123456789012:key/0b6b8f5e-4c1a-4f2e-9d3b-7a1c2e3f4a5b"
        ),
        Err(KeyringError::NotFound(_))
    ));

    // Disabled: refused.
    keyring.set_enabled(&scope(), key.key_arn(), false).unwrap();
    assert!(keyring.audit_digest_key(&scope()).is_err());
    assert!(keyring.audit_digest_key_by_arn(key.key_arn()).is_err());
}
