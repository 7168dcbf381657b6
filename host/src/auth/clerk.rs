//! Clerk specifics: the frontend API host inside a publishable key, and what
//! the Backend API says: roles, opaque tokens, OAuth applications.
//!
//! Every answer is cached in a [`BoundedCache`] (bounded, single-flight),
//! failures included for a short while, so a flood of unknown users or
//! tokens costs one Backend API request per distinct value and lifetime,
//! and the caches cannot grow past their capacity.

use super::{RoleError, RoleResolver, RolesFuture};
use crate::Principal;
use crate::cache::BoundedCache;
use crate::clock::SharedClock;
use crate::secret::Secret;
use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;

/// Why a publishable key is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PublishableKeyError(String);

/// Why the Backend API gave no answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkError {
    /// It could not be reached, or failed (5xx): retry later.
    #[error("Clerk's Backend API is unavailable: {0}")]
    Unavailable(String),
    /// It answered, and the answer is no (unknown, revoked, expired).
    #[error("{0}")]
    Refused(String),
}

/// The frontend API host in a publishable key: `pk_test_`/`pk_live_` +
/// base64 of `<host>$`.
pub fn publishable_key_host(key: &str) -> Result<String, PublishableKeyError> {
    let bad = |why: &str| PublishableKeyError(why.to_owned());
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(|| bad("must start with pk_test_ or pk_live_"))?;
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = engine
        .decode(encoded)
        .map_err(|e| bad(&format!("not base64 after the prefix: {e}")))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("does not decode to text"))?;
    let host = text
        .strip_suffix('$')
        .ok_or_else(|| bad("does not decode to a host ending in '$'"))?;
    let valid = !host.is_empty()
        && !host.contains('$')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
    if !valid {
        return Err(bad(&format!(
            "decodes to {host:?}, which is not a host name"
        )));
    }
    Ok(host.to_owned())
}

/// Where the Backend API is and how long its answers are kept.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// e.g. `https://api.clerk.com`.
    pub api_url: String,
    /// The secret key (sent as a bearer token to the Backend API only).
    pub secret_key: Secret,
    /// How long a subject's roles (and a client id lookup) are cached.
    pub cache_ttl: Duration,
}

/// Entries each cache keeps at most.
pub const CACHE_CAPACITY: usize = 10_000;
/// How long a verified opaque token is trusted without asking again, at most.
const OPAQUE_CACHE_MAX: Duration = Duration::from_secs(300);
/// How long a refusal (an unknown token, user or client) is remembered.
const REFUSED_TTL: Duration = Duration::from_secs(30);
/// How long an outage is remembered before the next attempt for the same
/// key.
const UNAVAILABLE_TTL: Duration = Duration::from_secs(2);

/// The lifetime of a failed answer in a cache.
fn failure_ttl(e: &ClerkError) -> Duration {
    match e {
        ClerkError::Unavailable(_) => UNAVAILABLE_TTL,
        ClerkError::Refused(_) => REFUSED_TTL,
    }
}

/// Roles from Clerk's Backend API: `public_metadata.roles` of the user and
/// the role of each organization membership (without the `org:` prefix),
/// cached per subject; opaque OAuth tokens; OAuth applications.
pub struct ClerkBackend {
    settings: BackendSettings,
    client: reqwest::Client,
    clock: SharedClock,
    roles: BoundedCache<String, Result<Vec<String>, ClerkError>>,
    /// Opaque tokens by SHA-256 (never the token itself).
    opaque: BoundedCache<[u8; 32], Result<Principal, ClerkError>>,
    /// OAuth client ids looked up, with the answer.
    clients: BoundedCache<String, Result<bool, ClerkError>>,
}

impl ClerkBackend {
    /// A client of the Backend API described by `settings`.
    pub fn new(settings: BackendSettings, client: reqwest::Client, clock: SharedClock) -> Self {
        ClerkBackend {
            roles: BoundedCache::new("clerk roles", CACHE_CAPACITY, clock.clone()),
            opaque: BoundedCache::new("clerk opaque tokens", CACHE_CAPACITY, clock.clone()),
            clients: BoundedCache::new("clerk clients", CACHE_CAPACITY, clock.clone()),
            settings,
            client,
            clock,
        }
    }

    /// Whether `client_id` is one of the instance's OAuth applications. The
    /// Backend API has no filter by client id (an unknown parameter is
    /// ignored and every application comes back), so the id is searched
    /// with `name_query` and must match exactly. Answers are cached for the
    /// roles cache's lifetime.
    pub async fn client_exists(&self, client_id: &str) -> Result<bool, ClerkError> {
        if client_id.is_empty() || client_id.len() > 256 {
            return Ok(false);
        }
        let key = client_id.to_owned();
        self.clients
            .get_or_load(&key, || async {
                let found = self.lookup_client(client_id).await;
                let ttl = match &found {
                    Ok(_) => self.settings.cache_ttl,
                    Err(e) => failure_ttl(e),
                };
                (found, ttl)
            })
            .await
    }

    async fn lookup_client(&self, client_id: &str) -> Result<bool, ClerkError> {
        let body = self
            .send(
                "GET /v1/oauth_applications",
                self.client
                    .get(format!("{}/v1/oauth_applications", self.settings.api_url))
                    .query(&[("name_query", client_id), ("limit", "100")]),
            )
            .await?;
        // `{"data": [...], "total_count": n}`, or a bare list.
        let apps = body.get("data").unwrap_or(&body).as_array();
        Ok(apps
            .into_iter()
            .flatten()
            .any(|app| app.get("client_id").and_then(Value::as_str) == Some(client_id)))
    }

    /// Verify an opaque OAuth access token (`oat_…`) with the Backend API;
    /// the answer is cached for the token's remaining lifetime (at most five
    /// minutes, so a revocation is seen soon), a refusal for 30 s.
    pub async fn verify_opaque(&self, token: &str) -> Result<Principal, ClerkError> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        self.opaque
            .get_or_load(&key, || async {
                match self.ask_opaque(token).await {
                    Ok((principal, ttl)) => (Ok(principal), ttl),
                    Err(e) => {
                        let ttl = failure_ttl(&e);
                        (Err(e), ttl)
                    }
                }
            })
            .await
    }

    async fn ask_opaque(&self, token: &str) -> Result<(Principal, Duration), ClerkError> {
        let body = self
            .send(
                "token verification",
                self.client
                    .post(format!(
                        "{}/v1/oauth_applications/access_tokens/verify",
                        self.settings.api_url
                    ))
                    .json(&serde_json::json!({ "access_token": token })),
            )
            .await?;
        if body.get("revoked") == Some(&Value::Bool(true))
            || body.get("expired") == Some(&Value::Bool(true))
        {
            return Err(ClerkError::Refused("token revoked or expired".into()));
        }
        let subject = body
            .get("subject")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ClerkError::Refused("verified token has no subject".into()))?
            .to_owned();
        let scopes = body
            .get("scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let principal = Principal {
            subject,
            scopes: scopes
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            client_id: body
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ..Principal::default()
        };
        // `expiration` is a Unix time in milliseconds (or absent: no expiry).
        let now_ms = self.clock.unix_millis().max(0) as u64;
        let lifetime = match body.get("expiration").and_then(Value::as_u64) {
            Some(ms) if ms <= now_ms => return Err(ClerkError::Refused("token expired".into())),
            Some(ms) => Duration::from_millis(ms - now_ms).min(OPAQUE_CACHE_MAX),
            None => OPAQUE_CACHE_MAX,
        };
        Ok((principal, lifetime))
    }

    /// Send `request` with the secret key; the JSON answer. A 4xx is a
    /// refusal, anything else that is not a success an outage.
    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, ClerkError> {
        let response = request
            .bearer_auth(self.settings.secret_key.expose())
            .send()
            .await
            .map_err(|e| ClerkError::Unavailable(format!("{what}: {e}")))?;
        let status = response.status();
        if status.is_client_error() {
            return Err(ClerkError::Refused(format!(
                "the Backend API refused {what} (HTTP {})",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(ClerkError::Unavailable(format!(
                "{what}: HTTP {}",
                status.as_u16()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| ClerkError::Unavailable(format!("{what}: unreadable answer: {e}")))
    }

    async fn fetch_roles(&self, subject: &str) -> Result<Vec<String>, ClerkError> {
        let id: String = subject
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if id != subject {
            return Err(ClerkError::Refused(format!(
                "subject {subject:?} is not a Clerk user id"
            )));
        }
        let get = |path: String| {
            let url = format!("{}{path}", self.settings.api_url);
            async move {
                self.send(&format!("GET {path}"), self.client.get(url))
                    .await
            }
        };
        let user = get(format!("/v1/users/{id}")).await?;
        let memberships = get(format!("/v1/users/{id}/organization_memberships")).await?;
        let mut roles: Vec<String> = Vec::new();
        if let Some(list) = user
            .pointer("/public_metadata/roles")
            .and_then(Value::as_array)
        {
            roles.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let data = memberships
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        roles.extend(
            data.filter_map(|m| m.get("role").and_then(Value::as_str))
                .map(str::to_owned),
        );
        Ok(roles)
    }
}

impl RoleResolver for ClerkBackend {
    fn roles<'a>(&'a self, principal: &'a Principal) -> RolesFuture<'a> {
        Box::pin(async move {
            let subject = principal.subject.clone();
            self.roles
                .get_or_load(&subject, || async {
                    let roles = self.fetch_roles(&principal.subject).await;
                    let ttl = match &roles {
                        Ok(_) => self.settings.cache_ttl,
                        Err(e) => failure_ttl(e),
                    };
                    (roles, ttl)
                })
                .await
                .map_err(RoleError::new)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_decode_to_the_frontend_host() {
        // base64("clerk.example.com$"), with and without padding.
        assert_eq!(
            publishable_key_host("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k").unwrap(),
            "clerk.example.com"
        );
        assert_eq!(
            publishable_key_host("pk_live_Y2xlcmsuZXhhbXBsZS5jb20k").unwrap(),
            "clerk.example.com"
        );
        // base64("fond-eel-12.clerk.accounts.dev$")
        let key = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("fond-eel-12.clerk.accounts.dev$")
        );
        assert_eq!(
            publishable_key_host(&key).unwrap(),
            "fond-eel-12.clerk.accounts.dev"
        );
    }

    #[test]
    fn bad_publishable_keys_say_why() {
        assert!(
            publishable_key_host("sk_test_abc")
                .unwrap_err()
                .to_string()
                .contains("pk_test_")
        );
        assert!(
            publishable_key_host("pk_test_!!!")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        let no_dollar = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("host")
        );
        assert!(
            publishable_key_host(&no_dollar)
                .unwrap_err()
                .to_string()
                .contains('$')
        );
        let two = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("a$b$")
        );
        assert!(publishable_key_host(&two).is_err());
    }
}
