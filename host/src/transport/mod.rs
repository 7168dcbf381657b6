//! Transports: Streamable HTTP (axum + rmcp) and stdio, over one MCP handler.

pub(crate) mod http;
pub(crate) mod mcp;
pub(crate) mod stdio;
