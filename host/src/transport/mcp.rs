//! The MCP face of the host: tools/list and tools/call adapted to the call
//! pipeline, and tools/list_changed to every connected client.
//!
//! The handler never parses headers: on HTTP the principal was put into the
//! request's extensions by the auth layer; on stdio it is fixed by
//! configuration. Everything a call needs decided (policy, limits, audit)
//! happens in [`crate::dispatch`].

use super::notify;
use super::result;
use super::sessions::{LegacySessions, SessionOwners};
use crate::Principal;
use crate::dispatch::{CallFailure, CallOptions, Dispatcher};
use crate::runtime::{ClientLevel, ToolInfo};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeRequestParams,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    SubscriptionFilter, Tool, ToolAnnotations,
};
// Deprecated with MCP's logging by SEP-2577 (2026-07-28); 2025-11-25 clients use it.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared by every session's handler.
pub(crate) struct McpShared {
    dispatcher: Arc<Dispatcher>,
    /// Sessions of the older, initialize-based revisions, told of changes.
    sessions: Arc<LegacySessions>,
    /// Who owns each of those sessions, and the caps on them.
    owners: Arc<SessionOwners>,
}

impl McpShared {
    pub(crate) fn new(dispatcher: Arc<Dispatcher>, owners: SessionOwners) -> Arc<Self> {
        let sessions = LegacySessions::new();
        tokio::spawn(
            sessions
                .clone()
                .notify_changes(dispatcher.registry().subscribe()),
        );
        Arc::new(McpShared {
            dispatcher,
            sessions,
            owners: Arc::new(owners),
        })
    }

    /// The legacy sessions registered for tool-list notifications.
    pub(crate) fn sessions(&self) -> &Arc<LegacySessions> {
        &self.sessions
    }

    /// The owners of the sessions, and their caps.
    pub(crate) fn owners(&self) -> &Arc<SessionOwners> {
        &self.owners
    }
}

/// One handler per session (or per stateless request); a cheap handle.
#[derive(Clone)]
pub(crate) struct McpHandler {
    shared: Arc<McpShared>,
    /// The caller on transports without authentication (stdio).
    fixed_principal: Option<Principal>,
    /// The tool-set generation when a `subscriptions/listen` request was
    /// accepted, before its acknowledgement went out: a change between the
    /// two is announced at once.
    listen_from: Arc<AtomicU64>,
    /// The least severe log message the session's client wants
    /// (`logging/setLevel`; a request's `_meta` log level overrides it).
    log_level: Arc<Mutex<ClientLevel>>,
}

/// Log messages for the client when it asked for no level.
const DEFAULT_CLIENT_LEVEL: ClientLevel = ClientLevel::Info;

impl McpHandler {
    pub(crate) fn http(shared: Arc<McpShared>) -> Self {
        McpHandler {
            shared,
            fixed_principal: None,
            listen_from: Arc::default(),
            log_level: Arc::new(Mutex::new(DEFAULT_CLIENT_LEVEL)),
        }
    }

    pub(crate) fn stdio(shared: Arc<McpShared>, principal: Principal) -> Self {
        McpHandler {
            shared,
            fixed_principal: Some(principal),
            listen_from: Arc::default(),
            log_level: Arc::new(Mutex::new(DEFAULT_CLIENT_LEVEL)),
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
    let a = info.annotations;
    if !a.is_empty() {
        tool = tool.with_annotations(ToolAnnotations::from_raw(
            None,
            a.read_only,
            a.destructive,
            a.idempotent,
            a.open_world,
        ));
    }
    tool
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        // Logging (deprecated by SEP-2577) for the 2025-11-25 clients that use it.
        #[allow(deprecated)]
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("toolhost", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools are sandboxed WebAssembly components; each call runs as the authenticated caller.",
            )
    }

    /// A session of the older revisions starts here: it is registered for
    /// tools/list_changed before the client learns it exists, so no change
    /// can fall between its first tools/list and its registration. It is
    /// dropped from the list when the session ends (rmcp cancels the
    /// initialize request's token then).
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        cx.peer.set_peer_info(request.clone());
        let result = self.negotiate_initialize(&request)?;
        self.shared.sessions.add(cx.peer.clone(), cx.ct.clone());
        Ok(result)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let dispatcher = &self.shared.dispatcher;
        let tools = dispatcher.registry().snapshot();
        let principal = self.principal(&cx);
        let policy = dispatcher.policy();
        let listed: Vec<Tool> = (tools.iter())
            .map(|entry| entry.info())
            .filter(|info| principal.as_ref().is_none_or(|p| policy.visible(p, info)))
            .map(describe)
            .collect();
        Ok(ListToolsResult::with_all_items(listed))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let entry = self.shared.dispatcher.registry().entry(name)?;
        Some(describe(entry.info()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        let Some(principal) = self.principal(&cx) else {
            tracing::warn!(
                tool = ?name,
                reason = "no principal on the request",
                "call rejected"
            );
            return Err(ErrorData::internal_error(
                "the request carries no authenticated caller",
                None,
            ));
        };
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let level = cx
            .meta
            .log_level()
            .map(notify::from_mcp)
            .unwrap_or_else(|| *self.log_level.lock().unwrap_or_else(|e| e.into_inner()));
        let (events, forwarding) = notify::forward(&cx, level);
        let options = CallOptions {
            cancel: Some(cx.ct.clone()),
            events: Some(events),
            ..CallOptions::default()
        };
        let outcome = (self.shared.dispatcher)
            .call(&principal, name, arguments, options)
            .await;
        // Every notification the call sent goes out before its result.
        let _ = forwarding.await;
        match outcome {
            Err(CallFailure::UnknownTool(name)) => Err(ErrorData::invalid_params(
                format!("unknown tool: {name:?}"),
                None,
            )),
            outcome => Ok(result::from_outcome(outcome).into()),
        }
    }

    /// A 2025-11-25 session's log level for the messages tools send its
    /// client.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = notify::from_mcp(request.level);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let generation = self.shared.dispatcher.registry().snapshot().generation();
        self.listen_from.store(generation, Ordering::SeqCst);
        Some(requested.supported_by(&ServerHandler::get_info(self).capabilities))
    }

    /// 2026-07-28 clients (and any sessionless client) hear of tool-set
    /// changes through `subscriptions/listen`. rmcp acknowledges the
    /// subscription before this runs; a change since the request was
    /// accepted is announced first, so none falls in between.
    async fn listen(&self, cx: SubscriptionContext) -> Result<(), ErrorData> {
        if cx.accepted().tools_list_changed != Some(true) {
            cx.cancelled().await;
            return Ok(());
        }
        let mut changes = self.shared.dispatcher.registry().subscribe();
        let now = *changes.borrow_and_update();
        if now != self.listen_from.load(Ordering::SeqCst)
            && cx.sink().notify_tool_list_changed().await.is_err()
        {
            return Ok(());
        }
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
