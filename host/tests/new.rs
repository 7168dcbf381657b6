//! `toolhost new`, as a user runs it: a project in each language, created
//! outside the repository, built with the one command it prints, and
//! called; bad names and a taken directory refused with the reason.

use std::path::Path;
use std::process::{Command, Output};

fn toolhost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .args(args)
        .output()
        .expect("run toolhost")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// The repository's `sdk/` directory.
fn sdk() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sdk")
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Create `name` in `lang` under `parent`, build it as its README says, and
/// call the tool: its greeting.
fn create_build_call(parent: &Path, name: &str, lang: &str) -> String {
    let dir = parent.join(name);
    let d = dir.to_str().unwrap();
    let created = toolhost(&["new", name, "--lang", lang, "--dir", d, "--sdk", &sdk()]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let said = text(&created.stdout);
    assert!(said.contains("Build it and call it"), "{said}");
    for file in ["README.md", ".gitignore", "tests.toml"] {
        assert!(dir.join(file).is_file(), "{file} missing in {d}");
    }
    let (built, wasm) = if lang == "rust" {
        // Its own target directory, kept between runs of the tests.
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/new-tool");
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo
            .current_dir(&dir)
            .args(["build", "--release"])
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("RUSTC_WRAPPER");
        let wasm = target.join(format!("wasm32-wasip2/release/{name}.wasm"));
        (cargo.output().expect("run cargo"), wasm)
    } else {
        let build = Command::new(dir.join("build.sh"))
            .output()
            .expect("run build.sh");
        (build, dir.join(format!("{name}.wasm")))
    };
    assert!(
        built.status.success(),
        "{lang} build failed:\n{}{}",
        text(&built.stdout),
        text(&built.stderr)
    );
    let called = toolhost(&[
        "call",
        wasm.to_str().unwrap(),
        "--subject",
        "you",
        "--roles",
        "member",
        "--args",
        r#"{"name":"Ada"}"#,
        "--no-cache",
    ]);
    assert!(called.status.success(), "{}", text(&called.stderr));
    let tested = Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .arg("test")
        .arg(&dir)
        .args(["--component", wasm.to_str().unwrap()])
        .output()
        .expect("run toolhost test");
    assert!(
        tested.status.success(),
        "{lang}: {}{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );
    assert!(text(&tested.stdout).contains("2 passed, 0 failed"));
    let result: serde_json::Value = serde_json::from_slice(&called.stdout).unwrap();
    assert_eq!(result["structuredContent"]["caller"], "you", "{result}");
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

#[test]
fn a_new_project_in_each_language_builds_with_one_command_and_serves_its_tool() {
    let parent = tempfile::tempdir().unwrap();
    for (name, lang) in [
        ("hello_js", "js"),
        ("hello_py", "python"),
        ("hello_rs", "rust"),
    ] {
        assert_eq!(
            create_build_call(parent.path(), name, lang),
            "Hello, Ada!",
            "{lang}"
        );
    }
}

#[test]
fn bad_names_and_taken_directories_are_refused_with_the_reason() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path().to_str().unwrap();
    for bad in ["Hello", "my-tool", "héllo", "9lives"] {
        let refused = toolhost(&["new", bad, "--lang", "js", "--dir", p, "--sdk", &sdk()]);
        assert_eq!(refused.status.code(), Some(2));
        assert!(
            text(&refused.stderr).contains("is not a tool name"),
            "{}",
            text(&refused.stderr)
        );
    }
    std::fs::write(parent.path().join("taken"), "x").unwrap();
    let taken = toolhost(&["new", "ok", "--lang", "js", "--dir", p, "--sdk", &sdk()]);
    assert_eq!(taken.status.code(), Some(2));
    assert!(
        text(&taken.stderr).contains("exists and is not empty"),
        "{}",
        text(&taken.stderr)
    );
    let no_sdk = toolhost(&["new", "ok", "--lang", "rust", "--dir", "unused", "--sdk", p]);
    assert!(
        text(&no_sdk.stderr).contains("is not toolhost's sdk/ directory"),
        "{}",
        text(&no_sdk.stderr)
    );
}
