//! Over Streamable HTTP: tools/call latency, and hot-reload time to
//! tools/list_changed.

use super::{Stats, fmt, record, report_row};
use rmcp::model::CallToolRequestParams;
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use toolhost_tests::native::NativeNotesList;
use toolhost_tests::{TestServer, plugins};

#[derive(Clone)]
struct Notified(mpsc::UnboundedSender<Instant>);

impl ClientHandler for Notified {
    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        let _ = self.0.send(Instant::now());
    }
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// `rounds` × `per_client` calls of `tool` from every client at once;
/// the latencies and the wall time.
async fn load(
    clients: &[Arc<Client>],
    tool: &'static str,
    per_client: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .map(|client| {
            let client = client.clone();
            tokio::spawn(async move {
                let args = serde_json::json!({"limit": 20})
                    .as_object()
                    .cloned()
                    .unwrap();
                let mut samples = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    let r = client
                        .call_tool(CallToolRequestParams::new(tool).with_arguments(args.clone()))
                        .await?;
                    samples.push(t.elapsed());
                    anyhow::ensure!(r.is_error != Some(true), "{tool} failed: {:?}", r.content);
                    anyhow::ensure!(
                        r.structured_content.as_ref().map(|s| s["count"].clone())
                            == Some(serde_json::json!(20)),
                        "{tool} listed the wrong notes"
                    );
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    Ok((samples, started.elapsed()))
}

/// tools/call of notes_list (limit 20 of 100 notes) as the WASM plugin and
/// as a native tool in the same host, at concurrency 1, 16 and 64: session
/// clients on their own connections, JWT verified on every request.
pub async fn throughput() -> anyhow::Result<()> {
    // BENCH_KEEP_RESIDENT, BENCH_PAGEMAP and BENCH_AUDIT (0/1) try other settings.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_LIST], |c| {
        // Every client is the one user whose 100 notes are listed, with a
        // session each (up to 64 WASM and 64 native at once), over the
        // default per-caller cap of 32.
        c.server.max_sessions_per_caller = 256;
        if let Some(bytes) = env("BENCH_KEEP_RESIDENT") {
            c.runtime.keep_resident_bytes = bytes;
        }
        if let Some(on) = env("BENCH_PAGEMAP") {
            c.runtime.pagemap_scan = on == 1;
        }
        if let Some(on) = env("BENCH_AUDIT") {
            c.audit.enabled = on == 1;
        }
    })
    .await;
    let plugin = server
        .host
        .registry()
        .get("notes_list")
        .expect("notes_list loaded");
    server
        .host
        .add_native_tool(NativeNotesList::like(&plugin, "native_notes_list"));
    let seeder = ().serve(server.transport_as("bench", &["member"])).await?;
    for i in 0..100 {
        let args = serde_json::json!({"title": format!("note {i}"), "body": "seed"});
        seeder
            .call_tool(
                CallToolRequestParams::new("notes_create")
                    .with_arguments(args.as_object().cloned().unwrap()),
            )
            .await?;
    }
    seeder.cancel().await?;
    println!(
        "| concurrency | WASM calls/s | native calls/s | WASM/native throughput | WASM p50 | native p50 | added p50 | WASM p99 | native p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for concurrency in [1usize, 16, 64] {
        let mut clients = Vec::new();
        for _ in 0..concurrency {
            clients.push(Arc::new(
                ().serve(server.transport_as("bench", &["member"])).await?,
            ));
        }
        // Warm up connections, instances and caches.
        for tool in ["notes_list", "native_notes_list"] {
            load(&clients, tool, 20).await?;
        }
        // Interleave four rounds of each, so drift hits both alike.
        let per_client = (6_000 / concurrency).max(64);
        let (mut wasm, mut native) = ((Vec::new(), Duration::ZERO), (Vec::new(), Duration::ZERO));
        for _ in 0..4 {
            for (tool, into) in [
                ("notes_list", &mut wasm),
                ("native_notes_list", &mut native),
            ] {
                let (samples, wall) = load(&clients, tool, per_client / 4).await?;
                into.0.extend(samples);
                into.1 += wall;
            }
        }
        let rate =
            |(samples, wall): &(Vec<Duration>, Duration)| samples.len() as f64 / wall.as_secs_f64();
        let (wasm_rate, native_rate) = (rate(&wasm), rate(&native));
        let (w, n) = (Stats::of(wasm.0), Stats::of(native.0));
        println!(
            "| {concurrency} | {wasm_rate:.0} | {native_rate:.0} | {:.2} | {} | {} | +{} | {} | {} |",
            wasm_rate / native_rate,
            fmt(w.p50),
            fmt(n.p50),
            fmt(w.p50.saturating_sub(n.p50)),
            fmt(w.p99),
            fmt(n.p99),
        );
        record(serde_json::json!({
            "concurrency": concurrency,
            "wasm": {"calls_per_s": wasm_rate.round(), "latency": w.json()},
            "native": {"calls_per_s": native_rate.round(), "latency": n.json()},
            "throughput_ratio": (wasm_rate / native_rate * 100.0).round() / 100.0,
            "added_p50_us": super::us(w.p50.saturating_sub(n.p50)),
        }));
        for client in clients {
            if let Ok(client) = Arc::try_unwrap(client) {
                client.cancel().await?;
            }
        }
    }
    Ok(())
}

/// Replace a plugin file `swaps` times; time from the rename to the
/// session client's tools/list_changed.
pub async fn reload_latency(swaps: usize) -> anyhow::Result<()> {
    swap_times(
        "Rust",
        plugins::SWAP_V1,
        plugins::SWAP_V2,
        "swap_probe",
        swaps,
    )
    .await
}

/// The same for the JavaScript and Python tools; their second version is
/// the same component with a custom section appended (a new hash).
pub async fn reload_polyglot(swaps: usize) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    for (language, path, tool) in [
        ("JavaScript", plugins::NOTES_SEARCH, "notes_search"),
        ("Python", plugins::NOTES_EXPORT, "notes_export"),
    ] {
        let v2 = scratch.path().join(format!("{tool}.wasm"));
        std::fs::write(
            &v2,
            toolhost_tests::with_custom_section(&std::fs::read(path)?, "v2"),
        )?;
        let v2 = v2.to_str().unwrap_or_default().to_owned();
        swap_times(language, path, &v2, tool, swaps).await?;
    }
    Ok(())
}

/// Replace `tool`'s file `swaps` times, alternating `v1` and `v2`; time from
/// the rename to the new version serving (the registry answers with it) and
/// to the session client's tools/list_changed.
pub async fn swap_times(
    language: &str,
    v1: &str,
    v2: &str,
    tool: &str,
    swaps: usize,
) -> anyhow::Result<()> {
    let server = TestServer::start(&[v1], |_| {}).await;
    let name = std::path::Path::new(v1)
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("no file name"))?
        .to_owned();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Notified(tx).serve(server.transport()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let version = || {
        server
            .host
            .registry()
            .get(tool)
            .map(|p| p.content_hash().to_owned())
    };
    anyhow::ensure!(version().is_some(), "{tool} is not served");
    let (mut serving, mut notified) = (Vec::new(), Vec::new());
    // Two unmeasured swaps compile both versions into the artifact cache:
    // what is measured is a reload, not a first compile.
    for i in 0..swaps + 2 {
        let src = if i % 2 == 0 { v2 } else { v1 };
        let before = version();
        let started = Instant::now();
        server.install_plugin(src, &name);
        // Bounded: 60 s (a first JavaScript or Python compile takes seconds).
        while version() == before && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        anyhow::ensure!(version() != before, "{tool}: the new version never served");
        let served = started.elapsed();
        let at = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("client gone"))?;
        if i >= 2 {
            serving.push(served);
            notified.push(at - started);
        }
        // Let the file age past the settle time before the next swap.
        tokio::time::sleep(Duration::from_millis(150)).await;
        while rx.try_recv().is_ok() {}
    }
    report_row(
        &format!("{language} plugin replaced → new version serving"),
        &Stats::of(serving),
    );
    report_row(
        &format!("{language} plugin replaced → tools/list_changed received"),
        &Stats::of(notified),
    );
    client.cancel().await?;
    Ok(())
}
