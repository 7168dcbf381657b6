//! The live tool set: tool name → the plugin version that serves it.
//!
//! Readers take a snapshot (an `Arc` of an immutable map), so a call that
//! looked up version N keeps it until the call ends, whatever is published
//! meanwhile. Writers publish a whole new map; subscribers learn that the tool
//! set changed through a generation counter.

mod directory;
mod watcher;

pub use directory::{PluginDir, Reconciled};
pub use watcher::{WatchConfig, spawn_watcher};

use crate::runtime::Plugin;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// One published tool set.
#[derive(Debug, Default)]
pub struct Tools {
    by_name: BTreeMap<String, Plugin>,
    generation: u64,
}

impl Tools {
    /// The plugin serving `name`.
    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.by_name.get(name)
    }

    /// Every tool, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Plugin> {
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

/// The registry. Cheap to clone; clones share the tool set.
#[derive(Clone)]
pub struct Registry {
    current: Arc<RwLock<Arc<Tools>>>,
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

    /// The plugin currently serving `name`.
    pub fn get(&self, name: &str) -> Option<Plugin> {
        self.snapshot().get(name).cloned()
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

    /// Tell subscribers the tool list changed for a reason outside the
    /// plugin set (a native tool added): a new generation, same plugins.
    pub fn touch(&self) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let generation = current.generation + 1;
        *current = Arc::new(Tools {
            by_name: current.by_name.clone(),
            generation,
        });
        drop(current);
        self.changes.send_replace(generation);
    }

    /// Replace the tool set with `tools`. Returns true (and notifies
    /// subscribers) if it differs from the current one: a tool added or
    /// removed, or served by a different plugin version.
    pub fn publish(&self, tools: BTreeMap<String, Plugin>) -> bool {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let same = current.by_name.len() == tools.len()
            && current
                .by_name
                .iter()
                .zip(tools.iter())
                .all(|((a, pa), (b, pb))| a == b && pa.content_hash() == pb.content_hash());
        if same {
            return false;
        }
        let generation = current.generation + 1;
        *current = Arc::new(Tools {
            by_name: tools,
            generation,
        });
        drop(current);
        self.changes.send_replace(generation);
        true
    }
}
