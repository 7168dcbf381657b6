//! The Python kit's 0.2 surface, built by `sdk/python/build.sh`: the test
//! component py_served (two tools, a fixed resource, a template resource
//! reading the Rust notes_create's notes, a prompt) and the bundled
//! notes_export, loaded in a runtime and served to MCP clients: schemas and
//! prompt arguments inferred from type hints, annotations, every content kind
//! the fixture returns, each caller's own notes, the user's answer to an
//! elicitation, the operator's configuration, a log message for the client,
//! and progress reports only for large exports.
#![allow(deprecated)] // MCP logging, deprecated in 2026-07-28, is part of what is tested.

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, GetPromptRequestParams, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ReadResourceRequestParams,
    ResourceContents,
};
use rmcp::service::{NotificationContext, RequestContext, ServiceError};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost::config::ConfigValue;
use toolhost::runtime::{CallError, Content, Contract, MessageRole, ResourceBody, ToolError};
use toolhost::storage::Store;
use toolhost::testing::PluginHarness;
use toolhost::{Runtime, RuntimeConfig};
use toolhost_tests::{TestServer, create_note, plugins, shared_cache};

/// `path` loaded into a runtime that shares the compiled-artifact cache of
/// the other tests of the kits' components (a Python component compiles in
/// seconds).
fn harness(path: &str) -> PluginHarness {
    let config = RuntimeConfig {
        cache_dir: Some(shared_cache()),
        max_instances: 16,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Store::in_memory()).unwrap();
    PluginHarness::with_runtime(runtime, Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_kit_describes_tools_from_their_type_hints_with_their_annotations() {
    let served = harness(plugins::PY_SERVED);
    let component = served.plugin().component();
    assert_eq!(component.contract(), Contract::V0_2);
    let names: Vec<String> = component.tools().map(|t| t.name().to_owned()).collect();
    assert_eq!(names, ["py_clip", "py_confirm"]);

    let clip = component.tool("py_clip").unwrap();
    let info = clip.info();
    assert_eq!(info.title.as_deref(), Some("Say a word"));
    assert_eq!(
        info.description, "Say `word` `times` times as an audio clip, with a link to the logo.",
        "the docstring's first paragraph"
    );
    assert_eq!(
        info.input_schema.as_json(),
        &json!({
            "type": "object",
            "properties": {
                "word": {"type": "string", "description": "The word to say.", "minLength": 1, "maxLength": 32},
                "times": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1},
                "voice": {"type": "string", "enum": ["low", "high"], "default": "low"},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}, "default": null}
            },
            "required": ["word"],
            "additionalProperties": false
        })
    );
    let a = info.annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), None, None, Some(false))
    );
    let confirm = component.tool("py_confirm").unwrap();
    assert_eq!(confirm.info().annotations.destructive, Some(false));

    let export = harness(plugins::NOTES_EXPORT);
    let info = export.plugin().info();
    assert_eq!(
        info.input_schema.as_json(),
        &json!({
            "type": "object",
            "properties": {"limit": {
                "type": "integer", "description": "How many of the newest notes to export.",
                "minimum": 1, "maximum": 1000, "default": 100
            }},
            "additionalProperties": false
        })
    );
    let a = info.annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), None, Some(true), Some(false))
    );

    let fetch = harness(plugins::PY_FETCH);
    assert_eq!(
        fetch.plugin().info().apis,
        ["app"],
        "declared as an extension"
    );
}

#[test]
fn a_python_tool_returns_audio_a_resource_link_and_structured_output() {
    let served = harness(plugins::PY_SERVED);
    let alice = served.principal("alice", &["member"]);
    let clip = served.tool("py_clip").unwrap();
    let out = clip
        .call(&alice, json!({"word": "hey", "times": 2}))
        .unwrap();
    assert_eq!(out.content.len(), 3, "{:?}", out.content);
    assert_eq!(
        out.content[0],
        Content::Text("hey x2 in a low voice".into())
    );
    assert!(
        matches!(&out.content[1], Content::Audio { data, mime_type } if data == b"RIFFheyhey" && mime_type == "audio/wav"),
        "{:?}",
        out.content[1]
    );
    match &out.content[2] {
        Content::ResourceLink(link) => {
            assert_eq!(
                (link.uri.as_str(), link.name.as_str()),
                ("pyserved://logo", "logo")
            );
            assert_eq!(link.title.as_deref(), Some("The logo"));
            assert_eq!(link.mime_type.as_deref(), Some("image/png"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.structured.unwrap(),
        json!({"word": "hey", "times": 2, "voice": "low", "tags": [], "bytes": 10})
    );
    // The inferred schema is the host's to check.
    let refused = clip.call(&alice, json!({"word": "hey", "voice": "mid"}));
    assert!(
        matches!(&refused, Err(CallError::InvalidArguments { violations, .. }) if violations[0].starts_with("/voice")),
        "{refused:?}"
    );
    let refused = clip.call(&alice, json!({"word": "hey", "extra": 1}));
    assert!(
        matches!(&refused, Err(CallError::InvalidArguments { .. })),
        "{refused:?}"
    );
}

#[test]
fn python_resources_and_prompts_serve_each_caller_their_own() {
    let served = harness(plugins::PY_SERVED);
    let create = served
        .sibling(plugins::NOTES_CREATE.as_ref())
        .unwrap_or_else(|e| panic!("{e}"));
    let alice = served.principal("alice", &["member"]);
    let bob = served.principal("bob", &["member"]);

    let component = served.plugin().component();
    let templates: Vec<&str> = (component.templates().iter())
        .map(|t| t.template.as_str())
        .collect();
    assert_eq!(templates, ["pynotes://{id}"]);
    let logo = served.read_resource(&alice, "pyserved://logo").unwrap();
    assert_eq!(logo.len(), 1);
    assert_eq!(logo[0].uri, "pyserved://logo");
    assert_eq!(logo[0].mime_type.as_deref(), Some("image/png"));
    assert!(
        matches!(&logo[0].body, ResourceBody::Blob(png) if png.starts_with(b"\x89PNG")),
        "{:?}",
        logo[0]
    );

    let created = create
        .call(
            &alice,
            json!({"title": "Groceries", "body": "Milk and bread"}),
        )
        .unwrap()
        .structured
        .unwrap();
    let uri = format!("pynotes://{}", created["id"].as_str().unwrap());
    let note = served.read_resource(&alice, &uri).unwrap();
    assert_eq!(note[0].uri, uri);
    assert_eq!(
        note[0].mime_type.as_deref(),
        Some("text/markdown"),
        "the template's declared type"
    );
    assert_eq!(
        note[0].body,
        ResourceBody::Text("# Groceries\n\nMilk and bread\n".into())
    );
    // Bob has no such note: the resource's own not-found.
    match served.read_resource(&bob, &uri) {
        Err(CallError::Tool {
            error: ToolError::NotFound(message),
            ..
        }) => assert!(message.contains("no note with id"), "{message}"),
        other => panic!("{other:?}"),
    }

    let prompt = (component.prompts().iter())
        .find(|p| p.name == "py_review")
        .unwrap();
    let arguments: Vec<(&str, bool)> = (prompt.arguments.iter())
        .map(|a| (a.name.as_str(), a.required))
        .collect();
    assert_eq!(arguments, [("topic", true), ("tone", false)]);
    assert_eq!(
        prompt.arguments[0].description.as_deref(),
        Some("What to review.")
    );
    let got = served
        .get_prompt(&alice, "py_review", &[("topic", "taxes")])
        .unwrap();
    assert_eq!(got.description.as_deref(), Some("A review of taxes"));
    assert_eq!(got.messages.len(), 2);
    assert_eq!(got.messages[0].role, MessageRole::User);
    assert_eq!(
        got.messages[0].content,
        Content::Text("Review my notes about taxes.".into())
    );
    assert_eq!(got.messages[1].role, MessageRole::Assistant);
    let toned = served
        .get_prompt(&alice, "py_review", &[("topic", "taxes"), ("tone", "dry")])
        .unwrap();
    assert_eq!(
        toned.messages[0].content,
        Content::Text("Review my notes about taxes in a dry tone.".into())
    );
    let missing = served.get_prompt(&alice, "py_review", &[]);
    assert!(
        matches!(&missing, Err(CallError::InvalidArguments { .. })),
        "{missing:?}"
    );
}

/// A client whose user answers every elicitation with `action` (an
/// acceptance ticks the box), and that records the progress and the log
/// messages it hears.
#[derive(Clone)]
struct User {
    action: ElicitationAction,
    asked: Arc<Mutex<Vec<String>>>,
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
    updated: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn answering(action: ElicitationAction) -> Self {
        User {
            action,
            asked: Arc::default(),
            progress: Arc::default(),
            logs: Arc::default(),
            updated: Arc::default(),
        }
    }

    /// The log messages heard, after waiting (bounded) for `n`.
    async fn logs_after(&self, n: usize) -> Vec<LoggingMessageNotificationParam> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.logs.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::mem::take(&mut *self.logs.lock().unwrap())
    }

    /// The progress heard, in order of `progress`, after waiting (bounded)
    /// for `n` reports and a little more for any that should not come: the
    /// client hands notifications to its handler concurrently.
    async fn progress_after(&self, n: usize) -> Vec<ProgressNotificationParam> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.progress.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut heard = std::mem::take(&mut *self.progress.lock().unwrap());
        heard.sort_by(|a, b| a.progress.total_cmp(&b.progress));
        heard
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.capabilities = ClientCapabilities::builder().enable_elicitation().build();
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        let mut result = ElicitResult::new(self.action.clone());
        if self.action == ElicitationAction::Accept {
            result.content = Some(json!({"confirm": true}));
        }
        Ok(result)
    }

    async fn on_progress(
        &self,
        p: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(p);
    }

    async fn on_resource_updated(
        &self,
        p: rmcp::model::ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(p.uri);
    }

    async fn on_logging_message(
        &self,
        m: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(m);
    }
}

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap())
}

fn first_text(result: &CallToolResult) -> String {
    result.content[0].as_text().unwrap().text.clone()
}

async fn start() -> TestServer {
    TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_EXPORT,
            plugins::PY_SERVED,
        ],
        |c| {
            c.storage.cache_dir = Some(shared_cache());
            let policy = c.tools.entry("py_confirm".into()).or_default();
            policy
                .config
                .insert("greeting".into(), ConfigValue::Text("Ahoy".into()));
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_tool_hears_the_users_answer_and_the_operators_greeting() {
    let server = start().await;
    for (action, word, confirmed) in [
        (ElicitationAction::Accept, "accept", true),
        (ElicitationAction::Decline, "decline", false),
    ] {
        let user = User::answering(action);
        let client = user.clone().serve(server.transport()).await.unwrap();
        // A confirmed action changes the logo, for its subscribers.
        #[allow(deprecated)]
        let subscribe = rmcp::model::SubscribeRequestParams::new("pyserved://logo");
        #[allow(deprecated)]
        client.subscribe(subscribe).await.unwrap();
        let answered = client
            .call_tool(params("py_confirm", json!({"action": "deploy"})))
            .await
            .unwrap();
        assert_eq!(answered.is_error, Some(false), "{answered:?}");
        assert_eq!(
            answered.structured_content.clone().unwrap(),
            json!({"action": word, "confirmed": confirmed, "greeting": "Ahoy"})
        );
        assert_eq!(
            first_text(&answered),
            format!(
                "Ahoy: the user answered {word} (confirmed: {})",
                if confirmed { "True" } else { "False" }
            )
        );
        assert_eq!(*user.asked.lock().unwrap(), ["Ahoy! Go ahead with deploy?"]);
        let logs = user.logs_after(1).await;
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0].level, LoggingLevel::Info);
        assert_eq!(logs[0].logger.as_deref(), Some("py_confirm"));
        assert_eq!(logs[0].data, json!({"action": "deploy", "answer": word}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while confirmed && user.updated.lock().unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let expected: &[&str] = if confirmed { &["pyserved://logo"] } else { &[] };
        assert_eq!(*user.updated.lock().unwrap(), expected);
        client.cancel().await.unwrap();
    }

    // A 2026-07-28 client is asked in an input_required round; the call
    // runs again with the answer.
    let user = User::answering(ElicitationAction::Accept);
    let client = server.client_2026_with(user.clone()).await;
    let answered = client
        .call_tool(params("py_confirm", json!({"action": "ship"})))
        .await
        .unwrap();
    assert_eq!(
        answered.structured_content.clone().unwrap(),
        json!({"action": "accept", "confirmed": true, "greeting": "Ahoy"}),
        "{answered:?}"
    );
    assert_eq!(*user.asked.lock().unwrap(), ["Ahoy! Go ahead with ship?"]);
    client.cancel().await.unwrap();

    // A client that cannot be asked: the kit's AskError fails the call
    // with the host's reason.
    let client = ().serve(server.transport()).await.unwrap();
    let refused = client
        .call_tool(params("py_confirm", json!({"action": "deploy"})))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    assert!(
        first_text(&refused).contains("the client does not support elicitation"),
        "{refused:?}"
    );
    client.cancel().await.unwrap();
}

fn mcp_error(e: ServiceError) -> rmcp::ErrorData {
    match e {
        ServiceError::McpError(data) => data,
        other => panic!("expected an MCP error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_clients_list_and_read_what_the_python_component_serves() {
    let server = start().await;
    let alice = ().serve(server.transport_as("alice", &["member"])).await.unwrap();
    let tools = alice.list_all_tools().await.unwrap();
    let clip = tools.iter().find(|t| t.name == "py_clip").unwrap();
    assert_eq!(clip.input_schema["required"], json!(["word"]));
    let hints = clip.annotations.clone().expect("annotations listed");
    assert_eq!(
        (hints.read_only_hint, hints.open_world_hint),
        (Some(true), Some(false))
    );
    let resources: Vec<String> = (alice.list_all_resources().await.unwrap())
        .into_iter()
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(resources, ["pyserved://logo"]);
    let templates: Vec<String> = (alice.list_all_resource_templates().await.unwrap())
        .into_iter()
        .map(|t| t.uri_template.clone())
        .collect();
    assert_eq!(templates, ["pynotes://{id}"]);

    let result = alice
        .call_tool(params("py_clip", json!({"word": "hey"})))
        .await
        .unwrap();
    let blocks = serde_json::to_value(&result.content).unwrap();
    assert_eq!(
        blocks[1],
        json!({"type": "audio", "data": "UklGRmhleQ==", "mimeType": "audio/wav"})
    );
    assert_eq!(
        blocks[2],
        json!({"type": "resource_link", "uri": "pyserved://logo", "name": "logo", "title": "The logo", "mimeType": "image/png"})
    );

    let id = create_note(&alice, "Pay rent", "by Friday").await;
    let read = alice
        .read_resource(ReadResourceRequestParams::new(format!("pynotes://{id}")))
        .await
        .unwrap();
    match &read.contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => {
            assert_eq!(text, "# Pay rent\n\nby Friday\n");
            assert_eq!(mime_type.as_deref(), Some("text/markdown"));
        }
        other => panic!("{other:?}"),
    }
    let bob = ().serve(server.transport_as("bob", &["member"])).await.unwrap();
    let theirs = bob
        .read_resource(ReadResourceRequestParams::new(format!("pynotes://{id}")))
        .await
        .map_err(mcp_error)
        .unwrap_err();
    assert_eq!(
        theirs.code,
        rmcp::model::ErrorCode::RESOURCE_NOT_FOUND,
        "{theirs:?}"
    );

    let prompt = alice
        .get_prompt(
            GetPromptRequestParams::new("py_review")
                .with_arguments(json!({"topic": "rent"}).as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(prompt.description.as_deref(), Some("A review of rent"));
    assert_eq!(
        prompt.messages[0].content.as_text().unwrap().text,
        "Review my notes about rent."
    );
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_export_reports_progress_every_5_percent_of_a_large_export_only() {
    let server = start().await;
    // rmcp's client asks for progress on every request.
    let user = User::answering(ElicitationAction::Cancel);
    let large = user
        .clone()
        .serve(server.transport_as("alice", &["member"]))
        .await
        .unwrap();
    for i in 0..100 {
        create_note(&large, &format!("note {i}"), "body").await;
    }
    user.progress_after(0).await; // notes_create reports none; clear anything
    let exported = large
        .call_tool(params("notes_export", json!({"limit": 1000})))
        .await
        .unwrap();
    assert_eq!(exported.structured_content.unwrap()["count"], 100);
    let heard = user.progress_after(20).await;
    let values: Vec<f64> = heard.iter().map(|p| p.progress).collect();
    let every_5: Vec<f64> = (1..=20).map(|i| f64::from(i * 5)).collect();
    assert_eq!(values, every_5, "20 reports, one every 5 notes");
    assert!(heard.iter().all(|p| p.total == Some(100.0)), "{heard:?}");
    assert_eq!(heard[19].message.as_deref(), Some("100 of 100 notes"));
    large.cancel().await.unwrap();

    let user = User::answering(ElicitationAction::Cancel);
    let small = user
        .clone()
        .serve(server.transport_as("bob", &["member"]))
        .await
        .unwrap();
    for i in 0..3 {
        create_note(&small, &format!("note {i}"), "body").await;
    }
    let exported = small
        .call_tool(params("notes_export", json!({})))
        .await
        .unwrap();
    assert_eq!(exported.structured_content.unwrap()["count"], 3);
    assert!(
        user.progress_after(0).await.is_empty(),
        "no progress for a small export"
    );
    small.cancel().await.unwrap();
}
