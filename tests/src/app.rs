//! The application server of `tests/app` (Node, verifying caller tokens with
//! the `jose` library) as a child process: what the outbound HTTP tests call.

use crate::workspace;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the app may take to print its `listening` line.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// The most of the app's stderr kept for a panic message.
const STDERR_KEPT: usize = 64 * 1024;

/// The app, stopped when dropped (it also exits when its stdin closes, so a
/// test process that dies cannot leak it).
pub struct App {
    /// Where it listens, `http://127.0.0.1:<port>` (its API is under `/api/`).
    pub url: String,
    child: Child,
    _stdin: ChildStdin,
    stdout: Arc<Mutex<String>>,
}

impl App {
    /// Start one on a free loopback port that accepts the tokens signed by a
    /// key in the JWKS at `jwks_url` with issuer `issuer` and audience
    /// `audience`. Panics, with the app's stderr, if it is not listening
    /// within 20 seconds.
    pub fn start(jwks_url: &str, issuer: &str, audience: &str) -> App {
        let dir = workspace().join("tests/app");
        assert!(
            dir.join("node_modules/jose").exists(),
            "run `make test` (it installs tests/app with npm ci)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("JWKS_URL", jwks_url)
            .env("ISSUER", issuer)
            .env("AUDIENCE", audience)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node (is it installed?)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let kept = stderr.clone();
        let stderr_done = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                let mut kept = kept.lock().unwrap();
                if kept.len() < STDERR_KEPT {
                    kept.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let stdout = Arc::new(Mutex::new(String::new()));
        let (first_line, listening) = mpsc::channel();
        let lines = BufReader::new(child.stdout.take().expect("piped stdout"));
        let printed = stdout.clone();
        std::thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                let mut printed = printed.lock().unwrap();
                if printed.is_empty() {
                    let _ = first_line.send(line.clone());
                }
                printed.push_str(&line);
                printed.push('\n');
            }
        });
        let line = listening.recv_timeout(START_DEADLINE);
        let url = line
            .as_deref()
            .ok()
            .and_then(|l| l.strip_prefix("listening "))
            .map(str::to_owned);
        let Some(url) = url else {
            let _ = child.kill();
            let status = child.wait();
            let _ = stderr_done.join();
            panic!(
                "the app did not start (first line {line:?}, exit {status:?}); stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        App {
            url,
            child,
            _stdin: stdin,
            stdout,
        }
    }

    /// Every request the app received so far (`GET /requests`), oldest first.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let (status, body) = self.control("GET", "/requests");
        assert_eq!(status, 200, "GET /requests: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET /requests: {e}: {body}"))
    }

    /// Forget the requests received so far (`POST /reset`).
    pub fn reset(&self) {
        let (status, body) = self.control("POST", "/reset");
        assert_eq!(status, 204, "POST /reset: {body}");
    }

    /// Everything the app printed on stdout so far: the `listening` line, then
    /// one `verified caller ...` or `rejected ...` line per `/api/` request.
    pub fn log(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Wait until the log holds `needle`, at most `timeout` (the app prints a
    /// line before answering, but it reaches [`App::log`] through a pipe).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log().contains(needle)
    }

    /// One request to a control route, over a plain blocking connection (so
    /// it works both inside and outside an async runtime); status and body.
    fn control(&self, method: &str, path: &str) -> (u16, String) {
        let authority = self.url.strip_prefix("http://").expect("an http URL");
        let mut stream = TcpStream::connect(authority).expect("connect to the app");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .expect("send to the app");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("read the app's answer");
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{method} {path}: not an HTTP answer: {answer:?}"));
        (status, body.to_owned())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The audience the tests' caller tokens are minted for.
pub const AUDIENCE: &str = "https://app.test";

/// `[apis.<name>]` for the API under `url`, with caller tokens for
/// [`AUDIENCE`] and the limits the tests start from.
pub fn caller_api(url: String) -> toolhost::config::ApiConfig {
    toolhost::config::ApiConfig {
        url,
        auth: toolhost::config::ApiAuth::Caller,
        audience: Some(AUDIENCE.into()),
        header: None,
        value_env: None,
        timeout_ms: 5_000,
        max_response_bytes: 1 << 20,
        max_request_bytes: 1 << 20,
        methods: None,
        allow_private: false,
        max_concurrent: 64,
    }
}

/// Grant `tool` the APIs `apis` (`[tools.<tool>] apis`).
pub fn grant(config: &mut toolhost::Config, tool: &str, apis: &[&str]) {
    config.tools.insert(
        tool.into(),
        toolhost::config::ToolPolicy {
            apis: apis.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        },
    );
}

/// A test server with `plugins`, and the app, started with the server's
/// JWKS URL and issuer; `adjust` configures the server knowing the app.
pub async fn start_with_app(
    plugins: &[&str],
    adjust: impl FnOnce(&mut toolhost::Config, &App),
) -> (crate::TestServer, App) {
    let mut app = None;
    let server = crate::TestServer::start(plugins, |config| {
        let origin = format!("http://{}", config.server.listen);
        let started = App::start(&format!("{origin}/oauth/jwks.json"), &origin, AUDIENCE);
        adjust(config, &started);
        app = Some(started);
    })
    .await;
    (server, app.expect("the application started"))
}
