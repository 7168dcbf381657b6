//! OpenTelemetry export (the `otel` feature) of the `tool_call` span: in
//! process, a host served on loopback exports through an in-memory exporter
//! the span of an allowed call, a denied one and one of an unknown tool, each
//! with its fields; end to end, `toolhost serve` with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set posts its spans to a stand-in collector
//! and flushes them when it stops.
#![cfg(feature = "otel")]

use opentelemetry::{Key, Value as OtelValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use serde_json::{Value, json};
use sha2::Digest;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost::auth::dev::TokenRequest;
use toolhost::{Config, Host};
use toolhost_test_artifacts::{NOTES_CREATE, NOTES_LIST};
use tracing_subscriber::prelude::*;

/// A stateless tools/call; the JSON-RPC result.
async fn call(client: &reqwest::Client, url: &str, token: &str, tool: &str, args: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let line = text
        .lines()
        .rev()
        .find_map(|l| Some(l.strip_prefix("data: ").unwrap_or(l)).filter(|l| l.starts_with('{')))
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text:?}"));
    let message: Value = serde_json::from_str(line).unwrap();
    message.get("result").cloned().unwrap_or(message)
}

fn copy_plugins(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for p in [NOTES_CREATE, NOTES_LIST] {
        std::fs::copy(p, dir.join(Path::new(p).file_name().unwrap())).unwrap();
    }
}

/// The string form of attribute `key` of `span`.
fn attribute(span: &SpanData, key: &'static str) -> Option<String> {
    let key = Key::from_static_str(key);
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| match &kv.value {
            OtelValue::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

fn token(host: &Host, url: &str, subject: &str, roles: &[&str]) -> String {
    host.dev_issuer()
        .expect("development mode")
        .token(&TokenRequest {
            subject: subject.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scopes: vec![],
            audience: url.to_owned(),
            ttl: Duration::from_secs(600),
        })
        .unwrap()
}

// The default (current-thread) runtime: the host's tasks all run on this
// thread, under the subscriber set for it alone.
#[tokio::test]
async fn the_tool_call_span_is_exported_with_its_fields() {
    let exporter = InMemorySpanExporter::default();
    let (layer, guard) = toolhost::otel::layer_with_exporter(exporter.clone());
    let _scoped = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let dir = tempfile::tempdir().unwrap();
    copy_plugins(&dir.path().join("plugins"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::default();
    config.server.listen = addr;
    config.plugins.dir = dir.path().join("plugins");
    config.plugins.watch = false;
    config.storage.data_dir = dir.path().join("data");
    config.dev.enabled = true;
    let host = Arc::new(Host::start(config).await.unwrap());
    let url = format!("http://{addr}/mcp");
    let alice = token(&host, &url, "alice", &["member"]);
    let bob = token(&host, &url, "bob", &[]);
    let serving = {
        let host = host.clone();
        tokio::spawn(async move { host.serve(listener).await })
    };

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let created = call(
        &client,
        &url,
        &alice,
        "notes_create",
        json!({"title": "t", "body": "b"}),
    )
    .await;
    assert_eq!(created["isError"], false, "{created}");
    let denied = call(
        &client,
        &url,
        &bob,
        "notes_create",
        json!({"title": "t", "body": "b"}),
    )
    .await;
    assert_eq!(denied["isError"], true, "{denied}");
    let unknown = call(&client, &url, &alice, "no_such_tool", json!({})).await;
    assert!(unknown.get("error").is_some(), "{unknown}");

    // The spans end before the answers leave; flush, and look (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let calls = loop {
        guard.force_flush().unwrap();
        let calls: Vec<SpanData> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.name == "tool_call")
            .collect();
        if calls.len() >= 3 || Instant::now() > deadline {
            break calls;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    host.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let field = |span: &SpanData, key| attribute(span, key).unwrap_or_default();

    // The content hash of the file, of which the span carries the short form.
    let hash = hex::encode(sha2::Sha256::digest(std::fs::read(NOTES_CREATE).unwrap()));
    let ok = &calls[0];
    assert_eq!(field(ok, "tool"), "notes_create", "{ok:#?}");
    assert_eq!(field(ok, "subject"), "alice", "{ok:#?}");
    assert_eq!(field(ok, "decision"), "allowed", "{ok:#?}");
    assert_eq!(field(ok, "outcome"), "ok", "{ok:#?}");
    let version = field(ok, "version");
    assert_eq!(version.len(), 12, "{ok:#?}");
    assert!(
        version.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{version}"
    );
    assert_eq!(
        version,
        hash[..12],
        "the version is the file's content hash"
    );
    assert!(
        field(ok, "duration_us").parse::<u64>().unwrap() > 0,
        "{ok:#?}"
    );
    assert!(!field(ok, "request_id").is_empty(), "{ok:#?}");
    assert_eq!(ok.status, opentelemetry::trace::Status::Ok, "{ok:#?}");

    let no = &calls[1];
    assert_eq!(field(no, "tool"), "notes_create", "{no:#?}");
    assert_eq!(field(no, "subject"), "bob", "{no:#?}");
    assert_eq!(field(no, "decision"), "denied", "{no:#?}");
    assert_eq!(field(no, "outcome"), "denied", "{no:#?}");
    assert_eq!(field(no, "version"), version, "{no:#?}");
    assert_ne!(field(no, "request_id"), field(ok, "request_id"));
    assert!(
        matches!(no.status, opentelemetry::trace::Status::Error { .. }),
        "a denied call's span is an error: {no:#?}"
    );

    let unknown = &calls[2];
    assert_eq!(field(unknown, "tool"), "no_such_tool", "{unknown:#?}");
    assert_eq!(field(unknown, "decision"), "rejected", "{unknown:#?}");
    assert_eq!(field(unknown, "outcome"), "unknown_tool", "{unknown:#?}");
    assert_eq!(attribute(unknown, "version"), None, "{unknown:#?}");
    assert!(matches!(
        unknown.status,
        opentelemetry::trace::Status::Error { .. }
    ));

    // Each call is a trace of its own.
    let traces: std::collections::HashSet<_> =
        calls.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(traces.len(), 3);
    guard.shutdown().unwrap();
}

#[test]
fn the_resource_names_the_service() {
    let resource = toolhost::otel::resource();
    let name = resource
        .get(&Key::from_static_str("service.name"))
        .map(|v| v.to_string());
    // As the environment says, if it does; else toolhost.
    let expected = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| toolhost::otel::SERVICE_NAME.to_owned());
    if std::env::var_os("OTEL_RESOURCE_ATTRIBUTES").is_none() {
        assert_eq!(name.as_deref(), Some(expected.as_str()));
        assert_eq!(
            resource
                .get(&Key::from_static_str("service.version"))
                .map(|v| v.to_string())
                .as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
}

/// The content type and body of each request a stand-in collector received.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A stand-in collector: the OTLP/HTTP requests to /v1/traces.
async fn collector() -> (String, Received) {
    let received = Received::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let kind = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    store.lock().unwrap().push((kind, body.to_vec()));
                    // An empty ExportTraceServiceResponse.
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_its_spans_to_the_otlp_endpoint_and_flushes_them_at_exit() {
    use std::process::{Command, Stdio};
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    copy_plugins(&dir.path().join("plugins"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--plugins")
        .arg(dir.path().join("plugins"))
        .arg("--data")
        .arg(dir.path().join("data"))
        // A trailing slash, as operators write it: still /v1/traces.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{endpoint}/"))
        .env("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret")
        .env("OTEL_SERVICE_NAME", "toolhost-e2e")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("TOOLHOST_LOG")
        .env_remove("TOOLHOST_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let mut running = Running(child);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let healthy = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if healthy {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "toolhost did not become healthy: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(["token", "--subject", "alice", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let listed = call(&client, &url, &token, "notes_list", json!({})).await;
    assert_eq!(listed["isError"], false, "{listed}");

    // SIGTERM: the batch (sent every 5 s otherwise) goes out before exit.
    let stopped = Command::new("kill").arg(pid.to_string()).status().unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "toolhost did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {stderr}");

    let received = received.lock().unwrap().clone();
    assert!(!received.is_empty(), "nothing exported; stderr:\n{stderr}");
    assert!(
        received
            .iter()
            .all(|(kind, _)| kind == "application/x-protobuf"),
        "{:?}",
        received.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    let bodies: Vec<u8> = received.into_iter().flat_map(|(_, b)| b).collect();
    for needle in [
        &b"tool_call"[..],
        b"notes_list",
        b"alice",
        b"allowed",
        // service.name = toolhost-e2e, as OTLP protobuf encodes the pair.
        b"service.name\x12\x0e\x0a\x0ctoolhost-e2e",
    ] {
        assert!(
            contains(&bodies, needle),
            "no {:?} in the export",
            String::from_utf8_lossy(needle)
        );
    }
    // Where the spans go is logged once, without the headers.
    assert_eq!(
        stderr.matches("exporting spans over OTLP").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{endpoint}/v1/traces")),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
