//! A cache of an issuer's signing keys (JWKS), parsed once per key.
//!
//! - Keys are refreshed when the `Cache-Control: max-age` of the last fetch
//!   (clamped to configured bounds) runs out.
//! - An unknown `kid` triggers a refetch (key rotation), at most once per
//!   `unknown_kid_interval`, so junk tokens cannot make us hammer the issuer.
//! - One fetch is in flight at a time, however many requests wait for it.
//! - If the endpoint is down, the last good keys keep serving, and a failed
//!   fetch is not retried for `unknown_kid_interval` however many tokens
//!   arrive (a flood of tokens during an outage costs one fetch per
//!   interval).

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A parsed key and the one algorithm it may verify.
pub struct VerifyingKey {
    /// The key.
    pub key: DecodingKey,
    /// RS256 or ES256.
    pub algorithm: Algorithm,
}

/// Timings of the cache.
#[derive(Debug, Clone)]
pub struct JwksPolicy {
    /// Lifetime when the response has no usable `max-age`.
    pub default_ttl: Duration,
    /// Lower bound on a response's `max-age`.
    pub min_ttl: Duration,
    /// Upper bound on a response's `max-age`.
    pub max_ttl: Duration,
    /// At most one refetch for unknown `kid`s per this interval.
    pub unknown_kid_interval: Duration,
    /// Time limit of one fetch.
    pub fetch_timeout: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy {
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
            unknown_kid_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// Why no key could be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The issuer publishes no key with this id.
    #[error("no signing key with kid {0:?}")]
    UnknownKey(String),
    /// No keys have ever been fetched and the endpoint fails.
    #[error("signing keys unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<VerifyingKey>>,
    /// When the keys go stale; `None` before the first fetch.
    fresh_until: Option<Instant>,
    last_attempt: Option<Instant>,
    /// When the last attempt failed, if it did.
    failed_at: Option<Instant>,
    /// The last failure, answered during the backoff.
    last_error: Option<JwksError>,
    /// Bumped by every fetch attempt, so waiters can tell one happened.
    generation: u64,
}

enum Source {
    Url {
        url: String,
        client: reqwest::Client,
    },
    Static,
}

/// The signing keys of one issuer. Cheap to clone.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    policy: JwksPolicy,
    state: RwLock<State>,
    fetch: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

fn algorithm_for(jwk: &Jwk) -> Option<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

/// Parse the keys of a JWKS document that we can use: RSA (RS256) and P-256
/// (ES256) keys with a `kid`. Others are skipped.
pub fn parse_keys(set: &JwkSet) -> HashMap<String, Arc<VerifyingKey>> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), algorithm_for(jwk)) else {
            continue;
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, Arc::new(VerifyingKey { key, algorithm }));
            }
            Err(e) => tracing::warn!(kid, error = %e, "skipping an unusable signing key"),
        }
    }
    keys
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|d| {
        let d = d.trim();
        d.strip_prefix("max-age=")
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
    })
}

impl JwksCache {
    /// Keys fetched from `url` with `client`.
    pub fn from_url(url: String, client: reqwest::Client, policy: JwksPolicy) -> Self {
        Self::new(Source::Url { url, client }, policy, State::default())
    }

    /// A fixed key set that is never refetched (the development issuer).
    pub fn fixed(set: &JwkSet) -> Self {
        let state = State {
            keys: parse_keys(set),
            ..State::default()
        };
        Self::new(Source::Static, JwksPolicy::default(), state)
    }

    fn new(source: Source, policy: JwksPolicy, state: State) -> Self {
        JwksCache {
            inner: Arc::new(Inner {
                source,
                policy,
                state: RwLock::new(state),
                fetch: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// How many fetches were made (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The key with id `kid`, refreshing the set when it is stale or does
    /// not know the id.
    pub async fn key_for(&self, kid: &str) -> Result<Arc<VerifyingKey>, JwksError> {
        if matches!(self.inner.source, Source::Static) {
            return self
                .read()
                .keys
                .get(kid)
                .cloned()
                .ok_or_else(|| JwksError::UnknownKey(kid.to_owned()));
        }
        let now = Instant::now();
        let (known, stale, generation, may_refetch, backing_off) = {
            let s = self.read();
            let known = s.keys.get(kid).cloned();
            let stale = s.fresh_until.is_none_or(|t| now >= t);
            let may_refetch = s
                .last_attempt
                .is_none_or(|t| now.duration_since(t) >= self.inner.policy.unknown_kid_interval);
            let backing_off = (s.failed_at)
                .filter(|t| now.duration_since(*t) < self.inner.policy.unknown_kid_interval)
                .and(s.last_error.clone());
            (known, stale, s.generation, may_refetch, backing_off)
        };
        // The endpoint just failed: answer from what is cached, fetch nothing.
        if let Some(error) = backing_off {
            return match known {
                Some(key) => Ok(key),
                None if self.read().keys.is_empty() => Err(error),
                None => Err(JwksError::UnknownKey(kid.to_owned())),
            };
        }
        match known {
            Some(key) if !stale => return Ok(key),
            Some(key) => {
                // Stale: refresh, but a failure keeps the last good key serving.
                if let Err(e) = self.refresh(generation).await {
                    tracing::warn!(error = %e, "JWKS refresh failed; using the cached keys");
                }
                return Ok(self.read().keys.get(kid).cloned().unwrap_or(key));
            }
            None if !stale && !may_refetch => return Err(JwksError::UnknownKey(kid.to_owned())),
            None => {}
        }
        let refreshed = self.refresh(generation).await;
        let s = self.read();
        match (s.keys.get(kid), refreshed) {
            (Some(key), _) => Ok(key.clone()),
            (None, Err(e)) if s.keys.is_empty() => Err(e),
            (None, _) => Err(JwksError::UnknownKey(kid.to_owned())),
        }
    }

    /// Fetch the key set unless another fetch happened since `seen`.
    async fn refresh(&self, seen: u64) -> Result<(), JwksError> {
        let _one_at_a_time = self.inner.fetch.lock().await;
        if self.read().generation != seen {
            return Ok(());
        }
        let Source::Url { url, client } = &self.inner.source else {
            return Ok(());
        };
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch(url, client).await;
        let mut s = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        s.generation += 1;
        s.last_attempt = Some(Instant::now());
        s.failed_at = result.is_err().then(Instant::now);
        s.last_error = result
            .as_ref()
            .err()
            .map(|e| JwksError::Unavailable(e.clone()));
        match result {
            Ok((keys, ttl)) => {
                metrics::counter!("toolhost_jwks_fetches_total", "outcome" => "ok").increment(1);
                tracing::debug!(
                    url,
                    keys = keys.len(),
                    ttl_secs = ttl.as_secs(),
                    "JWKS fetched"
                );
                s.keys = keys;
                s.fresh_until = Some(Instant::now() + ttl);
                Ok(())
            }
            Err(e) => {
                metrics::counter!("toolhost_jwks_fetches_total", "outcome" => "error").increment(1);
                tracing::warn!(url, error = %e, "JWKS fetch failed");
                Err(JwksError::Unavailable(e))
            }
        }
    }

    async fn fetch(
        &self,
        url: &str,
        client: &reqwest::Client,
    ) -> Result<(HashMap<String, Arc<VerifyingKey>>, Duration), String> {
        let policy = &self.inner.policy;
        let response = client
            .get(url)
            .timeout(policy.fetch_timeout)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let ttl = max_age(response.headers())
            .unwrap_or(policy.default_ttl)
            .clamp(policy.min_ttl, policy.max_ttl);
        let set: JwkSet = response
            .json()
            .await
            .map_err(|e| format!("GET {url}: not a JWKS: {e}"))?;
        let keys = parse_keys(&set);
        if keys.is_empty() {
            return Err(format!(
                "GET {url}: no usable RS256 or ES256 key with a kid"
            ));
        }
        Ok((keys, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_endpoint_that_fails_is_asked_once_per_interval() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let policy = JwksPolicy {
            unknown_kid_interval: Duration::from_secs(60),
            ..JwksPolicy::default()
        };
        let cache = JwksCache::from_url(url, reqwest::Client::new(), policy);
        for kid in 0..20 {
            let e = cache.key_for(&format!("k{kid}")).await.err().unwrap();
            assert!(matches!(e, JwksError::Unavailable(_)), "{e}");
        }
        assert_eq!(
            cache.fetches(),
            1,
            "one fetch for 20 tokens during the outage"
        );
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(
            reqwest::header::CACHE_CONTROL,
            "public, max-age=600, must-revalidate".parse().unwrap(),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
    }
}
