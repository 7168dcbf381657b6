//! End to end with a real OAuth authorization server standing in for Clerk
//! (oidc-provider from npm, tests/clerk-standin) and the official Python MCP
//! client's own OAuth support: discovery from the 401, dynamic registration,
//! authorization code + PKCE, then the tools, as three different users.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use toolhost::auth::AudiencePolicy;
use toolhost_tests::{TestServer, plugins, run_python_client, workspace};

/// The stand-in, stopped when dropped (it also exits when its stdin closes).
struct StandIn {
    child: Child,
    url: String,
}

impl StandIn {
    fn start() -> StandIn {
        let dir = workspace().join("tests/clerk-standin");
        assert!(
            dir.join("node_modules").exists(),
            "run `make test` (it installs tests/clerk-standin with npm ci)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.js"))
            .args(["--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("stand-in said {line:?}"))
            .to_owned();
        StandIn { child, url }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn round_trip(server_url: &str, user: &str, title: &str, allow_tool_error: bool) -> Value {
    let mut args = vec!["--url", server_url, "--user", user, "--title", title];
    if allow_tool_error {
        args.push("--allow-tool-error");
    }
    let out = run_python_client("oauth_roundtrip.py", &args);
    assert!(
        out.status.success(),
        "{user}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn titles(result: &Value) -> Vec<String> {
    result["listed"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_works_with_any_oidc_issuer_found_by_discovery() {
    let standin = StandIn::start();
    let issuer = standin.url.clone();
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        // As with Auth0, WorkOS or Keycloak: the issuer URL only.
        c.auth.oidc.issuer = Some(issuer);
    })
    .await;
    let url = server.url();
    let alice = tokio::task::spawn_blocking(move || round_trip(&url, "alice", "via OIDC", false))
        .await
        .unwrap();
    assert_eq!(titles(&alice), ["via OIDC"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_off_the_shelf_client_gets_a_token_from_the_clerk_stand_in_and_calls_tools() {
    let standin = StandIn::start();
    let frontend = standin.url.clone();
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], move |c| {
        c.dev.enabled = false;
        // As an operator would with a Clerk proxy domain: CLERK_FRONTEND_API_URL.
        c.auth.clerk.frontend_api_url = Some(frontend);
        c.auth.audience = AudiencePolicy::Resource;
        // No scopes configured: what an operator gets by default.
    })
    .await;
    let url = server.url();
    let results = tokio::task::spawn_blocking(move || {
        let alice = round_trip(&url, "alice", "alice's note", false);
        let bob = round_trip(&url, "bob", "bob's note", false);
        let guest = round_trip(&url, "guest", "guest's note", true);
        (alice, bob, guest)
    })
    .await
    .unwrap();
    let (alice, bob, guest) = results;
    assert_eq!(
        alice["tools"],
        serde_json::json!(["notes_create", "notes_list"])
    );
    assert_eq!(alice["oauth"]["issuer"], standin.url);
    assert_eq!(titles(&alice), ["alice's note"]);
    assert_eq!(titles(&bob), ["bob's note"], "bob sees only his own notes");
    assert_eq!(
        guest["tools"],
        serde_json::json!(["notes_list"]),
        "a user without member sees only notes_list"
    );
    assert_eq!(guest["created_is_error"], true, "and may not create");
    assert!(
        guest["created_error"].as_str().unwrap().contains("member"),
        "{guest}"
    );
    assert_eq!(guest["listed"]["count"], 0);
}
