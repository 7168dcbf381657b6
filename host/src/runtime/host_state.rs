//! The state of one call's `Store`: what the instance may reach, and nothing else.

use super::bindings::{log, store, types};
use super::output::CappedPipe;
use crate::storage::{ScanRequest, Scope, StorageError, Store};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Per-call state. Built fresh for every call and dropped with the instance.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    /// The caller's subject; `None` while `describe` runs (no caller, no data).
    subject: Option<String>,
    store: Store,
    tool: Arc<str>,
    request_id: String,
    log_left: usize,
    log_dropped: usize,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
}

impl HostState {
    pub(crate) fn new(
        tool: Arc<str>,
        request_id: String,
        subject: Option<String>,
        store: Store,
        limits: &super::Limits,
    ) -> Self {
        let stdout = CappedPipe::new(limits.log_bytes);
        let stderr = CappedPipe::new(limits.log_bytes);
        // No preopened directories, no environment, no arguments, no network
        // (the default socket check denies every address), no name lookup,
        // empty stdin. Stdout and stderr are captured into the host's log.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits.memory_bytes, limits.table_elements),
            subject,
            store,
            tool,
            request_id,
            log_left: limits.log_bytes,
            log_dropped: 0,
            stdout,
            stderr,
        }
    }

    fn scope(&self, bucket: &str) -> Result<Scope, store::StoreError> {
        let Some(subject) = &self.subject else {
            return Err(store::StoreError::Invalid(
                "the store is not available while the tool describes itself".into(),
            ));
        };
        Scope::new(bucket, subject).map_err(to_wit)
    }

    /// Log lines the call wrote beyond its budget.
    pub(crate) fn log_dropped(&self) -> usize {
        self.log_dropped
    }
}

fn to_wit(e: StorageError) -> store::StoreError {
    match e {
        StorageError::Invalid(m) => store::StoreError::Invalid(m),
        other => {
            // The detail stays in the host log; the tool sees a safe message.
            tracing::error!(error = %other, "storage failed during a tool call");
            store::StoreError::Backend("the host's storage failed; the error is logged".into())
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl store::Host for HostState {
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

impl log::Host for HostState {
    fn write(&mut self, level: log::Level, message: String) {
        if message.len() > self.log_left {
            self.log_dropped += 1;
            return;
        }
        self.log_left -= message.len();
        let (tool, request_id) = (&*self.tool, &self.request_id);
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "toolhost::plugin", tool, request_id, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "toolhost::plugin", tool, request_id, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "toolhost::plugin", tool, request_id, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "toolhost::plugin", tool, request_id, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "toolhost::plugin", tool, request_id, "{message}")
            }
        }
    }
}

/// Caps memory and table growth, and remembers a refused growth so that the
/// trap that usually follows can be reported as "memory limit", not as a bug.
pub(crate) struct Limiter {
    memory_bytes: usize,
    table_elements: usize,
    pub(crate) memory_refused: bool,
}

impl Limiter {
    fn new(memory_bytes: usize, table_elements: usize) -> Self {
        Limiter {
            memory_bytes,
            table_elements,
            memory_refused: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}
