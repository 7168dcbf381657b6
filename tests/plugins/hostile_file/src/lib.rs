//! A hostile test plugin: file (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
