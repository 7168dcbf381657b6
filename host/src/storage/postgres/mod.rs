//! PostgreSQL: the database every replica of a fleet shares
//! (`[storage] backend = "postgres"`), for the tool store ([`PostgresStore`])
//! and the audit trail ([`PostgresAuditStore`]).
//!
//! One way to reach it, [`Postgres`], as `storage::db` is for SQLite:
//! - a pool of connections (tokio-postgres through deadpool) on a small
//!   runtime of its own, so the blocking [`Backend`] calls work from any
//!   blocking thread and the connections outlive no caller's runtime.
//! - Every operation, waiting for a connection included, is bounded by
//!   `statement_timeout_ms` (also set as the server's `statement_timeout`):
//!   a server that is down or stuck gives [`StorageError::Unavailable`] in
//!   that time, never a hang past a tool's deadline. A connection that broke
//!   is dropped from the pool and the next call opens a new one, so the host
//!   recovers without a restart when the server returns.
//! - A write has committed when it returns (PostgreSQL's default
//!   `synchronous_commit`).
//! - The schema is versioned per part in `toolhost_schema`; migrations run
//!   in one transaction under an advisory lock, so replicas starting
//!   together apply each exactly once.

mod audit;
mod kv;

pub use audit::PostgresAuditStore;
pub use kv::PostgresStore;

use super::StorageError;
use super::db::assert_may_block;
use crate::secret::Secret;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use std::future::Future;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

/// How to reach the database, and the bounds on using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// A libpq-style URL, `postgres://user:password@host:port/database`.
    pub url: Secret,
    /// Connections kept open at most.
    pub pool_size: usize,
    /// The longest any one operation may take, waiting for a connection
    /// included.
    pub statement_timeout: Duration,
}

/// The advisory lock migrations hold (any constant the host alone uses).
const MIGRATION_LOCK: i64 = 0x746f_6f6c_686f_7374; // "toolhost"

/// An open PostgreSQL database: a bounded pool on a runtime of its own.
/// Blocking: call it from a blocking thread.
pub struct Postgres {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    timeout: Duration,
    /// `PostgreSQL at host:port/database`, for messages (never the password).
    target: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// What a URL names, for messages: host, port and database, no credentials.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("PostgreSQL at {host}:{port}/{database}")
}

/// Parse `url` into a connection configuration with the host's bounds:
/// connect timeout, `statement_timeout` and an application name.
pub(crate) fn connection_config(
    url: &str,
    timeout: Duration,
) -> Result<tokio_postgres::Config, String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        format!("not a PostgreSQL URL (postgres://user:password@host:port/database): {e}")
    })?;
    if config.get_hosts().is_empty() {
        return Err("the URL names no host".into());
    }
    let statement_timeout = format!("-c statement_timeout={}", timeout.as_millis());
    let options = match config.get_options() {
        Some(theirs) => format!("{theirs} {statement_timeout}"),
        None => statement_timeout,
    };
    config.options(&options).connect_timeout(timeout);
    if config.get_application_name().is_none() {
        config.application_name("toolhost");
    }
    Ok(config)
}

impl Postgres {
    /// Connect to the database `settings` names. Fails, naming the server,
    /// when it cannot be reached.
    pub fn connect(settings: &PostgresSettings) -> Result<std::sync::Arc<Self>, StorageError> {
        assert_may_block();
        let timeout = settings.statement_timeout;
        let config = connection_config(settings.url.expose(), timeout).map_err(|reason| {
            StorageError::Open {
                path: "storage.url".into(),
                reason,
            }
        })?;
        let target = describe(&config);
        let open_error = |reason: String| StorageError::Open {
            path: target.clone(),
            reason,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("toolhost-postgres")
            .enable_all()
            .build()
            .map_err(|e| open_error(format!("cannot start its runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let db = Postgres {
            pool,
            runtime: Some(runtime),
            timeout,
            target,
        };
        db.block(async { db.client().await.map(drop) })
            .map_err(|e| db.open_error(e))?;
        Ok(std::sync::Arc::new(db))
    }

    /// Bring the schema of `part` up to date (see [`Postgres::migrate`]);
    /// errors name the server.
    pub(crate) fn open_part(&self, part: &str, migrations: &[&str]) -> Result<(), StorageError> {
        self.block(self.migrate(part, migrations))
            .map_err(|e| self.open_error(e))
    }

    fn open_error(&self, e: StorageError) -> StorageError {
        StorageError::Open {
            path: self.target.clone(),
            reason: match e {
                StorageError::Invalid(reason) => reason,
                other => other.to_string(),
            },
        }
    }

    /// Run `work` on the pool's runtime, bounded by the operation timeout.
    pub(crate) fn block<T>(
        &self,
        work: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        assert_may_block();
        let Some(runtime) = &self.runtime else {
            return Err(self.unavailable("the store is closed".into()));
        };
        runtime.block_on(async {
            tokio::time::timeout(self.timeout, work)
                .await
                .unwrap_or_else(|_| {
                    Err(self
                        .unavailable(format!("no answer within {} ms", self.timeout.as_millis())))
                })
        })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StorageError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => self.error(e),
            PoolError::Timeout(_) => self.unavailable(format!(
                "no connection within {} ms",
                self.timeout.as_millis()
            )),
            other => self.unavailable(other.to_string()),
        })
    }

    fn unavailable(&self, why: String) -> StorageError {
        StorageError::Unavailable(format!("{}: {why}", self.target))
    }

    /// A server-side error that retrying cannot fix is a backend error;
    /// anything about the connection, the server's state or a timeout is
    /// unavailability.
    pub(crate) fn error(&self, e: tokio_postgres::Error) -> StorageError {
        match e.as_db_error() {
            Some(db) if !transient(db.code().code()) => {
                StorageError::Backend(format!("{}: {}", self.target, db.message()))
            }
            _ => self.unavailable(e.to_string()),
        }
    }

    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StorageError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.error(e))?;
        client
            .query(&statement, params)
            .await
            .map_err(|e| self.error(e))
    }

    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StorageError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.error(e))?;
        client
            .execute(&statement, params)
            .await
            .map_err(|e| self.error(e))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Dropping a runtime may not block inside another one.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// SQLSTATE classes that mean "not now" rather than "never": connection
/// exceptions, insufficient resources, operator intervention (a shutdown, a
/// statement timeout), serialization failures and deadlocks.
fn transient(code: &str) -> bool {
    ["08", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "40001"
        || code == "40P01"
}

impl Postgres {
    /// Apply the migrations of `part` after the version `toolhost_schema`
    /// records, in one transaction under [`MIGRATION_LOCK`]. A database a
    /// newer toolhost migrated further is refused and left alone.
    pub(crate) async fn migrate(
        &self,
        part: &str,
        migrations: &[&str],
    ) -> Result<(), StorageError> {
        let mut client = self.client().await?;
        let e = |e| self.error(e);
        let tx = client.transaction().await.map_err(e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(e)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS toolhost_schema (
                 part    text PRIMARY KEY,
                 version integer NOT NULL
             )",
        )
        .await
        .map_err(e)?;
        let applied: i32 = tx
            .query_opt(
                "SELECT version FROM toolhost_schema WHERE part = $1",
                &[&part],
            )
            .await
            .map_err(e)?
            .map_or(0, |row| row.get(0));
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > migrations.len() {
            return Err(StorageError::Invalid(format!(
                "its {part} schema is at version {applied}, newer than this toolhost knows ({}); \
                 run a newer toolhost",
                migrations.len()
            )));
        }
        for sql in migrations.iter().skip(applied) {
            tx.batch_execute(sql).await.map_err(e)?;
        }
        let version = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO toolhost_schema (part, version) VALUES ($1, $2)
             ON CONFLICT (part) DO UPDATE SET version = EXCLUDED.version",
            &[&part, &version],
        )
        .await
        .map_err(e)?;
        tx.commit().await.map_err(e)
    }
}
