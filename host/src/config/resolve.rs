//! From the file's model to what each subsystem takes: validated once.

use super::{Config, ConfigError, StorageBackend};
use crate::Principal;
use crate::auth::{AuthConfigError, AuthSettings};
use crate::outbound::{ApiSettings, OutboundSettings};
use crate::policy::{ConfigValue, EnvValue, PolicySettings, RateLimit};
use crate::proxy::ProxySettings;
use crate::registry::WatchConfig;
use crate::runtime::{RuntimeConfig, ToolConfig};
use crate::secret::Secret;
use crate::storage::SyncMode;
use crate::transport::HttpSettings;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The configuration every subsystem runs with, one section each.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedConfig {
    /// This server's public URL, without a trailing slash
    /// (`auth.public_url`, or `http://<server.listen>`).
    pub public_url: String,
    /// The path of the public URL, under which every route lives (empty at
    /// the root).
    pub base_path: String,
    /// The HTTP transport.
    pub http: HttpSettings,
    /// Where plugins come from.
    pub plugins: PluginSource,
    /// Where data lives.
    pub storage: StorageSettings,
    /// The WebAssembly runtime.
    pub runtime: RuntimeConfig,
    /// Who may call what, under which limits.
    pub policy: PolicySettings,
    /// Token verification: `None` when no identity provider is configured
    /// (stdio only).
    pub auth: Option<AuthSettings>,
    /// The OAuth proxy, when on.
    pub proxy: Option<ProxySettings>,
    /// The audit trail.
    pub audit: AuditSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Development mode (a local issuer, loopback only).
    pub dev: bool,
    /// The principal stdio calls run as.
    pub stdio_principal: Principal,
    /// The APIs tools may call.
    pub outbound: OutboundSettings,
}

/// The plugins folder and how it is watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSource {
    /// Directory of `*.wasm` tool components.
    pub dir: PathBuf,
    /// Watching for changes (`None`: loaded once at start).
    pub watch: Option<WatchConfig>,
    /// A file modified more recently than this waits for the next pass.
    pub settle: Duration,
}

/// Where data and compiled artifacts live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// The data directory (SQLite databases, keys).
    pub data_dir: PathBuf,
    /// Durability of the tool store.
    pub sync: SyncMode,
    /// The compiled-artifact cache.
    pub cache_dir: PathBuf,
    /// The tool store in PostgreSQL (`backend = "postgres"`), or `None` for
    /// SQLite in the data directory.
    pub postgres: Option<crate::storage::PostgresSettings>,
}

/// The audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Record every tools/call decision.
    pub enabled: bool,
    /// Also record the arguments.
    pub include_arguments: bool,
    /// Records older than this are dropped at start (`None` keeps all).
    pub retention: Option<Duration>,
}

/// Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Serve `GET /metrics`.
    pub enabled: bool,
    /// A separate address for it (`None`: the main listener).
    pub listen: Option<SocketAddr>,
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl From<AuthConfigError> for ConfigError {
    fn from(e: AuthConfigError) -> Self {
        ConfigError::Invalid {
            key: e.key,
            reason: e.reason,
        }
    }
}

impl Config {
    /// This server's public URL: `auth.public_url`, or `http://<server.listen>`;
    /// an absolute http(s) URL with a host and no query or fragment, without
    /// its trailing slash.
    pub fn public_url(&self) -> Result<String, ConfigError> {
        if let Some(url) = &self.auth.public_url {
            let key = "auth.public_url (MCP_ISSUER_URL)";
            let trimmed = url.trim().trim_end_matches('/');
            let parsed = reqwest::Url::parse(trimmed)
                .map_err(|e| invalid(key, format!("{url:?} is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(invalid(
                    key,
                    format!("{url:?} is not an http(s) URL with a host"),
                ));
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(invalid(
                    key,
                    format!("{url:?} may not have a query or fragment"),
                ));
            }
            return Ok(trimmed.to_owned());
        }
        if self.server.listen.ip().is_unspecified() {
            return Err(invalid(
                "auth.public_url (MCP_ISSUER_URL)",
                format!(
                    "must be set when listening on {}: clients need the URL they reach this server at",
                    self.server.listen
                ),
            ));
        }
        Ok(format!("http://{}", self.server.listen))
    }

    /// Check everything [`Config::resolve`] checks.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(drop)
    }

    /// Validate the whole configuration and resolve it into the sections
    /// the subsystems take.
    /// Each tool's `[tools.<name>.config]`, secrets read with `env`; a
    /// secret whose variable is unset or empty stops the start, named.
    /// `[storage]`'s PostgreSQL settings (`None` for SQLite), checked: a URL
    /// that parses, a pool and a timeout in range, and no URL for another
    /// backend.
    pub fn postgres_settings(
        &self,
    ) -> Result<Option<crate::storage::PostgresSettings>, ConfigError> {
        let storage = &self.storage;
        if storage.backend != StorageBackend::Postgres {
            if !storage.url.is_empty() {
                return Err(invalid(
                    "storage.url",
                    "is set (or TOOLHOST_DATABASE_URL is), but storage.backend is not \"postgres\"; \
                     set backend = \"postgres\" to use it",
                ));
            }
            return Ok(None);
        }
        if storage.url.is_empty() {
            return Err(invalid(
                "storage.url",
                "backend = \"postgres\" needs the database's URL \
                 (postgres://user:password@host:port/database), or TOOLHOST_DATABASE_URL",
            ));
        }
        if storage.pool_size == 0 || storage.pool_size > 1000 {
            return Err(invalid("storage.pool_size", "must be between 1 and 1000"));
        }
        if storage.statement_timeout_ms < 10 || storage.statement_timeout_ms > 600_000 {
            return Err(invalid(
                "storage.statement_timeout_ms",
                "must be between 10 and 600000",
            ));
        }
        let timeout = Duration::from_millis(storage.statement_timeout_ms);
        crate::storage::postgres_config(storage.url.expose(), timeout)
            .map_err(|why| invalid("storage.url", why))?;
        Ok(Some(crate::storage::PostgresSettings {
            url: storage.url.clone(),
            pool_size: storage.pool_size as usize,
            statement_timeout: timeout,
        }))
    }

    fn resolve_tool_config(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, Arc<ToolConfig>>, ConfigError> {
        let mut resolved = BTreeMap::new();
        for (tool, rules) in self.tools.iter().filter(|(_, r)| !r.config.is_empty()) {
            let mut values = ToolConfig::new();
            for (key, value) in &rules.config {
                if key.is_empty() || key.len() > 128 {
                    return Err(invalid(
                        &format!("tools.{tool}.config"),
                        format!("{key:?} is not a key: 1 to 128 bytes"),
                    ));
                }
                let value = match value {
                    ConfigValue::Text(text) => text.clone(),
                    ConfigValue::Env(EnvValue { value_env }) => {
                        env(value_env).filter(|v| !v.is_empty()).ok_or_else(|| {
                            invalid(
                                &format!("tools.{tool}.config.{key}.value_env"),
                                format!(
                                    "the environment variable {value_env} is not set (or empty)"
                                ),
                            )
                        })?
                    }
                };
                values.insert(key.clone(), Secret::from(value));
            }
            resolved.insert(tool.clone(), Arc::new(values));
        }
        Ok(resolved)
    }

    pub fn resolve(&self) -> Result<ResolvedConfig, ConfigError> {
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        for (key, value) in [
            ("server.max_sessions", self.server.max_sessions as u64),
            (
                "server.max_sessions_per_caller",
                self.server.max_sessions_per_caller as u64,
            ),
            ("server.session_idle_secs", self.server.session_idle_secs),
            (
                "server.header_read_timeout_ms",
                self.server.header_read_timeout_ms,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if self.stdio.principal.subject.trim().is_empty() {
            return Err(invalid("stdio.principal.subject", "must not be empty"));
        }
        if self.dev.enabled && !self.server.listen.ip().is_loopback() {
            return Err(invalid(
                "server.listen",
                format!(
                    "{} is not a loopback address; development mode (tokens anyone with the data \
                     directory can mint) only listens on loopback",
                    self.server.listen
                ),
            ));
        }
        let policy = self.resolve_policy()?;
        let runtime = self.resolve_runtime(&policy);
        let public_url = self.public_url()?;
        let auth = crate::auth::settings::resolve(&self.auth, &public_url, self.dev.enabled)?;
        let proxy = ProxySettings::resolve(&self.auth, &public_url, self.dev.enabled)?;
        let base_path = crate::auth::settings::split_origin(&public_url)
            .1
            .to_owned();
        let outbound = self.resolve_outbound(&public_url)?;
        let plugins = &self.plugins;
        Ok(ResolvedConfig {
            http: HttpSettings {
                listen: self.server.listen,
                allowed_hosts: self.server.allowed_hosts.clone(),
                allowed_origins: self.server.allowed_origins.clone(),
                max_body_bytes: self.server.max_body_bytes,
                shutdown_grace: Duration::from_millis(self.server.shutdown_grace_ms),
                max_sessions: self.server.max_sessions,
                max_sessions_per_caller: self.server.max_sessions_per_caller,
                session_idle: Duration::from_secs(self.server.session_idle_secs),
                connections: crate::transport::connections::ConnectionLimits {
                    header_read_timeout: Duration::from_millis(self.server.header_read_timeout_ms),
                    max_per_peer: self.server.max_connections_per_peer,
                },
            },
            plugins: PluginSource {
                dir: plugins.dir.clone(),
                watch: plugins.watch.then(|| plugins.watch_config()),
                settle: Duration::from_millis(plugins.settle_ms),
            },
            storage: StorageSettings {
                data_dir: self.storage.data_dir.clone(),
                sync: self.storage.sync,
                cache_dir: self.storage.cache_dir(),
                postgres: self.postgres_settings()?,
            },
            runtime,
            policy,
            auth,
            proxy,
            audit: AuditSettings {
                enabled: self.audit.enabled,
                include_arguments: self.audit.include_arguments,
                retention: (self.audit.retention_days > 0)
                    .then(|| Duration::from_secs(u64::from(self.audit.retention_days) * 86_400)),
            },
            metrics: MetricsSettings {
                enabled: self.metrics.enabled,
                listen: self.metrics.listen,
            },
            dev: self.dev.enabled,
            stdio_principal: self.stdio.principal.clone(),
            outbound,
            public_url,
            base_path,
        })
    }

    fn resolve_policy(&self) -> Result<PolicySettings, ConfigError> {
        let limit_error = |(key, reason): (String, String)| invalid(&key, reason);
        self.limits.check("limits").map_err(limit_error)?;
        if self.runtime.max_instances == 0 {
            return Err(invalid("runtime.max_instances", "must be greater than 0"));
        }
        let max_calls = match self.concurrency.max_calls {
            None => self.runtime.max_instances,
            Some(0) => return Err(invalid("concurrency.max_calls", "must be greater than 0")),
            Some(n) if n > self.runtime.max_instances => {
                return Err(invalid(
                    "concurrency.max_calls",
                    format!(
                        "{n} is more than runtime.max_instances ({}): every call needs an instance",
                        self.runtime.max_instances
                    ),
                ));
            }
            Some(n) => n,
        };
        let check_rate = |key: &str, rate: RateLimit| {
            if rate.is_on() && rate.burst == 0 {
                Err(invalid(
                    key,
                    "burst must be at least 1 when per_minute is set (0 per_minute turns it off)",
                ))
            } else {
                Ok(())
            }
        };
        check_rate("rate_limit.burst", self.rate_limit)?;
        let settings = PolicySettings {
            limits: self.limits.clone(),
            rate_limit: self.rate_limit,
            max_calls,
            wait: Duration::from_millis(self.concurrency.wait_ms),
            required_scopes: self.auth.required_scopes.clone(),
            filter_tools_list: self.auth.filter_tools_list,
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
            tool_config: self.resolve_tool_config(&|var| std::env::var(var).ok())?,
        };
        let served = (self
            .resources
            .iter()
            .map(|(k, r)| (format!("resources.{k:?}"), r)))
        .chain(
            self.prompts
                .iter()
                .map(|(k, r)| (format!("prompts.{k}"), r)),
        );
        for (key, rules) in served {
            if let Some(bad) = (rules.roles.iter().flatten())
                .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
            {
                return Err(invalid(
                    &format!("{key}.roles"),
                    format!("role {bad:?} is empty or has white space"),
                ));
            }
        }
        for (tool, rules) in &self.tools {
            if let Some(bad) = (rules.roles.iter().flatten())
                .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
            {
                return Err(invalid(
                    &format!("tools.{tool}.roles"),
                    format!("role {bad:?} is empty or has white space"),
                ));
            }
            settings
                .limits_for(tool)
                .check(&format!("tools.{tool}.limits"))
                .map_err(limit_error)?;
            if rules.max_concurrent == Some(0) {
                return Err(invalid(
                    &format!("tools.{tool}.max_concurrent"),
                    "must be greater than 0",
                ));
            }
            if rules.rate_limit.is_some() {
                check_rate(
                    &format!("tools.{tool}.rate_limit.burst"),
                    settings.rate_limit_for(tool),
                )?;
            }
        }
        Ok(settings)
    }

    fn resolve_outbound(&self, public_url: &str) -> Result<OutboundSettings, ConfigError> {
        let resource = format!("{public_url}/mcp");
        let env = |name: &str| std::env::var(name).ok();
        let mut apis = std::collections::BTreeMap::new();
        for (name, api) in &self.apis {
            let settings = ApiSettings::resolve(name, api, &resource, &env)
                .map_err(|(key, reason)| invalid(&key, reason))?;
            apis.insert(name.clone(), settings);
        }
        for (tool, rules) in &self.tools {
            if let Some(unknown) = rules.apis.iter().find(|a| !apis.contains_key(*a)) {
                let declared = apis.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(invalid(
                    &format!("tools.{tool}.apis"),
                    format!(
                        "{unknown:?} is not an API declared with [apis.{unknown}] (declared: {})",
                        if declared.is_empty() {
                            "none"
                        } else {
                            &declared
                        }
                    ),
                ));
            }
        }
        Ok(OutboundSettings { apis })
    }

    fn resolve_runtime(&self, policy: &PolicySettings) -> RuntimeConfig {
        let (memory_ceiling, table_ceiling) = policy.limits_ceiling();
        RuntimeConfig {
            cache_dir: Some(self.storage.cache_dir()),
            cache_unused_bytes: self.storage.cache_unused_bytes,
            limits: self.limits.clone(),
            max_instances: self.runtime.max_instances,
            pool_memory_bytes: Some(memory_ceiling),
            pool_table_elements: Some(table_ceiling),
            keep_resident_bytes: self.runtime.keep_resident_bytes,
            pagemap_scan: self.runtime.pagemap_scan,
        }
    }
}
