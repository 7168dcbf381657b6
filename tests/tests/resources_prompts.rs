//! Resources, resource templates and prompts served by 0.2 components, as
//! MCP clients see them: listed per caller, read and got as the caller,
//! refused with the reason, governed by the operator's roles, recorded in
//! the audit trail, and announced when the set changes (to 2025-11-25
//! sessions and 2026-07-28 listeners, and to the subscribers of a
//! resource).
#![allow(deprecated)] // resources/subscribe is what 2025-11-25 clients use.

use rmcp::model::{
    ErrorCode, GetPromptRequestParams, ReadResourceRequestParams, ResourceContents,
    ResourceUpdatedNotificationParam, ServerNotification, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService, ServiceError};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use toolhost::config::ServedPolicy;
use toolhost_tests::{TestServer, create_note, plugins, shared_cache};

const RELOAD: Duration = Duration::from_secs(10);

fn error_of(e: ServiceError) -> rmcp::ErrorData {
    match e {
        ServiceError::McpError(data) => data,
        other => panic!("expected an MCP error, got {other}"),
    }
}

async fn read(
    client: &RunningService<RoleClient, impl ClientHandler>,
    uri: &str,
) -> Result<Vec<ResourceContents>, rmcp::ErrorData> {
    client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map(|r| r.contents)
        .map_err(error_of)
}

fn text_of(contents: &[ResourceContents]) -> &str {
    match &contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text,
        other => panic!("expected text, got {other:?}"),
    }
}

async fn prompt_text(
    client: &RunningService<RoleClient, impl ClientHandler>,
    name: &str,
    arguments: Value,
) -> Result<String, rmcp::ErrorData> {
    let params =
        GetPromptRequestParams::new(name).with_arguments(arguments.as_object().cloned().unwrap());
    let result = client.get_prompt(params).await.map_err(error_of)?;
    Ok(result
        .messages
        .iter()
        .map(|m| match m.content.as_text() {
            Some(t) => t.text.clone(),
            None => format!("{:?}", m.content),
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_list_and_read_resources_as_the_caller() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::CONFORMANCE_SERVED,
        ],
        |_| {},
    )
    .await;
    let alice = ().serve(server.transport_as("alice", &["member"])).await.unwrap();
    let caps = alice.peer_info().unwrap().capabilities.clone();
    let resources = caps.resources.expect("resources capability");
    assert_eq!(
        (resources.subscribe, resources.list_changed),
        (Some(true), Some(true))
    );
    assert_eq!(caps.prompts.unwrap().list_changed, Some(true));

    let mut uris: Vec<String> = (alice.list_all_resources().await.unwrap())
        .into_iter()
        .map(|r| r.uri.clone())
        .collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            "test://static-binary",
            "test://static-text",
            "test://watched-resource"
        ]
    );
    let mut templates: Vec<String> = (alice.list_all_resource_templates().await.unwrap())
        .into_iter()
        .map(|t| t.uri_template.clone())
        .collect();
    templates.sort();
    assert_eq!(templates, ["notes://{id}", "test://template/{id}/data"]);

    // A template resource reads the caller's own data.
    let id = create_note(&alice, "groceries", "about groceries").await;
    let note = read(&alice, &format!("notes://{id}")).await.unwrap();
    assert!(
        text_of(&note).starts_with("# groceries\n\nabout groceries"),
        "{note:?}"
    );
    match &note[0] {
        ResourceContents::TextResourceContents { uri, mime_type, .. } => {
            assert_eq!(uri, &format!("notes://{id}"));
            assert_eq!(mime_type.as_deref(), Some("text/markdown"));
        }
        other => panic!("{other:?}"),
    }
    // Another caller has no such note: the component's not-found.
    let bob = ().serve(server.transport_as("bob", &["member"])).await.unwrap();
    let theirs = read(&bob, &format!("notes://{id}")).await.unwrap_err();
    assert_eq!(theirs.code, ErrorCode::RESOURCE_NOT_FOUND, "{theirs:?}");
    assert!(theirs.message.contains("no note with id"), "{theirs:?}");

    // Values are decoded; binary contents arrive as base64.
    let data = read(&alice, "test://template/a%20b/data").await.unwrap();
    assert!(text_of(&data).contains("Data for ID: a b"), "{data:?}");
    let binary = read(&alice, "test://static-binary").await.unwrap();
    assert!(
        matches!(&binary[0], ResourceContents::BlobResourceContents { blob, .. } if blob.starts_with("iVBOR")),
        "{binary:?}"
    );

    // What nothing serves, or what no template matches, is not found.
    for uri in ["nope://x", "notes://a/b", "test://template//data"] {
        let e = read(&alice, uri).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::RESOURCE_NOT_FOUND, "{uri}: {e:?}");
        assert!(e.message.contains("unknown resource"), "{uri}: {e:?}");
    }
    let long = read(&alice, &format!("notes://{}", "x".repeat(3000)))
        .await
        .unwrap_err();
    assert_eq!(long.code, ErrorCode::INVALID_PARAMS, "{long:?}");
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_get_prompts_filled_in_and_bad_arguments_are_refused() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::CONFORMANCE_PY,
        ],
        |c| c.storage.cache_dir = Some(shared_cache()),
    )
    .await;
    let client = ().serve(server.transport_as("carol", &["member"])).await.unwrap();
    let prompts = client.list_all_prompts().await.unwrap();
    let summarise = prompts
        .iter()
        .find(|p| p.name == "summarise_notes")
        .unwrap();
    assert_eq!(summarise.title.as_deref(), Some("Summarise my notes"));
    let topic = &summarise.arguments.as_ref().unwrap()[0];
    assert_eq!(
        (topic.name.as_str(), topic.required),
        ("topic", Some(false))
    );
    let with_args = prompts
        .iter()
        .find(|p| p.name == "test_prompt_with_arguments")
        .unwrap();
    assert_eq!(with_args.arguments.as_ref().unwrap().len(), 2);

    let empty = prompt_text(&client, "summarise_notes", json!({}))
        .await
        .unwrap();
    assert!(empty.contains("I have no notes yet"), "{empty}");
    create_note(&client, "tax return", "about tax return").await;
    create_note(&client, "holiday plans", "about holiday plans").await;
    let all = prompt_text(&client, "summarise_notes", json!({}))
        .await
        .unwrap();
    assert!(
        all.contains("tax return") && all.contains("holiday plans"),
        "{all}"
    );
    let about = prompt_text(&client, "summarise_notes", json!({"topic": "HOLIDAY"}))
        .await
        .unwrap();
    assert!(
        about.contains("holiday plans") && !about.contains("tax return"),
        "{about}"
    );

    let filled = prompt_text(
        &client,
        "test_prompt_with_arguments",
        json!({"arg1": "x", "arg2": "y"}),
    )
    .await
    .unwrap();
    assert_eq!(filled, "Prompt with arguments: arg1='x', arg2='y'");

    let missing = prompt_text(&client, "test_prompt_with_arguments", json!({"arg1": "x"}))
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::INVALID_PARAMS, "{missing:?}");
    assert!(
        missing.message.contains("\"arg2\" is required"),
        "{missing:?}"
    );
    let unknown_arg = prompt_text(&client, "summarise_notes", json!({"colour": "red"}))
        .await
        .unwrap_err();
    assert!(
        unknown_arg
            .message
            .contains("\"colour\" is not an argument"),
        "{unknown_arg:?}"
    );
    let not_text = prompt_text(&client, "summarise_notes", json!({"topic": 3}))
        .await
        .unwrap_err();
    assert!(
        not_text.message.contains("must be a string"),
        "{not_text:?}"
    );
    let unknown = prompt_text(&client, "no_such_prompt", json!({}))
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::INVALID_PARAMS, "{unknown:?}");
    assert!(unknown.message.contains("unknown prompt"), "{unknown:?}");
    client.cancel().await.unwrap();

    // Each read and get is in the audit trail under its own name.
    let records = server
        .audit_records(toolhost::storage::audit::AuditQuery {
            subject: Some("carol".into()),
            limit: 100,
            ..Default::default()
        })
        .await;
    let gets: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "prompt summarise_notes")
        .collect();
    // The non-string argument was refused before the pipeline.
    assert_eq!(gets.len(), 4, "{records:?}");
    assert_eq!(
        gets.iter().filter(|r| r.outcome == "ok").count(),
        3,
        "{gets:?}"
    );
    assert!(
        gets.iter().any(|r| r.outcome == "invalid_arguments"),
        "{gets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_decides_who_reads_a_resource_and_gets_a_prompt() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |c| {
        c.prompts.insert(
            "summarise_notes".into(),
            ServedPolicy {
                roles: Some(vec!["admin".into()]),
            },
        );
        c.resources.insert(
            "notes://{id}".into(),
            ServedPolicy {
                roles: Some(vec!["admin".into()]),
            },
        );
    })
    .await;
    let member = ().serve(server.transport_as("dave", &["member"])).await.unwrap();
    assert!(member.list_all_prompts().await.unwrap().is_empty());
    assert!(
        member
            .list_all_resource_templates()
            .await
            .unwrap()
            .is_empty()
    );
    let id = create_note(&member, "mine", "about mine").await;
    let denied = read(&member, &format!("notes://{id}")).await.unwrap_err();
    assert_eq!(denied.code, ErrorCode::INVALID_REQUEST, "{denied:?}");
    assert!(
        denied.message.contains("needs one of the roles [admin]"),
        "{denied:?}"
    );
    let denied = prompt_text(&member, "summarise_notes", json!({}))
        .await
        .unwrap_err();
    assert!(
        denied.message.contains("needs one of the roles [admin]"),
        "{denied:?}"
    );
    let subscribe = member
        .subscribe(SubscribeRequestParams::new(format!("notes://{id}")))
        .await
        .map_err(error_of)
        .unwrap_err();
    assert!(
        subscribe.message.contains("needs one of the roles [admin]"),
        "{subscribe:?}"
    );
    member.cancel().await.unwrap();

    let admin = ().serve(server.transport_as("dave", &["admin"])).await.unwrap();
    assert_eq!(admin.list_all_prompts().await.unwrap().len(), 1);
    let note = read(&admin, &format!("notes://{id}")).await.unwrap();
    assert!(text_of(&note).starts_with("# mine"), "{note:?}");
    admin.cancel().await.unwrap();
}

/// What a session client heard.
#[derive(Clone, Default)]
struct Heard {
    events: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Heard {
    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.events.lock().unwrap().push("tools".into());
    }

    async fn on_resource_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.events.lock().unwrap().push("resources".into());
    }

    async fn on_prompt_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.events.lock().unwrap().push("prompts".into());
    }

    async fn on_resource_updated(
        &self,
        p: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.events
            .lock()
            .unwrap()
            .push(format!("updated {}", p.uri));
    }
}

impl Heard {
    /// Wait (bounded) until `n` events arrived, then a little more for any
    /// that should not come.
    async fn settle(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + RELOAD;
        while self.events.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut events = std::mem::take(&mut *self.events.lock().unwrap());
        events.sort();
        events
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_hear_which_lists_changed_and_subscribers_of_their_resources() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let heard = Heard::default();
    let client = heard.clone().serve(server.transport()).await.unwrap();
    server.install_plugin(plugins::CONFORMANCE_SERVED, "served.wasm");
    // Resources came; the prompts and the tools did not change.
    assert_eq!(heard.settle(1).await, ["resources"]);

    client
        .subscribe(SubscribeRequestParams::new("test://watched-resource"))
        .await
        .unwrap();
    client
        .subscribe(SubscribeRequestParams::new("test://template/7/data"))
        .await
        .unwrap();
    let unknown = client
        .subscribe(SubscribeRequestParams::new("test://nothing"))
        .await
        .map_err(error_of)
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::RESOURCE_NOT_FOUND, "{unknown:?}");
    client
        .unsubscribe(UnsubscribeRequestParams::new("test://template/7/data"))
        .await
        .unwrap();

    // A second file declaring the same resources is refused as a whole.
    server.install_plugin(plugins::CONFORMANCE_SERVED, "zz-again.wasm");
    let refused = server
        .wait_for(RELOAD, |r| {
            r.problems()
                .values()
                .any(|p| p.contains("another file serves the resource"))
        })
        .await;
    assert!(refused, "{:?}", server.host.registry().problems());
    server.remove_plugin("zz-again.wasm");

    // The serving file goes away: the resources changed, and the subscribed
    // resource (only it) is no longer what it was.
    server.remove_plugin("served.wasm");
    assert_eq!(
        heard.settle(2).await,
        ["resources", "updated test://watched-resource"]
    );
    // A file serving a tool, a template and a prompt goes: all three lists.
    server.remove_plugin("notes_list.wasm");
    assert_eq!(heard.settle(3).await, ["prompts", "resources", "tools"]);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_of_the_2026_revision_hear_of_resources_and_prompts() {
    let server = TestServer::start(&[plugins::CONFORMANCE_SERVED], |_| {}).await;
    let client = server.client_2026().await;
    let mut subscription = client
        .listen(
            SubscriptionFilter::builder()
                .resources_list_changed()
                .prompts_list_changed()
                .build(),
        )
        .await
        .unwrap();
    // notes_list serves a template and a prompt (and a tool, which this
    // listener did not ask to hear of).
    server.install_plugin(plugins::NOTES_LIST, "notes_list.wasm");
    let mut heard = Vec::new();
    for _ in 0..2 {
        let note = tokio::time::timeout(RELOAD, subscription.next())
            .await
            .expect("notified in time")
            .unwrap();
        heard.push(match note {
            Some(ServerNotification::ResourceListChangedNotification(_)) => "resources",
            Some(ServerNotification::PromptListChangedNotification(_)) => "prompts",
            other => panic!("unexpected {other:?}"),
        });
    }
    heard.sort();
    assert_eq!(heard, ["prompts", "resources"]);
    let read = client
        .read_resource(ReadResourceRequestParams::new("test://static-text"))
        .await
        .unwrap();
    assert_eq!(read.contents.len(), 1);
    subscription.cancel().await.unwrap();
    client.cancel().await.unwrap();
}
