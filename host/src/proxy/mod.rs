//! The OAuth proxy: an authorization server façade in front of the identity
//! provider (Clerk, or any OIDC issuer), on the MCP server's own origin. It
//! sits beside the transport: HTTP endpoints and durable state, and it never
//! touches plugins.
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
//!
//! In development mode (`serve --dev`) the same façade is the authorization
//! server, with no identity provider behind it: `dev_sign_in` shows a local
//! page where the developer says who they are (a subject and roles), so an
//! OAuth client connects to `make run` with nothing pasted. Development
//! tokens from `toolhost token` are accepted beside the proxy's own.
//!
//! Files: [`settings`] (what it runs with), `routes` (the router, metadata,
//! keys), `clients` (registration, metadata documents via `cimd`),
//! `authorize` (sign-in and the upstream callback), `dev_sign_in` (the
//! development page instead), `consent` (the user's say, the first time a
//! client asks), `token` (codes, refreshes, issuing), `error` (every
//! refusal), `seal` (its secrets).

mod authorize;
mod cimd;
mod clients;
mod consent;
mod dev_sign_in;
mod error;
mod routes;
pub(crate) mod seal;
pub mod settings;
mod token;

pub use settings::{ProxySettings, UpstreamApp};

use error::OAuthError;

use crate::auth::{self, Authenticator, Provider, SigningKey};
use crate::clock::SharedClock;
use crate::policy::rate::RateBuckets;
use crate::storage::oauth::{OAuthStore, Revoked, Sweep};
use crate::storage::{StorageError, run_blocking};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The client's authorization request, kept while the user signs in
/// upstream and then bound into the code.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClientRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: Option<String>,
    pub scope: Vec<String>,
    pub resource: String,
}

impl OAuthProxy {
    /// A refusal sent back to the client's (verified) redirect URI.
    fn to_client(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &'static str,
        description: impl Into<String>,
    ) -> OAuthError {
        OAuthError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            error,
            description: description.into(),
            issuer: self.settings.issuer.clone(),
        }
    }
}

/// The state every endpoint handler extracts.
type Proxy = axum::extract::State<Arc<OAuthProxy>>;

/// The signing key file in the data directory.
pub use crate::signing::SIGNING_KEY_FILE;

/// How often expired state is swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A setting is unusable, or the identity provider cannot be discovered.
    #[error("OAuth proxy: {0}")]
    Config(#[from] auth::AuthConfigError),
    /// The signing key is unusable.
    #[error("OAuth proxy: {0}")]
    SigningKey(#[from] auth::signing::SigningKeyError),
    /// The sealing keys are unusable.
    #[error("OAuth proxy: {0}")]
    Seal(#[from] seal::SealError),
    /// The state database cannot be opened.
    #[error("OAuth proxy: {0}")]
    Storage(#[from] StorageError),
}

/// Where users sign in.
pub(crate) enum SignIn {
    /// At the identity provider.
    Provider(IdentityProvider),
    /// On this server's development sign-in page (`serve --dev`).
    Development,
}

/// The identity provider users sign in at: the operator's application
/// there, its endpoints, and the verifier of its tokens.
pub(crate) struct IdentityProvider {
    pub app: UpstreamApp,
    pub endpoints: UpstreamEndpoints,
    pub auth: Arc<Authenticator>,
}

/// Where the upstream identity provider takes sign-ins and codes.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamEndpoints {
    pub authorize: String,
    pub token: String,
    /// It promises `iss` in every authorization response (RFC 9207): an
    /// answer without one is refused.
    pub requires_iss: bool,
}

/// Revoked access tokens by `jti` (whatever spelling of the token is
/// presented) and, for tokens recorded before jti were kept, by SHA-256;
/// each until it expires (after which it fails verification anyway and is
/// forgotten).
#[derive(Default)]
struct Revocations {
    until: Mutex<RevokedUntil>,
}

#[derive(Default)]
struct RevokedUntil {
    by_jti: HashMap<String, u64>,
    by_hash: HashMap<[u8; 32], u64>,
}

impl Revocations {
    fn add(&self, revoked: &[Revoked]) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        for r in revoked {
            match &r.jti {
                Some(jti) => {
                    until.by_jti.insert(jti.clone(), r.expires);
                }
                None => {
                    if let Ok(bytes) = hex::decode(&r.hash)
                        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
                    {
                        until.by_hash.insert(key, r.expires);
                    }
                }
            }
        }
    }

    fn contains(&self, hash: &[u8; 32], jti: Option<&str>) -> bool {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        jti.is_some_and(|j| until.by_jti.contains_key(j)) || until.by_hash.contains_key(hash)
    }

    fn prune(&self, now: u64) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.by_jti.retain(|_, expires| *expires > now);
        until.by_hash.retain(|_, expires| *expires > now);
    }

    fn len(&self) -> usize {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.by_jti.len() + until.by_hash.len()
    }
}

/// The proxy: its keys, its storage, and the upstream application.
pub struct OAuthProxy {
    settings: ProxySettings,
    /// Where users sign in.
    sign_in: SignIn,
    signer: SigningKey,
    keys: seal::Keys,
    store: Arc<dyn OAuthStore>,
    revoked: Arc<Revocations>,
    http: reqwest::Client,
    documents: cimd::Documents,
    clock: SharedClock,
    /// Token bucket for registrations: (tokens, last refill).
    registrations: Mutex<(f64, Instant)>,
    /// Requests per source address (registrations, authorizations).
    per_source: RateBuckets,
    /// Sign-ins in progress (rows in `pending`), kept in step with the store.
    pending: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for OAuthProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let upstream = match &self.sign_in {
            SignIn::Provider(idp) => idp.endpoints.authorize.as_str(),
            SignIn::Development => "(development sign-in page)",
        };
        f.debug_struct("OAuthProxy")
            .field("issuer", &self.settings.issuer)
            .field("upstream", &upstream)
            .finish_non_exhaustive()
    }
}

impl OAuthProxy {
    /// Open the proxy with `settings` over `store`, its keys in `data_dir`,
    /// the identity provider's verifier `upstream_auth` (in development
    /// mode, the development issuer's, whose tokens the returned verifier
    /// accepts too). Returns the proxy and the verifier of its own tokens.
    /// Must run inside a Tokio runtime (it discovers the upstream endpoints
    /// and starts the sweeper).
    pub async fn open(
        settings: ProxySettings,
        data_dir: &Path,
        store: Arc<dyn OAuthStore>,
        upstream_auth: Arc<Authenticator>,
        clock: SharedClock,
    ) -> Result<(Arc<OAuthProxy>, Arc<Authenticator>), ProxyError> {
        let sign_in = match &settings.upstream {
            Some(app) => SignIn::Provider(IdentityProvider {
                endpoints: upstream_endpoints(app, upstream_auth.issuer()).await?,
                app: app.clone(),
                auth: upstream_auth.clone(),
            }),
            None => SignIn::Development,
        };
        let (signer, keys) = {
            let (data_dir, secret) = (data_dir.to_path_buf(), settings.issue.secret.clone());
            let opened = run_blocking(move || {
                let signer = SigningKey::open(&data_dir.join(SIGNING_KEY_FILE));
                let keys = seal::Keys::load(&secret, &data_dir);
                Ok((signer, keys))
            })
            .await?;
            (opened.0?, opened.1?)
        };
        let now = clock.unix_secs();
        let revoked = Arc::new(Revocations::default());
        let pending = {
            let (store, sweep) = (store.clone(), sweep_policy(&settings, now));
            let (pending, live) = run_blocking(move || {
                let pending = store.sweep(&sweep)?;
                Ok((pending, store.revoked_tokens(now)?))
            })
            .await?;
            revoked.add(&live);
            pending
        };
        let check = {
            let revoked = revoked.clone();
            Arc::new(move |hash: &[u8; 32], jti: Option<&str>| revoked.contains(hash, jti))
                as auth::RevocationCheck
        };
        let also = matches!(sign_in, SignIn::Development).then(|| upstream_auth.clone());
        let verifier = auth::build_for_proxy(
            &upstream_auth,
            &settings.issuer,
            &settings.scopes_supported,
            signer.jwks(),
            check,
            also,
        );
        let burst = f64::from(settings.issue.registrations_per_minute);
        let proxy = Arc::new(OAuthProxy {
            sign_in,
            signer,
            keys,
            store,
            revoked,
            http: auth::http_client()?,
            documents: cimd::Documents::new(clock.clone()),
            registrations: Mutex::new((burst, clock.instant())),
            per_source: RateBuckets::new(clock.clone()),
            pending: std::sync::atomic::AtomicU64::new(pending),
            clock,
            settings,
        });
        tokio::spawn(sweep_periodically(Arc::downgrade(&proxy)));
        match &proxy.sign_in {
            SignIn::Provider(idp) => tracing::info!(
                issuer = %proxy.settings.issuer,
                upstream = %idp.endpoints.authorize,
                "OAuth proxy on"
            ),
            SignIn::Development => tracing::info!(
                issuer = %proxy.settings.issuer,
                "development authorization server on: users sign in on its own page"
            ),
        }
        Ok((proxy, verifier))
    }

    /// The issuer clients see.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The redirect URI to register for the upstream application.
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.settings.issuer)
    }

    /// Revoked access tokens remembered now (until each expires).
    pub fn revocations(&self) -> usize {
        self.revoked.len()
    }

    /// The authorization server metadata (RFC 8414).
    pub fn metadata(&self) -> serde_json::Value {
        let i = &self.settings.issuer;
        let mut scopes = self.settings.scopes_supported.clone();
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
        routes::router(self.clone())
    }

    /// Seconds since the epoch, by the proxy's clock.
    fn now(&self) -> u64 {
        self.clock.unix_secs()
    }

    /// Run `f` against the store on the blocking pool.
    async fn db<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn OAuthStore) -> Result<T, StorageError> + Send + 'static,
    {
        let store = self.store.clone();
        run_blocking(move || f(&*store)).await
    }

    /// Remember tokens a store operation revoked.
    fn remember_revoked(&self, revoked: &[Revoked]) {
        self.revoked.add(revoked);
        if !revoked.is_empty() {
            tracing::info!(tokens = revoked.len(), "access tokens revoked");
        }
    }

    /// End `grant_id`, refusing its access tokens from now on.
    async fn revoke_grant(&self, grant_id: &str) -> Result<(), StorageError> {
        let id = grant_id.to_owned();
        let revoked = self.db(move |s| s.revoke_grant(&id)).await?;
        self.remember_revoked(&revoked);
        tracing::info!(grant = %grant_id, tokens = revoked.len(), "grant revoked");
        Ok(())
    }
}

/// Sweep expired state and revocations every [`SWEEP_EVERY`], for as long
/// as the proxy lives.
async fn sweep_periodically(proxy: Weak<OAuthProxy>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(proxy) = proxy.upgrade() else {
            return;
        };
        let now = proxy.now();
        proxy.revoked.prune(now);
        let sweep = sweep_policy(&proxy.settings, now);
        match proxy.db(move |s| s.sweep(&sweep)).await {
            Ok(pending) => proxy
                .pending
                .store(pending, std::sync::atomic::Ordering::SeqCst),
            Err(e) => tracing::warn!(error = %e, "sweeping expired OAuth state failed"),
        }
    }
}

/// What a sweep at `now` keeps.
fn sweep_policy(settings: &ProxySettings, now: u64) -> Sweep {
    Sweep {
        now,
        keep_used_codes: settings.issue.access_token_secs,
        unused_client_secs: settings.issue.unused_client_secs,
        idle_client_secs: settings.issue.refresh_token_secs,
    }
}

/// Where a request comes from, for the per-source limits: the peer's
/// address, or `unknown` when the embedder serves without connection info
/// (then every request shares one bucket).
pub(crate) struct Source(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Source(peer.map_or_else(
            || "unknown".to_owned(),
            |axum::extract::ConnectInfo(p)| p.ip().to_string(),
        )))
    }
}

impl OAuthProxy {
    /// Take a token of `what` (at `per_minute`, bursts of as many) for
    /// `source`; seconds to wait when there is none.
    pub(crate) fn take_per_source(
        &self,
        what: &str,
        source: &str,
        per_minute: u32,
    ) -> Result<(), u64> {
        let rate = crate::policy::RateLimit {
            per_minute,
            burst: per_minute.max(1),
        };
        self.per_source
            .take(source, what, rate)
            .map_err(|wait| wait.as_secs().max(1))
    }
}

/// The upstream endpoints: configured, Clerk's fixed paths, or the OIDC
/// issuer's metadata.
async fn upstream_endpoints(
    settings: &UpstreamApp,
    upstream_issuer: &str,
) -> Result<UpstreamEndpoints, ProxyError> {
    // What the provider publishes about itself (needed for OIDC endpoints;
    // for Clerk, best effort: whether it promises RFC 9207's iss).
    let configured = settings.authorization_endpoint.is_some() && settings.token_endpoint.is_some();
    let meta = match settings.provider {
        Provider::Oidc if !configured => Some(auth::discover(upstream_issuer).await?),
        _ => auth::discover(upstream_issuer).await.ok(),
    };
    let requires_iss = meta.as_ref().is_some_and(|m| m.iss_parameter_supported);
    let (authorize, token) = match (settings.provider, meta) {
        (Provider::Oidc, Some(meta)) => (meta.authorization_endpoint, meta.token_endpoint),
        (Provider::Oidc, None) => (None, None),
        (Provider::Clerk, _) => (
            Some(format!("{upstream_issuer}/oauth/authorize")),
            Some(format!("{upstream_issuer}/oauth/token")),
        ),
    };
    let missing = |what: &str| {
        ProxyError::Config(auth::AuthConfigError {
            key: format!("auth.upstream.{what}"),
            reason: format!("the identity provider publishes no {what}; set it"),
        })
    };
    Ok(UpstreamEndpoints {
        authorize: (settings.authorization_endpoint.clone())
            .or(authorize)
            .ok_or_else(|| missing("authorization_endpoint"))?,
        token: (settings.token_endpoint.clone())
            .or(token)
            .ok_or_else(|| missing("token_endpoint"))?,
        requires_iss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_are_forgotten_once_their_token_expires() {
        let r = Revocations::default();
        let hash = |b: u8| hex::encode([b; 32]);
        r.add(&[
            Revoked {
                hash: hash(1),
                jti: None,
                expires: 100,
            },
            Revoked {
                hash: hash(2),
                jti: Some("j2".into()),
                expires: 200,
            },
        ]);
        assert!(r.contains(&[1; 32], None), "an old row: by its hash");
        assert!(
            r.contains(&[9; 32], Some("j2")),
            "by jti, whatever the token's spelling"
        );
        assert!(
            !r.contains(&[2; 32], None),
            "a jti row is not matched by hash"
        );
        r.prune(100);
        assert!(
            !r.contains(&[1; 32], None),
            "expired: verification refuses it anyway"
        );
        assert!(r.contains(&[0; 32], Some("j2")));
        assert_eq!(r.len(), 1);
    }
}
