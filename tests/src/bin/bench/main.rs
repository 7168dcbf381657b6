//! What the sandbox costs, side by side with native Rust, in one run:
//! in-process calls (WASM plugin vs the same logic compiled into the host),
//! tools/call over Streamable HTTP at concurrency 1, 16 and 64 (WASM vs a
//! native tool served by the same host), the tool store on PostgreSQL vs
//! SQLite, hot reload, start-up with 10
//! plugins, memory, token verification, outbound HTTP from a tool, and a
//! component's resources, prompts and progress reports. Prints markdown tables, then
//! every figure again as JSON.
//!
//! Run with `cargo run --release -p toolhost-tests --bin bench`.

mod auth;
mod flood;
mod http;
mod inprocess;
mod memory;
mod outbound;
mod served;
mod startup;
mod storage;

use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;

/// Every figure printed, for the JSON at the end.
static REPORT: Mutex<Vec<Value>> = Mutex::new(Vec::new());
static TABLE: Mutex<String> = Mutex::new(String::new());

/// Record a figure under the current table.
pub fn record(mut figure: Value) {
    figure["table"] = json!(TABLE.lock().unwrap().clone());
    REPORT.lock().unwrap().push(figure);
}

/// Percentiles of one measurement.
pub struct Stats {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    n: usize,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
        Stats {
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            n: samples.len(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "p50_us": us(self.p50),
            "p95_us": us(self.p95),
            "p99_us": us(self.p99),
        })
    }
}

fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn report_row(what: &str, s: &Stats) {
    println!(
        "| {what} | {} | {} | {} | {} |",
        s.n,
        fmt(s.p50),
        fmt(s.p95),
        fmt(s.p99)
    );
    let mut figure = s.json();
    figure["what"] = json!(what);
    record(figure);
}

fn title(title: &str) {
    *TABLE.lock().unwrap() = title.to_owned();
    println!("\n## {title}\n");
}

fn table_header(name: &str) {
    title(name);
    println!("| what | n | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|");
}

/// Resident memory of this process now, and its peak, in bytes (Linux).
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    println!(
        "toolhost bench, {} CPUs, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    // `bench http` runs only that section (for profiling).
    let only: Vec<String> = std::env::args().skip(1).collect();
    if only.first().map(String::as_str) == Some("serve-probe") {
        let port = only.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        let clerk = only.get(3).is_some_and(|m| m == "clerk");
        return memory::serve_probe(std::path::Path::new(&only[1]), port, clerk).await;
    }
    if only.first().map(String::as_str) == Some("flood") {
        title("Memory of a host process under floods (Clerk stand-in, audit on)");
        let binary = (only.get(1).map(String::as_str) == Some("--toolhost"))
            .then(|| only.get(2).map(std::path::PathBuf::from))
            .flatten();
        return flood::floods(binary).await;
    }
    if only.iter().any(|a| a == "memory") {
        let figures = memory::host_process(40).await?;
        println!("{figures:?}");
        return Ok(());
    }
    if only.iter().any(|a| a == "outbound") {
        title("Outbound HTTP from a Rust tool to a loopback API vs reqwest natively");
        return outbound::outbound(2_000).await;
    }
    if only.iter().any(|a| a == "storage") {
        title("Tool store: PostgreSQL vs SQLite, in process");
        return storage::postgres_vs_sqlite(2_000);
    }
    if only.iter().any(|a| a == "served") {
        served::served(2_000)?;
        return Ok(());
    }
    if only.iter().any(|a| a == "http") {
        title("Over Streamable HTTP: tools/call, WASM vs native tool in the same host");
        http::throughput().await?;
        return Ok(());
    }
    inprocess::load_times()?;
    title("In process: WASM plugin vs native Rust, per call");
    inprocess::call_costs(5_000)?;
    inprocess::languages(500)?;
    title("Tool store: PostgreSQL vs SQLite, in process");
    storage::postgres_vs_sqlite(2_000)?;
    served::served(2_000)?;
    title("Start-up with 10 plugins (Host::start until ready)");
    startup::start_up(5).await?;
    title("Over Streamable HTTP: tools/call, WASM vs native tool in the same host");
    http::throughput().await?;
    table_header("Hot reload");
    http::reload_latency(20).await?;
    http::reload_polyglot(20).await?;
    title("Memory of a host process (10 plugins, warm artifact cache)");
    let (idle, loaded, peak) = memory::host_process(40).await?;
    println!("| state | RSS |");
    println!("|---|---|");
    for (what, bytes) in [
        ("process up, before the host starts", idle),
        ("host ready, 10 plugins loaded, idle", loaded),
        ("peak under 64 clients (notes_list and notes_create)", peak),
    ] {
        println!("| {what} | {} |", mib(bytes));
        record(json!({"what": what, "rss_bytes": bytes}));
    }
    title("Memory of a host process under floods (Clerk stand-in, audit on)");
    flood::floods(None).await?;
    table_header("Authentication");
    auth::verification(2_000).await?;
    title("Outbound HTTP from a Rust tool to a loopback API vs reqwest natively");
    outbound::outbound(2_000).await?;
    println!("\nTotal run time: {:.0} s", started.elapsed().as_secs_f64());
    println!("\n## JSON\n\n```json");
    println!(
        "{}",
        serde_json::to_string_pretty(&*REPORT.lock().unwrap())?
    );
    println!("```");
    Ok(())
}
