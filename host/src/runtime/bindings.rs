//! Host-side bindings generated from the contract's versions in `wit/`. The
//! host links both: a component implements one world or the other.

/// `toolhost:plugin@0.1.0`: one tool per component.
pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1",
        world: "toolhost:plugin/tool@0.1.0",
    });

    pub use self::toolhost::plugin::{log, store, types};
}

/// `toolhost:plugin@0.2.0`: any number of tools per component.
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2",
        world: "toolhost:plugin/tools@0.2.0",
        // An ask on a 2026-07-28 request that has no answer yet stops the
        // call (the client is asked in the result, and the call runs again
        // with the answer).
        imports: {
            "toolhost:plugin/call.elicit": trappable,
            "toolhost:plugin/call.sample": trappable,
        },
    });

    pub use self::toolhost::plugin::{call, log, store, types};
}
