//! The OAuth proxy's settings: `auth.proxy`, `[auth.upstream]` and
//! `[auth.issue]`, checked and resolved here, where they are used.

use crate::auth::{AuthConfig, AuthConfigError, IssueConfig, Provider};
use crate::secret::Secret;

/// What the proxy runs with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxySettings {
    /// The issuer clients see: this server's public URL.
    pub issuer: String,
    /// The MCP resource URL.
    pub resource: String,
    /// The path of the issuer, under which the routes live.
    pub base: String,
    /// Where users sign in: the operator's application at an identity
    /// provider, or `None` in development mode, where the developer says
    /// who they are on this server's own sign-in page.
    pub upstream: Option<UpstreamApp>,
    /// Scopes this resource offers.
    pub scopes_supported: Vec<String>,
    /// Lifetimes and limits of what the proxy issues.
    pub issue: IssueConfig,
}

/// The OAuth application the operator registered at the identity provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamApp {
    /// Which kind of identity provider it is at.
    pub provider: Provider,
    /// Its client id.
    pub client_id: String,
    /// Its secret (empty: a public client upstream, PKCE only).
    pub client_secret: Secret,
    /// Scopes asked of the provider.
    pub scopes: Vec<String>,
    /// The provider's authorization endpoint, when configured.
    pub authorization_endpoint: Option<String>,
    /// Its token endpoint, when configured.
    pub token_endpoint: Option<String>,
}

fn invalid(key: &str, reason: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

impl ProxySettings {
    /// The proxy's settings for a server at `public_url`; `None` when the
    /// proxy is off. In development mode (`dev`) it is always on, with the
    /// development sign-in page in place of an identity provider. Names the
    /// key of the first thing that is wrong.
    pub fn resolve(
        auth: &AuthConfig,
        public_url: &str,
        dev: bool,
    ) -> Result<Option<ProxySettings>, AuthConfigError> {
        if dev {
            if auth.proxy {
                return Err(invalid(
                    "auth.proxy (TOOLHOST_AUTH_PROXY)",
                    "cannot be on in development mode (--dev): the proxy signs users in at the \
                     identity provider, while development mode signs them in on its own page; \
                     turn one of them off",
                ));
            }
            return Ok(Some(ProxySettings::new(auth, public_url, None)?));
        }
        if !auth.proxy {
            return Ok(None);
        }
        let Some(provider) = auth.provider() else {
            return Err(invalid(
                "auth.proxy (TOOLHOST_AUTH_PROXY)",
                "needs an upstream identity provider: set CLERK_PUBLISHABLE_KEY or \
                 CLERK_FRONTEND_API_URL (Clerk), or TOOLHOST_OIDC_ISSUER",
            ));
        };
        let client_id = match auth.upstream.client_id.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(invalid(
                    "auth.upstream.client_id (CLERK_OAUTH_CLIENT_ID)",
                    "must be set when auth.proxy is on: the client id of the OAuth application \
                     registered at the identity provider, whose redirect URI is \
                     <MCP_ISSUER_URL>/oauth/callback",
                ));
            }
            Some(id) => id.to_owned(),
        };
        for (key, url) in [
            (
                "auth.upstream.authorization_endpoint",
                &auth.upstream.authorization_endpoint,
            ),
            (
                "auth.upstream.token_endpoint",
                &auth.upstream.token_endpoint,
            ),
        ] {
            if let Some(url) = url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(invalid(key, format!("{url:?} is not an http(s) URL")));
            }
        }
        let upstream = UpstreamApp {
            provider,
            client_id,
            client_secret: auth.upstream.client_secret.clone(),
            scopes: auth.upstream.scopes.clone(),
            authorization_endpoint: auth.upstream.authorization_endpoint.clone(),
            token_endpoint: auth.upstream.token_endpoint.clone(),
        };
        Ok(Some(ProxySettings::new(auth, public_url, Some(upstream))?))
    }

    fn new(
        auth: &AuthConfig,
        public_url: &str,
        upstream: Option<UpstreamApp>,
    ) -> Result<ProxySettings, AuthConfigError> {
        let issue = &auth.issue;
        let secret = issue.secret.expose();
        if !secret.is_empty() && secret.len() < 32 {
            return Err(invalid(
                "auth.issue.secret (TOOLHOST_PROXY_SECRET)",
                format!("is {} characters; at least 32 are needed", secret.len()),
            ));
        }
        for (key, value) in [
            ("auth.issue.access_token_secs", issue.access_token_secs),
            ("auth.issue.refresh_token_secs", issue.refresh_token_secs),
            ("auth.issue.code_secs", issue.code_secs),
            ("auth.issue.authorization_secs", issue.authorization_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        let issuer = public_url.trim_end_matches('/').to_owned();
        let base = crate::auth::settings::split_origin(&issuer).1.to_owned();
        Ok(ProxySettings {
            resource: format!("{issuer}/mcp"),
            base,
            issuer,
            upstream,
            scopes_supported: auth.scopes_supported.clone(),
            issue: issue.clone(),
        })
    }
}
