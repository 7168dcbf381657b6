//! The content blocks of a result, beside its structured output.

use crate::bindings::toolhost::plugin::types;

/// One block of MCP content, shown to the model and the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(pub(crate) Block);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    Text(String),
    Image(Vec<u8>, String),
    Audio(Vec<u8>, String),
    Link {
        uri: String,
        name: String,
        title: Option<String>,
        description: Option<String>,
        mime_type: Option<String>,
    },
    Embedded {
        uri: String,
        mime_type: Option<String>,
        text: String,
    },
    EmbeddedBlob {
        uri: String,
        mime_type: Option<String>,
        data: Vec<u8>,
    },
    Json(String),
}

impl Content {
    /// Text.
    pub fn text(text: impl Into<String>) -> Self {
        Content(Block::Text(text.into()))
    }

    /// An image, e.g. `Content::image(png, "image/png")`.
    pub fn image(data: Vec<u8>, mime_type: impl Into<String>) -> Self {
        Content(Block::Image(data, mime_type.into()))
    }

    /// An audio clip, e.g. `Content::audio(wav, "audio/wav")`.
    pub fn audio(data: Vec<u8>, mime_type: impl Into<String>) -> Self {
        Content(Block::Audio(data, mime_type.into()))
    }

    /// A link to a resource the client may fetch.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Content(Block::Link {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
        })
    }

    /// A text resource carried in the result.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Content(Block::Embedded {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            text: text.into(),
        })
    }

    /// A binary resource carried in the result.
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        data: Vec<u8>,
    ) -> Self {
        Content(Block::EmbeddedBlob {
            uri: uri.into(),
            mime_type: Some(mime_type.into()),
            data,
        })
    }

    /// Any MCP content block as JSON (its `type` must be one the host
    /// knows); for kinds this SDK has no constructor for.
    pub fn mcp(block: &serde_json::Value) -> Self {
        Content(Block::Json(block.to_string()))
    }

    /// A resource link's title, description and MIME type (other kinds are
    /// returned unchanged).
    pub fn described(
        mut self,
        title: Option<&str>,
        description: Option<&str>,
        mime: Option<&str>,
    ) -> Self {
        if let Block::Link {
            title: t,
            description: d,
            mime_type: m,
            ..
        } = &mut self.0
        {
            *t = title.map(str::to_owned);
            *d = description.map(str::to_owned);
            *m = mime.map(str::to_owned);
        }
        self
    }

    pub(crate) fn into_wit(self) -> types::Content {
        match self.0 {
            Block::Text(t) => types::Content::Text(t),
            Block::Image(data, mime_type) => {
                types::Content::Image(types::Media { data, mime_type })
            }
            Block::Audio(data, mime_type) => {
                types::Content::Audio(types::Media { data, mime_type })
            }
            Block::Link {
                uri,
                name,
                title,
                description,
                mime_type,
            } => types::Content::ResourceLink(types::ResourceLink {
                uri,
                name,
                title,
                description,
                mime_type,
            }),
            Block::Embedded {
                uri,
                mime_type,
                text,
            } => types::Content::Embedded(types::EmbeddedResource {
                uri,
                mime_type,
                body: types::ResourceBody::Text(text),
            }),
            Block::EmbeddedBlob {
                uri,
                mime_type,
                data,
            } => types::Content::Embedded(types::EmbeddedResource {
                uri,
                mime_type,
                body: types::ResourceBody::Blob(data),
            }),
            Block::Json(json) => types::Content::Mcp(json),
        }
    }
}
