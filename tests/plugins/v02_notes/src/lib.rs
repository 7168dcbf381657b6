//! The twin of `v01_notes` on the 0.2 contract, with bare bindings and the
//! same logic (the titles of the caller's newest notes): what the benchmark
//! compares to measure what 0.2 costs a call against 0.1.

wit_bindgen::generate!({
    path: "../../../wit/0.2",
    world: "toolhost:plugin/tools@0.2.0",
    generate_all,
});

use toolhost::plugin::store::{self, ScanRequest};
use toolhost::plugin::types::{Annotations, Content, ToolInfo};

struct NoteTitles;

impl Guest for NoteTitles {
    fn describe() -> ComponentInfo {
        ComponentInfo {
            tools: vec![ToolInfo {
                name: "v02_note_titles".into(),
                title: Some("Note titles (0.2)".into()),
                description: "The titles of the caller's newest notes (at most 50).".into(),
                input_schema: r#"{"type":"object","properties":{},"additionalProperties":false}"#
                    .into(),
                output_schema: Some(
                    r#"{"type":"object","properties":{"titles":{"type":"array","items":{"type":"string"}}},"required":["titles"]}"#
                        .into(),
                ),
                roles: vec!["member".into()],
                annotations: Annotations {
                    read_only: Some(true),
                    destructive: None,
                    idempotent: None,
                    open_world: None,
                },
                extensions: Vec::new(),
            }],
            resources: Vec::new(),
            resource_templates: Vec::new(),
            prompts: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn call(_ctx: CallContext, _tool: String, _arguments: String) -> Result<ToolOutput, ToolError> {
        let request = ScanRequest {
            prefix: "note:".into(),
            start_after: None,
            limit: 50,
            reverse: true,
        };
        let entries = store::scan("notes", &request)
            .map_err(|e| ToolError::Failed(format!("cannot read the notes: {e:?}")))?;
        let titles: Vec<String> = (entries.iter())
            .filter_map(|e| serde_json::from_slice::<serde_json::Value>(&e.value).ok())
            .filter_map(|note| note["title"].as_str().map(str::to_owned))
            .collect();
        Ok(ToolOutput {
            content: vec![Content::Text(titles.join("\n"))],
            structured: Some(serde_json::json!({ "titles": titles }).to_string()),
        })
    }

    fn read_resource(
        _ctx: CallContext,
        request: ResourceRequest,
    ) -> Result<Vec<EmbeddedResource>, ToolError> {
        Err(ToolError::NotFound(format!("no resource {}", request.uri)))
    }

    fn get_prompt(
        _ctx: CallContext,
        name: String,
        _arguments: Vec<(String, String)>,
    ) -> Result<PromptOutput, ToolError> {
        Err(ToolError::NotFound(format!("no prompt {name}")))
    }
}

export!(NoteTitles);
