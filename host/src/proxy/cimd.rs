//! Client ID Metadata Documents: a `client_id` that is an https URL names a
//! JSON document, published by the client, that stands in for a
//! registration.
//!
//! The document is fetched with care, since the URL comes from anyone: https
//! only; every address the host resolves to must be public (see
//! [`crate::net`]: no loopback, private, link-local, unique-local or other
//! special-purpose addresses), and the connection goes
//! to the address checked; no redirects; 5 seconds and 64 KiB at most.
//! Its `client_id` must be the URL itself; it may not hold a secret. Valid
//! documents are cached for their `Cache-Control: max-age` (60 s to a day,
//! 5 minutes by default); a URL that fails is remembered for 30 s, so
//! repeating it costs no further request. Fetches of one URL at the same
//! time are one fetch.

use crate::cache::BoundedCache;
use crate::clock::SharedClock;
use crate::net::is_public;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest document accepted.
const MAX_BYTES: usize = 64 * 1024;
/// Documents (and failures) remembered at most.
pub const MAX_CACHED: usize = 1000;
/// How long a failure is remembered.
const FAILURE_TTL: Duration = Duration::from_secs(30);

/// Why a metadata document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CimdError(String);

impl From<String> for CimdError {
    fn from(s: String) -> Self {
        CimdError(s)
    }
}

impl From<&str> for CimdError {
    fn from(s: &str) -> Self {
        CimdError(s.to_owned())
    }
}

/// Fetched documents by URL.
pub(crate) struct Documents {
    cache: BoundedCache<(String, bool), Result<serde_json::Value, CimdError>>,
}

/// Whether `client_id` names a metadata document rather than a registration.
pub(crate) fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Duration {
    let seconds = headers
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
        })
        .unwrap_or(300);
    Duration::from_secs(seconds.clamp(60, 86_400))
}

impl Documents {
    /// An empty cache measured by `clock`.
    pub(crate) fn new(clock: SharedClock) -> Self {
        Documents {
            cache: BoundedCache::new("client metadata documents", MAX_CACHED, clock),
        }
    }

    /// The document `url` names, validated (see the module docs).
    /// `allow_private` lifts the https and public-address rules, for
    /// development on one machine.
    pub(crate) async fn get(
        &self,
        url: &str,
        allow_private: bool,
    ) -> Result<serde_json::Value, CimdError> {
        if url.len() > 2048 {
            return Err("a client id URL may be at most 2048 characters".into());
        }
        let key = (url.to_owned(), allow_private);
        self.cache
            .get_or_load(&key, || async {
                match fetch(url, allow_private).await {
                    Ok((doc, ttl)) => (Ok(doc), ttl),
                    Err(e) => (Err(CimdError(e)), FAILURE_TTL),
                }
            })
            .await
    }
}

async fn fetch(url: &str, allow_private: bool) -> Result<(serde_json::Value, Duration), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => return Err(format!("a client id URL must be https, not {other}")),
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a client id URL may not have a fragment or credentials".into());
    }
    if parsed.path().len() <= 1 {
        return Err("a client id URL must have a path".into());
    }
    let host = parsed.host_str().ok_or("the URL has no host")?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((bare.as_str(), port)),
    )
    .await
    .map_err(|_| format!("resolving {host} timed out"))?
    .map_err(|e| format!("cannot resolve {host}: {e}"))?
    .collect();
    let first = *addrs.first().ok_or(format!("{host} has no address"))?;
    if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, which is not a public address",
            bad.ip()
        ));
    }
    // Connect to the address just checked, not to a second lookup's.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&bare, first)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client
        .get(parsed.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("fetching the client metadata document: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!(
            "the client metadata document answered HTTP {} (redirects are not followed)",
            response.status().as_u16()
        ));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BYTES as u64)
    {
        return Err(format!(
            "the client metadata document is over {MAX_BYTES} bytes"
        ));
    }
    let ttl = max_age(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the client metadata document: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            return Err(format!(
                "the client metadata document is over {MAX_BYTES} bytes"
            ));
        }
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the client metadata document is not JSON: {e}"))?;
    if doc.get("client_id").and_then(|v| v.as_str()) != Some(url) {
        return Err("the document's client_id is not its own URL".into());
    }
    if doc.get("client_secret").is_some() {
        return Err("a client metadata document may not hold a client_secret".into());
    }
    match doc
        .get("token_endpoint_auth_method")
        .and_then(|v| v.as_str())
    {
        None | Some("none") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method {other:?} is not supported for metadata documents (use \"none\")"
            ));
        }
    }
    Ok((doc, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_and_insecure_urls_are_refused_before_any_request() {
        let docs = Documents::new(crate::clock::system());
        let e = docs
            .get("http://127.0.0.1:9/client.json", false)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be https"), "{e}");
        let e = docs
            .get("https://127.0.0.1:9/client.json", false)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a public address"), "{e}");
        let e = docs
            .get("https://example.com", false)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("must have a path"), "{e}");
    }
}
