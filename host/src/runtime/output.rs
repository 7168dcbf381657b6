//! What a call produces: the tool's result.

/// One block of MCP content returned by a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Content {
    /// Text.
    Text(String),
    /// An image: raw bytes and their MIME type.
    Image {
        /// The image bytes.
        data: Vec<u8>,
        /// e.g. `image/png`.
        mime_type: String,
    },
}

/// A successful tool result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// Content blocks.
    pub content: Vec<Content>,
    /// Structured result (a JSON object), checked against the tool's output
    /// schema when it declares one.
    pub structured: Option<serde_json::Value>,
}

impl ToolOutput {
    /// Bytes of content and structured JSON, as counted against the output limit.
    pub(crate) fn size(content: &[Content], structured: Option<&str>) -> usize {
        let content: usize = content
            .iter()
            .map(|c| match c {
                Content::Text(t) => t.len(),
                Content::Image { data, mime_type } => data.len() + mime_type.len(),
            })
            .sum();
        content + structured.map_or(0, str::len)
    }
}
