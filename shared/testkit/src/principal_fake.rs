//! `InMemoryPrincipalStore`: a fake of the `PrincipalStore` port for service tests.

use async_trait::async_trait;
use coffer_core::identity::principals::{AccessKeyRecord, PrincipalRecord, PrincipalType};
use coffer_core::ports::PrincipalStore;
use coffer_core::ports::RepositoryError;
use std::collections::BTreeMap;
use std::sync::Mutex;

type PrincipalKey = (String, PrincipalType, String);

#[derive(Default)]
pub struct InMemoryPrincipalStore {
    principals: Mutex<BTreeMap<(String, u8, String), PrincipalRecord>>,
    keys: Mutex<BTreeMap<String, AccessKeyRecord>>,
}

fn key((account, kind, name): PrincipalKey) -> (String, u8, String) {
    (account, kind as u8, name)
}

impl InMemoryPrincipalStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PrincipalStore for InMemoryPrincipalStore {
    async fn insert_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        let mut all = self.principals.lock().unwrap();
        let k = key((record.account.clone(), record.kind, record.name.clone()));
        if all.contains_key(&k) {
            return Err(RepositoryError::NameTaken);
        }
        all.insert(k, record.clone());
        Ok(())
    }

    async fn put_principal(&self, record: &PrincipalRecord) -> Result<(), RepositoryError> {
        let mut all = self.principals.lock().unwrap();
        let k = key((record.account.clone(), record.kind, record.name.clone()));
        match all.get_mut(&k) {
            Some(slot) => {
                *slot = record.clone();
                Ok(())
            }
            None => Err(RepositoryError::Conflict),
        }
    }

    async fn get_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<Option<PrincipalRecord>, RepositoryError> {
        let k = key((account.to_string(), kind, name.to_string()));
        Ok(self.principals.lock().unwrap().get(&k).cloned())
    }

    async fn delete_principal(
        &self,
        account: &str,
        kind: PrincipalType,
        name: &str,
    ) -> Result<bool, RepositoryError> {
        let k = key((account.to_string(), kind, name.to_string()));
        Ok(self.principals.lock().unwrap().remove(&k).is_some())
    }

    async fn list_principals(
        &self,
        account: &str,
        kind: PrincipalType,
    ) -> Result<Vec<PrincipalRecord>, RepositoryError> {
        Ok(self
            .principals
            .lock()
            .unwrap()
            .values()
            .filter(|p| p.account == account && p.kind == kind)
            .cloned()
            .collect())
    }

    async fn insert_access_key(&self, record: &AccessKeyRecord) -> Result<(), RepositoryError> {
        let mut all = self.keys.lock().unwrap();
        if all.contains_key(&record.access_key_id) {
            return Err(RepositoryError::NameTaken);
        }
        all.insert(record.access_key_id.clone(), record.clone());
        Ok(())
    }

    async fn get_access_key(
        &self,
        access_key_id: &str,
    ) -> Result<Option<AccessKeyRecord>, RepositoryError> {
        Ok(self.keys.lock().unwrap().get(access_key_id).cloned())
    }

    async fn delete_access_key(&self, access_key_id: &str) -> Result<bool, RepositoryError> {
        Ok(self.keys.lock().unwrap().remove(access_key_id).is_some())
    }

    async fn list_access_keys(
        &self,
        account: &str,
        user_name: &str,
    ) -> Result<Vec<AccessKeyRecord>, RepositoryError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .values()
            .filter(|k| k.account == account && k.user_name == user_name)
            .cloned()
            .collect())
    }
}
