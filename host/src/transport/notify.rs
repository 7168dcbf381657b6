//! A call's notifications to its client: progress reports and log messages,
//! forwarded from the running instance to the request's peer (over the
//! request's event stream, or the session's); and its questions:
//! elicitation (the user) and sampling (the client's model), sent as
//! server-to-client requests, their answers handed back to the waiting
//! instance.
//!
//! MCP's logging (`notifications/message`, `logging/setLevel`) is deprecated
//! by SEP-2577 in the 2026-07-28 revision; clients of 2025-11-25 still use
//! it, so it is sent to those that ask (rmcp marks its types deprecated).
#![allow(deprecated)]

use crate::runtime::{
    Ask, CallEvent, ClientLevel, EventSink, MAX_NOTIFY, MAX_PROGRESS, MAX_UPDATES, Question,
};
use rmcp::model::{
    CreateMessageRequestParams, ElicitRequestParams, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Notifications queued per call at most: room for every one the caps let
/// through, so none within them is lost to a slow client (the instance never
/// waits for the client; the caps bound the memory: 300 short messages).
const QUEUE: usize = (MAX_PROGRESS + MAX_NOTIFY + MAX_UPDATES) as usize;

/// MCP's level for the host's.
pub(crate) fn to_mcp(level: ClientLevel) -> LoggingLevel {
    match level {
        ClientLevel::Debug => LoggingLevel::Debug,
        ClientLevel::Info => LoggingLevel::Info,
        ClientLevel::Notice => LoggingLevel::Notice,
        ClientLevel::Warning => LoggingLevel::Warning,
        ClientLevel::Error => LoggingLevel::Error,
        ClientLevel::Critical => LoggingLevel::Critical,
        ClientLevel::Alert => LoggingLevel::Alert,
        ClientLevel::Emergency => LoggingLevel::Emergency,
    }
}

/// The host's level for MCP's.
pub(crate) fn from_mcp(level: LoggingLevel) -> ClientLevel {
    match level {
        LoggingLevel::Debug => ClientLevel::Debug,
        LoggingLevel::Info => ClientLevel::Info,
        LoggingLevel::Notice => ClientLevel::Notice,
        LoggingLevel::Warning => ClientLevel::Warning,
        LoggingLevel::Error => ClientLevel::Error,
        LoggingLevel::Critical => ClientLevel::Critical,
        LoggingLevel::Alert => ClientLevel::Alert,
        LoggingLevel::Emergency => ClientLevel::Emergency,
    }
}

/// Start forwarding one call's notifications to the client of `cx`: log
/// messages at `min_level` or above, progress when the request carries a
/// progress token; the URIs of resources it says changed go to
/// `on_update`. The task ends when the call drops its sink; await it before
/// answering, so every notification precedes the result.
pub(crate) fn forward(
    cx: &RequestContext<RoleServer>,
    min_level: ClientLevel,
    on_update: impl Fn(String) + Send + 'static,
) -> (EventSink, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    // One question at a time: the instance waits for each answer.
    let (ask_tx, mut asks) = mpsc::channel::<Ask>(1);
    let token = cx.meta.get_progress_token();
    let sink = EventSink::new(tx, min_level, token.is_some()).with_asks(ask_tx);
    let peer = cx.peer.clone();
    let task = tokio::spawn(async move {
        loop {
            // Notifications already sent go out before a question.
            let event = tokio::select! {
                biased;
                event = rx.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                Some(ask) = asks.recv() => {
                    let answer = answer(&peer, ask.question).await;
                    // The instance may have stopped waiting (cancelled).
                    let _ = ask.reply.send(answer);
                    continue;
                }
            };
            let sent = match event {
                CallEvent::Progress {
                    progress,
                    total,
                    message,
                } => {
                    let Some(token) = token.clone() else { continue };
                    let mut param = ProgressNotificationParam::new(token, progress);
                    param.total = total;
                    param.message = message;
                    peer.notify_progress(param).await
                }
                CallEvent::Log {
                    level,
                    logger,
                    data,
                } => {
                    let mut param = LoggingMessageNotificationParam::new(to_mcp(level), data);
                    param.logger = logger;
                    peer.notify_logging_message(param).await
                }
                CallEvent::ResourceUpdated { uri } => {
                    on_update(uri);
                    continue;
                }
            };
            if let Err(e) = sent {
                tracing::debug!(error = %e, "a notification for the client could not be sent; dropping the rest");
                break;
            }
        }
    });
    (sink, task)
}

/// Put `question` to the client of `peer`: the result as JSON, or why
/// there is none (said to the tool).
async fn answer(peer: &Peer<RoleServer>, question: Question) -> Result<Value, String> {
    let info = peer.peer_info();
    if info
        .as_ref()
        .is_some_and(|i| i.protocol_version == ProtocolVersion::V_2026_07_28)
    {
        // Its calls ask in their result (`rounds`); nothing reaches here.
        return Err("a 2026-07-28 request has no server-to-client requests".into());
    }
    let capabilities = info.map(|i| i.capabilities.clone());
    match question {
        Question::Elicit(params) => {
            if capabilities.is_some_and(|c| c.elicitation.is_none()) {
                return Err("the client does not support elicitation".into());
            }
            let params: ElicitRequestParams = serde_json::from_value(params)
                .map_err(|e| format!("the elicitation request is malformed: {e}"))?;
            let result = peer.create_elicitation(params).await.map_err(|e| {
                tracing::info!(error = %e, "an elicitation request failed");
                format!("the elicitation request failed: {e}")
            })?;
            serde_json::to_value(result).map_err(|e| e.to_string())
        }
        Question::Sample(params) => {
            if capabilities.is_some_and(|c| c.sampling.is_none()) {
                return Err("the client does not support sampling".into());
            }
            let params: CreateMessageRequestParams = serde_json::from_value(params)
                .map_err(|e| format!("the sampling request is malformed: {e}"))?;
            let result = peer.create_message(params).await.map_err(|e| {
                tracing::info!(error = %e, "a sampling request failed");
                format!("the sampling request failed: {e}")
            })?;
            serde_json::to_value(result).map_err(|e| e.to_string())
        }
    }
}
