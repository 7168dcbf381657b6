//! Per-call resource limits: what one call of a tool may use.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Limits applied to every call (and to `describe` at load time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock deadline of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Most table elements an instance may hold.
    pub table_elements: usize,
    /// Largest result (content plus structured JSON), in bytes.
    pub output_bytes: usize,
    /// Most bytes of log, stdout and stderr kept per call; the rest is dropped
    /// and the drop is logged.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: 5_000,
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The call deadline as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
