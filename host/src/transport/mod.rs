//! Transports: Streamable HTTP (axum + rmcp) and stdio, over one MCP handler
//! that adapts MCP messages to the call pipeline ([`crate::dispatch`]).

pub mod connections;
pub(crate) mod http;
pub(crate) mod mcp;
mod notify;
pub mod result;
mod rounds;
pub(crate) mod sessions;
pub(crate) mod stdio;

use std::net::SocketAddr;
use std::time::Duration;

/// What the HTTP transport is configured with (`[server]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Host header values accepted (DNS-rebinding protection); an entry
    /// without a port matches any port.
    pub allowed_hosts: Vec<String>,
    /// Browser Origin values accepted; empty: not checked against a list.
    pub allowed_origins: Vec<String>,
    /// Largest request body; larger requests get 413.
    pub max_body_bytes: usize,
    /// On shutdown, how long calls in flight may still run before sessions
    /// close, and how long connections may then linger.
    pub shutdown_grace: Duration,
    /// Sessions (of the older, initialize-based revisions) open at most.
    pub max_sessions: usize,
    /// Sessions one caller (subject) may hold at most.
    pub max_sessions_per_caller: usize,
    /// A session without traffic for this long is ended.
    pub session_idle: Duration,
    /// How connections are accepted and held.
    pub connections: connections::ConnectionLimits,
}
