//! `toolhost dev`, as a tool author runs it: three projects made by
//! `toolhost new` (Rust, JavaScript, Python) served at once; a save in each
//! is rebuilt and serves within the bound, as the call's new answer shows,
//! and a connected session is told the tool list changed; a
//! build error is shown once and the last good version keeps serving until
//! the fix. Prints save -> serving for each language.

mod support;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{bin, call, free_port, new_project};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's output, a line at a time.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    /// The first line from now on that contains `words`, within `limit`.
    fn wait_for(&mut self, words: &str, limit: Duration) -> String {
        self.wait_for_any(&[words], limit)
    }

    /// The first line from now on that contains one of `words`.
    fn wait_for_any(&mut self, words: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if words.iter().any(|w| line.contains(w)) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {words:?} within {limit:?}; the server said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line that arrives within `time`.
    fn drain(&mut self, time: Duration) -> Vec<String> {
        let deadline = Instant::now() + time;
        let mut lines = Vec::new();
        while let Ok(line) =
            (self.rx).recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            lines.push(line);
        }
        lines
    }
}

/// A stateless tools/call of `tool` as alice: the text of its answer.
fn greet(port: u16, token: &str, tool: &str) -> String {
    let client = reqwest::blocking::Client::new();
    let result = call(&client, port, token, tool, json!({"name": "Ada"})).expect("an answer");
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {result}"))
        .to_owned()
}

/// A 2025-11-25 session's standalone event stream: its lines, as they come.
fn listen(port: u16, token: &str) -> mpsc::Receiver<String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let post = |session: Option<&str>, body: serde_json::Value| {
        let mut request = client
            .post(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(30));
        if let Some(id) = session {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.body(body.to_string()).send().unwrap()
    };
    let init = post(
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "dev-test", "version": "1"}}}),
    );
    let session = (init.headers().get("mcp-session-id"))
        .expect("a session id")
        .to_str()
        .unwrap()
        .to_owned();
    drop(init.text());
    post(
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    let stream = client
        .get(&url)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .unwrap();
    assert!(stream.status().is_success(), "{}", stream.status());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Replace `from` by `to` in `file` (a save in an editor).
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[test]
fn a_save_is_rebuilt_and_served_and_a_broken_build_keeps_the_last_good_version() {
    let parent = tempfile::tempdir().unwrap();
    let projects = [
        ("dev_js", "js", "tool.js"),
        ("dev_py", "python", "tool.py"),
        ("dev_rs", "rust", "src/lib.rs"),
    ];
    for (name, lang, _) in projects {
        new_project(name, lang, &parent.path().join(name));
    }
    let port = free_port();
    let data = parent.path().join("data");
    let mut command = bin();
    command
        .current_dir(parent.path())
        .args(["dev", "dev_js", "dev_py", "dev_rs", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(&data)
        // Rust builds share a target directory kept between runs.
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/new-tool"),
        )
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Lines {
        rx,
        seen: Vec::new(),
    };
    // The first builds (a cold Rust one fetches and compiles the SDK).
    for (name, _, _) in projects {
        lines.wait_for(
            &format!("{name}: serving version"),
            Duration::from_secs(600),
        );
    }
    let printed = lines.wait_for(
        "npx @modelcontextprotocol/inspector --cli",
        Duration::from_secs(60),
    );
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}/mcp")),
        "{printed}"
    );
    let token = bin()
        .args(["token", "--subject", "alice", "--roles", "member", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    for (name, _, _) in projects {
        assert_eq!(greet(port, &token, name), "Hello, Ada!", "{name}");
    }
    let events = listen(port, &token);

    // A save in each language: rebuilt, and the new answer serves.
    for (name, _, source) in projects {
        let file = parent.path().join(name).join(source);
        edit(&file, "Hello, ", "Hi, ");
        let line = lines.wait_for(
            &format!("{name}: serving version"),
            Duration::from_secs(300),
        );
        println!("{line}");
        assert!(line.contains("after the save"), "{line}");
        assert_eq!(greet(port, &token, name), "Hi, Ada!", "{name}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let announced = std::iter::from_fn(|| {
            events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()
        })
        .any(|line| line.contains("notifications/tools/list_changed"));
        assert!(
            announced,
            "{name}: the session is told the tool list changed"
        );
    }

    // A syntax error: shown once, the last good version keeps serving.
    let js = parent.path().join("dev_js/tool.js");
    edit(&js, "call(ctx, { name }) {", "call(ctx, { name }) {{");
    let failed = lines.wait_for("dev_js: the build failed", Duration::from_secs(120));
    assert!(
        failed.contains("the last good version keeps serving"),
        "{failed}"
    );
    let after = lines.drain(Duration::from_secs(2));
    assert!(
        !after.iter().any(|l| l.contains("the build failed")),
        "the error is shown once: {after:?}"
    );
    assert!(
        after.iter().any(|l| l.contains("tool.js")),
        "the build's own message names the file: {after:?}"
    );
    assert_eq!(greet(port, &token, "dev_js"), "Hi, Ada!");
    edit(&js, "call(ctx, { name }) {{", "call(ctx, { name }) {");
    lines.wait_for_any(
        &["dev_js: serving version", "dev_js: built, unchanged"],
        Duration::from_secs(120),
    );
    assert_eq!(greet(port, &token, "dev_js"), "Hi, Ada!");
}

#[test]
fn a_directory_that_is_not_a_project_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().arg("dev").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("is not a tool project"), "{said}");
    assert!(said.contains("toolhost new"), "{said}");
}
