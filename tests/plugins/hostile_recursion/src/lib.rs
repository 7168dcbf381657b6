//! A hostile test plugin: recursion (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
