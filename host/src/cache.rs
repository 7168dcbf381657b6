//! The one cache policy of the host: bounded, with a lifetime per entry,
//! single-flight loads and room for negative answers.
//!
//! Every cache of things a client can make the host look up (verified
//! tokens, opaque tokens, roles, client metadata documents, client ids)
//! is a [`BoundedCache`]:
//! - **capacity**: at most `capacity` entries; a new entry evicts the
//!   oldest inserted one. Nothing is ever cleared all at once, so a full
//!   cache does not make every client miss at the same time.
//! - **lifetime**: each entry is kept for the time its loader returned, and
//!   never served after it (the clock is injectable, see [`crate::clock`]).
//! - **single flight**: callers that miss on the same key at the same time
//!   share one load.
//! - **negative caching**: a value may be a `Result`; the loader chooses a
//!   short lifetime for failures, so a failing upstream is asked once per
//!   key per lifetime, not once per request.

use crate::clock::SharedClock;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// A bounded map from keys to values with a lifetime each.
pub struct BoundedCache<K, V> {
    name: &'static str,
    capacity: usize,
    clock: SharedClock,
    entries: Mutex<Entries<K, V>>,
    loading: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Insertion order, oldest first, as (sequence, key); an element whose
    /// sequence is not its key's current one is stale and skipped.
    order: VecDeque<(u64, K)>,
    next: u64,
}

struct Entry<V> {
    value: V,
    until: Instant,
    seq: u64,
}

impl<K, V> std::fmt::Debug for BoundedCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedCache")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    /// An empty cache of at most `capacity` entries (at least one), named
    /// `name` in logs.
    pub fn new(name: &'static str, capacity: usize, clock: SharedClock) -> Self {
        BoundedCache {
            name,
            capacity: capacity.max(1),
            clock,
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                order: VecDeque::new(),
                next: 0,
            }),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The value under `key`, if present and not expired.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = self.clock.instant();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .map
            .get(key)
            .filter(|e| now < e.until)
            .map(|e| e.value.clone())
    }

    /// Keep `value` under `key` for `ttl` (zero: not kept).
    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = self.clock.instant();
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut *guard;
        if !entries.map.contains_key(&key) {
            while entries.map.len() >= self.capacity {
                if !evict_one(entries) {
                    break;
                }
            }
        }
        let seq = entries.next;
        entries.next += 1;
        entries.order.push_back((seq, key.clone()));
        entries.map.insert(
            key,
            Entry {
                value,
                until: now + ttl,
                seq,
            },
        );
        // Replaced keys leave stale elements behind; keep the queue bounded.
        if entries.order.len() > 2 * self.capacity + 16 {
            let map = &entries.map;
            entries
                .order
                .retain(|(seq, key)| map.get(key).is_some_and(|e| e.seq == *seq));
        }
    }

    /// Forget `key`.
    pub fn remove(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.remove(key);
    }

    /// How many entries are held (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries this cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The value under `key`; on a miss, `load` runs once for all the
    /// callers missing on `key` at the same time, and its value is kept for
    /// the lifetime it returns (zero: handed to the waiting callers, not
    /// kept). If the caller running the load goes away, a waiting caller
    /// runs its own.
    pub async fn get_or_load<F, Fut>(&self, key: &K, load: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, Duration)>,
    {
        if let Some(value) = self.get(key) {
            return value;
        }
        let cell = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(key.clone()).or_default().clone()
        };
        let _done = LoadingGuard {
            cache: self,
            key,
            cell: &cell,
        };
        cell.get_or_init(|| async {
            // Another caller may have finished a load just before this one
            // joined (its cell was already gone).
            if let Some(value) = self.get(key) {
                return value;
            }
            let (value, ttl) = load().await;
            self.insert(key.clone(), value.clone(), ttl);
            value
        })
        .await
        .clone()
    }
}

/// Removes a finished (or abandoned) load from the in-flight map, so it
/// holds only loads that some caller is running.
struct LoadingGuard<'a, K: Eq + Hash, V> {
    cache: &'a BoundedCache<K, V>,
    key: &'a K,
    cell: &'a Arc<OnceCell<V>>,
}

impl<K: Eq + Hash, V> Drop for LoadingGuard<'_, K, V> {
    fn drop(&mut self) {
        let mut loading = self.cache.loading.lock().unwrap_or_else(|e| e.into_inner());
        if loading
            .get(self.key)
            .is_some_and(|c| Arc::ptr_eq(c, self.cell))
        {
            loading.remove(self.key);
        }
    }
}

/// Evict the oldest inserted entry; false when there is nothing to evict.
fn evict_one<K: Eq + Hash, V>(entries: &mut Entries<K, V>) -> bool {
    while let Some((seq, key)) = entries.order.pop_front() {
        if entries.map.get(&key).is_some_and(|e| e.seq == seq) {
            entries.map.remove(&key);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cache(capacity: usize) -> (BoundedCache<u32, String>, Arc<ManualClock>) {
        let clock = ManualClock::new();
        (BoundedCache::new("test", capacity, clock.clone()), clock)
    }

    #[test]
    fn entries_end_at_their_lifetime() {
        let (c, clock) = cache(10);
        c.insert(1, "one".into(), Duration::from_secs(60));
        c.insert(2, "two".into(), Duration::from_secs(5));
        c.insert(3, "never kept".into(), Duration::ZERO);
        assert_eq!(c.get(&1).as_deref(), Some("one"));
        assert_eq!(c.get(&2).as_deref(), Some("two"));
        assert_eq!(c.get(&3), None);
        clock.advance(Duration::from_secs(5));
        assert_eq!(c.get(&2), None, "not served at its end");
        assert_eq!(c.get(&1).as_deref(), Some("one"));
    }

    #[test]
    fn a_full_cache_evicts_the_oldest_not_everything() {
        let (c, _clock) = cache(3);
        for k in 0..3 {
            c.insert(k, k.to_string(), Duration::from_secs(60));
        }
        c.insert(0, "zero again".into(), Duration::from_secs(60));
        c.insert(3, "3".into(), Duration::from_secs(60));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(&1), None, "the oldest insertion went");
        assert_eq!(c.get(&0).as_deref(), Some("zero again"));
        assert_eq!(c.get(&2).as_deref(), Some("2"));
        assert_eq!(c.get(&3).as_deref(), Some("3"));
        for k in 100..10_000 {
            c.insert(k, String::new(), Duration::from_secs(60));
            assert!(c.len() <= 3);
        }
        let queue = c.entries.lock().unwrap().order.len();
        assert!(
            queue <= 2 * 3 + 16,
            "the order queue stays bounded: {queue}"
        );
    }

    #[tokio::test]
    async fn callers_missing_together_share_one_load() {
        let (c, clock) = cache(10);
        let c = Arc::new(c);
        let loads = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (c, loads, gate) = (c.clone(), loads.clone(), gate.clone());
            waiting.push(tokio::spawn(async move {
                c.get_or_load(&7, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    ("loaded".to_owned(), Duration::from_secs(10))
                })
                .await
            }));
        }
        // Let every task join the load, then let it finish.
        while c.loading.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for task in waiting {
            assert_eq!(task.await.unwrap(), "loaded");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(c.loading.lock().unwrap().is_empty());
        clock.advance(Duration::from_secs(10));
        let again = c
            .get_or_load(&7, || async {
                ("reloaded".to_owned(), Duration::from_secs(1))
            })
            .await;
        assert_eq!(again, "reloaded", "expired, so loaded again");
    }

    #[tokio::test]
    async fn an_abandoned_load_leaves_nothing_behind() {
        let (c, _clock) = cache(10);
        let c = Arc::new(c);
        let started = Arc::new(tokio::sync::Notify::new());
        let task = {
            let (c, started) = (c.clone(), started.clone());
            tokio::spawn(async move {
                c.get_or_load(&1, || async move {
                    started.notify_one();
                    std::future::pending::<()>().await;
                    (String::new(), Duration::from_secs(1))
                })
                .await
            })
        };
        started.notified().await;
        task.abort();
        let _ = task.await;
        assert!(c.loading.lock().unwrap().is_empty());
        let v = c
            .get_or_load(&1, || async {
                ("second".to_owned(), Duration::from_secs(1))
            })
            .await;
        assert_eq!(v, "second");
    }
}
