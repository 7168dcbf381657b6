//! The default backend: SQLite in the data directory (see [`super::db`]).

use super::db::{Database, SyncMode};
use super::{Backend, Entry, KeyRange, ScanRequest, Scope, StorageError};
use rusqlite::{OptionalExtension, params};
use std::path::Path;

/// The tool store's schema, one migration at a time.
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS kv (
    bucket  TEXT NOT NULL,
    subject TEXT NOT NULL,
    key     BLOB NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (bucket, subject, key)
) WITHOUT ROWID;
"];

/// The tool store's file in the data directory.
pub const DB_FILE: &str = "toolhost.db";

/// SQLite storage: one writer, pooled readers, so scans do not queue behind
/// writes. Blocking: call it from a blocking thread.
#[derive(Debug)]
pub struct SqliteStore {
    db: Database,
}

impl SqliteStore {
    /// Open (creating if needed) `toolhost.db` in the directory `dir`.
    pub fn open_dir(dir: &Path, sync: SyncMode) -> Result<Self, StorageError> {
        Self::open(&dir.join(DB_FILE), sync)
    }

    /// Open (creating if needed) the database file at `path`.
    pub fn open(path: &Path, sync: SyncMode) -> Result<Self, StorageError> {
        Ok(SqliteStore {
            db: Database::open(path, sync, MIGRATIONS)?,
        })
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        self.db.read(f)
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        self.db.write(|c| f(c))
    }
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
        let KeyRange {
            lower,
            lower_inclusive,
            upper,
        } = request.key_range();
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
