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

    let target_dir = wasm_target_dir(&out_dir);
    // Under clippy the build script still runs; skip the wasm build there
    // (clippy checks the plugin crates natively as workspace members).
    let under_clippy = std::env::var("RUSTC_WORKSPACE_WRAPPER").is_ok_and(|w| w.contains("clippy"));
    if !under_clippy {
        build_plugins(&workspace, &target_dir);
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
    std::fs::write(out_dir.join("plugins.rs"), constants).unwrap();
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
