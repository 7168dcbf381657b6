//! `toolhost test`, as a tool author runs it: every bundled plugin's
//! `tests.toml` passes (the API callers' against HTTP mocks), a case that
//! does not hold prints what differed and exits 1, and a project is built
//! first when its sources are newer.

mod support;
use std::path::Path;
use std::process::{Command, Output};
use support::new_project;
use toolhost_test_artifacts::{
    NOTES_CREATE, NOTES_DELETE, NOTES_EXPORT, NOTES_LIST, NOTES_SEARCH, PROJECTS_CREATE,
    PROJECTS_LIST,
};

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
        ("projects_list", PROJECTS_LIST),
        ("projects_create", PROJECTS_CREATE),
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

#[test]
fn a_project_is_built_first_when_its_sources_are_newer_and_only_then() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("hello_js");
    new_project("hello_js", "js", &dir);
    let test = || {
        Command::new(env!("CARGO_BIN_EXE_toolhost"))
            .arg("test")
            .arg(&dir)
            .output()
            .unwrap()
    };
    let first = test();
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(said.contains("building hello_js (JavaScript)"), "{said}");
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert!(dir.join("hello_js.wasm").is_file());

    let again = test();
    assert!(again.status.success());
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("building"),
        "nothing changed, nothing is built: {}",
        String::from_utf8_lossy(&again.stderr)
    );

    // A change the cases do not expect: rebuilt, and the new build is tested.
    let source = dir.join("tool.js");
    let text = std::fs::read_to_string(&source).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&source, text.replace("Hello, ", "Hi, ")).unwrap();
    let changed = test();
    let out = String::from_utf8_lossy(&changed.stdout);
    assert!(String::from_utf8_lossy(&changed.stderr).contains("building"));
    assert_eq!(changed.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Hi, Ada!") && out.contains("1 passed, 1 failed"),
        "{out}"
    );
}

#[test]
fn a_request_nobody_declared_or_another_body_fails_the_case_with_the_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tests.toml"),
        r#"
[[case]]
name = "no mock for the list"

[[case]]
name = "created under another name"
args = { name = "Launch" }
[[case.http]]
api = "app"
method = "POST"
path = "/projects"
json = { project = { id = "p1", name = "Launch", owner = "test-user", created_at = "2026-12-01T09:00:00Z" } }
[case.expect]
requests = [{ api = "app", method = "POST", path = "/projects", json = { name = "Other" } }]

[[case]]
name = "a request the case does not expect"
args = { name = "Launch" }
[[case.http]]
api = "app"
method = "POST"
path = "/projects"
json = { project = { id = "p1", name = "Launch", owner = "test-user", created_at = "2026-12-01T09:00:00Z" } }
[case.expect]
requests = []
"#,
    )
    .unwrap();
    let list = toolhost_test(dir.path(), PROJECTS_LIST);
    let said = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.status.code(), Some(1), "{said}");
    assert!(
        said.contains("unexpected request GET app /projects: no [[case.http]] answers it"),
        "{said}"
    );
    let create = toolhost_test(dir.path(), PROJECTS_CREATE);
    let said = String::from_utf8_lossy(&create.stdout);
    assert_eq!(create.status.code(), Some(1), "{said}");
    assert!(said.contains("body of POST app /projects"), "{said}");
    assert!(
        said.contains(r#"expected to contain {"name":"Other"}"#),
        "{said}"
    );
    assert!(
        said.contains(r#"expected []"#) && said.contains(r#"got ["POST app /projects"]"#),
        "{said}"
    );
    assert!(said.contains("0 passed, 3 failed"), "{said}");
}
