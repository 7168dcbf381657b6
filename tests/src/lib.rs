//! Shared helpers for the workspace's integration tests and benchmarks.

pub use toolhost_test_artifacts as plugins;

pub mod app;
pub mod issuer;
pub mod native;
pub mod standin;

use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;
use toolhost::{Config, Host};

/// A host serving Streamable HTTP on an ephemeral loopback port, with its
/// own plugins and data directories, stopped when dropped. It runs in
/// development mode (tokens from its own development issuer) unless `adjust`
/// configures another provider, and without the default rate limit.
pub struct TestServer {
    /// The running host.
    pub host: Arc<Host>,
    /// Where it listens.
    pub addr: SocketAddr,
    dirs: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Start a server whose plugins directory holds `plugins` (paths of
    /// built components, copied in under their file names). `adjust` may
    /// change the configuration first.
    ///
    /// Set `TOOLHOST_TEST_LOG` (e.g. `debug`) to see the host's log.
    pub async fn start(plugins: &[&str], adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with_clock(plugins, toolhost::clock::system(), adjust).await
    }

    /// [`TestServer::start`] with the host measuring time by `clock` (a
    /// `ManualClock`, to expire things without sleeping).
    pub async fn start_with_clock(
        plugins: &[&str],
        clock: toolhost::clock::SharedClock,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        if let Ok(filter) = std::env::var("TOOLHOST_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dirs = tempfile::tempdir().expect("temp dir");
        let plugin_dir = dirs.path().join("plugins");
        std::fs::create_dir(&plugin_dir).unwrap();
        for p in plugins {
            let src = Path::new(p);
            std::fs::copy(src, plugin_dir.join(src.file_name().unwrap())).unwrap();
        }
        let mut config = Config::default();
        config.plugins.dir = plugin_dir;
        config.storage.data_dir = dirs.path().join("data");
        config.storage.sync = toolhost::storage::SyncMode::Normal;
        config.runtime.max_instances = 64;
        config.server.listen = addr;
        config.dev.enabled = true;
        // Load tests drive thousands of calls as one subject; the tests of
        // rate limiting turn it back on.
        config.rate_limit = toolhost::config::RateLimit::OFF;
        adjust(&mut config);
        let host = Host::builder(config).clock(clock).start().await;
        let host = Arc::new(host.expect("host starts"));
        let serving = host.clone();
        let task = tokio::spawn(async move {
            serving.serve(listener).await.expect("serve");
        });
        TestServer {
            host,
            addr,
            dirs,
            task,
        }
    }

    /// The host's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dirs.path().join("data")
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// A development token for `subject` with `roles`.
    pub fn token(&self, subject: &str, roles: &[&str]) -> String {
        let issuer = self
            .host
            .dev_issuer()
            .expect("the test server runs in development mode");
        issuer
            .token(&toolhost::auth::dev::TokenRequest {
                subject: subject.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                scopes: Vec::new(),
                audience: self.url(),
                ttl: Duration::from_secs(3600),
            })
            .expect("sign a development token")
    }

    /// An rmcp client transport to this server carrying `token`.
    pub fn transport_with(&self, token: String) -> StreamableHttpClientTransport<reqwest::Client> {
        StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(self.url()).auth_header(token),
        )
    }

    /// A transport as `subject` with `roles`.
    pub fn transport_as(
        &self,
        subject: &str,
        roles: &[&str],
    ) -> StreamableHttpClientTransport<reqwest::Client> {
        self.transport_with(self.token(subject, roles))
    }

    /// A transport as `dev-user`, a `member`.
    pub fn transport(&self) -> StreamableHttpClientTransport<reqwest::Client> {
        self.transport_as("dev-user", &["member"])
    }

    /// A stateless 2026-07-28 POST of `body` as `subject` (roles `member`),
    /// with the `Mcp-Method` and `Mcp-Name` headers taken from the body when
    /// it is a request, else `tools/call` and `notes_list`; not yet sent.
    pub fn stateless_request(
        &self,
        subject: &str,
        body: impl Into<String>,
    ) -> reqwest::RequestBuilder {
        let body = body.into();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let method = parsed["method"].as_str().unwrap_or("tools/call").to_owned();
        let name = parsed["params"]["name"]
            .as_str()
            .unwrap_or("notes_list")
            .to_owned();
        reqwest::Client::new()
            .post(self.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .header(
                "authorization",
                format!("Bearer {}", self.token(subject, &["member"])),
            )
            .body(body)
    }

    /// POST `body` as is to the MCP endpoint with a member token for
    /// `subject`, as a stateless 2026-07-28 request; the status and the JSON
    /// answer (the last event of a stream), or `Null` if there is none. The
    /// `Mcp-Method` and `Mcp-Name` headers are taken from the body when it is
    /// a request, else `tools/call`.
    pub async fn post_raw(
        &self,
        subject: &str,
        body: impl Into<String>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .stateless_request(subject, body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json = text
            .lines()
            .rev()
            .find_map(|l| {
                Some(l.strip_prefix("data: ").unwrap_or(l)).filter(|l| l.starts_with('{'))
            })
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// A stateless 2026-07-28 `tools/call` request body.
    pub fn call_body(tool: &str, arguments: &serde_json::Value) -> String {
        serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }}
        })
        .to_string()
    }

    /// The watched plugins directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.dirs.path().join("plugins")
    }

    /// Put `src` into the plugins directory as `name`, atomically (write a
    /// hidden temporary file, then rename), as an operator should.
    pub fn install_plugin(&self, src: &str, name: &str) {
        let tmp = self.plugins_dir().join(format!(".{name}.tmp"));
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, self.plugins_dir().join(name)).unwrap();
    }

    /// Remove `name` from the plugins directory.
    pub fn remove_plugin(&self, name: &str) {
        std::fs::remove_file(self.plugins_dir().join(name)).unwrap();
    }

    /// The audit records matching `query` (newest first), after every
    /// record written so far reached the trail.
    pub async fn audit_records(
        &self,
        query: toolhost::storage::audit::AuditQuery,
    ) -> Vec<toolhost::storage::audit::AuditRecord> {
        let log = self
            .host
            .dispatcher()
            .audit()
            .expect("the audit trail is on");
        assert!(
            log.flush(Duration::from_secs(5)).await,
            "the audit trail flushes"
        );
        let path = toolhost::storage::audit::SqliteAuditStore::path_in(&self.data_dir());
        toolhost::storage::run_blocking(move || {
            let trail = toolhost::storage::audit::SqliteAuditStore::open_existing(&path)?;
            toolhost::storage::audit::AuditStore::query(&trail, &query)
        })
        .await
        .expect("the audit trail reads")
    }

    /// A client of the stateless 2026-07-28 revision, as `dev-user`.
    pub async fn client_2026(
        &self,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig> {
        self.client_2026_with(rmcp::model::ClientConfig::default())
            .await
    }

    /// A 2026-07-28 client whose requests and notifications `handler`
    /// answers (an elicitation, a progress report).
    pub async fn client_2026_with<H: rmcp::ClientHandler>(
        &self,
        handler: H,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, H> {
        use rmcp::ClientServiceExt;
        handler
            .serve_with_lifecycle(
                self.transport(),
                rmcp::ClientLifecycleMode::Discover {
                    preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("a 2026-07-28 client connects")
    }

    /// Wait until `check` holds for the registry, polling, at most `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&toolhost::registry::Registry) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if check(self.host.registry()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        check(self.host.registry())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.host.shutdown();
        self.task.abort();
    }
}

/// A compiled-artifact cache shared by the tests that load the JavaScript
/// and Python plugins, which take seconds to compile: compiled once per
/// build of them, not once per test.
pub fn shared_cache() -> PathBuf {
    Path::new(plugins::NOTES_SEARCH)
        .parent()
        .expect("the polyglot plugins directory")
        .join("cache")
}

/// `bytes` of a component with a custom section appended: the same tool, a
/// new content hash (a "new version" for reload tests).
pub fn with_custom_section(bytes: &[u8], note: &str) -> Vec<u8> {
    let name = b"toolhost-test";
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(note.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    let mut size = body.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&body);
    out
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Python interpreter of the test virtualenv with the `mcp` client
/// package (`make test` creates it in `target/pyenv`).
pub fn python() -> PathBuf {
    let python = workspace().join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test` (it creates the Python MCP client's virtualenv)",
        python.display()
    );
    python
}

/// How long a client script (Python or TypeScript) may run before it is
/// killed.
pub const PYTHON_CLIENT_DEADLINE: Duration = Duration::from_secs(180);

/// Run one of the Python client scripts in `tests/clients/python`; killed
/// (and the test failed) after [`PYTHON_CLIENT_DEADLINE`].
pub fn run_python_client(script: &str, args: &[&str]) -> Output {
    let mut command = Command::new(python());
    command.arg(workspace().join("tests/clients/python").join(script));
    run_client(command, script, args)
}

/// Run one of the TypeScript SDK client scripts in
/// `tests/clients/typescript` with Node; killed (and the test failed)
/// after [`PYTHON_CLIENT_DEADLINE`].
pub fn run_typescript_client(script: &str, args: &[&str]) -> Output {
    let dir = workspace().join("tests/clients/typescript");
    assert!(
        dir.join("node_modules").exists(),
        "run `make test` (it installs tests/clients/typescript with npm ci)"
    );
    let mut command = Command::new("node");
    command.arg(dir.join(script));
    run_client(command, script, args)
}

fn run_client(mut command: Command, script: &str, args: &[&str]) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run the MCP client {script}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + PYTHON_CLIENT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{script} {args:?} ran past {PYTHON_CLIENT_DEADLINE:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Create a note with the bundled notes_create as `client`'s caller; its id.
pub async fn create_note<H: rmcp::ClientHandler>(
    client: &rmcp::service::RunningService<rmcp::RoleClient, H>,
    title: &str,
    body: &str,
) -> String {
    let arguments = serde_json::json!({"title": title, "body": body});
    let created = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("notes_create")
                .with_arguments(arguments.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("notes_create answers");
    let id = created
        .structured_content
        .as_ref()
        .and_then(|s| s["id"].as_str());
    id.unwrap_or_else(|| panic!("notes_create failed: {created:?}"))
        .to_owned()
}

/// A client that forwards each tools/list_changed notification to a
/// channel.
#[derive(Clone)]
pub struct Notified(pub tokio::sync::mpsc::UnboundedSender<()>);

impl rmcp::ClientHandler for Notified {
    async fn on_tool_list_changed(
        &self,
        _cx: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.0.send(());
    }
}
