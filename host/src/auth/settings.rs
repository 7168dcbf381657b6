//! `[auth]` configuration and its resolution into verifier settings.

use super::claims::DEFAULT_ROLE_CLAIMS;
use super::clerk::{BackendSettings, publishable_key_host};
use super::jwks::JwksPolicy;
pub use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which issuer's tokens are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// Clerk: the frontend API from the publishable key (or an override).
    Clerk,
    /// Any OAuth 2.1 / OIDC issuer, by URL.
    Oidc,
}

/// Whether `aud` must name this resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AudiencePolicy {
    /// `resource` wherever the provider mints `aud` (an OIDC issuer; the
    /// OAuth proxy's own tokens are always checked); `any` for Clerk's OAuth
    /// tokens, which carry no `aud` (logged at start), and in development
    /// mode, whose tokens name the default URL whatever the port.
    #[default]
    Auto,
    /// Any audience: a token the same issuer made for another resource is
    /// accepted too (logged at start).
    Any,
    /// `aud` must contain the resource URL (RFC 8707).
    Resource,
}

/// `[auth.clerk]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClerkConfig {
    /// `pk_test_…` / `pk_live_…` (env `CLERK_PUBLISHABLE_KEY`).
    pub publishable_key: Option<String>,
    /// Backend API key (env `CLERK_SECRET_KEY`): enables roles from the Backend API.
    pub secret_key: Secret,
    /// Replaces the frontend API URL derived from the publishable key (env
    /// `CLERK_FRONTEND_API_URL`): proxy or satellite domains, local stand-ins.
    pub frontend_api_url: Option<String>,
    /// Backend API base (env `CLERK_API_URL`) \[default: `https://api.clerk.com`\].
    pub api_url: Option<String>,
}

/// `[auth.oidc]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL, exactly as in its tokens' `iss` (env `TOOLHOST_OIDC_ISSUER`).
    pub issuer: Option<String>,
    /// Its JWKS URL \[default: discovered from the issuer's metadata\].
    pub jwks_url: Option<String>,
}

/// `[auth.upstream]`: the operator's OAuth application at the identity
/// provider, through which the OAuth proxy signs users in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The application's client id (env `CLERK_OAUTH_CLIENT_ID`).
    pub client_id: Option<String>,
    /// Its client secret (env `CLERK_OAUTH_CLIENT_SECRET`); without one the
    /// proxy is a public client upstream (PKCE only).
    pub client_secret: Secret,
    /// Scopes asked of the provider.
    pub scopes: Vec<String>,
    /// Its authorization endpoint \[default: `<frontend>/oauth/authorize` for
    /// Clerk, discovered for OIDC\].
    pub authorization_endpoint: Option<String>,
    /// Its token endpoint \[default: `<frontend>/oauth/token` for Clerk,
    /// discovered for OIDC\].
    pub token_endpoint: Option<String>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            client_id: None,
            client_secret: Secret::default(),
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            authorization_endpoint: None,
            token_endpoint: None,
        }
    }
}

/// `[auth.issue]`: what the OAuth proxy issues, and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssueConfig {
    /// Lifetime of the access tokens the proxy signs, in seconds.
    pub access_token_secs: u64,
    /// Lifetime of a grant and its refresh tokens, in seconds.
    pub refresh_token_secs: u64,
    /// Lifetime of an authorization code, in seconds.
    pub code_secs: u64,
    /// Time a user has to sign in upstream, in seconds.
    pub authorization_secs: u64,
    /// Client registrations accepted per minute (all callers together).
    pub registrations_per_minute: u32,
    /// Client registrations accepted per minute from one source address.
    pub registrations_per_source_per_minute: u32,
    /// Authorization requests (`/authorize`) accepted per minute from one
    /// source address.
    pub authorizations_per_source_per_minute: u32,
    /// Sign-ins in progress at most (each a row until it completes or
    /// expires); past it `/authorize` answers "retry later".
    pub max_pending: u64,
    /// A registration never used to sign anyone in is deleted after this
    /// many seconds.
    pub unused_client_secs: u64,
    /// Accept Client ID Metadata Documents at `http://` loopback URLs and
    /// on private addresses: development only.
    pub cimd_allow_private: bool,
    /// The proxy's secret (env `TOOLHOST_PROXY_SECRET`, at least 32
    /// characters): seals upstream refresh tokens and signs states
    /// \[default: a random key in `<data_dir>/oauth-proxy.key`\].
    pub secret: Secret,
}

impl Default for IssueConfig {
    fn default() -> Self {
        IssueConfig {
            access_token_secs: 3600,
            refresh_token_secs: 30 * 86_400,
            code_secs: 120,
            authorization_secs: 600,
            registrations_per_minute: 30,
            registrations_per_source_per_minute: 5,
            authorizations_per_source_per_minute: 60,
            max_pending: 10_000,
            unused_client_secs: 86_400,
            cimd_allow_private: false,
            secret: Secret::default(),
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `clerk` or `oidc` \[default: clerk when a Clerk key or URL is set,
    /// oidc when an issuer is set\]. Development mode (`--dev`) overrides it.
    pub provider: Option<Provider>,
    /// This server's public URL (env `MCP_ISSUER_URL`); the resource is
    /// `<public_url>/mcp` \[default: http://<server.listen>\].
    pub public_url: Option<String>,
    /// Audience check: `any` or `resource`.
    pub audience: AudiencePolicy,
    /// Also accept Clerk session tokens (`typ: JWT`), not only access tokens.
    pub accept_session_tokens: bool,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Scopes advertised in metadata and challenges \[default, with an
    /// identity provider: [`PROVIDER_SCOPES`]\].
    pub scopes_supported: Vec<String>,
    /// Scopes every request must carry (403 `insufficient_scope` otherwise).
    pub required_scopes: Vec<String>,
    /// Claim paths roles are read from, in order.
    pub role_claims: Vec<String>,
    /// How long roles from the identity provider's API are cached, in seconds.
    pub roles_cache_secs: u64,
    /// Bounds on the JWKS cache lifetime (`Cache-Control: max-age`), in seconds.
    pub jwks_min_ttl_secs: u64,
    /// Upper bound on the JWKS cache lifetime, in seconds.
    pub jwks_max_ttl_secs: u64,
    /// At most one JWKS refetch for unknown key ids per this many seconds.
    pub jwks_unknown_kid_interval_secs: u64,
    /// Show each caller only the tools it may call in `tools/list`.
    pub filter_tools_list: bool,
    /// Clerk settings.
    pub clerk: ClerkConfig,
    /// Generic OIDC settings.
    pub oidc: OidcConfig,
    /// Be the authorization server clients see (env `TOOLHOST_AUTH_PROXY`),
    /// with the identity provider as its upstream: see `crate::proxy`.
    pub proxy: bool,
    /// The upstream application of the proxy.
    pub upstream: UpstreamConfig,
    /// What the proxy issues.
    pub issue: IssueConfig,
    /// In Clerk setups without the proxy: accept only tokens whose
    /// `client_id` is an OAuth application of the Clerk instance, looked up
    /// in the Backend API (needs `CLERK_SECRET_KEY`).
    pub check_clerk_client: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            provider: None,
            public_url: None,
            audience: AudiencePolicy::Auto,
            accept_session_tokens: false,
            leeway_secs: 30,
            scopes_supported: Vec::new(),
            required_scopes: Vec::new(),
            role_claims: DEFAULT_ROLE_CLAIMS.iter().map(|s| s.to_string()).collect(),
            roles_cache_secs: 300,
            jwks_min_ttl_secs: 60,
            jwks_max_ttl_secs: 86_400,
            jwks_unknown_kid_interval_secs: 10,
            filter_tools_list: true,
            clerk: ClerkConfig::default(),
            oidc: OidcConfig::default(),
            proxy: false,
            upstream: UpstreamConfig::default(),
            issue: IssueConfig::default(),
            check_clerk_client: false,
        }
    }
}

/// Why the auth configuration is unusable; names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key {key}: {reason}")]
pub struct AuthConfigError {
    /// The key or environment variable.
    pub key: String,
    /// Why.
    pub reason: String,
}

fn err(key: &str, reason: impl Into<String>) -> AuthConfigError {
    AuthConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

impl AuthConfig {
    /// The provider in effect, if any is configured.
    pub fn provider(&self) -> Option<Provider> {
        self.provider.or_else(|| {
            if self.clerk.publishable_key.is_some() || self.clerk.frontend_api_url.is_some() {
                Some(Provider::Clerk)
            } else if self.oidc.issuer.is_some() {
                Some(Provider::Oidc)
            } else {
                None
            }
        })
    }
}

/// Where the issuer's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// The development issuer's key in the data directory.
    Dev,
    /// A JWKS document at this URL.
    Url(String),
    /// The `jwks_uri` of the issuer's metadata, discovered at start.
    Discover,
}

/// What the verifier needs, resolved from `[auth]`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthSettings {
    /// The exact `iss` of accepted tokens.
    pub issuer: String,
    /// Where the issuer's keys come from.
    pub keys: KeySource,
    /// This MCP resource (`<public_url>/mcp`).
    pub resource: String,
    /// Where its Protected Resource Metadata is served.
    pub resource_metadata_url: String,
    /// The authorization servers the metadata names.
    pub authorization_servers: Vec<String>,
    /// Whether `aud` must name the resource (`Any` or `Resource`; `Auto`
    /// is resolved).
    pub audience: AudiencePolicy,
    /// Also accept Clerk session tokens.
    pub accept_session_tokens: bool,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway: Duration,
    /// Scopes advertised in metadata and challenges.
    pub scopes_supported: Vec<String>,
    /// Claim paths roles are read from, in order.
    pub role_claims: Vec<String>,
    /// The JWKS cache's timings.
    pub jwks_policy: JwksPolicy,
    /// Clerk's Backend API, when a secret key is set.
    pub clerk_backend: Option<BackendSettings>,
    /// Accept only tokens whose client is an OAuth application in Clerk.
    pub check_clerk_client: bool,
    /// Refuse ES256 signatures in their high-S form: the issuer is this
    /// host (development, the proxy), which signs only the low form, so a
    /// token has one spelling and its revocation cannot be sidestepped.
    pub low_s_only: bool,
}

fn http_url(key: &str, url: &str) -> Result<String, AuthConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("https://") || trimmed.starts_with("http://")) {
        return Err(err(key, format!("{url:?} is not an http(s) URL")));
    }
    Ok(trimmed.to_owned())
}

/// `https://host:port/base/path` as (`https://host:port`, `/base/path`).
pub(crate) fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

/// The error of an HTTP server without an identity provider.
pub fn no_provider() -> AuthConfigError {
    err(
        "auth",
        "no identity provider is configured: set CLERK_PUBLISHABLE_KEY (Clerk), \
         TOOLHOST_OIDC_ISSUER (any OIDC issuer), or run with --dev",
    )
}

/// The scopes advertised when none are configured and tokens come from the
/// identity provider: OpenID Connect's own, which Clerk and any OIDC
/// provider grant. Clients that follow MCP ask for what the metadata
/// advertises, and with nothing advertised send no `scope` at all, which
/// an authorization server may refuse (oidc-provider does: "no scope was
/// granted").
pub const PROVIDER_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// Resolve `config` for a server at `public_url`; `None` when no identity
/// provider is configured and not in development mode (stdio only).
pub fn resolve(
    config: &AuthConfig,
    public_url: &str,
    dev: bool,
) -> Result<Option<AuthSettings>, AuthConfigError> {
    let public_url = http_url("auth.public_url (MCP_ISSUER_URL)", public_url)?;
    let resource = format!("{public_url}/mcp");
    if config.jwks_min_ttl_secs > config.jwks_max_ttl_secs {
        return Err(err(
            "auth.jwks_min_ttl_secs",
            "must not exceed auth.jwks_max_ttl_secs",
        ));
    }
    let (issuer, keys, authorization_servers, clerk_backend) = if dev {
        (
            super::dev::DEV_ISSUER.to_owned(),
            KeySource::Dev,
            Vec::new(),
            None,
        )
    } else {
        match config.provider() {
            None => return Ok(None),
            Some(Provider::Clerk) => {
                let frontend = match (
                    &config.clerk.frontend_api_url,
                    &config.clerk.publishable_key,
                ) {
                    (Some(url), _) => {
                        http_url("auth.clerk.frontend_api_url (CLERK_FRONTEND_API_URL)", url)?
                    }
                    (None, Some(key)) => format!(
                        "https://{}",
                        publishable_key_host(key).map_err(|r| err(
                            "auth.clerk.publishable_key (CLERK_PUBLISHABLE_KEY)",
                            r.to_string()
                        ))?
                    ),
                    (None, None) => {
                        return Err(err(
                            "auth.clerk.publishable_key (CLERK_PUBLISHABLE_KEY)",
                            "must be set (or auth.clerk.frontend_api_url) when auth.provider is \"clerk\"",
                        ));
                    }
                };
                let backend = if config.clerk.secret_key.is_empty() {
                    None
                } else {
                    let api = config
                        .clerk
                        .api_url
                        .as_deref()
                        .unwrap_or("https://api.clerk.com");
                    Some(BackendSettings {
                        api_url: http_url("auth.clerk.api_url (CLERK_API_URL)", api)?,
                        secret_key: config.clerk.secret_key.clone(),
                        cache_ttl: Duration::from_secs(config.roles_cache_secs),
                    })
                };
                let jwks = format!("{frontend}/.well-known/jwks.json");
                (
                    frontend.clone(),
                    KeySource::Url(jwks),
                    vec![frontend],
                    backend,
                )
            }
            Some(Provider::Oidc) => {
                let issuer = config.oidc.issuer.as_deref().ok_or_else(|| {
                    err(
                        "auth.oidc.issuer (TOOLHOST_OIDC_ISSUER)",
                        "must be set for provider oidc",
                    )
                })?;
                // The issuer is compared exactly, so keep it as given.
                http_url("auth.oidc.issuer (TOOLHOST_OIDC_ISSUER)", issuer)?;
                let keys = match &config.oidc.jwks_url {
                    Some(u) => KeySource::Url(http_url("auth.oidc.jwks_url", u)?),
                    None => KeySource::Discover,
                };
                (issuer.to_owned(), keys, vec![issuer.to_owned()], None)
            }
        }
    };
    let provider = if dev { None } else { config.provider() };
    // Development tokens (`toolhost token`) name the default public URL,
    // whatever port `serve --dev` listens on: not checked there.
    let audience = match (config.audience, provider) {
        (AudiencePolicy::Auto, Some(Provider::Oidc)) => AudiencePolicy::Resource,
        (AudiencePolicy::Auto, _) => AudiencePolicy::Any,
        (explicit, _) => explicit,
    };
    if config.check_clerk_client && clerk_backend.is_none() {
        return Err(err(
            "auth.check_clerk_client",
            "needs Clerk's Backend API: set CLERK_SECRET_KEY",
        ));
    }
    // RFC 9728: the well-known segment goes between the origin and the path.
    let (origin, base) = split_origin(&public_url);
    Ok(Some(AuthSettings {
        issuer,
        keys,
        resource_metadata_url: format!("{origin}/.well-known/oauth-protected-resource{base}/mcp"),
        resource,
        authorization_servers,
        audience,
        accept_session_tokens: config.accept_session_tokens,
        leeway: Duration::from_secs(config.leeway_secs),
        scopes_supported: match (config.scopes_supported.is_empty(), provider) {
            (true, Some(_)) => PROVIDER_SCOPES.map(str::to_owned).to_vec(),
            _ => config.scopes_supported.clone(),
        },
        role_claims: config.role_claims.clone(),
        jwks_policy: JwksPolicy {
            min_ttl: Duration::from_secs(config.jwks_min_ttl_secs),
            max_ttl: Duration::from_secs(config.jwks_max_ttl_secs),
            unknown_kid_interval: Duration::from_secs(config.jwks_unknown_kid_interval_secs),
            ..JwksPolicy::default()
        },
        check_clerk_client: config.check_clerk_client && !config.proxy,
        low_s_only: dev,
        clerk_backend,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_public(mut c: AuthConfig) -> AuthConfig {
        c.public_url = Some("http://127.0.0.1:3001/".into());
        c
    }

    /// Resolve as the host would, at the configured public URL.
    fn resolve(c: &AuthConfig, dev: bool) -> Result<AuthSettings, AuthConfigError> {
        let public = c.public_url.clone().unwrap_or_default();
        super::resolve(c, &public, dev)?.ok_or_else(no_provider)
    }

    #[test]
    fn nothing_configured_names_the_variables() {
        let c = with_public(AuthConfig::default());
        assert!(
            super::resolve(&c, "http://127.0.0.1:3001", false)
                .unwrap()
                .is_none()
        );
        let e = resolve(&c, false).unwrap_err().to_string();
        assert!(
            e.contains("CLERK_PUBLISHABLE_KEY") && e.contains("--dev"),
            "{e}"
        );
    }

    #[test]
    fn clerk_chosen_without_its_key_names_the_key() {
        let mut c = with_public(AuthConfig::default());
        c.provider = Some(Provider::Clerk);
        let e = resolve(&c, false).unwrap_err().to_string();
        assert!(e.contains("auth.clerk.publishable_key"), "{e}");
    }

    #[test]
    fn under_a_path_the_metadata_url_puts_the_well_known_segment_first() {
        let c = AuthConfig {
            public_url: Some("https://app.example.com/tools".into()),
            ..Default::default()
        };
        let r = resolve(&c, true).unwrap();
        assert_eq!(r.resource, "https://app.example.com/tools/mcp");
        assert_eq!(
            r.resource_metadata_url,
            "https://app.example.com/.well-known/oauth-protected-resource/tools/mcp"
        );
        assert_eq!(
            split_origin("http://127.0.0.1:3001"),
            ("http://127.0.0.1:3001", "")
        );
    }

    #[test]
    fn openid_scopes_are_advertised_unless_scopes_are_configured() {
        let mut c = with_public(AuthConfig::default());
        c.clerk.frontend_api_url = Some("https://clerk.example.com".into());
        assert_eq!(
            resolve(&c, false).unwrap().scopes_supported,
            ["openid", "profile", "email"]
        );
        c.scopes_supported = vec!["notes:read".into()];
        assert_eq!(resolve(&c, false).unwrap().scopes_supported, ["notes:read"]);
        let dev = with_public(AuthConfig::default());
        assert!(
            resolve(&dev, true).unwrap().scopes_supported.is_empty(),
            "the development issuer has no scopes to ask for"
        );
    }

    #[test]
    fn clerk_from_the_publishable_key() {
        let mut c = with_public(AuthConfig::default());
        // base64("clerk.example.com$")
        c.clerk.publishable_key = Some("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k".into());
        let r = resolve(&c, false).unwrap();
        assert_eq!(r.issuer, "https://clerk.example.com");
        assert_eq!(
            r.keys,
            KeySource::Url("https://clerk.example.com/.well-known/jwks.json".into())
        );
        assert_eq!(r.resource, "http://127.0.0.1:3001/mcp");
        assert_eq!(r.authorization_servers, ["https://clerk.example.com"]);
        assert!(r.clerk_backend.is_none());
        c.clerk.frontend_api_url = Some("http://127.0.0.1:9999".into());
        c.clerk.secret_key = Secret::from("sk_test_x".to_owned());
        let r = resolve(&c, false).unwrap();
        assert_eq!(r.issuer, "http://127.0.0.1:9999");
        assert_eq!(r.clerk_backend.unwrap().api_url, "https://api.clerk.com");
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut c = with_public(AuthConfig::default());
        c.clerk.publishable_key = Some("pk_test_bm90LWEtaG9zdA".into());
        let e = resolve(&c, false).unwrap_err().to_string();
        assert!(e.contains("CLERK_PUBLISHABLE_KEY"), "{e}");
        let mut c = with_public(AuthConfig::default());
        c.oidc.issuer = Some("ftp://x".into());
        assert!(
            resolve(&c, false)
                .unwrap_err()
                .to_string()
                .contains("TOOLHOST_OIDC_ISSUER")
        );
    }

    #[test]
    fn the_audience_is_checked_wherever_the_provider_mints_it() {
        let mut oidc = with_public(AuthConfig::default());
        oidc.oidc.issuer = Some("https://issuer.example".into());
        assert_eq!(
            resolve(&oidc, false).unwrap().audience,
            AudiencePolicy::Resource
        );
        let dev = with_public(AuthConfig::default());
        assert_eq!(
            resolve(&dev, true).unwrap().audience,
            AudiencePolicy::Any,
            "development tokens are for whatever port the server takes"
        );
        let mut clerk = with_public(AuthConfig::default());
        clerk.clerk.frontend_api_url = Some("https://clerk.example.com".into());
        assert_eq!(
            resolve(&clerk, false).unwrap().audience,
            AudiencePolicy::Any,
            "Clerk's OAuth tokens carry no aud"
        );
        clerk.audience = AudiencePolicy::Resource;
        assert_eq!(
            resolve(&clerk, false).unwrap().audience,
            AudiencePolicy::Resource
        );
        oidc.audience = AudiencePolicy::Any;
        assert_eq!(
            resolve(&oidc, false).unwrap().audience,
            AudiencePolicy::Any,
            "explicit"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let mut c = AuthConfig::default();
        c.clerk.secret_key = Secret::from("sk_live_very_secret".to_owned());
        assert!(!format!("{c:?}").contains("very_secret"));
        assert!(!toml::to_string(&c).unwrap().contains("very_secret"));
    }
}
