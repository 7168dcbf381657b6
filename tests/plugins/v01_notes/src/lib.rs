//! A tool of the 0.1 contract, written against `wit/0.1` with bare
//! bindings (no SDK, which speaks 0.2): the titles of the caller's notes,
//! read from the store the 0.2 notes tools write. It shows that a 0.1
//! component keeps loading and sharing data beside 0.2 ones.

wit_bindgen::generate!({
    path: "../../../wit/0.1",
    world: "toolhost:plugin/tool@0.1.0",
});

use toolhost::plugin::store::{self, ScanRequest};
use toolhost::plugin::types::Content;

struct NoteTitles;

impl Guest for NoteTitles {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: "v01_note_titles".into(),
            title: Some("Note titles (0.1)".into()),
            description: "The titles of the caller's newest notes (at most 50).".into(),
            input_schema: r#"{"type":"object","properties":{},"additionalProperties":false}"#
                .into(),
            output_schema: Some(
                r#"{"type":"object","properties":{"titles":{"type":"array","items":{"type":"string"}}},"required":["titles"]}"#
                    .into(),
            ),
            roles: vec!["member".into()],
        }
    }

    fn call(_ctx: CallContext, _arguments: String) -> Result<ToolOutput, ToolError> {
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
}

export!(NoteTitles);
