//! What a client sends never forges a log line: values it controls (a
//! token's `kid` and `typ`, a tool name) are logged escaped, without a valid
//! token too.

mod support;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::free_port;

/// A line an attacker would like to see in the log, as if the host wrote it.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO toolhost::host: forged line";

fn token_with_header(header: serde_json::Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(json!({"sub": "x", "exp": 4_000_000_000u64}).to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

#[test]
fn attacker_controlled_values_are_logged_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let log = dir.path().join("stderr.log");
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--plugins")
        .arg(dir.path().join("plugins"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("TOOLHOST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let injected = format!("k\n{FORGED}\u{1b}[31m");
    let tokens = [
        token_with_header(json!({"alg": "ES256", "typ": "at+jwt", "kid": injected})),
        token_with_header(json!({"alg": "ES256", "typ": injected, "kid": "k"})),
    ];
    for token in &tokens {
        let status = client
            .post(&url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 401);
    }
    // A tool name, with a valid token.
    let token = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_toolhost"))
            .args(["token", "--subject", "alice", "--roles", "member", "--data"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // In a session of the 2025-11-25 revision, whose requests carry no
    // Mcp-Name header (a header could not hold the newline).
    let post = |body: serde_json::Value, session: Option<&str>| {
        let mut request = client
            .post(&url)
            .bearer_auth(token.trim())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        request.send().unwrap()
    };
    let opened = post(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "forger", "version": "1"}}}),
        None,
    );
    let Some(session) = opened.headers().get("mcp-session-id").cloned() else {
        panic!("no session: {} {}", opened.status(), opened.text().unwrap());
    };
    let session = session.to_str().unwrap().to_owned();
    let _ = opened.text();
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(&session),
    );
    let answered = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": injected, "arguments": {}}}),
        Some(&session),
    )
    .text()
    .unwrap();
    assert!(answered.contains("unknown tool"), "{answered}");
    let _ = server.kill();
    let _ = server.wait();
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("unknown_kid") && written.contains("token_type"),
        "the rejections were logged: {written}"
    );
    assert!(written.contains("unknown tool"), "{written}");
    for line in written.lines() {
        assert!(
            !line.starts_with(FORGED),
            "a forged line made it into the log:\n{written}"
        );
    }
    assert!(
        !written.contains("forged line\u{1b}[31m"),
        "the client's escape sequence reached the log raw:\n{written}"
    );
    assert!(
        written.contains("\\n2026-01-01T00:00:00.000000Z"),
        "the newline is escaped in place: {written}"
    );
}

/// A tool that says it calls an API the operator did not grant gets a
/// warning naming the tool and the API when it is loaded.
#[test]
fn a_tool_expecting_an_ungranted_api_is_warned_of_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        toolhost_test_artifacts::PROJECTS_LIST,
        plugins.join("projects_list.wasm"),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--plugins")
        .arg(&plugins)
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let warned = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("not granted to it")) {
            break line.to_owned();
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            panic!("no warning within 30 s:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        warned.contains("projects_list") && warned.contains("[\"app\"]"),
        "{warned}"
    );
}
