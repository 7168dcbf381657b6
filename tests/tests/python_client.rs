//! The server driven by an MCP client nobody here wrote: the official Python
//! `mcp` package (see tests/clients/python), in both protocol lifecycles.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use toolhost_tests::{TestServer, plugins, python, run_python_client, workspace};

fn json_stdout(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}); status {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn round_trip(mode: &str, expected_protocol: &str) {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let url = server.url();
    let mode = mode.to_owned();
    let token = server.token("py-user", &["member"]);
    let out = tokio::task::spawn_blocking(move || {
        run_python_client(
            "notes_roundtrip.py",
            &[
                "--url",
                &url,
                "--token",
                &token,
                "--mode",
                &mode,
                "--title",
                "From Python",
            ],
        )
    })
    .await
    .unwrap();
    let result = json_stdout(&out);
    assert!(
        out.status.success(),
        "{result}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(result["protocol_version"], expected_protocol);
    assert_eq!(
        result["tools"],
        serde_json::json!(["notes_create", "notes_list"])
    );
    assert_eq!(result["created"]["title"], "From Python");
    assert_eq!(result["listed"]["notes"][0], result["created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_round_trip_stateless_2026() {
    round_trip("auto", "2026-07-28").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_round_trip_with_a_session() {
    round_trip("legacy", "2025-11-25").await;
}

/// Start the watcher script, wait for READY, then add and remove a plugin;
/// the script must report both changes with the tool list after each.
async fn hears_list_changed(mode: &str) {
    let server = TestServer::start(&[plugins::NOTES_LIST], |_| {}).await;
    let mut child = Command::new(python())
        .arg(workspace().join("tests/clients/python/watch_list_changed.py"))
        .args(["--token", &server.token("py-user", &[])])
        .args([
            "--url",
            &server.url(),
            "--mode",
            mode,
            "--count",
            "2",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the watcher");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |rx: &mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a line from the watcher")
    };
    assert_eq!(next(&rx), "READY");
    // Straight after the client's subscription is acknowledged.
    server.install_plugin(plugins::SWAP_V1, "swap.wasm");
    let added: Value = serde_json::from_str(&next(&rx)).unwrap();
    assert_eq!(
        added["tools"],
        serde_json::json!(["notes_list", "swap_probe"])
    );
    server.remove_plugin("swap.wasm");
    let removed: Value = serde_json::from_str(&next(&rx)).unwrap();
    assert_eq!(removed["tools"], serde_json::json!(["notes_list"]));
    let status = child.wait().unwrap();
    assert!(status.success(), "watcher exit {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_hears_list_changed_by_subscription() {
    hears_list_changed("auto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_hears_list_changed_in_a_session() {
    hears_list_changed("legacy").await;
}

/// The Python client sees what components serve besides tools: the tools'
/// annotations, a resource template and its resource, a prompt filled in.
async fn sees_resources_and_prompts(mode: &str, expected_protocol: &str) {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::NOTES_DELETE,
        ],
        |_| {},
    )
    .await;
    let (url, token, mode) = (
        server.url(),
        server.token("py-user", &["member"]),
        mode.to_owned(),
    );
    let out = tokio::task::spawn_blocking(move || {
        run_python_client(
            "served.py",
            &["--url", &url, "--token", &token, "--mode", &mode],
        )
    })
    .await
    .unwrap();
    let result = json_stdout(&out);
    assert!(
        out.status.success(),
        "{result}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(result["protocol_version"], expected_protocol);
    let hints = &result["annotations"];
    assert_eq!(hints["notes_list"]["readOnlyHint"], true, "{hints}");
    assert_eq!(hints["notes_create"]["destructiveHint"], false, "{hints}");
    assert_eq!(hints["notes_delete"]["destructiveHint"], true, "{hints}");
    assert_eq!(result["templates"], serde_json::json!(["notes://{id}"]));
    assert_eq!(result["resource"]["mimeType"], "text/markdown");
    let text = result["resource"]["text"].as_str().unwrap();
    assert!(text.starts_with("# From Python\n\nas a resource"), "{text}");
    assert_eq!(
        result["prompts"]["summarise_notes"],
        serde_json::json!(["topic"])
    );
    let prompt = result["prompt"][0].as_str().unwrap();
    assert!(prompt.contains("From Python"), "{prompt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_sees_resources_and_prompts_stateless_2026() {
    sees_resources_and_prompts("auto", "2026-07-28").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_sees_resources_and_prompts_with_a_session() {
    sees_resources_and_prompts("legacy", "2025-11-25").await;
}
