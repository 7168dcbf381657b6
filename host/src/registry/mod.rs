//! The live tool set: tool name → what serves it, a plugin version or a
//! tool compiled into the host.
//!
//! Readers take a snapshot (an `Arc` of an immutable map), so a call that
//! looked up version N keeps it until the call ends, whatever is published
//! meanwhile. Writers publish a whole new map; subscribers learn that the tool
//! set changed through a generation counter. Native tools sit beside the
//! plugins and hide a plugin of the same name.

mod directory;
pub mod native;
mod watcher;

pub use directory::{PluginDir, Reconciled};
pub use watcher::{WatchConfig, spawn_watcher};

use crate::Principal;
use crate::runtime::{CallError, CallLinks, Limits, Plugin, ToolInfo, ToolOutput};
use crate::storage::Store;
use native::{NativeCall, NativeTool};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// What serves one tool name.
#[derive(Clone)]
#[non_exhaustive]
pub enum Entry {
    /// A loaded plugin version.
    Plugin(Plugin),
    /// A tool compiled into the host.
    Native(Arc<dyn NativeTool>),
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Plugin(p) => p.fmt(f),
            Entry::Native(n) => f.debug_tuple("Native").field(&n.info().name).finish(),
        }
    }
}

impl Entry {
    /// What the tool says about itself.
    pub fn info(&self) -> &ToolInfo {
        match self {
            Entry::Plugin(p) => p.info(),
            Entry::Native(n) => n.info(),
        }
    }

    /// The tool name.
    pub fn name(&self) -> &str {
        &self.info().name
    }

    /// The serving version: a plugin's short content hash, or `native`.
    pub fn version(&self) -> &str {
        match self {
            Entry::Plugin(p) => p.version(),
            Entry::Native(_) => "native",
        }
    }

    /// The plugin version, when a plugin serves the name.
    pub fn plugin(&self) -> Option<&Plugin> {
        match self {
            Entry::Plugin(p) => Some(p),
            Entry::Native(_) => None,
        }
    }

    /// Run one call as `principal` under `limits` (a plugin's sandbox
    /// limits; a native tool has none), a plugin reaching the APIs of
    /// `links.grant`, stopping when `links.cancel` is raised and notifying
    /// `links.events` (a native tool runs to its end and notifies nothing). Blocking: run it on a thread that may block.
    pub fn call(
        &self,
        principal: &Principal,
        request_id: &str,
        arguments: &Value,
        limits: &Limits,
        store: &Store,
        links: &CallLinks,
    ) -> Result<ToolOutput, CallError> {
        match self {
            Entry::Plugin(plugin) => {
                plugin.call_with_limits(principal, request_id, arguments, limits, links)
            }
            Entry::Native(tool) => native::run(
                &**tool,
                &NativeCall::new(principal, request_id, store),
                arguments,
            ),
        }
    }
}

/// One published tool set.
#[derive(Debug, Default)]
pub struct Tools {
    by_name: BTreeMap<String, Entry>,
    generation: u64,
}

impl Tools {
    /// What serves `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name)
    }

    /// Every tool, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.by_name.values()
    }

    /// How many tools.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no tools.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Increases by one with every change of the tool set.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[derive(Default)]
struct Sources {
    plugins: BTreeMap<String, Plugin>,
    natives: BTreeMap<String, Arc<dyn NativeTool>>,
}

impl Sources {
    fn merged(&self) -> BTreeMap<String, Entry> {
        let plugins = (self.plugins.iter()).map(|(n, p)| (n.clone(), Entry::Plugin(p.clone())));
        let natives = (self.natives.iter()).map(|(n, t)| (n.clone(), Entry::Native(t.clone())));
        // Natives last: a native tool hides a plugin of the same name.
        plugins.chain(natives).collect()
    }
}

/// The registry. Cheap to clone; clones share the tool set.
#[derive(Clone)]
pub struct Registry {
    current: Arc<RwLock<Arc<Tools>>>,
    sources: Arc<RwLock<Sources>>,
    changes: watch::Sender<u64>,
    problems: Arc<RwLock<BTreeMap<PathBuf, String>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools = self.snapshot();
        f.debug_struct("Registry")
            .field("tools", &tools.by_name.keys().collect::<Vec<_>>())
            .field("generation", &tools.generation)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            current: Arc::new(RwLock::new(Arc::new(Tools::default()))),
            sources: Arc::default(),
            changes: watch::channel(0).0,
            problems: Arc::default(),
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The current tool set. Holding it keeps its plugin versions alive.
    pub fn snapshot(&self) -> Arc<Tools> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What serves `name` now.
    pub fn entry(&self, name: &str) -> Option<Entry> {
        self.snapshot().get(name).cloned()
    }

    /// The plugin version serving `name` now (`None` when no tool or a
    /// native tool has the name).
    pub fn get(&self, name: &str) -> Option<Plugin> {
        self.entry(name).and_then(|e| e.plugin().cloned())
    }

    /// A receiver that sees the generation of every published change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Plugin files that do not serve, and why: the last load failed (an
    /// older version may still serve), or another file serves the same name.
    pub fn problems(&self) -> BTreeMap<PathBuf, String> {
        self.problems
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Record the current problem files (see [`Registry::problems`]).
    pub fn set_problems(&self, problems: BTreeMap<PathBuf, String>) {
        *self.problems.write().unwrap_or_else(|e| e.into_inner()) = problems;
    }

    /// Serve `tool` beside the plugins (replacing a native tool of the same
    /// name, hiding a plugin of that name); subscribers are told.
    pub fn add_native(&self, tool: Arc<dyn NativeTool>) {
        let mut sources = self.sources.write().unwrap_or_else(|e| e.into_inner());
        sources.natives.insert(tool.info().name.clone(), tool);
        self.replace(sources.merged());
    }

    /// Replace the plugins with `plugins`. Returns true (and notifies
    /// subscribers) if the tool set changed: a tool added or removed, or
    /// served by a different plugin version.
    pub fn publish(&self, plugins: BTreeMap<String, Plugin>) -> bool {
        let mut sources = self.sources.write().unwrap_or_else(|e| e.into_inner());
        let same = sources.plugins.len() == plugins.len()
            && (sources.plugins.iter())
                .zip(plugins.iter())
                .all(|((a, pa), (b, pb))| a == b && pa.content_hash() == pb.content_hash());
        if same {
            return false;
        }
        sources.plugins = plugins;
        self.replace(sources.merged());
        true
    }

    /// Publish `by_name` as the next generation (the sources lock held, so
    /// publications are in order).
    fn replace(&self, by_name: BTreeMap<String, Entry>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let generation = current.generation + 1;
        *current = Arc::new(Tools {
            by_name,
            generation,
        });
        drop(current);
        self.changes.send_replace(generation);
    }
}
