//! A hostile test plugin: log (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
