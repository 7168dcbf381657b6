//! The audit trail's writer: every tools/call decision, queued by the call
//! pipeline and appended to an [`AuditStore`] in batches.
//!
//! Who called which tool and version, whether the call was allowed (and why
//! not), how it ended and how long it took. Never the arguments or a token,
//! unless the operator opts in to arguments (`audit.include_arguments`).
//!
//! One thread gathers records for 5 ms and appends them in one transaction,
//! so a call never waits for the disk. The queue is bounded
//! ([`QUEUE_CAPACITY`] records). When it is full (the disk is slower than the
//! calls) a call waits for room, up to [`QUEUE_WAIT`]: the trail slows calls
//! down rather than drop records. A record that still finds no room, or a
//! batch the store refuses after [`WRITE_ATTEMPTS`] attempts, is lost
//! loudly: logged as an error and counted in `toolhost_audit_lost_total`.
//! A record is committed within about 5 ms of the decision; a `kill -9` can
//! lose only what was queued and not yet committed.

use crate::storage::audit::{AuditRecord, AuditStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Records queued at most.
pub const QUEUE_CAPACITY: usize = 16_384;
/// How long a call waits for room in a full queue.
pub const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// Attempts to write one batch before its records are given up.
pub const WRITE_ATTEMPTS: u32 = 5;
/// Most records committed in one transaction.
const BATCH: usize = 1024;
/// How long the writer gathers records before it commits them: one commit
/// per window instead of one per call (a commit costs more than a record).
const WINDOW: Duration = Duration::from_millis(5);

enum Message {
    Record(Box<AuditRecord>),
    Flush(oneshot::Sender<()>),
}

/// The writer side of the audit trail. Cheap to share behind an `Arc`.
pub struct AuditLog {
    queue: mpsc::Sender<Message>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("queued", &(QUEUE_CAPACITY - self.queue.capacity()))
            .finish()
    }
}

/// Why the writer could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the audit writer: {0}")]
pub struct AuditStartError(#[source] std::io::Error);

impl AuditLog {
    /// Start the writer thread appending to `store`.
    pub fn start(store: Arc<dyn AuditStore>) -> Result<Self, AuditStartError> {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("toolhost-audit".into())
            .spawn(move || write_loop(store, rx))
            .map_err(AuditStartError)?;
        Ok(AuditLog { queue: tx })
    }

    /// Queue `record`, waiting for room (at most [`QUEUE_WAIT`]) when the
    /// queue is full.
    pub async fn record(&self, record: AuditRecord) {
        let message = Message::Record(Box::new(record));
        let sent = match self.queue.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(message)) => {
                metrics::counter!("toolhost_audit_queue_full_total").increment(1);
                match tokio::time::timeout(QUEUE_WAIT, self.queue.send(message)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err("the audit writer has stopped"),
                    Err(_) => Err("the audit queue stayed full"),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err("the audit writer has stopped"),
        };
        if let Err(why) = sent {
            metrics::counter!("toolhost_audit_lost_total").increment(1);
            tracing::error!(reason = why, "an audit record was lost");
        }
    }

    /// Queue `record` without waiting, from code that cannot wait (a body
    /// being dropped): when the queue is full the record is lost, counted
    /// and logged.
    pub fn record_now(&self, record: AuditRecord) {
        if let Err(e) = self.queue.try_send(Message::Record(Box::new(record))) {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "the audit queue was full",
                mpsc::error::TrySendError::Closed(_) => "the audit writer has stopped",
            };
            metrics::counter!("toolhost_audit_lost_total").increment(1);
            tracing::error!(reason = why, "an audit record was lost");
        }
    }

    /// Wait (at most `timeout`) until everything queued so far is committed.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        let flushed = async {
            self.queue.send(Message::Flush(tx)).await.ok()?;
            rx.await.ok()
        };
        matches!(tokio::time::timeout(timeout, flushed).await, Ok(Some(())))
    }

    /// [`AuditLog::flush`] from a thread outside the async runtime.
    pub fn flush_blocking(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.queue.blocking_send(Message::Flush(tx)).is_err() {
            return false;
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut rx = rx;
        loop {
            match rx.try_recv() {
                Ok(()) => return true,
                Err(oneshot::error::TryRecvError::Closed) => return false,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn write_loop(store: Arc<dyn AuditStore>, mut rx: mpsc::Receiver<Message>) {
    while let Some(first) = rx.blocking_recv() {
        // Sleep rather than wait on the channel: senders then wake nobody,
        // and the window costs one wake-up, not one per record.
        if !matches!(first, Message::Flush(_)) {
            std::thread::sleep(WINDOW);
        }
        let mut records = Vec::new();
        let mut waiting = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Record(r) => records.push(*r),
                Message::Flush(done) => waiting.push(done),
            }
            if records.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !records.is_empty() {
            write_batch(&*store, &records);
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

/// Append `records`, retrying with a growing pause; give them up (loudly)
/// after [`WRITE_ATTEMPTS`].
fn write_batch(store: &dyn AuditStore, records: &[AuditRecord]) {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.append(records) {
            Ok(()) => return,
            Err(e) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "audit records not written yet; retrying");
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(e) => {
                metrics::counter!("toolhost_audit_lost_total").increment(records.len() as u64);
                tracing::error!(
                    error = %e,
                    lost = records.len(),
                    "audit records could not be written and are lost"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageError;
    use crate::storage::audit::{AuditQuery, SqliteAuditStore};
    use std::sync::Mutex;

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

    fn now_ms() -> i64 {
        crate::clock::Clock::unix_millis(&crate::clock::SystemClock)
    }

    #[tokio::test]
    async fn records_are_committed_and_filtered_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = SqliteAuditStore::path_in(dir.path());
        let store = Arc::new(
            crate::storage::run_blocking(move || SqliteAuditStore::open(&path))
                .await
                .unwrap(),
        );
        let log = AuditLog::start(store.clone()).unwrap();
        let now = now_ms();
        log.record(record("alice", "notes_list", "allowed", now - 3000))
            .await;
        log.record(record("bob", "notes_create", "denied", now - 2000))
            .await;
        log.record(record("alice", "notes_create", "allowed", now - 1000))
            .await;
        assert!(log.flush(Duration::from_secs(5)).await);
        let all = |q: AuditQuery| {
            let store = store.clone();
            async move {
                crate::storage::run_blocking(move || store.query(&AuditQuery { limit: 100, ..q }))
                    .await
                    .unwrap()
            }
        };
        let every = all(AuditQuery::default()).await;
        assert_eq!(every.len(), 3);
        assert_eq!(every[0].tool, "notes_create", "newest first");
        assert_eq!(every[0].subject, "alice");
        let alice = all(AuditQuery {
            subject: Some("alice".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(alice.len(), 2);
        let denied = all(AuditQuery {
            decision: Some("denied".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            denied,
            vec![record("bob", "notes_create", "denied", now - 2000)]
        );
        let recent = all(AuditQuery {
            since_ms: Some(now - 1500),
            ..Default::default()
        })
        .await;
        assert_eq!(recent.len(), 1);
        let tool = all(AuditQuery {
            tool: Some("notes_list".into()),
            ..Default::default()
        })
        .await;
        assert_eq!(tool.len(), 1);
    }

    #[test]
    fn old_records_are_pruned_and_reading_nothing_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = SqliteAuditStore::path_in(dir.path());
        let missing = SqliteAuditStore::open_existing(&path).unwrap_err();
        assert!(missing.to_string().contains("no audit trail"), "{missing}");
        let store = SqliteAuditStore::open(&path).unwrap();
        store
            .append(&[
                record("alice", "t", "allowed", now_ms() - 40 * 86_400_000),
                record("alice", "t", "allowed", now_ms()),
            ])
            .unwrap();
        assert_eq!(store.prune(now_ms() - 30 * 86_400_000).unwrap(), 1);
        let left = store
            .query(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(left.len(), 1, "the 40-day-old record is gone");
    }

    /// A store that refuses the first `failures` appends.
    struct Flaky {
        failures: Mutex<u32>,
        written: Mutex<Vec<AuditRecord>>,
    }

    impl AuditStore for Flaky {
        fn append(&self, records: &[AuditRecord]) -> Result<(), StorageError> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(StorageError::Backend("disk full".into()));
            }
            self.written.lock().unwrap().extend_from_slice(records);
            Ok(())
        }
        fn query(&self, _: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
            Ok(self.written.lock().unwrap().clone())
        }
        fn prune(&self, _: i64) -> Result<usize, StorageError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn a_failed_write_is_retried_until_it_lands() {
        let store = Arc::new(Flaky {
            failures: Mutex::new(2),
            written: Mutex::new(Vec::new()),
        });
        let log = AuditLog::start(store.clone()).unwrap();
        log.record(record("alice", "t", "allowed", 1)).await;
        assert!(log.flush(Duration::from_secs(5)).await);
        assert_eq!(store.written.lock().unwrap().len(), 1);
        assert_eq!(*store.failures.lock().unwrap(), 0);
    }
}
