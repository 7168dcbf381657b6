//! Prints what the sandbox costs: plugin load (compile vs cached artifact),
//! per-call time in process (fresh instance + call + drop), tools/call over
//! Streamable HTTP, and hot-reload time to tools/list_changed.
//!
//! Run with `cargo run --release -p toolhost-tests --bin bench`.

mod auth;
mod http;
mod inprocess;

use std::time::Duration;

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
}

fn table_header(title: &str) {
    println!("\n## {title}\n");
    println!("| what | n | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    inprocess::load_times()?;
    table_header("In process: fresh instance + call + drop");
    inprocess::call_costs(5_000)?;
    table_header("Over Streamable HTTP (loopback, TCP_NODELAY)");
    http::call_latency(2_000).await?;
    http::reload_latency(20).await?;
    table_header("Authentication");
    auth::verification(2_000).await?;
    Ok(())
}
