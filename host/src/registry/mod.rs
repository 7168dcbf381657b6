//! What the host serves now: tool name → what serves it (a plugin version
//! or a tool compiled into the host), and the resources, resource templates
//! and prompts of the components.
//!
//! Readers take a snapshot (an `Arc` of immutable maps), so a call that
//! looked up version N keeps it until the call ends, whatever is published
//! meanwhile. Writers publish a whole new set; subscribers learn that it
//! changed through a generation counter, and which lists changed from the
//! snapshot's per-list generations. Native tools sit beside the plugins and
//! hide a plugin of the same name.

mod directory;
pub mod native;
mod watcher;

pub use directory::{PluginDir, Reconciled};
pub use watcher::{WatchConfig, spawn_watcher};

use crate::Principal;
use crate::runtime::{
    CallError, CallLinks, Component, Limits, Plugin, PromptInfo, ResourceInfo, ResourceRequest,
    TemplateInfo, ToolInfo, ToolOutput,
};
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

/// A resource of a component version: one at a fixed URI, or a template.
#[derive(Clone)]
pub struct ResourceEntry {
    component: Component,
    index: usize,
    template: bool,
}

impl std::fmt::Debug for ResourceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceEntry")
            .field("key", &self.key())
            .field("version", &self.component.version())
            .finish()
    }
}

impl ResourceEntry {
    /// The resource at a fixed URI, `index` of `component`'s resources.
    pub fn fixed(component: Component, index: usize) -> Self {
        ResourceEntry {
            component,
            index,
            template: false,
        }
    }

    /// The template `index` of `component`'s templates.
    pub fn template(component: Component, index: usize) -> Self {
        ResourceEntry {
            component,
            index,
            template: true,
        }
    }

    /// The component version serving it.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The fixed resource's description, if it is one.
    pub fn resource(&self) -> Option<&ResourceInfo> {
        (!self.template).then(|| &self.component.resources()[self.index])
    }

    /// The template's description, if it is one.
    pub fn template_info(&self) -> Option<&TemplateInfo> {
        self.template
            .then(|| &self.component.templates()[self.index])
    }

    /// Its URI, or its template: its key in the registry and the policy.
    pub fn key(&self) -> &str {
        match (self.resource(), self.template_info()) {
            (Some(r), _) => &r.uri,
            (_, Some(t)) => t.template.as_str(),
            _ => "",
        }
    }

    /// The roles the component allows by default.
    pub fn roles(&self) -> &[String] {
        match (self.resource(), self.template_info()) {
            (Some(r), _) => &r.roles,
            (_, Some(t)) => &t.roles,
            _ => &[],
        }
    }
}

/// A prompt of a component version.
#[derive(Clone)]
pub struct PromptEntry {
    component: Component,
    index: usize,
}

impl std::fmt::Debug for PromptEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptEntry")
            .field("name", &self.info().name)
            .field("version", &self.component.version())
            .finish()
    }
}

impl PromptEntry {
    /// The prompt `index` of `component`'s prompts.
    pub fn new(component: Component, index: usize) -> Self {
        PromptEntry { component, index }
    }

    /// The component version serving it.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Its description.
    pub fn info(&self) -> &PromptInfo {
        &self.component.prompts()[self.index]
    }
}

/// What the plugins serve, as published to the registry: each key once.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Tools by name.
    pub tools: BTreeMap<String, Plugin>,
    /// Resources by URI.
    pub resources: BTreeMap<String, ResourceEntry>,
    /// Resource templates by template.
    pub templates: BTreeMap<String, ResourceEntry>,
    /// Prompts by name.
    pub prompts: BTreeMap<String, PromptEntry>,
}

impl From<BTreeMap<String, Plugin>> for Catalog {
    fn from(tools: BTreeMap<String, Plugin>) -> Self {
        Catalog {
            tools,
            ..Catalog::default()
        }
    }
}

/// Whether two maps have the same keys served by the same versions.
fn same_versions<V>(
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    hash: impl Fn(&V) -> &str,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && hash(va) == hash(vb))
}

/// The generation at which each list last changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Generations {
    /// The tools list.
    pub tools: u64,
    /// The resources and resource templates lists.
    pub resources: u64,
    /// The prompts list.
    pub prompts: u64,
}

/// One published set of tools, resources and prompts.
#[derive(Debug, Default)]
pub struct Tools {
    by_name: BTreeMap<String, Entry>,
    resources: BTreeMap<String, ResourceEntry>,
    templates: BTreeMap<String, ResourceEntry>,
    /// The templates in matching order: most literal text first.
    template_order: Vec<ResourceEntry>,
    prompts: BTreeMap<String, PromptEntry>,
    generation: u64,
    lists: Generations,
}

impl Tools {
    /// The resources at fixed URIs, by URI.
    pub fn resources(&self) -> impl Iterator<Item = &ResourceEntry> {
        self.resources.values()
    }

    /// The resource templates, by template.
    pub fn templates(&self) -> impl Iterator<Item = &ResourceEntry> {
        self.templates.values()
    }

    /// The prompts, by name.
    pub fn prompts(&self) -> impl Iterator<Item = &PromptEntry> {
        self.prompts.values()
    }

    /// The prompt called `name`.
    pub fn prompt(&self, name: &str) -> Option<&PromptEntry> {
        self.prompts.get(name)
    }

    /// What serves `uri`: the resource at that URI, else the first template
    /// (most literal text first, then in template order) it matches, with
    /// the request for the component.
    pub fn resolve(&self, uri: &str) -> Option<(&ResourceEntry, ResourceRequest)> {
        if let Some(entry) = self.resources.get(uri) {
            let request = ResourceRequest {
                uri: uri.to_owned(),
                template: None,
                variables: Vec::new(),
            };
            return Some((entry, request));
        }
        self.template_order.iter().find_map(|entry| {
            let template = &entry.template_info()?.template;
            let variables = template.matches(uri)?;
            Some((
                entry,
                ResourceRequest {
                    uri: uri.to_owned(),
                    template: Some(template.as_str().to_owned()),
                    variables,
                },
            ))
        })
    }

    /// The content hash of the component version serving `uri`, if any.
    pub fn resource_version(&self, uri: &str) -> Option<&str> {
        self.resolve(uri).map(|(e, _)| e.component().content_hash())
    }

    /// The generation at which each list last changed.
    pub fn lists(&self) -> Generations {
        self.lists
    }

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
    plugins: Catalog,
    natives: BTreeMap<String, Arc<dyn NativeTool>>,
}

impl Sources {
    fn merged(&self) -> BTreeMap<String, Entry> {
        let plugins =
            (self.plugins.tools.iter()).map(|(n, p)| (n.clone(), Entry::Plugin(p.clone())));
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
        self.replace(&sources, [true, false, false]);
    }

    /// Replace what the plugins serve with `catalog`. Returns true (and
    /// notifies subscribers) if anything changed: a tool, resource,
    /// template or prompt added or removed, or served by a different
    /// component version.
    pub fn publish(&self, catalog: Catalog) -> bool {
        let mut sources = self.sources.write().unwrap_or_else(|e| e.into_inner());
        let old = &sources.plugins;
        let tools = !same_versions(&old.tools, &catalog.tools, |p| p.content_hash());
        let resources = !same_versions(&old.resources, &catalog.resources, |r| {
            r.component.content_hash()
        }) || !same_versions(&old.templates, &catalog.templates, |r| {
            r.component.content_hash()
        });
        let prompts = !same_versions(&old.prompts, &catalog.prompts, |p| {
            p.component.content_hash()
        });
        if !(tools || resources || prompts) {
            return false;
        }
        sources.plugins = catalog;
        self.replace(&sources, [tools, resources, prompts]);
        true
    }

    /// Publish `sources` as the next generation, `changed` saying which of
    /// the tools, resources and prompts lists changed (the sources lock is
    /// held, so publications are in order).
    fn replace(&self, sources: &Sources, changed: [bool; 3]) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let generation = current.generation + 1;
        let mut lists = current.lists;
        for (list, changed) in [&mut lists.tools, &mut lists.resources, &mut lists.prompts]
            .into_iter()
            .zip(changed)
        {
            if changed {
                *list = generation;
            }
        }
        let catalog = &sources.plugins;
        let mut template_order: Vec<ResourceEntry> = catalog.templates.values().cloned().collect();
        template_order.sort_by(|a, b| match (a.template_info(), b.template_info()) {
            (Some(a), Some(b)) => a.template.match_order(&b.template),
            _ => std::cmp::Ordering::Equal,
        });
        *current = Arc::new(Tools {
            by_name: sources.merged(),
            resources: catalog.resources.clone(),
            templates: catalog.templates.clone(),
            template_order,
            prompts: catalog.prompts.clone(),
            generation,
            lists,
        });
        drop(current);
        self.changes.send_replace(generation);
    }
}
