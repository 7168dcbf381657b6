//! The MCP shape of a call's outcome (`CallToolResult`).
//!
//! A tool's own error and the host's verdict on a plugin (trap, timeout,
//! limit) both become a result with `isError: true` and a message that says
//! what happened, so the model sees it and the request itself never fails.

use crate::dispatch::CallFailure;
use crate::runtime::{Content, ToolOutput};
use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock as McpContent};

/// A successful output as MCP content plus structured content.
pub fn success(output: ToolOutput) -> CallToolResult {
    let content = output
        .content
        .into_iter()
        .map(|c| match c {
            Content::Text(t) => McpContent::text(t),
            Content::Image { data, mime_type } => McpContent::image(
                base64::engine::general_purpose::STANDARD.encode(data),
                mime_type,
            ),
        })
        .collect();
    let mut result = CallToolResult::success(content);
    result.structured_content = output.structured;
    result
}

/// A failed call as an MCP tool error result.
pub fn failure(error: &CallFailure) -> CallToolResult {
    CallToolResult::error(vec![McpContent::text(error.to_string())])
}

/// Either of the above.
pub fn from_outcome(outcome: Result<ToolOutput, CallFailure>) -> CallToolResult {
    match outcome {
        Ok(out) => success(out),
        Err(e) => failure(&e),
    }
}
