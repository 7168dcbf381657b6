//! A hostile test plugin: memory (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
