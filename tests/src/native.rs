//! notes_list and notes_create written natively against the host's store:
//! the baseline the benchmark compares the sandboxed plugins with. Same
//! data layout, same schemas (taken from the loaded plugins), same
//! rendering; no sandbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::SystemTime;
use toolhost::Plugin;
use toolhost::native::{NativeCall, NativeTool};
use toolhost::runtime::{Content, ObjectSchema, ToolError, ToolInfo, ToolOutput};
use toolhost::storage::ScanRequest;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Note {
    id: String,
    title: String,
    body: String,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListInput {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateInput {
    title: String,
    body: String,
}

/// A copy of `plugin`'s description under `name`, for a native tool.
fn same_info(plugin: &Plugin, name: &str) -> ToolInfo {
    let info = plugin.info();
    let copy = |s: &ObjectSchema| ObjectSchema::compile(&s.as_json().to_string()).expect("schema");
    ToolInfo {
        name: name.to_owned(),
        title: info.title.clone(),
        description: info.description.clone(),
        input_schema: copy(&info.input_schema),
        output_schema: info.output_schema.as_ref().map(copy),
        roles: info.roles.clone(),
        annotations: info.annotations,
        apis: info.apis.clone(),
    }
}

fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(e.to_string())
}

/// Native notes_list, described as the `notes_list` plugin.
pub struct NativeNotesList(ToolInfo);

impl NativeNotesList {
    /// Named `name`, otherwise described as the loaded notes_list plugin.
    pub fn like(plugin: &Plugin, name: &str) -> Arc<Self> {
        Arc::new(NativeNotesList(same_info(plugin, name)))
    }
}

impl NativeTool for NativeNotesList {
    fn info(&self) -> &ToolInfo {
        &self.0
    }

    fn call(&self, call: &NativeCall<'_>, arguments: &Value) -> Result<ToolOutput, ToolError> {
        let input: ListInput = serde_json::from_value(arguments.clone())
            .map_err(|e| ToolError::InvalidInput(e.to_string()))?;
        let limit = input.limit.unwrap_or(20).clamp(1, 100);
        let needle = input
            .query
            .map(|q| q.to_lowercase())
            .filter(|q| !q.is_empty());
        let scope = call.scope("notes").map_err(failed)?;
        let mut request = ScanRequest {
            prefix: "note:".into(),
            start_after: None,
            limit: if needle.is_some() { 100 } else { limit },
            reverse: true,
        };
        let mut notes = Vec::new();
        'pages: loop {
            let page = call.store().scan(&scope, &request).map_err(failed)?;
            let full = page.len() == request.limit as usize;
            for entry in &page {
                let note: Note = serde_json::from_slice(&entry.value).map_err(failed)?;
                let keep = needle.as_ref().is_none_or(|q| {
                    note.title.to_lowercase().contains(q) || note.body.to_lowercase().contains(q)
                });
                if keep {
                    notes.push(note);
                    if notes.len() == limit as usize {
                        break 'pages;
                    }
                }
            }
            match page.last() {
                Some(last) if full => request.start_after = Some(last.key.clone()),
                _ => break,
            }
        }
        let mut text = format!("{} note(s), newest first:\n", notes.len());
        for n in &notes {
            text.push_str(&format!(
                "- {} [{}] ({}): {}\n",
                n.title, n.id, n.created_at, n.body
            ));
        }
        let structured = serde_json::json!({"count": notes.len(), "notes": notes});
        Ok(ToolOutput {
            content: vec![Content::Text(text)],
            structured: Some(structured),
        })
    }
}

/// Native notes_create, described as the `notes_create` plugin.
pub struct NativeNotesCreate(ToolInfo);

impl NativeNotesCreate {
    /// Named `name`, otherwise described as the loaded notes_create plugin.
    pub fn like(plugin: &Plugin, name: &str) -> Arc<Self> {
        Arc::new(NativeNotesCreate(same_info(plugin, name)))
    }
}

impl NativeTool for NativeNotesCreate {
    fn info(&self) -> &ToolInfo {
        &self.0
    }

    fn call(&self, call: &NativeCall<'_>, arguments: &Value) -> Result<ToolOutput, ToolError> {
        let input: CreateInput = serde_json::from_value(arguments.clone())
            .map_err(|e| ToolError::InvalidInput(e.to_string()))?;
        let now = SystemTime::now();
        let note = Note {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            title: input.title,
            body: input.body,
            created_at: humantime::format_rfc3339_millis(now).to_string(),
        };
        let scope = call.scope("notes").map_err(failed)?;
        let bytes = serde_json::to_vec(&note).map_err(failed)?;
        call.store()
            .put(&scope, &format!("note:{}", note.id), &bytes)
            .map_err(failed)?;
        let text = format!(
            "Created note \"{}\" ({}) at {}.",
            note.title, note.id, note.created_at
        );
        Ok(ToolOutput {
            content: vec![Content::Text(text)],
            structured: Some(serde_json::to_value(&note).map_err(failed)?),
        })
    }
}
