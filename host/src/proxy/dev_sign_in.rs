//! Signing in in development mode: `GET /authorize` shows this page instead
//! of sending the user to an identity provider, and `POST
//! /oauth/dev-sign-in` takes who the developer says they are (a subject,
//! roles, an e-mail address) and gives the client a code.
//!
//! There is no password: anyone who can open the page can sign in as
//! anyone. So the page exists only in development mode, which listens on
//! loopback only; it answers only requests from a loopback peer that name
//! a loopback host (a tunnel or a DNS-rebinding page names another), and,
//! like the consent page, it names the client and where it will send the
//! user, carries a signed expiring ticket for the waiting sign-in, and
//! refuses to be framed.

use super::consent::{form_page, issue_code, redirect_host};
use super::error::{OAuthError, escape_html as escape};
use super::seal;
use super::{ClientRequest, OAuthProxy, Proxy, SignIn, Source};
use crate::Principal;
use crate::principal::MAX_SUBJECT_BYTES;
use crate::storage::oauth::CodeRow;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;

/// Roles a development sign-in may name at most.
const MAX_ROLES: usize = 32;
/// Longest role name.
const MAX_ROLE_BYTES: usize = 64;
/// Roles the form offers until the developer changes them.
const DEFAULT_ROLES: &str = "member";

/// The sign-in page for the waiting sign-in `ticket`.
pub(super) async fn page(
    proxy: &OAuthProxy,
    request: &ClientRequest,
    ticket: &str,
    login_hint: Option<&str>,
) -> Result<Response, OAuthError> {
    let client = (proxy.client(&request.client_id).await.ok().flatten())
        .ok_or_else(|| OAuthError::page("Unknown application", "The application is gone."))?;
    let name = client.name.as_deref().unwrap_or("An application");
    let scopes = match request.scope.is_empty() {
        true => String::new(),
        false => format!(" with the scopes {}", request.scope.join(", ")),
    };
    let subject = login_hint.filter(|h| subject_problem(h).is_none());
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Development sign-in</title>\
         <p style=\"background:#fd0;padding:.5em;font-weight:bold\">Development sign-in \
         (toolhost serve --dev): no password, whoever opens this page signs in as anyone. \
         Never expose this server.</p>\
         <h1>Sign in to {server}</h1>\
         <p><b>{name}</b> (client <code>{client_id}</code>) asks to use its tools as the \
         user you name here{scopes}. After you answer you will be sent to <b>{goes_to}</b>.</p>\
         <form method=post action=\"{action}\">\
         <input type=hidden name=ticket value=\"{ticket}\">\
         <p><label>Subject (the user id tools see) <input name=subject value=\"{subject}\" \
         required maxlength={MAX_SUBJECT_BYTES}></label></p>\
         <p><label>Roles (comma-separated) <input name=roles value=\"{roles}\"></label></p>\
         <p><label>E-mail (optional) <input name=email value=\"\"></label></p>\
         <button name=decision value=allow>Sign in</button> \
         <button name=decision value=deny>Cancel</button></form>\n",
        server = escape(&proxy.settings.resource),
        name = escape(name),
        client_id = escape(&request.client_id),
        scopes = escape(&scopes),
        goes_to = escape(&redirect_host(&request.redirect_uri)),
        action = escape(&format!("{}/oauth/dev-sign-in", proxy.settings.base)),
        ticket = escape(ticket),
        subject = escape(subject.unwrap_or("developer")),
        roles = escape(DEFAULT_ROLES),
    );
    tracing::info!(
        client_id = request.client_id.as_str(),
        "authorization: development sign-in page shown"
    );
    Ok(form_page(page))
}

/// `POST /oauth/dev-sign-in`: who the developer says they are.
pub(super) async fn answer(
    State(proxy): Proxy,
    Source(source): Source,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    if !matches!(proxy.sign_in, SignIn::Development) {
        // Never with an identity provider: its sign-ins' states are tickets
        // this page would take.
        return Err(OAuthError::Page {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            detail: "There is no development sign-in outside development mode.".into(),
        });
    }
    let host = (headers.get(header::HOST)).and_then(|h| h.to_str().ok());
    if let Err(why) = local_request(&source, host) {
        tracing::warn!(source = %source, host = ?host, reason = why, "development sign-in refused");
        return Err(OAuthError::Page {
            status: StatusCode::FORBIDDEN,
            title: "Development sign-in refused",
            detail: format!("The development sign-in answers this machine only: {why}."),
        });
    }
    let Ok(Form(form)) = form else {
        return Err(OAuthError::page(
            "Invalid answer",
            "The form could not be read.",
        ));
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let id = proxy.open_ticket(field("ticket"), "This sign-in page")?;
    let allowed = field("decision") == "allow";
    // Checked before the sign-in is taken, so that going back to fix the
    // form works.
    let principal = match allowed {
        true => Some(principal_from(
            field("subject"),
            field("roles"),
            field("email"),
        )?),
        false => None,
    };
    let pending = proxy.take_pending(&id).await?;
    let Ok(request) = serde_json::from_str::<ClientRequest>(&pending.request) else {
        return Err(OAuthError::page(
            "Server error",
            "A stored sign-in is unreadable.",
        ));
    };
    let Some(principal) = principal else {
        tracing::info!(
            client_id = request.client_id.as_str(),
            "development sign-in cancelled"
        );
        return Err(proxy.to_client(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "the user cancelled the sign-in",
        ));
    };
    let stored_error = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "storing an authorization code failed");
        proxy.to_client(
            &request.redirect_uri,
            request.state.as_deref(),
            "server_error",
            "the authorization could not be stored",
        )
    };
    let grant_id = seal::random_token().map_err(|e| stored_error(&e))?[..22].to_owned();
    let row = CodeRow {
        grant_id,
        client_id: request.client_id.clone(),
        request: pending.request,
        principal: serde_json::to_string(&principal).map_err(|e| stored_error(&e))?,
        upstream: None,
        expires: proxy.now() + proxy.settings.issue.code_secs,
    };
    tracing::info!(
        client_id = request.client_id.as_str(),
        subject = principal.subject.as_str(),
        roles = ?principal.roles,
        "development sign-in"
    );
    // The page named the client and where the user goes next: it was the
    // consent too.
    issue_code(&proxy, &request, &principal, row).await
}

/// Whether a request is this machine's own: from a loopback peer (when the
/// server knows its peers) and naming a loopback host.
fn local_request(source: &str, host: Option<&str>) -> Result<(), &'static str> {
    if let Ok(peer) = source.parse::<std::net::IpAddr>()
        && !peer.is_loopback()
    {
        return Err("the request comes from another machine");
    }
    let Some(host) = host else {
        return Err("the request names no host");
    };
    // Without the port: `[::1]:3001`, `127.0.0.1:3001`, `localhost`.
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match loopback {
        true => Ok(()),
        false => Err("the request names a host other than this machine's loopback"),
    }
}

/// What is wrong with `subject`, if anything.
fn subject_problem(subject: &str) -> Option<String> {
    if subject.trim().is_empty() {
        return Some("the subject is empty".into());
    }
    if subject.len() > MAX_SUBJECT_BYTES {
        return Some(format!(
            "the subject is {} bytes, more than {MAX_SUBJECT_BYTES}",
            subject.len()
        ));
    }
    if subject.trim() != subject || subject.chars().any(char::is_control) {
        return Some("the subject has spaces at its ends or control characters".into());
    }
    None
}

/// The principal a filled-in form names, or a page saying what to fix.
fn principal_from(subject: &str, roles: &str, email: &str) -> Result<Principal, OAuthError> {
    let invalid = |detail: String| OAuthError::page("Invalid sign-in", detail);
    if let Some(problem) = subject_problem(subject) {
        return Err(invalid(format!("{problem}; go back and fix it.")));
    }
    let roles: Vec<&str> = roles
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
        .collect();
    if roles.len() > MAX_ROLES {
        return Err(invalid(format!(
            "{} roles are named; at most {MAX_ROLES} may be.",
            roles.len()
        )));
    }
    if let Some(bad) = roles.iter().find(|r| {
        r.len() > MAX_ROLE_BYTES
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
    }) {
        return Err(invalid(format!(
            "the role {bad:?} is not a name of at most {MAX_ROLE_BYTES} letters, digits and _-:.; \
             go back and fix it."
        )));
    }
    let email = email.trim();
    if email.len() > 254 || (!email.is_empty() && !email.contains('@')) {
        return Err(invalid(format!(
            "{email:?} is not an e-mail address; go back and fix it or leave it empty."
        )));
    }
    let mut principal = Principal::new(subject, roles);
    principal.email = (!email.is_empty()).then(|| email.to_owned());
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_naming_a_loopback_host_are_answered() {
        for (source, host) in [
            ("127.0.0.1", "127.0.0.1:3001"),
            ("::1", "[::1]:3001"),
            ("127.0.0.1", "localhost:3001"),
            ("127.0.0.1", "LOCALHOST"),
            ("unknown", "127.0.0.1"),
        ] {
            assert_eq!(local_request(source, Some(host)), Ok(()), "{source} {host}");
        }
        for (source, host) in [
            ("192.168.1.20", "127.0.0.1:3001"),
            ("203.0.113.9", "localhost"),
            // A tunnel, or a page that rebound its name to 127.0.0.1.
            ("127.0.0.1", "abc.ngrok.app"),
            ("127.0.0.1", "attacker.example:3001"),
            ("127.0.0.1", "localhost.attacker.example"),
            ("127.0.0.1", "[2001:db8::1]:3001"),
            ("127.0.0.1", "10.0.0.1:3001"),
        ] {
            assert!(
                local_request(source, Some(host)).is_err(),
                "{source} {host}"
            );
        }
        assert!(local_request("127.0.0.1", None).is_err());
    }

    #[test]
    fn the_form_names_a_principal_or_says_what_to_fix() {
        let p = principal_from("alice", "member, admin  staff", "alice@example.com").unwrap();
        assert_eq!(p.subject, "alice");
        assert_eq!(p.roles, ["member", "admin", "staff"]);
        assert_eq!(p.email.as_deref(), Some("alice@example.com"));
        let p = principal_from("user_2x", "", "").unwrap();
        assert!(p.roles.is_empty() && p.email.is_none());
        let detail = |r: Result<Principal, OAuthError>| match r {
            Err(OAuthError::Page { detail, .. }) => detail,
            other => panic!("{other:?}"),
        };
        assert!(detail(principal_from("", "member", "")).contains("empty"));
        assert!(detail(principal_from(" alice", "", "")).contains("spaces"));
        assert!(detail(principal_from("a\u{7}b", "", "")).contains("control"));
        assert!(detail(principal_from(&"x".repeat(256), "", "")).contains("256 bytes"));
        assert!(detail(principal_from("alice", "ad<min>", "")).contains("\"ad<min>\""));
        let many = vec!["r"; 33].join(",");
        assert!(detail(principal_from("alice", &many, "")).contains("33 roles"));
        assert!(detail(principal_from("alice", "", "not-an-address")).contains("e-mail"));
    }
}
