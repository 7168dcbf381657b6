//! Tools written in Rust and compiled into the host, served beside the
//! plugins.
//!
//! A native tool runs with the host's full authority — no sandbox, no
//! deadline, no memory cap — so it is for an operator's own trusted code,
//! and for measuring what the sandbox costs against the same logic without
//! it. Everything in front of the tool is the same as for a plugin: the
//! caller is authenticated and authorized, admitted by the rate and
//! concurrency limits, its arguments checked against the input schema, the
//! result against the output schema.
//!
//! ```
//! use serde_json::{Value, json};
//! use toolhost::native::{NativeCall, NativeTool};
//! use toolhost::runtime::{Content, ObjectSchema, ToolError, ToolInfo, ToolOutput};
//!
//! struct Echo(ToolInfo);
//!
//! impl NativeTool for Echo {
//!     fn info(&self) -> &ToolInfo {
//!         &self.0
//!     }
//!     fn call(&self, call: &NativeCall<'_>, arguments: &Value) -> Result<ToolOutput, ToolError> {
//!         Ok(ToolOutput {
//!             content: vec![Content::Text(format!("{} said {arguments}", call.principal.subject))],
//!             structured: None,
//!         })
//!     }
//! }
//!
//! let echo = Echo(ToolInfo {
//!     name: "echo".into(),
//!     title: None,
//!     description: "Say it back.".into(),
//!     input_schema: ObjectSchema::compile(r#"{"type": "object"}"#).unwrap(),
//!     output_schema: None,
//!     roles: vec![],
//!     annotations: Default::default(),
//!     apis: vec![],
//! });
//! # let _ = echo;
//! // host.add_native_tool(std::sync::Arc::new(echo));
//! ```

use crate::Principal;
use crate::runtime::{CallError, ToolError, ToolInfo, ToolOutput};
use crate::storage::{Scope, StorageError, Store};
use serde_json::Value;

/// One call of a native tool: who calls, and the store partitioned for them.
#[derive(Debug)]
pub struct NativeCall<'a> {
    /// The verified caller.
    pub principal: &'a Principal,
    /// Unique per call.
    pub request_id: &'a str,
    store: &'a Store,
}

impl<'a> NativeCall<'a> {
    /// A call by `principal` against `store` (the host builds these; tests
    /// and benchmarks may too).
    pub fn new(principal: &'a Principal, request_id: &'a str, store: &'a Store) -> Self {
        NativeCall {
            principal,
            request_id,
            store,
        }
    }

    /// The host's store.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// `bucket` of the caller: the same partition a plugin gets.
    pub fn scope(&self, bucket: &str) -> Result<Scope, StorageError> {
        Scope::new(bucket, &self.principal.subject)
    }
}

/// A tool implemented in Rust inside the host process.
pub trait NativeTool: Send + Sync + 'static {
    /// What the tool says about itself (as a plugin's `describe`).
    fn info(&self) -> &ToolInfo;

    /// Run one call. Blocking is fine: calls run on a blocking thread.
    fn call(&self, call: &NativeCall<'_>, arguments: &Value) -> Result<ToolOutput, ToolError>;
}

/// Run `tool` with the checks a plugin call gets: arguments against the
/// input schema before, structured output against the output schema after.
pub fn run(
    tool: &dyn NativeTool,
    call: &NativeCall<'_>,
    arguments: &Value,
) -> Result<ToolOutput, CallError> {
    let info = tool.info();
    let violations = if arguments.is_object() {
        info.input_schema.violations(arguments)
    } else {
        vec!["/: arguments must be a JSON object".to_owned()]
    };
    if !violations.is_empty() {
        return Err(CallError::InvalidArguments {
            tool: info.name.clone(),
            violations,
        });
    }
    let output = tool
        .call(call, arguments)
        .map_err(|error| CallError::Tool {
            tool: info.name.clone(),
            error,
        })?;
    if let (Some(schema), Some(value)) = (&info.output_schema, &output.structured) {
        let violations = schema.violations(value);
        if !violations.is_empty() {
            return Err(CallError::InvalidOutput {
                tool: info.name.clone(),
                version: "native".into(),
                reason: format!(
                    "structured content breaks the output schema: {}",
                    violations.join("; ")
                ),
            });
        }
    }
    Ok(output)
}
