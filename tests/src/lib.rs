//! Shared helpers for the workspace's integration tests and benchmarks.

pub use toolhost_test_artifacts as plugins;
