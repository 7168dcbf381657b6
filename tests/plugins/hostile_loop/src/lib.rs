//! A hostile test plugin: loop (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
