//! The host's own ES256 signing keys: the development issuer's, and the
//! one in `oauth-signing.p8`, which signs the OAuth proxy's access tokens
//! and the caller tokens tools' requests to the operator's APIs carry.
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

/// The file in the data directory holding the key the OAuth proxy signs its
/// access tokens with, and the host its caller tokens (both published at
/// `/oauth/jwks.json`).
pub const SIGNING_KEY_FILE: &str = "oauth-signing.p8";

/// After [`SigningKey::rotate`], how long the previous key's public half is
/// still published (and its tokens still verify): longer than any token it
/// signed lives (caller tokens 60 s, the proxy's access tokens
/// `auth.issue.access_token_secs`, at most this).
pub const PREVIOUS_KEY_GRACE: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The previous key of `path` (`oauth-signing.p8` →
/// `oauth-signing.previous.p8`), kept by [`SigningKey::rotate`].
pub fn previous_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{stem}.previous.p8"))
}

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
    /// Load the P-256 key at `path`, creating it (mode 0600) if there is
    /// none. Its JWKS also holds the previous key's public half when
    /// [`SigningKey::rotate`] replaced it less than [`PREVIOUS_KEY_GRACE`]
    /// ago, so tokens signed before a rotation still verify.
    pub fn open(path: &Path) -> Result<Self, SigningKeyError> {
        let mut key = Self::open_one(path)?;
        let previous = previous_path(path);
        let rotated = std::fs::metadata(&previous)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok());
        if rotated.is_some_and(|age| age < PREVIOUS_KEY_GRACE) {
            let old = Self::open_one(&previous)?;
            key.jwks.keys.extend(old.jwks.keys);
        }
        Ok(key)
    }

    /// Replace the key at `path` with a new one; the old one moves to
    /// [`previous_path`] (replacing an older previous key) and stays
    /// published for [`PREVIOUS_KEY_GRACE`]. Servers sign with the new key
    /// once restarted. Returns the old and the new `kid`.
    pub fn rotate(path: &Path) -> Result<(Option<String>, String), SigningKeyError> {
        let key_err = |e: std::io::Error| SigningKeyError::Key {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let old = match path.exists() {
            true => Some(Self::open_one(path)?.kid),
            false => None,
        };
        let previous = previous_path(path);
        if old.is_some() {
            std::fs::rename(path, &previous).map_err(key_err)?;
            // The grace period counts from the rotation.
            let file = std::fs::File::options()
                .write(true)
                .open(&previous)
                .map_err(key_err)?;
            file.set_modified(std::time::SystemTime::now())
                .map_err(key_err)?;
        }
        let new = Self::open_one(path)?;
        Ok((old, new.kid))
    }

    fn open_one(path: &Path) -> Result<Self, SigningKeyError> {
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

    /// Sign `claims` as an access token (`typ: at+jwt`, ES256, this key's
    /// `kid`), with the low-S form of the signature: an ECDSA signature
    /// (r, s) verifies as (r, n - s) too, and only the low form is accepted
    /// of this key's tokens, so a token has exactly one valid spelling.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, SigningKeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| SigningKeyError::Sign(e.to_string()))?;
        let (signed, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| SigningKeyError::Sign("no signature".into()))?;
        let mut raw: [u8; 64] = (URL_SAFE_NO_PAD.decode(signature).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SigningKeyError::Sign("not a 64-byte ES256 signature".into()))?;
        to_low_s(&mut raw);
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(raw)))
    }
}

/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// n / 2 (rounded down): the largest low s.
const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Whether the ES256 signature `r || s` has the high form of s (s > n/2).
pub fn is_high_s(signature: &[u8; 64]) -> bool {
    signature[32..] > P256_HALF_ORDER[..]
}

/// Replace s by n - s: the signature's other spelling.
fn negate_s(signature: &mut [u8; 64]) {
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_ORDER[i]) - i16::from(signature[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        signature[32 + i] = (d + 256 * borrow) as u8;
    }
}

/// Replace a high s by n - s (the same signature, its low form).
fn to_low_s(signature: &mut [u8; 64]) {
    if is_high_s(signature) {
        negate_s(signature);
    }
}

/// The other valid spelling of an ES256 token (s replaced by n - s): what an
/// attacker can make of any token without the key. For tests of the
/// verifier.
pub fn malleate(token: &str) -> Option<String> {
    let (signed, signature) = token.rsplit_once('.')?;
    let mut raw: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).ok()?.try_into().ok()?;
    negate_s(&mut raw);
    Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(raw)))
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
        for _ in 0..64 {
            let t = a.sign(&json!({"sub": "alice"})).unwrap();
            let sig: [u8; 64] = URL_SAFE_NO_PAD
                .decode(t.rsplit_once('.').unwrap().1)
                .unwrap()
                .try_into()
                .unwrap();
            assert!(!is_high_s(&sig), "every signature is in its low form");
            // Its other spelling is high, and flips back to itself.
            let other = malleate(&t).unwrap();
            let high: [u8; 64] = URL_SAFE_NO_PAD
                .decode(other.rsplit_once('.').unwrap().1)
                .unwrap()
                .try_into()
                .unwrap();
            assert!(is_high_s(&high));
            assert_eq!(malleate(&other).unwrap(), t);
        }
        std::fs::write(dir.path().join("junk.p8"), b"junk").unwrap();
        // Rotation: a new key signs; the old one is still published.
        let (old, new) = SigningKey::rotate(&path).unwrap();
        assert_eq!(old.as_deref(), Some(a.kid()));
        let c = SigningKey::open(&path).unwrap();
        assert_eq!(c.kid(), new);
        let kids: Vec<_> = c
            .jwks()
            .keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect();
        assert_eq!(kids, [new.clone(), a.kid().to_owned()]);
        let header = jsonwebtoken::decode_header(c.sign(&json!({})).unwrap()).unwrap();
        assert_eq!(header.kid.as_deref(), Some(new.as_str()));
        // Past the grace period, only the new key is published.
        let previous = std::fs::File::options()
            .write(true)
            .open(previous_path(&path))
            .unwrap();
        previous
            .set_modified(std::time::SystemTime::now() - PREVIOUS_KEY_GRACE * 2)
            .unwrap();
        assert_eq!(SigningKey::open(&path).unwrap().jwks().keys.len(), 1);
        let e = SigningKey::open(&dir.path().join("junk.p8")).unwrap_err();
        assert!(e.to_string().contains("P-256"), "{e}");
    }
}
