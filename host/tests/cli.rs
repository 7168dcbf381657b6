//! `toolhost call` and `toolhost inspect`, run as a user would: as processes.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use toolhost_test_artifacts::{
    MULTI_TOOLS, NOT_A_TOOL, NOTES_CREATE, NOTES_EXPORT, NOTES_LIST, NOTES_SEARCH, PROJECTS_LIST,
    V01_NOTES,
};

fn toolhost(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(args)
        .arg("--cache")
        .arg(cache)
        .output()
        .expect("run toolhost")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn call_creates_and_lists_per_subject_across_processes() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let created = toolhost(
        &[
            "call",
            NOTES_CREATE,
            "--subject",
            "alice",
            "--roles",
            "member",
            "--data",
            d,
            "--args",
            r#"{"title":"Pay rent","body":"before the 3rd"}"#,
        ],
        cache.path(),
    );
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let result = json(&created);
    assert_eq!(result["isError"], false);
    assert_eq!(result["structuredContent"]["title"], "Pay rent");
    assert_eq!(result["content"][0]["type"], "text");
    let id = result["structuredContent"]["id"].clone();

    let mine = toolhost(
        &["call", NOTES_LIST, "--subject", "alice", "--data", d],
        cache.path(),
    );
    assert_eq!(mine.status.code(), Some(0), "{}", stderr(&mine));
    let notes = &json(&mine)["structuredContent"]["notes"];
    assert_eq!(notes.as_array().unwrap().len(), 1);
    assert_eq!(notes[0]["id"], id);

    let theirs = toolhost(
        &["call", NOTES_LIST, "--subject", "bob", "--data", d],
        cache.path(),
    );
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(json(&theirs)["structuredContent"]["count"], 0);
}

#[test]
fn javascript_and_python_tools_run_under_toolhost_call() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    // Their compiled artifacts are shared with the other tests (seconds each).
    let cache = Path::new(NOTES_SEARCH).parent().unwrap().join("cache");
    let member = |tool: &str, subject: &str, args: &str| {
        let out = toolhost(
            &[
                "call",
                tool,
                "--subject",
                subject,
                "--roles",
                "member",
                "--data",
                d,
                "--args",
                args,
            ],
            &cache,
        );
        assert_eq!(out.status.code(), Some(0), "{tool}: {}", stderr(&out));
        json(&out)
    };
    member(
        NOTES_CREATE,
        "alice",
        r#"{"title":"Pay rent","body":"before the 3rd"}"#,
    );
    let found = member(NOTES_SEARCH, "alice", r#"{"query":"rent"}"#);
    assert_eq!(
        found["structuredContent"]["results"][0]["title"],
        "Pay rent"
    );
    let exported = member(NOTES_EXPORT, "alice", "{}");
    assert!(
        exported["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("## Pay rent"),
        "{exported}"
    );
    let nothing = member(NOTES_SEARCH, "bob", r#"{"query":"rent"}"#);
    assert_eq!(nothing["structuredContent"]["scanned"], 0);
    let inspected = toolhost(&["inspect", NOTES_EXPORT], &cache);
    assert_eq!(inspected.status.code(), Some(0), "{}", stderr(&inspected));
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("notes_export"));
}

#[test]
fn bad_arguments_are_a_tool_error_and_write_nothing() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    for (args, expect) in [
        ("{not json", "not valid JSON"),
        (r#"{"body":"b"}"#, "title"),
        (r#"{"title":"","body":"b"}"#, "/title"),
    ] {
        let out = toolhost(
            &[
                "call",
                NOTES_CREATE,
                "--subject",
                "alice",
                "--roles",
                "member",
                "--data",
                d,
                "--args",
                args,
            ],
            cache.path(),
        );
        assert_eq!(out.status.code(), Some(1), "{args}: {}", stderr(&out));
        let result = json(&out);
        assert_eq!(result["isError"], true);
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(expect), "{args}: {text}");
    }
    let listed = toolhost(
        &["call", NOTES_LIST, "--subject", "alice", "--data", d],
        cache.path(),
    );
    assert_eq!(json(&listed)["structuredContent"]["count"], 0);
}

#[test]
fn a_caller_without_the_role_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let out = toolhost(
        &[
            "call",
            NOTES_CREATE,
            "--subject",
            "guest",
            "--args",
            r#"{"title":"t","body":"b"}"#,
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = json(&out)["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("member") && text.contains("guest"), "{text}");
}

#[test]
fn inspect_prints_contract_imports_each_tools_schema_roles_and_hints_and_the_rest_served() {
    let cache = tempfile::tempdir().unwrap();
    for (path, name, roles, read_only) in [
        (NOTES_CREATE, "notes_create", vec!["member"], false),
        (NOTES_LIST, "notes_list", vec![], true),
    ] {
        let out = toolhost(&["inspect", path], cache.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let info = json(&out);
        assert_eq!(info["contract"], "toolhost:plugin/tools@0.2.0");
        let tool = &info["tools"][0];
        assert_eq!(tool["name"], name);
        assert_eq!(tool["inputSchema"]["type"], "object");
        assert_eq!(tool["roles"], serde_json::json!(roles));
        assert_eq!(tool["annotations"]["readOnlyHint"], read_only);
        assert_eq!(tool["annotations"]["openWorldHint"], false);
        let imports: Vec<&str> = info["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            imports.contains(&"toolhost:plugin/store@0.2.0"),
            "{imports:?}"
        );
        assert!(
            !imports.iter().any(|i| i.starts_with("wasi:http")),
            "{imports:?}"
        );
    }
    // A tool names the APIs it calls (granted or not, inspect has no config).
    let out = toolhost(&["inspect", PROJECTS_LIST], cache.path());
    assert_eq!(json(&out)["tools"][0]["apis"], serde_json::json!(["app"]));
    assert_eq!(
        json(&toolhost(&["inspect", NOTES_LIST], cache.path()))["tools"][0]["apis"],
        serde_json::json!([])
    );
    // A component's resources, templates and prompts.
    let info = json(&toolhost(&["inspect", NOTES_LIST], cache.path()));
    assert_eq!(info["resources"], serde_json::json!([]));
    assert_eq!(info["resourceTemplates"][0]["uriTemplate"], "notes://{id}");
    assert_eq!(info["resourceTemplates"][0]["mimeType"], "text/markdown");
    assert_eq!(info["prompts"][0]["name"], "summarise_notes");
    assert_eq!(info["prompts"][0]["arguments"][0]["name"], "topic");
    assert_eq!(info["prompts"][0]["arguments"][0]["required"], false);
    // A 0.1 component has no hints; the JavaScript kit builds 0.2 ones.
    let out = toolhost(&["inspect", V01_NOTES], cache.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out);
    assert_eq!(info["contract"], "toolhost:plugin/tool@0.1.0");
    assert_eq!(info["tools"][0]["name"], "v01_note_titles");
    assert_eq!(info["tools"][0]["annotations"]["readOnlyHint"], Value::Null);
    let out = toolhost(&["inspect", NOTES_SEARCH], cache.path());
    let info = json(&out);
    assert_eq!(info["contract"], "toolhost:plugin/tools@0.2.0");
    assert_eq!(info["tools"][0]["annotations"]["readOnlyHint"], true);
    let out = toolhost(&["inspect", MULTI_TOOLS], cache.path());
    let names: Vec<Value> = json(&out)["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            "multi_echo",
            "multi_media",
            "multi_bad_block",
            "multi_progress",
            "multi_config"
        ]
    );
}

#[test]
fn call_of_a_component_with_several_tools_needs_tool() {
    let cache = tempfile::tempdir().unwrap();
    let out = toolhost(&["call", MULTI_TOOLS, "--subject", "alice"], cache.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has 5 tools (multi_echo, multi_media, multi_bad_block, multi_progress, multi_config); choose one with --tool NAME"),
        "{}",
        stderr(&out)
    );
    let out = toolhost(
        &["call", MULTI_TOOLS, "--tool", "nope", "--subject", "alice"],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no tool \"nope\""),
        "{}",
        stderr(&out)
    );
    let out = toolhost(
        &[
            "call",
            MULTI_TOOLS,
            "--tool",
            "multi_echo",
            "--subject",
            "alice",
            "--args",
            r#"{"text":"hi"}"#,
        ],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        json(&out)["structuredContent"],
        serde_json::json!({"text": "hi", "subject": "alice"})
    );
}

#[test]
fn unloadable_files_exit_2_naming_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("notes.txt.wasm");
    std::fs::write(&text_file, "hello").unwrap();
    let core_module = dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let whole = std::fs::read(NOTES_LIST).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let missing = dir.path().join("missing.wasm");
    let cases = [
        (text_file.to_str().unwrap(), "not a WebAssembly component"),
        (core_module.to_str().unwrap(), "core WebAssembly module"),
        (truncated.to_str().unwrap(), "not a WebAssembly component"),
        (NOT_A_TOOL, "does not implement a toolhost world"),
        (missing.to_str().unwrap(), "cannot read"),
    ];
    for (path, reason) in cases {
        for command in ["call", "inspect"] {
            let mut args = vec![command, path];
            if command == "call" {
                args.extend(["--subject", "alice"]);
            }
            let out = toolhost(&args, cache.path());
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {path}: {err}");
            assert!(
                err.contains(path) && err.contains(reason),
                "{command} {path}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn bad_command_lines_exit_2() {
    let cache = tempfile::tempdir().unwrap();
    let out = toolhost(&["call", NOTES_LIST], cache.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--subject"), "{}", stderr(&out));
}

#[test]
fn a_second_load_reads_the_compiled_artifact() {
    let cache = tempfile::tempdir().unwrap();
    let first = toolhost(&["inspect", NOTES_LIST], cache.path());
    assert_eq!(first.status.code(), Some(0));
    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(artifacts[0].extension().is_some_and(|e| e == "cwasm"));
    let modified = std::fs::metadata(&artifacts[0])
        .unwrap()
        .modified()
        .unwrap();
    let second = toolhost(&["inspect", NOTES_LIST], cache.path());
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        std::fs::metadata(&artifacts[0])
            .unwrap()
            .modified()
            .unwrap(),
        modified,
        "not rewritten"
    );
}

#[test]
fn config_check_explains_what_is_wrong_and_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str, extra: &[&str]| {
        let file = dir.path().join("toolhost.toml");
        std::fs::write(&file, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_toolhost"))
            .args(["config", "check"])
            .arg(&file)
            .args(extra)
            .env_remove("TOOLHOST_LISTEN")
            .output()
            .unwrap()
    };
    let valid = check("[limits]\ntimeout_ms = 2000\n", &["--print"]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(stderr(&valid).contains("valid"));
    let printed = String::from_utf8_lossy(&valid.stdout);
    assert!(
        printed.contains("timeout_ms = 2000") && printed.contains("[rate_limit]"),
        "{printed}"
    );
    for (text, key) in [
        ("[limits]\ntimeout_ms = 0\n", "limits.timeout_ms"),
        ("[server]\nlisten_on = \"x\"\n", "listen_on"),
        (
            "[tools.t]\nrate_limit = { per_minute = 5, burst = 0 }\n",
            "tools.t.rate_limit.burst",
        ),
        (
            "[stdio.principal]\nsubject = \"me\"\nrole = [\"x\"]\n",
            "role",
        ),
    ] {
        let out = check(text, &[]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let message = stderr(&out);
        assert!(
            message.contains("invalid") && message.contains(key),
            "{text}: {message}"
        );
    }
}

/// `toolhost call --config` decides as the server does: the operator's
/// `[tools.X] roles` replace the tool's own, with the same refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_applies_the_operators_policy_exactly_as_the_server_does() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let policy = "[tools.notes_create]\nroles = [\"writer\"]\n";
    let config_file = dir.path().join("toolhost.toml");
    std::fs::write(&config_file, policy).unwrap();
    let args = r#"{"title":"t","body":"b"}"#;
    let cli = |subject: &str, roles: &str| {
        let out = toolhost(
            &[
                "call",
                NOTES_CREATE,
                "--subject",
                subject,
                "--roles",
                roles,
                "--config",
                config_file.to_str().unwrap(),
                "--args",
                args,
            ],
            cache.path(),
        );
        (out.status.code(), json(&out))
    };
    let (code, member) = cli("alice", "member");
    assert_eq!(
        code,
        Some(1),
        "a member is refused by the override: {member}"
    );
    let (code, writer) = cli("wendy", "writer");
    assert_eq!(code, Some(0), "a writer is allowed: {writer}");
    assert_eq!(writer["isError"], false);

    // The same configuration, served over HTTP.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(NOTES_CREATE, plugins.join("notes_create.wasm")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = toolhost::Config::from_toml(policy, &config_file).unwrap();
    config.server.listen = addr;
    config.plugins.dir = plugins;
    config.plugins.watch = false;
    config.storage.data_dir = dir.path().join("data");
    config.dev.enabled = true;
    let host = Arc::new(toolhost::Host::start(config).await.unwrap());
    let serving = host.clone();
    let task = tokio::spawn(async move { serving.serve(listener).await });
    let url = format!("http://{addr}/mcp");
    let over_http = |subject: &'static str, role: &'static str| {
        let token = host
            .dev_issuer()
            .unwrap()
            .token(&toolhost::auth::dev::TokenRequest {
                subject: subject.into(),
                roles: vec![role.into()],
                scopes: vec![],
                audience: url.clone(),
                ttl: std::time::Duration::from_secs(60),
            })
            .unwrap();
        let url = url.clone();
        async move {
            let body = serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "notes_create", "arguments": {"title": "t", "body": "b"},
                    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                              "io.modelcontextprotocol/clientCapabilities": {}}}
            });
            let text = reqwest::Client::new()
                .post(&url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "notes_create")
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let line = text
                .lines()
                .rev()
                .find_map(|l| {
                    Some(l.strip_prefix("data: ").unwrap_or(l)).filter(|l| l.starts_with('{'))
                })
                .unwrap_or_else(|| panic!("no answer in {text:?}"))
                .to_owned();
            serde_json::from_str::<Value>(&line).unwrap()["result"].clone()
        }
    };
    let http_member = over_http("alice", "member").await;
    let http_writer = over_http("wendy", "writer").await;
    host.shutdown();
    task.abort();
    assert_eq!(http_member["isError"], true);
    assert_eq!(
        http_member["content"], member["content"],
        "the same refusal, word for word"
    );
    assert!(
        member["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("needs one of the roles [writer]"),
        "{member}"
    );
    assert_eq!(http_writer["isError"], false, "{http_writer}");
}

/// `[tools.<name>.config]`: the tool reads its values with `wasi:config`,
/// a secret from the environment included; another tool reads none; the
/// printed configuration names the variable, never the secret.
#[test]
fn a_tool_reads_its_configuration_and_secrets_stay_out_of_the_printout() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let file = dir.path().join("toolhost.toml");
    std::fs::write(
        &file,
        "[tools.multi_config.config]\nunits = \"metric\"\napi_key = { value_env = \"MULTI_CONFIG_KEY\" }\n\
         [tools.multi_echo.config]\nleaked = \"another tool's\"\n",
    )
    .unwrap();
    let run = |args: &[&str], secret: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_toolhost"));
        cmd.args(args).env_remove("MULTI_CONFIG_KEY");
        if let Some(secret) = secret {
            cmd.env("MULTI_CONFIG_KEY", secret);
        }
        cmd.output().unwrap()
    };
    let call = |key: &str| {
        let args = format!("{{\"key\":\"{key}\"}}");
        let out = run(
            &[
                "call",
                MULTI_TOOLS,
                "--subject",
                "alice",
                "--tool",
                "multi_config",
                "--config",
                file.to_str().unwrap(),
                "--args",
                &args,
                "--cache",
                cache.path().to_str().unwrap(),
            ],
            Some("s3cret-value"),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)["structuredContent"]["value"].clone()
    };
    assert_eq!(call("units"), "metric");
    assert_eq!(call("api_key"), "s3cret-value");
    assert_eq!(call("other"), Value::Null);
    assert_eq!(call("leaked"), Value::Null, "only its own values");

    let printed = run(
        &["config", "check", file.to_str().unwrap(), "--print"],
        Some("s3cret-value"),
    );
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(
        text.contains("MULTI_CONFIG_KEY") && text.contains("metric"),
        "{text}"
    );
    assert!(!text.contains("s3cret-value"), "{text}");

    // An unset secret stops the start, named.
    let unset = run(&["config", "check", file.to_str().unwrap()], None);
    assert_eq!(unset.status.code(), Some(2));
    let message = stderr(&unset);
    assert!(
        message.contains("tools.multi_config.config.api_key.value_env")
            && message.contains("MULTI_CONFIG_KEY is not set"),
        "{message}"
    );
}
