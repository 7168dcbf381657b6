//! What a tool may import, one module per capability.
//!
//! Each capability owns three things: its linker setup (`add_to_linker`,
//! once per runtime), its per-call state (built fresh for every call and
//! dropped with the instance), and the configuration it needs to build that
//! state. Nothing else is linked: a component that imports anything more
//! fails to load with the name of what it asked for. Each is tested on its
//! own, without a component (the per-call state implements the generated
//! `Host` trait, which the tests call directly).
//!
//! - [`wasi`]: WASI Preview 2 with nothing granted, stdout/stderr captured;
//! - [`store`]: `toolhost:plugin/store`, the key/value store scoped to the
//!   caller;
//! - [`log`]: `toolhost:plugin/log`, a capped log sink;
//! - [`http`]: `wasi:http/outgoing-handler`, each request decided by the
//!   call's outbound grant;
//! - [`events`]: `toolhost:plugin/call` (0.2), progress and log messages for
//!   the client, capped per call, and questions for the user or the model;
//! - [`config`]: `wasi:config/store` (0.2), the operator's values for the
//!   tool.
//!
//! `store` and `log` are linked in both contract versions (0.1 and 0.2),
//! over the same per-call state.

pub(crate) mod config;
pub(crate) mod events;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod store;
pub(crate) mod wasi;
