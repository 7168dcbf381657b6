//! The MCP shape of a call's outcome (`CallToolResult`).
//!
//! A tool's own error and the host's verdict on a plugin (trap, timeout,
//! limit) both become a result with `isError: true` and a message that says
//! what happened, so the model sees it and the request itself never fails.

use crate::dispatch::CallFailure;
use crate::runtime::{
    Content, EmbeddedResource, MessageRole, PromptMessage, ResourceBody, ToolOutput,
};
use base64::Engine as _;
use rmcp::model::{
    CallToolResult, ContentBlock as McpContent, PromptMessage as McpPromptMessage, Resource,
    ResourceContents, Role,
};

fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Resource contents as MCP's.
pub fn resource_contents(r: EmbeddedResource) -> ResourceContents {
    match r.body {
        ResourceBody::Text(text) => ResourceContents::TextResourceContents {
            uri: r.uri,
            mime_type: r.mime_type,
            text,
            meta: None,
        },
        ResourceBody::Blob(blob) => ResourceContents::BlobResourceContents {
            uri: r.uri,
            mime_type: r.mime_type,
            blob: base64(&blob),
            meta: None,
        },
    }
}

/// A prompt's messages as MCP's.
pub fn prompt_messages(messages: Vec<PromptMessage>) -> Vec<McpPromptMessage> {
    (messages.into_iter())
        .map(|m| {
            let role = match m.role {
                MessageRole::User => Role::User,
                MessageRole::Assistant => Role::Assistant,
            };
            McpPromptMessage::new(role, block(m.content))
        })
        .collect()
}

/// One block as MCP content.
fn block(content: Content) -> McpContent {
    match content {
        Content::Text(t) => McpContent::text(t),
        Content::Image { data, mime_type } => McpContent::image(base64(&data), mime_type),
        Content::Audio { data, mime_type } => McpContent::audio(base64(&data), mime_type),
        Content::ResourceLink(l) => {
            let mut link = Resource::new(l.uri, l.name);
            link.title = l.title;
            link.description = l.description;
            link.mime_type = l.mime_type;
            McpContent::resource_link(link)
        }
        Content::Resource(r) => McpContent::resource(resource_contents(r)),
        // Checked against the MCP shapes when the tool returned it.
        Content::Mcp(json) => serde_json::from_value(json)
            .unwrap_or_else(|e| McpContent::text(format!("malformed content block: {e}"))),
    }
}

/// A successful output as MCP content plus structured content.
pub fn success(output: ToolOutput) -> CallToolResult {
    let content = output.content.into_iter().map(block).collect();
    let mut result = CallToolResult::success(content);
    result.structured_content = output.structured;
    result
}

/// A failed call as an MCP tool error result.
pub fn failure(error: &CallFailure) -> CallToolResult {
    CallToolResult::error(vec![McpContent::text(error.to_string())])
}

/// A call the host could not complete for `reason`, as a tool error
/// result naming the tool.
pub fn tool_failure(tool: &str, reason: &str) -> CallToolResult {
    CallToolResult::error(vec![McpContent::text(format!("{tool}: {reason}"))])
}

/// Either of the above.
pub fn from_outcome(outcome: Result<ToolOutput, CallFailure>) -> CallToolResult {
    match outcome {
        Ok(out) => success(out),
        Err(e) => failure(&e),
    }
}
