//! `toolhost call`: one call of one plugin, no server, no auth, through the
//! same call pipeline (policy, limits, schema checks) as the server's.

use super::{CacheArgs, EXIT_OK, EXIT_TOOL_ERROR, EXIT_USAGE, print_json, runtime};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use toolhost::dispatch::{CallOptions, Dispatcher};
use toolhost::outbound::Outbound;
use toolhost::policy::{Policy, ToolPolicy};
use toolhost::registry::Registry;
use toolhost::{Config, Principal, result};

#[derive(clap::Args)]
pub struct CallArgs {
    /// The plugin component (.wasm).
    plugin: PathBuf,
    /// Which of the component's tools to call (needed when it has several).
    #[arg(long, value_name = "NAME")]
    tool: Option<String>,
    /// The caller's subject (user id); storage is partitioned by it.
    #[arg(long)]
    subject: String,
    /// The caller's roles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<String>,
    /// The caller's OAuth scopes, comma-separated (for tools whose policy
    /// asks for some).
    #[arg(long, value_delimiter = ',')]
    scopes: Vec<String>,
    /// Data directory (SQLite); without it the store lives in memory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// A configuration file whose policy applies (`[tools.X]` roles,
    /// scopes, limits and API grants, `[limits]`, `[apis]`), as it would on
    /// the server. Caller tokens are signed with the data directory's key.
    #[arg(long, env = "TOOLHOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Call even if the caller lacks the roles the tool asks for.
    #[arg(long)]
    ignore_roles: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

pub fn run(args: CallArgs) -> u8 {
    match call(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toolhost call: {e}");
            EXIT_USAGE
        }
    }
}

fn call(args: CallArgs) -> Result<u8, String> {
    let config = match &args.config {
        Some(path) => Config::load(Some(path)).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let settings = config.resolve().map_err(|e| e.to_string())?;
    let runtime = runtime(&args.cache, args.data.as_deref(), settings.runtime.clone())?;
    let loaded = runtime.load_file(&args.plugin).map_err(|e| e.to_string())?;
    let plugin = pick_tool(&loaded, args.tool.as_deref())?;
    let arguments = match serde_json::from_str::<serde_json::Value>(&args.args) {
        Ok(value) => value,
        Err(e) => {
            let failure = toolhost::CallError::InvalidArguments {
                tool: plugin.name().to_owned(),
                violations: vec![format!("--args is not valid JSON: {e}")],
            };
            print_json(&serde_json::to_value(result::failure(&failure.into())).unwrap_or_default());
            return Ok(EXIT_TOOL_ERROR);
        }
    };
    let mut policy = settings.policy;
    if args.ignore_roles {
        // As an operator's `[tools.X] roles = []`: any caller.
        let rules = policy.tools.entry(plugin.name().to_owned());
        rules.or_insert_with(ToolPolicy::default).roles = Some(Vec::new());
    }
    let name = plugin.name().to_owned();
    let registry = Registry::new();
    registry.publish(BTreeMap::from([(name.clone(), plugin)]).into());
    drop(loaded);
    let (outbound, _) = Outbound::open(
        &settings.outbound,
        args.data.as_deref(),
        &settings.public_url,
        None,
        toolhost::clock::system(),
    )?;
    let dispatcher = Dispatcher::new(
        registry,
        Arc::new(Policy::new(policy, toolhost::clock::system())),
        runtime.store().clone(),
        None,
        false,
        toolhost::clock::system(),
    )
    .with_outbound(outbound);
    let mut principal = Principal::new(
        args.subject,
        args.roles.into_iter().filter(|r| !r.is_empty()),
    );
    principal.scopes = args.scopes.into_iter().filter(|s| !s.is_empty()).collect();
    let async_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut options = CallOptions::default();
    options.request_id = Some("cli".into());
    let outcome = async_runtime.block_on(dispatcher.call(&principal, &name, arguments, options));
    let failed = outcome.is_err();
    if let Err(e) = &outcome {
        tracing::warn!(reason = %e, "call refused or failed");
    }
    let result = result::from_outcome(outcome);
    print_json(&serde_json::to_value(&result).unwrap_or_default());
    Ok(if failed { EXIT_TOOL_ERROR } else { EXIT_OK })
}

/// The tool `--tool` names, or the only one.
fn pick_tool(
    loaded: &toolhost::runtime::Plugin,
    tool: Option<&str>,
) -> Result<toolhost::runtime::Plugin, String> {
    let names: Vec<String> = loaded
        .component()
        .tools()
        .map(|t| t.name().to_owned())
        .collect();
    match tool {
        Some(name) => loaded.component().tool(name).ok_or_else(|| {
            format!(
                "the component has no tool {name:?}; it has {}",
                names.join(", ")
            )
        }),
        None if names.len() == 1 => Ok(loaded.clone()),
        None => Err(format!(
            "the component has {} tools ({}); choose one with --tool NAME",
            names.len(),
            names.join(", ")
        )),
    }
}
