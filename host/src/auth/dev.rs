//! A local token issuer for development without Clerk.
//!
//! Its ES256 key lives in the data directory (created on first use, mode
//! 0600), so `toolhost token --data DIR` and `toolhost serve --dev --data DIR`
//! agree on it. Its tokens are verified by the very same code as Clerk's;
//! only the key set comes from memory instead of a JWKS URL.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `iss` of development tokens.
pub const DEV_ISSUER: &str = "urn:toolhost:dev";
/// The key file inside the data directory.
pub const KEY_FILE: &str = "dev-issuer.p8";

/// Why the development issuer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    /// The key file could not be read or written.
    #[error("development signing key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error("cannot sign a development token: {0}")]
    Sign(String),
}

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

/// The development issuer's key pair.
pub struct DevIssuer {
    encoding: EncodingKey,
    kid: String,
    jwks: JwkSet,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Load the key from `data_dir`, creating it if there is none.
    pub fn open(data_dir: &Path) -> Result<Self, DevIssuerError> {
        Self::open_key(&data_dir.join(KEY_FILE))
    }

    /// Load the P-256 key at `path`, creating it (mode 0600) if there is none.
    pub(crate) fn open_key(path: &Path) -> Result<Self, DevIssuerError> {
        let path = path.to_path_buf();
        let key_err = |reason: String| DevIssuerError::Key {
            path: path.clone(),
            reason,
        };
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| key_err("key generation failed".into()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| key_err(e.to_string()))?;
                }
                write_private(&path, doc.as_ref()).map_err(|e| key_err(e.to_string()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(key_err(e.to_string())),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| key_err("not a P-256 PKCS#8 key".into()))?;
        let public = pair.public_key().as_ref();
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        if public.len() != 65 {
            return Err(key_err("unexpected public key encoding".into()));
        }
        let kid = hex::encode(&Sha256::digest(public)[..8]);
        let jwks: JwkSet = serde_json::from_value(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        }]}))
        .map_err(|e| key_err(e.to_string()))?;
        Ok(DevIssuer {
            encoding: EncodingKey::from_ec_der(&pkcs8),
            kid,
            jwks,
        })
    }

    /// The public key set.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Sign `claims` as an access token (`typ: at+jwt`, ES256, this key's `kid`).
    pub(crate) fn sign(&self, claims: &serde_json::Value) -> Result<String, DevIssuerError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| DevIssuerError::Sign(e.to_string()))
    }

    /// Sign an access token (`typ: at+jwt`, ES256).
    pub fn token(&self, request: &TokenRequest) -> Result<String, DevIssuerError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = json!({
            "iss": DEV_ISSUER,
            "sub": request.subject,
            "aud": request.audience,
            "client_id": "toolhost-dev",
            "roles": request.roles,
            "scope": request.scopes.join(" "),
            "iat": now,
            "nbf": now,
            "exp": now + request.ttl.as_secs(),
            "jti": hex::encode(rand_bytes()),
        });
        self.sign(&claims)
    }
}

fn rand_bytes() -> [u8; 16] {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut b);
    b
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = DevIssuer::open(dir.path()).unwrap();
        let b = DevIssuer::open(dir.path()).unwrap();
        assert_eq!(a.kid, b.kid);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = a
            .token(&TokenRequest {
                subject: "alice".into(),
                roles: vec!["member".into()],
                scopes: vec![],
                audience: "http://127.0.0.1:3001/mcp".into(),
                ttl: Duration::from_secs(60),
            })
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(a.kid.as_str()));
    }
}
