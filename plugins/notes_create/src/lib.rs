//! `notes_create`: create a note owned by the caller.

use std::time::SystemTime;
use toolhost_sdk::prelude::*;

/// Arguments of `notes_create`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The note's title.
    #[schemars(length(min = 1, max = 120))]
    title: String,
    /// The note's text.
    #[schemars(length(min = 1, max = 10000))]
    body: String,
}

/// A note as stored in the `notes` bucket and returned to the client.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Note {
    id: String,
    title: String,
    body: String,
    /// RFC 3339 UTC.
    created_at: String,
}

struct NotesCreate;

impl Tool for NotesCreate {
    type Input = Input;
    type Output = Note;

    fn describe() -> Describe {
        Describe::new("notes_create", "Create a note owned by the caller.")
            .title("Create a note")
            .roles(["member"])
            .read_only(false)
            .destructive(false)
            .idempotent(false)
            .open_world(false)
    }

    fn call(ctx: &Context, input: Input) -> Result<Note, ToolError> {
        let now = SystemTime::now();
        let id = ctx.time_ordered_id(now);
        let note = Note {
            id,
            title: input.title,
            body: input.body,
            created_at: ctx.rfc3339(now),
        };
        ctx.bucket("notes")
            .put_json(&format!("note:{}", note.id), &note)?;
        Ok(note)
    }

    fn render(note: &Note) -> String {
        format!(
            "Created note \"{}\" ({}) at {}.",
            note.title, note.id, note.created_at
        )
    }
}

toolhost_sdk::export_tool!(NotesCreate);
