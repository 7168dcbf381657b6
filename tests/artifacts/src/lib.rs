//! Paths of the plugin components built for `wasm32-wasip2` by this crate's
//! build script. Depend on this crate to get fresh components in tests.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
