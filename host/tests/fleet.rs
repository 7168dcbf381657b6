//! Two `toolhost serve` processes on one PostgreSQL database, as an
//! operator runs replicas: `kill -9` of one in the middle of a burst of
//! writes loses no acknowledged note (the other serves them all), and
//! `toolhost audit --config` reads the trail both wrote from the database.

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
mod support;
use support::{bin, burst_then_kill_9, call, free_port};
use toolhost::testing::postgres::PostgresCluster;
use toolhost_test_artifacts::{NOTES_CREATE, NOTES_LIST};

/// A replica: `toolhost serve --dev --config fleet.toml` with its own data
/// directory, the database URL from `TOOLHOST_DATABASE_URL`; ready when its
/// /readyz answers 200 (storage reached).
fn replica(dir: &Path, name: &str, url: &str, port: u16) -> Child {
    let mut child = bin()
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(dir.join("fleet.toml"))
        .arg("--plugins")
        .arg(dir.join("plugins"))
        .arg("--data")
        .arg(dir.join(name))
        .env("TOOLHOST_DATABASE_URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .timeout(Duration::from_secs(5))
            .send();
        if ready.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("replica {name} did not become ready on port {port}");
}

/// A development token of the replica whose data directory is `name`.
fn token(dir: &Path, name: &str, subject: &str) -> String {
    let out = bin()
        .args(["token", "--subject", subject, "--roles", "member", "--data"])
        .arg(dir.join(name))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn titles(listed: &Value) -> Vec<String> {
    listed["structuredContent"]["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("no notes: {listed}"))
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

/// `toolhost audit --config fleet.toml --json` with the database URL.
fn audit(dir: &Path, url: &str, extra: &[&str]) -> Vec<Value> {
    let out = bin()
        .args(["audit", "--json", "--config"])
        .arg(dir.join("fleet.toml"))
        .args(extra)
        .env("TOOLHOST_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "toolhost audit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_replica_killed_mid_burst_loses_nothing_the_other_serves_it_and_audit_reads_both() {
    let cluster = PostgresCluster::start().unwrap();
    let url = cluster.create_database("fleet").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("fleet.toml"),
        "[storage]\nbackend = \"postgres\"\nstatement_timeout_ms = 5000\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("plugins")).unwrap();
    for p in [NOTES_CREATE, NOTES_LIST] {
        let name = Path::new(p).file_name().unwrap();
        std::fs::copy(p, root.join("plugins").join(name)).unwrap();
    }
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = replica(root, "a", &url, port_a);
    let mut b = replica(root, "b", &url, port_b);
    let token_a = token(root, "a", "alice");
    let acknowledged = burst_then_kill_9(port_a, &token_a, &mut a);

    // The survivor serves every acknowledged note; bob sees none of them.
    let client = reqwest::blocking::Client::new();
    let token_b = token(root, "b", "alice");
    let listed = call(
        &client,
        port_b,
        &token_b,
        "notes_list",
        json!({"limit": 100}),
    )
    .expect("replica b answers");
    let titles = titles(&listed);
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !titles.contains(t))
        .collect();
    eprintln!(
        "{} notes acknowledged by a before kill -9, {} listed by b",
        acknowledged.len(),
        titles.len()
    );
    assert!(lost.is_empty(), "acknowledged notes lost: {lost:?}");
    let bob = token(root, "b", "bob");
    let theirs = call(&client, port_b, &bob, "notes_list", json!({})).unwrap();
    assert!(self::titles(&theirs).is_empty(), "{theirs}");

    // The trail in the database holds both replicas' calls; b's list shows
    // up once its writer has flushed (every few milliseconds).
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let records = audit(root, &url, &["--subject", "alice", "--limit", "1000"]);
        if records.iter().any(|r| r["tool"] == "notes_list") || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let creates = records
        .iter()
        .filter(|r| r["tool"] == "notes_create")
        .count();
    assert!(
        records
            .iter()
            .any(|r| r["tool"] == "notes_list" && r["outcome"] == "ok"),
        "b's notes_list is in the trail: {records:?}"
    );
    assert!(creates >= 1, "a's creates are in the trail: {records:?}");
    assert!(
        records.iter().all(|r| r["subject"] == "alice"),
        "{records:?}"
    );
    b.kill().unwrap();
    b.wait().unwrap();
}

#[test]
fn a_replica_refuses_to_start_without_its_database_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fleet.toml");
    std::fs::write(&config, "[storage]\nbackend = \"postgres\"\n").unwrap();
    let port = free_port();
    let out = bin()
        .args([
            "serve",
            "--dev",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env(
            "TOOLHOST_DATABASE_URL",
            format!("postgres://toolhost:hunter2@127.0.0.1:{port}/fleet"),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("PostgreSQL at 127.0.0.1:{port}/fleet")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password reached the log: {stderr}"
    );
    let out = bin()
        .args(["config", "check"])
        .arg(&config)
        .env_remove("TOOLHOST_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("TOOLHOST_DATABASE_URL"), "{stderr}");
}
