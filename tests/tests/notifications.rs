//! What a 0.2 tool tells its client while it runs: progress reports (only
//! when asked for, growing, at most 100 per call) and log messages (at the
//! level the client asked for, at most 100 per call), all before the
//! result, over a 2025-11-25 session and a stateless 2026-07-28 request.
#![allow(deprecated)] // MCP logging, deprecated in 2026-07-28, is what is tested.

use rmcp::model::{
    CallToolRequestParams, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam, SetLevelRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use toolhost_tests::{TestServer, plugins};

/// What the client heard, in order.
#[derive(Clone, Default)]
struct Heard {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
}

impl ClientHandler for Heard {
    async fn on_progress(
        &self,
        p: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(p);
    }

    async fn on_logging_message(
        &self,
        m: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(m);
    }
}

impl Heard {
    fn take(
        &self,
    ) -> (
        Vec<ProgressNotificationParam>,
        Vec<LoggingMessageNotificationParam>,
    ) {
        (
            std::mem::take(&mut self.progress.lock().unwrap()),
            std::mem::take(&mut self.logs.lock().unwrap()),
        )
    }

    /// Wait (bounded) until `progress` reports and `logs` log messages
    /// arrived: the client hands notifications to its handler concurrently,
    /// some after the result.
    async fn settle(&self, progress: usize, logs: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while (self.progress.lock().unwrap().len() < progress
            || self.logs.lock().unwrap().len() < logs)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Anything beyond the expected counts would arrive as quickly.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn steps(n: u32, repeat: bool) -> CallToolRequestParams {
    CallToolRequestParams::new("multi_progress").with_arguments(
        json!({"steps": n, "repeat": repeat})
            .as_object()
            .cloned()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_client_hears_capped_progress_and_logs_at_its_level() {
    let server = TestServer::start(&[plugins::MULTI_TOOLS], |_| {}).await;
    let heard = Heard::default();
    let client = heard.clone().serve(server.transport()).await.unwrap();
    let logging = client.peer_info().unwrap().capabilities.logging.is_some();
    assert!(logging, "logging advertised");

    // rmcp's client asks for progress on every request.
    let result = client.call_tool(steps(250, false)).await.unwrap();
    assert_eq!(result.structured_content.unwrap()["steps"], 250);
    heard.settle(100, 2).await;
    let (mut progress, mut logs) = heard.take();
    // rmcp's client hands notifications to its handler concurrently: the
    // order on the wire is checked by the stateless test below.
    progress.sort_by(|a, b| a.progress.total_cmp(&b.progress));
    let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    let first_100: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(values, first_100, "the first 100 reports, then the cap");
    assert_eq!(progress[0].total, Some(250.0));
    assert_eq!(progress[0].message.as_deref(), Some("step 1"));
    // The default level is info: debug stays home.
    logs.sort_by_key(|l| l.level as u8);
    let levels: Vec<LoggingLevel> = logs.iter().map(|l| l.level).collect();
    assert_eq!(levels, [LoggingLevel::Info, LoggingLevel::Warning]);
    assert_eq!(logs[0].data, json!({"steps": 250}));

    // Reports that do not grow are dropped.
    client.call_tool(steps(5, true)).await.unwrap();
    heard.settle(5, 2).await;
    let (mut progress, _) = heard.take();
    progress.sort_by(|a, b| a.progress.total_cmp(&b.progress));
    let values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0]);

    // logging/setLevel applies to the session's later calls.
    client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .unwrap();
    client.call_tool(steps(1, false)).await.unwrap();
    heard.settle(1, 1).await;
    let (_, logs) = heard.take();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].data, json!("a warning"));
    client.cancel().await.unwrap();
}

/// A stateless request's answer, every JSON message of its event stream.
async fn post_stateless(server: &TestServer, meta: Value) -> Vec<Value> {
    let mut meta = meta;
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "multi_progress", "arguments": {"steps": 3}, "_meta": meta}
    });
    let text = server
        .stateless_request("alice", body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data: ").or(Some(l)))
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_request_hears_progress_only_with_a_token_and_before_its_result() {
    let server = TestServer::start(&[plugins::MULTI_TOOLS], |_| {}).await;
    let messages = post_stateless(
        &server,
        json!({"progressToken": "p-1", "io.modelcontextprotocol/logLevel": "warning"}),
    )
    .await;
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("(result)"))
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/progress",
            "notifications/progress",
            "notifications/progress",
            "notifications/message",
            "(result)"
        ],
        "{messages:?}"
    );
    assert_eq!(messages[0]["params"]["progressToken"], "p-1");
    assert_eq!(messages[3]["params"]["level"], "warning");
    assert_eq!(messages[4]["id"], 7);

    // No token: no progress; the request's log level still applies.
    let messages = post_stateless(
        &server,
        json!({"io.modelcontextprotocol/logLevel": "debug"}),
    )
    .await;
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("(result)"))
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/message",
            "notifications/message",
            "notifications/message",
            "(result)"
        ],
        "{messages:?}"
    );
}
