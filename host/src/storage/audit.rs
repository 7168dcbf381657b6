//! Where the audit trail is kept: every tools/call decision, appended.
//!
//! [`AuditStore`] is what a backend implements (SQLite here, in
//! `audit.db`); the call pipeline queues records and a writer appends them
//! in batches (see `crate::dispatch::audit`).

use super::StorageError;
use super::db::{Database, SyncMode};
use rusqlite::params;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One tools/call decision and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When the decision was made, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The host's id of the call.
    pub request_id: String,
    /// The caller's subject.
    pub subject: String,
    /// The OAuth client the caller used, when known.
    pub client_id: Option<String>,
    /// The tool named in the request.
    pub tool: String,
    /// The serving version (short content hash, or `native`), if the tool exists.
    pub version: Option<String>,
    /// `allowed`, `denied` (roles or scopes) or `rejected` (unknown tool,
    /// rate or concurrency limit).
    pub decision: String,
    /// Why it was denied or rejected.
    pub reason: Option<String>,
    /// How the call ended: `ok`, `tool_error`, `invalid_arguments`,
    /// `timeout`, `memory_limit`, `trap`, `invalid_output`, `instantiate`,
    /// or the decision's reason when it did not run.
    pub outcome: String,
    /// Time from admission to result, microseconds (0 if it did not run).
    pub duration_us: u64,
    /// The arguments as JSON, only with `audit.include_arguments`.
    pub arguments: Option<String>,
}

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this subject.
    pub subject: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only records at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only this decision (`allowed`, `denied`, `rejected`).
    pub decision: Option<String>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// A durable home for audit records. Blocking: call it from a blocking
/// thread (the audit writer is one).
pub trait AuditStore: Send + Sync + 'static {
    /// Append `records` in one transaction: all or none.
    fn append(&self, records: &[AuditRecord]) -> Result<(), StorageError>;
    /// Records matching `query`, newest first.
    fn query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError>;
    /// Drop records older than `before_ms`; how many went.
    fn prune(&self, before_ms: i64) -> Result<usize, StorageError>;
}

const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    request_id  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    client_id   TEXT,
    tool        TEXT NOT NULL,
    version     TEXT,
    decision    TEXT NOT NULL,
    reason      TEXT,
    outcome     TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    arguments   TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at_ms);
CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject, at_ms);
CREATE INDEX IF NOT EXISTS audit_tool ON audit (tool, at_ms);
"];

/// The audit trail in SQLite (`synchronous = NORMAL`: a record survives a
/// crash of the host; the writer commits every few milliseconds).
#[derive(Debug)]
pub struct SqliteAuditStore {
    db: Database,
}

impl SqliteAuditStore {
    /// The audit file of a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("audit.db")
    }

    /// Open (creating) the trail at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Ok(SqliteAuditStore {
            db: Database::open(path, SyncMode::Normal, MIGRATIONS)?,
        })
    }

    /// Open the trail at `path` to read it; fails, saying so, when there is
    /// none (no server has run with that data directory).
    pub fn open_existing(path: &Path) -> Result<Self, StorageError> {
        if !path.exists() {
            return Err(StorageError::Open {
                path: path.display().to_string(),
                reason: "no audit trail here (has a server run with this data directory?)".into(),
            });
        }
        Self::open(path)
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        self.db.path()
    }
}

impl AuditStore for SqliteAuditStore {
    fn append(&self, records: &[AuditRecord]) -> Result<(), StorageError> {
        self.db.write(|conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO audit (at_ms, request_id, subject, client_id, tool, version, \
                     decision, reason, outcome, duration_us, arguments) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for r in records {
                    insert.execute(params![
                        r.at_ms,
                        r.request_id,
                        r.subject,
                        r.client_id,
                        r.tool,
                        r.version,
                        r.decision,
                        r.reason,
                        r.outcome,
                        r.duration_us as i64,
                        r.arguments,
                    ])?;
                }
            }
            tx.commit()
        })
    }

    fn query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
        let mut sql = String::from(
            "SELECT at_ms, request_id, subject, client_id, tool, version, decision, reason, \
             outcome, duration_us, arguments FROM audit WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(subject) = &q.subject {
            sql.push_str(" AND subject = ?");
            args.push(subject.clone().into());
        }
        if let Some(tool) = &q.tool {
            sql.push_str(" AND tool = ?");
            args.push(tool.clone().into());
        }
        if let Some(decision) = &q.decision {
            sql.push_str(" AND decision = ?");
            args.push(decision.clone().into());
        }
        if let Some(since) = q.since_ms {
            sql.push_str(" AND at_ms >= ?");
            args.push(since.into());
        }
        sql.push_str(" ORDER BY at_ms DESC, id DESC LIMIT ?");
        args.push(i64::from(q.limit.max(1)).into());
        self.db.read(|conn| {
            let mut statement = conn.prepare(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(args), |row| {
                Ok(AuditRecord {
                    at_ms: row.get(0)?,
                    request_id: row.get(1)?,
                    subject: row.get(2)?,
                    client_id: row.get(3)?,
                    tool: row.get(4)?,
                    version: row.get(5)?,
                    decision: row.get(6)?,
                    reason: row.get(7)?,
                    outcome: row.get(8)?,
                    duration_us: row.get::<_, i64>(9)? as u64,
                    arguments: row.get(10)?,
                })
            })?;
            rows.collect()
        })
    }

    fn prune(&self, before_ms: i64) -> Result<usize, StorageError> {
        self.db
            .write(|conn| conn.execute("DELETE FROM audit WHERE at_ms < ?1", params![before_ms]))
    }
}
