//! The 0.2 contract beside 0.1: one component serving several tools with
//! annotations and every content kind, the whole set swapped and removed as
//! one, a duplicate name refused at load, and a 0.1 tool (built from
//! `wit/0.1` with bare bindings) served beside 0.2 ones, on the same data.

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, JsonObject};
use serde_json::{Value, json};
use std::time::Duration;
use toolhost::runtime::{CallError, Content, Contract, LoadError, ResourceBody};
use toolhost::testing::PluginHarness;
use toolhost_tests::{TestServer, plugins};

const RELOAD: Duration = Duration::from_secs(5);

#[test]
fn one_component_serves_five_tools_with_their_own_descriptions() {
    let harness = PluginHarness::load(plugins::MULTI_TOOLS.as_ref()).unwrap();
    let plugin = harness.plugin();
    assert_eq!(plugin.contract(), Contract::V0_2);
    let names: Vec<String> = plugin
        .component()
        .tools()
        .map(|t| t.name().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "multi_echo",
            "multi_media",
            "multi_bad_block",
            "multi_progress",
            "multi_config"
        ]
    );

    let echo = plugin.component().tool("multi_echo").unwrap();
    let a = echo.info().annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (Some(true), None, None, Some(false))
    );
    assert_eq!(echo.info().title.as_deref(), Some("Echo"));
    let media = plugin.component().tool("multi_media").unwrap();
    assert_eq!(media.info().roles, ["member"]);
    assert_eq!(media.info().annotations.idempotent, Some(true));
    assert_eq!(media.content_hash(), echo.content_hash(), "one version");

    let alice = harness.principal("alice", &[]);
    let out = harness
        .tool("multi_echo")
        .unwrap()
        .call(&alice, json!({"text": "hi"}))
        .unwrap();
    assert_eq!(
        out.structured.unwrap(),
        json!({"text": "hi", "subject": "alice"})
    );
    // Each tool checks its own input schema.
    let refused = harness.tool("multi_echo").unwrap().call(&alice, json!({}));
    assert!(
        matches!(&refused, Err(CallError::InvalidArguments { tool, .. }) if tool == "multi_echo"),
        "{refused:?}"
    );
}

#[test]
fn every_content_kind_comes_back_as_the_tool_built_it() {
    let harness = PluginHarness::load(plugins::MULTI_TOOLS.as_ref()).unwrap();
    let alice = harness.principal("alice", &["member"]);
    let out = harness
        .tool("multi_media")
        .unwrap()
        .call(&alice, json!({}))
        .unwrap();
    assert_eq!(out.content.len(), 7, "{:?}", out.content);
    assert_eq!(out.content[0], Content::Text("seven blocks".into()));
    assert!(
        matches!(&out.content[2], Content::Audio { data, mime_type } if data == b"RIFF" && mime_type == "audio/wav")
    );
    match &out.content[3] {
        Content::ResourceLink(link) => {
            assert_eq!(
                (link.uri.as_str(), link.name.as_str()),
                ("notes://1", "note-1")
            );
            assert_eq!(link.mime_type.as_deref(), Some("text/markdown"));
        }
        other => panic!("{other:?}"),
    }
    match &out.content[5] {
        Content::Resource(r) => assert_eq!(r.body, ResourceBody::Blob(vec![0, 1, 2])),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        out.content[6],
        Content::Mcp(json!({"type": "text", "text": "from JSON"}))
    );

    let bad = harness
        .tool("multi_bad_block")
        .unwrap()
        .call(&alice, json!({}));
    match bad {
        Err(CallError::InvalidOutput { tool, reason, .. }) => {
            assert_eq!(tool, "multi_bad_block");
            assert!(reason.contains("\"hologram\""), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_component_declaring_a_name_twice_is_refused_with_the_name() {
    match PluginHarness::load(plugins::DUPLICATE_NAMES.as_ref()) {
        Err(LoadError::InvalidInfo { reason, .. }) => {
            assert!(reason.contains("\"twice\" is declared twice"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_tool_on_0_1_and_0_2_answers_the_same() {
    let runtime = toolhost::Runtime::new(
        toolhost::RuntimeConfig {
            cache_dir: Some(toolhost_tests::shared_cache()),
            ..toolhost::RuntimeConfig::default()
        },
        toolhost::Store::in_memory(),
    )
    .unwrap();
    let load = |path: &str| runtime.load_file(path.as_ref()).unwrap();
    let (create, v01, v02) = (
        load(plugins::NOTES_CREATE),
        load(plugins::V01_NOTES),
        load(plugins::V02_NOTES),
    );
    assert_eq!(v01.contract(), Contract::V0_1);
    assert_eq!(v02.contract(), Contract::V0_2);
    let alice = toolhost::Principal::new("alice", ["member"]);
    for title in ["first", "second"] {
        create
            .call(&alice, "seed", &json!({"title": title, "body": "b"}))
            .unwrap();
    }
    let titles = |p: &toolhost::Plugin| p.call(&alice, "t", &json!({})).unwrap().structured;
    assert_eq!(titles(&v01), Some(json!({"titles": ["second", "first"]})));
    assert_eq!(titles(&v01), titles(&v02));
}

fn args(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_0_1_and_0_2_tools_serve_side_by_side_and_a_component_goes_as_one() {
    // v01_notes is built from the 0.1 contract; notes_create from 0.2.
    let server = TestServer::start(
        &[
            plugins::MULTI_TOOLS,
            plugins::V01_NOTES,
            plugins::NOTES_CREATE,
        ],
        |c| {
            c.storage.cache_dir = Some(toolhost_tests::shared_cache());
        },
    )
    .await;
    let contracts: Vec<Contract> = server
        .host
        .registry()
        .snapshot()
        .iter()
        .filter_map(|e| e.plugin().map(|p| p.contract()))
        .collect();
    assert!(contracts.contains(&Contract::V0_1) && contracts.contains(&Contract::V0_2));

    let client = ().serve(server.transport_as("alice", &["member"])).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "multi_bad_block",
            "multi_config",
            "multi_echo",
            "multi_media",
            "multi_progress",
            "notes_create",
            "v01_note_titles"
        ]
    );
    let echo = tools.iter().find(|t| t.name == "multi_echo").unwrap();
    let hints = echo.annotations.as_ref().expect("annotations listed");
    assert_eq!(hints.read_only_hint, Some(true));
    assert_eq!(hints.open_world_hint, Some(false));
    assert_eq!(hints.destructive_hint, None);
    let titles = tools.iter().find(|t| t.name == "v01_note_titles").unwrap();
    assert!(titles.annotations.is_none(), "0.1 tools have none");

    let result = client
        .call_tool(CallToolRequestParams::new("multi_media").with_arguments(args(json!({}))))
        .await
        .unwrap();
    let blocks = serde_json::to_value(&result.content).unwrap();
    assert_eq!(
        blocks[1],
        json!({"type": "image", "data": "iVBORw==", "mimeType": "image/png"})
    );
    assert_eq!(
        blocks[2],
        json!({"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"})
    );
    assert_eq!(
        blocks[3],
        json!({"type": "resource_link", "uri": "notes://1", "name": "note-1", "title": "Note 1", "mimeType": "text/markdown"})
    );
    assert_eq!(
        blocks[4],
        json!({"type": "resource", "resource": {"uri": "notes://2", "mimeType": "text/plain", "text": "the second note"}})
    );
    assert_eq!(blocks[5]["resource"]["blob"], "AAEC");
    assert_eq!(blocks[6], json!({"type": "text", "text": "from JSON"}));
    // The 0.1 tool reads what the 0.2 tool wrote, for the same caller.
    toolhost_tests::create_note(&client, "Pay rent", "by Friday").await;
    let listed = client
        .call_tool(CallToolRequestParams::new("v01_note_titles").with_arguments(args(json!({}))))
        .await
        .unwrap();
    assert_eq!(listed.is_error, Some(false), "{listed:?}");
    assert_eq!(
        listed.structured_content.unwrap(),
        json!({"titles": ["Pay rent"]})
    );

    // Removing the file takes its five tools away in one change.
    let before = server.host.registry().snapshot().generation();
    server.remove_plugin("multi_tools.wasm");
    assert!(
        server.wait_for(RELOAD, |r| r.snapshot().len() == 2).await,
        "the component's tools are gone"
    );
    let after = server.host.registry().snapshot();
    assert_eq!(after.generation(), before + 1, "one publication");
    assert!(after.get("v01_note_titles").is_some());
    client.cancel().await.unwrap();
}
