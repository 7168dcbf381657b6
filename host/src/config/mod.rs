//! Configuration: what the operator wrote, read once and resolved once.
//!
//! - [`Config`] is the file's model: a TOML file, then
//!   environment variables (one table, [`ENV_VARS`]), then the command
//!   line's flags. Every option has a default, so an empty file (or none) is
//!   a valid configuration for local development.
//! - [`Config::resolve`] validates it once and produces a
//!   [`ResolvedConfig`]: one section per subsystem, in that subsystem's own
//!   types (durations, URLs, limits), which is all each subsystem sees. Bad
//!   configuration fails there, at start-up, with the key and the reason.
//!
//! This module sits at the top of the library beside [`crate::Host`]: it
//! imports the subsystems' types, and no subsystem imports it.

mod load;
mod resolve;

pub use crate::auth::{AuthConfig, ClerkConfig, IssueConfig, OidcConfig, UpstreamConfig};
pub use crate::outbound::{ApiAuth, ApiConfig};
pub use crate::policy::{ConfigValue, RateLimit, RateLimitOverride, ServedPolicy, ToolPolicy};
pub use load::{ENV_VARS, EnvVar};
pub use resolve::{AuditSettings, MetricsSettings, PluginSource, ResolvedConfig, StorageSettings};

use crate::Principal;
use crate::registry::WatchConfig;
use crate::runtime::Limits;
use crate::secret::Secret;
use crate::storage::SyncMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Per-resource operator policy, by URI or URI template
    /// (`[resources."notes://{id}"]`).
    pub resources: BTreeMap<String, ServedPolicy>,
    /// Per-prompt operator policy, by prompt name.
    pub prompts: BTreeMap<String, ServedPolicy>,
    /// The APIs tools may call, by name (granted per tool with
    /// `[tools.<name>] apis`).
    pub apis: BTreeMap<String, ApiConfig>,
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
    /// MCP sessions (of the 2025 revisions) open at most, all callers
    /// together; an `initialize` past it gets 503.
    pub max_sessions: usize,
    /// Sessions one caller may hold; an `initialize` past it gets 429.
    pub max_sessions_per_caller: usize,
    /// A session without traffic for this long is ended, in seconds.
    pub session_idle_secs: u64,
    /// Longest wait for a request's headers, in milliseconds: a client
    /// trickling them (slowloris) is cut off then.
    pub header_read_timeout_ms: u64,
    /// Connections one peer address may hold at once; 0 turns the cap off
    /// (behind a reverse proxy every connection comes from its address).
    pub max_connections_per_peer: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
            max_body_bytes: 4 << 20,
            shutdown_grace_ms: 10_000,
            max_sessions: 1_000,
            max_sessions_per_caller: 32,
            session_idle_secs: 300,
            header_read_timeout_ms: 10_000,
            max_connections_per_peer: 256,
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
    /// Compiled-artifact cache \[default: `<data_dir>/cache`\].
    pub cache_dir: Option<PathBuf>,
    /// Bytes of compiled artifacts no loaded plugin version uses that the
    /// cache keeps (the most recently compiled), so a rollback loads fast; the
    /// rest are deleted when the plugins change.
    pub cache_unused_bytes: u64,
    /// Where the tools' key/value data lives: `sqlite` (in the data
    /// directory) or `postgres` (at `url`, shared by a fleet).
    pub backend: StorageBackend,
    /// The PostgreSQL URL (`postgres://user:password@host:port/database`;
    /// env `TOOLHOST_DATABASE_URL`). A secret: never printed.
    pub url: Secret,
    /// PostgreSQL connections each replica keeps open at most.
    pub pool_size: u32,
    /// The longest one PostgreSQL operation may take, waiting for a
    /// connection included; past it the call gets "storage unavailable".
    pub statement_timeout_ms: u64,
}

/// `storage.backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageBackend {
    /// SQLite files in the data directory: one machine.
    #[default]
    Sqlite,
    /// A PostgreSQL database every replica shares.
    Postgres,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from(".toolhost"),
            sync: SyncMode::Full,
            cache_dir: None,
            cache_unused_bytes: crate::runtime::UNUSED_BUDGET_BYTES,
            backend: StorageBackend::Sqlite,
            url: Secret::default(),
            pool_size: 16,
            statement_timeout_ms: 5000,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("toolhost.toml"))
    }

    #[test]
    fn apis_are_declared_in_toml_and_granted_only_by_name() {
        let text = r#"
[apis.app]
url = "http://127.0.0.1:8080/api/"
auth = "caller"
audience = "https://app.example.com"
methods = ["get", "POST"]

[tools.projects_list]
apis = ["app"]
"#;
        let resolved = parse(text).unwrap().resolve().unwrap();
        let app = &resolved.outbound.apis["app"];
        assert_eq!(app.url.base(), "http://127.0.0.1:8080/api/");
        assert_eq!(app.methods.as_ref().unwrap().len(), 2);
        assert_eq!(resolved.policy.tools["projects_list"].apis, ["app"]);
        let e = parse(&text.replace("apis = [\"app\"]", "apis = [\"crm\"]"))
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tools.projects_list.apis") && e.contains("\"crm\" is not an API declared"),
            "{e}"
        );
        let e = parse(&text.replace("auth = \"caller\"", "auth = \"magic\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("magic"), "{e}");
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
    fn postgres_storage_needs_a_url_that_parses_and_prints_it_hidden() {
        let check = |text: &str, url: Option<&str>| {
            let mut config = parse(text).unwrap();
            config
                .apply_env(|k| (k == "TOOLHOST_DATABASE_URL").then(|| url.map(String::from))?)
                .unwrap();
            config.resolve().map(|r| (config, r))
        };
        let postgres = "[storage]\nbackend = \"postgres\"\npool_size = 8\n";
        let e = check(postgres, None).unwrap_err().to_string();
        assert!(
            e.contains("storage.url") && e.contains("TOOLHOST_DATABASE_URL"),
            "{e}"
        );
        let e = check(postgres, Some("mysql://u:hunter2@db/x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a PostgreSQL URL") && !e.contains("hunter2"),
            "{e}"
        );
        let e = check("", Some("postgres://u:p@db/x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.backend is not"), "{e}");
        let e = check(
            "[storage]\nbackend = \"postgres\"\nstatement_timeout_ms = 0\n",
            Some("postgres://u:p@db/x"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("storage.statement_timeout_ms"), "{e}");
        let (config, resolved) = check(postgres, Some("postgres://u:hunter2@db:5433/x")).unwrap();
        let settings = resolved.storage.postgres.unwrap();
        assert_eq!(settings.pool_size, 8);
        assert_eq!(settings.url.expose(), "postgres://u:hunter2@db:5433/x");
        let printed = toml::to_string_pretty(&config).unwrap();
        assert!(printed.contains("backend = \"postgres\""), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            parse("")
                .unwrap()
                .resolve()
                .unwrap()
                .storage
                .postgres
                .is_none()
        );
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
        let policy = config.resolve().unwrap().policy;
        assert_eq!(
            policy.roles_for("notes_create", &default),
            ["writer", "admin"]
        );
        assert_eq!(policy.roles_for("notes_list", &default), ["member"]);
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
        let served = parse("[resources.\"notes://{id}\"]\nroles = [\"\"]")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            served.contains("resources.\"notes://{id}\".roles"),
            "{served}"
        );
        let unknown = parse("[prompts.p]\nscopes = []").unwrap_err().to_string();
        assert!(unknown.contains("scopes"), "{unknown}");
        let secret = parse("[tools.t.config]\nkey = { value_env = \"K\", value = \"v\" }");
        assert!(secret.is_err(), "an unknown field of a secret is refused");
    }

    #[test]
    fn operators_set_roles_of_resources_and_prompts() {
        let config = parse(
            "[resources.\"notes://{id}\"]\nroles = [\"admin\"]\n[prompts.summarise_notes]\nroles = []",
        )
        .unwrap();
        let resolved = config.resolve().unwrap();
        let roles = |r: &Option<Vec<String>>| r.clone().unwrap();
        assert_eq!(
            roles(&resolved.policy.resources["notes://{id}"].roles),
            ["admin"]
        );
        assert!(roles(&resolved.policy.prompts["summarise_notes"].roles).is_empty());
    }

    #[test]
    fn the_public_url_is_an_http_url_with_a_host() {
        let with = |url: &str| {
            let mut config = Config::default();
            config.auth.public_url = Some(url.into());
            config.public_url()
        };
        assert_eq!(
            with("https://mcp.example.com/tools/").unwrap(),
            "https://mcp.example.com/tools"
        );
        for bad in [
            "mcp.example.com",
            "ftp://x.example",
            "https://x.example/?a=1",
            "http://",
        ] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains("MCP_ISSUER_URL"), "{bad}: {e}");
        }
        let mut open = Config::default();
        open.server.listen = "0.0.0.0:3001".parse().unwrap();
        assert!(
            open.validate()
                .unwrap_err()
                .to_string()
                .contains("must be set")
        );
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
        let policy = config.resolve().unwrap().policy;
        let export = policy.limits_for("export");
        assert_eq!(export.timeout_ms, 30_000);
        assert_eq!(export.memory_bytes, 512 << 20);
        assert_eq!(export.output_bytes, Limits::default().output_bytes);
        assert_eq!(policy.limits_for("other").timeout_ms, 2000);
        assert_eq!(policy.limits_ceiling().0, 512 << 20);
        assert!(!policy.rate_limit_for("export").is_on());
        assert_eq!(policy.rate_limit_for("other").burst, 5);

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
