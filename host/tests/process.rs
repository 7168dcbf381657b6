//! The `toolhost` process under process-level faults: `kill -9` during a
//! burst of writes loses no acknowledged note, and SIGTERM lets a call in
//! flight finish before the process exits 0.

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
mod support;
use support::{bin, burst_then_kill_9, call, free_port};
use toolhost_test_artifacts::{HOSTILE_LOOP, NOTES_CREATE, NOTES_LIST};

/// `toolhost serve --dev` on `port`, ready (its /healthz answers).
fn serve(dir: &Path, port: u16, extra: &[&str]) -> Child {
    let mut child = bin()
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--plugins")
        .arg(dir.join("plugins"))
        .arg("--data")
        .arg(dir.join("data"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("toolhost did not become healthy on port {port}");
}

fn token(dir: &Path, subject: &str) -> String {
    let out = bin()
        .args(["token", "--subject", subject, "--roles", "member", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn plugins_dir(dir: &Path, plugins: &[&str]) {
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    for p in plugins {
        std::fs::copy(
            p,
            dir.join("plugins").join(Path::new(p).file_name().unwrap()),
        )
        .unwrap();
    }
}

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_note() {
    let dir = tempfile::tempdir().unwrap();
    plugins_dir(dir.path(), &[NOTES_CREATE, NOTES_LIST]);
    let port = free_port();
    let mut server = serve(dir.path(), port, &[]);
    let token = token(dir.path(), "alice");
    let acknowledged = burst_then_kill_9(port, &token, &mut server);

    let mut server = serve(dir.path(), port, &[]);
    let client = reqwest::blocking::Client::new();
    let listed = call(&client, port, &token, "notes_list", json!({"limit": 100}))
        .expect("list after restart");
    let titles: Vec<&str> = listed["structuredContent"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !titles.contains(&t.as_str()))
        .collect();
    eprintln!(
        "{} notes acknowledged before kill -9, {} listed after restart",
        acknowledged.len(),
        titles.len()
    );
    assert!(lost.is_empty(), "acknowledged notes lost: {lost:?}");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn sigterm_lets_a_call_in_flight_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    plugins_dir(dir.path(), &[HOSTILE_LOOP]);
    std::fs::write(
        dir.path().join("toolhost.toml"),
        "[limits]\ntimeout_ms = 1500\n",
    )
    .unwrap();
    let port = free_port();
    let config = dir.path().join("toolhost.toml");
    let mut server = serve(dir.path(), port, &["--config", config.to_str().unwrap()]);
    let token = token(dir.path(), "alice");
    let in_flight = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        call(&client, port, &token, "hostile_loop", json!({}))
    });
    std::thread::sleep(Duration::from_millis(400));
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let result = in_flight
        .join()
        .unwrap()
        .expect("the call in flight got its answer");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("timed out after 1.5s"), "{text}");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

#[test]
fn json_logs_carry_the_call_span_and_metrics_serve_on_the_admin_address() {
    let dir = tempfile::tempdir().unwrap();
    plugins_dir(dir.path(), &[NOTES_LIST]);
    let (port, admin) = (free_port(), free_port());
    let config = dir.path().join("toolhost.toml");
    std::fs::write(
        &config,
        format!("[metrics]\nlisten = \"127.0.0.1:{admin}\"\n"),
    )
    .unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = bin()
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config)
        .arg("--plugins")
        .arg(dir.path().join("plugins"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("TOOLHOST_LOG_FORMAT", "json")
        .env("TOOLHOST_LOG", "info,toolhost=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("http://127.0.0.1:{admin}/metrics"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "the admin address never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = token(dir.path(), "alice");
    let listed = call(&client, port, &token, "notes_list", json!({})).expect("an answer");
    assert_eq!(listed["isError"], false, "{listed}");
    let metrics = client
        .get(format!("http://127.0.0.1:{admin}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"toolhost_tool_calls_total{tool="notes_list",outcome="ok"} 1"#),
        "{metrics}"
    );
    let main = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap();
    assert_eq!(main.status(), 404, "metrics are only on the admin address");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    let in_call = lines
        .iter()
        .find(|l| l["span"]["name"] == "tool_call")
        .unwrap_or_else(|| panic!("no line inside a tool_call span:\n{text}"));
    assert_eq!(in_call["span"]["tool"], "notes_list");
    assert_eq!(in_call["span"]["subject"], "alice");
    assert!(!text.contains(&token), "a token reached the log");
}

#[test]
fn the_token_command_serve_prints_works_as_pasted_from_anywhere() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    plugins_dir(dir.path(), &[NOTES_LIST]);
    let port = free_port();
    // Relative paths, as `make run` passes them, and this binary is not on
    // the PATH of the shell the command is pasted into.
    let mut child = bin()
        .current_dir(dir.path())
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--plugins", "plugins", "--data", "data"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut command = None;
    let (mut after_hint, mut oauth_url) = (false, None);
    while command.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = printed
            .recv_timeout(left)
            .expect("serve printed no token command");
        if after_hint {
            command = Some(line.trim().to_owned());
        }
        if line.contains("with nothing pasted") {
            oauth_url = line.split_whitespace().next().map(str::to_owned);
        }
        after_hint = line.contains("for scripts, a bearer token:");
    }
    assert_eq!(
        oauth_url,
        Some(format!("http://127.0.0.1:{port}/mcp")),
        "serve says where OAuth clients connect"
    );
    let command = command.unwrap();
    let out = Command::new("sh")
        .args(["-c", &command])
        .current_dir("/")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{command}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::blocking::Client::new();
    let mut listed = None;
    while listed.is_none() && Instant::now() < deadline {
        listed = call(&client, port, &token, "notes_list", json!({}));
        if listed.is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let listed = listed.expect("the server answered");
    assert_eq!(
        listed["isError"], false,
        "the printed token works: {listed}"
    );
}

#[test]
fn a_rotated_signing_key_stays_published_beside_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    plugins_dir(dir.path(), &[]);
    let config = dir.path().join("toolhost.toml");
    std::fs::write(
        &config,
        "[apis.app]\nurl = \"http://127.0.0.1:9/api/\"\nauth = \"caller\"\naudience = \"https://app.test\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let kids = |port: u16| -> Vec<String> {
        let jwks: serde_json::Value =
            reqwest::blocking::get(format!("http://127.0.0.1:{port}/oauth/jwks.json"))
                .unwrap()
                .json()
                .unwrap();
        (jwks["keys"].as_array().unwrap().iter())
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let port = free_port();
    let mut server = serve(dir.path(), port, &["--config", &config]);
    // Without the OAuth proxy, the caller tokens' key is published.
    let first = kids(port);
    assert_eq!(first.len(), 1, "{first:?}");
    let _ = server.kill();
    let _ = server.wait();

    let out = bin()
        .args(["keys", "rotate", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&first[0]) && said.contains("24 hours"),
        "{said}"
    );

    let port = free_port();
    let mut server = serve(dir.path(), port, &["--config", &config]);
    let now = kids(port);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(now.len(), 2, "{now:?}");
    assert_ne!(now[0], first[0], "the new key comes first and signs");
    assert_eq!(now[1], first[0], "the previous key is still published");
}
