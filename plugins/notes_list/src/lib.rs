//! `notes_list`: the caller's notes, newest first, optionally filtered;
//! each note as the resource `notes://{id}`; and the prompt
//! `summarise_notes`, which hands the model the caller's newest notes.

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

/// Each note as a resource: `notes://{id}`, the caller's only.
struct NoteById;

impl Resource for NoteById {
    fn describe() -> DescribeResource {
        DescribeResource::template("notes://{id}", "note")
            .title("A note")
            .description("One of the caller's notes, by id, as Markdown.")
            .mime_type("text/markdown")
    }

    fn read(ctx: &Context, request: &ResourceRequest) -> Result<Vec<Contents>, ToolError> {
        let id = request.var("id").unwrap_or_default();
        let note: Note = ctx
            .bucket("notes")
            .get_json(&format!("note:{id}"))?
            .ok_or_else(|| ToolError::NotFound(format!("no note with id {id:?}")))?;
        Ok(vec![Contents::text(
            &request.uri,
            "text/markdown",
            format!(
                "# {}\n\n{}\n\n_Created {}._\n",
                note.title, note.body, note.created_at
            ),
        )])
    }
}

/// How many notes the summary prompt hands the model.
const SUMMARY_NOTES: usize = 20;

/// A prompt: summarise the caller's newest notes.
struct SummariseNotes;

impl Prompt for SummariseNotes {
    fn describe() -> DescribePrompt {
        DescribePrompt::new(
            "summarise_notes",
            "Summarise my newest notes (at most 20), optionally only those about a topic.",
        )
        .title("Summarise my notes")
        .optional("topic", "Only notes whose title or body mention this")
    }

    fn get(ctx: &Context, args: &PromptArguments) -> Result<Vec<PromptMessage>, ToolError> {
        let topic = args
            .get("topic")
            .map(str::to_lowercase)
            .filter(|t| !t.is_empty());
        let scan = ctx
            .bucket("notes")
            .scan("note:")
            .reverse()
            .page_size(FILTERED_PAGE);
        let found = scan.collect_json(SUMMARY_NOTES, |note: &Note| match &topic {
            None => true,
            Some(t) => {
                note.title.to_lowercase().contains(t) || note.body.to_lowercase().contains(t)
            }
        })?;
        if found.is_empty() {
            return Ok(vec![PromptMessage::user(Content::text(
                "I have no notes yet. Tell me so, and suggest what I could note down.",
            ))]);
        }
        let mut text = match &topic {
            Some(t) => format!("Summarise my notes about \"{t}\" in a few bullet points:\n\n"),
            None => "Summarise my notes in a few bullet points:\n\n".to_owned(),
        };
        for note in found.iter().map(|e| &e.value) {
            text.push_str(&format!(
                "- {} ({}): {}\n",
                note.title, note.created_at, note.body
            ));
        }
        Ok(vec![PromptMessage::user(Content::text(text))])
    }
}

toolhost_sdk::export_component! {
    tools: [NotesList],
    resources: [NoteById],
    prompts: [SummariseNotes],
}
