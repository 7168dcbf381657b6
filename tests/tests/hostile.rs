//! Hostile plugins: each misdeed gets a clear error naming the plugin and the
//! fault, nothing it was not granted is reachable, and well-behaved calls keep
//! being answered quickly, during and after.

use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use toolhost::runtime::{CallError, Limits};
use toolhost::{Plugin, Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

/// These tests time the host's answers; run them one at a time so one test's
/// hostile load does not slow another's well-behaved call.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> Runtime {
    let limits = Limits {
        timeout_ms: 500,
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    Runtime::new(
        RuntimeConfig {
            limits,
            max_instances: 32,
            ..RuntimeConfig::default()
        },
        Store::in_memory(),
    )
    .unwrap()
}

fn load(runtime: &Runtime, path: &str) -> Plugin {
    runtime
        .load_file(Path::new(path))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn caller() -> Principal {
    Principal::new("mallory", ["member"])
}

/// notes_list still answers, and fast.
fn assert_healthy(list: &Plugin, after: &str) {
    let started = Instant::now();
    list.call(&caller(), "check", &json!({}))
        .unwrap_or_else(|e| panic!("after {after}: {e}"));
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "after {after}: notes_list took {took:?}"
    );
}

fn observed(plugin: &Plugin) -> String {
    let out = plugin.call(&caller(), "probe", &json!({})).unwrap();
    out.structured.unwrap()["observed"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A hostile plugin, its arguments, the kind of error expected and a phrase
/// its message must contain.
type Fault = (&'static str, Value, fn(&CallError) -> bool, &'static str);

#[test]
fn every_fault_gets_its_own_clear_error_and_the_host_keeps_serving() {
    let _serial = serial();
    let rt = runtime();
    let list = load(&rt, plugins::NOTES_LIST);
    let faults: [Fault; 7] = [
        (
            plugins::HOSTILE_LOOP,
            json!({}),
            |e| matches!(e, CallError::Timeout { .. }),
            "timed out after 500ms",
        ),
        (
            plugins::HOSTILE_MEMORY,
            json!({}),
            |e| matches!(e, CallError::MemoryLimit { .. }),
            "memory limit of 67108864 bytes",
        ),
        (
            plugins::HOSTILE_RECURSION,
            json!({}),
            |e| matches!(e, CallError::Trap { .. }),
            "stack overflow",
        ),
        (
            plugins::HOSTILE_OUTPUT,
            json!({}),
            |e| matches!(e, CallError::InvalidOutput { .. }),
            "over the output limit",
        ),
        (
            plugins::HOSTILE_TRAP,
            json!({"kind": "panic"}),
            |e| matches!(e, CallError::Trap { .. }),
            "panic or unreachable",
        ),
        (
            plugins::HOSTILE_TRAP,
            json!({"kind": "unreachable"}),
            |e| matches!(e, CallError::Trap { .. }),
            "panic or unreachable",
        ),
        (
            plugins::HOSTILE_TRAP,
            json!({"kind": "out_of_bounds"}),
            |e| matches!(e, CallError::Trap { .. }),
            "out-of-bounds memory access",
        ),
    ];
    for (path, args, kind, message) in faults {
        let plugin = load(&rt, path);
        let started = Instant::now();
        let err = plugin.call(&caller(), "hostile", &args).expect_err(path);
        let text = err.to_string();
        assert!(kind(&err), "{path}: wrong kind of error: {err:?}");
        assert!(
            text.contains(plugin.name()) && text.contains(plugin.version()),
            "{path}: {text}"
        );
        assert!(text.contains(message), "{path}: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path}: stopped in {:?}",
            started.elapsed()
        );
        assert_healthy(&list, path);
    }
    let trap = load(&rt, plugins::HOSTILE_TRAP);
    let fine = trap
        .call(&caller(), "after", &json!({"kind": "none"}))
        .expect("the next call of a trapped tool works");
    assert_eq!(fine.structured.unwrap()["observed"], "fine");
}

#[test]
fn a_log_flood_is_capped_and_the_call_still_succeeds() {
    let _serial = serial();
    let rt = runtime();
    let flood = load(&rt, plugins::HOSTILE_LOG);
    assert_eq!(observed(&flood), "logged");
    assert_healthy(&load(&rt, plugins::NOTES_LIST), "a log flood");
}

#[test]
fn nothing_ambient_is_reachable() {
    let _serial = serial();
    let rt = runtime();
    let file = observed(&load(&rt, plugins::HOSTILE_FILE));
    assert!(file.starts_with("denied:"), "a file was readable: {file}");
    let env = observed(&load(&rt, plugins::HOSTILE_ENV));
    assert_eq!(env, "0 variables [], HOME=None", "the environment leaked");
    let net = observed(&load(&rt, plugins::HOSTILE_SOCKET));
    assert!(
        net.starts_with("connect: Err(") && net.contains("resolve: Err("),
        "the network was reachable: {net}"
    );
}

#[test]
fn well_behaved_calls_all_succeed_while_hostile_ones_run() {
    let _serial = serial();
    let rt = runtime();
    let list = Arc::new(load(&rt, plugins::NOTES_LIST));
    let hostile: Vec<Arc<Plugin>> = [
        plugins::HOSTILE_LOOP,
        plugins::HOSTILE_MEMORY,
        plugins::HOSTILE_RECURSION,
    ]
    .into_iter()
    .map(|p| Arc::new(load(&rt, p)))
    .collect();
    let attackers: Vec<_> = hostile
        .into_iter()
        .map(|plugin| {
            std::thread::spawn(move || {
                for _ in 0..4 {
                    assert!(plugin.call(&caller(), "attack", &json!({})).is_err());
                }
            })
        })
        .collect();
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let list = list.clone();
            std::thread::spawn(move || {
                let me = Principal::new(format!("user-{i}"), ["member"]);
                (0..100)
                    .filter(|_| list.call(&me, "good", &json!({"limit": 5})).is_err())
                    .count()
            })
        })
        .collect();
    let failed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    for a in attackers {
        a.join().unwrap();
    }
    assert_eq!(
        failed, 0,
        "well-behaved calls failed while hostile ones ran"
    );
}
