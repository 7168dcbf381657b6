//! One way to open a SQLite database: file modes, pragmas, durability,
//! versioned migrations, and the rule that no call runs on an async worker.
//!
//! The tool store (`toolhost.db`), the OAuth proxy's state (`oauth.db`) and
//! the audit trail (`audit.db`) all open through [`Database::open`]:
//! - the data directory is created with mode 0700 and every database file
//!   with 0600 (SQLite gives its `-wal` and `-shm` files the same mode), so
//!   other local users can read none of it; files an older version created
//!   more openly are tightened;
//! - WAL journal, a busy timeout, and `synchronous` from [`Durability`];
//! - the schema is a list of migrations applied in order and counted in
//!   `PRAGMA user_version`, each in its own transaction;
//! - one writer connection (SQLite admits one writer at a time) and a few
//!   readers, so reads do not queue behind writes.
//!
//! Every SQLite call blocks on the disk. Async code reaches a database only
//! through [`run_blocking`] (the blocking thread pool); code already on a
//! blocking thread (a tool call, the audit writer) calls it directly. Debug
//! builds check this on every access and panic on a call from an async
//! worker thread, so the test suite finds any that slip in.

use super::StorageError;
use rusqlite::{Connection, OpenFlags};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How hard SQLite works to keep a committed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SyncMode {
    /// fsync on every commit: an acknowledged write survives a power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: an acknowledged write survives a crash or
    /// `kill -9` of the host, but the last commits may be lost on power loss.
    Normal,
}

/// Readers kept open beside the one writer.
const READERS: usize = 4;
/// How long a connection waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open database: one writer, a few pooled readers.
pub(crate) struct Database {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_error(path: &Path, reason: impl std::fmt::Display) -> StorageError {
    StorageError::Open {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn backend(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

/// Create `dir` (and its parents) if missing; the directory itself gets
/// mode 0700 when this creates it.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StorageError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| open_error(dir, e))
}

/// Make `path` exist with mode 0600, or tighten it to 0600.
fn private_file(path: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        let mode = file
            .metadata()
            .map_err(|e| open_error(path, e))?
            .permissions();
        if mode.mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| open_error(path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Database {
    /// Open (creating) the database at `path`: private file, WAL, `sync`,
    /// then every migration not yet applied.
    pub(crate) fn open(
        path: &Path,
        sync: SyncMode,
        migrations: &[&str],
    ) -> Result<Database, StorageError> {
        assert_may_block();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        private_file(path)?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", path.display()));
            if side.exists() {
                private_file(&side)?;
            }
        }
        let mut writer = Connection::open(path).map_err(|e| open_error(path, e))?;
        writer
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_error(path, e))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_error(path, e))?;
        let sync = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        writer
            .pragma_update(None, "synchronous", sync)
            .map_err(|e| open_error(path, e))?;
        migrate(&mut writer, migrations).map_err(|e| open_error(path, e))?;
        Ok(Database {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::with_capacity(READERS)),
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the writer connection.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        assert_may_block();
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(backend)
    }

    /// Run `f` on a reader connection (opened on first need, then pooled).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StorageError> {
        assert_may_block();
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                c.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
                c
            }
        };
        let result = f(&conn).map_err(backend);
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if readers.len() < READERS {
            readers.push(conn);
        }
        result
    }
}

/// Apply the migrations after the one `user_version` counts, each in a
/// transaction with the version bump. The first migration of every
/// database creates with `IF NOT EXISTS`, so files made before versioning
/// (at version 0 with their tables) pass through it unchanged.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > migrations.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database is at schema version {applied}, newer than this toolhost knows ({}); \
             run a newer toolhost",
            migrations.len()
        )));
    }
    for (index, sql) in migrations.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

thread_local! {
    /// Set while this thread runs work handed to [`run_blocking`] (or
    /// entered with [`blocking_section`]).
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`, marking this thread as one that may block. For threads that
/// belong to the blocking pool already (`spawn_blocking`), so that their
/// storage calls pass the debug check.
pub fn blocking_section<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MAY_BLOCK.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(MAY_BLOCK.with(|m| m.replace(true)));
    f()
}

/// Run blocking storage work `f` on the blocking thread pool and wait for it
/// without holding up an async worker. A panic in `f` becomes a backend
/// error.
pub async fn run_blocking<T, F>(f: F) -> Result<T, StorageError>
where
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || blocking_section(f))
        .await
        .unwrap_or_else(|e| Err(StorageError::Backend(format!("a storage task failed: {e}"))))
}

/// Panics (in debug builds) when called on an async worker thread: inside a
/// Tokio runtime but outside [`run_blocking`] or [`blocking_section`].
/// Threads outside any runtime (the audit writer, the command line) may block.
#[inline]
pub(crate) fn assert_may_block() {
    #[cfg(debug_assertions)]
    if tokio::runtime::Handle::try_current().is_ok() && !MAY_BLOCK.with(Cell::get) {
        panic!(
            "a blocking storage call on an async worker thread: wrap it in storage::run_blocking"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT);";
    const V2: &str = "ALTER TABLE t ADD COLUMN extra TEXT;";

    #[test]
    fn migrations_run_once_in_order_and_a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let db = Database::open(&path, SyncMode::Normal, &[V1]).unwrap();
        db.write(|c| c.execute("INSERT INTO t (k, v) VALUES ('a', '1')", []))
            .unwrap();
        drop(db);
        let db = Database::open(&path, SyncMode::Normal, &[V1, V2]).unwrap();
        let version: i64 = db
            .read(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(version, 2);
        db.write(|c| c.execute("UPDATE t SET extra = 'x' WHERE k = 'a'", []))
            .unwrap();
        drop(db);
        let e = Database::open(&path, SyncMode::Normal, &[V1]).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_old_open_files_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = data.join("x.db");
        let db = Database::open(&path, SyncMode::Full, &[V1]).unwrap();
        db.write(|c| c.execute("INSERT INTO t (k, v) VALUES ('a', '1')", []))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&data.join("x.db-wal")), 0o600);
        drop(db);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Database::open(&path, SyncMode::Full, &[V1]).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_call_on_an_async_worker_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let db = std::sync::Arc::new(Database::open(&path, SyncMode::Normal, &[V1]).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inline = {
            let db = db.clone();
            runtime.block_on(async move {
                tokio::spawn(async move {
                    db.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
                })
                .await
            })
        };
        assert!(inline.is_err(), "the worker thread panicked");
        let offloaded = runtime.block_on(run_blocking(move || {
            db.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
        }));
        assert_eq!(offloaded.unwrap(), 1);
    }
}
