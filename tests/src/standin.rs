//! The Clerk stand-in (oidc-provider from npm, `tests/clerk-standin`) as a
//! child process.

use crate::{run_python_client, run_typescript_client, workspace};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The stand-in, stopped when dropped (it also exits when its stdin closes).
pub struct StandIn {
    child: Child,
    /// Its issuer URL, `http://127.0.0.1:<port>`.
    pub url: String,
}

impl StandIn {
    /// Start one on a free loopback port.
    pub fn start() -> StandIn {
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
        // Its first line says where it listens; a stand-in that never says
        // fails the test instead of hanging it.
        let stdout = child.stdout.take().expect("piped stdout");
        let (said, first) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = said.send(read.map(|_| line));
        });
        let line = match first.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(read) => read.expect("read the stand-in's first line"),
            Err(_) => {
                let _ = child.kill();
                panic!("the stand-in did not say where it listens within 60 s")
            }
        };
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("stand-in said {line:?}"))
            .to_owned();
        StandIn { child, url }
    }

    /// Register a confidential web application whose redirect URI is
    /// `redirect_uri`, as an operator registers toolhost's proxy in Clerk;
    /// its client id and secret.
    pub async fn register_app(&self, redirect_uri: &str) -> (String, String) {
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/oauth/register", self.url))
            .json(&serde_json::json!({
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            }))
            .send()
            .await
            .expect("register at the stand-in")
            .json()
            .await
            .expect("a registration");
        let field = |k: &str| {
            answer[k]
                .as_str()
                .unwrap_or_else(|| panic!("{answer}"))
                .to_owned()
        };
        (field("client_id"), field("client_secret"))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `oauth_roundtrip.py` (the official Python client's own OAuth
/// support) against `server_url` as `user`, creating a note titled `title`;
/// its JSON answer.
pub fn round_trip(server_url: &str, user: &str, title: &str, allow_tool_error: bool) -> Value {
    round_trip_as(server_url, user, None, title, allow_tool_error)
}

/// [`round_trip`], typing `roles` into the development sign-in page when
/// given.
pub fn round_trip_as(
    server_url: &str,
    user: &str,
    roles: Option<&str>,
    title: &str,
    allow_tool_error: bool,
) -> Value {
    let args = client_args(server_url, user, roles, title, allow_tool_error);
    expect_json(user, run_python_client("oauth_roundtrip.py", &args))
}

/// [`round_trip_as`] with the official TypeScript SDK client
/// (`tests/clients/typescript/oauth_roundtrip.mjs`).
pub fn typescript_round_trip(
    server_url: &str,
    user: &str,
    roles: Option<&str>,
    title: &str,
    allow_tool_error: bool,
) -> Value {
    let args = client_args(server_url, user, roles, title, allow_tool_error);
    expect_json(user, run_typescript_client("oauth_roundtrip.mjs", &args))
}

/// The arguments both round-trip scripts take.
fn client_args<'a>(
    server_url: &'a str,
    user: &'a str,
    roles: Option<&'a str>,
    title: &'a str,
    allow_tool_error: bool,
) -> Vec<&'a str> {
    let mut args = vec!["--url", server_url, "--user", user, "--title", title];
    if allow_tool_error {
        args.push("--allow-tool-error");
    }
    if let Some(roles) = roles {
        args.extend(["--roles", roles]);
    }
    args
}

/// A client's JSON answer, after checking it succeeded.
fn expect_json(user: &str, out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{user}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The titles of the notes a round trip listed.
pub fn titles(result: &Value) -> Vec<String> {
    result["listed"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}
