//! A hostile test plugin: output (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
