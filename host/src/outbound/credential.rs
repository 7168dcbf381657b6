//! The credentials the host attaches to a tool's request. The sandbox never
//! sees one: the guest may not set the headers they travel in, and the host
//! adds them after every check has passed.
//!
//! A *caller token* is a short JWT the host mints for the calling principal
//! and one API: ES256 with the host's signing key (published at
//! `/oauth/jwks.json`), `iss` the host's public URL, `aud` the API's
//! audience, the caller's `sub`, `roles`, `org_id`, `email` and `client_id`,
//! and `act: {"sub": "tool:<name>"}` (RFC 8693: the tool acting for the
//! caller). The client's own token never leaves the host.

use crate::Principal;
use crate::clock::SharedClock;
use crate::signing::SigningKey;
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a caller token is valid, in seconds.
pub const CALLER_TOKEN_SECS: u64 = 60;
/// A cached caller token is reused while at least this much of its life is
/// left, in seconds (so an API with a clock a little ahead still accepts it).
pub const CALLER_TOKEN_MIN_LEFT_SECS: u64 = 20;
/// Cached caller tokens at most; past it, expired ones go, then all.
pub const CALLER_TOKEN_CACHE: usize = 10_000;

/// Mints and caches caller tokens.
pub struct CallerTokens {
    key: Arc<SigningKey>,
    issuer: String,
    clock: SharedClock,
    cache: Mutex<HashMap<[u8; 32], (String, u64)>>,
}

impl std::fmt::Debug for CallerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerTokens")
            .field("issuer", &self.issuer)
            .field("kid", &self.key.kid())
            .finish_non_exhaustive()
    }
}

impl CallerTokens {
    /// Tokens signed with `key`, issued by `issuer` (the host's public URL).
    pub fn new(key: Arc<SigningKey>, issuer: String, clock: SharedClock) -> Self {
        CallerTokens {
            key,
            issuer,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The signing key (its public half is what APIs verify with).
    pub fn key(&self) -> &Arc<SigningKey> {
        &self.key
    }

    /// A token for `principal` calling `tool`, for `audience`: from the cache
    /// while it has [`CALLER_TOKEN_MIN_LEFT_SECS`] left, else a new one.
    pub fn token(
        &self,
        principal: &Principal,
        tool: &str,
        audience: &str,
    ) -> Result<String, String> {
        let now = self.clock.unix_secs();
        let act = format!("tool:{tool}");
        let claims_key = json!([
            principal.subject,
            principal.roles,
            principal.org_id,
            principal.email,
            principal.client_id,
            act,
            audience
        ]);
        let key: [u8; 32] = Sha256::digest(claims_key.to_string().as_bytes()).into();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, exp)) = cache.get(&key)
            && *exp >= now + CALLER_TOKEN_MIN_LEFT_SECS
        {
            metrics::counter!("toolhost_caller_tokens_total", "source" => "cache").increment(1);
            return Ok(token.clone());
        }
        let exp = now + CALLER_TOKEN_SECS;
        let jti = crate::signing::random_bytes::<16>()
            .map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
            .map_err(|e| e.to_string())?;
        let mut claims = json!({
            "iss": self.issuer,
            "aud": audience,
            "sub": principal.subject,
            "roles": principal.roles,
            "act": {"sub": act},
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": jti,
        });
        for (name, value) in [
            ("org_id", &principal.org_id),
            ("email", &principal.email),
            ("client_id", &principal.client_id),
        ] {
            if let Some(value) = value {
                claims[name] = json!(value);
            }
        }
        let token = self.key.sign(&claims).map_err(|e| e.to_string())?;
        if cache.len() >= CALLER_TOKEN_CACHE {
            cache.retain(|_, (_, exp)| *exp >= now + CALLER_TOKEN_MIN_LEFT_SECS);
            if cache.len() >= CALLER_TOKEN_CACHE {
                cache.clear();
            }
        }
        cache.insert(key, (token.clone(), exp));
        metrics::counter!("toolhost_caller_tokens_total", "source" => "minted").increment(1);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};

    #[test]
    fn a_caller_token_names_the_caller_and_the_tool_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(SigningKey::open(&dir.path().join("k.p8")).unwrap());
        let clock = crate::clock::ManualClock::new();
        let tokens = CallerTokens::new(key.clone(), "https://mcp.test".into(), clock.clone());
        let mut alice = Principal::new("alice", ["member"]);
        alice.org_id = Some("org_1".into());
        let t1 = tokens
            .token(&alice, "projects_list", "https://app.test")
            .unwrap();
        let jwk = &key.jwks().keys[0];
        let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
        v.set_audience(&["https://app.test"]);
        v.set_issuer(&["https://mcp.test"]);
        let claims = decode::<serde_json::Value>(&t1, &DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["roles"], json!(["member"]));
        assert_eq!(claims["org_id"], "org_1");
        assert_eq!(claims["act"]["sub"], "tool:projects_list");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            CALLER_TOKEN_SECS
        );
        assert!(claims.get("email").is_none());
        // Reused while fresh; another tool, audience or caller gets its own.
        assert_eq!(
            tokens
                .token(&alice, "projects_list", "https://app.test")
                .unwrap(),
            t1
        );
        assert_ne!(
            tokens
                .token(&alice, "projects_create", "https://app.test")
                .unwrap(),
            t1
        );
        assert_ne!(
            tokens
                .token(&alice, "projects_list", "https://other.test")
                .unwrap(),
            t1
        );
        let bob = Principal::new("bob", ["member"]);
        assert_ne!(
            tokens
                .token(&bob, "projects_list", "https://app.test")
                .unwrap(),
            t1
        );
        // Renewed once less than the minimum is left.
        clock.advance(std::time::Duration::from_secs(
            CALLER_TOKEN_SECS - CALLER_TOKEN_MIN_LEFT_SECS + 1,
        ));
        assert_ne!(
            tokens
                .token(&alice, "projects_list", "https://app.test")
                .unwrap(),
            t1
        );
    }
}
