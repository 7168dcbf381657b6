//! The auth layer in front of `/mcp`, and the metadata documents beside it.
//!
//! Handlers never parse headers: this layer verifies the bearer token and
//! puts the [`Principal`](crate::Principal) into the request's extensions, or
//! answers the request itself with a challenge.

use super::{AuthError, Authenticator};
use crate::policy::Policy;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The bearer token of a request, or why there is none.
fn bearer(request: &Request) -> Result<&str, AuthError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::Malformed("Authorization header is not text".into()))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Other schemes carry no bearer credentials: a plain challenge.
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("empty bearer token".into()));
    }
    Ok(token)
}

/// The response to a rejected request.
pub(crate) fn reject(auth: &Authenticator, error: &AuthError) -> Response {
    let status = match error {
        AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
        AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    metrics::counter!("toolhost_auth_rejections_total", "reason" => error.reason()).increment(1);
    match error {
        AuthError::Missing => {
            tracing::info!(reason = error.reason(), "request rejected: no bearer token")
        }
        // The detail may hold what the client sent (a kid, a type): escaped.
        other => tracing::warn!(
            reason = other.reason(),
            detail = ?other.to_string(),
            "request rejected"
        ),
    }
    let body = serde_json::json!({
        "error": match error {
            AuthError::Missing => "invalid_request",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::KeysUnavailable(_) => "temporarily_unavailable",
            _ => "invalid_token",
        },
        "error_description": error.to_string(),
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&auth.challenge(error)) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[derive(Clone)]
struct LayerState {
    auth: Arc<Authenticator>,
    policy: Arc<Policy>,
    /// Largest body read to find the tool's name.
    max_body_bytes: usize,
}

/// The tool a `tools/call` body names, if it is one.
fn called_tool(body: &[u8]) -> Option<String> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    Some(message.get("params")?.get("name")?.as_str()?.to_owned())
}

async fn authenticate(
    State(state): State<LayerState>,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = &state.auth;
    let token = match bearer(&request) {
        Ok(t) => t.to_owned(),
        Err(e) => return reject(auth, &e),
    };
    let principal = match auth.authenticate(&token).await {
        Ok(p) => p,
        Err(e) => return reject(auth, &e),
    };
    tracing::debug!(subject = ?principal.subject, "request authenticated");
    let missing = state.policy.missing_scopes(&principal, None);
    if !missing.is_empty() {
        return reject(auth, &AuthError::InsufficientScope(missing));
    }
    if state.policy.has_tool_scopes() && request.method() == axum::http::Method::POST {
        // Read the body once to see which tool is called, then hand it on.
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
            Ok(b) => b,
            Err(_) => {
                tracing::warn!(reason = "body_too_large", "request rejected");
                return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
            }
        };
        if let Some(tool) = called_tool(&bytes) {
            let missing = state.policy.missing_scopes(&principal, Some(&tool));
            if !missing.is_empty() {
                tracing::warn!(
                    subject = ?principal.subject,
                    tool = ?tool,
                    "call needs scopes the token lacks"
                );
                return reject(auth, &AuthError::InsufficientScope(missing));
            }
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// `router` behind the auth layer: a verified principal, and the scopes
/// the policy asks of the request (and of the tool a `tools/call` names).
pub(crate) fn require_auth(
    router: Router,
    auth: Arc<Authenticator>,
    policy: Arc<Policy>,
    max_body_bytes: usize,
) -> Router {
    let state = LayerState {
        auth,
        policy,
        max_body_bytes,
    };
    router.layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// The Protected Resource Metadata documents (RFC 9728), at the path clients
/// derive from the MCP URL and at the root.
pub(crate) fn metadata_router(auth: Arc<Authenticator>, base: &str) -> Router {
    let doc = auth.resource_metadata();
    let serve = move || {
        let doc = doc.clone();
        async move { ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(doc)) }
    };
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(serve.clone()))
        .route(
            &format!("/.well-known/oauth-protected-resource{base}/mcp"),
            get(serve),
        )
}
