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

mod context;
mod describe;
mod error;
pub mod http;
pub mod log;
mod store;

pub use context::{Context, Principal};
pub use describe::Describe;
pub use error::ToolError;
pub use http::{Http, HttpError};
pub use store::{Bucket, Entry, Scan, StoreError};

/// The bindings generated from the WIT contract. Tools should not need them;
/// they are public so that [`export_tool!`] can reach them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "toolhost:plugin/tool@0.1.0",
        pub_export_macro: true,
        export_macro_name: "__export_tool_world",
        default_bindings_module: "toolhost_sdk::bindings",
    });
}

/// Everything a tool module usually needs, in one import.
pub mod prelude {
    pub use crate::{Bucket, Context, Describe, Entry, Principal, Tool, ToolError};
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
}

/// The glue between a [`Tool`] and the WIT exports; used by [`export_tool!`].
#[doc(hidden)]
pub mod export {
    use crate::bindings::toolhost::plugin::types;
    use crate::{Context, Tool, ToolError};

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

    /// `describe` for tool `T`.
    pub fn describe<T: Tool>() -> types::ToolInfo {
        let d = T::describe();
        types::ToolInfo {
            name: d.name,
            title: d.title,
            description: d.description,
            input_schema: schema_of::<T::Input>(),
            output_schema: Some(schema_of::<T::Output>()),
            roles: d.roles,
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
            content: vec![types::Content::Text(T::render(&output))],
            structured: Some(structured),
        })
    }
}

/// Export a [`Tool`] as the component's `describe` and `call`.
///
/// Use it once per crate, at the top level: `toolhost_sdk::export_tool!(MyTool);`
#[macro_export]
macro_rules! export_tool {
    ($tool:ty) => {
        const _: () = {
            struct __ToolhostExport;

            impl $crate::bindings::Guest for __ToolhostExport {
                fn describe() -> $crate::bindings::toolhost::plugin::types::ToolInfo {
                    $crate::export::describe::<$tool>()
                }

                fn call(
                    ctx: $crate::bindings::toolhost::plugin::types::CallContext,
                    arguments: ::std::string::String,
                ) -> ::std::result::Result<
                    $crate::bindings::toolhost::plugin::types::ToolOutput,
                    $crate::bindings::toolhost::plugin::types::ToolError,
                > {
                    $crate::export::call::<$tool>(ctx, arguments)
                }
            }

            $crate::bindings::__export_tool_world!(
                __ToolhostExport with_types_in $crate::bindings
            );
        };
    };
}
