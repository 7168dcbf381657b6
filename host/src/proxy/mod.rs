//! The OAuth proxy: an authorization server façade in front of the identity
//! provider (Clerk, or any OIDC issuer), on the MCP server's own origin.
//!
//! Many MCP clients look for the authorization server on the MCP origin,
//! register themselves dynamically (which Clerk leaves off by default), and
//! reject metadata whose issuer differs from where they fetched it. With
//! `auth.proxy` on, toolhost is the authorization server they see (issuer
//! `MCP_ISSUER_URL`): it publishes RFC 8414 metadata, registers clients
//! (RFC 7591) or reads their Client ID Metadata Documents, and signs users
//! in upstream with the one OAuth application the operator registered at the
//! identity provider, whose redirect URI is `<MCP_ISSUER_URL>/oauth/callback`.
//!
//! The access tokens clients receive are the proxy's own: ES256 JWTs signed
//! with a key kept in the data directory and published at
//! `<MCP_ISSUER_URL>/oauth/jwks.json`, with the audience this MCP resource,
//! the subject and roles the upstream token carried, and the scopes the proxy
//! granted. They are verified by the same code as any other token. Minting
//! them, rather than handing out the upstream token, keeps the upstream token
//! from ever leaving the server (the MCP specification forbids passing tokens
//! through), binds every token to this resource (RFC 8707), and lets the
//! proxy revoke what a replayed code or refresh token issued.
//!
//! The upstream access token is used once, to learn who signed in, and then
//! dropped. The upstream refresh token is kept, sealed with AES-256-GCM,
//! because a client's refresh is passed upstream: a user removed at the
//! identity provider cannot refresh.

mod cimd;
mod endpoints;
pub(crate) mod seal;
pub(crate) mod store;

use crate::auth::dev::DevIssuer;
use crate::auth::{self, Authenticator, IssueConfig, Secret};
use crate::config::Config;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The signing key file in the data directory.
pub const SIGNING_KEY_FILE: &str = "oauth-signing.p8";

/// Why the proxy cannot start; names the key or file.
#[derive(Debug, thiserror::Error)]
#[error("OAuth proxy: {0}")]
pub struct ProxyError(pub String);

/// Where the upstream identity provider takes sign-ins and codes.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamEndpoints {
    pub authorize: String,
    pub token: String,
}

/// The proxy: its keys, its storage, and the upstream application.
pub struct OAuthProxy {
    /// This server's public URL: the issuer clients see.
    issuer: String,
    /// The MCP resource URL.
    resource: String,
    /// The path of `issuer` (routes live under it).
    base: String,
    /// Verifies the identity provider's tokens.
    upstream_auth: Arc<Authenticator>,
    upstream: UpstreamEndpoints,
    upstream_client_id: String,
    upstream_secret: Secret,
    upstream_scopes: Vec<String>,
    /// Scopes this resource offers (empty: none are granted).
    scopes_supported: Vec<String>,
    signer: DevIssuer,
    keys: seal::Keys,
    store: Arc<store::ProxyStore>,
    http: reqwest::Client,
    documents: cimd::Documents,
    issue: IssueConfig,
    /// Token bucket for registrations: (tokens, last refill).
    registrations: Mutex<(f64, Instant)>,
}

impl std::fmt::Debug for OAuthProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthProxy")
            .field("issuer", &self.issuer)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl OAuthProxy {
    /// Open the proxy for `config` (with `auth.public_url` resolved), the
    /// identity provider's verifier `upstream_auth` and its endpoints.
    /// Returns the proxy and the verifier of its own tokens.
    pub(crate) fn open(
        config: &Config,
        upstream_auth: Arc<Authenticator>,
        upstream: UpstreamEndpoints,
    ) -> Result<(Arc<OAuthProxy>, Arc<Authenticator>), ProxyError> {
        let issuer = config.public_url().map_err(|e| ProxyError(e.to_string()))?;
        let base = config.base_path().map_err(|e| ProxyError(e.to_string()))?;
        let data = &config.storage.data_dir;
        let signer = DevIssuer::open_key(&data.join(SIGNING_KEY_FILE))
            .map_err(|e| ProxyError(e.to_string()))?;
        let keys = seal::Keys::load(&config.auth.issue.secret, data).map_err(ProxyError)?;
        let store = Arc::new(
            store::ProxyStore::open(data, config.auth.issue.access_token_secs)
                .map_err(ProxyError)?,
        );
        let revoked = {
            let store = store.clone();
            Arc::new(move |key: &[u8; 32]| store.is_revoked(key)) as auth::RevocationCheck
        };
        let verifier = auth::build_for_proxy(&upstream_auth, &issuer, signer.jwks(), revoked);
        let burst = f64::from(config.auth.issue.registrations_per_minute);
        let proxy = OAuthProxy {
            resource: format!("{issuer}/mcp"),
            issuer,
            base,
            upstream_auth,
            upstream,
            upstream_client_id: config.auth.upstream.client_id.clone().unwrap_or_default(),
            upstream_secret: config.auth.upstream.client_secret.clone(),
            upstream_scopes: config.auth.upstream.scopes.clone(),
            scopes_supported: config.auth.scopes_supported.clone(),
            signer,
            keys,
            store,
            http: auth::http_client(),
            documents: cimd::Documents::default(),
            issue: config.auth.issue.clone(),
            registrations: Mutex::new((burst, Instant::now())),
        };
        tracing::info!(
            issuer = %proxy.issuer,
            upstream = %proxy.upstream.authorize,
            "OAuth proxy on"
        );
        Ok((Arc::new(proxy), verifier))
    }

    /// The issuer clients see.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The redirect URI to register for the upstream application.
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.issuer)
    }

    /// The authorization server metadata (RFC 8414).
    pub fn metadata(&self) -> serde_json::Value {
        let i = &self.issuer;
        let mut scopes = self.scopes_supported.clone();
        scopes.push("offline_access".into());
        serde_json::json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/authorize"),
            "token_endpoint": format!("{i}/token"),
            "registration_endpoint": format!("{i}/register"),
            "jwks_uri": format!("{i}/oauth/jwks.json"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
        })
    }

    /// The proxy's routes (metadata, registration, authorization, callback,
    /// token, keys), to merge beside the MCP endpoint.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        endpoints::router(self.clone())
    }
}

/// The upstream endpoints for `config`: configured, Clerk's fixed paths, or
/// the OIDC issuer's metadata.
pub(crate) async fn upstream_endpoints(
    config: &Config,
    upstream_issuer: &str,
) -> Result<UpstreamEndpoints, ProxyError> {
    let up = &config.auth.upstream;
    if let (Some(a), Some(t)) = (&up.authorization_endpoint, &up.token_endpoint) {
        return Ok(UpstreamEndpoints {
            authorize: a.clone(),
            token: t.clone(),
        });
    }
    let (authorize, token) = match config.auth.provider() {
        Some(auth::Provider::Oidc) => {
            let meta = auth::discover(upstream_issuer)
                .await
                .map_err(|e| ProxyError(e.to_string()))?;
            (meta.authorization_endpoint, meta.token_endpoint)
        }
        _ => (
            Some(format!("{upstream_issuer}/oauth/authorize")),
            Some(format!("{upstream_issuer}/oauth/token")),
        ),
    };
    let missing = |what: &str| {
        ProxyError(format!(
            "the identity provider publishes no {what}; set auth.upstream.{what}"
        ))
    };
    Ok(UpstreamEndpoints {
        authorize: up
            .authorization_endpoint
            .clone()
            .or(authorize)
            .ok_or_else(|| missing("authorization_endpoint"))?,
        token: up
            .token_endpoint
            .clone()
            .or(token)
            .ok_or_else(|| missing("token_endpoint"))?,
    })
}
