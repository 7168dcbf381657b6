//! The layout of `host/src` is the call path, and it stays that way: no
//! module imports from a module above it, and no two files import each other
//! (directly or around a loop). Read from the source files themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, from the top of the call path to the bottom. A
/// module may import only from modules after it (a later or equal rank).
const LAYERS: &[&[&str]] = &[
    &["host", "config", "testing", "otel"],
    &["transport", "proxy"],
    &["auth"],
    &["dispatch"],
    &["policy"],
    &["registry"],
    &["runtime"],
    &["outbound"],
    &["storage", "signing"],
    &["principal", "clock", "cache", "secret", "metrics", "net"],
];

fn rank(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is not placed in LAYERS"))
}

/// Every library source file (the command line is the binary's, on top).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("cli") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("main.rs")
            && !path.ends_with("lib.rs")
        {
            out.push(path);
        }
    }
}

/// The module path of a file: `auth/mod.rs` is `[auth]`, `auth/jwks.rs`
/// is `[auth, jwks]`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths named after `crate::` or `super::` in `code`, resolved to
/// module paths.
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (start, prefix) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[start + prefix.len()..];
        let path: Vec<String> = rest
            .split("::")
            .map(|seg| {
                seg.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|seg| !seg.is_empty())
            .collect();
        // `super` is the parent module (of `a/b.rs` and of `a/b/mod.rs`: `a`).
        let mut full = match prefix {
            "crate::" => Vec::new(),
            _ => module[..module.len().saturating_sub(1)].to_vec(),
        };
        full.extend(path);
        found.push(full);
    }
    found
}

#[test]
fn no_module_imports_from_above_and_no_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&root, f)).collect();
    // The longest module path that is a file.
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let mut upward = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&root, file);
        let text = std::fs::read_to_string(file).unwrap();
        for target in references(&module, &code(&text)) {
            let Some(target) = resolve(&target) else {
                continue;
            };
            if target == module {
                continue;
            }
            let (from, to) = (&module[0], &target[0]);
            if from != to && rank(to) < rank(from) {
                upward.push(format!("{} imports {}", file.display(), target.join("::")));
            }
            // A parent and its child files are one module: not an edge.
            let related = target.starts_with(&module) || module.starts_with(&target);
            if !related {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a module above:\n{}",
        upward.join("\n")
    );
    // A loop through the file graph, if any.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.contains_key(node) {
            continue;
        }
        if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("/")).collect();
            panic!("files import each other: {}", names.join(" -> "));
        }
    }
    assert!(
        edges.len() > 20,
        "the check found the imports ({} files with some)",
        edges.len()
    );
}
