//! The proxy's secrets: signed states, sealed upstream tokens, random values.
//!
//! One master secret (configured, or 32 random bytes kept in the data
//! directory with mode 0600) yields two keys: an HMAC-SHA256 key that signs
//! the `state` sent upstream, and an AES-256-GCM key that seals the upstream
//! refresh tokens and PKCE verifiers before they reach storage.

use crate::auth::signing::random_bytes as system_random;
use crate::secret::Secret;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The master key file in the data directory, when no secret is configured.
pub const KEY_FILE: &str = "oauth-proxy.key";

/// Why the proxy's keys or a sealed value cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The master key file is unusable.
    #[error("{path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Random,
    /// Encryption failed.
    #[error("cannot seal a value")]
    Seal,
}

/// Why a state sent upstream is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateError {
    /// Not one of ours, or altered.
    Tampered,
    /// Ours, but too old.
    Expired,
}

/// The keys derived from the master secret.
pub(crate) struct Keys {
    state: hmac::Key,
    seal: LessSafeKey,
}

impl Keys {
    /// Derive the keys from `configured`, or from the key file in
    /// `data_dir` (created on first use).
    pub(crate) fn load(configured: &Secret, data_dir: &Path) -> Result<Keys, SealError> {
        let master = if configured.is_empty() {
            let path = data_dir.join(KEY_FILE);
            let key_file = |reason: String| SealError::KeyFile {
                path: path.display().to_string(),
                reason,
            };
            match std::fs::read(&path) {
                Ok(bytes) if bytes.len() >= 32 => bytes,
                Ok(_) => return Err(key_file("shorter than 32 bytes".into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let bytes = random_bytes::<32>()?.to_vec();
                    crate::storage::create_private_dir(data_dir)
                        .map_err(|e| key_file(e.to_string()))?;
                    crate::auth::signing::write_private(&path, &bytes)
                        .map_err(|e| key_file(e.to_string()))?;
                    bytes
                }
                Err(e) => return Err(key_file(e.to_string())),
            }
        } else {
            configured.expose().as_bytes().to_vec()
        };
        let master = hmac::Key::new(hmac::HMAC_SHA256, &master);
        let derive = |label: &[u8]| hmac::sign(&master, label);
        let state = hmac::Key::new(
            hmac::HMAC_SHA256,
            derive(b"toolhost oauth state v1").as_ref(),
        );
        let seal = UnboundKey::new(&AES_256_GCM, derive(b"toolhost oauth seal v1").as_ref())
            .map_err(|_| SealError::Seal)?;
        Ok(Keys {
            state,
            seal: LessSafeKey::new(seal),
        })
    }

    /// A state naming `id`, valid until `expires` (Unix seconds).
    pub(crate) fn sign_state(&self, id: &str, expires: u64) -> String {
        let body = format!("{id}.{expires}");
        let tag = hmac::sign(&self.state, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The id in a state this proxy signed, if it is intact and not expired.
    pub(crate) fn open_state(&self, state: &str, now: u64) -> Result<String, StateError> {
        let (body, tag) = state.rsplit_once('.').ok_or(StateError::Tampered)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Tampered)?;
        hmac::verify(&self.state, body.as_bytes(), &tag).map_err(|_| StateError::Tampered)?;
        let (id, expires) = body.split_once('.').ok_or(StateError::Tampered)?;
        let expires: u64 = expires.parse().map_err(|_| StateError::Tampered)?;
        if now >= expires {
            return Err(StateError::Expired);
        }
        Ok(id.to_owned())
    }

    /// `plaintext` encrypted and authenticated, bound to `context` (a row's
    /// key, so a sealed value cannot be moved to another row).
    pub(crate) fn seal(&self, plaintext: &str, context: &str) -> Result<String, SealError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut data = plaintext.as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext of a value [`Keys::seal`] made with the same `context`.
    pub(crate) fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// `N` random bytes from the system's generator; an error, never zeros.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
    system_random::<N>().map_err(|_| SealError::Random)
}

/// A random, URL-safe token of 256 bits.
pub(crate) fn random_token() -> Result<String, SealError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// How a token or code is stored: its SHA-256, hex.
pub(crate) fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The PKCE S256 challenge of `verifier` (RFC 7636).
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Compare two secrets in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::load(&Secret::from("x".repeat(32)), Path::new("/nonexistent")).unwrap()
    }

    #[test]
    fn states_verify_and_expire() {
        let k = keys();
        let state = k.sign_state("abc", 100);
        assert_eq!(k.open_state(&state, 99).unwrap(), "abc");
        assert_eq!(k.open_state(&state, 100), Err(StateError::Expired));
        let tampered = state.replacen("abc", "abd", 1);
        assert_eq!(k.open_state(&tampered, 99), Err(StateError::Tampered));
        let later = state.replacen(".100.", ".900.", 1);
        assert_eq!(k.open_state(&later, 99), Err(StateError::Tampered));
        let other = Keys::load(&Secret::from("y".repeat(32)), Path::new("/x")).unwrap();
        assert_eq!(other.open_state(&state, 99), Err(StateError::Tampered));
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let k = keys();
        let sealed = k.seal("refresh-token-value", "grant-1").unwrap();
        assert!(!sealed.contains("refresh"));
        assert_eq!(k.open(&sealed, "grant-1").unwrap(), "refresh-token-value");
        assert!(k.open(&sealed, "grant-2").is_none());
        assert_ne!(
            sealed,
            k.seal("refresh-token-value", "grant-1").unwrap(),
            "fresh nonce"
        );
    }

    #[test]
    fn the_key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load(&Secret::default(), dir.path()).unwrap();
        let b = Keys::load(&Secret::default(), dir.path()).unwrap();
        assert_eq!(b.open(&a.seal("v", "c").unwrap(), "c").unwrap(), "v");
    }

    #[test]
    fn pkce_is_base64url_sha256_without_padding() {
        // Computed independently with Python's hashlib and base64.
        assert_eq!(
            s256("dBjftJeZ4CVP-mJ92K4aXG4rA0ZEdAU8Te0BLLPKNgVw"),
            "2v-sxZv3GyMjxHz3gpCu2o0oxaeELxG27TJblQS5NSw"
        );
    }
}
