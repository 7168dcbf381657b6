//! In process: plugin load time, and per-call cost without any transport.

use super::{Stats, report_row};
use serde_json::json;
use std::path::Path;
use std::time::Instant;
use toolhost::storage::{SqliteStore, SyncMode};
use toolhost::{Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

/// Size, first load (compile + write the artifact) and cached load of each
/// bundled plugin.
pub fn load_times() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let config = || RuntimeConfig {
        cache_dir: Some(scratch.path().join("cache")),
        ..RuntimeConfig::default()
    };
    println!("## Plugin size and load time\n");
    println!("| plugin | size | first load (compile) | cached load |");
    println!("|---|---|---|---|");
    for path in [plugins::NOTES_LIST, plugins::NOTES_CREATE] {
        let size = std::fs::metadata(path)?.len();
        let cold = Runtime::new(config(), Store::in_memory())?.load_file(Path::new(path))?;
        let warm = Runtime::new(config(), Store::in_memory())?.load_file(Path::new(path))?;
        println!(
            "| {} | {:.0} KB | {:.1} ms ({:?}) | {:.2} ms ({:?}) |",
            cold.name(),
            size as f64 / 1024.0,
            cold.load_report().total.as_secs_f64() * 1e3,
            cold.load_report().cache,
            warm.load_report().total.as_secs_f64() * 1e3,
            warm.load_report().cache,
        );
    }
    Ok(())
}

fn measure(calls: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..calls / 10 {
        f();
    }
    Stats::of(
        (0..calls)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// notes_list (limit 20 of 100 notes) and notes_create, on memory and SQLite.
pub fn call_costs(calls: usize) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let alice = Principal::new("alice", ["member"]);
    for (store_name, store) in [
        ("memory", Store::in_memory()),
        (
            "sqlite, sync=normal",
            Store::new(SqliteStore::open_dir(
                &scratch.path().join("normal"),
                SyncMode::Normal,
            )?),
        ),
        (
            "sqlite, sync=full",
            Store::new(SqliteStore::open_dir(
                &scratch.path().join("full"),
                SyncMode::Full,
            )?),
        ),
    ] {
        let runtime = Runtime::new(RuntimeConfig::default(), store)?;
        let create = runtime.load_file(Path::new(plugins::NOTES_CREATE))?;
        let list = runtime.load_file(Path::new(plugins::NOTES_LIST))?;
        let empty = json!({});
        let stats = measure(calls, || {
            list.call(&alice, "bench", &empty).expect("notes_list");
        });
        report_row(&format!("notes_list, no notes yet ({store_name})"), &stats);
        for i in 0..100 {
            create.call(
                &alice,
                "seed",
                &json!({"title": format!("note {i}"), "body": "seed"}),
            )?;
        }
        let args = json!({"limit": 20});
        let stats = measure(calls, || {
            list.call(&alice, "bench", &args).expect("notes_list");
        });
        report_row(&format!("notes_list, limit 20 ({store_name})"), &stats);
        let args = json!({"title": "bench", "body": "a note written by the benchmark"});
        // fsync per write makes `full` slow; fewer calls keep the run short.
        let n = if store_name.ends_with("full") {
            calls / 10
        } else {
            calls
        };
        let stats = measure(n, || {
            create.call(&alice, "bench", &args).expect("notes_create");
        });
        report_row(&format!("notes_create ({store_name})"), &stats);
    }
    Ok(())
}
