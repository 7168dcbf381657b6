//! `toolhost new NAME --lang rust|js|python`: a tool project that builds
//! with one command from any directory, with a working example tool, a
//! README of a few lines and a `.gitignore`.
//!
//! A project finds toolhost's kits (the Rust SDK crate, the JavaScript and
//! Python kits) in the `sdk/` directory of a toolhost checkout: `--sdk DIR`,
//! else `TOOLHOST_SDK`, else the checkout this binary was built from when it
//! is still there. The Rust project depends on the SDK by path; the others
//! call their kit's build script from their own `build.sh`.

use super::{EXIT_OK, EXIT_USAGE, print_line, shell_word, this_command};
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use toolhost::runtime::is_tool_name;

/// Arguments of `toolhost new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The tool's name: 1 to 64 of a-z, 0-9 and '_', starting with a letter
    /// (also the project's name).
    name: String,
    /// The language of the tool.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to create the project [default: ./NAME]; must not exist, or be
    /// empty.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The `sdk/` directory of a toolhost checkout [default: the one this
    /// binary was built from].
    #[arg(long, value_name = "DIR", env = "TOOLHOST_SDK")]
    sdk: Option<PathBuf>,
}

/// The languages a tool can be written in.
#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Js,
    Python,
}

pub fn run(args: NewArgs) -> u8 {
    match create(&args) {
        Ok(next) => {
            print_line(&next);
            EXIT_OK
        }
        Err(e) => {
            eprintln!("toolhost new: {e}");
            EXIT_USAGE
        }
    }
}

/// The `sdk/` directory: given, or the one this binary was built from.
fn sdk_dir(given: Option<&Path>) -> Result<PathBuf, String> {
    let (dir, how) = match given {
        Some(dir) => (dir.to_path_buf(), "--sdk"),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"),
            "the checkout this toolhost was built from",
        ),
    };
    let dir = dir.canonicalize().map_err(|e| {
        format!(
            "cannot find toolhost's sdk/ directory ({} from {how}: {e}): pass --sdk DIR (the \
             sdk/ directory of a toolhost checkout) or set TOOLHOST_SDK",
            dir.display()
        )
    })?;
    for part in ["Cargo.toml", "js/build.sh", "python/build.sh"] {
        if !dir.join(part).exists() {
            return Err(format!(
                "{} is not toolhost's sdk/ directory (it has no {part})",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// Write the project; what to do next.
fn create(args: &NewArgs) -> Result<String, String> {
    let name = &args.name;
    if !is_tool_name(name) {
        return Err(format!(
            "{name:?} is not a tool name: 1 to 64 of a-z, 0-9 and '_', starting with a letter \
             (e.g. {:?})",
            suggestion(name)
        ));
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} exists and is not empty: choose another --dir",
            dir.display()
        ));
    }
    let sdk = sdk_dir(args.sdk.as_deref())?;
    let files = match args.lang {
        Lang::Rust => rust(name, &sdk),
        Lang::Js => kit(name, &sdk, "js", "tool.js", JS_TOOL),
        Lang::Python => kit(name, &sdk, "python", "tool.py", PYTHON_TOOL),
    };
    for (path, text, executable) in &files {
        let path = dir.join(path);
        let parent = path.parent().unwrap_or(&dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot make {} executable: {e}", path.display()))?;
        }
    }
    let shown = shell_word(&dir.to_string_lossy());
    let (build, wasm) = match args.lang {
        // A subshell: the call below runs from where the user is.
        Lang::Rust => (
            format!("(cd {shown} && cargo build --release)"),
            dir.join(format!("target/wasm32-wasip2/release/{name}.wasm")),
        ),
        Lang::Js | Lang::Python => (
            shell_word(&dir.join("build.sh").to_string_lossy()),
            dir.join(format!("{name}.wasm")),
        ),
    };
    Ok(format!(
        "Created the tool project {shown}. Build it and call it:\n  {build}\n  {} call {} \
         --subject you --roles member --args '{{\"name\":\"Ada\"}}'",
        shell_word(&this_command()),
        shell_word(&wasm.to_string_lossy()),
    ))
}

/// A tool name like `name`: lower case, other characters as `_`.
fn suggestion(name: &str) -> String {
    let mut out: String = (name.chars())
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '_',
        })
        .take(64)
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 't');
        out.truncate(64);
    }
    out
}

/// `snake_case` as `CamelCase`, for the tool's type.
fn camel(name: &str) -> String {
    (name.split('_'))
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A file of the project: path, contents, executable.
type File = (&'static str, String, bool);

fn rust(name: &str, sdk: &Path) -> Vec<File> {
    let sdk = toml_string(&sdk.display().to_string());
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{sdk}}", &sdk)
            .replace("{{type}}", &camel(name))
    };
    vec![
        ("Cargo.toml", fill(RUST_CARGO), false),
        (".cargo/config.toml", RUST_CONFIG.to_owned(), false),
        ("src/lib.rs", fill(RUST_TOOL), false),
        ("README.md", fill(RUST_README), false),
        (
            "tests.toml",
            TESTS.replace("{{name}}", name).replace(
                "{{component}}",
                &format!("target/wasm32-wasip2/release/{name}.wasm"),
            ),
            false,
        ),
        (".gitignore", "/target\n".to_owned(), false),
    ]
}

fn kit(name: &str, sdk: &Path, kit: &str, entry: &'static str, tool: &str) -> Vec<File> {
    let script = sdk.join(kit).join("build.sh");
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{entry}}", entry)
            .replace("{{kit}}", &shell_string(&script.display().to_string()))
    };
    vec![
        (entry, fill(tool), false),
        ("build.sh", fill(KIT_BUILD), true),
        ("README.md", fill(KIT_README), false),
        (
            "tests.toml",
            TESTS
                .replace("{{name}}", name)
                .replace("{{component}}", &format!("{name}.wasm")),
            false,
        ),
        (".gitignore", "*.wasm\n__pycache__/\n".to_owned(), false),
    ]
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `text` as one single-quoted shell word.
fn shell_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

const TESTS: &str = r#"# `toolhost test` runs these cases against the built component, in isolation.
component = "{{component}}"

[[case]]
name = "greets by name, as the caller"
tool = "{{name}}"
caller = { subject = "alice", roles = ["member"] }
args = { name = "Ada" }

[case.expect]
structured = { greeting = "Hello, Ada!", caller = "alice" }
text = "Hello, Ada!"

[[case]]
name = "an empty name is refused"
args = { name = "" }

[case.expect]
error = { kind = "invalid_arguments" }
"#;

const RUST_CARGO: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# toolhost's Rust SDK, from a toolhost checkout.
toolhost-sdk = { path = {{sdk}} }
serde = { version = "1", features = ["derive"] }
schemars = "1"

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A project of its own, even inside another workspace.
[workspace]
"#;

const RUST_CONFIG: &str = r#"# Tools are WebAssembly components (WASI Preview 2): `rustup target add wasm32-wasip2`.
[build]
target = "wasm32-wasip2"
"#;

const RUST_TOOL: &str = r#"//! `{{name}}`: greet the caller by name.

use toolhost_sdk::prelude::*;

/// Arguments of `{{name}}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Whom to greet.
    #[schemars(length(min = 1, max = 100))]
    name: String,
}

/// What it answers.
#[derive(Serialize, JsonSchema)]
struct Greeting {
    greeting: String,
    /// The signed-in user who asked.
    caller: String,
}

struct {{type}};

impl Tool for {{type}} {
    type Input = Input;
    type Output = Greeting;

    fn describe() -> Describe {
        Describe::new("{{name}}", "Greet someone by name, as the signed-in user.")
            .roles(["member"])
            .read_only(true)
            .open_world(false)
    }

    fn call(ctx: &Context, input: Input) -> Result<Greeting, ToolError> {
        Ok(Greeting {
            greeting: format!("Hello, {}!", input.name),
            caller: ctx.principal.subject.clone(),
        })
    }

    fn render(output: &Greeting) -> String {
        output.greeting.clone()
    }
}

toolhost_sdk::export_tool!({{type}});
"#;

const RUST_README: &str = r#"# {{name}}

A toolhost tool in Rust. Build it (the first build fetches the crates; `rustup target add
wasm32-wasip2` once):

    cargo build --release

and try it, or put the `.wasm` in a server's plugins folder:

    toolhost call target/wasm32-wasip2/release/{{name}}.wasm --subject you --roles member --args '{"name":"Ada"}'

`toolhost test` runs the cases of `tests.toml` against the built component.
"#;

const KIT_BUILD: &str = r#"#!/bin/sh
# Build {{entry}} into {{name}}.wasm with toolhost's kit.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec {{kit}} "$here" "$here/{{name}}.wasm"
"#;

const KIT_README: &str = r#"# {{name}}

A toolhost tool: `{{entry}}`. Build it (the kit installs its toolchain on first use):

    ./build.sh

and try it, or put `{{name}}.wasm` in a server's plugins folder:

    toolhost call {{name}}.wasm --subject you --roles member --args '{"name":"Ada"}'

`toolhost test` runs the cases of `tests.toml` against the built component.
"#;

const JS_TOOL: &str = r#"// {{name}}: greet someone by name, as the signed-in user.
import { defineTool } from 'toolhost';

export default defineTool({
  name: '{{name}}',
  description: 'Greet someone by name, as the signed-in user.',
  roles: ['member'],
  annotations: { readOnly: true, openWorld: false },
  inputSchema: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 100, description: 'Whom to greet.' } },
    required: ['name'],
    additionalProperties: false,
  },
  call(ctx, { name }) {
    return { greeting: `Hello, ${name}!`, caller: ctx.principal.subject };
  },
  render: ({ greeting }) => greeting,
});
"#;

const PYTHON_TOOL: &str = r#""""{{name}}: greet someone by name, as the signed-in user."""

from typing import Annotated

from toolhost import Field, tool


@tool(name="{{name}}", roles=["member"], read_only=True, open_world=False,
      render=lambda out: out["greeting"])
def greet(ctx, *, name: Annotated[str, Field(description="Whom to greet.", min_length=1,
                                              max_length=100)]):
    """Greet someone by name, as the signed-in user."""
    return {"greeting": f"Hello, {name}!", "caller": ctx.principal.subject}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suggested_name_is_a_tool_name() {
        for bad in ["Hello", "my-tool", "9lives", "héllo", ""] {
            assert!(!is_tool_name(bad));
            assert!(
                is_tool_name(&suggestion(bad)),
                "{bad:?} -> {:?}",
                suggestion(bad)
            );
        }
        assert_eq!(suggestion("My-Tool"), "my_tool");
        assert_eq!(camel("hello_world2"), "HelloWorld2");
        assert_eq!(camel("a__b"), "AB");
    }

    #[test]
    fn paths_are_quoted_for_toml_and_the_shell() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        assert_eq!(shell_string("/it's here"), r"'/it'\''s here'");
    }
}
