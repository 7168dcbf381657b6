//! Errors at the runtime boundary: loading a plugin, and calling it.
//!
//! A [`CallError`] keeps apart what the tool said (its own typed error, shown
//! to the client as a tool result) from the host's verdict on the plugin (a
//! trap, a limit hit, a malformed result), which names the plugin and the kind
//! of fault.

use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin file could not be loaded. Each variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component.
    #[error("{path}: not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The component imports something this host does not provide.
    #[error("{path}: needs an import this host does not grant: {reason}")]
    Link {
        /// The file.
        path: PathBuf,
        /// The linker's explanation.
        reason: String,
    },
    /// The component does not export the tool world.
    #[error(
        "{path}: does not implement a toolhost world (toolhost:plugin/tool@0.1.0 or toolhost:plugin/tools@0.2.0): {reason}"
    )]
    WrongWorld {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// `describe()` trapped or could not be run.
    #[error("{path}: describe() failed: {reason}")]
    Describe {
        /// The file.
        path: PathBuf,
        /// The trap or error.
        reason: String,
    },
    /// `describe()` returned something unusable.
    #[error("{path}: invalid tool description: {reason}")]
    InvalidInfo {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// An error the tool itself returned: its message is for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments are well-formed but not acceptable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The thing asked for does not exist for this caller.
    #[error("not found: {0}")]
    NotFound(String),
    /// Anything else.
    #[error("failed: {0}")]
    Failed(String),
}

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The arguments failed the tool's input schema (or were not an object);
    /// the tool did not run.
    #[error("invalid arguments for {tool}: {}", violations.join("; "))]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// Each violation, naming the field and the rule.
        violations: Vec<String>,
    },
    /// The tool ran and returned its own error.
    #[error("{tool}: {error}")]
    Tool {
        /// The tool.
        tool: String,
        /// What it said.
        error: ToolError,
    },
    /// The call ran past its deadline and was stopped.
    #[error("{tool} (plugin {version}) timed out after {after:?}")]
    Timeout {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
        /// The deadline.
        after: Duration,
    },
    /// The client cancelled the call (or went away) and it was stopped.
    #[error("{tool} (plugin {version}) was cancelled")]
    Cancelled {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
    },
    /// The call asked its client something (elicitation, sampling) on a
    /// request that can only ask in its result (2026-07-28): the transport
    /// answers with `input_required`, and the call runs again with the
    /// answer. Not a failure of the tool.
    #[error("{tool} (plugin {version}) needs input from the client")]
    InputRequired {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
        /// What it asked.
        question: super::Question,
    },
    /// The instance tried to grow memory past the limit.
    #[error("{tool} (plugin {version}) hit the memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
        /// The limit.
        limit_bytes: usize,
    },
    /// The plugin trapped (a panic, `unreachable`, stack overflow, …).
    #[error("{tool} (plugin {version}) crashed: {kind}")]
    Trap {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
        /// The kind of fault.
        kind: String,
    },
    /// The plugin returned a result the host refuses to pass on.
    #[error("{tool} (plugin {version}) returned an invalid result: {reason}")]
    InvalidOutput {
        /// The tool.
        tool: String,
        /// Short content hash of the plugin.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host could not start an instance (e.g. the instance pool is full).
    #[error("{tool}: cannot start an instance: {reason}")]
    Instantiate {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
}

impl CallError {
    /// A short name of the kind of failure, for metrics and the audit
    /// trail: `invalid_arguments`, `tool_error`, `timeout`, `cancelled`,
    /// `input_required`,
    /// `memory_limit`, `trap`, `invalid_output` or `instantiate`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::InvalidArguments { .. } => "invalid_arguments",
            CallError::Tool { .. } => "tool_error",
            CallError::Timeout { .. } => "timeout",
            CallError::Cancelled { .. } => "cancelled",
            CallError::InputRequired { .. } => "input_required",
            CallError::MemoryLimit { .. } => "memory_limit",
            CallError::Trap { .. } => "trap",
            CallError::InvalidOutput { .. } => "invalid_output",
            CallError::Instantiate { .. } => "instantiate",
        }
    }
}

/// Errors building a [`Runtime`](super::Runtime).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The wasmtime engine or linker could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The compiled-artifact cache directory is unusable.
    #[error("cannot use the compiled-artifact cache at {path}: {source}")]
    Cache {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
