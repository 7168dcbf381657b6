//! A hostile test plugin: env (see ../../hostile_trap/src/hostile.rs).
include!("../../hostile_trap/src/hostile.rs");
