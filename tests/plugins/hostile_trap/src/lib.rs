//! A hostile test plugin: traps of several kinds. Its source, hostile.rs, is
//! shared by every hostile_* plugin; the crate name picks the misdeed.
include!("hostile.rs");
