//! A local token issuer for development without Clerk.
//!
//! Its ES256 key lives in the data directory (created on first use, mode
//! 0600), so `toolhost token --data DIR` and `toolhost serve --dev --data DIR`
//! agree on it. Its tokens are verified by the very same code as Clerk's;
//! only the key set comes from memory instead of a JWKS URL.

use super::signing::{SigningKey, SigningKeyError, random_bytes};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `iss` of development tokens.
pub const DEV_ISSUER: &str = "urn:toolhost:dev";
/// The key file inside the data directory.
pub const KEY_FILE: &str = "dev-issuer.p8";

/// Why the development issuer could not be used.
pub type DevIssuerError = SigningKeyError;

/// What a development token says.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The user.
    pub subject: String,
    /// The `roles` claim.
    pub roles: Vec<String>,
    /// The `scope` claim.
    pub scopes: Vec<String>,
    /// The audience (the MCP resource URL).
    pub audience: String,
    /// Lifetime.
    pub ttl: Duration,
}

/// The development issuer: its key, and the tokens it signs.
#[derive(Debug, Clone)]
pub struct DevIssuer {
    key: Arc<SigningKey>,
}

impl DevIssuer {
    /// Load the key from `data_dir`, creating it if there is none.
    pub fn open(data_dir: &Path) -> Result<Self, DevIssuerError> {
        Ok(DevIssuer {
            key: Arc::new(SigningKey::open(&data_dir.join(KEY_FILE))?),
        })
    }

    /// The signing key.
    pub fn key(&self) -> &Arc<SigningKey> {
        &self.key
    }

    /// The public key set.
    pub fn jwks(&self) -> &jsonwebtoken::jwk::JwkSet {
        self.key.jwks()
    }

    /// Sign an access token (`typ: at+jwt`, ES256).
    pub fn token(&self, request: &TokenRequest) -> Result<String, DevIssuerError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = serde_json::json!({
            "iss": DEV_ISSUER,
            "sub": request.subject,
            "aud": request.audience,
            "client_id": "toolhost-dev",
            "roles": request.roles,
            "scope": request.scopes.join(" "),
            "iat": now,
            "nbf": now,
            "exp": now + request.ttl.as_secs(),
            "jti": hex::encode(random_bytes::<16>()?),
        });
        self.key.sign(&claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_tokens_carry_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::open(dir.path()).unwrap();
        let token = issuer
            .token(&TokenRequest {
                subject: "alice".into(),
                roles: vec!["member".into()],
                scopes: vec![],
                audience: "http://127.0.0.1:3001/mcp".into(),
                ttl: Duration::from_secs(60),
            })
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(issuer.key().kid()));
        assert!(dir.path().join(KEY_FILE).exists());
    }
}
