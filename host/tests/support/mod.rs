//! What the host's process-level tests share: the binary, a free loopback
//! port, a stateless (2026-07-28) tools/call over HTTP, and a tool project
//! made by `toolhost new`.

#![allow(dead_code)] // each test file uses its part

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The `toolhost` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolhost"))
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stateless tools/call to the server on `port`: the JSON-RPC result, or
/// `None` when the server could not be reached or did not answer (within
/// 30 s).
pub fn call(
    client: &reqwest::blocking::Client,
    port: u16,
    token: &str,
    tool: &str,
    args: Value,
) -> Option<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let response = client
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .ok()?;
    let text = response.text().ok()?;
    let line = text
        .lines()
        .rev()
        .find_map(|l| Some(l.strip_prefix("data: ").unwrap_or(l)).filter(|l| l.starts_with('{')))?;
    serde_json::from_str::<Value>(line)
        .ok()?
        .get("result")
        .cloned()
}

/// The repository's `sdk/` directory, for `toolhost new --sdk`.
pub fn sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sdk")
        .canonicalize()
        .unwrap()
}

/// `toolhost new NAME --lang LANG --dir DIR` with this repository's kits.
pub fn new_project(name: &str, lang: &str, dir: &Path) {
    let made = bin()
        .args(["new", name, "--lang", lang, "--dir"])
        .arg(dir)
        .arg("--sdk")
        .arg(sdk())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// Four writers create notes (25 each at most, so one list of 100 shows
/// them all) as `token` on the server on `port`; once 20 are acknowledged,
/// `server` gets SIGKILL. The titles acknowledged before the kill.
pub fn burst_then_kill_9(port: u16, token: &str, server: &mut std::process::Child) -> Vec<String> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let token = Arc::new(token.to_owned());
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (token, acknowledged, count, killed) = (
                token.clone(),
                acknowledged.clone(),
                count.clone(),
                killed.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for i in 0..25 {
                    let title = format!("w{w}-{i}");
                    let arguments = json!({"title": title, "body": "burst"});
                    match call(&client, port, &token, "notes_create", arguments) {
                        Some(r) if r["isError"] == false => {
                            acknowledged.lock().unwrap().push(title);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        _ if killed.load(Ordering::SeqCst) => break,
                        other => panic!("a write failed before the kill: {other:?}"),
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    killed.store(true, Ordering::SeqCst);
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20 && acknowledged.len() < 100,
        "the kill came mid-burst: {}",
        acknowledged.len()
    );
    acknowledged
}
