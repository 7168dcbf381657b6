//! Write toolhost tools in Rust.
//!
//! A tool is a type that implements [`Tool`]: a typed input (a `serde` struct
//! whose JSON Schema is generated with `schemars`), a typed output, and a
//! function from the one to the other that gets the verified caller in its
//! [`Context`]. [`export_tool!`] turns it into a WebAssembly component that
//! the toolhost host can load. Through the [`Context`] a tool also keeps the
//! caller's data ([`Bucket`]) and calls the APIs the operator granted it
//! ([`http`]).
//!
//! ```ignore
//! use toolhost_sdk::prelude::*;
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Input {
//!     /// Who to greet.
//!     #[schemars(length(min = 1, max = 50))]
//!     name: String,
//! }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct Greeting {
//!     message: String,
//! }
//!
//! struct Hello;
//!
//! impl Tool for Hello {
//!     type Input = Input;
//!     type Output = Greeting;
//!
//!     fn describe() -> Describe {
//!         Describe::new("hello", "Greet someone by name")
//!     }
//!
//!     fn call(ctx: &Context, input: Input) -> Result<Greeting, ToolError> {
//!         let message = format!("Hello {}, from {}", input.name, ctx.principal.subject);
//!         Ok(Greeting { message })
//!     }
//! }
//!
//! toolhost_sdk::export_tool!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm`
//! in `target/wasm32-wasip2/release/` is the component.
//!
//! One component may serve several tools ([`export_tools!`]), and
//! [`Resource`]s (data read by URI, fixed or by template) and [`Prompt`]s
//! (message templates) beside them ([`export_component!`]). While a call
//! runs, its [`Context`] reports progress, writes to the client's log, tells
//! whether the client cancelled, asks the user ([`Context::elicit`]) or
//! the client's model ([`Context::sample`]), and reads the operator's
//! configuration values for the tool ([`Context::config`]).

mod content;
mod context;
mod describe;
mod error;
pub mod http;
pub mod log;
mod served;
mod store;

pub use content::Content;
pub use context::{AskError, ClientLevel, Context, Elicitation, Principal};
pub use describe::Describe;
pub use error::ToolError;
pub use http::{Http, HttpError};
#[doc(hidden)]
pub use served::export as export_served;
pub use served::{
    Contents, DescribePrompt, DescribeResource, Prompt, PromptArguments, PromptMessage, Resource,
    ResourceRequest,
};
pub use store::{Bucket, Entry, Scan, StoreError};

/// The bindings generated from the WIT contract. Tools should not need them;
/// they are public so that [`export_tool!`] can reach them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2",
        world: "toolhost:plugin/tools@0.2.0",
        pub_export_macro: true,
        export_macro_name: "__export_tool_world",
        default_bindings_module: "toolhost_sdk::bindings",
        with: { "wasi:config/store@0.2.0-rc.1": generate },
    });
}

/// Everything a tool module usually needs, in one import.
pub mod prelude {
    pub use crate::{
        Bucket, Content, Contents, Context, Describe, DescribePrompt, DescribeResource,
        Elicitation, Entry, Principal, Prompt, PromptArguments, PromptMessage, Resource,
        ResourceRequest, Tool, ToolError,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}

pub use schemars;
pub use serde;
pub use serde_json;

/// A tool: typed input in, typed output out, for one verified caller.
pub trait Tool {
    /// The arguments. Its JSON Schema (from `schemars`) is the tool's input
    /// schema; the host validates every call against it before the tool runs.
    type Input: serde::de::DeserializeOwned + schemars::JsonSchema;

    /// The result. Returned to the client as MCP structured content, so it
    /// must serialize to a JSON object; its schema is the tool's output schema.
    type Output: serde::Serialize + schemars::JsonSchema;

    /// Name, description and default roles. Called once per loaded version.
    fn describe() -> Describe;

    /// Run the tool for the caller in `ctx`.
    fn call(ctx: &Context, input: Self::Input) -> Result<Self::Output, ToolError>;

    /// The text rendering of a result, shown to clients that do not read
    /// structured content. Defaults to the JSON of the result.
    fn render(output: &Self::Output) -> String {
        serde_json::to_string(output).unwrap_or_default()
    }

    /// A hand-written JSON Schema of the arguments, used instead of the one
    /// generated from [`Tool::Input`] (for keywords `schemars` does not emit;
    /// make `Input` a type that accepts what the schema allows, e.g.
    /// `serde_json::Value`).
    fn input_schema() -> Option<serde_json::Value> {
        None
    }

    /// The content blocks of a result (images, audio, resource links,
    /// embedded resources, text). Defaults to one text block, [`Tool::render`].
    fn content(output: &Self::Output) -> Vec<Content> {
        vec![Content::text(Self::render(output))]
    }
}

/// The glue between a [`Tool`] and the WIT exports; used by [`export_tool!`].
#[doc(hidden)]
pub mod export {
    use crate::bindings::toolhost::plugin::types;
    use crate::{Content, Context, Tool, ToolError};

    /// Formats JSON Schema defines; schemars also emits Rust-specific ones
    /// (`uint32`, `int64`, `double`, …) that strict validators warn about.
    const STANDARD_FORMATS: &[&str] = &[
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uuid",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    ];

    /// The schema of `S` with non-standard `format` keywords removed.
    fn schema_of<S: schemars::JsonSchema>() -> String {
        fn clean(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    let nonstandard = map
                        .get("format")
                        .and_then(|f| f.as_str())
                        .is_some_and(|f| !STANDARD_FORMATS.contains(&f));
                    if nonstandard {
                        map.remove("format");
                    }
                    map.values_mut().for_each(clean);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(clean),
                _ => {}
            }
        }
        let mut schema = serde_json::to_value(schemars::schema_for!(S)).unwrap_or_default();
        clean(&mut schema);
        schema.to_string()
    }

    /// What `describe` says about tool `T`.
    pub fn describe<T: Tool>() -> types::ToolInfo {
        let d = T::describe();
        types::ToolInfo {
            name: d.name,
            title: d.title,
            description: d.description,
            input_schema: T::input_schema()
                .map(|s| s.to_string())
                .unwrap_or_else(schema_of::<T::Input>),
            output_schema: Some(schema_of::<T::Output>()),
            roles: d.roles,
            annotations: types::Annotations {
                read_only: d.annotations.read_only,
                destructive: d.annotations.destructive,
                idempotent: d.annotations.idempotent,
                open_world: d.annotations.open_world,
            },
            extensions: if d.apis.is_empty() {
                Vec::new()
            } else {
                vec![types::Extension {
                    key: "apis".into(),
                    value: serde_json::to_string(&d.apis).unwrap_or_default(),
                }]
            },
        }
    }

    /// The component's `describe`: its tools, resources and prompts.
    pub fn component(
        tools: Vec<types::ToolInfo>,
        resources: &[crate::export_served::ResourceEntry],
        prompts: &[crate::export_served::PromptEntry],
    ) -> types::ComponentInfo {
        let (mut fixed, mut templates) = (Vec::new(), Vec::new());
        for (describe, _) in resources {
            crate::served::describe_into(describe(), &mut fixed, &mut templates);
        }
        types::ComponentInfo {
            tools,
            resources: fixed,
            resource_templates: templates,
            prompts: prompts
                .iter()
                .map(|(describe, _)| crate::served::prompt_info(describe()))
                .collect(),
            extensions: Vec::new(),
        }
    }

    /// One tool of a component: its name and how to call it.
    pub type Entry = (
        fn() -> crate::Describe,
        fn(types::CallContext, String) -> Result<types::ToolOutput, types::ToolError>,
    );

    /// The component's `call`: run the tool called `tool`.
    pub fn dispatch(
        tools: &[Entry],
        ctx: types::CallContext,
        tool: &str,
        arguments: String,
    ) -> Result<types::ToolOutput, types::ToolError> {
        match tools.iter().find(|(describe, _)| describe().name == tool) {
            Some((_, call)) => call(ctx, arguments),
            None => {
                Err(ToolError::Failed(format!("this component has no tool {tool:?}")).into_wit())
            }
        }
    }

    /// `call` for tool `T`.
    pub fn call<T: Tool>(
        ctx: types::CallContext,
        arguments: String,
    ) -> Result<types::ToolOutput, types::ToolError> {
        let input: T::Input = serde_json::from_str(&arguments)
            .map_err(|e| ToolError::InvalidInput(format!("arguments: {e}")).into_wit())?;
        let ctx = Context::from_wit(ctx);
        let output = T::call(&ctx, input).map_err(ToolError::into_wit)?;
        let structured = serde_json::to_string(&output)
            .map_err(|e| ToolError::Failed(format!("cannot serialize result: {e}")).into_wit())?;
        Ok(types::ToolOutput {
            content: T::content(&output)
                .into_iter()
                .map(Content::into_wit)
                .collect(),
            structured: Some(structured),
        })
    }
}

/// Export everything a component serves: its [`Tool`]s, [`Resource`]s
/// (fixed and templates) and [`Prompt`]s, each list possibly empty:
///
/// ```ignore
/// toolhost_sdk::export_component! {
///     tools: [ListNotes, CreateNote],
///     resources: [NoteById],
///     prompts: [Summarise],
/// }
/// ```
///
/// Use it once per crate, at the top level. Names (and URIs) must differ
/// within each list: the host refuses a component that declares one twice.
#[macro_export]
macro_rules! export_component {
    (
        tools: [$($tool:ty),* $(,)?],
        resources: [$($resource:ty),* $(,)?],
        prompts: [$($prompt:ty),* $(,)?] $(,)?
    ) => {
        const _: () = {
            struct __ToolhostExport;

            const __RESOURCES: &[$crate::export_served::ResourceEntry] = &[$((
                <$resource as $crate::Resource>::describe as fn() -> $crate::DescribeResource,
                <$resource as $crate::Resource>::read,
            )),*];
            const __PROMPTS: &[$crate::export_served::PromptEntry] = &[$((
                <$prompt as $crate::Prompt>::describe as fn() -> $crate::DescribePrompt,
                <$prompt as $crate::Prompt>::get,
            )),*];

            impl $crate::bindings::Guest for __ToolhostExport {
                fn describe() -> $crate::bindings::toolhost::plugin::types::ComponentInfo {
                    $crate::export::component(
                        ::std::vec![$($crate::export::describe::<$tool>()),*],
                        __RESOURCES,
                        __PROMPTS,
                    )
                }

                fn call(
                    ctx: $crate::bindings::toolhost::plugin::types::CallContext,
                    tool: ::std::string::String,
                    arguments: ::std::string::String,
                ) -> ::std::result::Result<
                    $crate::bindings::toolhost::plugin::types::ToolOutput,
                    $crate::bindings::toolhost::plugin::types::ToolError,
                > {
                    let tools: &[$crate::export::Entry] = &[$((
                        <$tool as $crate::Tool>::describe as fn() -> $crate::Describe,
                        $crate::export::call::<$tool>,
                    )),*];
                    $crate::export::dispatch(tools, ctx, &tool, arguments)
                }

                fn read_resource(
                    ctx: $crate::bindings::toolhost::plugin::types::CallContext,
                    request: $crate::bindings::toolhost::plugin::types::ResourceRequest,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::bindings::toolhost::plugin::types::EmbeddedResource>,
                    $crate::bindings::toolhost::plugin::types::ToolError,
                > {
                    $crate::export_served::read(__RESOURCES, ctx, request)
                }

                fn get_prompt(
                    ctx: $crate::bindings::toolhost::plugin::types::CallContext,
                    name: ::std::string::String,
                    arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<
                    $crate::bindings::toolhost::plugin::types::PromptOutput,
                    $crate::bindings::toolhost::plugin::types::ToolError,
                > {
                    $crate::export_served::get(__PROMPTS, ctx, &name, arguments)
                }
            }

            $crate::bindings::__export_tool_world!(
                __ToolhostExport with_types_in $crate::bindings
            );
        };
    };
}

/// Export one or more [`Tool`]s (and nothing else):
/// `toolhost_sdk::export_tools!(ListNotes, CreateNote);` is
/// [`export_component!`] with these tools and no resources or prompts.
#[macro_export]
macro_rules! export_tools {
    ($($tool:ty),+ $(,)?) => {
        $crate::export_component! { tools: [$($tool),+], resources: [], prompts: [] }
    };
}

/// Export a single [`Tool`]: `toolhost_sdk::export_tool!(MyTool);` is
/// [`export_tools!`] with one tool.
#[macro_export]
macro_rules! export_tool {
    ($tool:ty) => {
        $crate::export_tools!($tool);
    };
}
