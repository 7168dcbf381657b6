//! In process: what a 0.2 component serves besides tools (a resource read,
//! a prompt get) against a tool call of the same component, what progress
//! reports cost a call, and a call of the 0.2 contract against one of 0.1
//! (the same logic, bare bindings).

use super::inprocess::measure;
use super::{report_row, table_header};
use serde_json::json;
use std::path::Path;
use toolhost::runtime::{CallLinks, ClientLevel, EventSink};
use toolhost::{Principal, Runtime, RuntimeConfig, Store};
use toolhost_tests::plugins;

pub fn served(calls: usize) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default(), Store::in_memory())?;
    let create = runtime.load_file(Path::new(plugins::NOTES_CREATE))?;
    let list = runtime.load_file(Path::new(plugins::NOTES_LIST))?;
    let alice = Principal::new("alice", ["member"]);
    let mut id = String::new();
    for i in 0..20 {
        let note = json!({"title": format!("note {i}"), "body": "a short body"});
        let out = create.call(&alice, "seed", &note)?;
        id = out.structured.unwrap_or_default()["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    let component = list.component();
    let request = component
        .resolve(&format!("notes://{id}"))
        .ok_or_else(|| anyhow::anyhow!("notes://{{id}} is not served"))?;
    let limits = runtime.limits().clone();
    let links = CallLinks::default();
    table_header(
        "In process: a 0.2 component's tool, resource and prompt (20 notes, memory store)",
    );
    report_row(
        "tools/call notes_list (20 notes)",
        &measure(calls, || {
            list.call(&alice, "b", &json!({"limit": 20})).unwrap();
        }),
    );
    report_row(
        "resources/read notes://{id} (one note)",
        &measure(calls, || {
            component
                .read_resource(&alice, "b", &request, &limits, &links)
                .unwrap();
        }),
    );
    report_row(
        "prompts/get summarise_notes (20 notes)",
        &measure(calls, || {
            component
                .get_prompt(&alice, "b", "summarise_notes", &[], &limits, &links)
                .unwrap();
        }),
    );

    // The same tool on each contract: the titles of the 20 notes.
    for (path, name) in [
        (
            plugins::V01_NOTES,
            "0.1 contract: v01_note_titles (20 notes)",
        ),
        (
            plugins::V02_NOTES,
            "0.2 contract: v02_note_titles (20 notes)",
        ),
    ] {
        let twin = runtime.load_file(Path::new(path))?;
        report_row(
            name,
            &measure(calls, || {
                twin.call(&alice, "b", &json!({})).unwrap();
            }),
        );
    }

    // Progress: the same tool with 0 and 100 reports, each sent into a
    // channel a thread drains (what the transport's forwarder does).
    let multi = runtime
        .load_file(Path::new(plugins::MULTI_TOOLS))?
        .component()
        .tool("multi_progress")
        .ok_or_else(|| anyhow::anyhow!("no multi_progress"))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    std::thread::spawn(move || while rx.blocking_recv().is_some() {});
    for steps in [0, 100] {
        let stats = measure(calls / 5, || {
            let links = CallLinks {
                events: Some(EventSink::new(tx.clone(), ClientLevel::Info, true)),
                ..CallLinks::default()
            };
            multi
                .call_with_limits(&alice, "b", &json!({"steps": steps}), &limits, &links)
                .unwrap();
        });
        report_row(&format!("multi_progress, {steps} progress reports"), &stats);
    }
    Ok(())
}
