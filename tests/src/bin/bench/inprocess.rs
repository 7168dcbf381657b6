//! In process: plugin load time, and per-call cost without any transport.

use super::{Stats, fmt, record};
use serde_json::json;
use std::path::Path;
use std::time::Instant;
use toolhost::native::{self, NativeCall, NativeTool};
use toolhost::storage::{SqliteStore, SyncMode};
use toolhost::{Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::native::{NativeNotesCreate, NativeNotesList};
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
    for path in [
        plugins::NOTES_LIST,
        plugins::NOTES_CREATE,
        plugins::NOTES_SEARCH,
        plugins::NOTES_EXPORT,
    ] {
        let size = std::fs::metadata(path)?.len();
        let cold = Runtime::new(config(), Store::in_memory())?.load_file(Path::new(path))?;
        let warm = Runtime::new(config(), Store::in_memory())?.load_file(Path::new(path))?;
        let language = match path {
            p if p == plugins::NOTES_SEARCH => "JavaScript",
            p if p == plugins::NOTES_EXPORT => "Python",
            _ => "Rust",
        };
        println!(
            "| {} ({language}) | {:.0} KB | {:.1} ms ({:?}) | {:.2} ms ({:?}) |",
            cold.name(),
            size as f64 / 1024.0,
            cold.load_report().total.as_secs_f64() * 1e3,
            cold.load_report().cache,
            warm.load_report().total.as_secs_f64() * 1e3,
            warm.load_report().cache,
        );
        record(json!({
            "what": cold.name(), "language": language, "bytes": size,
            "first_load_ms": cold.load_report().total.as_secs_f64() * 1e3,
            "cached_load_ms": warm.load_report().total.as_secs_f64() * 1e3,
        }));
    }
    Ok(())
}

/// `f` timed `calls` times, after a tenth as many untimed runs.
pub fn measure(calls: usize, mut f: impl FnMut()) -> Stats {
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

fn compare(what: &str, store: &str, wasm: &Stats, native: &Stats) {
    let ratio = wasm.p50.as_secs_f64() / native.p50.as_secs_f64();
    println!(
        "| {what} | {store} | {} | {} | {} | {} | {ratio:.1}× | +{} |",
        fmt(wasm.p50),
        fmt(wasm.p99),
        fmt(native.p50),
        fmt(native.p99),
        fmt(wasm.p50.saturating_sub(native.p50)),
    );
    record(json!({
        "what": what, "store": store, "wasm": wasm.json(), "native": native.json(),
        "ratio_p50": (ratio * 100.0).round() / 100.0,
    }));
}

/// notes_list (no notes; limit 20 of 100 notes) and notes_create, as the
/// plugin and as native Rust against the same store, on memory and SQLite.
/// A WASM call is a fresh instance + call + drop, with the host's schema
/// checks; a native call gets the same schema checks.
pub fn call_costs(calls: usize) -> anyhow::Result<()> {
    println!(
        "| call | store | WASM p50 | WASM p99 | native p50 | native p99 | WASM/native p50 | added p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let scratch = tempfile::tempdir()?;
    let alice = Principal::new("alice", ["member"]);
    let bob = Principal::new("bob", ["member"]);
    for (store_name, store) in [
        ("memory", Store::in_memory()),
        (
            "SQLite sync=normal",
            Store::new(SqliteStore::open_dir(
                &scratch.path().join("normal"),
                SyncMode::Normal,
            )?),
        ),
        (
            "SQLite sync=full",
            Store::new(SqliteStore::open_dir(
                &scratch.path().join("full"),
                SyncMode::Full,
            )?),
        ),
    ] {
        let runtime = Runtime::new(RuntimeConfig::default(), store.clone())?;
        let create = runtime.load_file(Path::new(plugins::NOTES_CREATE))?;
        let list = runtime.load_file(Path::new(plugins::NOTES_LIST))?;
        let native_create = NativeNotesCreate::like(&create, "notes_create");
        let native_list = NativeNotesList::like(&list, "notes_list");
        let native = |tool: &dyn NativeTool, who: &Principal, args: &serde_json::Value| {
            native::run(tool, &NativeCall::new(who, "bench", &store), args)
        };
        // fsync per write makes `full` slow: fewer calls, and only the writes.
        let full = store_name.ends_with("full");
        if !full {
            let empty = json!({});
            let wasm = measure(calls, || {
                list.call(&alice, "bench", &empty).expect("notes_list");
            });
            let nat = measure(calls, || {
                native(&*native_list, &alice, &empty).expect("native notes_list");
            });
            compare("notes_list, no notes", store_name, &wasm, &nat);
            for i in 0..100 {
                let args = json!({"title": format!("note {i}"), "body": "seed"});
                create.call(&alice, "seed", &args)?;
                native(&*native_create, &bob, &args)?;
            }
            let args = json!({"limit": 20});
            let wasm = measure(calls, || {
                list.call(&alice, "bench", &args).expect("notes_list");
            });
            let nat = measure(calls, || {
                native(&*native_list, &bob, &args).expect("native notes_list");
            });
            compare("notes_list, 20 of 100 notes", store_name, &wasm, &nat);
        }
        let n = if full { calls / 10 } else { calls };
        let args = json!({"title": "bench", "body": "a note written by the benchmark"});
        let wasm = measure(n, || {
            create.call(&alice, "bench", &args).expect("notes_create");
        });
        let nat = measure(n, || {
            native(&*native_create, &bob, &args).expect("native notes_create");
        });
        compare("notes_create", store_name, &wasm, &nat);
    }
    Ok(())
}

/// Per-call cost of each language's tool over the same 20 notes (memory
/// store): Rust notes_list, JavaScript notes_search, Python notes_export.
pub fn languages(calls: usize) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let config = RuntimeConfig {
        cache_dir: Some(scratch.path().join("cache")),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Store::in_memory())?;
    let alice = Principal::new("alice", ["member"]);
    let create = runtime.load_file(Path::new(plugins::NOTES_CREATE))?;
    for i in 0..20 {
        let args = json!({"title": format!("note {i}"), "body": format!("the body of note {i}, about rent")});
        create.call(&alice, "seed", &args)?;
    }
    super::table_header("Per call by language: 20 notes, memory store");
    for (language, path, args) in [
        ("Rust notes_list", plugins::NOTES_LIST, json!({"limit": 20})),
        (
            "JavaScript notes_search",
            plugins::NOTES_SEARCH,
            json!({"query": "rent"}),
        ),
        (
            "Python notes_export",
            plugins::NOTES_EXPORT,
            json!({"limit": 20}),
        ),
    ] {
        let tool = runtime.load_file(Path::new(path))?;
        let stats = measure(calls, || {
            tool.call(&alice, "bench", &args).expect("call");
        });
        super::report_row(language, &stats);
    }
    Ok(())
}
