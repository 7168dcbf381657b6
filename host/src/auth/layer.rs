//! The auth layer in front of `/mcp`, and the metadata documents beside it.
//!
//! Handlers never parse headers: this layer verifies the bearer token and
//! puts the [`Principal`](crate::Principal) into the request's extensions, or
//! answers the request itself with a challenge.

use super::{AuthError, Authenticator};
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
    match error {
        AuthError::Missing => {
            tracing::info!(reason = error.reason(), "request rejected: no bearer token")
        }
        other => tracing::warn!(reason = other.reason(), detail = %other, "request rejected"),
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

async fn authenticate(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = match bearer(&request) {
        Ok(t) => t.to_owned(),
        Err(e) => return reject(&auth, &e),
    };
    match auth.authenticate(&token).await {
        Ok(principal) => {
            tracing::debug!(subject = %principal.subject, "request authenticated");
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => reject(&auth, &e),
    }
}

/// `router` behind the auth layer.
pub(crate) fn require_auth(router: Router, auth: Arc<Authenticator>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(auth, authenticate))
}

/// The Protected Resource Metadata documents (RFC 9728), at the path clients
/// derive from the MCP URL and at the root.
pub(crate) fn metadata_router(auth: Arc<Authenticator>) -> Router {
    let doc = auth.resource_metadata();
    let serve = move || {
        let doc = doc.clone();
        async move { ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(doc)) }
    };
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(serve.clone()))
        .route("/.well-known/oauth-protected-resource/mcp", get(serve))
}
