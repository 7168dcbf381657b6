//! The tool store in PostgreSQL: the table `toolhost_kv`, keyed by
//! (bucket, subject, key). Keys are `bytea`, so they order as bytes as in
//! every backend, and a scan is a keyset range on the primary key's index,
//! bounded by its limit.

use super::{Postgres, PostgresSettings};
use crate::storage::{Backend, Entry, KeyRange, ScanRequest, Scope, StorageError};
use std::sync::Arc;
use tokio_postgres::types::ToSql;

/// The tool store's schema, one migration at a time.
const KV_MIGRATIONS: &[&str] = &["
CREATE TABLE toolhost_kv (
    bucket  text  NOT NULL,
    subject text  NOT NULL,
    key     bytea NOT NULL,
    value   bytea NOT NULL,
    PRIMARY KEY (bucket, subject, key)
);
"];

/// The tool store in PostgreSQL. Blocking: call it from a blocking thread.
#[derive(Debug)]
pub struct PostgresStore {
    db: Arc<Postgres>,
}

impl PostgresStore {
    /// The tool store in `db`, its schema brought up to date.
    pub fn open(db: Arc<Postgres>) -> Result<Self, StorageError> {
        db.open_part("kv", KV_MIGRATIONS)?;
        Ok(PostgresStore { db })
    }

    /// Connect to the database `settings` names and open the store in it.
    pub fn connect(settings: &PostgresSettings) -> Result<Self, StorageError> {
        Self::open(Postgres::connect(settings)?)
    }
}

/// A subject PostgreSQL's `text` cannot hold (a NUL byte).
fn check_subject(scope: &Scope) -> Result<(), StorageError> {
    if scope.subject.contains('\0') {
        return Err(StorageError::Invalid(
            "the caller's subject contains a NUL byte, which this store cannot hold".into(),
        ));
    }
    Ok(())
}

impl Backend for PostgresStore {
    fn get(&self, scope: &Scope, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        check_subject(scope)?;
        self.db.block(async {
            let rows = self
                .db
                .query(
                    "SELECT value FROM toolhost_kv WHERE bucket = $1 AND subject = $2 AND key = $3",
                    &[&scope.bucket, &scope.subject, &key.as_bytes()],
                )
                .await?;
            Ok(rows.first().map(|row| row.get(0)))
        })
    }

    fn put(&self, scope: &Scope, key: &str, value: &[u8]) -> Result<(), StorageError> {
        check_subject(scope)?;
        self.db.block(async {
            self.db
                .execute(
                    "INSERT INTO toolhost_kv (bucket, subject, key, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (bucket, subject, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&scope.bucket, &scope.subject, &key.as_bytes(), &value],
                )
                .await
                .map(|_| ())
        })
    }

    fn delete(&self, scope: &Scope, key: &str) -> Result<bool, StorageError> {
        check_subject(scope)?;
        self.db.block(async {
            self.db
                .execute(
                    "DELETE FROM toolhost_kv WHERE bucket = $1 AND subject = $2 AND key = $3",
                    &[&scope.bucket, &scope.subject, &key.as_bytes()],
                )
                .await
                .map(|n| n > 0)
        })
    }

    fn scan(&self, scope: &Scope, request: &ScanRequest) -> Result<Vec<Entry>, StorageError> {
        check_subject(scope)?;
        let KeyRange {
            lower,
            lower_inclusive,
            upper,
        } = request.key_range();
        let limit = i64::from(request.limit);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&scope.bucket, &scope.subject, &lower];
        let mut sql = format!(
            "SELECT key, value FROM toolhost_kv WHERE bucket = $1 AND subject = $2 AND key {} $3",
            if lower_inclusive { ">=" } else { ">" }
        );
        if let Some(upper) = &upper {
            params.push(upper);
            sql.push_str(" AND key < $4");
        }
        params.push(&limit);
        sql.push_str(&format!(
            " ORDER BY key {} LIMIT ${}",
            if request.reverse { "DESC" } else { "ASC" },
            params.len()
        ));
        self.db.block(async {
            let rows = self.db.query(&sql, &params).await?;
            Ok(rows
                .iter()
                .map(|row| {
                    let key: Vec<u8> = row.get(0);
                    Entry {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        value: row.get(1),
                    }
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::testing::postgres::PostgresCluster;
    use std::time::Duration;

    fn settings(url: String, timeout_ms: u64) -> PostgresSettings {
        PostgresSettings {
            url: Secret::from(url),
            pool_size: 4,
            statement_timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn postgres_backend_conforms_and_replicas_share_it() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.create_database("conformance").unwrap();
        let store = PostgresStore::connect(&settings(url.clone(), 5000)).unwrap();
        crate::storage::conformance::run_all(&store);
        // A second store on the same database is a second replica: it sees
        // every acknowledged write, and opening it migrates nothing twice.
        let other = PostgresStore::connect(&settings(url, 5000)).unwrap();
        let scope = Scope::new("crud", "u1").unwrap();
        store.put(&scope, "shared", b"v").unwrap();
        assert_eq!(other.get(&scope, "shared").unwrap(), Some(b"v".to_vec()));
        assert!(other.delete(&scope, "shared").unwrap());
        assert_eq!(store.get(&scope, "shared").unwrap(), None);
    }

    #[test]
    fn replicas_starting_together_migrate_once_and_a_newer_schema_is_refused() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.create_database("migrate").unwrap();
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PostgresStore::connect(&settings(url, 10_000)))
            })
            .collect();
        let stores: Vec<PostgresStore> = opened
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        let versions = stores[0]
            .db
            .block(
                stores[0]
                    .db
                    .query("SELECT part, version FROM toolhost_schema", &[]),
            )
            .unwrap();
        let versions: Vec<(String, i32)> = versions.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(versions, [("kv".to_string(), KV_MIGRATIONS.len() as i32)]);
        stores[0]
            .db
            .block(
                stores[0]
                    .db
                    .execute("UPDATE toolhost_schema SET version = 99", &[]),
            )
            .unwrap();
        let e = PostgresStore::connect(&settings(url, 5000)).unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("newer") && message.contains("version 99"),
            "{message}"
        );
        assert!(message.contains("PostgreSQL at 127.0.0.1:"), "{message}");
    }

    #[test]
    fn a_server_that_goes_away_is_unavailable_in_bounded_time_then_recovers() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.create_database("outage").unwrap();
        let store = PostgresStore::connect(&settings(url, 1500)).unwrap();
        let scope = Scope::new("outage", "u1").unwrap();
        store.put(&scope, "before", b"1").unwrap();
        cluster.stop().unwrap();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let e = store.get(&scope, "before").unwrap_err();
            assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
            let message = e.to_string();
            assert!(
                message.contains("retry") && message.contains("PostgreSQL at"),
                "{message}"
            );
            assert!(
                started.elapsed() < Duration::from_millis(3000),
                "took {:?}",
                started.elapsed()
            );
        }
        cluster.resume().unwrap();
        // The broken connections are replaced on the next calls: no restart.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let value = loop {
            match store.get(&scope, "before") {
                Ok(value) => break value,
                Err(e) if std::time::Instant::now() < deadline => {
                    assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("not recovered after 10 s: {e}"),
            }
        };
        assert_eq!(value, Some(b"1".to_vec()), "the write before the outage");
        store.put(&scope, "after", b"2").unwrap();
    }

    #[test]
    fn unreachable_and_malformed_urls_say_what_and_hide_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://toolhost:hunter2@127.0.0.1:{port}/db");
        let e = PostgresStore::connect(&settings(url, 1000))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("PostgreSQL at 127.0.0.1:{port}/db")),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = PostgresStore::connect(&settings("mysql://x:hunter2@h/db".into(), 1000))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("storage.url") && e.contains("not a PostgreSQL URL"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_nul_in_the_subject_is_refused_not_a_backend_failure() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.create_database("nul").unwrap();
        let store = PostgresStore::connect(&settings(url, 5000)).unwrap();
        let scope = Scope::new("b", "a\0b").unwrap();
        let e = store.put(&scope, "k", b"v").unwrap_err();
        assert!(matches!(e, StorageError::Invalid(_)), "{e:?}");
    }
}
