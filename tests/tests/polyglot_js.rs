//! The JavaScript kit's 0.2 surface, through `js_served` (built by the kit):
//! several tools with annotations and rich content, a fixed resource, a
//! template reading the caller's notes (written by the Rust notes_create)
//! for their owner only, a prompt with a required argument, and, over MCP,
//! progress reports, a client log message, the operator's configuration
//! value and an elicitation.
#![allow(deprecated)] // MCP logging, deprecated in 2026-07-28, is what is tested.

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorCode, GetPromptRequestParams, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ReadResourceRequestParams,
    ResourceContents,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService, ServiceError};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost::config::{ConfigValue, ToolPolicy};
use toolhost::runtime::{
    CallError, CallLinks, Component, Content, Contract, MessageRole, ResourceBody, ToolError,
};
use toolhost::storage::Store;
use toolhost::{Principal, Runtime, RuntimeConfig};
use toolhost_tests::{TestServer, create_note, plugins, shared_cache};

/// The 1x1 PNG js_media returns, base64.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGMAAQAABQABDQottAAAAABJRU5ErkJggg==";

fn runtime() -> Runtime {
    let config = RuntimeConfig {
        cache_dir: Some(shared_cache()),
        max_instances: 16,
        ..RuntimeConfig::default()
    };
    Runtime::new(config, Store::in_memory()).unwrap()
}

fn load(runtime: &Runtime, path: &str) -> Component {
    let bytes = std::fs::read(path).unwrap();
    runtime
        .load_component(Path::new(path), &bytes)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn args(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap()
}

#[test]
fn the_component_describes_its_tools_resources_and_prompt() {
    let rt = runtime();
    let served = load(&rt, plugins::JS_SERVED);
    assert_eq!(served.contract(), Contract::V0_2);
    let names: Vec<String> = served.tools().map(|t| t.name().to_owned()).collect();
    assert_eq!(names, ["js_media", "js_steps", "js_ask"]);

    let media = served.tool("js_media").unwrap();
    let a = media.info().annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), Some(false), Some(true), Some(false))
    );
    assert_eq!(media.info().title.as_deref(), Some("Media"));
    let steps = served.tool("js_steps").unwrap();
    let a = steps.info().annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), None, None, Some(false))
    );

    let uris: Vec<&str> = served.resources().iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["jsserved://about"]);
    assert_eq!(
        served.resources()[0].mime_type.as_deref(),
        Some("text/plain")
    );
    let templates: Vec<&str> = (served.templates().iter())
        .map(|t| t.template.as_str())
        .collect();
    assert_eq!(templates, ["jsnotes://{id}"]);
    assert_eq!(
        served.templates()[0].mime_type.as_deref(),
        Some("text/markdown")
    );
    let prompt = &served.prompts()[0];
    assert_eq!(prompt.name, "js_brainstorm");
    let arguments: Vec<(&str, bool)> = (prompt.arguments.iter())
        .map(|a| (a.name.as_str(), a.required))
        .collect();
    assert_eq!(arguments, [("topic", true), ("count", false)]);
    assert_eq!(prompt.arguments[0].title.as_deref(), Some("Topic"));

    // The ported kit tools declare their hints and APIs too.
    let search = load(&rt, plugins::NOTES_SEARCH);
    assert_eq!(search.contract(), Contract::V0_2);
    let a = search.tool("notes_search").unwrap().info().annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), None, Some(true), Some(false))
    );
    let fetch = load(&rt, plugins::JS_FETCH);
    assert_eq!(fetch.tool("js_fetch").unwrap().info().apis, ["app"]);
}

#[test]
fn a_tool_returns_every_kind_of_content_it_built_with_its_structured_result() {
    let rt = runtime();
    let served = load(&rt, plugins::JS_SERVED);
    let alice = Principal::new("alice", ["member"]);
    let out = served
        .tool("js_media")
        .unwrap()
        .call(&alice, "r-media", &json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.content.len(), 4, "{:?}", out.content);
    assert_eq!(out.content[0], Content::Text("a picture and a note".into()));
    match &out.content[1] {
        Content::Image { data, mime_type } => {
            assert!(data.starts_with(b"\x89PNG"), "{data:?}");
            assert_eq!(mime_type, "image/png");
        }
        other => panic!("{other:?}"),
    }
    match &out.content[2] {
        Content::Resource(r) => {
            assert_eq!(r.uri, "jsserved://about");
            assert_eq!(r.mime_type.as_deref(), Some("text/plain"));
            assert_eq!(r.body, ResourceBody::Text("made for alice".into()));
        }
        other => panic!("{other:?}"),
    }
    match &out.content[3] {
        Content::ResourceLink(link) => {
            assert_eq!(
                (link.uri.as_str(), link.name.as_str()),
                ("jsserved://about", "about")
            );
            assert_eq!(link.title.as_deref(), Some("About"));
            assert_eq!(link.mime_type.as_deref(), Some("text/plain"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.structured.unwrap(),
        json!({"subject": "alice", "blocks": 4})
    );

    // Without an operator's value the tool says so; it checks its own input
    // schema.
    let steps = served.tool("js_steps").unwrap();
    let out = steps
        .call(&alice, "r-steps", &json!({"name": "Ada"}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.structured.unwrap(),
        json!({"greeting": "Hello, Ada!", "steps": 3, "configured": false})
    );
    assert_eq!(out.content, [Content::Text("Hello, Ada! (3 steps)".into())]);
    let refused = steps.call(&alice, "r-bad", &json!({"name": ""}));
    assert!(
        matches!(&refused, Err(CallError::InvalidArguments { tool, .. }) if tool == "js_steps"),
        "{refused:?}"
    );

    // Outside a client session nobody can be asked: the tool gets the AskError.
    let asked = served
        .tool("js_ask")
        .unwrap()
        .call(&alice, "r-ask", &json!({}))
        .unwrap_or_else(|e| panic!("{e}"))
        .structured
        .unwrap();
    assert_eq!(asked["action"], "not asked", "{asked}");
    assert!(
        asked["reason"]
            .as_str()
            .unwrap()
            .contains("no client to ask"),
        "{asked}"
    );
}

#[test]
fn resources_read_the_callers_own_notes_and_the_prompt_is_filled_in() {
    let rt = runtime();
    let create = load(&rt, plugins::NOTES_CREATE);
    let served = load(&rt, plugins::JS_SERVED);
    let (alice, bob) = (
        Principal::new("alice", ["member"]),
        Principal::new("bob", ["member"]),
    );
    let links = CallLinks::default();
    let created = create
        .tool("notes_create")
        .unwrap()
        .call(
            &alice,
            "r-create",
            &json!({"title": "Groceries", "body": "milk, bread"}),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .structured
        .unwrap();
    let id = created["id"].as_str().unwrap();

    let uri = format!("jsnotes://{id}");
    let request = served.resolve(&uri).expect("the template matches");
    assert_eq!(request.template.as_deref(), Some("jsnotes://{id}"));
    assert_eq!(request.variables, [("id".to_owned(), id.to_owned())]);
    let contents = served
        .read_resource(&alice, "r-read", &request, rt.limits(), &links)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(contents.len(), 2, "{contents:?}");
    assert_eq!(contents[0].uri, uri);
    assert_eq!(
        contents[0].mime_type.as_deref(),
        Some("text/markdown"),
        "the resource's type by default"
    );
    assert_eq!(
        contents[0].body,
        ResourceBody::Text("# Groceries\n\nmilk, bread\n".into())
    );
    assert_eq!(contents[1].mime_type.as_deref(), Some("application/json"));
    match &contents[1].body {
        ResourceBody::Blob(bytes) => {
            let stored: Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(
                (stored["id"].as_str(), stored["title"].as_str()),
                (Some(id), Some("Groceries"))
            );
        }
        other => panic!("{other:?}"),
    }

    // Bob has no such note: the component's not-found.
    let theirs = served.read_resource(&bob, "r-bob", &request, rt.limits(), &links);
    match theirs {
        Err(CallError::Tool {
            error: ToolError::NotFound(message),
            ..
        }) => assert!(message.contains("no note with id"), "{message}"),
        other => panic!("{other:?}"),
    }

    let about = served.resolve("jsserved://about").unwrap();
    assert_eq!(about.template, None);
    let contents = served
        .read_resource(&bob, "r-about", &about, rt.limits(), &links)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        contents[0].body,
        ResourceBody::Text("js_served, read by bob".into())
    );

    let prompt = served
        .get_prompt(
            &alice,
            "r-prompt",
            "js_brainstorm",
            &[("topic".to_owned(), "tea".to_owned())],
            rt.limits(),
            &links,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prompt.description.as_deref(), Some("Ideas about tea"));
    assert_eq!(prompt.messages.len(), 2);
    assert_eq!(prompt.messages[0].role, MessageRole::User);
    assert_eq!(
        prompt.messages[0].content,
        Content::Text("Give me 3 ideas about tea.".into())
    );
    assert_eq!(prompt.messages[1].role, MessageRole::Assistant);
    assert_eq!(
        prompt.messages[1].content,
        Content::Text("Here are 3 ideas about tea for alice:".into())
    );
    let missing = served.get_prompt(
        &alice,
        "r-missing",
        "js_brainstorm",
        &[],
        rt.limits(),
        &links,
    );
    assert!(
        matches!(&missing, Err(CallError::InvalidArguments { .. })),
        "{missing:?}"
    );
}

/// A client that records progress reports and log messages, and whose user
/// answers every elicitation with the name "Ada".
#[derive(Clone, Default)]
struct Heard {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
    updated: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Heard {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.capabilities = ClientCapabilities::builder().enable_elicitation().build();
        info
    }

    async fn on_progress(
        &self,
        p: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(p);
    }

    async fn on_logging_message(
        &self,
        m: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(m);
    }

    async fn on_resource_updated(
        &self,
        p: rmcp::model::ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(p.uri);
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = Some(json!({"name": "Ada"}));
        Ok(result)
    }
}

impl Heard {
    /// Wait (bounded) until `progress` reports and `logs` log messages
    /// arrived: the client hands notifications to its handler concurrently,
    /// some after the result.
    async fn settle(&self, progress: usize, logs: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while (self.progress.lock().unwrap().len() < progress
            || self.logs.lock().unwrap().len() < logs)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn error_of(e: ServiceError) -> ErrorData {
    match e {
        ServiceError::McpError(data) => data,
        other => panic!("expected an MCP error, got {other}"),
    }
}

async fn read(
    client: &RunningService<RoleClient, impl ClientHandler>,
    uri: &str,
) -> Result<Vec<ResourceContents>, ErrorData> {
    client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map(|r| r.contents)
        .map_err(error_of)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_sees_the_javascript_components_whole_surface() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::JS_SERVED], |c| {
        c.storage.cache_dir = Some(shared_cache());
        c.tools.insert(
            "js_steps".into(),
            ToolPolicy {
                config: BTreeMap::from([(
                    "greeting".to_owned(),
                    ConfigValue::Text("Bonjour".into()),
                )]),
                ..Default::default()
            },
        );
    })
    .await;
    let heard = Heard::default();
    let alice = heard
        .clone()
        .serve(server.transport_as("alice", &["member"]))
        .await
        .unwrap();

    let tools = alice.list_all_tools().await.unwrap();
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        tool.annotations.clone().expect("annotations listed")
    };
    let media = hints("js_media");
    assert_eq!(
        (
            media.read_only_hint,
            media.destructive_hint,
            media.idempotent_hint,
            media.open_world_hint
        ),
        (Some(true), Some(false), Some(true), Some(false))
    );
    let steps = hints("js_steps");
    assert_eq!(
        (
            steps.read_only_hint,
            steps.destructive_hint,
            steps.open_world_hint
        ),
        (Some(true), None, Some(false))
    );

    // Content kinds as MCP blocks, beside the structured result.
    let result = alice
        .call_tool(CallToolRequestParams::new("js_media").with_arguments(args(json!({}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let blocks = serde_json::to_value(&result.content).unwrap();
    assert_eq!(
        blocks[0],
        json!({"type": "text", "text": "a picture and a note"})
    );
    assert_eq!(
        blocks[1],
        json!({"type": "image", "data": PNG_BASE64, "mimeType": "image/png"})
    );
    assert_eq!(
        blocks[2],
        json!({"type": "resource", "resource": {"uri": "jsserved://about", "mimeType": "text/plain", "text": "made for alice"}})
    );
    assert_eq!(
        blocks[3],
        json!({"type": "resource_link", "uri": "jsserved://about", "name": "about", "title": "About", "mimeType": "text/plain"})
    );
    assert_eq!(
        result.structured_content.unwrap(),
        json!({"subject": "alice", "blocks": 4})
    );

    // Progress three times and one log message, before or beside the
    // result; the operator's greeting; and the resource it says changed.
    alice
        .subscribe(rmcp::model::SubscribeRequestParams::new("jsserved://about"))
        .await
        .unwrap();
    let result = alice
        .call_tool(
            CallToolRequestParams::new("js_steps").with_arguments(args(json!({"name": "Ada"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        result.structured_content.unwrap(),
        json!({"greeting": "Bonjour, Ada!", "steps": 3, "configured": true})
    );
    heard.settle(3, 1).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while heard.updated.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(*heard.updated.lock().unwrap(), ["jsserved://about"]);
    let mut progress = std::mem::take(&mut *heard.progress.lock().unwrap());
    progress.sort_by(|a, b| a.progress.total_cmp(&b.progress));
    let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(values, [1.0, 2.0, 3.0]);
    assert_eq!(progress[0].total, Some(3.0));
    assert_eq!(progress[0].message.as_deref(), Some("step 1 of 3"));
    let logs = std::mem::take(&mut *heard.logs.lock().unwrap());
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].level, LoggingLevel::Info);
    assert_eq!(logs[0].logger.as_deref(), Some("js_steps"));
    assert_eq!(logs[0].data, json!({"done": 3, "name": "Ada"}));

    // The user is asked and answers.
    let asked = alice
        .call_tool(CallToolRequestParams::new("js_ask").with_arguments(args(json!({}))))
        .await
        .unwrap();
    assert_eq!(
        asked.structured_content.unwrap(),
        json!({"action": "accept", "name": "Ada"})
    );

    // The resources, listed and read as the caller.
    let resources = alice.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["jsserved://about"]);
    let templates = alice.list_all_resource_templates().await.unwrap();
    let templates: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(templates, ["jsnotes://{id}"]);
    let about = read(&alice, "jsserved://about").await.unwrap();
    assert!(
        matches!(&about[0], ResourceContents::TextResourceContents { text, .. } if text == "js_served, read by alice"),
        "{about:?}"
    );
    let id = create_note(&alice, "tax return", "due in May").await;
    let note = read(&alice, &format!("jsnotes://{id}")).await.unwrap();
    match &note[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => {
            assert_eq!(text, "# tax return\n\ndue in May\n");
            assert_eq!(mime_type.as_deref(), Some("text/markdown"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&note[1], ResourceContents::BlobResourceContents { mime_type, .. } if mime_type.as_deref() == Some("application/json")),
        "{note:?}"
    );
    let bob = ().serve(server.transport_as("bob", &["member"])).await.unwrap();
    let theirs = read(&bob, &format!("jsnotes://{id}")).await.unwrap_err();
    assert_eq!(theirs.code, ErrorCode::RESOURCE_NOT_FOUND, "{theirs:?}");
    assert!(theirs.message.contains("no note with id"), "{theirs:?}");

    // Bob's client declares no elicitation: the tool hears why.
    let refused = bob
        .call_tool(CallToolRequestParams::new("js_ask").with_arguments(args(json!({}))))
        .await
        .unwrap();
    let refused = refused.structured_content.unwrap();
    assert_eq!(refused["action"], "not asked", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("the client does not support elicitation"),
        "{refused}"
    );

    // The prompt, filled in; its required argument enforced by the host.
    let prompts = alice.list_all_prompts().await.unwrap();
    let brainstorm = prompts.iter().find(|p| p.name == "js_brainstorm").unwrap();
    let topic = &brainstorm.arguments.as_ref().unwrap()[0];
    assert_eq!((topic.name.as_str(), topic.required), ("topic", Some(true)));
    let filled = alice
        .get_prompt(
            GetPromptRequestParams::new("js_brainstorm")
                .with_arguments(args(json!({"topic": "tea", "count": "5"}))),
        )
        .await
        .unwrap();
    assert_eq!(filled.description.as_deref(), Some("Ideas about tea"));
    let texts: Vec<String> = (filled.messages.iter())
        .map(|m| m.content.as_text().unwrap().text.clone())
        .collect();
    assert_eq!(
        texts,
        [
            "Give me 5 ideas about tea.",
            "Here are 5 ideas about tea for alice:"
        ]
    );
    let missing = alice
        .get_prompt(GetPromptRequestParams::new("js_brainstorm").with_arguments(args(json!({}))))
        .await
        .map_err(error_of)
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::INVALID_PARAMS, "{missing:?}");
    assert!(
        missing.message.contains("\"topic\" is required"),
        "{missing:?}"
    );
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}
