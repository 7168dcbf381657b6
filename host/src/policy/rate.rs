//! Calls per caller over time: a token bucket per (subject, tool).

use crate::clock::SharedClock;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[rate_limit]`: a token bucket per caller (subject) and tool. A caller
/// may make `burst` calls at once, then `per_minute` calls a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained calls per minute; 0 turns the limit off.
    pub per_minute: u32,
    /// Calls allowed at once after a quiet period (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimit {
    /// 20 calls a second per caller and tool, with bursts of 100: far above
    /// what an agent does, far below what starves other callers.
    fn default() -> Self {
        RateLimit {
            per_minute: 1_200,
            burst: 100,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit {
        per_minute: 0,
        burst: 0,
    };

    /// Whether calls are limited at all.
    pub fn is_on(&self) -> bool {
        self.per_minute > 0
    }

    /// This limit with the fields `changes` sets.
    pub fn with(self, changes: RateLimitOverride) -> RateLimit {
        RateLimit {
            per_minute: changes.per_minute.unwrap_or(self.per_minute),
            burst: changes.burst.unwrap_or(self.burst),
        }
    }
}

/// `[tools.<name>.rate_limit]`: each field set replaces `[rate_limit]`'s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitOverride {
    /// Replaces [`RateLimit::per_minute`].
    pub per_minute: Option<u32>,
    /// Replaces [`RateLimit::burst`].
    pub burst: Option<u32>,
}

/// Token buckets by (subject, tool).
#[derive(Debug)]
pub(crate) struct RateBuckets {
    state: Mutex<State>,
    clock: SharedClock,
}

#[derive(Debug)]
struct State {
    buckets: HashMap<(String, String), Bucket>,
    /// Sweep when this many buckets are held (doubles while sweeps free
    /// little, so a sweep costs amortized O(1) per call).
    sweep_at: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept before idle ones (full again, so the same as none) are swept.
const SWEEP_ABOVE: usize = 10_000;
/// Buckets kept at most: past this the least recently used go (their callers
/// start again with a full bucket).
const MAX_BUCKETS: usize = 100_000;

impl RateBuckets {
    pub(crate) fn new(clock: SharedClock) -> Self {
        RateBuckets {
            state: Mutex::new(State {
                buckets: HashMap::new(),
                sweep_at: SWEEP_ABOVE,
            }),
            clock,
        }
    }

    /// Take one token, or say how long until one is available.
    pub(crate) fn take(&self, subject: &str, tool: &str, rate: RateLimit) -> Result<(), Duration> {
        if !rate.is_on() {
            return Ok(());
        }
        let now = self.clock.instant();
        let per_second = f64::from(rate.per_minute) / 60.0;
        let capacity = f64::from(rate.burst.max(1));
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.buckets.len() >= state.sweep_at {
            let refill = Duration::from_secs_f64(capacity / per_second);
            state
                .buckets
                .retain(|_, b| now.saturating_duration_since(b.at) < refill);
            if state.buckets.len() >= MAX_BUCKETS {
                let mut by_age: Vec<Instant> = state.buckets.values().map(|b| b.at).collect();
                by_age.sort_unstable();
                let cutoff = by_age[by_age.len() - MAX_BUCKETS / 2];
                state.buckets.retain(|_, b| b.at >= cutoff);
            }
            state.sweep_at = (state.buckets.len() * 2).clamp(SWEEP_ABOVE, MAX_BUCKETS);
        }
        let bucket = state
            .buckets
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

    /// Give back the token a call took, when the call did not run after all
    /// (no slot was free).
    pub(crate) fn refund(&self, subject: &str, tool: &str, rate: RateLimit) {
        if !rate.is_on() {
            return;
        }
        let capacity = f64::from(rate.burst.max(1));
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = state
            .buckets
            .get_mut(&(subject.to_owned(), tool.to_owned()))
        {
            bucket.tokens = (bucket.tokens + 1.0).min(capacity);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().unwrap().buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn rate(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit { per_minute, burst }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let clock = ManualClock::new();
        let buckets = RateBuckets::new(clock.clone());
        let r = rate(60, 3);
        for _ in 0..3 {
            assert!(buckets.take("alice", "t", r).is_ok());
        }
        let wait = buckets.take("alice", "t", r).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            buckets.take("bob", "t", r).is_ok(),
            "bob has his own bucket"
        );
        assert!(
            buckets.take("alice", "u", r).is_ok(),
            "each tool has its own bucket"
        );
        clock.advance(Duration::from_millis(1_050));
        assert!(buckets.take("alice", "t", r).is_ok(), "one token refilled");
        assert!(buckets.take("alice", "t", r).is_err());
    }

    #[test]
    fn a_refund_gives_the_token_back() {
        let buckets = RateBuckets::new(ManualClock::new());
        let r = rate(60, 1);
        buckets.take("alice", "t", r).unwrap();
        assert!(buckets.take("alice", "t", r).is_err());
        buckets.refund("alice", "t", r);
        assert!(buckets.take("alice", "t", r).is_ok());
        buckets.refund("alice", "t", r);
        buckets.refund("alice", "t", r);
        buckets.take("alice", "t", r).unwrap();
        assert!(
            buckets.take("alice", "t", r).is_err(),
            "refunds never fill past the burst"
        );
    }

    #[test]
    fn an_unlimited_tool_keeps_no_buckets_and_idle_buckets_are_swept() {
        let clock = ManualClock::new();
        let buckets = RateBuckets::new(clock.clone());
        for i in 0..1000 {
            assert!(buckets.take(&format!("u{i}"), "t", RateLimit::OFF).is_ok());
        }
        assert_eq!(buckets.len(), 0);
        for i in 0..SWEEP_ABOVE {
            buckets.take(&format!("u{i}"), "t", rate(600, 10)).unwrap();
        }
        assert_eq!(buckets.len(), SWEEP_ABOVE);
        // One second later every bucket has refilled: the next take sweeps.
        clock.advance(Duration::from_secs(2));
        buckets.take("late", "t", rate(600, 10)).unwrap();
        assert_eq!(buckets.len(), 1);
    }

    #[test]
    fn live_buckets_are_bounded_too() {
        let clock = ManualClock::new();
        let buckets = RateBuckets::new(clock.clone());
        // A slow refill: nothing is idle enough to be swept.
        let slow = rate(1, 100);
        for i in 0..MAX_BUCKETS + 10 {
            if i % 1000 == 0 {
                clock.advance(Duration::from_millis(1));
            }
            buckets.take(&format!("u{i}"), "t", slow).unwrap();
        }
        assert!(buckets.len() <= MAX_BUCKETS, "{}", buckets.len());
    }
}
