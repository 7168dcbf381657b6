//! An in-memory backend: for tests and for `toolhost call` without `--data`.

use super::{Backend, Entry, ScanRequest, Scope, StorageError, prefix_upper_bound};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

/// One scope's keys, in byte order.
type Keys = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keys live in one ordered map per scope; nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    scopes: RwLock<BTreeMap<Scope, Keys>>,
}

fn poisoned() -> StorageError {
    StorageError::Backend("memory store lock poisoned".into())
}

impl Backend for MemoryStore {
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let scopes = self.scopes.read().map_err(|_| poisoned())?;
        Ok(scopes
            .get(scope)
            .and_then(|m| m.get(key.as_bytes()).cloned()))
    }

    fn put(&self, scope: &Scope, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let mut scopes = self.scopes.write().map_err(|_| poisoned())?;
        scopes
            .entry(scope.clone())
            .or_default()
            .insert(key.as_bytes().to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, scope: &Scope, key: &str) -> Result<bool, StorageError> {
        let mut scopes = self.scopes.write().map_err(|_| poisoned())?;
        Ok(scopes
            .get_mut(scope)
            .is_some_and(|m| m.remove(key.as_bytes()).is_some()))
    }

    fn scan(&self, scope: &Scope, request: &ScanRequest) -> Result<Vec<Entry>, StorageError> {
        let scopes = self.scopes.read().map_err(|_| poisoned())?;
        let Some(map) = scopes.get(scope) else {
            return Ok(Vec::new());
        };
        let prefix = request.prefix.as_bytes().to_vec();
        let mut lower = Bound::Included(prefix.clone());
        let mut upper = match prefix_upper_bound(&prefix) {
            Some(u) => Bound::Excluded(u),
            None => Bound::Unbounded,
        };
        if let Some(after) = &request.start_after {
            let after = after.as_bytes().to_vec();
            if request.reverse {
                if matches!(&upper, Bound::Unbounded)
                    || matches!(&upper, Bound::Excluded(u) if after < *u)
                {
                    upper = Bound::Excluded(after);
                }
            } else if after >= prefix {
                lower = Bound::Excluded(after);
            }
        }
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) = (&lower, &upper)
            && l >= u
        {
            return Ok(Vec::new());
        }
        let range = map.range((lower, upper));
        let to_entry = |(k, v): (&Vec<u8>, &Vec<u8>)| Entry {
            key: String::from_utf8_lossy(k).into_owned(),
            value: v.clone(),
        };
        let limit = request.limit as usize;
        Ok(if request.reverse {
            range.rev().take(limit).map(to_entry).collect()
        } else {
            range.take(limit).map(to_entry).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_backend_conforms() {
        super::super::conformance::run_all(&super::MemoryStore::default());
    }
}
