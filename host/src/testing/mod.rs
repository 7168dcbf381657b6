//! Test a plugin in isolation: no server, no auth, an in-memory store.
//!
//! ```no_run
//! use toolhost::testing::PluginHarness;
//! use serde_json::json;
//!
//! let harness = PluginHarness::load("notes_create.wasm".as_ref()).unwrap();
//! let alice = harness.principal("alice", &["member"]);
//! let out = harness.call(&alice, json!({"title": "t", "body": "b"})).unwrap();
//! assert_eq!(out.structured.unwrap()["title"], "t");
//! ```

pub mod http;
pub mod postgres;

use crate::runtime::{
    CallError, CallLinks, LoadError, Plugin, PromptOutput, ResourceContents, Runtime,
    RuntimeConfig, ToolError, ToolOutput, resource_label,
};
use crate::{Principal, Store};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Loads plugins into a runtime with its own in-memory store and calls them
/// as any principal. Plugins loaded into one harness share its store.
#[derive(Debug)]
pub struct PluginHarness {
    runtime: Runtime,
    plugin: Plugin,
    calls: AtomicU64,
    http: Option<std::sync::Arc<http::HttpMocks>>,
}

impl PluginHarness {
    /// Load `path` into a fresh runtime with an in-memory store.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let config = RuntimeConfig {
            max_instances: 16,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(config, Store::in_memory())
            .unwrap_or_else(|e| panic!("test runtime: {e}"));
        Self::with_runtime(runtime, path)
    }

    /// Load `path` into an existing runtime (to share its store and cache).
    pub fn with_runtime(runtime: Runtime, path: &Path) -> Result<Self, LoadError> {
        let plugin = runtime.load_file(path)?;
        Ok(PluginHarness {
            runtime,
            plugin,
            calls: AtomicU64::new(0),
            http: None,
        })
    }

    /// Another plugin in the same runtime (same store, same HTTP mocks).
    pub fn sibling(&self, path: &Path) -> Result<Self, LoadError> {
        let mut other = Self::with_runtime(self.runtime.clone(), path)?;
        other.http = self.http.clone();
        Ok(other)
    }

    /// The loaded plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// A principal with `subject` and `roles`.
    pub fn principal(&self, subject: &str, roles: &[&str]) -> Principal {
        Principal::new(subject, roles.iter().copied())
    }

    /// The plugin's tool called `name` (a 0.2 component may serve several),
    /// in the same runtime: `harness.tool("notes_list")?.call(...)`.
    pub fn tool(&self, name: &str) -> Option<Self> {
        Some(PluginHarness {
            runtime: self.runtime.clone(),
            plugin: self.plugin.component().tool(name)?,
            calls: AtomicU64::new(0),
            http: self.http.clone(),
        })
    }

    /// Calls reach the APIs of `mocks` (and only those), through the host's
    /// outbound rules, as an operator's grant would let them.
    pub fn with_http(mut self, mocks: http::HttpMocks) -> Self {
        self.http = Some(std::sync::Arc::new(mocks));
        self
    }

    /// The HTTP mocks calls reach, if any: declare answers, read the
    /// requests made.
    pub fn http(&self) -> Option<&http::HttpMocks> {
        self.http.as_deref()
    }

    /// Call the plugin (its first tool, or the one [`PluginHarness::tool`]
    /// chose) as `principal` with `arguments`.
    pub fn call(
        &self,
        principal: &Principal,
        arguments: serde_json::Value,
    ) -> Result<ToolOutput, CallError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let id = format!("test-{n}");
        match &self.http {
            None => self.plugin.call(principal, &id, &arguments),
            Some(mocks) => {
                let limits = self.runtime.limits();
                let links = mocks.links(&self.plugin, principal, limits);
                (self.plugin).call_with_limits(principal, &id, &arguments, limits, &links)
            }
        }
    }

    /// Read the resource at `uri` from the plugin's component as
    /// `principal`, matched as the host matches it (the resource at that
    /// URI, else the template with the most literal text).
    pub fn read_resource(
        &self,
        principal: &Principal,
        uri: &str,
    ) -> Result<ResourceContents, CallError> {
        let component = self.plugin.component();
        let Some(request) = component.resolve(uri) else {
            return Err(CallError::Tool {
                tool: resource_label(uri),
                error: ToolError::NotFound(
                    "no resource or template of the component matches".into(),
                ),
            });
        };
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let limits = self.runtime.limits().clone();
        component.read_resource(
            principal,
            &format!("test-{n}"),
            &request,
            &limits,
            &CallLinks::default(),
        )
    }

    /// Get the prompt `name` of the plugin's component filled in with
    /// `arguments`, as `principal`.
    pub fn get_prompt(
        &self,
        principal: &Principal,
        name: &str,
        arguments: &[(&str, &str)],
    ) -> Result<PromptOutput, CallError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let arguments: Vec<(String, String)> = (arguments.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let limits = self.runtime.limits().clone();
        (self.plugin.component()).get_prompt(
            principal,
            &format!("test-{n}"),
            name,
            &arguments,
            &limits,
            &CallLinks::default(),
        )
    }
}
