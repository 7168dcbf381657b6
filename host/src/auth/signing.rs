//! The host's own ES256 signing keys: the development issuer's, and the
//! OAuth proxy's (which signs the access tokens clients get in production).
//!
//! A key is a P-256 PKCS#8 file, created on first use with mode 0600 and
//! read back on later starts, so tokens survive restarts. Its public half
//! is published as a JWKS; its `kid` is derived from the public key.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Why a signing key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningKeyError {
    /// The key file could not be read or written, or holds no usable key.
    #[error("signing key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error("cannot sign a token: {0}")]
    Sign(String),
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Random,
}

/// An ES256 key pair kept in a file.
pub struct SigningKey {
    encoding: EncodingKey,
    kid: String,
    jwks: JwkSet,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Load the P-256 key at `path`, creating it (mode 0600) if there is none.
    pub fn open(path: &Path) -> Result<Self, SigningKeyError> {
        let key_err = |reason: String| SigningKeyError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| key_err("key generation failed".into()))?;
                if let Some(dir) = path.parent() {
                    crate::storage::create_private_dir(dir).map_err(|e| key_err(e.to_string()))?;
                }
                write_private(path, doc.as_ref()).map_err(|e| key_err(e.to_string()))?;
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
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(&pkcs8),
            kid,
            jwks,
        })
    }

    /// The key's id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key set.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Sign `claims` as an access token (`typ: at+jwt`, ES256, this key's `kid`).
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, SigningKeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| SigningKeyError::Sign(e.to_string()))
    }
}

/// `N` random bytes from the system's generator; an error, never zeros,
/// when it fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SigningKeyError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| SigningKeyError::Random)?;
    Ok(b)
}

/// Write `bytes` to a new file at `path` with mode 0600.
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
    fn the_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("k.p8");
        let a = SigningKey::open(&path).unwrap();
        let b = SigningKey::open(&path).unwrap();
        assert_eq!(a.kid, b.kid);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = a.sign(&json!({"sub": "alice"})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(a.kid()));
        std::fs::write(dir.path().join("junk.p8"), b"junk").unwrap();
        let e = SigningKey::open(&dir.path().join("junk.p8")).unwrap_err();
        assert!(e.to_string().contains("P-256"), "{e}");
    }
}
