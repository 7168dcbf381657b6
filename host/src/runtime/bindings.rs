//! Host-side bindings generated from `wit/plugin.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "toolhost:plugin/tool@0.1.0",
});

pub use self::toolhost::plugin::{log, store, types};
