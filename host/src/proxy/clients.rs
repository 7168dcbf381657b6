//! Clients of the proxy: dynamic registration (RFC 7591), the metadata the
//! proxy relies on, and lookups of registered clients or Client ID Metadata
//! Documents.

use super::error::{OAuthError, cors};
use super::seal;
use super::{OAuthProxy, Proxy};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Largest registration accepted.
const MAX_REGISTRATION_BYTES: usize = 64 * 1024;
/// Most redirect URIs a client may register.
const MAX_REDIRECT_URIS: usize = 10;

/// A redirect URI a client may register: https, or http on loopback
/// (RFC 8252), without a fragment.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" => match url.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err(format!(
                "{uri:?}: http is allowed only on loopback (127.0.0.1, [::1], localhost)"
            )),
        },
        _ => Err(format!("{uri:?}: must be https, or http on loopback")),
    }
}

/// Whether `presented` is the registered redirect URI `registered`: the
/// same string, or, for a loopback http URI, the same but for the port
/// (RFC 8252 §7.3: native apps listen on whatever port is free).
pub(super) fn same_redirect(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(a), Ok(b)) = (
        reqwest::Url::parse(registered),
        reqwest::Url::parse(presented),
    ) else {
        return false;
    };
    let loopback = |u: &reqwest::Url| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
    };
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
        && b.username().is_empty()
        && b.password().is_none()
}

fn strings(doc: &Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{key} must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}

/// The client metadata the proxy relies on, from a registration or a
/// metadata document.
pub(super) struct ClientInfo {
    /// The name it gave itself (`client_name`), shown on the consent page.
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub secret_hash: Option<String>,
    pub grant_types: Vec<String>,
}

impl ClientInfo {
    fn from_metadata(doc: &Value, secret_hash: Option<String>) -> Result<ClientInfo, String> {
        let redirect_uris = strings(doc, "redirect_uris")?.unwrap_or_default();
        if redirect_uris.is_empty() {
            return Err("redirect_uris: at least one is required".into());
        }
        for uri in &redirect_uris {
            check_redirect_uri(uri)?;
        }
        let grant_types =
            strings(doc, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
        let name =
            (doc.get("client_name").and_then(Value::as_str)).map(|n| n.chars().take(100).collect());
        Ok(ClientInfo {
            name,
            redirect_uris,
            secret_hash,
            grant_types,
        })
    }
}

/// Why a client could not be found.
#[derive(Debug, thiserror::Error)]
pub(super) enum ClientError {
    /// Its metadata document or registration is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

impl OAuthProxy {
    /// A registered client or a metadata document's.
    pub(super) async fn client(&self, client_id: &str) -> Result<Option<ClientInfo>, ClientError> {
        if super::cimd::is_document_url(client_id) {
            let doc = self
                .documents
                .get(client_id, self.settings.issue.cimd_allow_private)
                .await
                .map_err(|e| ClientError::Invalid(e.to_string()))?;
            return (ClientInfo::from_metadata(&doc, None).map(Some)).map_err(ClientError::Invalid);
        }
        let id = client_id.to_owned();
        match self.db(move |s| s.client(&id)).await? {
            None => Ok(None),
            Some(row) => (ClientInfo::from_metadata(&row.metadata, row.secret_hash).map(Some))
                .map_err(ClientError::Invalid),
        }
    }

    fn take_registration_token(&self) -> Result<(), u64> {
        let per_minute = f64::from(self.settings.issue.registrations_per_minute);
        let now = self.clock.instant();
        let mut bucket = self.registrations.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = &mut *bucket;
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * per_minute / 60.0).min(per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if per_minute <= 0.0 {
            Err(60)
        } else {
            Err(((1.0 - *tokens) * 60.0 / per_minute).ceil() as u64)
        }
    }
}

/// `POST /register`.
pub(super) async fn register(
    State(proxy): Proxy,
    super::Source(source): super::Source,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let per_source = proxy.settings.issue.registrations_per_source_per_minute;
    let limited = (proxy.take_per_source("register", &source, per_source))
        .and_then(|()| proxy.take_registration_token());
    if let Err(wait) = limited {
        return Err(OAuthError::Json {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "invalid_request",
            description: format!("too many client registrations; retry in {wait} s"),
            retry_after: Some(wait),
        });
    }
    let refuse =
        |error: &'static str, why: String| OAuthError::json(StatusCode::BAD_REQUEST, error, why);
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(refuse(
            "invalid_client_metadata",
            format!("the registration is over {MAX_REGISTRATION_BYTES} bytes"),
        ));
    }
    let mut doc: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return Err(refuse(
                "invalid_client_metadata",
                "not a JSON object".into(),
            ));
        }
        Err(e) => {
            return Err(refuse(
                "invalid_client_metadata",
                format!("the body is not JSON: {e}"),
            ));
        }
    };
    let uris = match strings(&doc, "redirect_uris") {
        Ok(Some(u)) if !u.is_empty() => u,
        Ok(_) => {
            return Err(refuse(
                "invalid_redirect_uri",
                "redirect_uris: at least one is required".into(),
            ));
        }
        Err(e) => return Err(refuse("invalid_redirect_uri", e)),
    };
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(refuse(
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        ));
    }
    if let Some(e) = uris.iter().find_map(|u| check_redirect_uri(u).err()) {
        return Err(refuse("invalid_redirect_uri", e));
    }
    let method = match doc.get("token_endpoint_auth_method") {
        None => "client_secret_basic".to_owned(),
        Some(Value::String(m))
            if ["none", "client_secret_post", "client_secret_basic"].contains(&m.as_str()) =>
        {
            m.clone()
        }
        Some(other) => {
            return Err(refuse(
                "invalid_client_metadata",
                format!(
                    "token_endpoint_auth_method {other} is not supported (none, client_secret_post, client_secret_basic)"
                ),
            ));
        }
    };
    let grants = match strings(&doc, "grant_types") {
        Ok(g) => g.unwrap_or_else(|| vec!["authorization_code".into()]),
        Err(e) => return Err(refuse("invalid_client_metadata", e)),
    };
    if let Some(g) = grants
        .iter()
        .find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str()))
    {
        return Err(refuse(
            "invalid_client_metadata",
            format!("grant type {g:?} is not supported (authorization_code, refresh_token)"),
        ));
    }
    match strings(&doc, "response_types") {
        Ok(None) => {}
        Ok(Some(r)) if r.iter().all(|t| t == "code") => {}
        Ok(Some(_)) | Err(_) => {
            return Err(refuse(
                "invalid_client_metadata",
                "response_types: only \"code\" is supported".into(),
            ));
        }
    }
    let random = |why| OAuthError::server_error(why, "the registration could not be made");
    let client_id = seal::random_token().map_err(random)?[..32].to_owned();
    let issued_at = proxy.now();
    doc["client_id"] = json!(client_id);
    doc["client_id_issued_at"] = json!(issued_at);
    doc["token_endpoint_auth_method"] = json!(method);
    doc["grant_types"] = json!(grants);
    doc["response_types"] = json!(["code"]);
    let secret = match method.as_str() {
        "none" => None,
        _ => Some(seal::random_token().map_err(random)?),
    };
    let stored = {
        let (id, doc, hash) = (
            client_id.clone(),
            doc.clone(),
            secret.as_deref().map(seal::digest),
        );
        proxy
            .db(move |s| s.put_client(&id, &doc, hash.as_deref(), issued_at))
            .await
    };
    stored.map_err(|e| OAuthError::server_error(e, "the registration could not be stored"))?;
    if let Some(secret) = secret {
        doc["client_secret"] = json!(secret);
        doc["client_secret_expires_at"] = json!(0);
    }
    tracing::info!(client_id = %client_id, method = %method, "client registered");
    Ok(cors(
        (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(doc),
        )
            .into_response(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8765/oauth/callback",
            "http://localhost/cb",
            "http://[::1]:9/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loopback_redirect_uri_matches_on_any_port_and_nothing_else_does() {
        let registered = "http://127.0.0.1:8765/callback";
        assert!(same_redirect(registered, "http://127.0.0.1:50123/callback"));
        assert!(same_redirect(registered, "http://127.0.0.1/callback"));
        assert!(same_redirect(
            "http://[::1]:1/cb?x=1",
            "http://[::1]:2/cb?x=1"
        ));
        for other in [
            "http://127.0.0.1:50123/other",
            "http://localhost:8765/callback",
            "http://127.0.0.1:8765/callback?extra=1",
            "http://user@127.0.0.1:8765/callback",
            "https://127.0.0.1:8765/callback",
        ] {
            assert!(!same_redirect(registered, other), "{other}");
        }
        let https = "https://app.example.com/cb";
        assert!(same_redirect(https, https));
        assert!(
            !same_redirect(https, "https://app.example.com:8443/cb"),
            "only loopback"
        );
    }
}
