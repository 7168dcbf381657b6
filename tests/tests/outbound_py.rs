//! A Python tool calling the operator's API as the caller with the kit's
//! `ctx.http`, through the host: the application server in Node that
//! verifies toolhost's caller tokens with `jose`, and the test tool
//! `py_fetch` (built by the Python kit), which GETs a path under the API
//! `app` it finds with `ctx.api_url("app")`. Unlike JavaScript's `fetch`,
//! the kit passes the host's reason for a refusal on to the tool.

use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::{RoleClient, ServiceExt, service::RunningService};
use serde_json::{Value, json};
use toolhost_tests::app::{AUDIENCE, caller_api, grant, start_with_app};
use toolhost_tests::{TestServer, plugins, shared_cache};

async fn client(server: &TestServer, subject: &str) -> RunningService<RoleClient, ()> {
    ().serve(server.transport_as(subject, &["member"]))
        .await
        .expect("client connects")
}

/// `py_fetch` on `path`: its structured result, or the error text.
async fn py_fetch(client: &RunningService<RoleClient, ()>, path: &str) -> Result<Value, String> {
    let args: JsonObject = json!({"path": path}).as_object().cloned().unwrap();
    let result = client
        .call_tool(CallToolRequestParams::new("py_fetch").with_arguments(args))
        .await
        .expect("py_fetch answers");
    if result.is_error == Some(true) {
        let text = (result.content.iter())
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        Err(text)
    } else {
        Ok(result.structured_content.unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_tool_reaches_the_application_as_each_caller_and_hears_the_hosts_refusals() {
    let (server, app) = start_with_app(&[plugins::PY_FETCH], |config, app| {
        config.storage.cache_dir = Some(shared_cache());
        let mut api = caller_api(format!("{}/api/", app.url));
        api.timeout_ms = 1_000;
        config.apis.insert("app".into(), api);
        grant(config, "py_fetch", &["app"]);
    })
    .await;
    let alice = client(&server, "alice").await;
    let bob = client(&server, "bob").await;
    for (caller, subject) in [(&alice, "alice"), (&bob, "bob")] {
        let answer = py_fetch(caller, "whoami").await.unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        let claims = &body["payload"];
        assert_eq!(claims["sub"], subject);
        assert_eq!(claims["act"]["sub"], "tool:py_fetch");
        assert_eq!(claims["aud"], AUDIENCE);
    }
    let seen = app.requests().len();
    // A path that climbs out of the granted prefix: the host refuses it and
    // the tool hears why, in the host's words.
    let err = py_fetch(&alice, "../../admin").await.unwrap_err();
    assert_eq!(
        err,
        format!(
            "py_fetch: failed: GET {}/api/../../admin: toolhost refused the request to {}: \
             the path climbs above the root with '..'",
            app.url, app.url
        )
    );
    // The host's own limits, the same way.
    let err = py_fetch(&alice, "slow?ms=3000").await.unwrap_err();
    assert!(err.contains("1000 ms"), "{err}");
    assert_eq!(
        app.requests().len(),
        seen + 1,
        "only the slow request reached the application"
    );
    // A non-2xx answer is an answer: the tool sees the status.
    let answer = py_fetch(&alice, "nothing-here").await.unwrap();
    assert_eq!(answer["status"], 404, "{answer}");
}
