//! The WebAssembly runtime: loads tool components and runs their calls.
//!
//! One [`Runtime`] owns one wasmtime `Engine` (pooling allocator, epoch
//! interruption), one `Linker` with WASI Preview 2 (nothing granted) and the
//! toolhost host services, and the compiled-artifact cache. Loading a file
//! produces a [`Plugin`]: the compiled component, an `InstancePre` built once,
//! and the validated description. Every call gets a fresh `Store` and
//! instance, so no state leaks between calls or callers, and a trap takes
//! down only that instance.

mod bindings;
mod cache;
mod capabilities;
mod error;
mod host_state;
mod limits;
mod output;
mod plugin;
mod schema;
mod served;
mod signals;
mod uri_template;

pub use cache::{ArtifactCache, CacheOutcome, Pruned, UNUSED_BUDGET_BYTES, content_hash};
pub use capabilities::events::{ASK_WAIT, MAX_ASKS, MAX_NOTIFY, MAX_PROGRESS, MAX_UPDATES};
pub use error::{CallError, LoadError, RuntimeError, ToolError};
pub use limits::{Limits, LimitsOverride};
pub use output::{Content, EmbeddedResource, ResourceBody, ResourceLink, ToolOutput};
pub use plugin::{
    Annotations, Component, Contract, LoadReport, Plugin, ToolInfo, is_tool_name, prompt_label,
    resource_label,
};
pub use schema::{ObjectSchema, SchemaError};
pub use served::{
    MessageRole, PromptArgument, PromptInfo, PromptMessage, PromptOutput, ResourceContents,
    ResourceInfo, ResourceRequest, TemplateInfo,
};
pub use signals::{
    Answered, Ask, CallEvent, CallLinks, Cancel, ClientLevel, EventSink, Question, ToolConfig,
};
pub use uri_template::{MAX_URI_BYTES, UriTemplate, check_uri};

use crate::storage::Store;
use host_state::HostState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Default for [`RuntimeConfig::keep_resident_bytes`].
pub const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// How often the epoch advances; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled artifacts are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Bytes of cached artifacts that no loaded version uses kept by
    /// [`Runtime::prune_artifacts`] (the most recently compiled first).
    pub cache_unused_bytes: u64,
    /// Per-call limits.
    pub limits: Limits,
    /// Instances that may exist at once (the pooling allocator's size).
    /// Zero selects on-demand allocation instead of a pool.
    pub max_instances: u32,
    /// Bytes of each pooled linear memory reset with `memset` instead of
    /// being returned to the OS when an instance is dropped, so the next
    /// instance in that slot does not page-fault them back in.
    pub keep_resident_bytes: usize,
    /// Find the pages a call dirtied with Linux's `PAGEMAP_SCAN` (6.7+) and
    /// reset only those (up to `keep_resident_bytes`), instead of assuming
    /// the low addresses are dirty and `madvise`-ing the rest: fewer page
    /// faults and TLB shootdowns when many calls run at once. Ignored where
    /// unsupported.
    pub pagemap_scan: bool,
    /// The largest linear memory any instance may have, which sizes the
    /// pool's memory slots; at least `limits.memory_bytes`. Set it when some
    /// tools get a larger memory limit than the default.
    pub pool_memory_bytes: Option<usize>,
    /// The most table elements any instance may have; at least
    /// `limits.table_elements` (like `pool_memory_bytes`).
    pub pool_table_elements: Option<usize>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            cache_unused_bytes: UNUSED_BUDGET_BYTES,
            limits: Limits::default(),
            max_instances: 128,
            keep_resident_bytes: KEEP_RESIDENT_BYTES,
            pagemap_scan: true,
            pool_memory_bytes: None,
            pool_table_elements: None,
        }
    }
}

/// Loads plugins and runs them. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<ArtifactCache>,
    limits: Limits,
    store: Store,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.shared.cache)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

fn engine_config(
    max_instances: u32,
    keep_resident: usize,
    pagemap_scan: bool,
    memory_bytes: usize,
    table_elements: usize,
) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if max_instances > 0 {
        let mut pool = PoolingAllocationConfig::default();
        // Rust tools have one core instance and memory; JavaScript and Python
        // components have a few dozen core instances and several memories.
        pool.total_component_instances(max_instances)
            .total_core_instances(max_instances.saturating_mul(8))
            .total_memories(max_instances.saturating_mul(2))
            .total_tables(max_instances.saturating_mul(8))
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(64)
            .max_memory_size(memory_bytes)
            .table_elements(table_elements)
            .linear_memory_keep_resident(keep_resident)
            .pagemap_scan(if pagemap_scan {
                wasmtime::Enabled::Auto
            } else {
                wasmtime::Enabled::No
            })
            .table_keep_resident(keep_resident.min(64 << 10));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Runtime {
    /// A runtime whose tools use `store`.
    pub fn new(config: RuntimeConfig, store: Store) -> Result<Self, RuntimeError> {
        let memory_bytes = config
            .pool_memory_bytes
            .unwrap_or(0)
            .max(config.limits.memory_bytes);
        let table_elements = config
            .pool_table_elements
            .unwrap_or(0)
            .max(config.limits.table_elements);
        let engine = match Engine::new(&engine_config(
            config.max_instances,
            config.keep_resident_bytes,
            config.pagemap_scan,
            memory_bytes,
            table_elements,
        )) {
            Ok(e) => e,
            Err(e) if config.max_instances > 0 => {
                // A pool reserves address space up front; where that is not
                // allowed (tight ulimits), on-demand allocation still works.
                tracing::warn!(error = %e, "instance pool unavailable; allocating on demand");
                Engine::new(&engine_config(0, 0, false, memory_bytes, table_elements))
                    .map_err(|e| RuntimeError::Engine(e.to_string()))?
            }
            Err(e) => return Err(RuntimeError::Engine(e.to_string())),
        };
        let mut linker = Linker::<HostState>::new(&engine);
        HostState::add_to_linker(&mut linker).map_err(|e| RuntimeError::Engine(e.to_string()))?;
        let cache = match &config.cache_dir {
            None => None,
            Some(dir) => Some(
                ArtifactCache::open(dir, &engine)
                    .map_err(|source| RuntimeError::Cache {
                        path: dir.clone(),
                        source,
                    })?
                    .with_unused_budget(config.cache_unused_bytes),
            ),
        };
        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linker,
                cache,
                limits: config.limits,
                store,
            }),
        })
    }

    /// The store tools of this runtime use.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The per-call limits.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Load the component in `path`: compile it (or read the cached
    /// artifact), link it, call `describe` once and validate the answer.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_bytes(path, &bytes)
    }

    /// Delete cached artifacts that no version in `in_use` (content hashes)
    /// needs, beyond the unused budget. Blocking (file I/O).
    pub fn prune_artifacts(&self, in_use: &std::collections::HashSet<String>) -> Pruned {
        let Some(cache) = &self.shared.cache else {
            return Pruned::default();
        };
        cache.prune(in_use).unwrap_or_else(|e| {
            tracing::warn!(dir = %cache.dir().display(), error = %e, "pruning compiled artifacts failed");
            Pruned::default()
        })
    }

    /// Load a component from `bytes`; `path` names it in errors and logs.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let component = self.load_component(path, bytes)?;
        component
            .tools()
            .next()
            .ok_or_else(|| LoadError::InvalidInfo {
                path: path.to_path_buf(),
                reason: "the component serves no tool (only resources or prompts)".into(),
            })
    }

    /// Load the component in `bytes` (read from `path`) with everything it
    /// serves: tools, resources, resource templates and prompts.
    pub fn load_component(&self, path: &Path, bytes: &[u8]) -> Result<Component, LoadError> {
        plugin::load(&self.shared, path, bytes)
    }
}

/// Advance the engine's epoch every tick until the engine is dropped, so
/// call deadlines fire without a thread per call.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("toolhost-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the epoch thread: call deadlines will not fire");
    }
}
