//! The audit trail: every tools/call decision, appended to durable storage.
//!
//! Who called which tool and version, whether the call was allowed (and why
//! not), how it ended and how long it took. Never the arguments or a token,
//! unless the operator opts in to arguments (`audit.include_arguments`).
//!
//! Records go to `audit.db` (SQLite, WAL) in the data directory, written by
//! one thread that gathers records for 5 ms and commits them in one
//! transaction, so the call path never waits for the disk. A record is
//! committed within about 5 ms of the decision; a `kill -9` can lose only
//! what was gathered and not yet committed. `toolhost audit` reads the trail.

use crate::storage::StorageError;
use rusqlite::{Connection, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// `allowed`, `denied` (roles) or `rejected` (unknown tool, rate or
    /// concurrency limit).
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

impl AuditRecord {
    /// Milliseconds since the Unix epoch, now.
    pub fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
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

const SCHEMA: &str = "
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
";

enum Message {
    Record(Box<AuditRecord>),
    Flush(Sender<()>),
}

/// The writer side of the audit trail. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    queue: Mutex<Sender<Message>>,
}

fn open_err(path: &Path) -> impl Fn(rusqlite::Error) -> StorageError + '_ {
    move |e| StorageError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn connect(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path).map_err(open_err(path))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_err(path))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err(path))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err(path))?;
    conn.execute_batch(SCHEMA).map_err(open_err(path))?;
    Ok(conn)
}

impl AuditLog {
    /// The audit file of a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("audit.db")
    }

    /// Open (creating) the trail at `path`, drop records older than
    /// `retention_days` (0 keeps everything), and start its writer thread.
    pub fn open(path: &Path, retention_days: u32) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let conn = connect(path)?;
        if retention_days > 0 {
            let cutoff = AuditRecord::now_ms() - i64::from(retention_days) * 86_400_000;
            conn.execute("DELETE FROM audit WHERE at_ms < ?1", params![cutoff])
                .map_err(open_err(path))?;
        }
        let (tx, rx) = channel();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("toolhost-audit".into())
            .spawn(move || write_loop(conn, rx, &thread_path))
            .map_err(|e| StorageError::Open {
                path: path.display().to_string(),
                reason: format!("cannot start the audit writer: {e}"),
            })?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            queue: Mutex::new(tx),
        })
    }

    /// The file the trail is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queue `record`; never blocks on the disk.
    pub fn record(&self, record: AuditRecord) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.send(Message::Record(Box::new(record))).is_err() {
            tracing::error!("the audit writer has stopped; a record was not written");
        }
    }

    /// Wait (at most `timeout`) until everything queued so far is committed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = channel();
        let sent = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Message::Flush(tx))
            .is_ok();
        sent && rx.recv_timeout(timeout).is_ok()
    }
}

/// Most records committed in one transaction.
const BATCH: usize = 1024;
/// How long the writer gathers records before it commits them: one commit
/// per window instead of one per call (a commit costs more than a record).
const WINDOW: Duration = Duration::from_millis(5);

fn write_loop(mut conn: Connection, rx: Receiver<Message>, path: &Path) {
    while let Ok(first) = rx.recv() {
        // Sleep rather than wait on the channel: senders then wake nobody,
        // and the window costs one wake-up, not one per record.
        if !matches!(first, Message::Flush(_)) {
            std::thread::sleep(WINDOW);
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut waiting = Vec::new();
        let written = (|| -> rusqlite::Result<usize> {
            let tx = conn.transaction()?;
            let mut n = 0;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO audit (at_ms, request_id, subject, client_id, tool, version, \
                     decision, reason, outcome, duration_us, arguments) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for message in batch {
                    match message {
                        Message::Record(r) => {
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
                            n += 1;
                        }
                        Message::Flush(done) => waiting.push(done),
                    }
                }
            }
            tx.commit()?;
            Ok(n)
        })();
        if let Err(e) = written {
            tracing::error!(path = %path.display(), error = %e, "audit records could not be written");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// Read the trail at `path`, newest first.
pub fn query(path: &Path, q: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
    if !path.exists() {
        return Err(StorageError::Open {
            path: path.display().to_string(),
            reason: "no audit trail here (has a server run with this data directory?)".into(),
        });
    }
    let conn = connect(path)?;
    let mut sql = String::from(
        "SELECT at_ms, request_id, subject, client_id, tool, version, decision, reason, outcome, \
         duration_us, arguments FROM audit WHERE 1 = 1",
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
    let backend = |e: rusqlite::Error| StorageError::Backend(e.to_string());
    let mut statement = conn.prepare(&sql).map_err(backend)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(args), |row| {
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
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: &str, tool: &str, decision: &str, at_ms: i64) -> AuditRecord {
        AuditRecord {
            at_ms,
            request_id: format!("r-{at_ms}"),
            subject: subject.into(),
            client_id: None,
            tool: tool.into(),
            version: Some("abc".into()),
            decision: decision.into(),
            reason: (decision != "allowed").then(|| "needs role member".into()),
            outcome: "ok".into(),
            duration_us: 42,
            arguments: None,
        }
    }

    #[test]
    fn records_are_committed_and_filtered_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = AuditLog::path_in(dir.path());
        let log = AuditLog::open(&path, 90).unwrap();
        let now = AuditRecord::now_ms();
        log.record(record("alice", "notes_list", "allowed", now - 3000));
        log.record(record("bob", "notes_create", "denied", now - 2000));
        log.record(record("alice", "notes_create", "allowed", now - 1000));
        assert!(log.flush(Duration::from_secs(5)));
        let all = |q: AuditQuery| query(&path, &AuditQuery { limit: 100, ..q }).unwrap();
        let every = all(AuditQuery::default());
        assert_eq!(every.len(), 3);
        assert_eq!(every[0].tool, "notes_create", "newest first");
        assert_eq!(every[0].subject, "alice");
        let alice = all(AuditQuery {
            subject: Some("alice".into()),
            ..Default::default()
        });
        assert_eq!(alice.len(), 2);
        let denied = all(AuditQuery {
            decision: Some("denied".into()),
            ..Default::default()
        });
        assert_eq!(
            denied,
            vec![record("bob", "notes_create", "denied", now - 2000)]
        );
        let recent = all(AuditQuery {
            since_ms: Some(now - 1500),
            ..Default::default()
        });
        assert_eq!(recent.len(), 1);
        let tool = all(AuditQuery {
            tool: Some("notes_list".into()),
            ..Default::default()
        });
        assert_eq!(tool.len(), 1);
    }

    #[test]
    fn old_records_are_dropped_at_open_and_reading_nothing_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = AuditLog::path_in(dir.path());
        let missing = query(&path, &AuditQuery::default()).unwrap_err();
        assert!(missing.to_string().contains("no audit trail"), "{missing}");
        let log = AuditLog::open(&path, 0).unwrap();
        log.record(record(
            "alice",
            "t",
            "allowed",
            AuditRecord::now_ms() - 40 * 86_400_000,
        ));
        log.record(record("alice", "t", "allowed", AuditRecord::now_ms()));
        assert!(log.flush(Duration::from_secs(5)));
        drop(log);
        AuditLog::open(&path, 30).unwrap();
        let left = query(
            &path,
            &AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(left.len(), 1, "the 40-day-old record is gone");
    }
}
