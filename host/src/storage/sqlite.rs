//! The default backend: SQLite in the data directory, WAL mode.

use super::{Backend, Entry, ScanRequest, Scope, StorageError, prefix_upper_bound};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How hard SQLite works to keep a committed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// fsync on every commit: an acknowledged write survives a power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: an acknowledged write survives a crash or
    /// `kill -9` of the host, but the last commits may be lost on power loss.
    Normal,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    bucket  TEXT NOT NULL,
    subject TEXT NOT NULL,
    key     BLOB NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (bucket, subject, key)
) WITHOUT ROWID;
";

/// Readers kept open beside the one writer; WAL lets them read while it writes.
const READERS: usize = 4;

/// SQLite storage. One writer connection (SQLite admits one writer at a time)
/// and a few readers, so scans do not queue behind writes.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn backend(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) `toolhost.db` in the directory `dir`.
    pub fn open_dir(dir: &Path, sync: SyncMode) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Open {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::open(&dir.join("toolhost.db"), sync)
    }

    /// Open (creating if needed) the database file at `path`.
    pub fn open(path: &Path, sync: SyncMode) -> Result<Self, StorageError> {
        let open_err = |e: rusqlite::Error| StorageError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let writer = Connection::open(path).map_err(open_err)?;
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        let sync = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        writer
            .pragma_update(None, "synchronous", sync)
            .map_err(open_err)?;
        writer.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::with_capacity(READERS)),
        })
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
                c
            }
        };
        let result = f(&conn).map_err(backend);
        let mut readers = self.readers.lock().map_err(|_| poisoned())?;
        if readers.len() < READERS {
            readers.push(conn);
        }
        result
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        let conn = self.writer.lock().map_err(|_| poisoned())?;
        f(&conn).map_err(backend)
    }
}

fn poisoned() -> StorageError {
    StorageError::Backend("sqlite connection lock poisoned".into())
}

impl Backend for SqliteStore {
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.with_reader(|c| {
            c.prepare_cached(
                "SELECT value FROM kv WHERE bucket = ?1 AND subject = ?2 AND key = ?3",
            )?
            .query_row(params![scope.bucket, scope.subject, key.as_bytes()], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn put(&self, scope: &Scope, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.with_writer(|c| {
            c.prepare_cached(
                "INSERT INTO kv (bucket, subject, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (bucket, subject, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![scope.bucket, scope.subject, key.as_bytes(), value])
            .map(|_| ())
        })
    }

    fn delete(&self, scope: &Scope, key: &str) -> Result<bool, StorageError> {
        self.with_writer(|c| {
            c.prepare_cached("DELETE FROM kv WHERE bucket = ?1 AND subject = ?2 AND key = ?3")?
                .execute(params![scope.bucket, scope.subject, key.as_bytes()])
                .map(|n| n > 0)
        })
    }

    fn scan(&self, scope: &Scope, request: &ScanRequest) -> Result<Vec<Entry>, StorageError> {
        let prefix = request.prefix.as_bytes();
        let mut lower: Vec<u8> = prefix.to_vec();
        let mut lower_inclusive = true;
        let mut upper: Option<Vec<u8>> = prefix_upper_bound(prefix);
        if let Some(after) = &request.start_after {
            let after = after.as_bytes().to_vec();
            if request.reverse {
                if upper.as_ref().is_none_or(|u| after < *u) {
                    upper = Some(after);
                }
            } else if after >= lower {
                lower = after;
                lower_inclusive = false;
            }
        }
        let sql = format!(
            "SELECT key, value FROM kv WHERE bucket = ?1 AND subject = ?2 AND key {} ?3 {} \
             ORDER BY key {} LIMIT ?5",
            if lower_inclusive { ">=" } else { ">" },
            if upper.is_some() {
                "AND key < ?4"
            } else {
                "AND ?4 IS NULL"
            },
            if request.reverse { "DESC" } else { "ASC" },
        );
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![scope.bucket, scope.subject, lower, upper, request.limit],
                |r| {
                    let key: Vec<u8> = r.get(0)?;
                    Ok(Entry {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        value: r.get(1)?,
                    })
                },
            )?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_backend_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path(), SyncMode::Normal).unwrap();
        super::super::conformance::run_all(&store);
    }

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let scope = Scope::new("notes", "alice").unwrap();
        {
            let store = SqliteStore::open_dir(dir.path(), SyncMode::Full).unwrap();
            store.put(&scope, "k1", b"v1").unwrap();
        }
        let store = SqliteStore::open_dir(dir.path(), SyncMode::Full).unwrap();
        assert_eq!(store.get(&scope, "k1").unwrap(), Some(b"v1".to_vec()));
    }

    #[test]
    fn unopenable_path_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = SqliteStore::open_dir(&file, SyncMode::Full).unwrap_err();
        assert!(err.to_string().contains("plain-file"), "{err}");
    }
}
