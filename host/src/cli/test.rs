//! `toolhost test [DIR | FILE.wasm]`: run the declarative cases of
//! `tests.toml` next to a tool, in isolation: no server, no authentication,
//! a fresh memory store per case.
//!
//! A case names the caller, the tool and its arguments, the store's contents
//! before the call, and what to expect: a structured output that contains
//! the given fields, a text that contains the given words, an error of a
//! kind whose message contains the given words, the store's contents after.
//!
//! Given a tool project (a `Cargo.toml` or a `build.sh`, see
//! [`super::project`]), it first builds the component when a source is
//! newer (cargo decides for Rust), and tests what the build made.
//!
//! ```toml
//! component = "hello.wasm"          # a kit project's build output; or any component
//!
//! [[case]]
//! name = "greets the caller"
//! tool = "hello"                    # needed when the component has several
//! caller = { subject = "alice", roles = ["member"] }
//! args = { name = "Ada" }
//! store.notes."note:1" = { title = "Pay rent" }   # bucket, key, JSON value
//!
//! [case.expect]
//! structured = { greeting = "Hello, Ada!" }
//! text = "Hello"
//! # error = { kind = "not_found", message = "no note" }
//! # store.notes."note:1" = false    # false: the key is gone
//! ```
//!
//! A tool that calls an API (`[apis.<name>]`) gets a loopback mock server
//! in its place (see [`toolhost::testing::http`]); a case declares its answers and may
//! expect the requests made, in order. A request nobody declared fails the
//! case:
//!
//! ```toml
//! [[case.http]]
//! api = "app"
//! method = "GET"                    # the default
//! path = "/projects"                # under the API's URL
//! status = 200                      # the default
//! json = { projects = [] }          # or body = "text"; headers = { ... }
//!
//! [case.expect]
//! requests = [{ api = "app", method = "GET", path = "/projects" }]
//! # a request's JSON body: { ..., json = { name = "Launch" } }
//! ```

use super::project::Project;
use super::{CacheArgs, EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, runtime};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toolhost::Plugin;
use toolhost::runtime::{CallError, CallLinks, Limits, ToolError};
use toolhost::storage::Scope;
use toolhost::testing::http::{HttpMocks, Mock};
use toolhost::{Principal, Runtime};

/// Arguments of `toolhost test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// A tool project (with `tests.toml`), or a component whose `tests.toml`
    /// is beside it [default: the current directory].
    target: Option<PathBuf>,
    /// The component to test, instead of the project's build (nothing is
    /// built) or the one `tests.toml` names.
    #[arg(long, value_name = "FILE.wasm")]
    component: Option<PathBuf>,
    /// Test the component as it is, without building the project first.
    #[arg(long)]
    no_build: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

/// A `tests.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    /// The component, relative to the file.
    component: Option<PathBuf>,
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    tool: Option<String>,
    #[serde(default)]
    caller: Caller,
    #[serde(default = "empty_object")]
    args: toml::Value,
    /// Bucket -> key -> JSON value, before the call.
    #[serde(default)]
    store: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// The answers of the APIs the tool calls.
    #[serde(default)]
    http: Vec<Mock>,
    #[serde(default)]
    expect: Expect,
}

fn empty_object() -> toml::Value {
    toml::Value::Table(toml::Table::new())
}

/// Who calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Caller {
    #[serde(default = "default_subject")]
    subject: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl Default for Caller {
    fn default() -> Self {
        Caller {
            subject: default_subject(),
            roles: Vec::new(),
            scopes: Vec::new(),
        }
    }
}

fn default_subject() -> String {
    "test-user".into()
}

/// What a case expects.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Fields the structured output has (objects compared as subsets).
    structured: Option<toml::Value>,
    /// Words the text content contains.
    text: Option<String>,
    /// The call fails.
    error: Option<ExpectError>,
    /// Bucket -> key -> JSON value after the call; `false` for "absent".
    #[serde(default)]
    store: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// The requests made, in order (absent: any the mocks answer).
    requests: Option<Vec<ExpectRequest>>,
}

/// A request a case expects the tool to make.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectRequest {
    api: String,
    #[serde(default = "get")]
    method: String,
    /// The path under the API's URL, with the query if any.
    path: String,
    /// Fields the request's JSON body has.
    json: Option<toml::Value>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectError {
    /// `invalid_input`, `forbidden`, `not_found`, `failed`, or a host
    /// verdict (`invalid_arguments`, `timeout`, `trap`, ...).
    kind: Option<String>,
    /// Words the message contains.
    message: Option<String>,
}

pub fn run(args: TestArgs) -> u8 {
    match test(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toolhost test: {e}");
            EXIT_USAGE
        }
    }
}

/// Build `project` when its sources are newer than its component: the
/// component.
fn build(project: &Project) -> Result<PathBuf, String> {
    if let Some(built) = project.fresh() {
        return Ok(built);
    }
    eprintln!("building {} ({})", project.name(), project.language());
    let started = std::time::Instant::now();
    let wasm = project.build()?;
    eprintln!(
        "built {} in {:.1} s",
        wasm.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(wasm)
}

/// The `tests.toml` and the component for `target`.
fn locate(target: &Path) -> Result<(PathBuf, Option<PathBuf>), String> {
    if target.extension().is_some_and(|e| e == "wasm") {
        let dir = target.parent().unwrap_or(Path::new("."));
        return Ok((dir.join("tests.toml"), Some(target.to_path_buf())));
    }
    Ok((target.join("tests.toml"), None))
}

fn test(args: &TestArgs) -> Result<u8, String> {
    let target = args.target.clone().unwrap_or_else(|| PathBuf::from("."));
    let (file, beside) = locate(&target)?;
    let mut given = args.component.clone().or(beside);
    if given.is_none()
        && !args.no_build
        && let Some(project) = Project::open(&target)?
    {
        given = Some(build(&project)?);
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let suite: Suite =
        toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let component = match (given, &suite.component) {
        (Some(wasm), _) => wasm,
        (None, Some(path)) => base.join(path),
        (None, None) => {
            return Err(format!(
                "{}: say which component to test (component = \"NAME.wasm\")",
                file.display()
            ));
        }
    };
    if suite.cases.is_empty() {
        return Err(format!("{} has no [[case]]", file.display()));
    }
    let bytes = std::fs::read(&component)
        .map_err(|e| format!("cannot read {}: {e}", component.display()))?;
    let apis = Apis::for_suite(
        &suite,
        &runtime(&args.cache, None, Default::default())?,
        &component,
        &bytes,
    )?;
    let mut failed = 0;
    for case in &suite.cases {
        // A fresh memory store per case; the compiled artifact is cached.
        let runtime = runtime(&args.cache, None, Default::default())?;
        match run_case(&runtime, &apis, &component, &bytes, case) {
            Ok(()) => println!("ok    {}", case.name),
            Err(diff) => {
                failed += 1;
                println!("FAIL  {}\n{}", case.name, indent(&diff));
            }
        }
    }
    let passed = suite.cases.len() - failed;
    println!("{passed} passed, {failed} failed ({})", component.display());
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_TOOL_ERROR
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Run one case: `Err` says what differed.
fn run_case(
    runtime: &Runtime,
    apis: &Apis,
    path: &Path,
    bytes: &[u8],
    case: &Case,
) -> Result<(), String> {
    let component = runtime
        .load_component(path, bytes)
        .map_err(|e| format!("the component does not load: {e}"))?;
    let tool =
        match &case.tool {
            Some(name) => component
                .tool(name)
                .ok_or_else(|| format!("the component serves no tool {name:?}"))?,
            None => {
                let mut tools = component.tools();
                match (tools.next(), tools.next()) {
                    (Some(only), None) => only,
                    _ => return Err(
                        "say which tool (tool = \"NAME\"): the component serves several or none"
                            .into(),
                    ),
                }
            }
        };
    let who = Principal {
        scopes: case.caller.scopes.clone(),
        ..Principal::new(
            &case.caller.subject,
            case.caller.roles.iter().map(String::as_str),
        )
    };
    let store = runtime.store();
    for (bucket, entries) in &case.store {
        let scope = Scope::new(bucket, &who.subject).map_err(|e| e.to_string())?;
        for (key, value) in entries {
            let bytes = serde_json::to_vec(&json(value)).unwrap_or_default();
            store.put(&scope, key, &bytes).map_err(|e| e.to_string())?;
        }
    }
    let links = apis.links(&tool, &who, runtime.limits(), &case.http)?;
    let outcome = tool.call_with_limits(&who, "test", &json(&case.args), runtime.limits(), &links);
    let mut diffs = apis.check(&case.expect.requests);
    match (&outcome, &case.expect.error) {
        (Ok(output), None) => {
            if let Some(want) = &case.expect.structured {
                let want = json(want);
                let got = output.structured.clone().unwrap_or(Value::Null);
                if !contains(&got, &want) {
                    diffs.push(format!(
                        "structured output:\n  expected to contain {want}\n  got {got}"
                    ));
                }
            }
            if let Some(want) = &case.expect.text {
                let got = (output.content.iter())
                    .filter_map(|c| match c {
                        toolhost::runtime::Content::Text(t) => Some(t.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                if !got.contains(want.as_str()) {
                    diffs.push(format!(
                        "text:\n  expected to contain {want:?}\n  got {got:?}"
                    ));
                }
            }
        }
        (Ok(output), Some(_)) => diffs.push(format!(
            "expected an error, the call succeeded with {}",
            output.structured.clone().unwrap_or(Value::Null)
        )),
        (Err(e), None) => diffs.push(format!("the call failed: {e}")),
        (Err(e), Some(want)) => {
            let (kind, message) = error_of(e);
            if want.kind.as_ref().is_some_and(|k| *k != kind) {
                diffs.push(format!(
                    "error kind:\n  expected {:?}\n  got {kind:?} ({message})",
                    want.kind.as_deref().unwrap_or_default()
                ));
            }
            if let Some(words) = &want.message
                && !message.contains(words.as_str())
            {
                diffs.push(format!(
                    "error message:\n  expected to contain {words:?}\n  got {message:?}"
                ));
            }
        }
    }
    for (bucket, entries) in &case.expect.store {
        let scope = Scope::new(bucket, &who.subject).map_err(|e| e.to_string())?;
        for (key, want) in entries {
            let got = store
                .get(&scope, key)
                .map_err(|e| e.to_string())?
                .map(|b| serde_json::from_slice(&b).unwrap_or(Value::Null));
            let ok = match (want, &got) {
                (toml::Value::Boolean(false), None) => true,
                (toml::Value::Boolean(false), Some(_)) => false,
                (want, Some(got)) => contains(got, &json(want)),
                (_, None) => false,
            };
            if !ok {
                diffs.push(format!(
                    "store {bucket}/{key}:\n  expected {}\n  got {}",
                    if matches!(want, toml::Value::Boolean(false)) {
                        "no value".to_owned()
                    } else {
                        json(want).to_string()
                    },
                    got.map_or("no value".to_owned(), |v| v.to_string())
                ));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

/// The kind and message of a failed call.
fn error_of(e: &CallError) -> (String, String) {
    match e {
        CallError::Tool { error, .. } => {
            let (kind, message) = match error {
                ToolError::InvalidInput(m) => ("invalid_input", m),
                ToolError::Forbidden(m) => ("forbidden", m),
                ToolError::NotFound(m) => ("not_found", m),
                ToolError::Failed(m) => ("failed", m),
                _ => ("failed", &String::new()),
            };
            (kind.to_owned(), message.clone())
        }
        other => (other.kind().to_owned(), other.to_string()),
    }
}

/// Whether `got` contains `want`: objects by their fields, arrays of the
/// same length element by element (recursively), everything else equal.
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => want
            .iter()
            .all(|(k, w)| got.get(k).is_some_and(|g| contains(g, w))),
        (Value::Array(got), Value::Array(want)) => {
            got.len() == want.len() && got.iter().zip(want).all(|(g, w)| contains(g, w))
        }
        (got, want) => got == want,
    }
}

/// The APIs of a suite, served by the HTTP mocks.
struct Apis(Option<HttpMocks>);

impl Apis {
    /// Every API a case mocks or a tool of the component expects, each
    /// under the mock server.
    fn for_suite(
        suite: &Suite,
        runtime: &Runtime,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Apis, String> {
        let mut names: Vec<String> = Vec::new();
        for case in &suite.cases {
            for mock in &case.http {
                mock.check()
                    .map_err(|e| format!("case {:?}: {e}", case.name))?;
                names.push(mock.api.clone());
            }
            for want in case.expect.requests.iter().flatten() {
                names.push(want.api.clone());
            }
        }
        if let Ok(component) = runtime.load_component(path, bytes) {
            for tool in component.tools() {
                names.extend(tool.info().apis.iter().cloned());
            }
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(Apis(None));
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(Apis(Some(HttpMocks::start(&names)?)))
    }

    /// What a call of `tool` may reach: every API, answered by `mocks`.
    fn links(
        &self,
        tool: &Plugin,
        who: &Principal,
        limits: &Limits,
        mocks: &[Mock],
    ) -> Result<CallLinks, String> {
        let Some(http) = &self.0 else {
            return Ok(CallLinks::default());
        };
        http.answer(mocks)?;
        Ok(http.links(tool, who, limits))
    }

    /// Requests nobody declared, and the expected ones not made in order.
    fn check(&self, want: &Option<Vec<ExpectRequest>>) -> Vec<String> {
        let seen = self.0.as_ref().map(HttpMocks::requests).unwrap_or_default();
        let mut diffs: Vec<String> = (seen.iter())
            .filter(|s| !s.expected)
            .map(|s| format!("unexpected request {s}: no [[case.http]] answers it"))
            .collect();
        if let Some(want) = want {
            let want: Vec<String> = (want.iter())
                .map(|w| format!("{} {} {}", w.method.to_ascii_uppercase(), w.api, w.path))
                .collect();
            let got: Vec<String> = seen.iter().map(ToString::to_string).collect();
            if want != got {
                diffs.push(format!("requests:\n  expected {want:?}\n  got {got:?}"));
            }
        }
        for (want, seen) in want.iter().flatten().zip(&seen) {
            if let Some(fields) = &want.json {
                let got = serde_json::from_slice::<Value>(&seen.body).unwrap_or(Value::Null);
                if !contains(&got, &json(fields)) {
                    diffs.push(format!(
                        "body of {seen}:\n  expected to contain {}\n  got {}",
                        json(fields),
                        String::from_utf8_lossy(&seen.body)
                    ));
                }
            }
        }
        diffs
    }
}
