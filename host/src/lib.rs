//! toolhost: an MCP server whose tools are sandboxed WebAssembly components.
//!
//! The host owns everything that must be trusted (transport, authentication,
//! authorization, limits, storage); tools own only their business logic and
//! are WASI Preview 2 components built against the `toolhost:plugin` WIT
//! contract. A call travels one way through the modules of this crate:
//! transport → auth → policy → registry → [`runtime`] → plugin → [`storage`].

pub mod admission;
pub mod audit;
pub mod auth;
pub mod config;
mod host;
pub mod metrics;
pub mod native;
#[cfg(feature = "otel")]
pub mod otel;
pub mod policy;
pub mod principal;
pub mod proxy;
pub mod registry;
pub mod result;
pub mod runtime;
pub mod storage;
pub mod testing;
mod transport;

pub use config::Config;
pub use host::{Host, HostError};
pub use principal::Principal;
pub use runtime::{CallError, LoadError, Plugin, Runtime, RuntimeConfig, ToolOutput};
pub use storage::Store;
