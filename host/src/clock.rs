//! Time, injectable: everything that expires (tokens, codes, cache entries,
//! rate buckets) asks a [`Clock`], so tests move time forward instead of
//! sleeping.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Wall-clock time: what token `exp` claims and stored deadlines are
    /// compared with.
    fn now(&self) -> SystemTime;

    /// Monotonic time: what lifetimes in memory (cache entries, rate
    /// buckets) are measured with.
    fn instant(&self) -> Instant;

    /// Whole seconds since the Unix epoch.
    fn unix_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Milliseconds since the Unix epoch.
    fn unix_millis(&self) -> i64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until told to move: for tests of expiry.
/// It starts at the real time of its creation.
#[derive(Debug)]
pub struct ManualClock {
    start_wall: SystemTime,
    start_mono: Instant,
    elapsed: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start_wall: SystemTime::now(),
            start_mono: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// A clock at the current time, shared.
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock::default())
    }

    /// Move both clocks forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.start_wall + self.elapsed()
    }

    fn instant(&self) -> Instant {
        self.start_mono + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let (wall, mono) = (clock.now(), clock.instant());
        assert_eq!(clock.now(), wall);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now().duration_since(wall).unwrap().as_secs(), 90);
        assert_eq!(clock.instant() - mono, Duration::from_secs(90));
        assert!(clock.unix_secs() >= 90);
    }
}
