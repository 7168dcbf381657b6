//! A plugins directory, reconciled into a tool set.
//!
//! Each reconcile lists the `*.wasm` files, loads the ones that are new or
//! changed (in parallel, from the compiled-artifact cache when possible) and
//! decides which file serves which tool name:
//! - a file that fails to load never replaces a version that works: the last
//!   good version keeps serving, and the failure is logged once per change of
//!   the file;
//! - two files claiming one name (a tool or prompt name, a resource URI or
//!   template): the one already serving it stays, the other is refused
//!   (logged once, naming both); at start-up the first in path order wins;
//!   when the serving file goes away, the other takes over. A file serves
//!   everything it declares (a 0.2 component may have many tools, resources
//!   and prompts) or nothing;
//! - a file modified less than `settle` ago is left for the next reconcile, so
//!   a copy in progress is not reported as broken.

use super::{Catalog, PromptEntry, ResourceEntry};
use crate::runtime::{Component, Runtime};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What identifies a file's content cheaply: size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct FileState {
    fingerprint: Option<Fingerprint>,
    /// Content hash of the bytes last read.
    hash: Option<String>,
    /// The last version of this file that loaded.
    good: Option<Component>,
    /// Why the file's current content does not serve, if it does not.
    problem: Option<String>,
}

/// The result of one reconcile.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// What the directory now serves.
    pub catalog: Catalog,
    /// Files whose current content does not serve, and why (a load error,
    /// or another file serving the same name).
    pub problems: BTreeMap<PathBuf, String>,
    /// Some files were still being written; reconcile again after `settle`.
    pub pending: bool,
}

/// A plugins directory and what was loaded from it.
pub struct PluginDir {
    dir: PathBuf,
    runtime: Runtime,
    settle: Duration,
    files: BTreeMap<PathBuf, FileState>,
    /// Which file serves each name.
    owners: HashMap<Claim, PathBuf>,
    /// (refused file, its version) pairs already logged as duplicates.
    refused: HashSet<(PathBuf, String)>,
}

impl std::fmt::Debug for PluginDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDir")
            .field("dir", &self.dir)
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn is_plugin_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'));
    !hidden && path.extension().is_some_and(|e| e == "wasm")
}

impl PluginDir {
    /// A directory whose plugins load into `runtime`. Files younger than
    /// `settle` wait for a later reconcile.
    pub fn new(dir: PathBuf, runtime: Runtime, settle: Duration) -> Self {
        PluginDir {
            dir,
            runtime,
            settle,
            files: BTreeMap::new(),
            owners: HashMap::new(),
            refused: HashSet::new(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn scan(&self) -> std::io::Result<BTreeMap<PathBuf, Fingerprint>> {
        let mut found = BTreeMap::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let path = entry.path();
            if !is_plugin_file(&path) {
                continue;
            }
            // A file removed between listing and stat is simply not there.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_file() {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.insert(
                    path,
                    Fingerprint {
                        len: meta.len(),
                        modified,
                    },
                );
            }
        }
        Ok(found)
    }

    /// Bring the tool set up to date with the directory. `wait_for_settle`
    /// false loads even files that were just written (start-up).
    pub fn reconcile(&mut self, wait_for_settle: bool) -> Reconciled {
        let mut pending = false;
        match self.scan() {
            Err(e) => {
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot list the plugins directory; keeping the current tools");
            }
            Ok(found) => {
                let removed: Vec<PathBuf> = self
                    .files
                    .keys()
                    .filter(|p| !found.contains_key(*p))
                    .cloned()
                    .collect();
                for path in removed {
                    self.files.remove(&path);
                    metrics::counter!("toolhost_plugin_loads_total", "outcome" => "removed")
                        .increment(1);
                    tracing::info!(path = %path.display(), "plugin file removed");
                }
                let now = SystemTime::now();
                let mut to_load = Vec::new();
                for (path, fingerprint) in found {
                    let state = self.files.entry(path.clone()).or_default();
                    if state.fingerprint == Some(fingerprint) {
                        continue;
                    }
                    let age = now.duration_since(fingerprint.modified).unwrap_or_default();
                    if wait_for_settle && age < self.settle {
                        pending = true;
                        continue;
                    }
                    to_load.push((path, fingerprint));
                }
                let loaded = !to_load.is_empty();
                self.load_all(to_load);
                if loaded {
                    // Every version a file holds (its last good one, and
                    // what it has now) keeps its compiled artifact.
                    let in_use: HashSet<String> = (self.files.values())
                        .flat_map(|f| {
                            let good = f.good.as_ref().map(|p| p.content_hash().to_owned());
                            good.into_iter().chain(f.hash.clone())
                        })
                        .collect();
                    self.runtime.prune_artifacts(&in_use);
                }
            }
        }
        let catalog = self.assign_names();
        let problems = self
            .files
            .iter()
            .filter_map(|(path, state)| Some((path.clone(), state.problem.clone()?)))
            .collect();
        Reconciled {
            catalog,
            problems,
            pending,
        }
    }

    /// Load changed files in parallel and record the outcome of each.
    fn load_all(&mut self, files: Vec<(PathBuf, Fingerprint)>) {
        if files.is_empty() {
            return;
        }
        let known: HashMap<PathBuf, Option<String>> = files
            .iter()
            .map(|(p, _)| (p.clone(), self.files.get(p).and_then(|s| s.hash.clone())))
            .collect();
        let runtime = &self.runtime;
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .iter()
                .map(|(path, _)| {
                    let previous_hash = known.get(path).cloned().flatten();
                    scope.spawn(move || load_one(runtime, path, previous_hash))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Outcome::Failed("loader thread panicked".into()))
                })
                .collect()
        });
        for ((path, fingerprint), outcome) in files.into_iter().zip(outcomes) {
            let state = self.files.entry(path.clone()).or_default();
            state.fingerprint = Some(fingerprint);
            state.problem = None;
            match outcome {
                Outcome::Unchanged => {}
                Outcome::Loaded(plugin, hash) => {
                    metrics::counter!("toolhost_plugin_loads_total", "outcome" => "loaded")
                        .increment(1);
                    let tools: Vec<String> = plugin.tools().map(|t| t.name().to_owned()).collect();
                    tracing::info!(
                        path = %path.display(), tools = ?tools,
                        resources = plugin.resources().len() + plugin.templates().len(),
                        prompts = plugin.prompts().len(), version = plugin.version(),
                        cache = ?plugin.load_report().cache,
                        load_ms = plugin.load_report().total.as_secs_f64() * 1e3,
                        "plugin loaded"
                    );
                    state.hash = Some(hash);
                    state.good = Some(plugin);
                }
                Outcome::Failed(reason) => {
                    metrics::counter!("toolhost_plugin_loads_total", "outcome" => "failed")
                        .increment(1);
                    state.hash = None;
                    state.problem = Some(reason.clone());
                    match &state.good {
                        Some(old) => tracing::error!(
                            path = %path.display(), error = reason.as_str(), serving = old.version(),
                            "plugin file failed to load; the previous version keeps serving"
                        ),
                        None => {
                            tracing::error!(path = %path.display(), error = reason.as_str(), "plugin file failed to load")
                        }
                    }
                }
            }
        }
    }

    /// Decide which file serves each name: current owners keep their names.
    /// A file serves everything it declares or nothing: one that declares a
    /// name another file serves is refused as a whole.
    fn assign_names(&mut self) -> Catalog {
        let mut owners: HashMap<Claim, PathBuf> = HashMap::new();
        for (claim, path) in &self.owners {
            if let Some(component) = self.files.get(path).and_then(|s| s.good.as_ref())
                && claims(component).contains(claim)
            {
                owners.insert(claim.clone(), path.clone());
            }
        }
        for (path, state) in self.files.iter_mut() {
            let Some(component) = &state.good else {
                continue;
            };
            if state
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with(DUPLICATE))
            {
                state.problem = None;
            }
            let claimed = claims(component);
            let taken = claimed
                .iter()
                .find_map(|c| Some((c, owners.get(c).filter(|o| *o != path)?)));
            match taken {
                None => {
                    for claim in claimed {
                        owners.insert(claim, path.clone());
                    }
                }
                Some((claim, owner)) => {
                    let owner = owner.clone();
                    owners.retain(|_, o| o != path);
                    state.problem.get_or_insert(format!("{DUPLICATE} {claim}"));
                    if self
                        .refused
                        .insert((path.clone(), component.content_hash().to_owned()))
                    {
                        tracing::warn!(
                            name = %claim, serving = %owner.display(), refused = %path.display(),
                            "two plugin files provide the same name; the one already serving it stays"
                        );
                    }
                }
            }
        }
        self.owners = owners;
        let mut catalog = Catalog::default();
        for (claim, path) in &self.owners {
            let Some(component) = self.files.get(path).and_then(|s| s.good.clone()) else {
                continue;
            };
            match claim {
                Claim::Tool(name) => {
                    if let Some(tool) = component.tool(name) {
                        catalog.tools.insert(name.clone(), tool);
                    }
                }
                Claim::Resource(uri) => {
                    if let Some(i) = component.resources().iter().position(|r| r.uri == *uri) {
                        let entry = ResourceEntry::fixed(component, i);
                        catalog.resources.insert(uri.clone(), entry);
                    }
                }
                Claim::Template(template) => {
                    let found = (component.templates().iter())
                        .position(|t| t.template.as_str() == template);
                    if let Some(i) = found {
                        let entry = ResourceEntry::template(component, i);
                        catalog.templates.insert(template.clone(), entry);
                    }
                }
                Claim::Prompt(name) => {
                    if let Some(i) = component.prompts().iter().position(|p| p.name == *name) {
                        catalog
                            .prompts
                            .insert(name.clone(), PromptEntry::new(component, i));
                    }
                }
            }
        }
        catalog
    }
}

/// A name a component serves, of one kind: names of different kinds do
/// not clash (a tool and a prompt may share one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Claim {
    Tool(String),
    Resource(String),
    Template(String),
    Prompt(String),
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Claim::Tool(n) => write!(f, "the tool {n:?}"),
            Claim::Resource(u) => write!(f, "the resource {u:?}"),
            Claim::Template(t) => write!(f, "the resource template {t:?}"),
            Claim::Prompt(n) => write!(f, "the prompt {n:?}"),
        }
    }
}

/// Everything `component` would serve.
fn claims(component: &Component) -> Vec<Claim> {
    let tools = component.tools().map(|t| Claim::Tool(t.name().to_owned()));
    let resources = (component.resources().iter()).map(|r| Claim::Resource(r.uri.clone()));
    let templates =
        (component.templates().iter()).map(|t| Claim::Template(t.template.as_str().to_owned()));
    let prompts = (component.prompts().iter()).map(|p| Claim::Prompt(p.name.clone()));
    tools
        .chain(resources)
        .chain(templates)
        .chain(prompts)
        .collect()
}

/// How a problem of a file refused for a taken name starts.
const DUPLICATE: &str = "another file serves";

enum Outcome {
    /// Same bytes as last time (only the timestamp changed).
    Unchanged,
    Loaded(Component, String),
    Failed(String),
}

fn load_one(runtime: &Runtime, path: &Path, previous_hash: Option<String>) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(format!("{}: cannot read: {e}", path.display())),
    };
    let hash = crate::runtime::content_hash(&bytes);
    if previous_hash.as_deref() == Some(hash.as_str()) {
        return Outcome::Unchanged;
    }
    match runtime.load_component(path, &bytes) {
        Ok(plugin) => Outcome::Loaded(plugin, hash),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
