//! Memory of a host process alone (no benchmark clients in it): the bench
//! re-runs itself as `bench serve-probe ROOT PORT`, a process that only
//! starts a host with 10 plugins and serves; the parent reads its resident
//! set idle, with the plugins loaded, and at peak under 64 clients.

use super::startup::TEN;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use toolhost::auth::dev::{DevIssuer, TokenRequest};
use toolhost::{Config, Host};

/// The child: print the idle RSS, start a host, say READY, serve. In
/// development mode, or with `clerk` against the Clerk its environment names.
pub async fn serve_probe(root: &Path, port: u16, clerk: bool) -> anyhow::Result<()> {
    println!("IDLE {}", super::rss().0);
    let mut config = Config::load(None)?;
    config.plugins.dir = root.join("plugins");
    config.storage.data_dir = root.join("data");
    config.storage.sync = toolhost::storage::SyncMode::Normal;
    config.server.listen = ([127, 0, 0, 1], port).into();
    config.dev.enabled = !clerk;
    config.rate_limit = toolhost::config::RateLimit::OFF;
    let host = Host::start(config).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("READY");
    host.serve(listener).await?;
    Ok(())
}

fn status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Probe {
    child: Child,
    idle: u64,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(root: &Path, port: u16) -> anyhow::Result<Probe> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "serve-probe",
            &root.display().to_string(),
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut idle = 0;
    // Bounded: the child prints a few lines, READY last, then serves.
    for line in lines.by_ref().take(10) {
        let line = line?;
        if let Some(bytes) = line.strip_prefix("IDLE ") {
            idle = bytes.parse()?;
        }
        if line == "READY" {
            return Ok(Probe { child, idle });
        }
    }
    anyhow::bail!("the host process did not start")
}

/// (idle, loaded, peak under 64 clients) RSS of a host process, in bytes.
pub async fn host_process(calls_per_client: usize) -> anyhow::Result<(u64, u64, u64)> {
    let root = tempfile::tempdir()?;
    std::fs::create_dir(root.path().join("plugins"))?;
    for p in TEN {
        let p = Path::new(p);
        std::fs::copy(p, root.path().join("plugins").join(p.file_name().unwrap()))?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // The first start fills the artifact cache; measure a warm one.
    drop(spawn(root.path(), port)?);
    let probe = spawn(root.path(), port)?;
    let pid = probe.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = status(pid, "VmRSS:");
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let issuer = DevIssuer::open(&root.path().join("data"))?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut tasks = Vec::new();
    for i in 0..64 {
        let token = issuer.token(&TokenRequest {
            subject: format!("user-{i}"),
            roles: vec!["member".into()],
            scopes: vec![],
            audience: url.clone(),
            ttl: Duration::from_secs(600),
        })?;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(token),
        );
        tasks.push(tokio::spawn(async move {
            let client = ().serve(transport).await?;
            for n in 0..calls_per_client {
                let tool = if n % 4 == 0 {
                    "notes_create"
                } else {
                    "notes_list"
                };
                let args = serde_json::json!({"title": "t", "body": "b"});
                let args = if tool == "notes_create" {
                    args
                } else {
                    serde_json::json!({})
                };
                let r = client
                    .call_tool(
                        CallToolRequestParams::new(tool)
                            .with_arguments(args.as_object().cloned().unwrap()),
                    )
                    .await?;
                anyhow::ensure!(r.is_error != Some(true), "{tool}: {:?}", r.content);
            }
            client.cancel().await?;
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let peak = status(pid, "VmHWM:");
    Ok((probe.idle, loaded, peak))
}
