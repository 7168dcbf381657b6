//! MCP Inspector (npm `@modelcontextprotocol/inspector`, pinned in
//! `tests/clients/inspector`; its command-line mode, built on the TypeScript
//! SDK v2 client) against a server of the bundled tools in three languages:
//! it lists their annotations, the resource template and the prompt, calls,
//! reads and gets as the signed-in user, and is refused what it cannot do
//! (it declares no elicitation, so notes_delete deletes nothing).

use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use toolhost_tests::{TestServer, plugins, workspace};

/// Run the Inspector's CLI against `url` with `token`; its JSON answer.
async fn inspector(url: &str, token: &str, args: &[&str]) -> Value {
    let node = workspace().join("tests/conformance/node_modules/.bin/node");
    let cli = workspace().join(
        "tests/clients/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
    );
    assert!(
        node.exists() && cli.exists(),
        "MCP Inspector or Node.js 22 is not installed: run `make inspector conformance` (`make test` does)"
    );
    let mut command = Command::new(node);
    command
        .arg(cli)
        .args(["--cli", url, "--header"])
        .arg(format!("Authorization: Bearer {token}"))
        .args(args);
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the Inspector answers within a minute")
        .unwrap()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The answer comes first; a tool error is followed by a line about it.
    let first = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .next();
    match first {
        Some(Ok(answer)) => answer,
        _ => panic!(
            "the Inspector printed no JSON:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_inspector_sees_annotations_resources_and_prompts_of_the_bundled_tools() {
    let server = TestServer::start(
        &[
            plugins::NOTES_CREATE,
            plugins::NOTES_LIST,
            plugins::NOTES_DELETE,
            plugins::NOTES_SEARCH,
            plugins::NOTES_EXPORT,
        ],
        |c| c.storage.cache_dir = Some(toolhost_tests::shared_cache()),
    )
    .await;
    let url = format!("http://{}/mcp", server.addr);
    let token = server.token("alice", &["member"]);
    let ask = |args: &'static [&'static str]| inspector(&url, &token, args);

    let tools = ask(&["--method", "tools/list"]).await;
    let hint = |tool: &str, hint: &str| {
        (tools["tools"].as_array().unwrap().iter())
            .find(|t| t["name"] == tool)
            .unwrap_or_else(|| panic!("{tool} not listed: {tools}"))["annotations"][hint]
            .clone()
    };
    // Rust, JavaScript and Python tools alike.
    assert_eq!(hint("notes_list", "readOnlyHint"), true);
    assert_eq!(hint("notes_delete", "destructiveHint"), true);
    assert_eq!(hint("notes_create", "destructiveHint"), false);
    assert_eq!(hint("notes_search", "readOnlyHint"), true);
    assert_eq!(hint("notes_export", "readOnlyHint"), true);

    let templates = ask(&["--method", "resources/templates/list"]).await;
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"], "notes://{id}",
        "{templates}"
    );
    let prompts = ask(&["--method", "prompts/list"]).await;
    assert_eq!(
        prompts["prompts"][0]["name"], "summarise_notes",
        "{prompts}"
    );

    let created = inspector(
        &url,
        &token,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "notes_create",
            "--tool-arg",
            "title=Seen by the Inspector",
            "body=hello",
        ],
    )
    .await;
    let id = created["structuredContent"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("notes://{id}");
    let read = inspector(&url, &token, &["--method", "resources/read", "--uri", &uri]).await;
    let text = read["contents"][0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("# Seen by the Inspector"), "{read}");
    let got = inspector(
        &url,
        &token,
        &[
            "--method",
            "prompts/get",
            "--prompt-name",
            "summarise_notes",
            "--prompt-args",
            "topic=hello",
        ],
    )
    .await;
    let message = got["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("Seen by the Inspector"), "{got}");

    // It cannot confirm a deletion: the note stays.
    let refused = inspector(
        &url,
        &token,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "notes_delete",
            "--tool-arg",
            &format!("id={id}"),
        ],
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    let said = refused["content"][0]["text"].as_str().unwrap_or_default();
    assert!(said.contains("does not support elicitation"), "{refused}");
    let still = inspector(&url, &token, &["--method", "resources/read", "--uri", &uri]).await;
    assert!(still["contents"][0]["text"].is_string(), "{still}");
}
