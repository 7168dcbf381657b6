//! The state of one call's `Store`: the capabilities' per-call state, the
//! resource limiter, and nothing else.

use super::bindings::{v1, v2};
use super::capabilities::config::ConfigCall;
use super::capabilities::events::EventsCall;
use super::capabilities::http::HttpCall;
use super::capabilities::log::LogCall;
use super::capabilities::store::StoreCall;
use super::capabilities::wasi::WasiCall;
use crate::storage::Store;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// Per-call state. Built fresh for every call and dropped with the instance.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCall,
    pub(crate) http: HttpCall,
    pub(crate) store: StoreCall,
    pub(crate) log: LogCall,
    pub(crate) events: EventsCall,
    pub(crate) config: ConfigCall,
    pub(crate) limiter: Limiter,
}

impl HostState {
    pub(crate) fn new(
        tool: Arc<str>,
        request_id: String,
        subject: Option<String>,
        store: Store,
        limits: &super::Limits,
        links: super::CallLinks,
    ) -> Self {
        let super::CallLinks {
            grant,
            cancel,
            events,
            config,
        } = links;
        let env = grant.as_ref().map(|g| g.environment()).unwrap_or_default();
        HostState {
            wasi: WasiCall::new(limits, &env),
            http: HttpCall::new(grant),
            store: StoreCall::new(store, subject),
            log: LogCall::new(tool, request_id, limits.log_bytes),
            events: EventsCall::new(events, cancel),
            config: ConfigCall::new(config),
            limiter: Limiter::new(limits.memory_bytes, limits.table_elements),
        }
    }

    /// Link every capability, each with its own part of the state.
    pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        super::capabilities::wasi::add_to_linker(linker)?;
        super::capabilities::http::add_to_linker(linker)?;
        v1::types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
        v2::types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
        super::capabilities::store::add_to_linker::<HostState, HasSelf<StoreCall>>(linker, |s| {
            &mut s.store
        })?;
        super::capabilities::log::add_to_linker::<HostState, HasSelf<LogCall>>(linker, |s| {
            &mut s.log
        })?;
        super::capabilities::events::add_to_linker::<HostState, HasSelf<EventsCall>>(
            linker,
            |s| &mut s.events,
        )?;
        super::capabilities::config::add_to_linker::<HostState, HasSelf<ConfigCall>>(linker, |s| {
            &mut s.config
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.view()
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http.ctx,
            table: &mut self.wasi.table,
            hooks: &mut self.http.hooks,
        }
    }
}

impl v1::types::Host for HostState {}
impl v2::types::Host for HostState {}

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
