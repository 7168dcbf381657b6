//! A loaded plugin version: compiled, linked, described, ready to call.

use super::bindings::{v1, v2};
use super::cache::{CacheOutcome, content_hash};
use super::error::{CallError, LoadError, ToolError};
use super::host_state::HostState;
use super::output::{Content, EmbeddedResource, ResourceBody, ResourceLink, ToolOutput};
use super::schema::ObjectSchema;
use super::served::{
    self, MessageRole, PromptInfo, PromptMessage, PromptOutput, ResourceContents, ResourceInfo,
    ResourceRequest, TemplateInfo,
};
use super::signals::{CallLinks, Cancelled, NeedsInput};
use super::{EPOCH_TICK, Limits, Shared};
use crate::principal::Principal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Component as WasmComponent;
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
    component: Component,
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
    resources: Vec<ResourceInfo>,
    templates: Vec<TemplateInfo>,
    prompts: Vec<PromptInfo>,
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
            .field("path", &self.component.inner.path)
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

/// A loaded component version: every tool, resource, resource template
/// and prompt it serves. Cheap to clone; shares the version with its
/// [`Plugin`]s.
#[derive(Clone)]
pub struct Component {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("version", &self.version())
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

pub(super) fn load(
    shared: &Arc<Shared>,
    path: &Path,
    bytes: &[u8],
) -> Result<Component, LoadError> {
    let started = Instant::now();
    check_header(path, bytes)?;
    let hash = content_hash(bytes);
    let (component, cache) = match &shared.cache {
        Some(cache) => cache.load_or_compile(&shared.engine, &hash, bytes),
        None => {
            WasmComponent::new(&shared.engine, bytes).map(|c| (c, CacheOutcome::CompiledUncached))
        }
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
    let served = validate_component(described, path).map_err(|reason| LoadError::InvalidInfo {
        path: path.to_path_buf(),
        reason,
    })?;
    let report = LoadReport {
        cache,
        compile,
        total: started.elapsed(),
    };
    let names: Vec<&str> = served.tools.iter().map(|t| t.name.as_str()).collect();
    tracing::debug!(
        tools = ?names, version = %&hash[..12], path = %path.display(),
        cache = ?report.cache, compile_ms = report.compile.as_secs_f64() * 1e3,
        "plugin loaded"
    );
    Ok(Component {
        inner: Arc::new(Inner {
            tools: served.tools,
            resources: served.resources,
            templates: served.templates,
            prompts: served.prompts,
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
    links: CallLinks,
) -> Store<HostState> {
    let cancel = links.cancel.clone();
    let state = HostState::new(
        tool,
        request_id,
        subject,
        shared.store.clone(),
        limits,
        links,
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

/// What a component serves, validated.
#[derive(Default)]
struct Served {
    tools: Vec<ToolInfo>,
    resources: Vec<ResourceInfo>,
    templates: Vec<TemplateInfo>,
    prompts: Vec<PromptInfo>,
}

/// Validate a description: every tool, resource, template and prompt valid,
/// each name (URI, template) unique within the component, at least one of
/// them.
fn validate_component(described: Described, path: &Path) -> Result<Served, String> {
    let raw = match described {
        Described::V0_1(info) => {
            return Ok(Served {
                tools: vec![validate_info(info.into())?],
                ..Served::default()
            });
        }
        Described::V0_2(info) => info,
    };
    read_extensions("the component", &raw.extensions, path)?;
    if raw.tools.is_empty()
        && raw.resources.is_empty()
        && raw.resource_templates.is_empty()
        && raw.prompts.is_empty()
    {
        return Err("the component describes no tool, resource or prompt".into());
    }
    let mut served = Served::default();
    for resource in raw.resources {
        read_extensions(&resource.uri, &resource.extensions, path)?;
        let info = served::resource(resource)?;
        push_unique(&mut served.resources, info, |r| &r.uri, "the resource")?;
    }
    for template in raw.resource_templates {
        read_extensions(&template.uri_template, &template.extensions, path)?;
        let info = served::template(template)?;
        let key: fn(&TemplateInfo) -> &str = |t| t.template.as_str();
        push_unique(&mut served.templates, info, key, "the resource template")?;
    }
    for prompt in raw.prompts {
        read_extensions(&prompt.name, &prompt.extensions, path)?;
        let info = served::prompt(prompt)?;
        push_unique(&mut served.prompts, info, |p| &p.name, "the prompt name")?;
    }
    for tool in raw.tools {
        let apis = read_extensions(&tool.name, &tool.extensions, path)?;
        let mut info = validate_info(tool.into())?;
        info.apis = apis;
        push_unique(&mut served.tools, info, |t| &t.name, "the tool name")?;
    }
    Ok(served)
}

/// Add `item` to `items` unless one there has the same key: `what` is the
/// kind of key, for the error.
fn push_unique<T>(
    items: &mut Vec<T>,
    item: T,
    key: fn(&T) -> &str,
    what: &str,
) -> Result<(), String> {
    if items.iter().any(|i| key(i) == key(&item)) {
        return Err(format!(
            "{what} {:?} is declared twice in the component",
            key(&item)
        ));
    }
    items.push(item);
    Ok(())
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
    served::check_roles(&raw.name, &raw.roles)?;
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
        &self.component.inner.tools[self.index]
    }

    fn who(&self) -> Who<'_> {
        Who {
            label: self.name(),
            version: self.version(),
        }
    }

    /// The component version this tool belongs to.
    pub fn component(&self) -> Component {
        self.component.clone()
    }

    /// The tool name.
    pub fn name(&self) -> &str {
        &self.info().name
    }

    /// The contract version the component implements.
    pub fn contract(&self) -> Contract {
        self.component.contract()
    }

    /// The SHA-256 of the component, hex: this version's identity.
    pub fn content_hash(&self) -> &str {
        self.component.content_hash()
    }

    /// A short form of the content hash for messages.
    pub fn version(&self) -> &str {
        self.component.version()
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        self.component.path()
    }

    /// The names of the interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        self.component.imports()
    }

    /// How the load went.
    pub fn load_report(&self) -> &LoadReport {
        self.component.load_report()
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
            &self.component.inner.shared.limits,
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
        let inner = &*self.component.inner;
        let who = self.who();
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
                who.record_instantiate(instantiating);
                let ctx = call_context!(v1::types, principal, request_id);
                who.instantiated(instance).and_then(|instance| {
                    let result = instance.call_call(&mut store, &ctx, &args_text);
                    who.returned(result, &store, limits)
                        .map(|r| r.map(Output::V0_1).map_err(ErrorOf::V0_1))
                })
            }
            Pre::V0_2(pre) => {
                let instance = pre.instantiate(&mut store);
                who.record_instantiate(instantiating);
                let ctx = call_context!(v2::types, principal, request_id);
                who.instantiated(instance).and_then(|instance| {
                    let result = instance.call_call(&mut store, &ctx, self.name(), &args_text);
                    who.returned(result, &store, limits)
                        .map(|r| r.map(Output::V0_2).map_err(ErrorOf::V0_2))
                })
            }
        };
        who.flush_output(store.data(), request_id);
        match outcome? {
            Ok(out) => self.accept_output(out, limits),
            Err(e) => Err(self.who().tool_error(e)),
        }
    }

    fn accept_output(&self, out: Output, limits: &Limits) -> Result<ToolOutput, CallError> {
        let invalid = |reason: String| self.who().invalid(reason);
        let (content, structured, json_bytes) = match out {
            Output::V0_1(out) => (
                out.content.into_iter().map(content_v1).collect::<Vec<_>>(),
                out.structured,
                0,
            ),
            Output::V0_2(out) => {
                let json_bytes = mcp_bytes(out.content.iter());
                let content = (out.content.into_iter())
                    .map(content_v2)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid)?;
                (content, out.structured, json_bytes)
            }
        };
        let size = ToolOutput::size(&content, structured.as_deref(), json_bytes);
        check_size(size, limits).map_err(invalid)?;
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
}

impl Component {
    /// Every tool, in the order `describe` gave them.
    pub fn tools(&self) -> impl Iterator<Item = Plugin> + '_ {
        (0..self.inner.tools.len()).map(|index| Plugin {
            component: self.clone(),
            index,
        })
    }

    /// The tool called `name`.
    pub fn tool(&self, name: &str) -> Option<Plugin> {
        self.tools().find(|t| t.name() == name)
    }

    /// The resources at fixed URIs.
    pub fn resources(&self) -> &[ResourceInfo] {
        &self.inner.resources
    }

    /// The resource templates.
    pub fn templates(&self) -> &[TemplateInfo] {
        &self.inner.templates
    }

    /// The prompts.
    pub fn prompts(&self) -> &[PromptInfo] {
        &self.inner.prompts
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

    /// The names of the interfaces it imports.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// The contract version it implements.
    pub fn contract(&self) -> Contract {
        match self.inner.pre {
            Pre::V0_1(_) => Contract::V0_1,
            Pre::V0_2(_) => Contract::V0_2,
        }
    }

    /// How the load went.
    pub fn load_report(&self) -> &LoadReport {
        &self.inner.report
    }

    /// Which of this component's resources serves `uri`: the one at that
    /// URI, else the first template it matches (in
    /// [`UriTemplate::match_order`](super::UriTemplate::match_order)), as
    /// the request to read it.
    pub fn resolve(&self, uri: &str) -> Option<ResourceRequest> {
        if self.resources().iter().any(|r| r.uri == uri) {
            return Some(ResourceRequest {
                uri: uri.to_owned(),
                template: None,
                variables: Vec::new(),
            });
        }
        let mut templates: Vec<&TemplateInfo> = self.templates().iter().collect();
        templates.sort_by(|a, b| a.template.match_order(&b.template));
        templates.into_iter().find_map(|t| {
            Some(ResourceRequest {
                uri: uri.to_owned(),
                template: Some(t.template.as_str().to_owned()),
                variables: t.template.matches(uri)?,
            })
        })
    }

    /// Run one export of a 0.2 instance for `principal`: a fresh instance
    /// under `limits`, `run` given it, the store and the call context.
    fn run_v2<R>(
        &self,
        label: &str,
        principal: &Principal,
        request_id: &str,
        limits: &Limits,
        links: &CallLinks,
        run: impl FnOnce(
            &v2::Tools,
            &mut Store<HostState>,
            &v2::types::CallContext,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let who = Who {
            label,
            version: self.version(),
        };
        let Pre::V0_2(pre) = &self.inner.pre else {
            return Err(CallError::Instantiate {
                tool: label.to_owned(),
                reason: "a 0.1 component serves only its tool".into(),
            });
        };
        let mut store = new_store(
            &self.inner.shared,
            limits,
            Arc::from(label),
            request_id.to_owned(),
            Some(principal.subject.clone()),
            links.clone(),
        );
        let instantiating = Instant::now();
        let instance = pre.instantiate(&mut store);
        who.record_instantiate(instantiating);
        let ctx = call_context!(v2::types, principal, request_id);
        let outcome = who.instantiated(instance).and_then(|instance| {
            let result = run(&instance, &mut store, &ctx);
            who.returned(result, &store, limits)
        });
        who.flush_output(store.data(), request_id);
        outcome
    }

    /// Read the resource `request` names (matched by the host against this
    /// component's resources and templates) for `principal`, in a fresh
    /// instance under `limits`. Blocking, like [`Plugin::call`].
    pub fn read_resource(
        &self,
        principal: &Principal,
        request_id: &str,
        request: &ResourceRequest,
        limits: &Limits,
        links: &CallLinks,
    ) -> Result<ResourceContents, CallError> {
        let label = resource_label(request.template.as_deref().unwrap_or(&request.uri));
        let wit = v2::types::ResourceRequest {
            uri: request.uri.clone(),
            template: request.template.clone(),
            variables: request.variables.clone(),
        };
        let result = self.run_v2(
            &label,
            principal,
            request_id,
            limits,
            links,
            |i, store, ctx| i.call_read_resource(store, ctx, &wit),
        )?;
        let who = Who {
            label: &label,
            version: self.version(),
        };
        let contents = result.map_err(|e| who.tool_error(ErrorOf::V0_2(e)))?;
        if contents.is_empty() {
            return Err(who.invalid("a resource read returned no contents".into()));
        }
        let contents: Vec<EmbeddedResource> = contents.into_iter().map(embedded).collect();
        let size = contents.iter().map(EmbeddedResource::size).sum();
        check_size(size, limits).map_err(|e| who.invalid(e))?;
        Ok(contents)
    }

    /// Fill in the prompt `name` with `arguments` (checked against its
    /// declaration first) for `principal`, in a fresh instance under
    /// `limits`. Blocking, like [`Plugin::call`].
    pub fn get_prompt(
        &self,
        principal: &Principal,
        request_id: &str,
        name: &str,
        arguments: &[(String, String)],
        limits: &Limits,
        links: &CallLinks,
    ) -> Result<PromptOutput, CallError> {
        let label = prompt_label(name);
        let Some(info) = self.prompts().iter().find(|p| p.name == name) else {
            return Err(CallError::Tool {
                tool: label,
                error: ToolError::NotFound("this component has no such prompt".into()),
            });
        };
        info.check_arguments(arguments)
            .map_err(|violations| CallError::InvalidArguments {
                tool: label.clone(),
                violations,
            })?;
        let args = arguments.to_vec();
        let result = self.run_v2(
            &label,
            principal,
            request_id,
            limits,
            links,
            |i, store, ctx| i.call_get_prompt(store, ctx, name, &args),
        )?;
        let who = Who {
            label: &label,
            version: self.version(),
        };
        let out = result.map_err(|e| who.tool_error(ErrorOf::V0_2(e)))?;
        let json_bytes = mcp_bytes(out.messages.iter().map(|m| &m.content));
        let mut messages = Vec::with_capacity(out.messages.len());
        for m in out.messages {
            messages.push(PromptMessage {
                role: match m.role {
                    v2::types::MessageRole::User => MessageRole::User,
                    v2::types::MessageRole::Assistant => MessageRole::Assistant,
                },
                content: content_v2(m.content).map_err(|e| who.invalid(e))?,
            });
        }
        let size = messages.iter().map(|m| m.content.size()).sum::<usize>() + json_bytes;
        check_size(size, limits).map_err(|e| who.invalid(e))?;
        Ok(PromptOutput {
            description: out.description,
            messages,
        })
    }
}

/// How a resource (its URI, or the template it matched) is named in
/// errors, logs, metrics and the audit trail.
pub fn resource_label(uri_or_template: &str) -> String {
    format!("resource {uri_or_template}")
}

/// How a prompt is named in errors, logs, metrics and the audit trail.
pub fn prompt_label(name: &str) -> String {
    format!("prompt {name}")
}

/// Bytes of the `mcp` (JSON) blocks among `contents`, as the component
/// sent them (they are counted before they are parsed).
fn mcp_bytes<'a>(contents: impl Iterator<Item = &'a v2::types::Content>) -> usize {
    contents
        .map(|c| match c {
            v2::types::Content::Mcp(json) => json.len(),
            _ => 0,
        })
        .sum()
}

/// Refuse output of `size` bytes over the limit.
fn check_size(size: usize, limits: &Limits) -> Result<(), String> {
    let max = limits.output_bytes;
    if size > max {
        return Err(format!(
            "{size} bytes is over the output limit of {max} bytes"
        ));
    }
    Ok(())
}

fn embedded(r: v2::types::EmbeddedResource) -> EmbeddedResource {
    EmbeddedResource {
        uri: r.uri,
        mime_type: r.mime_type,
        body: match r.body {
            v2::types::ResourceBody::Text(t) => ResourceBody::Text(t),
            v2::types::ResourceBody::Blob(b) => ResourceBody::Blob(b),
        },
    }
}

/// Whose instance a call runs: a tool, resource or prompt (its label in
/// errors, logs and metrics) of one component version.
#[derive(Clone, Copy)]
struct Who<'a> {
    label: &'a str,
    version: &'a str,
}

impl Who<'_> {
    /// The component returned something the host does not accept.
    fn invalid(&self, reason: String) -> CallError {
        CallError::InvalidOutput {
            tool: self.label.to_owned(),
            version: self.version.to_owned(),
            reason,
        }
    }

    /// The component's own error.
    fn tool_error(&self, error: ErrorOf) -> CallError {
        CallError::Tool {
            tool: self.label.to_owned(),
            error: error.into(),
        }
    }
    fn record_instantiate(&self, started: Instant) {
        metrics::histogram!("toolhost_instantiate_seconds", "tool" => self.label.to_owned())
            .record(started.elapsed().as_secs_f64());
    }

    fn instantiated<I>(&self, instance: wasmtime::Result<I>) -> Result<I, CallError> {
        instance.map_err(|e| CallError::Instantiate {
            tool: self.label.to_owned(),
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
        let tool = self.label.to_owned();
        let version = self.version.to_owned();
        let error = match error.downcast::<NeedsInput>() {
            Ok(NeedsInput(question)) => {
                return CallError::InputRequired {
                    tool,
                    version,
                    question,
                };
            }
            Err(error) => error,
        };
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

    fn flush_output(&self, state: &HostState, request_id: &str) {
        let tool = self.label;
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
        C::Embedded(r) => Content::Resource(embedded(r)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use v2::types as t;

    fn resource(uri: &str) -> t::ResourceInfo {
        t::ResourceInfo {
            uri: uri.into(),
            name: "r".into(),
            title: None,
            description: None,
            mime_type: None,
            roles: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn template(uri_template: &str) -> t::ResourceTemplateInfo {
        t::ResourceTemplateInfo {
            uri_template: uri_template.into(),
            name: "t".into(),
            title: None,
            description: None,
            mime_type: None,
            roles: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn prompt(name: &str, arguments: &[&str]) -> t::PromptInfo {
        t::PromptInfo {
            name: name.into(),
            title: None,
            description: "d".into(),
            arguments: (arguments.iter())
                .map(|a| t::PromptArgument {
                    name: (*a).into(),
                    title: None,
                    description: None,
                    required: true,
                })
                .collect(),
            roles: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn component(
        resources: Vec<t::ResourceInfo>,
        templates: Vec<t::ResourceTemplateInfo>,
        prompts: Vec<t::PromptInfo>,
    ) -> Result<Served, String> {
        let info = t::ComponentInfo {
            tools: Vec::new(),
            resources,
            resource_templates: templates,
            prompts,
            extensions: Vec::new(),
        };
        validate_component(Described::V0_2(info), Path::new("c.wasm"))
    }

    fn refused(result: Result<Served, String>) -> String {
        match result {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_component_may_serve_only_resources_and_prompts() {
        let served = component(
            vec![resource("test://a")],
            vec![template("notes://{id}")],
            vec![prompt("p", &["x"])],
        )
        .unwrap();
        assert!(served.tools.is_empty());
        assert_eq!(served.resources[0].uri, "test://a");
        assert_eq!(served.templates[0].template.as_str(), "notes://{id}");
        assert_eq!(served.prompts[0].arguments[0].name, "x");
        let nothing = refused(component(Vec::new(), Vec::new(), Vec::new()));
        assert!(
            nothing.contains("describes no tool, resource or prompt"),
            "{nothing}"
        );
    }

    #[test]
    fn bad_or_repeated_declarations_are_refused_with_the_reason() {
        let cases = [
            (
                component(
                    vec![resource("test://a"), resource("test://a")],
                    vec![],
                    vec![],
                ),
                "the resource \"test://a\" is declared twice",
            ),
            (
                component(vec![resource("no-scheme")], vec![], vec![]),
                "not an absolute URI",
            ),
            (
                component(vec![], vec![template("notes://{id")], vec![]),
                "without its",
            ),
            (
                component(
                    vec![],
                    vec![template("a://{x}"), template("a://{x}")],
                    vec![],
                ),
                "is declared twice",
            ),
            (
                component(vec![], vec![], vec![prompt("p", &[]), prompt("p", &[])]),
                "the prompt name \"p\" is declared twice",
            ),
            (
                component(vec![], vec![], vec![prompt("Bad-Name", &[])]),
                "must be snake_case",
            ),
            (
                component(vec![], vec![], vec![prompt("p", &["a", "a"])]),
                "argument \"a\" is declared twice",
            ),
            (
                component(vec![], vec![], vec![prompt("p", &["has space"])]),
                "argument name",
            ),
        ];
        for (result, why) in cases {
            let e = refused(result);
            assert!(e.contains(why), "{e} lacks {why:?}");
        }
    }

    #[test]
    fn prompt_arguments_are_checked_against_the_declaration() {
        let info = served::prompt(prompt("p", &["a"])).unwrap();
        assert!(info.check_arguments(&[("a".into(), "1".into())]).is_ok());
        let problems = info
            .check_arguments(&[("b".into(), "1".into())])
            .unwrap_err();
        assert_eq!(
            problems,
            [
                "the argument \"a\" is required",
                "\"b\" is not an argument of this prompt"
            ]
        );
    }
}
