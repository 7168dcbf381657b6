//! A JavaScript tool calling the operator's API as the caller with plain
//! `fetch`, through the host: the application server in Node that verifies
//! toolhost's caller tokens with `jose`, and the test tool `js_fetch` (built
//! by the JavaScript kit), which GETs a path under the API `app` it finds
//! with `ctx.apiUrl("app")`. What the host refuses is checked on the
//! receiving side too: the application records every request it gets.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use toolhost_tests::app::{AUDIENCE, caller_api, grant, start_with_app};
use toolhost_tests::{TestServer, plugins, shared_cache};

async fn client(server: &TestServer, subject: &str) -> RunningService<RoleClient, ()> {
    ().serve(server.transport_as(subject, &["member"]))
        .await
        .expect("client connects")
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let args: JsonObject = args.as_object().cloned().unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn text(result: &CallToolResult) -> String {
    (result.content.iter())
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `js_fetch` on `path`: its structured result, or the error text.
async fn js_fetch(client: &RunningService<RoleClient, ()>, path: &str) -> Result<Value, String> {
    let result = call(client, "js_fetch", json!({"path": path})).await;
    if result.is_error == Some(true) {
        Err(text(&result))
    } else {
        Ok(result.structured_content.unwrap_or_default())
    }
}

/// The claims the application verified, from its `/api/whoami` answer.
fn verified_claims(answer: &Value) -> Value {
    assert_eq!(answer["status"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {answer}"));
    body["payload"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_tools_fetch_reaches_the_application_as_each_caller() {
    let (server, app) = start_with_app(&[plugins::JS_FETCH], |config, app| {
        config.storage.cache_dir = Some(shared_cache());
        config
            .apis
            .insert("app".into(), caller_api(format!("{}/api/", app.url)));
        grant(config, "js_fetch", &["app"]);
    })
    .await;
    let alice = client(&server, "alice").await;
    let bob = client(&server, "bob").await;

    let claims = verified_claims(&js_fetch(&alice, "whoami").await.unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["act"]["sub"], "tool:js_fetch");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iss"], format!("http://{}", server.addr));
    let claims = verified_claims(&js_fetch(&bob, "whoami").await.unwrap());
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["act"]["sub"], "tool:js_fetch");

    let requests = app.requests();
    let subjects: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["verified_sub"].as_str())
        .collect();
    assert_eq!(subjects, ["alice", "bob"], "{requests:?}");
    assert!(
        !app.log().contains(&server.token("alice", &["member"])),
        "the client's token never leaves the host"
    );

    // `<api>/../../admin`: the engine's URL parser resolves the dot-segments
    // before the request leaves the component, so the host sees `/admin`,
    // outside the granted prefix, and refuses it with
    // `ErrorCode::InternalError("toolhost refused the request to ...")`.
    // StarlingMonkey's `fetch` drops the error code and its message (any
    // error from `future-incoming-response.get` becomes its bare
    // `TypeError: NetworkError when attempting to fetch resource`), so that
    // is all the tool can pass on; the host's reason is in its log and its
    // audit trail.
    let err = js_fetch(&alice, "../../admin").await.unwrap_err();
    let url = format!("{}/api/../../admin", app.url);
    assert_eq!(
        err,
        format!(
            "js_fetch: failed: fetch {url} failed: NetworkError when attempting to fetch resource"
        ),
    );
    assert_eq!(app.requests().len(), 2, "the application got nothing more");

    let refused = server
        .audit_records(toolhost::storage::audit::AuditQuery {
            decision: Some("outbound_refused".into()),
            limit: 100,
            ..Default::default()
        })
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    let reason = refused[0].reason.as_deref().unwrap();
    assert_eq!(
        (refused[0].subject.as_str(), refused[0].tool.as_str()),
        ("alice", "js_fetch")
    );
    assert!(
        reason.starts_with(&format!(
            "api=(none) GET /admin: {}/admin is not under an API granted to tool js_fetch",
            app.url
        )),
        "{reason}"
    );
}

#[test]
fn without_a_grant_the_tool_is_told_what_to_configure() {
    let runtime = toolhost::Runtime::new(
        toolhost::RuntimeConfig {
            cache_dir: Some(shared_cache()),
            ..Default::default()
        },
        toolhost::Store::in_memory(),
    )
    .unwrap();
    let plugin = runtime
        .load_file(std::path::Path::new(plugins::JS_FETCH))
        .unwrap_or_else(|e| panic!("{e}"));
    let principal = toolhost::Principal::new("alice", ["member"]);
    let err = plugin
        .call(&principal, "t", &json!({"path": "whoami"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "the API \"app\" is not granted to this tool: ask the operator to add \
             apis = [\"app\"] to this tool's [tools.<tool name>] section"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_javascript_tool_sees_when_a_request_fails() {
    let (server, app) = start_with_app(&[plugins::JS_FETCH], |config, app| {
        config.storage.cache_dir = Some(shared_cache());
        let mut fast = caller_api(format!("{}/api/", app.url));
        fast.timeout_ms = 400;
        config.apis.insert("app".into(), fast);
        grant(config, "js_fetch", &["app"]);
    })
    .await;
    let alice = client(&server, "alice").await;
    let network_error = |path: &str| {
        format!(
            "js_fetch: failed: fetch {}/api/{path} failed: \
             NetworkError when attempting to fetch resource",
            app.url
        )
    };
    // The host's own errors ("took longer than 400 ms", "larger than the
    // limit of 1048576 bytes") are lost the same way as its refusals.
    let path = "slow?ms=3000";
    assert_eq!(
        js_fetch(&alice, path).await.unwrap_err(),
        network_error(path)
    );
    let path = "big?bytes=5000000";
    assert_eq!(
        js_fetch(&alice, path).await.unwrap_err(),
        network_error(path)
    );
    // Without a declared length the answer starts, and reading its body
    // fails (`response.text()` rejects) once it passes the limit.
    assert_eq!(
        js_fetch(&alice, "chunked?bytes=5000000").await.unwrap_err(),
        "js_fetch: failed: IO error reading from incoming response body"
    );
    // An answer is the tool's to judge, whatever its status; a redirect is
    // handed over, not followed.
    let missing = js_fetch(&alice, "nothing-here").await.unwrap();
    assert_eq!(missing["status"], 404, "{missing}");
    let redirect = js_fetch(&alice, "redirect?to=https%3A%2F%2Fexample.com%2F")
        .await
        .unwrap();
    assert_eq!(redirect["status"], 302, "{redirect}");
    let big = js_fetch(&alice, "big?bytes=1000000").await.unwrap();
    assert_eq!(
        big["body"].as_str().unwrap().len(),
        100_000,
        "truncated by the tool"
    );
}
