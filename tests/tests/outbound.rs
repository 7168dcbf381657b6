//! Tools calling the operator's API as the caller, through the host: an
//! application server in Node that verifies toolhost's caller tokens with
//! `jose` (from the host's JWKS URL, with `iss`, `aud` and `exp` checks), the
//! bundled Rust tools `projects_create` and `projects_list`, and a probe tool
//! that makes whatever request it is told to, to show what the host refuses.
//! Every refusal is checked on the receiving side too: the application
//! records every request it gets.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use toolhost_tests::app::{AUDIENCE, App, caller_api, grant, start_with_app};
use toolhost_tests::{TestServer, plugins};

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

/// The probe's answer: its structured result, or the error text.
async fn probe(client: &RunningService<RoleClient, ()>, args: Value) -> Result<Value, String> {
    let result = call(client, "outbound_probe", args).await;
    if result.is_error == Some(true) {
        Err(text(&result))
    } else {
        Ok(result.structured_content.unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_users_projects_reach_the_application_as_that_user() {
    let (server, app) = start_with_app(
        &[
            plugins::PROJECTS_CREATE,
            plugins::PROJECTS_LIST,
            plugins::OUTBOUND_PROBE,
        ],
        |config, app| {
            config
                .apis
                .insert("app".into(), caller_api(format!("{}/api/", app.url)));
            for tool in ["projects_create", "projects_list", "outbound_probe"] {
                grant(config, tool, &["app"]);
            }
        },
    )
    .await;
    let alice = client(&server, "alice").await;
    let bob = client(&server, "bob").await;
    let created = call(&alice, "projects_create", json!({"name": "Alpha"})).await;
    assert_eq!(created.is_error, Some(false), "{}", text(&created));
    let created = call(&bob, "projects_create", json!({"name": "Bravo"})).await;
    assert_eq!(created.is_error, Some(false), "{}", text(&created));

    let listed = call(&alice, "projects_list", json!({})).await;
    let projects = &listed.structured_content.clone().unwrap()["projects"];
    assert_eq!(projects.as_array().unwrap().len(), 1, "{projects}");
    assert_eq!(projects[0]["name"], "Alpha");
    assert_eq!(projects[0]["owner"], "alice");
    let listed = call(&bob, "projects_list", json!({})).await;
    let projects = &listed.structured_content.clone().unwrap()["projects"];
    assert_eq!(projects.as_array().unwrap().len(), 1, "{projects}");
    assert_eq!(projects[0]["owner"], "bob");

    // What the application verified: the caller, the acting tool, the
    // audience and issuer, a short life; the client's token never left.
    let whoami = probe(&alice, json!({"url": "api:app/whoami"}))
        .await
        .unwrap();
    assert_eq!(whoami["status"], 200);
    let seen: Value = serde_json::from_str(whoami["body"].as_str().unwrap()).unwrap();
    let claims = &seen["payload"];
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], json!(["member"]));
    assert_eq!(claims["act"]["sub"], "tool:outbound_probe");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iss"], format!("http://{}", server.addr));
    let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(life <= 60, "{claims}");
    let dev_token = server.token("alice", &["member"]);
    assert!(!app.log().contains(&dev_token));

    let requests = app.requests();
    let subjects: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["verified_sub"].as_str())
        .collect();
    assert_eq!(
        subjects,
        ["alice", "bob", "alice", "bob", "alice"],
        "{requests:?}"
    );
    let log = app.log();
    assert!(
        log.contains("verified caller sub=\"alice\" tool=\"tool:projects_create\""),
        "{log}"
    );
    assert!(
        log.contains("verified caller sub=\"bob\" tool=\"tool:projects_list\""),
        "{log}"
    );

    // The audit trail holds each request, tied to its call.
    let records = server
        .audit_records(toolhost::storage::audit::AuditQuery {
            decision: Some("outbound".into()),
            limit: 100,
            ..Default::default()
        })
        .await;
    assert_eq!(records.len(), 5, "{records:?}");
    assert!(records.iter().any(|r| {
        r.subject == "bob"
            && r.tool == "projects_create"
            && r.outcome == "201"
            && r.reason
                .as_deref()
                .unwrap()
                .starts_with("api=app POST /api/projects")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_host_refuses_never_reaches_any_server() {
    let mut other = None;
    let (server, app) = start_with_app(&[plugins::OUTBOUND_PROBE], |config, app| {
        let o = App::start(
            "http://127.0.0.1:9/jwks.json",
            "https://nobody.test",
            AUDIENCE,
        );
        config
            .apis
            .insert("app".into(), caller_api(format!("{}/api/", app.url)));
        let port = app.url.rsplit(':').next().unwrap().to_owned();
        // The same application by a name that resolves to loopback.
        config.apis.insert(
            "named".into(),
            caller_api(format!("http://localhost:{port}/api/")),
        );
        grant(config, "outbound_probe", &["app", "named"]);
        other = Some(o);
    })
    .await;
    let other = other.unwrap();
    let alice = client(&server, "alice").await;
    let base = format!("{}/api", app.url);
    let port = app.url.rsplit(':').next().unwrap();
    let other_port = other.url.rsplit(':').next().unwrap();
    let refused = [
        (
            json!({"url": format!("{}/admin", app.url)}),
            "is not under an API granted",
        ),
        (
            json!({"url": format!("{}/apix", app.url)}),
            "is not under an API granted",
        ),
        (
            json!({"url": format!("http://127.0.0.1:{other_port}/api/whoami")}),
            "is not under",
        ),
        (
            json!({"url": format!("{}/api/whoami", other.url)}),
            "is not under",
        ),
        (
            json!({"url": format!("{base}/../admin")}),
            "/admin is not under",
        ),
        (
            json!({"url": format!("{base}/x/../../admin")}),
            "/admin is not under",
        ),
        (
            json!({"url": format!("{}/../api/whoami", app.url)}),
            "above the root",
        ),
        (
            json!({"url": format!("{base}/%2e%2e/admin")}),
            "encoded separator",
        ),
        (
            json!({"url": format!("{base}%2fadmin")}),
            "encoded separator",
        ),
        (
            json!({"url": format!("http://u:p@127.0.0.1:{port}/api/whoami")}),
            "a user name or password in the URL is refused",
        ),
        (
            json!({"url": format!("{base}/whoami"), "headers": [["Authorization", "Bearer forged"]]}),
            "may not set the authorization header",
        ),
        (
            json!({"url": format!("{base}/whoami"), "headers": [["cookie", "session=1"]]}),
            "may not set the cookie header",
        ),
        (
            json!({"url": format!("http://localhost:{port}/api/whoami")}),
            "resolves only to addresses that are not public",
        ),
    ];
    for (args, expected) in &refused {
        let err = probe(&alice, args.clone())
            .await
            .expect_err(&args.to_string());
        assert!(err.contains(expected), "{args}: {err}");
        assert!(
            err.contains("toolhost refused the request"),
            "{args}: {err}"
        );
    }
    assert_eq!(
        app.requests(),
        Vec::<Value>::new(),
        "the application got nothing"
    );
    assert_eq!(
        other.requests(),
        Vec::<Value>::new(),
        "the other server got nothing"
    );

    // A redirect is handed to the tool, not followed.
    let to = format!("{}/api/whoami", other.url);
    let redirect = probe(
        &alice,
        json!({"url": format!("{base}/redirect?to={}", urlencode(&to))}),
    )
    .await
    .unwrap();
    assert_eq!(redirect["status"], 302);
    assert_eq!(
        other.requests(),
        Vec::<Value>::new(),
        "the redirect was not followed"
    );
    assert_eq!(app.requests().len(), 1);

    // Without a grant, nothing: the plugin run directly has none.
    let runtime = toolhost::Runtime::new(
        toolhost::RuntimeConfig::default(),
        toolhost::Store::in_memory(),
    )
    .unwrap();
    let plugin = runtime
        .load_file(std::path::Path::new(plugins::OUTBOUND_PROBE))
        .unwrap();
    let principal = toolhost::Principal::new("alice", ["member"]);
    let url = format!("{base}/whoami");
    let err = tokio::task::spawn_blocking(move || {
        plugin
            .call(&principal, "t", &json!({"url": url}))
            .unwrap_err()
    })
    .await
    .unwrap();
    assert!(
        err.to_string().contains("this call has no outbound grant"),
        "{err}"
    );
    assert_eq!(app.requests().len(), 1);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_and_a_failing_api_does_not_hold_up_the_rest() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let (server, _app) = start_with_app(&[plugins::OUTBOUND_PROBE], |config, app| {
        let mut fast = caller_api(format!("{}/api/", app.url));
        fast.timeout_ms = 400;
        config.apis.insert("app".into(), fast);
        config.apis.insert("down".into(), caller_api(down.clone()));
        config.limits.http_requests = 5;
        grant(config, "outbound_probe", &["app", "down"]);
    })
    .await;
    let alice = client(&server, "alice").await;
    let bob = client(&server, "bob").await;

    let started = Instant::now();
    let err = probe(&alice, json!({"url": "api:app/slow?ms=3000"}))
        .await
        .unwrap_err();
    assert!(err.contains("took longer than 400 ms"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let err = probe(&alice, json!({"url": "api:app/big?bytes=5000000"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("larger than the limit of 1048576 bytes"),
        "{err}"
    );
    let err = probe(&alice, json!({"url": "api:app/chunked?bytes=5000000"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("larger than the limit of 1048576 bytes"),
        "{err}"
    );
    let ok = probe(&alice, json!({"url": "api:app/big?bytes=1000000"}))
        .await
        .unwrap();
    assert_eq!(ok["body"].as_str().unwrap().len(), 1_000_000);

    let err = probe(&alice, json!({"url": "api:down/x"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("failed") && err.contains(&down[..down.len() - 1]),
        "{err}"
    );

    let err = probe(&alice, json!({"url": "api:app/whoami", "repeat": 6}))
        .await
        .unwrap_err();
    assert!(err.contains("more than 5 requests in one call"), "{err}");

    // A slow call does not slow another caller's.
    let carol = client(&server, "carol").await;
    let slow =
        tokio::spawn(async move { probe(&carol, json!({"url": "api:app/slow?ms=350"})).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let quick = Instant::now();
    let whoami = probe(&bob, json!({"url": "api:app/whoami"})).await.unwrap();
    assert_eq!(whoami["status"], 200);
    assert!(
        quick.elapsed() < Duration::from_millis(300),
        "{:?}",
        quick.elapsed()
    );
    assert_eq!(slow.await.unwrap().unwrap()["status"], 200);
    // And everything is free again: the next call works.
    assert_eq!(
        probe(&alice, json!({"url": "api:app/whoami"}))
            .await
            .unwrap()["status"],
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_other_than_2xx_is_a_tool_error_quoting_the_application() {
    // Granted without a credential: the application refuses every request.
    let (server, _app) = start_with_app(&[plugins::PROJECTS_LIST], |config, app| {
        let mut api = caller_api(format!("{}/api/", app.url));
        api.auth = toolhost::config::ApiAuth::None;
        api.audience = None;
        config.apis.insert("app".into(), api);
        grant(config, "projects_list", &["app"]);
    })
    .await;
    let alice = client(&server, "alice").await;
    let listed = call(&alice, "projects_list", json!({})).await;
    assert_eq!(listed.is_error, Some(true));
    let text = text(&listed);
    assert!(
        text.contains("the API answered 401: {\"error\":"),
        "the status and the application's own words: {text}"
    );
}

/// The plugin harness gives a tool's API mocks: the call goes through the
/// host's outbound rules to them, and the test reads the requests made.
#[test]
fn the_plugin_harness_answers_a_tools_api_from_mocks_and_records_its_requests() {
    use toolhost::testing::PluginHarness;
    use toolhost::testing::http::{HttpMocks, Mock};
    let mocks = HttpMocks::start(&["app"]).unwrap();
    let harness = PluginHarness::load(plugins::PROJECTS_LIST.as_ref())
        .unwrap()
        .with_http(mocks);
    let alice = harness.principal("alice", &[]);
    let project = json!({"id": "p1", "name": "Launch", "owner": "alice",
                         "created_at": "2026-12-01T09:00:00Z"});
    let http = harness.http().unwrap();
    http.answer(&[Mock::get("app", "/projects").json(json!({"projects": [project]}))])
        .unwrap();
    let out = harness.call(&alice, json!({})).unwrap();
    assert_eq!(out.structured.unwrap()["projects"][0]["name"], "Launch");
    let seen = http.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/projects")
    );
    assert!(seen[0].expected);

    // Nothing declared: the app answers 501, the tool fails, the request
    // is marked unexpected.
    http.answer(&[]).unwrap();
    let refused = harness.call(&alice, json!({})).unwrap_err();
    assert!(refused.to_string().contains("501"), "{refused}");
    assert!(!http.requests()[0].expected);

    // A mock that could not be served is refused, and the answers stand.
    for (bad, why) in [
        (
            Mock::get("shop", "/projects"),
            "not one of the mocked APIs (app)",
        ),
        (Mock::get("app", "projects"), "must start with /"),
        (
            Mock::get("app", "/p").header("bad name", "x"),
            "is not a valid header",
        ),
        (Mock::get("app", "/p").status(1000), "is not an HTTP status"),
    ] {
        let error = http.answer(&[bad]).unwrap_err();
        assert!(error.contains(why), "{error}");
    }
    assert!(
        harness.call(&alice, json!({})).is_err(),
        "still nothing declared"
    );
}
