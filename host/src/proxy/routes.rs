//! The proxy's router: metadata, keys, and where each endpoint lives.

use super::error::cors;
use super::{OAuthProxy, Proxy};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

pub(super) fn router(proxy: Arc<OAuthProxy>) -> Router {
    let base = proxy.settings.base.clone();
    let mut router = Router::new()
        .route(
            &format!("/.well-known/oauth-authorization-server{base}"),
            get(metadata),
        )
        .route(
            &format!("{base}/register"),
            post(super::clients::register).options(preflight),
        )
        .route(
            &format!("{base}/authorize"),
            get(super::authorize::authorize),
        )
        .route(
            &format!("{base}/oauth/callback"),
            get(super::authorize::callback),
        )
        .route(
            &format!("{base}/oauth/consent"),
            post(super::consent::answer),
        )
        .route(
            &format!("{base}/token"),
            post(super::token::token).options(preflight),
        )
        .route(&format!("{base}/oauth/jwks.json"), get(jwks));
    if matches!(proxy.sign_in, super::SignIn::Development) {
        router = router.route(
            &format!("{base}/oauth/dev-sign-in"),
            post(super::dev_sign_in::answer),
        );
    }
    if !base.is_empty() {
        // Clients that append the well-known path to the issuer's.
        router = router.route(
            &format!("{base}/.well-known/oauth-authorization-server"),
            get(metadata),
        );
    }
    router.with_state(proxy)
}

async fn preflight() -> Response {
    let mut r = cors(StatusCode::NO_CONTENT.into_response());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

async fn metadata(State(proxy): Proxy) -> Response {
    cors(
        (
            [(header::CACHE_CONTROL, "max-age=300")],
            axum::Json(proxy.metadata()),
        )
            .into_response(),
    )
}

async fn jwks(State(proxy): Proxy) -> Response {
    cors(
        (
            [(header::CACHE_CONTROL, "max-age=300")],
            axum::Json(proxy.signer.jwks().clone()),
        )
            .into_response(),
    )
}
