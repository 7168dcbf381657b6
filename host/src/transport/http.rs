//! Streamable HTTP: rmcp's service nested at `/mcp` in an axum router.

use super::HttpSettings;
use super::mcp::{McpHandler, McpShared};
use super::sessions::{OwnedSessionManager, SessionOwners, SessionRefused};
use crate::Principal;
use crate::dispatch::{InFlight, InFlightGuard};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The MCP endpoint as a router with one route, `/mcp`.
/// `sessions` closes rmcp's sessions and streams; the host cancels it once
/// the POST requests counted in `posts` have been answered.
pub(crate) fn mcp_router(
    shared: Arc<McpShared>,
    server: &HttpSettings,
    base: &str,
    sessions: &CancellationToken,
    posts: Arc<InFlight>,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(server.allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(server.max_body_bytes)
        .with_cancellation_token(sessions.child_token());
    if !server.allowed_origins.is_empty() {
        config = config.with_allowed_origins(server.allowed_origins.iter().cloned());
    }
    let owners = shared.owners().clone();
    let sessions = OwnedSessionManager::new(owners.clone(), server.session_idle);
    let service = StreamableHttpService::new(
        move || Ok(McpHandler::http(shared.clone())),
        Arc::new(sessions),
        config,
    );
    Router::new()
        .nest_service(&format!("{base}/mcp"), service)
        .layer(axum::middleware::from_fn_with_state(
            (owners, server.max_body_bytes),
            session_rules,
        ))
        .layer(axum::middleware::from_fn_with_state(
            server.max_body_bytes,
            json_rpc_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(posts, count_posts))
}

/// The method of a JSON-RPC body, read without building the rest of it.
fn method_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let probe: Probe<'_> = serde_json::from_slice(body).ok()?;
    probe.method.map(|m| m.into_owned())
}

/// Sessions answer only the caller that opened them (another caller's
/// requests with its `Mcp-Session-Id` get 404, as for an unknown session),
/// and an `initialize` that would open more sessions than a caller (or the
/// server) may hold is refused with 429 (or 503) and a JSON-RPC error that
/// says why. Runs behind the auth layer, which put the principal there.
async fn session_rules(
    State((owners, max_body)): State<(Arc<SessionOwners>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(subject) = (request.extensions().get::<Principal>()).map(|p| p.subject.clone()) else {
        return next.run(request).await;
    };
    if let Some(id) = request.headers().get("mcp-session-id") {
        let id = id.to_str().unwrap_or("");
        if !owners.may_use(id, &subject) {
            tracing::warn!(
                subject = subject.as_str(),
                reason = "another caller's session",
                "request rejected"
            );
            return json_rpc_error(StatusCode::NOT_FOUND, -32001, "Session not found".into());
        }
        return next.run(request).await;
    }
    // A stateless 2026-07-28 request (it names its method in a header)
    // opens no session.
    if request.method() != Method::POST || request.headers().contains_key("mcp-method") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, max_body).await else {
        tracing::warn!(
            reason = "body_too_large",
            limit = max_body,
            "request rejected"
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let request = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
    if method_of(&bytes).as_deref() != Some("initialize") {
        return next.run(request).await;
    }
    let reservation = match owners.reserve(&subject) {
        Ok(r) => r,
        Err(refused) => {
            let status = match refused {
                SessionRefused::Caller { .. } => StatusCode::TOO_MANY_REQUESTS,
                SessionRefused::Server { .. } => StatusCode::SERVICE_UNAVAILABLE,
            };
            tracing::warn!(
                subject = subject.as_str(),
                reason = "too_many_sessions",
                detail = refused.to_string().as_str(),
                "request rejected"
            );
            return json_rpc_error(status, -32000, refused.to_string());
        }
    };
    let response = next.run(request).await;
    if let Some(id) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        reservation.opened(id);
    }
    response
}

/// Count a POST (a request that expects an answer) as in flight until its
/// response body has been sent or dropped, so a shutdown closes the
/// sessions only once every answer went out. Streams that stay open until
/// the sessions close are not counted: GET streams, and 2026-07-28
/// `subscriptions/listen` requests.
async fn count_posts(State(posts): State<Arc<InFlight>>, request: Request, next: Next) -> Response {
    let listening = request
        .headers()
        .get("mcp-method")
        .is_some_and(|m| m.as_bytes() == b"subscriptions/listen");
    if request.method() != Method::POST || listening {
        return next.run(request).await;
    }
    let guard = posts.enter();
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        axum::body::Body::new(Guarded {
            body,
            _guard: guard,
        }),
    )
}

/// A response body that holds a guard until it is done.
struct Guarded {
    body: axum::body::Body,
    _guard: InFlightGuard,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A JSON-RPC error response with no id (the request's could not be read).
fn json_rpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Requests whose body is not JSON get a JSON-RPC parse error (-32700), and
/// JSON that is not a JSON-RPC message an invalid-request error (-32600),
/// both with status 400, where rmcp alone answers 415 with plain text. The
/// syntax check builds no value; rmcp's own parse then refuses nesting
/// deeper than serde_json's limit of 128 before it can exhaust the stack.
async fn json_rpc_errors(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    let is_json_post = request.method() == Method::POST
        && request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
    if !is_json_post {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            tracing::warn!(
                reason = "body_too_large",
                limit = max_body,
                "request rejected"
            );
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        tracing::info!(
            reason = "parse_error",
            error = e.to_string().as_str(),
            "request rejected"
        );
        return json_rpc_error(StatusCode::BAD_REQUEST, -32700, format!("Parse error: {e}"));
    }
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    // The body is JSON and its type is right, so rmcp refused the message.
    let detail = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let detail = detail
        .strip_prefix("fail to deserialize request body ")
        .unwrap_or(&detail);
    tracing::info!(
        reason = "invalid_request",
        error = detail,
        "request rejected"
    );
    json_rpc_error(
        StatusCode::BAD_REQUEST,
        -32600,
        format!("Invalid Request: not a JSON-RPC message: {detail}"),
    )
}
