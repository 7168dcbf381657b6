//! The audit trail in PostgreSQL: the table `toolhost_audit`, one row per
//! tools/call decision, appended by every replica and readable with
//! `toolhost audit --config` from any machine that reaches the database.

use super::Postgres;
use crate::storage::StorageError;
use crate::storage::audit::{AuditQuery, AuditRecord, AuditStore};
use std::sync::Arc;
use tokio_postgres::types::ToSql;

const AUDIT_MIGRATIONS: &[&str] = &["
CREATE TABLE toolhost_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       bigint NOT NULL,
    request_id  text NOT NULL,
    subject     text NOT NULL,
    client_id   text,
    tool        text NOT NULL,
    version     text,
    decision    text NOT NULL,
    reason      text,
    outcome     text NOT NULL,
    duration_us bigint NOT NULL,
    arguments   text
);
CREATE INDEX toolhost_audit_at ON toolhost_audit (at_ms);
CREATE INDEX toolhost_audit_subject ON toolhost_audit (subject, at_ms);
CREATE INDEX toolhost_audit_tool ON toolhost_audit (tool, at_ms);
"];

/// Columns of one record, in the order of the INSERT and the SELECT.
const COLUMNS: &str = "at_ms, request_id, subject, client_id, tool, version, decision, reason, \
                       outcome, duration_us, arguments";

/// The audit trail in PostgreSQL. Blocking: call it from a blocking thread
/// (the audit writer is one).
#[derive(Debug)]
pub struct PostgresAuditStore {
    db: Arc<Postgres>,
}

impl PostgresAuditStore {
    /// The trail in `db`, its schema brought up to date.
    pub fn open(db: Arc<Postgres>) -> Result<Self, StorageError> {
        db.open_part("audit", AUDIT_MIGRATIONS)?;
        Ok(PostgresAuditStore { db })
    }
}

/// PostgreSQL's `text` holds no NUL byte; a record keeps the rest of what
/// it says (an attacker's tool name or subject is data, never lost whole).
fn text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('\0') {
        value.replace('\0', "\u{fffd}").into()
    } else {
        value.into()
    }
}

impl AuditStore for PostgresAuditStore {
    fn append(&self, records: &[AuditRecord]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        self.db.block(async {
            let mut client = self.db.client().await?;
            let e = |e| self.db.error(e);
            let tx = client.transaction().await.map_err(e)?;
            let insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO toolhost_audit ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .await
                .map_err(e)?;
            for r in records {
                let optional = |v: &Option<String>| v.as_deref().map(|v| text(v).into_owned());
                let duration = i64::try_from(r.duration_us).unwrap_or(i64::MAX);
                tx.execute(
                    &insert,
                    &[
                        &r.at_ms,
                        &text(&r.request_id),
                        &text(&r.subject),
                        &optional(&r.client_id),
                        &text(&r.tool),
                        &optional(&r.version),
                        &text(&r.decision),
                        &optional(&r.reason),
                        &text(&r.outcome),
                        &duration,
                        &optional(&r.arguments),
                    ],
                )
                .await
                .map_err(e)?;
            }
            tx.commit().await.map_err(e)
        })
    }

    fn query(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
        let mut filters: Vec<(&str, &(dyn ToSql + Sync))> = Vec::new();
        if let Some(subject) = &q.subject {
            filters.push(("subject =", subject));
        }
        if let Some(tool) = &q.tool {
            filters.push(("tool =", tool));
        }
        if let Some(decision) = &q.decision {
            filters.push(("decision =", decision));
        }
        if let Some(since) = &q.since_ms {
            filters.push(("at_ms >=", since));
        }
        let limit = i64::from(q.limit.max(1));
        let mut sql = format!("SELECT {COLUMNS} FROM toolhost_audit WHERE true");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (condition, value) in filters {
            params.push(value);
            sql.push_str(&format!(" AND {condition} ${}", params.len()));
        }
        params.push(&limit);
        sql.push_str(&format!(
            " ORDER BY at_ms DESC, id DESC LIMIT ${}",
            params.len()
        ));
        self.db.block(async {
            let rows = self.db.query(&sql, &params).await?;
            Ok(rows
                .iter()
                .map(|row| AuditRecord {
                    at_ms: row.get(0),
                    request_id: row.get(1),
                    subject: row.get(2),
                    client_id: row.get(3),
                    tool: row.get(4),
                    version: row.get(5),
                    decision: row.get(6),
                    reason: row.get(7),
                    outcome: row.get(8),
                    duration_us: u64::try_from(row.get::<_, i64>(9)).unwrap_or(0),
                    arguments: row.get(10),
                })
                .collect())
        })
    }

    fn prune(&self, before_ms: i64) -> Result<usize, StorageError> {
        self.db.block(async {
            let deleted = self
                .db
                .execute("DELETE FROM toolhost_audit WHERE at_ms < $1", &[&before_ms])
                .await?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::storage::PostgresSettings;
    use crate::testing::postgres::PostgresCluster;
    use std::time::Duration;

    fn record(at_ms: i64, subject: &str, tool: &str, decision: &str) -> AuditRecord {
        AuditRecord {
            at_ms,
            request_id: format!("r{at_ms}"),
            subject: subject.into(),
            client_id: Some("client".into()),
            tool: tool.into(),
            version: Some("abc123".into()),
            decision: decision.into(),
            reason: (decision != "allowed").then(|| "missing role".into()),
            outcome: "ok".into(),
            duration_us: 42,
            arguments: None,
        }
    }

    #[test]
    fn records_from_two_replicas_are_queried_filtered_and_pruned() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.create_database("audit").unwrap();
        let settings = PostgresSettings {
            url: Secret::from(url),
            pool_size: 2,
            statement_timeout: Duration::from_secs(5),
        };
        let a = PostgresAuditStore::open(Postgres::connect(&settings).unwrap()).unwrap();
        let b = PostgresAuditStore::open(Postgres::connect(&settings).unwrap()).unwrap();
        a.append(&[
            record(1000, "alice", "notes_list", "allowed"),
            record(2000, "bob", "notes_create", "denied"),
        ])
        .unwrap();
        b.append(&[record(3000, "alice\0x", "notes_create", "allowed")])
            .unwrap();
        let all = b
            .query(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        let times: Vec<i64> = all.iter().map(|r| r.at_ms).collect();
        assert_eq!(times, [3000, 2000, 1000], "newest first, from both");
        assert_eq!(all[0].subject, "alice\u{fffd}x");
        assert_eq!(all[1], record(2000, "bob", "notes_create", "denied"));
        let denied = a
            .query(&AuditQuery {
                decision: Some("denied".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(denied.len(), 1);
        let recent_alice = a
            .query(&AuditQuery {
                subject: Some("alice".into()),
                since_ms: Some(500),
                tool: Some("notes_list".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(recent_alice.len(), 1);
        let one = a
            .query(&AuditQuery {
                limit: 1,
                ..AuditQuery::default()
            })
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(a.prune(2500).unwrap(), 2);
        assert_eq!(
            b.query(&AuditQuery {
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap()
            .len(),
            1
        );
    }
}
