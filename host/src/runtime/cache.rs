//! A disk cache of compiled components, keyed by content and engine.
//!
//! Compiling a component costs tens of milliseconds for a Rust tool and
//! seconds for a JavaScript or Python one; loading the compiled artifact
//! costs well under a millisecond. So every compile is written here, and a
//! later load of the same bytes with the same engine settings reads it back.
//! Only files this cache wrote are ever deserialized: names are derived from
//! a SHA-256 of the component and a hash of the engine's settings, files are
//! written whole (temporary file, then rename), and the directory is private
//! to the host.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheOutcome {
    /// Read back from the cache.
    Hit,
    /// Compiled, and written to the cache.
    Compiled,
    /// Compiled; no cache is configured, or writing it failed (logged).
    CompiledUncached,
}

/// Compiled artifacts in one directory.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

/// A `Hasher` that feeds SHA-256, so the engine key is stable across
/// processes and builds (std's hashers promise neither).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The SHA-256 of `bytes`, lowercase hex: a plugin version's identity.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ArtifactCache {
    /// A cache in `dir` for components compiled by `engine`. The directory is
    /// created (mode 0700 on Unix) if missing.
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = hasher.0.finalize();
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            engine_key: hex::encode(&digest[..8]),
        })
    }

    /// The directory the artifacts live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}-{}.cwasm", self.engine_key))
    }

    /// The component for `bytes` (whose SHA-256 is `hash`): from the cache
    /// if present, otherwise compiled and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        hash: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.path_for(hash);
        if path.exists() {
            // SAFETY: the file is named after the content hash and engine key,
            // and only this cache writes files with such names, whole, into a
            // directory private to the host.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => tracing::warn!(
                    path = %path.display(), error = %e,
                    "compiled artifact unusable; recompiling"
                ),
            }
        }
        let serialized = engine.precompile_component(bytes)?;
        // SAFETY: produced just now by this engine from these bytes.
        let component = unsafe { Component::deserialize(engine, &serialized)? };
        match write_atomically(&path, &serialized) {
            Ok(()) => Ok((component, CacheOutcome::Compiled)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot write compiled artifact");
                Ok((component, CacheOutcome::CompiledUncached))
            }
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
