//! Outbound HTTP from a Rust tool to a loopback API, through the call
//! pipeline and the host's checks, against the same request made natively
//! with reqwest; and caller-token minting, cold and cached.
//!
//! "Added per request" is measured inside one call: a call that makes 11
//! requests minus a call that makes 1, over 10, so the instance's own cost
//! (the same for both) drops out.

use super::{Stats, record, report_row};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use toolhost::config::{ApiAuth, Config};
use toolhost::dispatch::{CallOptions, Dispatcher};
use toolhost::outbound::Outbound;
use toolhost::outbound::credential::CallerTokens;
use toolhost::policy::Policy;
use toolhost::registry::Registry;
use toolhost::{Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

async fn api() -> anyhow::Result<String> {
    let app = axum::Router::new().route("/api/ping", axum::routing::get(|| async { "pong" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn dispatcher(url: &str, auth: ApiAuth, data: &Path) -> anyhow::Result<Arc<Dispatcher>> {
    let mut config = Config::default();
    let mut api = toolhost_tests::app::caller_api(format!("{url}/api/"));
    if auth != ApiAuth::Caller {
        (api.auth, api.audience) = (auth, None);
    }
    config.apis.insert("app".into(), api);
    toolhost_tests::app::grant(&mut config, "outbound_probe", &["app"]);
    config.limits.http_requests = 64;
    config.rate_limit = toolhost::config::RateLimit::OFF;
    let settings = config.resolve()?;
    let runtime = Runtime::new(RuntimeConfig::default(), Store::in_memory())?;
    let probe = runtime.load_file(Path::new(plugins::OUTBOUND_PROBE))?;
    let registry = Registry::new();
    registry.publish(BTreeMap::from([("outbound_probe".to_owned(), probe)]).into());
    let (outbound, _) = Outbound::open(
        &settings.outbound,
        Some(data),
        &settings.public_url,
        None,
        toolhost::clock::system(),
    )
    .map_err(anyhow::Error::msg)?;
    let clock = toolhost::clock::system();
    Ok(Arc::new(
        Dispatcher::new(
            registry,
            Arc::new(Policy::new(settings.policy, clock.clone())),
            runtime.store().clone(),
            None,
            false,
            clock,
        )
        .with_outbound(outbound),
    ))
}

async fn probe(d: &Dispatcher, who: &Principal, repeat: u32) -> Duration {
    let args = json!({"url": "api:app/ping", "repeat": repeat});
    let t = Instant::now();
    let out = d
        .call(who, "outbound_probe", args, CallOptions::default())
        .await
        .expect("the probe's requests succeed");
    assert_eq!(out.structured.as_ref().unwrap()["status"], 200);
    t.elapsed()
}

/// Calls per second at concurrency `c` for `secs`, each call one request.
async fn through_host(d: Arc<Dispatcher>, c: usize, secs: u64) -> f64 {
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..c)
        .map(|i| {
            let d = d.clone();
            tokio::spawn(async move {
                let who = Principal::new(format!("user-{i}"), ["member"]);
                let mut n = 0u64;
                while Instant::now() < until {
                    probe(&d, &who, 1).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs as f64
}

async fn native(client: reqwest::Client, url: String, c: usize, secs: u64) -> f64 {
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..c)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    let r = client.get(&url).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs as f64
}

fn row(what: &str, value: f64, unit: &str) {
    println!("| {what} | {value:.1} {unit} |");
    record(json!({"what": what, "value": value, "unit": unit}));
}

/// The section: per-request figures, throughput at c=16, token minting.
pub async fn outbound(n: usize) -> anyhow::Result<()> {
    let url = api().await?;
    let data = tempfile::tempdir()?;
    let client = reqwest::Client::new();
    let ping = format!("{url}/api/ping");
    println!("| what | n | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client.get(&ping).send().await?.bytes().await?;
        samples.push(t.elapsed());
    }
    let native_p50 = Stats::of(samples.clone()).p50;
    report_row(
        "GET natively with reqwest (the host's own client)",
        &Stats::of(samples),
    );
    let mut added: Vec<(ApiAuth, Duration)> = Vec::new();
    for auth in [ApiAuth::None, ApiAuth::Caller] {
        let d = dispatcher(&url, auth, data.path()).await?;
        let who = Principal::new("alice", ["member"]);
        for _ in 0..20 {
            probe(&d, &who, 1).await;
        }
        let (mut one, mut eleven) = (Vec::with_capacity(n), Vec::with_capacity(n / 4));
        for i in 0..n {
            one.push(probe(&d, &who, 1).await);
            if i % 4 == 0 {
                eleven.push(probe(&d, &who, 11).await);
            }
        }
        let (one, eleven) = (Stats::of(one), Stats::of(eleven));
        let label = match auth {
            ApiAuth::Caller => "auth = caller",
            _ => "auth = none",
        };
        report_row(&format!("tool call making 1 request ({label})"), &one);
        report_row(&format!("tool call making 11 requests ({label})"), &eleven);
        added.push((auth, (eleven.p50.saturating_sub(one.p50)) / 10));
    }
    println!("\n| what | figure |");
    println!("|---|---|");
    for (auth, per) in &added {
        let label = if *auth == ApiAuth::Caller {
            "caller"
        } else {
            "none"
        };
        row(
            &format!("one request from a tool, p50 (auth = {label})"),
            per.as_secs_f64() * 1e6,
            "µs",
        );
        row(
            &format!("added over a native request, p50 (auth = {label})"),
            (per.as_secs_f64() - native_p50.as_secs_f64()) * 1e6,
            "µs",
        );
    }
    let d = dispatcher(&url, ApiAuth::Caller, data.path()).await?;
    row(
        "c=16: tool calls each making 1 request (auth = caller)",
        through_host(d, 16, 5).await,
        "calls/s",
    );
    row(
        "c=16: the same request natively with reqwest",
        native(client, ping, 16, 5).await,
        "requests/s",
    );

    // Minting: distinct callers (cold), then one caller again (cached).
    let key = Arc::new(toolhost::signing::SigningKey::open(
        &data.path().join("mint.p8"),
    )?);
    let tokens = CallerTokens::new(key, "https://mcp.test".into(), toolhost::clock::system());
    let mut cold = Vec::with_capacity(n);
    for i in 0..n {
        let who = Principal::new(format!("user-{i}"), ["member"]);
        let t = Instant::now();
        tokens
            .token(&who, "projects_list", "https://app.test")
            .map_err(anyhow::Error::msg)?;
        cold.push(t.elapsed());
    }
    let alice = Principal::new("alice", ["member"]);
    tokens
        .token(&alice, "projects_list", "https://app.test")
        .map_err(anyhow::Error::msg)?;
    let mut cached = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        tokens
            .token(&alice, "projects_list", "https://app.test")
            .map_err(anyhow::Error::msg)?;
        cached.push(t.elapsed());
    }
    println!("\n| what | n | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|");
    report_row("caller token, minted (a new caller)", &Stats::of(cold));
    report_row(
        "caller token, cached (the same caller, tool and API)",
        &Stats::of(cached),
    );
    Ok(())
}
