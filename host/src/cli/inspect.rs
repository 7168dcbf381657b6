//! `toolhost inspect`: what a plugin says about itself (each of its tools),
//! and what it imports.

use super::{CacheArgs, EXIT_OK, EXIT_USAGE, print_json, runtime};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// The plugin component (.wasm).
    plugin: PathBuf,
    #[command(flatten)]
    cache: CacheArgs,
}

pub fn run(args: InspectArgs) -> u8 {
    let loaded = runtime(&args.cache, None, Default::default())
        .and_then(|r| r.load_file(&args.plugin).map_err(|e| e.to_string()));
    let plugin = match loaded {
        Ok(p) => p,
        Err(e) => {
            eprintln!("toolhost inspect: {e}");
            return EXIT_USAGE;
        }
    };
    let tools: Vec<_> = plugin
        .component_tools()
        .map(|tool| {
            let info = tool.info();
            let a = info.annotations;
            json!({
                "name": info.name,
                "title": info.title,
                "description": info.description,
                "inputSchema": info.input_schema.as_json(),
                "outputSchema": info.output_schema.as_ref().map(|s| s.as_json()),
                "roles": info.roles,
                "apis": info.apis,
                "annotations": {
                    "readOnlyHint": a.read_only,
                    "destructiveHint": a.destructive,
                    "idempotentHint": a.idempotent,
                    "openWorldHint": a.open_world,
                },
            })
        })
        .collect();
    print_json(&json!({
        "contract": plugin.contract().world(),
        "version": plugin.content_hash(),
        "imports": plugin.imports(),
        "tools": tools,
    }));
    EXIT_OK
}
