//! What a call produces: the tool's result.

/// One block of MCP content returned by a tool.
#[derive(Debug, Clone, PartialEq)]
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
    /// An audio clip: raw bytes and their MIME type.
    Audio {
        /// The audio bytes.
        data: Vec<u8>,
        /// e.g. `audio/wav`.
        mime_type: String,
    },
    /// A link to a resource the client may fetch.
    ResourceLink(ResourceLink),
    /// A resource's contents carried in the result.
    Resource(EmbeddedResource),
    /// Any other MCP content block, as its JSON object (checked against the
    /// MCP content shapes when the tool returned it).
    Mcp(serde_json::Value),
}

/// A link to a resource (MCP `resource_link`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLink {
    /// The resource's URI.
    pub uri: String,
    /// Its programmatic name.
    pub name: String,
    /// Human-friendly title.
    pub title: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Its MIME type, if known.
    pub mime_type: Option<String>,
}

/// A resource's contents inside a result (MCP `resource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedResource {
    /// The resource's URI.
    pub uri: String,
    /// Its MIME type, if known.
    pub mime_type: Option<String>,
    /// Text or bytes.
    pub body: ResourceBody,
}

/// What an embedded resource holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceBody {
    /// Text contents.
    Text(String),
    /// Binary contents.
    Blob(Vec<u8>),
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

impl Content {
    /// Bytes this block counts against the output limit.
    pub(crate) fn size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_deref().map_or(0, str::len);
        match self {
            Content::Text(t) => t.len(),
            Content::Image { data, mime_type } | Content::Audio { data, mime_type } => {
                data.len() + mime_type.len()
            }
            Content::ResourceLink(l) => {
                l.uri.len() + l.name.len() + opt(&l.title) + opt(&l.description) + opt(&l.mime_type)
            }
            Content::Resource(r) => r.size(),
            // Measured as the tool sent it, before it was parsed.
            Content::Mcp(_) => 0,
        }
    }
}

impl EmbeddedResource {
    /// Bytes it counts against the output limit.
    pub(crate) fn size(&self) -> usize {
        self.uri.len()
            + self.mime_type.as_deref().map_or(0, str::len)
            + match &self.body {
                ResourceBody::Text(t) => t.len(),
                ResourceBody::Blob(b) => b.len(),
            }
    }
}

impl ToolOutput {
    /// Bytes of content and structured JSON, as counted against the output
    /// limit; `extra` is what was counted before parsing (JSON content).
    pub(crate) fn size(content: &[Content], structured: Option<&str>, extra: usize) -> usize {
        let content: usize = content.iter().map(Content::size).sum();
        content + structured.map_or(0, str::len) + extra
    }
}
