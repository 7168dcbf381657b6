//! A loaded plugin version: compiled, linked, described, ready to call.

use super::bindings::{v1, v2};
use super::cache::{CacheOutcome, content_hash};
use super::error::{CallError, LoadError, ToolError};
use super::host_state::HostState;
use super::output::{Content, EmbeddedResource, ResourceBody, ResourceLink, ToolOutput};
use super::schema::ObjectSchema;
use super::signals::{CallLinks, Cancelled};
use super::{EPOCH_TICK, Limits, Shared};
use crate::principal::Principal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Store, Trap};

/// What a tool says about itself, validated by the host.
#[derive(Debug)]
pub struct ToolInfo {
    /// Unique name, snake_case.
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What the tool does.
    pub description: String,
    /// Schema of the arguments object.
    pub input_schema: ObjectSchema,
    /// Schema of the structured result, if declared.
    pub output_schema: Option<ObjectSchema>,
    /// Roles allowed by default (any of them); empty means any caller.
    pub roles: Vec<String>,
    /// Behaviour hints for clients (MCP tool annotations).
    pub annotations: Annotations,
    /// The APIs (`[apis.<name>]`) the tool says it calls; the host warns
    /// when one is not granted to it. Declaring one grants nothing.
    pub apis: Vec<String>,
}

/// Hints about a tool's behaviour, passed to clients as MCP tool
/// annotations; `None` leaves the client's default. Hints only: the host's
/// policy never relies on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Annotations {
    /// The tool changes nothing (`readOnlyHint`).
    pub read_only: Option<bool>,
    /// A change it makes may destroy data (`destructiveHint`).
    pub destructive: Option<bool>,
    /// Repeating a call with the same arguments changes nothing more
    /// (`idempotentHint`).
    pub idempotent: Option<bool>,
    /// It reaches beyond the caller's own data (`openWorldHint`).
    pub open_world: Option<bool>,
}

impl Annotations {
    /// True when no hint is set.
    pub fn is_empty(&self) -> bool {
        *self == Annotations::default()
    }
}

/// Which version of the contract a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Contract {
    /// `toolhost:plugin/tool@0.1.0`: one tool.
    V0_1,
    /// `toolhost:plugin/tools@0.2.0`: any number of tools.
    V0_2,
}

impl Contract {
    /// The world's full name.
    pub fn world(self) -> &'static str {
        match self {
            Contract::V0_1 => "toolhost:plugin/tool@0.1.0",
            Contract::V0_2 => "toolhost:plugin/tools@0.2.0",
        }
    }
}

/// How a load went, for logs and benchmarks.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Whether the compiled artifact came from the cache.
    pub cache: CacheOutcome,
    /// Time to obtain the compiled component (compile or cache read).
    pub compile: Duration,
    /// Time for the whole load, including link and `describe`.
    pub total: Duration,
}

/// One tool of a loaded component version (a 0.1 component has one tool, a
/// 0.2 component any number). Cheap to clone; a call in progress keeps its
/// version alive even if a newer one replaces it.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
    /// Which of the component's tools this is.
    index: usize,
}

/// The component's exports, prepared once per loaded version.
enum Pre {
    V0_1(v1::ToolPre<HostState>),
    V0_2(v2::ToolsPre<HostState>),
}

struct Inner {
    tools: Vec<ToolInfo>,
    hash: String,
    path: PathBuf,
    imports: Vec<String>,
    pre: Pre,
    shared: Arc<Shared>,
    report: LoadReport,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name())
            .field("version", &self.version())
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

const WASM_MAGIC: &[u8] = b"\0asm";
const COMPONENT_LAYER: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    let reason = if bytes.len() < 8 || !bytes.starts_with(WASM_MAGIC) {
        "the file does not start with the WebAssembly header"
    } else if bytes[4..8] == [1, 0, 0, 0] {
        "it is a core WebAssembly module; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    } else if bytes[4..8] != COMPONENT_LAYER {
        "unknown WebAssembly version or layer"
    } else {
        return Ok(());
    };
    Err(LoadError::NotAComponent {
        path: path.to_path_buf(),
        reason: reason.into(),
    })
}

pub(super) fn load(shared: &Arc<Shared>, path: &Path, bytes: &[u8]) -> Result<Plugin, LoadError> {
    let started = Instant::now();
    check_header(path, bytes)?;
    let hash = content_hash(bytes);
    let (component, cache) = match &shared.cache {
        Some(cache) => cache.load_or_compile(&shared.engine, &hash, bytes),
        None => Component::new(&shared.engine, bytes).map(|c| (c, CacheOutcome::CompiledUncached)),
    }
    .map_err(|e| LoadError::NotAComponent {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    })?;
    let compile = started.elapsed();
    let imports = component
        .component_type()
        .imports(&shared.engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let instance_pre = shared
        .linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Link {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
    let pre = match v2::ToolsPre::new(instance_pre.clone()) {
        Ok(pre) => Pre::V0_2(pre),
        Err(v2_error) => match v1::ToolPre::new(instance_pre) {
            Ok(pre) => Pre::V0_1(pre),
            Err(v1_error) => {
                return Err(LoadError::WrongWorld {
                    path: path.to_path_buf(),
                    reason: format!("as 0.2: {v2_error:#}; as 0.1: {v1_error:#}"),
                });
            }
        },
    };
    let described = describe(shared, &pre, &hash).map_err(|reason| LoadError::Describe {
        path: path.to_path_buf(),
        reason,
    })?;
    let tools = validate_component(described, path).map_err(|reason| LoadError::InvalidInfo {
        path: path.to_path_buf(),
        reason,
    })?;
    let report = LoadReport {
        cache,
        compile,
        total: started.elapsed(),
    };
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    tracing::debug!(
        tools = ?names, version = %&hash[..12], path = %path.display(),
        cache = ?report.cache, compile_ms = report.compile.as_secs_f64() * 1e3,
        "plugin loaded"
    );
    Ok(Plugin {
        inner: Arc::new(Inner {
            tools,
            hash,
            path: path.to_path_buf(),
            imports,
            pre,
            shared: shared.clone(),
            report,
        }),
        index: 0,
    })
}

fn new_store(
    shared: &Shared,
    limits: &Limits,
    tool: Arc<str>,
    request_id: String,
    subject: Option<String>,
    links: CallLinks,
) -> Store<HostState> {
    let CallLinks {
        grant,
        cancel,
        events,
    } = links;
    let state = HostState::new(
        tool,
        request_id,
        subject,
        shared.store.clone(),
        limits,
        grant,
        events,
    );
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|s| &mut s.limiter);
    // Every tick the running instance checks its cancel flag and deadline.
    let deadline = limits.timeout().as_millis() / EPOCH_TICK.as_millis() + 1;
    let deadline = u64::try_from(deadline).unwrap_or(u64::MAX);
    let mut ticks = 0u64;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if cancel.is_cancelled() {
            return Err(wasmtime::Error::new(Cancelled));
        }
        ticks += 1;
        if ticks >= deadline {
            return Err(wasmtime::Error::new(Trap::Interrupt));
        }
        Ok(wasmtime::UpdateDeadline::Continue(1))
    });
    store
}

/// The call context for `$principal` in the shape of the contract module
/// `$types` (the versions' records have the same fields).
macro_rules! call_context {
    ($types:path, $principal:expr, $request_id:expr) => {{
        use $types as t;
        let p = $principal;
        t::CallContext {
            principal: t::Principal {
                subject: p.subject.clone(),
                roles: p.roles.clone(),
                scopes: p.scopes.clone(),
                client_id: p.client_id.clone(),
                org_id: p.org_id.clone(),
                email: p.email.clone(),
            },
            request_id: $request_id.to_owned(),
        }
    }};
}

/// What `describe` said, in the contract's own shape.
enum Described {
    V0_1(v1::types::ToolInfo),
    V0_2(v2::types::ComponentInfo),
}

/// Run `describe` once; the error is a trap or a failed instantiation.
fn describe(shared: &Shared, pre: &Pre, hash: &str) -> Result<Described, String> {
    let mut store = new_store(
        shared,
        &shared.limits,
        Arc::from("(describe)"),
        format!("load-{}", &hash[..12]),
        None,
        CallLinks::default(),
    );
    let trap = |e: wasmtime::Error| format!("{e:#}");
    let described = match pre {
        Pre::V0_1(pre) => {
            let tool = pre.instantiate(&mut store).map_err(trap)?;
            Described::V0_1(tool.call_describe(&mut store).map_err(trap)?)
        }
        Pre::V0_2(pre) => {
            let tools = pre.instantiate(&mut store).map_err(trap)?;
            Described::V0_2(tools.call_describe(&mut store).map_err(trap)?)
        }
    };
    Ok(described)
}

/// What the extensions of `owner` say: every value must be JSON; returns
/// the `apis` it expects (validated names). The keys this host reads: of a
/// tool, `apis` (a JSON array of the API names it expects to be granted).
/// Others are ignored with a warning, so a component written for a newer
/// 0.2.x still loads.
fn read_extensions(
    owner: &str,
    extensions: &[v2::types::Extension],
    path: &Path,
) -> Result<Vec<String>, String> {
    let mut apis = Vec::new();
    for ext in extensions {
        let value = serde_json::from_str::<Value>(&ext.value)
            .map_err(|e| format!("{owner}: extension {:?} is not JSON: {e}", ext.key))?;
        match ext.key.as_str() {
            "apis" => {
                let names: Vec<String> = serde_json::from_value(value).map_err(|_| {
                    format!("{owner}: extension \"apis\" must be an array of API names")
                })?;
                if let Some(bad) = names.iter().find(|n| !crate::outbound::is_api_name(n)) {
                    return Err(format!(
                        "{owner}: {bad:?} is not an API name: {}",
                        crate::outbound::API_NAME_RULE
                    ));
                }
                apis.extend(names);
            }
            _ => tracing::warn!(
                path = %path.display(), owner, key = ?ext.key,
                "the component declares an extension this host does not know; it is ignored"
            ),
        }
    }
    Ok(apis)
}

/// Validate every tool of a description: names valid and unique within the
/// component, at least one tool.
fn validate_component(described: Described, path: &Path) -> Result<Vec<ToolInfo>, String> {
    let raw = match described {
        Described::V0_1(info) => return Ok(vec![validate_info(info.into())?]),
        Described::V0_2(info) => info,
    };
    read_extensions("the component", &raw.extensions, path)?;
    if raw.tools.is_empty() {
        return Err("the component describes no tool".into());
    }
    let mut tools: Vec<ToolInfo> = Vec::with_capacity(raw.tools.len());
    for tool in raw.tools {
        let apis = read_extensions(&tool.name, &tool.extensions, path)?;
        let mut info = validate_info(tool.into())?;
        info.apis = apis;
        if tools.iter().any(|t| t.name == info.name) {
            return Err(format!(
                "the tool name {:?} is declared twice in the component",
                info.name
            ));
        }
        tools.push(info);
    }
    Ok(tools)
}

/// What both contract versions say about a tool, before validation.
struct RawInfo {
    name: String,
    title: Option<String>,
    description: String,
    input_schema: String,
    output_schema: Option<String>,
    roles: Vec<String>,
    annotations: Annotations,
}

impl From<v1::types::ToolInfo> for RawInfo {
    fn from(i: v1::types::ToolInfo) -> Self {
        RawInfo {
            name: i.name,
            title: i.title,
            description: i.description,
            input_schema: i.input_schema,
            output_schema: i.output_schema,
            roles: i.roles,
            annotations: Annotations::default(),
        }
    }
}

impl From<v2::types::ToolInfo> for RawInfo {
    fn from(i: v2::types::ToolInfo) -> Self {
        let a = i.annotations;
        RawInfo {
            name: i.name,
            title: i.title,
            description: i.description,
            input_schema: i.input_schema,
            output_schema: i.output_schema,
            roles: i.roles,
            annotations: Annotations {
                read_only: a.read_only,
                destructive: a.destructive,
                idempotent: a.idempotent,
                open_world: a.open_world,
            },
        }
    }
}

/// The tool-name rule, the same in the host and in every SDK: 1 to 64 of
/// ASCII `a-z`, `0-9` and `_`, starting with a letter.
pub fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate_info(raw: RawInfo) -> Result<ToolInfo, String> {
    if !is_tool_name(&raw.name) {
        return Err(format!(
            "name {:?} must be snake_case: 1 to 64 of a-z, 0-9, '_', starting with a letter",
            raw.name
        ));
    }
    if raw.description.trim().is_empty() {
        return Err(format!("{}: description is empty", raw.name));
    }
    let input_schema = ObjectSchema::compile(&raw.input_schema)
        .map_err(|e| format!("{}: input schema: {e}", raw.name))?;
    let output_schema = raw
        .output_schema
        .as_deref()
        .map(ObjectSchema::compile)
        .transpose()
        .map_err(|e| format!("{}: output schema: {e}", raw.name))?;
    if let Some(bad) = raw
        .roles
        .iter()
        .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
    {
        return Err(format!(
            "{}: role {bad:?} is empty or has white space",
            raw.name
        ));
    }
    Ok(ToolInfo {
        name: raw.name,
        title: raw.title,
        description: raw.description,
        input_schema,
        output_schema,
        roles: raw.roles,
        annotations: raw.annotations,
        apis: Vec::new(),
    })
}

impl Plugin {
    /// The validated description.
    pub fn info(&self) -> &ToolInfo {
        &self.inner.tools[self.index]
    }

    /// The tool name.
    pub fn name(&self) -> &str {
        &self.info().name
    }

    /// Every tool of this component version, in the order `describe` gave
    /// them (this one among them).
    pub fn component_tools(&self) -> impl Iterator<Item = Plugin> + '_ {
        (0..self.inner.tools.len()).map(|index| Plugin {
            inner: self.inner.clone(),
            index,
        })
    }

    /// The tool of this component version called `name`.
    pub fn component_tool(&self, name: &str) -> Option<Plugin> {
        self.component_tools().find(|t| t.name() == name)
    }

    /// The contract version the component implements.
    pub fn contract(&self) -> Contract {
        match self.inner.pre {
            Pre::V0_1(_) => Contract::V0_1,
            Pre::V0_2(_) => Contract::V0_2,
        }
    }

    /// The SHA-256 of the component, hex: this version's identity.
    pub fn content_hash(&self) -> &str {
        &self.inner.hash
    }

    /// A short form of the content hash for messages.
    pub fn version(&self) -> &str {
        &self.inner.hash[..12]
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The names of the interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// How the load went.
    pub fn load_report(&self) -> &LoadReport {
        &self.inner.report
    }

    /// Check `arguments` against the input schema without running the tool.
    /// Absent arguments (`null`) count as an empty object.
    pub fn check_arguments(&self, arguments: &Value) -> Result<(), CallError> {
        let empty = Value::Object(Default::default());
        let arguments = if arguments.is_null() {
            &empty
        } else {
            arguments
        };
        let violations = if arguments.is_object() {
            self.info().input_schema.violations(arguments)
        } else {
            vec!["/: arguments must be a JSON object".to_owned()]
        };
        if violations.is_empty() {
            Ok(())
        } else {
            Err(CallError::InvalidArguments {
                tool: self.name().to_owned(),
                violations,
            })
        }
    }

    /// Run one call for `principal`: validate `arguments`, then a fresh
    /// instance runs the tool under the runtime's limits and is dropped.
    /// Blocking: run it on a thread that may block (e.g. `spawn_blocking`).
    pub fn call(
        &self,
        principal: &Principal,
        request_id: &str,
        arguments: &Value,
    ) -> Result<ToolOutput, CallError> {
        self.call_with_limits(
            principal,
            request_id,
            arguments,
            &self.inner.shared.limits,
            &CallLinks::default(),
        )
    }

    /// [`Plugin::call`] under `limits` instead of the runtime's (an
    /// operator's per-tool limits), reaching the APIs of `links.grant` over
    /// `wasi:http`, stopped when `links.cancel` is raised, its
    /// notifications going to `links.events`.
    /// Memory and table limits above the runtime's pool ceiling are capped
    /// by the pool.
    pub fn call_with_limits(
        &self,
        principal: &Principal,
        request_id: &str,
        arguments: &Value,
        limits: &Limits,
        links: &CallLinks,
    ) -> Result<ToolOutput, CallError> {
        self.check_arguments(arguments)?;
        let args_text = if arguments.is_null() {
            "{}".to_owned()
        } else {
            arguments.to_string()
        };
        let inner = &*self.inner;
        let tool: Arc<str> = Arc::from(self.name());
        let mut store = new_store(
            &inner.shared,
            limits,
            tool,
            request_id.to_owned(),
            Some(principal.subject.clone()),
            links.clone(),
        );
        let instantiating = Instant::now();
        let outcome = match &inner.pre {
            Pre::V0_1(pre) => {
                let instance = pre.instantiate(&mut store);
                self.record_instantiate(instantiating);
                let ctx = call_context!(v1::types, principal, request_id);
                self.instantiated(instance).and_then(|instance| {
                    let result = instance.call_call(&mut store, &ctx, &args_text);
                    self.returned(result, &store, limits)
                        .map(|r| r.map(Output::V0_1).map_err(ErrorOf::V0_1))
                })
            }
            Pre::V0_2(pre) => {
                let instance = pre.instantiate(&mut store);
                self.record_instantiate(instantiating);
                let ctx = call_context!(v2::types, principal, request_id);
                self.instantiated(instance).and_then(|instance| {
                    let result = instance.call_call(&mut store, &ctx, self.name(), &args_text);
                    self.returned(result, &store, limits)
                        .map(|r| r.map(Output::V0_2).map_err(ErrorOf::V0_2))
                })
            }
        };
        self.flush_output(store.data(), request_id);
        match outcome? {
            Ok(out) => self.accept_output(out, limits),
            Err(e) => Err(CallError::Tool {
                tool: self.name().to_owned(),
                error: e.into(),
            }),
        }
    }

    fn record_instantiate(&self, started: Instant) {
        metrics::histogram!("toolhost_instantiate_seconds", "tool" => self.name().to_owned())
            .record(started.elapsed().as_secs_f64());
    }

    fn instantiated<I>(&self, instance: wasmtime::Result<I>) -> Result<I, CallError> {
        instance.map_err(|e| CallError::Instantiate {
            tool: self.name().to_owned(),
            reason: format!("{e:#}"),
        })
    }

    fn returned<R>(
        &self,
        result: wasmtime::Result<R>,
        store: &Store<HostState>,
        limits: &Limits,
    ) -> Result<R, CallError> {
        result.map_err(|e| self.classify_trap(e, store.data().limiter.memory_refused, limits))
    }

    fn classify_trap(
        &self,
        error: wasmtime::Error,
        memory_refused: bool,
        limits: &Limits,
    ) -> CallError {
        let tool = self.name().to_owned();
        let version = self.version().to_owned();
        if error.downcast_ref::<Cancelled>().is_some() {
            return CallError::Cancelled { tool, version };
        }
        let trap = error.downcast_ref::<Trap>().copied();
        if trap == Some(Trap::Interrupt) {
            return CallError::Timeout {
                tool,
                version,
                after: limits.timeout(),
            };
        }
        if memory_refused {
            return CallError::MemoryLimit {
                tool,
                version,
                limit_bytes: limits.memory_bytes,
            };
        }
        let kind = match trap {
            Some(Trap::UnreachableCodeReached) => "panic or unreachable code".to_owned(),
            Some(Trap::StackOverflow) => "stack overflow".to_owned(),
            Some(Trap::MemoryOutOfBounds) => "out-of-bounds memory access".to_owned(),
            Some(Trap::IntegerDivisionByZero) => "integer division by zero".to_owned(),
            Some(other) => other.to_string(),
            None => format!("{error:#}"),
        };
        CallError::Trap {
            tool,
            version,
            kind,
        }
    }

    fn accept_output(&self, out: Output, limits: &Limits) -> Result<ToolOutput, CallError> {
        let invalid = |reason: String| CallError::InvalidOutput {
            tool: self.name().to_owned(),
            version: self.version().to_owned(),
            reason,
        };
        let (content, structured, json_bytes) = match out {
            Output::V0_1(out) => (
                out.content.into_iter().map(content_v1).collect::<Vec<_>>(),
                out.structured,
                0,
            ),
            Output::V0_2(out) => {
                let json_bytes = (out.content.iter())
                    .map(|c| match c {
                        v2::types::Content::Mcp(json) => json.len(),
                        _ => 0,
                    })
                    .sum();
                let content = (out.content.into_iter())
                    .map(content_v2)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid)?;
                (content, out.structured, json_bytes)
            }
        };
        let size = ToolOutput::size(&content, structured.as_deref(), json_bytes);
        let max = limits.output_bytes;
        if size > max {
            return Err(invalid(format!(
                "{size} bytes is over the output limit of {max} bytes"
            )));
        }
        let structured = match structured {
            None => None,
            Some(text) => {
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| invalid(format!("structured content is not JSON: {e}")))?;
                if !value.is_object() {
                    return Err(invalid("structured content must be a JSON object".into()));
                }
                if let Some(schema) = &self.info().output_schema {
                    let violations = schema.violations(&value);
                    if !violations.is_empty() {
                        return Err(invalid(format!(
                            "structured content breaks the output schema: {}",
                            violations.join("; ")
                        )));
                    }
                }
                Some(value)
            }
        };
        Ok(ToolOutput {
            content,
            structured,
        })
    }

    fn flush_output(&self, state: &HostState, request_id: &str) {
        let tool = self.name();
        for (stream, pipe) in [
            ("stdout", &state.wasi.stdout),
            ("stderr", &state.wasi.stderr),
        ] {
            let (text, dropped) = pipe.take();
            for line in text.lines().filter(|l| !l.is_empty()) {
                // The tool's output, escaped: it cannot forge log lines.
                tracing::info!(target: "toolhost::plugin", tool, request_id, stream, message = ?line);
            }
            if dropped > 0 {
                tracing::warn!(target: "toolhost::plugin", tool, request_id, stream, dropped_bytes = dropped, "output over the per-call cap was dropped");
            }
        }
        if state.events.dropped > 0 {
            tracing::debug!(target: "toolhost::plugin", tool, request_id, dropped = state.events.dropped, "notifications for the client were dropped (over the per-call cap, not wanted, or not growing)");
        }
        if state.log.dropped() > 0 {
            tracing::warn!(target: "toolhost::plugin", tool, request_id, dropped_lines = state.log.dropped(), "log lines over the per-call cap were dropped");
        }
    }
}

/// A result in the contract's own shape.
enum Output {
    V0_1(v1::types::ToolOutput),
    V0_2(v2::types::ToolOutput),
}

/// A tool's own error in the contract's own shape.
enum ErrorOf {
    V0_1(v1::types::ToolError),
    V0_2(v2::types::ToolError),
}

impl From<ErrorOf> for ToolError {
    fn from(e: ErrorOf) -> Self {
        use v1::types::ToolError as E1;
        use v2::types::ToolError as E2;
        match e {
            ErrorOf::V0_1(E1::InvalidInput(m)) | ErrorOf::V0_2(E2::InvalidInput(m)) => {
                ToolError::InvalidInput(m)
            }
            ErrorOf::V0_1(E1::Forbidden(m)) | ErrorOf::V0_2(E2::Forbidden(m)) => {
                ToolError::Forbidden(m)
            }
            ErrorOf::V0_1(E1::NotFound(m)) | ErrorOf::V0_2(E2::NotFound(m)) => {
                ToolError::NotFound(m)
            }
            ErrorOf::V0_1(E1::Failed(m)) | ErrorOf::V0_2(E2::Failed(m)) => ToolError::Failed(m),
        }
    }
}

fn content_v1(c: v1::types::Content) -> Content {
    match c {
        v1::types::Content::Text(t) => Content::Text(t),
        v1::types::Content::Image(i) => Content::Image {
            data: i.data,
            mime_type: i.mime_type,
        },
    }
}

/// The MCP content kinds a JSON block (the `mcp` case) may have.
const MCP_CONTENT_TYPES: &[&str] = &["text", "image", "audio", "resource", "resource_link"];

fn content_v2(c: v2::types::Content) -> Result<Content, String> {
    use v2::types::Content as C;
    Ok(match c {
        C::Text(t) => Content::Text(t),
        C::Image(m) => Content::Image {
            data: m.data,
            mime_type: m.mime_type,
        },
        C::Audio(m) => Content::Audio {
            data: m.data,
            mime_type: m.mime_type,
        },
        C::ResourceLink(l) => Content::ResourceLink(ResourceLink {
            uri: l.uri,
            name: l.name,
            title: l.title,
            description: l.description,
            mime_type: l.mime_type,
        }),
        C::Embedded(r) => Content::Resource(EmbeddedResource {
            uri: r.uri,
            mime_type: r.mime_type,
            body: match r.body {
                v2::types::ResourceBody::Text(t) => ResourceBody::Text(t),
                v2::types::ResourceBody::Blob(b) => ResourceBody::Blob(b),
            },
        }),
        C::Mcp(json) => {
            let value: Value = serde_json::from_str(&json)
                .map_err(|e| format!("an `mcp` content block is not JSON: {e}"))?;
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
            if !MCP_CONTENT_TYPES.contains(&kind) {
                return Err(format!(
                    "an `mcp` content block has type {kind:?}; known: {}",
                    MCP_CONTENT_TYPES.join(", ")
                ));
            }
            <rmcp::model::ContentBlock as serde::Deserialize>::deserialize(&value).map_err(
                |e| format!("an `mcp` content block of type {kind:?} is malformed: {e}"),
            )?;
            Content::Mcp(value)
        }
    })
}
