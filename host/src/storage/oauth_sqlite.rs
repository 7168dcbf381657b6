//! The OAuth proxy's state in SQLite (`<data_dir>/oauth.db`): the
//! [`OAuthStore`] the proxy uses on one machine.

use super::StorageError;
use super::db::{Database, SyncMode};
use super::oauth::{
    ClientRow, CodeLookup, CodeRow, GrantRow, OAuthStore, PendingRow, RefreshLookup, Revoked, Sweep,
};
use rusqlite::{OptionalExtension, params};
use std::path::{Path, PathBuf};

const MIGRATIONS: &[&str] = &[
    "
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
CREATE INDEX IF NOT EXISTS refresh_by_grant ON refresh_tokens (grant_id);
",
    "
ALTER TABLE access_tokens ADD COLUMN jti TEXT;
",
    "
ALTER TABLE clients ADD COLUMN last_used INTEGER;
CREATE INDEX IF NOT EXISTS clients_by_use ON clients (last_used, created);
CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending (expires);
",
    "
CREATE TABLE IF NOT EXISTS consents (
    subject TEXT NOT NULL, client_id TEXT NOT NULL, granted INTEGER NOT NULL,
    PRIMARY KEY (subject, client_id));
CREATE TABLE IF NOT EXISTS awaiting_consent (
    id TEXT PRIMARY KEY, grant_id TEXT NOT NULL, client_id TEXT NOT NULL,
    request TEXT NOT NULL, principal TEXT NOT NULL, upstream TEXT,
    code_expires INTEGER NOT NULL, expires INTEGER NOT NULL);
",
];

/// The proxy's state in SQLite (`synchronous = FULL`: a code or token is
/// acknowledged to a client only once it survives a power loss).
#[derive(Debug)]
pub struct SqliteOAuthStore {
    db: Database,
}

impl SqliteOAuthStore {
    /// The database file in a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("oauth.db")
    }

    /// Open (creating) `oauth.db` in `data_dir`.
    pub fn open_dir(data_dir: &Path) -> Result<Self, StorageError> {
        Ok(SqliteOAuthStore {
            db: Database::open(&Self::path_in(data_dir), SyncMode::Full, MIGRATIONS)?,
        })
    }
}

/// A code from columns grant_id, client_id, request, principal, upstream
/// and expires, in that order.
fn code_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CodeRow> {
    Ok(CodeRow {
        grant_id: r.get(0)?,
        client_id: r.get(1)?,
        request: r.get(2)?,
        principal: r.get(3)?,
        upstream: r.get(4)?,
        expires: r.get::<_, i64>(5)? as u64,
    })
}

fn revoked_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Revoked> {
    Ok(Revoked {
        hash: r.get(0)?,
        jti: r.get(1)?,
        expires: r.get::<_, i64>(2)? as u64,
    })
}

fn revoke_in(tx: &rusqlite::Transaction<'_>, grant_id: &str) -> rusqlite::Result<Vec<Revoked>> {
    tx.execute("DELETE FROM grants WHERE id = ?1", [grant_id])?;
    tx.execute("DELETE FROM refresh_tokens WHERE grant_id = ?1", [grant_id])?;
    let mut stmt = tx.prepare(
        "UPDATE access_tokens SET revoked = 1 WHERE grant_id = ?1 RETURNING hash, jti, expires",
    )?;
    let rows = stmt.query_map([grant_id], revoked_row)?;
    rows.collect()
}

impl OAuthStore for SqliteOAuthStore {
    fn put_client(
        &self,
        client_id: &str,
        metadata: &serde_json::Value,
        secret_hash: Option<&str>,
        now: u64,
    ) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO clients (client_id, metadata, secret_hash, created) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![client_id, metadata.to_string(), secret_hash, now as i64],
            )
            .map(drop)
        })
    }

    fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StorageError> {
        let row: Option<(String, Option<String>)> = self.db.read(|c| {
            c.query_row(
                "SELECT metadata, secret_hash FROM clients WHERE client_id = ?1",
                [client_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })?;
        row.map(|(metadata, secret_hash)| {
            Ok(ClientRow {
                metadata: serde_json::from_str(&metadata).map_err(|e| {
                    StorageError::Backend(format!("client {client_id:?}: unreadable metadata: {e}"))
                })?,
                secret_hash,
            })
        })
        .transpose()
    }

    fn put_pending(&self, id: &str, row: &PendingRow, expires: u64) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO pending (id, request, verifier, expires) VALUES (?1, ?2, ?3, ?4)",
                params![id, row.request, row.verifier, expires as i64],
            )
            .map(drop)
        })
    }

    fn take_pending(&self, id: &str, now: u64) -> Result<Option<PendingRow>, StorageError> {
        self.db.write(|c| {
            c.query_row(
                "DELETE FROM pending WHERE id = ?1 AND expires > ?2 RETURNING request, verifier",
                params![id, now as i64],
                |r| {
                    Ok(PendingRow {
                        request: r.get(0)?,
                        verifier: r.get(1)?,
                    })
                },
            )
            .optional()
        })
    }

    fn put_code(&self, hash: &str, code: &CodeRow) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
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
            )
            .map(drop)
        })
    }

    fn find_code(&self, hash: &str, now: u64) -> Result<CodeLookup, StorageError> {
        self.db.write(|c| {
            let tx = c.transaction()?;
            let row = tx
                .query_row(
                    "SELECT grant_id, client_id, request, principal, upstream, expires, used
                     FROM codes WHERE hash = ?1",
                    [hash],
                    |r| Ok((code_row(r)?, r.get::<_, i64>(6)?)),
                )
                .optional()?;
            let lookup = match row {
                None => CodeLookup::Unknown,
                Some((code, used)) if used > 0 => {
                    CodeLookup::Replayed(revoke_in(&tx, &code.grant_id)?)
                }
                Some((code, _)) if code.expires <= now => CodeLookup::Expired,
                Some((code, _)) => CodeLookup::Live(code),
            };
            tx.commit()?;
            Ok(lookup)
        })
    }

    fn spend_code(&self, hash: &str) -> Result<bool, StorageError> {
        self.db.write(|c| {
            c.execute(
                "UPDATE codes SET used = 1 WHERE hash = ?1 AND used = 0",
                [hash],
            )
            .map(|n| n == 1)
        })
    }

    fn put_grant(&self, grant: &GrantRow) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
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
            )
            .map(drop)
        })
    }

    fn put_access_token(
        &self,
        hash: &str,
        jti: &str,
        grant_id: &str,
        expires: u64,
    ) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO access_tokens (hash, jti, grant_id, expires) VALUES (?1, ?2, ?3, ?4)",
                params![hash, jti, grant_id, expires as i64],
            )
            .map(drop)
        })
    }

    fn put_refresh_token(
        &self,
        hash: &str,
        grant_id: &str,
        expires: u64,
    ) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO refresh_tokens (hash, grant_id, expires) VALUES (?1, ?2, ?3)",
                params![hash, grant_id, expires as i64],
            )
            .map(drop)
        })
    }

    fn find_refresh_token(&self, hash: &str, now: u64) -> Result<RefreshLookup, StorageError> {
        self.db.write(|c| {
            let tx = c.transaction()?;
            let row: Option<(String, i64)> = tx
                .query_row(
                    "SELECT grant_id, used FROM refresh_tokens WHERE hash = ?1 AND expires > ?2",
                    params![hash, now as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let lookup = match row {
                None => RefreshLookup::Unknown,
                Some((grant_id, used)) if used > 0 => {
                    RefreshLookup::Replayed(revoke_in(&tx, &grant_id)?)
                }
                Some((grant_id, _)) => tx
                    .query_row(
                        "SELECT id, client_id, principal, scope, upstream, expires FROM grants
                         WHERE id = ?1 AND expires > ?2",
                        params![grant_id, now as i64],
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
                    .optional()?
                    .map_or(RefreshLookup::Unknown, RefreshLookup::Live),
            };
            tx.commit()?;
            Ok(lookup)
        })
    }

    fn spend_refresh_token(&self, hash: &str) -> Result<bool, StorageError> {
        self.db.write(|c| {
            c.execute(
                "UPDATE refresh_tokens SET used = 1 WHERE hash = ?1 AND used = 0",
                [hash],
            )
            .map(|n| n == 1)
        })
    }

    fn revoke_grant(&self, grant_id: &str) -> Result<Vec<Revoked>, StorageError> {
        self.db.write(|c| {
            let tx = c.transaction()?;
            let revoked = revoke_in(&tx, grant_id)?;
            tx.commit()?;
            Ok(revoked)
        })
    }

    fn revoked_tokens(&self, now: u64) -> Result<Vec<Revoked>, StorageError> {
        self.db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT hash, jti, expires FROM access_tokens WHERE revoked = 1 AND expires > ?1",
            )?;
            let rows = stmt.query_map([now as i64], revoked_row)?;
            rows.collect()
        })
    }

    fn touch_client(&self, client_id: &str, now: u64) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "UPDATE clients SET last_used = ?2 WHERE client_id = ?1",
                params![client_id, now as i64],
            )
            .map(drop)
        })
    }

    fn count_pending(&self, now: u64) -> Result<u64, StorageError> {
        self.db.read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM pending WHERE expires > ?1",
                [now as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    fn has_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError> {
        self.db.read(|c| {
            c.query_row(
                "SELECT 1 FROM consents WHERE subject = ?1 AND client_id = ?2",
                params![subject, client_id],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
    }

    fn put_consent(&self, subject: &str, client_id: &str, now: u64) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO consents (subject, client_id, granted) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject, client_id) DO UPDATE SET granted = ?3",
                params![subject, client_id, now as i64],
            )
            .map(drop)
        })
    }

    fn put_awaiting(&self, id: &str, code: &CodeRow, expires: u64) -> Result<(), StorageError> {
        self.db.write(|c| {
            c.execute(
                "INSERT INTO awaiting_consent (id, grant_id, client_id, request, principal, \
                 upstream, code_expires, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    code.grant_id,
                    code.client_id,
                    code.request,
                    code.principal,
                    code.upstream,
                    code.expires as i64,
                    expires as i64
                ],
            )
            .map(drop)
        })
    }

    fn take_awaiting(&self, id: &str, now: u64) -> Result<Option<CodeRow>, StorageError> {
        self.db.write(|c| {
            c.query_row(
                "DELETE FROM awaiting_consent WHERE id = ?1 AND expires > ?2
                 RETURNING grant_id, client_id, request, principal, upstream, code_expires",
                params![id, now as i64],
                code_row,
            )
            .optional()
        })
    }

    fn sweep(&self, sweep: &Sweep) -> Result<u64, StorageError> {
        let t = sweep.now as i64;
        self.db.write(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM pending WHERE expires <= ?1", [t])?;
            tx.execute("DELETE FROM awaiting_consent WHERE expires <= ?1", [t])?;
            tx.execute(
                "DELETE FROM codes WHERE expires + ?2 <= ?1",
                params![t, sweep.keep_used_codes as i64],
            )?;
            tx.execute("DELETE FROM grants WHERE expires <= ?1", [t])?;
            tx.execute("DELETE FROM refresh_tokens WHERE expires <= ?1", [t])?;
            // Revoked tokens past their expiry fail verification anyway.
            tx.execute("DELETE FROM access_tokens WHERE expires <= ?1", [t])?;
            tx.execute(
                "DELETE FROM clients WHERE (last_used IS NULL AND created + ?2 <= ?1)
                 OR (last_used IS NOT NULL AND last_used + ?3 <= ?1)",
                params![
                    t,
                    sweep.unused_client_secs as i64,
                    sweep.idle_client_secs as i64
                ],
            )?;
            // A consent lasts as long as a grant, and goes with its
            // registration (a metadata document's URL has none).
            tx.execute(
                "DELETE FROM consents WHERE granted + ?2 <= ?1
                 OR (client_id NOT LIKE 'https://%'
                     AND client_id NOT IN (SELECT client_id FROM clients))",
                params![t, sweep.idle_client_secs as i64],
            )?;
            let pending: i64 = tx.query_row("SELECT COUNT(*) FROM pending", [], |r| r.get(0))?;
            tx.commit()?;
            Ok(pending as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(grant: &str, expires: u64) -> CodeRow {
        CodeRow {
            grant_id: grant.into(),
            client_id: "c".into(),
            request: "{}".into(),
            principal: "{}".into(),
            upstream: None,
            expires,
        }
    }

    #[test]
    fn a_replayed_code_revokes_what_its_first_use_issued() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteOAuthStore::open_dir(dir.path()).unwrap();
        store.put_code("h1", &code("g1", 200)).unwrap();
        assert!(matches!(
            store.find_code("h1", 100).unwrap(),
            CodeLookup::Live(_)
        ));
        store.put_access_token("a1", "j1", "g1", 300).unwrap();
        assert!(store.spend_code("h1").unwrap());
        assert!(!store.spend_code("h1").unwrap(), "spent once");
        match store.find_code("h1", 101).unwrap() {
            CodeLookup::Replayed(revoked) => assert_eq!(
                revoked,
                vec![Revoked {
                    hash: "a1".into(),
                    jti: Some("j1".into()),
                    expires: 300
                }]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.revoked_tokens(299).unwrap().len(), 1);
        assert!(store.revoked_tokens(300).unwrap().is_empty(), "expired");
        store.put_code("h2", &code("g2", 50)).unwrap();
        assert!(matches!(
            store.find_code("h2", 60).unwrap(),
            CodeLookup::Expired
        ));
        assert!(matches!(
            store.find_code("nope", 60).unwrap(),
            CodeLookup::Unknown
        ));
    }

    #[test]
    fn a_reused_refresh_token_ends_its_grant_and_sweeping_forgets_expired_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteOAuthStore::open_dir(dir.path()).unwrap();
        store
            .put_grant(&GrantRow {
                id: "g".into(),
                client_id: "c".into(),
                principal: "{}".into(),
                scope: String::new(),
                upstream: None,
                expires: 1000,
            })
            .unwrap();
        store.put_refresh_token("r", "g", 1000).unwrap();
        assert!(matches!(
            store.find_refresh_token("r", 10).unwrap(),
            RefreshLookup::Live(_)
        ));
        assert!(
            matches!(
                store.find_refresh_token("r", 10).unwrap(),
                RefreshLookup::Live(_)
            ),
            "finding it spends nothing: a failed refresh can be retried"
        );
        assert!(store.spend_refresh_token("r").unwrap());
        assert!(!store.spend_refresh_token("r").unwrap(), "spent once");
        assert!(matches!(
            store.find_refresh_token("r", 11).unwrap(),
            RefreshLookup::Replayed(_)
        ));
        assert!(matches!(
            store.find_refresh_token("r", 12).unwrap(),
            RefreshLookup::Unknown
        ));
        store
            .put_pending(
                "p",
                &PendingRow {
                    request: "{}".into(),
                    verifier: "v".into(),
                },
                20,
            )
            .unwrap();
        assert_eq!(store.count_pending(19).unwrap(), 1);
        let sweep = |now| Sweep {
            now,
            keep_used_codes: 0,
            unused_client_secs: 100,
            idle_client_secs: 1000,
        };
        assert_eq!(store.sweep(&sweep(20)).unwrap(), 0, "none in progress");
        assert!(store.take_pending("p", 0).unwrap().is_none(), "swept");
        // Registrations: an unused one goes after 100 s, a used one 1000 s
        // after its last sign-in.
        let doc = serde_json::json!({"redirect_uris": ["https://a.example/cb"]});
        store.put_client("unused", &doc, None, 0).unwrap();
        store.put_client("used", &doc, None, 0).unwrap();
        store.touch_client("used", 50).unwrap();
        store.sweep(&sweep(99)).unwrap();
        assert!(store.client("unused").unwrap().is_some());
        store.sweep(&sweep(100)).unwrap();
        assert!(store.client("unused").unwrap().is_none(), "never used");
        assert!(store.client("used").unwrap().is_some());
        store.sweep(&sweep(1050)).unwrap();
        assert!(store.client("used").unwrap().is_none(), "idle too long");
        // Consent, remembered per user and client; a code-to-be, taken once.
        assert!(!store.has_consent("alice", "c").unwrap());
        store.put_consent("alice", "c", 1).unwrap();
        store.put_consent("alice", "c", 2).unwrap();
        assert!(store.has_consent("alice", "c").unwrap());
        assert!(!store.has_consent("bob", "c").unwrap());
        store.put_awaiting("w", &code("g9", 500), 400).unwrap();
        assert_eq!(
            store.take_awaiting("w", 10).unwrap().unwrap().grant_id,
            "g9"
        );
        assert!(store.take_awaiting("w", 10).unwrap().is_none(), "once");
        // A consent goes with its registration ("c" has none), and lasts
        // as long as a grant.
        store.put_consent("alice", "c", 1090).unwrap();
        let document = "https://app.example/client.json";
        store.put_consent("alice", document, 1000).unwrap();
        store.put_consent("bob", document, 1500).unwrap();
        store.sweep(&sweep(1100)).unwrap();
        assert!(
            !store.has_consent("alice", "c").unwrap(),
            "its client is gone"
        );
        assert!(store.has_consent("alice", document).unwrap());
        store.sweep(&sweep(2000)).unwrap();
        assert!(
            !store.has_consent("alice", document).unwrap(),
            "as long as a grant"
        );
        assert!(store.has_consent("bob", document).unwrap());
    }
}
