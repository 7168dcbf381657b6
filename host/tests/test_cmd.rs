//! `toolhost test`, as a tool author runs it: every bundled plugin's
//! `tests.toml` passes, and a case that does not hold prints what differed
//! and exits 1.

use std::path::Path;
use std::process::{Command, Output};
use toolhost_test_artifacts::{NOTES_CREATE, NOTES_DELETE, NOTES_EXPORT, NOTES_LIST, NOTES_SEARCH};

fn toolhost_test(dir: &Path, component: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toolhost"))
        .arg("test")
        .arg(dir)
        .args(["--component", component])
        .output()
        .expect("run toolhost")
}

fn plugin_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(name)
}

#[test]
fn every_bundled_plugin_passes_its_own_cases() {
    for (name, wasm) in [
        ("notes_create", NOTES_CREATE),
        ("notes_list", NOTES_LIST),
        ("notes_delete", NOTES_DELETE),
        ("notes_search", NOTES_SEARCH),
        ("notes_export", NOTES_EXPORT),
    ] {
        let out = toolhost_test(&plugin_dir(name), wasm);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}:\n{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("2 passed, 0 failed"), "{name}: {said}");
    }
}

#[test]
fn a_case_that_does_not_hold_says_what_differed_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tests.toml"),
        r#"
[[case]]
name = "wrong title"
caller = { subject = "alice", roles = ["member"] }
args = { title = "Pay rent", body = "soon" }
[case.expect]
structured = { title = "Pay the rent" }
store.notes."note:none" = { title = "x" }

[[case]]
name = "right title"
args = { title = "Pay rent", body = "soon" }
[case.expect]
text = "Pay rent"
"#,
    )
    .unwrap();
    let out = toolhost_test(dir.path(), NOTES_CREATE);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("FAIL  wrong title"), "{said}");
    assert!(
        said.contains(r#"expected to contain {"title":"Pay the rent"}"#),
        "{said}"
    );
    assert!(said.contains("store notes/note:none"), "{said}");
    assert!(said.contains("ok    right title"), "{said}");
    assert!(said.contains("1 passed, 1 failed"), "{said}");

    std::fs::write(dir.path().join("tests.toml"), "[[case]]\nname = 1\n").unwrap();
    let bad = toolhost_test(dir.path(), NOTES_CREATE);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not valid"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
