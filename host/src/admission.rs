//! Admission control in front of every tool call: per-caller rate limits and
//! bounded concurrency.
//!
//! A call first takes a token from its caller's bucket for that tool (so one
//! user cannot starve the others), then waits — a bounded time — for a slot
//! among the calls of its tool and among all calls (so a burst queues briefly
//! instead of piling up instances). Either refusal is an answer the client
//! can act on: "rate limited, retry in …" or "busy, retry".

use crate::config::{Config, RateLimit};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a call was not admitted. The message is for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// The caller used up its calls of this tool for now.
    #[error(
        "rate limited: {subject} may call {tool} {per_minute} times a minute (bursts of {burst}); retry in {:.1} s",
        retry_after.as_secs_f64()
    )]
    RateLimited {
        /// The tool.
        tool: String,
        /// The caller.
        subject: String,
        /// The limit.
        per_minute: u32,
        /// The bucket's size.
        burst: u32,
        /// When the next call would be admitted.
        retry_after: Duration,
    },
    /// No slot became free in time.
    #[error(
        "busy: {limit} calls {scope} are running and none finished within {} ms; retry shortly",
        waited.as_millis()
    )]
    Busy {
        /// The tool.
        tool: String,
        /// "of <tool>" or "in all".
        scope: String,
        /// The limit that was full.
        limit: u32,
        /// How long the call waited.
        waited: Duration,
    },
}

impl Rejection {
    /// A short machine-readable reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::RateLimited { .. } => "rate_limited",
            Rejection::Busy { .. } => "busy",
        }
    }
}

/// Held while a call runs; dropping it frees the call's slots.
#[derive(Debug)]
pub struct Admitted {
    _global: OwnedSemaphorePermit,
    _tool: Option<OwnedSemaphorePermit>,
}

/// The admission controller of one host.
#[derive(Debug)]
pub struct Admission {
    config: Arc<Config>,
    global: Arc<Semaphore>,
    global_limit: u32,
    per_tool: Mutex<HashMap<String, Arc<Semaphore>>>,
    buckets: RateBuckets,
}

impl Admission {
    /// Limits as configured in `config` (`[concurrency]`, `[rate_limit]`,
    /// `[tools.<name>]`).
    pub fn new(config: Arc<Config>) -> Self {
        let global_limit = config
            .concurrency
            .max_calls
            .unwrap_or(config.runtime.max_instances);
        Admission {
            global: Arc::new(Semaphore::new(global_limit as usize)),
            global_limit,
            per_tool: Mutex::new(HashMap::new()),
            buckets: RateBuckets::default(),
            config,
        }
    }

    /// Admit a call of `tool` by `subject`, waiting at most
    /// `concurrency.wait_ms` for a free slot.
    pub async fn admit(&self, subject: &str, tool: &str) -> Result<Admitted, Rejection> {
        let rate = self.config.rate_limit_for(tool);
        if let Err(retry_after) = self.buckets.take(subject, tool, rate, Instant::now()) {
            return Err(Rejection::RateLimited {
                tool: tool.to_owned(),
                subject: subject.to_owned(),
                per_minute: rate.per_minute,
                burst: rate.burst,
                retry_after,
            });
        }
        let started = Instant::now();
        let deadline = started + Duration::from_millis(self.config.concurrency.wait_ms);
        let busy = |scope: String, limit: u32| Rejection::Busy {
            tool: tool.to_owned(),
            scope,
            limit,
            waited: started.elapsed(),
        };
        // The tool's slot first: a call waiting for its tool holds no global
        // slot that other tools' calls could use.
        let tool_permit = match self.tool_semaphore(tool) {
            None => None,
            Some((semaphore, limit)) => Some(
                acquire(semaphore, deadline)
                    .await
                    .ok_or_else(|| busy(format!("of {tool}"), limit))?,
            ),
        };
        let global = acquire(self.global.clone(), deadline)
            .await
            .ok_or_else(|| busy("in all".to_owned(), self.global_limit))?;
        Ok(Admitted {
            _global: global,
            _tool: tool_permit,
        })
    }

    fn tool_semaphore(&self, tool: &str) -> Option<(Arc<Semaphore>, u32)> {
        let limit = self.config.tools.get(tool)?.max_concurrent?;
        let mut map = self.per_tool.lock().unwrap_or_else(|e| e.into_inner());
        let semaphore = map
            .entry(tool.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(limit as usize)))
            .clone();
        Some((semaphore, limit))
    }
}

async fn acquire(semaphore: Arc<Semaphore>, deadline: Instant) -> Option<OwnedSemaphorePermit> {
    let wait = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => Some(permit),
        _ => None,
    }
}

/// Token buckets by (subject, tool).
#[derive(Debug, Default)]
struct RateBuckets {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept before idle ones (full again) are swept.
const SWEEP_ABOVE: usize = 10_000;

impl RateBuckets {
    /// Take one token, or say how long until one is available.
    fn take(
        &self,
        subject: &str,
        tool: &str,
        rate: RateLimit,
        now: Instant,
    ) -> Result<(), Duration> {
        if !rate.is_on() {
            return Ok(());
        }
        let per_second = f64::from(rate.per_minute) / 60.0;
        let capacity = f64::from(rate.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_ABOVE {
            // A bucket that has refilled is the same as no bucket.
            let refill = Duration::from_secs_f64(capacity / per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < refill);
        }
        let bucket = buckets
            .entry((subject.to_owned(), tool.to_owned()))
            .or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ToolPolicy;

    fn rate(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit { per_minute, burst }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let buckets = RateBuckets::default();
        let t0 = Instant::now();
        let r = rate(60, 3);
        for _ in 0..3 {
            assert!(buckets.take("alice", "t", r, t0).is_ok());
        }
        let wait = buckets.take("alice", "t", r, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            buckets.take("bob", "t", r, t0).is_ok(),
            "bob has his own bucket"
        );
        assert!(
            buckets.take("alice", "u", r, t0).is_ok(),
            "each tool has its own bucket"
        );
        let later = t0 + Duration::from_millis(1_050);
        assert!(
            buckets.take("alice", "t", r, later).is_ok(),
            "one token refilled"
        );
        assert!(buckets.take("alice", "t", r, later).is_err());
    }

    #[test]
    fn an_unlimited_tool_keeps_no_buckets_and_idle_buckets_are_swept() {
        let buckets = RateBuckets::default();
        let t0 = Instant::now();
        for i in 0..1000 {
            assert!(
                buckets
                    .take(&format!("u{i}"), "t", RateLimit::OFF, t0)
                    .is_ok()
            );
        }
        assert_eq!(buckets.len(), 0);
        for i in 0..SWEEP_ABOVE {
            buckets
                .take(&format!("u{i}"), "t", rate(600, 10), t0)
                .unwrap();
        }
        assert_eq!(buckets.len(), SWEEP_ABOVE);
        // One second later every bucket has refilled: the next take sweeps.
        buckets
            .take("late", "t", rate(600, 10), t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(buckets.len(), 1);
    }

    fn config(adjust: impl FnOnce(&mut Config)) -> Arc<Config> {
        let mut config = Config::default();
        config.concurrency.wait_ms = 50;
        config.rate_limit = RateLimit::OFF;
        adjust(&mut config);
        Arc::new(config)
    }

    #[tokio::test]
    async fn a_full_tool_makes_the_next_call_wait_then_fail_busy() {
        let admission = Admission::new(config(|c| {
            c.tools.insert(
                "slow".into(),
                ToolPolicy {
                    max_concurrent: Some(1),
                    ..Default::default()
                },
            );
        }));
        let first = admission.admit("alice", "slow").await.unwrap();
        let started = Instant::now();
        let busy = admission.admit("bob", "slow").await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(busy.reason(), "busy");
        assert!(busy.to_string().contains("1 calls of slow"), "{busy}");
        assert!(
            admission.admit("bob", "other").await.is_ok(),
            "other tools are not held up"
        );
        drop(first);
        assert!(
            admission.admit("bob", "slow").await.is_ok(),
            "the slot is free again"
        );
    }

    #[tokio::test]
    async fn a_waiting_call_gets_the_slot_that_frees_up() {
        let admission = Arc::new(Admission::new(config(|c| {
            c.concurrency.max_calls = Some(1);
            c.concurrency.wait_ms = 5_000;
        })));
        let first = admission.admit("alice", "t").await.unwrap();
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit("bob", "t").await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_rate_limit_names_the_caller_and_when_to_retry() {
        let admission = Admission::new(config(|c| c.rate_limit = rate(60, 2)));
        let _a = admission.admit("alice", "t").await.unwrap();
        let _b = admission.admit("alice", "t").await.unwrap();
        let limited = admission.admit("alice", "t").await.unwrap_err();
        assert_eq!(limited.reason(), "rate_limited");
        let text = limited.to_string();
        assert!(
            text.contains("alice") && text.contains("retry in"),
            "{text}"
        );
        assert!(admission.admit("bob", "t").await.is_ok());
    }
}
