//! `toolhost serve --stdio`, spawned by the official Python `mcp` client
//! (tests/clients/python/stdio_roundtrip.py), as Claude Desktop would.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use toolhost_test_artifacts::{NOTES_CREATE, NOTES_LIST};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn stdio_round_trip(mode: &str, expected_protocol: &str) {
    let python = workspace().join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test`",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for p in [NOTES_CREATE, NOTES_LIST] {
        std::fs::copy(p, plugins.join(Path::new(p).file_name().unwrap())).unwrap();
    }
    let data = dir.path().join("data");
    let out = Command::new(python)
        .arg(workspace().join("tests/clients/python/stdio_roundtrip.py"))
        .args(["--mode", mode, "--"])
        .arg(env!("CARGO_BIN_EXE_toolhost"))
        .args(["serve", "--stdio", "--plugins"])
        .arg(&plugins)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["protocol_version"], expected_protocol);
    assert_eq!(
        result["tools"],
        serde_json::json!(["notes_create", "notes_list"])
    );
    assert_eq!(result["listed"]["notes"][0], result["created"]);
    assert!(
        std::fs::read_dir(&data)
            .unwrap()
            .any(|e| e.unwrap().file_name() == "toolhost.db"),
        "the note was stored in the data directory"
    );
}

#[test]
fn a_stdio_client_calls_tools_as_the_configured_principal() {
    stdio_round_trip("auto", "2026-07-28");
}

#[test]
fn a_legacy_stdio_client_calls_tools() {
    stdio_round_trip("legacy", "2025-11-25");
}
