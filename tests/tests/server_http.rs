//! The server over Streamable HTTP, driven by rmcp's client: both protocol
//! lifecycles, hot reload with tools/list_changed, broken files, and load
//! during swaps.

use rmcp::model::{
    CallToolRequestParams, CallToolResult, JsonObject, ServerNotification, SubscriptionFilter,
};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use toolhost_tests::{Notified, TestServer, plugins};

/// Long enough for debounce + settle + a load, with margin for a busy machine.
const RELOAD: Duration = Duration::from_secs(5);

fn args(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap()
}

async fn call(
    client: &RunningService<RoleClient, impl ClientHandler>,
    tool: &'static str,
    a: Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(a)))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

async fn tool_names(client: &RunningService<RoleClient, impl ClientHandler>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_client_lists_creates_and_lists_back() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let client = ().serve(server.transport()).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "toolhost");
    assert_eq!(
        info.capabilities.tools.as_ref().unwrap().list_changed,
        Some(true)
    );
    let tools = client.list_all_tools().await.unwrap();
    let create = tools
        .iter()
        .find(|t| t.name == "notes_create")
        .expect("notes_create listed");
    assert_eq!(create.input_schema["properties"]["title"]["maxLength"], 120);
    assert!(create.output_schema.is_some());
    let created = call(
        &client,
        "notes_create",
        json!({"title": "From HTTP", "body": "hello"}),
    )
    .await;
    assert_eq!(created.is_error, Some(false));
    let note = created.structured_content.unwrap();
    let listed = call(&client, "notes_list", json!({})).await;
    assert_eq!(listed.structured_content.unwrap()["notes"][0], note);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_2026_client_calls_tools() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let client = server.client_2026().await;
    assert_eq!(tool_names(&client).await, ["notes_create", "notes_list"]);
    let created = call(
        &client,
        "notes_create",
        json!({"title": "stateless", "body": "b"}),
    )
    .await;
    assert_eq!(created.structured_content.unwrap()["title"], "stateless");
    let listed = call(&client, "notes_list", json!({"query": "STATE"})).await;
    assert_eq!(listed.structured_content.unwrap()["count"], 1);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_client_as_tool_errors_or_invalid_params() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let client = ().serve(server.transport_as("dev-user", &[])).await.unwrap();
    let denied = call(&client, "notes_create", json!({"title": "t", "body": "b"})).await;
    assert_eq!(denied.is_error, Some(true));
    let text = denied.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains("member") && text.contains("dev-user"),
        "{text}"
    );
    let tools = tool_names(&client).await;
    assert_eq!(
        tools,
        ["notes_list"],
        "a caller sees only the tools it may call"
    );
    let invalid = call(&client, "notes_list", json!({"limit": 0})).await;
    assert_eq!(invalid.is_error, Some(true));
    assert!(
        invalid.content[0]
            .as_text()
            .unwrap()
            .text
            .contains("/limit")
    );
    let unknown = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("no_such_tool"), "{unknown}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_clients_hear_of_added_and_removed_tools() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Notified(tx).serve(server.transport()).await.unwrap();
    assert_eq!(tool_names(&client).await, ["notes_list"]);
    // The session was registered for notifications when it initialized.
    assert_eq!(server.host.legacy_sessions(), 1);

    server.install_plugin(plugins::SWAP_V1, "swap.wasm");
    tokio::time::timeout(RELOAD, rx.recv())
        .await
        .expect("list_changed after adding")
        .unwrap();
    assert_eq!(tool_names(&client).await, ["notes_list", "swap_probe"]);

    server.remove_plugin("swap.wasm");
    tokio::time::timeout(RELOAD, rx.recv())
        .await
        .expect("list_changed after removing")
        .unwrap();
    assert_eq!(tool_names(&client).await, ["notes_list"]);
    client.cancel().await.unwrap();
    // Ending the session (DELETE) unregisters it, without waiting for the
    // next tool change to find it closed.
    let ended = tokio::time::timeout(RELOAD, server.host.wait_for_legacy_sessions_at_most(0));
    ended.await.expect("the ended session is dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_of_the_2026_revision_hear_of_changes() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let client = server.client_2026().await;
    let mut subscription = client
        .listen(SubscriptionFilter::builder().tools_list_changed().build())
        .await
        .unwrap();
    // A change right after the acknowledgement is not lost.
    server.install_plugin(plugins::SWAP_V1, "swap.wasm");
    let note = tokio::time::timeout(RELOAD, subscription.next())
        .await
        .expect("notified in time")
        .unwrap();
    assert!(
        matches!(
            note,
            Some(ServerNotification::ToolListChangedNotification(_))
        ),
        "{note:?}"
    );
    assert_eq!(tool_names(&client).await, ["notes_list", "swap_probe"]);
    subscription.cancel().await.unwrap();
    client.cancel().await.unwrap();
}

fn serving_version(server: &TestServer) -> Option<String> {
    server
        .host
        .registry()
        .get("swap_probe")
        .map(|p| p.content_hash().to_owned())
}

fn hash_of(path: &str) -> String {
    toolhost::runtime::content_hash(&std::fs::read(path).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_files_never_replace_a_working_version() {
    let server = TestServer::start(&[], |_| {}).await;
    server.install_plugin(plugins::SWAP_V1, "swap.wasm");
    let v1 = hash_of(plugins::SWAP_V1);
    assert!(
        server
            .wait_for(RELOAD, |r| r.get("swap_probe").is_some())
            .await
    );
    let client = ().serve(server.transport()).await.unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let whole = std::fs::read(plugins::SWAP_V1).unwrap();
    let truncated = scratch.path().join("truncated.wasm");
    std::fs::write(&truncated, &whole[..whole.len() / 3]).unwrap();
    let text = scratch.path().join("text.wasm");
    std::fs::write(&text, "not wasm at all").unwrap();
    let served = server.plugins_dir().join("swap.wasm");
    for (broken, reason) in [
        (truncated.to_str().unwrap(), "not a WebAssembly component"),
        (text.to_str().unwrap(), "not a WebAssembly component"),
        (
            plugins::NOT_A_TOOL,
            "does not implement a toolhost world (toolhost:plugin/tool@0.1.0 or toolhost:plugin/tools@0.2.0)",
        ),
        (plugins::DESCRIBE_PANICS, "describe() failed"),
        (plugins::BAD_SCHEMA, "\"type\" must be \"object\""),
    ] {
        let generation = server.host.registry().snapshot().generation();
        server.install_plugin(broken, "swap.wasm");
        let judged = server
            .wait_for(RELOAD, |r| {
                r.problems()
                    .get(&served)
                    .is_some_and(|p| p.contains(reason))
            })
            .await;
        assert!(
            judged,
            "{broken}: expected a problem mentioning {reason:?}, got {:?}",
            server.host.registry().problems()
        );
        assert_eq!(
            serving_version(&server).as_deref(),
            Some(v1.as_str()),
            "{broken} replaced v1"
        );
        assert_eq!(
            server.host.registry().snapshot().generation(),
            generation,
            "{broken}: no change published"
        );
        let out = call(&client, "swap_probe", json!({})).await;
        assert_eq!(
            out.structured_content.unwrap()["version"],
            1,
            "after {broken}"
        );
    }
    // Fixing the file loads it.
    server.install_plugin(plugins::SWAP_V2, "swap.wasm");
    let v2 = hash_of(plugins::SWAP_V2);
    assert!(
        server
            .wait_for(RELOAD, |r| r
                .get("swap_probe")
                .is_some_and(|p| p.content_hash() == v2))
            .await
    );
    assert_eq!(
        call(&client, "swap_probe", json!({}))
            .await
            .structured_content
            .unwrap()["version"],
        2
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_files_with_one_name_the_serving_one_stays() {
    let server = TestServer::start(&[], |_| {}).await;
    server.install_plugin(plugins::SWAP_V1, "a.wasm");
    let (v1, v2) = (hash_of(plugins::SWAP_V1), hash_of(plugins::SWAP_V2));
    assert!(
        server
            .wait_for(RELOAD, |r| r.get("swap_probe").is_some())
            .await
    );
    server.install_plugin(plugins::SWAP_V2, "b.wasm");
    let refused = server.plugins_dir().join("b.wasm");
    assert!(
        server
            .wait_for(RELOAD, |r| r
                .problems()
                .get(&refused)
                .is_some_and(|p| p.contains("another file serves")))
            .await,
        "the second file is refused: {:?}",
        server.host.registry().problems()
    );
    assert_eq!(
        serving_version(&server),
        Some(v1),
        "the first file keeps the name"
    );
    server.remove_plugin("a.wasm");
    assert!(
        server
            .wait_for(RELOAD, |r| r
                .get("swap_probe")
                .is_some_and(|p| p.content_hash() == v2))
            .await,
        "the second file takes over when the first goes"
    );
    assert!(
        server.host.registry().problems().is_empty(),
        "{:?}",
        server.host.registry().problems()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_under_load_fails_no_call() {
    let server = TestServer::start(&[], |_| {}).await;
    server.install_plugin(plugins::SWAP_V1, "swap.wasm");
    assert!(
        server
            .wait_for(RELOAD, |r| r.get("swap_probe").is_some())
            .await
    );
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (transport, stop, calls) = (server.transport(), stop.clone(), calls.clone());
        workers.push(tokio::spawn(async move {
            let client = ().serve(transport).await.unwrap();
            let mut seen = [0usize; 3];
            let mut failures = Vec::new();
            // Bounded: at most 100k calls, and the swapper stops us.
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match client
                    .call_tool(CallToolRequestParams::new("swap_probe"))
                    .await
                {
                    Ok(r) if r.is_error != Some(true) => {
                        let v = r.structured_content.unwrap()["version"].as_u64().unwrap() as usize;
                        seen[v] += 1;
                    }
                    Ok(r) => failures.push(format!("tool error: {:?}", r.content)),
                    Err(e) => failures.push(e.to_string()),
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
            client.cancel().await.unwrap();
            (seen, failures)
        }));
    }
    let v2 = hash_of(plugins::SWAP_V2);
    for round in 0..10 {
        let (src, _) = if round % 2 == 0 {
            (plugins::SWAP_V2, 2)
        } else {
            (plugins::SWAP_V1, 1)
        };
        server.install_plugin(src, "swap.wasm");
        let want = hash_of(src);
        assert!(
            server
                .wait_for(RELOAD, |r| r
                    .get("swap_probe")
                    .is_some_and(|p| p.content_hash() == want))
                .await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Rounds 0..10 end on version 1; finish on version 2 and check calls see it.
    server.install_plugin(plugins::SWAP_V2, "swap.wasm");
    assert!(
        server
            .wait_for(RELOAD, |r| r
                .get("swap_probe")
                .is_some_and(|p| p.content_hash() == v2))
            .await
    );
    let client = ().serve(server.transport()).await.unwrap();
    assert_eq!(
        call(&client, "swap_probe", json!({}))
            .await
            .structured_content
            .unwrap()["version"],
        2
    );
    stop.store(true, Ordering::Relaxed);
    let mut seen = [0usize; 3];
    for w in workers {
        let (s, failures) = w.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed calls during swaps: {failures:?}"
        );
        for v in 1..3 {
            seen[v] += s[v];
        }
    }
    assert!(seen[1] > 0 && seen[2] > 0, "both versions served: {seen:?}");
    assert!(
        calls.load(Ordering::Relaxed) >= 100,
        "enough calls to mean something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_need_no_token_and_report_problems() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let base = server.url().trim_end_matches("/mcp").to_owned();
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    server.install_plugin(plugins::DESCRIBE_PANICS, "broken.wasm");
    let broken = server.plugins_dir().join("broken.wasm");
    assert!(
        server
            .wait_for(RELOAD, |r| r.problems().contains_key(&broken))
            .await
    );
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["storage"], "ok");
    assert_eq!(body["tools"][0]["name"], "notes_list");
    let problem = body["problems"][broken.display().to_string()]
        .as_str()
        .unwrap();
    assert!(problem.contains("describe() failed"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_tool_is_served_beside_the_plugins_with_the_same_checks() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let plugin = server.host.registry().get("notes_list").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Notified(tx).serve(server.transport()).await.unwrap();
    assert_eq!(tool_names(&client).await, ["notes_create", "notes_list"]);
    // The session was registered for notifications when it initialized.
    assert_eq!(server.host.legacy_sessions(), 1);
    server
        .host
        .add_native_tool(toolhost_tests::native::NativeNotesList::like(
            &plugin,
            "native_notes_list",
        ));
    tokio::time::timeout(RELOAD, rx.recv())
        .await
        .expect("tools/list_changed after a native tool is added");
    assert_eq!(
        tool_names(&client).await,
        ["native_notes_list", "notes_create", "notes_list"]
    );
    call(
        &client,
        "notes_create",
        json!({"title": "shared", "body": "b"}),
    )
    .await;
    let wasm = call(&client, "notes_list", json!({})).await;
    let native = call(&client, "native_notes_list", json!({})).await;
    assert_eq!(native.is_error, Some(false), "{:?}", native.content);
    assert_eq!(
        wasm.structured_content, native.structured_content,
        "the same notes, the same shape"
    );
    let invalid = call(&client, "native_notes_list", json!({"limit": 0})).await;
    assert_eq!(invalid.is_error, Some(true));
    assert!(
        invalid.content[0]
            .as_text()
            .unwrap()
            .text
            .contains("/limit"),
        "{:?}",
        invalid.content
    );
    let guest = ().serve(server.transport_as("guest", &[])).await.unwrap();
    assert_eq!(
        tool_names(&guest).await,
        ["native_notes_list", "notes_list"],
        "roles filter native tools too"
    );
    client.cancel().await.unwrap();
    guest.cancel().await.unwrap();
}

/// Open a 2025-11-25 session as the holder of `token`: its id, or the
/// refusal's status and answer.
async fn open_session(server: &TestServer, token: &str) -> Result<String, (u16, Value)> {
    let response = reqwest::Client::new()
        .post(server.url())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let id = (response.headers().get("mcp-session-id")).map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    match id {
        Some(id) => Ok(id),
        None => Err((status, serde_json::from_str(&text).unwrap_or(Value::Null))),
    }
}

/// A request in session `id` with `token`: its status.
async fn in_session(server: &TestServer, token: &str, id: &str, method: reqwest::Method) -> u16 {
    let client = reqwest::Client::new();
    let mut request = client
        .request(method.clone(), server.url())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25");
    if method == reqwest::Method::POST {
        request = request.json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("an answer")
        .unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_and_answer_only_the_caller_who_opened_them() {
    let server = TestServer::start(&[plugins::NOTES_LIST], |c| {
        c.server.max_sessions = 5;
        c.server.max_sessions_per_caller = 3;
    })
    .await;
    let (alice, bob, carol) = (
        server.token("alice", &["member"]),
        server.token("bob", &["member"]),
        server.token("carol", &["member"]),
    );
    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(
            open_session(&server, &alice)
                .await
                .expect("within alice's share"),
        );
    }
    let (status, refused) = open_session(&server, &alice).await.unwrap_err();
    assert_eq!(status, 429, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("alice has 3 open"), "{message}");
    let bobs = open_session(&server, &bob)
        .await
        .expect("bob has his own share");
    open_session(&server, &bob).await.expect("and a second");
    let (status, refused) = open_session(&server, &carol).await.unwrap_err();
    assert_eq!(status, 503, "the server holds its most: {refused}");
    assert_eq!(server.host.open_sessions(), 5);

    // Bob cannot use, attach to or end alice's session.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ] {
        assert_eq!(
            in_session(&server, &bob, &alices[0], method.clone()).await,
            404,
            "{method} with another caller's session"
        );
    }
    assert_eq!(
        in_session(&server, &alice, &alices[0], reqwest::Method::POST).await,
        202,
        "it is still alice's"
    );
    // Ending a session frees its slot.
    assert_eq!(
        in_session(&server, &alice, &alices[0], reqwest::Method::DELETE).await,
        202
    );
    assert_eq!(server.host.open_sessions(), 4);
    open_session(&server, &alice)
        .await
        .expect("a slot is free again");
    assert_eq!(
        in_session(&server, &bob, &bobs, reqwest::Method::DELETE).await,
        202
    );
    open_session(&server, &carol)
        .await
        .expect("and one for carol");
}
