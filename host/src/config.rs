//! Configuration: a TOML file, then environment variables, then flags.
//!
//! Every option has a default, so an empty file (or none) is a valid
//! configuration for local development. Bad configuration fails at start-up
//! with a message that names the key and says why.

use crate::Principal;
use crate::auth::AuthConfig;
use crate::registry::WatchConfig;
use crate::runtime::{Limits, LimitsOverride};
use crate::storage::SyncMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or of the wrong type.
    #[error("configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the key, line and column).
        message: String,
    },
    /// A value is unacceptable.
    #[error("configuration key {key}: {reason}")]
    Invalid {
        /// The key (`section.key`) or environment variable.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP server.
    pub server: ServerConfig,
    /// Where plugins come from.
    pub plugins: PluginsConfig,
    /// Where data and compiled artifacts live.
    pub storage: StorageConfig,
    /// Per-call limits.
    pub limits: Limits,
    /// The instance pool.
    pub runtime: RuntimeSection,
    /// Calls in flight, and how long a call waits for a free slot.
    pub concurrency: ConcurrencyConfig,
    /// Calls per caller over time (a token bucket per subject and tool).
    pub rate_limit: RateLimit,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// The audit trail of tool calls.
    pub audit: AuditConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// Development mode: a local token issuer instead of Clerk, loopback only.
    pub dev: DevConfig,
    /// The stdio transport.
    pub stdio: StdioConfig,
    /// Per-tool operator policy, by tool name.
    pub tools: BTreeMap<String, ToolPolicy>,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Host header values accepted (DNS-rebinding protection). An entry
    /// without a port matches any port.
    pub allowed_hosts: Vec<String>,
    /// Browser Origin values accepted (`scheme://host[:port]`); empty means
    /// requests with an Origin header are not checked against a list.
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes; larger requests get 413.
    pub max_body_bytes: usize,
    /// On shutdown, how long calls in flight may still run before sessions
    /// are closed, and how long connections may then linger, in milliseconds.
    pub shutdown_grace_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
            max_body_bytes: 4 << 20,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// `[plugins]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directory of `*.wasm` tool components.
    pub dir: PathBuf,
    /// Reload plugins when files in the directory change.
    pub watch: bool,
    /// Quiet time after the last file event before reloading, in milliseconds.
    pub debounce_ms: u64,
    /// A file modified more recently than this waits for the next pass, in
    /// milliseconds, so a copy in progress is not reported as broken.
    pub settle_ms: u64,
    /// Full rescan of the directory even without events, in seconds (0 = never).
    pub rescan_secs: u64,
}

impl PluginsConfig {
    /// The watcher timings.
    pub fn watch_config(&self) -> WatchConfig {
        WatchConfig {
            debounce_ms: self.debounce_ms,
            settle_ms: self.settle_ms,
            rescan_secs: self.rescan_secs,
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        let timing = WatchConfig::default();
        PluginsConfig {
            dir: PathBuf::from("plugins"),
            watch: true,
            debounce_ms: timing.debounce_ms,
            settle_ms: timing.settle_ms,
            rescan_secs: timing.rescan_secs,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Data directory: the SQLite database, and the artifact cache by default.
    pub data_dir: PathBuf,
    /// `full` (an acknowledged write survives power loss) or `normal`
    /// (survives a crash of the host).
    pub sync: SyncMode,
    /// Compiled-artifact cache [default: `<data_dir>/cache`].
    pub cache_dir: Option<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from(".toolhost"),
            sync: SyncMode::Full,
            cache_dir: None,
        }
    }
}

impl StorageConfig {
    /// The artifact cache directory in effect.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }
}

/// `[runtime]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSection {
    /// Instances that may run at once (the pooling allocator's size).
    pub max_instances: u32,
    /// Bytes of each instance slot's memory reset in place (and kept
    /// resident) when a call ends, rather than returned to the OS.
    pub keep_resident_bytes: usize,
    /// Reset only the pages a call dirtied, found with Linux's
    /// `PAGEMAP_SCAN` (6.7+; ignored elsewhere).
    pub pagemap_scan: bool,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        let runtime = crate::runtime::RuntimeConfig::default();
        RuntimeSection {
            max_instances: 128,
            keep_resident_bytes: runtime.keep_resident_bytes,
            pagemap_scan: runtime.pagemap_scan,
        }
    }
}

/// `[concurrency]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// Tool calls that may run at once, all tools together; at most
    /// `runtime.max_instances` (the default), since each call holds an
    /// instance.
    pub max_calls: Option<u32>,
    /// How long a call waits for a free slot (global or its tool's) before
    /// it fails with "busy, retry", in milliseconds.
    pub wait_ms: u64,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_calls: None,
            wait_ms: 2_000,
        }
    }
}

/// `[rate_limit]`, or `[tools.<name>.rate_limit]`: a token bucket per
/// caller (subject) and tool. A caller may make `burst` calls at once, then
/// `per_minute` calls a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained calls per minute; 0 turns the limit off.
    pub per_minute: u32,
    /// Calls allowed at once after a quiet period (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimit {
    /// 20 calls a second per caller and tool, with bursts of 100: far above
    /// what an agent does, far below what starves other callers.
    fn default() -> Self {
        RateLimit {
            per_minute: 1_200,
            burst: 100,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit {
        per_minute: 0,
        burst: 0,
    };

    /// Whether calls are limited at all.
    pub fn is_on(&self) -> bool {
        self.per_minute > 0
    }
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (Prometheus text format).
    pub enabled: bool,
    /// A separate address for `/metrics` (an admin port); unset serves it
    /// on the main listener, without authentication.
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: None,
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Record every tools/call decision in `<data_dir>/audit.db`.
    pub enabled: bool,
    /// Also record each call's arguments (they may hold personal data).
    pub include_arguments: bool,
    /// Records older than this many days are dropped at start; 0 keeps all.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            include_arguments: false,
            retention_days: 90,
        }
    }
}

/// `[dev]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevConfig {
    /// Verify tokens of the local development issuer (`toolhost token`)
    /// instead of an identity provider's; only on a loopback address.
    pub enabled: bool,
}

/// `[stdio]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StdioConfig {
    /// The principal stdio calls run as (stdio has no network authentication).
    pub principal: Principal,
}

impl Default for StdioConfig {
    fn default() -> Self {
        StdioConfig {
            principal: Principal::new("local-user", ["member"]),
        }
    }
}

/// `[tools.<name>]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolPolicy {
    /// Roles allowed to call the tool (any of them), replacing the tool's
    /// own default; an empty list lets any authenticated caller.
    pub roles: Option<Vec<String>>,
    /// OAuth scopes a token must carry (all of them) to call the tool;
    /// without them the request gets 403 `insufficient_scope`.
    pub scopes: Vec<String>,
    /// Per-call limits for this tool, replacing the `[limits]` defaults
    /// field by field.
    pub limits: LimitsOverride,
    /// Calls of this tool that may run at once (within the global limit).
    pub max_concurrent: Option<u32>,
    /// This tool's rate limit per caller, replacing `[rate_limit]`.
    pub rate_limit: Option<RateLimit>,
}

/// Environment variables read by [`Config::apply_env`], with the key each sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("TOOLHOST_LISTEN", "server.listen"),
    (
        "TOOLHOST_ALLOWED_HOSTS",
        "server.allowed_hosts (comma-separated)",
    ),
    ("TOOLHOST_PLUGINS_DIR", "plugins.dir"),
    ("TOOLHOST_DATA_DIR", "storage.data_dir"),
    ("MCP_ISSUER_URL", "auth.public_url"),
    ("CLERK_PUBLISHABLE_KEY", "auth.clerk.publishable_key"),
    ("CLERK_SECRET_KEY", "auth.clerk.secret_key"),
    ("CLERK_FRONTEND_API_URL", "auth.clerk.frontend_api_url"),
    ("CLERK_API_URL", "auth.clerk.api_url"),
    ("TOOLHOST_OIDC_ISSUER", "auth.oidc.issuer"),
    ("TOOLHOST_AUTH_PROXY", "auth.proxy (true/false)"),
    ("CLERK_OAUTH_CLIENT_ID", "auth.upstream.client_id"),
    ("CLERK_OAUTH_CLIENT_SECRET", "auth.upstream.client_secret"),
    ("TOOLHOST_PROXY_SECRET", "auth.issue.secret"),
];

impl Config {
    /// Parse TOML text; `path` names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Read and parse a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The configuration of a process: `path` (or the defaults), then the
    /// process's environment variables.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// Apply the environment variables of [`ENV_VARS`] found by `lookup`.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = lookup("TOOLHOST_LISTEN") {
            self.server.listen = v.parse().map_err(|e| ConfigError::Invalid {
                key: "TOOLHOST_LISTEN".into(),
                reason: format!("{v:?} is not an address like 127.0.0.1:3001: {e}"),
            })?;
        }
        if let Some(v) = lookup("TOOLHOST_ALLOWED_HOSTS") {
            self.server.allowed_hosts = v
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(Into::into)
                .collect();
        }
        if let Some(v) = lookup("TOOLHOST_PLUGINS_DIR") {
            self.plugins.dir = PathBuf::from(v);
        }
        if let Some(v) = lookup("TOOLHOST_DATA_DIR") {
            self.storage.data_dir = PathBuf::from(v);
        }
        self.auth.apply_env(&lookup);
        Ok(())
    }

    /// This server's public URL: `auth.public_url`, or `http://<server.listen>`.
    pub fn public_url(&self) -> Result<String, ConfigError> {
        if let Some(url) = &self.auth.public_url {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        if self.server.listen.ip().is_unspecified() {
            return Err(ConfigError::Invalid {
                key: "auth.public_url (MCP_ISSUER_URL)".into(),
                reason: format!(
                    "must be set when listening on {}: clients need the URL they reach this server at",
                    self.server.listen
                ),
            });
        }
        Ok(format!("http://{}", self.server.listen))
    }

    /// The path of the public URL, under which this host's routes live
    /// (`/tools` for `https://app.example.com/tools`; empty at the root).
    pub fn base_path(&self) -> Result<String, ConfigError> {
        let url = self.public_url()?;
        Ok(crate::auth::settings::split_origin(&url).1.to_owned())
    }

    /// The OAuth proxy's settings, when it is on.
    fn validate_proxy(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        if !auth.proxy {
            return Ok(());
        }
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.into(),
            reason,
        };
        if self.dev.enabled {
            return Err(invalid(
                "auth.proxy (TOOLHOST_AUTH_PROXY)",
                "cannot be on in development mode (--dev): the proxy signs users in at the \
                 identity provider; turn one of them off"
                    .into(),
            ));
        }
        if auth.provider().is_none() {
            return Err(invalid(
                "auth.proxy (TOOLHOST_AUTH_PROXY)",
                "needs an upstream identity provider: set CLERK_PUBLISHABLE_KEY or \
                 CLERK_FRONTEND_API_URL (Clerk), or TOOLHOST_OIDC_ISSUER"
                    .into(),
            ));
        }
        match auth.upstream.client_id.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(invalid(
                    "auth.upstream.client_id (CLERK_OAUTH_CLIENT_ID)",
                    "must be set when auth.proxy is on: the client id of the OAuth application \
                     registered at the identity provider, whose redirect URI is \
                     <MCP_ISSUER_URL>/oauth/callback"
                        .into(),
                ));
            }
            Some(_) => {}
        }
        let secret = auth.issue.secret.expose();
        if !secret.is_empty() && secret.len() < 32 {
            return Err(invalid(
                "auth.issue.secret (TOOLHOST_PROXY_SECRET)",
                format!("is {} characters; at least 32 are needed", secret.len()),
            ));
        }
        for (key, value) in [
            ("auth.issue.access_token_secs", auth.issue.access_token_secs),
            (
                "auth.issue.refresh_token_secs",
                auth.issue.refresh_token_secs,
            ),
            ("auth.issue.code_secs", auth.issue.code_secs),
            (
                "auth.issue.authorization_secs",
                auth.issue.authorization_secs,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0".into()));
            }
        }
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
        Ok(())
    }

    /// Check values no parser can: limits, role names, the principal.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        };
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        let limit_error = |(key, reason): (String, String)| invalid(&key, &reason);
        self.limits.check("limits").map_err(limit_error)?;
        if self.runtime.max_instances == 0 {
            return Err(invalid("runtime.max_instances", "must be greater than 0"));
        }
        match self.concurrency.max_calls {
            Some(0) => return Err(invalid("concurrency.max_calls", "must be greater than 0")),
            Some(n) if n > self.runtime.max_instances => {
                return Err(invalid(
                    "concurrency.max_calls",
                    &format!(
                        "{n} is more than runtime.max_instances ({}): every call needs an instance",
                        self.runtime.max_instances
                    ),
                ));
            }
            _ => {}
        }
        let check_rate = |key: &str, rate: &RateLimit| {
            if rate.is_on() && rate.burst == 0 {
                Err(invalid(
                    key,
                    "burst must be at least 1 when per_minute is set (0 per_minute turns it off)",
                ))
            } else {
                Ok(())
            }
        };
        check_rate("rate_limit.burst", &self.rate_limit)?;
        if self.auth.jwks_min_ttl_secs > self.auth.jwks_max_ttl_secs {
            return Err(invalid(
                "auth.jwks_min_ttl_secs",
                "must not exceed auth.jwks_max_ttl_secs",
            ));
        }
        self.validate_proxy()?;
        if self.stdio.principal.subject.trim().is_empty() {
            return Err(invalid("stdio.principal.subject", "must not be empty"));
        }
        if self.dev.enabled && !self.server.listen.ip().is_loopback() {
            return Err(invalid(
                "server.listen",
                &format!(
                    "{} is not a loopback address; development mode (tokens anyone with the data \
                     directory can mint) only listens on loopback",
                    self.server.listen
                ),
            ));
        }
        for (tool, policy) in &self.tools {
            if let Some(bad) = policy
                .roles
                .iter()
                .flatten()
                .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
            {
                return Err(invalid(
                    &format!("tools.{tool}.roles"),
                    &format!("role {bad:?} is empty or has white space"),
                ));
            }
            self.limits
                .with(&policy.limits)
                .check(&format!("tools.{tool}.limits"))
                .map_err(limit_error)?;
            if policy.max_concurrent == Some(0) {
                return Err(invalid(
                    &format!("tools.{tool}.max_concurrent"),
                    "must be greater than 0",
                ));
            }
            if let Some(rate) = &policy.rate_limit {
                check_rate(&format!("tools.{tool}.rate_limit.burst"), rate)?;
            }
        }
        Ok(())
    }

    /// The per-call limits of `tool`: `[limits]` with the tool's overrides.
    pub fn limits_for(&self, tool: &str) -> Limits {
        match self.tools.get(tool) {
            Some(policy) => self.limits.with(&policy.limits),
            None => self.limits.clone(),
        }
    }

    /// The largest memory and table limits of any tool, which size the
    /// instance pool.
    pub fn limits_ceiling(&self) -> (usize, usize) {
        self.tools.keys().map(|t| self.limits_for(t)).fold(
            (self.limits.memory_bytes, self.limits.table_elements),
            |(m, t), l| (m.max(l.memory_bytes), t.max(l.table_elements)),
        )
    }

    /// The rate limit of `tool` per caller.
    pub fn rate_limit_for(&self, tool: &str) -> RateLimit {
        self.tools
            .get(tool)
            .and_then(|p| p.rate_limit)
            .unwrap_or(self.rate_limit)
    }

    /// The roles that may call `tool`: the operator's override, else the
    /// tool's own default.
    pub fn roles_for<'a>(&'a self, tool: &str, default: &'a [String]) -> &'a [String] {
        match self.tools.get(tool).and_then(|p| p.roles.as_deref()) {
            Some(roles) => roles,
            None => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("toolhost.toml"))
    }

    #[test]
    fn the_proxy_names_what_it_misses() {
        let error = |text: &str, env: &[(&str, &str)]| {
            let mut config = parse(text).unwrap();
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            config
                .apply_env(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .unwrap();
            config.validate().err().map(|e| e.to_string())
        };
        let clerk = "[auth]\nproxy = true\n[auth.clerk]\nfrontend_api_url = \"https://clerk.example.com\"\n";
        let e = error(clerk, &[]).unwrap();
        assert!(e.contains("CLERK_OAUTH_CLIENT_ID"), "{e}");
        assert!(error(clerk, &[("CLERK_OAUTH_CLIENT_ID", "app_1")]).is_none());
        let e = error("", &[("TOOLHOST_AUTH_PROXY", "true")]).unwrap();
        assert!(e.contains("upstream identity provider"), "{e}");
        let e = error(
            clerk,
            &[
                ("CLERK_OAUTH_CLIENT_ID", "app_1"),
                ("TOOLHOST_PROXY_SECRET", "short"),
            ],
        )
        .unwrap();
        assert!(
            e.contains("TOOLHOST_PROXY_SECRET") && e.contains("32"),
            "{e}"
        );
        let e = error(
            &format!("{clerk}[auth.issue]\ncode_secs = 0\n"),
            &[("CLERK_OAUTH_CLIENT_ID", "app_1")],
        )
        .unwrap();
        assert!(e.contains("auth.issue.code_secs"), "{e}");
        let e = error(
            "[auth]\njwks_min_ttl_secs = 10\njwks_max_ttl_secs = 5\n",
            &[],
        )
        .unwrap();
        assert!(e.contains("auth.jwks_min_ttl_secs"), "{e}");
    }

    #[test]
    fn an_empty_file_is_the_default_configuration() {
        let config = parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:3001");
        config.validate().unwrap();
    }

    #[test]
    fn a_full_file_parses() {
        let config = parse(
            r#"
            [server]
            listen = "127.0.0.1:9000"
            allowed_hosts = ["mcp.example.com"]
            [plugins]
            dir = "/srv/plugins"
            debounce_ms = 50
            [storage]
            sync = "normal"
            [limits]
            timeout_ms = 2000
            [tools.notes_create]
            roles = ["writer", "admin"]
            "#,
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.plugins.debounce_ms, 50);
        assert_eq!(config.storage.sync, SyncMode::Normal);
        assert_eq!(config.limits.timeout_ms, 2000);
        assert_eq!(
            config.limits.memory_bytes,
            Limits::default().memory_bytes,
            "unset keys keep defaults"
        );
        let default = vec!["member".to_owned()];
        assert_eq!(
            config.roles_for("notes_create", &default),
            ["writer", "admin"]
        );
        assert_eq!(config.roles_for("notes_list", &default), ["member"]);
    }

    #[test]
    fn errors_name_the_key() {
        let unknown = parse("[server]\nlisten_on = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("listen_on") && unknown.contains("toolhost.toml"),
            "{unknown}"
        );
        let wrong_type = parse("[limits]\ntimeout_ms = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(wrong_type.contains("timeout_ms"), "{wrong_type}");
        let bad_sync = parse("[storage]\nsync = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(bad_sync.contains("sometimes"), "{bad_sync}");
        let zero = parse("[limits]\ntimeout_ms = 0")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(zero.contains("limits.timeout_ms"), "{zero}");
        let role = parse("[tools.x]\nroles = [\"a b\"]")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(role.contains("tools.x.roles"), "{role}");
    }

    #[test]
    fn per_tool_limits_rates_and_concurrency_override_the_defaults() {
        let config = parse(
            r#"
            [limits]
            timeout_ms = 2000
            [rate_limit]
            per_minute = 60
            burst = 5
            [tools.export]
            limits = { timeout_ms = 30000, memory_bytes = 536870912 }
            max_concurrent = 2
            rate_limit = { per_minute = 0 }
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        let export = config.limits_for("export");
        assert_eq!(export.timeout_ms, 30_000);
        assert_eq!(export.memory_bytes, 512 << 20);
        assert_eq!(export.output_bytes, Limits::default().output_bytes);
        assert_eq!(config.limits_for("other").timeout_ms, 2000);
        assert_eq!(config.limits_ceiling().0, 512 << 20);
        assert!(!config.rate_limit_for("export").is_on());
        assert_eq!(config.rate_limit_for("other").burst, 5);

        let bad = |text: &str| parse(text).unwrap().validate().unwrap_err().to_string();
        let timeout = bad("[tools.t]\nlimits = { timeout_ms = 0 }");
        assert!(timeout.contains("tools.t.limits.timeout_ms"), "{timeout}");
        let burst = bad("[tools.t]\nrate_limit = { per_minute = 10, burst = 0 }");
        assert!(burst.contains("tools.t.rate_limit.burst"), "{burst}");
        let calls = bad("[runtime]\nmax_instances = 8\n[concurrency]\nmax_calls = 9");
        assert!(calls.contains("concurrency.max_calls"), "{calls}");
        let unknown = parse("[tools.t]\nlimits = { timeout = 1 }").unwrap_err();
        assert!(unknown.to_string().contains("timeout"), "{unknown}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = Config::default();
        let env = |k: &str| match k {
            "TOOLHOST_LISTEN" => Some("127.0.0.1:4000".to_owned()),
            "TOOLHOST_PLUGINS_DIR" => Some("/p".to_owned()),
            "TOOLHOST_ALLOWED_HOSTS" => Some("a.example, b.example".to_owned()),
            _ => None,
        };
        config.apply_env(env).unwrap();
        assert_eq!(config.server.listen.port(), 4000);
        assert_eq!(config.plugins.dir, PathBuf::from("/p"));
        assert_eq!(config.server.allowed_hosts, ["a.example", "b.example"]);
        let err = config
            .apply_env(|k| (k == "TOOLHOST_LISTEN").then(|| "nowhere".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("TOOLHOST_LISTEN"), "{err}");
    }
}
