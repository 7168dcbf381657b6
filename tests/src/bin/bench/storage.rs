//! The tool store on PostgreSQL against SQLite (`synchronous=FULL`): the
//! bundled notes_list (20 notes) and notes_create, in process, at
//! concurrency 1 (latency) and 16 (throughput). PostgreSQL runs in a
//! throwaway cluster on loopback with its default durability (fsync on,
//! `synchronous_commit` on).

use super::inprocess::measure;
use super::{Stats, fmt, record};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use toolhost::secret::Secret;
use toolhost::storage::{PostgresSettings, PostgresStore, SqliteStore, SyncMode};
use toolhost::testing::postgres::PostgresCluster;
use toolhost::{Plugin, Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

/// Threads calling at once for the throughput figures.
const CONCURRENCY: usize = 16;
/// How long each throughput figure runs.
const WINDOW: Duration = Duration::from_secs(3);

/// Calls of `f` per second from [`CONCURRENCY`] threads over [`WINDOW`];
/// `f` gets the thread's index.
fn throughput(f: impl Fn(usize) + Sync) -> f64 {
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for thread in 0..CONCURRENCY {
            let (f, done) = (&f, &done);
            s.spawn(move || {
                while started.elapsed() < WINDOW {
                    f(thread);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

struct Figures {
    list: Stats,
    list_rate: f64,
    create: Stats,
    create_rate: f64,
}

fn run(store: Store, calls: usize) -> anyhow::Result<Figures> {
    let config = RuntimeConfig {
        max_instances: 2 * CONCURRENCY as u32,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, store)?;
    let create: Plugin = runtime.load_file(Path::new(plugins::NOTES_CREATE))?;
    let list: Plugin = runtime.load_file(Path::new(plugins::NOTES_LIST))?;
    let alice = Principal::new("alice", ["member"]);
    for i in 0..20 {
        let args = json!({"title": format!("note {i}"), "body": "seed"});
        create.call(&alice, "seed", &args)?;
    }
    let list_args = json!({"limit": 20});
    let listed = list.call(&alice, "check", &list_args)?;
    let count = listed.structured.as_ref().map(|s| s["count"].clone());
    anyhow::ensure!(
        count == Some(json!(20)),
        "notes_list saw {count:?} notes, not 20"
    );
    let list_once = || {
        list.call(&alice, "bench", &list_args).expect("notes_list");
    };
    let list_stats = measure(calls, list_once);
    let list_rate = throughput(|_| list_once());
    // Writers are other users, so alice's 20 notes stay 20.
    let writers: Vec<Principal> = (0..CONCURRENCY)
        .map(|i| Principal::new(format!("writer-{i}"), ["member"]))
        .collect();
    let note: Value = json!({"title": "bench", "body": "a note written by the benchmark"});
    let create_once = |thread: usize| {
        create
            .call(&writers[thread], "bench", &note)
            .expect("notes_create");
    };
    let create_stats = measure(calls / 5, || create_once(0));
    let create_rate = throughput(create_once);
    Ok(Figures {
        list: list_stats,
        list_rate,
        create: create_stats,
        create_rate,
    })
}

/// The table: each call on SQLite and PostgreSQL, and their ratios.
pub fn postgres_vs_sqlite(calls: usize) -> anyhow::Result<()> {
    let cluster = PostgresCluster::start().map_err(anyhow::Error::msg)?;
    let url = cluster
        .create_database("bench")
        .map_err(anyhow::Error::msg)?;
    let scratch = tempfile::tempdir()?;
    // Plain threads: the PostgreSQL store blocks on a runtime of its own,
    // which may not start inside this program's.
    let (sqlite, postgres) = std::thread::scope(|s| {
        s.spawn(|| -> anyhow::Result<(Figures, Figures)> {
            let sqlite = Store::new(SqliteStore::open_dir(scratch.path(), SyncMode::Full)?);
            let postgres = Store::new(PostgresStore::connect(&PostgresSettings {
                url: Secret::from(url.clone()),
                pool_size: CONCURRENCY,
                statement_timeout: Duration::from_secs(5),
            })?);
            Ok((run(sqlite, calls)?, run(postgres, calls)?))
        })
        .join()
        .expect("the benchmark thread")
    })?;
    println!(
        "| call | store | c=1 p50 | c=1 p99 | c={CONCURRENCY} calls/s | c={CONCURRENCY} vs SQLite |"
    );
    println!("|---|---|---|---|---|---|");
    for (call, pick) in [
        (
            "notes_list (20 notes)",
            (|f: &Figures| (&f.list, f.list_rate)) as fn(&Figures) -> (&Stats, f64),
        ),
        ("notes_create", |f: &Figures| (&f.create, f.create_rate)),
    ] {
        let (_, sqlite_rate) = pick(&sqlite);
        for (store, figures) in [("SQLite sync=full", &sqlite), ("PostgreSQL 15", &postgres)] {
            let (stats, rate) = pick(figures);
            let ratio = rate / sqlite_rate;
            println!(
                "| {call} | {store} | {} | {} | {rate:.0} | {ratio:.2}× |",
                fmt(stats.p50),
                fmt(stats.p99)
            );
            record(json!({
                "what": call, "store": store, "c1": stats.json(),
                "concurrency": CONCURRENCY, "calls_per_s": rate.round(),
                "vs_sqlite": (ratio * 100.0).round() / 100.0,
            }));
        }
    }
    Ok(())
}
