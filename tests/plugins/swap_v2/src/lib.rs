//! Version 2 of the `swap_probe` test tool.
include!("../../swap_v1/src/probe.rs");
