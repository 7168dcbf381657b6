//! The bundled notes plugins, run through the plugin harness (no server, no auth).

use rand::Rng;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use toolhost::runtime::{CallError, Content};
use toolhost::storage::{Backend, Entry, MemoryStore, ScanRequest, Scope, StorageError};
use toolhost::testing::PluginHarness;
use toolhost::{Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

struct Notes {
    create: PluginHarness,
    list: PluginHarness,
}

impl Notes {
    fn load() -> Self {
        Self::in_runtime(Runtime::new(test_config(), Store::in_memory()).expect("runtime"))
    }

    fn in_runtime(runtime: Runtime) -> Self {
        let create = PluginHarness::with_runtime(runtime, Path::new(plugins::NOTES_CREATE))
            .expect("notes_create loads");
        let list = create
            .sibling(Path::new(plugins::NOTES_LIST))
            .expect("notes_list loads");
        Notes { create, list }
    }

    fn create(&self, who: &Principal, title: &str, body: &str) -> Value {
        let out = self
            .create
            .call(who, json!({"title": title, "body": body}))
            .unwrap_or_else(|e| panic!("create {title:?}: {e}"));
        out.structured.expect("structured content")
    }

    fn list(&self, who: &Principal, args: Value) -> Vec<Value> {
        let out = self
            .list
            .call(who, args)
            .unwrap_or_else(|e| panic!("list: {e}"));
        let s = out.structured.expect("structured content");
        let notes = s["notes"].as_array().expect("notes array").clone();
        assert_eq!(s["count"], notes.len(), "count matches the notes returned");
        notes
    }
}

fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        max_instances: 16,
        ..RuntimeConfig::default()
    }
}

fn member(subject: &str) -> Principal {
    Principal::new(subject, ["member"])
}

fn titles(notes: &[Value]) -> Vec<&str> {
    notes.iter().map(|n| n["title"].as_str().unwrap()).collect()
}

#[test]
fn describe_declares_names_schemas_and_default_roles() {
    let notes = Notes::load();
    let create = notes.create.plugin().info();
    assert_eq!(create.name, "notes_create");
    assert_eq!(create.roles, ["member"]);
    let schema = create.input_schema.as_json();
    assert_eq!(schema["properties"]["title"]["maxLength"], 120);
    assert_eq!(schema["properties"]["body"]["maxLength"], 10000);
    let list = notes.list.plugin().info();
    assert_eq!(list.name, "notes_list");
    assert!(list.roles.is_empty(), "any authenticated caller may list");
    assert_eq!(
        list.input_schema.as_json()["properties"]["limit"]["maximum"],
        100
    );
    for plugin in [&notes.create, &notes.list] {
        let info = plugin.plugin().info();
        let output = info.output_schema.as_ref().unwrap().as_json();
        let schemas = format!("{} {output}", info.input_schema.as_json());
        assert!(
            !schemas.contains("\"format\""),
            "only standard formats, none needed here: {schemas}"
        );
    }
}

#[test]
fn create_returns_the_note_and_list_shows_newest_first() {
    let notes = Notes::load();
    let alice = member("alice");
    let first = notes.create(&alice, "first", "one");
    assert_eq!(first["title"], "first");
    assert_eq!(first["body"], "one");
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a hyphenated UUID: {id}");
    assert_eq!(&id[14..15], "7", "a version-7 UUID: {id}");
    let created = first["createdAt"].as_str().unwrap();
    assert!(
        created.len() == 24 && created.ends_with('Z') && &created[10..11] == "T",
        "RFC 3339: {created}"
    );
    for title in ["second", "third"] {
        std::thread::sleep(std::time::Duration::from_millis(2));
        notes.create(&alice, title, "more");
    }
    let listed = notes.list(&alice, json!({}));
    assert_eq!(titles(&listed), ["third", "second", "first"]);
    assert_eq!(listed[2], first, "listed exactly as created");
}

#[test]
fn results_carry_a_text_rendering_too() {
    let notes = Notes::load();
    let alice = member("alice");
    let out = notes
        .create
        .call(&alice, json!({"title": "Groceries", "body": "eggs"}))
        .unwrap();
    let Content::Text(text) = &out.content[0] else {
        panic!("text content")
    };
    assert!(text.contains("Groceries"), "{text}");
    let out = notes.list.call(&alice, json!({})).unwrap();
    let Content::Text(text) = &out.content[0] else {
        panic!("text content")
    };
    assert!(
        text.contains("Groceries") && text.contains("eggs"),
        "{text}"
    );
    let out = notes.list.call(&member("bob"), json!({})).unwrap();
    assert_eq!(out.content, [Content::Text("No notes.".into())]);
}

#[test]
fn query_filters_case_insensitively_on_title_or_body_and_limit_caps() {
    let notes = Notes::load();
    let alice = member("alice");
    notes.create(&alice, "Shopping", "milk and BREAD");
    notes.create(&alice, "Bread recipe", "flour, water");
    notes.create(&alice, "Holiday", "beach");
    let hits = notes.list(&alice, json!({"query": "bread"}));
    let mut got = titles(&hits);
    got.sort();
    assert_eq!(got, ["Bread recipe", "Shopping"]);
    assert!(
        notes
            .list(&alice, json!({"query": "nothing like it"}))
            .is_empty()
    );
    assert_eq!(notes.list(&alice, json!({"limit": 2})).len(), 2);
    assert_eq!(
        notes.list(&alice, json!({"query": "", "limit": 100})).len(),
        3,
        "empty query matches all"
    );
}

#[test]
fn filtered_list_pages_past_the_first_scan_page() {
    let notes = Notes::load();
    let alice = member("alice");
    notes.create(&alice, "needle", "old");
    for i in 0..250 {
        notes.create(&alice, &format!("hay {i}"), "x");
    }
    let hits = notes.list(&alice, json!({"query": "NEEDLE"}));
    assert_eq!(titles(&hits), ["needle"]);
    assert_eq!(notes.list(&alice, json!({"limit": 100})).len(), 100);
}

#[test]
fn schema_violations_are_refused_before_the_tool_runs() {
    let notes = Notes::load();
    let alice = member("alice");
    let cases = [
        (json!({"body": "b"}), "title"),
        (json!({"title": "x".repeat(121), "body": "b"}), "/title"),
        (json!({"title": "t", "body": ""}), "/body"),
        (json!({"title": "t", "body": "b".repeat(10_001)}), "/body"),
        (json!({"title": 5, "body": "b"}), "/title"),
        (json!({"title": "t", "body": "b", "extra": 1}), "extra"),
        (json!(["t", "b"]), "object"),
    ];
    for (args, expect) in cases {
        match notes.create.call(&alice, args.clone()) {
            Err(CallError::InvalidArguments { tool, violations }) => {
                assert_eq!(tool, "notes_create");
                let text = violations.join("; ");
                assert!(
                    text.contains(expect),
                    "{args}: {text:?} should mention {expect}"
                );
            }
            other => panic!("{args}: expected invalid arguments, got {other:?}"),
        }
    }
    for (args, expect) in [
        (json!({"limit": 0}), "/limit"),
        (json!({"limit": 101}), "/limit"),
        (json!({"limit": "ten"}), "/limit"),
        (json!({"query": 3}), "/query"),
    ] {
        let err = notes.list.call(&alice, args.clone()).unwrap_err();
        assert!(err.to_string().contains(expect), "{args}: {err}");
    }
    assert!(
        notes.list(&alice, json!({"limit": 100})).is_empty(),
        "nothing was written"
    );
}

#[test]
fn limits_count_characters_not_bytes() {
    let notes = Notes::load();
    let alice = member("alice");
    let title = "é".repeat(120);
    let body = "€".repeat(10_000);
    let note = notes.create(&alice, &title, &body);
    assert_eq!(note["title"], title.as_str());
    assert!(
        notes
            .create
            .call(&alice, json!({"title": "é".repeat(121), "body": "b"}))
            .is_err()
    );
}

#[test]
fn subjects_never_see_each_others_notes() {
    let notes = Notes::load();
    let mut rng = rand::rng();
    let people: Vec<Principal> = ["alice", "bob", "carol"].into_iter().map(member).collect();
    let mut made: Vec<Vec<String>> = vec![Vec::new(); people.len()];
    for i in 0..150 {
        let who = rng.random_range(0..people.len());
        let title = format!("{}-{i}-{}", people[who].subject, rng.random::<u32>());
        notes.create(&people[who], &title, "shared words in every body");
        made[who].push(title);
    }
    for (who, principal) in people.iter().enumerate() {
        let listed = notes.list(principal, json!({"limit": 100, "query": "shared words"}));
        let mut got: Vec<String> = titles(&listed).into_iter().map(str::to_owned).collect();
        let mut expected: Vec<String> = made[who].iter().rev().take(100).cloned().collect();
        got.sort();
        expected.sort();
        assert_eq!(
            got, expected,
            "{} sees exactly their own notes",
            principal.subject
        );
    }
    assert!(
        notes
            .list(&member("mallory"), json!({"limit": 100}))
            .is_empty()
    );
}

#[test]
fn notes_survive_reopening_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let store =
            toolhost::storage::SqliteStore::open_dir(dir.path(), Default::default()).unwrap();
        Notes::in_runtime(Runtime::new(test_config(), Store::new(store)).unwrap())
    };
    let alice = member("alice");
    let mut created = Vec::new();
    {
        let notes = open();
        for i in 0..20 {
            created.push(notes.create(&alice, &format!("n{i}"), "kept")["id"].clone());
        }
    }
    let notes = open();
    let listed: Vec<Value> = notes
        .list(&alice, json!({"limit": 100}))
        .into_iter()
        .map(|n| n["id"].clone())
        .collect();
    created.reverse();
    assert_eq!(listed, created);
}

/// Counts the entries scans hand back, to prove what notes_list reads.
struct CountingBackend {
    inner: MemoryStore,
    scanned: Arc<AtomicUsize>,
}

impl Backend for CountingBackend {
    fn get(&self, s: &Scope, k: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(s, k)
    }
    fn put(&self, s: &Scope, k: &str, v: &[u8]) -> Result<(), StorageError> {
        self.inner.put(s, k, v)
    }
    fn delete(&self, s: &Scope, k: &str) -> Result<bool, StorageError> {
        self.inner.delete(s, k)
    }
    fn scan(&self, s: &Scope, r: &ScanRequest) -> Result<Vec<Entry>, StorageError> {
        let page = self.inner.scan(s, r)?;
        self.scanned.fetch_add(page.len(), Ordering::SeqCst);
        Ok(page)
    }
}

#[test]
fn newest_notes_cost_one_bounded_scan_whatever_the_history() {
    let scanned = Arc::new(AtomicUsize::new(0));
    let backend = CountingBackend {
        inner: MemoryStore::default(),
        scanned: scanned.clone(),
    };
    let notes = Notes::in_runtime(Runtime::new(test_config(), Store::new(backend)).unwrap());
    let alice = member("alice");
    for i in 0..500 {
        notes.create(&alice, &format!("n{i}"), "b");
    }
    scanned.store(0, Ordering::SeqCst);
    let listed = notes.list(&alice, json!({"limit": 20}));
    assert_eq!(listed.len(), 20);
    assert_eq!(listed[0]["title"], "n499");
    assert_eq!(
        scanned.load(Ordering::SeqCst),
        20,
        "read exactly the 20 newest of 500"
    );
}

#[test]
fn each_note_is_a_resource_of_its_owner_and_the_prompt_summarises_them() {
    let notes = Notes::load();
    let alice = member("alice");
    let id = notes.create(&alice, "Pay rent", "before the 3rd")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = notes
        .list
        .read_resource(&alice, &format!("notes://{id}"))
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].mime_type.as_deref(), Some("text/markdown"));
    match &read[0].body {
        toolhost::runtime::ResourceBody::Text(t) => {
            assert!(t.starts_with("# Pay rent\n\nbefore the 3rd"), "{t}")
        }
        other => panic!("{other:?}"),
    }
    // Bob has no such note; a URI no template matches is not found either.
    for (who, uri) in [
        (member("bob"), format!("notes://{id}")),
        (alice.clone(), "notes://a/b".to_owned()),
        (alice.clone(), "other://x".to_owned()),
    ] {
        let e = notes.list.read_resource(&who, &uri).unwrap_err();
        assert!(
            matches!(
                &e,
                CallError::Tool {
                    error: toolhost::runtime::ToolError::NotFound(_),
                    ..
                }
            ),
            "{uri}: {e}"
        );
    }

    let prompt = notes
        .list
        .get_prompt(&alice, "summarise_notes", &[])
        .unwrap();
    let Content::Text(text) = &prompt.messages[0].content else {
        panic!("{prompt:?}")
    };
    assert!(
        text.contains("Pay rent (") && text.contains("before the 3rd"),
        "{text}"
    );
    let none = notes
        .list
        .get_prompt(&alice, "summarise_notes", &[("topic", "holiday")])
        .unwrap();
    let Content::Text(text) = &none.messages[0].content else {
        panic!("{none:?}")
    };
    assert!(text.contains("I have no notes yet"), "{text}");
    let bad = notes
        .list
        .get_prompt(&alice, "summarise_notes", &[("colour", "red")])
        .unwrap_err();
    assert!(
        bad.to_string().contains("\"colour\" is not an argument"),
        "{bad}"
    );
}
