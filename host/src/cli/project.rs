//! A tool project on disk, as `toolhost new` makes them: how it builds,
//! where its component lands, and whether its sources changed since.
//!
//! - A directory with a `Cargo.toml` is a Rust project. It builds with
//!   `cargo build --release --target wasm32-wasip2`, and the component is
//!   the `.wasm` cdylib cargo reports for it (wherever the target directory
//!   is: a workspace's, `CARGO_TARGET_DIR`'s).
//! - A directory with a `build.sh` is a kit project (JavaScript, Python):
//!   the script builds the component its `tests.toml` names
//!   (`component = "NAME.wasm"`), else `DIRNAME.wasm` beside it.
//!
//! The sources are every file under the directory but the build's own:
//! `target/`, `node_modules/`, `__pycache__/`, hidden entries and `.wasm`
//! files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Longest a build may run before it is stopped.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// Most files a scan of the sources looks at.
const MAX_SOURCES: usize = 10_000;
/// Most bytes of a failed build's output kept (its end: where the error is).
const MAX_OUTPUT: usize = 32 * 1024;

/// How a project builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rust,
    Kit,
}

/// A tool project.
#[derive(Debug, Clone)]
pub struct Project {
    dir: PathBuf,
    kind: Kind,
    name: String,
}

/// The state of a project's sources: equal fingerprints, nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    fingerprint: u64,
    newest: Option<SystemTime>,
}

impl Sources {
    /// When the newest source was last written.
    pub fn newest(&self) -> Option<SystemTime> {
        self.newest
    }
}

impl Project {
    /// The project in `dir`, or `None` when `dir` holds neither a
    /// `Cargo.toml` nor a `build.sh`.
    pub fn open(dir: &Path) -> Result<Option<Project>, String> {
        let kind = if dir.join("Cargo.toml").is_file() {
            Kind::Rust
        } else if dir.join("build.sh").is_file() {
            Kind::Kit
        } else {
            return Ok(None);
        };
        let dir = std::path::absolute(dir)
            .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
        let name = match kind {
            Kind::Rust => package_name(&dir.join("Cargo.toml"))?,
            Kind::Kit => (dir.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "tool".into()),
        };
        Ok(Some(Project { dir, kind, name }))
    }

    /// The package's name (Rust) or the directory's (kits).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The project's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The language, for people.
    pub fn language(&self) -> &'static str {
        match self.kind {
            Kind::Rust => "Rust",
            Kind::Kit if self.dir.join("tool.py").is_file() => "Python",
            Kind::Kit if self.dir.join("tool.js").is_file() => "JavaScript",
            Kind::Kit => "build.sh",
        }
    }

    /// A kit project's component: what `tests.toml` names, else
    /// `DIRNAME.wasm`.
    fn kit_output(&self) -> PathBuf {
        let named = std::fs::read_to_string(self.dir.join("tests.toml"))
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
            .and_then(|t| t.get("component")?.as_str().map(PathBuf::from));
        self.dir
            .join(named.unwrap_or_else(|| PathBuf::from(format!("{}.wasm", self.name))))
    }

    /// Scan the sources (at most `MAX_SOURCES` files).
    pub fn sources(&self) -> Sources {
        use std::hash::{Hash, Hasher};
        let mut files = Vec::new();
        let mut pending = vec![self.dir.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if files.len() >= MAX_SOURCES {
                    break;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.')
                    || matches!(&*name, "target" | "node_modules" | "__pycache__")
                    || name.ends_with(".wasm")
                {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    pending.push(entry.path());
                } else {
                    files.push((entry.path(), meta.modified().ok(), meta.len()));
                }
            }
        }
        files.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        files.hash(&mut hasher);
        Sources {
            fingerprint: hasher.finish(),
            newest: files.iter().filter_map(|f| f.1).max(),
        }
    }

    /// The component, when it needs no build: a kit project's when it is
    /// newer than every source. A Rust project always goes to cargo, which
    /// knows better (a build with nothing to do takes a moment).
    pub fn fresh(&self) -> Option<PathBuf> {
        if self.kind == Kind::Rust {
            return None;
        }
        let out = self.kit_output();
        let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok()?;
        let newest = self.sources().newest?;
        (built >= newest).then_some(out)
    }

    /// Build the component: its path, or the build's output when it failed.
    pub fn build(&self) -> Result<PathBuf, String> {
        match self.kind {
            Kind::Rust => {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let mut command = Command::new(cargo);
                command.current_dir(&self.dir).args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--message-format=json-render-diagnostics",
                ]);
                let (stdout, stderr) = run(command, "cargo build")?;
                self.cargo_artifact(&stdout).ok_or_else(|| {
                    format!(
                        "cargo built no WebAssembly cdylib for {} (is `crate-type = \
                         [\"cdylib\"]` in its [lib]?)\n{stderr}",
                        self.name
                    )
                })
            }
            Kind::Kit => {
                let mut command = Command::new(self.dir.join("build.sh"));
                command.current_dir(&self.dir);
                run(command, "build.sh")?;
                let out = self.kit_output();
                if out.is_file() {
                    Ok(out)
                } else {
                    Err(format!(
                        "build.sh succeeded but wrote no {} (name it with `component = ...` in \
                         tests.toml)",
                        out.display()
                    ))
                }
            }
        }
    }

    /// The `.wasm` cdylib of this package in cargo's JSON messages.
    fn cargo_artifact(&self, messages: &str) -> Option<PathBuf> {
        let manifest = self.dir.join("Cargo.toml");
        let manifest = manifest.canonicalize().unwrap_or(manifest);
        let mut found = None;
        for line in messages.lines() {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let ours = message["reason"] == "compiler-artifact"
                && (message["manifest_path"].as_str())
                    .is_some_and(|m| Path::new(m).canonicalize().ok().as_ref() == Some(&manifest))
                && (message["target"]["kind"].as_array())
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
            if !ours {
                continue;
            }
            let files = message["filenames"].as_array().into_iter().flatten();
            if let Some(wasm) = files
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
            {
                found = Some(PathBuf::from(wasm));
            }
        }
        found
    }
}

/// `[package] name` of a `Cargo.toml`.
fn package_name(manifest: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", manifest.display()))?;
    (table.get("package"))
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no [package] name", manifest.display()))
}

/// Run a build command to its end (at most `BUILD_TIMEOUT`): its standard
/// output and error, or, when it fails, what it printed.
fn run(mut command: Command, what: &str) -> Result<(String, String), String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < BUILD_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok((stdout, stderr)),
        Some(status) => {
            // cargo's JSON messages are not for people; its diagnostics are
            // rendered on stderr.
            let shown = if what == "cargo build" {
                stderr
            } else {
                format!("{stdout}{stderr}")
            };
            Err(format!("{what} failed ({status}):\n{}", tail(&shown)))
        }
        None => Err(format!(
            "{what} ran past {} s and was stopped:\n{}",
            BUILD_TIMEOUT.as_secs(),
            tail(&stderr)
        )),
    }
}

/// The end of `text`, at most `MAX_OUTPUT` bytes, from a line start.
fn tail(text: &str) -> &str {
    let text = text.trim_end();
    if text.len() <= MAX_OUTPUT {
        return text;
    }
    let mut start = text.len() - MAX_OUTPUT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    match text[start..].find('\n') {
        Some(i) => &text[start + i + 1..],
        None => &text[start..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_a_project_by_its_build_file_and_its_sources_exclude_the_build() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Project::open(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join("build.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("tool.js"), "export default 1;\n").unwrap();
        let project = Project::open(dir.path()).unwrap().unwrap();
        assert_eq!(project.language(), "JavaScript");
        assert!(project.fresh().is_none(), "never built");
        let before = project.sources();
        for skipped in ["node_modules", "target", "__pycache__", ".git"] {
            std::fs::create_dir(dir.path().join(skipped)).unwrap();
            std::fs::write(dir.path().join(skipped).join("x"), "x").unwrap();
        }
        std::fs::write(project.kit_output(), "built").unwrap();
        assert_eq!(project.sources(), before, "build products are not sources");
        assert_eq!(
            project.fresh(),
            Some(project.kit_output()),
            "built after every source"
        );
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/more.js"), "export const x = 2;\n").unwrap();
        assert_ne!(project.sources(), before, "a new source file counts");
        std::fs::write(
            dir.path().join("tests.toml"),
            "component = \"out/t.wasm\"\n",
        )
        .unwrap();
        assert_eq!(project.kit_output(), project.dir().join("out/t.wasm"));
    }

    #[test]
    fn a_failed_build_shows_what_it_printed_and_only_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("build.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'tool.js:3: SyntaxError' >&2\nexit 3\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let project = Project::open(dir.path()).unwrap().unwrap();
        let error = project.build().unwrap_err();
        assert!(error.contains("build.sh failed"), "{error}");
        assert!(error.contains("tool.js:3: SyntaxError"), "{error}");
        let long = format!("{}\nthe end", "x\n".repeat(MAX_OUTPUT));
        assert!(tail(&long).len() <= MAX_OUTPUT && tail(&long).ends_with("the end"));
    }
}
