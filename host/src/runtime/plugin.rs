//! A loaded plugin version: compiled, linked, described, ready to call.

use super::bindings::{self, types};
use super::cache::{CacheOutcome, content_hash};
use super::error::{CallError, LoadError, ToolError};
use super::host_state::HostState;
use super::output::{Content, ToolOutput};
use super::schema::ObjectSchema;
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

/// One loaded version of a tool. Cheap to clone; a call in progress keeps its
/// version alive even if a newer one replaces it.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    info: ToolInfo,
    hash: String,
    path: PathBuf,
    imports: Vec<String>,
    pre: bindings::ToolPre<HostState>,
    shared: Arc<Shared>,
    report: LoadReport,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.info.name)
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
    let pre = bindings::ToolPre::new(instance_pre).map_err(|e| LoadError::WrongWorld {
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    })?;
    let raw = describe(shared, &pre, &hash).map_err(|reason| LoadError::Describe {
        path: path.to_path_buf(),
        reason,
    })?;
    let info = validate_info(raw).map_err(|reason| LoadError::InvalidInfo {
        path: path.to_path_buf(),
        reason,
    })?;
    let report = LoadReport {
        cache,
        compile,
        total: started.elapsed(),
    };
    tracing::debug!(
        tool = %info.name, version = %&hash[..12], path = %path.display(),
        cache = ?report.cache, compile_ms = report.compile.as_secs_f64() * 1e3,
        "plugin loaded"
    );
    Ok(Plugin {
        inner: Arc::new(Inner {
            info,
            hash,
            path: path.to_path_buf(),
            imports,
            pre,
            shared: shared.clone(),
            report,
        }),
    })
}

fn new_store(
    shared: &Shared,
    limits: &Limits,
    tool: Arc<str>,
    request_id: String,
    subject: Option<String>,
    grant: Option<Arc<crate::outbound::Grant>>,
) -> Store<HostState> {
    let state = HostState::new(
        tool,
        request_id,
        subject,
        shared.store.clone(),
        limits,
        grant,
    );
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|s| &mut s.limiter);
    let ticks = limits.timeout().as_millis() / EPOCH_TICK.as_millis() + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();
    store
}

fn describe(
    shared: &Shared,
    pre: &bindings::ToolPre<HostState>,
    hash: &str,
) -> Result<types::ToolInfo, String> {
    let mut store = new_store(
        shared,
        &shared.limits,
        Arc::from("(describe)"),
        format!("load-{}", &hash[..12]),
        None,
        None,
    );
    let tool = pre.instantiate(&mut store).map_err(|e| format!("{e:#}"))?;
    tool.call_describe(&mut store).map_err(|e| format!("{e:#}"))
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

fn validate_info(raw: types::ToolInfo) -> Result<ToolInfo, String> {
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
    })
}

impl Plugin {
    /// The validated description.
    pub fn info(&self) -> &ToolInfo {
        &self.inner.info
    }

    /// The tool name.
    pub fn name(&self) -> &str {
        &self.inner.info.name
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
            self.inner.info.input_schema.violations(arguments)
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
            None,
        )
    }

    /// [`Plugin::call`] under `limits` instead of the runtime's (an
    /// operator's per-tool limits), reaching the APIs of `grant` over
    /// `wasi:http` (nothing without one). Memory and table limits above the
    /// runtime's pool ceiling are capped by the pool.
    pub fn call_with_limits(
        &self,
        principal: &Principal,
        request_id: &str,
        arguments: &Value,
        limits: &Limits,
        grant: Option<Arc<crate::outbound::Grant>>,
    ) -> Result<ToolOutput, CallError> {
        self.check_arguments(arguments)?;
        let args_text = if arguments.is_null() {
            "{}".to_owned()
        } else {
            arguments.to_string()
        };
        let inner = &*self.inner;
        let tool: Arc<str> = Arc::from(inner.info.name.as_str());
        let mut store = new_store(
            &inner.shared,
            limits,
            tool,
            request_id.to_owned(),
            Some(principal.subject.clone()),
            grant,
        );
        let ctx = types::CallContext {
            principal: types::Principal {
                subject: principal.subject.clone(),
                roles: principal.roles.clone(),
                scopes: principal.scopes.clone(),
                client_id: principal.client_id.clone(),
                org_id: principal.org_id.clone(),
                email: principal.email.clone(),
            },
            request_id: request_id.to_owned(),
        };
        let instantiating = Instant::now();
        let instance = inner.pre.instantiate(&mut store);
        metrics::histogram!("toolhost_instantiate_seconds", "tool" => inner.info.name.clone())
            .record(instantiating.elapsed().as_secs_f64());
        let outcome = instance
            .map_err(|e| CallError::Instantiate {
                tool: self.name().to_owned(),
                reason: format!("{e:#}"),
            })
            .and_then(|instance| {
                instance
                    .call_call(&mut store, &ctx, &args_text)
                    .map_err(|e| self.classify_trap(e, store.data().limiter.memory_refused, limits))
            });
        self.flush_output(store.data(), request_id);
        match outcome? {
            Ok(out) => self.accept_output(out, limits),
            Err(e) => Err(CallError::Tool {
                tool: self.name().to_owned(),
                error: match e {
                    types::ToolError::InvalidInput(m) => ToolError::InvalidInput(m),
                    types::ToolError::Forbidden(m) => ToolError::Forbidden(m),
                    types::ToolError::NotFound(m) => ToolError::NotFound(m),
                    types::ToolError::Failed(m) => ToolError::Failed(m),
                },
            }),
        }
    }

    fn classify_trap(
        &self,
        error: wasmtime::Error,
        memory_refused: bool,
        limits: &Limits,
    ) -> CallError {
        let tool = self.name().to_owned();
        let version = self.version().to_owned();
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

    fn accept_output(
        &self,
        out: types::ToolOutput,
        limits: &Limits,
    ) -> Result<ToolOutput, CallError> {
        let invalid = |reason: String| CallError::InvalidOutput {
            tool: self.name().to_owned(),
            version: self.version().to_owned(),
            reason,
        };
        let content: Vec<Content> = out
            .content
            .into_iter()
            .map(|c| match c {
                types::Content::Text(t) => Content::Text(t),
                types::Content::Image(i) => Content::Image {
                    data: i.data,
                    mime_type: i.mime_type,
                },
            })
            .collect();
        let size = ToolOutput::size(&content, out.structured.as_deref());
        let max = limits.output_bytes;
        if size > max {
            return Err(invalid(format!(
                "{size} bytes is over the output limit of {max} bytes"
            )));
        }
        let structured = match out.structured {
            None => None,
            Some(text) => {
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| invalid(format!("structured content is not JSON: {e}")))?;
                if !value.is_object() {
                    return Err(invalid("structured content must be a JSON object".into()));
                }
                if let Some(schema) = &self.inner.info.output_schema {
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
        if state.log.dropped() > 0 {
            tracing::warn!(target: "toolhost::plugin", tool, request_id, dropped_lines = state.log.dropped(), "log lines over the per-call cap were dropped");
        }
    }
}
