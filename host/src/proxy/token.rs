//! `POST /token`: authorization codes and refresh tokens exchanged for the
//! proxy's own access tokens.

use super::ClientRequest;
use super::authorize::Upstream;
use super::error::{OAuthError, cors};
use super::seal;
use super::{OAuthProxy, Proxy, SignIn};
use crate::Principal;
use crate::storage::oauth::{CodeLookup, GrantRow, RefreshLookup};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;

type Params = HashMap<String, String>;

/// Who is calling the token endpoint: from HTTP Basic, else the form.
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

fn storage_error(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::server_error(e, "storage")
}

/// `POST /token`.
pub(super) async fn token(
    State(proxy): Proxy,
    headers: HeaderMap,
    form: Result<Form<Params>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Ok(Form(form)) = form else {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let (client_id, secret) = client_credentials(&headers, &form);
    let Some(client_id) = client_id else {
        return Err(OAuthError::invalid_client("no client_id given"));
    };
    let client = match proxy.client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(OAuthError::invalid_client("unknown client")),
        Err(e) => return Err(OAuthError::invalid_client(e.to_string())),
    };
    if let Some(hash) = &client.secret_hash {
        match &secret {
            Some(s) if seal::same(&seal::digest(s), hash) => {}
            _ => return Err(OAuthError::invalid_client("client authentication failed")),
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(&proxy, &client_id, &form).await,
        Some("refresh_token") if client.grant_types.iter().any(|g| g == "refresh_token") => {
            refresh(&proxy, &client_id, &form).await
        }
        Some("refresh_token") => Err(OAuthError::json(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client did not register the refresh_token grant",
        )),
        Some(other) => Err(OAuthError::json(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported"),
        )),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

async fn exchange_code(
    proxy: &OAuthProxy,
    client_id: &str,
    form: &Params,
) -> Result<Response, OAuthError> {
    let Some(code) = form.get("code") else {
        return Err(OAuthError::invalid_request("code is required"));
    };
    // Found, not spent: an exchange that fails its checks below (another
    // client, another redirect URI, a wrong verifier) leaves the code.
    let (hash, now) = (seal::digest(code), proxy.now());
    let found = {
        let hash = hash.clone();
        proxy.db(move |s| s.find_code(&hash, now)).await
    };
    let code = match found {
        Ok(CodeLookup::Live(code)) => code,
        Ok(CodeLookup::Unknown) => {
            return Err(OAuthError::invalid_grant("unknown authorization code"));
        }
        Ok(CodeLookup::Expired) => {
            return Err(OAuthError::invalid_grant("the authorization code expired"));
        }
        Ok(CodeLookup::Replayed(revoked)) => {
            proxy.remember_revoked(&revoked);
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; what it issued is revoked",
            ));
        }
        Err(e) => return Err(storage_error(e)),
    };
    let Ok(request) = serde_json::from_str::<ClientRequest>(&code.request) else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is unreadable",
        ));
    };
    if request.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(&request.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    let Some(verifier) = form.get("code_verifier") else {
        return Err(OAuthError::invalid_grant(
            "code_verifier is required (PKCE)",
        ));
    };
    if !(43..=128).contains(&verifier.len())
        || !seal::same(&seal::s256(verifier), &request.code_challenge)
    {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if let Some(r) = form.get("resource")
        && r.trim_end_matches('/') != request.resource
    {
        return Err(OAuthError::json(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            format!("resource {r:?} is not the one authorized"),
        ));
    }
    let Ok(principal) = serde_json::from_str::<Principal>(&code.principal) else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is unreadable",
        ));
    };
    let spent = proxy.db(move |s| s.spend_code(&hash)).await;
    if !spent.map_err(storage_error)? {
        if let Err(e) = proxy.revoke_grant(&code.grant_id).await {
            tracing::error!(error = %e, "revoking a grant failed");
        }
        return Err(OAuthError::invalid_grant(
            "the authorization code was used twice at once; what it issued is revoked",
        ));
    }
    let grant = GrantRow {
        id: code.grant_id,
        client_id: client_id.to_owned(),
        principal: code.principal,
        scope: request.scope.join(" "),
        upstream: code.upstream,
        expires: proxy.now() + proxy.settings.issue.refresh_token_secs,
    };
    let stored = grant.clone();
    (proxy.db(move |s| s.put_grant(&stored)).await).map_err(storage_error)?;
    issue_tokens(proxy, &grant, &principal).await
}

async fn refresh(
    proxy: &OAuthProxy,
    client_id: &str,
    form: &Params,
) -> Result<Response, OAuthError> {
    let Some(presented) = form.get("refresh_token") else {
        return Err(OAuthError::invalid_request("refresh_token is required"));
    };
    // Found, not spent: the token is spent only once the identity provider
    // has refreshed, so an outage there leaves the client's retry valid.
    let (hash, now) = (seal::digest(presented), proxy.now());
    let found = {
        let hash = hash.clone();
        proxy.db(move |s| s.find_refresh_token(&hash, now)).await
    };
    let mut grant = match found {
        Ok(RefreshLookup::Live(g)) => g,
        Ok(RefreshLookup::Unknown) => {
            return Err(OAuthError::invalid_grant(
                "unknown or expired refresh token",
            ));
        }
        Ok(RefreshLookup::Replayed(revoked)) => {
            proxy.remember_revoked(&revoked);
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; its grant is revoked",
            ));
        }
        Err(e) => return Err(storage_error(e)),
    };
    if grant.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let idp = match &proxy.sign_in {
        SignIn::Provider(idp) => idp,
        SignIn::Development => return refresh_in_development(proxy, grant, hash, form).await,
    };
    let Some(upstream) = grant
        .upstream
        .as_deref()
        .and_then(|s| proxy.keys.open(s, &grant.id))
    else {
        return Err(OAuthError::invalid_grant("this grant cannot be refreshed"));
    };
    let tokens = match proxy
        .upstream_token(
            idp,
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", upstream.clone()),
                ("resource", proxy.settings.resource.clone()),
            ],
        )
        .await
    {
        Upstream::Tokens(t) => t,
        Upstream::Ended(why) => {
            if let Err(e) = proxy.revoke_grant(&grant.id).await {
                tracing::error!(error = %e, "revoking a grant failed");
            }
            return Err(OAuthError::invalid_grant(format!(
                "the identity provider ended the session ({why}); sign in again"
            )));
        }
        Upstream::Unavailable { why, retry_after } => {
            tracing::warn!(
                reason = why.as_str(),
                "refresh: identity provider unavailable"
            );
            return Err(OAuthError::Json {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: "temporarily_unavailable",
                description: format!(
                    "the identity provider cannot refresh now; retry in {retry_after} s with the same refresh token"
                ),
                retry_after: Some(retry_after),
            });
        }
        Upstream::Refused(why) => {
            tracing::error!(
                reason = why.as_str(),
                "refresh: the identity provider refused the proxy's request; check [auth.upstream]"
            );
            return Err(OAuthError::Json {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: "temporarily_unavailable",
                description: "the identity provider refused the server's refresh request; \
                              retry later with the same refresh token"
                    .into(),
                retry_after: Some(60),
            });
        }
    };
    spend_refresh_token(proxy, hash, &grant).await?;
    let (principal, rotated) = match proxy.upstream_identity(idp, &tokens, &grant.id).await {
        Ok(x) => x,
        Err(why) => return Err(OAuthError::invalid_grant(why)),
    };
    grant.upstream = rotated.or(grant.upstream);
    reissue(proxy, grant, &principal, form).await
}

/// A refresh in development mode: no identity provider to ask, the grant's
/// principal as the developer chose it.
async fn refresh_in_development(
    proxy: &OAuthProxy,
    grant: GrantRow,
    hash: String,
    form: &Params,
) -> Result<Response, OAuthError> {
    spend_refresh_token(proxy, hash, &grant).await?;
    let Ok(principal) = serde_json::from_str::<Principal>(&grant.principal) else {
        return Err(OAuthError::invalid_grant("the grant is unreadable"));
    };
    reissue(proxy, grant, &principal, form).await
}

/// Spend the refresh token `hash` of `grant`; if a concurrent refresh spent
/// it first, this is a replay and the grant ends.
async fn spend_refresh_token(
    proxy: &OAuthProxy,
    hash: String,
    grant: &GrantRow,
) -> Result<(), OAuthError> {
    let spent = proxy.db(move |s| s.spend_refresh_token(&hash)).await;
    if !spent.map_err(storage_error)? {
        if let Err(e) = proxy.revoke_grant(&grant.id).await {
            tracing::error!(error = %e, "revoking a grant failed");
        }
        return Err(OAuthError::invalid_grant(
            "the refresh token was used twice at once; its grant is revoked",
        ));
    }
    Ok(())
}

/// Store `grant` for `principal`, with the narrower scope the refresh asks
/// for, and issue its new tokens.
async fn reissue(
    proxy: &OAuthProxy,
    mut grant: GrantRow,
    principal: &Principal,
    form: &Params,
) -> Result<Response, OAuthError> {
    // A narrower scope may be asked for (RFC 6749 §6), never a wider one.
    if let Some(asked) = form.get("scope") {
        let held: Vec<&str> = grant.scope.split(' ').collect();
        grant.scope = asked
            .split(' ')
            .filter(|s| held.contains(s))
            .collect::<Vec<_>>()
            .join(" ");
    }
    grant.principal = serde_json::to_string(principal).map_err(storage_error)?;
    let stored = grant.clone();
    (proxy.db(move |s| s.put_grant(&stored)).await).map_err(storage_error)?;
    issue_tokens(proxy, &grant, principal).await
}

/// Sign an access token for `grant` (and a refresh token when the grant can
/// be refreshed upstream, or in development mode), record both by hash,
/// and answer.
async fn issue_tokens(
    proxy: &OAuthProxy,
    grant: &GrantRow,
    principal: &Principal,
) -> Result<Response, OAuthError> {
    let issue = &proxy.settings.issue;
    let issued = proxy.now();
    let expires = issued + issue.access_token_secs;
    let failed =
        |e: &dyn std::fmt::Display| OAuthError::server_error(e, "tokens could not be issued");
    let jti = seal::random_token().map_err(|e| failed(&e))?[..22].to_owned();
    let mut claims = json!({
        "iss": proxy.settings.issuer,
        "sub": principal.subject,
        "aud": proxy.settings.resource,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "roles": principal.roles,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "jti": &jti,
    });
    if let Some(org) = &principal.org_id {
        claims["org_id"] = json!(org);
    }
    if let Some(email) = &principal.email {
        claims["email"] = json!(email);
    }
    let access = proxy.signer.sign(&claims).map_err(|e| failed(&e))?;
    let refreshable = grant.upstream.is_some() || matches!(proxy.sign_in, SignIn::Development);
    let refresh = match refreshable {
        true => Some(seal::random_token().map_err(|e| failed(&e))?),
        false => None,
    };
    {
        let (grant_id, access_hash) = (grant.id.clone(), seal::digest(&access));
        let refresh_hash = refresh.as_deref().map(seal::digest);
        let refresh_expires = grant.expires;
        let jti = jti.clone();
        let recorded = proxy
            .db(move |s| {
                s.put_access_token(&access_hash, &jti, &grant_id, expires)?;
                if let Some(hash) = refresh_hash {
                    s.put_refresh_token(&hash, &grant_id, refresh_expires)?;
                }
                Ok(())
            })
            .await;
        recorded.map_err(|e| failed(&e))?;
    }
    {
        let (client, now) = (grant.client_id.clone(), issued);
        if let Err(e) = proxy.db(move |s| s.touch_client(&client, now)).await {
            tracing::warn!(error = %e, "recording a client's use failed");
        }
    }
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": issue.access_token_secs,
        "scope": grant.scope,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    tracing::info!(
        client_id = ?grant.client_id,
        subject = ?principal.subject,
        "tokens issued"
    );
    Ok(cors(
        (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            axum::Json(body),
        )
            .into_response(),
    ))
}
