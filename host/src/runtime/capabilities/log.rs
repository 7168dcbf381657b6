//! `toolhost:plugin/log`: a log sink into the host's log, tagged with the
//! tool and the request id, capped per call.

use super::super::bindings::{v1::log, v2};
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

/// Link the log capability; `get` finds a call's [`LogCall`] in `T`.
pub(crate) fn add_to_linker<T, D>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    T: 'static,
    D: HasData,
    for<'a> D::Data<'a>: log::Host + v2::log::Host,
{
    log::add_to_linker::<T, D>(linker, get)?;
    v2::log::add_to_linker::<T, D>(linker, get)
}

/// One call's log: who writes, and how much it may still write.
pub(crate) struct LogCall {
    tool: Arc<str>,
    request_id: String,
    left: usize,
    dropped: usize,
}

impl LogCall {
    /// A log for one call of `tool`, keeping at most `budget` bytes.
    pub(crate) fn new(tool: Arc<str>, request_id: String, budget: usize) -> Self {
        LogCall {
            tool,
            request_id,
            left: budget,
            dropped: 0,
        }
    }

    /// Lines the call wrote beyond its budget.
    pub(crate) fn dropped(&self) -> usize {
        self.dropped
    }
}

impl log::Host for LogCall {
    fn write(&mut self, level: log::Level, message: String) {
        if message.len() > self.left {
            self.dropped += 1;
            return;
        }
        self.left -= message.len();
        let (tool, request_id) = (&*self.tool, &self.request_id);
        // The message is the tool's: escaped, so it cannot forge log lines.
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "toolhost::plugin", tool, request_id, message = ?message)
            }
            log::Level::Debug => {
                tracing::debug!(target: "toolhost::plugin", tool, request_id, message = ?message)
            }
            log::Level::Info => {
                tracing::info!(target: "toolhost::plugin", tool, request_id, message = ?message)
            }
            log::Level::Warn => {
                tracing::warn!(target: "toolhost::plugin", tool, request_id, message = ?message)
            }
            log::Level::Error => {
                tracing::error!(target: "toolhost::plugin", tool, request_id, message = ?message)
            }
        }
    }
}

/// 0.2's log is 0.1's under another name.
impl v2::log::Host for LogCall {
    fn write(&mut self, level: v2::log::Level, message: String) {
        let level = match level {
            v2::log::Level::Trace => log::Level::Trace,
            v2::log::Level::Debug => log::Level::Debug,
            v2::log::Level::Info => log::Level::Info,
            v2::log::Level::Warn => log::Level::Warn,
            v2::log::Level::Error => log::Level::Error,
        };
        log::Host::write(self, level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::log::Host;
    use super::*;

    #[test]
    fn lines_past_the_budget_are_dropped_and_counted() {
        let mut log = LogCall::new(Arc::from("t"), "r-1".into(), 10);
        log.write(log::Level::Info, "12345".into());
        log.write(log::Level::Info, "123456".into());
        log.write(log::Level::Warn, "12345".into());
        log.write(log::Level::Error, "x".into());
        assert_eq!(log.dropped(), 2, "the 6-byte line and the last one");
    }
}
