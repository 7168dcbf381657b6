//! The persistence layer: everything the host keeps on disk.
//!
//! Three stores, each a trait a backend implements and a SQLite backend
//! (opened the one way `storage::db` describes: private files, WAL, durability,
//! versioned migrations):
//! - the tool data behind the key/value capability ([`Backend`], served
//!   through [`Store`]; SQLite in `toolhost.db`, PostgreSQL for a fleet
//!   ([`PostgresStore`]), or memory);
//! - the OAuth proxy's state ([`oauth::OAuthStore`], in `oauth.db`);
//! - the audit trail ([`audit::AuditStore`], in `audit.db`).
//!
//! The traits are blocking. Code on a blocking thread (a tool call, the
//! audit writer) calls them directly; async code goes through
//! [`run_blocking`], so no handler holds up an async worker thread (debug
//! builds check every access).
//!
//! Every key/value operation names a [`Scope`]: the bucket a tool asked for
//! and the subject of the verified caller. The runtime builds the scope from
//! the call's principal, so no tool can name another user's data. Backends
//! only store and scan; the limits on names, keys and values are checked
//! here, once, for every backend.

pub mod audit;
pub(crate) mod db;
mod memory;
pub mod oauth;
pub mod oauth_sqlite;
mod postgres;
mod sqlite;

pub(crate) use db::create_private_dir;
pub use db::{SyncMode, blocking_section, run_blocking};
pub use memory::MemoryStore;
pub(crate) use postgres::connection_config as postgres_config;
pub use postgres::{Postgres, PostgresAuditStore, PostgresSettings, PostgresStore};
pub use sqlite::SqliteStore;

/// Longest bucket name, in bytes.
pub const MAX_BUCKET_LEN: usize = 64;
/// Longest key (and scan prefix), in bytes.
pub const MAX_KEY_LEN: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1 << 20;
/// Most entries one scan may return.
pub const MAX_SCAN_LIMIT: u32 = 1000;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The request broke a limit or a naming rule; the tool's fault.
    #[error("{0}")]
    Invalid(String),
    /// The backend failed; the host's fault.
    #[error("storage backend failed: {0}")]
    Backend(String),
    /// The backend cannot be reached right now (a database server down or
    /// not answering in time); the same request may succeed later.
    #[error("storage unavailable, retry shortly: {0}")]
    Unavailable(String),
    /// The data directory could not be opened.
    #[error("cannot open storage at {path}: {reason}")]
    Open {
        /// The path that failed.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Whose data, and which bucket of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The bucket name a tool asked for (validated).
    pub bucket: String,
    /// The verified caller's subject.
    pub subject: String,
}

impl Scope {
    /// A scope for `bucket` of `subject`, after checking the bucket name:
    /// 1 to 64 bytes of `a-z`, `0-9`, `_`, `-`, `.`.
    pub fn new(bucket: &str, subject: &str) -> Result<Self, StorageError> {
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c);
        if bucket.is_empty() || bucket.len() > MAX_BUCKET_LEN || !bucket.chars().all(valid_char) {
            return Err(StorageError::Invalid(format!(
                "bucket name {bucket:?} must be 1 to {MAX_BUCKET_LEN} characters of a-z, 0-9, '_', '-', '.'"
            )));
        }
        if subject.is_empty() {
            return Err(StorageError::Invalid("the caller has no subject".into()));
        }
        Ok(Scope {
            bucket: bucket.to_owned(),
            subject: subject.to_owned(),
        })
    }
}

/// An ordered scan over the keys of one scope that start with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Exclusive lower bound (ascending) or upper bound (descending).
    pub start_after: Option<String>,
    /// Most entries to return, 1 to [`MAX_SCAN_LIMIT`].
    pub limit: u32,
    /// Descending key order.
    pub reverse: bool,
}

/// The keys a [`ScanRequest`] covers, as byte bounds: its prefix's range,
/// narrowed by the cursor (a cursor outside the range clamps to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    /// The smallest key, or the cursor to start after.
    pub lower: Vec<u8>,
    /// Whether `lower` itself is in range (false: it is the cursor).
    pub lower_inclusive: bool,
    /// Every key is below this (exclusive); `None`: no upper bound.
    pub upper: Option<Vec<u8>>,
}

impl ScanRequest {
    /// The byte range this scan covers, for a backend's range query.
    pub(crate) fn key_range(&self) -> KeyRange {
        let prefix = self.prefix.as_bytes();
        let mut range = KeyRange {
            lower: prefix.to_vec(),
            lower_inclusive: true,
            upper: prefix_upper_bound(prefix),
        };
        if let Some(after) = &self.start_after {
            let after = after.as_bytes().to_vec();
            if self.reverse {
                if range.upper.as_ref().is_none_or(|u| after < *u) {
                    range.upper = Some(after);
                }
            } else if after >= range.lower {
                range.lower = after;
                range.lower_inclusive = false;
            }
        }
        range
    }
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
}

/// A storage backend. Implementations must make a `put` or `delete` durable
/// before returning: the runtime acknowledges a call only after its writes
/// returned. Keys order as bytes.
pub trait Backend: Send + Sync + 'static {
    /// The value under `key`.
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Store `value` under `key`.
    fn put(&self, scope: &Scope, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Remove `key`; true if it existed.
    fn delete(&self, scope: &Scope, key: &str) -> Result<bool, StorageError>;
    /// One page of an ordered prefix scan.
    fn scan(&self, scope: &Scope, request: &ScanRequest) -> Result<Vec<Entry>, StorageError>;
}

/// The store the runtime hands to tools: limits checked here, then the backend.
#[derive(Clone)]
pub struct Store {
    backend: std::sync::Arc<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A store over `backend`.
    pub fn new(backend: impl Backend) -> Self {
        Store {
            backend: std::sync::Arc::new(backend),
        }
    }

    /// An in-memory store, for tests and one-off runs.
    pub fn in_memory() -> Self {
        Store::new(MemoryStore::default())
    }

    /// The value under `key`.
    pub fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_key("key", key)?;
        self.backend.get(scope, key)
    }

    /// Store `value` under `key`; durable when this returns.
    pub fn put(&self, scope: &Scope, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check_key("key", key)?;
        if value.len() > MAX_VALUE_LEN {
            return Err(StorageError::Invalid(format!(
                "value of {} bytes is over the limit of {MAX_VALUE_LEN} bytes",
                value.len()
            )));
        }
        self.backend.put(scope, key, value)
    }

    /// Remove `key`; true if it existed.
    pub fn delete(&self, scope: &Scope, key: &str) -> Result<bool, StorageError> {
        check_key("key", key)?;
        self.backend.delete(scope, key)
    }

    /// One page of an ordered prefix scan.
    pub fn scan(&self, scope: &Scope, request: &ScanRequest) -> Result<Vec<Entry>, StorageError> {
        if request.prefix.len() > MAX_KEY_LEN {
            return Err(StorageError::Invalid(format!(
                "scan prefix is {} bytes, over the limit of {MAX_KEY_LEN}",
                request.prefix.len()
            )));
        }
        if let Some(after) = &request.start_after {
            check_key("start-after", after)?;
        }
        if request.limit == 0 || request.limit > MAX_SCAN_LIMIT {
            return Err(StorageError::Invalid(format!(
                "scan limit {} must be between 1 and {MAX_SCAN_LIMIT}",
                request.limit
            )));
        }
        self.backend.scan(scope, request)
    }
}

fn check_key(what: &str, key: &str) -> Result<(), StorageError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(StorageError::Invalid(format!(
            "{what} must be 1 to {MAX_KEY_LEN} bytes, got {}",
            key.len()
        )));
    }
    Ok(())
}

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` when there is none (empty prefix, or all `0xff`).
pub(crate) fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < 0xff {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod conformance;
