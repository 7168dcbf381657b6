//! A hostile test plugin: socket (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
