//! `toolhost:plugin/store`: the key/value store, partitioned by the caller.
//!
//! The tool names a bucket and a key; the host adds the subject of the
//! verified caller, so no tool can name another user's data. While a tool
//! describes itself there is no caller and the store refuses every call.

use super::super::bindings::{v1::store, v2};
use crate::storage::{ScanRequest, Scope, StorageError, Store};
use wasmtime::component::{HasData, Linker};

/// Link the store capability; `get` finds a call's [`StoreCall`] in `T`.
pub(crate) fn add_to_linker<T, D>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    T: 'static,
    D: HasData,
    for<'a> D::Data<'a>: store::Host + v2::store::Host,
{
    store::add_to_linker::<T, D>(linker, get)?;
    v2::store::add_to_linker::<T, D>(linker, get)
}

/// One call's view of the store: the host's store and the caller.
pub(crate) struct StoreCall {
    store: Store,
    /// The caller's subject; `None` while `describe` runs (no caller, no data).
    subject: Option<String>,
}

impl StoreCall {
    /// `store` as `subject` sees it (`None`: nobody, during `describe`).
    pub(crate) fn new(store: Store, subject: Option<String>) -> Self {
        StoreCall { store, subject }
    }

    fn scope(&self, bucket: &str) -> Result<Scope, store::StoreError> {
        let Some(subject) = &self.subject else {
            return Err(store::StoreError::Invalid(
                "the store is not available while the tool describes itself".into(),
            ));
        };
        Scope::new(bucket, subject).map_err(to_wit)
    }
}

fn to_wit(e: StorageError) -> store::StoreError {
    match e {
        StorageError::Invalid(m) => store::StoreError::Invalid(m),
        StorageError::Unavailable(why) => {
            tracing::warn!(error = %why, "storage unavailable during a tool call");
            store::StoreError::Backend(
                "the host's storage is unavailable right now; retry shortly".into(),
            )
        }
        other => {
            // The detail stays in the host log; the tool sees a safe message.
            tracing::error!(error = %other, "storage failed during a tool call");
            store::StoreError::Backend("the host's storage failed; the error is logged".into())
        }
    }
}

impl store::Host for StoreCall {
    fn max_scan_limit(&mut self) -> u32 {
        crate::storage::MAX_SCAN_LIMIT
    }

    fn get(&mut self, bucket: String, key: String) -> Result<Option<Vec<u8>>, store::StoreError> {
        let scope = self.scope(&bucket)?;
        self.store.get(&scope, &key).map_err(to_wit)
    }

    fn set(
        &mut self,
        bucket: String,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::StoreError> {
        let scope = self.scope(&bucket)?;
        self.store.put(&scope, &key, &value).map_err(to_wit)
    }

    fn delete(&mut self, bucket: String, key: String) -> Result<bool, store::StoreError> {
        let scope = self.scope(&bucket)?;
        self.store.delete(&scope, &key).map_err(to_wit)
    }

    fn scan(
        &mut self,
        bucket: String,
        request: store::ScanRequest,
    ) -> Result<Vec<store::Entry>, store::StoreError> {
        let scope = self.scope(&bucket)?;
        let request = ScanRequest {
            prefix: request.prefix,
            start_after: request.start_after,
            limit: request.limit,
            reverse: request.reverse,
        };
        let entries = self.store.scan(&scope, &request).map_err(to_wit)?;
        Ok(entries
            .into_iter()
            .map(|e| store::Entry {
                key: e.key,
                value: e.value,
            })
            .collect())
    }
}

/// 0.2's store is 0.1's under another name: the same calls, the same data.
impl v2::store::Host for StoreCall {
    fn max_scan_limit(&mut self) -> u32 {
        store::Host::max_scan_limit(self)
    }

    fn get(
        &mut self,
        bucket: String,
        key: String,
    ) -> Result<Option<Vec<u8>>, v2::store::StoreError> {
        store::Host::get(self, bucket, key).map_err(to_v2)
    }

    fn set(
        &mut self,
        bucket: String,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), v2::store::StoreError> {
        store::Host::set(self, bucket, key, value).map_err(to_v2)
    }

    fn delete(&mut self, bucket: String, key: String) -> Result<bool, v2::store::StoreError> {
        store::Host::delete(self, bucket, key).map_err(to_v2)
    }

    fn scan(
        &mut self,
        bucket: String,
        request: v2::store::ScanRequest,
    ) -> Result<Vec<v2::store::Entry>, v2::store::StoreError> {
        let request = store::ScanRequest {
            prefix: request.prefix,
            start_after: request.start_after,
            limit: request.limit,
            reverse: request.reverse,
        };
        let entries = store::Host::scan(self, bucket, request).map_err(to_v2)?;
        Ok(entries
            .into_iter()
            .map(|e| v2::store::Entry {
                key: e.key,
                value: e.value,
            })
            .collect())
    }
}

fn to_v2(e: store::StoreError) -> v2::store::StoreError {
    match e {
        store::StoreError::Invalid(m) => v2::store::StoreError::Invalid(m),
        store::StoreError::Backend(m) => v2::store::StoreError::Backend(m),
    }
}

#[cfg(test)]
mod tests {
    use super::store::Host;
    use super::*;

    fn scan(prefix: &str, limit: u32) -> store::ScanRequest {
        store::ScanRequest {
            prefix: prefix.into(),
            start_after: None,
            limit,
            reverse: false,
        }
    }

    #[test]
    fn each_caller_sees_only_its_own_keys() {
        let shared = Store::in_memory();
        let mut alice = StoreCall::new(shared.clone(), Some("alice".into()));
        let mut bob = StoreCall::new(shared.clone(), Some("bob".into()));
        alice
            .set("notes".into(), "k".into(), b"a".to_vec())
            .unwrap();
        bob.set("notes".into(), "k".into(), b"b".to_vec()).unwrap();
        assert_eq!(
            alice.get("notes".into(), "k".into()).unwrap(),
            Some(b"a".to_vec())
        );
        assert_eq!(
            bob.get("notes".into(), "k".into()).unwrap(),
            Some(b"b".to_vec())
        );
        assert!(alice.delete("notes".into(), "k".into()).unwrap());
        assert_eq!(bob.scan("notes".into(), scan("", 10)).unwrap().len(), 1);
        assert!(alice.scan("notes".into(), scan("", 10)).unwrap().is_empty());
    }

    #[test]
    fn nothing_is_reachable_while_describing_and_bad_names_are_the_tools_fault() {
        let mut describing = StoreCall::new(Store::in_memory(), None);
        match describing.get("notes".into(), "k".into()) {
            Err(store::StoreError::Invalid(m)) => assert!(m.contains("describes itself"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut alice = StoreCall::new(Store::in_memory(), Some("alice".into()));
        assert!(matches!(
            alice.get("Bad Bucket".into(), "k".into()),
            Err(store::StoreError::Invalid(_))
        ));
        assert!(matches!(
            alice.scan("notes".into(), scan("", 0)),
            Err(store::StoreError::Invalid(_))
        ));
        assert_eq!(alice.max_scan_limit(), crate::storage::MAX_SCAN_LIMIT);
    }
}
