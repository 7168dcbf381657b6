//! The proxy's HTTP endpoints.

use super::OAuthProxy;
use super::seal::{self, StateError};
use super::store::{CodeLookup, CodeRow, GrantRow, RefreshLookup, now};
use crate::Principal;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

type Proxy = State<Arc<OAuthProxy>>;
type Params = HashMap<String, String>;

/// Largest registration accepted.
const MAX_REGISTRATION_BYTES: usize = 64 * 1024;
/// Most redirect URIs a client may register.
const MAX_REDIRECT_URIS: usize = 10;

pub(super) fn router(proxy: Arc<OAuthProxy>) -> Router {
    let base = proxy.base.clone();
    let mut router = Router::new()
        .route(
            &format!("/.well-known/oauth-authorization-server{base}"),
            get(metadata),
        )
        .route(
            &format!("{base}/register"),
            post(register).options(preflight),
        )
        .route(&format!("{base}/authorize"), get(authorize))
        .route(&format!("{base}/oauth/callback"), get(callback))
        .route(&format!("{base}/token"), post(token).options(preflight))
        .route(&format!("{base}/oauth/jwks.json"), get(jwks));
    if !base.is_empty() {
        // Clients that append the well-known path to the issuer's.
        router = router.route(
            &format!("{base}/.well-known/oauth-authorization-server"),
            get(metadata),
        );
    }
    router.with_state(proxy)
}

/// Browser-based clients call these across origins, without cookies.
fn cors(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
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

/// An RFC 6749 / 7591 error answer; never cached.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
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
    r
}

/// A page for errors that must not redirect (the client or its redirect URI
/// cannot be trusted).
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            "<!doctype html><meta charset=utf-8><title>Sign-in failed</title>\
             <h1>{}</h1><p>{}</p><p>Close this window and try again from your application.</p>\n",
            escape(title),
            escape(detail)
        ),
    )
        .into_response()
}

/// A redirect URI a client may register: https, or http on loopback
/// (RFC 8252), without a fragment.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
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
struct ClientInfo {
    redirect_uris: Vec<String>,
    secret_hash: Option<String>,
    grant_types: Vec<String>,
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
        Ok(ClientInfo {
            redirect_uris,
            secret_hash,
            grant_types,
        })
    }
}

impl OAuthProxy {
    /// A registered client or a metadata document's.
    async fn client(&self, client_id: &str) -> Result<Option<ClientInfo>, String> {
        if super::cimd::is_document_url(client_id) {
            let doc = self
                .documents
                .get(client_id, self.issue.cimd_allow_private)
                .await?;
            return ClientInfo::from_metadata(&doc, None).map(Some);
        }
        match self.store.client(client_id)? {
            None => Ok(None),
            Some(row) => ClientInfo::from_metadata(&row.metadata, row.secret_hash).map(Some),
        }
    }

    fn take_registration_token(&self) -> Result<(), u64> {
        let per_minute = f64::from(self.issue.registrations_per_minute);
        let mut bucket = self.registrations.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = &mut *bucket;
        *tokens = (*tokens + at.elapsed().as_secs_f64() * per_minute / 60.0).min(per_minute);
        *at = Instant::now();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if per_minute <= 0.0 {
            Err(60)
        } else {
            Err(((1.0 - *tokens) * 60.0 / per_minute).ceil() as u64)
        }
    }

    /// Scopes granted for a request: those asked for that this resource
    /// offers (all it offers when none are asked for). Others are dropped,
    /// as RFC 6749 allows; the token response says what was granted.
    fn grant_scopes(&self, requested: Option<&str>) -> Vec<String> {
        let asked: Vec<&str> = requested
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if asked.is_empty() {
            return self.scopes_supported.clone();
        }
        self.scopes_supported
            .iter()
            .filter(|s| asked.contains(&s.as_str()))
            .cloned()
            .collect()
    }
}

async fn register(State(proxy): Proxy, body: Bytes) -> Response {
    if let Err(wait) = proxy.take_registration_token() {
        tracing::warn!(reason = "rate_limited", "client registration refused");
        let mut r = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request",
            &format!("too many client registrations; retry in {wait} s"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return r;
    }
    let refuse = |error: &str, why: String| {
        tracing::warn!(reason = %why, "client registration refused");
        oauth_error(StatusCode::BAD_REQUEST, error, &why)
    };
    if body.len() > MAX_REGISTRATION_BYTES {
        return refuse(
            "invalid_client_metadata",
            format!("the registration is over {MAX_REGISTRATION_BYTES} bytes"),
        );
    }
    let mut doc: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return refuse("invalid_client_metadata", "not a JSON object".into()),
        Err(e) => {
            return refuse(
                "invalid_client_metadata",
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let uris = match strings(&doc, "redirect_uris") {
        Ok(Some(u)) if !u.is_empty() => u,
        Ok(_) => {
            return refuse(
                "invalid_redirect_uri",
                "redirect_uris: at least one is required".into(),
            );
        }
        Err(e) => return refuse("invalid_redirect_uri", e),
    };
    if uris.len() > MAX_REDIRECT_URIS {
        return refuse(
            "invalid_redirect_uri",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        );
    }
    if let Some(e) = uris.iter().find_map(|u| check_redirect_uri(u).err()) {
        return refuse("invalid_redirect_uri", e);
    }
    let method = match doc.get("token_endpoint_auth_method") {
        None => "client_secret_basic".to_owned(),
        Some(Value::String(m))
            if ["none", "client_secret_post", "client_secret_basic"].contains(&m.as_str()) =>
        {
            m.clone()
        }
        Some(other) => {
            return refuse(
                "invalid_client_metadata",
                format!(
                    "token_endpoint_auth_method {other} is not supported (none, client_secret_post, client_secret_basic)"
                ),
            );
        }
    };
    let grants = match strings(&doc, "grant_types") {
        Ok(g) => g.unwrap_or_else(|| vec!["authorization_code".into()]),
        Err(e) => return refuse("invalid_client_metadata", e),
    };
    if let Some(g) = grants
        .iter()
        .find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str()))
    {
        return refuse(
            "invalid_client_metadata",
            format!("grant type {g:?} is not supported (authorization_code, refresh_token)"),
        );
    }
    match strings(&doc, "response_types") {
        Ok(None) => {}
        Ok(Some(r)) if r.iter().all(|t| t == "code") => {}
        Ok(Some(_)) | Err(_) => {
            return refuse(
                "invalid_client_metadata",
                "response_types: only \"code\" is supported".into(),
            );
        }
    }
    let client_id = seal::random_token()[..32].to_owned();
    let issued_at = now();
    doc["client_id"] = json!(client_id);
    doc["client_id_issued_at"] = json!(issued_at);
    doc["token_endpoint_auth_method"] = json!(method);
    doc["grant_types"] = json!(grants);
    doc["response_types"] = json!(["code"]);
    let secret = (method != "none").then(seal::random_token);
    let stored = doc.clone();
    if let Err(e) = proxy.store.put_client(
        &client_id,
        &stored,
        secret.as_deref().map(seal::digest).as_deref(),
    ) {
        tracing::error!(error = %e, "storing a client registration failed");
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the registration could not be stored",
        );
    }
    if let Some(secret) = secret {
        doc["client_secret"] = json!(secret);
        doc["client_secret_expires_at"] = json!(0);
    }
    tracing::info!(client_id = %client_id, method = %method, "client registered");
    cors(
        (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(doc),
        )
            .into_response(),
    )
}

/// The client's authorization request, kept while the user signs in
/// upstream and then bound into the code.
#[derive(Debug, Serialize, Deserialize)]
struct ClientRequest {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    state: Option<String>,
    scope: Vec<String>,
    resource: String,
}

/// Send the user agent back to the client with `params` and our `iss`.
fn back_to_client(redirect_uri: &str, params: &[(&str, &str)], issuer: &str) -> Response {
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

fn client_error(
    proxy: &OAuthProxy,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    tracing::warn!(reason = %description, error, "authorization refused");
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    back_to_client(redirect_uri, &params, &proxy.issuer)
}

async fn authorize(State(proxy): Proxy, Query(q): Query<Params>) -> Response {
    let page = |title: &str, detail: String| {
        tracing::warn!(reason = %detail, "authorization refused");
        error_page(StatusCode::BAD_REQUEST, title, &detail)
    };
    let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
        return page(
            "Unknown application",
            "The request names no client_id.".into(),
        );
    };
    let client = match proxy.client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return page(
                "Unknown application",
                format!("No application is registered as {client_id:?}."),
            );
        }
        Err(e) => return page("Unknown application", format!("{client_id:?}: {e}")),
    };
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(uri) => {
            return page(
                "Invalid redirect URI",
                format!("{uri:?} is not a redirect URI registered for this application."),
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return page(
                "Invalid redirect URI",
                "The request names no redirect_uri and several are registered.".into(),
            );
        }
    };
    // From here on, errors go back to the client.
    let state = q.get("state").map(String::as_str);
    let fail = |error: &str, description: &str| {
        client_error(&proxy, &redirect_uri, state, error, description)
    };
    if state.is_some_and(|s| s.len() > 1024) {
        return fail("invalid_request", "state is longer than 1024 characters");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail(
            "unsupported_response_type",
            "response_type must be \"code\"",
        );
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return fail(
            "unauthorized_client",
            "this application did not register the authorization_code grant",
        );
    }
    let challenge = match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (Some(c), Some(m)) if m == "S256" => c.clone(),
        (Some(_), Some(m)) => {
            return fail(
                "invalid_request",
                &format!("code_challenge_method {m:?} is not supported; use S256"),
            );
        }
        (Some(_), None) => {
            return fail(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            );
        }
        (None, _) => {
            return fail(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method S256",
            );
        }
    };
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        );
    }
    match q.get("resource") {
        None => {}
        Some(r) if r.trim_end_matches('/') == proxy.resource => {}
        Some(r) => {
            return fail(
                "invalid_target",
                &format!(
                    "resource {r:?} is not served here; this server is {}",
                    proxy.resource
                ),
            );
        }
    }
    let request = ClientRequest {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: challenge,
        state: state.map(str::to_owned),
        scope: proxy.grant_scopes(q.get("scope").map(String::as_str)),
        resource: proxy.resource.clone(),
    };
    let id = seal::random_token()[..22].to_owned();
    let verifier = seal::random_token();
    let expires = now() + proxy.issue.authorization_secs;
    let stored = proxy.store.put_pending(
        &id,
        &serde_json::to_string(&request).unwrap_or_default(),
        &proxy.keys.seal(&verifier, &id),
        expires,
    );
    if let Err(e) = stored {
        tracing::error!(error = %e, "storing a pending authorization failed");
        return fail("server_error", "the authorization could not be stored");
    }
    let Ok(mut upstream) = reqwest::Url::parse(&proxy.upstream.authorize) else {
        return fail("server_error", "the identity provider's URL is invalid");
    };
    {
        let mut p = upstream.query_pairs_mut();
        p.append_pair("response_type", "code")
            .append_pair("client_id", &proxy.upstream_client_id)
            .append_pair("redirect_uri", &proxy.callback_url())
            .append_pair("scope", &proxy.upstream_scopes.join(" "))
            .append_pair("state", &proxy.keys.sign_state(&id, expires))
            .append_pair("code_challenge", &seal::s256(&verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", &proxy.resource);
        for passed in ["login_hint", "ui_locales"] {
            if let Some(v) = q.get(passed) {
                p.append_pair(passed, v);
            }
        }
        if proxy.upstream_scopes.iter().any(|s| s == "offline_access") {
            // OpenID Connect grants offline_access only with consent.
            p.append_pair("prompt", "consent");
        }
    }
    tracing::info!(client_id = %client_id, "authorization: signing in upstream");
    Redirect::to(upstream.as_str()).into_response()
}

/// What the identity provider's token endpoint said.
enum Upstream {
    Tokens(Value),
    /// It refused (4xx): the grant is over.
    Refused(String),
    /// It could not be reached or failed (5xx).
    Unavailable(String),
}

impl OAuthProxy {
    async fn upstream_token(&self, mut form: Vec<(&str, String)>) -> Upstream {
        let mut request = self.http.post(&self.upstream.token);
        if self.upstream_secret.is_empty() {
            form.push(("client_id", self.upstream_client_id.clone()));
        } else {
            request = request.basic_auth(
                &self.upstream_client_id,
                Some(self.upstream_secret.expose()),
            );
        }
        let response = match request.form(&form).send().await {
            Ok(r) => r,
            Err(e) => return Upstream::Unavailable(format!("token endpoint: {e}")),
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            Upstream::Tokens(body)
        } else {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error code");
            let why = format!("token endpoint answered HTTP {}: {error}", status.as_u16());
            if status.is_client_error() {
                Upstream::Refused(why)
            } else {
                Upstream::Unavailable(why)
            }
        }
    }

    /// Who the upstream tokens describe; their refresh token, sealed for
    /// `context`.
    async fn upstream_identity(
        &self,
        tokens: &Value,
        context: &str,
    ) -> Result<(Principal, Option<String>), String> {
        let access = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or("the identity provider returned no access token")?;
        let principal = self
            .upstream_auth
            .verify_upstream(access)
            .await
            .map_err(|e| format!("the identity provider's access token: {e}"))?;
        let refresh = tokens
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(|r| self.keys.seal(r, context));
        Ok((principal, refresh))
    }
}

async fn callback(State(proxy): Proxy, Query(q): Query<Params>) -> Response {
    let page = |title: &str, detail: String| {
        tracing::warn!(reason = %detail, "authorization callback refused");
        error_page(StatusCode::BAD_REQUEST, title, &detail)
    };
    let Some(state) = q.get("state") else {
        return page(
            "Invalid sign-in response",
            "The identity provider's answer has no state.".into(),
        );
    };
    let id = match proxy.keys.open_state(state, now()) {
        Ok(id) => id,
        Err(StateError::Tampered) => {
            return page(
                "Invalid sign-in response",
                "The state of this sign-in is not one this server issued.".into(),
            );
        }
        Err(StateError::Expired) => {
            return page(
                "Sign-in expired",
                format!(
                    "The sign-in took longer than {} s.",
                    proxy.issue.authorization_secs
                ),
            );
        }
    };
    let pending = match proxy.store.take_pending(&id) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return page(
                "Sign-in expired",
                "This sign-in was already completed or has expired.".into(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a pending authorization failed");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server error",
                "The sign-in could not be read.",
            );
        }
    };
    let Ok(request) = serde_json::from_str::<ClientRequest>(&pending.0) else {
        return page("Server error", "A stored sign-in is unreadable.".into());
    };
    let fail = |error: &str, description: &str| {
        client_error(
            &proxy,
            &request.redirect_uri,
            request.state.as_deref(),
            error,
            description,
        )
    };
    // RFC 9207: the answer must come from the provider we sent the user to.
    if let Some(iss) = q.get("iss")
        && iss != proxy.upstream_auth.issuer()
    {
        return fail(
            "access_denied",
            "the sign-in answer came from another issuer",
        );
    }
    if let Some(error) = q.get("error") {
        let passed = match error.as_str() {
            "access_denied"
            | "temporarily_unavailable"
            | "server_error"
            | "invalid_scope"
            | "consent_required"
            | "login_required"
            | "interaction_required" => error.as_str(),
            _ => "access_denied",
        };
        return fail(passed, &format!("the identity provider answered {error}"));
    }
    let Some(code) = q.get("code") else {
        return fail("server_error", "the identity provider sent no code");
    };
    let Some(verifier) = proxy.keys.open(&pending.1, &id) else {
        return fail("server_error", "a stored sign-in is unreadable");
    };
    let tokens = match proxy
        .upstream_token(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", proxy.callback_url()),
            ("code_verifier", verifier),
            ("resource", proxy.resource.clone()),
        ])
        .await
    {
        Upstream::Tokens(t) => t,
        Upstream::Refused(why) => return fail("access_denied", &why),
        Upstream::Unavailable(why) => return fail("temporarily_unavailable", &why),
    };
    let grant_id = seal::random_token()[..22].to_owned();
    let (principal, upstream) = match proxy.upstream_identity(&tokens, &grant_id).await {
        Ok(x) => x,
        Err(why) => return fail("access_denied", &why),
    };
    let code = seal::random_token();
    let row = CodeRow {
        grant_id,
        client_id: request.client_id.clone(),
        request: pending.0.clone(),
        principal: serde_json::to_string(&principal).unwrap_or_default(),
        upstream,
        expires: now() + proxy.issue.code_secs,
    };
    if let Err(e) = proxy.store.put_code(&seal::digest(&code), &row) {
        tracing::error!(error = %e, "storing an authorization code failed");
        return fail("server_error", "the authorization could not be stored");
    }
    tracing::info!(client_id = %request.client_id, subject = %principal.subject, "authorization code issued");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s));
    }
    back_to_client(&request.redirect_uri, &params, &proxy.issuer)
}

/// Who is calling the token endpoint, once authenticated.
fn client_credentials(headers: &HeaderMap, form: &Params) -> (Option<String>, Option<String>) {
    use base64::Engine as _;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |x: &str| {
                reqwest::Url::parse(&format!("http://x/?v={x}"))
                    .ok()
                    .and_then(|u| u.query_pairs().next().map(|(_, v)| v.into_owned()))
                    .unwrap_or_else(|| x.to_owned())
            };
            Some((decode(id), decode(secret)))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

async fn token(
    State(proxy): Proxy,
    headers: HeaderMap,
    form: Result<Form<Params>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let refuse = |status: StatusCode, error: &str, why: &str| {
        tracing::warn!(reason = %why, error, "token request refused");
        oauth_error(status, error, why)
    };
    let (client_id, secret) = client_credentials(&headers, &form);
    let Some(client_id) = client_id else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client_id given",
        );
    };
    let client = match proxy.client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return refuse(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
        }
        Err(e) => return refuse(StatusCode::UNAUTHORIZED, "invalid_client", &e),
    };
    if let Some(hash) = &client.secret_hash {
        match &secret {
            Some(s) if seal::same(&seal::digest(s), hash) => {}
            _ => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                );
            }
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(&proxy, &client_id, &form).await,
        Some("refresh_token") if client.grant_types.iter().any(|g| g == "refresh_token") => {
            refresh(&proxy, &client_id, &form).await
        }
        Some("refresh_token") => refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client did not register the refresh_token grant",
        ),
        Some(other) => refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
        None => refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn invalid_grant(why: &str) -> Response {
    tracing::warn!(reason = %why, error = "invalid_grant", "token request refused");
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why)
}

async fn exchange_code(proxy: &OAuthProxy, client_id: &str, form: &Params) -> Response {
    let Some(code) = form.get("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required",
        );
    };
    let code = match proxy.store.use_code(&seal::digest(code)) {
        Ok(CodeLookup::Live(code)) => code,
        Ok(CodeLookup::Unknown) => return invalid_grant("unknown authorization code"),
        Ok(CodeLookup::Expired) => return invalid_grant("the authorization code expired"),
        Ok(CodeLookup::Replayed) => {
            return invalid_grant(
                "the authorization code was already used; what it issued is revoked",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "reading an authorization code failed");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "storage");
        }
    };
    let Ok(request) = serde_json::from_str::<ClientRequest>(&code.request) else {
        return invalid_grant("the authorization code is unreadable");
    };
    if request.client_id != client_id {
        return invalid_grant("the authorization code was issued to another client");
    }
    if form.get("redirect_uri") != Some(&request.redirect_uri) {
        return invalid_grant("redirect_uri differs from the authorization request's");
    }
    let Some(verifier) = form.get("code_verifier") else {
        return invalid_grant("code_verifier is required (PKCE)");
    };
    if !(43..=128).contains(&verifier.len())
        || !seal::same(&seal::s256(verifier), &request.code_challenge)
    {
        return invalid_grant("code_verifier does not match the code_challenge");
    }
    if let Some(r) = form.get("resource")
        && r.trim_end_matches('/') != request.resource
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            &format!("resource {r:?} is not the one authorized"),
        );
    }
    let Ok(principal) = serde_json::from_str::<Principal>(&code.principal) else {
        return invalid_grant("the authorization code is unreadable");
    };
    let grant = GrantRow {
        id: code.grant_id,
        client_id: client_id.to_owned(),
        principal: code.principal,
        scope: request.scope.join(" "),
        upstream: code.upstream,
        expires: now() + proxy.issue.refresh_token_secs,
    };
    if let Err(e) = proxy.store.put_grant(&grant) {
        tracing::error!(error = %e, "storing a grant failed");
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "storage");
    }
    issue_tokens(proxy, &grant, &principal)
}

async fn refresh(proxy: &OAuthProxy, client_id: &str, form: &Params) -> Response {
    let Some(presented) = form.get("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    let mut grant = match proxy.store.use_refresh_token(&seal::digest(presented)) {
        Ok(RefreshLookup::Live(g)) => g,
        Ok(RefreshLookup::Unknown) => return invalid_grant("unknown or expired refresh token"),
        Ok(RefreshLookup::Replayed) => {
            return invalid_grant("the refresh token was already used; its grant is revoked");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a refresh token failed");
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "storage");
        }
    };
    if grant.client_id != client_id {
        return invalid_grant("the refresh token was issued to another client");
    }
    let Some(upstream) = grant
        .upstream
        .as_deref()
        .and_then(|s| proxy.keys.open(s, &grant.id))
    else {
        return invalid_grant("this grant cannot be refreshed");
    };
    let tokens = match proxy
        .upstream_token(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", upstream.clone()),
            ("resource", proxy.resource.clone()),
        ])
        .await
    {
        Upstream::Tokens(t) => t,
        Upstream::Refused(why) => {
            let _ = proxy.store.revoke_grant(&grant.id);
            return invalid_grant(&format!("the identity provider ended the session ({why})"));
        }
        Upstream::Unavailable(why) => {
            tracing::warn!(reason = %why, "refresh: identity provider unavailable");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the identity provider cannot be reached; retry later",
            );
        }
    };
    let (principal, rotated) = match proxy.upstream_identity(&tokens, &grant.id).await {
        Ok(x) => x,
        Err(why) => return invalid_grant(&why),
    };
    // A narrower scope may be asked for (RFC 6749 §6), never a wider one.
    if let Some(asked) = form.get("scope") {
        let held: Vec<&str> = grant.scope.split(' ').collect();
        grant.scope = asked
            .split(' ')
            .filter(|s| held.contains(s))
            .collect::<Vec<_>>()
            .join(" ");
    }
    grant.principal = serde_json::to_string(&principal).unwrap_or_default();
    grant.upstream = rotated.or(grant.upstream);
    if let Err(e) = proxy.store.put_grant(&grant) {
        tracing::error!(error = %e, "storing a grant failed");
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "storage");
    }
    issue_tokens(proxy, &grant, &principal)
}

/// Sign an access token for `grant` (and a refresh token when the grant can
/// be refreshed upstream), record both by hash, and answer.
fn issue_tokens(proxy: &OAuthProxy, grant: &GrantRow, principal: &Principal) -> Response {
    let issued = now();
    let expires = issued + proxy.issue.access_token_secs;
    let mut claims = json!({
        "iss": proxy.issuer,
        "sub": principal.subject,
        "aud": proxy.resource,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "roles": principal.roles,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "jti": seal::random_token()[..22].to_owned(),
    });
    if let Some(org) = &principal.org_id {
        claims["org_id"] = json!(org);
    }
    if let Some(email) = &principal.email {
        claims["email"] = json!(email);
    }
    let server_error = |e: String| {
        tracing::error!(error = %e, "issuing tokens failed");
        oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "tokens could not be issued",
        )
    };
    let access = match proxy.signer.sign(&claims) {
        Ok(t) => t,
        Err(e) => return server_error(e.to_string()),
    };
    if let Err(e) = proxy
        .store
        .put_access_token(&seal::digest(&access), &grant.id, expires)
    {
        return server_error(e);
    }
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": proxy.issue.access_token_secs,
        "scope": grant.scope,
    });
    if grant.upstream.is_some() {
        let refresh = seal::random_token();
        if let Err(e) =
            proxy
                .store
                .put_refresh_token(&seal::digest(&refresh), &grant.id, grant.expires)
        {
            return server_error(e);
        }
        body["refresh_token"] = json!(refresh);
    }
    tracing::info!(client_id = %grant.client_id, subject = %principal.subject, "tokens issued");
    cors(
        (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            axum::Json(body),
        )
            .into_response(),
    )
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
}
