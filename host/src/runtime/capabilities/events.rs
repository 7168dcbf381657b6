//! `toolhost:plugin/call` (0.2): what a call tells its client while it
//! runs: progress reports and log messages, each capped per call, dropped
//! (and counted) past the cap or when the client does not want them.

use super::super::bindings::v2::call;
use super::super::signals::{CallEvent, ClientLevel, EventSink};
use wasmtime::component::{HasData, Linker};

/// Progress reports sent per call at most.
pub const MAX_PROGRESS: u32 = 100;
/// Log messages for the client sent per call at most.
pub const MAX_NOTIFY: u32 = 100;
/// Longest progress message or logger name kept, in bytes.
const MAX_TEXT: usize = 1024;
/// Longest log message kept, in bytes.
const MAX_DATA: usize = 4 * 1024;

/// Link the capability; `get` finds a call's [`EventsCall`] in `T`.
pub(crate) fn add_to_linker<T, D>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    T: 'static,
    D: HasData,
    for<'a> D::Data<'a>: call::Host,
{
    call::add_to_linker::<T, D>(linker, get)
}

/// One call's notifications: where they go and how many went.
#[derive(Debug, Default)]
pub(crate) struct EventsCall {
    sink: Option<EventSink>,
    progress_sent: u32,
    last_progress: Option<f64>,
    notify_sent: u32,
    /// Notifications dropped: over a cap, not growing, or the channel full.
    pub(crate) dropped: u32,
}

impl EventsCall {
    /// Notifications into `sink` (none: every one is dropped silently).
    pub(crate) fn new(sink: Option<EventSink>) -> Self {
        EventsCall {
            sink,
            ..EventsCall::default()
        }
    }

    fn send(&mut self, event: CallEvent) -> bool {
        let sent = self.sink.as_ref().is_some_and(|s| s.send(event));
        if !sent {
            self.dropped += 1;
        }
        sent
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn capped(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn level(l: call::Level) -> ClientLevel {
    match l {
        call::Level::Debug => ClientLevel::Debug,
        call::Level::Info => ClientLevel::Info,
        call::Level::Notice => ClientLevel::Notice,
        call::Level::Warning => ClientLevel::Warning,
        call::Level::Error => ClientLevel::Error,
        call::Level::Critical => ClientLevel::Critical,
        call::Level::Alert => ClientLevel::Alert,
        call::Level::Emergency => ClientLevel::Emergency,
    }
}

impl call::Host for EventsCall {
    fn report_progress(&mut self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some(sink) = &self.sink else { return };
        if !sink.wants_progress() {
            return;
        }
        let grows = progress.is_finite() && self.last_progress.is_none_or(|last| progress > last);
        if !grows || total.is_some_and(|t| !t.is_finite()) || self.progress_sent >= MAX_PROGRESS {
            self.dropped += 1;
            return;
        }
        let message = message.map(|m| capped(m, MAX_TEXT));
        if self.send(CallEvent::Progress {
            progress,
            total,
            message,
        }) {
            self.progress_sent += 1;
            self.last_progress = Some(progress);
        }
    }

    fn notify(&mut self, l: call::Level, logger: Option<String>, data: String) {
        let level = level(l);
        let Some(sink) = &self.sink else { return };
        if !sink.wants(level) {
            return;
        }
        if self.notify_sent >= MAX_NOTIFY {
            self.dropped += 1;
            return;
        }
        let data = capped(data, MAX_DATA);
        let data = serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
        if self.send(CallEvent::Log {
            level,
            logger: logger.map(|l| capped(l, MAX_TEXT)),
            data,
        }) {
            self.notify_sent += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::call::Host;
    use super::*;
    use tokio::sync::mpsc;

    fn events(min: ClientLevel, progress: bool) -> (EventsCall, mpsc::Receiver<CallEvent>) {
        let (tx, rx) = mpsc::channel(1000);
        (EventsCall::new(Some(EventSink::new(tx, min, progress))), rx)
    }

    fn drain(rx: &mut mpsc::Receiver<CallEvent>) -> Vec<CallEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn progress_must_grow_and_is_capped_per_call() {
        let (mut call, mut rx) = events(ClientLevel::Info, true);
        call.report_progress(1.0, Some(10.0), Some("one".into()));
        call.report_progress(1.0, Some(10.0), None);
        call.report_progress(0.5, None, None);
        call.report_progress(f64::NAN, None, None);
        for i in 2..500 {
            call.report_progress(f64::from(i), None, None);
        }
        let sent = drain(&mut rx);
        assert_eq!(sent.len(), MAX_PROGRESS as usize);
        assert_eq!(
            sent[0],
            CallEvent::Progress {
                progress: 1.0,
                total: Some(10.0),
                message: Some("one".into())
            }
        );
        assert_eq!(call.dropped, 3 + (498 - (MAX_PROGRESS - 1)));
    }

    #[test]
    fn progress_nobody_asked_for_is_not_sent() {
        let (mut call, mut rx) = events(ClientLevel::Info, false);
        call.report_progress(1.0, None, None);
        assert!(drain(&mut rx).is_empty());
        let mut nowhere = EventsCall::new(None);
        nowhere.report_progress(1.0, None, None);
        nowhere.notify(call::Level::Error, None, "x".into());
        assert_eq!(nowhere.dropped, 0);
    }

    #[test]
    fn log_messages_below_the_level_stay_home_and_json_stays_json() {
        let (mut call, mut rx) = events(ClientLevel::Warning, true);
        call.notify(call::Level::Info, None, "\"quiet\"".into());
        call.notify(
            call::Level::Error,
            Some("db".into()),
            r#"{"rows": 3}"#.into(),
        );
        call.notify(call::Level::Warning, None, "not json".into());
        let sent = drain(&mut rx);
        assert_eq!(
            sent,
            [
                CallEvent::Log {
                    level: ClientLevel::Error,
                    logger: Some("db".into()),
                    data: serde_json::json!({"rows": 3})
                },
                CallEvent::Log {
                    level: ClientLevel::Warning,
                    logger: None,
                    data: serde_json::json!("not json")
                },
            ]
        );
    }

    #[test]
    fn a_full_channel_drops_instead_of_waiting() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut call = EventsCall::new(Some(EventSink::new(tx, ClientLevel::Debug, true)));
        for _ in 0..5 {
            call.notify(call::Level::Info, None, "\"x\"".into());
        }
        assert_eq!(drain(&mut rx).len(), 2);
        assert_eq!(call.dropped, 3);
    }
}
