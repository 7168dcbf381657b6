//! How the proxy's endpoints refuse: one type for every refusal, logged
//! with its reason (never a token or code) and turned into the answer the
//! OAuth specifications ask for.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

/// A refusal of a proxy endpoint.
#[derive(Debug)]
pub(super) enum OAuthError {
    /// An RFC 6749 / 7591 JSON error answer.
    Json {
        status: StatusCode,
        error: &'static str,
        description: String,
        /// Seconds until a retry may succeed (`Retry-After`).
        retry_after: Option<u64>,
    },
    /// A page, for errors that must not redirect (the client or its
    /// redirect URI cannot be trusted).
    Page {
        status: StatusCode,
        title: &'static str,
        detail: String,
    },
    /// Back to the client's redirect URI with `error`, `state` and `iss`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
        issuer: String,
    },
}

impl OAuthError {
    /// A JSON error with `status`.
    pub(super) fn json(status: StatusCode, error: &'static str, why: impl Into<String>) -> Self {
        OAuthError::Json {
            status,
            error,
            description: why.into(),
            retry_after: None,
        }
    }

    /// `400 invalid_request`.
    pub(super) fn invalid_request(why: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_request", why)
    }

    /// `400 invalid_grant`.
    pub(super) fn invalid_grant(why: impl Into<String>) -> Self {
        Self::json(StatusCode::BAD_REQUEST, "invalid_grant", why)
    }

    /// `401 invalid_client`, with a Basic challenge.
    pub(super) fn invalid_client(why: impl Into<String>) -> Self {
        Self::json(StatusCode::UNAUTHORIZED, "invalid_client", why)
    }

    /// `500 server_error`; `detail` is logged, `public` is answered.
    pub(super) fn server_error(detail: impl std::fmt::Display, public: &str) -> Self {
        tracing::error!(error = %detail, "{public}");
        Self::json(StatusCode::INTERNAL_SERVER_ERROR, "server_error", public)
    }

    /// A page with `status` 400.
    pub(super) fn page(title: &'static str, detail: impl Into<String>) -> Self {
        OAuthError::Page {
            status: StatusCode::BAD_REQUEST,
            title,
            detail: detail.into(),
        }
    }
}

/// Browser-based clients call the proxy across origins, without cookies.
pub(super) fn cors(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `s` as HTML text or a quoted attribute value.
pub(super) fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML of an error page.
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>\
             <h1>{}</h1><p>{}</p><p>Close this window and try again from your application.</p>\n",
            escape_html(title),
            escape_html(detail)
        ),
    )
        .into_response()
}

/// Send the user agent back to the client with `params` and our `iss`.
pub(super) fn back_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    issuer: &str,
) -> Response {
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect URI",
            "The application's redirect URI is not a URL.",
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        q.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self {
            OAuthError::Json {
                status,
                error,
                description,
                retry_after,
            } => {
                tracing::warn!(reason = ?description, error, "OAuth request refused");
                let mut r = cors(
                    (
                        status,
                        [(header::CACHE_CONTROL, "no-store")],
                        axum::Json(json!({"error": error, "error_description": description})),
                    )
                        .into_response(),
                );
                if status == StatusCode::UNAUTHORIZED {
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"toolhost\""),
                    );
                }
                if let Some(wait) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
                }
                r
            }
            OAuthError::Page {
                status,
                title,
                detail,
            } => {
                tracing::warn!(reason = ?detail, "authorization refused");
                error_page(status, title, &detail)
            }
            OAuthError::Redirect {
                redirect_uri,
                state,
                error,
                description,
                issuer,
            } => {
                tracing::warn!(reason = ?description, error, "authorization refused");
                let mut params = vec![("error", error), ("error_description", &description)];
                if let Some(s) = &state {
                    params.push(("state", s));
                }
                back_to_client(&redirect_uri, &params, &issuer)
            }
        }
    }
}
