//! The MCP face of the host: tools, resources (with templates and
//! subscriptions) and prompts adapted to the call pipeline, and the
//! list-changed and resource-updated notifications to every connected
//! client.
//!
//! The handler never parses headers: on HTTP the principal was put into the
//! request's extensions by the auth layer; on stdio it is fixed by
//! configuration. Everything a call needs decided (policy, limits, audit)
//! happens in [`crate::dispatch`].

use super::notify;
use super::result;
use super::rounds::Rounds;
use super::sessions::{
    Change, LegacySessions, MAX_SUBSCRIPTIONS, SessionOwners, Subscriptions, UPDATE_QUEUE,
    UpdateBus, Updated,
};
use crate::Principal;
use crate::dispatch::{CallFailure, CallOptions, Dispatcher};
use crate::policy::Served;
use crate::registry::{PromptEntry, ResourceEntry, Tools};
use crate::runtime::{CallError, ClientLevel, MAX_URI_BYTES, ToolError, ToolInfo};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptArgument, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceTemplate, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, Tool, ToolAnnotations, UnsubscribeRequestParams,
};
// Deprecated with MCP's logging by SEP-2577 (2026-07-28); 2025-11-25 clients use it.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::Mutex;

/// Shared by every session's handler.
pub(crate) struct McpShared {
    dispatcher: Arc<Dispatcher>,
    /// Sessions of the older, initialize-based revisions, told of changes.
    sessions: Arc<LegacySessions>,
    /// Who owns each of those sessions, and the caps on them.
    owners: Arc<SessionOwners>,
    /// The `input_required` rounds of 2026-07-28 calls that ask.
    rounds: Rounds,
    /// Resources calls said changed, for their callers' listeners.
    updates: UpdateBus,
}

impl McpShared {
    pub(crate) fn new(dispatcher: Arc<Dispatcher>, owners: SessionOwners) -> Arc<Self> {
        let sessions = LegacySessions::new();
        tokio::spawn(
            sessions
                .clone()
                .notify_changes(dispatcher.registry().clone()),
        );
        let updates = tokio::sync::broadcast::channel(UPDATE_QUEUE).0;
        tokio::spawn(sessions.clone().notify_updates(updates.subscribe()));
        Arc::new(McpShared {
            dispatcher,
            sessions,
            owners: Arc::new(owners),
            rounds: Rounds::new(),
            updates,
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
    /// What the registry served when a `subscriptions/listen` request was
    /// accepted, before its acknowledgement went out: a change between the
    /// two is announced at once.
    listen_from: Arc<Mutex<Option<Arc<Tools>>>>,
    /// The resources this session subscribed to (`resources/subscribe`).
    subscriptions: Subscriptions,
    /// The least severe log message the session's client wants
    /// (`logging/setLevel`; a request's `_meta` log level overrides it).
    log_level: Arc<Mutex<ClientLevel>>,
}

/// Send a listener the notifications of `change` it asked for.
async fn send_change(
    cx: &SubscriptionContext,
    accepted: &SubscriptionFilter,
    change: Change,
) -> Result<(), rmcp::service::SubscriptionSendError> {
    let sink = cx.sink();
    if change.tools && accepted.tools_list_changed == Some(true) {
        sink.notify_tool_list_changed().await?;
    }
    if change.resources && accepted.resources_list_changed == Some(true) {
        sink.notify_resource_list_changed().await?;
    }
    if change.prompts && accepted.prompts_list_changed == Some(true) {
        sink.notify_prompt_list_changed().await?;
    }
    for uri in change.updated {
        sink.notify_resource_updated(uri).await?;
    }
    Ok(())
}

/// Whether the request is of the stateless 2026-07-28 revision (or later),
/// which has no server-to-client requests.
fn stateless(cx: &RequestContext<RoleServer>) -> bool {
    cx.protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

/// A URI from a client, bounded.
fn check_requested_uri(uri: &str) -> Result<&str, ErrorData> {
    if uri.len() > MAX_URI_BYTES {
        tracing::warn!(
            bytes = uri.len(),
            reason = "URI too long",
            "request rejected"
        );
        return Err(ErrorData::invalid_params(
            format!("the URI is {} bytes, over {MAX_URI_BYTES}", uri.len()),
            None,
        ));
    }
    Ok(uri)
}

/// Log messages for the client when it asked for no level.
const DEFAULT_CLIENT_LEVEL: ClientLevel = ClientLevel::Info;

impl McpHandler {
    pub(crate) fn http(shared: Arc<McpShared>) -> Self {
        McpHandler {
            shared,
            fixed_principal: None,
            listen_from: Arc::default(),
            subscriptions: Arc::default(),
            log_level: Arc::new(Mutex::new(DEFAULT_CLIENT_LEVEL)),
        }
    }

    pub(crate) fn stdio(shared: Arc<McpShared>, principal: Principal) -> Self {
        McpHandler {
            shared,
            fixed_principal: Some(principal),
            listen_from: Arc::default(),
            subscriptions: Arc::default(),
            log_level: Arc::new(Mutex::new(DEFAULT_CLIENT_LEVEL)),
        }
    }

    /// What of `entries` the caller of `cx` may see (by `served`'s roles),
    /// described for MCP.
    fn listed<'a, E: 'a, T>(
        &self,
        cx: &RequestContext<RoleServer>,
        entries: impl Iterator<Item = &'a E>,
        served: impl Fn(&E) -> Served<'_>,
        describe: impl Fn(&E) -> Option<T>,
    ) -> Vec<T> {
        let principal = self.principal(cx);
        let policy = self.shared.dispatcher.policy();
        entries
            .filter(|e| (principal.as_ref()).is_none_or(|p| policy.visible_served(p, &served(e))))
            .filter_map(describe)
            .collect()
    }

    /// The caller of a request that needs one; its absence is logged and
    /// refused.
    fn caller(
        &self,
        cx: &RequestContext<RoleServer>,
        method: &str,
    ) -> Result<Principal, ErrorData> {
        self.principal(cx).ok_or_else(|| {
            tracing::warn!(
                method,
                reason = "no principal on the request",
                "request rejected"
            );
            ErrorData::internal_error("the request carries no authenticated caller", None)
        })
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

/// The caller's request options: cancelled with the request.
fn options(cx: &RequestContext<RoleServer>) -> CallOptions {
    CallOptions {
        cancel: Some(cx.ct.clone()),
        ..CallOptions::default()
    }
}

/// A failed resource read or prompt get as a JSON-RPC error (they have no
/// error result, unlike a tool call).
fn request_error(failure: CallFailure) -> ErrorData {
    let message = failure.to_string();
    match failure {
        CallFailure::UnknownResource(uri) => {
            ErrorData::resource_not_found(message, Some(serde_json::json!({ "uri": uri })))
        }
        CallFailure::UnknownPrompt(_) | CallFailure::UnknownTool(_) => {
            ErrorData::invalid_params(message, None)
        }
        CallFailure::Failed(CallError::Tool {
            error: ToolError::NotFound(_),
            ..
        }) => ErrorData::resource_not_found(message, None),
        CallFailure::Failed(
            CallError::InvalidArguments { .. }
            | CallError::Tool {
                error: ToolError::InvalidInput(_),
                ..
            },
        ) => ErrorData::invalid_params(message, None),
        CallFailure::Denied { .. }
        | CallFailure::Rejected { .. }
        | CallFailure::Failed(CallError::Tool {
            error: ToolError::Forbidden(_),
            ..
        }) => ErrorData::invalid_request(message, None),
        _ => ErrorData::internal_error(message, None),
    }
}

fn served_resource(entry: &ResourceEntry) -> Served<'_> {
    Served::Resource {
        key: entry.key(),
        roles: entry.roles(),
    }
}

fn served_prompt(entry: &PromptEntry) -> Served<'_> {
    Served::Prompt {
        name: &entry.info().name,
        roles: &entry.info().roles,
    }
}

/// The MCP `Resource` for a fixed resource.
fn describe_resource(entry: &ResourceEntry) -> Option<Resource> {
    let r = entry.resource()?;
    let mut resource = Resource::new(r.uri.clone(), r.name.clone());
    resource.title = r.title.clone();
    resource.description = r.description.clone();
    resource.mime_type = r.mime_type.clone();
    Some(resource)
}

/// The MCP `ResourceTemplate` for a template.
fn describe_template(entry: &ResourceEntry) -> Option<ResourceTemplate> {
    let t = entry.template_info()?;
    let mut template = ResourceTemplate::new(t.template.as_str(), t.name.clone());
    template.title = t.title.clone();
    template.description = t.description.clone();
    template.mime_type = t.mime_type.clone();
    Some(template)
}

/// The MCP `Prompt` for a prompt.
fn describe_prompt(entry: &PromptEntry) -> Prompt {
    let p = entry.info();
    let arguments = (p.arguments.iter())
        .map(|a| {
            let mut arg = PromptArgument::new(a.name.clone()).with_required(a.required);
            arg.title = a.title.clone();
            arg.description = a.description.clone();
            arg
        })
        .collect::<Vec<_>>();
    let mut prompt = Prompt::new(
        p.name.clone(),
        Some(p.description.clone()),
        (!arguments.is_empty()).then_some(arguments),
    );
    prompt.title = p.title.clone();
    prompt
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
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_prompts_list_changed()
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
        let subject = self.principal(&cx).map(|p| p.subject);
        (self.shared.sessions).add(
            cx.peer.clone(),
            subject,
            self.subscriptions.clone(),
            cx.ct.clone(),
        );
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
        let principal = self.caller(&cx, "tools/call")?;
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        // A 2026-07-28 request asks its client in the result, in rounds.
        let rounds = stateless(&cx).then_some(&self.shared.rounds);
        let answers = match rounds {
            Some(rounds) => Some(rounds.answers(
                &principal,
                name,
                &arguments,
                request.request_state.as_deref(),
                request.input_responses.as_ref(),
            )?),
            None => None,
        };
        let level = cx
            .meta
            .log_level()
            .map(notify::from_mcp)
            .unwrap_or_else(|| *self.log_level.lock().unwrap_or_else(|e| e.into_inner()));
        let on_update = {
            let updates = self.shared.updates.clone();
            let registry = self.shared.dispatcher.registry().clone();
            let subject = principal.subject.clone();
            move |uri: String| {
                if registry.snapshot().resolve(&uri).is_none() {
                    tracing::debug!(uri = ?uri, "a resource update for a URI not served: dropped");
                    return;
                }
                // No listener is not an error.
                let _ = updates.send(Arc::new(Updated {
                    subject: subject.clone(),
                    uri,
                }));
            }
        };
        let (events, forwarding) = notify::forward(&cx, level, on_update);
        let events = match &answers {
            Some(answers) => {
                // A client that declares its capabilities is asked only what
                // it can answer.
                let capabilities = cx.client_capabilities();
                let can = |has: fn(&rmcp::model::ClientCapabilities) -> bool| {
                    capabilities.as_ref().is_none_or(has)
                };
                events.with_answers(
                    answers.clone(),
                    can(|c| c.elicitation.is_some()),
                    can(|c| c.sampling.is_some()),
                )
            }
            None => events,
        };
        let options = CallOptions {
            events: Some(events),
            ..options(&cx)
        };
        let outcome = (self.shared.dispatcher)
            .call(&principal, name, arguments.clone(), options)
            .await;
        // Every notification the call sent goes out before its result.
        let _ = forwarding.await;
        match (outcome, rounds) {
            (Err(CallFailure::UnknownTool(name)), _) => Err(ErrorData::invalid_params(
                format!("unknown tool: {name:?}"),
                None,
            )),
            (Err(CallFailure::Failed(CallError::InputRequired { question, .. })), Some(rounds)) => {
                let asked = rounds.ask(
                    &principal,
                    name,
                    &arguments,
                    answers.unwrap_or_default(),
                    question,
                );
                match asked {
                    Ok(input_required) => Ok(input_required.into()),
                    Err(reason) => Ok(result::tool_failure(name, &reason).into()),
                }
            }
            (outcome, _) => Ok(result::from_outcome(outcome).into()),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let snapshot = self.shared.dispatcher.registry().snapshot();
        let listed = self.listed(
            &cx,
            snapshot.resources(),
            served_resource,
            describe_resource,
        );
        Ok(ListResourcesResult::with_all_items(listed))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let snapshot = self.shared.dispatcher.registry().snapshot();
        let listed = self.listed(
            &cx,
            snapshot.templates(),
            served_resource,
            describe_template,
        );
        Ok(ListResourceTemplatesResult::with_all_items(listed))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let principal = self.caller(&cx, "resources/read")?;
        let uri = check_requested_uri(&request.uri)?;
        let outcome = (self.shared.dispatcher)
            .read_resource(&principal, uri, options(&cx))
            .await;
        match outcome {
            Ok(contents) => {
                let contents = contents
                    .into_iter()
                    .map(result::resource_contents)
                    .collect();
                Ok(ReadResourceResult::new(contents).into())
            }
            Err(failure) => Err(request_error(failure)),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let snapshot = self.shared.dispatcher.registry().snapshot();
        let listed = self.listed(&cx, snapshot.prompts(), served_prompt, |e| {
            Some(describe_prompt(e))
        });
        Ok(ListPromptsResult::with_all_items(listed))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let principal = self.caller(&cx, "prompts/get")?;
        let mut arguments = Vec::new();
        for (name, value) in request.arguments.unwrap_or_default() {
            match value {
                serde_json::Value::String(v) => arguments.push((name, v)),
                other => {
                    let reason = format!("prompt argument {name:?} must be a string, not {other}");
                    tracing::warn!(prompt = ?request.name, reason = ?reason, "request rejected");
                    return Err(ErrorData::invalid_params(reason, None));
                }
            }
        }
        let outcome = (self.shared.dispatcher)
            .get_prompt(&principal, &request.name, arguments, options(&cx))
            .await;
        match outcome {
            Ok(out) => {
                let mut result = GetPromptResult::new(result::prompt_messages(out.messages));
                result.description = out.description;
                Ok(result.into())
            }
            Err(failure) => Err(request_error(failure)),
        }
    }

    /// A 2025-11-25 session subscribes to a resource it may read: it hears
    /// `notifications/resources/updated` when the resource's serving
    /// version changes or it stops being served.
    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = self.caller(&cx, "resources/subscribe")?;
        let uri = check_requested_uri(&request.uri)?;
        let dispatcher = &self.shared.dispatcher;
        let snapshot = dispatcher.registry().snapshot();
        let Some((entry, _)) = snapshot.resolve(uri) else {
            return Err(request_error(CallFailure::UnknownResource(uri.to_owned())));
        };
        if let Err(denial) = dispatcher
            .policy()
            .decide_served(&principal, &served_resource(entry))
        {
            tracing::warn!(uri = ?uri, reason = denial.to_string().as_str(), "subscription refused");
            return Err(ErrorData::invalid_request(denial.to_string(), None));
        }
        let mut subscribed = self.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        if subscribed.len() >= MAX_SUBSCRIPTIONS && !subscribed.contains(uri) {
            tracing::warn!(uri = ?uri, reason = "too many subscriptions", "subscription refused");
            return Err(ErrorData::invalid_request(
                format!(
                    "a session may subscribe to at most {MAX_SUBSCRIPTIONS} resources; unsubscribe from one first"
                ),
                None,
            ));
        }
        subscribed.insert(uri.to_owned());
        Ok(())
    }

    /// Stop telling the session of changes of a resource.
    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        (self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())).remove(&request.uri);
        Ok(())
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
        let snapshot = self.shared.dispatcher.registry().snapshot();
        *self.listen_from.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        let mut accepted = requested.supported_by(&ServerHandler::get_info(self).capabilities);
        if let Some(uris) = &mut accepted.resource_subscriptions {
            uris.retain(|u| u.len() <= MAX_URI_BYTES);
            uris.truncate(MAX_SUBSCRIPTIONS);
        }
        Some(accepted)
    }

    /// 2026-07-28 clients (and any sessionless client) hear of changes
    /// through `subscriptions/listen`: of the lists they asked for, and of
    /// the resources they name that they may read. rmcp acknowledges the
    /// subscription before this runs; a change since the request was
    /// accepted is announced first, so none falls in between.
    async fn listen(&self, cx: SubscriptionContext) -> Result<(), ErrorData> {
        let accepted = cx.accepted().clone();
        let registry = self.shared.dispatcher.registry();
        let policy = self.shared.dispatcher.policy();
        let principal = self.principal(cx.request_context());
        let current = registry.snapshot();
        let subscribed: Vec<String> = (accepted.resource_subscriptions.iter().flatten())
            .filter(|uri| {
                let entry = current.resolve(uri);
                let allowed = |p: &Principal| {
                    entry
                        .as_ref()
                        .is_some_and(|(e, _)| policy.decide_served(p, &served_resource(e)).is_ok())
                };
                principal.as_ref().is_none_or(allowed)
            })
            .cloned()
            .collect();
        let wants = |change: &Change| {
            (change.tools && accepted.tools_list_changed == Some(true))
                || (change.resources && accepted.resources_list_changed == Some(true))
                || (change.prompts && accepted.prompts_list_changed == Some(true))
                || !change.updated.is_empty()
        };
        let mut changes = registry.subscribe();
        changes.borrow_and_update();
        let accepted_at = self
            .listen_from
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut updates = self.shared.updates.subscribe();
        let mine = |u: &Updated| {
            principal.as_ref().is_some_and(|p| p.subject == u.subject)
                && subscribed.contains(&u.uri)
        };
        let mut before = accepted_at.unwrap_or_else(|| current.clone());
        let mut now = current;
        loop {
            let change = Change::between(&before, &now, &subscribed);
            if wants(&change) && send_change(&cx, &accepted, change).await.is_err() {
                return Ok(());
            }
            before = now.clone();
            tokio::select! {
                _ = cx.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    now = registry.snapshot();
                }
                update = updates.recv() => match update {
                    Ok(update) if mine(&update) => {
                        let change = Change { updated: vec![update.uri.clone()], ..Change::default() };
                        if send_change(&cx, &accepted, change).await.is_err() {
                            return Ok(());
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(lost)) => {
                        tracing::warn!(lost, "resource-updated notifications lost: a listener too slow");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}
