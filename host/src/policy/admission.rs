//! Admission in front of every allowed call: the caller's rate limit, then
//! bounded concurrency.
//!
//! A call first takes a token from its caller's bucket for that tool (so one
//! user cannot starve the others), then waits — a bounded time — for a slot
//! among the calls of its tool and among all calls (so a burst queues briefly
//! instead of piling up instances). A call that finds no slot gives its token
//! back: it did not run. Either refusal is an answer the client can act on:
//! "rate limited, retry in …" or "busy, retry".

use super::PolicySettings;
use super::rate::RateBuckets;
use crate::clock::SharedClock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a call was not admitted. The message is for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
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
        /// `of <tool>` or `in all`.
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
pub(crate) struct Admission {
    global: Arc<Semaphore>,
    global_limit: u32,
    wait: Duration,
    /// A semaphore per tool with `max_concurrent`, made once.
    per_tool: HashMap<String, (Arc<Semaphore>, u32)>,
    rates: HashMap<String, super::RateLimit>,
    default_rate: super::RateLimit,
    buckets: RateBuckets,
}

impl Admission {
    pub(crate) fn new(settings: &PolicySettings, clock: SharedClock) -> Self {
        let per_tool = (settings.tools.iter())
            .filter_map(|(tool, rules)| {
                let limit = rules.max_concurrent?;
                Some((
                    tool.clone(),
                    (Arc::new(Semaphore::new(limit as usize)), limit),
                ))
            })
            .collect();
        let rates = (settings.tools.keys())
            .map(|tool| (tool.clone(), settings.rate_limit_for(tool)))
            .collect();
        Admission {
            global: Arc::new(Semaphore::new(settings.max_calls as usize)),
            global_limit: settings.max_calls,
            wait: settings.wait,
            per_tool,
            rates,
            default_rate: settings.rate_limit,
            buckets: RateBuckets::new(clock),
        }
    }

    /// Admit a call of `tool` by `subject`, waiting at most the configured
    /// time for a free slot.
    pub(crate) async fn admit(&self, subject: &str, tool: &str) -> Result<Admitted, Rejection> {
        let rate = self.rates.get(tool).copied().unwrap_or(self.default_rate);
        if let Err(retry_after) = self.buckets.take(subject, tool, rate) {
            return Err(Rejection::RateLimited {
                tool: tool.to_owned(),
                subject: subject.to_owned(),
                per_minute: rate.per_minute,
                burst: rate.burst,
                retry_after,
            });
        }
        let started = Instant::now();
        let deadline = started + self.wait;
        let busy = |scope: String, limit: u32| {
            self.buckets.refund(subject, tool, rate);
            Rejection::Busy {
                tool: tool.to_owned(),
                scope,
                limit,
                waited: started.elapsed(),
            }
        };
        // The tool's slot first: a call waiting for its tool holds no global
        // slot that other tools' calls could use.
        let tool_permit = match self.per_tool.get(tool) {
            None => None,
            Some((semaphore, limit)) => Some(
                acquire(semaphore.clone(), deadline)
                    .await
                    .ok_or_else(|| busy(format!("of {tool}"), *limit))?,
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
}

async fn acquire(semaphore: Arc<Semaphore>, deadline: Instant) -> Option<OwnedSemaphorePermit> {
    let wait = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
        Ok(Ok(permit)) => Some(permit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RateLimit, RateLimitOverride, ToolPolicy};
    use super::*;

    fn settings(adjust: impl FnOnce(&mut PolicySettings)) -> PolicySettings {
        let mut settings = PolicySettings {
            wait: Duration::from_millis(50),
            rate_limit: RateLimit::OFF,
            ..PolicySettings::default()
        };
        adjust(&mut settings);
        settings
    }

    fn admission(adjust: impl FnOnce(&mut PolicySettings)) -> Admission {
        Admission::new(&settings(adjust), crate::clock::system())
    }

    #[tokio::test]
    async fn a_full_tool_makes_the_next_call_wait_then_fail_busy() {
        let admission = admission(|s| {
            s.tools.insert(
                "slow".into(),
                ToolPolicy {
                    max_concurrent: Some(1),
                    ..Default::default()
                },
            );
        });
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
        let admission = Arc::new(admission(|s| {
            s.max_calls = 1;
            s.wait = Duration::from_secs(5);
        }));
        let first = admission.admit("alice", "t").await.unwrap();
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.admit("bob", "t").await.map(|_| ()) })
        };
        // On this single-threaded runtime, yielding runs the waiter until it
        // blocks on the full semaphore.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished(), "it waits for the slot");
        drop(first);
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_rate_limit_names_the_caller_and_when_to_retry() {
        let admission = admission(|s| {
            s.rate_limit = RateLimit {
                per_minute: 60,
                burst: 2,
            }
        });
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

    #[tokio::test]
    async fn a_call_that_finds_no_slot_spends_no_rate_token() {
        let admission = admission(|s| {
            s.max_calls = 1;
            s.rate_limit = RateLimit {
                per_minute: 1,
                burst: 2,
            };
            s.tools.insert(
                "t".into(),
                ToolPolicy {
                    rate_limit: Some(RateLimitOverride {
                        per_minute: Some(1),
                        burst: None,
                    }),
                    ..Default::default()
                },
            );
        });
        let held = admission.admit("alice", "t").await.unwrap();
        assert_eq!(
            admission.admit("alice", "t").await.unwrap_err().reason(),
            "busy"
        );
        drop(held);
        // Two tokens in all: one spent by the first call, the busy one refunded.
        let _second = admission.admit("alice", "t").await.unwrap();
    }
}
