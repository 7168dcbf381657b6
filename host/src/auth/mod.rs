//! Authentication: from a bearer token to a verified [`Principal`].
//!
//! The host is an OAuth 2.1 resource server. It publishes Protected Resource
//! Metadata (RFC 9728) naming its authorization server (Clerk's frontend API,
//! any OIDC issuer, or none in development), answers requests without a
//! usable token with a `401` and a `WWW-Authenticate` challenge, and verifies
//! JWT access tokens against the issuer's published keys: algorithm
//! allow-list (RS256, ES256), exact issuer, expiry with leeway, `typ`
//! `at+jwt`, and optionally the audience (RFC 8707). Roles come from token
//! claims and, optionally, from a [`RoleResolver`] such as Clerk's Backend API.

pub mod claims;
pub mod clerk;
pub mod dev;
pub mod jwks;
pub(crate) mod layer;
pub(crate) mod settings;

pub use clerk::{ClerkBackend, publishable_key_host};
pub use settings::{
    AudiencePolicy, AuthConfig, AuthConfigError, ClerkConfig, IssueConfig, OidcConfig, Provider,
    Secret, UpstreamConfig,
};

use crate::Principal;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use jwks::{JwksCache, JwksError};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a request is not authenticated (or not authorized for its scope).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token")]
    Missing,
    /// The token is not a well-formed JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token's algorithm is not allowed.
    #[error("algorithm not allowed: {0}")]
    Algorithm(String),
    /// The token's `typ` is not an access token's.
    #[error("token type not accepted: {0}")]
    Type(String),
    /// No published key has the token's `kid`.
    #[error("unknown signing key: {0}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` does not name this resource.
    #[error("wrong audience")]
    Audience,
    /// A required claim is missing or malformed.
    #[error("bad claims: {0}")]
    Claims(String),
    /// The issuer's keys cannot be fetched and none are cached.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    /// The token lacks scopes this request needs.
    #[error("insufficient scope: needs {}", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// The token was revoked (its grant ended, or its code was replayed).
    #[error("token revoked")]
    Revoked,
    /// The token's OAuth client is not one of the identity provider's.
    #[error("unknown client: {0}")]
    UnknownClient(String),
}

impl AuthError {
    /// A short, stable reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::Malformed(_) => "malformed",
            AuthError::Algorithm(_) => "algorithm",
            AuthError::Type(_) => "token_type",
            AuthError::UnknownKey(_) => "unknown_kid",
            AuthError::Signature => "signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::Issuer => "issuer",
            AuthError::Audience => "audience",
            AuthError::Claims(_) => "claims",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::Revoked => "revoked",
            AuthError::UnknownClient(_) => "unknown_client",
        }
    }
}

/// Boxed future returned by a [`RoleResolver`].
pub type RolesFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>>;

/// A source of roles beyond the token's claims (an identity provider's API,
/// an operator's own database). Results should be cached by the resolver.
pub trait RoleResolver: Send + Sync + 'static {
    /// Extra roles of the verified `principal`.
    fn roles<'a>(&'a self, principal: &'a Principal) -> RolesFuture<'a>;
}

/// Says whether a token, by its SHA-256, has been revoked.
pub type RevocationCheck = Arc<dyn Fn(&[u8; 32]) -> bool + Send + Sync>;

/// Verifies bearer tokens for one configured issuer.
pub struct Authenticator {
    settings: settings::Resolved,
    keys: JwksCache,
    resolver: Option<Arc<dyn RoleResolver>>,
    /// Clerk's Backend API, for opaque `oat_` tokens.
    clerk: Option<Arc<ClerkBackend>>,
    verified: VerifiedTokens,
    /// Consulted on every request, cached verifications included.
    revoked: Option<RevocationCheck>,
    /// Require the token's client to be an OAuth application in Clerk.
    check_clerk_client: bool,
}

/// Recently verified JWTs by SHA-256 (never the token itself), so a client
/// that reuses its token pays the signature check once per minute, not per
/// request. Entries end at the token's `exp` or after [`VERIFIED_TTL`].
#[derive(Default)]
struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], (std::time::Instant, Principal)>>,
}

/// How long a verified token is trusted without checking it again.
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Most entries kept; the cache is emptied when it would grow past this.
const VERIFIED_MAX: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, key: &[u8; 32]) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (until, principal) = entries.get(key)?;
        (std::time::Instant::now() < *until).then(|| principal.clone())
    }

    fn put(&self, key: [u8; 32], principal: Principal, exp: Option<u64>) {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let left = exp.map_or(VERIFIED_TTL, |e| {
            std::time::Duration::from_secs(e.saturating_sub(now_unix))
        });
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= VERIFIED_MAX {
            entries.clear();
        }
        entries.insert(
            key,
            (
                std::time::Instant::now() + left.min(VERIFIED_TTL),
                principal,
            ),
        );
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.settings.issuer)
            .field("resource", &self.settings.resource)
            .finish_non_exhaustive()
    }
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => AuthError::Algorithm(e.to_string()),
        ErrorKind::MissingRequiredClaim(c) => AuthError::Claims(format!("missing {c}")),
        ErrorKind::InvalidClaimFormat(c) => AuthError::Claims(format!("malformed {c}")),
        _ => AuthError::Malformed(e.to_string()),
    }
}

impl Authenticator {
    /// The resolved settings (issuer, resource, scopes).
    pub fn resource(&self) -> &str {
        &self.settings.resource
    }

    /// Verify `token` and build the principal it stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let mut principal = if token.starts_with("oat_") {
            let Some(clerk) = &self.clerk else {
                return Err(AuthError::Malformed(
                    "an opaque Clerk token, but no CLERK_SECRET_KEY to verify it with".into(),
                ));
            };
            clerk
                .verify_opaque(token)
                .await
                .map_err(AuthError::Claims)?
        } else {
            use sha2::Digest;
            let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
            if let Some(revoked) = &self.revoked
                && revoked(&key)
            {
                return Err(AuthError::Revoked);
            }
            match self.verified.get(&key) {
                Some(principal) => principal,
                None => {
                    let (principal, exp) = self.verify_jwt(token).await?;
                    self.verified.put(key, principal.clone(), exp);
                    principal
                }
            }
        };
        if self.check_clerk_client
            && let Some(clerk) = &self.clerk
        {
            let client = principal.client_id.clone().unwrap_or_default();
            match clerk.client_exists(&client).await {
                Ok(true) => {}
                Ok(false) => return Err(AuthError::UnknownClient(client)),
                Err(e) => return Err(AuthError::KeysUnavailable(e)),
            }
        }
        if let Some(resolver) = &self.resolver {
            match resolver.roles(&principal).await {
                Ok(roles) => claims::merge_roles(&mut principal, roles),
                Err(e) => {
                    tracing::warn!(subject = %principal.subject, error = %e, "role lookup failed; using token roles only")
                }
            }
        }
        let missing: Vec<String> = self
            .settings
            .required_scopes
            .iter()
            .filter(|s| !principal.scopes.contains(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(AuthError::InsufficientScope(missing));
        }
        Ok(principal)
    }

    /// Verify a token of the identity provider for the OAuth proxy: the
    /// principal its claims describe, without the role resolver (it runs
    /// again on every request) and without the required scopes (the proxy
    /// grants those).
    pub(crate) async fn verify_upstream(&self, token: &str) -> Result<Principal, AuthError> {
        if token.starts_with("oat_") {
            let clerk = self.clerk.as_ref().ok_or_else(|| {
                AuthError::Malformed(
                    "an opaque Clerk token, but no CLERK_SECRET_KEY to verify it with".into(),
                )
            })?;
            return clerk.verify_opaque(token).await.map_err(AuthError::Claims);
        }
        Ok(self.verify_jwt(token).await?.0)
    }

    /// The issuer whose tokens this verifies.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verify a JWT; the principal and its `exp`.
    async fn verify_jwt(&self, token: &str) -> Result<(Principal, Option<u64>), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => AuthError::Algorithm("unknown or \"none\"".into()),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
        let access_token = matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt"));
        let session_token = matches!(typ.as_deref(), None | Some("jwt"));
        if !(access_token || (session_token && self.settings.accept_session_tokens)) {
            return Err(AuthError::Type(
                header.typ.unwrap_or_else(|| "(none)".into()),
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Malformed("no kid in the header".into()))?;
        let key = self.keys.key_for(&kid).await.map_err(|e| match e {
            JwksError::UnknownKey(k) => AuthError::UnknownKey(k),
            JwksError::Unavailable(r) => AuthError::KeysUnavailable(r),
        })?;
        if key.algorithm != header.alg {
            return Err(AuthError::Algorithm(format!(
                "{:?} with a {:?} key",
                header.alg, key.algorithm
            )));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = self.settings.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match self.settings.audience {
            AudiencePolicy::Any => validation.validate_aud = false,
            AudiencePolicy::Resource => validation.set_audience(&[&self.settings.resource]),
        }
        let data =
            jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(map_jwt_error)?;
        let principal = claims::principal_from_claims(&data.claims, &self.settings.role_claims)
            .ok_or_else(|| AuthError::Claims("no subject".into()))?;
        Ok((principal, data.claims.get("exp").and_then(Value::as_u64)))
    }

    /// The Protected Resource Metadata document (RFC 9728).
    pub fn resource_metadata(&self) -> Value {
        let s = &self.settings;
        let mut doc = serde_json::json!({
            "resource": s.resource,
            "bearer_methods_supported": ["header"],
            "resource_name": "toolhost",
        });
        if !s.authorization_servers.is_empty() {
            doc["authorization_servers"] = serde_json::json!(s.authorization_servers);
        }
        // An empty list would make clients ask for no scope at all, which
        // authorization servers refuse; absent, they use the server's list.
        if !s.scopes_supported.is_empty() {
            doc["scopes_supported"] = serde_json::json!(s.scopes_supported);
        }
        doc
    }

    /// The `WWW-Authenticate` value for a rejection (RFC 6750 / RFC 9728).
    pub fn challenge(&self, error: &AuthError) -> String {
        let s = &self.settings;
        let mut value = format!("Bearer resource_metadata=\"{}\"", s.resource_metadata_url);
        let scope = match error {
            AuthError::InsufficientScope(needed) => needed.join(" "),
            _ => s.scopes_supported.join(" "),
        };
        if !scope.is_empty() {
            value.push_str(&format!(", scope=\"{}\"", quoted(&scope)));
        }
        match error {
            AuthError::Missing => {}
            AuthError::InsufficientScope(_) => {
                value.push_str(", error=\"insufficient_scope\"");
            }
            other => {
                value.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&other.to_string())
                ));
            }
        }
        value
    }
}

/// A value safe inside a quoted-string: no quotes, backslashes or controls.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Build the authenticator for `config`. `dev` is the development issuer
/// when the host runs in development mode.
pub fn build(
    config: &AuthConfig,
    dev: Option<&dev::DevIssuer>,
    resolver: Option<Arc<dyn RoleResolver>>,
) -> Result<Arc<Authenticator>, AuthConfigError> {
    let settings = settings::resolve(config, dev.is_some())?;
    let keys = match dev {
        Some(issuer) => JwksCache::fixed(issuer.jwks()),
        None => JwksCache::from_url(
            settings.jwks_url.clone(),
            http_client(),
            settings.jwks_policy.clone(),
        ),
    };
    let clerk = settings
        .clerk_backend
        .clone()
        .map(|b| Arc::new(ClerkBackend::new(b, http_client())));
    if config.check_clerk_client && clerk.is_none() {
        return Err(AuthConfigError {
            key: "auth.check_clerk_client".into(),
            reason: "needs Clerk's Backend API: set CLERK_SECRET_KEY".into(),
        });
    }
    let resolver = resolver.or_else(|| clerk.clone().map(|c| c as Arc<dyn RoleResolver>));
    Ok(Arc::new(Authenticator {
        settings,
        keys,
        resolver,
        clerk,
        verified: VerifiedTokens::default(),
        revoked: None,
        check_clerk_client: config.check_clerk_client && !config.proxy,
    }))
}

/// The verifier of the OAuth proxy's own access tokens: issuer `issuer`
/// (this server), keys `keys` (the proxy's), the audience always this
/// resource, roles also from `upstream`'s resolver, and `revoked` consulted
/// on every request.
pub(crate) fn build_for_proxy(
    upstream: &Authenticator,
    issuer: &str,
    keys: &jsonwebtoken::jwk::JwkSet,
    revoked: RevocationCheck,
) -> Arc<Authenticator> {
    let mut settings = upstream.settings.clone();
    settings.issuer = issuer.to_owned();
    settings.authorization_servers = vec![issuer.to_owned()];
    settings.audience = AudiencePolicy::Resource;
    settings.accept_session_tokens = false;
    settings.role_claims = vec!["roles".into()];
    Arc::new(Authenticator {
        settings,
        keys: JwksCache::fixed(keys),
        resolver: upstream.resolver.clone(),
        clerk: None,
        verified: VerifiedTokens::default(),
        revoked: Some(revoked),
        check_clerk_client: false,
    })
}

/// An authenticator for tokens of `issuer` signed by one of `keys`, a fixed
/// key set that is never refetched: for embedders that hold their issuer's
/// public keys themselves.
pub fn build_with_fixed_keys(
    config: &AuthConfig,
    issuer: &str,
    keys: &jsonwebtoken::jwk::JwkSet,
) -> Result<Arc<Authenticator>, AuthConfigError> {
    let mut settings = settings::resolve(config, true)?;
    settings.issuer = issuer.to_owned();
    settings.authorization_servers = vec![issuer.to_owned()];
    Ok(Arc::new(Authenticator {
        settings,
        keys: JwksCache::fixed(keys),
        resolver: None,
        clerk: None,
        verified: VerifiedTokens::default(),
        revoked: None,
        check_clerk_client: false,
    }))
}

/// What an issuer's metadata says about where things are.
#[derive(Debug, Clone, Default)]
pub struct IssuerMetadata {
    /// `jwks_uri`.
    pub jwks_uri: String,
    /// `authorization_endpoint`, if published.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`, if published.
    pub token_endpoint: Option<String>,
}

/// Find an OIDC issuer's JWKS URL in its metadata: OpenID discovery, then
/// RFC 8414 authorization server metadata. The document's `issuer` must be
/// the configured issuer exactly.
pub async fn discover_jwks_url(issuer: &str) -> Result<String, AuthConfigError> {
    Ok(discover(issuer).await?.jwks_uri)
}

/// An OIDC issuer's metadata (see [`discover_jwks_url`]).
pub async fn discover(issuer: &str) -> Result<IssuerMetadata, AuthConfigError> {
    let base = issuer.trim_end_matches('/');
    let client = http_client();
    let mut failures = Vec::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let url = format!("{base}{path}");
        let doc: Value = match client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
        {
            Ok(response) => match response.json().await {
                Ok(doc) => doc,
                Err(e) => {
                    failures.push(format!("{url}: {e}"));
                    continue;
                }
            },
            Err(e) => {
                failures.push(format!("{url}: {e}"));
                continue;
            }
        };
        if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
            failures.push(format!("{url}: its issuer is not {issuer:?}"));
            continue;
        }
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(jwks_uri) = text("jwks_uri") {
            return Ok(IssuerMetadata {
                jwks_uri,
                authorization_endpoint: text("authorization_endpoint"),
                token_endpoint: text("token_endpoint"),
            });
        }
        failures.push(format!("{url}: no jwks_uri"));
    }
    Err(AuthConfigError {
        key: "auth.oidc.issuer (TOOLHOST_OIDC_ISSUER)".into(),
        reason: format!(
            "cannot discover the issuer's keys ({}); set auth.oidc.jwks_url",
            failures.join("; ")
        ),
    })
}

/// The HTTP client for the issuer's keys and APIs: no redirects to follow,
/// short timeouts.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_tokens_end_at_their_exp() {
        let cache = VerifiedTokens::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        cache.put([1; 32], Principal::new("a", ["member"]), Some(now + 3600));
        cache.put(
            [2; 32],
            Principal::new("b", ["member"]),
            Some(now.saturating_sub(1)),
        );
        assert_eq!(cache.get(&[1; 32]).unwrap().subject, "a");
        assert!(
            cache.get(&[2; 32]).is_none(),
            "already expired: never served from the cache"
        );
        assert!(cache.get(&[3; 32]).is_none());
    }

    #[test]
    fn challenges_quote_safely() {
        assert_eq!(quoted("a \"b\" \\c\n"), "a b c");
    }
}
