//! `toolhost call`: one call of one plugin, no server, no auth.

use super::{CacheArgs, EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, print_json, runtime};
use std::path::PathBuf;
use toolhost::runtime::CallError;
use toolhost::{Principal, policy, result};

#[derive(clap::Args)]
pub struct CallArgs {
    /// The plugin component (.wasm).
    plugin: PathBuf,
    /// The caller's subject (user id); storage is partitioned by it.
    #[arg(long)]
    subject: String,
    /// The caller's roles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<String>,
    /// Data directory (SQLite); without it the store lives in memory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Call even if the caller lacks the roles the tool asks for.
    #[arg(long)]
    ignore_roles: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

pub fn run(args: CallArgs) -> u8 {
    let runtime = match runtime(&args.cache, args.data.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("toolhost call: {e}");
            return EXIT_USAGE;
        }
    };
    let plugin = match runtime.load_file(&args.plugin) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("toolhost call: {e}");
            return EXIT_USAGE;
        }
    };
    let principal = Principal::new(
        args.subject,
        args.roles.into_iter().filter(|r| !r.is_empty()),
    );
    let outcome = if !args.ignore_roles
        && let Err(denied) = policy::authorize(&principal, plugin.name(), &plugin.info().roles)
    {
        tracing::warn!(reason = %denied, "call refused");
        Err(CallError::Tool {
            tool: plugin.name().to_owned(),
            error: toolhost::runtime::ToolError::Forbidden(denied.to_string()),
        })
    } else {
        match serde_json::from_str::<serde_json::Value>(&args.args) {
            Ok(value) => plugin.call(&principal, "cli", &value),
            Err(e) => Err(CallError::InvalidArguments {
                tool: plugin.name().to_owned(),
                violations: vec![format!("--args is not valid JSON: {e}")],
            }),
        }
    };
    let failed = outcome.is_err();
    let result = result::from_outcome(outcome);
    print_json(&serde_json::to_value(&result).unwrap_or_default());
    if failed { EXIT_TOOL_ERROR } else { EXIT_OK }
}
