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
    /// Most outbound HTTP requests one call may make (to the APIs granted).
    pub http_requests: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: 5_000,
            memory_bytes: 256 << 20,
            table_elements: 100_000,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
            http_requests: 32,
        }
    }
}

impl Limits {
    /// The call deadline as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Per-tool changes to [`Limits`] (`[tools.<name>.limits]`): each field set
/// replaces the default's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsOverride {
    /// Replaces [`Limits::timeout_ms`].
    pub timeout_ms: Option<u64>,
    /// Replaces [`Limits::memory_bytes`].
    pub memory_bytes: Option<usize>,
    /// Replaces [`Limits::table_elements`].
    pub table_elements: Option<usize>,
    /// Replaces [`Limits::output_bytes`].
    pub output_bytes: Option<usize>,
    /// Replaces [`Limits::log_bytes`].
    pub log_bytes: Option<usize>,
    /// Replaces [`Limits::http_requests`].
    pub http_requests: Option<u32>,
}

impl Limits {
    /// These limits with `changes` applied.
    pub fn with(&self, changes: &LimitsOverride) -> Limits {
        Limits {
            timeout_ms: changes.timeout_ms.unwrap_or(self.timeout_ms),
            memory_bytes: changes.memory_bytes.unwrap_or(self.memory_bytes),
            table_elements: changes.table_elements.unwrap_or(self.table_elements),
            output_bytes: changes.output_bytes.unwrap_or(self.output_bytes),
            log_bytes: changes.log_bytes.unwrap_or(self.log_bytes),
            http_requests: changes.http_requests.unwrap_or(self.http_requests),
        }
    }

    /// Why these limits cannot be used, naming the field (relative to
    /// `prefix`, e.g. `limits` or `tools.x.limits`).
    pub fn check(&self, prefix: &str) -> Result<(), (String, String)> {
        let bad = |field: &str, reason: &str| Err((format!("{prefix}.{field}"), reason.to_owned()));
        if self.timeout_ms == 0 {
            return bad("timeout_ms", "must be greater than 0");
        }
        if self.memory_bytes < (1 << 20) {
            return bad("memory_bytes", "must be at least 1 MiB (1048576)");
        }
        if self.output_bytes < 1024 {
            return bad("output_bytes", "must be at least 1024");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_replaces_only_the_fields_it_sets() {
        let base = Limits::default();
        let changed = base.with(&LimitsOverride {
            timeout_ms: Some(250),
            ..Default::default()
        });
        assert_eq!(changed.timeout_ms, 250);
        assert_eq!(changed.memory_bytes, base.memory_bytes);
        assert_eq!(base.with(&LimitsOverride::default()), base);
    }

    #[test]
    fn unusable_limits_name_the_field() {
        let zero = Limits {
            timeout_ms: 0,
            ..Default::default()
        };
        assert_eq!(
            zero.check("tools.t.limits").unwrap_err().0,
            "tools.t.limits.timeout_ms"
        );
        let tiny = Limits {
            memory_bytes: 1000,
            ..Default::default()
        };
        assert!(tiny.check("limits").unwrap_err().1.contains("1 MiB"));
        assert!(Limits::default().check("limits").is_ok());
    }
}
