//! `toolhost inspect`: what a plugin says about itself (each of its tools,
//! resources, resource templates and prompts), and what it imports.

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
    let loaded = runtime(&args.cache, None, Default::default()).and_then(|r| {
        let bytes = std::fs::read(&args.plugin)
            .map_err(|e| format!("{}: cannot read: {e}", args.plugin.display()))?;
        (r.load_component(&args.plugin, &bytes)).map_err(|e| e.to_string())
    });
    let plugin = match loaded {
        Ok(p) => p,
        Err(e) => {
            eprintln!("toolhost inspect: {e}");
            return EXIT_USAGE;
        }
    };
    let tools: Vec<_> = plugin
        .tools()
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
    let resources: Vec<_> = (plugin.resources().iter())
        .map(|r| {
            json!({
                "uri": r.uri, "name": r.name, "title": r.title, "description": r.description,
                "mimeType": r.mime_type, "roles": r.roles,
            })
        })
        .collect();
    let templates: Vec<_> = (plugin.templates().iter())
        .map(|t| {
            json!({
                "uriTemplate": t.template.as_str(), "name": t.name, "title": t.title,
                "description": t.description, "mimeType": t.mime_type, "roles": t.roles,
            })
        })
        .collect();
    let prompts: Vec<_> = (plugin.prompts().iter())
        .map(|p| {
            let arguments: Vec<_> = (p.arguments.iter())
                .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
                .collect();
            json!({
                "name": p.name, "title": p.title, "description": p.description,
                "arguments": arguments, "roles": p.roles,
            })
        })
        .collect();
    print_json(&json!({
        "contract": plugin.contract().world(),
        "version": plugin.content_hash(),
        "imports": plugin.imports(),
        "tools": tools,
        "resources": resources,
        "resourceTemplates": templates,
        "prompts": prompts,
    }));
    EXIT_OK
}
