//! Streamable HTTP: rmcp's service nested at `/mcp` in an axum router.

use super::mcp::{McpHandler, McpShared};
use crate::config::ServerConfig;
use axum::Router;
use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The MCP endpoint as a router with one route, `/mcp`.
/// `sessions` closes rmcp's sessions and streams; [`serve`] cancels it once
/// in-flight calls have drained.
pub(crate) fn mcp_router(
    shared: Arc<McpShared>,
    server: &ServerConfig,
    sessions: &CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(server.allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(server.max_body_bytes)
        .with_cancellation_token(sessions.child_token());
    if !server.allowed_origins.is_empty() {
        config = config.with_allowed_origins(server.allowed_origins.iter().cloned());
    }
    let service = StreamableHttpService::new(
        move || Ok(McpHandler::http(shared.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new().nest_service("/mcp", service)
}

/// How a server stops: `stop` stops accepting connections; `sessions` fires
/// once the calls in flight have drained (see `Host::shutdown`), closing
/// rmcp's sessions and streams; connections still open `grace` after that are
/// dropped.
pub(crate) struct Shutdown {
    pub stop: CancellationToken,
    pub sessions: CancellationToken,
    pub grace: std::time::Duration,
}

/// Serve `router` on `listener` until `shutdown.stop` fires, with
/// TCP_NODELAY on every accepted socket (without it a small response waits
/// ~40 ms for delayed ACKs).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let stop = shutdown.stop.clone();
    let server =
        axum::serve(listener, router).with_graceful_shutdown(async move { stop.cancelled().await });
    let deadline = async {
        shutdown.stop.cancelled().await;
        shutdown.sessions.cancelled().await;
        tokio::time::sleep(shutdown.grace).await;
    };
    tokio::select! {
        served = server => served,
        _ = deadline => {
            tracing::warn!("connections still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}
