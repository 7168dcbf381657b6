//! Authentication: from a bearer token to a verified [`Principal`].
//!
//! The host is an OAuth 2.1 resource server. It publishes Protected Resource
//! Metadata (RFC 9728) naming its authorization server (Clerk's frontend API,
//! any OIDC issuer, the OAuth proxy, or none in development), answers
//! requests without a usable token with a `401` and a `WWW-Authenticate`
//! challenge, and verifies JWT access tokens against the issuer's published
//! keys: algorithm allow-list (RS256, ES256), exact issuer, expiry with
//! leeway (against an injectable clock), `typ` `at+jwt`, and optionally the
//! audience (RFC 8707). Roles come from token claims and, optionally, from a
//! [`RoleResolver`] such as Clerk's Backend API. Whether the principal may
//! then call a tool is [`crate::policy`]'s decision.

pub mod claims;
pub mod clerk;
pub mod dev;
pub mod jwks;
pub(crate) mod layer;
mod metadata;
pub mod settings;
pub use crate::signing;

pub use clerk::{ClerkBackend, ClerkError, publishable_key_host};
pub use metadata::{IssuerMetadata, discover};
pub use settings::{
    AudiencePolicy, AuthConfig, AuthConfigError, AuthSettings, ClerkConfig, IssueConfig, KeySource,
    OidcConfig, Provider, UpstreamConfig,
};
pub use signing::SigningKey;

pub use crate::secret::Secret;

use crate::Principal;
use crate::cache::BoundedCache;
use crate::clock::SharedClock;
pub use crate::principal::MAX_SUBJECT_BYTES;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use jwks::{JwksCache, JwksError};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Why a request is not authenticated (or not authorized for its scope).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// The issuer's keys (or its token API) cannot be reached and nothing
    /// is cached.
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

/// Why a [`RoleResolver`] found no roles.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RoleError(Box<dyn std::error::Error + Send + Sync>);

impl RoleError {
    /// A role lookup failure for `reason` (an error, or a message).
    pub fn new(reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        RoleError(reason.into())
    }
}

/// Boxed future returned by a [`RoleResolver`].
pub type RolesFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, RoleError>> + Send + 'a>>;

/// A source of roles beyond the token's claims (an identity provider's API,
/// an operator's own database). Results should be cached by the resolver.
pub trait RoleResolver: Send + Sync + 'static {
    /// Extra roles of the verified `principal`.
    fn roles<'a>(&'a self, principal: &'a Principal) -> RolesFuture<'a>;
}

/// Says whether a token has been revoked, by its SHA-256 and its `jti`.
pub type RevocationCheck = Arc<dyn Fn(&[u8; 32], Option<&str>) -> bool + Send + Sync>;

/// Verifies bearer tokens for one configured issuer.
pub struct Authenticator {
    settings: AuthSettings,
    keys: JwksCache,
    resolver: Option<Arc<dyn RoleResolver>>,
    /// Clerk's Backend API, for opaque `oat_` tokens.
    clerk: Option<Arc<ClerkBackend>>,
    /// Recently verified JWTs by SHA-256 (never the token itself), so a
    /// client that reuses its token pays the signature check once a minute,
    /// not per request.
    verified: BoundedCache<[u8; 32], (Principal, Option<String>)>,
    /// Consulted on every request, cached verifications included.
    revoked: Option<RevocationCheck>,
    /// Verifies the tokens of a second issuer, told apart by their `iss`
    /// (in development mode: the development issuer's, beside the
    /// development sign-in's).
    also: Option<Arc<Authenticator>>,
    clock: SharedClock,
}

/// How long a verified token is trusted without checking it again.
const VERIFIED_TTL: Duration = Duration::from_secs(60);
/// Verified tokens remembered at most.
pub const VERIFIED_CAPACITY: usize = 10_000;

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
    fn new(
        settings: AuthSettings,
        keys: JwksCache,
        resolver: Option<Arc<dyn RoleResolver>>,
        clerk: Option<Arc<ClerkBackend>>,
        clock: SharedClock,
    ) -> Self {
        Authenticator {
            settings,
            keys,
            resolver,
            clerk,
            verified: BoundedCache::new("verified tokens", VERIFIED_CAPACITY, clock.clone()),
            revoked: None,
            also: None,
            clock,
        }
    }

    /// The resolved settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The MCP resource URL tokens are for.
    pub fn resource(&self) -> &str {
        &self.settings.resource
    }

    /// The issuer whose tokens this verifies.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verify `token` and build the principal it stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if let Some(other) = &self.also
            && unverified_issuer(token).as_deref() == Some(other.issuer())
        {
            // Only picks the verifier; that one checks everything.
            return Box::pin(other.authenticate(token)).await;
        }
        let mut principal = if token.starts_with("oat_") {
            self.verify_opaque(token).await?
        } else {
            use sha2::Digest;
            let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
            let (principal, jti) = match self.verified.get(&key) {
                Some(verified) => verified,
                None => {
                    let verified = self.verify_jwt(token).await?;
                    let left =
                        Duration::from_secs(verified.exp.saturating_sub(self.clock.unix_secs()));
                    let entry = (verified.principal, verified.jti);
                    self.verified
                        .insert(key, entry.clone(), left.min(VERIFIED_TTL));
                    entry
                }
            };
            if let Some(revoked) = &self.revoked
                && revoked(&key, jti.as_deref())
            {
                return Err(AuthError::Revoked);
            }
            principal
        };
        if self.settings.check_clerk_client
            && let Some(clerk) = &self.clerk
        {
            let client = principal.client_id.clone().unwrap_or_default();
            match clerk.client_exists(&client).await {
                Ok(true) => {}
                Ok(false) => return Err(AuthError::UnknownClient(client)),
                Err(e) => return Err(AuthError::KeysUnavailable(e.to_string())),
            }
        }
        if let Some(resolver) = &self.resolver {
            match resolver.roles(&principal).await {
                Ok(roles) => claims::merge_roles(&mut principal, roles),
                Err(e) => tracing::warn!(
                    subject = ?principal.subject,
                    error = %e,
                    "role lookup failed; using token roles only"
                ),
            }
        }
        Ok(principal)
    }

    async fn verify_opaque(&self, token: &str) -> Result<Principal, AuthError> {
        let Some(clerk) = &self.clerk else {
            return Err(AuthError::Malformed(
                "an opaque Clerk token, but no CLERK_SECRET_KEY to verify it with".into(),
            ));
        };
        clerk.verify_opaque(token).await.map_err(|e| match e {
            ClerkError::Unavailable(why) => AuthError::KeysUnavailable(why),
            refused => AuthError::Claims(refused.to_string()),
        })
    }

    /// Verify a token of the identity provider for the OAuth proxy: the
    /// principal its claims describe, without the role resolver (it runs
    /// again on every request).
    pub(crate) async fn verify_upstream(&self, token: &str) -> Result<Principal, AuthError> {
        if token.starts_with("oat_") {
            return self.verify_opaque(token).await;
        }
        Ok(self.verify_jwt(token).await?.principal)
    }

    /// Verify a JWT: the principal, its `exp` and `jti`.
    async fn verify_jwt(&self, token: &str) -> Result<Verified, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => AuthError::Algorithm("unknown or \"none\"".into()),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        if has_crit(token) {
            // RFC 7515 §4.1.11: an extension the verifier does not know
            // must make the token invalid; this verifier knows none.
            return Err(AuthError::Malformed(
                "the header names critical extensions (crit), which are not supported".into(),
            ));
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
        if header.alg == Algorithm::ES256 && self.settings.low_s_only && has_high_s(token) {
            // Its other spelling: the issuer (this host) signs only low-S.
            return Err(AuthError::Signature);
        }
        let mut validation = Validation::new(key.algorithm);
        // Time is checked below against the host's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match self.settings.audience {
            AudiencePolicy::Resource => validation.set_audience(&[&self.settings.resource]),
            _ => validation.validate_aud = false,
        }
        let data =
            jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(map_jwt_error)?;
        // One issuer, as a string: an array that merely contains it is not it.
        if data.claims.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(AuthError::Issuer);
        }
        let subject_len = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .map_or(0, str::len);
        if subject_len > MAX_SUBJECT_BYTES {
            return Err(AuthError::Claims(format!(
                "sub is {subject_len} bytes, more than {MAX_SUBJECT_BYTES}"
            )));
        }
        let now = self.clock.unix_secs();
        let leeway = self.settings.leeway.as_secs();
        let exp = time_claim(&data.claims, "exp")?.unwrap_or(0);
        if exp.saturating_add(leeway) <= now {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = time_claim(&data.claims, "nbf")?
            && nbf > now.saturating_add(leeway)
        {
            return Err(AuthError::NotYetValid);
        }
        let principal = claims::principal_from_claims(&data.claims, &self.settings.role_claims)
            .ok_or_else(|| AuthError::Claims("no subject".into()))?;
        let jti = data
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Verified {
            principal,
            exp,
            jti,
        })
    }
}

/// The `iss` a JWT claims, before anything is verified.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Whether the JOSE header of `token` has a `crit` member.
fn has_crit(token: &str) -> bool {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or("");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .is_some_and(|h| h.get("crit").is_some())
}

/// What a verified JWT says.
struct Verified {
    principal: Principal,
    exp: u64,
    jti: Option<String>,
}

/// Whether the ES256 signature of `token` has the high form of s (or is not
/// 64 bytes, which no verifier accepts either).
fn has_high_s(token: &str) -> bool {
    use base64::Engine as _;
    let signature = token.rsplit_once('.').map_or("", |(_, s)| s);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature);
    match raw.ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) {
        Some(raw) => signing::is_high_s(&raw),
        None => true,
    }
}

/// A NumericDate claim (seconds since the epoch); a fraction is cut off.
fn time_claim(claims: &Value, name: &str) -> Result<Option<u64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| AuthError::Claims(format!("malformed {name}"))),
    }
}

/// How to build an [`Authenticator`] beyond its settings.
#[derive(Clone)]
pub struct BuildOptions {
    /// The development issuer's key, in development mode.
    pub dev_key: Option<Arc<SigningKey>>,
    /// The embedder's own source of roles.
    pub resolver: Option<Arc<dyn RoleResolver>>,
    /// The clock tokens and cache entries are checked against.
    pub clock: SharedClock,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            dev_key: None,
            resolver: None,
            clock: crate::clock::system(),
        }
    }
}

/// Build the authenticator for `settings`: discovers the issuer's keys when
/// the settings say so.
pub async fn build(
    settings: &AuthSettings,
    options: BuildOptions,
) -> Result<Arc<Authenticator>, AuthConfigError> {
    let client = http_client()?;
    let keys = match (&settings.keys, &options.dev_key) {
        (KeySource::Dev, Some(key)) => JwksCache::fixed(key.jwks()),
        (KeySource::Dev, None) => {
            return Err(AuthConfigError {
                key: "dev.enabled".into(),
                reason: "development mode needs the development issuer's key".into(),
            });
        }
        (KeySource::Url(url), _) => {
            JwksCache::from_url(url.clone(), client.clone(), settings.jwks_policy.clone())
        }
        (KeySource::Discover, _) => {
            let url = discover(&settings.issuer).await?.jwks_uri;
            JwksCache::from_url(url, client.clone(), settings.jwks_policy.clone())
        }
    };
    let clerk = (settings.clerk_backend.clone())
        .map(|b| Arc::new(ClerkBackend::new(b, client.clone(), options.clock.clone())));
    let resolver = (options.resolver).or_else(|| clerk.clone().map(|c| c as Arc<dyn RoleResolver>));
    Ok(Arc::new(Authenticator::new(
        settings.clone(),
        keys,
        resolver,
        clerk,
        options.clock,
    )))
}

/// The verifier of the OAuth proxy's own access tokens: issuer `issuer`
/// (this server), keys `keys` (the proxy's), the audience always this
/// resource, roles also from `upstream`'s resolver, and `revoked` consulted
/// on every request. Tokens whose `iss` is `also`'s go to `also`. It
/// advertises the proxy's `scopes`, not the provider's.
pub(crate) fn build_for_proxy(
    upstream: &Authenticator,
    issuer: &str,
    scopes: &[String],
    keys: &jsonwebtoken::jwk::JwkSet,
    revoked: RevocationCheck,
    also: Option<Arc<Authenticator>>,
) -> Arc<Authenticator> {
    let mut settings = upstream.settings.clone();
    settings.issuer = issuer.to_owned();
    settings.scopes_supported = scopes.to_vec();
    settings.authorization_servers = vec![issuer.to_owned()];
    settings.audience = AudiencePolicy::Resource;
    settings.accept_session_tokens = false;
    settings.role_claims = vec!["roles".into()];
    settings.check_clerk_client = false;
    settings.low_s_only = true;
    let mut auth = Authenticator::new(
        settings,
        JwksCache::fixed(keys),
        upstream.resolver.clone(),
        None,
        upstream.clock.clone(),
    );
    auth.revoked = Some(revoked);
    auth.also = also;
    Arc::new(auth)
}

/// An authenticator for tokens of `issuer` signed by one of `keys`, a fixed
/// key set that is never refetched: for embedders that hold their issuer's
/// public keys themselves. `public_url` is this server's.
pub fn build_with_fixed_keys(
    config: &AuthConfig,
    public_url: &str,
    issuer: &str,
    keys: &jsonwebtoken::jwk::JwkSet,
) -> Result<Arc<Authenticator>, AuthConfigError> {
    let mut settings =
        settings::resolve(config, public_url, true)?.ok_or_else(settings::no_provider)?;
    settings.issuer = issuer.to_owned();
    settings.authorization_servers = vec![issuer.to_owned()];
    Ok(Arc::new(Authenticator::new(
        settings,
        JwksCache::fixed(keys),
        None,
        None,
        crate::clock::system(),
    )))
}

/// The HTTP client for the issuer's keys and APIs: no redirects to follow,
/// short timeouts. Fails (never falls back to a client without them).
pub(crate) fn http_client() -> Result<reqwest::Client, AuthConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AuthConfigError {
            key: "auth".into(),
            reason: format!("cannot build the HTTP client for the identity provider: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn dev_settings() -> AuthSettings {
        settings::resolve(&AuthConfig::default(), "http://127.0.0.1:3001", true)
            .unwrap()
            .unwrap()
    }

    async fn dev_auth(clock: Arc<ManualClock>) -> (Arc<Authenticator>, Arc<SigningKey>) {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(SigningKey::open(&dir.path().join("k.p8")).unwrap());
        let auth = build(
            &dev_settings(),
            BuildOptions {
                dev_key: Some(key.clone()),
                clock: clock.clone(),
                ..BuildOptions::default()
            },
        )
        .await
        .unwrap();
        (auth, key)
    }

    fn token(key: &SigningKey, clock: &ManualClock, ttl: u64) -> String {
        let now = clock.unix_secs();
        key.sign(&serde_json::json!({
            "iss": dev::DEV_ISSUER, "sub": "alice", "roles": ["member"],
            "iat": now, "nbf": now, "exp": now + ttl,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn expiry_follows_the_clock_and_the_cache_never_serves_past_exp() {
        let clock = ManualClock::new();
        let (auth, key) = dev_auth(clock.clone()).await;
        let short = token(&key, &clock, 5);
        assert_eq!(auth.authenticate(&short).await.unwrap().subject, "alice");
        // Cached for at most its lifetime (5 s), not the minute.
        clock.advance(Duration::from_secs(6));
        assert!(auth.verified.get(&sha(&short)).is_none());
        // Within the 30 s leeway it still verifies; past it, it does not.
        assert!(auth.authenticate(&short).await.is_ok());
        clock.advance(Duration::from_secs(30));
        assert_eq!(auth.authenticate(&short).await, Err(AuthError::Expired));
        let early = {
            let now = clock.unix_secs();
            key.sign(&serde_json::json!({
                "iss": dev::DEV_ISSUER, "sub": "bob", "nbf": now + 120, "exp": now + 600,
            }))
            .unwrap()
        };
        assert_eq!(auth.authenticate(&early).await, Err(AuthError::NotYetValid));
        clock.advance(Duration::from_secs(100));
        assert!(auth.authenticate(&early).await.is_ok(), "within the leeway");
    }

    fn sha(token: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    #[tokio::test]
    async fn only_the_low_s_spelling_of_this_hosts_tokens_verifies() {
        let clock = ManualClock::new();
        let (auth, key) = dev_auth(clock.clone()).await;
        let token = token(&key, &clock, 600);
        assert!(auth.authenticate(&token).await.is_ok());
        let other = signing::malleate(&token).unwrap();
        assert_eq!(auth.authenticate(&other).await, Err(AuthError::Signature));
        // The signature itself is valid: only the rule refuses it.
        let mut lenient = dev_settings();
        lenient.low_s_only = false;
        let lax = build(
            &lenient,
            BuildOptions {
                dev_key: Some(key.clone()),
                clock,
                ..BuildOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(lax.authenticate(&other).await.is_ok());
    }

    #[tokio::test]
    async fn crit_headers_issuer_arrays_and_huge_subjects_are_refused() {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let clock = ManualClock::new();
        let (auth, key) = dev_auth(clock.clone()).await;
        let now = clock.unix_secs();
        let claims = |iss: serde_json::Value, sub: &str| serde_json::json!({"iss": iss, "sub": sub, "exp": now + 600});
        let array = key
            .sign(&claims(serde_json::json!([dev::DEV_ISSUER, "other"]), "a"))
            .unwrap();
        assert_eq!(auth.authenticate(&array).await, Err(AuthError::Issuer));
        let long = key
            .sign(&claims(
                serde_json::json!(dev::DEV_ISSUER),
                &"x".repeat(100_000),
            ))
            .unwrap();
        assert!(matches!(
            auth.authenticate(&long).await,
            Err(AuthError::Claims(m)) if m.contains("more than 255")
        ));
        // A crit header: the signature is checked after it, so any will do.
        let good = key
            .sign(&claims(serde_json::json!(dev::DEV_ISSUER), "a"))
            .unwrap();
        let (_, rest) = good.split_once('.').unwrap();
        let header = b64(serde_json::json!({
            "alg": "ES256", "typ": "at+jwt", "kid": key.kid(), "crit": ["exp"], "exp": 1
        }));
        let critical = format!("{header}.{rest}");
        assert!(matches!(
            auth.authenticate(&critical).await,
            Err(AuthError::Malformed(m)) if m.contains("crit")
        ));
        assert!(auth.authenticate(&good).await.is_ok());
    }

    #[tokio::test]
    async fn a_verified_token_is_cached_for_a_minute_at_most() {
        let clock = ManualClock::new();
        let (auth, key) = dev_auth(clock.clone()).await;
        let long = token(&key, &clock, 3600);
        auth.authenticate(&long).await.unwrap();
        assert!(auth.verified.get(&sha(&long)).is_some());
        clock.advance(VERIFIED_TTL);
        assert!(auth.verified.get(&sha(&long)).is_none());
    }
}
