//! The MCP face of the host: tools/list and tools/call over the registry,
//! and tools/list_changed to every connected client.
//!
//! The handler never parses headers: on HTTP the principal was put into the
//! request's extensions by the auth layer; on stdio it is fixed by
//! configuration.

use crate::admission::Admission;
use crate::audit::{AuditLog, AuditRecord};
use crate::config::Config;
use crate::native::{self, NativeCall, NativeTool};
use crate::policy;
use crate::registry::Registry;
use crate::runtime::{CallError, Plugin, ToolError, ToolInfo};
use crate::storage::Store;
use crate::{Principal, result};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, SubscriptionFilter,
    Tool,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// What a tools/call runs: a plugin version, or a tool compiled into the host.
#[derive(Clone)]
enum Target {
    Plugin(Plugin),
    Native(Arc<dyn NativeTool>),
}

impl Target {
    fn info(&self) -> &ToolInfo {
        match self {
            Target::Plugin(p) => p.info(),
            Target::Native(n) => n.info(),
        }
    }

    fn version(&self) -> &str {
        match self {
            Target::Plugin(p) => p.version(),
            Target::Native(_) => "native",
        }
    }
}

/// Shared by every session's handler.
pub(crate) struct McpShared {
    registry: Registry,
    config: Arc<Config>,
    admission: Admission,
    /// Tools compiled into the host; a plugin of the same name is hidden.
    native: RwLock<BTreeMap<String, Arc<dyn NativeTool>>>,
    /// The store native tools use (plugins reach it through the runtime).
    store: Store,
    /// Where decisions are recorded, unless auditing is off.
    audit: Option<Arc<AuditLog>>,
    /// Sessions of the older, initialize-based revisions; told of changes
    /// through their peer.
    peers: Mutex<Vec<Peer<RoleServer>>>,
    next_request: AtomicU64,
    /// Tool calls running now; shutdown waits for them.
    in_flight: Arc<AtomicUsize>,
}

/// Counts a call as in flight until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!("toolhost_calls_in_flight").set(now as f64);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("toolhost_calls_in_flight").set(now as f64);
    }
}

impl McpShared {
    pub(crate) fn new(
        registry: Registry,
        config: Arc<Config>,
        store: Store,
        audit: Option<Arc<AuditLog>>,
    ) -> Arc<Self> {
        Arc::new(McpShared {
            registry,
            admission: Admission::new(config.clone()),
            config,
            native: RwLock::new(BTreeMap::new()),
            store,
            audit,
            peers: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(1),
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Serve `tool` beside the plugins, replacing a native tool of the same
    /// name; sessions are told the list changed.
    pub(crate) fn add_native(&self, tool: Arc<dyn NativeTool>) {
        let name = tool.info().name.clone();
        self.native
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, tool);
        self.registry.touch();
    }

    fn natives(&self) -> Vec<Arc<dyn NativeTool>> {
        let native = self.native.read().unwrap_or_else(|e| e.into_inner());
        native.values().cloned().collect()
    }

    fn target(&self, name: &str) -> Option<Target> {
        let native = self.native.read().unwrap_or_else(|e| e.into_inner());
        match native.get(name) {
            Some(tool) => Some(Target::Native(tool.clone())),
            None => self.registry.get(name).map(Target::Plugin),
        }
    }

    /// Count the call, close its span's fields and append it to the audit
    /// trail. `known` says whether the tool exists (only then is its name a
    /// metric label: unknown names come from clients).
    fn finish(&self, span: &tracing::Span, mut audit: AuditRecord, outcome: &str, known: bool) {
        audit.outcome = outcome.to_owned();
        span.record("decision", audit.decision.as_str());
        span.record("outcome", outcome);
        span.record("duration_us", audit.duration_us);
        let tool = if known {
            audit.tool.clone()
        } else {
            "(unknown)".to_owned()
        };
        metrics::counter!("toolhost_tool_calls_total", "tool" => tool, "outcome" => outcome.to_owned())
            .increment(1);
        if let Some(log) = &self.audit {
            log.record(audit);
        }
    }

    /// The number of tool calls running now.
    pub(crate) fn in_flight(&self) -> Arc<AtomicUsize> {
        self.in_flight.clone()
    }

    /// Tell every live legacy session that the tool list changed, forever:
    /// run this as a task for the life of the host.
    pub(crate) async fn notify_sessions(self: Arc<Self>, mut changes: watch::Receiver<u64>) {
        while changes.changed().await.is_ok() {
            let peers: Vec<Peer<RoleServer>> = {
                let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            };
            for peer in peers {
                tokio::spawn(async move {
                    if let Err(e) = peer.notify_tool_list_changed().await {
                        tracing::debug!(error = %e, "session gone before tools/list_changed");
                    }
                });
            }
        }
    }
}

/// One handler per session (or per stateless request); a cheap handle.
#[derive(Clone)]
pub(crate) struct McpHandler {
    shared: Arc<McpShared>,
    /// The caller on transports without authentication (stdio).
    fixed_principal: Option<Principal>,
}

impl McpHandler {
    pub(crate) fn http(shared: Arc<McpShared>) -> Self {
        McpHandler {
            shared,
            fixed_principal: None,
        }
    }

    pub(crate) fn stdio(shared: Arc<McpShared>, principal: Principal) -> Self {
        McpHandler {
            shared,
            fixed_principal: Some(principal),
        }
    }

    fn principal(&self, cx: &RequestContext<RoleServer>) -> Option<Principal> {
        if let Some(p) = &self.fixed_principal {
            return Some(p.clone());
        }
        cx.extensions
            .get::<::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
    }

    fn roles_for<'a>(&'a self, info: &'a ToolInfo) -> &'a [String] {
        self.shared.config.roles_for(&info.name, &info.roles)
    }
}

/// The MCP `Tool` for a tool's description.
fn describe(info: &ToolInfo) -> Tool {
    let schema = |v: &serde_json::Value| Arc::new(v.as_object().cloned().unwrap_or_default());
    let mut tool = Tool::new_with_raw(
        info.name.clone(),
        Some(Cow::Owned(info.description.clone())),
        schema(info.input_schema.as_json()),
    );
    if let Some(title) = &info.title {
        tool = tool.with_title(title.clone());
    }
    if let Some(output) = &info.output_schema {
        tool = tool.with_raw_output_schema(schema(output.as_json()));
    }
    tool
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("toolhost", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools are sandboxed WebAssembly components; each call runs as the authenticated caller.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.shared.registry.snapshot();
        let natives = self.shared.natives();
        let principal = self.principal(&cx);
        let filter = self.shared.config.auth.filter_tools_list;
        // Show a caller only what it may call, unless the operator turned that off.
        let visible = |info: &&ToolInfo| match (&principal, filter) {
            (Some(principal), true) => {
                policy::authorize(principal, &info.name, self.roles_for(info)).is_ok()
            }
            _ => true,
        };
        let native_names: Vec<&str> = natives.iter().map(|n| n.info().name.as_str()).collect();
        let infos = tools
            .iter()
            .map(Plugin::info)
            .filter(|info| !native_names.contains(&info.name.as_str()))
            .chain(natives.iter().map(|n| n.info()));
        let mut listed: Vec<Tool> = infos.filter(visible).map(describe).collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ListToolsResult::with_all_items(listed))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared.target(name).map(|t| describe(t.info()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        let Some(principal) = self.principal(&cx) else {
            tracing::warn!(
                tool = name,
                reason = "no principal on the request",
                "call rejected"
            );
            return Err(ErrorData::internal_error(
                "the request carries no authenticated caller",
                None,
            ));
        };
        let request_id = format!(
            "{}-{}",
            std::process::id(),
            self.shared.next_request.fetch_add(1, Ordering::Relaxed)
        );
        let span = tracing::info_span!(
            "tool_call",
            tool = name,
            request_id,
            subject = %principal.subject,
            version = tracing::field::Empty,
            decision = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let mut audit = AuditRecord {
            at_ms: AuditRecord::now_ms(),
            request_id: request_id.clone(),
            subject: principal.subject.clone(),
            client_id: principal.client_id.clone(),
            // Bounded: the name comes from the client.
            tool: name.chars().take(128).collect(),
            version: None,
            decision: "rejected".into(),
            reason: None,
            outcome: String::new(),
            duration_us: 0,
            arguments: self
                .shared
                .config
                .audit
                .include_arguments
                .then(|| arguments.to_string()),
        };
        let Some(target) = self.shared.target(name) else {
            let _entered = span.enter();
            tracing::info!(reason = "unknown tool", "call rejected");
            audit.reason = Some("unknown tool".into());
            self.shared.finish(&span, audit, "unknown_tool", false);
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name:?}"),
                None,
            ));
        };
        audit.version = Some(target.version().to_owned());
        span.record("version", target.version());
        if let Err(denied) = policy::authorize(&principal, name, self.roles_for(target.info())) {
            let _entered = span.enter();
            tracing::warn!(reason = %denied, "call denied");
            audit.decision = "denied".into();
            audit.reason = Some(denied.to_string());
            self.shared.finish(&span, audit, "denied", true);
            let error = CallError::Tool {
                tool: name.to_owned(),
                error: ToolError::Forbidden(denied.to_string()),
            };
            return Ok(result::failure(&error).into());
        }
        let _in_flight = InFlight::enter(&self.shared.in_flight);
        let _admitted = match self.shared.admission.admit(&principal.subject, name).await {
            Ok(admitted) => admitted,
            Err(rejection) => {
                let _entered = span.enter();
                tracing::warn!(reason = rejection.reason(), "call rejected: {rejection}");
                audit.reason = Some(rejection.to_string());
                self.shared.finish(&span, audit, rejection.reason(), true);
                return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                    "{name}: {rejection}"
                ))])
                .into());
            }
        };
        audit.decision = "allowed".into();
        let limits = self.shared.config.limits_for(name);
        let started = std::time::Instant::now();
        let version = target.version().to_owned();
        let outcome = {
            let request_id = request_id.clone();
            let store = self.shared.store.clone();
            let span = span.clone();
            tokio::task::spawn_blocking(move || {
                let _entered = span.enter();
                match target {
                    Target::Plugin(plugin) => {
                        plugin.call_with_limits(&principal, &request_id, &arguments, &limits)
                    }
                    Target::Native(tool) => native::run(
                        &*tool,
                        &NativeCall::new(&principal, &request_id, &store),
                        &arguments,
                    ),
                }
            })
            .await
            .unwrap_or_else(|e| {
                Err(CallError::Trap {
                    tool: name.to_owned(),
                    version: version.clone(),
                    kind: format!("the call's thread failed: {e}"),
                })
            })
        };
        let elapsed = started.elapsed();
        audit.duration_us = elapsed.as_micros() as u64;
        let kind = match &outcome {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        {
            let _entered = span.enter();
            match &outcome {
                Ok(_) => tracing::debug!("call ok"),
                Err(e) => tracing::info!(error = %e, "call failed"),
            }
        }
        metrics::histogram!("toolhost_tool_call_duration_seconds", "tool" => name.to_owned())
            .record(elapsed.as_secs_f64());
        self.shared.finish(&span, audit, kind, true);
        Ok(result::from_outcome(outcome).into())
    }

    async fn on_initialized(&self, cx: NotificationContext<RoleServer>) {
        self.shared
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cx.peer);
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&ServerHandler::get_info(self).capabilities))
    }

    /// 2026-07-28 clients (and any sessionless client) hear of tool-set
    /// changes through `subscriptions/listen`.
    async fn listen(&self, cx: SubscriptionContext) -> Result<(), ErrorData> {
        if cx.accepted().tools_list_changed != Some(true) {
            cx.cancelled().await;
            return Ok(());
        }
        let mut changes = self.shared.registry.subscribe();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                _ = cx.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() || cx.sink().notify_tool_list_changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}
