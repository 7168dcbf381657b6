//! `notes_list`: the caller's notes, newest first, optionally filtered.

use toolhost_sdk::prelude::*;

/// Arguments of `notes_list`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Only notes whose title or body contains this text (case-insensitive).
    #[serde(default)]
    query: Option<String>,
    /// How many notes at most (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

/// A note as notes_create stores it.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Note {
    id: String,
    title: String,
    body: String,
    /// RFC 3339 UTC.
    created_at: String,
}

/// The result of `notes_list`.
#[derive(Serialize, JsonSchema)]
struct NoteList {
    /// Newest first.
    notes: Vec<Note>,
    count: usize,
}

/// Notes are read a page at a time; a filtered list may need several pages.
const FILTERED_PAGE: u32 = 100;

struct NotesList;

impl Tool for NotesList {
    type Input = Input;
    type Output = NoteList;

    fn describe() -> Describe {
        Describe::new(
            "notes_list",
            "List the caller's notes, newest first, optionally filtered by a case-insensitive \
             match of `query` on title or body.",
        )
        .title("List notes")
        .read_only(true)
        .open_world(false)
    }

    fn call(ctx: &Context, input: Input) -> Result<NoteList, ToolError> {
        let limit = input.limit.unwrap_or(20).clamp(1, 100);
        let needle = input
            .query
            .map(|q| q.to_lowercase())
            .filter(|q| !q.is_empty());
        // Without a filter the newest `limit` keys are exactly the answer: one bounded scan.
        let page = if needle.is_some() {
            FILTERED_PAGE
        } else {
            limit
        };
        let scan = ctx.bucket("notes").scan("note:").reverse().page_size(page);
        let found = scan.collect_json(limit as usize, |note: &Note| match &needle {
            None => true,
            Some(q) => {
                note.title.to_lowercase().contains(q) || note.body.to_lowercase().contains(q)
            }
        })?;
        let notes: Vec<Note> = found.into_iter().map(|e| e.value).collect();
        Ok(NoteList {
            count: notes.len(),
            notes,
        })
    }

    fn render(list: &NoteList) -> String {
        if list.notes.is_empty() {
            return "No notes.".to_owned();
        }
        let mut text = format!("{} note(s), newest first:\n", list.count);
        for n in &list.notes {
            text.push_str(&format!(
                "- {} [{}] ({}): {}\n",
                n.title, n.id, n.created_at, n.body
            ));
        }
        text
    }
}

toolhost_sdk::export_tool!(NotesList);
