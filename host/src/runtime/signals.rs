//! What links a running call to the world outside its sandbox besides its
//! arguments and result: the APIs it may reach, a flag to stop it (the
//! client cancelled or went away), and where its notifications (progress,
//! log messages for the client) go.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// The links of one call. The default: no API reachable, never cancelled,
/// notifications dropped.
#[derive(Debug, Clone, Default)]
pub struct CallLinks {
    /// The APIs the call may reach over `wasi:http` (none without one).
    pub grant: Option<Arc<crate::outbound::Grant>>,
    /// Raised to stop the call.
    pub cancel: Cancel,
    /// Where the call's notifications go, if anywhere.
    pub events: Option<EventSink>,
    /// The operator's configuration values for the tool (`wasi:config`).
    pub config: Option<Arc<ToolConfig>>,
}

/// A tool's configuration values, by key (`[tools.<name>.config]`), secrets
/// from the environment included; never printed.
pub type ToolConfig = std::collections::BTreeMap<String, crate::secret::Secret>;

/// Something a running call tells its client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// How far the call got (MCP `notifications/progress`).
    Progress {
        /// Grows from one report to the next.
        progress: f64,
        /// The end, when known.
        total: Option<f64>,
        /// What it is doing.
        message: Option<String>,
    },
    /// A log message for the client (MCP `notifications/message`).
    Log {
        /// Its severity.
        level: ClientLevel,
        /// Which part of the tool wrote it.
        logger: Option<String>,
        /// The message: JSON the tool wrote (text if it was not JSON).
        data: serde_json::Value,
    },
    /// The resource at this URI changed, for the caller's clients that
    /// subscribed to it (MCP `notifications/resources/updated`).
    ResourceUpdated {
        /// An absolute URI, at most [`MAX_URI_BYTES`](super::MAX_URI_BYTES).
        uri: String,
    },
}

/// The severity of a message to the client: MCP's syslog levels, least
/// severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum ClientLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

/// A question a running call puts to its client: the user (elicitation) or
/// the client's model (sampling). The instance waits for the reply.
#[derive(Debug)]
pub struct Ask {
    /// What is asked.
    pub question: Question,
    /// Where the answer goes: the result's JSON, or why there is none.
    pub reply: std::sync::mpsc::SyncSender<Result<serde_json::Value, String>>,
}

/// What a call asks its client, as MCP request params (JSON).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Question {
    /// `elicitation/create`.
    Elicit(serde_json::Value),
    /// `sampling/createMessage`.
    Sample(serde_json::Value),
}

impl Question {
    /// What identifies the question across the rounds of a 2026-07-28
    /// request: a SHA-256 digest of its kind and params.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let (kind, params) = match self {
            Question::Elicit(p) => ("elicit", p),
            Question::Sample(p) => ("sample", p),
        };
        let mut hash = Sha256::new();
        hash.update(kind.as_bytes());
        hash.update([0]);
        hash.update(params.to_string().as_bytes());
        hash.finalize().into()
    }
}

/// A question answered in an earlier round of a 2026-07-28 request: the
/// call runs again from the start, and its asks get these answers in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// [`Question::digest`] of what was asked.
    pub digest: [u8; 32],
    /// The client's answer (an `ElicitResult` or `CreateMessageResult` as
    /// JSON).
    pub answer: serde_json::Value,
}

/// Where one call's notifications go: a bounded channel (a full one drops
/// them; the call never waits for the client) and the least severe log
/// level the client wants; and where its questions go, when its client can
/// be asked.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<CallEvent>,
    min_level: ClientLevel,
    progress: bool,
    asks: Option<mpsc::Sender<Ask>>,
    /// Set for a 2026-07-28 request: questions are answered from here, and
    /// the first one without an answer stops the call.
    deferred: Option<Deferred>,
}

/// How the questions of one round of a 2026-07-28 request are answered.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    /// The answers of earlier rounds, in order.
    pub(crate) answers: Arc<[Answered]>,
    /// Whether the client can be asked for input (elicitation).
    pub(crate) elicit: bool,
    /// Whether the client can be asked for a completion (sampling).
    pub(crate) sample: bool,
}

impl EventSink {
    /// Notifications into `tx`: log messages at `min_level` or above, and
    /// progress reports when `progress` (the client asked for them).
    pub fn new(tx: mpsc::Sender<CallEvent>, min_level: ClientLevel, progress: bool) -> Self {
        EventSink {
            tx,
            min_level,
            progress,
            asks: None,
            deferred: None,
        }
    }

    /// Questions are not sent while the call runs (a 2026-07-28 request
    /// has no server-to-client requests): the call's asks get `answers` in
    /// order, and the first one past them stops the call with
    /// [`CallError::InputRequired`](super::CallError::InputRequired).
    /// `elicit` and `sample` say whether the client can answer each kind of
    /// question (one it cannot is refused to the tool, as on a session).
    pub fn with_answers(mut self, answers: Vec<Answered>, elicit: bool, sample: bool) -> Self {
        self.asks = None;
        self.deferred = Some(Deferred {
            answers: answers.into(),
            elicit,
            sample,
        });
        self
    }

    /// How questions are answered when the call is one round of a
    /// 2026-07-28 request.
    pub(crate) fn deferred(&self) -> Option<&Deferred> {
        self.deferred.as_ref()
    }

    /// Questions for the client go into `asks`.
    pub fn with_asks(mut self, asks: mpsc::Sender<Ask>) -> Self {
        self.asks = Some(asks);
        self
    }

    /// Put a question to the client; false when it cannot be asked (no
    /// channel for questions, or one already waiting).
    pub(crate) fn ask(&self, ask: Ask) -> bool {
        self.asks.as_ref().is_some_and(|a| a.try_send(ask).is_ok())
    }

    /// Whether progress reports are wanted.
    pub(crate) fn wants_progress(&self) -> bool {
        self.progress
    }

    /// Whether a log message at `level` is wanted.
    pub(crate) fn wants(&self, level: ClientLevel) -> bool {
        level >= self.min_level
    }

    /// Send `event` unless the channel is full or closed; false if dropped.
    pub(crate) fn send(&self, event: CallEvent) -> bool {
        self.tx.try_send(event).is_ok()
    }
}

/// A flag the host raises to stop one call. The instance running it stops
/// at the next epoch tick (within about 10 ms of wasm code running; a call
/// blocked in a host function, such as an HTTP request, stops when that
/// returns). Cheap to clone; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag not raised.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Raise it: the call stops.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it was raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The error an instance is stopped with when it asks what the client can
/// answer only in a later round (2026-07-28).
#[derive(Debug)]
pub(crate) struct NeedsInput(pub(crate) Question);

impl std::fmt::Display for NeedsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call needs input from the client")
    }
}

impl std::error::Error for NeedsInput {}

/// The error an instance is stopped with when its call is cancelled.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call was cancelled")
    }
}

impl std::error::Error for Cancelled {}
