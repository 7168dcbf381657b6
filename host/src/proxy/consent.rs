//! Consent on this server's own origin: the first time a user lets a client
//! act for them, a page names the client and where it will send them, and
//! the user allows or denies.
//!
//! The identity provider's consent screen names the proxy's own OAuth
//! application, not the MCP client that asked: without this step any client
//! that registered here could obtain a code for a user already signed in
//! upstream (the confused deputy the MCP security guidance warns proxies
//! of). The answer is remembered per user and client. The page's form
//! carries a signed, expiring ticket for the waiting sign-in, so another
//! site cannot submit it, and the page refuses to be framed.

use super::error::{OAuthError, back_to_client, escape_html as escape};
use super::{ClientRequest, OAuthProxy, Proxy, seal};
use crate::Principal;
use crate::storage::oauth::CodeRow;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

fn stored_error(e: &dyn std::fmt::Display) -> OAuthError {
    OAuthError::server_error(e, "the authorization could not be stored")
}

/// Keep `row` and show the consent page for it.
pub(super) async fn ask(
    proxy: &OAuthProxy,
    request: &ClientRequest,
    principal: &Principal,
    row: CodeRow,
) -> Result<Response, OAuthError> {
    let client = (proxy.client(&request.client_id).await.ok().flatten())
        .ok_or_else(|| OAuthError::page("Unknown application", "The application is gone."))?;
    let id = seal::random_token().map_err(|e| stored_error(&e))?[..22].to_owned();
    let expires = proxy.now() + proxy.settings.issue.authorization_secs;
    {
        let id = id.clone();
        (proxy.db(move |s| s.put_awaiting(&id, &row, expires)).await)
            .map_err(|e| stored_error(&e))?;
    }
    let ticket = proxy.keys.sign_state(&id, expires);
    let name = client.name.as_deref().unwrap_or("An application");
    let goes_to = redirect_host(&request.redirect_uri);
    let who = principal.email.as_deref().unwrap_or(&principal.subject);
    let scopes = match request.scope.is_empty() {
        true => "its tools, as you".to_owned(),
        false => format!(
            "its tools, as you, with the scopes {}",
            request.scope.join(", ")
        ),
    };
    let action = format!("{}/oauth/consent", proxy.settings.base);
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Allow access?</title>\
         <h1>Allow {name} to use {server}?</h1>\
         <p>Signed in as <b>{who}</b>.</p>\
         <p><b>{name}</b> (client <code>{client_id}</code>) asks to use {scopes}. \
         After you answer you will be sent to <b>{goes_to}</b>.</p>\
         <p>Allow it only if you started this sign-in from that application.</p>\
         <form method=post action=\"{action}\">\
         <input type=hidden name=ticket value=\"{ticket}\">\
         <button name=decision value=allow>Allow</button> \
         <button name=decision value=deny>Deny</button></form>\n",
        name = escape(name),
        server = escape(&proxy.settings.resource),
        who = escape(who),
        client_id = escape(&request.client_id),
        scopes = escape(&scopes),
        goes_to = escape(&goes_to),
        action = escape(&action),
        ticket = escape(&ticket),
    );
    tracing::info!(
        client_id = request.client_id.as_str(),
        subject = principal.subject.as_str(),
        "consent asked"
    );
    Ok(form_page(page))
}

/// Where a redirect URI sends the user: its host and port.
pub(super) fn redirect_host(redirect_uri: &str) -> String {
    reqwest::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default()
}

/// A page with a form posting back here: never cached, never framed, its
/// form sent only to this origin.
pub(super) fn form_page(page: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        page,
    )
        .into_response()
}

/// `POST /oauth/consent`: the user's answer.
pub(super) async fn answer(
    State(proxy): Proxy,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Ok(Form(form)) = form else {
        return Err(OAuthError::page(
            "Invalid answer",
            "The form could not be read.",
        ));
    };
    let ticket = form.get("ticket").map(String::as_str).unwrap_or("");
    let Ok(id) = proxy.keys.open_state(ticket, proxy.now()) else {
        return Err(OAuthError::page(
            "Sign-in expired",
            "This consent page is not one this server showed, or it expired.",
        ));
    };
    let now = proxy.now();
    let taken = proxy.db(move |s| s.take_awaiting(&id, now)).await;
    let Some(row) = taken.map_err(|e| stored_error(&e))? else {
        return Err(OAuthError::page(
            "Sign-in expired",
            "This sign-in was already answered or has expired.",
        ));
    };
    let request: ClientRequest = serde_json::from_str(&row.request)
        .map_err(|_| OAuthError::page("Server error", "A stored sign-in is unreadable."))?;
    let principal: Principal = serde_json::from_str(&row.principal)
        .map_err(|_| OAuthError::page("Server error", "A stored sign-in is unreadable."))?;
    if form.get("decision").map(String::as_str) != Some("allow") {
        tracing::info!(
            client_id = request.client_id.as_str(),
            subject = principal.subject.as_str(),
            "consent denied"
        );
        return Err(proxy.to_client(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "the user did not allow this application",
        ));
    }
    let (subject, client) = (principal.subject.clone(), request.client_id.clone());
    (proxy
        .db(move |s| s.put_consent(&subject, &client, now))
        .await)
        .map_err(|e| stored_error(&e))?;
    issue_code(&proxy, &request, &principal, row).await
}

/// Issue the code for a consented sign-in and send the user back to the
/// client with it.
pub(super) async fn issue_code(
    proxy: &OAuthProxy,
    request: &ClientRequest,
    principal: &Principal,
    row: CodeRow,
) -> Result<Response, OAuthError> {
    let code = seal::random_token().map_err(|e| stored_error(&e))?;
    let hash = seal::digest(&code);
    (proxy.db(move |s| s.put_code(&hash, &row)).await).map_err(|e| stored_error(&e))?;
    tracing::info!(
        client_id = request.client_id.as_str(),
        subject = principal.subject.as_str(),
        "authorization code issued"
    );
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s));
    }
    Ok(back_to_client(
        &request.redirect_uri,
        &params,
        &proxy.settings.issuer,
    ))
}
