//! Signing in: `GET /authorize` sends the user to the identity provider,
//! `GET /oauth/callback` takes its answer and gives the client a code.

use super::error::OAuthError;
use super::seal::{self, StateError};
use super::{ClientRequest, IdentityProvider, OAuthProxy, Proxy, SignIn};
use crate::Principal;
use crate::storage::oauth::{CodeRow, PendingRow};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

type Params = HashMap<String, String>;

impl OAuthProxy {
    /// Scopes granted for a request: those asked for that this resource
    /// offers (all it offers when none are asked for). Others are dropped,
    /// as RFC 6749 allows; the token response says what was granted.
    fn grant_scopes(&self, requested: Option<&str>) -> Vec<String> {
        let asked: Vec<&str> = requested
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        let offered = &self.settings.scopes_supported;
        if asked.is_empty() {
            return offered.clone();
        }
        offered
            .iter()
            .filter(|s| asked.contains(&s.as_str()))
            .cloned()
            .collect()
    }
}

/// `GET /authorize`.
pub(super) async fn authorize(
    State(proxy): Proxy,
    super::Source(source): super::Source,
    Query(q): Query<Params>,
) -> Result<Response, OAuthError> {
    let per_minute = proxy.settings.issue.authorizations_per_source_per_minute;
    if let Err(wait) = proxy.take_per_source("authorize", &source, per_minute) {
        return Err(OAuthError::Page {
            status: StatusCode::TOO_MANY_REQUESTS,
            title: "Too many sign-ins",
            detail: format!("Too many sign-ins were started from this address; retry in {wait} s."),
        });
    }
    let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
        return Err(OAuthError::page(
            "Unknown application",
            "The request names no client_id.",
        ));
    };
    let client = match proxy.client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(OAuthError::page(
                "Unknown application",
                format!("No application is registered as {client_id:?}."),
            ));
        }
        Err(e) => {
            return Err(OAuthError::page(
                "Unknown application",
                format!("{client_id:?}: {e}"),
            ));
        }
    };
    let registered =
        |uri: &str| (client.redirect_uris.iter()).any(|r| super::clients::same_redirect(r, uri));
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if registered(uri) => uri.clone(),
        Some(uri) => {
            return Err(OAuthError::page(
                "Invalid redirect URI",
                format!("{uri:?} is not a redirect URI registered for this application."),
            ));
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(OAuthError::page(
                "Invalid redirect URI",
                "The request names no redirect_uri and several are registered.",
            ));
        }
    };
    // From here on, errors go back to the client.
    let state = q.get("state").map(String::as_str);
    let fail = |error: &'static str, description: &str| {
        proxy.to_client(&redirect_uri, state, error, description)
    };
    if state.is_some_and(|s| s.len() > 1024) {
        return Err(fail(
            "invalid_request",
            "state is longer than 1024 characters",
        ));
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "response_type must be \"code\"",
        ));
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(fail(
            "unauthorized_client",
            "this application did not register the authorization_code grant",
        ));
    }
    let challenge = match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (Some(c), Some(m)) if m == "S256" => c.clone(),
        (Some(_), Some(m)) => {
            return Err(fail(
                "invalid_request",
                &format!("code_challenge_method {m:?} is not supported; use S256"),
            ));
        }
        (Some(_), None) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method is required and must be S256",
            ));
        }
        (None, _) => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method S256",
            ));
        }
    };
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let resource = &proxy.settings.resource;
    match q.get("resource") {
        None => {}
        Some(r) if r.trim_end_matches('/') == resource => {}
        Some(r) => {
            return Err(fail(
                "invalid_target",
                &format!("resource {r:?} is not served here; this server is {resource}"),
            ));
        }
    }
    let request = ClientRequest {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: challenge,
        state: state.map(str::to_owned),
        scope: proxy.grant_scopes(q.get("scope").map(String::as_str)),
        resource: resource.clone(),
    };
    let server_error = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "storing a pending authorization failed");
        fail("server_error", "the authorization could not be stored")
    };
    let id = seal::random_token().map_err(|e| server_error(&e))?[..22].to_owned();
    let verifier = seal::random_token().map_err(|e| server_error(&e))?;
    let expires = proxy.now() + proxy.settings.issue.authorization_secs;
    let pending = PendingRow {
        request: serde_json::to_string(&request).map_err(|e| server_error(&e))?,
        verifier: proxy
            .keys
            .seal(&verifier, &id)
            .map_err(|e| server_error(&e))?,
    };
    // Bounded: each sign-in in progress is a row until it completes or
    // expires.
    let in_progress = proxy.pending.fetch_add(1, Ordering::SeqCst);
    if in_progress >= proxy.settings.issue.max_pending {
        proxy.pending.fetch_sub(1, Ordering::SeqCst);
        return Err(fail(
            "temporarily_unavailable",
            "too many sign-ins are in progress; retry shortly",
        ));
    }
    {
        let id = id.clone();
        let stored = proxy
            .db(move |s| s.put_pending(&id, &pending, expires))
            .await;
        if let Err(e) = stored {
            proxy.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(server_error(&e));
        }
    }
    let idp = match &proxy.sign_in {
        SignIn::Provider(idp) => idp,
        SignIn::Development => {
            let ticket = proxy.keys.sign_state(&id, expires);
            let hint = q.get("login_hint").map(String::as_str);
            return super::dev_sign_in::page(&proxy, &request, &ticket, hint).await;
        }
    };
    let Ok(mut upstream) = reqwest::Url::parse(&idp.endpoints.authorize) else {
        return Err(fail(
            "server_error",
            "the identity provider's URL is invalid",
        ));
    };
    {
        let app = &idp.app;
        let mut p = upstream.query_pairs_mut();
        p.append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &proxy.callback_url())
            .append_pair("scope", &app.scopes.join(" "))
            .append_pair("state", &proxy.keys.sign_state(&id, expires))
            .append_pair("code_challenge", &seal::s256(&verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", resource);
        for passed in ["login_hint", "ui_locales"] {
            if let Some(v) = q.get(passed) {
                p.append_pair(passed, v);
            }
        }
        if app.scopes.iter().any(|s| s == "offline_access") {
            // OpenID Connect grants offline_access only with consent.
            p.append_pair("prompt", "consent");
        }
    }
    tracing::info!(client_id = ?client_id, "authorization: signing in upstream");
    Ok(Redirect::to(upstream.as_str()).into_response())
}

/// What the identity provider's token endpoint said.
pub(super) enum Upstream {
    Tokens(Value),
    /// It said the grant is over (`invalid_grant`): the user must sign in
    /// again.
    Ended(String),
    /// It could not be reached, was overloaded (429) or failed (5xx): retry
    /// later, after `retry_after` seconds.
    Unavailable {
        why: String,
        retry_after: u64,
    },
    /// It refused the proxy itself (`invalid_client`, a bad request): the
    /// operator's configuration is wrong; the grant may still be good.
    Refused(String),
}

/// Seconds to wait after an upstream outage, unless it says.
const UPSTREAM_RETRY_SECS: u64 = 5;

impl OAuthProxy {
    pub(super) async fn upstream_token(
        &self,
        idp: &IdentityProvider,
        mut form: Vec<(&str, String)>,
    ) -> Upstream {
        let app = &idp.app;
        let mut request = self.http.post(&idp.endpoints.token);
        if app.client_secret.is_empty() {
            form.push(("client_id", app.client_id.clone()));
        } else {
            request = request.basic_auth(&app.client_id, Some(app.client_secret.expose()));
        }
        let response = match request.form(&form).send().await {
            Ok(r) => r,
            Err(e) => {
                return Upstream::Unavailable {
                    why: format!("token endpoint: {e}"),
                    retry_after: UPSTREAM_RETRY_SECS,
                };
            }
        };
        let status = response.status();
        let retry_after = (response.headers().get(reqwest::header::RETRY_AFTER))
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map_or(UPSTREAM_RETRY_SECS, |s| s.clamp(1, 300));
        let body: Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            return Upstream::Tokens(body);
        }
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code")
            .to_owned();
        let why = format!("token endpoint answered HTTP {}: {error}", status.as_u16());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Upstream::Unavailable { why, retry_after }
        } else if error == "invalid_grant" {
            Upstream::Ended(why)
        } else {
            Upstream::Refused(why)
        }
    }

    /// Who the upstream tokens describe; their refresh token, sealed for
    /// `context`.
    pub(super) async fn upstream_identity(
        &self,
        idp: &IdentityProvider,
        tokens: &Value,
        context: &str,
    ) -> Result<(Principal, Option<String>), String> {
        let access = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or("the identity provider returned no access token")?;
        let principal = idp
            .auth
            .verify_upstream(access)
            .await
            .map_err(|e| format!("the identity provider's access token: {e}"))?;
        let refresh = tokens
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(|r| self.keys.seal(r, context))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok((principal, refresh))
    }
}

impl OAuthProxy {
    /// The sign-in in progress a signed `ticket` (or state) names, or a
    /// page saying it is not one this server issued (`what` names it) or
    /// that it expired.
    pub(super) fn open_ticket(&self, ticket: &str, what: &str) -> Result<String, OAuthError> {
        match self.keys.open_state(ticket, self.now()) {
            Ok(id) => Ok(id),
            Err(StateError::Tampered) => Err(OAuthError::page(
                "Invalid sign-in",
                format!("{what} is not one this server issued."),
            )),
            Err(StateError::Expired) => Err(OAuthError::page(
                "Sign-in expired",
                format!(
                    "The sign-in took longer than {} s.",
                    self.settings.issue.authorization_secs
                ),
            )),
        }
    }

    /// Take the sign-in in progress `id` (once: a second answer finds none).
    pub(super) async fn take_pending(&self, id: &str) -> Result<PendingRow, OAuthError> {
        let now = self.now();
        let taken = {
            let id = id.to_owned();
            self.db(move |s| s.take_pending(&id, now)).await
        };
        match taken {
            Ok(Some(p)) => {
                // Saturating: a sweep may have recounted meanwhile.
                let _ = (self.pending).fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    Some(n.saturating_sub(1))
                });
                Ok(p)
            }
            Ok(None) => Err(OAuthError::page(
                "Sign-in expired",
                "This sign-in was already completed or has expired.",
            )),
            Err(e) => {
                tracing::error!(error = %e, "reading a pending authorization failed");
                Err(OAuthError::Page {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    title: "Server error",
                    detail: "The sign-in could not be read.".into(),
                })
            }
        }
    }
}

/// `GET /oauth/callback`: the identity provider's answer.
pub(super) async fn callback(
    State(proxy): Proxy,
    Query(q): Query<Params>,
) -> Result<Response, OAuthError> {
    let SignIn::Provider(idp) = &proxy.sign_in else {
        return Err(OAuthError::page(
            "No identity provider",
            "In development mode users sign in on this server's own page; it takes no answer \
             from an identity provider.",
        ));
    };
    let Some(state) = q.get("state") else {
        return Err(OAuthError::page(
            "Invalid sign-in response",
            "The identity provider's answer has no state.",
        ));
    };
    let id = proxy.open_ticket(state, "The state of this sign-in")?;
    let pending = proxy.take_pending(&id).await?;
    let Ok(request) = serde_json::from_str::<ClientRequest>(&pending.request) else {
        return Err(OAuthError::page(
            "Server error",
            "A stored sign-in is unreadable.",
        ));
    };
    let fail = |error: &'static str, description: &str| {
        proxy.to_client(
            &request.redirect_uri,
            request.state.as_deref(),
            error,
            description,
        )
    };
    // RFC 9207: the answer must come from the provider we sent the user to,
    // and say so when that provider promises to.
    match q.get("iss") {
        Some(iss) if iss != idp.auth.issuer() => {
            return Err(fail(
                "access_denied",
                "the sign-in answer came from another issuer",
            ));
        }
        None if idp.endpoints.requires_iss => {
            return Err(fail(
                "access_denied",
                "the sign-in answer names no issuer, which the identity provider promises \
                 (RFC 9207)",
            ));
        }
        _ => {}
    }
    if let Some(error) = q.get("error") {
        let passed = match error.as_str() {
            "access_denied" => "access_denied",
            "temporarily_unavailable" => "temporarily_unavailable",
            "server_error" => "server_error",
            "invalid_scope" => "invalid_scope",
            "consent_required" => "consent_required",
            "login_required" => "login_required",
            "interaction_required" => "interaction_required",
            _ => "access_denied",
        };
        return Err(fail(
            passed,
            &format!("the identity provider answered {error}"),
        ));
    }
    let Some(code) = q.get("code") else {
        return Err(fail("server_error", "the identity provider sent no code"));
    };
    let Some(verifier) = proxy.keys.open(&pending.verifier, &id) else {
        return Err(fail("server_error", "a stored sign-in is unreadable"));
    };
    let tokens = match proxy
        .upstream_token(
            idp,
            vec![
                ("grant_type", "authorization_code".into()),
                ("code", code.clone()),
                ("redirect_uri", proxy.callback_url()),
                ("code_verifier", verifier),
                ("resource", proxy.settings.resource.clone()),
            ],
        )
        .await
    {
        Upstream::Tokens(t) => t,
        Upstream::Ended(why) | Upstream::Refused(why) => return Err(fail("access_denied", &why)),
        Upstream::Unavailable { why, .. } => return Err(fail("temporarily_unavailable", &why)),
    };
    let stored_error = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "storing an authorization code failed");
        fail("server_error", "the authorization could not be stored")
    };
    let grant_id = seal::random_token().map_err(|e| stored_error(&e))?[..22].to_owned();
    let (principal, upstream) = match proxy.upstream_identity(idp, &tokens, &grant_id).await {
        Ok(x) => x,
        Err(why) => return Err(fail("access_denied", &why)),
    };
    let row = CodeRow {
        grant_id,
        client_id: request.client_id.clone(),
        request: pending.request,
        principal: serde_json::to_string(&principal).map_err(|e| stored_error(&e))?,
        upstream,
        expires: proxy.now() + proxy.settings.issue.code_secs,
    };
    // The first time a user lets a client act for them, they say so here,
    // on this server's page naming the client (the identity provider's
    // consent named only this server's own application).
    let (subject, client) = (principal.subject.clone(), request.client_id.clone());
    let consented = proxy.db(move |s| s.has_consent(&subject, &client)).await;
    if !consented.map_err(|e| stored_error(&e))? {
        return super::consent::ask(&proxy, &request, &principal, row).await;
    }
    super::consent::issue_code(&proxy, &request, &principal, row).await
}
