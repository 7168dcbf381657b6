//! stdio: one client on stdin/stdout, running as a configured principal.

use super::mcp::{McpHandler, McpShared};
use crate::Principal;
use rmcp::ServiceExt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Serve one MCP client on this process's stdin and stdout until it
/// disconnects or `cancel` fires. Logs must go to stderr.
pub(crate) async fn serve(
    shared: Arc<McpShared>,
    principal: Principal,
    cancel: CancellationToken,
) -> Result<(), String> {
    let handler = McpHandler::stdio(shared, principal);
    let running = handler
        .serve_with_ct(rmcp::transport::stdio(), cancel)
        .await
        .map_err(|e| format!("stdio session failed to start: {e}"))?;
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| format!("stdio session ended abnormally: {e}"))
}
