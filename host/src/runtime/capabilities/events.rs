//! `toolhost:plugin/call` (0.2): what a call tells its client while it
//! runs: progress reports and log messages, each capped per call, dropped
//! (and counted) past the cap or when the client does not want them; and
//! what it asks (the user, by elicitation; the client's model, by
//! sampling), each ask bounded in number and waiting time.

use super::super::bindings::v2::call;
use super::super::signals::{Ask, CallEvent, Cancel, ClientLevel, EventSink, NeedsInput, Question};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Linker};

/// Progress reports sent per call at most.
pub const MAX_PROGRESS: u32 = 100;
/// Log messages for the client sent per call at most.
pub const MAX_NOTIFY: u32 = 100;
/// Resource-updated notifications sent per call at most.
pub const MAX_UPDATES: u32 = 100;
/// Longest progress message or logger name kept, in bytes.
const MAX_TEXT: usize = 1024;
/// Longest log message kept, in bytes.
const MAX_DATA: usize = 4 * 1024;
/// Questions one call may ask its client.
pub const MAX_ASKS: u32 = 10;
/// Longest a question waits for its answer.
pub const ASK_WAIT: Duration = Duration::from_secs(300);
/// Longest question (message, schema, sampling request), in bytes.
const MAX_QUESTION: usize = 64 * 1024;
/// How often a waiting question checks whether the call was cancelled.
const ASK_POLL: Duration = Duration::from_millis(10);

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
    cancel: Cancel,
    asked: u32,
    progress_sent: u32,
    last_progress: Option<f64>,
    notify_sent: u32,
    updates_sent: u32,
    /// Notifications dropped: over a cap, not growing, or the channel full.
    pub(crate) dropped: u32,
}

impl EventsCall {
    /// Notifications into `sink` (none: every one is dropped silently);
    /// questions wait for their answer until `cancel` is raised.
    pub(crate) fn new(sink: Option<EventSink>, cancel: Cancel) -> Self {
        EventsCall {
            sink,
            cancel,
            ..EventsCall::default()
        }
    }

    /// Put `question` to the client and wait (bounded) for the answer; on
    /// a 2026-07-28 request, the answer of an earlier round, or a trap that
    /// stops the call until the client has answered.
    fn ask(&mut self, question: Question, what: &str) -> wasmtime::Result<Result<Value, String>> {
        if self.asked >= MAX_ASKS {
            return Ok(Err(format!(
                "a call may ask its client at most {MAX_ASKS} times"
            )));
        }
        let Some(sink) = &self.sink else {
            return Ok(Err(format!("this call has no client to ask for {what}")));
        };
        let index = self.asked as usize;
        self.asked += 1;
        if let Some(deferred) = sink.deferred() {
            let (supported, kind) = match &question {
                Question::Elicit(_) => (deferred.elicit, "elicitation"),
                Question::Sample(_) => (deferred.sample, "sampling"),
            };
            if !supported {
                return Ok(Err(format!("the client does not support {kind}")));
            }
            return match deferred.answers.get(index) {
                Some(a) if a.digest == question.digest() => Ok(Ok(a.answer.clone())),
                Some(_) => Ok(Err(format!(
                    "ask {} is not the one the client answered: on a 2026-07-28 request the \
                     call runs again with the answers, and must ask the same questions in \
                     the same order",
                    index + 1
                ))),
                None => Err(wasmtime::Error::new(NeedsInput(question))),
            };
        }
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        if !sink.ask(Ask { question, reply }) {
            return Ok(Err(format!(
                "this call's client cannot be asked for {what} (no session)"
            )));
        }
        let deadline = Instant::now() + ASK_WAIT;
        loop {
            if self.cancel.is_cancelled() {
                return Ok(Err(
                    "the call was cancelled while waiting for the answer".into()
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Err(format!("no answer within {} s", ASK_WAIT.as_secs())));
            }
            match answer.recv_timeout(ASK_POLL.min(deadline - now)) {
                Ok(result) => return Ok(result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Ok(Err(format!(
                        "the client went away before answering the {what} request"
                    )));
                }
            }
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

/// A question's text, bounded.
fn question_text(what: &str, text: &str) -> Result<(), String> {
    if text.len() > MAX_QUESTION {
        return Err(format!(
            "the {what} is {} bytes, over {MAX_QUESTION}",
            text.len()
        ));
    }
    Ok(())
}

/// The `elicitation/create` params of a tool's question, checked.
fn elicit_params(message: &str, requested_schema: &str) -> Result<Value, String> {
    question_text("message", message)?;
    question_text("requested schema", requested_schema)?;
    let schema: Value = serde_json::from_str(requested_schema)
        .map_err(|e| format!("the requested schema is not JSON: {e}"))?;
    if !schema.is_object() {
        return Err("the requested schema must be a JSON object".into());
    }
    Ok(json!({"mode": "form", "message": message, "requestedSchema": schema}))
}

/// The `sampling/createMessage` params of a tool's request, checked.
fn sample_params(request: &str) -> Result<Value, String> {
    question_text("sampling request", request)?;
    let params: Value = serde_json::from_str(request)
        .map_err(|e| format!("the sampling request is not JSON: {e}"))?;
    if !params.is_object() {
        return Err("the sampling request must be a JSON object".into());
    }
    Ok(params)
}

impl call::Host for EventsCall {
    fn resource_updated(&mut self, uri: String) {
        if self.sink.is_none() {
            return;
        }
        if self.updates_sent >= MAX_UPDATES || crate::runtime::check_uri(&uri).is_err() {
            self.dropped += 1;
            return;
        }
        if self.send(CallEvent::ResourceUpdated { uri }) {
            self.updates_sent += 1;
        }
    }

    fn cancelled(&mut self) -> bool {
        self.cancel.is_cancelled()
    }

    fn elicit(
        &mut self,
        message: String,
        requested_schema: String,
    ) -> wasmtime::Result<Result<call::ElicitAnswer, String>> {
        let params = match elicit_params(&message, &requested_schema) {
            Ok(params) => params,
            Err(e) => return Ok(Err(e)),
        };
        let answer = match self.ask(Question::Elicit(params), "input")? {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
        Ok(match answer.get("action").and_then(Value::as_str) {
            Some("accept") => {
                let content = answer.get("content").cloned().unwrap_or_else(|| json!({}));
                Ok(call::ElicitAnswer::Accept(content.to_string()))
            }
            Some("decline") => Ok(call::ElicitAnswer::Decline),
            Some("cancel") => Ok(call::ElicitAnswer::Cancel),
            other => Err(format!("the client answered with the action {other:?}")),
        })
    }

    fn sample(&mut self, request: String) -> wasmtime::Result<Result<String, String>> {
        let params = match sample_params(&request) {
            Ok(params) => params,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self
            .ask(Question::Sample(params), "a completion")?
            .map(|answer| answer.to_string()))
    }

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
        (
            EventsCall::new(Some(EventSink::new(tx, min, progress)), Cancel::new()),
            rx,
        )
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
        let mut nowhere = EventsCall::new(None, Cancel::new());
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
        let mut call = EventsCall::new(
            Some(EventSink::new(tx, ClientLevel::Debug, true)),
            Cancel::new(),
        );
        for _ in 0..5 {
            call.notify(call::Level::Info, None, "\"x\"".into());
        }
        assert_eq!(drain(&mut rx).len(), 2);
        assert_eq!(call.dropped, 3);
    }

    /// A call whose questions go to a thread that answers with `answer`
    /// (after `delay`), counting them.
    fn asking(
        answer: Value,
        delay: std::time::Duration,
    ) -> (
        EventsCall,
        Cancel,
        std::sync::Arc<std::sync::atomic::AtomicU32>,
    ) {
        let (tx, _rx) = mpsc::channel(1);
        let (ask_tx, mut asks) = mpsc::channel::<Ask>(1);
        let cancel = Cancel::new();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            while let Some(ask) = asks.blocking_recv() {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(delay);
                let _ = ask.reply.send(Ok(answer.clone()));
            }
        });
        std::mem::forget(_rx);
        let sink = EventSink::new(tx, ClientLevel::Info, false).with_asks(ask_tx);
        (EventsCall::new(Some(sink), cancel.clone()), cancel, count)
    }

    #[test]
    fn answers_come_back_and_asks_are_capped_per_call() {
        let (mut call, _cancel, count) =
            asking(json!({"action": "decline"}), std::time::Duration::ZERO);
        for _ in 0..MAX_ASKS {
            assert!(matches!(
                call.elicit("m".into(), "{}".into()).unwrap(),
                Ok(call::ElicitAnswer::Decline)
            ));
        }
        let over = call.elicit("m".into(), "{}".into()).unwrap().unwrap_err();
        assert!(over.contains("at most 10 times"), "{over}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), MAX_ASKS);
        let bad = call.elicit("m".into(), "[]".into()).unwrap().unwrap_err();
        assert!(bad.contains("must be a JSON object"), "{bad}");
        let mut nowhere = EventsCall::new(None, Cancel::new());
        let none = nowhere.sample("{}".into()).unwrap().unwrap_err();
        assert!(none.contains("no client to ask"), "{none}");
    }

    #[test]
    fn a_cancelled_call_stops_waiting_for_its_answer() {
        let (mut call, cancel, _) = asking(
            json!({"action": "accept"}),
            std::time::Duration::from_secs(30),
        );
        let raise = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            raise.cancel();
        });
        let started = std::time::Instant::now();
        let stopped = call.elicit("m".into(), "{}".into()).unwrap().unwrap_err();
        assert!(stopped.contains("cancelled"), "{stopped}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(call.cancelled());
    }

    #[test]
    fn a_round_of_a_2026_request_gets_earlier_answers_in_order_then_stops() {
        let (tx, _rx) = mpsc::channel(1);
        let first = Question::Elicit(elicit_params("Delete?", "{}").unwrap());
        let answered = vec![crate::runtime::Answered {
            digest: first.digest(),
            answer: json!({"action": "accept", "content": {"ok": true}}),
        }];
        let sink = EventSink::new(tx.clone(), ClientLevel::Info, false)
            .with_answers(answered, true, false);
        let mut call = EventsCall::new(Some(sink.clone()), Cancel::new());
        let got = call.elicit("Delete?".into(), "{}".into()).unwrap();
        assert!(
            matches!(&got, Ok(call::ElicitAnswer::Accept(c)) if c == r#"{"ok":true}"#),
            "{got:?}"
        );
        // The next ask has no answer yet: the call stops, carrying it.
        let stop = call.elicit("And this?".into(), "{}".into()).unwrap_err();
        let needs = stop.downcast_ref::<NeedsInput>().expect("stops for input");
        assert_eq!(
            needs.0,
            Question::Elicit(elicit_params("And this?", "{}").unwrap())
        );
        // A run that asks something else first is told, not given the answer.
        let mut other = EventsCall::new(Some(sink), Cancel::new());
        let wrong = other
            .elicit("Other?".into(), "{}".into())
            .unwrap()
            .unwrap_err();
        assert!(
            wrong.contains("same questions in the same order"),
            "{wrong}"
        );
        // What the client cannot answer is refused to the tool at once.
        let refused = other.sample("{}".into()).unwrap().unwrap_err();
        assert!(refused.contains("does not support sampling"), "{refused}");
    }
}
