//! Builds every plugin the tests use for `wasm32-wasip2` and writes their
//! paths as constants (`$OUT_DIR/plugins.rs`), so `cargo test` never runs
//! against a stale or missing component. The nested cargo uses its own target
//! directory beside the outer one, so the two never wait on each other's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, constant) for each plugin built here.
const PLUGINS: &[(&str, &str)] = &[
    ("notes_list", "NOTES_LIST"),
    ("notes_create", "NOTES_CREATE"),
    ("notes_delete", "NOTES_DELETE"),
    ("projects_list", "PROJECTS_LIST"),
    ("projects_create", "PROJECTS_CREATE"),
    ("not_a_tool", "NOT_A_TOOL"),
    ("swap_v1", "SWAP_V1"),
    ("swap_v2", "SWAP_V2"),
    ("describe_panics", "DESCRIBE_PANICS"),
    ("bad_schema", "BAD_SCHEMA"),
    ("hostile_loop", "HOSTILE_LOOP"),
    ("hostile_memory", "HOSTILE_MEMORY"),
    ("hostile_recursion", "HOSTILE_RECURSION"),
    ("hostile_output", "HOSTILE_OUTPUT"),
    ("hostile_log", "HOSTILE_LOG"),
    ("hostile_file", "HOSTILE_FILE"),
    ("hostile_env", "HOSTILE_ENV"),
    ("hostile_socket", "HOSTILE_SOCKET"),
    ("hostile_trap", "HOSTILE_TRAP"),
    ("outbound_probe", "OUTBOUND_PROBE"),
    ("multi_tools", "MULTI_TOOLS"),
    ("duplicate_names", "DUPLICATE_NAMES"),
    ("conformance_tools", "CONFORMANCE_TOOLS"),
    ("conformance_served", "CONFORMANCE_SERVED"),
    ("v01_notes", "V01_NOTES"),
    ("v02_notes", "V02_NOTES"),
];
/// (plugin directory, build script, output file, constant) for each tool
/// written in another language, built by its kit in `sdk/`. Test tools of
/// this kind live outside `tests/plugins`, whose every directory is a cargo
/// workspace member.
const POLYGLOT: &[(&str, &str, &str, &str)] = &[
    (
        "plugins/notes_search",
        "sdk/js/build.sh",
        "notes_search.wasm",
        "NOTES_SEARCH",
    ),
    (
        "plugins/notes_export",
        "sdk/python/build.sh",
        "notes_export.wasm",
        "NOTES_EXPORT",
    ),
    (
        "tests/js_plugins/js_fetch",
        "sdk/js/build.sh",
        "js_fetch.wasm",
        "JS_FETCH",
    ),
    (
        "tests/js_plugins/js_served",
        "sdk/js/build.sh",
        "js_served.wasm",
        "JS_SERVED",
    ),
    (
        "tests/py_plugins/py_fetch",
        "sdk/python/build.sh",
        "py_fetch.wasm",
        "PY_FETCH",
    ),
    (
        "tests/py_plugins/py_served",
        "sdk/python/build.sh",
        "py_served.wasm",
        "PY_SERVED",
    ),
    (
        "tests/js_plugins/conformance_js",
        "sdk/js/build.sh",
        "conformance_js.wasm",
        "CONFORMANCE_JS",
    ),
    (
        "tests/py_plugins/conformance_py",
        "sdk/python/build.sh",
        "conformance_py.wasm",
        "CONFORMANCE_PY",
    ),
];
const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for watched in ["plugins", "sdk", "wit"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("tests/plugins").display()
    );
    for (dir, ..) in POLYGLOT {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }

    let target_dir = wasm_target_dir(&out_dir);
    // Under clippy the build script still runs; skip the wasm build there
    // (clippy checks the plugin crates natively as workspace members).
    let under_clippy = std::env::var("RUSTC_WORKSPACE_WRAPPER").is_ok_and(|w| w.contains("clippy"));
    let polyglot_dir = target_dir.join("polyglot");
    if !under_clippy {
        build_plugins(&workspace, &target_dir);
        for (dir, script, out, _) in POLYGLOT {
            build_polyglot(&workspace, dir, script, &polyglot_dir.join(out));
        }
    }

    let artifacts = target_dir.join(TARGET).join(PROFILE);
    let mut constants = String::new();
    for (package, constant) in PLUGINS {
        let path = artifacts.join(format!("{package}.wasm"));
        constants.push_str(&format!(
            "/// The built `{package}` component.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    for (dir, _, out, constant) in POLYGLOT {
        let path = polyglot_dir.join(out);
        constants.push_str(&format!(
            "/// The built component of `{dir}`.\npub const {constant}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    std::fs::write(out_dir.join("plugins.rs"), constants).unwrap();
}

/// The newest modification time of the files under `path` (skipping
/// installed toolchains and caches).
fn newest(path: &Path) -> std::time::SystemTime {
    let Ok(meta) = std::fs::metadata(path) else {
        return std::time::SystemTime::UNIX_EPOCH;
    };
    if !meta.is_dir() {
        return meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            name != "node_modules" && name != "__pycache__"
        })
        .map(|e| newest(&e.path()))
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

/// Build one JavaScript or Python tool with its kit, unless `out` is newer
/// than its sources, its kit and the WIT (a build takes seconds and is not
/// byte-for-byte reproducible, so an unneeded one would also cost every
/// test a fresh compile).
fn build_polyglot(workspace: &Path, dir: &str, script: &str, out: &Path) {
    let kit = Path::new(script).parent().unwrap();
    let inputs = [
        workspace.join(dir),
        workspace.join(kit),
        workspace.join("wit/0.2"),
    ];
    let built = std::fs::metadata(out).and_then(|m| m.modified()).ok();
    if built.is_some_and(|built| inputs.iter().all(|i| newest(i) < built)) {
        return;
    }
    let output = Command::new(workspace.join(script))
        .current_dir(workspace)
        .arg(workspace.join(dir))
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    if !output.status.success() {
        panic!(
            "{script} {dir} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `<target>/wasm`, where `<target>` is the outer build's target directory.
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .expect("OUT_DIR is inside a build directory");
    build.parent().unwrap().parent().unwrap().join("wasm")
}

fn build_plugins(workspace: &Path, target_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .env("CARGO_TARGET_DIR", target_dir)
        // Flags meant for the host build must not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER");
    for (package, _) in PLUGINS {
        cmd.args(["-p", package]);
    }
    let status = cmd.status().expect("cannot run cargo to build the plugins");
    if !status.success() {
        panic!(
            "building the plugins for {TARGET} failed (is the target installed? \
             run `rustup target add {TARGET}`)"
        );
    }
}
