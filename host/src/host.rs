//! The embeddable host: storage, runtime, the live registry with hot reload,
//! and the MCP transports, built from one [`Config`].
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

use crate::audit::AuditLog;
use crate::auth::{self, Authenticator, RoleResolver, dev::DevIssuer};
use crate::config::Config;
use crate::proxy::OAuthProxy;
use crate::registry::{PluginDir, Registry, spawn_watcher};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::storage::{SqliteStore, Store};
use crate::transport::{http, mcp::McpShared, stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the host could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The storage could not be opened.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
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
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(String),
}

/// A running host. Dropping it does not stop it; call [`Host::shutdown`].
pub struct Host {
    config: Arc<Config>,
    /// `None` when no identity provider is configured: stdio only.
    auth: Option<Arc<Authenticator>>,
    dev_issuer: Option<Arc<DevIssuer>>,
    runtime: Runtime,
    registry: Registry,
    mcp: Arc<McpShared>,
    /// Stops accepting connections and watching plugins.
    cancel: CancellationToken,
    /// Closes MCP sessions, once calls in flight have drained.
    sessions: CancellationToken,
    /// The Prometheus recorder's handle, when metrics are on and ours.
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The audit trail, when on.
    audit: Option<Arc<AuditLog>>,
    /// The OAuth proxy, when on.
    proxy: Option<Arc<OAuthProxy>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Open storage, load every plugin in the plugins directory (in
    /// parallel, from the artifact cache when possible), start watching it,
    /// and get ready to serve. Must run inside a Tokio runtime.
    pub async fn start(config: Config) -> Result<Host, HostError> {
        Self::start_with(config, None).await
    }

    /// [`Host::start`] with the embedder's own source of roles, consulted
    /// after the token's claims for every authenticated request.
    pub async fn start_with(
        config: Config,
        roles: Option<Arc<dyn RoleResolver>>,
    ) -> Result<Host, HostError> {
        config.validate()?;
        // First, so that everything from here on is counted.
        let metrics = match config.metrics.enabled {
            true => crate::metrics::install(),
            false => None,
        };
        let mut config = config;
        config.auth.public_url = Some(config.public_url()?);
        let dev_issuer = match config.dev.enabled {
            true => Some(Arc::new(DevIssuer::open(&config.storage.data_dir)?)),
            false => None,
        };
        let oidc_needs_keys = config.auth.provider() == Some(auth::Provider::Oidc)
            && config.auth.oidc.jwks_url.is_none();
        if !config.dev.enabled
            && oidc_needs_keys
            && let Some(issuer) = config.auth.oidc.issuer.clone()
        {
            config.auth.oidc.jwks_url = Some(auth::discover_jwks_url(&issuer).await?);
        }
        let auth = match (config.auth.provider(), &dev_issuer) {
            (None, None) => None,
            _ => Some(auth::build(&config.auth, dev_issuer.as_deref(), roles)?),
        };
        // With the proxy, requests carry the proxy's tokens; the provider's
        // verifier is the proxy's, to learn who signed in upstream.
        let (auth, proxy) = match (config.auth.proxy, auth) {
            (true, Some(upstream)) => {
                let endpoints =
                    crate::proxy::upstream_endpoints(&config, upstream.issuer()).await?;
                let (proxy, verifier) = OAuthProxy::open(&config, upstream, endpoints)?;
                (Some(verifier), Some(proxy))
            }
            (_, auth) => (auth, None),
        };
        let config = Arc::new(config);
        let store = Store::new(SqliteStore::open_dir(
            &config.storage.data_dir,
            config.storage.sync,
        )?);
        let (memory_ceiling, table_ceiling) = config.limits_ceiling();
        let runtime = Runtime::new(
            RuntimeConfig {
                cache_dir: Some(config.storage.cache_dir()),
                limits: config.limits.clone(),
                max_instances: config.runtime.max_instances,
                pool_memory_bytes: Some(memory_ceiling),
                pool_table_elements: Some(table_ceiling),
                keep_resident_bytes: config.runtime.keep_resident_bytes,
                pagemap_scan: config.runtime.pagemap_scan,
            },
            store,
        )?;
        let dir = &config.plugins.dir;
        if !dir.is_dir() {
            return Err(HostError::Plugins {
                path: dir.display().to_string(),
                reason: "not a directory (create it, or set plugins.dir / --plugins)".into(),
            });
        }
        let registry = Registry::new();
        let plugin_dir = Arc::new(Mutex::new(PluginDir::new(
            dir.clone(),
            runtime.clone(),
            Duration::from_millis(config.plugins.settle_ms),
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
            .map_err(|e| HostError::Plugins {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?
        };
        registry.set_problems(first.problems);
        registry.publish(first.tools);
        let cancel = CancellationToken::new();
        if config.plugins.watch {
            spawn_watcher(
                plugin_dir,
                registry.clone(),
                config.plugins.watch_config(),
                cancel.child_token(),
            )
            .map_err(|e| HostError::Plugins {
                path: dir.display().to_string(),
                reason: format!("cannot watch for changes: {e}"),
            })?;
        }
        let audit = match config.audit.enabled {
            true => Some(Arc::new(AuditLog::open(
                &AuditLog::path_in(&config.storage.data_dir),
                config.audit.retention_days,
            )?)),
            false => None,
        };
        let mcp = McpShared::new(
            registry.clone(),
            config.clone(),
            runtime.store().clone(),
            audit.clone(),
        );
        tokio::spawn(mcp.clone().notify_sessions(registry.subscribe()));
        let tools = registry.snapshot();
        tracing::info!(
            plugins = %dir.display(),
            tools = ?tools.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "host ready"
        );
        Ok(Host {
            config,
            auth,
            dev_issuer,
            runtime,
            registry,
            mcp,
            cancel,
            sessions: CancellationToken::new(),
            metrics,
            audit,
            proxy,
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

    /// The audit trail, when on.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_deref()
    }

    /// Serve `tool`, compiled into this process, beside the plugins (see
    /// [`crate::native`]); it hides a plugin of the same name. Connected
    /// clients are told the tool list changed.
    pub fn add_native_tool(&self, tool: Arc<dyn crate::native::NativeTool>) {
        tracing::info!(tool = %tool.info().name, "native tool added");
        self.mcp.add_native(tool);
    }

    /// The live tool registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The runtime plugins run in.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The configuration in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The development issuer, in development mode (to mint tokens in code).
    pub fn dev_issuer(&self) -> Option<&DevIssuer> {
        self.dev_issuer.as_deref()
    }

    /// The token verifier; `None` when no identity provider is configured.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.auth.as_deref()
    }

    /// The MCP endpoint at `/mcp` behind the auth layer, and the protected
    /// resource metadata documents, to merge into an operator's own router.
    /// Fails when no identity provider is configured: HTTP is never served
    /// without authentication.
    pub fn router(&self) -> Result<axum::Router, HostError> {
        let auth = self.auth.clone().ok_or_else(|| {
            HostError::Auth(auth::AuthConfigError {
                key: "auth".into(),
                reason: "no identity provider is configured: set CLERK_PUBLISHABLE_KEY (Clerk), \
                         TOOLHOST_OIDC_ISSUER (any OIDC issuer), or run with --dev"
                    .into(),
            })
        })?;
        let base = self.config.base_path()?;
        let mcp = http::mcp_router(self.mcp.clone(), &self.config.server, &base, &self.sessions);
        let scopes = auth::layer::ToolScopes {
            per_tool: (self.config.tools.iter())
                .filter(|(_, policy)| !policy.scopes.is_empty())
                .map(|(tool, policy)| (tool.clone(), policy.scopes.clone()))
                .collect(),
            max_body_bytes: self.config.server.max_body_bytes,
        };
        let mut router = auth::layer::require_auth(mcp, auth.clone(), scopes)
            .merge(auth::layer::metadata_router(auth, &base))
            .merge(self.health_router(&base));
        if let Some(proxy) = &self.proxy {
            router = router.merge(proxy.router());
        }
        if self.config.metrics.listen.is_none()
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
        let registry = self.registry.clone();
        let store = self.runtime.store().clone();
        let ready = move || {
            let (registry, store) = (registry.clone(), store.clone());
            async move {
                let probe = tokio::task::spawn_blocking(move || {
                    let scope = crate::storage::Scope::new("toolhost.health", "toolhost")?;
                    store.get(&scope, "probe").map(|_| ())
                })
                .await;
                let storage = match probe {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
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
        let shutdown = http::Shutdown {
            stop: self.cancel.clone(),
            sessions: self.sessions.clone(),
            grace: self.grace(),
        };
        if let (Some(addr), Some(metrics)) = (self.config.metrics.listen, self.metrics_router()) {
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
        http::serve(listener, router, shutdown)
            .await
            .map_err(|e| HostError::Serve(e.to_string()))
    }

    /// Serve one client on stdin/stdout, as the configured stdio principal,
    /// until it disconnects or [`Host::shutdown`].
    pub async fn serve_stdio(&self) -> Result<(), HostError> {
        stdio::serve(
            self.mcp.clone(),
            self.config.stdio.principal.clone(),
            self.sessions.child_token(),
        )
        .await
        .map_err(HostError::Serve)
    }

    fn grace(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.server.shutdown_grace_ms)
    }

    /// Stop accepting connections and watching plugins; let the tool calls
    /// in flight finish (up to `server.shutdown_grace_ms`), then close the
    /// MCP sessions. Call it from within the Tokio runtime.
    pub fn shutdown(&self) {
        self.cancel.cancel();
        let (sessions, in_flight, grace) =
            (self.sessions.clone(), self.mcp.in_flight(), self.grace());
        let audit = self.audit.clone();
        let drain = async move {
            let deadline = tokio::time::Instant::now() + grace;
            while in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let cut_short = in_flight.load(std::sync::atomic::Ordering::SeqCst);
            tracing::info!(calls_cut_short = cut_short, "closing MCP sessions");
            sessions.cancel();
            if let Some(audit) = audit {
                let flushed = tokio::task::spawn_blocking(move || {
                    audit.flush(std::time::Duration::from_secs(5))
                })
                .await;
                if !matches!(flushed, Ok(true)) {
                    tracing::warn!("the audit trail was not flushed before shutdown");
                }
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
