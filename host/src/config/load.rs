//! Reading a configuration: the TOML file, then the environment, then the
//! command line's flags (applied by the caller on the result).
//!
//! One table, [`ENV_VARS`], says which variable sets which key; the seed
//! project's names (`CLERK_PUBLISHABLE_KEY`, `CLERK_SECRET_KEY`,
//! `MCP_ISSUER_URL`, ...) are kept. A variable set to an empty string counts
//! as unset. The file is parsed by `toml` directly, so its errors keep the
//! line, column and key.

use super::{Config, ConfigError};
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// An environment variable and the configuration key it sets.
#[derive(Debug)]
pub struct EnvVar {
    /// The variable.
    pub name: &'static str,
    /// The key it sets (`section.key`), with the form of its value.
    pub key: &'static str,
    set: fn(&mut Config, String) -> Result<(), String>,
}

fn flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

/// Every environment variable the configuration reads, in the order applied.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "TOOLHOST_LISTEN",
        key: "server.listen",
        set: |c, v| {
            c.server.listen = v
                .trim()
                .parse()
                .map_err(|e| format!("{v:?} is not an address like 127.0.0.1:3001: {e}"))?;
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_ALLOWED_HOSTS",
        key: "server.allowed_hosts (comma-separated)",
        set: |c, v| {
            c.server.allowed_hosts = v
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(Into::into)
                .collect();
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_PLUGINS_DIR",
        key: "plugins.dir",
        set: |c, v| {
            c.plugins.dir = PathBuf::from(v);
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_DATA_DIR",
        key: "storage.data_dir",
        set: |c, v| {
            c.storage.data_dir = PathBuf::from(v);
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_DATABASE_URL",
        key: "storage.url",
        set: |c, v| {
            c.storage.url = Secret::from(v);
            Ok(())
        },
    },
    EnvVar {
        name: "MCP_ISSUER_URL",
        key: "auth.public_url",
        set: |c, v| {
            c.auth.public_url = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_PUBLISHABLE_KEY",
        key: "auth.clerk.publishable_key",
        set: |c, v| {
            c.auth.clerk.publishable_key = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_SECRET_KEY",
        key: "auth.clerk.secret_key",
        set: |c, v| {
            c.auth.clerk.secret_key = Secret::from(v);
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_FRONTEND_API_URL",
        key: "auth.clerk.frontend_api_url",
        set: |c, v| {
            c.auth.clerk.frontend_api_url = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_API_URL",
        key: "auth.clerk.api_url",
        set: |c, v| {
            c.auth.clerk.api_url = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_OIDC_ISSUER",
        key: "auth.oidc.issuer",
        set: |c, v| {
            c.auth.oidc.issuer = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_AUTH_PROXY",
        key: "auth.proxy (true/false)",
        set: |c, v| {
            c.auth.proxy = flag(&v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_OAUTH_CLIENT_ID",
        key: "auth.upstream.client_id",
        set: |c, v| {
            c.auth.upstream.client_id = Some(v);
            Ok(())
        },
    },
    EnvVar {
        name: "CLERK_OAUTH_CLIENT_SECRET",
        key: "auth.upstream.client_secret",
        set: |c, v| {
            c.auth.upstream.client_secret = Secret::from(v);
            Ok(())
        },
    },
    EnvVar {
        name: "TOOLHOST_PROXY_SECRET",
        key: "auth.issue.secret",
        set: |c, v| {
            c.auth.issue.secret = Secret::from(v);
            Ok(())
        },
    },
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
    /// process's environment variables. Flags go on top of the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// Apply the variables of [`ENV_VARS`] that `lookup` finds set (and not
    /// empty).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for var in ENV_VARS {
            let Some(value) = lookup(var.name).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            (var.set)(self, value).map_err(|reason| ConfigError::Invalid {
                key: format!("{} ({})", var.name, var.key),
                reason,
            })?;
        }
        Ok(())
    }
}
