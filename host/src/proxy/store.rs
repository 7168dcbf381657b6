//! The proxy's durable state, in `oauth.db` (SQLite, WAL) in the data
//! directory: registered clients, pending authorizations, authorization
//! codes, grants with their refresh and access tokens, and revocations.
//!
//! Codes and tokens are stored as their SHA-256 only. The one upstream
//! secret kept, a grant's upstream refresh token, and the PKCE verifiers of
//! pending authorizations are sealed (AES-256-GCM) before they get here.
//! Expired rows are swept at start and then at most once a minute.

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The database file in the data directory.
pub const DB_FILE: &str = "oauth.db";

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A registered client.
#[derive(Debug, Clone)]
pub(crate) struct ClientRow {
    /// Its registration metadata (RFC 7591), as returned to it.
    pub metadata: serde_json::Value,
    /// SHA-256 of its secret, for confidential clients.
    pub secret_hash: Option<String>,
}

/// An authorization code, as issued.
#[derive(Debug, Clone)]
pub(crate) struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    /// The client's authorization request (JSON).
    pub request: String,
    /// The principal the upstream token described (JSON).
    pub principal: String,
    /// The sealed upstream refresh token, if there is one.
    pub upstream: Option<String>,
    pub expires: u64,
}

/// A grant: what a client may refresh.
#[derive(Debug, Clone)]
pub(crate) struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub principal: String,
    pub scope: String,
    pub upstream: Option<String>,
    pub expires: u64,
}

/// What a presented refresh token turned out to be.
#[derive(Debug)]
pub(crate) enum RefreshLookup {
    /// Unknown or expired.
    Unknown,
    /// Already used: a replay; its grant has been revoked.
    Replayed,
    /// Live, and now spent.
    Live(GrantRow),
}

/// What a presented authorization code turned out to be.
#[derive(Debug)]
pub(crate) enum CodeLookup {
    Unknown,
    Expired,
    /// Already used: what its first use issued has been revoked.
    Replayed,
    Live(CodeRow),
}

/// The proxy's storage.
pub(crate) struct ProxyStore {
    conn: Mutex<Connection>,
    /// SHA-256 of revoked access tokens that have not expired yet.
    revoked: Mutex<HashSet<[u8; 32]>>,
    last_sweep: Mutex<Instant>,
    /// How long a used code is kept to recognize a replay.
    keep_used_codes: u64,
}

type Sql<T> = Result<T, String>;

fn sql<T>(r: rusqlite::Result<T>) -> Sql<T> {
    r.map_err(|e| format!("OAuth state storage: {e}"))
}

impl ProxyStore {
    /// The database in `data_dir`, created if need be.
    pub(crate) fn open(data_dir: &Path, keep_used_codes: u64) -> Sql<ProxyStore> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let path: PathBuf = data_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        sql(conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS clients (
                 client_id TEXT PRIMARY KEY, metadata TEXT NOT NULL,
                 secret_hash TEXT, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS pending (
                 id TEXT PRIMARY KEY, request TEXT NOT NULL,
                 verifier TEXT NOT NULL, expires INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS codes (
                 hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
                 request TEXT NOT NULL, principal TEXT NOT NULL, upstream TEXT,
                 used INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS grants (
                 id TEXT PRIMARY KEY, client_id TEXT NOT NULL, principal TEXT NOT NULL,
                 scope TEXT NOT NULL, upstream TEXT, expires INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS refresh_tokens (
                 hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL,
                 used INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS access_tokens (
                 hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL,
                 revoked INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS access_by_grant ON access_tokens (grant_id);
             CREATE INDEX IF NOT EXISTS refresh_by_grant ON refresh_tokens (grant_id);",
        ))?;
        let store = ProxyStore {
            conn: Mutex::new(conn),
            revoked: Mutex::new(HashSet::new()),
            last_sweep: Mutex::new(Instant::now()),
            keep_used_codes,
        };
        store.sweep()?;
        let hashes: Vec<String> = {
            let conn = store.conn();
            let mut stmt =
                sql(conn
                    .prepare("SELECT hash FROM access_tokens WHERE revoked = 1 AND expires > ?1"))?;
            let rows = sql(stmt.query_map([now() as i64], |r| r.get(0)))?;
            sql(rows.collect::<rusqlite::Result<_>>())?
        };
        store.remember_revoked(&hashes);
        Ok(store)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember_revoked(&self, hashes: &[String]) {
        let mut revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        for h in hashes {
            if let Ok(bytes) = hex::decode(h)
                && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
            {
                revoked.insert(key);
            }
        }
    }

    /// Whether the access token with this SHA-256 was revoked.
    pub(crate) fn is_revoked(&self, key: &[u8; 32]) -> bool {
        self.revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    /// Delete what has expired (at most once a minute unless at start).
    pub(crate) fn sweep_if_due(&self) {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < Duration::from_secs(60) {
            return;
        }
        *last = Instant::now();
        drop(last);
        if let Err(e) = self.sweep() {
            tracing::warn!(error = %e, "sweeping expired OAuth state failed");
        }
    }

    fn sweep(&self) -> Sql<()> {
        let t = now() as i64;
        let conn = self.conn();
        sql(conn.execute("DELETE FROM pending WHERE expires <= ?1", [t]))?;
        sql(conn.execute(
            "DELETE FROM codes WHERE expires + ?2 <= ?1",
            params![t, self.keep_used_codes as i64],
        ))?;
        sql(conn.execute("DELETE FROM grants WHERE expires <= ?1", [t]))?;
        sql(conn.execute("DELETE FROM refresh_tokens WHERE expires <= ?1", [t]))?;
        sql(conn.execute("DELETE FROM access_tokens WHERE expires <= ?1", [t]))?;
        // Revoked tokens past their expiry fail verification anyway.
        Ok(())
    }

    /// Store a registered client.
    pub(crate) fn put_client(
        &self,
        client_id: &str,
        metadata: &serde_json::Value,
        secret_hash: Option<&str>,
    ) -> Sql<()> {
        sql(self.conn().execute(
            "INSERT INTO clients (client_id, metadata, secret_hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![client_id, metadata.to_string(), secret_hash, now() as i64],
        ))
        .map(drop)
    }

    /// A registered client.
    pub(crate) fn client(&self, client_id: &str) -> Sql<Option<ClientRow>> {
        let row: Option<(String, Option<String>)> = sql(self
            .conn()
            .query_row(
                "SELECT metadata, secret_hash FROM clients WHERE client_id = ?1",
                [client_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional())?;
        Ok(row.map(|(metadata, secret_hash)| ClientRow {
            metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            secret_hash,
        }))
    }

    /// Store a pending authorization (the client's request, the sealed
    /// upstream PKCE verifier).
    pub(crate) fn put_pending(
        &self,
        id: &str,
        request: &str,
        verifier: &str,
        expires: u64,
    ) -> Sql<()> {
        self.sweep_if_due();
        sql(self.conn().execute(
            "INSERT INTO pending (id, request, verifier, expires) VALUES (?1, ?2, ?3, ?4)",
            params![id, request, verifier, expires as i64],
        ))
        .map(drop)
    }

    /// Take a pending authorization (it can be completed once).
    pub(crate) fn take_pending(&self, id: &str) -> Sql<Option<(String, String)>> {
        let conn = self.conn();
        let row: Option<(String, String)> = sql(conn
            .query_row(
                "DELETE FROM pending WHERE id = ?1 AND expires > ?2 RETURNING request, verifier",
                params![id, now() as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional())?;
        Ok(row)
    }

    /// Store an authorization code by its hash.
    pub(crate) fn put_code(&self, hash: &str, code: &CodeRow) -> Sql<()> {
        sql(self.conn().execute(
            "INSERT INTO codes (hash, grant_id, client_id, request, principal, upstream, expires)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                hash,
                code.grant_id,
                code.client_id,
                code.request,
                code.principal,
                code.upstream,
                code.expires as i64
            ],
        ))
        .map(drop)
    }

    /// Spend an authorization code. A second use revokes its grant.
    pub(crate) fn use_code(&self, hash: &str) -> Sql<CodeLookup> {
        let row = {
            let conn = self.conn();
            sql(conn
                .query_row(
                    "UPDATE codes SET used = used + 1 WHERE hash = ?1
                     RETURNING grant_id, client_id, request, principal, upstream, expires, used",
                    [hash],
                    |r| {
                        Ok((
                            CodeRow {
                                grant_id: r.get(0)?,
                                client_id: r.get(1)?,
                                request: r.get(2)?,
                                principal: r.get(3)?,
                                upstream: r.get(4)?,
                                expires: r.get::<_, i64>(5)? as u64,
                            },
                            r.get::<_, i64>(6)?,
                        ))
                    },
                )
                .optional())?
        };
        Ok(match row {
            None => CodeLookup::Unknown,
            Some((code, used)) if used > 1 => {
                self.revoke_grant(&code.grant_id)?;
                CodeLookup::Replayed
            }
            Some((code, _)) if code.expires <= now() => CodeLookup::Expired,
            Some((code, _)) => CodeLookup::Live(code),
        })
    }

    /// Store a grant.
    pub(crate) fn put_grant(&self, grant: &GrantRow) -> Sql<()> {
        sql(self.conn().execute(
            "INSERT INTO grants (id, client_id, principal, scope, upstream, expires)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET principal = ?3, scope = ?4, upstream = ?5",
            params![
                grant.id,
                grant.client_id,
                grant.principal,
                grant.scope,
                grant.upstream,
                grant.expires as i64
            ],
        ))
        .map(drop)
    }

    /// Record an issued access token (by hash), so it can be revoked.
    pub(crate) fn put_access_token(&self, hash: &str, grant_id: &str, expires: u64) -> Sql<()> {
        sql(self.conn().execute(
            "INSERT INTO access_tokens (hash, grant_id, expires) VALUES (?1, ?2, ?3)",
            params![hash, grant_id, expires as i64],
        ))
        .map(drop)
    }

    /// Record an issued refresh token (by hash).
    pub(crate) fn put_refresh_token(&self, hash: &str, grant_id: &str, expires: u64) -> Sql<()> {
        sql(self.conn().execute(
            "INSERT INTO refresh_tokens (hash, grant_id, expires) VALUES (?1, ?2, ?3)",
            params![hash, grant_id, expires as i64],
        ))
        .map(drop)
    }

    /// Spend a refresh token. A second use is a replay (the token leaked,
    /// or was stolen): the whole grant is revoked.
    pub(crate) fn use_refresh_token(&self, hash: &str) -> Sql<RefreshLookup> {
        let row: Option<(String, i64)> = {
            let conn = self.conn();
            sql(conn
                .query_row(
                    "UPDATE refresh_tokens SET used = used + 1 WHERE hash = ?1 AND expires > ?2
                     RETURNING grant_id, used",
                    params![hash, now() as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional())?
        };
        let Some((grant_id, used)) = row else {
            return Ok(RefreshLookup::Unknown);
        };
        if used > 1 {
            self.revoke_grant(&grant_id)?;
            return Ok(RefreshLookup::Replayed);
        }
        let grant = sql(self
            .conn()
            .query_row(
                "SELECT id, client_id, principal, scope, upstream, expires FROM grants
                 WHERE id = ?1 AND expires > ?2",
                params![grant_id, now() as i64],
                |r| {
                    Ok(GrantRow {
                        id: r.get(0)?,
                        client_id: r.get(1)?,
                        principal: r.get(2)?,
                        scope: r.get(3)?,
                        upstream: r.get(4)?,
                        expires: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .optional())?;
        Ok(grant.map_or(RefreshLookup::Unknown, RefreshLookup::Live))
    }

    /// End a grant: its refresh tokens stop working and its access tokens
    /// are refused from now on.
    pub(crate) fn revoke_grant(&self, grant_id: &str) -> Sql<()> {
        let hashes: Vec<String> = {
            let mut conn = self.conn();
            let tx = sql(conn.transaction())?;
            sql(tx.execute("DELETE FROM grants WHERE id = ?1", [grant_id]))?;
            sql(tx.execute("DELETE FROM refresh_tokens WHERE grant_id = ?1", [grant_id]))?;
            let hashes = {
                let mut stmt = sql(tx.prepare(
                    "UPDATE access_tokens SET revoked = 1 WHERE grant_id = ?1 RETURNING hash",
                ))?;
                let rows = sql(stmt.query_map([grant_id], |r| r.get(0)))?;
                sql(rows.collect::<rusqlite::Result<Vec<String>>>())?
            };
            sql(tx.commit())?;
            hashes
        };
        self.remember_revoked(&hashes);
        tracing::info!(grant = %grant_id, tokens = hashes.len(), "grant revoked");
        Ok(())
    }
}
