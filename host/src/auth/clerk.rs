//! Clerk specifics: the frontend API host inside a publishable key, and roles
//! from the Backend API.

use super::settings::Secret;
use super::{RoleResolver, RolesFuture};
use crate::Principal;
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The frontend API host in a publishable key: `pk_test_`/`pk_live_` +
/// base64 of `<host>$`.
pub fn publishable_key_host(key: &str) -> Result<String, String> {
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or("must start with pk_test_ or pk_live_")?;
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = engine
        .decode(encoded)
        .map_err(|e| format!("not base64 after the prefix: {e}"))?;
    let text = String::from_utf8(decoded).map_err(|_| "does not decode to text")?;
    let host = text
        .strip_suffix('$')
        .ok_or("does not decode to a host ending in '$'")?;
    let valid = !host.is_empty()
        && !host.contains('$')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
    if !valid {
        return Err(format!("decodes to {host:?}, which is not a host name"));
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
    /// How long a subject's roles are cached.
    pub cache_ttl: Duration,
}

/// Roles from Clerk's Backend API: `public_metadata.roles` of the user and
/// the role of each organization membership (without the `org:` prefix),
/// cached per subject.
pub struct ClerkBackend {
    settings: BackendSettings,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, Vec<String>)>>,
    /// Verified opaque tokens by SHA-256 (never the token itself), until
    /// they expire.
    opaque: Mutex<HashMap<[u8; 32], (Instant, Principal)>>,
    /// OAuth client ids looked up, with the answer.
    clients: Mutex<HashMap<String, (Instant, bool)>>,
}

/// Most client ids remembered; the cache is emptied when it would grow past.
const CLIENTS_CACHE_MAX: usize = 10_000;

/// How long a verified opaque token is trusted without asking again, at most.
const OPAQUE_CACHE_MAX: Duration = Duration::from_secs(300);

impl ClerkBackend {
    /// A resolver for `settings`.
    pub fn new(settings: BackendSettings, client: reqwest::Client) -> Self {
        ClerkBackend {
            settings,
            client,
            cache: Mutex::new(HashMap::new()),
            opaque: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client_id` is one of the instance's OAuth applications. The
    /// Backend API has no filter by client id (an unknown parameter is
    /// ignored and every application comes back), so the id is searched
    /// with `name_query` and must match exactly. Answers are cached for the
    /// roles cache's lifetime.
    pub async fn client_exists(&self, client_id: &str) -> Result<bool, String> {
        if client_id.is_empty() || client_id.len() > 256 {
            return Ok(false);
        }
        if let Some((at, known)) = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(client_id)
            && at.elapsed() < self.settings.cache_ttl
        {
            return Ok(*known);
        }
        let url = format!("{}/v1/oauth_applications", self.settings.api_url);
        let response = self
            .client
            .get(&url)
            .query(&[("name_query", client_id), ("limit", "100")])
            .bearer_auth(self.settings.secret_key.expose())
            .send()
            .await
            .map_err(|e| format!("GET /v1/oauth_applications: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "GET /v1/oauth_applications: HTTP {}",
                response.status()
            ));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("GET /v1/oauth_applications: {e}"))?;
        // `{"data": [...], "total_count": n}`, or a bare list.
        let apps = body.get("data").unwrap_or(&body).as_array();
        let known = apps
            .into_iter()
            .flatten()
            .any(|app| app.get("client_id").and_then(Value::as_str) == Some(client_id));
        let mut cache = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CLIENTS_CACHE_MAX {
            cache.clear();
        }
        cache.insert(client_id.to_owned(), (Instant::now(), known));
        Ok(known)
    }

    /// Verify an opaque OAuth access token (`oat_…`) with the Backend API;
    /// the answer is cached for the token's remaining lifetime (at most five
    /// minutes, so a revocation is seen soon).
    pub async fn verify_opaque(&self, token: &str) -> Result<Principal, String> {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some((until, principal)) = self
            .opaque
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && Instant::now() < *until
        {
            return Ok(principal.clone());
        }
        let url = format!(
            "{}/v1/oauth_applications/access_tokens/verify",
            self.settings.api_url
        );
        let response = self
            .client
            .post(&url)
            .bearer_auth(self.settings.secret_key.expose())
            .json(&serde_json::json!({ "access_token": token }))
            .send()
            .await
            .map_err(|e| format!("token verification request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the Backend API rejected the token (HTTP {})",
                response.status()
            ));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("token verification answer: {e}"))?;
        if body.get("revoked") == Some(&Value::Bool(true))
            || body.get("expired") == Some(&Value::Bool(true))
        {
            return Err("token revoked or expired".into());
        }
        let subject = body
            .get("subject")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let subject = subject.ok_or("verified token has no subject")?.to_owned();
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
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let lifetime = match body.get("expiration").and_then(Value::as_u64) {
            Some(ms) if ms <= now_ms => return Err("token expired".into()),
            Some(ms) => Duration::from_millis(ms - now_ms).min(OPAQUE_CACHE_MAX),
            None => OPAQUE_CACHE_MAX,
        };
        self.opaque
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (Instant::now() + lifetime, principal.clone()));
        Ok(principal)
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.settings.api_url);
        let response = self
            .client
            .get(&url)
            .bearer_auth(self.settings.secret_key.expose())
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", response.status()));
        }
        response
            .json()
            .await
            .map_err(|e| format!("GET {path}: {e}"))
    }

    async fn fetch(&self, subject: &str) -> Result<Vec<String>, String> {
        let id: String = subject
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if id != subject {
            return Err(format!("subject {subject:?} is not a Clerk user id"));
        }
        let user = self.get(&format!("/v1/users/{id}")).await?;
        let memberships = self
            .get(&format!("/v1/users/{id}/organization_memberships"))
            .await?;
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
            let subject = &principal.subject;
            if let Some((at, roles)) = self
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(subject)
                && at.elapsed() < self.settings.cache_ttl
            {
                return Ok(roles.clone());
            }
            let roles = self.fetch(subject).await?;
            self.cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(subject.clone(), (Instant::now(), roles.clone()));
            Ok(roles)
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
                .contains("pk_test_")
        );
        assert!(
            publishable_key_host("pk_test_!!!")
                .unwrap_err()
                .contains("base64")
        );
        let no_dollar = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("host")
        );
        assert!(publishable_key_host(&no_dollar).unwrap_err().contains('$'));
        let two = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("a$b$")
        );
        assert!(publishable_key_host(&two).is_err());
    }
}
