//! The in-memory keyring: master keys and aliases per scope, and the KMS rules for naming them
//! (key id, key ARN, alias name, alias ARN). Pure data: no I/O happens here.

use super::{KeyManager, KeyMetadata, KeyringError};
use coffer_core::clock::Timestamp;
use coffer_core::ids::Scope;
use coffer_core::ports::KeyError;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The alias of the key Secrets Manager uses when a secret names none (AWS's managed key).
pub const DEFAULT_ALIAS: &str = coffer_core::ports::DEFAULT_KEY_ALIAS;

/// The description AWS gives its managed Secrets Manager key.
pub(crate) const DEFAULT_DESCRIPTION: &str =
    "Default key that protects my Secrets Manager data when no other key is defined";

/// KMS limits: alias names are at most 256 characters, descriptions at most 8192.
const MAX_ALIAS_LEN: usize = 256;
const MAX_DESCRIPTION_LEN: usize = 8192;

/// One master key. The material never leaves this crate and is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MasterKey {
    pub scope: Scope,
    pub id: Uuid,
    pub material: Zeroizing<[u8; 32]>,
    pub enabled: bool,
    pub description: String,
    pub creation_date: Timestamp,
    pub manager: KeyManager,
}

impl MasterKey {
    pub fn arn(&self) -> String {
        key_arn(&self.scope, &self.id)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("scope", &self.scope)
            .field("id", &self.id)
            .field("material", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("description", &self.description)
            .field("creation_date", &self.creation_date)
            .field("manager", &self.manager)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alias {
    pub target: Uuid,
    pub creation_date: Timestamp,
}

/// All keys of all scopes. Key ids are random UUIDs and therefore globally unique, but every
/// lookup also checks the scope: each region + account is its own namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub keys: BTreeMap<Uuid, MasterKey>,
    /// (scope, alias name including the `alias/` prefix) -> target.
    pub aliases: BTreeMap<(Scope, String), Alias>,
}

/// What a KMS key identifier names, once its scope has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// The scope's default key (`None`, or the alias `alias/aws/secretsmanager` in any form):
    /// created on first use.
    Default,
    Id(Uuid),
    Alias(String),
}

pub(crate) fn key_arn(scope: &Scope, id: &Uuid) -> String {
    format!(
        "arn:{}:kms:{}:{}:key/{}",
        scope.partition, scope.region, scope.account, id
    )
}

pub(crate) fn alias_arn(scope: &Scope, alias: &str) -> String {
    format!(
        "arn:{}:kms:{}:{}:{}",
        scope.partition, scope.region, scope.account, alias
    )
}

/// A KMS key id: a hyphenated UUID (36 characters; KMS accepts no other UUID spelling).
pub(crate) fn parse_key_id(id: &str) -> Option<Uuid> {
    if id.len() != 36 {
        return None;
    }
    Uuid::try_parse(id).ok()
}

/// Parses a key identifier as KMS does: key id, key ARN, alias name or alias ARN. An ARN that
/// names another partition, region or account than `scope` is `NotFound`, as is anything
/// malformed (KMS answers `NotFoundException` for both).
pub(crate) fn parse_key_ref(scope: &Scope, key_id: Option<&str>) -> Result<KeyRef, KeyError> {
    let Some(given) = key_id else {
        return Ok(KeyRef::Default);
    };
    let not_found = || KeyError::NotFound(format!("Invalid keyId {given}"));
    let resource = match given.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(not_found());
            };
            if service != "kms" {
                return Err(not_found());
            }
            if partition != scope.partition || region != scope.region || account != scope.account {
                return Err(KeyError::NotFound(format!(
                    "{given} does not exist in this region and account"
                )));
            }
            match resource.strip_prefix("key/") {
                Some(id) => return parse_key_id(id).map(KeyRef::Id).ok_or_else(not_found),
                None if resource.starts_with("alias/") => resource,
                None => return Err(not_found()),
            }
        }
        None => given,
    };
    if resource.starts_with("alias/") {
        if resource == DEFAULT_ALIAS {
            return Ok(KeyRef::Default);
        }
        return Ok(KeyRef::Alias(resource.to_string()));
    }
    parse_key_id(resource).map(KeyRef::Id).ok_or_else(not_found)
}

/// Checks a customer alias name (`alias/<name>`; a bare `<name>` gets the prefix) against the
/// KMS rules: letters, digits, `/`, `_`, `-`; at most 256 characters; `alias/aws/` is reserved
/// for AWS managed keys.
pub(crate) fn normalize_alias(alias: &str) -> Result<String, KeyringError> {
    let name = if alias.starts_with("alias/") {
        alias.to_string()
    } else {
        format!("alias/{alias}")
    };
    let body = &name["alias/".len()..];
    let valid_chars = body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
    if body.is_empty() || name.len() > MAX_ALIAS_LEN || !valid_chars {
        return Err(KeyringError::InvalidArgument(format!(
            "alias {alias:?} must be alias/<name> with 1 to 250 letters, digits, '/', '_' or '-'"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KeyringError::InvalidArgument(format!(
            "alias {alias:?}: the prefix alias/aws/ is reserved for AWS managed keys"
        )));
    }
    Ok(name)
}

pub(crate) fn check_description(description: &str) -> Result<(), KeyringError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(KeyringError::InvalidArgument(format!(
            "a key description is at most {MAX_DESCRIPTION_LEN} characters"
        )));
    }
    Ok(())
}

impl State {
    /// The key of `scope` with this id (a key of another scope is not found).
    pub fn key_in_scope(&self, scope: &Scope, id: &Uuid) -> Option<&MasterKey> {
        self.keys.get(id).filter(|k| &k.scope == scope)
    }

    pub fn alias_target(&self, scope: &Scope, alias: &str) -> Option<&MasterKey> {
        let alias = self.aliases.get(&(scope.clone(), alias.to_string()))?;
        self.key_in_scope(scope, &alias.target)
    }

    pub fn lookup(&self, scope: &Scope, key: &KeyRef) -> Option<&MasterKey> {
        match key {
            KeyRef::Default => self.alias_target(scope, DEFAULT_ALIAS),
            KeyRef::Id(id) => self.key_in_scope(scope, id),
            KeyRef::Alias(alias) => self.alias_target(scope, alias),
        }
    }

    pub fn metadata(&self, key: &MasterKey) -> KeyMetadata {
        let aliases = self
            .aliases
            .iter()
            .filter(|((scope, _), alias)| scope == &key.scope && alias.target == key.id)
            .map(|((_, name), _)| name.clone())
            .collect();
        KeyMetadata {
            key_id: key.id.to_string(),
            arn: key.arn(),
            scope: key.scope.clone(),
            aliases,
            enabled: key.enabled,
            description: key.description.clone(),
            creation_date: key.creation_date,
            key_manager: key.manager,
        }
    }

    /// Adds what only `memory` knows to `self` (the state just read from disk). Keys are never
    /// deleted, so the union never forgets key material another process or an older file copy
    /// lacks; for entries both know, the disk (newer) wins. The same key id with different
    /// material means the file was tampered with: refuse rather than guess.
    pub fn absorb(&mut self, memory: &State) -> Result<(), String> {
        for (id, key) in &memory.keys {
            match self.keys.get(id) {
                Some(on_disk) if on_disk.material != key.material || on_disk.scope != key.scope => {
                    return Err(format!(
                        "key {id} has different material or scope on disk than in memory"
                    ));
                }
                Some(_) => {}
                None => {
                    self.keys.insert(*id, key.clone());
                }
            }
        }
        for (name, alias) in &memory.aliases {
            self.aliases
                .entry(name.clone())
                .or_insert_with(|| alias.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("us-east-1", "123456789012")
    }

    const ID: &str = "0b6b8f5e-4c1a-4f2e-9d3b-7a1c2e3f4a5b";

    #[test]
    fn parse_key_ref_accepts_every_kms_form() {
        let id = Uuid::parse_str(ID).unwrap();
        let s = scope();
        assert_eq!(parse_key_ref(&s, Some(ID)), Ok(KeyRef::Id(id)));
        assert_eq!(
            parse_key_ref(&s, Some(&ID.to_uppercase())),
            Ok(KeyRef::Id(id))
        );
        assert_eq!(
            parse_key_ref(&s, Some(&key_arn(&s, &id))),
            Ok(KeyRef::Id(id))
        );
        assert_eq!(
            parse_key_ref(&s, Some("alias/app")),
            Ok(KeyRef::Alias("alias/app".into()))
        );
        assert_eq!(
            parse_key_ref(&s, Some(&alias_arn(&s, "alias/app"))),
            Ok(KeyRef::Alias("alias/app".into()))
        );
        assert_eq!(parse_key_ref(&s, None), Ok(KeyRef::Default));
        assert_eq!(parse_key_ref(&s, Some(DEFAULT_ALIAS)), Ok(KeyRef::Default));
        assert_eq!(
            parse_key_ref(&s, Some(&alias_arn(&s, DEFAULT_ALIAS))),
            Ok(KeyRef::Default)
        );
    }

    #[test]
    fn parse_key_ref_other_scope_or_malformed_is_not_found() {
        let s = scope();
        let other = Scope::new("eu-west-1", "123456789012");
        let id = Uuid::parse_str(ID).unwrap();
        for bad in [
            key_arn(&other, &id),
            alias_arn(&other, "alias/app"),
            key_arn(&Scope::new("us-east-1", "210987654321"), &id),
            format!("arn:aws-cn:kms:us-east-1:123456789012:key/{ID}"),
            format!("arn:aws:s3:us-east-1:123456789012:key/{ID}"),
            "arn:aws:kms:us-east-1:123456789012:key/nope".to_string(),
            "arn:aws:kms:us-east-1".to_string(),
            ID.replace('-', ""),
            format!("{{{ID}}}"),
            "my-key".to_string(),
            String::new(),
        ] {
            assert!(
                matches!(parse_key_ref(&s, Some(&bad)), Err(KeyError::NotFound(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn normalize_alias_enforces_kms_rules() {
        assert_eq!(normalize_alias("app").unwrap(), "alias/app");
        assert_eq!(
            normalize_alias("alias/team/app_1-x").unwrap(),
            "alias/team/app_1-x"
        );
        for bad in [
            "alias/",
            "",
            "alias/a b",
            "alias/aws/secretsmanager",
            "aws/x",
            "alias/é",
        ] {
            assert!(normalize_alias(bad).is_err(), "{bad}");
        }
        assert!(normalize_alias(&format!("alias/{}", "a".repeat(250))).is_ok());
        assert!(normalize_alias(&format!("alias/{}", "a".repeat(251))).is_err());
    }

    #[test]
    fn master_key_debug_redacts_material() {
        let key = MasterKey {
            scope: scope(),
            id: Uuid::parse_str(ID).unwrap(),
            material: Zeroizing::new([0xAB; 32]),
            enabled: true,
            description: String::new(),
            creation_date: Timestamp(0),
            manager: KeyManager::Customer,
        };
        let debug = format!("{key:?}");
        assert!(debug.contains("<redacted>"));
        assert!(!debug.contains("171"), "{debug}");
    }
}
