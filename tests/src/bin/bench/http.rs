//! Over Streamable HTTP: tools/call latency, and hot-reload time to
//! tools/list_changed.

use super::{Stats, report_row};
use rmcp::model::CallToolRequestParams;
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use toolhost_tests::{TestServer, plugins};

#[derive(Clone)]
struct Notified(mpsc::UnboundedSender<Instant>);

impl ClientHandler for Notified {
    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.0.send(Instant::now());
    }
}

/// tools/call of notes_list (limit 20, 100 notes stored) from one client.
pub async fn call_latency(calls: usize) -> anyhow::Result<()> {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |_| {}).await;
    let client = ().serve(server.transport()).await?;
    for i in 0..100 {
        let args = serde_json::json!({"title": format!("note {i}"), "body": "seed"});
        client
            .call_tool(
                CallToolRequestParams::new("notes_create")
                    .with_arguments(args.as_object().cloned().unwrap()),
            )
            .await?;
    }
    let args = serde_json::json!({"limit": 20})
        .as_object()
        .cloned()
        .unwrap();
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + 100 {
        let t = Instant::now();
        let r = client
            .call_tool(CallToolRequestParams::new("notes_list").with_arguments(args.clone()))
            .await?;
        anyhow::ensure!(
            r.is_error != Some(true),
            "notes_list failed: {:?}",
            r.content
        );
        if i >= 100 {
            samples.push(t.elapsed());
        }
    }
    report_row(
        "notes_list over HTTP, 1 client (session)",
        &Stats::of(samples),
    );
    client.cancel().await?;
    Ok(())
}

/// Replace a plugin file `swaps` times; time from the rename to the
/// session client's tools/list_changed.
pub async fn reload_latency(swaps: usize) -> anyhow::Result<()> {
    let server = TestServer::start(&[plugins::SWAP_V1], |_| {}).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Notified(tx).serve(server.transport()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut samples = Vec::with_capacity(swaps);
    for i in 0..swaps {
        let src = if i % 2 == 0 {
            plugins::SWAP_V2
        } else {
            plugins::SWAP_V1
        };
        let name = std::path::Path::new(plugins::SWAP_V1)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let started = Instant::now();
        server.install_plugin(src, name);
        let notified = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("client gone"))?;
        samples.push(notified - started);
        // Let the file age past the settle time before the next swap.
        tokio::time::sleep(Duration::from_millis(150)).await;
        while rx.try_recv().is_ok() {}
    }
    report_row(
        "plugin replaced → tools/list_changed received",
        &Stats::of(samples),
    );
    client.cancel().await?;
    Ok(())
}
