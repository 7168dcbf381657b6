//! Version 1 of the `swap_probe` test tool.
include!("probe.rs");
