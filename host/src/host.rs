//! The embeddable host: everything built from one [`Config`], resolved once:
//! storage, the runtime, the live registry with hot reload, the policy, the
//! call pipeline, authentication (and the OAuth proxy), and the MCP
//! transports.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = toolhost::Config::default();
//! let host = toolhost::Host::start(config).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! host.serve(listener).await?;
//! # Ok(()) }
//! ```
//!
//! In an existing axum application, under a path of it: everything the host
//! serves lives under the path of `auth.public_url` (here `/tools/mcp`,
//! `/tools/healthz`, `/tools/metrics`), except the protected-resource
//! metadata, which RFC 9728 puts at
//! `/.well-known/oauth-protected-resource/tools/mcp`; so the host's router
//! is merged, not nested. See `examples/embed.rs` for a complete program.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let mut config = toolhost::Config::default();
//! config.plugins.dir = "plugins".into();
//! config.auth.public_url = Some("https://app.example.com/tools".into());
//! config.auth.oidc.issuer = Some("https://issuer.example.com".into());
//! let host = Arc::new(toolhost::Host::start(config).await?);
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "the application" }))
//!     .merge(host.router()?);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! let stopping = host.clone();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     stopping.shutdown(); // calls in flight finish, then sessions close
//! });
//! host.serve_router(listener, app).await?;
//! # Ok(()) }
//! ```

use crate::auth::{self, Authenticator, RoleResolver, dev::DevIssuer};
use crate::clock::SharedClock;
use crate::config::{Config, ResolvedConfig};
use crate::dispatch::Dispatcher;
use crate::dispatch::audit::AuditLog;
use crate::outbound::Outbound;
use crate::policy::Policy;
use crate::proxy::OAuthProxy;
use crate::registry::{PluginDir, Registry, spawn_watcher};
use crate::runtime::Runtime;
use crate::signing::SigningKey;
use crate::storage::audit::{AuditStore, SqliteAuditStore};
use crate::storage::oauth_sqlite::SqliteOAuthStore;
use crate::storage::{
    Postgres, PostgresAuditStore, PostgresStore, SqliteStore, StorageError, Store, run_blocking,
};
use crate::transport::{http, mcp::McpShared, stdio};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the host could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The storage could not be opened.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The runtime could not be set up.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// The plugins directory is unusable.
    #[error("plugins directory {path}: {reason}")]
    Plugins {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// Authentication is misconfigured.
    #[error(transparent)]
    Auth(#[from] auth::AuthConfigError),
    /// The development issuer's key is unusable.
    #[error(transparent)]
    DevIssuer(#[from] auth::dev::DevIssuerError),
    /// The OAuth proxy cannot start.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// The audit trail's writer cannot start.
    #[error(transparent)]
    Audit(#[from] crate::dispatch::audit::AuditStartError),
    /// The outbound HTTP clients cannot be built.
    #[error("outbound HTTP: {0}")]
    Outbound(String),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(String),
}

/// How to start a [`Host`] beyond its configuration.
pub struct HostBuilder {
    config: Config,
    roles: Option<Arc<dyn RoleResolver>>,
    clock: SharedClock,
}

impl HostBuilder {
    /// The embedder's own source of roles, consulted after the token's
    /// claims for every authenticated request.
    pub fn role_resolver(mut self, roles: Arc<dyn RoleResolver>) -> Self {
        self.roles = Some(roles);
        self
    }

    /// The clock tokens, codes, caches and rate limits are measured with
    /// (a test's, to move time without sleeping).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Open storage, load every plugin in the plugins directory (in
    /// parallel, from the artifact cache when possible), start watching it,
    /// and get ready to serve. Must run inside a Tokio runtime.
    pub async fn start(self) -> Result<Host, HostError> {
        Host::start_built(self).await
    }
}

/// A running host. Dropping it does not stop it; call [`Host::shutdown`].
pub struct Host {
    config: Config,
    settings: Arc<ResolvedConfig>,
    /// `None` when no identity provider is configured: stdio only.
    auth: Option<Arc<Authenticator>>,
    dev_issuer: Option<DevIssuer>,
    runtime: Runtime,
    dispatcher: Arc<Dispatcher>,
    mcp: Arc<McpShared>,
    /// Stops accepting connections and watching plugins.
    cancel: CancellationToken,
    /// Closes MCP sessions, once calls in flight have drained.
    sessions: CancellationToken,
    /// HTTP requests (POSTs) not yet answered.
    posts: Arc<crate::dispatch::InFlight>,
    /// The Prometheus recorder's handle, when metrics are on and ours.
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The OAuth proxy, when on.
    proxy: Option<Arc<OAuthProxy>>,
    /// The key caller tokens are signed with, when an API uses them.
    caller_key: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("registry", self.registry())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host for `config` with the defaults: see [`HostBuilder`].
    pub fn builder(config: Config) -> HostBuilder {
        HostBuilder {
            config,
            roles: None,
            clock: crate::clock::system(),
        }
    }

    /// Start a host for `config` (see [`HostBuilder::start`]).
    pub async fn start(config: Config) -> Result<Host, HostError> {
        Self::builder(config).start().await
    }

    /// [`Host::start`] with the embedder's own source of roles.
    pub async fn start_with(
        config: Config,
        roles: Option<Arc<dyn RoleResolver>>,
    ) -> Result<Host, HostError> {
        let mut builder = Self::builder(config);
        builder.roles = roles;
        builder.start().await
    }

    async fn start_built(built: HostBuilder) -> Result<Host, HostError> {
        let HostBuilder {
            config,
            roles,
            clock,
        } = built;
        let settings = Arc::new(config.resolve()?);
        // First, so that everything from here on is counted.
        let metrics = match settings.metrics.enabled {
            true => crate::metrics::install(),
            false => None,
        };
        let storage = settings.storage.clone();
        let (store, postgres, dev_issuer) = {
            let (data_dir, dev) = (storage.data_dir.clone(), settings.dev);
            run_blocking(move || {
                let (store, postgres) = match &storage.postgres {
                    Some(settings) => {
                        let db = Postgres::connect(settings)?;
                        tracing::info!(database = ?db, "tool data and the audit trail in PostgreSQL");
                        (Store::new(PostgresStore::open(db.clone())?), Some(db))
                    }
                    None => (
                        Store::new(SqliteStore::open_dir(&data_dir, storage.sync)?),
                        None,
                    ),
                };
                let dev = dev.then(|| DevIssuer::open(&data_dir));
                Ok((store, postgres, dev))
            })
            .await?
        };
        let dev_issuer = dev_issuer.transpose()?;
        let auth = match &settings.auth {
            None => None,
            Some(auth_settings) => Some(
                auth::build(
                    auth_settings,
                    auth::BuildOptions {
                        dev_key: dev_issuer.as_ref().map(|d| d.key().clone()),
                        resolver: roles,
                        clock: clock.clone(),
                    },
                )
                .await?,
            ),
        };
        // With the proxy, requests carry the proxy's tokens; the provider's
        // verifier is the proxy's, to learn who signed in upstream.
        let (auth, proxy) = match (&settings.proxy, auth) {
            (Some(proxy_settings), Some(upstream)) => {
                let data_dir = settings.storage.data_dir.clone();
                let state = run_blocking(move || SqliteOAuthStore::open_dir(&data_dir)).await?;
                let (proxy, verifier) = OAuthProxy::open(
                    proxy_settings.clone(),
                    &settings.storage.data_dir,
                    Arc::new(state),
                    upstream,
                    clock.clone(),
                )
                .await?;
                (Some(verifier), Some(proxy))
            }
            (_, auth) => {
                if let Some(auth) = &auth
                    && !settings.dev
                    && auth.settings().audience != auth::AudiencePolicy::Resource
                {
                    tracing::warn!(
                        issuer = auth.issuer(),
                        resource = auth.resource(),
                        "the audience of tokens is not checked (auth.audience = \"any\", or \
                         Clerk, whose OAuth tokens carry no aud): a token this issuer made for \
                         another resource is accepted here too; turn on the OAuth proxy (its \
                         tokens are bound to this resource), or set auth.audience = \"resource\" \
                         if your tokens carry aud"
                    );
                }
                (auth, None)
            }
        };
        let runtime = Runtime::new(settings.runtime.clone(), store.clone())?;
        let dir = settings.plugins.dir.clone();
        let plugins_error = |reason: String| HostError::Plugins {
            path: dir.display().to_string(),
            reason,
        };
        if !dir.is_dir() {
            return Err(plugins_error(
                "not a directory (create it, or set plugins.dir / --plugins)".into(),
            ));
        }
        let registry = Registry::new();
        let plugin_dir = Arc::new(Mutex::new(PluginDir::new(
            dir.clone(),
            runtime.clone(),
            settings.plugins.settle,
        )));
        let first = {
            let plugin_dir = plugin_dir.clone();
            tokio::task::spawn_blocking(move || {
                plugin_dir
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .reconcile(false)
            })
            .await
            .map_err(|e| plugins_error(e.to_string()))?
        };
        registry.set_problems(first.problems);
        registry.publish(first.catalog);
        let cancel = CancellationToken::new();
        if let Some(watch) = &settings.plugins.watch {
            spawn_watcher(
                plugin_dir,
                registry.clone(),
                watch.clone(),
                cancel.child_token(),
            )
            .map_err(|e| plugins_error(format!("cannot watch for changes: {e}")))?;
        }
        let audit = match settings.audit.enabled {
            false => None,
            true => {
                let path = SqliteAuditStore::path_in(&settings.storage.data_dir);
                let cutoff = (settings.audit.retention)
                    .map(|keep| clock.unix_millis() - keep.as_millis() as i64);
                let trail = run_blocking(move || {
                    let trail: Arc<dyn AuditStore> = match postgres {
                        Some(db) => Arc::new(PostgresAuditStore::open(db)?),
                        None => Arc::new(SqliteAuditStore::open(&path)?),
                    };
                    if let Some(cutoff) = cutoff {
                        trail.prune(cutoff)?;
                    }
                    Ok(trail)
                })
                .await?;
                Some(Arc::new(AuditLog::start(trail)?))
            }
        };
        let (outbound, caller_key) = {
            let settings = settings.clone();
            let sink = audit.clone().map(|log| {
                let sink: crate::outbound::AuditSink = Arc::new(move |r| log.record_now(r));
                sink
            });
            let clock = clock.clone();
            tokio::task::spawn_blocking(move || {
                Outbound::open(
                    &settings.outbound,
                    Some(&settings.storage.data_dir),
                    &settings.public_url,
                    sink,
                    clock,
                )
            })
            .await
            .map_err(|e| HostError::Outbound(e.to_string()))?
            .map_err(HostError::Outbound)?
        };
        let policy = Arc::new(Policy::new(settings.policy.clone(), clock.clone()));
        tokio::spawn(warn_of_ungranted_apis(
            registry.clone(),
            policy.clone(),
            cancel.child_token(),
        ));
        let dispatcher = Arc::new(
            Dispatcher::new(
                registry.clone(),
                policy,
                store,
                audit,
                settings.audit.include_arguments,
                clock,
            )
            .with_outbound(outbound),
        );
        let owners = crate::transport::sessions::SessionOwners::new(
            settings.http.max_sessions,
            settings.http.max_sessions_per_caller,
        );
        let mcp = McpShared::new(dispatcher.clone(), owners);
        let tools = registry.snapshot();
        tracing::info!(
            plugins = %dir.display(),
            tools = ?tools.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "host ready"
        );
        Ok(Host {
            config,
            settings,
            auth,
            dev_issuer,
            runtime,
            dispatcher,
            mcp,
            cancel,
            sessions: CancellationToken::new(),
            posts: Arc::default(),
            metrics,
            proxy,
            caller_key,
        })
    }

    /// The OAuth proxy, when `auth.proxy` is on.
    pub fn oauth_proxy(&self) -> Option<&Arc<OAuthProxy>> {
        self.proxy.as_ref()
    }

    /// `GET /metrics` alone, to mount where the embedder wants it; `None`
    /// when metrics are off or another recorder collects them.
    pub fn metrics_router(&self) -> Option<axum::Router> {
        self.metrics
            .clone()
            .map(|handle| crate::metrics::router(handle, "/metrics"))
    }

    /// The audit trail's writer, when on.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.dispatcher.audit().map(|a| &**a)
    }

    /// Serve `tool`, compiled into this process, beside the plugins (see
    /// [`crate::native`]); it hides a plugin of the same name. Connected
    /// clients are told the tool list changed.
    pub fn add_native_tool(&self, tool: Arc<dyn crate::native::NativeTool>) {
        tracing::info!(tool = %tool.info().name, "native tool added");
        self.registry().add_native(tool);
    }

    /// The live tool registry.
    pub fn registry(&self) -> &Registry {
        self.dispatcher.registry()
    }

    /// The call pipeline every transport uses.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// The runtime plugins run in.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The configuration as given.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration as resolved: what each subsystem runs with.
    pub fn settings(&self) -> &ResolvedConfig {
        &self.settings
    }

    /// The development issuer, in development mode (to mint tokens in code).
    pub fn dev_issuer(&self) -> Option<&DevIssuer> {
        self.dev_issuer.as_ref()
    }

    /// The token verifier; `None` when no identity provider is configured.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.auth.as_deref()
    }

    /// Sessions of the older protocol revisions registered for
    /// tools/list_changed now.
    pub fn legacy_sessions(&self) -> usize {
        self.mcp.sessions().len()
    }

    /// Sessions of the older protocol revisions open now (counted against
    /// `server.max_sessions`).
    pub fn open_sessions(&self) -> usize {
        self.mcp.owners().open()
    }

    /// Wait until at most `n` legacy sessions are registered (sessions end
    /// asynchronously, after their DELETE or idle timeout).
    pub async fn wait_for_legacy_sessions_at_most(&self, n: usize) {
        let mut count = self.mcp.sessions().watch();
        let _ = count.wait_for(|c| *c <= n).await;
    }

    /// The MCP endpoint at `/mcp` behind the auth layer, and the protected
    /// resource metadata documents, to merge into an operator's own router.
    /// Fails when no identity provider is configured: HTTP is never served
    /// without authentication.
    pub fn router(&self) -> Result<axum::Router, HostError> {
        let auth =
            (self.auth.clone()).ok_or_else(|| HostError::Auth(auth::settings::no_provider()))?;
        let settings = &self.settings;
        let base = &settings.base_path;
        let mcp = http::mcp_router(
            self.mcp.clone(),
            &settings.http,
            base,
            &self.sessions,
            self.posts.clone(),
        );
        let policy = self.dispatcher.policy().clone();
        let mut router =
            auth::layer::require_auth(mcp, auth.clone(), policy, settings.http.max_body_bytes)
                .merge(auth::layer::metadata_router(auth, base))
                .merge(self.health_router(base));
        if let Some(proxy) = &self.proxy {
            // The proxy publishes the same key (it signs with it too).
            router = router.merge(proxy.router());
        } else if let Some(key) = &self.caller_key {
            let jwks = key.jwks().clone();
            router = router.route(
                &format!("{base}/oauth/jwks.json"),
                axum::routing::get(move || {
                    let jwks = jwks.clone();
                    async move {
                        (
                            [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
                            axum::Json(jwks),
                        )
                    }
                }),
            );
        }
        if settings.metrics.listen.is_none()
            && let Some(handle) = self.metrics.clone()
        {
            router = router.merge(crate::metrics::router(handle, &format!("{base}/metrics")));
        }
        Ok(router)
    }

    /// `/healthz` (the process answers) and `/readyz` (storage reachable;
    /// the tools served and the plugin files that fail, for operators).
    fn health_router(&self, base: &str) -> axum::Router {
        use axum::http::StatusCode;
        use axum::routing::get;
        let registry = self.registry().clone();
        let store = self.runtime.store().clone();
        let ready = move || {
            let (registry, store) = (registry.clone(), store.clone());
            async move {
                let storage = run_blocking(move || {
                    let scope = crate::storage::Scope::new("toolhost.health", "toolhost")?;
                    store.get(&scope, "probe").map(|_| ())
                })
                .await
                .map_err(|e| e.to_string());
                let tools = registry.snapshot();
                let problems: std::collections::BTreeMap<String, String> =
                    (registry.problems().into_iter())
                        .map(|(path, why)| (path.display().to_string(), why))
                        .collect();
                let body = serde_json::json!({
                    "status": if storage.is_ok() { "ready" } else { "unavailable" },
                    "storage": storage.as_ref().err().map_or("ok".to_owned(), |e| format!("error: {e}")),
                    "tools": tools.iter().map(|p| serde_json::json!({"name": p.name(), "version": p.version()})).collect::<Vec<_>>(),
                    "problems": problems,
                });
                let status = if storage.is_ok() {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (status, axum::Json(body))
            }
        };
        axum::Router::new()
            .route(
                &format!("{base}/healthz"),
                get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
            )
            .route(&format!("{base}/readyz"), get(ready))
    }

    /// Serve [`Host::router`] on `listener` until [`Host::shutdown`].
    pub async fn serve(&self, listener: TcpListener) -> Result<(), HostError> {
        self.serve_router(listener, self.router()?).await
    }

    /// Serve `router` (this host's router, perhaps merged into the
    /// operator's own) on `listener` until [`Host::shutdown`], with
    /// TCP_NODELAY on every connection.
    pub async fn serve_router(
        &self,
        listener: TcpListener,
        router: axum::Router,
    ) -> Result<(), HostError> {
        let shutdown = crate::transport::connections::Shutdown {
            stop: self.cancel.clone(),
            sessions: self.sessions.clone(),
            grace: self.settings.http.shutdown_grace,
        };
        if let (Some(addr), Some(metrics)) = (self.settings.metrics.listen, self.metrics_router()) {
            let admin = TcpListener::bind(addr).await.map_err(|e| {
                HostError::Serve(format!("metrics.listen {addr}: cannot listen: {e}"))
            })?;
            tracing::info!(%addr, "serving /metrics");
            let stop = self.cancel.clone();
            tokio::spawn(async move {
                let served = axum::serve(admin, metrics)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        let limits = self.settings.http.connections.clone();
        crate::transport::connections::serve(listener, router, shutdown, limits)
            .await
            .map_err(|e| HostError::Serve(e.to_string()))
    }

    /// Serve one client on stdin/stdout, as the configured stdio principal,
    /// until it disconnects or [`Host::shutdown`].
    pub async fn serve_stdio(&self) -> Result<(), HostError> {
        stdio::serve(
            self.mcp.clone(),
            self.settings.stdio_principal.clone(),
            self.sessions.child_token(),
        )
        .await
        .map_err(HostError::Serve)
    }

    /// Whether [`Host::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Stop accepting connections and watching plugins; let the tool calls
    /// in flight finish and their answers go out (up to
    /// `server.shutdown_grace_ms`), then close the MCP sessions and flush the
    /// audit trail. Call it from within the Tokio runtime.
    pub fn shutdown(&self) {
        self.cancel.cancel();
        let sessions = self.sessions.clone();
        let (in_flight, posts) = (self.dispatcher.in_flight().clone(), self.posts.clone());
        let grace = self.settings.http.shutdown_grace;
        let audit = self.dispatcher.audit().cloned();
        let drain = async move {
            let both = async {
                in_flight.drained().await;
                posts.drained().await;
            };
            let _ = tokio::time::timeout(grace, both).await;
            let cut_short = in_flight.count();
            tracing::info!(calls_cut_short = cut_short, "closing MCP sessions");
            sessions.cancel();
            if let Some(audit) = audit
                && !audit.flush(std::time::Duration::from_secs(5)).await
            {
                tracing::warn!("the audit trail was not flushed before shutdown");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(drain);
            }
            Err(_) => self.sessions.cancel(),
        }
    }
}

/// Log a warning for every served tool version that says it calls an API
/// the operator did not grant it: at start, and after each change of the
/// tool set (once per tool version).
async fn warn_of_ungranted_apis(registry: Registry, policy: Arc<Policy>, stop: CancellationToken) {
    let mut changes = registry.subscribe();
    // Tool versions already looked at; only those served now are kept.
    let mut seen: std::collections::HashSet<(String, String)> = Default::default();
    loop {
        let tools = registry.snapshot();
        let mut current = std::collections::HashSet::with_capacity(tools.len());
        for entry in tools.iter() {
            let key = (entry.name().to_owned(), entry.version().to_owned());
            let new = !seen.contains(&key);
            current.insert(key);
            if !new {
                continue;
            }
            let missing = policy.ungranted_apis(entry.info());
            if !missing.is_empty() {
                tracing::warn!(
                    tool = entry.name(), version = entry.version(), apis = ?missing,
                    "the tool says it calls APIs that are not granted to it; its requests to them will be refused \
                     (grant them with apis = [...] in its [tools.<name>] section)"
                );
            }
        }
        seen = current;
        tokio::select! {
            () = stop.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}
