//! Errors a tool returns to its caller.

use crate::bindings::toolhost::plugin::types;
use crate::store::StoreError;

/// Why a call failed. The message reaches the client: say what and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments are well-formed but not acceptable.
    InvalidInput(String),
    /// The caller may not do this.
    Forbidden(String),
    /// The thing asked for does not exist for this caller.
    NotFound(String),
    /// Anything else.
    Failed(String),
}

impl ToolError {
    pub(crate) fn into_wit(self) -> types::ToolError {
        match self {
            ToolError::InvalidInput(m) => types::ToolError::InvalidInput(m),
            ToolError::Forbidden(m) => types::ToolError::Forbidden(m),
            ToolError::NotFound(m) => types::ToolError::NotFound(m),
            ToolError::Failed(m) => types::ToolError::Failed(m),
        }
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            ToolError::Forbidden(m) => write!(f, "forbidden: {m}"),
            ToolError::NotFound(m) => write!(f, "not found: {m}"),
            ToolError::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for ToolError {}

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        ToolError::Failed(e.to_string())
    }
}
