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
pub(crate) fn mcp_router(
    shared: Arc<McpShared>,
    server: &ServerConfig,
    cancel: &CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(server.allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(server.max_body_bytes)
        .with_cancellation_token(cancel.child_token());
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

/// Serve `router` on `listener` until `cancel` fires, with TCP_NODELAY on
/// every accepted socket (without it a small response waits ~40 ms for
/// delayed ACKs).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}
