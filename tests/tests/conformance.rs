//! The official MCP conformance suite (npm `@modelcontextprotocol/conformance`,
//! pinned in `tests/conformance`) against `toolhost serve` with the fixture
//! tools, resources and prompts as four 0.2 components in the three languages
//! the project supports: in Rust the resources and templates
//! (`conformance_served`) and the JSON Schema 2020-12 tool
//! (`conformance_tools`), in JavaScript the content, error, logging and
//! progress tools (`conformance_js`), in Python the prompts and the tools that
//! ask the user or the client's model (`conformance_py`). Every active server
//! scenario runs, and the test fails unless every one passes
//! (`tests/conformance/expected-failures.yml` lists none).
//!
//! The suite's client has no way to authenticate, so it talks to a loopback
//! proxy that adds a development-issuer bearer token to each request, as a
//! user would put a token in front of a client that cannot sign in. The
//! server's authentication is the same as for everyone.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::TryStreamExt;
use std::process::Command;
use std::time::Duration;
use toolhost_tests::{TestServer, plugins, shared_cache, workspace};

/// Forwards requests to the server with the token; headers (Host included,
/// for the DNS-rebinding scenario) and bodies pass unchanged, streamed.
async fn forward(State((upstream, token)): State<(String, String)>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let url = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = parts.headers.clone();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header value"),
    );
    let sent = reqwest::Client::new()
        .request(parts.method, url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response
                .body(Body::from_stream(
                    answer.bytes_stream().map_err(std::io::Error::other),
                ))
                .expect("response")
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(e.to_string()))
            .expect("response"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_conformance_suite_passes_all_but_the_listed_scenarios() {
    let server = TestServer::start(
        &[
            plugins::CONFORMANCE_TOOLS,
            plugins::CONFORMANCE_SERVED,
            plugins::CONFORMANCE_JS,
            plugins::CONFORMANCE_PY,
        ],
        |c| {
            // The suite opens a session per scenario and never ends one.
            c.server.max_sessions_per_caller = 256;
            c.storage.cache_dir = Some(shared_cache());
        },
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let upstream = format!("http://{}", server.addr);
    let token = server.token("conformance", &["member"]);
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((upstream, token));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = workspace().join("tests/conformance");
    let node = dir.join("node_modules/.bin/node");
    let suite = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "the conformance suite is not installed: run `make conformance` (`make test` does)"
    );
    let url = format!("http://{proxy}/mcp");
    let expected = dir.join("expected-failures.yml");
    let run = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .arg(suite)
            .args(["server", "--url", &url, "--expected-failures"])
            .arg(expected)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the suite finishes within 5 minutes")
        .unwrap()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('✓') || l.starts_with('✗') || l.starts_with("Total"))
        .collect();
    let passed = summary.iter().filter(|l| l.starts_with('✓')).count();
    println!(
        "{}\n{passed} of {} scenarios passed",
        summary.join("\n"),
        summary.len() - 1
    );
    assert!(
        output.status.success(),
        "the suite found unexpected failures or stale baseline entries:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        passed,
        summary.len() - 1,
        "not every scenario passed:\n{stdout}"
    );
    assert!(passed >= 30, "{passed} scenarios ran:\n{stdout}");
}
