//! A call's notifications to its client: progress reports and log messages,
//! forwarded from the running instance to the request's peer (over the
//! request's event stream, or the session's).
//!
//! MCP's logging (`notifications/message`, `logging/setLevel`) is deprecated
//! by SEP-2577 in the 2026-07-28 revision; clients of 2025-11-25 still use
//! it, so it is sent to those that ask (rmcp marks its types deprecated).
#![allow(deprecated)]

use crate::runtime::{CallEvent, ClientLevel, EventSink, MAX_NOTIFY, MAX_PROGRESS};
use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam};
use rmcp::service::RequestContext;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Notifications queued per call at most: room for every one the caps let
/// through, so none within them is lost to a slow client (the instance never
/// waits for the client; the caps bound the memory: 200 short messages).
const QUEUE: usize = (MAX_PROGRESS + MAX_NOTIFY) as usize;

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
/// progress token. The task ends when the call drops its sink; await it
/// before answering, so every notification precedes the result.
pub(crate) fn forward(
    cx: &RequestContext<RoleServer>,
    min_level: ClientLevel,
) -> (EventSink, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let token = cx.meta.get_progress_token();
    let sink = EventSink::new(tx, min_level, token.is_some());
    let peer = cx.peer.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
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
            };
            if let Err(e) = sent {
                tracing::debug!(error = %e, "a notification for the client could not be sent; dropping the rest");
                break;
            }
        }
    });
    (sink, task)
}
