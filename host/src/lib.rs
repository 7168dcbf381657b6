//! toolhost: an MCP server whose tools are sandboxed WebAssembly components.
//!
//! The host owns everything that must be trusted (transport, authentication,
//! authorization, limits, storage, credentials); tools own only their
//! business logic and are WASI Preview 2 components built against the
//! `toolhost:plugin` WIT contract.
//!
//! # Layout: the call path, top to bottom
//!
//! A call travels one way through the modules, and a module imports only
//! from the modules below it:
//!
//! | module | what it does |
//! |---|---|
//! | [`Host`], [`config`] | build everything from one configuration, read and validated once |
//! | `transport` | MCP over Streamable HTTP (axum + rmcp) and stdio: adapts messages to the pipeline |
//! | [`proxy`] | beside the transport: the OAuth authorization-server façade, with Clerk upstream |
//! | [`auth`] | bearer token → verified [`Principal`]; the 401/403 layer in front of `/mcp` |
//! | [`dispatch`] | the one call pipeline: request id, span, policy, admission, the call, metrics, audit |
//! | [`policy`] | roles, scopes, per-tool limits, rate limits and concurrency: one decision per call |
//! | [`registry`] | tool name → the plugin version or native tool serving it; hot reload of the plugins folder |
//! | [`runtime`] | wasmtime: a fresh instance per call, limits, and the capabilities a tool imports |
//! | [`outbound`] | a tool's HTTP requests to the operator's APIs: per-call grants, URL and address rules, host-held credentials |
//! | [`storage`], [`signing`] | the persistence layer: tool data, OAuth state, the audit trail (SQLite); the host's signing keys |
//! | [`principal`], [`clock`], [`cache`], [`secret`], [`metrics`], [`net`] | shared by all: the caller, time, bounded caches, secrets, metric names, which addresses are public |

pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod dispatch;
mod host;
pub mod metrics;
pub mod net;
#[cfg(feature = "otel")]
pub mod otel;
pub mod outbound;
pub mod policy;
pub mod principal;
pub mod proxy;
pub mod registry;
pub mod runtime;
pub mod secret;
pub mod signing;
pub mod storage;
pub mod testing;
pub mod transport;

pub use config::Config;
pub use host::{Host, HostBuilder, HostError};
pub use principal::Principal;
pub use registry::native;
pub use runtime::{CallError, LoadError, Plugin, Runtime, RuntimeConfig, ToolOutput};
pub use storage::Store;
pub use transport::result;
