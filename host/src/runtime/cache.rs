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
//!
//! The cache is bounded: after the plugins change, [`ArtifactCache::prune`]
//! keeps every artifact a loaded version uses, plus the most recently
//! compiled others (a rollback stays fast) up to a size budget, and deletes
//! the rest,
//! artifacts of other engine versions and abandoned temporary files
//! included.

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
    /// Bytes of artifacts no loaded version uses that are kept.
    unused_budget: u64,
}

/// Default of `storage.cache_unused_bytes`, the bytes of compiled artifacts no
/// loaded version uses that are kept: 256 MiB.
pub const UNUSED_BUDGET_BYTES: u64 = 256 << 20;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Files deleted.
    pub files: usize,
    /// Bytes they held.
    pub bytes: u64,
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
            unused_budget: UNUSED_BUDGET_BYTES,
        })
    }

    /// Keep at most `bytes` of artifacts that no loaded version uses.
    pub fn with_unused_budget(mut self, bytes: u64) -> Self {
        self.unused_budget = bytes;
        self
    }

    /// Delete what the cache need not keep: artifacts of other engines,
    /// temporary files, and the least recently compiled artifacts that no
    /// version in `in_use` (content hashes) needs, beyond the unused budget.
    pub fn prune(&self, in_use: &std::collections::HashSet<String>) -> std::io::Result<Pruned> {
        let mut unused: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
        let mut pruned = Pruned::default();
        let suffix = format!("-{}.cwasm", self.engine_key);
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let (path, meta) = (entry.path(), entry.metadata()?);
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !meta.is_file() || !(name.ends_with(".cwasm") || name.contains(".tmp.")) {
                continue;
            }
            let ours = name.strip_suffix(&suffix).filter(|h| !h.contains('.'));
            let used = ours.is_some_and(|hash| in_use.contains(hash));
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            match ours {
                _ if used => {}
                // Another engine's artifact, or a write that never finished
                // (more than an hour old, so not one in progress).
                None => {
                    let stale = name.ends_with(".cwasm")
                        || modified.elapsed().unwrap_or_default().as_secs() > 3600;
                    if stale && std::fs::remove_file(&path).is_ok() {
                        pruned.files += 1;
                        pruned.bytes += meta.len();
                    }
                }
                Some(_) => unused.push((modified, meta.len(), path)),
            }
        }
        // Newest first: those fit the budget; the older rest go.
        unused.sort_by_key(|(modified, _, _)| std::cmp::Reverse(*modified));
        let mut kept = 0u64;
        for (_, len, path) in unused {
            if kept + len <= self.unused_budget {
                kept += len;
            } else if std::fs::remove_file(&path).is_ok() {
                pruned.files += 1;
                pruned.bytes += len;
            }
        }
        if pruned.files > 0 {
            tracing::info!(
                files = pruned.files,
                bytes = pruned.bytes,
                "compiled artifacts pruned"
            );
        }
        Ok(pruned)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::{Duration, SystemTime};

    fn age(path: &Path, secs: u64) {
        let f = std::fs::File::options().append(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn prune_keeps_what_is_used_and_the_newest_unused_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ArtifactCache::open(dir.path(), &engine)
            .unwrap()
            .with_unused_budget(2500);
        let file = |hash: &str| cache.path_for(hash);
        for (hash, secs) in [("used", 500), ("new", 10), ("mid", 100), ("old", 1000)] {
            std::fs::write(file(hash), vec![0u8; 1000]).unwrap();
            age(&file(hash), secs);
        }
        let other_engine = dir.path().join("abc-0000000000000000.cwasm");
        std::fs::write(&other_engine, b"x").unwrap();
        let abandoned = dir.path().join("x.tmp.1.2");
        std::fs::write(&abandoned, b"x").unwrap();
        age(&abandoned, 7200);
        let fresh_tmp = dir.path().join("y.tmp.1.3");
        std::fs::write(&fresh_tmp, b"x").unwrap();
        let pruned = cache.prune(&HashSet::from(["used".to_owned()])).unwrap();
        assert!(file("used").exists(), "in use: kept whatever its age");
        assert!(
            file("new").exists() && file("mid").exists(),
            "within the budget"
        );
        assert!(!file("old").exists(), "the oldest unused goes");
        assert!(!other_engine.exists() && !abandoned.exists());
        assert!(fresh_tmp.exists(), "a write in progress is left alone");
        assert_eq!(pruned.files, 3);
    }
}
