//! Tools written in JavaScript (notes_search, contract 0.1) and Python
//! (notes_export, contract 0.2), built by the kits in `sdk/`, next to the
//! Rust notes_create: one store, every caller's notes their own.

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use toolhost::storage::Store;
use toolhost::{Plugin, Principal, Runtime, RuntimeConfig};
use toolhost_tests::{
    Notified, TestServer, plugins, run_python_client, shared_cache, with_custom_section,
};

fn runtime() -> Runtime {
    let config = RuntimeConfig {
        cache_dir: Some(shared_cache()),
        max_instances: 16,
        ..RuntimeConfig::default()
    };
    Runtime::new(config, Store::in_memory()).unwrap()
}

fn load(runtime: &Runtime, path: &str) -> Plugin {
    runtime
        .load_file(Path::new(path))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn call(plugin: &Plugin, who: &Principal, args: Value) -> Value {
    let out = plugin
        .call(who, "test", &args)
        .unwrap_or_else(|e| panic!("{}: {e}", plugin.name()));
    out.structured.expect("structured output")
}

#[test]
fn javascript_and_python_tools_find_the_rust_tools_notes_for_their_owner_only() {
    let rt = runtime();
    let create = load(&rt, plugins::NOTES_CREATE);
    let search = load(&rt, plugins::NOTES_SEARCH);
    let export = load(&rt, plugins::NOTES_EXPORT);
    let alice = Principal::new("alice", ["member"]);
    let bob = Principal::new("bob", ["member"]);
    for (title, body) in [
        ("Pay rent", "Transfer the rent to the landlord by Friday."),
        ("Groceries", "Milk, bread, and a gift for the landlord."),
        ("Book club", "Read chapters 3 and 4."),
    ] {
        call(&create, &alice, json!({"title": title, "body": body}));
    }
    call(
        &create,
        &bob,
        json!({"title": "Bob's rent", "body": "rent rent rent landlord"}),
    );

    let found = call(&search, &alice, json!({"query": "rent landlord"}));
    let titles: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Pay rent", "Groceries"], "{found}");
    assert_eq!(found["scanned"], 3, "alice's three notes, not bob's");
    let bobs = call(&search, &bob, json!({"query": "rent"}));
    assert_eq!(bobs["results"].as_array().unwrap().len(), 1);
    assert_eq!(bobs["results"][0]["title"], "Bob's rent");
    let nobody = call(
        &search,
        &Principal::new("carol", ["member"]),
        json!({"query": "rent"}),
    );
    assert_eq!(nobody["scanned"], 0);

    let exported = call(&export, &alice, json!({}));
    assert_eq!(exported["count"], 3);
    let markdown = exported["markdown"].as_str().unwrap();
    assert!(markdown.starts_with("# Notes\n"), "{markdown}");
    let (club, groceries) = (
        markdown.find("## Book club").unwrap(),
        markdown.find("## Groceries").unwrap(),
    );
    assert!(club < groceries, "newest first: {markdown}");
    assert!(!markdown.contains("Bob"), "{markdown}");
    assert_eq!(call(&export, &bob, json!({"limit": 10}))["count"], 1);

    // The host checks their schemas like any tool's, and their own errors
    // arrive typed.
    let bad = search.call(&alice, "t", &json!({"query": ""})).unwrap_err();
    assert!(bad.to_string().contains("/query"), "{bad}");
    let bad = export.call(&alice, "t", &json!({"limit": 0})).unwrap_err();
    assert!(bad.to_string().contains("/limit"), "{bad}");
    let no_words = search
        .call(&alice, "t", &json!({"query": "?!"}))
        .unwrap_err();
    assert!(
        no_words
            .to_string()
            .contains("invalid input: the query has no words"),
        "{no_words}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_mcp_client_calls_the_javascript_and_python_tools() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_SEARCH,
            plugins::NOTES_EXPORT,
        ],
        |c| c.storage.cache_dir = Some(shared_cache()),
    )
    .await;
    let url = server.url();
    let token = server.token("alice", &["member"]);
    let client = |tool: &str, args: Value| {
        let out = run_python_client(
            "call_tool.py",
            &[
                "--url",
                &url,
                "--token",
                &token,
                "--tool",
                tool,
                "--args",
                &args.to_string(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let created = client(
        "notes_create",
        json!({"title": "Quarterly report", "body": "Draft due Monday"}),
    );
    assert_eq!(created["is_error"], false, "{created}");
    let found = client("notes_search", json!({"query": "report"}));
    assert_eq!(found["is_error"], false, "{found}");
    assert_eq!(
        found["structured"]["results"][0]["title"],
        "Quarterly report"
    );
    let exported = client("notes_export", json!({"limit": 5}));
    assert_eq!(exported["structured"]["count"], 1, "{exported}");
    assert!(
        exported["text"][0]
            .as_str()
            .unwrap()
            .contains("## Quarterly report"),
        "{exported}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_plugin_is_replaced_while_the_server_runs() {
    let server = TestServer::start(&[plugins::NOTES_CREATE, plugins::NOTES_SEARCH], |c| {
        c.storage.cache_dir = Some(shared_cache());
    })
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Notified(tx).serve(server.transport()).await.unwrap();
    client.list_all_tools().await.unwrap();
    assert_eq!(server.host.legacy_sessions(), 1, "registered at initialize");
    let args = |v: Value| v.as_object().cloned().unwrap();
    client
        .call_tool(
            CallToolRequestParams::new("notes_create")
                .with_arguments(args(json!({"title": "kept", "body": "across versions"}))),
        )
        .await
        .unwrap();
    let before = server.host.registry().get("notes_search").unwrap();

    let v2 = with_custom_section(&std::fs::read(plugins::NOTES_SEARCH).unwrap(), "v2");
    let staged = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(staged.path(), &v2).unwrap();
    server.install_plugin(staged.path().to_str().unwrap(), "notes_search.wasm");
    // A new JavaScript version compiles in seconds on a busy machine.
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("tools/list_changed after the swap")
        .unwrap();
    let after = server.host.registry().get("notes_search").unwrap();
    assert_ne!(before.content_hash(), after.content_hash());
    let found = client
        .call_tool(
            CallToolRequestParams::new("notes_search")
                .with_arguments(args(json!({"query": "kept"}))),
        )
        .await
        .unwrap();
    assert_eq!(found.is_error, Some(false), "{:?}", found.content);
    assert_eq!(
        found.structured_content.unwrap()["results"][0]["title"],
        "kept"
    );
    client.cancel().await.unwrap();
}

/// Names that tell the tool-name rule apart from near misses: lengths,
/// case, separators, a trailing newline, and non-ASCII letters and digits
/// that `str.islower`/`isdigit` or `\w` would take.
const NAME_PROBES: &[&str] = &[
    "notes_list",
    "a",
    "a1_",
    "Notes",
    "1abc",
    "_a",
    "",
    "a-b",
    "a b",
    "a\n",
    "é",
    "aé",
    "aß",
    "a²",
    "a\u{663}",
    "\u{ff41}",
    "a\u{0301}",
];

#[test]
fn the_kits_accept_exactly_the_tool_names_the_host_accepts() {
    let long_ok = "a".repeat(64);
    let long_bad = "a".repeat(65);
    let mut names: Vec<&str> = NAME_PROBES.to_vec();
    names.extend([long_ok.as_str(), long_bad.as_str()]);
    let expected: Vec<bool> = names
        .iter()
        .map(|n| toolhost::runtime::is_tool_name(n))
        .collect();
    assert_eq!(expected.iter().filter(|ok| **ok).count(), 4, "{names:?}");
    let names_json = serde_json::to_string(&names).unwrap();
    // What `program` running `script` (given the names as JSON) prints:
    // one verdict per name.
    let verdicts = |program: &std::ffi::OsStr, flag: &str, script: &str| -> Vec<bool> {
        let out = std::process::Command::new(program)
            .args([flag, script, &names_json])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let sdk = toolhost_tests::workspace().join("sdk");

    // Python: the kit's own module, outside a component.
    let script = format!(
        "import json, sys\nsys.path.insert(0, {:?})\nimport toolhost\n\
         def ok(n):\n    try:\n        toolhost.Tool(lambda c, a: {{}}, name=n, description='d')\n        return True\n\
         \x20   except ValueError:\n        return False\n\
         print(json.dumps([ok(n) for n in json.loads(sys.argv[1])]))\n",
        sdk.join("python").to_str().unwrap()
    );
    let python = verdicts(toolhost_tests::python().as_os_str(), "-c", &script);
    assert_eq!(python, expected, "Python kit vs host on {names:?}");

    // JavaScript: the regular expression defineTool tests names with (the
    // module itself imports host interfaces node cannot load).
    let js = std::fs::read_to_string(sdk.join("js/toolhost.js")).unwrap();
    let check = js
        .lines()
        .find(|l| l.contains("typeof name !== 'string'"))
        .expect("defineTool's name check");
    let regex = &check[check.find('/').unwrap()..check.rfind(".test(").unwrap()];
    let script = format!(
        "const r = {regex}; console.log(JSON.stringify(JSON.parse(process.argv[1]).map(n => r.test(n))))"
    );
    let javascript = verdicts("node".as_ref(), "-e", &script);
    assert_eq!(javascript, expected, "JavaScript kit vs host on {names:?}");
}
