//! The embedding example (`examples/embed.rs`) run as a user would: its own
//! routes answer, an independent MCP client (Python `mcp`) calls the tools
//! mounted under `/tools`, and afterwards `/tools/metrics` counts the calls
//! and `toolhost audit` lists them, a denied one with its reason.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use toolhost_test_artifacts::{NOTES_CREATE, NOTES_LIST};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The example's executable, built by `cargo test` beside the tests.
fn example() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let exe = deps
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/embed");
    assert!(
        exe.exists(),
        "{} is missing: `cargo test` builds the examples",
        exe.display()
    );
    exe
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn call_tool(url: &str, token: &str, tool: &str, args: &str) -> serde_json::Value {
    let python = workspace().join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "run `make pyclient` (or `make test`) first"
    );
    let out: Output = Command::new(python)
        .arg(workspace().join("tests/clients/python/call_tool.py"))
        .args([
            "--url", url, "--token", token, "--tool", tool, "--args", args,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_embedding_example_serves_its_routes_and_the_tools_with_metrics_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for p in [NOTES_CREATE, NOTES_LIST] {
        std::fs::copy(p, plugins.join(Path::new(p).file_name().unwrap())).unwrap();
    }
    let data = dir.path().join("data");
    let mut child = Command::new(example())
        .args(["--listen", "127.0.0.1:0", "--plugins"])
        .arg(&plugins)
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (mut token, mut url) = (String::new(), String::new());
    // Bounded: the example prints two lines on stdout once it is ready.
    for line in BufReader::new(stdout).lines().take(10) {
        let line = line.unwrap();
        if let Some(t) = line.strip_prefix("TOKEN ") {
            token = t.to_owned();
        } else if let Some(u) = line.strip_prefix("LISTENING ") {
            url = u.to_owned();
            break;
        }
    }
    assert!(
        !token.is_empty() && !url.is_empty(),
        "the example did not start"
    );
    let origin = url.trim_end_matches("/tools/mcp").to_owned();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = |path: &str| http.get(format!("{origin}{path}")).send().unwrap();

    // The application's own routes.
    assert!(get("/").text().unwrap().contains("home page"));
    let hello: serde_json::Value = get("/api/hello").json().unwrap();
    assert_eq!(hello["hello"], "from the application");
    // toolhost's, under /tools, with the metadata where RFC 9728 puts it.
    assert_eq!(get("/tools/healthz").status(), 200);
    let metadata: serde_json::Value = get("/.well-known/oauth-protected-resource/tools/mcp")
        .json()
        .unwrap();
    assert_eq!(metadata["resource"], url.as_str());
    let challenge = http.post(&url).send().unwrap();
    assert_eq!(challenge.status(), 401);
    assert!(
        challenge.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("/.well-known/oauth-protected-resource/tools/mcp")
    );

    // alice is staff (the app's role resolver makes her a member).
    let created = call_tool(
        &url,
        &token,
        "notes_create",
        r#"{"title":"From the app","body":"b"}"#,
    );
    assert_eq!(created["is_error"], false, "{created}");
    let listed = call_tool(&url, &token, "notes_list", "{}");
    assert_eq!(listed["structured"]["count"], 1, "{listed}");
    // bob is not: notes_create is denied, notes_list (no role needed) works.
    let issuer = toolhost::auth::dev::DevIssuer::open(&data).unwrap();
    let bob = issuer
        .token(&toolhost::auth::dev::TokenRequest {
            subject: "bob".into(),
            roles: vec![],
            scopes: vec![],
            audience: url.clone(),
            ttl: Duration::from_secs(600),
        })
        .unwrap();
    let denied = call_tool(&url, &bob, "notes_create", r#"{"title":"t","body":"b"}"#);
    assert_eq!(denied["is_error"], true, "{denied}");

    // The metrics count what happened.
    let metrics = get("/tools/metrics").text().unwrap();
    for line in [
        r#"toolhost_tool_calls_total{tool="notes_create",outcome="ok"} 1"#,
        r#"toolhost_tool_calls_total{tool="notes_list",outcome="ok"} 1"#,
        r#"toolhost_tool_calls_total{tool="notes_create",outcome="denied"} 1"#,
        r#"toolhost_tool_call_duration_seconds_count{tool="notes_create"} 1"#,
        r#"toolhost_plugin_loads_total{outcome="loaded"} 2"#,
        r#"toolhost_auth_rejections_total{reason="missing_token"} "#,
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    assert!(
        metrics.contains("toolhost_instantiate_seconds_bucket"),
        "{metrics}"
    );

    // The audit trail lists the calls, the denied one with its reason. Its
    // writer commits within milliseconds; poll, bounded.
    let mut records: Vec<serde_json::Value> = Vec::new();
    for _ in 0..50 {
        let audit = Command::new(env!("CARGO_BIN_EXE_toolhost"))
            .args(["audit", "--json", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            audit.status.success(),
            "{}",
            String::from_utf8_lossy(&audit.stderr)
        );
        records = String::from_utf8_lossy(&audit.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if records.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(records.len(), 3, "{records:?}");
    let denied = &records[0];
    assert_eq!(denied["subject"], "bob");
    assert_eq!(denied["decision"], "denied");
    assert!(
        denied["reason"].as_str().unwrap().contains("member"),
        "{denied}"
    );
    assert!(records[1..].iter().all(|r| r["decision"] == "allowed"
        && r["subject"] == "alice"
        && r["outcome"] == "ok"
        && r["arguments"].is_null()));
    let bobs = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args([
            "audit",
            "--subject",
            "bob",
            "--decision",
            "denied",
            "--since",
            "1h",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&bobs.stdout);
    assert_eq!(table.lines().count(), 1, "{table}");
    assert!(
        table.contains("notes_create") && table.contains("denied"),
        "{table}"
    );
}

#[test]
fn the_embedding_examples_tools_call_its_api_as_each_user() {
    use toolhost_test_artifacts::{PROJECTS_CREATE, PROJECTS_LIST};
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for p in [PROJECTS_CREATE, PROJECTS_LIST] {
        std::fs::copy(p, plugins.join(Path::new(p).file_name().unwrap())).unwrap();
    }
    let mut child = Command::new(example())
        .args(["--listen", "127.0.0.1:0", "--plugins"])
        .arg(&plugins)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = Running(child);
    // The application's log, read as it comes.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let (mut alice, mut carol, mut url) = (String::new(), String::new(), String::new());
    for line in BufReader::new(stdout).lines().take(10) {
        let line = line.unwrap();
        if let Some(t) = line.strip_prefix("TOKEN ") {
            alice = t.to_owned();
        } else if let Some(t) = line.strip_prefix("CAROL_TOKEN ") {
            carol = t.to_owned();
        } else if let Some(u) = line.strip_prefix("LISTENING ") {
            url = u.to_owned();
            break;
        }
    }
    assert!(
        !alice.is_empty() && !carol.is_empty() && !url.is_empty(),
        "the example did not start"
    );

    for (token, name) in [(&alice, "Alpha"), (&carol, "Charlie"), (&alice, "Avalon")] {
        let args = serde_json::json!({ "name": name }).to_string();
        let created = call_tool(&url, token, "projects_create", &args);
        assert_eq!(created["is_error"], false, "{created}");
    }
    let names = |token: &str| -> Vec<(String, String)> {
        let listed = call_tool(&url, token, "projects_list", "{}");
        assert_eq!(listed["is_error"], false, "{listed}");
        let projects = listed["structured"]["projects"].as_array().unwrap().clone();
        projects
            .iter()
            .map(|p| {
                let field = |k: &str| p[k].as_str().unwrap().to_owned();
                (field("owner"), field("name"))
            })
            .collect()
    };
    let alices = names(&alice);
    assert_eq!(
        alices,
        [
            ("alice".into(), "Alpha".into()),
            ("alice".into(), "Avalon".into())
        ]
    );
    assert_eq!(names(&carol), [("carol".into(), "Charlie".into())]);

    // The application verified each caller, and which tool acted.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let seen = |needle: &str| log.lock().unwrap().contains(needle);
    while !(seen("sub=\"carol\" tool=\"tool:projects_list\""))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = log.lock().unwrap().clone();
    for needle in [
        "verified caller sub=\"alice\" tool=\"tool:projects_create\"",
        "verified caller sub=\"carol\" tool=\"tool:projects_create\"",
        "verified caller sub=\"alice\" tool=\"tool:projects_list\"",
        "verified caller sub=\"carol\" tool=\"tool:projects_list\"",
    ] {
        assert!(log.contains(needle), "no {needle:?} in\n{log}");
    }
    // Without a caller token the API answers 401.
    let origin = url.trim_end_matches("/tools/mcp");
    let status = reqwest::blocking::get(format!("{origin}/api/projects"))
        .unwrap()
        .status();
    assert_eq!(status, 401);
}
